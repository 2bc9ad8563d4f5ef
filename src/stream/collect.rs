//! The `BUFFERED` answer's body, collected through the same [`Limited`] stage and the same
//! policy as a stream (the budget counts what the stream would carry: the head's prelude and
//! delimiter, then the body), with the payload limit beside it (what each byte takes in the
//! response JSON). So an export with a continuation ends after the same last whole record
//! with the same cursor in both modes when its budget binds, and within the payload limit when
//! that binds first: the same client code follows it in both modes.

use bytes::BytesMut;
use tokio::time::Instant;

use super::limit::{Limited, StreamEnd};
use super::payload_limit::PayloadLimit;
use super::per_response::PerResponse;
use super::policy::BandwidthModel;
use super::source::Source;
use super::streamed::{BudgetTooSmall, StreamLimits};
use crate::body::{Body, TruncationReason};
use crate::wire::FunctionError;

/// How a collected body ended.
#[derive(Debug)]
pub(crate) enum CollectedEnd {
    Complete,
    /// Cut by the budget, the payload limit or the deadline; `continued` when the
    /// continuation closed it.
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
    /// Whether the budget's warning threshold was crossed (never for a continued body).
    pub(crate) budget_warned: bool,
}

/// Collects `body` under `limits` (its stream would start with `prelude`) into at most
/// `payload_room` payload bytes. With a continuation the body also ends cleanly by
/// `limits.end_by` (the deadline less its margin); without one, the deadline stops the
/// invocation as before (there is no clean end to give it).
///
/// # Errors
/// [`BudgetTooSmall`] when the budget cannot hold the head and the continuation's reserve.
pub(crate) async fn collect(
    body: Body,
    ending: PerResponse,
    prelude: &[u8],
    mut limits: StreamLimits,
    payload_room: u64,
) -> Result<Collected, BudgetTooSmall> {
    limits.end_by = limits.end_by.filter(|_| ending.continuation.is_some());
    limits.bandwidth = BandwidthModel::UNLIMITED;
    let policy = limits.policy(prelude, &ending)?;
    let mut payload = PayloadLimit::new(payload_room);
    payload.reserve(ending.reserve());
    let source = Source::for_response(Vec::new(), body, &ending);
    let mut continuation = ending.continuation;
    let mut limited = Limited::new(source, policy).within_payload(payload);
    let mut collected = BytesMut::new();
    let end = loop {
        match std::future::poll_fn(|cx| limited.poll_chunk(cx, Instant::now())).await {
            Some(Ok(chunk)) => collected.extend_from_slice(chunk.data()),
            None => break CollectedEnd::Complete,
            Some(Err(StreamEnd::Failed(error))) => break CollectedEnd::Failed(error),
            Some(Err(StreamEnd::Cut(reason))) => {
                let closing = std::future::poll_fn(|cx| {
                    let closing = continuation
                        .take()
                        .and_then(|continuation| limited.closing(cx, continuation, reason));
                    std::task::Poll::Ready(closing)
                })
                .await;
                if let Some(closing) = &closing {
                    collected.extend_from_slice(closing);
                }
                let continued = closing.is_some();
                break CollectedEnd::Cut { reason, continued };
            }
        }
    };
    Ok(Collected {
        body: collected,
        records: limited.records(),
        end,
        budget_warned: limited.policy().meter().warned(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::{Continuation, Truncation};
    use crate::wire::{PayloadCost, ResponseHead, encode_buffered_response};
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
    fn export(lines: Vec<Bytes>) -> (Body, PerResponse) {
        let items = stream::iter(lines.into_iter().map(Ok::<_, std::io::Error>));
        let body = Body::from_stream(items);
        let cursor = Continuation::new(RESERVE, |cut: &Truncation| {
            let last = cut.last_record.as_ref().map_or(0, |l| l[6]);
            Bytes::from(format!(
                "{{\"sent\":{},\"last\":{last}}}\n",
                cut.records_sent
            ))
        });
        (body, PerResponse::continued(cursor))
    }

    /// What a stream of this response would carry before its body.
    const PRELUDE: &[u8] = b"{\"statusCode\":200}";
    const HEAD_BYTES: u64 = PRELUDE.len() as u64 + 8;

    fn collect_now(
        (body, ending): (Body, PerResponse),
        budget: u64,
        room: u64,
    ) -> Result<Collected, BudgetTooSmall> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let limits = StreamLimits {
            budget: crate::stream::Budget::bytes(budget),
            end_by: None,
            bandwidth: BandwidthModel::AWS,
        };
        runtime.block_on(collect(body, ending, PRELUDE, limits, room))
    }

    fn payload_cost(head: &ResponseHead, body: &[u8]) -> u64 {
        let envelope = encode_buffered_response(head, b"").unwrap().len();
        (encode_buffered_response(head, body).unwrap().len() - envelope) as u64
    }

    /// The payload bytes kept for the cursor: its worst case as a string or as base64.
    fn payload_reserve() -> u64 {
        let reserve = RESERVE as u64;
        PayloadCost::JsonString
            .worst_case(reserve)
            .max(PayloadCost::Base64.worst_case(reserve))
    }

    #[test]
    fn a_body_that_fits_is_collected_whole() {
        let collected = collect_now(export(vec![line(0, 3), line(1, 3)]), 10_000, 10_000).unwrap();
        assert!(matches!(collected.end, CollectedEnd::Complete));
        assert_eq!(collected.body, [line(0, 3), line(1, 3)].concat()[..]);
        assert_eq!(collected.records, 2);
    }

    #[test]
    fn a_budget_too_small_for_the_head_and_reserve_is_refused() {
        let tight = HEAD_BYTES + RESERVE as u64 - 1;
        assert!(collect_now(export(vec![line(0, 3)]), tight, 10_000).is_err());
    }

    proptest! {
        /// Under any content type, text or not: the payload never passes its room and the
        /// stream's bytes never pass the budget; the body holds whole leading records and the
        /// cursor; the next record (with the reserve kept for the cursor) would have passed
        /// one of the two.
        #[test]
        fn a_cut_is_record_precise_in_budget_and_payload_bytes(
            lens in proptest::collection::vec(0usize..60, 1..60),
            room in 0u64..3000,
            budget in HEAD_BYTES + RESERVE as u64..3000,
            binary_every in prop_oneof![Just(usize::MAX), 1usize..8],
            content_type in prop_oneof!["text/plain", "application/x-ndjson", "application/octet-stream"],
        ) {
            let head = head(&content_type);
            let lines: Vec<Bytes> = lens.iter().enumerate().map(|(i, &n)| {
                let line = line(i % 10, n);
                if i % binary_every == binary_every - 1 { [&line[..], &[0xff, b'\n']].concat().into() } else { line }
            }).collect();
            let collected = collect_now(export(lines.clone()), budget, room).unwrap();
            prop_assert!(payload_cost(&head, &collected.body) <= room);
            prop_assert!(HEAD_BYTES + collected.body.len() as u64 <= budget);
            let sent = collected.records as usize;
            let leading = lines[..sent].concat();
            prop_assert!(collected.body.starts_with(&leading));
            match collected.end {
                CollectedEnd::Complete => prop_assert_eq!(sent, lines.len()),
                CollectedEnd::Cut { continued: true, .. } => {
                    let last = if sent == 0 { 0 } else { lines[sent - 1][6] };
                    let cursor = format!("{{\"sent\":{sent},\"last\":{last}}}\n");
                    prop_assert_eq!(&collected.body[leading.len()..], cursor.as_bytes());
                    let with_next = [&leading[..], &lines[sent][..]].concat();
                    let over_payload = payload_cost(&head, &with_next) + payload_reserve() > room;
                    let over_budget = HEAD_BYTES + with_next.len() as u64 + RESERVE as u64 > budget;
                    prop_assert!(over_payload || over_budget);
                }
                CollectedEnd::Cut { continued: false, .. } => {
                    // Only a room too small for the reserve leaves no place for the cursor.
                    prop_assert!(room < payload_reserve());
                }
                other => prop_assert!(false, "unexpected end {other:?}"),
            }
        }
    }
}
