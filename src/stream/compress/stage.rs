//! The compressing stage: the body's items merged as they are ready, compressed and flushed;
//! a cut body ended by the stage itself, with the compressed continuation and the epilogue.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::Bytes;
use futures_util::Stream;

use super::encoder::{Encoder, compression_error, worst_case};
use super::negotiate::Encoding;
use crate::body::{Body, Chunk, Continuation, Truncation, TruncationReason};
use crate::stream::budget_view::BudgetView;
use crate::stream::merge::{MergeLimits, MergeReady};
use crate::stream::ready::MERGE_WINDOW;
use crate::wire::FunctionError;

pub(super) fn compress_body(
    body: Body,
    encoding: Encoding,
    continuation: Option<Continuation>,
) -> (Body, BudgetView) {
    let closing_room = continuation.as_ref().map_or(0, |continuation| {
        worst_case(usize::try_from(continuation.reserve()).unwrap_or(usize::MAX))
    });
    let view = BudgetView::new(closing_room);
    let body = Body::from_stream(Compressing {
        merge: MergeReady::new(MERGE),
        body,
        encoder: Encoder::new(encoding),
        continuation,
        view: view.clone(),
        items: 0,
        last_record: None,
        raw_bytes: 0,
        finished: false,
    });
    (body, view)
}

/// Ready items are compressed together and flushed once, up to 16 KiB of input; only items
/// under 1 KiB wait for the ones behind them: a flush per larger item costs little, and zstd
/// compresses 4 KiB items faster one flush each (`benches/wire.rs`).
const MERGE: MergeLimits = MergeLimits {
    merge_below: 1024,
    max_bytes: 16 * 1024,
    window: MERGE_WINDOW,
    wait_for_more: false,
};

/// Compresses each item, with the items already ready behind it ([`MergeReady`]), and
/// flushes: what the client has is always decodable, and tiny items do not pay a flush (and
/// its bytes) each. A compressed item cannot be taken back (the encoder's state includes it),
/// so with a continuation the budget is checked *before* compressing: merges are capped at
/// what surely fits, and when the next item might not fit the stream ends itself with the
/// compressed continuation and the encoder's epilogue. Without one, an item the budget
/// refuses ends the body with the error trailer, as for any body.
struct Compressing {
    merge: MergeReady<FunctionError>,
    body: Body,
    encoder: Encoder,
    continuation: Option<Continuation>,
    view: BudgetView,
    items: u64,
    raw_bytes: u64,
    /// The last whole record compressed, for the continuation's cursor.
    last_record: Option<Bytes>,
    finished: bool,
}

impl Compressing {
    fn close_with_continuation(&mut self, continuation: Continuation) -> io::Result<Bytes> {
        let cut = Truncation {
            reason: TruncationReason::Budget,
            records_sent: self.items,
            body_bytes: self.raw_bytes,
            last_record: self.last_record.take(),
        };
        let raw = continuation.make(&cut).unwrap_or_default();
        let mut closing = self.encoder.item(&raw)?.to_vec();
        closing.extend_from_slice(&self.encoder.finish()?);
        Ok(Bytes::from(closing))
    }

    /// What the continuation may take once compressed, with the encoder's epilogue (the room
    /// the budget view announces).
    fn closing_room(&self) -> Option<u64> {
        self.continuation.as_ref()?;
        Some(self.view.closing_room())
    }

    /// Whether `raw` more input bytes might leave too little of `left` for the compressed
    /// continuation.
    fn might_not_fit(&self, raw: usize, left: u64) -> bool {
        self.closing_room()
            .is_some_and(|closing| worst_case(raw) + closing > left)
    }

    /// The most input bytes whose output surely leaves room in `left` for the compressed
    /// continuation.
    fn allowance(&self, left: u64) -> usize {
        let Some(closing) = self.closing_room() else {
            return MERGE.max_bytes;
        };
        let left = left.saturating_sub(closing + 64);
        // worst_case(raw) = raw + raw / 64 + 64 <= left + 64 when raw <= left * 64 / 65.
        usize::try_from(left.saturating_mul(64) / 65)
            .map_or(MERGE.max_bytes, |raw| raw.min(MERGE.max_bytes))
    }

    /// The budget cannot surely take all of `chunk`: as many leading whole records as it can,
    /// each split counted against what is left, then (if records remain) the continuation and
    /// the epilogue.
    fn cut(&mut self, mut chunk: Chunk) -> io::Result<Bytes> {
        let mut out = Vec::new();
        let mut left = self.view.remaining();
        loop {
            if !self.might_not_fit(chunk.len(), left) {
                out.extend_from_slice(&self.compress(chunk)?);
                return Ok(Bytes::from(out));
            }
            let allowance = self.allowance(left) as u64;
            let Some(head) = chunk.split_fitting(allowance, |_, record| record.len() as u64) else {
                break;
            };
            self.count(&head);
            self.encoder.write(&head.into_data())?;
            let flushed = self.encoder.flush()?;
            left = left.saturating_sub(flushed.len() as u64);
            out.extend_from_slice(&flushed);
        }
        self.finished = true;
        if let Some(continuation) = self.continuation.take() {
            out.extend_from_slice(&self.close_with_continuation(continuation)?);
        }
        Ok(Bytes::from(out))
    }

    fn count(&mut self, chunk: &Chunk) {
        self.items += chunk.records();
        self.raw_bytes += chunk.len() as u64;
        self.last_record = Some(chunk.last_record());
    }

    /// Compresses one merged chunk and flushes; when the body's end was met behind it, the
    /// flush is the epilogue.
    fn compress(&mut self, chunk: Chunk) -> io::Result<Bytes> {
        self.count(&chunk);
        self.encoder.write(&chunk.into_data())?;
        if self.merge.completes_next() {
            self.finished = true;
            return self.encoder.finish();
        }
        self.encoder.flush()
    }
}

impl Stream for Compressing {
    type Item = Result<Bytes, FunctionError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        if this.finished {
            return Poll::Ready(None);
        }
        let allowance = this.allowance(this.view.remaining());
        this.merge.set_max_bytes(allowance);
        let body = &mut this.body;
        let output = match ready!(this.merge.poll_merged(cx, |cx| body.poll_chunk(cx))) {
            Some(Ok(chunk)) => {
                if this.might_not_fit(chunk.len(), this.view.remaining()) {
                    this.cut(chunk)
                } else {
                    this.compress(chunk)
                }
            }
            Some(Err(error)) => {
                // An error ends the body: nothing after it is compressed or polled.
                this.finished = true;
                return Poll::Ready(Some(Err(error)));
            }
            None => {
                this.finished = true;
                this.encoder.finish()
            }
        };
        Poll::Ready(Some(output.map_err(compression_error)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::ErrorType;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn an_error_met_while_merging_follows_the_merged_items() {
        use futures_util::stream;
        use std::io::Read;
        let items = stream::iter([
            Ok(Bytes::from("first ")),
            Ok(Bytes::from("second")),
            Err(FunctionError::new(ErrorType::STREAM_ERROR, "db closed")),
            Ok(Bytes::from("never")),
        ]);
        let (body, _) = compress_body(Body::from_stream(items), Encoding::Gzip, None);
        let mut body = body.into_data_stream();
        let compressed = body.next().await.and_then(Result::ok).unwrap_or_default();
        let mut text = String::new();
        // A flushed, unfinished gzip member: read what it holds, then hit its missing end.
        let _ = flate2::read::GzDecoder::new(&compressed[..]).read_to_string(&mut text);
        assert_eq!(text, "first second");
        let error = body.next().await.and_then(Result::err);
        assert_eq!(
            error.map(|e| e.message().to_owned()).as_deref(),
            Some("db closed")
        );
        assert!(body.next().await.is_none());
    }

    /// Records of `sizes` (each filled with its index letter), coalesced or not, closed by a
    /// `#<records sent>` cursor padded to `reserve`, compressed with gzip, streamed under
    /// `budget`: the decoded text, whether the cursor closed it, and the wire bytes.
    fn compressed_export(
        sizes: &[usize],
        coalesce: bool,
        reserve: usize,
        budget: u64,
    ) -> Option<(Vec<u8>, u64)> {
        use crate::stream::test_exports::{budget_only, records_body};
        use crate::stream::{PerResponse, StreamingBody};
        use http_body_util::BodyExt;
        use std::io::Read;
        let (body, continuation) = records_body(sizes, coalesce, reserve);
        let limits = budget_only(budget);
        let (body, view) = compress_body(body, Encoding::Gzip, Some(continuation));
        let ending = PerResponse {
            continuation: None,
            view: Some(view),
        };
        let (streaming, report) =
            StreamingBody::new(Bytes::from_static(b"{}"), Vec::new(), body, ending, limits).ok()?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let collected = runtime
            .block_on(streaming.collect())
            .unwrap_or_else(|never| match never {});
        let wire = runtime.block_on(report).unwrap().wire_bytes;
        let compressed = collected.to_bytes();
        let mut text = Vec::new();
        // An export cut with an error trailer is an unfinished gzip member: read what it holds.
        let _ = flate2::read::GzDecoder::new(&compressed[10..]).read_to_end(&mut text);
        Some((text, wire))
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(48))]
        #[test]
        fn compressed_budgets_are_record_precise(
            sizes in proptest::collection::vec(1usize..3000, 1..120),
            budget in 0u64..120_000,
            coalesce in proptest::bool::ANY,
            reserve in 8usize..80,
        ) {
            let head = 10u64;
            let Some((text, wire)) = compressed_export(&sizes, coalesce, reserve, budget) else {
                // Too small: no room after the head for the continuation once compressed.
                proptest::prop_assert!(head + worst_case(reserve) > budget, "refused only when too small");
                return Ok(());
            };
            proptest::prop_assert!(wire <= budget, "over budget");
            let record = |i: usize| vec![b'a' + (i % 26) as u8; sizes[i]];
            let all: Vec<u8> = (0..sizes.len()).flat_map(record).collect();
            if text == all {
                return Ok(());
            }
            // Cut: whole leading records, then the cursor with their count.
            proptest::prop_assert!(text.len() >= reserve, "a cut export ends with its cursor");
            let (rows, cursor) = text.split_at(text.len() - reserve);
            let sent: usize = String::from_utf8_lossy(&cursor[1..]).parse().unwrap_or(usize::MAX);
            proptest::prop_assert!(sent < sizes.len());
            let expected: Vec<u8> = (0..sent).flat_map(record).collect();
            proptest::prop_assert_eq!(rows, &expected[..], "whole records only");
            let closing = worst_case(reserve);
            if head + worst_case(sizes[0]) + closing <= budget {
                proptest::prop_assert!(sent >= 1, "the cursor must advance");
            }
            let unused = budget - wire;
            proptest::prop_assert!(unused < worst_case(sizes[sent]) + closing, "room for the next record was left unused");
        }
    }
}
