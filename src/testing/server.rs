//! An in-process Runtime API on `127.0.0.1:0` that records every byte a function sends.
//!
//! It is written on raw TCP (not hyper) on purpose: tests assert the exact bytes on the wire,
//! framing and trailers included, as Lambda would receive them.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{mpsc, oneshot};
use tokio::task::{JoinHandle, JoinSet};

use super::capture::{BodyReader, CaptureError, CapturedRequest, parse_head};
use crate::function::{Handler, Runtime};
use crate::settings::InvokeMode;
use crate::wire::RuntimeApiAddress;
use crate::wire::{EventContext, InvocationHeaders, RequestId, RuntimeRoute, event_from_request};

/// The test server stopped before the function answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the test Runtime API stopped before the function answered")]
pub struct ServerClosed;

struct Pending {
    request_id: String,
    event: Bytes,
    reply: oneshot::Sender<CapturedRequest>,
}

struct Shared {
    queue: tokio::sync::Mutex<mpsc::UnboundedReceiver<Pending>>,
    waiting: Mutex<HashMap<String, oneshot::Sender<CapturedRequest>>>,
    init_errors: tokio::sync::Mutex<mpsc::UnboundedReceiver<CapturedRequest>>,
    init_error_tx: mpsc::UnboundedSender<CapturedRequest>,
    timeout: Duration,
    /// Connections waiting in `/next` for an event.
    waiting_for_next: std::sync::atomic::AtomicUsize,
}

/// A Runtime API for tests: queue events with [`invoke`](Self::invoke), get back exactly what
/// the function sent.
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use lambda_stream::testing::RuntimeApiServer;
/// let server = RuntimeApiServer::start().await?;
/// // run a function with AWS_LAMBDA_RUNTIME_API = server.runtime_api(), then:
/// let answer = server.invoke(r#"{"name":"Alice"}"#).await?;
/// println!("{:?}", answer.streamed()?.body);
/// # Ok(()) }
/// ```
pub struct RuntimeApiServer {
    address: SocketAddr,
    queue: mpsc::UnboundedSender<Pending>,
    shared: Arc<Shared>,
    counter: AtomicU64,
    accept: JoinHandle<()>,
}

impl Drop for RuntimeApiServer {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

impl RuntimeApiServer {
    /// The function ARN sent with each invocation (`Context::invoked_function_arn`).
    pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:test";

    /// Binds `127.0.0.1:0` with a 60 s invocation timeout (the deadline sent to the function).
    ///
    /// # Errors
    /// When the socket cannot be bound.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with_timeout(Duration::from_secs(60)).await
    }

    /// Like [`start`](Self::start) with another deadline.
    ///
    /// # Errors
    /// When the socket cannot be bound.
    pub async fn start_with_timeout(timeout: Duration) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let address = listener.local_addr()?;
        let (queue, queue_rx) = mpsc::unbounded_channel();
        let (init_error_tx, init_errors) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue: tokio::sync::Mutex::new(queue_rx),
            waiting: Mutex::new(HashMap::new()),
            init_errors: tokio::sync::Mutex::new(init_errors),
            init_error_tx,
            timeout,
            waiting_for_next: std::sync::atomic::AtomicUsize::new(0),
        });
        let accept = tokio::spawn(accept_loop(listener, shared.clone()));
        Ok(RuntimeApiServer {
            address,
            queue,
            shared,
            counter: AtomicU64::new(1),
            accept,
        })
    }

    /// The socket address.
    pub fn address(&self) -> SocketAddr {
        self.address
    }

    /// How many connections are waiting in `/next` right now: one per idle runtime loop (a
    /// process serving invocations concurrently, as on Lambda Managed Instances, has several).
    pub fn waiting_for_next(&self) -> usize {
        self.shared.waiting_for_next.load(Ordering::SeqCst)
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn runtime_api(&self) -> RuntimeApiAddress {
        RuntimeApiAddress::from_socket_addr(self.address)
    }

    /// Queues `event` for the next `/next` and waits for the function's `/response` or `/error`.
    ///
    /// # Errors
    /// [`ServerClosed`] when the server stops first.
    pub async fn invoke(&self, event: impl Into<Bytes>) -> Result<CapturedRequest, ServerClosed> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let request_id = format!("{n:08x}-0000-4000-8000-{n:012x}");
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending {
                request_id,
                event: event.into(),
                reply,
            })
            .map_err(|_| ServerClosed)?;
        answer.await.map_err(|_| ServerClosed)
    }

    /// Sends an HTTP request as a Function URL would: as a payload-2.0 event.
    ///
    /// # Errors
    /// [`ServerClosed`] when the server stops first.
    pub async fn invoke_request(
        &self,
        request: &http::Request<Bytes>,
    ) -> Result<CapturedRequest, ServerClosed> {
        let event = event_from_request(request, &EventContext::default());
        self.invoke(event.to_string()).await
    }

    /// Waits for the next `/runtime/init/error` request.
    pub async fn init_error(&self) -> Option<CapturedRequest> {
        self.shared.init_errors.lock().await.recv().await
    }
}

async fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    // Connection tasks live in the set, so aborting this task closes them all.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let _ = stream.set_nodelay(true);
                    connections.spawn(serve_connection(stream, shared.clone()));
                }
                Err(error) => tracing::warn!(%error, "test Runtime API accept failed"),
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn serve_connection(mut stream: TcpStream, shared: Arc<Shared>) {
    if let Err(error) = serve_requests(&mut stream, &shared).await {
        tracing::warn!(%error, "test Runtime API connection failed");
    }
}

#[derive(Debug, thiserror::Error)]
enum ConnectionError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Capture(#[from] CaptureError),
}

async fn serve_requests(stream: &mut TcpStream, shared: &Shared) -> Result<(), ConnectionError> {
    let mut buf = BytesMut::with_capacity(64 * 1024);
    loop {
        let head = loop {
            if let Some(head) = parse_head(&buf)? {
                break head;
            }
            if stream.read_buf(&mut buf).await? == 0 {
                return Ok(());
            }
        };
        let mut raw = BytesMut::from(&buf[..head.len]);
        buf.advance(head.len);
        let mut reader = BodyReader::new(&head.headers);
        let complete = loop {
            let pending = buf.split().freeze();
            let mut work = BytesMut::from(&pending[..]);
            let done = reader.feed(&mut work)?;
            raw.extend_from_slice(&pending[..pending.len() - work.len()]);
            buf = work;
            if done {
                break true;
            }
            if stream.read_buf(&mut buf).await? == 0 {
                break false;
            }
        };
        let capture = CapturedRequest {
            method: head.method,
            path: head.path,
            headers: head.headers,
            raw: raw.freeze(),
            body: std::mem::take(&mut reader.body).freeze(),
            chunks: std::mem::take(&mut reader.chunks),
            trailers: std::mem::take(&mut reader.trailers),
            complete,
        };
        if !route(stream, shared, capture).await? || !complete {
            return Ok(());
        }
    }
}

/// Answers one request; false when the connection should close.
async fn route(
    stream: &mut TcpStream,
    shared: &Shared,
    capture: CapturedRequest,
) -> Result<bool, ConnectionError> {
    let request_id = match RuntimeRoute::parse(&capture.method, &capture.path) {
        Ok(RuntimeRoute::Next) => {
            shared.waiting_for_next.fetch_add(1, Ordering::SeqCst);
            let pending = shared.queue.lock().await.recv().await;
            shared.waiting_for_next.fetch_sub(1, Ordering::SeqCst);
            let Some(pending) = pending else {
                return Ok(false);
            };
            let head = next_head(&pending, shared.timeout);
            if let Ok(mut waiting) = shared.waiting.lock() {
                waiting.insert(pending.request_id, pending.reply);
            }
            stream.write_all(head.as_bytes()).await?;
            stream.write_all(&pending.event).await?;
            return Ok(true);
        }
        Ok(RuntimeRoute::InitError) => {
            let _ = shared.init_error_tx.send(capture);
            write_accepted(stream).await?;
            return Ok(true);
        }
        Ok(RuntimeRoute::Response(id) | RuntimeRoute::Error(id)) => Some(id.to_string()),
        Err(_) => None,
    };
    let reply = request_id.and_then(|id| shared.waiting.lock().ok()?.remove(&id));
    match reply {
        Some(reply) => {
            let complete = capture.complete;
            let _ = reply.send(capture);
            if complete {
                write_accepted(stream).await?;
            }
        }
        None => {
            let body =
                r#"{"errorMessage":"unknown request id or route","errorType":"InvalidRequestID"}"#;
            let response = format!(
                "HTTP/1.1 400 Bad Request\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(response.as_bytes()).await?;
        }
    }
    Ok(true)
}

/// The head of a `/next` answer: the invocation headers, written by the wire module.
fn next_head(pending: &Pending, timeout: Duration) -> String {
    let deadline_ms = (SystemTime::now() + timeout)
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_millis();
    let mut headers = http::HeaderMap::new();
    // Test ids are generated here, UUID-shaped, always valid.
    if let Ok(id) = RequestId::new(pending.request_id.clone()) {
        let mut invocation = InvocationHeaders::new(id);
        invocation.deadline_ms = u64::try_from(deadline_ms).ok();
        invocation.invoked_function_arn = Some(RuntimeApiServer::FUNCTION_ARN.to_owned());
        invocation.trace_id = Some(format!("Root=1-00000000-{}", pending.request_id));
        invocation.write_to(&mut headers);
    }
    let mut head = String::from("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n");
    for (name, value) in &headers {
        let value = String::from_utf8_lossy(value.as_bytes());
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", pending.event.len()));
    head
}

async fn write_accepted(stream: &mut TcpStream) -> std::io::Result<()> {
    stream
        .write_all(b"HTTP/1.1 202 Accepted\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}")
        .await
}

/// A handler running on the real runtime loop against its own [`RuntimeApiServer`].
///
/// ```no_run
/// # async fn example() -> Result<(), Box<dyn std::error::Error>> {
/// use lambda_stream::testing::TestRuntime;
/// use lambda_stream::{Body, InvokeMode};
/// let runtime = TestRuntime::start(
///     |_req, _ctx| async { http::Response::builder().body(Body::from("hi")) },
///     InvokeMode::ResponseStream,
/// ).await?;
/// let answer = runtime.server().invoke("{}").await?.streamed()?;
/// assert_eq!(&answer.body[..], b"hi");
/// # Ok(()) }
/// ```
pub struct TestRuntime {
    server: RuntimeApiServer,
    task: JoinHandle<Result<(), crate::error::Error>>,
}

impl TestRuntime {
    /// Starts a server and the runtime loop in this invoke mode.
    ///
    /// # Errors
    /// When the server socket cannot be bound.
    pub async fn start<H: Handler>(handler: H, mode: InvokeMode) -> std::io::Result<Self> {
        let server = RuntimeApiServer::start().await?;
        let config = crate::function::Config::new(server.runtime_api()).with_invoke_mode(mode);
        let task = tokio::spawn(Runtime::new(config).run(handler));
        Ok(TestRuntime { server, task })
    }

    /// The server the runtime talks to.
    pub fn server(&self) -> &RuntimeApiServer {
        &self.server
    }

    /// True while the runtime loop is still running.
    pub fn is_running(&self) -> bool {
        !self.task.is_finished()
    }
}

impl Drop for TestRuntime {
    fn drop(&mut self) {
        self.task.abort();
    }
}
