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
mod cors;
mod event_stream;
mod failure;
mod front;
mod function_url;
mod intake;
mod invoke_api;
mod rest_front;
mod runtime_api;
// Public only to the fuzz crate (built with `--cfg fuzzing`).
#[cfg(fuzzing)]
pub mod sigv4;
#[cfg(not(fuzzing))]
mod sigv4;
mod stall;
mod state;
mod stream_relay;
mod url_body;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::task::{JoinHandle, JoinSet};

pub use auth::{AuthType, IamKey, MAX_CLOCK_SKEW};
pub use config::{
    AUTH_TYPE_ENV, CONCURRENCY_ENV, CORS_ENV, DEFAULT_MAX_CONCURRENCY, DEFAULT_REQUEST_LIMIT,
    DEFAULT_TIMEOUT, EmulatorConfig, FRONT_ENV, PORT_ENV, STREAM_BUDGET_ENV, THROTTLE_ENV,
    TIMEOUT_ENV,
};
pub use cors::{Cors, CorsError, MAX_CORS_AGE};
pub use front::{EndpointType, Front, REST_API_BANDWIDTH, REST_API_MAX_STREAM, UnknownFront};
pub use invoke_api::ASYNC_PAYLOAD_LIMIT;
use state::State;

use crate::RuntimeApiAddress;

/// The largest head, or trailer section, a function may send the Runtime API: 64 KiB, four
/// times hyper's default, so that another runtime's large error trailers are still read
/// (and reported) rather than cutting the response. Ours caps its own well below.
const RUNTIME_MAX_HEADER_SIZE: usize = 64 * 1024;

/// How a listener treats its clients: how long and how large a head may be, and how long a
/// client may read nothing before its connection is closed.
#[derive(Debug, Clone, Copy)]
struct ConnectionLimits {
    /// hyper's header read timeout, which also bounds how long a kept-alive connection may sit
    /// idle before its next request.
    read_timeout: Option<Duration>,
    max_size: Option<usize>,
    write_stall: Option<Duration>,
}

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
}

/// One function instance's Runtime API, from [`Emulator::add_instance`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InstanceId(usize);

impl Drop for Emulator {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Emulator {
    /// Binds the Function URL and the Runtime API and starts serving.
    ///
    /// # Errors
    /// When either address cannot be bound (for example, port 9000 is taken).
    pub async fn start(config: EmulatorConfig) -> std::io::Result<Emulator> {
        let url_listener = TcpListener::bind(config.url_addr()).await?;
        let runtime_listener = TcpListener::bind(config.runtime_addr()).await?;
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
        let tasks = vec![
            tokio::spawn(serve(url_listener, url_limits, move |remote, request| {
                function_url::handle(url_state.clone(), remote, request)
            })),
            tokio::spawn(serve(
                runtime_listener,
                RUNTIME_CONNECTION_LIMITS,
                move |_, request| runtime_api::handle(runtime_state.clone(), 0, request),
            )),
        ];
        Ok(Emulator {
            url_addr,
            runtime_addr,
            state,
            tasks,
            instances: 0,
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

    /// The Runtime API address to give a function as `AWS_LAMBDA_RUNTIME_API`.
    pub fn runtime_api(&self) -> RuntimeApiAddress {
        RuntimeApiAddress::from_socket_addr(self.runtime_addr)
    }

    /// Answers every invocation the function is working on with `502`: call it when the
    /// function process died.
    pub fn fail_in_flight(&self, reason: &str) {
        self.state.fail_in_flight(None, reason);
    }

    /// Opens another Runtime API (on `127.0.0.1`, a free port) for one more function instance,
    /// so that the death of one process fails only its own invocations
    /// ([`fail_instance`](Self::fail_instance)). All instances take invocations from the same
    /// queue, within the concurrency limit.
    ///
    /// # Errors
    /// When no port can be bound.
    pub async fn add_instance(&mut self) -> std::io::Result<(InstanceId, RuntimeApiAddress)> {
        let listener = TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], 0))).await?;
        let address = RuntimeApiAddress::from_socket_addr(listener.local_addr()?);
        self.instances += 1;
        let instance = self.instances;
        let state = self.state.clone();
        self.tasks.push(tokio::spawn(serve(
            listener,
            RUNTIME_CONNECTION_LIMITS,
            move |_, request| runtime_api::handle(state.clone(), instance, request),
        )));
        Ok((InstanceId(instance), address))
    }

    /// Answers the invocations `instance` is working on with `502`: its process died.
    pub fn fail_instance(&self, instance: InstanceId, reason: &str) {
        self.state.fail_in_flight(Some(instance.0), reason);
    }

    /// Completes when an invocation `instance` was working on timed out. On Lambda a
    /// timeout resets the execution environment: stop the instance's process and start it
    /// again (as `lambda-stream serve` does), or it stays stuck on the invocation and every
    /// later request waits behind it. The invocation's slot is already free.
    pub async fn instance_timed_out(&self, instance: InstanceId) {
        self.state.reset_requested(instance.0).await;
    }
}

async fn serve<S, F, B>(listener: TcpListener, limits: ConnectionLimits, handler: S)
where
    S: Fn(SocketAddr, http::Request<hyper::body::Incoming>) -> F + Clone + Send + 'static,
    F: Future<Output = Result<http::Response<B>, std::convert::Infallible>> + Send + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    // Connection tasks live in the set: aborting this task closes every connection.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let (stream, remote) = match accepted {
                    Ok(accepted) => accepted,
                    Err(error) => {
                        tracing::warn!(%error, "accept failed");
                        tokio::time::sleep(Duration::from_millis(50)).await;
                        continue;
                    }
                };
                let _ = stream.set_nodelay(true);
                let handler = handler.clone();
                connections.spawn(async move {
                    let service = service_fn(move |request| handler(remote, request));
                    let mut builder = http1::Builder::new();
                    builder.timer(TokioTimer::new());
                    // hyper applies a 30 s default once a timer is set: say `None` to lift it.
                    builder.header_read_timeout(limits.read_timeout);
                    if let Some(max_size) = limits.max_size {
                        builder.max_header_size(max_size);
                    }
                    let io = stall::StallLimited::new(stream, limits.write_stall);
                    let served = builder.serve_connection(TokioIo::new(io), service).await;
                    if let Err(error) = served {
                        tracing::debug!(%error, %remote, "connection ended with an error");
                    }
                });
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}
