//! Handlers written for `lambda_http::run` and `lambda_http::run_with_streaming_response`
//! (feature `lambda-http`).

use std::fmt::Debug;
use std::future::poll_fn;

use bytes::Bytes;
use http_body_util::BodyExt;
use lambda_http::{IntoResponse, RequestExt, Service};
use lambda_runtime::Diagnostic;

use super::{handler_error, official_context, raw_event};
use crate::aliases::{BoxError, Request};
use crate::body::Body;
use crate::body::Response;
use crate::function::{Context, Handler};
use crate::wire::{ErrorType, FunctionError};

/// A [`Handler`] running a service written for `lambda_http::run`: what [`lambda_http()`]
/// returns.
#[derive(Debug, Clone)]
struct LambdaHttpHandler<S> {
    service: S,
}

/// A [`Handler`] running a service written for `lambda_http::run_with_streaming_response`:
/// what [`lambda_http_streaming()`] returns.
#[derive(Debug, Clone)]
struct LambdaHttpStreamingHandler<S> {
    service: S,
}

/// Runs a service written for `lambda_http::run` on the lambda-stream loop.
///
/// The handler gets the `lambda_http::Request` its crate builds from the event (query and path
/// parameters, `RequestExt`, the `lambda_runtime::Context`, `x-amzn-trace-id`), and whatever
/// it answers (`IntoResponse`: a string, JSON, an `http::Response`) is sent as the Function URL
/// response: `Set-Cookie` headers become cookies, a binary body stays binary.
///
/// ```no_run
/// use lambda_http::{Error, Request, RequestExt, service_fn};
///
/// async fn handler(request: Request) -> Result<String, Error> {
///     let name = request.query_string_parameters_ref()
///         .and_then(|query| query.first("name").map(str::to_owned))
///         .unwrap_or_else(|| "world".to_owned());
///     Ok(format!("hello {name}"))
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), lambda_stream::Error> {
///     // was: lambda_http::run(service_fn(handler)).await
///     lambda_stream::run(lambda_stream::compat::lambda_http(service_fn(handler))).await
/// }
/// ```
pub fn lambda_http<S, R>(service: S) -> impl Handler
where
    S: Service<lambda_http::Request, Response = R> + Clone + Send + Sync + 'static,
    S::Future: Send,
    S::Error: Into<Diagnostic> + Debug,
    R: IntoResponse,
{
    LambdaHttpHandler { service }
}

/// Runs a service written for `lambda_http::run_with_streaming_response` on the lambda-stream
/// loop: the response head goes out at the first body frame and the frames stream. A body
/// error ends the stream with real error trailers (`Function.StreamError`), where the official
/// loop appends it to the body as text.
///
/// ```no_run
/// use lambda_http::{Body, Error, Request, Response, service_fn};
///
/// async fn handler(_request: Request) -> Result<Response<Body>, Error> {
///     Ok(Response::builder().header("content-type", "text/plain").body("streamed".into())?)
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), lambda_stream::Error> {
///     // was: lambda_http::run_with_streaming_response(service_fn(handler)).await
///     lambda_stream::run(lambda_stream::compat::lambda_http_streaming(service_fn(handler))).await
/// }
/// ```
pub fn lambda_http_streaming<S, B>(service: S) -> impl Handler
where
    S: Service<lambda_http::Request, Response = http::Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send,
    S::Error: Into<Diagnostic> + Debug,
    B: http_body::Body + Send + 'static,
    B::Data: Into<Bytes>,
    B::Error: Into<BoxError>,
{
    LambdaHttpStreamingHandler { service }
}

impl<S, R> Handler for LambdaHttpHandler<S>
where
    S: Service<lambda_http::Request, Response = R> + Clone + Send + Sync + 'static,
    S::Future: Send,
    S::Error: Into<Diagnostic> + Debug,
    R: IntoResponse,
{
    type Error = BoxError;

    async fn call(&self, request: Request, context: Context) -> Result<Response, BoxError> {
        let request = official_request(&request, &context)?;
        let answer = call_service(self.service.clone(), request).await?;
        let response = answer.into_response().await;
        Ok(response.map(Body::from_http_body))
    }
}

impl<S, B> Handler for LambdaHttpStreamingHandler<S>
where
    S: Service<lambda_http::Request, Response = http::Response<B>> + Clone + Send + Sync + 'static,
    S::Future: Send,
    S::Error: Into<Diagnostic> + Debug,
    B: http_body::Body + Send + 'static,
    B::Data: Into<Bytes>,
    B::Error: Into<BoxError>,
{
    type Error = BoxError;

    async fn call(&self, request: Request, context: Context) -> Result<Response, BoxError> {
        let request = official_request(&request, &context)?;
        let response = call_service(self.service.clone(), request).await?;
        Ok(response
            .map(|body| Body::from_http_body(body.map_frame(|frame| frame.map_data(Into::into)))))
    }
}

async fn call_service<S>(
    mut service: S,
    request: lambda_http::Request,
) -> Result<S::Response, FunctionError>
where
    S: Service<lambda_http::Request>,
    S::Error: Into<Diagnostic>,
{
    poll_fn(|cx| service.poll_ready(cx))
        .await
        .map_err(handler_error)?;
    service.call(request).await.map_err(handler_error)
}

/// The request `lambda_http` builds from the event, with the context and trace header its loop
/// adds.
fn official_request(
    request: &Request,
    context: &Context,
) -> Result<lambda_http::Request, FunctionError> {
    let event = raw_event(request)?;
    let invalid = |error: &dyn std::fmt::Display| {
        FunctionError::new(
            ErrorType::INVALID_EVENT,
            format!("lambda_http cannot read the event: {error}"),
        )
    };
    let text = std::str::from_utf8(&event).map_err(|e| invalid(&e))?;
    let mut official = lambda_http::request::from_str(text).map_err(|e| invalid(&e))?;
    let context = official_context(context);
    if let Some(trace_id) = context
        .xray_trace_id
        .as_deref()
        .and_then(|id| http::HeaderValue::from_str(id).ok())
    {
        official.headers_mut().insert("x-amzn-trace-id", trace_id);
    }
    Ok(official.with_lambda_context(context))
}
