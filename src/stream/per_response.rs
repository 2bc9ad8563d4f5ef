//! What a response asks of the pipeline besides its body, read once from its extensions: the
//! handler's [`Continuation`], and the encoding its body is compressed with.

#[cfg(feature = "compression")]
use super::compress::{CompressWith, Encoding};
use crate::body::{Body, Continuation};

/// What ends a response's body when it is cut: the response's own [`Continuation`] (an
/// extension), else its framing's terminator (a JSON array's `]`). Both are taken out: a
/// response ends once.
fn take_continuation(extensions: &mut http::Extensions, body: &mut Body) -> Option<Continuation> {
    let framing_end = body.take_framing_end();
    extensions.remove::<Continuation>().or(framing_end)
}

/// A response's continuation and the encoding its body is compressed with, taken from its
/// extensions.
#[derive(Debug, Default)]
pub(crate) struct PerResponse {
    pub(crate) continuation: Option<Continuation>,
    #[cfg(feature = "compression")]
    pub(crate) encoding: Option<Encoding>,
}

impl PerResponse {
    /// Takes them out of `extensions` (a response ends once).
    pub(crate) fn take_from(extensions: &mut http::Extensions, body: &mut Body) -> Self {
        PerResponse {
            continuation: take_continuation(extensions, body),
            #[cfg(feature = "compression")]
            encoding: extensions.remove::<CompressWith>().map(|CompressWith(e)| e),
        }
    }

    /// A response ended by `continuation` (tests build them without a response).
    #[cfg(test)]
    pub(crate) fn continued(continuation: Continuation) -> Self {
        PerResponse {
            continuation: Some(continuation),
            ..PerResponse::default()
        }
    }

    /// The bytes kept at the end of the budget for the closing: the continuation's reserve,
    /// or what it may take once compressed, with the encoder's epilogue.
    pub(crate) fn reserve(&self) -> u64 {
        let Some(continuation) = &self.continuation else {
            return 0;
        };
        #[cfg(feature = "compression")]
        if self.encoding.is_some() {
            return super::compress::closing_room(continuation.reserve());
        }
        continuation.reserve()
    }
}
