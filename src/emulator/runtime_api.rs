//! The Runtime API the function talks to: `/next`, `/response` (buffered or streamed),
//! `/error`, `/init/error`.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use bytes::{Bytes, BytesMut};
use futures_util::FutureExt;
use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use tokio::sync::{mpsc, oneshot};

use super::state::{Answer, InFlight, State, StreamEvent};
use crate::wire::{ERROR_TYPE_TRAILER, ErrorType, FunctionError, PreludeDecoder, ResponseHead};

/// Body events buffered between the function and a slow client before the function is held
/// back (TCP backpressure, as on Lambda).
const RELAY_CAPACITY: usize = 8;

pub(crate) type RuntimeResponse = Response<Full<Bytes>>;

fn json(status: StatusCode, body: String) -> RuntimeResponse {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

fn accepted() -> RuntimeResponse {
    json(StatusCode::ACCEPTED, r#"{"status":"OK"}"#.to_owned())
}

fn runtime_error(status: StatusCode, error_type: &str, message: &str) -> RuntimeResponse {
    let body = serde_json::json!({"errorMessage": message, "errorType": error_type});
    json(status, body.to_string())
}

pub(crate) async fn handle(
    state: Arc<State>,
    instance: usize,
    request: Request<Incoming>,
) -> Result<RuntimeResponse, Infallible> {
    let path = request.uri().path().to_owned();
    let route = path
        .split_once("/2018-06-01")
        .map(|(_, route)| route)
        .unwrap_or_default();
    let method = request.method().clone();
    let response = match (method.as_str(), route) {
        ("GET", "/runtime/invocation/next") => next(&state, instance).await,
        ("POST", "/runtime/init/error") => {
            let error = read_error(request).await;
            tracing::error!(error_type = %error.error_type(), message = error.message(), "function init failed");
            eprintln!("lambda-stream: function init failed: {error}");
            accepted()
        }
        ("POST", route) => match route
            .strip_prefix("/runtime/invocation/")
            .and_then(|rest| rest.split_once('/'))
        {
            Some((id, "response")) => response(&state, id, request).await,
            Some((id, "error")) => {
                let id = id.to_owned();
                let error = read_error(request).await;
                deliver(&state, &id, Answer::Error(error))
            }
            _ => not_found(&path),
        },
        _ => not_found(&path),
    };
    Ok(response)
}

fn not_found(path: &str) -> RuntimeResponse {
    runtime_error(
        StatusCode::NOT_FOUND,
        "InvalidRoute",
        &format!("no Runtime API route {path}"),
    )
}

async fn next(state: &State, instance: usize) -> RuntimeResponse {
    let Some((request_id, event, deadline)) = state.next(instance).await else {
        return runtime_error(
            StatusCode::SERVICE_UNAVAILABLE,
            "ShuttingDown",
            "emulator stopped",
        );
    };
    let deadline_ms = deadline
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let config = &state.config;
    let arn = format!(
        "arn:aws:lambda:{}:123456789012:function:{}",
        config.region(),
        config.function_name()
    );
    let trace = format!(
        "Root=1-{:08x}-{};Sampled=0",
        deadline_ms / 1000,
        request_id.replace('-', "").get(..24).unwrap_or_default()
    );
    let mut response = Response::new(Full::new(event));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    for (name, value) in [
        ("lambda-runtime-aws-request-id", request_id),
        ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
        ("lambda-runtime-invoked-function-arn", arn),
        ("lambda-runtime-trace-id", trace),
    ] {
        if let Ok(value) = HeaderValue::try_from(value) {
            headers.insert(name, value);
        }
    }
    response
}

fn deliver(state: &State, request_id: &str, answer: Answer) -> RuntimeResponse {
    match state.take(request_id) {
        Some(in_flight) => {
            let _ = in_flight.reply.send(answer);
            accepted()
        }
        None => unknown_request(request_id),
    }
}

fn unknown_request(request_id: &str) -> RuntimeResponse {
    runtime_error(
        StatusCode::BAD_REQUEST,
        "InvalidRequestID",
        &format!("invocation {request_id} is not in flight (already answered, or timed out)"),
    )
}

/// Reads an `/error` or `/init/error` request (body up to 1 MiB).
async fn read_error(request: Request<Incoming>) -> FunctionError {
    let type_header = request.headers().get(ERROR_TYPE_TRAILER).cloned();
    let body = Limited::new(request.into_body(), 1024 * 1024)
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    FunctionError::from_error_request(type_header.as_ref(), &body)
}

fn is_streaming(headers: &HeaderMap) -> bool {
    headers
        .get("lambda-runtime-function-response-mode")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"streaming"))
}

async fn response(state: &State, request_id: &str, request: Request<Incoming>) -> RuntimeResponse {
    let Some(in_flight) = state.take(request_id) else {
        return unknown_request(request_id);
    };
    let deadline = in_flight.deadline_instant();
    // The concurrency slot is held until the answer has been read.
    let InFlight {
        reply,
        permit: _slot,
        ..
    } = in_flight;
    if is_streaming(request.headers()) {
        return relay_stream(state, reply, request.into_body(), deadline).await;
    }
    let content_type = request.headers().get(CONTENT_TYPE).cloned();
    let limit = state.config.buffered_limit();
    match Limited::new(request.into_body(), limit).collect().await {
        Ok(collected) => {
            let body = collected.to_bytes();
            let _ = reply.send(Answer::Payload { content_type, body });
            accepted()
        }
        Err(error) => {
            let message = if error.is::<http_body_util::LengthLimitError>() {
                format!("response payload over the {limit}-byte limit")
            } else {
                format!("response body could not be read: {error}")
            };
            let _ = reply.send(Answer::Failed(message.clone()));
            runtime_error(
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLarge",
                &message,
            )
        }
    }
}

/// Small chunks already received are relayed as one: each relayed event costs a task wake-up
/// and a client write, which dominate below a few KiB. Only frames that are ready now are
/// taken (nothing waits), never past `room` bytes (the budget), so what the client sees and
/// when is unchanged.
const RELAY_BATCH: usize = 16 * 1024;

fn batch_ready(
    body: &mut Incoming,
    first: Bytes,
    room: u64,
    read_ahead: &mut Option<Option<Result<http_body::Frame<Bytes>, hyper::Error>>>,
) -> Bytes {
    if first.len() >= RELAY_BATCH {
        return first;
    }
    let mut batch = BytesMut::from(&first[..]);
    while batch.len() < RELAY_BATCH {
        let Some(next) = body.frame().now_or_never() else {
            break;
        };
        match next {
            Some(Ok(frame)) if frame.is_data() => {
                let data = frame.into_data().unwrap_or_default();
                if (batch.len() + data.len()) as u64 > room {
                    *read_ahead = Some(Some(Ok(http_body::Frame::data(data))));
                    break;
                }
                batch.extend_from_slice(&data);
            }
            other => {
                *read_ahead = Some(other);
                break;
            }
        }
    }
    batch.freeze()
}

/// Reads a streamed response: scans for the prelude, hands the head to the Function URL front,
/// then relays each body chunk as it arrives, counting wire bytes against the budget.
async fn relay_stream(
    state: &State,
    reply: oneshot::Sender<Answer>,
    mut body: Incoming,
    deadline: tokio::time::Instant,
) -> RuntimeResponse {
    let budget = state.config.stream_budget();
    let mut wire_bytes: u64 = 0;
    let mut decoder = PreludeDecoder::new();
    let mut buf = BytesMut::new();
    let timed_out = || {
        runtime_error(
            StatusCode::GONE,
            "Function.Timeout",
            "the invocation reached its deadline; the response was cut off",
        )
    };
    let head: ResponseHead = loop {
        let Ok(frame) = tokio::time::timeout_at(deadline, body.frame()).await else {
            let _ = reply.send(Answer::Failed("timeout".to_owned()));
            return timed_out();
        };
        match frame {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => {
                    wire_bytes += data.len() as u64;
                    buf.extend_from_slice(&data);
                    match decoder.decode(&mut buf) {
                        Ok(Some(head)) => break head,
                        Ok(None) => {}
                        Err(error) => {
                            let message = format!("invalid streamed response prelude: {error}");
                            let _ = reply.send(Answer::Failed(message.clone()));
                            return runtime_error(
                                StatusCode::BAD_REQUEST,
                                "InvalidPrelude",
                                &message,
                            );
                        }
                    }
                }
                Err(frame) => {
                    // Trailers before the prelude ended: an error with nothing sent.
                    let error = frame
                        .trailers_ref()
                        .and_then(FunctionError::from_trailers)
                        .unwrap_or_else(|| {
                            FunctionError::new(
                                ErrorType::UNKNOWN,
                                "stream ended before its prelude",
                            )
                        });
                    let _ = reply.send(Answer::Error(error));
                    return accepted();
                }
            },
            None => {
                let _ = reply.send(Answer::Failed(
                    "streamed response ended before its prelude".to_owned(),
                ));
                return accepted();
            }
            Some(Err(error)) => {
                let _ = reply.send(Answer::Failed(format!(
                    "streamed response truncated before its prelude: {error}"
                )));
                return accepted();
            }
        }
    };
    let prelude_len = usize::try_from(wire_bytes).unwrap_or(usize::MAX) - buf.len();
    let (events, receiver) = mpsc::channel(RELAY_CAPACITY);
    let _ = reply.send(Answer::Stream {
        head,
        prelude_len,
        events: receiver,
    });
    // AWS does not propagate a client disconnect: if the client is gone, keep draining.
    if !buf.is_empty() {
        let _ = events.send(StreamEvent::Data(buf.freeze())).await;
    }
    let mut client_gone = false;
    // A frame read ahead while batching, handled before reading another.
    let mut read_ahead = None;
    loop {
        let frame = tokio::select! {
            frame = async {
                match read_ahead.take() {
                    Some(frame) => Ok(frame),
                    None => tokio::time::timeout_at(deadline, body.frame()).await,
                }
            } => frame,
            () = events.closed(), if !client_gone => {
                client_gone = true;
                if state.config.cancel_on_disconnect() {
                    tracing::info!("client disconnected: the invocation is cancelled");
                    return runtime_error(
                        StatusCode::GONE,
                        "Client.Disconnected",
                        "the client disconnected and cancel-on-disconnect is on",
                    );
                }
                tracing::info!("client disconnected: the function runs on, as on AWS; its output is drained");
                continue;
            }
        };
        let Ok(frame) = frame else {
            let _ = events
                .send(StreamEvent::Truncated("timeout".to_owned()))
                .await;
            return timed_out();
        };
        match frame {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => {
                    let data = batch_ready(
                        &mut body,
                        data,
                        budget - wire_bytes.min(budget),
                        &mut read_ahead,
                    );
                    wire_bytes += data.len() as u64;
                    if wire_bytes > budget {
                        let _ = events.send(StreamEvent::OverBudget { budget }).await;
                        return runtime_error(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "Function.ResponseSizeTooLarge",
                            &format!("streamed response over the {budget}-byte budget"),
                        );
                    }
                    let _ = events.send(StreamEvent::Data(data)).await;
                }
                Err(frame) => {
                    let error = frame.trailers_ref().and_then(FunctionError::from_trailers);
                    let event = error.map_or(StreamEvent::End, StreamEvent::Error);
                    let _ = events.send(event).await;
                }
            },
            None => {
                // `End` after an `Error` event is ignored by the reader.
                let _ = events.send(StreamEvent::End).await;
                return accepted();
            }
            Some(Err(error)) => {
                let _ = events.send(StreamEvent::Truncated(error.to_string())).await;
                return accepted();
            }
        }
    }
}
