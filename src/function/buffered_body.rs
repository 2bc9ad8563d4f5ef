//! The `BUFFERED` answer's body, collected through the same [`Limited`] stage as a stream, with
//! the budget counted in payload bytes (what each byte takes in the response JSON). So an
//! export with a continuation that does not fit in the payload limit ends after its last whole
//! record with its cursor, exactly as its stream would end at the stream budget, and the same
//! client code follows it in both modes.

use bytes::BytesMut;
use tokio::time::Instant;

use super::limited::{Limited, StreamEnd};
use crate::body::merge::ChunkSource;
use crate::budget::{BandwidthModel, Budget, StreamPolicy};
use crate::wire::{FunctionError, PayloadCost, ResponseHead};
use crate::{Body, TruncationReason};

/// How a collected body ended.
#[derive(Debug)]
pub(crate) enum CollectedEnd {
    Complete,
    /// Cut by the payload limit or the deadline; `continued` when the continuation closed it.
    Cut {
        reason: TruncationReason,
        continued: bool,
    },
    Failed(FunctionError),
}

/// A body collected for a buffered payload.
#[derive(Debug)]
pub(crate) struct Collected {
    pub(crate) body: BytesMut,
    pub(crate) records: u64,
    pub(crate) end: CollectedEnd,
}

/// Collects `body` (answered with `head`) into at most `room` payload bytes. With a
/// continuation the body also ends cleanly by `end_by` (the deadline less its margin); without
/// one, the deadline stops the invocation as before (there is no clean end to give it).
pub(crate) async fn collect(
    mut body: Body,
    head: &ResponseHead,
    room: u64,
    end_by: Option<Instant>,
) -> Collected {
    let cost = PayloadCost::buffered(head);
    let mut continuation = body.take_continuation();
    let end_by = end_by.filter(|_| continuation.is_some());
    let mut policy = StreamPolicy::new(Budget::bytes(room), BandwidthModel::UNLIMITED, end_by);
    policy.reserve(cost.worst_case(continuation.as_ref().map_or(0, |c| c.reserve)));
    let mut limited = Limited::new(Vec::new(), body, policy).counting(cost);
    let mut collected = BytesMut::new();
    let end = loop {
        limited.set_now(Instant::now());
        match std::future::poll_fn(|cx| limited.poll_chunk(cx)).await {
            Some(Ok(chunk)) => collected.extend_from_slice(chunk.data()),
            None => break CollectedEnd::Complete,
            Some(Err(StreamEnd::Failed(error))) => break CollectedEnd::Failed(error),
            Some(Err(StreamEnd::Cut(reason))) => {
                let closing = continuation
                    .take()
                    .and_then(|continuation| limited.closing(continuation, reason));
                if let Some(closing) = &closing {
                    collected.extend_from_slice(closing);
                }
                let continued = closing.is_some();
                break CollectedEnd::Cut { reason, continued };
            }
        }
    };
    Collected {
        body: collected,
        records: limited.records(),
        end,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Truncation;
    use crate::wire::encode_buffered_response;
    use bytes::Bytes;
    use futures_util::stream;
    use proptest::prelude::*;

    const RESERVE: usize = 40;

    fn head(content_type: &str) -> ResponseHead {
        let mut head = ResponseHead::new(http::StatusCode::OK);
        head.headers
            .insert(http::header::CONTENT_TYPE, content_type.parse().unwrap());
        head
    }

    /// NDJSON-like lines with quotes, a tab and a control character, so that escaping matters.
    fn line(index: usize, len: usize) -> Bytes {
        Bytes::from(format!(
            "{{\"id\":{index},\"note\":\"{}\t\u{1}\"}}\n",
            "x".repeat(len)
        ))
    }

    /// A body of lines closed by a cursor naming the count and the last line sent.
    fn export(lines: Vec<Bytes>) -> Body {
        let items = stream::iter(lines.into_iter().map(Ok::<_, std::io::Error>));
        Body::from_stream(items).with_continuation(RESERVE, |cut: &Truncation| {
            let last = cut.last_record.as_ref().map_or(0, |l| l[6]);
            Bytes::from(format!("{{\"sent\":{},\"last\":{last}}}\n", cut.items_sent))
        })
    }

    fn collect_now(body: Body, head: &ResponseHead, room: u64) -> Collected {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(collect(body, head, room, None))
    }

    fn payload_cost(head: &ResponseHead, body: &[u8]) -> u64 {
        let envelope = encode_buffered_response(head, b"").unwrap().len();
        (encode_buffered_response(head, body).unwrap().len() - envelope) as u64
    }

    #[test]
    fn a_body_that_fits_is_collected_whole() {
        let head = head("text/plain");
        let collected = collect_now(export(vec![line(0, 3), line(1, 3)]), &head, 10_000);
        assert!(matches!(collected.end, CollectedEnd::Complete));
        assert_eq!(collected.body, [line(0, 3), line(1, 3)].concat()[..]);
        assert_eq!(collected.records, 2);
    }

    proptest! {
        /// Text or base64: the payload never passes the room, holds whole leading records and
        /// the cursor, and the next record (with the reserve kept for the cursor) would not
        /// have fit.
        #[test]
        fn a_cut_is_record_precise_in_payload_bytes(
            lens in proptest::collection::vec(0usize..60, 1..60),
            room in 0u64..3000,
            text in any::<bool>(),
        ) {
            let head = head(if text { "text/plain" } else { "application/octet-stream" });
            let lines: Vec<Bytes> = lens.iter().enumerate().map(|(i, &n)| line(i % 10, n)).collect();
            let collected = collect_now(export(lines.clone()), &head, room);
            prop_assert!(payload_cost(&head, &collected.body) <= room);
            let sent = collected.records as usize;
            let leading = lines[..sent].concat();
            prop_assert!(collected.body.starts_with(&leading));
            match collected.end {
                CollectedEnd::Complete => prop_assert_eq!(sent, lines.len()),
                CollectedEnd::Cut { continued: true, .. } => {
                    let last = if sent == 0 { 0 } else { lines[sent - 1][6] };
                    let cursor = format!("{{\"sent\":{sent},\"last\":{last}}}\n");
                    prop_assert_eq!(&collected.body[leading.len()..], cursor.as_bytes());
                    let cost = PayloadCost::buffered(&head);
                    let next = cost.of(leading.len() as u64, &lines[sent]);
                    let spent = payload_cost(&head, &leading);
                    prop_assert!(spent + next + cost.worst_case(RESERVE as u64) > room);
                }
                CollectedEnd::Cut { continued: false, .. } => {
                    // Only a room too small for the reserve leaves no place for the cursor.
                    prop_assert!(room < PayloadCost::buffered(&head).worst_case(RESERVE as u64));
                }
                other => prop_assert!(false, "unexpected end {other:?}"),
            }
        }
    }
}
