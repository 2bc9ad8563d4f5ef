//! What a response asks of the pipeline besides its body, read once from its extensions: the
//! handler's [`Continuation`], and the budget view of a stage that ends the body itself (a
//! compressor, which writes its compressed continuation and epilogue at its end).

use super::budget_view::BudgetView;
use crate::body::{Body, Continuation};

/// What ends a response's body when it is cut: the response's own [`Continuation`] (an
/// extension), else its framing's terminator (a JSON array's `]`). Both are taken out: a
/// response ends once.
pub(crate) fn take_continuation(
    extensions: &mut http::Extensions,
    body: &mut Body,
) -> Option<Continuation> {
    let framing_end = body.take_framing_end();
    extensions.remove::<Continuation>().or(framing_end)
}

/// A response's continuation and its compressing stage's budget view, taken from its
/// extensions.
#[derive(Debug, Default)]
pub(crate) struct PerResponse {
    pub(crate) continuation: Option<Continuation>,
    pub(crate) view: Option<BudgetView>,
}

impl PerResponse {
    /// Takes them out of `extensions` (a response ends once).
    pub(crate) fn take_from(extensions: &mut http::Extensions, body: &mut Body) -> Self {
        PerResponse {
            continuation: take_continuation(extensions, body),
            view: extensions.remove::<BudgetView>(),
        }
    }

    /// A response ended by `continuation` (tests build them without a response).
    #[cfg(test)]
    pub(crate) fn continued(continuation: Continuation) -> Self {
        PerResponse {
            continuation: Some(continuation),
            view: None,
        }
    }

    /// The bytes the compressing stage writes at its end, which the budget must hold.
    pub(crate) fn closing_room(&self) -> u64 {
        self.view.as_ref().map_or(0, BudgetView::closing_room)
    }
}
