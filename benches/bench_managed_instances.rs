//! Lambda Managed Instances against one invocation per process: 32 concurrent 10 MiB streams
//! through one execution environment with `AWS_LAMBDA_MAX_CONCURRENCY=32`, and through 32
//! single-concurrency processes, in one run (each twice, interleaved). Reports throughput and
//! the functions' total peak memory (the sum of each process's peak RSS).
//!
//! `cargo run --release -p benches --bin bench_managed_instances`
//! (`BENCH_STREAMS`, `BENCH_MIB` change the 32 and the 10.)

use std::time::Instant;

use bytes::Bytes;
use futures_util::stream;
use http_body_util::BodyExt;
use lambda_stream::emulator::{Emulator, EmulatorConfig};
use lambda_stream::{Body, BoxError, Context, Request, Response};
use tokio::process::{Child, Command};

/// Set in the function processes this bench starts.
const FUNCTION_ENV: &str = "BENCH_MANAGED_INSTANCES_FUNCTION";
const CHUNK: usize = 64 * 1024;

mod processes;
use processes::setting;

/// The function: `BENCH_MIB` MiB in 64 KiB chunks.
async fn stream_mib(_: Request, _: Context) -> Result<Response, BoxError> {
    let chunks = setting("BENCH_MIB", 10) * 1024 * 1024 / CHUNK;
    let data = Bytes::from(vec![b'x'; CHUNK]);
    let body = stream::iter((0..chunks).map(move |_| Ok::<_, std::io::Error>(data.clone())));
    Ok(http::Response::builder().body(Body::from_stream(body))?)
}

/// The peak RSS of a process, in KiB.
fn peak_rss_kib(child: &Child) -> u64 {
    let pid = child.id().unwrap_or_default();
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .unwrap_or_default();
    line.split_whitespace()
        .nth(1)
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

/// One GET, read to the end; the body's length.
async fn fetch(addr: std::net::SocketAddr) -> usize {
    let tcp = tokio::net::TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(tcp))
            .await
            .expect("handshake");
    tokio::spawn(connection);
    let request = http::Request::get("/")
        .header("host", "localhost")
        .body(http_body_util::Empty::<Bytes>::new())
        .expect("a request");
    let response = sender.send_request(request).await.expect("a response");
    assert_eq!(response.status(), 200);
    response
        .into_body()
        .collect()
        .await
        .expect("a whole body")
        .to_bytes()
        .len()
}

/// `processes` function processes serving `per_process` invocations each, then `streams`
/// concurrent streams through them: MiB/s and the functions' summed peak RSS in MiB.
async fn scenario(processes: usize, per_process: usize, streams: usize) -> (f64, f64) {
    let config = EmulatorConfig::default()
        .with_url_addr("127.0.0.1:0".parse().expect("an address"))
        .with_access_log(false)
        .with_max_concurrency(processes * per_process);
    let mut emulator = Emulator::start(config).await.expect("an emulator");
    let mut children = Vec::new();
    for _ in 0..processes {
        let (_, api) = emulator.add_instance().await.expect("a Runtime API");
        let mut command = Command::new(std::env::current_exe().expect("this bench"));
        command
            .env(FUNCTION_ENV, "1")
            .env("AWS_LAMBDA_RUNTIME_API", api.authority())
            .env("RUST_LOG", "error")
            .kill_on_drop(true);
        if per_process > 1 {
            command.env("AWS_LAMBDA_MAX_CONCURRENCY", per_process.to_string());
        }
        children.push(command.spawn().expect("a function process"));
    }
    // Warm up: every process has started and served once.
    let addr = emulator.url_addr();
    futures_util::future::join_all((0..processes * per_process).map(|_| fetch(addr))).await;
    let started = Instant::now();
    let bytes: usize = futures_util::future::join_all((0..streams).map(|_| fetch(addr)))
        .await
        .into_iter()
        .sum();
    let seconds = started.elapsed().as_secs_f64();
    let peak_kib: u64 = children.iter().map(peak_rss_kib).sum();
    for child in &mut children {
        let _ = child.kill().await;
    }
    (
        bytes as f64 / (1 << 20) as f64 / seconds,
        peak_kib as f64 / 1024.0,
    )
}

#[tokio::main]
async fn main() -> Result<(), lambda_stream::Error> {
    if std::env::var_os(FUNCTION_ENV).is_some() {
        return lambda_stream::run(stream_mib).await;
    }
    let streams = setting("BENCH_STREAMS", 32);
    let mib = setting("BENCH_MIB", 10);
    println!("{streams} concurrent {mib} MiB streams, each scenario twice, interleaved");
    println!(
        "| run | one environment x{streams} MiB/s | peak RSS MiB | {streams} processes x1 MiB/s | peak RSS MiB |"
    );
    println!("|---|---|---|---|---|");
    for run in 1..=2 {
        let (shared, shared_rss) = scenario(1, streams, streams).await;
        let (separate, separate_rss) = scenario(streams, 1, streams).await;
        println!("| {run} | {shared:.0} | {shared_rss:.1} | {separate:.0} | {separate_rss:.1} |");
    }
    Ok(())
}
