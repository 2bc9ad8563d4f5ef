//! The compressing stage: the body's items merged as they are ready, compressed and flushed,
//! each within the room the limit stage hands it (compressed bytes cannot be taken back); a
//! cut body's continuation compressed and the compressed stream ended.

use std::io;
use std::task::{Context, Poll, ready};

use bytes::Bytes;

use super::encoder::{Encoder, compression_error, worst_case};
use super::negotiate::Encoding;
use crate::body::{Chunk, Continuation, TruncationReason};
use crate::stream::held::HeldThenBody;
use crate::stream::merge::{MergeLimits, MergeReady, PollChunk};
use crate::stream::outcome::StreamEnd;
use crate::stream::policy::Room;
use crate::stream::ready::MERGE_WINDOW;
use crate::stream::sent::Sent;
use crate::wire::FunctionError;

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
/// so the room is checked *before* compressing: merges are capped at what surely fits, and
/// when the next item might not fit, its leading whole records that do are compressed and the
/// body ends with the reason the room gave (the limit stage then asks for the closing).
pub(crate) struct Compressing {
    merge: MergeReady<FunctionError>,
    body: HeldThenBody,
    encoder: Encoder,
    /// What went into the compressor, for the continuation's cursor.
    compressed: Sent,
    /// A cut decided with the last output: returned by the next poll.
    cut_after: Option<TruncationReason>,
    /// Output the limit stage refused after the encoder took it: nothing more may follow it
    /// (a decoder would miss what the encoder's state refers to).
    lost: bool,
    finished: bool,
}

impl Compressing {
    pub(crate) fn new(body: HeldThenBody, encoding: Encoding) -> Self {
        Compressing {
            merge: MergeReady::new(MERGE),
            body,
            encoder: Encoder::new(encoding),
            compressed: Sent::default(),
            cut_after: None,
            lost: false,
            finished: false,
        }
    }

    /// The next compressed chunk (one record for the limit stage), at most `room.bytes`
    /// long; a cut with `room.bound_by` once the next item does not fit.
    pub(crate) fn poll_within(&mut self, cx: &mut Context<'_>, room: Room) -> PollChunk<StreamEnd> {
        if let Some(reason) = self.cut_after.take() {
            self.finished = true;
            return Poll::Ready(Some(Err(StreamEnd::Cut(reason))));
        }
        if self.finished {
            return Poll::Ready(None);
        }
        self.merge.set_max_bytes(allowance(room.bytes));
        let body = &mut self.body;
        let output = match ready!(self.merge.poll_merged(cx, |cx| body.poll_chunk(cx))) {
            Some(Ok(chunk)) if worst_case(chunk.len()) <= room.bytes => self.compress(cx, chunk),
            Some(Ok(chunk)) => self.leading_records(cx, chunk, room),
            Some(Err(error)) => {
                // An error ends the body: nothing after it is compressed or polled.
                self.finished = true;
                return Poll::Ready(Some(Err(StreamEnd::Failed(error))));
            }
            None => {
                self.finished = true;
                self.encoder.finish(cx)
            }
        };
        match output {
            Ok(output) if output.is_empty() => self.poll_within(cx, room),
            Ok(output) => Poll::Ready(Some(Ok(Chunk::record(output)))),
            Err(error) => {
                self.finished = true;
                Poll::Ready(Some(Err(StreamEnd::Failed(compression_error(error)))))
            }
        }
    }

    /// The room cannot surely take all of `chunk`: as many leading whole records as it can,
    /// each flush counted against it; unless the rest then fits, the body ends after them.
    fn leading_records(
        &mut self,
        cx: &mut Context<'_>,
        mut chunk: Chunk,
        room: Room,
    ) -> io::Result<Bytes> {
        let mut out = Vec::new();
        let mut left = room.bytes;
        loop {
            if worst_case(chunk.len()) <= left {
                out.extend_from_slice(&self.compress(cx, chunk)?);
                return Ok(Bytes::from(out));
            }
            let allowance = allowance(left) as u64;
            let Some(head) = chunk.split_fitting(allowance, |_, record| record.len() as u64) else {
                break;
            };
            self.compressed.count(&head);
            self.encoder.write(cx, &head.into_data())?;
            let flushed = self.encoder.flush(cx)?;
            left = left.saturating_sub(flushed.len() as u64);
            out.extend_from_slice(&flushed);
        }
        self.cut_after = Some(room.bound_by);
        Ok(Bytes::from(out))
    }

    /// Compresses one merged chunk and flushes; when the body's end was met behind it, the
    /// flush is the epilogue.
    fn compress(&mut self, cx: &mut Context<'_>, chunk: Chunk) -> io::Result<Bytes> {
        self.compressed.count(&chunk);
        self.encoder.write(cx, &chunk.into_data())?;
        if self.merge.completes_next() {
            self.finished = true;
            return self.encoder.finish(cx);
        }
        self.encoder.flush(cx)
    }

    /// The compressed continuation and the encoder's epilogue, the continuation made from
    /// what went into the compressor; `None` after lost output, or when the continuation
    /// makes nothing.
    pub(crate) fn closing(
        &mut self,
        cx: &mut Context<'_>,
        continuation: Continuation,
        reason: TruncationReason,
    ) -> Option<Bytes> {
        if self.lost {
            return None;
        }
        let raw = continuation.make(&self.compressed.cut(reason))?;
        let closing = self.encoder.item(cx, &raw).and_then(|item| {
            let end = self.encoder.finish(cx)?;
            let mut closing = item.to_vec();
            closing.extend_from_slice(&end);
            Ok(Bytes::from(closing))
        });
        closing
            .inspect_err(
                |error| tracing::error!(%error, "the continuation could not be compressed"),
            )
            .ok()
    }

    /// The limit stage refused the last output: nothing may follow it.
    pub(crate) fn refused(&mut self) {
        self.lost = true;
    }

    /// Drops the handler's stream; the encoder stays, to end a cut body. Nothing more is
    /// polled from it (a cut decided with the last output included).
    pub(crate) fn close(&mut self) {
        self.body.close();
        self.cut_after = None;
        self.finished = true;
    }
}

/// The most input bytes whose compressed output surely fits in `room`, at most a merge's.
fn allowance(room: u64) -> usize {
    // worst_case(raw) = raw + raw / 64 + 64 <= room when raw <= (room - 64) * 64 / 65.
    let raw = room.saturating_sub(64).saturating_mul(64) / 65;
    usize::try_from(raw).map_or(MERGE.max_bytes, |raw| raw.min(MERGE.max_bytes))
}
