//! A hostile runtime in another language (`tests/functions/python_runtime.py`) behind
//! `lambda-stream serve`: one that hangs is reset at its timeout, one whose stream breaks
//! right after the prelude or mid-body still gives the client its status line and a cut-off
//! body, an error trailer over hyper's 16 KiB limit is read and passed on, and a 1xx prelude
//! status is refused.

use std::net::SocketAddr;

use http_body_util::BodyExt;
use lambda_stream::wire::{ChunkedDecoder, ChunkedEvent, ERROR_TYPE_TRAILER, FunctionError};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::{Child, Command};

use crate::common;
use crate::common::{binary, get, get_with_trailers, read_all, send, spawn_announced, within};

const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/functions/python_runtime.py");

async fn serve(options: &[&str]) -> (SocketAddr, Child) {
    let mut command = Command::new(binary("lambda-stream").await);
    command
        .args(["serve", "--port", "0"])
        .args(options)
        .args(["--", "python3", SCRIPT]);
    let (port, cli) = spawn_announced(command).await;
    (SocketAddr::from(([127, 0, 0, 1], port)), cli)
}

/// Every byte of the answer to `GET path` on a new connection, read until the server closes.
async fn raw_get(address: SocketAddr, path: &str) -> Vec<u8> {
    let mut stream = TcpStream::connect(address).await.unwrap();
    let request =
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nTE: trailers\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    let _ = within(stream.read_to_end(&mut answer)).await;
    answer
}

/// The body of a raw chunked answer, and whether its last chunk came.
fn chunked_body(answer: &[u8]) -> (Vec<u8>, bool) {
    let split = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("a head");
    let mut buf = bytes::BytesMut::from(&answer[split + 4..]);
    let mut decoder = ChunkedDecoder::new();
    let mut body = Vec::new();
    loop {
        match decoder.decode(&mut buf) {
            Ok(Some(ChunkedEvent::Data(data))) => body.extend_from_slice(&data),
            Ok(Some(ChunkedEvent::End(_))) => return (body, true),
            _ => return (body, false),
        }
    }
}

#[tokio::test]
#[cfg_attr(missing_python3, ignore = env!("MISSING_PYTHON3"))]
async fn a_function_that_hangs_is_reset_at_its_timeout() {
    let (address, mut cli) = serve(&["--timeout", "2"]).await;
    let hung = within(send(address, get("/hang"))).await;
    assert_eq!(hung.status(), 502);
    // The stuck process was stopped and started again: the next requests are served.
    for path in ["/after", "/again"] {
        let response = within(send(address, get(path))).await;
        assert_eq!(response.status(), 200, "{path}");
        let (body, _, clean) = within(read_all(response)).await;
        assert_eq!(body, format!("python streams {path}").as_bytes());
        assert!(clean);
    }
    cli.kill().await.unwrap();
}

#[tokio::test]
#[cfg_attr(missing_python3, ignore = env!("MISSING_PYTHON3"))]
async fn a_stream_broken_after_the_prelude_still_gives_the_status_line() {
    let (address, mut cli) = serve(&[]).await;
    for round in 0..20 {
        for path in ["/break-after-prelude", "/truncate"] {
            let answer = raw_get(address, path).await;
            let text = String::from_utf8_lossy(&answer);
            assert!(
                text.starts_with("HTTP/1.1 200 OK\r\n"),
                "round {round} {path}: {text:?}"
            );
            assert!(text.contains("content-type: text/plain"), "{text}");
            let (body, complete) = chunked_body(&answer);
            assert!(!complete, "{path}: a cut-off stream must not end cleanly");
            let expected: &[u8] = if path == "/truncate" {
                b"python streams "
            } else {
                b""
            };
            assert_eq!(body, expected, "round {round} {path}");
        }
    }
    cli.kill().await.unwrap();
}

#[tokio::test]
#[cfg_attr(missing_python3, ignore = env!("MISSING_PYTHON3"))]
async fn an_error_trailer_over_hypers_limit_is_read_and_passed_on() {
    let (address, mut cli) = serve(&[]).await;
    let response = within(send(address, get_with_trailers("/big-error"))).await;
    assert_eq!(response.status(), 200);
    let mut body = response.into_body();
    let mut data = Vec::new();
    let mut trailers = None;
    while let Some(frame) = within(body.frame()).await {
        let frame = frame.expect("the stream ends with its trailers, not cut off");
        match frame.into_data() {
            Ok(chunk) => data.extend_from_slice(&chunk),
            Err(frame) => trailers = frame.into_trailers().ok(),
        }
    }
    assert_eq!(data, b"python streams ");
    let trailers = trailers.expect("error trailers");
    assert_eq!(trailers[ERROR_TYPE_TRAILER], "Function.StreamError");
    let message = FunctionError::from_trailers(&trailers)
        .unwrap()
        .message()
        .to_owned();
    assert!(message.starts_with("xxxx"), "{message}");
    assert!(
        message.ends_with("[shortened from 12500 bytes]"),
        "{message}"
    );
    cli.kill().await.unwrap();
}

#[tokio::test]
#[cfg_attr(missing_python3, ignore = env!("MISSING_PYTHON3"))]
async fn a_prelude_with_an_informational_status_is_refused() {
    let (address, mut cli) = serve(&[]).await;
    let response = within(send(address, get("/status-100"))).await;
    assert_eq!(response.status(), 502);
    let (body, _, _) = within(read_all(response)).await;
    assert_eq!(body, b"Internal Server Error");
    cli.kill().await.unwrap();
}

/// Body bytes that come in the same chunk as the prelude count against the stream budget like
/// every other byte (they used to pass uncounted: `--budget 1000` let 8,115 bytes through).
#[tokio::test]
#[cfg_attr(missing_python3, ignore = env!("MISSING_PYTHON3"))]
async fn body_bytes_sent_with_the_prelude_count_against_the_budget() {
    let (address, mut cli) = serve(&["--budget", "1000"]).await;
    let answer = raw_get(address, "/prelude-with-body").await;
    let (body, complete) = chunked_body(&answer);
    assert!(!complete, "cut at the budget, not ended");
    assert!(body.len() < 1000, "{} body bytes", body.len());
    cli.kill().await.unwrap();
}

/// A foreign runtime's error trailers over the Runtime API's 64 KiB limit: the error cannot be
/// read, and the client is told why (a truncated response naming the limit), not a bare
/// connection error.
#[tokio::test]
#[cfg_attr(missing_python3, ignore = env!("MISSING_PYTHON3"))]
async fn error_trailers_over_the_runtime_api_limit_are_a_truncation_naming_it() {
    let (address, mut cli) = serve(&[]).await;
    let answer = common::invoke_raw(address, r#"{"rawPath":"/huge-error"}"#).await;
    assert!(answer.contains("Runtime.TruncatedResponse"), "{answer}");
    assert!(
        answer.contains("trailer section is over the Runtime API's 64 KiB limit"),
        "{answer}"
    );
    cli.kill().await.unwrap();
}

/// A runtime that stalls inside a buffered `/response`: its client gets 502 at the deadline,
/// the slot is freed and the function reset, and the next request is served (it used to get
/// 429 forever).
#[tokio::test]
#[cfg_attr(missing_python3, ignore = env!("MISSING_PYTHON3"))]
async fn a_runtime_stalled_in_a_buffered_response_is_reset_at_the_deadline() {
    let (address, mut cli) = serve(&["--timeout", "2"]).await;
    let stalled = within(send(address, get("/stall-buffered"))).await;
    assert_eq!(stalled.status(), 502);
    // The slot is free and the stuck process takes nothing more: the restarted one serves it.
    let response = within(send(address, get("/after"))).await;
    assert_eq!(response.status(), 200);
    let (body, _, clean) = within(read_all(response)).await;
    assert_eq!(body, b"python streams /after");
    assert!(clean);
    cli.kill().await.unwrap();
}
