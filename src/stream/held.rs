//! The handler's body after the chunks taken from it before the head was committed, a panic in
//! it caught.

use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::task::{Context, Poll};

use super::merge::PollChunk;
use crate::body::{Body, Chunk};
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
