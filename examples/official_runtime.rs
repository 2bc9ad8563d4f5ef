//! The same streaming handler written for the official `lambda_runtime` 1.5, to compare the two
//! runtimes through the local emulator (the `cli` tests do):
//!
//! `cargo build --example official_runtime && cargo run -- serve -- target/debug/examples/official_runtime`
//!
//! `/fail` fails mid-stream. The official runtime writes that error as *body text* and ends the
//! stream as a success; lambda-stream sends real trailer fields.

use futures_util::stream;
use lambda_runtime::streaming::Response;
use lambda_runtime::{Error, LambdaEvent, MetadataPrelude, service_fn};

async fn handler(
    event: LambdaEvent<serde_json::Value>,
) -> Result<
    Response<impl futures_util::Stream<Item = Result<&'static str, std::io::Error>> + Unpin>,
    Error,
> {
    let fail = event.payload["rawPath"] == "/fail";
    let items = if fail {
        vec![Ok("partial "), Err(std::io::Error::other("db closed"))]
    } else {
        vec![Ok("hello "), Ok("world")]
    };
    let mut metadata_prelude = MetadataPrelude::default();
    metadata_prelude
        .headers
        .insert("content-type", "text/plain".parse()?);
    Ok(Response {
        metadata_prelude,
        stream: stream::iter(items),
    })
}

#[tokio::main]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(handler)).await
}
