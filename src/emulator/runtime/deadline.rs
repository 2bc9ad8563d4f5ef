//! An invocation's deadline, and the one signal everything acts on when it passes.

use std::future::Future;
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};

use super::answer::StreamEvent;
use crate::emulator::failure::PlatformFailure;

/// When an invocation must be over, and the function timeout that set it.
///
/// The clock does not end anything by itself: the invocation's watch ends the invocation at
/// `at` (its slot freed, its function reset) and only then marks the deadline passed, which is
/// what the relays, collectors and client bodies wait for. So a client that sees its response
/// cut and asks again finds the slot free.
#[derive(Debug, Clone)]
pub(crate) struct Deadline {
    pub(crate) at: Instant,
    pub(crate) timeout: Duration,
    passed: CancellationToken,
}

impl Deadline {
    /// A deadline `timeout` from now, passed when [`Deadline::pass`] is called.
    pub(crate) fn new(timeout: Duration) -> Self {
        Deadline {
            at: Instant::now() + timeout,
            timeout,
            passed: CancellationToken::new(),
        }
    }

    /// A deadline that passes on the clock alone (for parts tested without an invocation).
    #[cfg(test)]
    pub(crate) fn on_the_clock(timeout: Duration) -> Self {
        let deadline = Deadline::new(timeout);
        let at = deadline.at;
        let passed = deadline.passed.clone();
        tokio::spawn(async move {
            tokio::time::sleep_until(at).await;
            passed.cancel();
        });
        deadline
    }

    /// Marks the deadline passed: the invocation is over.
    pub(crate) fn pass(&self) {
        self.passed.cancel();
    }

    /// Completes once the deadline has passed.
    pub(crate) fn passed(&self) -> WaitForCancellationFutureOwned {
        self.passed.clone().cancelled_owned()
    }

    /// `future`'s output, or `None` when the deadline passes first.
    pub(crate) async fn bound<F: Future>(&self, future: F) -> Option<F::Output> {
        tokio::select! {
            biased;
            output = future => Some(output),
            () = self.passed.cancelled() => None,
        }
    }

    /// What a front that waits for the function sees at the deadline.
    pub(crate) fn failure(&self) -> PlatformFailure {
        PlatformFailure::Timeout(self.timeout)
    }

    /// The stream's next event; a timeout failure at the deadline, a truncation when the
    /// relay is gone without its last event.
    pub(crate) async fn next_event(&self, events: &mut mpsc::Receiver<StreamEvent>) -> StreamEvent {
        match self.bound(events.recv()).await {
            Some(Some(event)) => event,
            Some(None) => StreamEvent::Failed(PlatformFailure::Truncated(
                "function connection lost".to_owned(),
            )),
            None => StreamEvent::Failed(self.failure()),
        }
    }
}
