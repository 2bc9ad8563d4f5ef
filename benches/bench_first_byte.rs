//! How soon what a handler has ready reaches the client, for producers that never wait.
//!
//! `cargo run --release -p benches --bin bench_first_byte` (about a minute) measures:
//! - **CPU-bound producer**: 30 items of 64 KiB, each after ~5 ms of CPU work inside
//!   `poll_next` (the body never returns `Pending`): item-ready -> client latency, p50 / p99,
//!   in embedded mode (`lambda_stream::run` serving its own local URL, as `cargo run` starts
//!   it) and as its own process behind the emulator (`lambda-stream serve`'s shape); the
//!   client is this process.
//! - **Compressed CSV export** (`examples/export_csv_gzip`, 1,000,000 rows): time to the first
//!   compressed byte and to the last, for gzip, zstd and br, embedded and behind `serve`.
//! - **Tokens**: a 20-byte first token (its stamp), then 16-byte ones: first yield -> client,
//!   p50 / p99, embedded.
//! - **What the function controls**: the CPU-bound producer as its own process on this
//!   process's own Runtime API (`written_at.rs`): item-ready -> its bytes written to the Runtime
//!   API socket, read as the kernel's receive timestamp of those bytes (on loopback, stamped
//!   while the function's write hands them over), so no reader's scheduling is counted;
//!   unpinned, then with the function on CPU 1 (`taskset`).
//! - **Pinned**: the CPU-bound producer as its own process on CPU 1, the emulator and the
//!   client (this process) on CPU 0: item-ready -> client, p50 / p99. On 2 CPUs the unpinned
//!   figures also measure who waits for whom.
//!
//! Items carry the wall-clock time they became ready (nanoseconds, 20 digits) so the client,
//! in another process or not, measures on the same clock.

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::stream;
use http_body_util::{BodyExt, Empty};
use lambda_stream::emulator::{Emulator, EmulatorConfig};
use lambda_stream::{Body, Context, Request, Response};

mod processes;
mod written_at;
use processes::{announced, sibling};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

const FUNCTION_ENV: &str = "BENCH_FIRST_BYTE_FUNCTION";
const ITEM: usize = 64 * 1024;
const ITEMS: usize = 30;
const WORK: Duration = Duration::from_millis(5);
/// Runs of the CPU-bound producer per measure: 40 x 30 items, so one stray scheduler slice on
/// this machine does not make the p99 alone.
const RUNS: usize = 40;

fn now_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_nanos()
}

/// An item that became ready now: its stamp, then padding to `len`.
fn stamped(len: usize) -> Bytes {
    let mut item = format!("{:020}", now_ns()).into_bytes();
    item.resize(len, b'.');
    Bytes::from(item)
}

/// Burns `work` of CPU, as a producer computing its next rows would.
fn spin(work: Duration) {
    let started = Instant::now();
    while started.elapsed() < work {
        std::hint::spin_loop();
    }
}

async fn handler(request: Request, _: Context) -> Result<Response, http::Error> {
    let body = if request.uri().path() == "/tokens" {
        let first = stream::iter([Ok::<_, std::io::Error>(stamped(20))]);
        let rest = stream::iter((0..1000).map(|_| Ok(Bytes::from_static(b"token-0123456789"))));
        Body::from_stream(futures_util::StreamExt::chain(first, rest))
    } else {
        Body::from_stream(stream::iter((0..ITEMS).map(|_| {
            spin(WORK);
            Ok::<_, std::io::Error>(stamped(ITEM))
        })))
    };
    http::Response::builder().body(body)
}

/// GETs `path` on a new connection: each `(offset, arrival ns)` of the frames that start an
/// item of `item` bytes, and the body.
async fn fetch(
    address: SocketAddr,
    path: &str,
    item: usize,
) -> Result<Vec<(u128, u128)>, BoxError> {
    let stream = tokio::net::TcpStream::connect(address).await?;
    stream.set_nodelay(true)?;
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(connection);
    let request = http::Request::get(path)
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())?;
    let mut body = sender.send_request(request).await?.into_body();
    let (mut received, mut data, mut latencies) = (0usize, Vec::new(), Vec::new());
    while let Some(frame) = body.frame().await {
        let Ok(chunk) = frame?.into_data() else {
            continue;
        };
        let arrived = now_ns();
        data.extend_from_slice(&chunk);
        let end = received + chunk.len();
        // Every item start in this frame arrived now.
        let mut start = received.div_ceil(item) * item;
        while start < end && start + 20 <= data.len() {
            let stamp: u128 = std::str::from_utf8(&data[start..start + 20])?.parse()?;
            latencies.push((stamp, arrived));
            start += item;
        }
        received = end;
    }
    Ok(latencies)
}

fn percentiles(mut ms: Vec<f64>) -> (f64, f64) {
    ms.sort_by(f64::total_cmp);
    let at = |q: f64| ms[((ms.len() - 1) as f64 * q).round() as usize];
    (at(0.5), at(0.99))
}

/// Item-ready -> client latency over `RUNS` runs of the CPU-bound producer.
async fn cpu_bound(address: SocketAddr) -> Result<(f64, f64), BoxError> {
    let mut ms = Vec::new();
    for _ in 0..RUNS {
        let samples = fetch(address, "/cpu", ITEM).await?;
        assert_eq!(samples.len(), ITEMS, "every item arrived");
        if std::env::var_os("BENCH_FIRST_BYTE_DUMP").is_some() {
            let each: Vec<String> = samples
                .iter()
                .map(|(ready, at)| format!("{:.1}", at.saturating_sub(*ready) as f64 / 1e6))
                .collect();
            eprintln!("item latencies, ms: {}", each.join(" "));
        }
        ms.extend(
            samples
                .iter()
                .map(|(ready, at)| at.saturating_sub(*ready) as f64 / 1e6),
        );
    }
    Ok(percentiles(ms))
}

async fn tokens(address: SocketAddr) -> Result<(f64, f64), BoxError> {
    let mut ms = Vec::new();
    for _ in 0..200 {
        let samples = fetch(address, "/tokens", usize::MAX / 2).await?;
        ms.extend(
            samples
                .first()
                .map(|(ready, at)| at.saturating_sub(*ready) as f64 / 1e6),
        );
    }
    Ok(percentiles(ms))
}

fn emulator_config() -> EmulatorConfig {
    EmulatorConfig::default()
        .with_url_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
        .with_access_log(false)
}

/// The handler in embedded mode, as `cargo run` starts it: `lambda_stream::run` with no
/// `AWS_LAMBDA_RUNTIME_API`, in a process of its own (the client is this one).
async fn embedded() -> Result<(SocketAddr, tokio::process::Child), BoxError> {
    let mut command = tokio::process::Command::new(std::env::current_exe()?);
    command
        .env(FUNCTION_ENV, "1")
        .env("LAMBDA_STREAM_PORT", "0")
        .env("LAMBDA_STREAM_CONCURRENCY", "1")
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env("RUST_LOG", "off");
    let (port, child) = announced(command).await?;
    Ok((SocketAddr::from(([127, 0, 0, 1], port)), child))
}

/// The handler as its own process on the emulator's Runtime API: `serve` mode.
async fn separate_process() -> Result<(Emulator, tokio::process::Child), BoxError> {
    let mut emulator = Emulator::start(emulator_config()).await?;
    let (_, api) = emulator.add_instance().await?;
    let child = tokio::process::Command::new(std::env::current_exe()?)
        .env(FUNCTION_ENV, "1")
        .env("AWS_LAMBDA_RUNTIME_API", api.authority())
        .env("RUST_LOG", "off")
        .kill_on_drop(true)
        .spawn()?;
    Ok((emulator, child))
}

/// The handler as its own process on this process's own Runtime API (`written_at`), on CPU
/// `pin` if given: item-ready -> written to the Runtime API socket, p50 / p99, in ms.
fn written(pin: Option<&str>) -> Result<(f64, f64), BoxError> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let mut command = pinned(pin)?;
    command
        .env(FUNCTION_ENV, "1")
        .env("AWS_LAMBDA_RUNTIME_API", listener.local_addr()?.to_string())
        .env("RUST_LOG", "off");
    let mut function = command.spawn()?;
    let samples = written_at::serve(&listener, "/cpu", RUNS, ITEM);
    function.kill()?;
    function.wait()?;
    let samples = samples?;
    assert_eq!(samples.len(), ITEMS * RUNS, "every item was written");
    let ms = samples
        .iter()
        .map(|(ready, written)| written.saturating_sub(*ready) as f64 / 1e6)
        .collect();
    Ok(percentiles(ms))
}

/// This executable as a command, under `taskset -c CPU` when `pin` names one.
fn pinned(pin: Option<&str>) -> Result<std::process::Command, BoxError> {
    let exe = std::env::current_exe()?;
    Ok(match pin {
        Some(cpu) => {
            let mut command = std::process::Command::new("taskset");
            command.args(["-c", cpu]).arg(exe);
            command
        }
        None => std::process::Command::new(exe),
    })
}

/// Moves every thread of this process onto `cpus` (`taskset -a -p -c`).
fn pin_self(cpus: &str) -> Result<(), BoxError> {
    let status = std::process::Command::new("taskset")
        .args(["-a", "-p", "-c", cpus, &std::process::id().to_string()])
        .stdout(std::process::Stdio::null())
        .status()?;
    if !status.success() {
        return Err(format!("taskset -a -p -c {cpus} failed").into());
    }
    Ok(())
}

/// The CPU-bound producer as its own process pinned to CPU 1, the emulator and the client
/// (this process) on CPU 0: item-ready -> client, p50 / p99.
async fn cpu_bound_pinned() -> Result<(f64, f64), BoxError> {
    pin_self("0")?;
    let mut emulator = Emulator::start(emulator_config()).await?;
    let (_, api) = emulator.add_instance().await?;
    let mut command = tokio::process::Command::from(pinned(Some("1"))?);
    let _function = command
        .env(FUNCTION_ENV, "1")
        .env("AWS_LAMBDA_RUNTIME_API", api.authority())
        .env("RUST_LOG", "off")
        .kill_on_drop(true)
        .spawn()?;
    let measured = cpu_bound(emulator.url_addr()).await;
    pin_self("0-1")?;
    measured
}

/// Time to the first and to the last compressed byte of a 1,000,000-row export.
async fn compressed_export(port: u16, encoding: &str) -> Result<(f64, f64), BoxError> {
    let stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    let io = hyper_util::rt::TokioIo::new(stream);
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(connection);
    let request = http::Request::get("/?rows=1000000")
        .header("host", "localhost")
        .header("accept-encoding", encoding)
        .body(Empty::<Bytes>::new())?;
    let started = Instant::now();
    let mut body = sender.send_request(request).await?.into_body();
    let mut first = None;
    while let Some(frame) = body.frame().await {
        if frame?.is_data() {
            first.get_or_insert_with(|| started.elapsed());
        }
    }
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    Ok((first.map_or(f64::NAN, ms), ms(started.elapsed())))
}

async fn export_rows() -> Result<(), BoxError> {
    let export = sibling("export_csv_gzip")?;
    let serve = sibling("lambda-stream")?;
    println!("| compressed CSV export, 1,000,000 rows | first byte ms | last byte ms |");
    println!("|---|---|---|");
    for mode in ["embedded", "serve"] {
        let mut command = if mode == "embedded" {
            let mut command = tokio::process::Command::new(&export);
            command
                .env("LAMBDA_STREAM_PORT", "0")
                .env_remove("AWS_LAMBDA_RUNTIME_API");
            command
        } else {
            let mut command = tokio::process::Command::new(&serve);
            command.args(["serve", "--port", "0", "--"]).arg(&export);
            command
        };
        command.env("RUST_LOG", "off");
        let (port, _child) = announced(command).await?;
        for encoding in ["gzip", "zstd", "br"] {
            let (first, last) = compressed_export(port, encoding).await?;
            println!("| {encoding}, {mode} | {first:.1} | {last:.1} |");
        }
    }
    Ok(())
}

async fn bench() -> Result<(), BoxError> {
    println!("| item-ready -> client | p50 ms | p99 ms |");
    println!("|---|---|---|");
    let (address, function) = embedded().await?;
    let (p50, p99) = cpu_bound(address).await?;
    println!("| CPU-bound producer (64 KiB every ~5 ms), embedded | {p50:.2} | {p99:.2} |");
    let (t50, t99) = tokens(address).await?;
    drop(function);
    let (emulator, _function) = separate_process().await?;
    let (s50, s99) = cpu_bound(emulator.url_addr()).await?;
    println!("| CPU-bound producer (64 KiB every ~5 ms), own process | {s50:.2} | {s99:.2} |");
    println!("| first token (then 16-byte ones), first yield, embedded | {t50:.2} | {t99:.2} |");
    let (w50, w99) = tokio::task::spawn_blocking(|| written(None)).await??;
    println!(
        "| CPU-bound producer, own process: item-ready -> written to the Runtime API socket | {w50:.2} | {w99:.2} |"
    );
    let (w50, w99) = tokio::task::spawn_blocking(|| written(Some("1"))).await??;
    println!(
        "| CPU-bound producer, own process on CPU 1: item-ready -> written to the Runtime API socket | {w50:.2} | {w99:.2} |"
    );
    let (p50, p99) = cpu_bound_pinned().await?;
    println!(
        "| CPU-bound producer, own process on CPU 1, emulator and client on CPU 0 | {p50:.2} | {p99:.2} |"
    );
    println!();
    export_rows().await
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    if std::env::var_os(FUNCTION_ENV).is_some() {
        return Ok(lambda_stream::run(handler).await?);
    }
    bench().await
}
