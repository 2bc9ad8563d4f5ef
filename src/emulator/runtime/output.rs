//! What the function processes write (their stdout and stderr), kept per instance for the
//! Invoke API's `X-Amz-Log-Type: Tail`: the last 4 KB of an invocation's log, base64, in
//! `X-Amz-Log-Result` (or `InvokeComplete.LogResult`), framed by Lambda's `START`, `END` and
//! `REPORT` lines.
//!
//! A function writes its log before it answers, so everything an invocation logged is in the
//! pipe when its answer arrives, though perhaps not read yet: the tail is taken only after the
//! readers have caught up with what the pipes held at that moment (`FIONREAD`), so no line the
//! function wrote before answering is missed.

use std::collections::{HashMap, VecDeque};
#[cfg(target_os = "linux")]
use std::os::fd::{AsFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

#[cfg(target_os = "linux")]
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::Notify;
use tokio::time::Instant;

/// Bytes of each instance's output kept: more than any one tail needs.
const KEPT: usize = 64 * 1024;
/// The tail Lambda returns: the last 4 KB of the invocation's log.
pub(crate) const TAIL_LEN: usize = 4 * 1024;
/// How long a tail waits for the readers to catch up with the pipes, at most.
const CATCH_UP: Duration = Duration::from_millis(500);

/// One function instance's output: what its streams wrote, in order of arrival.
#[derive(Default)]
pub(crate) struct InstanceOutput {
    kept: Mutex<Kept>,
    /// The streams being read: stdout and stderr of the instance's current process.
    sources: Mutex<Vec<Arc<Source>>>,
    progressed: Notify,
}

#[derive(Default)]
struct Kept {
    bytes: VecDeque<u8>,
    /// Bytes ever appended: positions in the output.
    total: u64,
}

/// A stream being read, and how much of it has been read.
struct Source {
    /// A duplicate of the pipe's read end, to ask how much is waiting in it.
    #[cfg(target_os = "linux")]
    fd: OwnedFd,
    read: AtomicU64,
}

impl Source {
    /// Bytes written to the pipe and not read yet (`FIONREAD`).
    fn waiting(&self) -> u64 {
        #[cfg(target_os = "linux")]
        return rustix::io::ioctl_fionread(&self.fd).unwrap_or(0);
        #[cfg(not(target_os = "linux"))]
        0
    }
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl InstanceOutput {
    /// The position of the output's end: where an invocation starting now begins.
    pub(crate) fn position(&self) -> u64 {
        lock(&self.kept).total
    }

    #[cfg_attr(
        not(target_os = "linux"),
        allow(dead_code, reason = "captured on Linux only")
    )]
    fn append(&self, data: &[u8]) {
        let mut kept = lock(&self.kept);
        kept.bytes.extend(data);
        let excess = kept.bytes.len().saturating_sub(KEPT);
        kept.bytes.drain(..excess);
        kept.total += data.len() as u64;
    }

    /// What was written from `start` on (what of it is still kept), once the readers have
    /// read what the pipes hold now.
    pub(crate) async fn since(&self, start: u64) -> Vec<u8> {
        self.catch_up().await;
        let kept = lock(&self.kept);
        let first_kept = kept.total - kept.bytes.len() as u64;
        let skip = usize::try_from(start.saturating_sub(first_kept)).unwrap_or(usize::MAX);
        kept.bytes.iter().skip(skip).copied().collect()
    }

    async fn catch_up(&self) {
        let targets: Vec<(Arc<Source>, u64)> = lock(&self.sources)
            .iter()
            .map(|source| {
                let target = source.read.load(Ordering::Acquire) + source.waiting();
                (source.clone(), target)
            })
            .collect();
        let caught_up = async {
            loop {
                let progressed = self.progressed.notified();
                let behind = targets
                    .iter()
                    .any(|(source, target)| source.read.load(Ordering::Acquire) < *target);
                if !behind {
                    return;
                }
                progressed.await;
            }
        };
        let _ = tokio::time::timeout(CATCH_UP, caught_up).await;
    }

    /// Reads `stream` to its end, keeping what it writes and echoing it to `echo`.
    #[cfg(target_os = "linux")]
    pub(crate) fn capture<R, W>(self: &Arc<Self>, stream: R, echo: W)
    where
        R: AsyncRead + AsFd + Unpin + Send + 'static,
        W: AsyncWrite + Unpin + Send + 'static,
    {
        let Ok(fd) = stream.as_fd().try_clone_to_owned() else {
            tracing::warn!("cannot watch the function's output: its log tail may miss lines");
            return;
        };
        let source = Arc::new(Source {
            fd,
            read: AtomicU64::new(0),
        });
        {
            let mut sources = lock(&self.sources);
            // Sources of a process that ended have nothing more to read.
            sources.retain(|old| Arc::strong_count(old) > 1);
            sources.push(source.clone());
        }
        tokio::spawn(self.clone().relay(stream, echo, source));
    }

    #[cfg(target_os = "linux")]
    async fn relay<R, W>(self: Arc<Self>, mut stream: R, mut echo: W, source: Arc<Source>)
    where
        R: AsyncRead + Unpin,
        W: AsyncWrite + Unpin,
    {
        let mut buffer = vec![0; 16 * 1024];
        // Whole lines go in, so the two streams interleave line by line, as in Lambda's log.
        let mut partial = Vec::new();
        while let Ok(read @ 1..) = stream.read(&mut buffer).await {
            let data = &buffer[..read];
            partial.extend_from_slice(data);
            if let Some(end) = partial.iter().rposition(|&b| b == b'\n') {
                let lines: Vec<u8> = partial.drain(..=end).collect();
                self.append(&lines);
            }
            source.read.fetch_add(read as u64, Ordering::Release);
            self.progressed.notify_waiters();
            // The echo is best effort: a closed terminal must not stop the capture.
            let _ = echo.write_all(data).await;
            let _ = echo.flush().await;
        }
        self.append(&partial);
        self.progressed.notify_waiters();
    }
}

/// The invocations that asked for their log tail: where each one's output starts.
#[derive(Default)]
pub(crate) struct Tails {
    instances: Mutex<HashMap<usize, Arc<InstanceOutput>>>,
    started: Mutex<HashMap<String, TailStart>>,
}

struct TailStart {
    output: Arc<InstanceOutput>,
    position: u64,
    at: Instant,
}

impl Tails {
    /// The output of `instance`.
    pub(crate) fn output(&self, instance: usize) -> Arc<InstanceOutput> {
        lock(&self.instances).entry(instance).or_default().clone()
    }

    /// `instance` takes the invocation `request_id`, which asked for its tail.
    pub(crate) fn started(&self, request_id: &str, instance: usize) {
        let output = self.output(instance);
        let position = output.position();
        let start = TailStart {
            output,
            position,
            at: Instant::now(),
        };
        lock(&self.started).insert(request_id.to_owned(), start);
    }

    /// Lets the invocation's tail go: its caller went away.
    pub(crate) fn forget(&self, request_id: &str) {
        lock(&self.started).remove(request_id);
    }

    /// The invocation's log as Lambda frames it (`START`, what the function wrote, `END`,
    /// `REPORT`), its last [`TAIL_LEN`] bytes; `None` when it did not ask for it (or never ran).
    pub(crate) async fn take(&self, request_id: &str, memory_mb: u32) -> Option<Vec<u8>> {
        let start = lock(&self.started).remove(request_id)?;
        let duration = start.at.elapsed();
        let written = start.output.since(start.position).await;
        let mut log = format!("START RequestId: {request_id} Version: $LATEST\n").into_bytes();
        log.extend_from_slice(&written);
        if !log.ends_with(b"\n") {
            log.push(b'\n');
        }
        let millis = duration.as_secs_f64() * 1000.0;
        // Billed in whole milliseconds, rounded up.
        let billed = duration.as_nanos().div_ceil(1_000_000).max(1);
        log.extend_from_slice(
            format!(
                "END RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: {millis:.2} ms\tBilled Duration: {billed} ms\tMemory Size: {memory_mb} MB\t\n"
            )
            .as_bytes(),
        );
        let cut = log.len().saturating_sub(TAIL_LEN);
        Some(log.split_off(cut))
    }
}
