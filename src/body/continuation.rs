//! What ends a body cut short by its budget or deadline, when the body knows its records.

use std::fmt;

use bytes::Bytes;

/// Why a body was cut short.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TruncationReason {
    /// The next item did not fit in the byte budget.
    Budget,
    /// The deadline (less the safety margin) came first.
    Deadline,
}

/// What was sent before a body was cut short: handed to the continuation so it can say where
/// to resume (a cursor, a link, an offset).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Truncation {
    /// Why the body was cut.
    pub reason: TruncationReason,
    /// Whole records sent in this response (this page only, not the pages before it).
    pub records_sent: u64,
    /// Body bytes sent.
    pub body_bytes: u64,
    /// The last whole record sent, as the body produced it (before compression): keyset
    /// pagination reads the key to resume after from it. `None` when nothing was sent.
    pub last_record: Option<bytes::Bytes>,
}

impl Truncation {
    /// Where the next page starts, for offset pagination: the offset this page started at
    /// plus the records it sent. Right on every page, the first and the later ones alike.
    ///
    /// ```
    /// use lambda_stream::{Body, Truncation};
    /// // A page of rows `start..`, cut where its budget ends: its link names the next offset.
    /// let start = 40_000;
    /// let rows = futures_util::stream::iter(
    ///     (start..).map(|id| Ok::<_, std::io::Error>(format!("{{\"id\":{id}}}\n"))),
    /// );
    /// let body = Body::from_stream(rows).with_continuation(64, move |cut: &Truncation| {
    ///     format!("{{\"next_cursor\":{}}}\n", cut.next_offset(start)).into()
    /// });
    /// ```
    pub fn next_offset(&self, page_start: u64) -> u64 {
        page_start.saturating_add(self.records_sent)
    }
}

type MakeContinuation = Box<dyn FnOnce(&Truncation) -> Bytes + Send>;

/// A closing record and the bytes reserved for it.
pub(crate) struct Continuation {
    pub(crate) reserve: u64,
    pub(crate) make: MakeContinuation,
}

impl fmt::Debug for Continuation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Continuation")
            .field("reserve", &self.reserve)
            .finish_non_exhaustive()
    }
}

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
