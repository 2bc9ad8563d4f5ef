//! `lambda-stream get` against curl on the same pages, and its memory as the download grows.
//!
//! `cargo build --release --workspace --all-features --examples --bins`, then
//! `cargo run --release -p benches --bin bench_get` (about two minutes on 2 CPUs):
//!
//! - `examples/export_ndjson` serves a local Function URL (75 MiB pages, the default budget);
//!   an export of about 1 GiB is paged once with `lambda_stream::client` to learn its page
//!   URLs;
//! - each round downloads the whole export with `lambda-stream get URL > /dev/null` and with
//!   one curl process fetching the same page URLs over one connection (`-o /dev/null` each),
//!   the order reversed every other round; the ratio of the two in each round is reported, so
//!   the machine's drift between rounds cancels out;
//! - `get`'s peak RSS (`VmHWM`, read while it runs) downloading one page (64 MiB) and the
//!   whole export: flat means the same.

use std::process::Stdio;
use std::time::{Duration, Instant};

use futures_util::StreamExt;
use lambda_stream::BoxError;
use lambda_stream::client::{Client, Event};
use tokio::process::{Child, Command};

mod processes;
use processes::{announced, sibling};

const ROUNDS: usize = 10;
const GIB: u64 = 1 << 30;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let export = sibling("export_ndjson")?;
    let mut command = Command::new(&export);
    command
        .env("LAMBDA_STREAM_PORT", "0")
        .env("RUST_LOG", "off")
        .env_remove("AWS_LAMBDA_RUNTIME_API");
    let (port, _function) = announced(command).await?;
    let base = format!("http://127.0.0.1:{port}/");
    let row_bytes = bytes_of(&format!("{base}?rows=10000")).await? as f64 / 10_000.0;
    let rows = (GIB as f64 / row_bytes) as u64;
    let url = format!("{base}?rows={rows}");
    let (pages, total) = page_urls(&url).await?;
    println!(
        "export: {rows} rows, {:.0} MiB in {} pages ({} CPUs)\n",
        total as f64 / 1048576.0,
        pages.len(),
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );
    compare_with_curl(&url, &pages, total).await?;
    let one_page = format!("{base}?rows={}", (64.0 * 1048576.0 / row_bytes) as u64);
    let small = run_get(&one_page).await?;
    let whole = run_get(&url).await?;
    println!("\n| `get` peak RSS | KiB |\n|---|---|");
    println!("| one page, 64 MiB | {} |", small.1);
    println!("| {} pages, 1 GiB | {} |", pages.len(), whole.1);
    Ok(())
}

/// Paired rounds: `get` and curl over the same pages, alternating which goes first.
async fn compare_with_curl(url: &str, pages: &[String], total: u64) -> Result<(), BoxError> {
    let (mut ours, mut curls, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for round in 0..ROUNDS {
        let (get, curl) = if round % 2 == 0 {
            let get = run_get(url).await?.0;
            (get, run_curl(pages).await?)
        } else {
            let curl = run_curl(pages).await?;
            (run_get(url).await?.0, curl)
        };
        ours.push(get);
        curls.push(curl);
        ratios.push(curl.as_secs_f64() / get.as_secs_f64());
    }
    let rate = |d: Duration| total as f64 / 1048576.0 / d.as_secs_f64();
    let (get, curl) = (median(&mut ours), median(&mut curls));
    println!("| {ROUNDS} paired rounds | median s | MiB/s |\n|---|---|---|");
    println!(
        "| `lambda-stream get` | {:.2} | {:.0} |",
        get.as_secs_f64(),
        rate(get)
    );
    println!(
        "| curl, same pages | {:.2} | {:.0} |",
        curl.as_secs_f64(),
        rate(curl)
    );
    ratios.sort_by(f64::total_cmp);
    println!(
        "\n`get`'s rate as a share of curl's, per round: median {:.0}% (range {:.0}-{:.0}%)",
        ratios[ratios.len() / 2] * 100.0,
        ratios[0] * 100.0,
        ratios[ratios.len() - 1] * 100.0
    );
    Ok(())
}

fn median(values: &mut [Duration]) -> Duration {
    values.sort();
    values[values.len() / 2]
}

/// The URLs of every page of `url`'s export, and its bytes.
async fn page_urls(url: &str) -> Result<(Vec<String>, u64), BoxError> {
    let mut events = std::pin::pin!(Client::new().events(url));
    let (mut pages, mut bytes) = (Vec::new(), 0);
    while let Some(event) = events.next().await {
        match event? {
            Event::Record(record) => bytes += record.len() as u64,
            Event::PageEnd { url, .. } => pages.push(url),
            _ => {}
        }
    }
    Ok((pages, bytes))
}

/// The bytes of a one-page export.
async fn bytes_of(url: &str) -> Result<u64, BoxError> {
    Ok(page_urls(url).await?.1)
}

/// `lambda-stream get url > /dev/null`: how long it took, and its peak RSS in KiB.
async fn run_get(url: &str) -> Result<(Duration, u64), BoxError> {
    let mut command = Command::new(sibling("lambda-stream")?);
    command
        .args(["get", url])
        .stdout(std::fs::File::create("/dev/null")?);
    timed(command).await
}

/// One curl fetching every page over one connection.
async fn run_curl(pages: &[String]) -> Result<Duration, BoxError> {
    let mut command = Command::new("curl");
    command.args(["-sS", "--fail"]);
    for page in pages {
        command.args(["-o", "/dev/null", page]);
    }
    Ok(timed(command).await?.0)
}

/// Runs `command` to its end: how long it took and its peak RSS (KiB), read every 5 ms.
async fn timed(mut command: Command) -> Result<(Duration, u64), BoxError> {
    let started = Instant::now();
    let mut child = command.stdin(Stdio::null()).spawn()?;
    let mut peak = 0;
    let status = loop {
        tokio::select! {
            status = child.wait() => break status?,
            () = tokio::time::sleep(Duration::from_millis(5)) => peak = peak.max(vm_hwm(&child)),
        }
    };
    if !status.success() {
        return Err(format!("{command:?}: {status}").into());
    }
    Ok((started.elapsed(), peak))
}

/// A running process's peak RSS so far, in KiB.
fn vm_hwm(child: &Child) -> u64 {
    let status = child
        .id()
        .and_then(|pid| std::fs::read_to_string(format!("/proc/{pid}/status")).ok());
    let line = status.as_deref().and_then(|s| {
        s.lines()
            .find(|l| l.starts_with("VmHWM:"))
            .map(str::to_owned)
    });
    line.and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        .unwrap_or(0)
}
