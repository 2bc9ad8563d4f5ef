//! `get`'s progress on a terminal: bytes, records, pages and the rate, redrawn as records
//! arrive; nothing at all when stderr is not a terminal (a pipe, a log, CI) or when the records
//! are written to the terminal themselves.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Counts a download and shows them.
pub(crate) struct Progress {
    bar: ProgressBar,
    bytes: u64,
    records: u64,
    pages: u64,
}

impl Progress {
    /// Shown on stderr when it is a terminal, unless `shown` is false (the records themselves
    /// go to the terminal, as curl decides).
    pub(crate) fn on_stderr(shown: bool) -> Progress {
        let target = if shown {
            ProgressDrawTarget::stderr()
        } else {
            ProgressDrawTarget::hidden()
        };
        let bar = ProgressBar::with_draw_target(None, target);
        let style = ProgressStyle::with_template(
            "{spinner} {binary_bytes} at {binary_bytes_per_sec}, {msg} ({elapsed})",
        )
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        Progress {
            bar,
            bytes: 0,
            records: 0,
            pages: 0,
        }
    }

    /// Counted here; handed to the bar every 1,024 records (the bar reads the clock).
    pub(crate) fn record(&mut self, bytes: usize) {
        self.records += 1;
        self.bytes += bytes as u64;
        if self.records % 1024 == 1 {
            self.show();
        }
    }

    pub(crate) fn page_end(&mut self) {
        self.pages += 1;
        self.show();
    }

    /// The last line stays on the terminal.
    pub(crate) fn finish(&self) {
        self.show();
        self.bar.abandon();
    }

    fn show(&self) {
        self.bar.set_position(self.bytes);
        let pages = match self.pages {
            1 => "1 page".to_owned(),
            n => format!("{n} pages"),
        };
        self.bar
            .set_message(format!("{} records, {pages}", self.records));
    }
}
