//! Rust handlers for AWS Lambda **response streaming**: Function URLs in `RESPONSE_STREAM`
//! mode, with a byte-exact wire format, real HTTP trailers for mid-stream errors, and a local
//! emulator so the same binary runs on your machine and on Lambda.
//!
//! ```no_run
//! use std::time::Duration;
//! use futures_util::StreamExt;
//! use lambda_stream::{Body, BoxError, Context, Request, Response};
//!
//! async fn progress(_request: Request, context: Context) -> Result<Response, BoxError> {
//!     let steps = futures_util::stream::iter(1..=3).then(|step| async move {
//!         tokio::time::sleep(Duration::from_millis(200)).await;
//!         Ok::<_, std::io::Error>(format!("step {step} of 3\n"))
//!     });
//!     tracing::info!(request_id = %context.request_id, "streaming progress");
//!     Ok(http::Response::builder()
//!         .header("content-type", "text/plain")
//!         .body(Body::from_stream(steps))?)
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), lambda_stream::Error> {
//!     // On Lambda: the Runtime API loop. On your machine (no AWS_LAMBDA_RUNTIME_API):
//!     // a local streaming Function URL at http://127.0.0.1:9000/.
//!     lambda_stream::run(progress).await
//! }
//! ```
//!
//! - [`Body`]: from a stream, an `AsyncRead`, a channel with backpressure, or a buffer.
//! - [`run`] / [`Runtime`]: the runtime loop. The head is committed at the first body byte:
//!   errors before it go to Lambda's `/error` endpoint, errors after it end the stream with
//!   `Lambda-Runtime-Function-Error-Type` / `-Body` trailer fields and nothing more is sent.
//!   `LAMBDA_STREAM_INVOKE_MODE=BUFFERED` collects the same body into a buffered response.
//! - [`wire`]: the sans-IO codecs (prelude, chunked framing, error trailers, payload 2.0).
//! - `emulator` (feature, on by default): the local Function URL and Runtime API.
//! - `testing` (feature): an in-process Runtime API that records exact bytes.
//! - `compat` (features `lambda-runtime`, `lambda-http`): handlers written for the official
//!   crates, run on this loop unchanged; `service` (feature `tower`): any tower service, such as
//!   an axum `Router`.
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod body;
mod budget;
#[cfg(feature = "lambda-runtime")]
pub mod compat;
mod deploy;
#[cfg(feature = "emulator")]
pub mod emulator;
mod entry;
mod error;
mod function;
mod logging;
mod settings;
#[cfg(feature = "testing")]
pub mod testing;
pub mod wire;

#[cfg(feature = "compression")]
pub use body::compress as compression;
#[cfg(feature = "sse")]
pub use body::sse;
pub use body::{
    Body, BodyClosed, BodySender, Coalesce, DEFAULT_READ_CAPACITY, Truncation, TruncationReason,
};
pub use budget::{
    AWS_STREAM_LIMIT, BUDGET_ENV, BandwidthModel, Budget, DEFAULT_STREAM_BUDGET,
    LEGACY_STREAM_LIMIT,
};
pub use deploy::Deployment;
pub use entry::{run, run_with, run_with_init};
pub use error::Error;
pub use function::{
    BufferedOverflow, CompletionStats, Config, ConfigError, Context, DEFAULT_MAX_EVENT_SIZE,
    EarlyErrors, ExecutionEnvironment, FunctionInfo, Handler, Hold, INVOKE_MODE_ENV, InvokeMode,
    MetadataError, Outcome, Runtime, RuntimeApiAddress,
};
#[cfg(feature = "tower")]
pub use function::{ServiceHandler, service};
pub use logging::{LOG_FORMAT_ENV, LOG_LEVEL_ENV};
pub use settings::{MAX_CONCURRENCY_ENV, RUNTIME_API_ENV};

/// A boxed error, what handlers and body streams may fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The request a handler receives: a Function URL request with its body read.
pub type Request = http::Request<bytes::Bytes>;

/// The response a handler returns. Build it with `http::Response::builder()`; `Set-Cookie`
/// headers become the Function URL's `cookies`.
pub type Response = http::Response<Body>;

/// The README's code, compiled by `cargo test` so that what it shows stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;
