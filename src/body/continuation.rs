//! What ends a body cut short by its budget or deadline, when the body knows its records.

use std::fmt;
use std::sync::{Arc, Mutex};

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
    /// use lambda_stream::{Continuation, Truncation};
    /// // A page of rows `start..`, cut where its budget ends: its link names the next offset.
    /// let start = 40_000;
    /// let next_page = Continuation::new(64, move |cut: &Truncation| {
    ///     format!("{{\"next_cursor\":{}}}\n", cut.next_offset(start)).into()
    /// });
    /// ```
    pub fn next_offset(&self, page_start: u64) -> u64 {
        page_start.saturating_add(self.records_sent)
    }
}

type MakeContinuation = Box<dyn FnOnce(&Truncation) -> Bytes + Send>;

/// The closing record of a response cut short by its budget or deadline (a cursor, a link),
/// and the bytes reserved for it at the end of the budget. It travels as a response
/// extension, beside the body rather than inside it, so no body combinator can drop it:
///
/// ```
/// use lambda_stream::{Body, Continuation, Truncation};
/// let cursor = 0; // this page's first row (from the request's `?cursor=`)
/// let rows = futures_util::stream::iter(
///     (cursor..1_000_000u64).map(|id| Ok::<_, std::io::Error>(format!("{{\"id\":{id}}}\n"))),
/// );
/// let next_page = Continuation::new(128, move |cut: &Truncation| {
///     format!("{{\"next_cursor\":{}}}\n", cut.next_offset(cursor)).into()
/// });
/// let response = http::Response::builder()
///     .header("content-type", "application/x-ndjson")
///     .extension(next_page)
///     .body(Body::from_stream(rows))?;
/// # Ok::<(), http::Error>(())
/// ```
///
/// Every item of the body is then a whole record: when the budget or the deadline cuts the
/// body, it ends after the last whole record with the bytes `make` returns instead of an
/// error trailer. If they do not fit in what is left, the body ends with the error trailer
/// after all. A page the deadline ends reaches slow readers with its link too: the reader's
/// pace is measured while the page streams, and the page ends early enough for what may
/// still be on its way to the Runtime API, and the link, to get there before the deadline.
#[derive(Clone)]
pub struct Continuation {
    reserve: u64,
    make: Arc<Mutex<Option<MakeContinuation>>>,
}

impl Continuation {
    /// A continuation made by `make` from what was sent, with `reserve` bytes kept for it at
    /// the end of the budget.
    pub fn new<F>(reserve: usize, make: F) -> Self
    where
        F: FnOnce(&Truncation) -> Bytes + Send + 'static,
    {
        Continuation {
            reserve: reserve as u64,
            make: Arc::new(Mutex::new(Some(Box::new(make)))),
        }
    }

    /// The bytes kept for it at the end of the budget.
    pub(crate) fn reserve(&self) -> u64 {
        self.reserve
    }

    /// The closing record for `cut`; `None` once made (a response ends once).
    pub(crate) fn make(&self, cut: &Truncation) -> Option<Bytes> {
        let make = self.make.lock().ok()?.take()?;
        Some(make(cut))
    }
}

impl fmt::Debug for Continuation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Continuation")
            .field("reserve", &self.reserve)
            .finish_non_exhaustive()
    }
}
