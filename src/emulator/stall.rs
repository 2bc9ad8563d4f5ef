//! A connection whose peer stops reading: a write that makes no progress for the limit fails,
//! so hyper closes the connection instead of holding it (its task, buffers and relay) for as
//! long as the peer stays silent.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Sleep;

pin_project_lite::pin_project! {
    /// `io` whose writes fail with `TimedOut` once one has been pending for `limit` (no limit:
    /// `None`).
    pub(crate) struct StallLimited<T> {
        #[pin]
        io: T,
        limit: Option<Duration>,
        stalled: Option<Pin<Box<Sleep>>>,
    }
}

impl<T> StallLimited<T> {
    pub(crate) fn new(io: T, limit: Option<Duration>) -> Self {
        StallLimited {
            io,
            limit,
            stalled: None,
        }
    }
}

/// Passes `written` on, starting the stall timer when it is pending and clearing it on
/// progress; a timer that ran out turns the pending write into `TimedOut`.
fn watch<R>(
    stalled: &mut Option<Pin<Box<Sleep>>>,
    limit: Option<Duration>,
    cx: &mut Context<'_>,
    written: Poll<io::Result<R>>,
) -> Poll<io::Result<R>> {
    let Some(limit) = limit.filter(|_| written.is_pending()) else {
        *stalled = None;
        return written;
    };
    let timer = stalled.get_or_insert_with(|| Box::pin(tokio::time::sleep(limit)));
    match timer.as_mut().poll(cx) {
        Poll::Ready(()) => Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            format!("the client read nothing for {limit:?}"),
        ))),
        Poll::Pending => Poll::Pending,
    }
}

impl<T: AsyncRead> AsyncRead for StallLimited<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        self.project().io.poll_read(cx, buf)
    }
}

impl<T: AsyncWrite> AsyncWrite for StallLimited<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let written = this.io.poll_write(cx, buf);
        watch(this.stalled, *this.limit, cx, written)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.project();
        let written = this.io.poll_write_vectored(cx, bufs);
        watch(this.stalled, *this.limit, cx, written)
    }

    fn is_write_vectored(&self) -> bool {
        self.io.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.project();
        let flushed = this.io.poll_flush(cx);
        watch(this.stalled, *this.limit, cx, flushed)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.project().io.poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;

    /// On tokio's paused clock: a write into a pipe nobody reads fails after exactly the limit.
    #[tokio::test(start_paused = true)]
    async fn a_write_pending_for_the_limit_fails() {
        let (near, _far) = tokio::io::duplex(16);
        let mut io = StallLimited::new(near, Some(Duration::from_secs(5)));
        let started = tokio::time::Instant::now();
        let error = io.write_all(&[0; 64]).await.unwrap_err();
        assert_eq!(error.kind(), io::ErrorKind::TimedOut);
        assert_eq!(started.elapsed(), Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn progress_restarts_the_limit() {
        let (near, mut far) = tokio::io::duplex(16);
        let mut io = StallLimited::new(near, Some(Duration::from_secs(5)));
        let reader = tokio::spawn(async move {
            let mut buf = [0; 16];
            for _ in 0..4 {
                tokio::time::sleep(Duration::from_secs(4)).await;
                tokio::io::AsyncReadExt::read_exact(&mut far, &mut buf)
                    .await
                    .unwrap();
            }
        });
        // 64 bytes through a 16-byte pipe read every 4 s: each wait is under the limit.
        io.write_all(&[0; 64]).await.unwrap();
        reader.await.unwrap();
    }
}
