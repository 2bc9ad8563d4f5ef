//! Built binaries the whole-stack benchmarks start, the port a started function announces, and
//! the CPU time a process has run.
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
