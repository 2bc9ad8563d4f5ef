//! The names every handler uses for what it receives and may fail with (the response it
//! returns, [`Response`](crate::Response), is defined beside its [`Body`](crate::Body)).

/// A boxed error, what handlers and body streams may fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The request a handler receives: a Function URL request with its body read.
pub type Request = http::Request<bytes::Bytes>;
