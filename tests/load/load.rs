//! Load through the real loop and emulator: 100 concurrent 10 MiB streams, every byte verified,
//! with bounded memory. Prints what it moved (informational, not a timed test).

use lambda_stream::testing::TestEmulator;
use std::time::Instant;

use bytes::Bytes;
use futures_util::stream;
use http_body_util::BodyExt;
use lambda_stream::emulator::EmulatorConfig;
use lambda_stream::{Body, Context, Request};

use crate::common;
use crate::common::send;

const STREAMS: usize = 100;
const STREAM_BYTES: usize = 10 * 1024 * 1024;
const CHUNK: usize = 64 * 1024;

/// Chunk `index` of stream `seed`: its stream and index, then a fill byte that differs per
/// stream and chunk. Cheap to make and to compare (memset, memcmp), so a debug build can check
/// every byte of 1000 MiB.
fn chunk(seed: u64, index: usize) -> Bytes {
    let fill = (seed as usize * 31 + index) as u8;
    let mut data = vec![fill; CHUNK];
    data[..8].copy_from_slice(&seed.to_le_bytes());
    data[8..16].copy_from_slice(&(index as u64).to_le_bytes());
    Bytes::from(data)
}

/// Checks a stream's bytes as they arrive, whatever the framing.
struct Verifier {
    seed: u64,
    offset: usize,
    expected: Bytes,
}

impl Verifier {
    fn new(seed: u64) -> Self {
        Verifier {
            seed,
            offset: 0,
            expected: Bytes::new(),
        }
    }

    fn check(&mut self, mut data: &[u8]) {
        while !data.is_empty() {
            let index = self.offset / CHUNK;
            assert!(
                index < STREAM_BYTES / CHUNK,
                "stream {} too long",
                self.seed
            );
            if self.offset.is_multiple_of(CHUNK) {
                self.expected = chunk(self.seed, index);
            }
            let at = self.offset % CHUNK;
            let n = data.len().min(CHUNK - at);
            assert!(
                data[..n] == self.expected[at..at + n],
                "stream {} differs at byte {}",
                self.seed,
                self.offset
            );
            self.offset += n;
            data = &data[n..];
        }
    }
}

async fn handler(request: Request, _: Context) -> Result<lambda_stream::Response, http::Error> {
    let seed: u64 = request
        .uri()
        .path()
        .trim_start_matches('/')
        .parse()
        .unwrap_or(0);
    let chunks = stream::iter(
        (0..STREAM_BYTES / CHUNK).map(move |i| Ok::<_, std::io::Error>(chunk(seed, i))),
    );
    http::Response::builder().body(Body::from_stream(chunks))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_10_mib_streams_arrive_intact() {
    let _alone = common::measured().await;
    let config = EmulatorConfig::default().with_max_concurrency(STREAMS);
    let emulator = TestEmulator::start(config, handler).await.unwrap();
    let address = emulator.url_addr();
    let rss_before = common::proc_status("VmRSS:");
    let started = Instant::now();
    let clients: Vec<_> = (0..STREAMS as u64)
        .map(|seed| {
            tokio::spawn(async move {
                let response = send(address, common::get(&format!("/{seed}"))).await;
                assert_eq!(response.status(), 200);
                let mut body = response.into_body();
                let mut verifier = Verifier::new(seed);
                while let Some(frame) = body.frame().await {
                    if let Ok(data) = frame.expect("no transport error").into_data() {
                        verifier.check(&data);
                    }
                }
                (seed, verifier.offset)
            })
        })
        .collect();
    let mut peak_rss = 0;
    let mut verified = 0;
    for client in clients {
        let (seed, bytes) = tokio::time::timeout(std::time::Duration::from_secs(300), client)
            .await
            .expect("every stream ends")
            .unwrap();
        assert_eq!(bytes, STREAM_BYTES, "stream {seed} complete");
        verified += bytes;
        peak_rss = peak_rss.max(common::proc_status("VmRSS:"));
    }
    let elapsed = started.elapsed().as_secs_f64();
    let growth_mib = peak_rss.saturating_sub(rss_before) as f64 / 1024.0;
    eprintln!(
        "{STREAMS} streams, {} MiB verified in {elapsed:.1} s ({:.1} streams/s); RSS grew {growth_mib:.0} MiB",
        verified / (1024 * 1024),
        STREAMS as f64 / elapsed
    );
    // 1000 MiB went through; memory holds only the chunks in flight, not the responses.
    assert!(growth_mib < 256.0, "RSS grew {growth_mib} MiB");
}
