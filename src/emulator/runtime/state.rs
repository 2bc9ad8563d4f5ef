//! What every front and every Runtime API share: the queue of invocations waiting for `/next`,
//! the invocations started and not yet over (each holding its concurrency [`Slot`]), and the
//! one deadline watch that ends each of them, whatever the function or the client does.

use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, oneshot};
use tokio::task::AbortHandle;

pub(crate) use super::answer::{Answer, StreamEvent};
pub(crate) use super::deadline::Deadline;
use super::instances::{Instances, Reset};
use super::lock;
use super::output::{Outputs, TailRequest};
use crate::emulator::access_log::Responses;
use crate::emulator::config::EmulatorConfig;
use crate::emulator::failure::PlatformFailure;

/// One slot of the concurrency limit. It is held by the invocation's entry in [`State`], which
/// is removed when the function has answered, or at the deadline by the invocation's watch:
/// no path of the function or the client can keep it longer.
pub(crate) struct Slot(#[allow(dead_code, reason = "held for its drop")] OwnedSemaphorePermit);

/// Asynchronous invocations that may wait for a slot at once: AWS's queue is larger, but each
/// holds up to 1 MB here; past this, they are throttled.
pub(crate) const MAX_WAITING: usize = 1024;

/// What a front asks the function to run.
#[derive(Debug, Clone)]
pub(crate) struct Invocation {
    /// The event `/next` hands out.
    pub(crate) event: Bytes,
    /// Whether a streamed answer is read as an HTTP response (its prelude, then the body), as
    /// a Function URL and API Gateway read it. The Lambda API's invoke routes do not: their
    /// callers get the function's bytes as written, prelude and 8 NULs included.
    pub(crate) reads_prelude: bool,
    /// The tenant a tenant-isolated function serves this invocation for (`X-Amz-Tenant-Id`).
    pub(crate) tenant_id: Option<String>,
    /// The caller's request for the invocation's log tail (`X-Amz-Log-Type: Tail`).
    pub(crate) log_tail: Option<Arc<TailRequest>>,
}

impl Invocation {
    /// An HTTP request's event, for a front that reads the answer's prelude.
    pub(crate) fn http(event: Bytes) -> Self {
        Invocation {
            event,
            reads_prelude: true,
            tenant_id: None,
            log_tail: None,
        }
    }
}

/// An invocation a front started, or queued until a slot frees: its answer arrives through
/// [`Pending::answer`].
pub(crate) struct Pending(Start);

enum Start {
    Now(oneshot::Receiver<Answer>, Deadline),
    /// Queued for a slot: started (with its deadline) once one frees.
    Queued(oneshot::Receiver<Pending>),
}

impl Pending {
    /// When the invocation's deadline passes; `None` while it waits for a slot.
    pub(crate) fn deadline_at(&self) -> Option<tokio::time::Instant> {
        match &self.0 {
            Start::Now(_, deadline) => Some(deadline.at),
            Start::Queued(_) => None,
        }
    }

    /// The function's answer, or the platform's failure (at the deadline at the latest: the
    /// invocation's watch answers then).
    pub(crate) async fn answer(self) -> (Answer, Deadline) {
        let (answer, deadline) = match self.0 {
            Start::Now(answer, deadline) => (answer, deadline),
            Start::Queued(started) => match started.await {
                Ok(Pending(Start::Now(answer, deadline))) => (answer, deadline),
                _ => {
                    let stopped = "the emulator stopped before a slot freed".to_owned();
                    let failure = PlatformFailure::FunctionGone(stopped);
                    return (Answer::Failed(failure), Deadline::new(Duration::ZERO));
                }
            },
        };
        let answer = answer.await.unwrap_or_else(|_| {
            let gone = "its runtime dropped the invocation".to_owned();
            Answer::Failed(PlatformFailure::FunctionGone(gone))
        });
        (answer, deadline)
    }
}

/// The invocation `/next` hands out.
pub(crate) struct NextInvocation {
    pub(crate) request_id: String,
    pub(crate) event: Bytes,
    pub(crate) deadline: SystemTime,
    pub(crate) tenant_id: Option<String>,
}

/// An invocation taken by a function (`/response`, `/error`): where its answer goes, until
/// when, and whether its front reads a streamed answer's prelude.
pub(crate) struct Taken {
    pub(crate) reply: oneshot::Sender<Answer>,
    pub(crate) deadline: Deadline,
    pub(crate) reads_prelude: bool,
}

/// An invocation waiting for `/next`.
struct Queued {
    request_id: String,
    event: Bytes,
    tenant_id: Option<String>,
    log_tail: Option<Arc<TailRequest>>,
}

/// An invocation from its start until it is over.
struct Entry {
    reply: Option<oneshot::Sender<Answer>>,
    deadline: Deadline,
    wall_deadline: SystemTime,
    reads_prelude: bool,
    /// The function instance working on it, once `/next` handed it out.
    instance: Option<usize>,
    _slot: Slot,
    watch: AbortHandle,
}

impl Entry {
    /// Ends the invocation with `failure`: its watch stops, its slot is freed, and then its
    /// front, if still waiting, is told; in that order, so a client told of the end finds the
    /// slot free. The instance that was working on it, if any.
    fn close(self, failure: PlatformFailure) -> Option<usize> {
        let Entry {
            reply,
            instance,
            _slot: slot,
            watch,
            ..
        } = self;
        watch.abort();
        drop(slot);
        if let Some(reply) = reply {
            let _ = reply.send(Answer::Failed(failure));
        }
        instance
    }
}

/// See [`State::answering`].
pub(crate) struct Answering<'a> {
    state: &'a State,
    request_id: &'a str,
    /// Released, or left to the invocation's watch.
    settled: bool,
}

impl Answering<'_> {
    /// The deadline ended the answer: the invocation's watch ends the invocation (and resets
    /// the function), not this guard.
    pub(crate) fn expired(&mut self) {
        self.settled = true;
    }

    /// The function's answer is over: the slot is freed now, before the last of the answer is
    /// handed to the front, so a client that sees its response end and sends the next request
    /// finds the slot free.
    pub(crate) fn over(&mut self) {
        if !self.settled {
            self.settled = true;
            self.state.release(self.request_id);
        }
    }
}

impl Drop for Answering<'_> {
    fn drop(&mut self) {
        self.over();
    }
}

pub(crate) struct State {
    pub(crate) config: EmulatorConfig,
    queue: Mutex<VecDeque<Queued>>,
    queued: Notify,
    invocations: Mutex<HashMap<String, Entry>>,
    /// Woken whenever invocations end ([`State::all_over`]).
    ended: Notify,
    slots: Arc<Semaphore>,
    /// Bytes of request bodies being read, bounded apart from the slots (see `admission`).
    pub(crate) body_memory: Arc<Semaphore>,
    /// Per instance: woken when one of its invocations timed out, so its environment must be
    /// reset (the process killed and restarted).
    resets: Mutex<HashMap<usize, Arc<Notify>>>,
    /// The supervised instances: whether the function fails its start-up (requests are then
    /// answered at once), which are being reset.
    pub(crate) init: Instances,
    /// The client responses still open.
    pub(crate) responses: Arc<Responses>,
    /// The bearer token of the metadata endpoint (`AWS_LAMBDA_METADATA_TOKEN`).
    pub(crate) metadata_token: String,
    /// What the function instances write, for log tails.
    pub(crate) outputs: Outputs,
    /// Asynchronous invocations waiting for a slot ([`State::start_when_free`]).
    waiting: AtomicUsize,
}

impl State {
    pub(crate) fn new(config: EmulatorConfig) -> Self {
        State {
            slots: Arc::new(Semaphore::new(config.max_concurrency())),
            body_memory: Arc::new(Semaphore::new(config.body_memory())),
            config,
            queue: Mutex::new(VecDeque::new()),
            queued: Notify::new(),
            invocations: Mutex::new(HashMap::new()),
            ended: Notify::new(),
            resets: Mutex::new(HashMap::new()),
            init: Instances::default(),
            responses: Arc::default(),
            metadata_token: uuid::Uuid::new_v4().to_string(),
            outputs: Outputs::default(),
            waiting: AtomicUsize::new(0),
        }
    }

    /// A slot of the concurrency limit, or `None` when every slot is taken (`429`).
    pub(crate) fn try_slot(&self) -> Option<Slot> {
        self.slots.clone().try_acquire_owned().ok().map(Slot)
    }

    /// Starts `invocation` once a slot frees (an asynchronous invocation, which Lambda queues
    /// rather than throttles); `None` when [`MAX_WAITING`] wait already. Slots go to waiters in
    /// the order they came, before any request that comes later.
    pub(crate) fn start_when_free(
        self: &Arc<Self>,
        request_id: &str,
        invocation: Invocation,
    ) -> Option<Pending> {
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= MAX_WAITING {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return None;
        }
        let mut acquire = Box::pin(self.slots.clone().acquire_owned());
        // Polled once now, so it joins the semaphore's queue in the order requests came.
        let first = acquire
            .as_mut()
            .poll(&mut std::task::Context::from_waker(std::task::Waker::noop()));
        let (started, queued) = oneshot::channel();
        let state = self.clone();
        let request_id = request_id.to_owned();
        tokio::spawn(async move {
            let permit = match first {
                std::task::Poll::Ready(permit) => permit,
                std::task::Poll::Pending => acquire.await,
            };
            // Closed: the function stopped; the waiting front is told so.
            if let Ok(permit) = permit {
                let _ = started.send(state.start(&request_id, invocation, Slot(permit)));
            }
            // Only now, with the invocation started (or never to be), is it no longer waiting.
            state.waiting.fetch_sub(1, Ordering::SeqCst);
            state.ended.notify_waiters();
        });
        Some(Pending(Start::Queued(queued)))
    }

    /// The function stopped for good: invocations waiting for a slot will never get one.
    pub(crate) fn close_slots(&self) {
        self.slots.close();
    }

    /// Starts an invocation: queued for the next `/next`, its slot held until the function has
    /// answered or the function timeout passes. At the timeout the invocation's watch ends it
    /// ([`State::expire`]).
    pub(crate) fn start(
        self: &Arc<Self>,
        request_id: &str,
        invocation: Invocation,
        slot: Slot,
    ) -> Pending {
        let timeout = self.config.timeout();
        let deadline = Deadline::new(timeout);
        let (reply, answer) = oneshot::channel();
        if let Some(failure) = self.init.failure() {
            drop(slot);
            let _ = reply.send(Answer::Failed(failure));
            return Pending(Start::Now(answer, deadline));
        }
        let watch = {
            let at = deadline.at;
            let state = self.clone();
            let request_id = request_id.to_owned();
            tokio::spawn(async move {
                tokio::time::sleep_until(at).await;
                state.expire(&request_id);
            })
        };
        let entry = Entry {
            reply: Some(reply),
            deadline: deadline.clone(),
            wall_deadline: SystemTime::now() + timeout,
            reads_prelude: invocation.reads_prelude,
            instance: None,
            _slot: slot,
            watch: watch.abort_handle(),
        };
        lock(&self.invocations).insert(request_id.to_owned(), entry);
        lock(&self.queue).push_back(Queued {
            request_id: request_id.to_owned(),
            event: invocation.event,
            tenant_id: invocation.tenant_id,
            log_tail: invocation.log_tail,
        });
        self.queued.notify_one();
        Pending(Start::Now(answer, deadline))
    }

    /// Waits for the next invocation whose client is still waiting, and marks it taken by
    /// `instance`.
    pub(crate) async fn next(&self, instance: usize) -> NextInvocation {
        self.init.ready(instance);
        loop {
            if self.init.is_resetting(instance) {
                // Its process is about to be stopped: it must not take an invocation it would
                // fail (the wake-up it may have taken goes to another instance). Its connection
                // closes with it.
                self.queued.notify_one();
                std::future::pending::<()>().await;
            }
            let popped = lock(&self.queue).pop_front();
            let Some(queued) = popped else {
                self.queued.notified().await;
                continue;
            };
            let mut invocations = lock(&self.invocations);
            let Some(entry) = invocations.get_mut(&queued.request_id) else {
                continue;
            };
            if entry.reply.as_ref().is_none_or(oneshot::Sender::is_closed) {
                // Its client went away before any function took it: nothing to run.
                drop(invocations);
                self.release(&queued.request_id);
                continue;
            }
            if let Some(tenant) = &queued.tenant_id
                && !self.init.serves_tenant(instance, tenant)
            {
                // An environment serves one tenant: this one is restarted before it serves
                // another (the invocation waits for the new process, or another instance).
                drop(invocations);
                lock(&self.queue).push_front(queued);
                self.reset(instance, Reset::AnotherTenant);
                continue;
            }
            entry.instance = Some(instance);
            if let Some(tail) = &queued.log_tail {
                tail.started(self.outputs.of(instance));
            }
            return NextInvocation {
                request_id: queued.request_id,
                event: queued.event,
                deadline: entry.wall_deadline,
                tenant_id: queued.tenant_id,
            };
        }
    }

    /// Takes the reply of an invocation a function is working on (once: a second answer is
    /// refused). The invocation stays started, its slot held, until [`State::release`] or its
    /// deadline.
    pub(crate) fn take(&self, request_id: &str) -> Option<Taken> {
        let mut invocations = lock(&self.invocations);
        let entry = invocations.get_mut(request_id)?;
        entry.instance?;
        let reply = entry.reply.take()?;
        Some(Taken {
            reply,
            deadline: entry.deadline.clone(),
            reads_prelude: entry.reads_prelude,
        })
    }

    /// A guard that releases the invocation when the function's answer is over, however its
    /// handling ends (the connection task may be dropped mid-answer when the function's
    /// connection breaks), unless the deadline ended it ([`Answering::expired`]).
    pub(crate) fn answering<'a>(&'a self, request_id: &'a str) -> Answering<'a> {
        Answering {
            state: self,
            request_id,
            settled: false,
        }
    }

    /// The function has answered in full: the invocation is over and its slot free.
    pub(crate) fn release(&self, request_id: &str) {
        if let Some(entry) = self.end(request_id) {
            entry.watch.abort();
        }
    }

    /// Removes an invocation's entry (its slot is freed when the entry drops).
    fn end(&self, request_id: &str) -> Option<Entry> {
        let entry = lock(&self.invocations).remove(request_id);
        self.ended.notify_waiters();
        entry
    }

    /// The invocation's deadline passed: out of the queue, its waiting front answered with the
    /// timeout, its slot freed; the instance that was working on it is reset, as Lambda resets
    /// an execution environment whose invocation timed out. A Lambda Managed Instances
    /// environment serving several invocations at once is not reset: the timed-out invocation
    /// fails and the others go on, as AWS documents.
    fn expire(&self, request_id: &str) {
        lock(&self.queue).retain(|queued| queued.request_id != request_id);
        let Some(entry) = self.end(request_id) else {
            return;
        };
        let timeout = entry.deadline.timeout;
        tracing::error!(request_id, ?timeout, "function timed out");
        let deadline = entry.deadline.clone();
        if let Some(instance) = entry.close(deadline.failure())
            && self.config.environment_concurrency() == 1
        {
            self.reset(instance, Reset::TimedOut);
        }
        // Only now, with the slot free, does everything waiting on the deadline act.
        deadline.pass();
    }

    /// Asks for `instance`'s environment to be reset, if it is supervised (the in-process
    /// loops of embedded mode stop their own handler at the deadline and serve every tenant).
    fn reset(&self, instance: usize, why: Reset) {
        if self.init.resetting(instance, why) {
            self.reset_signal(instance).notify_one();
        }
    }

    /// Completes when `instance`'s process must be stopped and started again, with why.
    pub(crate) async fn reset_requested(&self, instance: usize) -> Reset {
        let signal = self.reset_signal(instance);
        signal.notified().await;
        self.init.reset_reason(instance).unwrap_or(Reset::TimedOut)
    }

    fn reset_signal(&self, instance: usize) -> Arc<Notify> {
        lock(&self.resets).entry(instance).or_default().clone()
    }

    /// Fails the invocations `instance` works on (every instance: `None`): its function
    /// process died or was reset. Their slots are freed.
    pub(crate) fn fail_in_flight(&self, instance: Option<usize>, reason: &str) {
        self.fail_with(instance, &PlatformFailure::FunctionGone(reason.to_owned()));
    }

    /// Fails the invocations `instance` works on (every instance: `None`) with `failure`.
    /// Their slots are freed.
    pub(crate) fn fail_with(&self, instance: Option<usize>, failure: &PlatformFailure) {
        let failed: Vec<Entry> = {
            let mut invocations = lock(&self.invocations);
            let ids: Vec<String> = invocations
                .iter()
                .filter(|(_, entry)| {
                    entry
                        .instance
                        .is_some_and(|taken_by| instance.is_none_or(|i| i == taken_by))
                })
                .map(|(id, _)| id.clone())
                .collect();
            ids.iter().filter_map(|id| invocations.remove(id)).collect()
        };
        self.ended.notify_waiters();
        for entry in failed {
            entry.close(failure.clone());
        }
    }

    /// Answers every queued invocation with `failure` (the function cannot start).
    pub(crate) fn fail_queued(&self, failure: &PlatformFailure) {
        let queued: Vec<Queued> = lock(&self.queue).drain(..).collect();
        for queued in queued {
            if let Some(entry) = self.end(&queued.request_id) {
                entry.close(failure.clone());
            }
        }
    }

    /// Completes when no invocation is started and not yet over.
    pub(crate) async fn all_over(&self) {
        loop {
            let ended = self.ended.notified();
            let waiting = self.waiting.load(Ordering::SeqCst);
            if waiting == 0 && lock(&self.invocations).is_empty() {
                return;
            }
            ended.await;
        }
    }
}
