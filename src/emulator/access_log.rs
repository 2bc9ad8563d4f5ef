//! One line per invocation: method, path, status, bytes, time to first byte, duration, outcome.
//!
//! Outcomes, in a word first: `ok`; the status when the function answered an error status
//! (`413` for a buffered answer over its limit); `budget` or `deadline` when the function ended
//! its stream with that error trailer (a cut closed by a continuation is a clean stream to the
//! platform, so it is `ok` here: the function's own completion line says `continued`); another
//! `error trailer`; the platform's failures (`timeout`, `truncated`, `budget`, ...); `client
//! disconnected (drained)` or `(cancelled)`, as `--cancel-on-disconnect` says.

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
    /// The invocation is cancelled, not drained, when the client goes away.
    cancels_on_disconnect: bool,
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
            cancels_on_disconnect: false,
        }
    }

    /// The log of one request to a front, under a new request id, printed and cancelling on
    /// disconnect as `config` says.
    pub(crate) fn for_request<B>(
        request: &http::Request<B>,
        config: &super::EmulatorConfig,
    ) -> Self {
        let mut log = AccessLog::new(request.method(), request.uri().path(), config.access_log())
            .cancelling_on_disconnect(config.cancel_on_disconnect());
        log.request_id = uuid::Uuid::new_v4().to_string();
        log
    }

    /// Says what a client going away does to the invocation (`--cancel-on-disconnect`).
    pub(crate) fn cancelling_on_disconnect(mut self, cancels: bool) -> Self {
        self.cancels_on_disconnect = cancels;
        self
    }

    /// Writes the line of a response that went out whole.
    pub(crate) fn complete(&mut self) {
        let outcome = match self.status {
            0..400 => "ok".to_owned(),
            status => status.to_string(),
        };
        self.finish(&outcome);
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
        // Debug: the printed line is the one users read; this one is for subscribers that
        // want the fields (and would otherwise show the line twice).
        tracing::debug!(
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
        if self.cancels_on_disconnect {
            self.finish("client disconnected (cancelled)");
        } else {
            self.finish("client disconnected (drained)");
        }
    }
}

/// The outcome of a stream the function ended with an error trailer.
pub(crate) fn error_trailer_outcome(error: &crate::wire::FunctionError) -> String {
    use crate::wire::ErrorType;
    let kind = match error.error_type() {
        kind if *kind == ErrorType::RESPONSE_SIZE_TOO_LARGE => "budget",
        kind if *kind == ErrorType::DEADLINE_EXCEEDED => "deadline",
        _ => "error trailer",
    };
    format!("{kind} ({}: {})", error.error_type(), error.message())
}
