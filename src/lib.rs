//! Rust handlers for AWS Lambda **response streaming**: Function URLs in `RESPONSE_STREAM`
//! mode, InvokeWithResponseStream and API Gateway REST streaming, with a byte-exact wire format,
//! real HTTP trailers for mid-stream errors, and a local emulator so the same binary runs on
//! your machine and on Lambda.
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
//! // One invocation at a time on Lambda: one thread (see `run` for Managed Instances).
//! #[tokio::main(flavor = "current_thread")]
//! async fn main() -> Result<(), lambda_stream::Error> {
//!     // On Lambda: the Runtime API loop. On your machine (no AWS_LAMBDA_RUNTIME_API):
//!     // a local streaming Function URL at http://127.0.0.1:9000/.
//!     lambda_stream::run(progress).await
//! }
//! ```
//!
//! # How a response travels
//!
//! 1. [`run`] reads the [`Deployment`] (invoke mode, budget, limits, timeout) once and starts
//!    the runtime loop ([`Runtime`]) on Lambda's Runtime API, or, on your machine, the local
//!    emulator serving the same deployment.
//! 2. Each invocation becomes a [`Request`] (its query read with [`RequestExt`]) and a
//!    [`Context`]; your [`Handler`] returns a
//!    [`Response`] whose [`Body`] is a stream, an `AsyncRead`, a channel or a buffer.
//! 3. The body goes through one pipeline in both invoke modes: its records are admitted by the
//!    [`Budget`] and the deadline (never split; a [`Truncation`] ends it with your
//!    continuation), merged, and flushed.
//! 4. `RESPONSE_STREAM`: the head is committed at the first body byte, written as the prelude
//!    and 8 NULs ([`wire`]), then the chunked body; an error after the head ends it with
//!    `Lambda-Runtime-Function-Error-Type` / `-Body` trailers. `BUFFERED`: the same body is
//!    collected into one payload-2.0 answer within the smaller of its budget and 6,291,556
//!    bytes.
//!
//! # Capabilities
//!
//! - **Bodies**: [`Body::from_stream`], [`Body::from_reader`], [`Body::channel`],
//!   [`Body::ndjson`], CSV and SSE framings ([`sse`]), coalescing ([`Coalesce`]),
//!   compression ([`compression`]).
//! - **Limits**: [`Budget`] (75 MiB default, up to AWS's 200 MB), continuations
//!   ([`Continuation`], [`Truncation::next_offset`]) and the standard link to the next page
//!   ([`Continuation::ndjson_link`], `csv_link`, `sse_link`, `json_array_link`), the
//!   [`BandwidthModel`] and
//!   the deadline.
//! - **Configuration**: [`run_with`] and [`Config`] (hold, early errors, completion stats);
//!   [`Deployment`] is what the platform in front of the function does.
//! - **Other handlers**: tower services such as an axum `Router` ([`service`], feature
//!   `tower`); handlers written for `lambda_runtime` and `lambda_http` ([`compat`]).
//! - **Local**: [`emulator`] (feature `emulator`, on by default), the `lambda-stream serve`
//!   CLI; [`testing`] (feature `testing`), an in-process Runtime API that records exact bytes,
//!   and `TestEmulator`, your handler behind the emulator.
//! - **The other end**: `client` (feature `client`) and `lambda-stream get`: download a paged
//!   export whole, following each page's link.
//! - **Wire**: [`wire`], the sans-IO codecs (prelude, chunked framing, error trailers,
//!   payload 2.0, REST heads).
//!
//! # Environment variables
//!
//! Read once, where the row says; code ([`run_with`], [`Deployment`], the emulator's config)
//! may set the same settings.
//!
//! | Variable | Read by | Meaning (default) |
//! |---|---|---|
//! | `AWS_LAMBDA_RUNTIME_API` | [`run`], [`Config::from_env`] | the Runtime API's `host:port`; unset: the local emulator |
//! | `LAMBDA_STREAM_INVOKE_MODE` | [`Deployment::from_env`] | `RESPONSE_STREAM` (default) or `BUFFERED` |
//! | `LAMBDA_STREAM_BUDGET` | [`Deployment::from_env`] | the response budget in bytes (78,643,200 = 75 MiB) |
//! | `LAMBDA_STREAM_TIMEOUT` | [`Deployment::from_env`] | the function timeout in seconds, locally (60) |
//! | `AWS_LAMBDA_MAX_CONCURRENCY` | [`Config::from_env`] | invocations one process serves at once (1; set by Managed Instances) |
//! | `AWS_LAMBDA_LOG_FORMAT` | the default logger | `JSON` or text |
//! | `AWS_LAMBDA_LOG_LEVEL` | the default logger | `TRACE` to `FATAL` (`INFO`); `RUST_LOG` wins |
//! | `LAMBDA_STREAM_PORT` | the local emulator | the Function URL's port (9000) |
//! | `LAMBDA_STREAM_CONCURRENCY` | the local emulator | invocations at once before `429` (10) |
//! | `LAMBDA_STREAM_AUTH_TYPE` | the local emulator | `NONE` (default) or `AWS_IAM` (keys from `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`) |
//! | `LAMBDA_STREAM_CORS` | the local emulator | the URL's CORS configuration as JSON |
//! | `LAMBDA_STREAM_THROTTLE` | the local emulator | `aws`: pace streams at AWS's bandwidth model |
//! | `LAMBDA_STREAM_FRONT` | the local emulator | `function-url` (default), `rest-api`, `rest-api-edge`, `rest-api-private` |
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod aliases;
#[cfg(feature = "bedrock")]
#[cfg_attr(docsrs, doc(cfg(feature = "bedrock")))]
pub mod bedrock;
mod body;
#[cfg(feature = "client")]
#[cfg_attr(docsrs, doc(cfg(feature = "client")))]
pub mod client;
#[cfg(feature = "lambda-runtime")]
#[cfg_attr(docsrs, doc(cfg(feature = "lambda-runtime")))]
pub mod compat;
mod deploy;
#[cfg(feature = "emulator")]
#[cfg_attr(docsrs, doc(cfg(feature = "emulator")))]
pub mod emulator;
mod entry;
pub mod environment;
mod error;
mod function;
mod logging;
mod settings;
mod stream;
#[cfg(feature = "testing")]
#[cfg_attr(docsrs, doc(cfg(feature = "testing")))]
pub mod testing;
pub mod wire;

pub use aliases::{BoxError, Request, RequestExt};
#[cfg(feature = "sse")]
#[cfg_attr(docsrs, doc(cfg(feature = "sse")))]
pub use body::sse;
pub use body::{
    Body, BodyClosed, BodySender, Continuation, Response, Truncation, TruncationReason,
};
pub use deploy::Deployment;
pub use entry::{run, run_with, run_with_init};
pub use error::Error;
#[cfg(feature = "tower")]
#[cfg_attr(docsrs, doc(cfg(feature = "tower")))]
pub use function::service;
pub use function::{
    BufferedOverflow, CompletionStats, Config, ConfigError, Context, EarlyErrors, Handler, Hold,
    InvokeMode, Outcome, Runtime,
};
#[cfg(feature = "compression")]
#[cfg_attr(docsrs, doc(cfg(feature = "compression")))]
pub use stream::compress as compression;
pub use stream::{BandwidthModel, Budget, Coalesce};
pub use wire::RuntimeApiAddress;

/// The README's code, compiled by `cargo test` so that what it shows stays true.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// The budgets guide's code, compiled by `cargo test`.
#[doc = include_str!("../docs/budgets.md")]
#[cfg(doctest)]
pub struct BudgetsGuideDoctests;

/// The `BUFFERED` guide's code, compiled by `cargo test`.
#[doc = include_str!("../docs/buffered.md")]
#[cfg(doctest)]
pub struct BufferedGuideDoctests;

/// The Bedrock guide's code, compiled by `cargo test` (its example loads `aws-config`, which
/// the `client` feature brings).
#[doc = include_str!("../docs/bedrock.md")]
#[cfg(all(doctest, feature = "bedrock", feature = "testing", feature = "client"))]
pub struct BedrockGuideDoctests;

/// The downloading guide's code, compiled by `cargo test`.
#[doc = include_str!("../docs/downloading.md")]
#[cfg(all(doctest, feature = "client"))]
pub struct DownloadingGuideDoctests;

/// The testing guide's code, compiled by `cargo test`.
#[doc = include_str!("../docs/testing.md")]
#[cfg(doctest)]
pub struct TestingGuideDoctests;
