//! The handler trait: an async function from a request to a streamed response.

use std::future::Future;

use crate::aliases::{BoxError, Request};
use crate::body::Response;
use crate::function::context::Context;

/// An async function from a Function URL [`Request`] and its [`Context`] to a [`Response`].
///
/// Any `Fn(Request, Context) -> impl Future<Output = Result<Response, E>>` is a handler. An
/// `Err` (or a panic) before the first body byte is reported to Lambda's `/error` endpoint: a
/// [`FunctionError`](crate::wire::FunctionError) keeps its type, other errors are reported as
/// `Function.HandlerError`.
///
/// ```
/// use lambda_stream::{Body, Context, Request, Response};
///
/// async fn handler(_request: Request, _context: Context) -> Result<Response, http::Error> {
///     http::Response::builder().header("content-type", "text/plain").body(Body::from("hi"))
/// }
/// # fn assert_handler(_: impl lambda_stream::Handler) {}
/// # assert_handler(handler);
/// ```
pub trait Handler: Send + Sync + 'static {
    /// The handler's error.
    type Error: Into<BoxError>;

    /// Handles one invocation.
    fn call(
        &self,
        request: Request,
        context: Context,
    ) -> impl Future<Output = Result<Response, Self::Error>> + Send;
}

impl<F, Fut, E> Handler for F
where
    F: Fn(Request, Context) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Response, E>> + Send,
    E: Into<BoxError>,
{
    type Error = E;

    fn call(
        &self,
        request: Request,
        context: Context,
    ) -> impl Future<Output = Result<Response, Self::Error>> + Send {
        self(request, context)
    }
}

/// A shared handler, as several runtime loops serving one function use it.
impl<H: Handler> Handler for std::sync::Arc<H> {
    type Error = H::Error;

    fn call(
        &self,
        request: Request,
        context: Context,
    ) -> impl Future<Output = Result<Response, Self::Error>> + Send {
        H::call(self, request, context)
    }
}
