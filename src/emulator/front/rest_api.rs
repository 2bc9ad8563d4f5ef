//! The REST API front ([`Front::RestApi`](super::Front)): each request becomes a payload-1.0
//! proxy event for a `/{proxy+}` resource on stage `local`; the function's answer is relayed
//! with the gateway's limits ([`super::front`]) and its failures answered in API Gateway's
//! shapes (`{"message": ...}` bodies, `x-amzn-ErrorType`), as AWS documents them ("Handling
//! Lambda errors with an API Gateway API"; gateway response types): `502 Internal server
//! error` for a function error or a malformed answer (metadata past the first 16 KB
//! included), `500 Internal server error` when Lambda refuses the invocation (throttled),
//! `504 Endpoint request timed out` when the function runs out of time before answering.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::access_log::AccessLog;
use super::failure::PlatformFailure;
use super::front::{EndpointType, REST_API_BANDWIDTH, REST_API_MAX_STREAM};
use super::function_url::{collect_stream, plain, with_request_id};
use super::intake::{self, Refusal};
use super::state::{Answer, Deadline, State};
use super::url_body::{GatewayLimits, Relay, RelayOptions, UrlBody};
use crate::InvokeMode;
use crate::wire::{EventContext, decode_rest_buffered_response, rest_event_from_request};

/// An API Gateway error response: `{"message": ..}` with its `x-amzn-ErrorType`.
fn gateway_error(
    log: AccessLog,
    status: StatusCode,
    message: &str,
    error_type: &'static str,
    outcome: &str,
) -> Response<UrlBody> {
    let body = serde_json::json!({ "message": message }).to_string();
    let mut response = plain(log, status, "application/json", &body, outcome);
    response
        .headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(error_type));
    response
}

/// The gateway's answer when the function failed or answered what it cannot read.
fn internal_error(log: AccessLog, outcome: &str) -> Response<UrlBody> {
    let status = StatusCode::BAD_GATEWAY;
    gateway_error(
        log,
        status,
        "Internal server error",
        "InternalServerErrorException",
        outcome,
    )
}

/// The gateway's answer to a failed invocation: `504` for a timeout, else `502`.
fn failed(log: AccessLog, answer: &Answer) -> Response<UrlBody> {
    match answer {
        Answer::Failed(failure @ PlatformFailure::Timeout(_)) => {
            let status = StatusCode::GATEWAY_TIMEOUT;
            let outcome = failure.outcome();
            gateway_error(
                log,
                status,
                "Endpoint request timed out",
                "InternalServerErrorException",
                &outcome,
            )
        }
        Answer::Failed(failure) => internal_error(log, &failure.outcome()),
        Answer::Error(error) => {
            internal_error(log, &format!("{}: {}", error.error_type(), error.message()))
        }
        _ => internal_error(log, "unexpected answer"),
    }
}

/// The gateway's answer to a request it does not pass on.
fn refused(log: AccessLog, refusal: &Refusal) -> Response<UrlBody> {
    match refusal {
        Refusal::TooLarge { limit } => {
            let outcome = format!("413 (request event over {limit} bytes)");
            let status = StatusCode::PAYLOAD_TOO_LARGE;
            gateway_error(log, status, "Request Too Long", "RequestTooLarge", &outcome)
        }
        // "If the Lambda API rejects the invocation request, API Gateway returns a 500" (AWS
        // Lambda developer guide, "Handling Lambda errors with an API Gateway API").
        Refusal::Throttled { limit } => {
            let outcome = format!("throttled: {limit} invocations already running");
            let status = StatusCode::INTERNAL_SERVER_ERROR;
            let error_type = "InternalServerErrorException";
            gateway_error(log, status, "Internal server error", error_type, &outcome)
        }
        Refusal::SlowBody { timeout } => {
            let outcome = format!("request body not received within {timeout:?}");
            let status = StatusCode::REQUEST_TIMEOUT;
            gateway_error(log, status, "Request Timeout", "RequestTimeout", &outcome)
        }
        Refusal::Unreadable | Refusal::Forbidden(_) => {
            let status = StatusCode::BAD_REQUEST;
            gateway_error(
                log,
                status,
                "Bad Request",
                "BadRequestException",
                "unreadable request",
            )
        }
    }
}

/// One request through the REST API.
pub(crate) async fn answer(
    state: &Arc<State>,
    remote: SocketAddr,
    request: Request<Incoming>,
    endpoint: EndpointType,
) -> Response<UrlBody> {
    let config = &state.config;
    let log = AccessLog::for_request(&request, config);
    let request_id = log.request_id.clone();
    let limit = config.request_limit();
    let admitted = match intake::admit(state, request, limit, false).await {
        Ok(admitted) => admitted,
        Err(refusal) => return with_request_id(refused(log, &refusal), &request_id),
    };
    let request = Request::from_parts(admitted.parts, admitted.body);
    let context = EventContext {
        request_id: request_id.clone(),
        time: admitted.received,
        source_ip: remote.ip().to_string(),
        region: config.region().to_owned(),
        ..EventContext::default()
    };
    let event = rest_event_from_request(&request, &context).to_string();
    if event.len() > limit {
        return with_request_id(refused(log, &Refusal::TooLarge { limit }), &request_id);
    }
    let started = tokio::time::Instant::now();
    let (answer, deadline) = state
        .invoke(&request_id, Bytes::from(event), admitted.permit)
        .await;
    let response = match config.invoke_mode() {
        InvokeMode::ResponseStream => {
            let options = relay_options(state, endpoint, deadline, started);
            streamed(answer, options, log)
        }
        InvokeMode::Buffered => buffered(state, answer, deadline, log).await,
    };
    with_request_id(response, &request_id)
}

/// The gateway's limits on top of the invocation's deadline and the URL's pacing; the stream's
/// 15 minutes count from the request (`started`), not from the head.
fn relay_options(
    state: &State,
    endpoint: EndpointType,
    deadline: Deadline,
    started: tokio::time::Instant,
) -> RelayOptions {
    RelayOptions {
        // API Gateway does not pass a function's error trailers on.
        forward_trailers: false,
        deadline,
        throttle: state.config.throttle(),
        gateway: Some(GatewayLimits {
            idle: endpoint.idle_timeout(),
            max_duration: REST_API_MAX_STREAM.saturating_sub(started.elapsed()),
            bandwidth: REST_API_BANDWIDTH,
        }),
    }
}

/// A streamed answer, relayed as it comes (the head as soon as the metadata is read).
fn streamed(answer: Answer, relay: RelayOptions, mut log: AccessLog) -> Response<UrlBody> {
    match answer {
        Answer::Stream {
            mut head, events, ..
        } => {
            head.headers.remove(CONTENT_LENGTH);
            head.headers.remove(http::header::TRANSFER_ENCODING);
            head.headers.remove(http::header::CONNECTION);
            log.status = head.status.as_u16();
            head.into_response(UrlBody::Relay(Box::new(Relay::new(events, relay, log))))
        }
        // A buffered payload to a streaming integration is not a proxy stream.
        Answer::Payload { .. } => internal_error(log, "invalid response (not a stream)"),
        failure => failed(log, &failure),
    }
}

/// A `BUFFERED` integration: the proxy response JSON, mapped; a stream collected.
async fn buffered(
    state: &State,
    answer: Answer,
    deadline: Deadline,
    mut log: AccessLog,
) -> Response<UrlBody> {
    let limit = state.config.buffered_limit();
    let mapped = match answer {
        Answer::Payload { body, .. } => decode_rest_buffered_response(&body).map_err(|error| {
            format!("invalid response (malformed Lambda proxy response: {error})")
        }),
        Answer::Stream {
            head,
            prelude_len,
            events,
        } => collect_stream(head, prelude_len, events, limit, deadline).await,
        failure => return failed(log, &failure),
    };
    match mapped {
        Ok((mut head, body)) => {
            head.headers.remove(CONTENT_LENGTH);
            if head.headers.get(CONTENT_TYPE).is_none() {
                // API Gateway's default for a proxy response without one.
                head.headers
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
            log.status = head.status.as_u16();
            head.into_response(UrlBody::full(body, log))
        }
        Err(outcome) => internal_error(log, &outcome),
    }
}
