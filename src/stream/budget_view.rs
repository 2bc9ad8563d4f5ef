//! What is left of a response's budget, as a stage that decides before it produces (a
//! compressor) sees it.

/// What is left of the response's budget, published by the runtime for body stages that must
/// decide before producing an item (a compressor cannot take back compressed bytes), and what
/// such a stage needs left at its end (its compressed continuation): a budget without that room
/// is refused before the head goes out.
#[derive(Debug, Clone)]
pub(crate) struct BudgetView {
    remaining: std::sync::Arc<std::sync::atomic::AtomicU64>,
    closing_room: u64,
}

#[cfg_attr(
    not(feature = "compression"),
    allow(dead_code, reason = "only the compressor reads the view so far")
)]
impl BudgetView {
    /// Unknown until the runtime publishes it; the stage needs `closing_room` bytes at its end.
    pub(crate) fn new(closing_room: u64) -> Self {
        BudgetView {
            remaining: std::sync::Arc::new(std::sync::atomic::AtomicU64::new(u64::MAX)),
            closing_room,
        }
    }

    /// The bytes the stage writes at its end, which the budget must hold.
    pub(crate) fn closing_room(&self) -> u64 {
        self.closing_room
    }

    pub(crate) fn publish(&self, remaining: u64) {
        self.remaining
            .store(remaining, std::sync::atomic::Ordering::Relaxed);
    }

    pub(crate) fn remaining(&self) -> u64 {
        self.remaining.load(std::sync::atomic::Ordering::Relaxed)
    }
}
