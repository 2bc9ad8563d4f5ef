//! Request bodies sent to the Runtime API, above all the streamed response: prelude JSON as one
//! chunk, the eight NULs as the next, then the body chunks, then real trailer fields on error.
//!
//! The streamed response is a stack of small stages, each with one job:
//!
//! ```text
//! handler's Body (chunks that know their records)
//!   -> Limited      the StreamPolicy admits each chunk whole, or its leading records, or cuts;
//!                   a panic becomes an error; counts bytes and records let through
//!   -> MergeReady   small chunks already ready behind one travel with it (up to 64 KiB)
//!   -> StreamingBody  head frames, the FlushRule's give-way, the continuation or the error
//!                   trailer at a cut, the report
//! ```
//!
//! Every item is sent as soon as it is ready; small items (under [`MERGE_BELOW`]) that are
//! *already* ready behind it travel in the same chunk (up to [`MERGE_BYTES`]). Nothing waits
//! for an item that is not ready, so latency is unchanged, while a stream of tiny items no
//! longer costs a write and a wake-up per item on each hop (chunk boundaries mean nothing to a
//! reader; only the prelude and the NULs keep chunks of their own, for `cargo lambda watch`).

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
#[cfg(test)]
use std::time::Duration;
use std::time::Instant;

use bytes::Bytes;
use http_body::Frame;
use tokio::sync::oneshot;

use super::flush::FlushRule;
use super::limit::{Limited, StreamEnd};
use super::outcome::Outcome;
use super::per_response::PerResponse;
use super::policy::{BandwidthModel, Budget, StreamPolicy};
use super::source::Source;
use crate::body::{Body, TruncationReason};
use crate::body::{Chunk, Continuation};
use crate::stream::merge::{MergeLimits, MergeReady};
use crate::stream::ready::MERGE_WINDOW;
use crate::wire::{ErrorType, FunctionError, PRELUDE_DELIMITER};

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
/// Smaller ready items are merged into one chunk of up to this size (`benches/bench_e2e.rs`
/// end to end: 1 KiB and 4 KiB items ran ~25-40% faster than with 16 KiB chunks).
pub(crate) const MERGE_BYTES: usize = 64 * 1024;

/// How the streamed response merges the items that are ready.
pub(crate) const MERGE: MergeLimits = MergeLimits {
    merge_below: MERGE_BELOW,
    max_bytes: MERGE_BYTES,
    window: MERGE_WINDOW,
    wait_for_more: false,
};

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

/// The limits a stream runs under.
pub(crate) struct StreamLimits {
    pub(crate) budget: Budget,
    /// When to end cleanly: the deadline less the safety margin.
    pub(crate) end_by: Option<tokio::time::Instant>,
    pub(crate) bandwidth: BandwidthModel,
}

impl StreamLimits {
    /// The policy a response runs under, streamed or buffered alike: the head the stream
    /// carries (`prelude` and the 8-byte delimiter) is counted first, as Lambda counts it, and
    /// the closing's reserve kept (the continuation's, or what it takes once compressed); a
    /// response with a continuation gets no budget warning, and its reader's pace is measured.
    ///
    /// # Errors
    /// [`BudgetTooSmall`] when the budget cannot hold the head and the closing's reserve.
    pub(crate) fn policy(
        &self,
        prelude: &[u8],
        ending: &PerResponse,
    ) -> Result<StreamPolicy, BudgetTooSmall> {
        let continued = ending.continuation.is_some();
        // A response with a continuation fills its budget by design: it is not warned about.
        let budget = match continued {
            true => self.budget.without_warning(),
            false => self.budget,
        };
        let mut policy = StreamPolicy::new(budget, self.bandwidth, self.end_by);
        if continued {
            // Its link must reach the reader, however slow: the policy measures it.
            policy = policy.measuring_the_reader();
        }
        let reserve = ending.reserve();
        policy.reserve(reserve);
        let head = (prelude.len() + PRELUDE_DELIMITER.len()) as u64;
        if policy.charge_head(head).is_err() {
            return Err(BudgetTooSmall {
                limit: self.budget.limit(),
                head,
                reserve,
            });
        }
        Ok(policy)
    }
}

/// The response head's two frames, sent before the body.
enum HeadFrames {
    Prelude(Bytes),
    Delimiter,
    Sent,
}

/// The body of `POST .../response` in streaming mode: the head's frames, then the handler's
/// body, limited ([`Limited`]) and merged ([`MergeReady`]), giving way to the connection by the
/// [`FlushRule`], ended by the continuation or real trailers.
pub(crate) struct StreamingBody {
    head: HeadFrames,
    limited: Limited,
    merge: MergeReady<StreamEnd>,
    continuation: Option<Continuation>,
    closing_bytes: u64,
    done: bool,
    chunks: u64,
    first_byte_at: Option<Instant>,
    flush: FlushRule,
    report: Option<oneshot::Sender<StreamReport>>,
}

impl StreamingBody {
    /// `held` are the body's first items, taken before the head was committed; `ending` what
    /// the response's extensions say about its end.
    ///
    /// # Errors
    /// [`BudgetTooSmall`] when the budget cannot hold the head and the continuation's reserve.
    pub(crate) fn new(
        prelude: Bytes,
        held: Vec<Chunk>,
        body: Body,
        ending: PerResponse,
        limits: StreamLimits,
    ) -> Result<(Self, oneshot::Receiver<StreamReport>), BudgetTooSmall> {
        let (tx, rx) = oneshot::channel();
        let policy = limits.policy(&prelude, &ending)?;
        let source = Source::for_response(held, body, &ending);
        let streaming = StreamingBody {
            head: HeadFrames::Prelude(prelude),
            limited: Limited::new(source, policy),
            merge: MergeReady::new(MERGE),
            continuation: ending.continuation,
            closing_bytes: 0,
            done: false,
            chunks: 0,
            first_byte_at: None,
            flush: FlushRule::new(tokio::time::Instant::now()),
            report: Some(tx),
        };
        Ok((streaming, rx))
    }

    /// Lets merges wait this long for ready items (tests pin it so merges do not depend on the
    /// machine's speed).
    #[cfg(test)]
    fn set_merge_window(&mut self, window: Duration) {
        self.merge.set_window(window);
    }

    /// Whether its policy measures the reader, counting on at most
    /// [`MOST_ON_THE_WAY`](super::in_flight::MOST_ON_THE_WAY) bytes on their way to the Runtime
    /// API: the connection must keep what it holds unsent within that.
    pub(crate) fn bounds_what_is_on_its_way(&self) -> bool {
        self.limited.policy().measures_the_reader()
    }

    /// Hands a chunk (one or more counted records, or the closing) to the connection at `now`.
    fn emit(
        &mut self,
        chunk: Bytes,
        now: tokio::time::Instant,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.first_byte_at.get_or_insert_with(Instant::now);
        let len = chunk.len() as u64;
        self.limited.policy_mut().taken(now, len);
        self.flush.handed_over();
        self.chunks += 1;
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn finish(&mut self, end: Outcome) {
        self.limited.close();
        self.done = true;
        if let Some(report) = self.report.take() {
            let limited = &self.limited;
            let _ = report.send(StreamReport {
                wire_bytes: limited.policy().meter().used(),
                body_bytes: limited.body_bytes() + self.closing_bytes,
                chunks: self.chunks,
                records: limited.records(),
                first_byte_at: self.first_byte_at,
                budget_warned: limited.policy().meter().warned(),
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
    fn cut(
        &mut self,
        cx: &mut Context<'_>,
        reason: TruncationReason,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(closing) = self.closing(cx, reason) {
            self.closing_bytes = closing.len() as u64;
            let frame = self.emit(closing, tokio::time::Instant::now());
            self.finish(Outcome::Truncated {
                reason,
                continued: true,
            });
            return frame;
        }
        let error = self.cut_error(reason);
        let trailers = error.to_trailers();
        self.finish(Outcome::Truncated {
            reason,
            continued: false,
        });
        Poll::Ready(Some(Ok(Frame::trailers(trailers))))
    }

    /// The continuation's bytes, counted, if there is one and it fits.
    fn closing(&mut self, cx: &mut Context<'_>, reason: TruncationReason) -> Option<Bytes> {
        let continuation = self.continuation.take()?;
        self.limited.closing(cx, continuation, reason)
    }

    fn cut_error(&self, reason: TruncationReason) -> FunctionError {
        let limited = &self.limited;
        let body_bytes = limited.body_bytes();
        match reason {
            TruncationReason::Budget => FunctionError::new(
                ErrorType::RESPONSE_SIZE_TOO_LARGE,
                format!(
                    "the response reached its {}-byte budget after {body_bytes} body bytes \
                     and was cut after its last whole record; to page it, end the body with a \
                     continuation (the response extension lambda_stream::Continuation)",
                    limited.policy().meter().budget().limit(),
                ),
            ),
            TruncationReason::Deadline => FunctionError::new(
                ErrorType::DEADLINE_EXCEEDED,
                format!(
                    "the stream was ended before the invocation deadline after {body_bytes} body \
                     bytes; to page it, end the body with a continuation (the response \
                     extension lambda_stream::Continuation)"
                ),
            ),
        }
    }

    /// The head's next frame, if it is not all sent.
    fn head_frame(&mut self) -> Option<Bytes> {
        match std::mem::replace(&mut self.head, HeadFrames::Sent) {
            HeadFrames::Prelude(prelude) => {
                self.head = HeadFrames::Delimiter;
                Some(prelude)
            }
            HeadFrames::Delimiter => Some(Bytes::from_static(&PRELUDE_DELIMITER)),
            HeadFrames::Sent => None,
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
        if let Some(frame) = this.head_frame() {
            return Poll::Ready(Some(Ok(Frame::data(frame))));
        }
        if this.done {
            return Poll::Ready(None);
        }
        let now = tokio::time::Instant::now();
        if this.flush.should_give_way(now) {
            // Pending, woken again once the worker has run what else is ready: hyper flushes
            // what it holds, and other tasks (the embedded emulator's relay) run first.
            super::flush::yield_to_others(cx);
            return Poll::Pending;
        }
        let limited = &mut this.limited;
        match this.merge.poll_merged(cx, |cx| limited.poll_chunk(cx, now)) {
            Poll::Ready(Some(Ok(chunk))) => this.emit(chunk.into_data(), now),
            Poll::Ready(Some(Err(StreamEnd::Failed(error)))) => this.fail(error),
            Poll::Ready(Some(Err(StreamEnd::Cut(reason)))) => this.cut(cx, reason),
            Poll::Ready(None) => {
                this.finish(Outcome::Complete);
                Poll::Ready(None)
            }
            Poll::Pending => {
                this.flush.gave_way(tokio::time::Instant::now());
                Poll::Pending
            }
        }
    }
}

/// Bodies and limits the streamed body's tests and the compressor's share.
#[cfg(test)]
pub(crate) mod test_exports {
    use std::time::Duration;

    use bytes::Bytes;
    use futures_util::stream;

    use super::{MERGE_BYTES, StreamLimits};
    use crate::body::{Body, Continuation, Truncation};
    use crate::stream::policy::{BandwidthModel, Budget};
    use crate::wire::FunctionError;

    /// Items of `sizes`, each filled with its index's letter.
    pub(crate) fn items(sizes: &[usize]) -> Vec<Result<Bytes, FunctionError>> {
        sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| Ok(Bytes::from(vec![b'a' + (i % 26) as u8; n])))
            .collect()
    }

    /// A body of records of `sizes`, coalesced into chunks of up to 64 KiB or not, and a
    /// cursor continuation (`#<records sent>` padded to the reserve).
    pub(crate) fn records_body(
        sizes: &[usize],
        coalesce: bool,
        reserve: usize,
    ) -> (Body, Continuation) {
        let body = Body::from_stream(stream::iter(items(sizes)));
        let body = if coalesce {
            body.coalesce(crate::stream::coalesce::Coalesce {
                max_bytes: MERGE_BYTES,
                max_delay: Duration::from_secs(3600),
            })
        } else {
            body
        };
        let continuation = Continuation::new(reserve, move |cut: &Truncation| {
            Bytes::from(format!(
                "#{:0>width$}",
                cut.records_sent,
                width = reserve - 1
            ))
        });
        (body, continuation)
    }

    /// A budget of `budget` bytes and nothing else: no deadline, no bandwidth cap.
    pub(crate) fn budget_only(budget: u64) -> StreamLimits {
        StreamLimits {
            budget: Budget::bytes(budget),
            end_by: None,
            bandwidth: BandwidthModel::UNLIMITED,
        }
    }
}

#[cfg(test)]
mod tests {
    use std::task::Poll;

    use bytes::Bytes;
    use futures_util::{StreamExt, stream};
    use http_body_util::BodyExt;

    use super::test_exports::{budget_only, items, records_body};
    use super::*;

    fn streaming(items: Vec<Result<Bytes, FunctionError>>, budget: u64) -> StreamingBody {
        streaming_from(Body::from_stream(stream::iter(items)), budget).0
    }

    fn streaming_from(body: Body, budget: u64) -> (StreamingBody, oneshot::Receiver<StreamReport>) {
        streaming_ended(body, PerResponse::default(), budget)
    }

    /// `body` streamed under `limits`, with no continuation.
    fn streaming_under(
        body: Body,
        limits: StreamLimits,
    ) -> (StreamingBody, oneshot::Receiver<StreamReport>) {
        StreamingBody::new(
            Bytes::from_static(b"{}"),
            Vec::new(),
            body,
            PerResponse::default(),
            limits,
        )
        .unwrap()
    }

    fn streaming_ended(
        body: Body,
        ending: PerResponse,
        budget: u64,
    ) -> (StreamingBody, oneshot::Receiver<StreamReport>) {
        let limits = budget_only(budget);
        let (mut body, report) =
            StreamingBody::new(Bytes::from_static(b"{}"), Vec::new(), body, ending, limits)
                .unwrap();
        // What is merged must not depend on how fast this machine runs the test.
        body.set_merge_window(Duration::from_secs(3600));
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
        body.set_merge_window(Duration::ZERO);
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

    /// An always-ready producer (work done inside `poll_next`) is not written into hyper's
    /// buffer item after item: the body gives way (returns `Pending`, so hyper flushes) after
    /// the first data and then whenever data was handed over a millisecond ago or more.
    #[tokio::test(start_paused = true)]
    async fn an_always_ready_body_gives_way_so_the_connection_flushes() {
        let body = Body::from_stream(stream::iter(items(&[MERGE_BELOW; 6])));
        let (mut body, _) = streaming_from(body, u64::MAX);
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        let mut poll = || match http_body::Body::poll_frame(Pin::new(&mut body), &mut cx) {
            Poll::Ready(Some(Ok(frame))) => Some(frame.into_data().unwrap()[0]),
            Poll::Ready(other) => panic!("ended early: {other:?}"),
            Poll::Pending => None,
        };
        assert_eq!(poll(), Some(b'{'));
        assert_eq!(poll(), Some(0), "the delimiter");
        assert_eq!(poll(), Some(b'a'));
        assert_eq!(poll(), None, "the first data goes out at once");
        assert_eq!(poll(), Some(b'b'));
        assert_eq!(
            poll(),
            Some(b'c'),
            "handed over less than a millisecond ago"
        );
        tokio::time::advance(crate::stream::flush::MAX_READY).await;
        assert_eq!(poll(), None, "ready for a millisecond: gives way");
        assert_eq!(poll(), Some(b'd'));
    }

    #[tokio::test]
    async fn a_small_budget_cuts_a_coalesced_export_on_a_record_not_on_its_chunk() {
        // ~80-byte rows merged into 64 KiB chunks, as `examples/export_ndjson` does.
        let sizes = vec![80; 5000];
        for (budget, rows) in [(10_000, 124), (70_000, 874), (100_000, 1249)] {
            let (body, continuation) = records_body(&sizes, true, 64);
            let ending = PerResponse::continued(continuation);
            let (body, report) = streaming_ended(body, ending, budget);
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
        let limits = budget_only(70);
        // 2 bytes of prelude + 8 of delimiter + 64 reserved = 74 > 70.
        let (body, continuation) = records_body(&[10], false, 64);
        let ending = PerResponse::continued(continuation);
        let refused =
            StreamingBody::new(Bytes::from_static(b"{}"), Vec::new(), body, ending, limits);
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

    #[tokio::test(start_paused = true)]
    async fn a_stream_that_waits_is_cut_exactly_at_its_end_by_on_tokios_clock() {
        let start = tokio::time::Instant::now();
        let end_by = start + Duration::from_millis(1500);
        let limits = StreamLimits {
            budget: Budget::DEFAULT,
            end_by: Some(end_by),
            bandwidth: BandwidthModel::AWS,
        };
        let items = stream::iter(items(&[7])).chain(stream::pending());
        let body = Body::from_stream(items);
        let (body, report) = streaming_under(body, limits);
        let (data, trailer) = frames(body).await;
        assert_eq!(
            tokio::time::Instant::now(),
            end_by,
            "cut at the instant, not after"
        );
        assert_eq!(data, [Bytes::from("aaaaaaa")]);
        assert_eq!(
            trailer.as_deref(),
            Some(ErrorType::DEADLINE_EXCEEDED.as_str())
        );
        let report = report.await.unwrap();
        assert_eq!(
            report.end,
            Outcome::Truncated {
                reason: TruncationReason::Deadline,
                continued: false
            }
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_bandwidth_model_stops_what_could_not_be_sent_before_end_by() {
        // 10 bytes of head, then 10 B/s: ten 10-byte items take exactly 10 s at that rate.
        let start = tokio::time::Instant::now();
        let limits = StreamLimits {
            budget: Budget::DEFAULT,
            end_by: Some(start + Duration::from_secs(1)),
            bandwidth: BandwidthModel {
                burst_bytes: 30,
                bytes_per_second: 10,
            },
        };
        let body = Body::from_stream(stream::iter(items(&[10; 10])));
        let (mut body, report) = streaming_under(body, limits);
        body.set_merge_window(Duration::from_secs(3600));
        let (data, trailer) = frames(body).await;
        // Head 10 + two items fill the 30-byte burst; the third takes 1 s: on time; the fourth
        // would end after it.
        assert_eq!(data.concat().len(), 30);
        assert_eq!(
            trailer.as_deref(),
            Some(ErrorType::DEADLINE_EXCEEDED.as_str())
        );
        assert_eq!(report.await.unwrap().records, 3);
        assert_eq!(
            tokio::time::Instant::now(),
            start,
            "decided on the model, no waiting"
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
            let limits = budget_only(budget);
            let (body, continuation) = records_body(&sizes, coalesce, reserve);
            let ending = PerResponse::continued(continuation);
            let built =
                StreamingBody::new(Bytes::from_static(b"{}"), Vec::new(), body, ending, limits);
            let Ok((mut body, report)) = built else {
                proptest::prop_assert!(head + reserve as u64 > budget, "refused only when too small");
                return Ok(());
            };
            body.set_merge_window(Duration::from_secs(3600));
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
