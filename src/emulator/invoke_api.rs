//! The Lambda API's invoke routes, served on the Function URL's port:
//! `POST /2015-03-31/functions/{name}/invocations` (`Invoke`: `RequestResponse`, `Event`,
//! `DryRun`) and `.../response-streaming-invocations` (`InvokeWithResponseStream`: a live AWS
//! event stream of `PayloadChunk` events, then `InvokeComplete`).

use std::sync::Arc;
use std::time::SystemTime;

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue as EventHeaderValue, Message};
use bytes::{Bytes, BytesMut};
use futures_util::StreamExt;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request, Response, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use serde_json::json;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::access_log::AccessLog;
use super::function_url::{plain, with_request_id};
use super::state::{Answer, Invocation, State, StreamEvent};
use super::url_body::UrlBody;

/// AWS's limit on an asynchronous (`Event`) invocation's payload: 1 MB (PROTOCOL.md §5).
pub const ASYNC_PAYLOAD_LIMIT: usize = 1024 * 1024;

const PREFIX: &str = "/2015-03-31/functions/";

/// Which invoke route a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InvokeRoute {
    Invoke,
    InvokeWithResponseStream,
}

/// The function name and route of an invoke path, or `None` for any other path.
pub(crate) fn route(path: &str) -> Option<(&str, InvokeRoute)> {
    let (name, action) = path.strip_prefix(PREFIX)?.split_once('/')?;
    let route = match action {
        "invocations" => InvokeRoute::Invoke,
        "response-streaming-invocations" => InvokeRoute::InvokeWithResponseStream,
        _ => return None,
    };
    Some((name, route))
}

/// Whether `name` (a name, a partial or full ARN, with an optional qualifier) names `function`.
fn names_function(name: &str, function: &str) -> bool {
    let name = percent_decode(name);
    let unqualified = |text: &str| -> String {
        let parts: Vec<&str> = text.split(':').collect();
        match parts.as_slice() {
            [name] | [name, _] => (*name).to_owned(),
            [.., "function", name] | [.., "function", name, _] => (*name).to_owned(),
            _ => String::new(),
        }
    };
    unqualified(&name) == function
}

fn percent_decode(text: &str) -> String {
    form_urlencoded::parse(format!("n={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

/// An API error the way the Lambda API reports it.
fn api_error(
    log: AccessLog,
    status: StatusCode,
    error_type: &'static str,
    message: &str,
) -> Response<UrlBody> {
    let body = json!({"Type": "User", "message": message}).to_string();
    let mut response = plain(log, status, "application/json", &body, error_type);
    response
        .headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(error_type));
    response
}

pub(crate) async fn handle(
    state: &Arc<State>,
    request: Request<Incoming>,
    name: &str,
    route: InvokeRoute,
) -> Response<UrlBody> {
    let config = &state.config;
    let mut log = AccessLog::new(request.method(), request.uri().path(), config.access_log());
    let request_id = uuid::Uuid::new_v4().to_string();
    log.request_id = request_id.clone();
    if !names_function(name, config.function_name()) {
        let message = format!(
            "Function not found: arn:aws:lambda:{}:123456789012:function:{name}",
            config.region()
        );
        return api_error(
            log,
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &message,
        );
    }
    let invocation_type = request
        .headers()
        .get("x-amz-invocation-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("RequestResponse")
        .to_owned();
    let asynchronous = match (route, invocation_type.as_str()) {
        (_, "RequestResponse") => false,
        (InvokeRoute::Invoke, "Event") => true,
        (InvokeRoute::Invoke, "DryRun") => {
            log.status = 204;
            log.finish("dry run");
            let mut response = Response::new(UrlBody::Full(None, None));
            *response.status_mut() = StatusCode::NO_CONTENT;
            return response;
        }
        (_, other) => {
            let message = format!("invalid X-Amz-Invocation-Type {other:?}");
            return api_error(
                log,
                StatusCode::BAD_REQUEST,
                "InvalidParameterValueException",
                &message,
            );
        }
    };
    let limit = if asynchronous {
        ASYNC_PAYLOAD_LIMIT
    } else {
        config.request_limit()
    };
    let event = match Limited::new(request.into_body(), limit).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<LengthLimitError>() => {
            let message =
                format!("Request must be smaller than {limit} bytes for the Invoke operation");
            return api_error(
                log,
                StatusCode::PAYLOAD_TOO_LARGE,
                "RequestEntityTooLargeException",
                &message,
            );
        }
        Err(_) => {
            return api_error(
                log,
                StatusCode::BAD_REQUEST,
                "InvalidRequestContentException",
                "the request body could not be read",
            );
        }
    };
    let Some(permit) = state.try_start() else {
        return api_error(
            log,
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequestsException",
            "Rate Exceeded.",
        );
    };
    let now = SystemTime::now();
    let deadline = Instant::now() + config.timeout();
    let (reply, answer) = oneshot::channel();
    state.enqueue(Invocation {
        request_id: request_id.clone(),
        event,
        deadline: now + config.timeout(),
        reply,
        permit,
    });
    if asynchronous {
        // The caller does not wait; the answer is read (so a stream is not held back) and logged.
        tokio::spawn(async move {
            let outcome = match tokio::time::timeout_at(deadline, answer).await {
                Ok(Ok(answer)) => collect(answer, usize::MAX, deadline).await.err(),
                _ => Some((
                    "Sandbox.Timedout".to_owned(),
                    "no answer in time".to_owned(),
                )),
            };
            log.status = 202;
            log.finish(&outcome_text(outcome.as_ref()));
        });
        let mut response = Response::new(UrlBody::Full(None, None));
        *response.status_mut() = StatusCode::ACCEPTED;
        return with_ids(response, &request_id);
    }
    let answer = match tokio::time::timeout_at(deadline, answer).await {
        Ok(Ok(answer)) => answer,
        Ok(Err(_)) => Answer::Failed("the function stopped before answering".to_owned()),
        Err(_) => {
            let _ = state.take(&request_id);
            Answer::Failed(format!(
                "Task timed out after {:.2} seconds",
                config.timeout().as_secs_f64()
            ))
        }
    };
    let response = match route {
        InvokeRoute::Invoke => {
            invoke_response(answer, config.buffered_limit(), deadline, log).await
        }
        InvokeRoute::InvokeWithResponseStream => event_stream_response(answer, deadline, log),
    };
    with_ids(response, &request_id)
}

fn with_ids(response: Response<UrlBody>, request_id: &str) -> Response<UrlBody> {
    let mut response = with_request_id(response, request_id);
    response.headers_mut().insert(
        "x-amz-executed-version",
        HeaderValue::from_static("$LATEST"),
    );
    response
}

/// The error code and details of an answer that failed.
type Failure = (String, String);

/// An answer as one payload (a stream is collected within `limit` bytes), or its failure.
async fn collect(answer: Answer, limit: usize, deadline: Instant) -> Result<Bytes, Failure> {
    match answer {
        Answer::Payload { body, .. } => Ok(body),
        Answer::Error(error) => Err((error.error_type().to_string(), error.message().to_owned())),
        Answer::Failed(reason) => Err(failure_code(&reason)),
        Answer::Stream { mut events, .. } => {
            let mut body = BytesMut::new();
            loop {
                let event = tokio::time::timeout_at(deadline, events.recv()).await;
                match event {
                    Ok(Some(StreamEvent::Data(data))) if body.len() + data.len() <= limit => {
                        body.extend_from_slice(&data);
                    }
                    Ok(Some(StreamEvent::Data(_))) => {
                        let details = format!("response over the {limit}-byte limit");
                        return Err(("Function.ResponseSizeTooLarge".to_owned(), details));
                    }
                    Ok(Some(StreamEvent::End)) => return Ok(body.freeze()),
                    Ok(Some(other)) => return Err(stream_failure(other)),
                    Ok(None) => return Err(failure_code("function connection lost")),
                    Err(_) => return Err(timed_out()),
                }
            }
        }
    }
}

/// The access-log outcome of an answer: `ok`, or its error code and details.
fn outcome_text(failure: Option<&Failure>) -> String {
    failure.map_or_else(|| "ok".to_owned(), |(code, m)| format!("{code}: {m}"))
}

fn timed_out() -> Failure {
    ("Sandbox.Timedout".to_owned(), "Task timed out".to_owned())
}

fn failure_code(reason: &str) -> Failure {
    if reason.starts_with("Task timed out") {
        return ("Sandbox.Timedout".to_owned(), reason.to_owned());
    }
    ("Runtime.Unknown".to_owned(), reason.to_owned())
}

fn stream_failure(event: StreamEvent) -> Failure {
    match event {
        StreamEvent::Error(error) => (error.error_type().to_string(), error.message().to_owned()),
        StreamEvent::OverBudget { budget } => (
            "Function.ResponseSizeTooLarge".to_owned(),
            format!("streamed response over the {budget}-byte budget"),
        ),
        StreamEvent::Truncated(reason) => failure_code(&format!("stream truncated ({reason})")),
        StreamEvent::Data(_) | StreamEvent::End => failure_code("unexpected stream event"),
    }
}

/// `Invoke` `RequestResponse`: 200 with the payload, or 200 with `X-Amz-Function-Error`.
async fn invoke_response(
    answer: Answer,
    limit: usize,
    deadline: Instant,
    mut log: AccessLog,
) -> Response<UrlBody> {
    let (body, function_error) = match collect(answer, limit, deadline).await {
        Ok(body) => (body, false),
        Err((code, details)) => {
            let body = json!({"errorMessage": details, "errorType": code}).to_string();
            (Bytes::from(body), true)
        }
    };
    log.status = 200;
    let outcome = if function_error {
        "function error"
    } else {
        "ok"
    };
    log.data(body.len());
    log.finish(outcome);
    let mut response = Response::new(UrlBody::Full(Some(body), None));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if function_error {
        headers.insert(
            "x-amz-function-error",
            HeaderValue::from_static("Unhandled"),
        );
    }
    response
}

/// One event-stream message with the standard event headers.
fn event_message(event_type: &'static str, content_type: &'static str, payload: Bytes) -> Bytes {
    let message = Message::new(payload)
        .add_header(Header::new(
            ":event-type",
            EventHeaderValue::String(event_type.into()),
        ))
        .add_header(Header::new(
            ":message-type",
            EventHeaderValue::String("event".into()),
        ))
        .add_header(Header::new(
            ":content-type",
            EventHeaderValue::String(content_type.into()),
        ));
    let mut buffer = Vec::new();
    // Writing to a Vec fails only for headers or payloads over the format's limits, which
    // these are not (chunks come from a bounded relay).
    if let Err(error) = write_message_to(&message, &mut buffer) {
        tracing::error!(%error, "could not encode an event-stream message");
    }
    Bytes::from(buffer)
}

/// A `PayloadChunk` event carrying `data`.
pub(crate) fn payload_chunk(data: Bytes) -> Bytes {
    event_message("PayloadChunk", "application/octet-stream", data)
}

/// The `InvokeComplete` event: `{}` on success, `ErrorCode` / `ErrorDetails` on failure.
pub(crate) fn invoke_complete(failure: Option<&Failure>) -> Bytes {
    let payload = match failure {
        None => json!({}),
        Some((code, details)) => {
            json!({"ErrorCode": code, "ErrorDetails": details, "LogResult": ""})
        }
    };
    event_message(
        "InvokeComplete",
        "application/json",
        Bytes::from(payload.to_string()),
    )
}

/// `InvokeWithResponseStream`: the answer as a live event stream.
fn event_stream_response(
    answer: Answer,
    deadline: Instant,
    mut log: AccessLog,
) -> Response<UrlBody> {
    log.status = 200;
    let (events, first) = match answer {
        Answer::Stream { events, .. } => (Some(events), None),
        Answer::Payload { body, .. } => (None, Some(Ok(body))),
        Answer::Error(error) => (
            None,
            Some(Err((
                error.error_type().to_string(),
                error.message().to_owned(),
            ))),
        ),
        Answer::Failed(reason) => (None, Some(Err(failure_code(&reason)))),
    };
    let frames = EventFrames {
        events,
        first,
        deadline,
        log,
        done: false,
    };
    let body = futures_util::stream::unfold(frames, EventFrames::next_frame).boxed();
    let mut response = Response::new(UrlBody::Stream(body));
    response.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("application/vnd.amazon.eventstream"),
    );
    response
}

/// The state of an event-stream body.
struct EventFrames {
    events: Option<mpsc::Receiver<StreamEvent>>,
    /// A buffered answer or an early failure, sent before `InvokeComplete`.
    first: Option<Result<Bytes, Failure>>,
    deadline: Instant,
    log: AccessLog,
    done: bool,
}

impl EventFrames {
    async fn next_frame(
        mut self,
    ) -> Option<(Result<http_body::Frame<Bytes>, std::io::Error>, Self)> {
        if self.done {
            return None;
        }
        let frame = match self.first.take() {
            Some(Ok(body)) => {
                self.log.data(body.len());
                payload_chunk(body)
            }
            Some(Err(failure)) => self.complete(Some(&failure)),
            None => match self.events.as_mut() {
                None => self.complete(None),
                Some(events) => match tokio::time::timeout_at(self.deadline, events.recv()).await {
                    Ok(Some(StreamEvent::Data(data))) => {
                        self.log.data(data.len());
                        payload_chunk(data)
                    }
                    Ok(Some(StreamEvent::End)) => self.complete(None),
                    Ok(Some(other)) => self.complete(Some(&stream_failure(other))),
                    Ok(None) => self.complete(Some(&failure_code("function connection lost"))),
                    Err(_) => self.complete(Some(&timed_out())),
                },
            },
        };
        Some((Ok(http_body::Frame::data(frame)), self))
    }

    fn complete(&mut self, failure: Option<&Failure>) -> Bytes {
        self.done = true;
        self.log.finish(&outcome_text(failure));
        invoke_complete(failure)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_eventstream::frame::read_message_from;

    #[test]
    fn routes_and_names() {
        assert_eq!(
            route("/2015-03-31/functions/f/invocations"),
            Some(("f", InvokeRoute::Invoke))
        );
        assert_eq!(
            route("/2015-03-31/functions/f/response-streaming-invocations"),
            Some(("f", InvokeRoute::InvokeWithResponseStream))
        );
        assert_eq!(route("/2015-03-31/functions/f/other"), None);
        assert_eq!(route("/somewhere"), None);
        for name in [
            "f",
            "f:$LATEST",
            "123456789012:function:f",
            "arn:aws:lambda:us-east-1:123456789012:function:f",
            "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af%3Aprod",
        ] {
            assert!(names_function(name, "f"), "{name}");
        }
        assert!(!names_function("g", "f"));
        assert!(!names_function("arn:aws:lambda:us-east-1:1:layer:f", "f"));
    }

    #[test]
    fn event_stream_messages_decode_with_the_aws_decoder() {
        let chunk = read_message_from(payload_chunk(Bytes::from("abc"))).unwrap();
        assert_eq!(&chunk.payload()[..], b"abc");
        let header = |message: &Message, name: &str| {
            message
                .headers()
                .iter()
                .find(|h| h.name().as_str() == name)
                .and_then(|h| h.value().as_string().ok())
                .map(|s| s.as_str().to_owned())
        };
        assert_eq!(
            header(&chunk, ":event-type").as_deref(),
            Some("PayloadChunk")
        );
        assert_eq!(header(&chunk, ":message-type").as_deref(), Some("event"));

        let failure = ("Function.StreamError".to_owned(), "db closed".to_owned());
        let complete = read_message_from(invoke_complete(Some(&failure))).unwrap();
        assert_eq!(
            header(&complete, ":event-type").as_deref(),
            Some("InvokeComplete")
        );
        let json: serde_json::Value = serde_json::from_slice(complete.payload()).unwrap();
        assert_eq!(json["ErrorCode"], "Function.StreamError");
        assert_eq!(json["ErrorDetails"], "db closed");
        let ok = read_message_from(invoke_complete(None)).unwrap();
        assert_eq!(&ok.payload()[..], b"{}");
    }
}
