//! The client response body: a whole buffer, or a live relay of the function's stream.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::Frame;
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};

use super::access_log::AccessLog;
use super::state::StreamEvent;

pub(crate) enum UrlBody {
    Full(Option<Bytes>, Option<AccessLog>),
    Relay(Box<Relay>),
}

pub(crate) struct Relay {
    pub(crate) events: mpsc::Receiver<StreamEvent>,
    pub(crate) deadline: Pin<Box<Sleep>>,
    pub(crate) forward_trailers: bool,
    pub(crate) log: AccessLog,
    pub(crate) done: bool,
}

impl Relay {
    pub(crate) fn new(
        events: mpsc::Receiver<StreamEvent>,
        deadline: Instant,
        forward_trailers: bool,
        log: AccessLog,
    ) -> Self {
        Relay {
            events,
            deadline: Box::pin(tokio::time::sleep_until(deadline)),
            forward_trailers,
            log,
            done: false,
        }
    }

    /// Ends the client response without its last chunk, so the client sees a truncated body.
    fn truncate(&mut self, outcome: &str) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.done = true;
        self.log.finish(outcome);
        Poll::Ready(Some(Err(std::io::Error::other(outcome.to_owned()))))
    }
}

impl UrlBody {
    pub(crate) fn full(data: impl Into<Bytes>, mut log: AccessLog) -> Self {
        let data = data.into();
        if data.is_empty() {
            // hyper never polls an empty body of known size: the exchange is complete now.
            log.finish("ok");
        }
        UrlBody::Full(Some(data), Some(log))
    }
}

impl http_body::Body for UrlBody {
    type Data = Bytes;
    type Error = std::io::Error;

    /// A whole buffer is sent with `content-length`, as a buffered Function URL answers.
    fn size_hint(&self) -> http_body::SizeHint {
        match self {
            UrlBody::Full(data, _) => {
                http_body::SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            UrlBody::Relay(_) => http_body::SizeHint::default(),
        }
    }

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let relay = match self.get_mut() {
            UrlBody::Full(data, log) => {
                let data = data.take();
                if let Some(log) = log.as_mut() {
                    log.data(data.as_ref().map_or(0, Bytes::len));
                    log.finish("ok");
                }
                return Poll::Ready(data.filter(|d| !d.is_empty()).map(|d| Ok(Frame::data(d))));
            }
            UrlBody::Relay(relay) => relay,
        };
        if relay.done {
            return Poll::Ready(None);
        }
        if relay.deadline.as_mut().poll(cx).is_ready() {
            return relay.truncate("timeout");
        }
        match relay.events.poll_recv(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(Some(StreamEvent::Data(data))) => {
                relay.log.data(data.len());
                Poll::Ready(Some(Ok(Frame::data(data))))
            }
            Poll::Ready(Some(StreamEvent::End)) => {
                relay.done = true;
                relay.log.finish("ok");
                Poll::Ready(None)
            }
            Poll::Ready(Some(StreamEvent::Error(error))) => {
                relay.done = true;
                let outcome = format!("{}: {}", error.error_type(), error.message());
                tracing::error!(error_type = %error.error_type(), message = error.message(), "stream ended with an error trailer");
                relay.log.finish(&outcome);
                if relay.forward_trailers {
                    Poll::Ready(Some(Ok(Frame::trailers(error.to_trailers()))))
                } else {
                    Poll::Ready(None)
                }
            }
            Poll::Ready(Some(StreamEvent::Truncated(reason))) => {
                relay.truncate(&format!("truncated ({reason})"))
            }
            Poll::Ready(Some(StreamEvent::OverBudget { budget })) => {
                relay.truncate(&format!("over budget ({budget} bytes)"))
            }
            Poll::Ready(None) => relay.truncate("truncated (function connection lost)"),
        }
    }
}
