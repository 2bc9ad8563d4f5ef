//! Answering one invocation: call the handler, then stream or buffer its response.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use bytes::BytesMut;
use futures_util::{FutureExt, StreamExt};
use http::StatusCode;
use http::header::CONTENT_TYPE;

use super::client::{NextInvocation, RuntimeClient};
use super::config::{Config, FunctionInfo, InvokeMode};
use super::context::Context;
use super::handler::Handler;
use super::request_body::{StreamEnd, StreamingBody};
use crate::wire::{
    ErrorType, FunctionError, ResponseHead, encode_buffered_response, encode_prelude,
    request_from_event,
};
use crate::{Body, Error, Response};

/// Serves one invocation end to end. Errors are about delivering the answer, never the
/// handler's own failures (those are reported to Lambda and are not errors here).
///
/// At the invocation's deadline (when known) the work is dropped and the connection aborted,
/// as Lambda stops a function that runs out of time, so one stuck invocation cannot hold the
/// loop (locally, the next request would wait behind it forever).
pub(crate) async fn serve_invocation<H: Handler>(
    client: &mut RuntimeClient,
    config: &Config,
    handler: &H,
    next: NextInvocation,
    function: Arc<FunctionInfo>,
) -> Result<(), Error> {
    let now = SystemTime::now();
    let context = Context::from_headers(&next.headers, function, now)?;
    let Some(deadline) = context.deadline else {
        return answer(client, config, handler, next.event, context).await;
    };
    let request_id = context.request_id.clone();
    let left = deadline.duration_since(now).unwrap_or_default();
    match tokio::time::timeout(left, answer(client, config, handler, next.event, context)).await {
        Ok(result) => result,
        Err(_) => {
            client.abort();
            tracing::error!(
                request_id,
                "deadline reached: invocation stopped and its response cut off"
            );
            Ok(())
        }
    }
}

async fn answer<H: Handler>(
    client: &mut RuntimeClient,
    config: &Config,
    handler: &H,
    event: bytes::Bytes,
    context: Context,
) -> Result<(), Error> {
    let request_id = context.request_id.clone();
    let request = match request_from_event(&event) {
        Ok(request) => request,
        Err(error) => {
            let error = FunctionError::new(ErrorType::INVALID_EVENT, error.to_string());
            return report_failure(client, &request_id, error).await;
        }
    };
    let response = match call_handler(handler, request, context).await {
        Ok(response) => response,
        Err(error) => return report_failure(client, &request_id, error).await,
    };
    match config.invoke_mode() {
        InvokeMode::ResponseStream => stream(client, &request_id, response).await,
        InvokeMode::Buffered => buffer(client, config, &request_id, response).await,
    }
}

async fn call_handler<H: Handler>(
    handler: &H,
    request: crate::Request,
    context: Context,
) -> Result<Response, FunctionError> {
    let future = catch_unwind(AssertUnwindSafe(|| handler.call(request, context)))
        .map_err(|panic| FunctionError::from_panic(panic.as_ref()))?;
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(error)) => Err(FunctionError::from_error(
            error.into(),
            ErrorType::HANDLER_ERROR,
        )),
        Err(panic) => Err(FunctionError::from_panic(panic.as_ref())),
    }
}

/// Polls the body for its next chunk, turning a panic into an error.
async fn next_chunk(body: &mut Body) -> Option<Result<bytes::Bytes, FunctionError>> {
    match AssertUnwindSafe(body.next()).catch_unwind().await {
        Ok(item) => item,
        Err(panic) => Some(Err(FunctionError::from_panic(panic.as_ref()))),
    }
}

async fn report_failure(
    client: &mut RuntimeClient,
    request_id: &str,
    error: FunctionError,
) -> Result<(), Error> {
    tracing::error!(
        request_id,
        error_type = %error.error_type(),
        message = error.message(),
        "invocation failed before the first body byte; reported to /error"
    );
    client.invocation_error(request_id, &error).await
}

/// RESPONSE_STREAM: the head is committed at the first body byte, so an error before it can
/// still go to `/error`; after it, errors end the stream with trailer fields.
async fn stream(
    client: &mut RuntimeClient,
    request_id: &str,
    response: Response,
) -> Result<(), Error> {
    let started = Instant::now();
    let (parts, mut body) = response.into_parts();
    let head = ResponseHead::from_parts(parts);
    let status = head.status;
    let prelude = match encode_prelude(&head) {
        Ok(prelude) => prelude,
        Err(error) => {
            let error = FunctionError::new(ErrorType::INVALID_RESPONSE, error.to_string());
            return report_failure(client, request_id, error).await;
        }
    };
    let first = match next_chunk(&mut body).await {
        Some(Err(error)) => return report_failure(client, request_id, error).await,
        Some(Ok(chunk)) => Some(chunk),
        None => None,
    };
    let (streaming, report) = StreamingBody::new(prelude, first, body);
    let sent = client.stream_response(request_id, streaming).await;
    let report = report.await.ok();
    let (body_bytes, chunks) = report.as_ref().map_or((0, 0), |r| (r.body_bytes, r.chunks));
    let elapsed_ms = started.elapsed().as_millis() as u64;
    match report.map(|r| r.end) {
        Some(StreamEnd::Complete) => tracing::info!(
            request_id,
            status = status.as_u16(),
            body_bytes,
            chunks,
            elapsed_ms,
            "streamed response complete"
        ),
        Some(StreamEnd::Failed(error)) => tracing::error!(
            request_id, status = status.as_u16(), body_bytes, chunks, elapsed_ms,
            error_type = %error.error_type(), message = error.message(),
            "streamed response ended with an error trailer"
        ),
        Some(StreamEnd::Aborted) | None => tracing::error!(
            request_id,
            status = status.as_u16(),
            body_bytes,
            chunks,
            elapsed_ms,
            "streamed response aborted: the Runtime API connection closed"
        ),
    }
    sent
}

/// BUFFERED: the body is collected into one payload within the limit; a response that does not
/// fit is replaced by a clean 413 JSON response, never sent over the limit.
async fn buffer(
    client: &mut RuntimeClient,
    config: &Config,
    request_id: &str,
    response: Response,
) -> Result<(), Error> {
    let limit = config.buffered_limit();
    let (parts, mut body) = response.into_parts();
    let head = ResponseHead::from_parts(parts);
    let mut collected = BytesMut::new();
    let mut over_limit = false;
    while let Some(item) = next_chunk(&mut body).await {
        match item {
            Ok(chunk) if collected.len() + chunk.len() > limit => {
                over_limit = true;
                break;
            }
            Ok(chunk) => collected.extend_from_slice(&chunk),
            Err(error) => return report_failure(client, request_id, error).await,
        }
    }
    drop(body);
    let payload = if over_limit {
        None
    } else {
        match encode_buffered_response(&head, &collected) {
            Ok(payload) => Some(payload).filter(|p| p.len() <= limit),
            Err(error) => {
                let error = FunctionError::new(ErrorType::INVALID_RESPONSE, error.to_string());
                return report_failure(client, request_id, error).await;
            }
        }
    };
    let payload = match payload {
        Some(payload) => {
            tracing::info!(
                request_id,
                status = head.status.as_u16(),
                payload_bytes = payload.len(),
                "buffered response"
            );
            payload
        }
        None => {
            tracing::error!(
                request_id,
                limit,
                "buffered response over the limit; sent 413 instead"
            );
            too_large_payload(limit)
        }
    };
    client.buffered_response(request_id, payload).await
}

fn too_large_payload(limit: usize) -> Vec<u8> {
    let mut head = ResponseHead::new(StatusCode::PAYLOAD_TOO_LARGE);
    head.headers.insert(
        CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    let body = serde_json::json!({
        "errorType": ErrorType::RESPONSE_SIZE_TOO_LARGE.as_str(),
        "errorMessage": format!("the response is larger than the {limit}-byte buffered response limit"),
    });
    encode_buffered_response(&head, body.to_string().as_bytes()).unwrap_or_default()
}
