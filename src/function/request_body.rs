//! Request bodies sent to the Runtime API, above all the streamed response: prelude JSON as one
//! chunk, the eight NULs as the next, then each body chunk, then real trailer fields on error.

use std::collections::VecDeque;
use std::convert::Infallible;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use bytes::Bytes;
use futures_util::StreamExt;
use http_body::{Frame, SizeHint};
use tokio::sync::oneshot;
use tokio::time::Sleep;

use super::stats::Outcome;
use crate::body::{BudgetView, Continuation};
use crate::budget::{BandwidthModel, Budget, BudgetMeter, Charged};
use crate::wire::{ErrorType, FunctionError, PRELUDE_DELIMITER};
use crate::{Body, Truncation, TruncationReason};

/// Counts and the end of one streamed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StreamReport {
    pub(crate) wire_bytes: u64,
    pub(crate) body_bytes: u64,
    pub(crate) chunks: u64,
    pub(crate) first_byte_at: Option<Instant>,
    pub(crate) budget_warned: bool,
    pub(crate) end: Outcome,
}

/// The limits a stream runs under.
pub(crate) struct StreamLimits {
    pub(crate) budget: Budget,
    /// When to end cleanly: the deadline less the safety margin.
    pub(crate) end_by: Option<tokio::time::Instant>,
    pub(crate) bandwidth: BandwidthModel,
}

/// The body of `POST .../response` in streaming mode.
pub(crate) struct StreamingBody {
    prelude: Option<Bytes>,
    delimiter_pending: bool,
    held: VecDeque<Bytes>,
    body: Option<Body>,
    continuation: Option<Continuation>,
    done: bool,
    meter: BudgetMeter,
    view: Option<BudgetView>,
    bandwidth: BandwidthModel,
    end_by: Option<Pin<Box<Sleep>>>,
    body_bytes: u64,
    chunks: u64,
    first_byte_at: Option<Instant>,
    report: Option<oneshot::Sender<StreamReport>>,
}

impl StreamingBody {
    /// `held` are the body's first items, taken before the head was committed.
    pub(crate) fn new(
        prelude: Bytes,
        held: Vec<Bytes>,
        mut body: Body,
        limits: StreamLimits,
    ) -> (Self, oneshot::Receiver<StreamReport>) {
        let (tx, rx) = oneshot::channel();
        let mut meter = BudgetMeter::new(limits.budget);
        let continuation = body.take_continuation();
        if let Some(continuation) = &continuation {
            meter.reserve(continuation.reserve);
        }
        // The head is part of what Lambda counts. It is at most 16 KiB, so a budget that cannot
        // hold it stops the body at its first item.
        let _ = meter.charge((prelude.len() + PRELUDE_DELIMITER.len()) as u64);
        let view = body.take_budget_view();
        if let Some(view) = &view {
            view.publish(meter.remaining());
        }
        let streaming = StreamingBody {
            prelude: Some(prelude),
            delimiter_pending: true,
            held: held.into(),
            body: Some(body),
            continuation,
            done: false,
            meter,
            view,
            bandwidth: limits.bandwidth,
            end_by: limits
                .end_by
                .map(|at| Box::pin(tokio::time::sleep_until(at))),
            body_bytes: 0,
            chunks: 0,
            first_byte_at: None,
            report: Some(tx),
        };
        (streaming, rx)
    }

    fn data(&mut self, chunk: Bytes) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(view) = &self.view {
            view.publish(self.meter.remaining());
        }
        self.body_bytes += chunk.len() as u64;
        self.chunks += 1;
        self.first_byte_at.get_or_insert_with(Instant::now);
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn finish(&mut self, end: Outcome) {
        // Drop the handler's stream at once: producers see `BodyClosed`, nothing more is sent.
        self.body = None;
        self.done = true;
        if let Some(report) = self.report.take() {
            let _ = report.send(StreamReport {
                wire_bytes: self.meter.used(),
                body_bytes: self.body_bytes,
                chunks: self.chunks,
                first_byte_at: self.first_byte_at,
                budget_warned: self.meter.warned(),
                end,
            });
        }
    }

    fn fail(&mut self, error: FunctionError) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let trailers = error.to_trailers();
        self.finish(Outcome::Failed(error));
        Poll::Ready(Some(Ok(Frame::trailers(trailers))))
    }

    /// Ends the body after its last whole item: with the continuation when there is one and it
    /// fits, else with an error trailer.
    fn cut(&mut self, reason: TruncationReason) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.body = None;
        if let Some(continuation) = self.continuation.take() {
            let truncation = Truncation {
                reason,
                items_sent: self.chunks,
                body_bytes: self.body_bytes,
            };
            let closing = (continuation.make)(&truncation);
            if self.meter.charge_reserved(closing.len() as u64).is_ok() {
                // Counted before the report goes out.
                let frame = self.data(closing);
                self.finish(Outcome::Truncated {
                    reason,
                    continued: true,
                });
                return frame;
            }
            tracing::error!(
                continuation_bytes = closing.len(),
                remaining = self.meter.remaining(),
                "the continuation does not fit in the budget left; ending with an error trailer"
            );
        }
        let error = match reason {
            TruncationReason::Budget => FunctionError::new(
                ErrorType::RESPONSE_SIZE_TOO_LARGE,
                format!(
                    "the response reached its {}-byte budget after {} body bytes",
                    self.meter.budget().limit(),
                    self.body_bytes
                ),
            ),
            TruncationReason::Deadline => FunctionError::new(
                ErrorType::DEADLINE_EXCEEDED,
                format!(
                    "the stream was ended before the invocation deadline after {} body bytes",
                    self.body_bytes
                ),
            ),
        };
        let trailers = error.to_trailers();
        self.finish(Outcome::Truncated {
            reason,
            continued: false,
        });
        Poll::Ready(Some(Ok(Frame::trailers(trailers))))
    }

    /// Sends an item if the budget and the deadline allow it.
    fn admit(&mut self, chunk: Bytes) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let len = chunk.len() as u64;
        if let Some(end_by) = &self.end_by {
            let needed = self.bandwidth.time_to_send(self.meter.used(), len);
            if tokio::time::Instant::now() + needed > end_by.deadline() {
                return self.cut(TruncationReason::Deadline);
            }
        }
        match self.meter.charge(len) {
            Ok(Charged::Fits) => self.data(chunk),
            Ok(Charged::CrossedWarning) => {
                let budget = self.meter.budget();
                tracing::warn!(
                    used = self.meter.used(),
                    limit = budget.limit(),
                    fraction = budget.warning_fraction(),
                    "the response crossed its budget warning threshold"
                );
                self.data(chunk)
            }
            Err(_) => self.cut(TruncationReason::Budget),
        }
    }
}

impl Drop for StreamingBody {
    fn drop(&mut self) {
        self.finish(Outcome::Aborted);
    }
}

impl http_body::Body for StreamingBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = &mut *self;
        if let Some(prelude) = this.prelude.take() {
            return Poll::Ready(Some(Ok(Frame::data(prelude))));
        }
        if this.delimiter_pending {
            this.delimiter_pending = false;
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(
                &PRELUDE_DELIMITER,
            )))));
        }
        if this.done {
            return Poll::Ready(None);
        }
        if let Some(held) = this.held.pop_front() {
            return this.admit(held);
        }
        if let Some(end_by) = this.end_by.as_mut()
            && end_by.as_mut().poll(cx).is_ready()
        {
            return this.cut(TruncationReason::Deadline);
        }
        let Some(body) = this.body.as_mut() else {
            return Poll::Ready(None);
        };
        // The handler's stream runs inside the connection task: a panic there must become an
        // error trailer, not a dead connection.
        match catch_unwind(AssertUnwindSafe(|| body.poll_next_unpin(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(Some(Ok(chunk)))) => this.admit(chunk),
            Ok(Poll::Ready(None)) => {
                this.finish(Outcome::Complete);
                Poll::Ready(None)
            }
            Ok(Poll::Ready(Some(Err(error)))) => this.fail(error),
            Err(panic) => this.fail(FunctionError::from_panic(panic.as_ref())),
        }
    }
}

/// Every body the runtime client sends.
pub(crate) enum RequestBody {
    Full(Option<Bytes>),
    Streaming(Box<StreamingBody>),
}

impl RequestBody {
    pub(crate) fn empty() -> Self {
        RequestBody::Full(None)
    }

    pub(crate) fn full(data: impl Into<Bytes>) -> Self {
        RequestBody::Full(Some(data.into()))
    }
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            RequestBody::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            RequestBody::Streaming(body) => Pin::new(body.as_mut()).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, RequestBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RequestBody::Full(data) => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            RequestBody::Streaming(_) => SizeHint::default(),
        }
    }
}
