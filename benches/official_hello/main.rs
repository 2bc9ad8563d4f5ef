//! `examples/hello` on the official runtime: `{"message": "Hello, <name>!"}` in three pieces,
//! 300 ms apart, as a streaming response.

use std::time::Duration;

use lambda_runtime::streaming::{Body, Response, channel};
use lambda_runtime::{Error, LambdaEvent, service_fn, tracing};
use serde::Deserialize;
use serde_json::Value;

#[derive(Deserialize)]
struct Greeting {
    name: Option<String>,
}

async fn hello(event: LambdaEvent<Value>) -> Result<Response<Body>, Error> {
    let body = event.payload.get("body").and_then(Value::as_str).unwrap_or("");
    let name = serde_json::from_str::<Greeting>(body)
        .ok()
        .and_then(|greeting| greeting.name)
        .unwrap_or_else(|| "World".to_owned());
    let message = serde_json::to_string(&format!("Hello, {name}!"))?;
    let pieces = [r#"{"message": "#.to_owned(), message, "}\n".to_owned()];
    let (mut sender, receiver) = channel();
    tokio::spawn(async move {
        for (index, piece) in pieces.into_iter().enumerate() {
            if index > 0 {
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
            if sender.send_data(piece.into()).await.is_err() {
                return;
            }
        }
    });
    Ok(Response::from(receiver))
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    lambda_runtime::run(service_fn(hello)).await
}
