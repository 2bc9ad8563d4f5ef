//! What happened to a response: handed to a user hook and logged.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use crate::settings::InvokeMode;
use crate::stream::Budget;

pub use crate::stream::Outcome;

/// Counts and timings of one response.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct CompletionStats {
    /// The invocation.
    pub request_id: String,
    /// The invoke mode it was answered in.
    pub invoke_mode: InvokeMode,
    /// The response status.
    pub status: u16,
    /// Bytes counted against the budget: prelude, delimiter and body (the payload in BUFFERED).
    pub wire_bytes: u64,
    /// Body bytes sent.
    pub body_bytes: u64,
    /// Body chunks (data frames) sent; ready items are merged, so usually fewer than
    /// [`records`](Self::records).
    pub chunks: u64,
    /// The body's items (records) sent: what a continuation's `records_sent` counts.
    pub records: u64,
    /// From the start of the invocation to the first body byte handed to the connection.
    pub time_to_first_byte: Option<Duration>,
    /// From the start of the invocation to the end of the response.
    pub duration: Duration,
    /// How it ended.
    pub outcome: Outcome,
    /// The budget that applied.
    pub budget: Budget,
    /// Whether the budget's warning threshold was crossed.
    pub budget_warned: bool,
}

impl CompletionStats {
    /// The fraction of the budget used.
    pub fn budget_used(&self) -> f64 {
        if self.budget.limit() == 0 {
            return 1.0;
        }
        self.wire_bytes as f64 / self.budget.limit() as f64
    }
}

/// A function called with each response's [`CompletionStats`].
#[derive(Clone)]
pub(crate) struct CompletionHook(pub(crate) Arc<dyn Fn(&CompletionStats) + Send + Sync>);

impl fmt::Debug for CompletionHook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CompletionHook")
    }
}

/// Logs the stats and hands them to the hook.
pub(crate) fn report(stats: &CompletionStats, hook: Option<&CompletionHook>) {
    let ttfb_ms = stats.time_to_first_byte.map(|d| d.as_secs_f64() * 1e3);
    let fields = (
        stats.request_id.as_str(),
        stats.status,
        stats.wire_bytes,
        stats.body_bytes,
        stats.chunks,
    );
    let (request_id, status, wire_bytes, body_bytes, chunks) = fields;
    let records = stats.records;
    let duration_ms = stats.duration.as_secs_f64() * 1e3;
    let budget_used = stats.budget_used();
    if matches!(stats.outcome, Outcome::Complete) {
        tracing::info!(
            request_id, status, wire_bytes, body_bytes, chunks, records, ttfb_ms, duration_ms,
            budget_used, outcome = %stats.outcome, "response complete"
        );
    } else if matches!(
        stats.outcome,
        Outcome::Truncated {
            continued: true,
            ..
        }
    ) {
        // A page of an export, ended cleanly with its cursor: how paging works, not a failure.
        tracing::info!(
            request_id, status, wire_bytes, body_bytes, chunks, records, ttfb_ms, duration_ms,
            budget_used, outcome = %stats.outcome, "response ended with its continuation"
        );
    } else if let Outcome::Truncated { .. } = stats.outcome {
        // A client that does not read trailers sees a complete response: say what to do.
        tracing::error!(
            request_id, status, wire_bytes, body_bytes, chunks, records, ttfb_ms, duration_ms,
            budget_used, outcome = %stats.outcome,
            "response cut short with no continuation: a client that does not read trailers \
             sees a clean end; to page it, end the body with a continuation \
             (the response extension lambda_stream::Continuation)"
        );
    } else {
        tracing::error!(
            request_id, status, wire_bytes, body_bytes, chunks, records, ttfb_ms, duration_ms,
            budget_used, outcome = %stats.outcome, "response ended early"
        );
    }
    if let Some(hook) = hook {
        (hook.0)(stats);
    }
}
