//! Handlers written for `lambda_runtime::run` (feature `lambda-runtime`).

use std::fmt::Debug;
use std::future::poll_fn;
use std::marker::PhantomData;

use bytes::Bytes;
use futures_util::Stream;
use lambda_runtime::{
    Diagnostic, FunctionResponse, IntoFunctionResponse, LambdaEvent, MetadataPrelude, Service,
    StreamResponse,
};
use serde::Serialize;
use serde::de::DeserializeOwned;

use super::{handler_error, official_context, raw_event};
use crate::aliases::{BoxError, Request};
use crate::body::Body;
use crate::body::Response;
use crate::function::{Context, Handler};
use crate::wire::{ErrorType, FunctionError, ResponseHead, decode_buffered_response};

/// A [`Handler`] running a service written for `lambda_runtime::run`: what
/// [`lambda_runtime()`] returns.
struct LambdaRuntimeHandler<S, T, B, St> {
    service: S,
    // The event and answer types the service is used with, as `lambda_runtime::run` infers them.
    _types: PhantomData<fn(T) -> (B, St)>,
}

impl<S: Clone, T, B, St> Clone for LambdaRuntimeHandler<S, T, B, St> {
    fn clone(&self) -> Self {
        LambdaRuntimeHandler {
            service: self.service.clone(),
            _types: PhantomData,
        }
    }
}

impl<S: Debug, T, B, St> Debug for LambdaRuntimeHandler<S, T, B, St> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LambdaRuntimeHandler")
            .field("service", &self.service)
            .finish()
    }
}

/// Runs a service written for `lambda_runtime::run` (a `service_fn` over `LambdaEvent<T>`)
/// on the lambda-stream loop.
///
/// - The event is deserialized into `T` from the JSON the Runtime API delivered, and the
///   handler gets a `lambda_runtime::Context` with the same fields the official loop fills.
/// - A `StreamResponse` streams: its `MetadataPrelude` becomes the head (cookies as
///   `Set-Cookie`) and its stream the body. An `Err` item ends the stream with real error
///   trailers (`Function.StreamError` and the error's message), where the official loop appends
///   the error to the body as text and reports success.
/// - A serializable value is mapped as Lambda maps a BUFFERED Function URL answer: a
///   `{"statusCode", "headers", "body", "cookies", "isBase64Encoded"}` object gives that
///   response, anything else is a 200 `application/json` body. (On the official loop in
///   `RESPONSE_STREAM` mode the client would get the JSON text unmapped.)
///
/// ```no_run
/// use lambda_runtime::{Error, LambdaEvent, service_fn};
/// use serde_json::{Value, json};
///
/// async fn handler(event: LambdaEvent<Value>) -> Result<Value, Error> {
///     Ok(json!({ "path": event.payload["rawPath"], "request": event.context.request_id }))
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), lambda_stream::Error> {
///     // was: lambda_runtime::run(service_fn(handler)).await
///     lambda_stream::run(lambda_stream::compat::lambda_runtime(service_fn(handler))).await
/// }
/// ```
pub fn lambda_runtime<S, T, R, B, St, D, E>(service: S) -> impl Handler
where
    S: Service<LambdaEvent<T>, Response = R> + Clone + Send + Sync + 'static,
    S::Future: Send,
    S::Error: Into<Diagnostic> + Debug,
    T: DeserializeOwned + Send + 'static,
    R: IntoFunctionResponse<B, St>,
    B: Serialize + 'static,
    St: Stream<Item = Result<D, E>> + Unpin + Send + 'static,
    D: Into<Bytes> + Send + 'static,
    E: Into<lambda_runtime::Error> + Send + Debug + 'static,
{
    LambdaRuntimeHandler {
        service,
        _types: PhantomData,
    }
}

impl<S, T, R, B, St, D, E> Handler for LambdaRuntimeHandler<S, T, B, St>
where
    S: Service<LambdaEvent<T>, Response = R> + Clone + Send + Sync + 'static,
    S::Future: Send,
    S::Error: Into<Diagnostic> + Debug,
    T: DeserializeOwned + Send + 'static,
    R: IntoFunctionResponse<B, St>,
    B: Serialize + 'static,
    St: Stream<Item = Result<D, E>> + Unpin + Send + 'static,
    D: Into<Bytes> + Send + 'static,
    E: Into<lambda_runtime::Error> + Send + Debug + 'static,
{
    type Error = BoxError;

    async fn call(&self, request: Request, context: Context) -> Result<Response, BoxError> {
        let event = raw_event(&request)?;
        drop(request);
        let payload: T = serde_json::from_slice(&event).map_err(|error| {
            FunctionError::new(
                ErrorType::INVALID_EVENT,
                format!("the event does not deserialize into the handler's type: {error}"),
            )
        })?;
        let event = LambdaEvent::new(payload, official_context(&context));
        let mut service = self.service.clone();
        poll_fn(|cx| service.poll_ready(cx))
            .await
            .map_err(handler_error)?;
        let answer = service.call(event).await.map_err(handler_error)?;
        match answer.into_response() {
            FunctionResponse::BufferedResponse(value) => Ok(buffered_answer(&value)?),
            FunctionResponse::StreamingResponse(streaming) => Ok(streamed_answer(streaming)),
        }
    }
}

/// A serializable answer, mapped as Lambda maps a BUFFERED Function URL response.
fn buffered_answer(value: &impl Serialize) -> Result<Response, FunctionError> {
    let invalid = |error: &dyn std::fmt::Display| {
        FunctionError::new(
            ErrorType::INVALID_RESPONSE,
            format!("the handler's answer cannot be a Function URL response: {error}"),
        )
    };
    let json = serde_json::to_vec(value).map_err(|e| invalid(&e))?;
    let (head, body) = decode_buffered_response(&json).map_err(|e| invalid(&e))?;
    Ok(head.into_response(Body::from(body)))
}

/// A `StreamResponse`: its prelude as the head, its stream as the body.
fn streamed_answer<St, D, E>(answer: StreamResponse<St>) -> Response
where
    St: Stream<Item = Result<D, E>> + Send + 'static,
    D: Into<Bytes> + 'static,
    E: Into<lambda_runtime::Error> + 'static,
{
    let MetadataPrelude {
        status_code,
        headers,
        cookies,
        ..
    } = answer.metadata_prelude;
    let mut head = ResponseHead::new(status_code);
    head.headers = headers;
    head.cookies = cookies;
    head.into_response(Body::from_stream(answer.stream))
}
