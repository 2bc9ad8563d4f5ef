//! A soak of 10,000 small invocations through the real loop and emulator, alone in its test
//! binary so its memory and descriptor counts are its own: nothing grows after warm-up.

use std::time::Instant;

use http_body_util::BodyExt;
use lambda_stream::emulator::EmulatorConfig;
use lambda_stream::{Body, Context, Request};

mod common;
use common::within;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").map_or(0, |dir| dir.count())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_small_invocations_leak_nothing() {
    async fn small(_: Request, _: Context) -> Result<lambda_stream::Response, http::Error> {
        http::Response::builder().body(Body::from("ok"))
    }
    let emulator = common::serve_in_process(EmulatorConfig::default(), 1, small).await;
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
