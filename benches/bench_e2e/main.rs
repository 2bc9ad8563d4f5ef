//! End-to-end benchmark over loopback, ours against the official `lambda_runtime` 1.5 loop and
//! raw TCP baselines, in one run: handler -> runtime loop (a child process, as on Lambda) -> our
//! emulator -> a hyper client. Then paired rounds (`paired.rs`) move the same bytes over one
//! loopback hop (the physical limit), through our two hops, a copying relay and a zero-copy
//! `splice(2)` relay (two hops, the benchmark's own topology with no HTTP), each path as a share
//! of the one-hop copy of its round. Prints both tables and writes `docs/perf/results.md` and
//! `docs/perf/throughput.svg`.
//!
//! `cargo run --release -p benches --bin bench_e2e` (`BENCH_E2E_OURS=1`: our loop
//! alone, one line, for paired runs of two builds)
//!
//! The same executable is the function: run with `BENCH_E2E_FUNCTION=ours` or `=official` (and
//! `AWS_LAMBDA_RUNTIME_API`), it serves the benchmark's workloads on that loop.

use std::convert::Infallible;
use std::fmt::Write as _;

use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use futures_util::stream::{self, BoxStream, StreamExt};
use http_body_util::{BodyExt, Empty};
use lambda_stream::emulator::{Emulator, EmulatorConfig};

mod paired;
mod report;

const FUNCTION_ENV: &str = "BENCH_E2E_FUNCTION";
const MIB: usize = 1024 * 1024;
const TOTAL: usize = 64 * MIB;
const CHUNK_SIZES: [usize; 3] = [16, 1024, 64 * 1024];
const TOKENS: usize = 1_000_000;
const TTFB_SAMPLES: usize = 200;
const RSS_STREAM: usize = 75 * MIB;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What a request asks the function to stream, from its query string.
#[derive(Debug, Clone, Copy)]
enum Workload {
    /// `total` bytes in `chunk`-byte items.
    Bytes { chunk: usize, total: usize },
    /// `count` 16-byte tokens, coalesced (ours only) or one item each.
    Tokens { count: usize, coalesce: bool },
    /// The handler's clock at its first yield, then a little more.
    FirstByte,
}

impl Workload {
    fn query(self) -> String {
        match self {
            Workload::Bytes { chunk, total } => format!("kind=bytes&chunk={chunk}&total={total}"),
            Workload::Tokens { count, coalesce } => {
                format!("kind=tokens&count={count}&coalesce={}", u8::from(coalesce))
            }
            Workload::FirstByte => "kind=ttfb".to_owned(),
        }
    }

    fn parse(query: &str) -> Workload {
        let field = |name: &str| -> usize {
            form_urlencoded::parse(query.as_bytes())
                .find(|(k, _)| k == name)
                .and_then(|(_, v)| v.parse().ok())
                .unwrap_or(0)
        };
        match form_urlencoded::parse(query.as_bytes()).find(|(k, _)| k == "kind") {
            Some((_, kind)) if kind == "bytes" => Workload::Bytes {
                chunk: field("chunk").max(1),
                total: field("total"),
            },
            Some((_, kind)) if kind == "tokens" => Workload::Tokens {
                count: field("count"),
                coalesce: field("coalesce") == 1,
            },
            _ => Workload::FirstByte,
        }
    }

    /// The items, identical for both loops.
    fn items(self) -> BoxStream<'static, Result<Bytes, Infallible>> {
        match self {
            Workload::Bytes { chunk, total } => {
                let data = Bytes::from(vec![b'x'; chunk]);
                stream::iter(
                    (0..total)
                        .step_by(chunk)
                        .map(move |start| Ok(data.slice(..chunk.min(total - start)))),
                )
                .boxed()
            }
            Workload::Tokens { count, .. } => {
                let token = Bytes::from_static(b"token-0123456789");
                stream::iter((0..count).map(move |_| Ok(token.clone()))).boxed()
            }
            Workload::FirstByte => {
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .unwrap_or_default();
                let stamp = Bytes::from(format!("{:020}", now.as_nanos()));
                stream::iter([Ok(stamp), Ok(Bytes::from_static(b" and the rest"))]).boxed()
            }
        }
    }
}

// ---- the function, on our loop ----

async fn ours(
    request: lambda_stream::Request,
    _: lambda_stream::Context,
) -> Result<lambda_stream::Response, http::Error> {
    let workload = Workload::parse(request.uri().query().unwrap_or_default());
    let mut body = lambda_stream::Body::from_stream(workload.items());
    if let Workload::Tokens { coalesce: true, .. } = workload {
        body = body.coalesce(lambda_stream::Coalesce {
            max_bytes: 16 * 1024,
            max_delay: Duration::from_millis(20),
        });
    }
    http::Response::builder()
        .header("content-type", "application/octet-stream")
        .body(body)
}

// ---- the function, on the official loop ----

async fn official(
    event: lambda_runtime::LambdaEvent<serde_json::Value>,
) -> Result<
    lambda_runtime::StreamResponse<BoxStream<'static, Result<Bytes, Infallible>>>,
    lambda_runtime::Error,
> {
    let query = event.payload["rawQueryString"].as_str().unwrap_or_default();
    let mut metadata_prelude = lambda_runtime::MetadataPrelude::default();
    metadata_prelude
        .headers
        .insert("content-type", "application/octet-stream".parse()?);
    Ok(lambda_runtime::StreamResponse {
        metadata_prelude,
        stream: Workload::parse(query).items(),
    })
}

// ---- the benchmark ----

/// A function process on its own Runtime API of the shared emulator.
struct Function {
    child: tokio::process::Child,
}

impl Function {
    async fn start(emulator: &mut Emulator, which: &str) -> Result<Function, BoxError> {
        let (_, api) = emulator.add_instance().await?;
        let child = tokio::process::Command::new(std::env::current_exe()?)
            .env(FUNCTION_ENV, which)
            .env("AWS_LAMBDA_RUNTIME_API", api.authority())
            .env("AWS_LAMBDA_FUNCTION_NAME", "bench")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "1024")
            .env("LAMBDA_STREAM_BUDGET", "200000000")
            .env("RUST_LOG", "off")
            .kill_on_drop(true)
            .spawn()?;
        Ok(Function { child })
    }

    /// Peak resident memory so far (`VmHWM`), in KiB.
    fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()?)).ok()?;
        let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }
}

/// One kept-alive HTTP/1.1 connection to the Function URL.
struct Client {
    address: SocketAddr,
    sender: hyper::client::conn::http1::SendRequest<Empty<Bytes>>,
}

impl Client {
    async fn connect(address: SocketAddr) -> Result<Client, BoxError> {
        let stream = tokio::net::TcpStream::connect(address).await?;
        stream.set_nodelay(true)?;
        let (sender, connection) =
            hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
        tokio::spawn(connection);
        Ok(Client { address, sender })
    }

    /// A connection ready for the next request: this one, or a new one when it is not ready
    /// within a second (closed by the server, or wedged), as an HTTP client's pool would do.
    async fn ready(&mut self) -> Result<(), BoxError> {
        let ready = tokio::time::timeout(Duration::from_secs(1), self.sender.ready()).await;
        if !matches!(ready, Ok(Ok(()))) {
            eprintln!("  (connection not ready ({ready:?}): reconnecting)");
            *self = Client::connect(self.address).await?;
        }
        Ok(())
    }

    /// Streams one workload; returns (bytes, elapsed, first data frame, when it came).
    async fn run(&mut self, workload: Workload) -> Result<(usize, Duration, Bytes), BoxError> {
        self.ready().await?;
        let request = http::Request::get(format!("/bench?{}", workload.query()))
            .header("host", "localhost")
            .body(Empty::new())?;
        let started = Instant::now();
        let mut body = self.sender.send_request(request).await?.into_body();
        let (mut bytes, mut first) = (0, None);
        while let Some(frame) = body.frame().await {
            if let Ok(data) = frame?.into_data() {
                bytes += data.len();
                first.get_or_insert(data);
            }
        }
        Ok((bytes, started.elapsed(), first.unwrap_or_default()))
    }
}

/// CPU time used by the whole machine so far (every process and the kernel), in ms, from
/// `/proc/stat` (10 ms ticks: measure across enough work).
fn machine_cpu_ms() -> Option<u64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let fields: Vec<u64> = stat
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|f| f.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal: all but idle and iowait are busy.
    let busy: u64 = fields
        .iter()
        .take(8)
        .enumerate()
        .filter(|(i, _)| *i != 3 && *i != 4)
        .map(|(_, v)| v)
        .sum();
    Some(busy * 10)
}

/// Machine CPU milliseconds per GiB moved, from two `machine_cpu_ms` readings.
fn cpu_per_gib(before: Option<u64>, after: Option<u64>, bytes: usize) -> Option<f64> {
    let used = after?.checked_sub(before?)?;
    Some(used as f64 * (1024.0 * MIB as f64) / bytes as f64)
}

/// The median of three runs' throughput, in MiB/s, and the machine's CPU ms per GiB over them.
async fn throughput(
    client: &mut Client,
    workload: Workload,
) -> Result<(f64, Option<f64>), BoxError> {
    let mut rates = Vec::new();
    let cpu_before = machine_cpu_ms();
    let mut moved = 0;
    for _ in 0..3 {
        let (bytes, elapsed, _) = client.run(workload).await?;
        if let Workload::Bytes { total, .. } = workload {
            assert_eq!(bytes, total, "every byte arrived");
        }
        if std::env::var_os("BENCH_E2E_QUICK").is_some() {
            eprintln!("  {bytes} bytes in {elapsed:?}");
        }
        moved += bytes;
        rates.push(bytes as f64 / MIB as f64 / elapsed.as_secs_f64());
    }
    let cpu = cpu_per_gib(cpu_before, machine_cpu_ms(), moved);
    rates.sort_by(f64::total_cmp);
    Ok((rates[1], cpu))
}

/// Tokens per second (median of three).
async fn token_rate(client: &mut Client, coalesce: bool) -> Result<f64, BoxError> {
    let workload = Workload::Tokens {
        count: TOKENS,
        coalesce,
    };
    let mut rates = Vec::new();
    for _ in 0..3 {
        let (bytes, elapsed, _) = client.run(workload).await?;
        assert_eq!(bytes, TOKENS * 16, "every token arrived");
        rates.push(TOKENS as f64 / elapsed.as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    Ok(rates[1])
}

/// Handler's first yield -> first byte at the client: (p50, p99) in milliseconds.
async fn first_byte(client: &mut Client) -> Result<(f64, f64), BoxError> {
    let mut samples = Vec::new();
    for _ in 0..TTFB_SAMPLES {
        let (_, _, first) = client.run(Workload::FirstByte).await?;
        let arrived = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos();
        let stamp: u128 = std::str::from_utf8(&first[..20.min(first.len())])?.parse()?;
        samples.push(arrived.saturating_sub(stamp) as f64 / 1e6);
    }
    samples.sort_by(f64::total_cmp);
    let at = |q: f64| samples[((samples.len() - 1) as f64 * q).round() as usize];
    Ok((at(0.5), at(0.99)))
}

#[derive(Default)]
pub(crate) struct LoopResults {
    /// MiB/s per chunk size.
    throughput: Vec<f64>,
    /// Machine CPU ms per GiB at 64 KiB chunks.
    cpu_per_gib: Option<f64>,
    tokens: f64,
    tokens_coalesced: Option<f64>,
    ttfb: (f64, f64),
    rss_growth_mib: Option<f64>,
}

async fn measure_loop(emulator: &mut Emulator, which: &str) -> Result<LoopResults, BoxError> {
    let function = Function::start(emulator, which).await?;
    let mut client = Client::connect(emulator.url_addr()).await?;
    let mut results = LoopResults::default();
    client
        .run(Workload::Bytes {
            chunk: 1024,
            total: MIB,
        })
        .await?; // warm up
    let before = function.peak_rss_kib();
    client
        .run(Workload::Bytes {
            chunk: 64 * 1024,
            total: RSS_STREAM,
        })
        .await?;
    let after = function.peak_rss_kib();
    results.rss_growth_mib = before
        .zip(after)
        .map(|(b, a)| a.saturating_sub(b) as f64 / 1024.0);
    for chunk in CHUNK_SIZES {
        let (rate, cpu) = throughput(
            &mut client,
            Workload::Bytes {
                chunk,
                total: TOTAL,
            },
        )
        .await?;
        eprintln!("  {which}: 64 MiB in {chunk}-byte chunks: {rate:.1} MiB/s");
        results.throughput.push(rate);
        if chunk == 64 * 1024 {
            results.cpu_per_gib = cpu;
        }
    }
    results.tokens = token_rate(&mut client, false).await?;
    if which == "ours" {
        results.tokens_coalesced = Some(token_rate(&mut client, true).await?);
    }
    results.ttfb = first_byte(&mut client).await?;
    drop(function);
    Ok(results)
}

fn svg_plot(raw: f64, relayed: f64, ours: &[f64], official: &[f64]) -> String {
    let (width, height, left, bottom, top) = (640.0, 360.0, 70.0, 300.0, 30.0);
    let max = raw.max(ours.iter().chain(official).copied().fold(0.0, f64::max)) * 1.1;
    let x = |i: usize| left + 60.0 + i as f64 * 220.0;
    let y = |v: f64| bottom - (v / max) * (bottom - top);
    let mut svg = format!(
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" font-family="sans-serif" font-size="12">
<rect width="100%" height="100%" fill="white"/>
<text x="{}" y="18" text-anchor="middle" font-size="14">64 MiB through runtime + emulator (MiB/s, higher is better)</text>
<line x1="{left}" y1="{bottom}" x2="{}" y2="{bottom}" stroke="black"/>
<line x1="{left}" y1="{top}" x2="{left}" y2="{bottom}" stroke="black"/>
"#,
        width / 2.0,
        width - 20.0
    );
    for tick in 0..=4 {
        let value = max * f64::from(tick) / 4.0;
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" text-anchor="end">{value:.0}</text><line x1="{left}" y1="{1}" x2="{}" y2="{1}" stroke="#ddd"/>"##,
            left - 6.0,
            y(value),
            width - 20.0
        );
    }
    for (value, label) in [
        (raw, "raw loopback TCP copy, one hop (64 KiB writes)"),
        (relayed, "raw copy through a relay, two hops"),
    ] {
        let _ = writeln!(
            svg,
            r#"<line x1="{left}" y1="{0}" x2="{1}" y2="{0}" stroke="gray" stroke-dasharray="6,4"/><text x="{2}" y="{3}" fill="gray">{label}</text>"#,
            y(value),
            width - 20.0,
            left + 6.0,
            y(value) + 14.0
        );
    }
    for (series, color, name) in [
        (ours, "#1f77b4", "lambda-stream"),
        (official, "#d62728", "lambda_runtime 1.5"),
    ] {
        let points: Vec<String> = series
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{},{}", x(i), y(*v)))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{color}" stroke-width="2"/>"#,
            points.join(" ")
        );
        for (i, v) in series.iter().enumerate() {
            let _ = writeln!(
                svg,
                r#"<circle cx="{}" cy="{}" r="4" fill="{color}"/><text x="{}" y="{}" fill="{color}">{v:.0}</text>"#,
                x(i),
                y(*v),
                x(i) + 6.0,
                y(*v) - 6.0
            );
        }
        // The legend sits bottom right, below where the lines climb.
        let legend_y = bottom - if name == "lambda-stream" { 50.0 } else { 32.0 };
        let _ = writeln!(
            svg,
            r#"<rect x="{}" y="{}" width="12" height="12" fill="{color}"/><text x="{}" y="{}">{name}</text>"#,
            width - 180.0,
            legend_y - 10.0,
            width - 162.0,
            legend_y
        );
    }
    for (i, label) in ["16 B chunks", "1 KiB chunks", "64 KiB chunks"]
        .iter()
        .enumerate()
    {
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{label}</text>"#,
            x(i),
            bottom + 20.0
        );
    }
    svg.push_str("</svg>\n");
    svg
}

/// `BENCH_E2E_QUICK=<chunk bytes>`: only 8 MiB in chunks of that size (default 64 KiB) on each
/// loop, for profiling.
async fn quick(emulator: &mut Emulator) -> Result<(), BoxError> {
    let raw = paired::one_hop(TOTAL).await?;
    for which in ["ours", "official"] {
        let _function = Function::start(emulator, which).await?;
        let mut client = Client::connect(emulator.url_addr()).await?;
        let chunk = std::env::var("BENCH_E2E_QUICK")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(64 * 1024);
        let workload = Workload::Bytes {
            chunk,
            total: TOTAL / 8,
        };
        let (rate, _) = throughput(&mut client, workload).await?;
        println!(
            "{which}: {rate:.0} MiB/s ({:.0}% of raw TCP {raw:.0} MiB/s)",
            100.0 * rate / raw
        );
    }
    Ok(())
}

/// `BENCH_E2E_OURS=1`: our loop's measures alone (no baselines, no official loop), one line,
/// for paired runs of two builds.
async fn ours_only(emulator: &mut Emulator) -> Result<(), BoxError> {
    let ours = measure_loop(emulator, "ours").await?;
    println!(
        "MiB/s at 16 B / 1 KiB / 64 KiB: {:.1} / {:.1} / {:.1}; tokens/s {:.0} ({:.0} coalesced); first yield p50/p99 ms {:.2} / {:.2}; CPU ms per GiB at 64 KiB {:.0}",
        ours.throughput[0],
        ours.throughput[1],
        ours.throughput[2],
        ours.tokens,
        ours.tokens_coalesced.unwrap_or_default(),
        ours.ttfb.0,
        ours.ttfb.1,
        ours.cpu_per_gib.unwrap_or_default()
    );
    Ok(())
}

async fn bench() -> Result<(), BoxError> {
    let mut emulator = Emulator::start(
        EmulatorConfig::default()
            .with_url_addr("127.0.0.1:0".parse()?)
            .with_access_log(false)
            .with_budget(lambda_stream::Budget::bytes(200_000_000))
            .with_timeout(Duration::from_secs(300)),
    )
    .await?;
    if std::env::var_os("BENCH_E2E_QUICK").is_some() {
        return quick(&mut emulator).await;
    }
    if std::env::var_os("BENCH_E2E_OURS").is_some() {
        return ours_only(&mut emulator).await;
    }
    let ours = measure_loop(&mut emulator, "ours").await?;
    let official = measure_loop(&mut emulator, "official").await?;
    eprintln!("paired rounds against raw TCP...");
    let paired = paired::paired_rounds(&mut emulator).await?;
    let table = report::table(&ours, &official, &paired);
    println!("{table}");

    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/perf");
    std::fs::create_dir_all(&dir)?;
    let header = format!(
        "Measured by `cargo run --release -p benches --bin bench_e2e` ({} CPUs).\n\n",
        std::thread::available_parallelism().map_or(0, usize::from)
    );
    std::fs::write(dir.join("results.md"), header + &table)?;
    let (raw, relayed) = (paired.direct.rate.median, paired.copy_relay.rate.median);
    std::fs::write(
        dir.join("throughput.svg"),
        svg_plot(raw, relayed, &ours.throughput, &official.throughput),
    )?;
    eprintln!("wrote docs/perf/results.md and docs/perf/throughput.svg");
    Ok(())
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    match std::env::var(FUNCTION_ENV).as_deref() {
        Ok("ours") => Ok(lambda_stream::run(ours).await?),
        Ok("official") => lambda_runtime::run(lambda_runtime::service_fn(official)).await,
        _ => bench().await,
    }
}
