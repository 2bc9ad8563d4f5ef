//! What the two fronts share: the queue of invocations waiting for `/next`, and the ones a
//! function is working on.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use bytes::Bytes;
use http::HeaderValue;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, mpsc, oneshot};

use super::config::EmulatorConfig;
use crate::wire::{FunctionError, ResponseHead};

/// One request on its way to the function.
pub(crate) struct Invocation {
    pub(crate) request_id: String,
    pub(crate) event: Bytes,
    pub(crate) deadline: SystemTime,
    pub(crate) reply: oneshot::Sender<Answer>,
    /// The invocation's slot of the concurrency limit, held until the function answers.
    pub(crate) permit: OwnedSemaphorePermit,
}

/// What the function answered, as the Function URL front needs it.
pub(crate) enum Answer {
    /// A streamed response whose prelude was read: body events follow on the channel.
    Stream {
        head: ResponseHead,
        prelude_len: usize,
        events: mpsc::Receiver<StreamEvent>,
    },
    /// A buffered `/response` payload and the runtime's content type.
    Payload {
        content_type: Option<HeaderValue>,
        body: Bytes,
    },
    /// `/error`.
    Error(FunctionError),
    /// The invocation failed on the platform side (function died, payload too large, bad
    /// prelude): the client gets `502`.
    Failed(String),
}

/// Body events of a streamed response, in order.
#[derive(Debug)]
pub(crate) enum StreamEvent {
    Data(Bytes),
    /// The last chunk arrived with no error.
    End,
    /// The last chunk arrived with error trailers.
    Error(FunctionError),
    /// The function's request ended without its last chunk.
    Truncated(String),
    /// The stream crossed the budget; relaying stopped there.
    OverBudget {
        budget: u64,
    },
}

/// An invocation a function is working on: where its answer goes, and until when.
pub(crate) struct InFlight {
    pub(crate) reply: oneshot::Sender<Answer>,
    pub(crate) deadline: SystemTime,
    pub(crate) permit: OwnedSemaphorePermit,
    /// Which function instance (Runtime API listener) took it.
    pub(crate) instance: usize,
}

impl InFlight {
    /// The deadline on tokio's clock.
    pub(crate) fn deadline_instant(&self) -> tokio::time::Instant {
        let left = self
            .deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        tokio::time::Instant::now() + left
    }
}

pub(crate) struct State {
    pub(crate) config: EmulatorConfig,
    queue_tx: mpsc::UnboundedSender<Invocation>,
    queue_rx: tokio::sync::Mutex<mpsc::UnboundedReceiver<Invocation>>,
    in_flight: Mutex<HashMap<String, InFlight>>,
    concurrency: Arc<Semaphore>,
}

impl State {
    pub(crate) fn new(config: EmulatorConfig) -> Self {
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        let concurrency = Arc::new(Semaphore::new(config.max_concurrency()));
        State {
            concurrency,
            config,
            queue_tx,
            queue_rx: tokio::sync::Mutex::new(queue_rx),
            in_flight: Mutex::new(HashMap::new()),
        }
    }

    /// A slot of the concurrency limit, or `None` when every slot is taken (`429`).
    pub(crate) fn try_start(&self) -> Option<OwnedSemaphorePermit> {
        self.concurrency.clone().try_acquire_owned().ok()
    }

    /// Queues an invocation for the next `/next`.
    pub(crate) fn enqueue(&self, invocation: Invocation) {
        // The receiver lives as long as the state, so this cannot fail while we are running.
        let _ = self.queue_tx.send(invocation);
    }

    /// Waits for the next invocation whose client is still waiting, and marks it in flight.
    pub(crate) async fn next(&self, instance: usize) -> Option<(String, Bytes, SystemTime)> {
        let mut queue = self.queue_rx.lock().await;
        loop {
            let invocation = queue.recv().await?;
            if invocation.reply.is_closed() {
                continue;
            }
            if let Ok(mut in_flight) = self.in_flight.lock() {
                let entry = InFlight {
                    reply: invocation.reply,
                    deadline: invocation.deadline,
                    permit: invocation.permit,
                    instance,
                };
                in_flight.insert(invocation.request_id.clone(), entry);
            }
            return Some((invocation.request_id, invocation.event, invocation.deadline));
        }
    }

    /// Takes an invocation in flight (once: a second answer is refused).
    pub(crate) fn take(&self, request_id: &str) -> Option<InFlight> {
        self.in_flight.lock().ok()?.remove(request_id)
    }

    /// Fails the invocations in flight on `instance` (every instance: `None`): its function
    /// process died.
    pub(crate) fn fail_in_flight(&self, instance: Option<usize>, reason: &str) {
        let replies: Vec<_> = match self.in_flight.lock() {
            Ok(mut in_flight) => {
                let failed: Vec<String> = in_flight
                    .iter()
                    .filter(|(_, entry)| instance.is_none_or(|i| i == entry.instance))
                    .map(|(id, _)| id.clone())
                    .collect();
                failed
                    .iter()
                    .filter_map(|id| in_flight.remove(id))
                    .map(|entry| entry.reply)
                    .collect()
            }
            Err(_) => Vec::new(),
        };
        for reply in replies {
            let _ = reply.send(Answer::Failed(reason.to_owned()));
        }
    }
}
