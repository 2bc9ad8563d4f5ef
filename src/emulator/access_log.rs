//! One line per invocation: method, path, status, bytes, time to first byte, duration, outcome.

use std::time::{Duration, Instant};

pub(crate) struct AccessLog {
    method: String,
    path: String,
    pub(crate) request_id: String,
    pub(crate) status: u16,
    started: Instant,
    first_byte: Option<Duration>,
    bytes: u64,
    print: bool,
    finished: bool,
}

impl AccessLog {
    pub(crate) fn new(method: &http::Method, path: &str, print: bool) -> Self {
        AccessLog {
            method: method.to_string(),
            path: path.to_owned(),
            request_id: String::new(),
            status: 0,
            started: Instant::now(),
            first_byte: None,
            bytes: 0,
            print,
            finished: false,
        }
    }

    /// Counts body bytes sent to the client.
    pub(crate) fn data(&mut self, len: usize) {
        if self.first_byte.is_none() {
            self.first_byte = Some(self.started.elapsed());
        }
        self.bytes += len as u64;
    }

    /// Writes the line, once.
    pub(crate) fn finish(&mut self, outcome: &str) {
        if self.finished {
            return;
        }
        self.finished = true;
        let ttfb_ms = self.first_byte.map(|d| d.as_secs_f64() * 1e3);
        let duration_ms = self.started.elapsed().as_secs_f64() * 1e3;
        tracing::info!(
            method = %self.method, path = %self.path, status = self.status, bytes = self.bytes,
            ttfb_ms, duration_ms, outcome, request_id = %self.request_id, "invocation"
        );
        if self.print {
            let ttfb = ttfb_ms.map_or_else(|| "-".to_owned(), |ms| format!("{ms:.1}ms"));
            eprintln!(
                "lambda-stream: {} {} {} {}B ttfb={ttfb} {duration_ms:.1}ms {outcome} [{}]",
                self.method, self.path, self.status, self.bytes, self.request_id
            );
        }
    }
}

impl Drop for AccessLog {
    fn drop(&mut self) {
        self.finish("client disconnected");
    }
}
