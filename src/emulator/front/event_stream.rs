//! The `InvokeWithResponseStream` answer: an `application/vnd.amazon.eventstream` of
//! `PayloadChunk` events as the function's bytes arrive, then `InvokeComplete` (encoded with
//! `aws-smithy-eventstream`, so any AWS SDK decodes it).

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue as EventHeaderValue, Message};
use bytes::Bytes;
use futures_util::StreamExt;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Response};
use serde_json::json;
use tokio::sync::mpsc;

use super::log_tail::{LogTail, log_result};
use crate::emulator::access_log::AccessLog;
use crate::emulator::failure::PlatformFailure;
use crate::emulator::lifecycle::client_body::ClientBody;
use crate::emulator::lifecycle::collect::Unfinished;
use crate::emulator::runtime::state::{Answer, Deadline, StreamEvent};
use crate::wire::ErrorType;

/// The error code and details of an answer that failed (`InvokeComplete.ErrorCode` and
/// `ErrorDetails`, or an `Invoke` error payload's `errorType` and `errorMessage`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Failure {
    pub(crate) code: ErrorType,
    pub(crate) details: String,
    /// The error document the runtime posted (`/error`, `/init/error`), which `Invoke` passes
    /// on as posted, as AWS does.
    pub(crate) document: Option<Bytes>,
    /// Whether `Invoke`'s error message names the request (`RequestId: <id> Error: ...`), as
    /// AWS words a runtime's exit.
    pub(crate) names_request: bool,
}

impl From<&PlatformFailure> for Failure {
    fn from(failure: &PlatformFailure) -> Self {
        let document = match failure {
            PlatformFailure::InitFailed { document, .. } => Some(document.clone()),
            _ => None,
        };
        Failure {
            code: failure.error_type(),
            details: failure.to_string(),
            document: posted(document),
            names_request: matches!(failure, PlatformFailure::RuntimeExited(_)),
        }
    }
}

/// A posted error document, if it has anything in it.
fn posted(document: Option<Bytes>) -> Option<Bytes> {
    document.filter(|document| !document.is_empty())
}

impl From<&crate::wire::FunctionError> for Failure {
    fn from(error: &crate::wire::FunctionError) -> Self {
        Failure {
            code: error.error_type().clone(),
            details: error.message().to_owned(),
            document: None,
            names_request: false,
        }
    }
}

impl Failure {
    /// An error the function reported, with the document it posted.
    pub(crate) fn reported(error: &crate::wire::FunctionError, document: Option<Bytes>) -> Self {
        Failure {
            document: posted(document),
            ..error.into()
        }
    }
}

impl From<&Unfinished> for Failure {
    fn from(unfinished: &Unfinished) -> Self {
        match unfinished {
            Unfinished::Error(error) => error.into(),
            Unfinished::Failed(failure) => failure.into(),
        }
    }
}

impl Failure {
    /// The failure a stream event other than data or a clean end stands for.
    pub(crate) fn of_event(event: &StreamEvent) -> Option<Self> {
        match event {
            StreamEvent::Error(error) => Some(error.into()),
            StreamEvent::Failed(failure) => Some(failure.into()),
            StreamEvent::Data(_) | StreamEvent::End => None,
        }
    }

    /// The access-log outcome of an answer: `ok`, or its error code and details.
    pub(crate) fn outcome(failure: Option<&Failure>) -> String {
        failure.map_or_else(|| "ok".to_owned(), |f| format!("{}: {}", f.code, f.details))
    }
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

/// The `InvokeComplete` event: `{}` on success, `ErrorCode` / `ErrorDetails` on failure, and
/// `LogResult` (the log's tail, base64) when the caller asked for it.
pub(crate) fn invoke_complete(failure: Option<&Failure>, log_result: Option<&str>) -> Bytes {
    let mut payload = match failure {
        None => json!({}),
        Some(Failure { code, details, .. }) => {
            json!({"ErrorCode": code.as_str(), "ErrorDetails": details, "LogResult": ""})
        }
    };
    if let Some(log_result) = log_result {
        payload["LogResult"] = json!(log_result);
    }
    event_message(
        "InvokeComplete",
        "application/json",
        Bytes::from(payload.to_string()),
    )
}

/// `InvokeWithResponseStream`: the answer as a live event stream.
pub(crate) fn event_stream_response(
    answer: Answer,
    deadline: Deadline,
    mut log: AccessLog,
    tail: Option<LogTail>,
) -> Response<ClientBody> {
    log.status = 200;
    let (events, first) = match answer {
        Answer::Stream { events, .. } => (Some(events), None),
        Answer::Payload { body, .. } => (None, Some(Ok(body))),
        Answer::Error(error, _) => (None, Some(Err(Failure::from(&error)))),
        Answer::Failed(failure) => (None, Some(Err(Failure::from(&failure)))),
    };
    let frames = EventFrames {
        events,
        first,
        deadline,
        log,
        tail,
        done: false,
    };
    let body = futures_util::stream::unfold(frames, EventFrames::next_frame).boxed();
    let mut response = Response::new(ClientBody::Stream(body));
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
    deadline: Deadline,
    log: AccessLog,
    /// Where the log tail comes from, when the caller asked for it.
    tail: Option<LogTail>,
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
            Some(Err(failure)) => self.complete(Some(&failure)).await,
            None => match self.events.as_mut() {
                None => self.complete(None).await,
                Some(events) => match self.deadline.next_event(events).await {
                    StreamEvent::Data(data) => {
                        self.log.data(data.len());
                        payload_chunk(data)
                    }
                    event => self.complete(Failure::of_event(&event).as_ref()).await,
                },
            },
        };
        Some((Ok(http_body::Frame::data(frame)), self))
    }

    async fn complete(&mut self, failure: Option<&Failure>) -> Bytes {
        self.done = true;
        self.log.finish(&Failure::outcome(failure));
        let log_result = log_result(self.tail.take()).await;
        invoke_complete(failure, log_result.as_deref())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_smithy_eventstream::frame::read_message_from;

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

        let failure = Failure {
            code: ErrorType::STREAM_ERROR,
            details: "db closed".to_owned(),
            document: None,
            names_request: false,
        };
        let complete = read_message_from(invoke_complete(Some(&failure), None)).unwrap();
        assert_eq!(
            header(&complete, ":event-type").as_deref(),
            Some("InvokeComplete")
        );
        let json: serde_json::Value = serde_json::from_slice(complete.payload()).unwrap();
        assert_eq!(json["ErrorCode"], "Function.StreamError");
        assert_eq!(json["ErrorDetails"], "db closed");
        let ok = read_message_from(invoke_complete(None, None)).unwrap();
        assert_eq!(&ok.payload()[..], b"{}");
        let tailed = read_message_from(invoke_complete(None, Some("U1RBUlQ="))).unwrap();
        assert_eq!(&tailed.payload()[..], br#"{"LogResult":"U1RBUlQ="}"#);
    }

    #[test]
    fn a_truncated_stream_completes_with_runtime_truncated_response() {
        let event = StreamEvent::Failed(PlatformFailure::Truncated("reset".into()));
        let failure = Failure::of_event(&event).unwrap();
        assert_eq!(failure.code.as_str(), "Runtime.TruncatedResponse");
        assert_eq!(Failure::of_event(&StreamEvent::End), None);
    }
}
