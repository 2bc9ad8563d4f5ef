//! Bad input to the emulator's Function URL, sent as raw bytes: each gets a clear 4xx, nothing
//! panics, and the server answers the next request.

use lambda_stream::emulator::{Emulator, EmulatorConfig};
use lambda_stream::testing::TestEmulator;
use lambda_stream::{Body, Context, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{first_line, within};

async fn serve() -> TestEmulator {
    let config =
        EmulatorConfig::default().with_header_read_timeout(std::time::Duration::from_millis(300));
    TestEmulator::start(config, |request: Request, _: Context| async move {
        http::Response::builder().body(Body::from(format!("{} bytes", request.body().len())))
    })
    .await
    .unwrap()
}

/// Sends `bytes` on a new connection and returns the status line of the answer.
async fn status_line(emulator: &Emulator, bytes: &[u8]) -> String {
    let mut stream = TcpStream::connect(emulator.url_addr()).await.unwrap();
    // The server may answer and close before reading everything: a failed write is fine.
    let _ = stream.write_all(bytes).await;
    let mut answer = Vec::new();
    let _ = within(stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    text.lines().next().unwrap_or_default().to_owned()
}

async fn still_serves(emulator: &Emulator) {
    let line = status_line(
        emulator,
        b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc",
    )
    .await;
    assert_eq!(line, "HTTP/1.1 200 OK");
}

#[tokio::test]
async fn oversized_headers_get_431() {
    let emulator = serve().await;
    let huge = format!(
        "GET / HTTP/1.1\r\nHost: x\r\nX-Big: {}\r\n\r\n",
        "a".repeat(1024 * 1024)
    );
    assert_eq!(
        status_line(&emulator, huge.as_bytes()).await,
        "HTTP/1.1 431 Request Header Fields Too Large"
    );
    still_serves(&emulator).await;
}

#[tokio::test]
async fn a_malformed_chunked_body_gets_400() {
    let emulator = serve().await;
    let request = b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nnot hex\r\n0\r\n\r\n";
    assert_eq!(
        status_line(&emulator, request).await,
        "HTTP/1.1 400 Bad Request"
    );
    still_serves(&emulator).await;
}

#[tokio::test]
async fn invalid_request_lines_get_400() {
    let emulator = serve().await;
    for request in [
        &b"G\x01T / HTTP/1.1\r\nHost: x\r\n\r\n"[..],
        b"GET / HTTP/9.9\r\nHost: x\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", // a TLS ClientHello on the plain port
    ] {
        let line = status_line(&emulator, request).await;
        assert!(
            line.is_empty() || line.starts_with("HTTP/1.1 400") || line.starts_with("HTTP/1.1 505"),
            "{request:?} -> {line:?}"
        );
    }
    still_serves(&emulator).await;
}

#[tokio::test]
async fn a_body_over_the_request_limit_gets_413() {
    let emulator = serve().await;
    let length = 6 * 1024 * 1024 + 1;
    let mut request = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\nConnection: close\r\n\r\n"
    )
    .into_bytes();
    request.resize(request.len() + length, b'x');
    assert_eq!(
        status_line(&emulator, &request).await,
        "HTTP/1.1 413 Payload Too Large"
    );
    still_serves(&emulator).await;
}

#[tokio::test]
async fn a_client_that_stalls_in_its_headers_is_dropped() {
    let emulator = serve().await;
    let mut stalled = TcpStream::connect(emulator.url_addr()).await.unwrap();
    stalled
        .write_all(b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        .await
        .unwrap();
    // The server closes the connection after its header read timeout (300 ms here).
    let mut answer = Vec::new();
    within(stalled.read_to_end(&mut answer)).await.unwrap();
    let text = String::from_utf8_lossy(&answer);
    assert!(
        text.is_empty() || text.starts_with("HTTP/1.1 408"),
        "{text}"
    );
    still_serves(&emulator).await;
}

#[tokio::test]
async fn expect_100_continue_over_the_limit_gets_413_without_the_upload() {
    let emulator = serve().await;
    let mut stream = TcpStream::connect(emulator.url_addr()).await.unwrap();
    let length = 7 * 1024 * 1024;
    let head = format!(
        "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\nExpect: 100-continue\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    // No `100 Continue` asks for the upload: the declared size is refused first.
    assert_eq!(
        first_line(&mut stream).await,
        "HTTP/1.1 413 Payload Too Large"
    );
    still_serves(&emulator).await;
}

#[tokio::test]
async fn a_body_that_trickles_in_gets_408_at_the_body_read_timeout() {
    let config =
        EmulatorConfig::default().with_body_read_timeout(std::time::Duration::from_millis(300));
    let emulator = TestEmulator::start(config, |_: Request, _: Context| async {
        http::Response::builder().body(Body::from("ran"))
    })
    .await
    .unwrap();
    let mut stream = TcpStream::connect(emulator.url_addr()).await.unwrap();
    let head = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nab";
    stream.write_all(head.as_bytes()).await.unwrap();
    // The other 98 bytes never come: the request is refused and its connection closed.
    assert_eq!(
        first_line(&mut stream).await,
        "HTTP/1.1 408 Request Timeout"
    );
    let mut rest = Vec::new();
    within(stream.read_to_end(&mut rest)).await.unwrap();
    assert!(String::from_utf8_lossy(&rest).contains("connection: close"));
    still_serves(&emulator).await;
}

/// Clients that declare a body and send nothing hold no concurrency slot: the body is read
/// before the slot is taken, so with every slot's worth of them parked, others are served
/// (before the one lifecycle, each such socket held a slot until its read timeout: 429).
#[tokio::test]
async fn clients_still_sending_their_body_hold_no_slot() {
    let config = EmulatorConfig::default().with_max_concurrency(2);
    let emulator = TestEmulator::start(config, |_: Request, _: Context| async {
        http::Response::builder().body(Body::from("ran"))
    })
    .await
    .unwrap();
    let mut parked = Vec::new();
    for _ in 0..10 {
        let mut stream = TcpStream::connect(emulator.url_addr()).await.unwrap();
        let head = "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n";
        stream.write_all(head.as_bytes()).await.unwrap();
        parked.push(stream); // the 100 bytes never come
    }
    for _ in 0..3 {
        still_serves(&emulator).await;
    }
}

/// A timeout no deadline can be computed for is refused when the emulator starts (it used to
/// be taken, then every request panicked its connection).
#[tokio::test]
async fn an_out_of_range_timeout_is_refused_at_start() {
    let huge = std::time::Duration::from_secs_f64(9.3e18);
    let config = EmulatorConfig::default()
        .with_url_addr("127.0.0.1:0".parse().unwrap())
        .with_timeout(huge);
    let error = Emulator::start(config).await.err().expect("refused");
    assert_eq!(error.kind(), std::io::ErrorKind::InvalidInput);
    assert!(
        error
            .to_string()
            .starts_with("the function timeout 9300000000000000000 s is out of range"),
        "{error}"
    );
    let zero = EmulatorConfig::default().with_timeout(std::time::Duration::ZERO);
    assert!(zero.validate().is_err());
    assert!(EmulatorConfig::default().validate().is_ok());
}
