//! The three names every handler uses: what it receives, returns and may fail with.

use crate::Body;

/// A boxed error, what handlers and body streams may fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The request a handler receives: a Function URL request with its body read.
pub type Request = http::Request<bytes::Bytes>;

/// The response a handler returns. Build it with `http::Response::builder()`; `Set-Cookie`
/// headers become the Function URL's `cookies`.
pub type Response = http::Response<Body>;
