//! Request bodies sent to the Runtime API, above all the streamed response: prelude JSON as one
//! chunk, the eight NULs as the next, then each body chunk, then real trailer fields on error.

use std::convert::Infallible;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::StreamExt;
use http_body::{Frame, SizeHint};
use tokio::sync::oneshot;

use crate::Body;
use crate::wire::{FunctionError, PRELUDE_DELIMITER};

/// How a streamed response ended, as far as the function side knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum StreamEnd {
    /// The body ended normally.
    Complete,
    /// The body failed; trailers carried the error.
    Failed(FunctionError),
    /// The connection dropped the body before its end.
    Aborted,
}

/// Counts and the end of one streamed response.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct StreamReport {
    pub(crate) body_bytes: u64,
    pub(crate) chunks: u64,
    pub(crate) end: StreamEnd,
}

/// The body of `POST .../response` in streaming mode.
pub(crate) struct StreamingBody {
    prelude: Option<Bytes>,
    delimiter_pending: bool,
    first: Option<Bytes>,
    body: Option<Body>,
    body_bytes: u64,
    chunks: u64,
    report: Option<oneshot::Sender<StreamReport>>,
}

impl StreamingBody {
    /// `first` is the body's first chunk, already taken from `body` to commit the head.
    pub(crate) fn new(
        prelude: Bytes,
        first: Option<Bytes>,
        body: Body,
    ) -> (Self, oneshot::Receiver<StreamReport>) {
        let (tx, rx) = oneshot::channel();
        let streaming = StreamingBody {
            prelude: Some(prelude),
            delimiter_pending: true,
            first,
            body: Some(body),
            body_bytes: 0,
            chunks: 0,
            report: Some(tx),
        };
        (streaming, rx)
    }

    fn data(&mut self, chunk: Bytes) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        self.body_bytes += chunk.len() as u64;
        self.chunks += 1;
        Poll::Ready(Some(Ok(Frame::data(chunk))))
    }

    fn finish(&mut self, end: StreamEnd) {
        // Drop the handler's stream at once: producers see `BodyClosed`, nothing more is sent.
        self.body = None;
        if let Some(report) = self.report.take() {
            let _ = report.send(StreamReport {
                body_bytes: self.body_bytes,
                chunks: self.chunks,
                end,
            });
        }
    }
}

impl Drop for StreamingBody {
    fn drop(&mut self) {
        self.finish(StreamEnd::Aborted);
    }
}

impl http_body::Body for StreamingBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let this = &mut *self;
        if let Some(prelude) = this.prelude.take() {
            return Poll::Ready(Some(Ok(Frame::data(prelude))));
        }
        if this.delimiter_pending {
            this.delimiter_pending = false;
            return Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(
                &PRELUDE_DELIMITER,
            )))));
        }
        if let Some(first) = this.first.take() {
            return this.data(first);
        }
        let Some(body) = this.body.as_mut() else {
            return Poll::Ready(None);
        };
        // The handler's stream runs inside the connection task: a panic there must become an
        // error trailer, not a dead connection.
        match catch_unwind(AssertUnwindSafe(|| body.poll_next_unpin(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(Some(Ok(chunk)))) => this.data(chunk),
            Ok(Poll::Ready(None)) => {
                this.finish(StreamEnd::Complete);
                Poll::Ready(None)
            }
            Ok(Poll::Ready(Some(Err(error)))) => {
                let trailers = error.to_trailers();
                this.finish(StreamEnd::Failed(error));
                Poll::Ready(Some(Ok(Frame::trailers(trailers))))
            }
            Err(panic) => {
                let error = FunctionError::from_panic(panic.as_ref());
                let trailers = error.to_trailers();
                this.finish(StreamEnd::Failed(error));
                Poll::Ready(Some(Ok(Frame::trailers(trailers))))
            }
        }
    }
}

/// Every body the runtime client sends.
pub(crate) enum RequestBody {
    Full(Option<Bytes>),
    Streaming(Box<StreamingBody>),
}

impl RequestBody {
    pub(crate) fn empty() -> Self {
        RequestBody::Full(None)
    }

    pub(crate) fn full(data: impl Into<Bytes>) -> Self {
        RequestBody::Full(Some(data.into()))
    }
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            RequestBody::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            RequestBody::Streaming(body) => Pin::new(body.as_mut()).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, RequestBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RequestBody::Full(data) => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            RequestBody::Streaming(_) => SizeHint::default(),
        }
    }
}
