//! Serving a listener: one hyper HTTP/1.1 connection task per client, each with its
//! connection limits (head size and read timeout, a stall limit on writes).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::stall;

/// How a listener treats its clients: how long and how large a head may be, and how long a
/// client may read nothing before its connection is closed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ConnectionLimits {
    /// hyper's header read timeout, which also bounds how long a kept-alive connection may sit
    /// idle before its next request.
    pub(crate) read_timeout: Option<Duration>,
    pub(crate) max_size: Option<usize>,
    pub(crate) write_stall: Option<Duration>,
}

/// Accepts and serves connections until the task is aborted (which closes them all), or until
/// `stop` is cancelled: then it accepts no more, lets each connection finish the response it is
/// writing (hyper's graceful shutdown) and returns once they are all closed.
pub(crate) async fn serve<S, F, B>(
    listener: TcpListener,
    limits: ConnectionLimits,
    handler: S,
    stop: CancellationToken,
) where
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
                let service = service_fn(move |request| handler(remote, request));
                connections.spawn(connection(stream, remote, limits, service, stop.clone()));
            }
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
            () = stop.cancelled() => break,
        }
    }
    while connections.join_next().await.is_some() {}
}

/// One client connection, served until it closes, or shut down gracefully on `stop`.
async fn connection<S, B>(
    stream: TcpStream,
    remote: SocketAddr,
    limits: ConnectionLimits,
    service: S,
    stop: CancellationToken,
) where
    S: hyper::service::Service<
            http::Request<hyper::body::Incoming>,
            Response = http::Response<B>,
            Error = std::convert::Infallible,
        >,
    S::Future: Send + 'static,
    B: http_body::Body<Data = bytes::Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let mut builder = http1::Builder::new();
    builder.timer(TokioTimer::new());
    // hyper applies a 30 s default once a timer is set: say `None` to lift it.
    builder.header_read_timeout(limits.read_timeout);
    if let Some(max_size) = limits.max_size {
        builder.max_header_size(max_size);
    }
    let io = stall::StallLimited::new(stream, limits.write_stall);
    let served = builder.serve_connection(TokioIo::new(io), service);
    tokio::pin!(served);
    let result = tokio::select! {
        result = served.as_mut() => result,
        () = stop.cancelled() => {
            served.as_mut().graceful_shutdown();
            served.await
        }
    };
    if let Err(error) = result {
        tracing::debug!(%error, %remote, "connection ended with an error");
    }
}
