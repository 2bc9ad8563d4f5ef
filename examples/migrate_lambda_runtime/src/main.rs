//! A handler written for the official `lambda_runtime` 1.5, moved to lambda-stream by changing
//! one line (`main`). Run it on either loop behind the local emulator to compare:
//!
//! ```text
//! cargo build -p migrate_lambda_runtime
//! cargo run -- serve -- target/debug/migrate_lambda_runtime            # lambda-stream
//! cargo run -- serve -- target/debug/migrate_lambda_runtime official   # lambda_runtime
//! curl -N localhost:9000/ ; curl -N localhost:9000/json ; curl -N --raw -H 'TE: trailers' localhost:9000/fail
//! ```
//!
//! (`cargo run -p migrate_lambda_runtime` alone serves it on
//! lambda-stream's embedded emulator.) `/fail` fails mid-stream: the official loop appends the
//! error to the body as text and ends the stream as a success; lambda-stream ends it with real
//! `Lambda-Runtime-Function-Error-Type` / `-Body` trailer fields.

use futures_util::stream::{self, BoxStream};
use lambda_runtime::{Error, FunctionResponse, LambdaEvent, MetadataPrelude, StreamResponse};
use serde_json::{Value, json};

type Chunks = BoxStream<'static, Result<&'static str, std::io::Error>>;

/// Unchanged from the official crate's world: a `LambdaEvent`, a buffered or a streamed answer.
async fn handler(event: LambdaEvent<Value>) -> Result<FunctionResponse<Value, Chunks>, Error> {
    let path = event.payload["rawPath"].as_str().unwrap_or("/").to_owned();
    let items: Vec<Result<&'static str, std::io::Error>> = match path.as_str() {
        "/json" => {
            let request_id = event.context.request_id;
            return Ok(FunctionResponse::BufferedResponse(
                json!({ "path": path, "requestId": request_id }),
            ));
        }
        "/fail" => vec![Ok("partial "), Err(std::io::Error::other("db closed"))],
        _ => vec![Ok("hello "), Ok("world")],
    };
    let mut metadata_prelude = MetadataPrelude::default();
    metadata_prelude
        .headers
        .insert("content-type", "text/plain".parse()?);
    Ok(FunctionResponse::StreamingResponse(StreamResponse {
        metadata_prelude,
        stream: Box::pin(stream::iter(items)),
    }))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let service = lambda_runtime::service_fn(handler);
    if std::env::args().nth(1).as_deref() == Some("official") {
        lambda_runtime::run(service).await
    } else {
        // The one changed line: was `lambda_runtime::run(service).await`.
        Ok(lambda_stream::run(lambda_stream::compat::lambda_runtime(service)).await?)
    }
}
