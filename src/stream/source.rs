//! What the limit stage reads: the body's first chunks (taken before the head was committed),
//! then the handler's body, a panic in it caught; compressed on the way when the response
//! asks for it.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::task::{Context, Poll};

use bytes::Bytes;

#[cfg(feature = "compression")]
use super::compress::Compressing;
use super::merge::PollChunk;
use super::per_response::PerResponse;
use crate::body::{Body, Chunk, Continuation, Truncation};
use crate::wire::FunctionError;

/// The handler's body, after the chunks taken from it before the head was committed.
pub(crate) struct HeldThenBody {
    held: VecDeque<Chunk>,
    body: Option<Body>,
}

impl HeldThenBody {
    pub(crate) fn new(held: Vec<Chunk>, body: Body) -> Self {
        HeldThenBody {
            held: held.into(),
            body: Some(body),
        }
    }

    /// The next chunk: a held one first, then the handler's (a panic becomes an error: the
    /// handler's stream runs inside the connection's task).
    pub(crate) fn poll_chunk(&mut self, cx: &mut Context<'_>) -> PollChunk<FunctionError> {
        if let Some(held) = self.held.pop_front() {
            return Poll::Ready(Some(Ok(held)));
        }
        let Some(body) = self.body.as_mut() else {
            return Poll::Ready(None);
        };
        match catch_unwind(AssertUnwindSafe(|| body.poll_chunk(cx))) {
            Ok(polled) => polled,
            Err(panic) => Poll::Ready(Some(Err(FunctionError::from_panic(panic.as_ref())))),
        }
    }

    /// Drops the handler's stream: producers see `BodyClosed`, nothing more is read.
    pub(crate) fn close(&mut self) {
        self.body = None;
        self.held.clear();
    }
}

/// The chunks the limit stage admits or refuses: the body's own, or compressed ones.
pub(crate) enum Source {
    Plain(HeldThenBody),
    /// A compressor decides before it produces (compressed bytes cannot be taken back): the
    /// limit stage hands it the room with each poll.
    #[cfg(feature = "compression")]
    Compressed(Box<Compressing>),
}

impl Source {
    /// The source a response asks for: its body after `held`, compressed if it is to be.
    pub(crate) fn for_response(held: Vec<Chunk>, body: Body, ending: &PerResponse) -> Self {
        let body = HeldThenBody::new(held, body);
        #[cfg(feature = "compression")]
        if let Some(encoding) = ending.encoding {
            return Source::Compressed(Box::new(Compressing::new(body, encoding)));
        }
        #[cfg(not(feature = "compression"))]
        let _ = ending;
        Source::Plain(body)
    }

    /// The record that ends a cut body, made by `continuation` from what was sent (for a
    /// compressed body: from what went into the compressor, then compressed and the
    /// compressed stream ended). `None` when the continuation makes nothing, or when a
    /// compressed chunk was refused after the compressor took it (what would follow could
    /// not be decoded).
    pub(crate) fn closing(
        &mut self,
        continuation: Continuation,
        sent: &Truncation,
    ) -> Option<Bytes> {
        match self {
            Source::Plain(_) => continuation.make(sent),
            #[cfg(feature = "compression")]
            Source::Compressed(compressing) => compressing.closing(continuation, sent.reason),
        }
    }

    /// The limit stage refused the last chunk: it is not sent.
    pub(crate) fn refused(&mut self) {
        #[cfg(feature = "compression")]
        if let Source::Compressed(compressing) = self {
            compressing.refused();
        }
    }

    /// Drops the handler's stream (a compressor keeps its encoder, to end a cut body).
    pub(crate) fn close(&mut self) {
        match self {
            Source::Plain(body) => body.close(),
            #[cfg(feature = "compression")]
            Source::Compressed(compressing) => compressing.close(),
        }
    }
}
