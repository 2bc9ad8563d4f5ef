//! Helpers shared by the end-to-end tests: a real HTTP/1.1 client (hyper) over 127.0.0.1.
#![allow(dead_code, reason = "each test crate uses a subset")]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use tokio::net::TcpStream;

/// Fails the test instead of hanging when `future` takes over 20 s.
pub(crate) async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), future)
        .await
        .expect("finished within 20 s")
}

/// Sends one request on a new connection; the body is read by the caller, frame by frame.
pub(crate) async fn send(
    addr: SocketAddr,
    request: Request<Full<Bytes>>,
) -> http::Response<Incoming> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("handshake");
    tokio::spawn(connection);
    sender.send_request(request).await.expect("response head")
}

/// A GET request for `path`.
pub(crate) fn get(path: &str) -> Request<Full<Bytes>> {
    Request::get(path)
        .header("host", "localhost")
        .body(Full::default())
        .expect("valid request")
}

/// A GET request for `path` that accepts trailers (`TE: trailers`).
pub(crate) fn get_with_trailers(path: &str) -> Request<Full<Bytes>> {
    let mut request = get(path);
    request
        .headers_mut()
        .insert("te", http::HeaderValue::from_static("trailers"));
    request
}

/// Reads the whole body: data, trailers, and whether it ended cleanly (false: truncated).
pub(crate) async fn read_all(
    response: http::Response<Incoming>,
) -> (Vec<u8>, Option<HeaderMap>, bool) {
    let mut body = response.into_body();
    let mut data = Vec::new();
    let mut trailers = None;
    loop {
        match body.frame().await {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(chunk) => data.extend_from_slice(&chunk),
                Err(frame) => trailers = frame.into_trailers().ok(),
            },
            Some(Err(_)) => return (data, trailers, false),
            None => return (data, trailers, true),
        }
    }
}
