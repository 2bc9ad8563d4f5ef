//! Server-sent events (`text/event-stream`): typed events, keep-alive comments, and a helper
//! that turns a stream of text tokens into events.
//!
//! ```
//! use std::time::Duration;
//! use lambda_stream::sse::{Event, KeepAlive, Sse};
//!
//! let tokens = futures_util::stream::iter(["Hel", "lo", "!"]);
//! let response = Sse::new(lambda_stream::sse::token_events(tokens))
//!     .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
//!     .into_response();
//! assert_eq!(response.headers()["content-type"], "text/event-stream");
//! ```

use std::fmt::Write as _;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{Stream, StreamExt, TryStreamExt};
use http::HeaderValue;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use tokio::time::Sleep;

use crate::aliases::BoxError;
use crate::body::Body;
use crate::body::Response;

/// A field value that would break the event framing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("SSE {field} must be one line without NUL: {value:?}")]
pub struct InvalidField {
    /// `event` or `id`.
    pub field: &'static str,
    /// The rejected value.
    pub value: String,
}

/// One server-sent event.
///
/// ```
/// use std::time::Duration;
/// use lambda_stream::sse::Event;
/// let event = Event::default()
///     .event("token")?
///     .id("7")?
///     .retry(Duration::from_secs(3))
///     .data("line one\nline two");
/// assert_eq!(
///     &event.encode()[..],
///     b"event: token\nid: 7\nretry: 3000\ndata: line one\ndata: line two\n\n"
/// );
/// # Ok::<(), lambda_stream::sse::InvalidField>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct Event {
    comment: Option<String>,
    event: Option<String>,
    id: Option<String>,
    retry: Option<Duration>,
    data: Option<String>,
}

fn single_line(field: &'static str, value: String) -> Result<String, InvalidField> {
    if value.contains(['\r', '\n', '\0']) {
        Err(InvalidField { field, value })
    } else {
        Ok(value)
    }
}

impl Event {
    /// The data; each line (split at `\r\n`, `\r` or `\n`) becomes a `data:` line, so clients
    /// get the text back joined with `\n`.
    pub fn data(mut self, data: impl Into<String>) -> Self {
        self.data = Some(data.into());
        self
    }

    /// JSON data.
    ///
    /// # Errors
    /// When `value` does not serialize.
    pub fn json_data(self, value: &impl serde::Serialize) -> Result<Self, serde_json::Error> {
        Ok(self.data(serde_json::to_string(value)?))
    }

    /// The event type (`event:`).
    ///
    /// # Errors
    /// [`InvalidField`] when it contains CR, LF or NUL.
    pub fn event(mut self, name: impl Into<String>) -> Result<Self, InvalidField> {
        self.event = Some(single_line("event", name.into())?);
        Ok(self)
    }

    /// The event id (`id:`), which clients send back as `Last-Event-ID` when they reconnect.
    ///
    /// # Errors
    /// [`InvalidField`] when it contains CR, LF or NUL.
    pub fn id(mut self, id: impl Into<String>) -> Result<Self, InvalidField> {
        self.id = Some(single_line("id", id.into())?);
        Ok(self)
    }

    /// The reconnection time the client should use (`retry:`, in milliseconds).
    pub fn retry(mut self, retry: Duration) -> Self {
        self.retry = Some(retry);
        self
    }

    /// A comment (`: text`), ignored by clients; multi-line text becomes several comments.
    pub fn comment(mut self, text: impl Into<String>) -> Self {
        self.comment = Some(text.into());
        self
    }

    /// The event's bytes, ending with the blank line that dispatches it.
    pub fn encode(&self) -> Bytes {
        let mut out = String::new();
        if let Some(comment) = &self.comment {
            for line in split_lines(comment) {
                let _ = writeln!(out, ": {line}");
            }
        }
        if let Some(event) = &self.event {
            let _ = writeln!(out, "event: {event}");
        }
        if let Some(id) = &self.id {
            let _ = writeln!(out, "id: {id}");
        }
        if let Some(retry) = self.retry {
            let _ = writeln!(out, "retry: {}", retry.as_millis());
        }
        if let Some(data) = &self.data {
            for line in split_lines(data) {
                let _ = writeln!(out, "data: {line}");
            }
        }
        out.push('\n');
        Bytes::from(out)
    }
}

/// Splits at `\r\n`, `\r` and `\n`, as the SSE parser does; an empty text is one empty line.
fn split_lines(text: &str) -> impl Iterator<Item = &str> {
    text.split("\r\n").flat_map(|l| l.split(['\r', '\n']))
}

/// Keep-alive comments sent when no event was sent for `interval`, so proxies with idle
/// timeouts (API Gateway: 30 s at the edge, 5 min regional) keep the stream open.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct KeepAlive {
    interval: Duration,
    comment: Bytes,
}

impl Default for KeepAlive {
    fn default() -> Self {
        Self::new()
    }
}

impl KeepAlive {
    /// Every 15 s, an empty comment (`:\n\n`).
    pub fn new() -> Self {
        KeepAlive {
            interval: Duration::from_secs(15),
            comment: Bytes::from_static(b":\n\n"),
        }
    }

    /// How long the stream may stay silent (at least 1 ms).
    pub fn interval(mut self, interval: Duration) -> Self {
        self.interval = interval.max(Duration::from_millis(1));
        self
    }

    /// The comment text sent.
    pub fn text(mut self, text: &str) -> Self {
        self.comment = Event::default().comment(text).encode();
        self
    }
}

/// Makes the event that announces an error to the page (see [`Sse::error_event`]).
type MakeErrorEvent = Box<dyn Fn(&BoxError) -> Event + Send + Sync>;

/// An SSE response: a stream of events, optionally with keep-alive comments.
#[must_use]
pub struct Sse<S> {
    events: S,
    keep_alive: Option<KeepAlive>,
    error_event: Option<MakeErrorEvent>,
}

impl<S, E> Sse<S>
where
    S: Stream<Item = Result<Event, E>> + Send + 'static,
    E: Into<BoxError> + 'static,
{
    /// Events from `events`; an `Err` ends the stream with an error trailer.
    pub fn new(events: S) -> Self {
        Sse {
            events,
            keep_alive: None,
            error_event: None,
        }
    }

    /// Sends the event `make` returns for an error before the error ends the stream (with
    /// its trailer, as always). Browsers never see trailers, so a page learns why its stream
    /// ended from this event (`EventSource` dispatches it by its name). An error before any
    /// event then reaches the page too: the response is a `200` that starts with this event.
    ///
    /// ```
    /// use lambda_stream::sse::{Event, Sse};
    /// # fn events() -> impl futures_util::Stream<Item = Result<Event, std::io::Error>> + Send + 'static {
    /// #     futures_util::stream::empty()
    /// # }
    /// let response = Sse::new(events())
    ///     .error_event(|error| Event::default().data(error.to_string()).event("error").unwrap())
    ///     .into_response();
    /// # drop(response);
    /// ```
    pub fn error_event<F>(mut self, make: F) -> Self
    where
        F: Fn(&BoxError) -> Event + Send + Sync + 'static,
    {
        self.error_event = Some(Box::new(make));
        self
    }

    /// Sends keep-alive comments while the stream is idle.
    pub fn keep_alive(mut self, keep_alive: KeepAlive) -> Self {
        self.keep_alive = Some(keep_alive);
        self
    }

    /// The body: one chunk per event (each event is a whole record for the budget).
    pub fn into_body(self) -> Body {
        let mut encoded: EncodedEvents = self
            .events
            .map_ok(|event| event.encode())
            .map_err(Into::into)
            .boxed();
        if let Some(make) = self.error_event {
            encoded = AnnouncedErrors {
                inner: encoded,
                make,
                failed: None,
                ended: false,
            }
            .boxed();
        }
        match self.keep_alive {
            Some(keep_alive) => Body::from_stream(KeepAliveStream {
                inner: encoded,
                timer: None,
                keep_alive,
            }),
            None => Body::from_stream(encoded),
        }
    }

    /// A `200` response with `content-type: text/event-stream` and `cache-control: no-cache`.
    pub fn into_response(self) -> Response {
        let mut response = http::Response::new(self.into_body());
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("text/event-stream"));
        headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
        response
    }
}

/// Each text token as the data of one event: the usual shape of LLM token streams.
pub fn token_events<S, T>(tokens: S) -> impl Stream<Item = Result<Event, std::convert::Infallible>>
where
    S: Stream<Item = T>,
    T: Into<String>,
{
    tokens.map(|token| Ok(Event::default().data(token)))
}

type EncodedEvents = futures_util::stream::BoxStream<'static, Result<Bytes, BoxError>>;

/// Events, with an event announcing an error sent before the error.
struct AnnouncedErrors {
    inner: EncodedEvents,
    make: MakeErrorEvent,
    /// The error announced, returned by the next poll.
    failed: Option<BoxError>,
    /// The error went out: nothing follows it.
    ended: bool,
}

impl Stream for AnnouncedErrors {
    type Item = Result<Bytes, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if let Some(error) = this.failed.take() {
            this.ended = true;
            return Poll::Ready(Some(Err(error)));
        }
        if this.ended {
            return Poll::Ready(None);
        }
        match std::task::ready!(this.inner.poll_next_unpin(cx)) {
            Some(Err(error)) => {
                let event = (this.make)(&error).encode();
                this.failed = Some(error);
                Poll::Ready(Some(Ok(event)))
            }
            other => Poll::Ready(other),
        }
    }
}

struct KeepAliveStream {
    inner: EncodedEvents,
    /// Armed on the first poll, so building a body needs no runtime.
    timer: Option<Pin<Box<Sleep>>>,
    keep_alive: KeepAlive,
}

impl Stream for KeepAliveStream {
    type Item = Result<Bytes, BoxError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let interval = this.keep_alive.interval;
        let timer = this
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(interval)));
        match this.inner.poll_next_unpin(cx) {
            Poll::Ready(item) => {
                timer.as_mut().reset(tokio::time::Instant::now() + interval);
                Poll::Ready(item)
            }
            Poll::Pending => {
                if timer.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                timer.as_mut().reset(tokio::time::Instant::now() + interval);
                Poll::Ready(Some(Ok(this.keep_alive.comment.clone())))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    #[test]
    fn golden_events() {
        assert_eq!(&Event::default().data("hi").encode()[..], b"data: hi\n\n");
        assert_eq!(&Event::default().data("").encode()[..], b"data: \n\n");
        assert_eq!(
            &Event::default().data("a\r\nb\rc\nd").encode()[..],
            b"data: a\ndata: b\ndata: c\ndata: d\n\n"
        );
        assert_eq!(
            &Event::default().comment("x\ny").encode()[..],
            b": x\n: y\n\n"
        );
        assert_eq!(
            &Event::default()
                .json_data(&serde_json::json!({"t": "x"}))
                .unwrap()
                .encode()[..],
            b"data: {\"t\":\"x\"}\n\n"
        );
    }

    #[test]
    fn fields_that_break_framing_are_refused() {
        assert_eq!(
            Event::default().event("a\nb").unwrap_err(),
            InvalidField {
                field: "event",
                value: "a\nb".into()
            }
        );
        assert!(Event::default().id("1\r").is_err());
        assert!(Event::default().id("x\0").is_err());
    }

    #[test]
    fn building_a_body_needs_no_runtime() {
        let events = stream::iter([Ok::<_, std::io::Error>(Event::default().data("x"))]);
        let body = Sse::new(events).keep_alive(KeepAlive::new()).into_body();
        drop(body);
    }

    #[tokio::test(start_paused = true)]
    async fn keep_alive_fills_idle_gaps_only() {
        let events = stream::iter([Ok::<_, std::io::Error>(Event::default().data("first"))]).chain(
            stream::once(async {
                tokio::time::sleep(Duration::from_secs(35)).await;
                Ok(Event::default().data("late"))
            }),
        );
        let keep_alive = KeepAlive::new()
            .interval(Duration::from_secs(10))
            .text("ping");
        let mut body = Sse::new(events)
            .keep_alive(keep_alive)
            .into_body()
            .into_data_stream();
        let mut seen = Vec::new();
        while let Some(item) = body.next().await {
            seen.push((tokio::time::Instant::now(), item.unwrap()));
        }
        let start = seen[0].0;
        let timeline: Vec<_> = seen
            .iter()
            .map(|(at, bytes)| (at.duration_since(start).as_secs(), bytes.clone()))
            .collect();
        assert_eq!(
            timeline,
            vec![
                (0, Bytes::from("data: first\n\n")),
                (10, Bytes::from(": ping\n\n")),
                (20, Bytes::from(": ping\n\n")),
                (30, Bytes::from(": ping\n\n")),
                (35, Bytes::from("data: late\n\n")),
            ]
        );
    }

    #[tokio::test]
    async fn an_error_is_announced_by_an_event_then_ends_the_stream() {
        let events = stream::iter([
            Ok(Event::default().data("a")),
            Err(crate::wire::FunctionError::new(
                crate::wire::ErrorType::new("Function.ModelFailed").unwrap(),
                "the model went away",
            )),
            Ok(Event::default().data("never")),
        ]);
        let mut body = Sse::new(events)
            .error_event(|error| {
                Event::default()
                    .event("error")
                    .unwrap()
                    .data(error.to_string())
            })
            .into_body()
            .into_data_stream();
        assert_eq!(&body.next().await.unwrap().unwrap()[..], b"data: a\n\n");
        let announced = body.next().await.unwrap().unwrap();
        assert_eq!(
            std::str::from_utf8(&announced).unwrap(),
            "event: error\ndata: Function.ModelFailed: the model went away\n\n"
        );
        let error = body.next().await.unwrap().unwrap_err();
        assert_eq!(
            error.error_type().as_str(),
            "Function.ModelFailed",
            "its type is kept"
        );
        assert!(body.next().await.is_none(), "nothing after the error");
    }
}
