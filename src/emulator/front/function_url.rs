//! The Function URL front: each HTTP request becomes a payload-2.0 event; the function's
//! answer becomes the HTTP response, streamed live or mapped from the buffered JSON.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, ORIGIN, TE, TRAILER};
use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use tokio::sync::mpsc;

use super::access_log::AccessLog;
use super::auth::{AuthError, AuthType, FORBIDDEN_BODY};
use super::cors::Cors;
use super::failure::PlatformFailure;
use super::front::Front;
use super::intake::{self, Refusal};
use super::invoke_api;
use super::rest_front;
use super::state::{Answer, Deadline, State, StreamEvent};
use super::url_body::{Relay, RelayOptions, UrlBody};
use crate::InvokeMode;
use crate::wire::{
    DECLARED_ERROR_TRAILERS, EventContext, ResponseHead, decode_buffered_response,
    event_from_request,
};

fn wants_trailers<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get_all(TE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("trailers"))
}

/// A plain response the URL itself produces (errors, limits).
pub(crate) fn plain(
    mut log: AccessLog,
    status: StatusCode,
    content_type: &'static str,
    body: &str,
    outcome: &str,
) -> Response<UrlBody> {
    log.status = status.as_u16();
    log.data(body.len());
    log.finish(outcome);
    let mut response = Response::new(UrlBody::Full(Some(Bytes::from(body.to_owned())), None));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

fn bad_gateway(log: AccessLog, outcome: &str) -> Response<UrlBody> {
    plain(
        log,
        StatusCode::BAD_GATEWAY,
        "text/plain",
        "Internal Server Error",
        outcome,
    )
}

/// One Function URL request: CORS around the answer.
pub(crate) async fn handle(
    state: Arc<State>,
    remote: SocketAddr,
    request: Request<Incoming>,
) -> Result<Response<UrlBody>, Infallible> {
    if let Some((name, route)) = invoke_api::route(request.uri().path()) {
        let name = name.to_owned();
        return Ok(invoke_api::handle(&state, request, &name, route).await);
    }
    if let Front::RestApi(endpoint) = state.config.front() {
        return Ok(rest_front::answer(&state, remote, request, endpoint).await);
    }
    let origin = request.headers().get(ORIGIN).cloned();
    let preflight = Cors::is_preflight(request.method(), request.headers());
    let mut response = answer(&state, remote, request, preflight).await;
    if let Some(cors) = state.config.cors() {
        cors.apply(origin.as_ref(), preflight, response.headers_mut());
    }
    Ok(response)
}

async fn answer(
    state: &Arc<State>,
    remote: SocketAddr,
    request: Request<Incoming>,
    preflight: bool,
) -> Response<UrlBody> {
    let config = &state.config;
    let log = AccessLog::for_request(&request, config);
    let request_id = log.request_id.clone();
    if preflight && config.cors().is_some() {
        // The URL answers a preflight itself; the function never sees it.
        let response = plain(log, StatusCode::OK, "text/plain", "", "CORS preflight");
        return with_request_id(response, &request_id);
    }
    let forward_trailers = wants_trailers(&request);
    let limit = config.request_limit();
    let signed = config.auth_type() == AuthType::AwsIam;
    let admitted = match intake::admit(state, request, limit, signed).await {
        Ok(admitted) => admitted,
        Err(refusal) => return refused(log, &refusal),
    };
    let request = Request::from_parts(admitted.parts, admitted.body);
    let context = EventContext {
        request_id: request_id.clone(),
        time: admitted.received,
        source_ip: remote.ip().to_string(),
        region: config.region().to_owned(),
        authorizer: admitted.authorizer,
        ..EventContext::default()
    };
    let event = event_from_request(&request, &context).to_string();
    if event.len() > limit {
        return refused(log, &Refusal::TooLarge { limit });
    }
    let (answer, deadline) = state
        .invoke(&request_id, Bytes::from(event), admitted.permit)
        .await;
    match config.invoke_mode() {
        InvokeMode::ResponseStream => {
            let relay = RelayOptions {
                forward_trailers,
                deadline,
                throttle: config.throttle(),
                gateway: None,
            };
            streamed(answer, relay, log)
        }
        InvokeMode::Buffered => buffered(state, answer, deadline, log).await,
    }
}

/// The URL's answer to a request it did not admit, in the Function URL's shapes.
fn refused(log: AccessLog, refusal: &Refusal) -> Response<UrlBody> {
    match refusal {
        Refusal::TooLarge { limit } => {
            let body = format!(
                r#"{{"Message":"Request must be smaller than {limit} bytes for the InvokeFunction operation"}}"#
            );
            let status = StatusCode::PAYLOAD_TOO_LARGE;
            plain(
                log,
                status,
                "application/json",
                &body,
                "413 (request event too large)",
            )
        }
        Refusal::SlowBody { timeout } => {
            let outcome = format!("request body not received within {timeout:?}");
            closing(plain(
                log,
                StatusCode::REQUEST_TIMEOUT,
                "text/plain",
                "Request Timeout",
                &outcome,
            ))
        }
        Refusal::Unreadable => {
            let status = StatusCode::BAD_REQUEST;
            let outcome = "unreadable request body";
            closing(plain(log, status, "text/plain", "Bad Request", outcome))
        }
        Refusal::Forbidden(error) => forbidden(log, error),
        Refusal::Throttled { limit } => throttled(log, *limit),
    }
}

/// Marks a response as the connection's last: its request body was not read to the end.
pub(crate) fn closing(mut response: Response<UrlBody>) -> Response<UrlBody> {
    response
        .headers_mut()
        .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// AWS's answer to a request that fails `AWS_IAM` auth; the reason goes to the log only.
fn forbidden(log: AccessLog, error: &AuthError) -> Response<UrlBody> {
    tracing::warn!(%error, "AWS_IAM auth refused the request");
    let outcome = format!("forbidden: {error}");
    let mut response = plain(
        log,
        StatusCode::FORBIDDEN,
        "application/json",
        FORBIDDEN_BODY,
        &outcome,
    );
    response.headers_mut().insert(
        "x-amzn-errortype",
        HeaderValue::from_static("AccessDeniedException"),
    );
    response
}

/// AWS's answer when every concurrent execution is taken.
fn throttled(log: AccessLog, limit: usize) -> Response<UrlBody> {
    let outcome = format!("throttled: {limit} invocations already running");
    let mut response = plain(
        log,
        StatusCode::TOO_MANY_REQUESTS,
        "application/json",
        r#"{"Message":"Rate Exceeded."}"#,
        &outcome,
    );
    response.headers_mut().insert(
        "x-amzn-errortype",
        HeaderValue::from_static("TooManyRequestsException"),
    );
    response
}

pub(crate) fn with_request_id(
    mut response: Response<UrlBody>,
    request_id: &str,
) -> Response<UrlBody> {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    response
}

fn failure_outcome(answer: &Answer) -> String {
    match answer {
        Answer::Error(error) => format!("{}: {}", error.error_type(), error.message()),
        Answer::Failed(failure) => failure.outcome(),
        _ => String::new(),
    }
}

fn streamed(answer: Answer, relay: RelayOptions, mut log: AccessLog) -> Response<UrlBody> {
    let request_id = log.request_id.clone();
    let response = match answer {
        Answer::Stream {
            mut head, events, ..
        } => {
            // Lambda renames a content-length it cannot honour on a stream.
            if let Some(length) = head.headers.remove(CONTENT_LENGTH) {
                head.headers
                    .insert("x-amzn-remapped-content-length", length);
            }
            head.headers.remove(http::header::TRANSFER_ENCODING);
            head.headers.remove(http::header::CONNECTION);
            if relay.forward_trailers {
                head.headers
                    .insert(TRAILER, HeaderValue::from_static(DECLARED_ERROR_TRAILERS));
            }
            log.status = head.status.as_u16();
            head.into_response(UrlBody::Relay(Box::new(Relay::new(events, relay, log))))
        }
        // A RESPONSE_STREAM URL does not map a buffered answer: 200 and the payload as sent.
        Answer::Payload { content_type, body } => {
            log.status = 200;
            let mut response = Response::new(UrlBody::full(body, log));
            if let Some(content_type) = content_type {
                response.headers_mut().insert(CONTENT_TYPE, content_type);
            }
            response
        }
        failure => {
            let outcome = failure_outcome(&failure);
            bad_gateway(log, &outcome)
        }
    };
    with_request_id(response, &request_id)
}

async fn buffered(
    state: &State,
    answer: Answer,
    deadline: Deadline,
    mut log: AccessLog,
) -> Response<UrlBody> {
    let request_id = log.request_id.clone();
    let limit = state.config.buffered_limit();
    let mapped = match answer {
        Answer::Payload { body, .. } => decode_buffered_response(&body).map_err(|error| {
            format!("Runtime.InvalidResponse: invalid buffered response: {error}")
        }),
        Answer::Stream {
            head,
            prelude_len,
            events,
        } => collect_stream(head, prelude_len, events, limit, deadline).await,
        failure => Err(failure_outcome(&failure)),
    };
    let response = match mapped {
        Ok((mut head, body)) => {
            head.headers.remove(CONTENT_LENGTH);
            head.headers.remove(http::header::TRANSFER_ENCODING);
            log.status = head.status.as_u16();
            head.into_response(UrlBody::full(body, log))
        }
        Err(outcome) => bad_gateway(log, &outcome),
    };
    with_request_id(response, &request_id)
}

/// A streamed answer to a BUFFERED URL: collected within the buffered limit (prelude
/// included, as Lambda counts it), with its prelude applied.
pub(crate) async fn collect_stream(
    head: ResponseHead,
    prelude_len: usize,
    mut events: mpsc::Receiver<StreamEvent>,
    limit: usize,
    deadline: Deadline,
) -> Result<(ResponseHead, Bytes), String> {
    let mut body = BytesMut::new();
    loop {
        match deadline.next_event(&mut events).await {
            StreamEvent::Data(data) if prelude_len + body.len() + data.len() <= limit => {
                body.extend_from_slice(&data);
            }
            StreamEvent::Data(_) => {
                let too_large = PlatformFailure::PayloadTooLarge {
                    limit: limit as u64,
                };
                return Err(too_large.outcome());
            }
            StreamEvent::End => return Ok((head, body.freeze())),
            StreamEvent::Error(error) => {
                return Err(format!("{}: {}", error.error_type(), error.message()));
            }
            StreamEvent::Failed(failure) => return Err(failure.outcome()),
        }
    }
}
