//! A handler behind the local emulator in the test's own process: the whole stack on
//! `127.0.0.1:0`, read with any HTTP client.

use std::collections::VecDeque;
use std::ops::Deref;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use tokio::sync::Notify;
use tokio::task::JoinHandle;

use crate::emulator::{Emulator, EmulatorConfig};
use crate::function::{CompletionStats, Config, Handler, Runtime};

/// Your handler behind the local emulator, in the test's process: a Function URL on
/// `127.0.0.1:0` (a free port, so tests run in parallel) served by the real runtime loop, one
/// loop per invocation the emulator lets run at once (as Lambda starts one environment per
/// concurrent invocation). Read [`url`](Emulator::url) with any HTTP client, and what the
/// function measured of each response with [`next_stats`](Self::next_stats).
///
/// It dereferences to the [`Emulator`] it runs (its address, its Runtime API, the faults it
/// can inject). Dropping it stops the loops and the emulator.
///
/// ```no_run
/// use lambda_stream::Body;
/// use lambda_stream::emulator::EmulatorConfig;
/// use lambda_stream::testing::TestEmulator;
///
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// let function = TestEmulator::start(EmulatorConfig::default(), |_req, _ctx| async {
///     http::Response::builder().body(Body::from("hi"))
/// })
/// .await?;
/// println!("curl -N {}", function.url());
/// // ... a client reads the URL ...
/// let stats = function.next_stats().await;
/// assert_eq!(stats.body_bytes, 2);
/// # Ok(())
/// # }
/// ```
pub struct TestEmulator {
    emulator: Emulator,
    completed: Arc<Completed>,
    loops: Vec<JoinHandle<()>>,
}

/// The stats of the responses completed and not yet taken, and a wake-up for a waiting taker.
#[derive(Debug, Default)]
struct Completed {
    stats: Mutex<VecDeque<CompletionStats>>,
    added: Notify,
}

impl Completed {
    /// The stats waiting (a panicking hook poisons nothing here: the queue stays whole).
    fn waiting(&self) -> MutexGuard<'_, VecDeque<CompletionStats>> {
        self.stats.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl TestEmulator {
    /// Starts `handler` behind an emulator configured by `config` (served on `127.0.0.1:0`
    /// whatever address it names, with no access log), each runtime loop configured from the
    /// emulator's deployment: the invoke mode, budget and deadline it was given.
    pub async fn start<H: Handler>(
        config: EmulatorConfig,
        handler: H,
    ) -> std::io::Result<TestEmulator> {
        TestEmulator::start_with(config, |function| function, handler).await
    }

    /// Like [`start`](Self::start), with each runtime loop's [`Config`] changed by `function`
    /// first (compression, a completion hook of your own, early errors...).
    pub async fn start_with<H: Handler>(
        config: EmulatorConfig,
        function: impl Fn(Config) -> Config,
        handler: H,
    ) -> std::io::Result<TestEmulator> {
        let deployment = config.deployment().clone();
        let loops = config.max_concurrency();
        let emulator = Emulator::start(
            config
                .with_url_addr(([127, 0, 0, 1], 0).into())
                .with_access_log(false),
        )
        .await?;
        let completed = Arc::new(Completed::default());
        let handler = Arc::new(handler);
        let loops = (0..loops)
            .map(|_| {
                let config =
                    Config::new(emulator.runtime_api()).with_deployment(deployment.clone());
                let runtime = Runtime::new(recording(function(config), &completed));
                let handler = handler.clone();
                tokio::spawn(async move {
                    let _ = runtime.run(handler).await;
                })
            })
            .collect();
        Ok(TestEmulator {
            emulator,
            completed,
            loops,
        })
    }

    /// The stats of the next response the function completes (in the order they complete),
    /// waiting for it if none is waiting here.
    pub async fn next_stats(&self) -> CompletionStats {
        loop {
            let added = self.completed.added.notified();
            if let Some(stats) = self.completed.waiting().pop_front() {
                return stats;
            }
            added.await;
        }
    }
}

/// `config` with a completion hook that records each response's stats in `completed`, after
/// calling the hook it already had.
fn recording(config: Config, completed: &Arc<Completed>) -> Config {
    let theirs = config.completion_hook().cloned();
    let completed = completed.clone();
    config.with_completion_hook(move |stats| {
        if let Some(hook) = &theirs {
            (hook.0)(stats);
        }
        completed.waiting().push_back(stats.clone());
        completed.added.notify_waiters();
    })
}

impl std::fmt::Debug for TestEmulator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TestEmulator")
            .field("url", &self.emulator.url())
            .field("loops", &self.loops.len())
            .finish_non_exhaustive()
    }
}

impl Deref for TestEmulator {
    type Target = Emulator;

    fn deref(&self) -> &Emulator {
        &self.emulator
    }
}

impl Drop for TestEmulator {
    fn drop(&mut self) {
        for runtime_loop in &self.loops {
            runtime_loop.abort();
        }
    }
}
