//! A local Function URL and Runtime API that behave like AWS's (feature `emulator`).
//!
//! Unlike AWS's Runtime Interface Emulator it streams, and unlike `cargo lambda watch` it finds
//! the prelude by scanning, surfaces mid-stream errors (as HTTP trailers to clients that send
//! `TE: trailers`, and in its log in every case), enforces the stream budget, the request
//! limit and the timeout, and answers `502` when the function dies instead of hanging.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use lambda_stream::emulator::{Emulator, EmulatorConfig};
//! let emulator = Emulator::start(EmulatorConfig::default()).await?;
//! println!("Function URL: {}", emulator.url());
//! println!("AWS_LAMBDA_RUNTIME_API={}", emulator.runtime_api().authority());
//! # Ok(()) }
//! ```

mod access_log;
mod auth;
mod config;
mod failure;
mod front;
mod front_kind;
mod lifecycle;
mod listener;
mod router;
mod runtime;
mod stall;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use auth::cors::{Cors, CorsError};
pub use auth::iam::{AuthType, IamKey};
// Public only to the fuzz crate (built with `--cfg fuzzing`).
#[cfg(fuzzing)]
pub use auth::sigv4;
pub use config::EmulatorConfig;
pub use front_kind::{EndpointType, Front, UnknownFront};
use listener::{ConnectionLimits, serve};
use runtime::RUNTIME_MAX_HEADER_SIZE;
pub use runtime::instances::Reset;
use runtime::state::State;

use crate::stream::in_flight;
use crate::wire::RuntimeApiAddress;

/// The Runtime API has no header read timeout: hyper's timer also runs while a kept-alive
/// connection is idle, and a function's connections may idle as long as its environment lives
/// (the official runtime's pool keeps one idle while it long-polls `/next` on another; closing
/// it made that runtime's next `/response` fail). A function that starts a request and stalls
/// is bounded by its invocation's deadline instead.
const RUNTIME_CONNECTION_LIMITS: ConnectionLimits = ConnectionLimits {
    read_timeout: None,
    max_size: Some(RUNTIME_MAX_HEADER_SIZE),
    write_stall: None,
};

/// A running emulator; dropping it stops both servers.
#[must_use = "the emulator stops when this handle is dropped"]
pub struct Emulator {
    url_addr: SocketAddr,
    runtime_addr: SocketAddr,
    state: Arc<State>,
    tasks: Vec<JoinHandle<()>>,
    instances: usize,
    /// Cancelled to shut the Function URL down gracefully ([`Emulator::shut_down`]).
    stop: CancellationToken,
}

/// One function instance's Runtime API, from [`Emulator::add_instance`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceId(usize);

impl Drop for Emulator {
    fn drop(&mut self) {
        self.state.responses.stopping();
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Emulator {
    /// Binds the Function URL and the Runtime API and starts serving.
    ///
    /// # Errors
    /// When either address cannot be bound (for example, port 9000 is taken), and
    /// `InvalidInput` for a configuration out of range ([`EmulatorConfig::validate`]).
    pub async fn start(config: EmulatorConfig) -> std::io::Result<Emulator> {
        config
            .validate()
            .map_err(|error| std::io::Error::new(std::io::ErrorKind::InvalidInput, error))?;
        if let Some(warning) = config.cors().and_then(Cors::warning) {
            tracing::warn!("{warning}");
            eprintln!("lambda-stream: warning: {warning}");
        }
        let url_listener = TcpListener::bind(config.url_addr()).await?;
        let runtime_listener = TcpListener::bind(config.runtime_addr()).await?;
        in_flight::bound_receiver(&runtime_listener)?;
        let url_addr = url_listener.local_addr()?;
        let runtime_addr = runtime_listener.local_addr()?;
        let state = Arc::new(State::new(config));
        let url_limits = ConnectionLimits {
            read_timeout: Some(state.config.header_read_timeout()),
            max_size: None,
            // A client that reads nothing for a whole function timeout is gone: by then its
            // invocation is over, and only its connection would be left.
            write_stall: Some(state.config.timeout()),
        };
        let url_state = state.clone();
        let runtime_state = state.clone();
        let stop = CancellationToken::new();
        let route = move |remote, request| router::route(url_state.clone(), remote, request);
        let runtime = move |_, request| runtime::api::handle(runtime_state.clone(), 0, request);
        let tasks = vec![
            tokio::spawn(serve(url_listener, url_limits, route, stop.clone())),
            tokio::spawn(serve(
                runtime_listener,
                RUNTIME_CONNECTION_LIMITS,
                runtime,
                CancellationToken::new(),
            )),
        ];
        Ok(Emulator {
            url_addr,
            runtime_addr,
            state,
            tasks,
            instances: 0,
            stop,
        })
    }

    /// The Function URL, such as `http://127.0.0.1:9000/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.url_addr)
    }

    /// The Function URL's socket address.
    pub fn url_addr(&self) -> SocketAddr {
        self.url_addr
    }

    /// The Runtime API address to give a function as `AWS_LAMBDA_RUNTIME_API`: the first
    /// instance's ([`first_instance`](Self::first_instance)).
    pub fn runtime_api(&self) -> RuntimeApiAddress {
        RuntimeApiAddress::from_socket_addr(self.runtime_addr)
    }

    /// The token a function presents to the Lambda metadata endpoint, which answers on every
    /// instance's Runtime API address: give it as `AWS_LAMBDA_METADATA_TOKEN`, with the
    /// Runtime API's address as `AWS_LAMBDA_METADATA_API`.
    pub fn metadata_token(&self) -> &str {
        &self.state.metadata_token
    }

    /// The instance whose Runtime API [`runtime_api`](Self::runtime_api) gives: the one the
    /// emulator starts with. A supervisor runs its first function process on it, and
    /// [`add_instance`](Self::add_instance)s for more.
    pub fn first_instance(&self) -> InstanceId {
        InstanceId(0)
    }

    /// Answers every invocation the function is working on with `502`: call it when the
    /// function process died.
    pub fn fail_in_flight(&self, reason: &str) {
        self.state.fail_in_flight(None, reason);
    }

    /// The function stopped for good (`reason` says why): every invocation it was working on
    /// and every one still queued for it is answered with `502` at once.
    pub fn stop_function(&self, reason: &str) {
        // Asynchronous invocations waiting for a slot are told at once too.
        self.state.close_slots();
        self.state.fail_in_flight(None, reason);
        let gone = failure::PlatformFailure::FunctionGone(reason.to_owned());
        self.state.fail_queued(&gone);
    }

    /// Opens another Runtime API (on `127.0.0.1`, a free port) for one more function instance,
    /// so that the death of one process fails only its own invocations
    /// ([`instance_exited`](Self::instance_exited)). All instances take invocations from the
    /// same queue, within the concurrency limit.
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn add_instance(&mut self) -> std::io::Result<(InstanceId, RuntimeApiAddress)> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        in_flight::bound_receiver(&listener)?;
        let address = RuntimeApiAddress::from_socket_addr(listener.local_addr()?);
        self.instances += 1;
        let instance = self.instances;
        let state = self.state.clone();
        self.tasks.push(tokio::spawn(serve(
            listener,
            RUNTIME_CONNECTION_LIMITS,
            move |_, request| runtime::api::handle(state.clone(), instance, request),
            CancellationToken::new(),
        )));
        Ok((InstanceId(instance), address))
    }

    /// Reads what `instance`'s process writes to its `stdout` and `stderr` pipes (its log),
    /// echoing it to this process's own, and keeps it for the Invoke API's
    /// `X-Amz-Log-Type: Tail` (Linux: the pipes are read up to what they hold when a tail is
    /// taken).
    #[cfg(target_os = "linux")]
    pub fn capture_output<O, E>(&self, instance: InstanceId, stdout: O, stderr: E)
    where
        O: tokio::io::AsyncRead + std::os::fd::AsFd + Unpin + Send + 'static,
        E: tokio::io::AsyncRead + std::os::fd::AsFd + Unpin + Send + 'static,
    {
        let output = self.state.outputs.of(instance.0);
        output.capture(stdout, tokio::io::stdout());
        output.capture(stderr, tokio::io::stderr());
    }

    /// A process for `instance` is starting. Until it asks for an invocation, its exit is an
    /// init failure ([`instance_exited`](Self::instance_exited)).
    pub fn instance_starting(&self, instance: InstanceId) {
        self.state.init.starting(instance.0);
    }

    /// `instance`'s process exited (`status` says how, as Lambda words it: `exit status 3`,
    /// `signal: killed`): its invocations fail with `Runtime.ExitError`. When it exited before
    /// asking for an invocation (it failed its init) and every instance does, requests are
    /// answered at once with that failure until one starts serving, instead of each waiting
    /// out the function timeout.
    pub fn instance_exited(&self, instance: InstanceId, status: &str) {
        let exited = failure::PlatformFailure::RuntimeExited(status.to_owned());
        self.state.fail_with(Some(instance.0), &exited);
        if self.state.init.exited(instance.0, exited).is_some()
            && let Some(failure) = self.state.init.failure()
        {
            self.state.fail_queued(&failure);
        }
    }

    /// Answers the invocations `instance` is working on with `502` (its process was stopped).
    pub fn fail_instance(&self, instance: InstanceId, reason: &str) {
        self.state.fail_in_flight(Some(instance.0), reason);
    }

    /// Completes when `instance`'s environment must be reset, with why: stop the instance's
    /// process and start it again (as `lambda-stream serve` does). Either an invocation it was
    /// working on timed out (its slot is already free; without a reset it stays stuck on it),
    /// or, with tenant isolation, an invocation of another tenant waits for it. An environment
    /// serving several invocations at once (Lambda Managed Instances,
    /// [`EmulatorConfig::with_environment_concurrency`]) is not reset for a timeout: the
    /// timed-out invocation fails and the others go on, as on AWS.
    pub async fn environment_reset(&self, instance: InstanceId) -> Reset {
        self.state.reset_requested(instance.0).await
    }

    /// Completes when no invocation is running and every client response has ended (or been
    /// cut): wait for it before the process exits, so a shutdown loses nothing in flight.
    pub async fn idle(&self) {
        self.state.all_over().await;
        self.state.responses.all_closed().await;
    }

    /// Stops the Function URL gracefully: no new connections, and each open one closes once
    /// the response it is writing has gone out whole. Completes when they are all closed;
    /// after [`idle`](Self::idle), nothing in flight is lost.
    pub async fn shut_down(&mut self) {
        self.stop.cancel();
        if let Some(url) = self.tasks.first_mut() {
            let _ = url.await;
        }
    }
}
