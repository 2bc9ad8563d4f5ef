//! What the limit stage reads: the handler's body after its held chunks (held.rs),
//! compressed on the way when the response asks for it.

use std::task::Context;

use bytes::Bytes;

#[cfg(feature = "compression")]
use super::compress::Compressing;
use super::held::HeldThenBody;
use super::per_response::PerResponse;
use crate::body::{Body, Chunk, Continuation, Truncation};

/// The chunks the limit stage admits or refuses: the body's own, or compressed ones.
pub(crate) enum Source {
    /// The body's own chunks, each admitted or refused whole or by its leading records.
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
    #[cfg_attr(
        not(feature = "compression"),
        allow(
            unused_variables,
            reason = "only a compressor is polled for its closing"
        )
    )]
    pub(crate) fn closing(
        &mut self,
        cx: &mut Context<'_>,
        continuation: Continuation,
        sent: &Truncation,
    ) -> Option<Bytes> {
        match self {
            Source::Plain(_) => continuation.make(sent),
            #[cfg(feature = "compression")]
            Source::Compressed(compressing) => compressing.closing(cx, continuation, sent.reason),
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
