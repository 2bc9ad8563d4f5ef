//! The Runtime API the function talks to: `/next`, `/response` (buffered or streamed),
//! `/error`, `/init/error`, routed by the wire module's [`RuntimeRoute`].

use std::convert::Infallible;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;

use super::metadata;
use super::relay::relay_stream;
use super::reply::{RuntimeResponse, accepted, runtime_error, timed_out};
use super::state::{Answer, State, Taken};
use crate::emulator::failure::PlatformFailure;
use crate::wire::{
    ERROR_TYPE_TRAILER, FunctionError, InvocationHeaders, RESPONSE_MODE_HEADER, RequestId,
    RuntimeRoute,
};

pub(crate) async fn handle(
    state: Arc<State>,
    instance: usize,
    request: Request<Incoming>,
) -> Result<RuntimeResponse, Infallible> {
    if metadata::is_metadata_path(request.uri().path()) {
        let region = state.config.region();
        return Ok(metadata::answer(&request, region, &state.metadata_token));
    }
    let route = match RuntimeRoute::parse(request.method(), request.uri().path()) {
        Ok(route) => route,
        Err(unknown) => {
            let message = unknown.to_string();
            return Ok(runtime_error(
                StatusCode::NOT_FOUND,
                "InvalidRoute",
                &message,
            ));
        }
    };
    let response = match route {
        RuntimeRoute::Next => next(&state, instance).await,
        RuntimeRoute::InitError => {
            let (error, document) = read_error(request).await;
            tracing::error!(error_type = %error.error_type(), message = error.message(), "function init failed");
            eprintln!("lambda-stream: function init failed: {error}");
            let failure = PlatformFailure::InitFailed { error, document };
            state.init.reported(instance, failure);
            accepted()
        }
        RuntimeRoute::Response(id) => response(&state, &id, request).await,
        RuntimeRoute::Error(id) => {
            let (error, document) = read_error(request).await;
            deliver(&state, &id, Answer::Error(error, Some(document)))
        }
    };
    Ok(response)
}

async fn next(state: &State, instance: usize) -> RuntimeResponse {
    let next = state.next(instance).await;
    let request_id = next.request_id;
    let deadline_ms = next
        .deadline
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let config = &state.config;
    let arn = config.function_arn(config.function_name());
    let trace = format!(
        "Root=1-{:08x}-{};Sampled=0",
        deadline_ms / 1000,
        request_id.replace('-', "").get(..24).unwrap_or_default()
    );
    // The emulator's ids are UUIDs, always valid.
    let Ok(id) = RequestId::new(request_id) else {
        return runtime_error(
            StatusCode::INTERNAL_SERVER_ERROR,
            "InvalidRequestID",
            "bad id",
        );
    };
    let mut headers = InvocationHeaders::new(id);
    headers.deadline_ms = u64::try_from(deadline_ms).ok();
    headers.invoked_function_arn = Some(arn);
    headers.trace_id = Some(trace);
    headers.tenant_id = next.tenant_id;
    let mut response = Response::new(Full::new(next.event));
    let map = response.headers_mut();
    map.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.write_to(map);
    response
}

fn deliver(state: &State, request_id: &RequestId, answer: Answer) -> RuntimeResponse {
    match state.take(request_id.as_str()) {
        Some(taken) => {
            state.release(request_id.as_str());
            let _ = taken.reply.send(answer);
            accepted()
        }
        None => unknown_request(request_id),
    }
}

fn unknown_request(request_id: &RequestId) -> RuntimeResponse {
    runtime_error(
        StatusCode::BAD_REQUEST,
        "InvalidRequestID",
        &format!("invocation {request_id} is not in flight (already answered, or timed out)"),
    )
}

/// Reads an `/error` or `/init/error` request (body up to 1 MiB): the error, and the document
/// as posted.
async fn read_error(request: Request<Incoming>) -> (FunctionError, Bytes) {
    let type_header = request.headers().get(ERROR_TYPE_TRAILER).cloned();
    let body = Limited::new(request.into_body(), 1024 * 1024)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    (
        FunctionError::from_error_request(type_header.as_ref(), &body),
        body,
    )
}

fn is_streaming(headers: &HeaderMap) -> bool {
    headers
        .get(RESPONSE_MODE_HEADER)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"streaming"))
}

async fn response(
    state: &State,
    request_id: &RequestId,
    request: Request<Incoming>,
) -> RuntimeResponse {
    let Some(taken) = state.take(request_id.as_str()) else {
        return unknown_request(request_id);
    };
    let mut answering = state.answering(request_id.as_str());
    if is_streaming(request.headers()) {
        return relay_stream(state, &mut answering, taken, request.into_body()).await;
    }
    let Taken {
        reply, deadline, ..
    } = taken;
    let content_type = request.headers().get(CONTENT_TYPE).cloned();
    let limit = state.config.buffered_limit();
    let body = Limited::new(request.into_body(), limit).collect();
    let (answer, response) = match deadline.bound(body).await {
        Some(Ok(collected)) => {
            let body = collected.to_bytes();
            (Answer::Payload { content_type, body }, accepted())
        }
        Some(Err(error)) => {
            let failure = if error.is::<http_body_util::LengthLimitError>() {
                PlatformFailure::PayloadTooLarge {
                    limit: limit as u64,
                }
            } else {
                PlatformFailure::Truncated(format!("response body could not be read: {error}"))
            };
            let message = failure.to_string();
            let status = StatusCode::PAYLOAD_TOO_LARGE;
            let response = runtime_error(status, "RequestEntityTooLarge", &message);
            (Answer::Failed(failure), response)
        }
        None => {
            // The deadline passed with the body still coming: the front gets the timeout; the
            // invocation's watch frees the slot and resets the function, as for a stream.
            let _ = reply.send(Answer::Failed(deadline.failure()));
            answering.expired();
            return timed_out();
        }
    };
    answering.over();
    let _ = reply.send(answer);
    response
}
