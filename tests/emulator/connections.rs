//! Kept-alive connections: a function's Runtime API connection may sit idle as long as its
//! environment lives (the official runtime keeps a pooled one idle while it long-polls `/next`
//! on another), while the Function URL closes a connection idle past its header read timeout,
//! as servers do. On tokio's paused clock, so the waits are exact and instant.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Empty};
use hyper::client::conn::http1::SendRequest;
use lambda_stream::emulator::{Emulator, EmulatorConfig};

async fn connect(address: &str) -> SendRequest<Empty<Bytes>> {
    let stream = tokio::net::TcpStream::connect(address).await.unwrap();
    let io = hyper_util::rt::TokioIo::new(stream);
    let (sender, connection) = hyper::client::conn::http1::handshake(io).await.unwrap();
    tokio::spawn(connection);
    sender
}

/// A request that the server answers at once on this connection; `None` when it is closed.
async fn answered(sender: &mut SendRequest<Empty<Bytes>>, path: &str) -> Option<u16> {
    sender.ready().await.ok()?;
    let request = http::Request::get(path)
        .header("host", "localhost")
        .body(Empty::new())
        .unwrap();
    let response = sender.send_request(request).await.ok()?;
    let status = response.status().as_u16();
    response.into_body().collect().await.ok()?;
    Some(status)
}

async fn emulator() -> Emulator {
    let config = EmulatorConfig::default()
        .with_url_addr("127.0.0.1:0".parse().unwrap())
        .with_access_log(false)
        .with_header_read_timeout(Duration::from_secs(30));
    Emulator::start(config).await.unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_function_connection_idle_for_minutes_stays_open() {
    let emulator = emulator().await;
    let mut function = connect(emulator.runtime_api().authority()).await;
    let first = answered(&mut function, "/2018-06-01/runtime/unknown").await;
    assert!(first.is_some(), "the Runtime API answers");
    // Ten minutes with nothing sent: hyper's default 30 s header timer would have closed it.
    tokio::time::sleep(Duration::from_secs(600)).await;
    let later = answered(&mut function, "/2018-06-01/runtime/unknown").await;
    assert_eq!(later, first, "the same connection still answers");
}

#[tokio::test(start_paused = true)]
async fn a_url_connection_idle_past_the_header_read_timeout_is_closed() {
    let emulator = emulator().await;
    // Only the connection's lifetime is checked: no request is sent on it.
    let mut client = connect(&emulator.url_addr().to_string()).await;
    tokio::time::sleep(Duration::from_secs(29)).await;
    assert!(client.ready().await.is_ok(), "open within the timeout");
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Let the connection task see the closed socket.
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert!(
        client.ready().await.is_err(),
        "closed once idle past the header read timeout"
    );
}
