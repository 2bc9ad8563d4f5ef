//! CPU per record where Lambda bills it: `examples/export_ndjson` (~80-byte records) on 7.2% of
//! one core, the CPU a 128 MB function gets, the function alone inside that limit.
//!
//! `cargo build --release --workspace --all-features --examples --bins`, then
//! `cargo run --release -p benches --bin bench_cpu_quota` (as root: it makes a cgroup; about a
//! minute):
//!
//! - the function runs as its own process on the Runtime API of an emulator in this process,
//!   inside a cgroup with `cpu.cfs_quota_us` 7200 of `cpu.cfs_period_us` 100000 (cgroup v1;
//!   `cpu.max` "7200 100000" on v2); the emulator and the client (hyper, this process) are
//!   outside it;
//! - each run downloads one page of `ROWS` records (after a one-record page, so start-up is
//!   not counted); the rate is the body's bytes over the time from the request to its last
//!   byte; each binary's CPU time per record is read from its threads' `schedstat`; a run
//!   lasts about 14 quota periods, so each carries a few percent of quantisation;
//! - `bench_cpu_quota NAME=PATH ...` runs the given builds of `export_ndjson` instead (the
//!   build before a change against the build after it), alternating run by run.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Instant;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use lambda_stream::BoxError;
use lambda_stream::emulator::{Emulator, EmulatorConfig};

mod processes;
use processes::{cpu_time, named_builds, setting, sibling};

const ROWS: u64 = 400_000;
/// Runs per build; `BENCH_CPU_QUOTA_RUNS` sets another count.
const RUNS: usize = 6;
/// 7.2% of a core; `BENCH_CPU_QUOTA_US` sets another quota (100000: a whole core, for
/// profiling the same run without the limit).
const QUOTA_US: u64 = 7_200;
const PERIOD_US: u64 = 100_000;
const MIB: f64 = 1024.0 * 1024.0;

/// One build under test and what its runs measured.
struct Contestant {
    name: String,
    binary: PathBuf,
    rates: Vec<f64>,
    cpu_ns_per_record: Vec<f64>,
}

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let mut contestants = contestants()?;
    let quota = setting("BENCH_CPU_QUOTA_US", QUOTA_US);
    let cgroup = Cgroup::create(quota, PERIOD_US)?;
    let runs = setting("BENCH_CPU_QUOTA_RUNS", RUNS);
    for run in 0..runs {
        let count = contestants.len();
        for turn in 0..count {
            // Alternate which goes first, so neither always follows the other.
            let index = if run % 2 == 0 { turn } else { count - 1 - turn };
            let contestant = &mut contestants[index];
            let (rate, cpu_per_record) = measure(&contestant.binary, &cgroup).await?;
            contestant.rates.push(rate);
            contestant.cpu_ns_per_record.push(cpu_per_record);
        }
    }
    println!(
        "{runs} runs of {ROWS} records each, on {:.1}% of a core ({} / {} us):",
        quota as f64 / PERIOD_US as f64 * 100.0,
        quota,
        PERIOD_US
    );
    println!();
    println!("| build | MiB/s: median (range) | CPU ns per record, median |");
    println!("|---|---|---|");
    for contestant in &mut contestants {
        contestant.rates.sort_by(f64::total_cmp);
        contestant.cpu_ns_per_record.sort_by(f64::total_cmp);
        let rates = &contestant.rates;
        println!(
            "| {} | {:.1} ({:.1} .. {:.1}) | {:.0} |",
            contestant.name,
            rates[rates.len() / 2],
            rates[0],
            rates[rates.len() - 1],
            contestant.cpu_ns_per_record[contestant.cpu_ns_per_record.len() / 2],
        );
    }
    Ok(())
}

/// The builds named on the command line, or this workspace's `export_ndjson`.
fn contestants() -> Result<Vec<Contestant>, BoxError> {
    let mut named = named_builds()?;
    if named.is_empty() {
        named.push(("export_ndjson".to_owned(), sibling("export_ndjson")?));
    }
    Ok(named
        .into_iter()
        .map(|(name, binary)| Contestant {
            name,
            binary,
            rates: Vec::new(),
            cpu_ns_per_record: Vec::new(),
        })
        .collect())
}

/// One run: the function started inside `cgroup`, one page of `ROWS` records downloaded; its
/// rate in MiB/s and the function's CPU nanoseconds per record.
async fn measure(binary: &Path, cgroup: &Cgroup) -> Result<(f64, f64), BoxError> {
    let mut emulator = Emulator::start(
        EmulatorConfig::default()
            .with_url_addr(SocketAddr::from(([127, 0, 0, 1], 0)))
            .with_access_log(false),
    )
    .await?;
    let (_, api) = emulator.add_instance().await?;
    // The shell joins the cgroup, then becomes the function: it is inside from its first
    // instruction.
    let mut function = tokio::process::Command::new("sh")
        .arg("-c")
        .arg(format!(
            "echo $$ > {} && exec \"$0\"",
            cgroup.procs().display()
        ))
        .arg(binary)
        .env("AWS_LAMBDA_RUNTIME_API", api.authority())
        .env("RUST_LOG", "off")
        .kill_on_drop(true)
        .spawn()?;
    let pid = function.id().ok_or("the function exited")?;
    // One small page first: the function's start-up and first quota period are not counted.
    download(emulator.url_addr(), "/?rows=1").await?;
    let before = cpu_time(pid)?;
    let started = Instant::now();
    let bytes = download(emulator.url_addr(), &format!("/?rows={ROWS}")).await?;
    let elapsed = started.elapsed();
    let cpu = cpu_time(pid)?.saturating_sub(before);
    function.kill().await?;
    emulator.shut_down().await;
    let rate = bytes as f64 / MIB / elapsed.as_secs_f64();
    Ok((rate, cpu.as_nanos() as f64 / ROWS as f64))
}

/// GETs `path` and reads the body to its end: how many bytes it held.
async fn download(address: SocketAddr, path: &str) -> Result<u64, BoxError> {
    let stream = tokio::net::TcpStream::connect(address).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let request = http::Request::get(path)
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())?;
    let response = sender.send_request(request).await?;
    if !response.status().is_success() {
        return Err(format!("the export answered {}", response.status()).into());
    }
    let mut body = response.into_body();
    let mut bytes = 0_u64;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            bytes += data.len() as u64;
        }
    }
    Ok(bytes)
}

/// A CPU cgroup with a quota, removed when dropped.
struct Cgroup {
    directory: PathBuf,
}

impl Cgroup {
    /// `quota` microseconds of CPU per `period`: on cgroup v1's `cpu` controller if it is
    /// mounted, else on cgroup v2.
    fn create(quota: u64, period: u64) -> Result<Cgroup, BoxError> {
        let name = format!("lambda-stream-bench-{}", std::process::id());
        let v1 = Path::new("/sys/fs/cgroup/cpu");
        let directory = if v1.join("cpu.cfs_quota_us").exists() {
            v1.join(&name)
        } else {
            Path::new("/sys/fs/cgroup").join(&name)
        };
        std::fs::create_dir_all(&directory).map_err(|error| {
            format!(
                "cannot create the cgroup {} (run as root): {error}",
                directory.display()
            )
        })?;
        let cgroup = Cgroup { directory };
        if cgroup.directory.join("cpu.cfs_quota_us").exists() {
            std::fs::write(
                cgroup.directory.join("cpu.cfs_period_us"),
                period.to_string(),
            )?;
            std::fs::write(cgroup.directory.join("cpu.cfs_quota_us"), quota.to_string())?;
        } else {
            std::fs::write(
                cgroup.directory.join("cpu.max"),
                format!("{quota} {period}"),
            )?;
        }
        Ok(cgroup)
    }

    fn procs(&self) -> PathBuf {
        self.directory.join("cgroup.procs")
    }
}

impl Drop for Cgroup {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir(&self.directory);
    }
}
