//! A streaming handler written for the official `lambda_http`, moved to lambda-stream by
//! changing one line (`main`). Run it on either loop behind the local emulator to compare:
//!
//! ```text
//! cargo build -p migrate_lambda_http
//! cargo run -- serve -- target/debug/migrate_lambda_http            # lambda-stream
//! cargo run -- serve -- target/debug/migrate_lambda_http official   # lambda_http
//! curl -N 'localhost:9000/?name=Ada' ; curl -N --raw -H 'TE: trailers' localhost:9000/fail
//! ```
//!
//! `/fail` fails mid-stream: the official loop appends the error to the body as text; lambda-stream
//! ends the stream with real error trailer fields.

use bytes::Bytes;
use futures_util::stream;
use http_body_util::StreamBody;
use http_body_util::combinators::BoxBody;
use lambda_http::{Error, Request, RequestExt, Response};

type Frames = BoxBody<Bytes, std::io::Error>;

/// Unchanged from the official crate's world: a `lambda_http::Request` with its extensions,
/// an `http::Response` with a streaming body.
async fn handler(request: Request) -> Result<Response<Frames>, Error> {
    let name = request
        .query_string_parameters_ref()
        .and_then(|query| query.first("name").map(str::to_owned))
        .unwrap_or_else(|| "world".to_owned());
    let chunks = if request.raw_http_path() == "/fail" {
        vec![
            Ok(Bytes::from("partial ")),
            Err(std::io::Error::other("db closed")),
        ]
    } else {
        vec![Ok(Bytes::from("hello ")), Ok(Bytes::from(name))]
    };
    let frames = stream::iter(
        chunks
            .into_iter()
            .map(|chunk| chunk.map(http_body::Frame::data)),
    );
    Ok(Response::builder()
        .header("content-type", "text/plain")
        .header("set-cookie", "seen=1")
        .body(BoxBody::new(StreamBody::new(frames)))?)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    let service = lambda_http::service_fn(handler);
    if std::env::args().nth(1).as_deref() == Some("official") {
        lambda_http::run_with_streaming_response(service).await
    } else {
        // The one changed line: was `lambda_http::run_with_streaming_response(service).await`.
        Ok(lambda_stream::run(lambda_stream::compat::lambda_http_streaming(service)).await?)
    }
}
