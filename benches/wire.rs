//! Throughput of the sans-IO codecs and the body framings, in bytes per second: prelude encode
//! and decode, chunk framing and decoding, each record framing (SSE, NDJSON, JSON array, CSV)
//! and each compressor, all swept over item sizes 16 B .. 1 MiB. Run:
//! `cargo bench -p benches --bench wire`.

use std::hint::black_box;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures_util::{StreamExt, stream};
use http::StatusCode;
use lambda_stream::Body;
use lambda_stream::testing::bench::encode_chunk;
use lambda_stream::wire::{
    ChunkedDecoder, ChunkedEvent, PreludeDecoder, ResponseHead, encode_prelude,
};

const SIZES: [usize; 6] = [16, 256, 4 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024];
const TOTAL: usize = 16 * 1024 * 1024;

fn head() -> ResponseHead {
    let mut head = ResponseHead::new(StatusCode::OK);
    head.headers
        .insert("content-type", "text/event-stream".parse().unwrap());
    head.headers
        .insert("cache-control", "no-cache".parse().unwrap());
    head.headers.insert(
        "x-request-id",
        "4f2a9c1e-0d1b-4e55-9a57-6cbf1f0c2d11".parse().unwrap(),
    );
    head.cookies = vec!["session=abc; HttpOnly; Secure".to_owned()];
    head
}

fn prelude(c: &mut Criterion) {
    let head = head();
    let encoded = encode_prelude(&head).unwrap();
    let mut group = c.benchmark_group("prelude");
    group.throughput(Throughput::Bytes(encoded.len() as u64));
    group.bench_function("encode", |b| {
        b.iter(|| encode_prelude(black_box(&head)).unwrap())
    });
    let mut framed = BytesMut::from(&encoded[..]);
    framed.extend_from_slice(&[0; 8]);
    let framed = framed.freeze();
    group.bench_function("decode", |b| {
        b.iter(|| {
            let mut buf = BytesMut::from(&framed[..]);
            PreludeDecoder::new().decode(&mut buf).unwrap().unwrap()
        })
    });
    group.finish();
}

fn chunked(c: &mut Criterion) {
    let mut group = c.benchmark_group("chunked");
    group.throughput(Throughput::Bytes(TOTAL as u64));
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(2));
    let data = Bytes::from(vec![b'x'; *SIZES.last().unwrap()]);
    for size in SIZES {
        let chunk = data.slice(..size);
        let mut wire = BytesMut::with_capacity(TOTAL + TOTAL / size * 16);
        group.bench_with_input(BenchmarkId::new("encode", size), &size, |b, &size| {
            b.iter(|| {
                wire.clear();
                for _ in 0..TOTAL / size {
                    let mut framed = encode_chunk(chunk.clone());
                    while framed.has_remaining() {
                        let part = framed.chunk();
                        wire.extend_from_slice(part);
                        let n = part.len();
                        framed.advance(n);
                    }
                }
                wire.len()
            })
        });
        let encoded = wire.clone().freeze();
        group.bench_with_input(BenchmarkId::new("decode", size), &size, |b, _| {
            b.iter(|| {
                let mut decoder = ChunkedDecoder::new();
                let mut buf = BytesMut::from(&encoded[..]);
                let mut total = 0;
                while let Ok(Some(ChunkedEvent::Data(data))) = decoder.decode(&mut buf) {
                    total += data.len();
                }
                total
            })
        });
    }
    group.finish();
}

#[derive(serde::Serialize)]
struct Row {
    id: u64,
    name: &'static str,
    amount: f64,
    payload: Payload,
}

/// A shared text, serialized as a string.
#[derive(Clone)]
struct Payload(Bytes);

impl serde::Serialize for Payload {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(std::str::from_utf8(&self.0).unwrap_or_default())
    }
}

/// About 4 MiB of records whose `payload` field is `size` bytes (a text of that length).
fn rows(size: usize) -> impl futures_util::Stream<Item = Result<Row, std::io::Error>> + Send {
    let payload = Payload(Bytes::from(vec![b'p'; size]));
    let count = (4 * 1024 * 1024 / (size + 48)).max(4) as u64;
    stream::iter((0..count).map(move |id| {
        Ok(Row {
            id,
            name: "widget",
            amount: id as f64 * 1.25,
            payload: payload.clone(),
        })
    }))
}

/// Drains a body on a current-thread runtime; returns its length.
fn drain(runtime: &tokio::runtime::Runtime, body: Body) -> usize {
    runtime.block_on(async move {
        let mut body = body.into_data_stream();
        let mut total = 0;
        while let Some(chunk) = body.next().await {
            total += chunk.unwrap().len();
        }
        total
    })
}

/// Drains a streamed request body (the head's frames included); returns its length.
fn drain_streamed<B>(runtime: &tokio::runtime::Runtime, body: B) -> usize
where
    B: http_body::Body<Data = Bytes>,
    B::Error: std::fmt::Debug,
{
    use http_body_util::BodyExt;
    runtime.block_on(async move {
        let collected = body.collect().await.expect("a streamed body does not fail");
        collected.to_bytes().len()
    })
}

/// Builds a fresh body of records with `size`-byte payloads.
type MakeBody = fn(usize) -> Body;

fn framings(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let make: [(&str, MakeBody); 4] = [
        ("ndjson", |size| Body::ndjson(rows(size))),
        ("json_array", |size| Body::json_array(rows(size))),
        ("csv", |size| Body::csv(rows(size))),
        ("sse", |size| {
            let events = rows(size).map(|row| {
                row.map(|row| {
                    lambda_stream::sse::Event::default()
                        .json_data(&row)
                        .unwrap()
                })
            });
            lambda_stream::sse::Sse::new(events).into_body()
        }),
    ];
    let mut group = c.benchmark_group("framing");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(2));
    for (name, body) in make {
        for size in SIZES {
            let bytes = drain(&runtime, body(size));
            group.throughput(Throughput::Bytes(bytes as u64));
            group.bench_with_input(BenchmarkId::new(name, size), &size, |b, &size| {
                b.iter(|| drain(&runtime, body(size)))
            });
        }
    }
    group.finish();
}

/// The items of `inner`, with the stream not ready (and woken at once) before each.
fn not_ready_between<S: futures_util::Stream + Unpin>(
    mut inner: S,
) -> impl futures_util::Stream<Item = S::Item> {
    let mut wait = true;
    stream::poll_fn(move |cx| {
        wait = !wait;
        if wait {
            inner.poll_next_unpin(cx)
        } else {
            cx.waker().wake_by_ref();
            std::task::Poll::Pending
        }
    })
}

fn compressors(c: &mut Criterion) {
    use lambda_stream::Budget;
    use lambda_stream::compression::{Compression, Encoding};
    use lambda_stream::testing::bench::streamed_response;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    // JSON lines, 2 MiB of them, sliced into items of each size.
    let text: Bytes = (0..)
        .map(|i| format!("{{\"id\":{i},\"name\":\"widget\",\"amount\":{}}}\n", i * 3))
        .take_while({
            let mut len = 0;
            move |line: &String| {
                len += line.len();
                len <= 2 * 1024 * 1024
            }
        })
        .collect::<String>()
        .into();
    let mut group = c.benchmark_group("compression");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(2));
    for encoding in [
        Encoding::Gzip,
        Encoding::Deflate,
        Encoding::Brotli,
        Encoding::Zstd,
    ] {
        for chunk in SIZES {
            // Tiny items are slower to compress: fewer of them.
            let total = (chunk * 4096).clamp(256 * 1024, 4 * 1024 * 1024);
            group.throughput(Throughput::Bytes(total as u64));
            let compression = Compression::with_preference([encoding]);
            let accept = http::HeaderValue::from_static(encoding.as_str());
            // `trickle`: the body is not ready between items (as tokens from a model), so each
            // item is flushed alone; otherwise items ready together share a flush.
            let body = |trickle: bool| {
                let text = text.clone();
                let chunks = stream::iter((0..total / chunk).map(move |i| {
                    let start = (i * chunk) % (text.len() - chunk);
                    Ok::<_, std::io::Error>(text.slice(start..start + chunk))
                }));
                let body = if trickle {
                    Body::from_stream(not_ready_between(chunks))
                } else {
                    Body::from_stream(chunks)
                };
                let response = compression.apply(Some(&accept), http::Response::new(body));
                // Compressed by the pipeline, as the runtime streams it.
                streamed_response(response, Budget::AWS_200_MB, false).expect("a roomy budget")
            };
            group.bench_with_input(
                BenchmarkId::new(encoding.as_str(), chunk),
                &chunk,
                |b, _| b.iter(|| drain_streamed(&runtime, body(false))),
            );
            if chunk <= 4096 {
                group.bench_with_input(
                    BenchmarkId::new(format!("{}_flush_each", encoding.as_str()), chunk),
                    &chunk,
                    |b, _| b.iter(|| drain_streamed(&runtime, body(true))),
                );
            }
        }
    }
    group.finish();
}

criterion_group!(benches, prelude, chunked, framings, compressors);
criterion_main!(benches);
