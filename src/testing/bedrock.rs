//! A stand-in for Amazon Bedrock's `ConverseStream` on `127.0.0.1:0`, for testing a relay
//! offline with the real `aws-sdk-bedrockruntime` client (`endpoint_url` pointed at it).
//!
//! It answers `POST /model/{modelId}/converse-stream` with `application/vnd.amazon.eventstream`
//! frames, as the Amazon Bedrock API Reference describes the response stream (the pages
//! "ConverseStream" and "ConverseStreamOutput", with the event types' own pages for their
//! members; the framing is AWS's event stream encoding, written here by the SDK's own
//! `aws-smithy-eventstream`): each event a
//! message with the headers `:message-type: event`, `:event-type` (`messageStart`,
//! `contentBlockDelta`, `contentBlockStop`, `messageStop`, `metadata`) and `:content-type:
//! application/json`, its JSON payload the event's members; an exception a message with
//! `:message-type: exception`, `:exception-type` (`throttlingException`...) and a payload
//! `{"message": ..}`. The script says what to send and when, and the fixture records when each
//! step went out and when the client closed the stream.

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_smithy_eventstream::frame::write_message_to;
use aws_smithy_types::event_stream::{Header, HeaderValue, Message};
use bytes::Bytes;
use http_body_util::StreamBody;
use hyper::body::Frame;
use tokio::time::Instant;

/// One step of a [`BedrockFixture`]'s answer.
#[derive(Debug, Clone)]
pub enum BedrockStep {
    /// An event: its `:event-type` and JSON payload.
    Event(&'static str, serde_json::Value),
    /// An exception: its `:exception-type` (`throttlingException`...) and message.
    Exception(&'static str, String),
    /// Nothing for this long (the model thinking).
    Pause(Duration),
    /// As the first step: the request refused with this status, `x-amzn-errortype` (such as
    /// `AccessDeniedException`) and message, before any stream.
    Refuse(u16, &'static str, String),
}

impl BedrockStep {
    /// A text delta of content block 0.
    pub fn text(text: &str) -> BedrockStep {
        let payload = serde_json::json!({ "contentBlockIndex": 0, "delta": { "text": text } });
        BedrockStep::Event("contentBlockDelta", payload)
    }

    /// The end of the message, with its stop reason (`end_turn`, `max_tokens`...).
    pub fn stop(reason: &str) -> BedrockStep {
        BedrockStep::Event("messageStop", serde_json::json!({ "stopReason": reason }))
    }

    /// The token counts.
    pub fn usage(input: u32, output: u32) -> BedrockStep {
        let usage = serde_json::json!({
            "inputTokens": input, "outputTokens": output, "totalTokens": input + output
        });
        let metrics = serde_json::json!({ "latencyMs": 10 });
        BedrockStep::Event(
            "metadata",
            serde_json::json!({ "usage": usage, "metrics": metrics }),
        )
    }

    /// The frame this step sends (`None` for a pause).
    fn frame(&self) -> Option<Bytes> {
        let header = |name: &'static str, value: &str| {
            Header::new(name, HeaderValue::String(value.to_owned().into()))
        };
        let message = match self {
            BedrockStep::Event(kind, payload) => Message::new(payload.to_string())
                .add_header(header(":message-type", "event"))
                .add_header(header(":event-type", kind)),
            BedrockStep::Exception(kind, text) => {
                Message::new(serde_json::json!({ "message": text }).to_string())
                    .add_header(header(":message-type", "exception"))
                    .add_header(header(":exception-type", kind))
            }
            BedrockStep::Pause(_) | BedrockStep::Refuse(..) => return None,
        };
        let message = message.add_header(header(":content-type", "application/json"));
        let mut frame = Vec::new();
        write_message_to(&message, &mut frame).ok()?;
        Some(frame.into())
    }
}

/// What the fixture saw: when each frame went out, and when a client closed its stream.
#[derive(Debug, Default)]
struct Seen {
    sent: Vec<Instant>,
    closed: Option<Instant>,
    requests: Vec<serde_json::Value>,
}

/// The fixture: every request gets the script's answer.
#[derive(Debug)]
pub struct BedrockFixture {
    url: String,
    seen: Arc<Mutex<Seen>>,
    closed: Arc<tokio::sync::Notify>,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for BedrockFixture {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl BedrockFixture {
    /// Answers every `ConverseStream` request with `script`, on `127.0.0.1:0`.
    pub async fn start(script: Vec<BedrockStep>) -> std::io::Result<BedrockFixture> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let url = format!("http://{}", listener.local_addr()?);
        let answer = Answer {
            script: Arc::new(script),
            seen: Arc::default(),
            closed: Arc::new(tokio::sync::Notify::new()),
        };
        let (seen, closed) = (answer.seen.clone(), answer.closed.clone());
        let server = tokio::spawn(async move {
            // Dropped with the server task when the fixture is: every connection ends with it.
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let answer = answer.clone();
                let service = hyper::service::service_fn(move |request| {
                    let answer = answer.clone();
                    async move { Ok::<_, Infallible>(answer.respond(request).await) }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                connections.spawn(
                    hyper::server::conn::http1::Builder::new().serve_connection(io, service),
                );
            }
        });
        Ok(BedrockFixture {
            url,
            seen,
            closed,
            server,
        })
    }

    /// Its URL: the client's `endpoint_url`.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// When each frame of the script went out, in order.
    pub fn sent(&self) -> Vec<Instant> {
        self.seen.lock().map(|s| s.sent.clone()).unwrap_or_default()
    }

    /// The JSON bodies of the `ConverseStream` requests it answered, in order.
    pub fn requests(&self) -> Vec<serde_json::Value> {
        self.seen
            .lock()
            .map(|s| s.requests.clone())
            .unwrap_or_default()
    }

    /// Waits until a client closes its stream while the script is still playing (a pause or a
    /// frame not yet taken): when the first such close happened, whichever request it was.
    pub async fn closed(&self) -> Instant {
        loop {
            let notified = self.closed.notified();
            if let Some(at) = self.seen.lock().ok().and_then(|s| s.closed) {
                return at;
            }
            notified.await;
        }
    }
}

/// The answer every request gets, and what the fixture records.
#[derive(Debug, Clone)]
struct Answer {
    script: Arc<Vec<BedrockStep>>,
    seen: Arc<Mutex<Seen>>,
    closed: Arc<tokio::sync::Notify>,
}

const X_AMZN_ERRORTYPE: http::HeaderName = http::HeaderName::from_static("x-amzn-errortype");

/// A response of `status` whose body is what `receiver` gets.
fn frames(
    receiver: tokio::sync::mpsc::Receiver<Result<Frame<Bytes>, Infallible>>,
    status: u16,
) -> http::Response<Frames> {
    let body = StreamBody::new(tokio_stream::wrappers::ReceiverStream::new(receiver));
    let mut response = http::Response::new(body);
    *response.status_mut() = http::StatusCode::from_u16(status).unwrap_or_default();
    response.headers_mut().insert(
        "x-amzn-requestid",
        http::HeaderValue::from_static("fixture"),
    );
    response
}

type Frames = StreamBody<tokio_stream::wrappers::ReceiverStream<Result<Frame<Bytes>, Infallible>>>;

impl Answer {
    /// The script's answer to a `ConverseStream` request (its frames, or its refusal), recorded
    /// with the request's JSON; `404` for anything else.
    async fn respond(
        &self,
        request: http::Request<hyper::body::Incoming>,
    ) -> http::Response<Frames> {
        let (sender, receiver) = tokio::sync::mpsc::channel(1);
        let converse = request.method() == http::Method::POST
            && request.uri().path().ends_with("/converse-stream");
        if !converse {
            return frames(receiver, 404);
        }
        let body = http_body_util::BodyExt::collect(request.into_body()).await;
        let json = body
            .ok()
            .and_then(|b| serde_json::from_slice(&b.to_bytes()).ok());
        if let Ok(mut seen) = self.seen.lock() {
            seen.requests.push(json.unwrap_or_default());
        }
        if let Some(BedrockStep::Refuse(status, error_type, message)) = self.script.first() {
            let body = serde_json::json!({ "message": message }).to_string();
            let _ = sender.try_send(Ok(Frame::data(Bytes::from(body))));
            let mut response = frames(receiver, *status);
            let value = http::HeaderValue::from_str(error_type);
            response
                .headers_mut()
                .extend(value.ok().map(|v| (X_AMZN_ERRORTYPE, v)));
            return response;
        }
        tokio::spawn(self.clone().play(sender));
        let mut response = frames(receiver, 200);
        response.headers_mut().insert(
            http::header::CONTENT_TYPE,
            http::HeaderValue::from_static("application/vnd.amazon.eventstream"),
        );
        response
    }

    /// Sends the script's frames in order, pausing where it says; stops when the client closes.
    async fn play(self, frames: tokio::sync::mpsc::Sender<Result<Frame<Bytes>, Infallible>>) {
        for step in self.script.iter() {
            let (gone, sent) = match (step, step.frame()) {
                (BedrockStep::Pause(pause), _) => tokio::select! {
                    () = tokio::time::sleep(*pause) => (false, false),
                    () = frames.closed() => (true, false),
                },
                (_, Some(frame)) => (frames.send(Ok(Frame::data(frame))).await.is_err(), true),
                (_, None) => (false, false),
            };
            if gone {
                return self.record_close();
            }
            if let Ok(mut seen) = self.seen.lock() {
                seen.sent.extend(sent.then(Instant::now));
            }
        }
        // The whole script went out: dropping `frames` ends the answer.
    }

    fn record_close(&self) {
        if let Ok(mut seen) = self.seen.lock() {
            seen.closed.get_or_insert_with(Instant::now);
        }
        self.closed.notify_waiters();
    }
}
