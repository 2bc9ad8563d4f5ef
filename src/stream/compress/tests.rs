//! The compression stage's tests: each item decodable on arrival in every encoding, the
//! negotiated headers and what is not compressed, and compressed bodies through the whole
//! pipeline (budgets record-precise, a page the deadline or a `BUFFERED` payload ends carrying
//! its compressed link).

use bytes::Bytes;
use futures_util::{StreamExt, stream};
use http_body_util::BodyExt;

use http::HeaderValue;
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, VARY};

use super::encoder::worst_case;
use super::stage::Compressing;
use super::{Compression, Encoding};
use crate::body::{Body, Chunk, Continuation, TruncationReason};
use crate::stream::held::HeldThenBody;
use crate::stream::policy::Room;
use crate::stream::test_exports::{budget_only, records_body};
use crate::stream::{PerResponse, StreamLimits, StreamingBody};
use crate::wire::{ErrorType, FunctionError};

/// `body` streamed gzip-compressed under `limits`, ended by `continuation` if any: the
/// data after the head, the error type of the trailers if any, and the wire bytes.
async fn gzip_streamed(
    body: Body,
    continuation: Option<Continuation>,
    limits: StreamLimits,
) -> Option<(Bytes, Option<String>, u64)> {
    let ending = PerResponse {
        continuation,
        encoding: Some(Encoding::Gzip),
    };
    let prelude = Bytes::from_static(b"{}");
    let (mut streaming, report) =
        StreamingBody::new(prelude, Vec::new(), body, ending, limits).ok()?;
    let mut data = Vec::new();
    let mut trailer = None;
    while let Some(frame) = streaming.frame().await {
        match frame.unwrap_or_else(|never| match never {}).into_data() {
            Ok(chunk) => data.extend_from_slice(&chunk),
            Err(frame) => {
                trailer = frame.trailers_ref().and_then(|t| {
                    let error_type = t.get("lambda-runtime-function-error-type")?;
                    Some(error_type.to_str().ok()?.to_owned())
                });
            }
        }
    }
    drop(streaming);
    let wire = report.await.ok()?.wire_bytes;
    Some((Bytes::from(data).slice(10..), trailer, wire))
}

/// What a gzip member holds, and whether it is whole (its end and CRC read).
async fn gunzip(compressed: &[u8]) -> (Vec<u8>, bool) {
    use tokio::io::AsyncReadExt;
    let mut text = Vec::new();
    let whole = async_compression::tokio::bufread::GzipDecoder::new(compressed)
        .read_to_end(&mut text)
        .await
        .is_ok();
    (text, whole)
}

#[tokio::test]
async fn an_error_met_while_merging_follows_the_merged_items() {
    let items = stream::iter([
        Ok(Bytes::from("first ")),
        Ok(Bytes::from("second")),
        Err(FunctionError::new(ErrorType::STREAM_ERROR, "db closed")),
        Ok(Bytes::from("never")),
    ]);
    let body = Body::from_stream(items);
    let (data, trailer, _) = gzip_streamed(body, None, budget_only(u64::MAX))
        .await
        .unwrap();
    // A flushed, unfinished gzip member: what it holds, then its missing end.
    assert_eq!(gunzip(&data).await, (b"first second".to_vec(), false));
    assert_eq!(trailer.as_deref(), Some(ErrorType::STREAM_ERROR.as_str()));
}

/// A real decoder of one encoding (async-compression's): fed compressed bytes, it holds
/// everything decoded so far.
enum Decoder {
    Gzip(async_compression::tokio::write::GzipDecoder<Vec<u8>>),
    Deflate(async_compression::tokio::write::ZlibDecoder<Vec<u8>>),
    Brotli(async_compression::tokio::write::BrotliDecoder<Vec<u8>>),
    Zstd(async_compression::tokio::write::ZstdDecoder<Vec<u8>>),
}

impl Decoder {
    fn new(encoding: Encoding) -> Decoder {
        use async_compression::tokio::write as decoders;
        match encoding {
            Encoding::Gzip => Decoder::Gzip(decoders::GzipDecoder::new(Vec::new())),
            Encoding::Deflate => Decoder::Deflate(decoders::ZlibDecoder::new(Vec::new())),
            Encoding::Brotli => Decoder::Brotli(decoders::BrotliDecoder::new(Vec::new())),
            Encoding::Zstd => Decoder::Zstd(decoders::ZstdDecoder::new(Vec::new())),
        }
    }

    /// Feeds `chunk` and flushes: everything decoded so far.
    async fn feed(&mut self, chunk: &[u8]) -> Vec<u8> {
        use tokio::io::{AsyncWrite, AsyncWriteExt};
        async fn fed<W: AsyncWrite + Unpin>(writer: &mut W, chunk: &[u8]) {
            writer.write_all(chunk).await.unwrap();
            writer.flush().await.unwrap();
        }
        match self {
            Decoder::Gzip(w) => {
                fed(w, chunk).await;
                w.get_ref().clone()
            }
            Decoder::Deflate(w) => {
                fed(w, chunk).await;
                w.get_ref().clone()
            }
            Decoder::Brotli(w) => {
                fed(w, chunk).await;
                w.get_ref().clone()
            }
            Decoder::Zstd(w) => {
                fed(w, chunk).await;
                w.get_ref().clone()
            }
        }
    }
}

/// Each item that comes after a wait (as tokens from a model do) is flushed on its own:
/// what the client has is decodable right after each item, in every encoding.
#[tokio::test]
async fn every_item_is_decodable_on_arrival_with_each_encoding() {
    let items: Vec<Bytes> = (0..5)
        .map(|i| Bytes::from(format!("data: token {i} of a streamed answer\n\n")))
        .collect();
    let unbounded = Room {
        bytes: u64::MAX,
        bound_by: TruncationReason::Budget,
    };
    for encoding in [
        Encoding::Gzip,
        Encoding::Deflate,
        Encoding::Brotli,
        Encoding::Zstd,
    ] {
        let trickle = stream::iter(items.clone()).then(|item| async {
            tokio::task::yield_now().await;
            Ok::<_, FunctionError>(item)
        });
        let body = HeldThenBody::new(Vec::new(), Body::from_stream(trickle));
        let mut compressing = Compressing::new(body, encoding);
        let mut decoder = Decoder::new(encoding);
        let mut expected = Vec::new();
        for item in &items {
            let next = std::future::poll_fn(|cx| compressing.poll_within(cx, unbounded));
            let compressed = next.await.unwrap().unwrap();
            expected.extend_from_slice(item);
            assert_eq!(
                decoder.feed(compressed.data()).await,
                expected,
                "{encoding:?}"
            );
        }
        // The epilogue adds nothing.
        while let Some(tail) =
            std::future::poll_fn(|cx| compressing.poll_within(cx, unbounded)).await
        {
            assert_eq!(
                decoder.feed(tail.unwrap().data()).await,
                expected,
                "{encoding:?}"
            );
        }
    }
}

/// A page the deadline ends while its producer waits carries its compressed link, and the
/// compressed stream is ended properly (the reserve is what the link takes compressed).
#[tokio::test(start_paused = true)]
async fn a_compressed_page_the_deadline_ends_carries_its_link() {
    let (records, continuation) = records_body(&[300, 300, 300], false, 12);
    let body = Body::from_chunks(
        records
            .into_data_stream()
            .map(|item| item.map(Chunk::record))
            .chain(stream::pending()),
    );
    let limits = StreamLimits {
        end_by: Some(tokio::time::Instant::now() + std::time::Duration::from_secs(2)),
        ..budget_only(u64::MAX)
    };
    let (data, trailer, _) = gzip_streamed(body, Some(continuation), limits)
        .await
        .unwrap();
    let (text, whole) = gunzip(&data).await;
    assert!(whole, "the compressed stream is ended");
    assert_eq!(trailer, None);
    let expected = [vec![b'a'; 300], vec![b'b'; 300], vec![b'c'; 300]].concat();
    assert_eq!(text, [expected, b"#00000000003".to_vec()].concat());
}

/// A `BUFFERED` answer whose payload limit binds before its budget: the compressed body
/// (carried as base64) ends after whole records with its compressed link, ended properly.
#[tokio::test]
async fn a_compressed_buffered_page_ends_within_its_payload_with_its_link() {
    // Incompressible records, so the payload limit binds after a few of them.
    let record = |i: u64| {
        let mut state = i.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        let bytes: Vec<u8> = (0..400)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                b'a' + (state % 26) as u8
            })
            .collect();
        Ok::<_, FunctionError>(Bytes::from(bytes))
    };
    let body = Body::from_stream(stream::iter((0..100).map(record)));
    let (_, continuation) = records_body(&[1], false, 12);
    let ending = PerResponse {
        continuation: Some(continuation),
        encoding: Some(Encoding::Gzip),
    };
    let collected = crate::stream::collect(body, ending, b"{}", budget_only(u64::MAX), 4000)
        .await
        .unwrap();
    assert!(
        matches!(
            collected.end,
            crate::stream::CollectedEnd::Cut {
                continued: true,
                ..
            }
        ),
        "{:?}",
        collected.end
    );
    let base64_len = collected.body.len().div_ceil(3) * 4;
    assert!(base64_len <= 4000, "{base64_len} payload bytes");
    let (text, whole) = gunzip(&collected.body).await;
    assert!(whole, "the compressed body is ended");
    let (rows, cursor) = text.split_at(text.len() - 12);
    let sent = rows.len() / 400;
    assert!(sent >= 3, "{sent} records");
    let expected: Vec<u8> = (0..sent as u64)
        .flat_map(|i| record(i).unwrap().to_vec())
        .collect();
    assert_eq!(rows, &expected[..]);
    assert_eq!(cursor, format!("#{sent:0>11}").as_bytes());
}

/// Records of `sizes` (each filled with its index letter), coalesced or not, closed by a
/// `#<records sent>` cursor padded to `reserve`, compressed with gzip, streamed under
/// `budget`: the decoded text and the wire bytes.
fn compressed_export(
    sizes: &[usize],
    coalesce: bool,
    reserve: usize,
    budget: u64,
) -> Option<(Vec<u8>, u64)> {
    let (body, continuation) = records_body(sizes, coalesce, reserve);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let streamed = gzip_streamed(body, Some(continuation), budget_only(budget));
    let (compressed, _, wire) = runtime.block_on(streamed)?;
    // An export cut with an error trailer is an unfinished gzip member: what it holds.
    Some((runtime.block_on(gunzip(&compressed)).0, wire))
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

#[test]
fn skip_rules_and_headers() {
    let compression = Compression::new();
    let accept = HeaderValue::from_static("gzip");
    let apply = |builder: http::response::Builder, body: Body| {
        compression.apply(Some(&accept), builder.body(body).unwrap())
    };
    let compressed = apply(
        http::Response::builder()
            .header(CONTENT_TYPE, "text/csv")
            .header(CONTENT_LENGTH, "3"),
        Body::from("a,b"),
    );
    assert_eq!(compressed.headers()[CONTENT_ENCODING], "gzip");
    assert_eq!(compressed.headers()[VARY], "accept-encoding");
    assert!(!compressed.headers().contains_key(CONTENT_LENGTH));
    for (builder, body) in [
        (
            http::Response::builder().header(CONTENT_ENCODING, "br"),
            Body::from("x"),
        ),
        (
            http::Response::builder().header(CONTENT_TYPE, "image/png"),
            Body::from("x"),
        ),
        (
            http::Response::builder().header(CONTENT_TYPE, "application/zip"),
            Body::from("x"),
        ),
        (http::Response::builder().status(204), Body::from("x")),
        (http::Response::builder(), Body::empty()),
    ] {
        let response = apply(builder, body);
        assert_ne!(
            response
                .headers()
                .get(CONTENT_ENCODING)
                .map(|v| v.as_bytes()),
            Some(&b"gzip"[..])
        );
    }
}
