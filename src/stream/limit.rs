//! The handler's body under the stream's limits, in the shape of http-body-util's `Limited`:
//! each chunk is admitted by the [`StreamPolicy`] (budget and deadline) whole, or as its
//! leading whole records that fit, or not at all, which ends the body with a cut. A stage that
//! cannot take back what it produces (a compressor) is handed the room before it produces.

use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::time::{Instant, Sleep};

use bytes::Bytes;

use super::merge::PollChunk;
pub(crate) use super::outcome::StreamEnd;
use super::payload_limit::PayloadLimit;
use super::policy::{Charged, StreamPolicy};
use super::sent::Sent;
use super::source::Source;
use crate::body::TruncationReason;
use crate::body::{Chunk, Continuation};

/// What the policy let through of a chunk.
enum Admission {
    Whole(Chunk),
    /// Its leading whole records; the body ends after them.
    Partly(Chunk, TruncationReason),
    Refused(TruncationReason),
}

/// A body whose chunks are admitted by a [`StreamPolicy`]; counts what it lets through.
pub(crate) struct Limited {
    source: Source,
    policy: StreamPolicy,
    /// Wakes a body that is not ready when the time to end by comes.
    end_by: Option<Pin<Box<Sleep>>>,
    /// A cut decided with the last chunk: returned by the next poll.
    cut_after: Option<TruncationReason>,
    sent: Sent,
    /// A `BUFFERED` answer's payload limit, beside the budget.
    payload: Option<PayloadLimit>,
    /// The invocation's span, which the lines logged here (the connection's task polls this
    /// stage, outside it) are logged in, so they carry the invocation's request id.
    span: tracing::Span,
}

impl Limited {
    /// `source` under `policy`.
    pub(crate) fn new(source: Source, policy: StreamPolicy) -> Self {
        Limited {
            source,
            end_by: policy
                .poll_timeout(Instant::now())
                .map(|at| Box::pin(tokio::time::sleep_until(at))),
            policy,
            cut_after: None,
            sent: Sent::default(),
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
        self.sent.bytes()
    }

    /// Whole records let through.
    pub(crate) fn records(&self) -> u64 {
        self.sent.records()
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
        self.source.close();
    }

    /// The closing record that ends a cut body, made by `continuation` from what was let
    /// through and counted (it may use the reserve); `None` when it does not fit.
    pub(crate) fn closing(
        &mut self,
        cx: &mut Context<'_>,
        continuation: Continuation,
        reason: TruncationReason,
    ) -> Option<Bytes> {
        let truncation = self.sent.cut(reason);
        let closing = self.source.closing(cx, continuation, &truncation)?;
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

    /// Charges a chunk whole or, when the policy (or the payload limit) cannot take it all,
    /// its leading whole records that fit both.
    fn admission(&mut self, chunk: Chunk, now: Instant) -> Admission {
        let payload_fits = match &self.payload {
            None => true,
            Some(payload) => payload.fits(chunk.data()),
        };
        if payload_fits && self.charge(chunk.len() as u64, now).is_ok() {
            return Admission::Whole(chunk);
        }
        self.leading_records(chunk, now)
    }

    /// The leading whole records of a chunk that do not all fit, charged; the body ends after
    /// them, for the reason of what bound them: the budget, the time to end by, or the payload
    /// limit (a budget). The cold path: once per response.
    #[cold]
    #[inline(never)]
    fn leading_records(&mut self, mut chunk: Chunk, now: Instant) -> Admission {
        let room = self.policy.room(now);
        let mut fitting = chunk.records_fitting(room.bytes, |_, record| record.len() as u64);
        let mut reason = room.bound_by;
        if let Some(payload) = &self.payload {
            let within_payload = payload.leading_records(&chunk);
            if within_payload < fitting {
                (fitting, reason) = (within_payload, TruncationReason::Budget);
            }
        }
        let Some(head) = chunk.split_records(fitting) else {
            return Admission::Refused(reason);
        };
        match self.charge(head.len() as u64, now) {
            Ok(()) => Admission::Partly(head, reason),
            Err(reason) => Admission::Refused(reason),
        }
    }

    /// Counts a chunk let through.
    fn let_through(&mut self, chunk: Chunk) -> Poll<Option<Result<Chunk, StreamEnd>>> {
        self.sent.count(&chunk);
        if let Some(payload) = &mut self.payload {
            payload.let_through(chunk.data());
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

    /// The source's next chunk; a compressor is handed the room it may use at `now`.
    #[cfg_attr(
        not(feature = "compression"),
        allow(unused_variables, reason = "only a compressor is handed the room")
    )]
    fn poll_source(&mut self, cx: &mut Context<'_>, now: Instant) -> PollChunk<StreamEnd> {
        match &mut self.source {
            Source::Plain(body) => body.poll_chunk(cx).map_err(StreamEnd::Failed),
            #[cfg(feature = "compression")]
            Source::Compressed(compressing) => {
                let room = room_for_compressed(&self.policy, self.payload.as_ref(), now);
                compressing.poll_within(cx, room)
            }
        }
    }
}

/// What compressed bytes may take at `now`: the policy's room, and a `BUFFERED` answer's
/// payload limit (which binds as a budget does) for bytes carried as base64.
#[cfg(feature = "compression")]
fn room_for_compressed(
    policy: &StreamPolicy,
    payload: Option<&PayloadLimit>,
    now: Instant,
) -> super::policy::Room {
    let room = policy.room(now);
    match payload.map(PayloadLimit::room_for_any_bytes) {
        Some(bytes) if bytes < room.bytes => super::policy::Room {
            bytes,
            bound_by: TruncationReason::Budget,
        },
        _ => room,
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
        let chunk = match self.poll_source(cx, now) {
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
            Admission::Refused(reason) => {
                self.source.refused();
                self.cut(reason)
            }
        }
    }
}
