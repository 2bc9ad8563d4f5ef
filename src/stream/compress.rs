//! Streaming compression (feature `compression`): gzip, deflate, br and zstd through
//! `async-compression`, negotiated from `Accept-Encoding`, flushed at every item so each chunk
//! (each SSE event) is decodable when it arrives.
//!
//! **Off by default, and not for Function URLs:** they strip `Content-Encoding` from streamed
//! responses (reported by users, not documented by AWS). Turn it on for clients behind API Gateway REST or direct
//! `InvokeWithResponseStream` callers, with [`Config::with_compression`](crate::Config) or
//! [`Compression::apply`] in a handler.

use std::future::Future;
use std::io;
use std::pin::{Pin, pin};
use std::task::{Context, Poll, Waker, ready};

use async_compression::tokio::write::{BrotliEncoder, GzipEncoder, ZlibEncoder, ZstdEncoder};
use bytes::Bytes;
use futures_util::Stream;
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, VARY};
use http::{HeaderValue, StatusCode};
use tokio::io::AsyncWriteExt;

use super::budget_view::BudgetView;
use crate::body::Response;
use crate::body::{Body, Truncation, TruncationReason};
use crate::body::{Chunk, Continuation};
use crate::stream::merge::{MergeLimits, MergeReady};
use crate::stream::ready::MERGE_WINDOW;
use crate::wire::{ErrorType, FunctionError, media_type_essence};

/// A content coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Encoding {
    /// `zstd`
    Zstd,
    /// `br`
    Brotli,
    /// `gzip`
    Gzip,
    /// `deflate`: the zlib format, as HTTP defines it (RFC 9110 section 8.4.1.2), not raw
    /// deflate.
    Deflate,
}

impl Encoding {
    /// The `Content-Encoding` token.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Zstd => "zstd",
            Encoding::Brotli => "br",
            Encoding::Gzip => "gzip",
            Encoding::Deflate => "deflate",
        }
    }

    fn matches(self, token: &str) -> bool {
        token.eq_ignore_ascii_case(self.as_str())
            || (self == Encoding::Gzip && token.eq_ignore_ascii_case("x-gzip"))
    }
}

/// Parses `Accept-Encoding` into `(token, q)` with q as an integer from 0 to 1000; entries with
/// a malformed q are skipped.
fn accepted(header: &str) -> Vec<(&str, u16)> {
    header
        .split(',')
        .filter_map(|entry| {
            let mut parts = entry.split(';').map(str::trim);
            let token = parts.next().filter(|t| !t.is_empty())?;
            let mut q = 1000;
            for param in parts {
                if let Some(value) = param
                    .strip_prefix("q=")
                    .or_else(|| param.strip_prefix("Q="))
                {
                    q = parse_q(value)?;
                }
            }
            Some((token, q))
        })
        .collect()
}

/// `1`, `1.000`, `0`, `0.5`, `0.123` -> 1000, 1000, 0, 500, 123 (RFC 9110 section 12.4.2).
fn parse_q(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{fraction:0<3}").parse().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// Content types not worth compressing again.
fn already_compressed(content_type: Option<&HeaderValue>) -> bool {
    let Some(essence) = content_type.and_then(media_type_essence) else {
        return false;
    };
    (essence.starts_with("image/") && essence != "image/svg+xml")
        || essence.starts_with("audio/")
        || essence.starts_with("video/")
        || matches!(
            essence.as_str(),
            "application/zip"
                | "application/gzip"
                | "application/x-gzip"
                | "application/zstd"
                | "application/x-bzip2"
                | "application/x-xz"
                | "application/x-7z-compressed"
                | "font/woff"
                | "font/woff2"
        )
}

/// Which encodings to offer, in order of preference (used to break q-value ties).
///
/// ```
/// use lambda_stream::compression::{Compression, Encoding};
/// let compression = Compression::new();
/// let accept = http::HeaderValue::from_static("gzip;q=0.8, br, zstd");
/// assert_eq!(compression.negotiate(Some(&accept)), Some(Encoding::Zstd)); // tie: zstd first
/// let accept = http::HeaderValue::from_static("gzip, br;q=0.5");
/// assert_eq!(compression.negotiate(Some(&accept)), Some(Encoding::Gzip));
/// assert_eq!(compression.negotiate(None), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compression {
    preference: Vec<Encoding>,
}

impl Default for Compression {
    fn default() -> Self {
        Self::new()
    }
}

impl Compression {
    /// All four encodings; ties go to zstd, then br, gzip, deflate (fastest good ratio first).
    pub fn new() -> Self {
        Compression {
            preference: vec![
                Encoding::Zstd,
                Encoding::Brotli,
                Encoding::Gzip,
                Encoding::Deflate,
            ],
        }
    }

    /// Only these encodings, preferred in this order.
    pub fn with_preference(encodings: impl IntoIterator<Item = Encoding>) -> Self {
        let mut preference = Vec::new();
        for encoding in encodings {
            if !preference.contains(&encoding) {
                preference.push(encoding);
            }
        }
        Compression { preference }
    }

    /// The encoding to use for a request's `Accept-Encoding`: the highest q above 0 (a listed
    /// token, else `*`), ties broken by preference; `None` without the header.
    pub fn negotiate(&self, accept_encoding: Option<&HeaderValue>) -> Option<Encoding> {
        let header = accept_encoding?.to_str().ok()?;
        let accepted = accepted(header);
        let wildcard = accepted.iter().find(|(t, _)| *t == "*").map(|(_, q)| *q);
        let mut best: Option<(Encoding, u16)> = None;
        for &encoding in &self.preference {
            let q = accepted
                .iter()
                .find(|(token, _)| encoding.matches(token))
                .map(|(_, q)| *q)
                .or(wildcard)
                .unwrap_or(0);
            if q > 0 && best.is_none_or(|(_, best_q)| q > best_q) {
                best = Some((encoding, q));
            }
        }
        best.map(|(encoding, _)| encoding)
    }

    /// Compresses `response` when the client accepts an encoding and it is worth it: not when
    /// it already has a `Content-Encoding`, an already-compressed content type, no body
    /// (204, 304, 1xx, or an empty buffer). Sets `Content-Encoding`, adds
    /// `Vary: Accept-Encoding`, removes `Content-Length`.
    pub fn apply(&self, accept_encoding: Option<&HeaderValue>, response: Response) -> Response {
        let (mut parts, body) = response.into_parts();
        let bodiless = parts.status.is_informational()
            || parts.status == StatusCode::NO_CONTENT
            || parts.status == StatusCode::NOT_MODIFIED
            || body.exact_len() == Some(0);
        let skip = parts.headers.contains_key(CONTENT_ENCODING)
            || already_compressed(parts.headers.get(CONTENT_TYPE))
            || bodiless;
        if skip {
            return Response::from_parts(parts, body);
        }
        parts
            .headers
            .append(VARY, HeaderValue::from_static("accept-encoding"));
        let Some(encoding) = self.negotiate(accept_encoding) else {
            return Response::from_parts(parts, body);
        };
        parts.headers.insert(
            CONTENT_ENCODING,
            HeaderValue::from_static(encoding.as_str()),
        );
        parts.headers.remove(CONTENT_LENGTH);
        // The compressor ends a cut body itself (the compressed continuation, then the
        // encoder's epilogue): the continuation moves into it, and the budget view it reads
        // takes its place among the response's extensions.
        let mut body = body;
        let framing_end = body.take_framing_end();
        let continuation = parts.extensions.remove::<Continuation>().or(framing_end);
        let (body, view) = compress_body(body, encoding, continuation);
        parts.extensions.insert(view);
        Response::from_parts(parts, body)
    }
}

enum Encoder {
    Zstd(ZstdEncoder<Vec<u8>>),
    // Boxed: brotli's state is ~5.6 KiB, the others' ~150 bytes.
    Brotli(Box<BrotliEncoder<Vec<u8>>>),
    Gzip(GzipEncoder<Vec<u8>>),
    Deflate(ZlibEncoder<Vec<u8>>),
}

/// Runs a write to an in-memory encoder: a `Vec` never makes it wait.
fn now<F: Future<Output = io::Result<()>>>(future: F) -> io::Result<()> {
    match pin!(future).poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(result) => result,
        Poll::Pending => Err(io::Error::other("an in-memory compressor would block")),
    }
}

macro_rules! with_encoder {
    ($encoder:expr, $e:ident => $body:expr) => {
        match $encoder {
            Encoder::Zstd($e) => $body,
            Encoder::Brotli($e) => $body,
            Encoder::Gzip($e) => $body,
            Encoder::Deflate($e) => $body,
        }
    };
}

/// The brotli quality used for streams.
const BROTLI_STREAM_QUALITY: i32 = 5;

impl Encoder {
    fn new(encoding: Encoding) -> Self {
        match encoding {
            Encoding::Zstd => Encoder::Zstd(ZstdEncoder::new(Vec::new())),
            // Brotli's default quality (11) compresses at ~1 MiB/s (`benches/wire.rs`): far too
            // slow for a live stream. Quality 5 is the usual on-the-fly setting.
            Encoding::Brotli => Encoder::Brotli(Box::new(BrotliEncoder::with_quality(
                Vec::new(),
                async_compression::Level::Precise(BROTLI_STREAM_QUALITY),
            ))),
            Encoding::Gzip => Encoder::Gzip(GzipEncoder::new(Vec::new())),
            Encoding::Deflate => Encoder::Deflate(ZlibEncoder::new(Vec::new())),
        }
    }

    /// Compresses `data` without flushing.
    fn write(&mut self, data: &[u8]) -> io::Result<()> {
        with_encoder!(self, e => now(e.write_all(data)))
    }

    /// Flushes: everything written so far is decodable from what this returns and before.
    fn flush(&mut self) -> io::Result<Bytes> {
        with_encoder!(self, e => {
            now(e.flush())?;
            Ok(Bytes::from(std::mem::take(e.get_mut())))
        })
    }

    /// Compresses `data` and flushes.
    fn item(&mut self, data: &[u8]) -> io::Result<Bytes> {
        self.write(data)?;
        self.flush()
    }

    /// Ends the compressed stream (gzip's CRC trailer, zstd's epilogue...).
    fn finish(&mut self) -> io::Result<Bytes> {
        with_encoder!(self, e => {
            now(e.shutdown())?;
            Ok(Bytes::from(std::mem::take(e.get_mut())))
        })
    }
}

fn compression_error(error: io::Error) -> FunctionError {
    FunctionError::new(
        ErrorType::STREAM_ERROR,
        format!("compression failed: {error}"),
    )
}

/// Bytes an item may grow by once compressed and flushed: deflate's stored blocks and sync
/// flush, brotli's and zstd's block headers, and the format headers, with room to spare.
fn worst_case(len: usize) -> u64 {
    len as u64 + len as u64 / 64 + 64
}

fn compress_body(
    body: Body,
    encoding: Encoding,
    continuation: Option<Continuation>,
) -> (Body, BudgetView) {
    let closing_room = continuation.as_ref().map_or(0, |continuation| {
        worst_case(usize::try_from(continuation.reserve()).unwrap_or(usize::MAX))
    });
    let view = BudgetView::new(closing_room);
    let body = Body::from_stream(Compressing {
        inner: MergeReady::new(body, MERGE),
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
    inner: MergeReady<Body>,
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
        if self.inner.completes_next() {
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
        this.inner.set_max_bytes(allowance);
        let output = match ready!(this.inner.poll_merged(cx, tokio::time::Instant::now())) {
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
    use futures_util::StreamExt;

    #[test]
    fn q_values() {
        assert_eq!(parse_q("1"), Some(1000));
        assert_eq!(parse_q("1.000"), Some(1000));
        assert_eq!(parse_q("0.5"), Some(500));
        assert_eq!(parse_q("0.123"), Some(123));
        assert_eq!(parse_q("0"), Some(0));
        for bad in ["1.5", "2", "0.1234", "-1", "x", "0.a"] {
            assert_eq!(parse_q(bad), None, "{bad}");
        }
    }

    #[test]
    fn negotiation_table() {
        let compression = Compression::new();
        let pick =
            |header: &str| compression.negotiate(Some(&HeaderValue::from_str(header).unwrap()));
        assert_eq!(pick("gzip"), Some(Encoding::Gzip));
        assert_eq!(pick("x-gzip"), Some(Encoding::Gzip));
        assert_eq!(pick("GZIP, deflate"), Some(Encoding::Gzip));
        assert_eq!(
            pick("deflate, gzip;q=1.0"),
            Some(Encoding::Gzip),
            "tie -> preference"
        );
        assert_eq!(pick("br;q=0.2, gzip;q=0.9"), Some(Encoding::Gzip));
        assert_eq!(pick("*"), Some(Encoding::Zstd));
        assert_eq!(
            pick("*;q=0.5, zstd;q=0"),
            Some(Encoding::Brotli),
            "q=0 refuses zstd"
        );
        assert_eq!(pick("identity"), None);
        assert_eq!(pick("gzip;q=0"), None);
        assert_eq!(pick("gzip;q=2"), None, "malformed q: entry ignored");
        assert_eq!(pick(""), None);
        let gzip_only = Compression::with_preference([Encoding::Gzip]);
        assert_eq!(
            gzip_only.negotiate(Some(&HeaderValue::from_static("br, zstd, gzip;q=0.1"))),
            Some(Encoding::Gzip)
        );
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
        assert!(!already_compressed(Some(&HeaderValue::from_static(
            "image/svg+xml"
        ))));
    }

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
        let (mut body, _) = compress_body(Body::from_stream(items), Encoding::Gzip, None);
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
