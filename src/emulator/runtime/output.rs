//! What the function processes write (their stdout and stderr), kept per instance for the
//! Invoke API's `X-Amz-Log-Type: Tail`: the last 4 KB of an invocation's log, base64, in
//! `X-Amz-Log-Result` (or `InvokeComplete.LogResult`), framed by Lambda's `START`, `END` and
//! `REPORT` lines.
//!
//! A function writes its log before it answers, so what an invocation logged (and flushed) is
//! in the pipes when its answer arrives, though perhaps not read yet: a tail is taken only once
//! the readers have processed what the pipes held at that moment (`FIONREAD`, read under the
//! same lock as the readers' count, so no byte is in neither). Lines go in whole, so stdout
//! and stderr interleave line by line; a line without its newline yet goes in when a tail is
//! taken. Lines another invocation of the same environment wrote meanwhile (Lambda Managed
//! Instances, or the next invocation started during the catch-up) may be in it too.

use std::collections::{HashMap, VecDeque};
#[cfg(target_os = "linux")]
use std::os::fd::{AsFd, OwnedFd};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::Notify;
use tokio::time::Instant;

use super::lock;

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

/// A stream being read: how much was taken from the pipe, how much of that was processed, and
/// the line not ended yet.
#[derive(Default)]
struct Source {
    /// A duplicate of the pipe's read end, to ask how much is waiting in it.
    #[cfg(target_os = "linux")]
    fd: Option<OwnedFd>,
    /// Bytes taken from the pipe; locked while the pipe is read, so a count and `FIONREAD`
    /// taken under it add up to everything written so far.
    taken: Mutex<u64>,
    /// Bytes taken and processed (kept, or in `partial`).
    processed: Mutex<u64>,
    /// The last line, until its newline comes.
    partial: Mutex<Vec<u8>>,
}

impl Source {
    /// What the pipe has delivered or holds now: the count the readers must reach.
    fn written(&self) -> u64 {
        let taken = lock(&self.taken);
        #[cfg(target_os = "linux")]
        let waiting = self
            .fd
            .as_ref()
            .map_or(0, |fd| rustix::io::ioctl_fionread(fd).unwrap_or(0));
        #[cfg(not(target_os = "linux"))]
        let waiting = 0;
        *taken + waiting
    }
}

/// A stream whose reads are counted on its [`Source`] under the source's lock.
struct Counted<R> {
    inner: R,
    source: Arc<Source>,
}

impl<R: AsyncRead + Unpin> AsyncRead for Counted<R> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let source = self.source.clone();
        let mut taken = lock(&source.taken);
        let before = buf.filled().len();
        let polled = Pin::new(&mut self.inner).poll_read(cx, buf);
        *taken += (buf.filled().len() - before) as u64;
        polled
    }
}

impl InstanceOutput {
    /// The position of the output's end: where an invocation starting now begins.
    fn position(&self) -> u64 {
        lock(&self.kept).total
    }

    fn append(&self, data: &[u8]) {
        if data.is_empty() {
            return;
        }
        let mut kept = lock(&self.kept);
        kept.bytes.extend(data);
        let excess = kept.bytes.len().saturating_sub(KEPT);
        kept.bytes.drain(..excess);
        kept.total += data.len() as u64;
    }

    /// Processes bytes read from `source`: whole lines are kept, the rest waits for its
    /// newline (or a tail, or its stream's end).
    fn process(&self, source: &Source, data: &[u8]) {
        let mut partial = lock(&source.partial);
        partial.extend_from_slice(data);
        match partial.iter().rposition(|&b| b == b'\n') {
            Some(end) => {
                let lines: Vec<u8> = partial.drain(..=end).collect();
                self.append(&lines);
            }
            // A line longer than what is kept goes in as it is.
            None if partial.len() > KEPT => self.append(&std::mem::take(&mut *partial)),
            None => {}
        }
        *lock(&source.processed) += data.len() as u64;
        self.progressed.notify_waiters();
    }

    /// What was written from `start` on (what of it is still kept), once the readers have
    /// processed what the pipes hold now.
    async fn since(&self, start: u64) -> Vec<u8> {
        let sources: Vec<Arc<Source>> = lock(&self.sources).clone();
        let targets: Vec<u64> = sources.iter().map(|source| source.written()).collect();
        let caught_up = async {
            loop {
                let progressed = self.progressed.notified();
                let behind = sources
                    .iter()
                    .zip(&targets)
                    .any(|(source, target)| *lock(&source.processed) < *target);
                if !behind {
                    return;
                }
                progressed.await;
            }
        };
        let _ = tokio::time::timeout(CATCH_UP, caught_up).await;
        for source in &sources {
            let line = std::mem::take(&mut *lock(&source.partial));
            self.append(&line);
        }
        let kept = lock(&self.kept);
        let first_kept = kept.total - kept.bytes.len() as u64;
        let skip = usize::try_from(start.saturating_sub(first_kept)).unwrap_or(usize::MAX);
        kept.bytes.iter().skip(skip).copied().collect()
    }

    /// Reads `stream` to its end, keeping what it writes and echoing it to `echo`.
    #[cfg(target_os = "linux")]
    pub(crate) fn capture<R, W>(self: &Arc<Self>, stream: R, echo: W)
    where
        R: AsyncRead + AsFd + Unpin + Send + 'static,
        W: tokio::io::AsyncWrite + Unpin + Send + 'static,
    {
        let fd = stream.as_fd().try_clone_to_owned().ok();
        if fd.is_none() {
            tracing::warn!("cannot watch the function's output pipe: a log tail may miss lines");
        }
        let source = Arc::new(Source {
            fd,
            ..Source::default()
        });
        {
            let mut sources = lock(&self.sources);
            // Sources of a process that ended have nothing more to read.
            sources.retain(|old| Arc::strong_count(old) > 1);
            sources.push(source.clone());
        }
        let stream = Counted {
            inner: stream,
            source: source.clone(),
        };
        tokio::spawn(self.clone().relay(stream, echo, source));
    }

    #[cfg(target_os = "linux")]
    async fn relay<R, W>(self: Arc<Self>, mut stream: R, mut echo: W, source: Arc<Source>)
    where
        R: AsyncRead + Unpin,
        W: tokio::io::AsyncWrite + Unpin,
    {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let mut buffer = vec![0; 16 * 1024];
        while let Ok(read @ 1..) = stream.read(&mut buffer).await {
            let data = &buffer[..read];
            self.process(&source, data);
            // The echo is best effort: a closed terminal must not stop the capture.
            let _ = echo.write_all(data).await;
            let _ = echo.flush().await;
        }
        let line = std::mem::take(&mut *lock(&source.partial));
        self.append(&line);
        self.progressed.notify_waiters();
    }
}

/// The instances' output.
#[derive(Default)]
pub(crate) struct Outputs {
    instances: Mutex<HashMap<usize, Arc<InstanceOutput>>>,
}

impl Outputs {
    /// The output of `instance`.
    pub(crate) fn of(&self, instance: usize) -> Arc<InstanceOutput> {
        lock(&self.instances).entry(instance).or_default().clone()
    }
}

/// An invocation's request for its log tail: the front holds it, and the invocation, once an
/// instance takes it, marks where in that instance's output it starts. Nothing outlives the
/// two of them.
#[derive(Default)]
pub(crate) struct TailRequest {
    start: Mutex<Option<TailStart>>,
}

impl std::fmt::Debug for TailRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TailRequest").finish_non_exhaustive()
    }
}

struct TailStart {
    output: Arc<InstanceOutput>,
    position: u64,
    at: Instant,
}

impl TailRequest {
    /// An instance with this output takes the invocation now.
    pub(crate) fn started(&self, output: Arc<InstanceOutput>) {
        let position = output.position();
        let start = TailStart {
            output,
            position,
            at: Instant::now(),
        };
        *lock(&self.start) = Some(start);
    }

    /// The invocation's log as Lambda frames it (`START`, what the function wrote, `END`,
    /// `REPORT`), its last [`TAIL_LEN`] bytes; `None` when no instance took it.
    pub(crate) async fn log(&self, request_id: &str, memory_mb: u32) -> Option<Vec<u8>> {
        let start = lock(&self.start).take()?;
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

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn lines_go_in_whole_and_a_tail_takes_the_unended_one() {
        let output = Arc::new(InstanceOutput::default());
        let out = Arc::new(Source::default());
        let err = Arc::new(Source::default());
        lock(&output.sources).extend([out.clone(), err.clone()]);
        let tail = TailRequest::default();
        tail.started(output.clone());
        output.process(&out, b"one from stdout");
        output.process(&err, b"one from stderr\n");
        output.process(&out, b"\nthe last, unended");
        let log = String::from_utf8(tail.log("r-1", 128).await.unwrap()).unwrap();
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(
            lines[..4],
            [
                "START RequestId: r-1 Version: $LATEST",
                "one from stderr",
                "one from stdout",
                "the last, unended",
            ]
        );
        assert_eq!(lines[4], "END RequestId: r-1");
        assert!(lines[5].starts_with("REPORT RequestId: r-1\tDuration: "));
        assert!(lines[5].ends_with("\tMemory Size: 128 MB\t"));
        assert!(tail.log("r-1", 128).await.is_none(), "taken once");
    }

    #[tokio::test(start_paused = true)]
    async fn a_tail_keeps_the_last_4_kb() {
        let output = Arc::new(InstanceOutput::default());
        let source = Arc::new(Source::default());
        let tail = TailRequest::default();
        tail.started(output.clone());
        output.process(&source, &[b'x'; 10_000]);
        output.process(&source, b"\n");
        let log = tail.log("r-2", 128).await.unwrap();
        assert_eq!(log.len(), TAIL_LEN);
        assert!(log.ends_with(b"Memory Size: 128 MB\t\n"));
        assert!(!log.starts_with(b"START"));
    }

    #[tokio::test(start_paused = true)]
    async fn an_invocation_no_instance_took_has_no_tail() {
        assert!(TailRequest::default().log("r-3", 128).await.is_none());
    }
}
