//! How fast the reader takes a stream, measured rather than assumed; sans-IO (the caller passes
//! `now`).
//!
//! hyper asks the body for more only when its write buffer has room, and that buffer drains
//! only as fast as the socket, the Runtime API and finally the reader take bytes. So what the
//! connection takes per second of its own time is the pace of the slowest of them: the
//! reader's, once the buffers on the way are full. Time the body spends waiting for the
//! handler's producer is the producer's, not the connection's, and is left out: a token stream
//! that waits seconds between tokens is not a slow reader. The last [`WINDOW`] of the
//! connection's time gives the pace.

use std::collections::VecDeque;
use std::time::Duration;

use tokio::time::Instant;

/// How much of the connection's time the pace is measured over.
pub(crate) const WINDOW: Duration = Duration::from_millis(500);

/// How often (in the connection's time) a sample of what it took is kept.
const SAMPLE_EVERY: Duration = Duration::from_millis(50);

/// The reader's pace, from what the connection took and when.
#[derive(Debug, Clone, Default)]
pub(crate) struct ReaderPace {
    /// The connection's time so far: what has passed less the waits on the producer.
    busy: Duration,
    /// When `busy` was last brought up to date, and whether the body has been waiting for
    /// its producer since.
    last: Option<(Instant, bool)>,
    /// Bytes taken so far.
    taken: u64,
    /// (connection's time, bytes taken by then), one every [`SAMPLE_EVERY`]; the first is the
    /// newest one at least [`WINDOW`] older than the last.
    samples: VecDeque<(Duration, u64)>,
    /// Bytes per second of the connection's time, as last measured.
    measured: Option<f64>,
}

impl ReaderPace {
    /// The connection took `len` bytes at `now` (a wait on the producer, if any, is over).
    pub(crate) fn taken(&mut self, now: Instant, len: u64) {
        self.advance(now, false);
        self.taken += len;
        let last = self.samples.back().map(|&(at, _)| at);
        if last.is_some_and(|at| self.busy.saturating_sub(at) < SAMPLE_EVERY) {
            return;
        }
        self.samples.push_back((self.busy, self.taken));
        while self.samples.len() > 2 && self.busy.saturating_sub(self.samples[1].0) >= WINDOW {
            self.samples.pop_front();
        }
        let (oldest, taken_then) = self.samples[0];
        let span = self.busy.saturating_sub(oldest);
        if span >= WINDOW {
            self.measured = Some((self.taken - taken_then) as f64 / span.as_secs_f64());
        }
    }

    /// The handler had nothing ready at `now`: the time until its next item is its own.
    pub(crate) fn producer_waited(&mut self, now: Instant) {
        self.advance(now, true);
    }

    /// Counts the time since the last event as the connection's, unless the body was waiting
    /// for its producer; `waiting` says what it does from `now`.
    fn advance(&mut self, now: Instant, waiting: bool) {
        if let Some((last, false)) = self.last {
            self.busy += now.saturating_duration_since(last);
        }
        match &mut self.last {
            Some((_, true)) if waiting => {}
            last => *last = Some((now, waiting)),
        }
    }

    /// How many bytes go within `time` at the measured pace; `None` until it is measured.
    pub(crate) fn bytes_within(&self, time: Duration) -> Option<u64> {
        let rate = self.measured?;
        // A float-to-int `as` saturates (and a negative or NaN product becomes 0).
        Some((rate * time.as_secs_f64()) as u64)
    }

    /// How long `bytes` take at the measured pace; `None` until it is measured.
    pub(crate) fn time_for(&self, bytes: u64) -> Option<Duration> {
        let rate = self.measured?;
        if rate <= 0.0 {
            return Some(Duration::MAX);
        }
        Some(Duration::try_from_secs_f64(bytes as f64 / rate).unwrap_or(Duration::MAX))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MB: u64 = 1_000_000;

    /// A reader at `rate` bytes per second behind `buffered` bytes of buffers: the connection
    /// takes the buffers at once, then 64 KiB each time the reader frees as much.
    fn slow_reader(
        pace: &mut ReaderPace,
        start: Instant,
        buffered: u64,
        rate: u64,
        until: Duration,
    ) {
        pace.taken(start, buffered);
        let chunk = 64 * 1024;
        let every = Duration::from_secs_f64(chunk as f64 / rate as f64);
        let mut at = start;
        while at.duration_since(start) < until {
            at += every;
            pace.taken(at, chunk);
        }
    }

    fn seconds(time: Option<Duration>) -> f64 {
        time.unwrap().as_secs_f64()
    }

    #[test]
    fn nothing_is_known_before_a_window() {
        let mut pace = ReaderPace::default();
        slow_reader(
            &mut pace,
            Instant::now(),
            MB,
            MB,
            Duration::from_millis(400),
        );
        assert_eq!(pace.time_for(MB), None);
    }

    #[test]
    fn the_pace_is_the_readers_once_the_buffers_are_full() {
        let mut pace = ReaderPace::default();
        // 5 MB of buffers taken at once, then 1 MB/s: a second later, only the reader counts.
        slow_reader(
            &mut pace,
            Instant::now(),
            5 * MB,
            MB,
            Duration::from_secs(1),
        );
        assert!((0.9..1.1).contains(&seconds(pace.time_for(MB))));
    }

    #[test]
    fn waits_on_the_producer_are_not_the_readers() {
        let start = Instant::now();
        let mut pace = ReaderPace::default();
        // A token a second, each taken at once: the connection was never the slow part.
        for second in 0..10 {
            let at = start + Duration::from_secs(second);
            pace.taken(at, 16);
            pace.producer_waited(at + Duration::from_micros(50));
            pace.producer_waited(at + Duration::from_millis(500));
        }
        assert_eq!(
            pace.time_for(MB),
            None,
            "the connection was never the slow part"
        );
    }

    #[test]
    fn a_pace_measured_is_kept_through_waits_on_the_producer() {
        let start = Instant::now();
        let mut pace = ReaderPace::default();
        slow_reader(&mut pace, start, 0, 2 * MB, Duration::from_secs(1));
        pace.producer_waited(start + Duration::from_secs(1));
        let later = start + Duration::from_secs(30);
        assert!((0.45..0.55).contains(&seconds(pace.time_for(MB))));
        slow_reader(&mut pace, later, 0, MB / 2, Duration::from_secs(1));
        assert!(
            (1.9..2.1).contains(&seconds(pace.time_for(MB))),
            "measured again"
        );
    }

    #[test]
    fn a_reader_that_stopped_takes_forever() {
        let start = Instant::now();
        let mut pace = ReaderPace::default();
        slow_reader(&mut pace, start, 0, MB, Duration::from_secs(1));
        // Nothing more taken for a minute, then one byte: the window saw almost nothing.
        pace.taken(start + Duration::from_secs(61), 1);
        assert!(seconds(pace.time_for(MB)) > 60.0);
    }
}
