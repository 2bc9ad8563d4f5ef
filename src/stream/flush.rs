//! When the streamed response gives way so the connection can flush.
//!
//! hyper writes a body's frames into its buffer and flushes the socket when the body returns
//! `Pending` (or the buffer is full). A producer that is always ready, because it does its work
//! inside `poll_next` (rows computed, compression), would never return `Pending`: its items would
//! wait in the buffer, ~450 KB at a time. So once something was handed over and the body has
//! been ready for [`MAX_READY`] without giving way, it returns `Pending` once (waking itself at
//! once): what is ready reaches the socket within about a millisecond, and other tasks on the
//! same worker (the embedded emulator's relay) get to run. Sans-IO: the caller passes `now`.

use std::future::Future;
use std::task::Context;
use std::time::Duration;

use tokio::time::Instant;

/// The longest the body stays ready with data handed over but not flushed.
pub(crate) const MAX_READY: Duration = Duration::from_millis(1);

/// Tracks readiness since the body last gave way.
#[derive(Debug, Clone)]
pub(crate) struct FlushRule {
    max_ready: Duration,
    /// When the body last returned `Pending` (or started).
    gave_way_at: Instant,
    /// Data was handed over since then.
    handed_over: bool,
}

impl FlushRule {
    /// A rule for a body whose first data goes out at once (the handler was already waited
    /// for): it counts as ready since before `now`.
    pub(crate) fn new(now: Instant) -> Self {
        FlushRule {
            max_ready: MAX_READY,
            gave_way_at: now.checked_sub(MAX_READY).unwrap_or(now),
            handed_over: false,
        }
    }

    /// Data was handed to the connection.
    pub(crate) fn handed_over(&mut self) {
        self.handed_over = true;
    }

    /// The body returned `Pending` on its own: the connection flushes.
    pub(crate) fn gave_way(&mut self, now: Instant) {
        self.gave_way_at = now;
        self.handed_over = false;
    }

    /// Whether to give way now, before taking the next item. When it says so, it counts as
    /// having given way.
    pub(crate) fn should_give_way(&mut self, now: Instant) -> bool {
        let due = self.handed_over && now.duration_since(self.gave_way_at) >= self.max_ready;
        if due {
            self.gave_way(now);
        }
        due
    }
}

/// Arranges for the task to be polled again after the other tasks ready on its worker, as
/// `tokio::task::yield_now` does: a plain self-wake would put it in the worker's next-task slot
/// and run it again at once, ahead of the tasks its output just woke. Outside a tokio runtime
/// it is a plain wake.
pub(crate) fn yield_to_others(cx: &mut Context<'_>) {
    let mut yielding = std::pin::pin!(tokio::task::yield_now());
    // The first poll defers the wake-up and returns `Pending`; dropping the future keeps it.
    let _ = yielding.as_mut().poll(cx);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_data_goes_out_at_once() {
        let start = Instant::now() + Duration::from_secs(1);
        let mut rule = FlushRule::new(start);
        rule.handed_over();
        assert!(rule.should_give_way(start));
    }

    #[test]
    fn gives_way_once_data_waited_a_millisecond() {
        let start = Instant::now() + Duration::from_secs(1);
        let mut rule = FlushRule::new(start);
        rule.handed_over();
        assert!(rule.should_give_way(start), "the first data");
        // Nothing handed over: no reason to give way, however long it takes.
        assert!(!rule.should_give_way(start + Duration::from_secs(1)));
        rule.handed_over();
        assert!(!rule.should_give_way(start + Duration::from_micros(999)));
        assert!(rule.should_give_way(start + Duration::from_millis(1)));
        // It just gave way: the next item starts a new millisecond.
        assert!(!rule.should_give_way(start + Duration::from_millis(1)));
        rule.handed_over();
        assert!(!rule.should_give_way(start + Duration::from_micros(1500)));
        assert!(rule.should_give_way(start + Duration::from_millis(2)));
    }

    #[test]
    fn a_body_that_goes_pending_on_its_own_restarts_the_clock() {
        let start = Instant::now() + Duration::from_secs(1);
        let mut rule = FlushRule::new(start);
        rule.handed_over();
        rule.gave_way(start + Duration::from_millis(5));
        rule.handed_over();
        assert!(!rule.should_give_way(start + Duration::from_micros(5500)));
        assert!(rule.should_give_way(start + Duration::from_millis(6)));
    }
}
