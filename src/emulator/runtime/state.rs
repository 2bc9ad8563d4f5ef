//! What the two fronts share: the queue of invocations waiting for `/next`, the ones a
//! function is working on, and the deadline that ends each.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use bytes::Bytes;
use http::HeaderValue;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, mpsc, oneshot};
use tokio::time::Instant;

use super::config::EmulatorConfig;
use super::failure::PlatformFailure;
use crate::wire::{FunctionError, ResponseHead};

/// One request on its way to the function.
pub(crate) struct Invocation {
    pub(crate) request_id: String,
    pub(crate) event: Bytes,
    pub(crate) deadline: SystemTime,
    pub(crate) reply: oneshot::Sender<Answer>,
    /// The invocation's slot of the concurrency limit, held until the function answers or
    /// the deadline passes, whichever comes first.
    pub(crate) permit: OwnedSemaphorePermit,
}

/// What the function answered, as the fronts need it.
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
    /// The invocation failed on the platform side: the URL client gets `502`.
    Failed(PlatformFailure),
}

/// Body events of a streamed response, in order.
#[derive(Debug)]
pub(crate) enum StreamEvent {
    Data(Bytes),
    /// The last chunk arrived with no error.
    End,
    /// The last chunk arrived with error trailers.
    Error(FunctionError),
    /// The stream failed on the platform side (truncated, over budget, timed out): the client
    /// response is cut off.
    Failed(PlatformFailure),
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
    pub(crate) fn deadline_instant(&self) -> Instant {
        let left = self
            .deadline
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        Instant::now() + left
    }
}

/// When an invocation must be over, and the function timeout that set it.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Deadline {
    pub(crate) at: Instant,
    pub(crate) timeout: std::time::Duration,
}

impl Deadline {
    /// What a front that waits for the function sees at the deadline.
    pub(crate) fn failure(&self) -> PlatformFailure {
        PlatformFailure::Timeout(self.timeout)
    }

    /// The stream's next event; a timeout failure at the deadline, a truncation when the
    /// relay is gone without its last event.
    pub(crate) async fn next_event(&self, events: &mut mpsc::Receiver<StreamEvent>) -> StreamEvent {
        match tokio::time::timeout_at(self.at, events.recv()).await {
            Ok(Some(event)) => event,
            Ok(None) => StreamEvent::Failed(PlatformFailure::Truncated(
                "function connection lost".to_owned(),
            )),
            Err(_) => StreamEvent::Failed(self.failure()),
        }
    }
}

/// The invocation `/next` hands out: its id, event and deadline.
pub(crate) type NextInvocation = (String, Bytes, SystemTime);

pub(crate) struct State {
    pub(crate) config: EmulatorConfig,
    queue: Mutex<VecDeque<Invocation>>,
    queued: Notify,
    in_flight: Mutex<HashMap<String, InFlight>>,
    concurrency: Arc<Semaphore>,
    /// Per instance: woken when one of its invocations timed out, so its environment must be
    /// reset (the process killed and restarted).
    resets: Mutex<HashMap<usize, Arc<Notify>>>,
}

/// Locks a mutex whose data stays consistent even if a holder panicked (every critical
/// section here is a single map or queue operation).
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl State {
    pub(crate) fn new(config: EmulatorConfig) -> Self {
        let concurrency = Arc::new(Semaphore::new(config.max_concurrency()));
        State {
            concurrency,
            config,
            queue: Mutex::new(VecDeque::new()),
            queued: Notify::new(),
            in_flight: Mutex::new(HashMap::new()),
            resets: Mutex::new(HashMap::new()),
        }
    }

    /// A slot of the concurrency limit, or `None` when every slot is taken (`429`).
    pub(crate) fn try_start(&self) -> Option<OwnedSemaphorePermit> {
        self.concurrency.clone().try_acquire_owned().ok()
    }

    /// Runs an invocation: queues it for the next `/next` and waits for the answer until the
    /// function timeout. At the timeout the invocation is abandoned (its slot freed, a late
    /// answer refused) and the instance working on it, if any, is reset.
    pub(crate) async fn invoke(
        &self,
        request_id: &str,
        event: Bytes,
        permit: OwnedSemaphorePermit,
    ) -> (Answer, Deadline) {
        let timeout = self.config.timeout();
        let deadline = Deadline {
            at: Instant::now() + timeout,
            timeout,
        };
        let (reply, answer) = oneshot::channel();
        self.enqueue(Invocation {
            request_id: request_id.to_owned(),
            event,
            deadline: SystemTime::now() + timeout,
            reply,
            permit,
        });
        let answer = match tokio::time::timeout_at(deadline.at, answer).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Answer::Failed(PlatformFailure::FunctionGone(
                "its runtime dropped the invocation".to_owned(),
            )),
            Err(_) => {
                self.abandon(request_id);
                tracing::error!(request_id, ?timeout, "function timed out");
                Answer::Failed(deadline.failure())
            }
        };
        (answer, deadline)
    }

    fn enqueue(&self, invocation: Invocation) {
        lock(&self.queue).push_back(invocation);
        self.queued.notify_one();
    }

    /// Waits for the next invocation whose client is still waiting, and marks it in flight.
    pub(crate) async fn next(&self, instance: usize) -> NextInvocation {
        loop {
            let popped = lock(&self.queue).pop_front();
            let Some(invocation) = popped else {
                self.queued.notified().await;
                continue;
            };
            if invocation.reply.is_closed() {
                continue;
            }
            let next = (
                invocation.request_id.clone(),
                invocation.event,
                invocation.deadline,
            );
            let entry = InFlight {
                reply: invocation.reply,
                deadline: invocation.deadline,
                permit: invocation.permit,
                instance,
            };
            lock(&self.in_flight).insert(invocation.request_id, entry);
            return next;
        }
    }

    /// Takes an invocation in flight (once: a second answer is refused).
    pub(crate) fn take(&self, request_id: &str) -> Option<InFlight> {
        lock(&self.in_flight).remove(request_id)
    }

    /// Gives up on an invocation at its deadline: out of the queue or out of flight, so its
    /// slot is free; an instance that was working on it is reset, as Lambda resets an
    /// execution environment whose invocation timed out.
    fn abandon(&self, request_id: &str) {
        lock(&self.queue).retain(|invocation| invocation.request_id != request_id);
        if let Some(entry) = self.take(request_id) {
            self.reset(entry.instance);
        }
    }

    /// Asks for `instance`'s environment to be reset (see [`State::reset_requested`]).
    pub(crate) fn reset(&self, instance: usize) {
        self.reset_signal(instance).notify_one();
    }

    /// Completes when one of `instance`'s invocations timed out: its process must be
    /// stopped and started again. Instance 0, the in-process loops of embedded mode, stop
    /// their own handler at the deadline, so nothing waits on it.
    pub(crate) async fn reset_requested(&self, instance: usize) {
        let signal = self.reset_signal(instance);
        signal.notified().await;
    }

    fn reset_signal(&self, instance: usize) -> Arc<Notify> {
        lock(&self.resets).entry(instance).or_default().clone()
    }

    /// Fails the invocations in flight on `instance` (every instance: `None`): its function
    /// process died or was reset.
    pub(crate) fn fail_in_flight(&self, instance: Option<usize>, reason: &str) {
        let replies: Vec<_> = {
            let mut in_flight = lock(&self.in_flight);
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
        };
        for reply in replies {
            let failure = PlatformFailure::FunctionGone(reason.to_owned());
            let _ = reply.send(Answer::Failed(failure));
        }
    }
}
