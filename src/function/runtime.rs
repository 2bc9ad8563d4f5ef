//! The runtime loop: `/next`, handler, answer, forever.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use super::client::{NextInvocation, RuntimeClient};
use super::config::Config;
use super::handler::Handler;
use super::invoke::serve_invocation;
use crate::aliases::BoxError;
use crate::error::Error;
use crate::wire::{ErrorType, FunctionError};

/// How often `/next` is tried again after a transport failure before the loop gives up, and
/// the first wait: 50 ms, doubling (50 + 100 + 200 + 400 + 800 ms, about 1.5 s in all).
const NEXT_ATTEMPTS: u32 = 6;
const NEXT_FIRST_BACKOFF: std::time::Duration = std::time::Duration::from_millis(50);

/// `/next`, tried again on a new connection when the transport fails (a kept-alive
/// connection the API closed after an error, a restart of the API). An answer with an error
/// status is returned at once: the API said what it meant.
async fn next_with_retry(
    client: &mut RuntimeClient,
    max_event: usize,
) -> Result<NextInvocation, Error> {
    let mut backoff = NEXT_FIRST_BACKOFF;
    let mut attempt = 1;
    loop {
        match client.next(max_event).await {
            Err(error @ (Error::Http(_) | Error::Connect { .. })) if attempt < NEXT_ATTEMPTS => {
                tracing::warn!(%error, attempt, "/next failed; trying again on a new connection");
                client.abort();
                tokio::time::sleep(backoff).await;
                backoff *= 2;
                attempt += 1;
            }
            other => return other,
        }
    }
}

/// Completes when the process is asked to stop: `SIGTERM`, which Lambda sends before it shuts
/// an execution environment down. A loop waiting in `/next` then stops; one answering an
/// invocation finishes it first (as AWS's runtimes do on Lambda Managed Instances: `/next`
/// is cancelled, in-flight invocations run to completion).
async fn shutdown_requested() {
    #[cfg(unix)]
    if let Ok(mut terminate) =
        tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
    {
        terminate.recv().await;
        return;
    }
    std::future::pending::<()>().await;
}

/// Logs that a shutdown was asked for, once per process however many loops stop on it (the
/// signal is the process's: every loop sees it).
fn announce_shutdown() {
    static ANNOUNCED: AtomicBool = AtomicBool::new(false);
    if !ANNOUNCED.swap(true, Ordering::Relaxed) {
        tracing::info!("shutdown requested: no more invocations taken");
    }
}

/// A runtime loop with an explicit [`Config`] (for tests, or to choose the mode in code).
///
/// ```no_run
/// # async fn example() -> Result<(), lambda_stream::Error> {
/// use lambda_stream::{Body, Config, InvokeMode, Runtime};
/// let config = Config::new("127.0.0.1:9001".parse()?).with_invoke_mode(InvokeMode::Buffered);
/// Runtime::new(config)
///     .run(|_req, _ctx| async { http::Response::builder().body(Body::from("hi")) })
///     .await
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct Runtime {
    config: Config,
}

impl Runtime {
    /// A runtime with this configuration.
    pub fn new(config: Config) -> Self {
        Runtime { config }
    }

    /// A runtime configured from the environment (see [`run`](crate::run)).
    ///
    /// # Errors
    /// [`Error::Config`] when the environment is missing or malformed.
    pub fn from_env() -> Result<Self, Error> {
        Ok(Runtime::new(Config::from_env()?))
    }

    /// Serves invocations with `handler` until the Runtime API fails: one at a time, or, with
    /// [`Config::with_max_concurrency`] (`AWS_LAMBDA_MAX_CONCURRENCY` on Lambda Managed
    /// Instances), that many at once.
    ///
    /// # Errors
    /// When the Runtime API cannot be reached or answers `/next` with a failure.
    pub async fn run<H: Handler>(self, handler: H) -> Result<(), Error> {
        let concurrency = self.config.max_concurrency();
        if concurrency == 1 {
            // The loop's future holds every stage of an invocation (about 9 KB). On the heap,
            // the stack it would otherwise be moved across (`#[tokio::main]` moves its body
            // into `block_on`) is never touched: fewer page faults before the first `/next`.
            return Box::pin(self.serve(handler)).await;
        }
        self.serve_concurrently(Arc::new(handler), concurrency)
            .await
    }

    /// One loop per concurrent invocation, each on its own Runtime API connection, sharing
    /// the handler (Lambda Managed Instances accept that many `/next` at once). As AWS
    /// describes that environment: a handler's failure or panic stays inside its invocation;
    /// an invocation past its deadline is stopped alone (its loop reconnects) while the others
    /// run on; a loop that fails (the Runtime API gone) or panics ends alone, and the others
    /// serve on and finish what they are answering.
    async fn serve_concurrently<H: Handler>(
        self,
        handler: Arc<H>,
        concurrency: usize,
    ) -> Result<(), Error> {
        tracing::debug!(concurrency, "serving invocations concurrently");
        let one_thread = tokio::runtime::Handle::try_current().is_ok_and(|runtime| {
            runtime.runtime_flavor() == tokio::runtime::RuntimeFlavor::CurrentThread
        });
        if one_thread {
            tracing::info!(
                concurrency,
                "these invocations take turns on one thread: start the multi-thread runtime \
                 (#[tokio::main]) to spread them over the vCPUs"
            );
        }
        let mut loops = tokio::task::JoinSet::new();
        for _ in 0..concurrency {
            loops.spawn(self.clone().serve(handler.clone()));
        }
        let mut first_error = None;
        while let Some(ended) = loops.join_next().await {
            match ended {
                Ok(Err(error)) => {
                    first_error.get_or_insert(error);
                }
                Err(failed) if failed.is_panic() => {
                    // A loop catches handler panics; one of its own is a bug. As a crashed
                    // runtime worker on Managed Instances, it ends alone.
                    tracing::error!(
                        loops_left = loops.len(),
                        "a runtime loop panicked; the others serve on"
                    );
                    first_error.get_or_insert(Error::LoopPanicked);
                }
                Ok(Ok(())) | Err(_) => {}
            }
        }
        first_error.map_or(Ok(()), Err)
    }

    /// One runtime loop: `/next`, answer, again.
    async fn serve<H: Handler>(self, handler: H) -> Result<(), Error> {
        let mut client = RuntimeClient::new(self.config.runtime_api().clone())?;
        let function = Arc::new(self.config.function_info().clone());
        // Debug: the embedded emulator starts one loop per concurrent invocation.
        tracing::debug!(
            runtime_api = self.config.runtime_api().authority(),
            invoke_mode = %self.config.invoke_mode(),
            "lambda-stream runtime started"
        );
        let mut shutdown = std::pin::pin!(shutdown_requested());
        loop {
            let next = tokio::select! {
                // A shutdown asked for while an invocation was answered wins over the next one.
                biased;
                () = &mut shutdown => {
                    announce_shutdown();
                    return Ok(());
                }
                next = next_with_retry(&mut client, self.config.max_event_size()) => next?,
            };
            let served =
                serve_invocation(&mut client, &self.config, &handler, next, function.clone()).await;
            if let Err(error) = served {
                tracing::error!(%error, "could not deliver an invocation's answer; continuing");
            }
        }
    }

    /// Runs `init`, then serves with the handler it returns; see [`run_with_init`](crate::run_with_init).
    ///
    /// # Errors
    /// As [`Runtime::run`], plus [`Error::Init`] when `init` fails.
    pub async fn run_with_init<F, Fut, H, E>(self, init: F) -> Result<(), Error>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<H, E>>,
        H: Handler,
        E: Into<BoxError>,
    {
        match init().await {
            Ok(handler) => self.run(handler).await,
            Err(error) => {
                let error = FunctionError::from_error(error.into(), ErrorType::INIT_ERROR);
                tracing::error!(error_type = %error.error_type(), message = error.message(), "initialisation failed");
                let mut client = RuntimeClient::new(self.config.runtime_api().clone())?;
                client.init_error(&error).await?;
                Err(Error::Init(error))
            }
        }
    }
}
