//! Request bodies sent to the Runtime API, above all the streamed response: prelude JSON as one
//! chunk, the eight NULs as the next, then the body chunks, then real trailer fields on error.
//!
//! The pipeline, per poll: give way to the connection when data has waited 1 ms
//! ([`FlushRule`]); take the next chunk (held items first, then the handler's, each knowing
//! its records); admit it against the deadline and the budget (whole, or its leading records
//! that fit, or not at all: then the continuation or an error trailer ends the body); merge the
//! small chunks already ready behind it; count bytes, frames and records; hand it over.
//!
//! Every item is sent as soon as it is ready; small items (under [`MERGE_BELOW`]) that are
//! *already* ready behind it travel in the same chunk (up to [`MERGE_BYTES`], within a
//! [`ReadyWindow`]). Nothing waits for an item that is not ready, so latency is unchanged,
//! while a stream of tiny items no longer costs a write and a wake-up per item on each hop
//! (chunk boundaries mean nothing to a reader; only the prelude and the NULs keep chunks of
//! their own, for `cargo lambda watch`).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use http_body::{Frame, SizeHint};
use tokio::sync::oneshot;
use tokio::time::Sleep;

use super::flush_rule::FlushRule;
use super::stats::Outcome;
use crate::body::ready::{MERGE_WINDOW, ReadyWindow};
use crate::body::{BudgetView, Chunk, Continuation};
use crate::budget::{BandwidthModel, Budget, BudgetMeter, Charged};
use crate::wire::{ErrorType, FunctionError, PRELUDE_DELIMITER};
use crate::{Body, Truncation, TruncationReason};

/// Counts and the end of one streamed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StreamReport {
    pub(crate) wire_bytes: u64,
    pub(crate) body_bytes: u64,
    /// Data frames handed to the connection.
    pub(crate) chunks: u64,
    /// Whole records (the handler's items) in them.
    pub(crate) records: u64,
    pub(crate) first_byte_at: Option<Instant>,
    pub(crate) budget_warned: bool,
    pub(crate) end: Outcome,
}

/// Items this large or larger go alone, uncopied: a write per item costs little next to them.
pub(crate) const MERGE_BELOW: usize = 16 * 1024;
/// Smaller ready items are merged into one chunk of up to this size (`examples/bench_e2e.rs`
/// end to end: 1 KiB and 4 KiB items ran ~25-40% faster than with 16 KiB chunks).
pub(crate) const MERGE_BYTES: usize = 64 * 1024;

/// What the budget and the deadline let through of a chunk.
enum Admission {
    Whole(Chunk),
    /// Its leading whole records; the body ends after them.
    Partly(Chunk, TruncationReason),
    Refused(TruncationReason),
}

/// The budget left for the body cannot hold the response head (and the continuation's
/// reserve): refused before any body byte, never an empty export.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "the {limit}-byte budget cannot hold the response head ({head} bytes) and the continuation's reserve ({reserve} bytes)"
)]
pub(crate) struct BudgetTooSmall {
    pub(crate) limit: u64,
    pub(crate) head: u64,
    pub(crate) reserve: u64,
}

/// How a body ends once the chunk in hand is sent.
enum PendingEnd {
    Complete,
    Failed(FunctionError),
    Cut(TruncationReason),
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
    held: VecDeque<Chunk>,
    body: Option<Body>,
    pending_end: Option<PendingEnd>,
    merge_window: Duration,
    continuation: Option<Continuation>,
    done: bool,
    meter: BudgetMeter,
    view: Option<BudgetView>,
    bandwidth: BandwidthModel,
    end_by: Option<Pin<Box<Sleep>>>,
    body_bytes: u64,
    chunks: u64,
    records: u64,
    first_byte_at: Option<Instant>,
    flush: FlushRule,
    report: Option<oneshot::Sender<StreamReport>>,
}

impl StreamingBody {
    /// `held` are the body's first items, taken before the head was committed.
    ///
    /// # Errors
    /// [`BudgetTooSmall`] when the budget cannot hold the head and the continuation's reserve.
    pub(crate) fn new(
        prelude: Bytes,
        held: Vec<Chunk>,
        mut body: Body,
        limits: StreamLimits,
    ) -> Result<(Self, oneshot::Receiver<StreamReport>), BudgetTooSmall> {
        let (tx, rx) = oneshot::channel();
        let mut meter = BudgetMeter::new(limits.budget);
        let continuation = body.take_continuation();
        let reserve = continuation.as_ref().map_or(0, |c| c.reserve);
        meter.reserve(reserve);
        // The head is part of what Lambda counts.
        let head = (prelude.len() + PRELUDE_DELIMITER.len()) as u64;
        if meter.charge(head).is_err() {
            let limit = limits.budget.limit();
            return Err(BudgetTooSmall {
                limit,
                head,
                reserve,
            });
        }
        let view = body.take_budget_view();
        if let Some(view) = &view {
            view.publish(meter.remaining());
        }
        let streaming = StreamingBody {
            prelude: Some(prelude),
            delimiter_pending: true,
            held: held.into(),
            body: Some(body),
            pending_end: None,
            merge_window: MERGE_WINDOW,
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
            records: 0,
            first_byte_at: None,
            flush: FlushRule::new(tokio::time::Instant::now()),
            report: Some(tx),
        };
        Ok((streaming, rx))
    }

    /// Counts the records of a chunk that will be sent, and tells the body what budget is
    /// left (a framing that ends on a record boundary reads it before its next item).
    fn count(&mut self, chunk: &Chunk) {
        self.body_bytes += chunk.len() as u64;
        self.records += chunk.records();
        if let Some(view) = &self.view {
            view.publish(self.meter.remaining());
        }
    }

    /// Hands a chunk (one or more counted records) to the connection.
    fn emit(&mut self, chunk: Bytes) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.first_byte_at.get_or_insert_with(Instant::now);
        self.flush.handed_over();
        self.chunks += 1;
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    /// Counts and sends the closing continuation (bytes, not a record).
    fn data(&mut self, closing: Bytes) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.body_bytes += closing.len() as u64;
        self.emit(closing)
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
                records: self.records,
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
                items_sent: self.records,
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

    /// Counts an item against the deadline and the budget; `Err` says why it may not go.
    fn charge(&mut self, len: usize) -> Result<(), TruncationReason> {
        let len = len as u64;
        if let Some(end_by) = &self.end_by {
            let needed = self.bandwidth.time_to_send(self.meter.used(), len);
            if tokio::time::Instant::now() + needed > end_by.deadline() {
                return Err(TruncationReason::Deadline);
            }
        }
        match self.meter.charge(len) {
            Ok(Charged::Fits) => Ok(()),
            Ok(Charged::CrossedWarning) => {
                let budget = self.meter.budget();
                tracing::warn!(
                    used = self.meter.used(),
                    limit = budget.limit(),
                    fraction = budget.warning_fraction(),
                    "the response crossed its budget warning threshold"
                );
                Ok(())
            }
            Err(_) => Err(TruncationReason::Budget),
        }
    }

    /// Charges a chunk whole or, when the budget cannot take it all, its leading whole
    /// records that fit.
    fn admission(&mut self, mut chunk: Chunk) -> Admission {
        match self.charge(chunk.len()) {
            Ok(()) => Admission::Whole(chunk),
            Err(TruncationReason::Budget) => {
                let room = usize::try_from(self.meter.room()).unwrap_or(usize::MAX);
                match chunk.split_fitting(room) {
                    Some(head) if self.charge(head.len()).is_ok() => {
                        Admission::Partly(head, TruncationReason::Budget)
                    }
                    _ => Admission::Refused(TruncationReason::Budget),
                }
            }
            Err(reason) => Admission::Refused(reason),
        }
    }

    /// Sends a chunk if the budget and the deadline allow it (or the part of it they allow),
    /// with the small items ready behind it.
    fn admit(
        &mut self,
        chunk: Chunk,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let chunk = match self.admission(chunk) {
            Admission::Whole(chunk) => chunk,
            Admission::Partly(head, reason) => {
                self.pending_end = Some(PendingEnd::Cut(reason));
                self.count(&head);
                return self.emit(head.into_data());
            }
            Admission::Refused(reason) => return self.cut(reason),
        };
        self.count(&chunk);
        if chunk.len() >= MERGE_BELOW {
            return self.emit(chunk.into_data());
        }
        let merged = self.merge_ready(chunk, cx);
        self.emit(merged)
    }

    /// Appends the items that are ready now, each charged and counted, until the chunk is full,
    /// the window has passed, or the body is not ready. An end met on the way (the body's end,
    /// an error, a budget or deadline cut, after the records that still fit) is kept for after
    /// this chunk; an item that is not small, or would overfill the chunk, is kept for the
    /// next one.
    fn merge_ready(&mut self, first: Chunk, cx: &mut Context<'_>) -> Bytes {
        let mut window = ReadyWindow::start(self.merge_window);
        let first = first.into_data();
        let mut merged: Option<BytesMut> = None;
        loop {
            let len = merged.as_ref().map_or(first.len(), BytesMut::len);
            if len >= MERGE_BYTES || !window.open() {
                break;
            }
            let Some(next) = self.poll_ready_item(cx) else {
                break;
            };
            let item = match next {
                Ok(item) if item.len() >= MERGE_BELOW || len + item.len() > MERGE_BYTES => {
                    self.held.push_front(item);
                    break;
                }
                Ok(item) => item,
                Err(end) => {
                    self.pending_end = Some(end);
                    break;
                }
            };
            let item = match self.admission(item) {
                Admission::Whole(item) => item,
                Admission::Partly(head, reason) => {
                    self.pending_end = Some(PendingEnd::Cut(reason));
                    head
                }
                Admission::Refused(reason) => {
                    self.pending_end = Some(PendingEnd::Cut(reason));
                    break;
                }
            };
            self.count(&item);
            window.joined(item.len());
            merged
                .get_or_insert_with(|| {
                    let mut buffer = BytesMut::with_capacity(MERGE_BYTES);
                    buffer.extend_from_slice(&first);
                    buffer
                })
                .extend_from_slice(&item.into_data());
            if self.pending_end.is_some() {
                break;
            }
        }
        merged.map_or(first, BytesMut::freeze)
    }

    /// The next item if one is ready: a held one first, then the handler's. `None` when the
    /// body is not ready (or gone); `Err` when it ended, failed or panicked.
    fn poll_ready_item(&mut self, cx: &mut Context<'_>) -> Option<Result<Chunk, PendingEnd>> {
        if let Some(held) = self.held.pop_front() {
            return Some(Ok(held));
        }
        let body = self.body.as_mut()?;
        // The handler's stream runs inside the connection task: a panic there must become an
        // error trailer, not a dead connection.
        match catch_unwind(AssertUnwindSafe(|| body.poll_chunk(cx))) {
            Ok(Poll::Pending) => None,
            Ok(Poll::Ready(Some(Ok(chunk)))) => Some(Ok(chunk)),
            Ok(Poll::Ready(None)) => Some(Err(PendingEnd::Complete)),
            Ok(Poll::Ready(Some(Err(error)))) => Some(Err(PendingEnd::Failed(error))),
            Err(panic) => Some(Err(PendingEnd::Failed(FunctionError::from_panic(
                panic.as_ref(),
            )))),
        }
    }

    fn end(&mut self, end: PendingEnd) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match end {
            PendingEnd::Complete => {
                self.finish(Outcome::Complete);
                Poll::Ready(None)
            }
            PendingEnd::Failed(error) => self.fail(error),
            PendingEnd::Cut(reason) => self.cut(reason),
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
        if let Some(end) = this.pending_end.take() {
            return this.end(end);
        }
        if this.flush.should_give_way(tokio::time::Instant::now()) {
            // Pending with an immediate wake-up: hyper flushes what it holds, then polls again.
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        if let Some(held) = this.held.pop_front() {
            return this.admit(held, cx);
        }
        if let Some(end_by) = this.end_by.as_mut()
            && end_by.as_mut().poll(cx).is_ready()
        {
            return this.cut(TruncationReason::Deadline);
        }
        match this.poll_ready_item(cx) {
            None if this.body.is_none() => Poll::Ready(None),
            None => {
                this.flush.gave_way(tokio::time::Instant::now());
                Poll::Pending
            }
            Some(Ok(chunk)) => this.admit(chunk, cx),
            Some(Err(end)) => this.end(end),
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

#[cfg(test)]
mod tests {
    use std::task::Poll;

    use bytes::Bytes;
    use futures_util::{StreamExt, stream};
    use http_body_util::BodyExt;

    use super::*;

    fn streaming(items: Vec<Result<Bytes, FunctionError>>, budget: u64) -> StreamingBody {
        streaming_from(Body::from_stream(stream::iter(items)), budget).0
    }

    fn streaming_from(body: Body, budget: u64) -> (StreamingBody, oneshot::Receiver<StreamReport>) {
        let limits = StreamLimits {
            budget: Budget::bytes(budget),
            end_by: None,
            bandwidth: BandwidthModel::UNLIMITED,
        };
        let (mut body, report) =
            StreamingBody::new(Bytes::from_static(b"{}"), Vec::new(), body, limits).unwrap();
        // What is merged must not depend on how fast this machine runs the test.
        body.merge_window = Duration::from_secs(3600);
        (body, report)
    }

    /// The body's frames after the prelude and the delimiter: data lengths, and the error type
    /// of the trailers if any.
    async fn frames(mut body: StreamingBody) -> (Vec<Bytes>, Option<String>) {
        let mut data = Vec::new();
        let mut trailer = None;
        while let Some(frame) = body.frame().await {
            match frame.unwrap_or_else(|never| match never {}).into_data() {
                Ok(chunk) => data.push(chunk),
                Err(frame) => {
                    let trailers = frame.into_trailers().ok();
                    trailer = trailers.and_then(|t| {
                        t.get("lambda-runtime-function-error-type")
                            .map(|v| v.to_str().unwrap_or_default().to_owned())
                    });
                }
            }
        }
        (data.split_off(2), trailer)
    }

    fn items(sizes: &[usize]) -> Vec<Result<Bytes, FunctionError>> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| Ok(Bytes::from(vec![b'a' + (i % 26) as u8; n])))
            .collect()
    }

    #[tokio::test]
    async fn ready_items_merge_up_to_the_limit_and_big_items_go_alone() {
        let mut sizes = vec![16; MERGE_BYTES * 2 / 16 + 100];
        sizes.extend([MERGE_BELOW, 10, 20]);
        let (data, trailer) = frames(streaming(items(&sizes), u64::MAX)).await;
        let lens: Vec<usize> = data.iter().map(Bytes::len).collect();
        assert_eq!(lens, [MERGE_BYTES, MERGE_BYTES, 1600, MERGE_BELOW, 30]);
        assert_eq!(trailer, None);
        let sent: Vec<u8> = data.concat();
        let expected: Vec<u8> = items(&sizes)
            .into_iter()
            .flat_map(|item| item.unwrap_or_default().to_vec())
            .collect();
        assert_eq!(sent, expected);
    }

    #[tokio::test]
    async fn items_ready_after_the_window_go_in_the_next_chunk() {
        let (mut body, _) = streaming_from(Body::from_stream(stream::iter(items(&[1; 200]))), 999);
        body.merge_window = Duration::ZERO;
        let (data, _) = frames(body).await;
        assert_eq!(
            data.iter().map(Bytes::len).collect::<Vec<_>>(),
            [64, 64, 64, 8],
            "the clock is read every 64 items"
        );
    }

    #[tokio::test]
    async fn an_item_that_would_overfill_the_chunk_starts_the_next() {
        let small = MERGE_BELOW - 1;
        let (data, _) = frames(streaming(
            items(&[10, small, small, small, small, 3]),
            u64::MAX,
        ))
        .await;
        let lens: Vec<usize> = data.iter().map(Bytes::len).collect();
        assert_eq!(lens, [10 + 3 * small, small + 3]);
    }

    #[tokio::test]
    async fn an_error_met_while_merging_follows_the_merged_items() {
        let mut items = items(&[5, 6]);
        items.push(Err(FunctionError::new(
            ErrorType::new("Function.Gone").unwrap(),
            "x",
        )));
        items.extend(super::tests::items(&[7]));
        let (data, trailer) = frames(streaming(items, u64::MAX)).await;
        assert_eq!(data, [Bytes::from("aaaaabbbbbb")]);
        assert_eq!(trailer.as_deref(), Some("Function.Gone"));
    }

    #[tokio::test]
    async fn a_panic_met_while_merging_follows_the_merged_items() {
        let body = Body::from_stream(stream::iter(0..3).map(|i| {
            if i == 2 {
                panic!("broken generator");
            }
            Ok::<_, std::io::Error>(Bytes::from("ok"))
        }));
        let (data, trailer) = frames(streaming_from(body, u64::MAX).0).await;
        assert_eq!(data, [Bytes::from("okok")]);
        assert_eq!(trailer.as_deref(), Some(ErrorType::PANIC.as_str()));
    }

    #[tokio::test]
    async fn a_budget_cut_while_merging_keeps_whole_items_and_counts_them() {
        // 2 bytes of prelude + 8 of delimiter + three 10-byte items = 40; the fourth is cut.
        let (body, report) = streaming_from(Body::from_stream(stream::iter(items(&[10; 6]))), 45);
        let (data, trailer) = frames(body).await;
        assert_eq!(data.iter().map(Bytes::len).collect::<Vec<_>>(), [30]);
        assert_eq!(
            trailer.as_deref(),
            Some(ErrorType::RESPONSE_SIZE_TOO_LARGE.as_str())
        );
        let report = report.await.unwrap();
        // One data frame holding three records (the stats count both).
        assert_eq!(
            (
                report.chunks,
                report.records,
                report.body_bytes,
                report.wire_bytes
            ),
            (1, 3, 30, 40)
        );
    }

    #[tokio::test]
    async fn merging_never_waits_for_an_item_that_is_not_ready() {
        let ready = stream::iter(items(&[4, 4]));
        let body = Body::from_stream(ready.chain(stream::pending()));
        let (mut body, _) = streaming_from(body, u64::MAX);
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut poll = || match http_body::Body::poll_frame(Pin::new(&mut body), &mut cx) {
            Poll::Ready(Some(Ok(frame))) => frame.into_data().ok(),
            _ => None,
        };
        assert_eq!(poll().as_deref(), Some(&b"{}"[..]));
        assert_eq!(poll().as_deref(), Some(&PRELUDE_DELIMITER[..]));
        assert_eq!(poll().as_deref(), Some(&b"aaaabbbb"[..]));
        assert_eq!(poll(), None, "pending, not held");
    }

    /// A body of records of `sizes`, coalesced into chunks of up to 64 KiB or not, closed by a
    /// cursor continuation (`#<records sent>` padded to the reserve).
    fn records_body(sizes: &[usize], coalesce: bool, reserve: usize) -> Body {
        let body = Body::from_stream(stream::iter(items(sizes)));
        let body = if coalesce {
            body.coalesce(crate::Coalesce {
                max_bytes: MERGE_BYTES,
                max_delay: Duration::from_secs(3600),
            })
        } else {
            body
        };
        body.with_continuation(reserve, move |cut: &Truncation| {
            Bytes::from(format!("#{:0>width$}", cut.items_sent, width = reserve - 1))
        })
    }

    #[tokio::test]
    async fn a_small_budget_cuts_a_coalesced_export_on_a_record_not_on_its_chunk() {
        // ~80-byte rows merged into 64 KiB chunks, as `examples/export_ndjson` does.
        let sizes = vec![80; 5000];
        for (budget, rows) in [(10_000, 124), (70_000, 874), (100_000, 1249)] {
            let (body, report) = streaming_from(records_body(&sizes, true, 64), budget);
            let (data, trailer) = frames(body).await;
            let sent: Vec<u8> = data.concat();
            let cursor = String::from_utf8_lossy(&sent[sent.len() - 64..]).into_owned();
            assert_eq!(trailer, None, "{budget}: ends with the continuation");
            assert_eq!(cursor, format!("#{rows:0>63}"), "{budget}");
            assert_eq!(
                sent.len(),
                rows * 80 + 64,
                "{budget}: whole rows, then the cursor"
            );
            let report = report.await.unwrap();
            assert!(report.wire_bytes <= budget);
            assert_eq!(report.records, rows as u64);
        }
    }

    #[tokio::test]
    async fn a_budget_that_cannot_hold_the_head_and_the_reserve_is_refused_up_front() {
        let limits = StreamLimits {
            budget: Budget::bytes(70),
            end_by: None,
            bandwidth: BandwidthModel::UNLIMITED,
        };
        // 2 bytes of prelude + 8 of delimiter + 64 reserved = 74 > 70.
        let body = records_body(&[10], false, 64);
        let refused = StreamingBody::new(Bytes::from_static(b"{}"), Vec::new(), body, limits);
        let error = refused.err().expect("refused");
        assert_eq!(
            error,
            BudgetTooSmall {
                limit: 70,
                head: 10,
                reserve: 64
            }
        );
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        #[test]
        fn budgets_are_record_precise(
            sizes in proptest::collection::vec(1usize..3000, 1..300),
            budget in 0u64..200_000,
            coalesce in proptest::bool::ANY,
            reserve in 8usize..80,
        ) {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
            let head = 10u64;
            let limits = StreamLimits {
                budget: Budget::bytes(budget),
                end_by: None,
                bandwidth: BandwidthModel::UNLIMITED,
            };
            let body = records_body(&sizes, coalesce, reserve);
            let built = StreamingBody::new(Bytes::from_static(b"{}"), Vec::new(), body, limits);
            let Ok((mut body, report)) = built else {
                proptest::prop_assert!(head + reserve as u64 > budget, "refused only when too small");
                return Ok(());
            };
            body.merge_window = Duration::from_secs(3600);
            let (data, _) = runtime.block_on(frames(body));
            let report = runtime.block_on(report).unwrap();
            let sent: u64 = data.iter().map(|d| d.len() as u64).sum();
            proptest::prop_assert!(report.wire_bytes <= budget, "over budget");
            proptest::prop_assert_eq!(report.wire_bytes, head + sent);
            let total: u64 = sizes.iter().map(|&n| n as u64).sum();
            if report.records < sizes.len() as u64 {
                // Cut: the records sent are exactly the first ones, and the next would not fit.
                let kept: u64 = sizes[..report.records as usize].iter().map(|&n| n as u64).sum();
                proptest::prop_assert_eq!(sent, kept + reserve as u64);
                let next = sizes[report.records as usize] as u64;
                proptest::prop_assert!(head + kept + next + reserve as u64 > budget, "a record that fit was dropped");
                proptest::prop_assert!(budget - report.wire_bytes < next + reserve as u64);
                if head + sizes[0] as u64 + reserve as u64 <= budget {
                    proptest::prop_assert!(report.records >= 1, "the cursor must advance");
                }
            } else {
                proptest::prop_assert_eq!(sent, total);
            }
        }
    }
}
