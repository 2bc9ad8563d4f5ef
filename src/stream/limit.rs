//! The handler's body under the stream's limits, in the shape of http-body-util's `Limited`:
//! each chunk is admitted by the [`StreamPolicy`] (budget and deadline) whole, or as its
//! leading whole records that fit, or not at all, which ends the body with a cut. A panic in
//! the handler's stream becomes an error here, not a dead connection.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::time::{Instant, Sleep};

use bytes::Bytes;

use super::budget_view::BudgetView;
use super::payload_limit::PayloadLimit;
use super::policy::{Charged, StreamPolicy};
use crate::body::{Body, Truncation, TruncationReason};
use crate::body::{Chunk, Continuation};
use crate::wire::FunctionError;

/// How a limited body ends other than completely.
#[derive(Debug)]
pub(crate) enum StreamEnd {
    /// The handler's stream failed or panicked.
    Failed(FunctionError),
    /// The budget or the deadline cut it after its last whole record.
    Cut(TruncationReason),
}

/// What the policy let through of a chunk.
enum Admission {
    Whole(Chunk),
    /// Its leading whole records; the body ends after them.
    Partly(Chunk, TruncationReason),
    Refused(TruncationReason),
}

/// A body whose chunks are admitted by a [`StreamPolicy`]; counts what it lets through.
pub(crate) struct Limited {
    /// The body's first chunks, taken before the head was committed.
    held: VecDeque<Chunk>,
    body: Option<Body>,
    policy: StreamPolicy,
    /// Wakes a body that is not ready when the time to end by comes.
    end_by: Option<Pin<Box<Sleep>>>,
    view: Option<BudgetView>,
    /// A cut decided with the last chunk: returned by the next poll.
    cut_after: Option<TruncationReason>,
    body_bytes: u64,
    records: u64,
    /// The last whole record let through, for the continuation's cursor.
    last_record: Option<Bytes>,
    /// A `BUFFERED` answer's payload limit, beside the budget.
    payload: Option<PayloadLimit>,
    /// The invocation's span, which the lines logged here (the connection's task polls this
    /// stage, outside it) are logged in, so they carry the invocation's request id.
    span: tracing::Span,
}

impl Limited {
    /// `view` is the budget view of a stage of `body` that decides before it produces (a
    /// compressor): this stage publishes what is left to it.
    pub(crate) fn new(
        held: Vec<Chunk>,
        body: Body,
        policy: StreamPolicy,
        view: Option<BudgetView>,
    ) -> Self {
        if let Some(view) = &view {
            view.publish(policy.meter().remaining());
        }
        Limited {
            held: held.into(),
            body: Some(body),
            end_by: policy
                .poll_timeout(Instant::now())
                .map(|at| Box::pin(tokio::time::sleep_until(at))),
            policy,
            view,
            cut_after: None,
            body_bytes: 0,
            records: 0,
            last_record: None,
            payload: None,
            span: tracing::Span::current(),
        }
    }

    /// Also keeps the body within a buffered payload limit: a chunk goes when both the
    /// policy and the payload limit take it.
    pub(crate) fn within_payload(mut self, payload: PayloadLimit) -> Self {
        self.payload = Some(payload);
        self
    }

    /// Body bytes let through.
    pub(crate) fn body_bytes(&self) -> u64 {
        self.body_bytes
    }

    /// Whole records let through.
    pub(crate) fn records(&self) -> u64 {
        self.records
    }

    pub(crate) fn policy(&self) -> &StreamPolicy {
        &self.policy
    }

    /// The policy, told by the body's shell what the connection took and when.
    pub(crate) fn policy_mut(&mut self) -> &mut StreamPolicy {
        &mut self.policy
    }

    /// Drops the handler's stream: producers see `BodyClosed`, nothing more is read.
    pub(crate) fn close(&mut self) {
        self.body = None;
        self.held.clear();
    }

    /// The closing record that ends a cut body, made by `continuation` from what was let
    /// through and counted (it may use the reserve); `None` when it does not fit.
    pub(crate) fn closing(
        &mut self,
        continuation: Continuation,
        reason: TruncationReason,
    ) -> Option<Bytes> {
        let truncation = Truncation {
            reason,
            records_sent: self.records,
            body_bytes: self.body_bytes,
            last_record: self.last_record.take(),
        };
        let closing = continuation.make(&truncation)?;
        let payload_fits = self
            .payload
            .as_ref()
            .is_none_or(|payload| payload.fits_closing(&closing));
        if payload_fits && self.policy.admit_closing(closing.len() as u64).is_ok() {
            return Some(closing);
        }
        self.span.in_scope(|| {
            tracing::error!(
                continuation_bytes = closing.len(),
                remaining = self.policy.meter().remaining(),
                "the continuation does not fit in the budget left; ending with an error trailer"
            );
        });
        None
    }

    /// Charges `cost` bytes now; `Err` says why they may not go.
    fn charge(&mut self, cost: u64, now: Instant) -> Result<(), TruncationReason> {
        if self.policy.admit(now, cost)? == Charged::CrossedWarning {
            self.warn_crossed();
        }
        Ok(())
    }

    /// Logs the budget warning, once per response (kept out of the per-item path).
    #[cold]
    #[inline(never)]
    fn warn_crossed(&self) {
        let (budget, used) = (self.policy.meter().budget(), self.policy.meter().used());
        self.span.in_scope(|| {
            tracing::warn!(
                used,
                limit = budget.limit(),
                fraction = budget.warning_fraction(),
                "the response crossed its budget warning threshold"
            );
        });
    }

    /// Charges a chunk whole or, when the budget (or the payload limit) cannot take it all,
    /// its leading whole records that fit both.
    fn admission(&mut self, chunk: Chunk, now: Instant) -> Admission {
        let payload_fits = match &self.payload {
            None => true,
            Some(payload) => payload.fits(chunk.data()),
        };
        if payload_fits {
            match self.charge(chunk.len() as u64, now) {
                Ok(()) => return Admission::Whole(chunk),
                Err(TruncationReason::Budget) => {}
                Err(reason) => return Admission::Refused(reason),
            }
        }
        self.leading_records(chunk, now)
    }

    /// The leading whole records of a chunk that do not all fit, charged; the body ends after
    /// them (the cold path: once per response).
    #[cold]
    #[inline(never)]
    fn leading_records(&mut self, mut chunk: Chunk, now: Instant) -> Admission {
        let room = self.policy.meter().room();
        let mut fitting = chunk.records_fitting(room, |_, record| record.len() as u64);
        if let Some(payload) = &self.payload {
            fitting = fitting.min(payload.leading_records(&chunk));
        }
        let Some(head) = chunk.split_records(fitting) else {
            return Admission::Refused(TruncationReason::Budget);
        };
        match self.charge(head.len() as u64, now) {
            Ok(()) => Admission::Partly(head, TruncationReason::Budget),
            Err(reason) => Admission::Refused(reason),
        }
    }

    /// Counts a chunk let through, and tells the body's stages what budget is left (a
    /// compressor decides before it compresses).
    fn let_through(&mut self, chunk: Chunk) -> Poll<Option<Result<Chunk, StreamEnd>>> {
        self.body_bytes += chunk.len() as u64;
        self.records += chunk.records();
        if let Some(payload) = &mut self.payload {
            payload.let_through(chunk.data());
        }
        self.last_record = Some(chunk.last_record());
        if let Some(view) = &self.view {
            view.publish(self.policy.meter().remaining());
        }
        Poll::Ready(Some(Ok(chunk)))
    }

    /// The handler has nothing ready: the wait is the producer's (not the reader's), and the
    /// timer wakes the body when it must end, moved earlier if the reader's pace says so.
    fn wait_for_producer(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Chunk, StreamEnd>>> {
        // Read afresh: a timer that fired must find its time come, or nothing wakes the body.
        let now = Instant::now();
        self.policy.producer_waited(now);
        let Some(timer) = self.end_by.as_mut() else {
            return Poll::Pending;
        };
        if let Some(at) = self.policy.poll_timeout(now)
            && at < timer.deadline()
        {
            timer.as_mut().reset(at);
        }
        // The timer only wakes the task; the policy decides.
        if timer.as_mut().poll(cx).is_ready()
            && let Some(reason) = self.policy.handle_timeout(now)
        {
            return self.cut(reason);
        }
        Poll::Pending
    }

    fn cut(&mut self, reason: TruncationReason) -> Poll<Option<Result<Chunk, StreamEnd>>> {
        self.close();
        Poll::Ready(Some(Err(StreamEnd::Cut(reason))))
    }

    /// The next chunk: a held one first, then the handler's (a panic becomes an error).
    fn poll_next_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Chunk, StreamEnd>>> {
        if let Some(held) = self.held.pop_front() {
            return Poll::Ready(Some(Ok(held)));
        }
        let Some(body) = self.body.as_mut() else {
            return Poll::Ready(None);
        };
        // The handler's stream runs inside the connection task.
        match catch_unwind(AssertUnwindSafe(|| body.poll_chunk(cx))) {
            Ok(polled) => polled.map_err(StreamEnd::Failed),
            Err(panic) => Poll::Ready(Some(Err(StreamEnd::Failed(FunctionError::from_panic(
                panic.as_ref(),
            ))))),
        }
    }
}

impl Limited {
    /// The next chunk the policy admits at `now` (when the caller read the clock), or how
    /// the body ends.
    pub(crate) fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
        now: Instant,
    ) -> Poll<Option<Result<Chunk, StreamEnd>>> {
        if let Some(reason) = self.cut_after.take() {
            return self.cut(reason);
        }
        let chunk = match self.poll_next_chunk(cx) {
            Poll::Ready(Some(Ok(chunk))) => chunk,
            Poll::Ready(end) => {
                self.close();
                return Poll::Ready(end);
            }
            Poll::Pending => return self.wait_for_producer(cx),
        };
        match self.admission(chunk, now) {
            Admission::Whole(chunk) => self.let_through(chunk),
            Admission::Partly(head, reason) => {
                self.cut_after = Some(reason);
                self.let_through(head)
            }
            Admission::Refused(reason) => self.cut(reason),
        }
    }
}
