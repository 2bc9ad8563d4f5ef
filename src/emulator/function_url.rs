//! The Function URL front: each HTTP request becomes a payload-2.0 event; the function's
//! answer becomes the HTTP response, streamed live or mapped from the buffered JSON.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::SystemTime;

use bytes::{Bytes, BytesMut};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, TE, TRAILER};
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use tokio::sync::{mpsc, oneshot};

use super::access_log::AccessLog;
use super::state::{Answer, Invocation, State, StreamEvent};
use super::url_body::{Relay, UrlBody};
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
fn plain(
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

pub(crate) async fn handle(
    state: Arc<State>,
    remote: SocketAddr,
    request: Request<Incoming>,
) -> Result<Response<UrlBody>, Infallible> {
    let config = &state.config;
    let mut log = AccessLog::new(request.method(), request.uri().path(), config.access_log());
    let request_id = uuid::Uuid::new_v4().to_string();
    log.request_id = request_id.clone();
    let forward_trailers = wants_trailers(&request);
    let limit = config.request_limit();
    let too_large = |log| {
        let body = format!(
            r#"{{"Message":"Request must be smaller than {limit} bytes for the InvokeFunction operation"}}"#
        );
        plain(
            log,
            StatusCode::PAYLOAD_TOO_LARGE,
            "application/json",
            &body,
            "request too large",
        )
    };
    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<LengthLimitError>() => return Ok(too_large(log)),
        Err(_) => {
            return Ok(plain(
                log,
                StatusCode::BAD_REQUEST,
                "text/plain",
                "Bad Request",
                "unreadable request body",
            ));
        }
    };
    let request = Request::from_parts(parts, body);
    let now = SystemTime::now();
    let context = EventContext {
        request_id: request_id.clone(),
        time: now,
        source_ip: remote.ip().to_string(),
        region: config.region().to_owned(),
        ..EventContext::default()
    };
    let event = event_from_request(&request, &context).to_string();
    if event.len() > limit {
        return Ok(too_large(log));
    }

    let deadline = tokio::time::Instant::now() + config.timeout();
    let (reply, answer) = oneshot::channel();
    state.enqueue(Invocation {
        request_id: request_id.clone(),
        event: Bytes::from(event),
        deadline: now + config.timeout(),
        reply,
    });
    let answer = match tokio::time::timeout_at(deadline, answer).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(_)) => Answer::Failed("the function stopped before answering".to_owned()),
        Err(_) => {
            // Lambda would stop the function here; a late answer is refused.
            let _ = state.take(&request_id);
            tracing::error!(request_id, timeout = ?config.timeout(), "function timed out");
            return Ok(bad_gateway(log, "timeout"));
        }
    };
    Ok(match config.invoke_mode() {
        InvokeMode::ResponseStream => streamed(answer, forward_trailers, deadline, log),
        InvokeMode::Buffered => buffered(&state, answer, deadline, log).await,
    })
}

fn with_request_id(mut response: Response<UrlBody>, request_id: &str) -> Response<UrlBody> {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    response
}

fn failure_outcome(answer: &Answer) -> String {
    match answer {
        Answer::Error(error) => format!("{}: {}", error.error_type(), error.message()),
        Answer::Failed(reason) => format!("failed: {reason}"),
        _ => String::new(),
    }
}

fn streamed(
    answer: Answer,
    forward_trailers: bool,
    deadline: tokio::time::Instant,
    mut log: AccessLog,
) -> Response<UrlBody> {
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
            if forward_trailers {
                head.headers
                    .insert(TRAILER, HeaderValue::from_static(DECLARED_ERROR_TRAILERS));
            }
            log.status = head.status.as_u16();
            head.into_response(UrlBody::Relay(Box::new(Relay::new(
                events,
                deadline,
                forward_trailers,
                log,
            ))))
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
    deadline: tokio::time::Instant,
    mut log: AccessLog,
) -> Response<UrlBody> {
    let request_id = log.request_id.clone();
    let limit = state.config.buffered_limit();
    let mapped = match answer {
        Answer::Payload { body, .. } => decode_buffered_response(&body)
            .map_err(|error| format!("invalid buffered response: {error}")),
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
async fn collect_stream(
    head: ResponseHead,
    prelude_len: usize,
    mut events: mpsc::Receiver<StreamEvent>,
    limit: usize,
    deadline: tokio::time::Instant,
) -> Result<(ResponseHead, Bytes), String> {
    let mut body = BytesMut::new();
    loop {
        let event = tokio::time::timeout_at(deadline, events.recv())
            .await
            .map_err(|_| "timeout".to_owned())?;
        match event {
            Some(StreamEvent::Data(data)) => {
                if prelude_len + body.len() + data.len() > limit {
                    return Err(format!("response over the {limit}-byte buffered limit"));
                }
                body.extend_from_slice(&data);
            }
            Some(StreamEvent::End) => return Ok((head, body.freeze())),
            Some(StreamEvent::Error(error)) => {
                return Err(format!("{}: {}", error.error_type(), error.message()));
            }
            Some(StreamEvent::Truncated(reason)) => return Err(format!("truncated ({reason})")),
            Some(StreamEvent::OverBudget { budget }) => {
                return Err(format!("over budget ({budget} bytes)"));
            }
            None => return Err("truncated (function connection lost)".to_owned()),
        }
    }
}
