//! What budget accounting costs: the real streamed request body (prelude, byte budget, deadline
//! and bandwidth check, stats) against polling the bare body, in the same run, swept over chunk
//! sizes 16 B .. 1 MiB. Both arms copy every chunk into a write buffer, the least per-byte work
//! sending can cost (a socket write copies at least this much), so the ratio is the accounting's
//! share of the cheapest possible send. Per item, most of the accounting is the deadline check
//! (a clock read). Below 16 KiB the request body also merges items that are already ready into
//! one chunk, as it does on the wire: that saves a socket write and a wake-up per item there,
//! but here, with no socket, it is a cost (a copy per item). Run:
//! `cargo bench -p benches --bench budget`.

use std::hint::black_box;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use futures_util::stream;
use http_body::Body as _;
use lambda_stream::testing::bench::budgeted_stream;
use lambda_stream::{Body, Budget};

const SIZES: [usize; 6] = [16, 256, 4 * 1024, 64 * 1024, 256 * 1024, 1024 * 1024];
/// 64 MiB per iteration, or a million items for the smallest chunks.
const TOTAL: usize = 64 * 1024 * 1024;
const MAX_ITEMS: usize = 1 << 20;
static DATA: [u8; 1024 * 1024] = [b'x'; 1024 * 1024];

fn total_for(chunk: usize) -> usize {
    (TOTAL / chunk).min(MAX_ITEMS) * chunk
}

fn body_of(chunk: usize) -> Body {
    let chunks = total_for(chunk) / chunk;
    Body::from_stream(stream::iter((0..chunks).map(move |_| {
        Ok::<_, std::io::Error>(Bytes::from_static(&DATA[..chunk]))
    })))
}

/// Polls to the end; every item is ready, so a no-op waker is enough.
fn drain_bare(mut body: Body, sink: &mut Vec<u8>) -> usize {
    let mut cx = Context::from_waker(Waker::noop());
    let mut total = 0;
    while let Poll::Ready(Some(Ok(frame))) = Pin::new(&mut body).poll_frame(&mut cx) {
        let Ok(chunk) = frame.into_data() else { break };
        sink.clear();
        sink.extend_from_slice(&chunk);
        total += sink.len();
    }
    total
}

/// Polls to the end. The streamed body gives way (`Pending`, woken at once) once a
/// millisecond so the connection can flush; every item being ready, a second `Pending` in a
/// row would mean a stall, which ends the drain.
fn drain_budgeted(body: impl http_body::Body<Data = Bytes>, sink: &mut Vec<u8>) -> usize {
    let mut body = std::pin::pin!(body);
    let mut cx = Context::from_waker(Waker::noop());
    let mut total = 0;
    let mut gave_way = false;
    loop {
        match body.as_mut().poll_frame(&mut cx) {
            Poll::Ready(Some(Ok(frame))) => {
                gave_way = false;
                if let Some(chunk) = frame.data_ref() {
                    sink.clear();
                    sink.extend_from_slice(chunk);
                    total += sink.len();
                }
            }
            Poll::Pending if !gave_way => gave_way = true,
            _ => return total,
        }
    }
}

fn budget_accounting(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let _guard = runtime.enter();
    let mut group = c.benchmark_group("stream");
    group.sample_size(20);
    let mut sink = Vec::with_capacity(1024 * 1024);
    for chunk in SIZES {
        group.throughput(Throughput::Bytes(total_for(chunk) as u64));
        group.bench_with_input(BenchmarkId::new("bare_body", chunk), &chunk, |b, &chunk| {
            b.iter(|| black_box(drain_bare(body_of(chunk), &mut sink)));
        });
        group.bench_with_input(
            BenchmarkId::new("budget_and_deadline", chunk),
            &chunk,
            |b, &chunk| {
                b.iter(|| {
                    let body = budgeted_stream(body_of(chunk), Budget::AWS_200_MB, true)
                        .expect("the budget holds the head");
                    black_box(drain_budgeted(body, &mut sink))
                });
            },
        );
    }
    group.finish();
}

/// 16-byte tokens, all ready: the default (ready tokens share a chunk, up to 64 KiB) versus
/// coalesced into 16 KiB chunks (the delay never fires here; it bounds latency when tokens are
/// paced).
fn token_coalescing(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("runtime");
    let _guard = runtime.enter();
    const TOKENS: usize = 64 * 1024;
    let tokens = || {
        Body::from_stream(stream::iter(
            (0..TOKENS).map(|_| Ok::<_, std::io::Error>(Bytes::from_static(&DATA[..16]))),
        ))
    };
    let mut group = c.benchmark_group("tokens_16B");
    group.throughput(Throughput::Elements(TOKENS as u64));
    group.sample_size(20);
    let mut sink = Vec::with_capacity(64 * 1024);
    group.bench_function("default_ready_merged", |b| {
        b.iter(|| {
            let body = budgeted_stream(tokens(), Budget::AWS_200_MB, true)
                .expect("the budget holds the head");
            black_box(drain_budgeted(body, &mut sink))
        });
    });
    group.bench_function("coalesced_16KiB_20ms", |b| {
        b.iter(|| {
            let body = tokens().coalesce(lambda_stream::Coalesce {
                max_bytes: 16 * 1024,
                max_delay: std::time::Duration::from_millis(20),
            });
            let body =
                budgeted_stream(body, Budget::AWS_200_MB, true).expect("the budget holds the head");
            black_box(drain_budgeted(body, &mut sink))
        });
    });
    group.finish();
}

criterion_group!(benches, budget_accounting, token_coalescing);
criterion_main!(benches);
