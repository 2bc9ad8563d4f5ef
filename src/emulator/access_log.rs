//! One line per invocation: method, path, status, bytes, time to first byte, duration, outcome.
//!
//! Outcomes, in a word first: `ok`; the status when the function answered an error status
//! (`413` for a buffered answer over its limit); `budget` or `deadline` when the function ended
//! its stream with that error trailer (a cut closed by a continuation is a clean stream to the
//! platform, so it is `ok` here: the function's own completion line says `continued`); another
//! `error trailer`; the platform's failures (`timeout`, `truncated`, `budget`, ...); a response
//! cut because its client was not reading when the deadline came (`timeout (the client was not
//! reading ...)`) or because the emulator shut down; `client disconnected (drained)` or
//! `(cancelled)`, as `--cancel-on-disconnect` says.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

/// The client responses still open (each held by its [`AccessLog`]), so that a shutdown can
/// wait for them, and whether the emulator is stopping.
#[derive(Debug, Default)]
pub(crate) struct Responses {
    open: AtomicUsize,
    closed: Notify,
    stopping: AtomicBool,
}

impl Responses {
    /// Completes when no client response is open.
    pub(crate) async fn all_closed(&self) {
        loop {
            let closed = self.closed.notified();
            if self.open.load(Ordering::Acquire) == 0 {
                return;
            }
            closed.await;
        }
    }

    /// The emulator is stopping: a response cut from now on is a shutdown cut.
    pub(crate) fn stopping(&self) {
        self.stopping.store(true, Ordering::Release);
    }
}

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
    /// The invocation's deadline, once it started: a response dropped after it was cut by
    /// the deadline (its client was not reading), not by the client.
    pub(crate) deadline: Option<tokio::time::Instant>,
    /// Counted among the open responses until the line is written.
    responses: Option<Arc<Responses>>,
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
            deadline: None,
            responses: None,
        }
    }

    /// The log of one request to a front, under a new request id, printed and cancelling on
    /// disconnect as the emulator's config says, and counted among its open responses.
    pub(crate) fn for_request<B>(
        request: &http::Request<B>,
        config: &super::config::EmulatorConfig,
        responses: &Arc<Responses>,
    ) -> Self {
        let mut log = AccessLog::new(request.method(), request.uri().path(), config.access_log())
            .cancelling_on_disconnect(config.cancel_on_disconnect());
        log.request_id = uuid::Uuid::new_v4().to_string();
        responses.open.fetch_add(1, Ordering::AcqRel);
        log.responses = Some(responses.clone());
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
        if let Some(responses) = self.responses.take()
            && responses.open.fetch_sub(1, Ordering::AcqRel) == 1
        {
            responses.closed.notify_waiters();
        }
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
    /// The response was dropped before it ended: say by what.
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let stopping = self
            .responses
            .as_ref()
            .is_some_and(|r| r.stopping.load(Ordering::Acquire));
        let past_deadline = self
            .deadline
            .is_some_and(|deadline| tokio::time::Instant::now() >= deadline);
        let outcome = if stopping {
            "emulator shut down (the response was cut)"
        } else if past_deadline {
            "timeout (the client was not reading when the function's time ran out; the response was cut)"
        } else if self.cancels_on_disconnect {
            "client disconnected (cancelled)"
        } else {
            "client disconnected (drained)"
        };
        self.finish(outcome);
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
