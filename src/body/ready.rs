//! How long a ready item may wait for the items ready behind it, when they are merged into one
//! chunk (the runtime's request body) or one compressor flush.
//!
//! Nothing ever waits for an item that is not ready. The window only bounds a stream that is
//! always ready but slow to produce (work done inside `poll_next`), so its first item is not
//! held back for long. The clock is read every [`CLOCK_EVERY`] items: cheap per item, and a
//! merge of a few items does not depend on how fast the machine runs.

use std::time::{Duration, Instant};

/// The default window.
pub(crate) const MERGE_WINDOW: Duration = Duration::from_millis(1);
/// Items merged between two reads of the clock.
pub(crate) const CLOCK_EVERY: u64 = 64;

/// One merge: counts its items and tells when to stop.
pub(crate) struct ReadyWindow {
    started: Instant,
    window: Duration,
    items: u64,
}

impl ReadyWindow {
    /// A merge whose first item is in hand.
    pub(crate) fn start(window: Duration) -> Self {
        ReadyWindow {
            started: Instant::now(),
            window,
            items: 1,
        }
    }

    /// Whether another ready item may join.
    pub(crate) fn open(&self) -> bool {
        !(self.items.is_multiple_of(CLOCK_EVERY) && self.started.elapsed() >= self.window)
    }

    /// Counts an item that joined.
    pub(crate) fn joined(&mut self) {
        self.items += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_is_read_every_64_items() {
        let mut window = ReadyWindow::start(Duration::ZERO);
        let mut joined = 1;
        while window.open() {
            window.joined();
            joined += 1;
        }
        assert_eq!(joined, CLOCK_EVERY);
        let mut window = ReadyWindow::start(Duration::from_secs(3600));
        for _ in 0..1000 {
            assert!(window.open());
            window.joined();
        }
    }
}
