//! The client response body: a whole buffer, or a live relay of the function's stream.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::StreamExt;
use futures_util::stream::BoxStream;
use http_body::Frame;
use tokio::sync::mpsc;
use tokio::time::{Instant, Sleep};
use tokio_util::sync::WaitForCancellationFutureOwned;

use crate::emulator::access_log::AccessLog;
use crate::emulator::failure::PlatformFailure;
use crate::emulator::runtime::state::{Deadline, StreamEvent};
use crate::stream::BandwidthModel;

pub(crate) enum ClientBody {
    Full(Option<Bytes>, Option<AccessLog>),
    Relay(Box<Relay>),
    /// Frames made elsewhere (the invoke API's event stream).
    Stream(BoxStream<'static, Result<Frame<Bytes>, std::io::Error>>),
}

/// How a streamed answer is relayed to the client.
pub(crate) struct RelayOptions {
    /// The client sent `TE: trailers`.
    pub(crate) forward_trailers: bool,
    /// The invocation's deadline.
    pub(crate) deadline: Deadline,
    /// Pace the body with this model.
    pub(crate) throttle: Option<BandwidthModel>,
    /// API Gateway's own limits on the stream (the REST API front).
    pub(crate) gateway: Option<GatewayLimits>,
}

/// What API Gateway (a REST API front) imposes on a stream besides the function's deadline.
#[derive(Debug, Clone, Copy)]
pub(crate) struct GatewayLimits {
    /// The stream is closed when no bytes came from the function for this long.
    pub(crate) idle: std::time::Duration,
    /// The stream is closed this long after the relay starts, whatever is left.
    pub(crate) max_duration: std::time::Duration,
    /// The gateway's own pacing, applied with the throttle's when streams are paced.
    pub(crate) bandwidth: BandwidthModel,
}

/// The gateway's timers, armed when the relay starts.
struct GatewayTimers {
    limits: GatewayLimits,
    idle: Pin<Box<Sleep>>,
    cap: Pin<Box<Sleep>>,
}

impl GatewayTimers {
    fn new(limits: GatewayLimits, now: Instant) -> Self {
        GatewayTimers {
            limits,
            idle: Box::pin(tokio::time::sleep_until(now + limits.idle)),
            cap: Box::pin(tokio::time::sleep_until(now + limits.max_duration)),
        }
    }

    /// Bytes came from the function: the idle timer starts again.
    fn heard(&mut self) {
        let at = Instant::now() + self.limits.idle;
        self.idle.as_mut().reset(at);
    }

    /// The outcome when a timer has fired (then the stream is closed).
    fn fired(&mut self, cx: &mut Context<'_>) -> Option<String> {
        if self.cap.as_mut().poll(cx).is_ready() {
            return Some("gateway limit (the stream reached API Gateway's longest)".to_owned());
        }
        if self.idle.as_mut().poll(cx).is_ready() {
            let idle = self.limits.idle;
            return Some(format!(
                "idle timeout (nothing from the function for {idle:?})"
            ));
        }
        None
    }
}

pub(crate) struct Relay {
    events: mpsc::Receiver<StreamEvent>,
    /// The invocation's deadline passing (after its slot is free).
    deadline: Pin<Box<WaitForCancellationFutureOwned>>,
    /// What reaching the deadline means.
    timeout: PlatformFailure,
    forward_trailers: bool,
    log: AccessLog,
    done: bool,
    throttle: Option<Throttle>,
    gateway: Option<GatewayTimers>,
    /// A failure that ends the body, held back for one poll so that hyper flushes the head
    /// and the data before it: an error returned at once can close the connection with them
    /// still in its write buffer, and the client would see no status line at all.
    failing: Option<String>,
}

/// Holds each chunk back until the bandwidth model says its last byte has gone.
struct Throttle {
    model: BandwidthModel,
    /// A second model the bytes also pass (a gateway's, after Lambda's).
    then: Option<BandwidthModel>,
    started: Instant,
    sent: u64,
    held: Option<Bytes>,
    wait: Pin<Box<Sleep>>,
}

impl Throttle {
    /// The chunk when it may go, or `Pending` (woken when it may).
    fn release(&mut self, cx: &mut Context<'_>) -> Poll<Option<Bytes>> {
        if self.held.is_some() && self.wait.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        Poll::Ready(self.held.take())
    }

    /// Takes a chunk; it is released at `started + time_to_send(0, sent + len)`.
    fn hold(&mut self, data: Bytes) {
        self.sent += data.len() as u64;
        let lambda = self.model.time_to_send(0, self.sent);
        let gateway = self
            .then
            .map_or(lambda, |then| then.time_to_send(0, self.sent));
        let at = self.started + lambda.max(gateway);
        self.wait.as_mut().reset(at);
        self.held = Some(data);
    }
}

impl Relay {
    pub(crate) fn new(
        events: mpsc::Receiver<StreamEvent>,
        options: RelayOptions,
        log: AccessLog,
    ) -> Self {
        let now = Instant::now();
        Relay {
            events,
            deadline: Box::pin(options.deadline.passed()),
            timeout: options.deadline.failure(),
            forward_trailers: options.forward_trailers,
            log,
            done: false,
            failing: None,
            gateway: options
                .gateway
                .map(|limits| GatewayTimers::new(limits, now)),
            throttle: options.throttle.map(|model| Throttle {
                model,
                then: options.gateway.map(|limits| limits.bandwidth),
                started: now,
                sent: 0,
                held: None,
                wait: Box::pin(tokio::time::sleep_until(now)),
            }),
        }
    }

    /// Ends the client response without its last chunk, so the client sees a truncated body.
    fn truncate(&mut self, outcome: &str) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        self.done = true;
        self.log.finish(outcome);
        Poll::Ready(Some(Err(std::io::Error::other(outcome.to_owned()))))
    }

    /// Truncates after one more poll (see [`Relay::failing`]): hyper flushes while the body
    /// is pending, and the waker brings it straight back.
    fn fail(
        &mut self,
        outcome: String,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, std::io::Error>>> {
        tracing::error!(outcome, "streamed response cut off");
        self.failing = Some(outcome);
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

impl ClientBody {
    pub(crate) fn full(data: impl Into<Bytes>, mut log: AccessLog) -> Self {
        let data = data.into();
        if data.is_empty() {
            // hyper never polls an empty body of known size: the exchange is complete now.
            log.complete();
        }
        ClientBody::Full(Some(data), Some(log))
    }
}

impl http_body::Body for ClientBody {
    type Data = Bytes;
    type Error = std::io::Error;

    /// A whole buffer is sent with `content-length`, as a buffered Function URL answers.
    fn size_hint(&self) -> http_body::SizeHint {
        match self {
            ClientBody::Full(data, _) => {
                http_body::SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            ClientBody::Relay(_) | ClientBody::Stream(_) => http_body::SizeHint::default(),
        }
    }

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        match self.get_mut() {
            ClientBody::Full(data, log) => {
                let data = data.take();
                if let Some(log) = log.as_mut() {
                    log.data(data.as_ref().map_or(0, Bytes::len));
                    log.complete();
                }
                Poll::Ready(data.filter(|d| !d.is_empty()).map(|d| Ok(Frame::data(d))))
            }
            ClientBody::Relay(relay) => relay.poll_frame(cx),
            ClientBody::Stream(frames) => frames.poll_next_unpin(cx),
        }
    }
}

type RelayFrame = Poll<Option<Result<Frame<Bytes>, std::io::Error>>>;

impl Relay {
    /// The next frame: a chunk when it arrives (or, paced, when the bandwidth model releases
    /// it), or the end the function's stream met.
    fn poll_frame(&mut self, cx: &mut Context<'_>) -> RelayFrame {
        if self.done {
            return Poll::Ready(None);
        }
        if let Some(outcome) = self.failing.take() {
            return self.truncate(&outcome);
        }
        if self.deadline.as_mut().poll(cx).is_ready() {
            return self.truncate(&self.timeout.outcome());
        }
        if let Some(outcome) = self.gateway.as_mut().and_then(|timers| timers.fired(cx)) {
            return self.truncate(&outcome);
        }
        loop {
            if let Some(throttle) = self.throttle.as_mut() {
                match throttle.release(cx) {
                    Poll::Pending => return Poll::Pending,
                    Poll::Ready(Some(data)) => return self.data(data),
                    Poll::Ready(None) => {}
                }
            }
            let event = std::task::ready!(self.events.poll_recv(cx));
            if let Some(timers) = self.gateway.as_mut() {
                timers.heard();
            }
            match event {
                Some(StreamEvent::Data(data)) => match self.throttle.as_mut() {
                    Some(throttle) => throttle.hold(data),
                    None => return self.data(data),
                },
                Some(StreamEvent::End) => {
                    self.done = true;
                    self.log.complete();
                    return Poll::Ready(None);
                }
                Some(StreamEvent::Error(error)) => return self.error_trailer(&error),
                Some(StreamEvent::Failed(failure)) => return self.fail(failure.outcome(), cx),
                None => {
                    let lost = PlatformFailure::Truncated("function connection lost".into());
                    return self.fail(lost.outcome(), cx);
                }
            }
        }
    }

    fn data(&mut self, data: Bytes) -> RelayFrame {
        self.log.data(data.len());
        Poll::Ready(Some(Ok(Frame::data(data))))
    }

    /// The function ended its stream with an error: real trailers for a client that asked
    /// for them (`TE: trailers`), else a clean end; logged either way.
    fn error_trailer(&mut self, error: &crate::wire::FunctionError) -> RelayFrame {
        self.done = true;
        let outcome = crate::emulator::access_log::error_trailer_outcome(error);
        tracing::error!(error_type = %error.error_type(), message = error.message(), "stream ended with an error trailer");
        self.log.finish(&outcome);
        if self.forward_trailers {
            Poll::Ready(Some(Ok(Frame::trailers(error.to_trailers()))))
        } else {
            Poll::Ready(None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    /// With tokio's clock paused, time only moves when everything waits: the release times are
    /// exact.
    #[tokio::test(start_paused = true)]
    async fn the_bandwidth_model_paces_chunks() {
        let (events, receiver) = mpsc::channel(16);
        let model = BandwidthModel {
            burst_bytes: 1000,
            bytes_per_second: 1000,
        };
        let started = Instant::now();
        let options = RelayOptions {
            forward_trailers: false,
            deadline: Deadline::on_the_clock(std::time::Duration::from_secs(60)),
            throttle: Some(model),
            gateway: None,
        };
        let log = AccessLog::new(&http::Method::GET, "/", false);
        let mut body = ClientBody::Relay(Box::new(Relay::new(receiver, options, log)));
        for _ in 0..4 {
            events
                .send(StreamEvent::Data(Bytes::from(vec![0; 500])))
                .await
                .unwrap();
        }
        events.send(StreamEvent::End).await.unwrap();
        let mut released = Vec::new();
        while let Some(frame) = body.frame().await {
            frame.unwrap();
            released.push(started.elapsed().as_millis());
        }
        // 1000 bytes in the burst, then 500 bytes per half second.
        assert_eq!(released, [0, 0, 500, 1000]);
    }

    /// Data and a failure already queued when hyper first polls the body: the client still
    /// gets the status line and the data before the connection is cut.
    #[tokio::test]
    async fn a_failure_right_behind_data_still_flushes_the_head_and_the_data() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let address = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (stream, _) = listener.accept().await.unwrap();
            let service = hyper::service::service_fn(|_| async {
                let (events, receiver) = mpsc::channel(4);
                events
                    .try_send(StreamEvent::Data(Bytes::from_static(b"partial")))
                    .unwrap();
                let cut = PlatformFailure::Truncated("reset".into());
                events.try_send(StreamEvent::Failed(cut)).unwrap();
                let options = RelayOptions {
                    forward_trailers: false,
                    deadline: Deadline::on_the_clock(std::time::Duration::from_secs(60)),
                    throttle: None,
                    gateway: None,
                };
                let log = AccessLog::new(&http::Method::GET, "/", false);
                let body = ClientBody::Relay(Box::new(Relay::new(receiver, options, log)));
                Ok::<_, std::convert::Infallible>(http::Response::new(body))
            });
            let io = hyper_util::rt::TokioIo::new(stream);
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(io, service)
                .await;
        });
        let mut client = tokio::net::TcpStream::connect(address).await.unwrap();
        client
            .write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .await
            .unwrap();
        let mut answer = Vec::new();
        let _ = client.read_to_end(&mut answer).await;
        let text = String::from_utf8_lossy(&answer);
        assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{text:?}");
        assert!(
            text.ends_with("7\r\npartial\r\n"),
            "cut after the data: {text:?}"
        );
    }
}
