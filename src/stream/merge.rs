//! The one way items are merged: small chunks that are ready behind the one in hand travel with
//! it, whole, up to a size. Used by the streamed response (items into 64 KiB chunks), the
//! compressor (items into one flush), [`Body::coalesce`](crate::Body::coalesce) (which also
//! waits a little for items that are not ready yet) and the emulator's relay (frames into one
//! client write).
//!
//! Nothing waits for an item that is not ready unless the limits say so
//! ([`MergeLimits::wait_for_more`]); an end met while merging (the source's end, its error, a
//! budget cut) is kept until the merged chunk has gone.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::time::Sleep;

use super::ready::ReadyWindow;
use crate::body::{Chunk, ChunkBuilder};

/// Where a merge takes its chunks from: the next chunk (each holding whole records), a
/// `Ready(None)` at the end, or how the source ended otherwise (an error, a cut). The caller
/// owns the source and hands it to each poll, so the source is never hidden inside the merge.
pub(crate) type PollChunk<E> = Poll<Option<Result<Chunk, E>>>;

/// How chunks are merged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct MergeLimits {
    /// A chunk this large goes alone (when it comes first) or starts the next merge.
    pub(crate) merge_below: usize,
    /// A merge never grows past this; an item that would overfill it starts the next one.
    pub(crate) max_bytes: usize,
    /// How long the first merged item may wait for the ones behind it.
    pub(crate) window: Duration,
    /// Whether to wait (up to `window`) for items that are not ready yet, instead of sending
    /// what is gathered as soon as the source is not ready.
    pub(crate) wait_for_more: bool,
}

/// What a merge stopped on, kept for the next poll.
enum Pending<E> {
    Nothing,
    /// A chunk too large to join the merge, or that would have overfilled it.
    Chunk(Chunk),
    /// The source's end (`None`: complete), after the merged chunk.
    End(Option<E>),
    Finished,
}

/// Merges what a source has ready; the source is handed to each poll.
pub(crate) struct MergeReady<E> {
    limits: MergeLimits,
    pending: Pending<E>,
    gathered: ChunkBuilder,
    /// When waiting for more: fires when the first gathered item has waited `window`.
    timer: Option<Pin<Box<Sleep>>>,
}

impl<E> MergeReady<E> {
    pub(crate) fn new(limits: MergeLimits) -> Self {
        MergeReady {
            limits,
            pending: Pending::Nothing,
            gathered: ChunkBuilder::default(),
            timer: None,
        }
    }

    #[cfg_attr(
        not(any(feature = "emulator", feature = "compression")),
        allow(dead_code, reason = "only the relay and the compressor cap merges")
    )]
    /// Caps the next merges at `max_bytes` (a budget's room, a compressor's allowance).
    pub(crate) fn set_max_bytes(&mut self, max_bytes: usize) {
        self.limits.max_bytes = max_bytes;
    }

    /// Lets the next merges wait `window` for the items behind their first.
    #[cfg(test)]
    pub(crate) fn set_window(&mut self, window: Duration) {
        self.limits.window = window;
    }

    #[cfg_attr(
        not(feature = "compression"),
        allow(dead_code, reason = "only the compressor ends early")
    )]
    /// Whether the source was met complete while merging: the next poll ends.
    pub(crate) fn completes_next(&self) -> bool {
        matches!(self.pending, Pending::End(None))
    }

    /// The next chunk: the one in hand with what is ready behind it, polled from `source`.
    pub(crate) fn poll_merged(
        &mut self,
        cx: &mut Context<'_>,
        mut source: impl FnMut(&mut Context<'_>) -> PollChunk<E>,
    ) -> PollChunk<E> {
        if self.gathered.is_empty() {
            let first = self.take_pending(cx, &mut source);
            if let Some(answer) = self.begin(first) {
                return answer;
            }
        }
        self.gather(cx, source)
    }

    /// A merge's first chunk: the answer when it goes alone (it is large) or is an end, else
    /// `None` and it is gathered.
    fn begin(&mut self, first: PollChunk<E>) -> Option<PollChunk<E>> {
        let first = match first {
            Poll::Ready(Some(Ok(first))) => first,
            other => return Some(other),
        };
        if self.goes_alone(first.len()) {
            return Some(Poll::Ready(Some(Ok(first))));
        }
        self.gathered.push(first);
        None
    }

    /// Whether a merge's first chunk of `len` bytes goes alone, with nothing merged behind it.
    fn goes_alone(&self, len: usize) -> bool {
        len >= self.limits.merge_below.min(self.limits.max_bytes)
    }

    /// The chunk or end kept from the last merge, else the source's next.
    fn take_pending(
        &mut self,
        cx: &mut Context<'_>,
        source: &mut impl FnMut(&mut Context<'_>) -> PollChunk<E>,
    ) -> PollChunk<E> {
        match std::mem::replace(&mut self.pending, Pending::Nothing) {
            Pending::Nothing => {
                let polled = source(cx);
                if let Poll::Ready(None | Some(Err(_))) = polled {
                    self.pending = Pending::Finished;
                }
                polled
            }
            Pending::Chunk(chunk) => Poll::Ready(Some(Ok(chunk))),
            Pending::End(end) => {
                self.pending = Pending::Finished;
                Poll::Ready(end.map(Err))
            }
            Pending::Finished => {
                self.pending = Pending::Finished;
                Poll::Ready(None)
            }
        }
    }

    /// Adds the chunks ready behind the first, until the merge is full, its window has passed,
    /// the source is not ready (then waits for more if the limits say so) or it ends.
    fn gather(
        &mut self,
        cx: &mut Context<'_>,
        mut source: impl FnMut(&mut Context<'_>) -> PollChunk<E>,
    ) -> PollChunk<E> {
        let mut window = ReadyWindow::start(self.limits.window);
        while self.gathered.len() < self.limits.max_bytes && window.open() {
            let end = match source(cx) {
                Poll::Ready(Some(Ok(chunk))) => {
                    if chunk.len() >= self.limits.merge_below
                        || self.gathered.len() + chunk.len() > self.limits.max_bytes
                    {
                        self.pending = Pending::Chunk(chunk);
                        break;
                    }
                    window.joined(chunk.len());
                    self.gathered.push(chunk);
                    continue;
                }
                Poll::Ready(Some(Err(end))) => Poll::Ready(Some(end)),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
            match self.stop(cx, end) {
                Some(waiting) => return waiting,
                None => break,
            }
        }
        Poll::Ready(Some(Ok(self.take_gathered())))
    }

    /// The source ended (`Ready(Some(error))`, `Ready(None)`: complete) or is not ready: the
    /// end is kept for after the merged chunk. `Some` when the merge waits for more instead.
    fn stop(&mut self, cx: &mut Context<'_>, end: Poll<Option<E>>) -> Option<PollChunk<E>> {
        match end {
            Poll::Ready(end) => {
                self.pending = Pending::End(end);
                None
            }
            Poll::Pending if self.limits.wait_for_more => Some(self.wait(cx)),
            Poll::Pending => None,
        }
    }

    /// Like [`poll_merged`](Self::poll_merged), for a source that writes its next record
    /// straight into the merge (`Ready(Some(Ok(())))` once written) instead of handing over a
    /// chunk: the same limits and order, with no buffer and no copy per record.
    pub(crate) fn poll_written(
        &mut self,
        cx: &mut Context<'_>,
        mut write_next: impl FnMut(&mut Context<'_>, &mut ChunkBuilder) -> Poll<Option<Result<(), E>>>,
    ) -> PollChunk<E> {
        if self.gathered.is_empty() {
            if matches!(self.pending, Pending::Nothing) {
                if let Some(alone) = self.write_first(cx, &mut write_next) {
                    return alone;
                }
            } else {
                // A record taken back out of the last merge, or the end kept after it.
                let first = self.take_pending(cx, &mut |_| Poll::Pending);
                if let Some(answer) = self.begin(first) {
                    return answer;
                }
            }
        }
        self.gather_written(cx, write_next)
    }

    /// Writes a merge's first record: what to answer instead of merging behind it, if anything
    /// (the record alone when it is large, the source's end, or not ready).
    fn write_first(
        &mut self,
        cx: &mut Context<'_>,
        write_next: &mut impl FnMut(&mut Context<'_>, &mut ChunkBuilder) -> Poll<Option<Result<(), E>>>,
    ) -> Option<PollChunk<E>> {
        loop {
            match write_next(cx, &mut self.gathered) {
                // An empty record: nothing gathered yet.
                Poll::Ready(Some(Ok(()))) if self.gathered.is_empty() => continue,
                Poll::Ready(Some(Ok(()))) => {
                    return self
                        .goes_alone(self.gathered.len())
                        .then(|| Poll::Ready(Some(Ok(self.take_gathered()))));
                }
                Poll::Ready(Some(Err(error))) => {
                    self.pending = Pending::Finished;
                    return Some(Poll::Ready(Some(Err(error))));
                }
                Poll::Ready(None) => {
                    self.pending = Pending::Finished;
                    return Some(Poll::Ready(None));
                }
                Poll::Pending => return Some(Poll::Pending),
            }
        }
    }

    /// Writes the records ready behind the first, until the merge is full (a record that
    /// overfills it, or is large, is taken back out to start the next one), its window has
    /// passed, the source is not ready or it ends.
    fn gather_written(
        &mut self,
        cx: &mut Context<'_>,
        mut write_next: impl FnMut(&mut Context<'_>, &mut ChunkBuilder) -> Poll<Option<Result<(), E>>>,
    ) -> PollChunk<E> {
        let mut window = ReadyWindow::start(self.limits.window);
        while self.gathered.len() < self.limits.max_bytes && window.open() {
            let before = self.gathered.len();
            let end = match write_next(cx, &mut self.gathered) {
                Poll::Ready(Some(Ok(()))) => {
                    let written = self.gathered.len() - before;
                    if written > 0
                        && (written >= self.limits.merge_below
                            || self.gathered.len() > self.limits.max_bytes)
                    {
                        self.pending = self
                            .gathered
                            .take_last_record()
                            .map_or(Pending::Nothing, Pending::Chunk);
                        break;
                    }
                    window.joined(written);
                    continue;
                }
                Poll::Ready(Some(Err(error))) => Poll::Ready(Some(error)),
                Poll::Ready(None) => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            };
            match self.stop(cx, end) {
                Some(waiting) => return waiting,
                None => break,
            }
        }
        Poll::Ready(Some(Ok(self.take_gathered())))
    }

    /// Nothing more is ready: send what is gathered once the first of it has waited `window`.
    fn wait(&mut self, cx: &mut Context<'_>) -> PollChunk<E> {
        let window = self.limits.window;
        let timer = self
            .timer
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(window)));
        if timer.as_mut().poll(cx).is_pending() {
            return Poll::Pending;
        }
        Poll::Ready(Some(Ok(self.take_gathered())))
    }

    fn take_gathered(&mut self) -> Chunk {
        self.timer = None;
        self.gathered.take()
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use futures_util::{StreamExt, stream};

    use super::*;
    use crate::body::Body;
    use crate::wire::{ErrorType, FunctionError};

    const READY: MergeLimits = MergeLimits {
        merge_below: 8,
        max_bytes: 20,
        window: Duration::from_secs(3600),
        wait_for_more: false,
    };

    fn body(sizes: &[usize]) -> Body {
        let items: Vec<_> = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| Ok::<_, FunctionError>(Bytes::from(vec![b'a' + i as u8; n])))
            .collect();
        Body::from_stream(stream::iter(items))
    }

    /// A body and its merge, polled together.
    struct Merging {
        merge: MergeReady<FunctionError>,
        body: Body,
    }

    impl Merging {
        fn new(body: Body, limits: MergeLimits) -> Self {
            Merging {
                merge: MergeReady::new(limits),
                body,
            }
        }

        fn poll(&mut self, cx: &mut Context<'_>) -> PollChunk<FunctionError> {
            let body = &mut self.body;
            self.merge.poll_merged(cx, |cx| body.poll_chunk(cx))
        }

        async fn next(&mut self) -> Option<Result<Chunk, FunctionError>> {
            std::future::poll_fn(|cx| self.poll(cx)).await
        }
    }

    /// Merged chunk lengths and records, and the error that ended the source, if any.
    async fn merged(body: Body, limits: MergeLimits) -> (Vec<(usize, u64)>, Option<String>) {
        let mut merge = Merging::new(body, limits);
        let mut chunks = Vec::new();
        loop {
            match merge.next().await {
                Some(Ok(chunk)) => chunks.push((chunk.len(), chunk.records())),
                Some(Err(error)) => return (chunks, Some(error.message().to_owned())),
                None => return (chunks, None),
            }
        }
    }

    #[tokio::test]
    async fn small_ready_chunks_merge_whole_and_large_ones_go_alone() {
        let (chunks, end) = merged(body(&[3, 3, 9, 5, 7, 7, 7, 2]), READY).await;
        // 3+3 stop at the 9 (too large to join); 5+7+7 = 19, the next 7 would overfill.
        assert_eq!(chunks, [(6, 2), (9, 1), (19, 3), (9, 2)]);
        assert_eq!(end, None);
    }

    #[tokio::test]
    async fn an_end_met_while_merging_follows_the_merged_chunk() {
        let items = [Ok(Bytes::from("ab")), Ok(Bytes::from("cd"))]
            .into_iter()
            .chain([Err(FunctionError::new(ErrorType::STREAM_ERROR, "gone"))])
            .chain([Ok(Bytes::from("never"))]);
        let (chunks, end) = merged(Body::from_stream(stream::iter(items)), READY).await;
        assert_eq!(chunks, [(4, 2)]);
        assert_eq!(end.as_deref(), Some("gone"));
    }

    #[tokio::test]
    async fn nothing_waits_for_an_item_that_is_not_ready() {
        let ready = stream::iter([Ok::<_, FunctionError>("ab"), Ok("cd")]);
        let body = Body::from_stream(ready.chain(stream::pending()));
        let mut merge = Merging::new(body, READY);
        let first = merge.next().await;
        assert_eq!(
            first.map(|c| c.map(Chunk::into_data)),
            Some(Ok("abcd".into()))
        );
        let waker = futures_util::task::noop_waker();
        let mut cx = Context::from_waker(&waker);
        assert!(merge.poll(&mut cx).is_pending());
    }

    #[tokio::test(start_paused = true)]
    async fn waiting_for_more_holds_no_byte_past_the_window() {
        let early = stream::iter([Ok::<_, FunctionError>("a"), Ok("b")]);
        let late = stream::once(async {
            tokio::time::sleep(Duration::from_secs(10)).await;
            Ok("late")
        });
        let limits = MergeLimits {
            window: Duration::from_millis(50),
            wait_for_more: true,
            ..READY
        };
        let mut merge = Merging::new(Body::from_stream(early.chain(late)), limits);
        let start = tokio::time::Instant::now();
        let first = merge.next().await;
        assert_eq!(
            first.map(|c| c.map(Chunk::into_data)),
            Some(Ok("ab".into()))
        );
        assert_eq!(start.elapsed(), Duration::from_millis(50));
        let second = merge.next().await;
        assert_eq!(
            second.map(|c| c.map(Chunk::into_data)),
            Some(Ok("late".into()))
        );
        assert!(merge.next().await.is_none());
    }

    #[tokio::test]
    async fn a_lower_cap_applies_to_the_next_merge() {
        let mut merge = Merging::new(body(&[2, 2, 2, 2]), READY);
        merge.merge.set_max_bytes(5);
        let first = merge.next().await;
        assert_eq!(first.map(|c| c.map(|c| c.len())), Some(Ok(4)));
    }

    proptest::proptest! {
        #[test]
        fn merging_keeps_every_byte_and_record_in_order(
            sizes in proptest::collection::vec(1usize..40, 0..60),
            merge_below in 1usize..30,
            max_bytes in 1usize..64,
        ) {
            let limits = MergeLimits { merge_below, max_bytes, ..READY };
            let runtime = tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap();
            let (chunks, end) = runtime.block_on(merged(body(&sizes), limits));
            proptest::prop_assert_eq!(end, None);
            let records: u64 = chunks.iter().map(|c| c.1).sum();
            proptest::prop_assert_eq!(records, sizes.len() as u64);
            let mut merge = Merging::new(body(&sizes), limits);
            let mut data = Vec::new();
            while let Some(Ok(chunk)) = runtime.block_on(merge.next()) {
                data.extend_from_slice(&chunk.into_data());
            }
            let expected: Vec<u8> = sizes.iter().enumerate().flat_map(|(i, &n)| vec![b'a' + i as u8; n]).collect();
            proptest::prop_assert_eq!(data, expected);
            for &(len, records) in &chunks {
                proptest::prop_assert!(len <= max_bytes || records == 1, "only a lone chunk may be over");
            }
        }
    }
}
