//! The seed's greeting as a streaming handler: `{"message": "Hello, <name>!"}` from the JSON
//! body's `name` (default `World`), sent in three pieces so you can watch it stream.
//!
//! Locally (no AWS account): `cargo run --example hello`, then
//! `curl -N -d '{"name":"Alice"}' localhost:9000/`.
//! On Lambda: `cd deploy && sam build --beta-features && sam deploy --guided` builds it (as the
//! binary of `deploy/function`) and deploys it behind a Function URL with
//! `InvokeMode: RESPONSE_STREAM`.

use std::time::Duration;

use futures_util::StreamExt;
use lambda_stream::{Body, BoxError, Context, Request, Response};
use serde::Deserialize;

#[derive(Deserialize)]
struct Greeting {
    name: Option<String>,
}

async fn hello(request: Request, _context: Context) -> Result<Response, BoxError> {
    let name = serde_json::from_slice::<Greeting>(request.body())
        .ok()
        .and_then(|greeting| greeting.name)
        .unwrap_or_else(|| "World".to_owned());
    let message = serde_json::to_string(&format!("Hello, {name}!"))?;
    let pieces = [r#"{"message": "#.to_owned(), message, "}\n".to_owned()];
    // A short pause between pieces (never a blocking sleep inside async code).
    let body = futures_util::stream::iter(pieces.into_iter().enumerate()).then(
        |(index, piece)| async move {
            if index > 0 {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            Ok::<_, std::convert::Infallible>(piece)
        },
    );
    Ok(http::Response::builder()
        .header("content-type", "application/json")
        .body(Body::from_stream(body))?)
}

/// Serves `hello` (also the binary `deploy/function` builds for `sam build`).
#[tokio::main(flavor = "current_thread")]
pub async fn main() -> Result<(), lambda_stream::Error> {
    lambda_stream::run(hello).await
}
