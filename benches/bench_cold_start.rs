//! Cold start and idle memory: `examples/hello` built the way the deploy guide builds it
//! (`deploy/function` as `cargo lambda build` builds it: no emulator, the lean release
//! profile; one thread, `#[tokio::main(flavor = "current_thread")]`, as the guide says)
//! against the same greeting on the official `lambda_runtime` 1.5 (`benches/official_hello`,
//! set up as the official examples are, `#[tokio::main]`, built the same way), in one run.
//!
//! `cargo run --release -p benches --bin bench_cold_start` (about a minute once both are built;
//! it builds them first):
//!
//! - each start runs the binary with the environment Lambda gives a function (its
//!   `AWS_LAMBDA_*` variables, nothing else) and a Runtime API on `127.0.0.1:0` that never
//!   answers `/next`, so the process stops where a function waits for its first invocation;
//! - cold start is the time from just before `spawn` (fork and exec) to the moment the
//!   function's `GET /2018-06-01/runtime/invocation/next` has arrived: loading the binary,
//!   the tokio runtime, logging and the runtime's own start-up;
//! - idle memory is the process's `VmRSS` 100 ms after that request, while it waits;
//! - the two binaries alternate, start by start, so the machine's drift falls on both alike;
//! - each is first copied into `target/cold_start/`, so both are read from the same file
//!   system with the same pages cached (a fresh copy has all of them: the kernel maps up to 16
//!   cached pages around each fault, so where a binary was built changes its RSS).
//!
//! `bench_cold_start NAME=PATH ...` times the given binaries instead (for a build before a
//! change against the build after it), without building anything.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use lambda_stream::BoxError;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpListener, TcpStream};
use tokio::process::Command;

mod processes;
use processes::{cpu_time, named_builds};

const STARTS: usize = 100;
const WARM_UP: usize = 5;
const SETTLE: Duration = Duration::from_millis(100);
const NEXT: &[u8] = b"GET /2018-06-01/runtime/invocation/next ";

/// One binary under test, and what its starts measured.
struct Contestant {
    name: String,
    binary: PathBuf,
    starts: Vec<Duration>,
    rss_kib: Vec<u64>,
    cpu: Vec<Duration>,
    faults: Vec<u64>,
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let mut contestants = contestants()?;
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    for round in 0..WARM_UP + STARTS {
        // Alternate which goes first, so neither always follows the other.
        let order: Vec<usize> = if round % 2 == 0 {
            (0..contestants.len()).collect()
        } else {
            (0..contestants.len()).rev().collect()
        };
        for index in order {
            let contestant = &mut contestants[index];
            let sample = start_once(&contestant.binary, &listener).await?;
            if round >= WARM_UP {
                contestant.starts.push(sample.start);
                contestant.rss_kib.push(sample.rss_kib);
                contestant.cpu.push(sample.cpu);
                contestant.faults.push(sample.faults);
            }
        }
    }
    print!("{}", report(&mut contestants));
    Ok(())
}

/// The binaries named on the command line, or ours and the official one, built first.
fn contestants() -> Result<Vec<Contestant>, BoxError> {
    let named = named_builds()?;
    let pairs = if named.is_empty() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
        vec![
            (
                "lambda-stream".to_owned(),
                build(&root.join("deploy/function"), "hello")?,
            ),
            (
                "lambda_runtime 1.5".to_owned(),
                build(&root.join("benches/official_hello"), "official_hello")?,
            ),
        ]
    } else {
        named
    };
    let staging = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/cold_start");
    std::fs::create_dir_all(&staging)?;
    let mut contestants = Vec::new();
    for (index, (name, built)) in pairs.into_iter().enumerate() {
        let binary = staging.join(format!("{index}-{}", file_name(&built)));
        std::fs::copy(&built, &binary)?;
        contestants.push(Contestant {
            name,
            binary,
            starts: Vec::new(),
            rss_kib: Vec::new(),
            cpu: Vec::new(),
            faults: Vec::new(),
        });
    }
    Ok(contestants)
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(
        || "binary".to_owned(),
        |name| name.to_string_lossy().into_owned(),
    )
}

/// The crate in `directory` (a workspace of its own) built as `cargo lambda build` builds it
/// (`--release --no-default-features`: deploy/function's `local` emulator left out); its binary.
fn build(directory: &Path, binary: &str) -> Result<PathBuf, BoxError> {
    let status = std::process::Command::new(env!("CARGO"))
        .args([
            "build",
            "--release",
            "--no-default-features",
            "--manifest-path",
        ])
        .arg(directory.join("Cargo.toml"))
        .status()?;
    if !status.success() {
        return Err(format!("building {} failed", directory.display()).into());
    }
    Ok(directory.join("target/release").join(binary))
}

/// What one start measured.
struct Sample {
    /// From just before `spawn` to its first `/next`.
    start: Duration,
    /// Resident memory while it waits on `/next`.
    rss_kib: u64,
    /// CPU time its threads ran until then.
    cpu: Duration,
    /// Its page faults until then (minor and major).
    faults: u64,
}

/// Starts `binary` as Lambda would, waits for its first `/next`, reads its memory, stops it.
async fn start_once(binary: &Path, listener: &TcpListener) -> Result<Sample, BoxError> {
    let runtime_api = listener.local_addr()?.to_string();
    let mut command = Command::new(binary);
    command
        .env_clear()
        .envs(lambda_environment(&runtime_api))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let began = Instant::now();
    let mut child = command.spawn()?;
    let waiting = tokio::select! {
        next = first_next(listener) => next?,
        exit = child.wait() => return Err(format!("{} exited before /next: {}", binary.display(), exit?).into()),
        () = tokio::time::sleep(Duration::from_secs(10)) => return Err(format!("{} sent no /next in 10 s", binary.display()).into()),
    };
    let start = waiting.1 - began;
    let pid = child.id().ok_or("the function exited")?;
    let (cpu, faults) = (cpu_time(pid)?, page_faults(pid)?);
    tokio::time::sleep(SETTLE).await;
    let rss_kib = resident_kib(pid)?;
    child.kill().await?;
    drop(waiting);
    Ok(Sample {
        start,
        rss_kib,
        cpu,
        faults,
    })
}

/// The variables Lambda sets for a function on `provided.al2023` (and nothing else).
fn lambda_environment(runtime_api: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_LAMBDA_RUNTIME_API", runtime_api.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", "cold-start".to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "/aws/lambda/cold-start".to_owned(),
        ),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/12/06/[$LATEST]0".to_owned(),
        ),
        ("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand".to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_DEFAULT_REGION", "us-east-1".to_owned()),
        ("LAMBDA_TASK_ROOT", "/var/task".to_owned()),
        ("_HANDLER", "bootstrap".to_owned()),
        ("TZ", ":UTC".to_owned()),
        ("PATH", "/usr/local/bin:/usr/bin:/bin".to_owned()),
    ]
}

/// Accepts connections until one carries `GET .../invocation/next`: that connection (held open,
/// unanswered) and when its request line arrived.
async fn first_next(listener: &TcpListener) -> Result<(Vec<TcpStream>, Instant), BoxError> {
    let mut held = Vec::new();
    loop {
        let (mut stream, _) = listener.accept().await?;
        let mut head = Vec::new();
        while head.len() < NEXT.len() {
            let mut buffer = [0_u8; 512];
            let read = stream.read(&mut buffer).await?;
            if read == 0 {
                break;
            }
            head.extend_from_slice(&buffer[..read]);
        }
        let arrived = Instant::now();
        let is_next = head.starts_with(NEXT);
        held.push(stream);
        if is_next {
            return Ok((held, arrived));
        }
    }
}

/// The process's resident memory, from `/proc/PID/status`.
fn resident_kib(pid: u32) -> Result<u64, BoxError> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|line| line.starts_with("VmRSS:"))
        .ok_or("no VmRSS")?;
    Ok(line
        .trim_start_matches("VmRSS:")
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()?)
}

/// The process's minor and major page faults, from `/proc/PID/stat` (fields 10 and 12).
fn page_faults(pid: u32) -> Result<u64, BoxError> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The fields after the command name, which is in parentheses and may hold spaces.
    let fields: Vec<&str> = stat
        .rsplit_once(')')
        .ok_or("malformed stat")?
        .1
        .split_whitespace()
        .collect();
    Ok(fields[7].parse::<u64>()? + fields[9].parse::<u64>()?)
}

/// The report: per binary, the median and p90 start and the median idle memory.
fn report(contestants: &mut [Contestant]) -> String {
    let mut lines = vec![
        format!("{STARTS} starts each (after {WARM_UP} to warm the page cache), alternating:"),
        String::new(),
        "| binary | exec -> first /next, median ms | p90 ms | CPU until then, median ms | page faults | idle RSS, median MiB | size MB |"
            .to_owned(),
        "|---|---|---|---|---|---|---|".to_owned(),
    ];
    for contestant in contestants.iter_mut() {
        contestant.starts.sort();
        contestant.rss_kib.sort_unstable();
        contestant.cpu.sort();
        contestant.faults.sort_unstable();
        let size = std::fs::metadata(&contestant.binary).map_or(0, |meta| meta.len());
        lines.push(format!(
            "| {} | {:.2} | {:.2} | {:.2} | {} | {:.2} | {:.2} |",
            contestant.name,
            percentile(&contestant.starts, 50).as_secs_f64() * 1e3,
            percentile(&contestant.starts, 90).as_secs_f64() * 1e3,
            percentile(&contestant.cpu, 50).as_secs_f64() * 1e3,
            contestant.faults[contestant.faults.len() / 2],
            contestant.rss_kib[contestant.rss_kib.len() / 2] as f64 / 1024.0,
            size as f64 / 1e6,
        ));
    }
    lines.push(String::new());
    lines.join("\n")
}

/// The `p`th percentile of sorted `samples` (nearest rank).
fn percentile(samples: &[Duration], p: usize) -> Duration {
    let rank = (samples.len() * p).div_ceil(100).max(1);
    samples[rank - 1]
}
