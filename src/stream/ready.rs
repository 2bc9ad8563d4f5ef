//! How long a ready item may wait for the items ready behind it, when they are merged into one
//! chunk (the runtime's request body) or one compressor flush.
//!
//! Nothing ever waits for an item that is not ready. The window only bounds a stream that is
//! always ready but slow to produce (work done inside `poll_next`: rows computed, compression),
//! so its first item is not held back for long. The clock is read every [`CLOCK_EVERY`] items
//! or [`CLOCK_BYTES`] merged bytes, whichever comes first: cheap per tiny item (16-byte
//! tokens), and prompt for items that are costly to make (a compressor's output, a few KiB
//! per 64 KiB of rows).

use std::time::Duration;

use tokio::time::Instant;

/// The default window.
pub(crate) const MERGE_WINDOW: Duration = Duration::from_millis(1);
/// Items merged between two reads of the clock, at most.
pub(crate) const CLOCK_EVERY: u64 = 64;
/// Bytes merged between two reads of the clock, at most.
pub(crate) const CLOCK_BYTES: usize = 4 * 1024;

/// One merge: counts its items and tells when to stop.
pub(crate) struct ReadyWindow {
    started: Instant,
    window: Duration,
    items: u64,
    unchecked_bytes: usize,
}

impl ReadyWindow {
    /// A merge whose first item is in hand.
    pub(crate) fn start(window: Duration) -> Self {
        ReadyWindow {
            started: Instant::now(),
            window,
            items: 1,
            unchecked_bytes: 0,
        }
    }

    /// Whether another ready item may join.
    pub(crate) fn open(&mut self) -> bool {
        let due = self.items.is_multiple_of(CLOCK_EVERY) || self.unchecked_bytes >= CLOCK_BYTES;
        if !due {
            return true;
        }
        self.unchecked_bytes = 0;
        self.started.elapsed() < self.window
    }

    /// Counts an item of `len` bytes that joined.
    pub(crate) fn joined(&mut self, len: usize) {
        self.items += 1;
        self.unchecked_bytes += len;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_clock_is_read_every_64_tiny_items() {
        let mut window = ReadyWindow::start(Duration::ZERO);
        let mut joined = 1;
        while window.open() {
            window.joined(16);
            joined += 1;
        }
        assert_eq!(joined, CLOCK_EVERY);
        let mut window = ReadyWindow::start(Duration::from_secs(3600));
        for _ in 0..1000 {
            assert!(window.open());
            window.joined(16);
        }
    }

    #[test]
    fn the_clock_is_read_every_4_kib_of_larger_items() {
        let mut window = ReadyWindow::start(Duration::ZERO);
        assert!(window.open(), "the first item decides nothing");
        window.joined(5000);
        assert!(
            !window.open(),
            "an item of a few KiB checks the clock at once"
        );
    }
}
