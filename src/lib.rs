//! lambda-stream
#![cfg_attr(not(test), deny(clippy::unwrap_used, clippy::expect_used))]

mod body;
#[cfg(feature = "emulator")]
pub mod emulator;
mod error;
mod function;
#[cfg(feature = "testing")]
pub mod testing;
pub mod wire;

pub use body::{Body, BodyClosed, BodySender, DEFAULT_READ_CAPACITY};
pub use error::Error;
pub use function::{
    Config, ConfigError, Context, FunctionInfo, Handler, INVOKE_MODE_ENV, InvokeMode,
    MissingRequestId, Runtime, RuntimeApiAddress, run, run_with_init,
};

/// A boxed error, what handlers and body streams may fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The request a handler receives: a Function URL request with its body read.
pub type Request = http::Request<bytes::Bytes>;

/// The response a handler returns. Build it with `http::Response::builder()`; `Set-Cookie`
/// headers become the Function URL's `cookies`.
pub type Response = http::Response<Body>;
