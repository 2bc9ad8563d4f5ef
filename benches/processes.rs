//! Built binaries the whole-stack benchmarks start (found beside the benchmark, or named on its
//! command line), the port a started function announces, the CPU time a process has run, and
//! settings read from the environment.
#![allow(dead_code, reason = "each benchmark uses a subset")]

use lambda_stream::BoxError;

/// A built binary beside this one (a package's `NAME`, or the crate's `examples/NAME`).
pub(crate) fn sibling(name: &str) -> Result<std::path::PathBuf, BoxError> {
    let exe = std::env::current_exe()?;
    let profile = exe.parent().ok_or("no target directory")?;
    for candidate in [profile.join(name), profile.join("examples").join(name)] {
        if candidate.exists() {
            return Ok(candidate);
        }
    }
    Err(format!(
        "{name} is not built: cargo build --release --workspace --all-features --examples --bins"
    )
    .into())
}

/// Starts `command` on port 0 and reads the port it announces on stderr.
pub(crate) async fn announced(
    mut command: tokio::process::Command,
) -> Result<(u16, tokio::process::Child), BoxError> {
    use tokio::io::AsyncBufReadExt;
    let mut child = command
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()?;
    let mut lines = tokio::io::BufReader::new(child.stderr.take().ok_or("no stderr")?).lines();
    while let Some(line) = lines.next_line().await? {
        if let Some((_, rest)) = line.split_once("Function URL at http://127.0.0.1:") {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
            return Ok((digits.parse()?, child));
        }
    }
    Err("the command exited without announcing its Function URL".into())
}

/// The CPU time all of `pid`'s threads have run, from each one's `schedstat`.
pub(crate) fn cpu_time(pid: u32) -> Result<std::time::Duration, BoxError> {
    let mut total = 0_u64;
    for task in std::fs::read_dir(format!("/proc/{pid}/task"))? {
        let schedstat = std::fs::read_to_string(task?.path().join("schedstat"))?;
        let ran = schedstat
            .split_whitespace()
            .next()
            .ok_or("empty schedstat")?;
        total += ran.parse::<u64>()?;
    }
    Ok(std::time::Duration::from_nanos(total))
}

/// The builds named on the command line as `NAME=PATH` (a build before a change against the
/// build after it); none when there are no arguments.
pub(crate) fn named_builds() -> Result<Vec<(String, std::path::PathBuf)>, BoxError> {
    std::env::args()
        .skip(1)
        .map(|argument| match argument.split_once('=') {
            Some((name, path)) => Ok((name.to_owned(), std::path::PathBuf::from(path))),
            None => Err(format!("expected NAME=PATH, got {argument}").into()),
        })
        .collect()
}

/// The number in the environment variable `name`, or `default` when it is unset or not one.
pub(crate) fn setting<T: std::str::FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}
