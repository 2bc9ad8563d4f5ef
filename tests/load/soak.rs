//! Memory and descriptors through the real loop and emulator: a soak of 10,000 small invocations grows
//! nothing after warm-up, and async invocations of large streams hold none of their bytes.

use lambda_stream::testing::TestEmulator;
use std::time::Instant;

use http_body_util::BodyExt;
use lambda_stream::emulator::EmulatorConfig;
use lambda_stream::{Body, Context, Request};

use crate::common;
use crate::common::within;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_small_invocations_leak_nothing() {
    let _alone = common::measured().await;
    async fn small(_: Request, _: Context) -> Result<lambda_stream::Response, http::Error> {
        http::Response::builder().body(Body::from("ok"))
    }
    let emulator = TestEmulator::start(EmulatorConfig::default(), small)
        .await
        .unwrap();
    let address = emulator.url_addr();
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .unwrap();
    tokio::spawn(connection);
    let mut baseline = (0, 0);
    let started = Instant::now();
    for i in 0..10_000 {
        sender.ready().await.unwrap();
        let response = within(sender.send_request(common::get("/"))).await.unwrap();
        let body = response.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, "ok");
        if i == 999 {
            baseline = (common::proc_status("VmRSS:"), open_fds());
        }
    }
    let (rss, fds) = (common::proc_status("VmRSS:"), open_fds());
    eprintln!(
        "10,000 invocations in {:.1} s; after 1,000: {} KiB RSS, {} fds; after 10,000: {rss} KiB, {fds} fds",
        started.elapsed().as_secs_f64(),
        baseline.0,
        baseline.1
    );
    assert!(
        fds <= baseline.1 + 2,
        "fds grew from {} to {fds}",
        baseline.1
    );
    assert!(
        rss < baseline.0 + 16 * 1024,
        "RSS grew from {} to {rss} KiB",
        baseline.0
    );
}

/// `Event` invocations answer `202` at once; the function's answer is read to its end only to
/// log it. Four 64 MiB streams at once: the emulator counts their bytes and keeps none (it used
/// to collect each whole, 256 MiB here).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_invocations_of_large_streams_keep_none_of_their_bytes() {
    const CHUNKS: usize = 1024;
    let _alone = common::measured().await;
    async fn large(_: Request, _: Context) -> Result<lambda_stream::Response, http::Error> {
        let chunk = bytes::Bytes::from(vec![b'x'; 64 * 1024]);
        let chunks =
            futures_util::stream::repeat_with(move || Ok::<_, std::io::Error>(chunk.clone()));
        http::Response::builder().body(Body::from_stream(futures_util::StreamExt::take(
            chunks, CHUNKS,
        )))
    }
    let config = EmulatorConfig::default().with_budget(lambda_stream::Budget::bytes(1 << 30));
    let emulator = TestEmulator::start(config, large).await.unwrap();
    let before = common::proc_status("VmRSS:");
    for _ in 0..4 {
        let request = http::Request::post("/2015-03-31/functions/local/invocations")
            .header("host", "localhost")
            .header("x-amz-invocation-type", "Event")
            .body(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")))
            .unwrap();
        let response = within(common::send(emulator.url_addr(), request)).await;
        assert_eq!(response.status(), 202);
    }
    let mut peak = before;
    within(async {
        emulator.idle().await;
    })
    .await;
    peak = peak.max(common::proc_status("VmHWM:"));
    let grown_kib = peak.saturating_sub(before);
    eprintln!("4 x 64 MiB async: RSS {before} KiB before, peak {peak} KiB");
    assert!(grown_kib < 96 * 1024, "the peak grew by {grown_kib} KiB");
}
