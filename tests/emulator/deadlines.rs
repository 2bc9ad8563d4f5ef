//! The function timeout as Lambda applies it: a timed-out invocation frees its concurrency slot
//! and its execution environment is reset, whether the function hangs or its client stops
//! reading; and a stream error too long for a trailer still reaches the client, shortened.

use lambda_stream::testing::TestEmulator;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use lambda_stream::emulator::{Emulator, EmulatorConfig};
use lambda_stream::wire::{ERROR_TYPE_TRAILER, FunctionError};
use lambda_stream::{Body, Context, Request};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::common::{get, get_with_trailers, read_all, send, within};

/// `/hang` never answers, `/endless` streams 64 KiB chunks forever, `/fail-long` fails after a
/// chunk with a 12,500-byte message; anything else answers `ok`.
async fn handler(request: Request, _: Context) -> Result<lambda_stream::Response, http::Error> {
    let body = match request.uri().path() {
        "/hang" => std::future::pending().await,
        "/endless" => Body::from_stream(stream::repeat_with(|| {
            Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 64 * 1024]))
        })),
        "/fail-long" => Body::from_stream(stream::iter([
            Ok(Bytes::from_static(b"partial ")),
            Err(std::io::Error::other("y".repeat(12_500))),
        ])),
        _ => Body::from("ok"),
    };
    http::Response::builder().body(body)
}

async fn serve(concurrency: usize) -> TestEmulator {
    let config = EmulatorConfig::default()
        .with_timeout(Duration::from_secs(2))
        .with_max_concurrency(concurrency);
    TestEmulator::start(config, handler).await.unwrap()
}

async fn status(emulator: &Emulator, path: &str) -> u16 {
    let response = within(send(emulator.url_addr(), get(path))).await;
    let status = response.status().as_u16();
    within(read_all(response)).await;
    status
}

#[tokio::test]
async fn a_handler_stuck_past_its_timeout_is_stopped_and_the_next_request_is_served() {
    let emulator = serve(1).await;
    assert_eq!(status(&emulator, "/hang").await, 502);
    // The one slot and the one loop are free again: served, not timed out, not throttled.
    assert_eq!(status(&emulator, "/next").await, 200);
    assert_eq!(status(&emulator, "/again").await, 200);
}

#[tokio::test]
async fn clients_that_stop_reading_free_their_slots_at_the_deadline() {
    let emulator = serve(2).await;
    let mut stalled = Vec::new();
    for _ in 0..2 {
        let mut stream = TcpStream::connect(emulator.url_addr()).await.unwrap();
        let request = "GET /endless HTTP/1.1\r\nHost: x\r\n\r\n";
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut head = [0u8; 12];
        stream.read_exact(&mut head).await.unwrap();
        assert_eq!(&head, b"HTTP/1.1 200");
        stalled.push(stream); // never read again
    }
    assert_eq!(
        status(&emulator, "/quick").await,
        429,
        "both slots are taken"
    );
    // At the 2 s deadline the stalled invocations end and give their slots back.
    let served = within(async {
        loop {
            tokio::time::sleep(Duration::from_millis(250)).await;
            if status(&emulator, "/quick").await == 200 {
                return true;
            }
        }
    })
    .await;
    assert!(served);
}

#[tokio::test]
async fn a_stream_error_too_long_for_a_trailer_arrives_shortened() {
    let emulator = serve(1).await;
    let response = within(send(emulator.url_addr(), get_with_trailers("/fail-long"))).await;
    let (body, trailers, _) = within(read_all(response)).await;
    assert_eq!(body, b"partial ");
    let trailers = trailers.expect("the error trailers arrived");
    assert_eq!(trailers[ERROR_TYPE_TRAILER], "Function.StreamError");
    let error = FunctionError::from_trailers(&trailers).unwrap();
    assert!(error.message().starts_with("yyyy"), "{}", error.message());
    assert!(
        error.message().ends_with("[shortened from 12500 bytes]"),
        "{}",
        &error.message()[error.message().len() - 60..]
    );
}

/// The state of the TCP connection from `local` to `remote` in `/proc/net/tcp` (`01`
/// ESTABLISHED, `04` FIN_WAIT1: closed by this side with data still unsent, ...).
fn tcp_state(local: std::net::SocketAddr, remote: std::net::SocketAddr) -> Option<String> {
    let hex = |addr: std::net::SocketAddr| {
        let std::net::IpAddr::V4(ip) = addr.ip() else {
            return String::new();
        };
        format!(
            "{:08X}:{:04X}",
            u32::from_le_bytes(ip.octets()),
            addr.port()
        )
    };
    let table = std::fs::read_to_string("/proc/net/tcp").ok()?;
    table.lines().skip(1).find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        (fields.get(1) == Some(&hex(local).as_str())
            && fields.get(2) == Some(&hex(remote).as_str()))
        .then(|| fields[3].to_owned())
    })
}

#[tokio::test]
#[cfg_attr(
    not(target_os = "linux"),
    ignore = "reads the TCP state in /proc/net/tcp (Linux)"
)]
async fn the_connection_of_a_client_that_never_reads_is_closed() {
    let config = EmulatorConfig::default().with_timeout(Duration::from_secs(1));
    let emulator = TestEmulator::start(config, handler).await.unwrap();
    let mut stream = TcpStream::connect(emulator.url_addr()).await.unwrap();
    stream
        .write_all(b"GET /endless HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.unwrap();
    let (client, server) = (stream.local_addr().unwrap(), emulator.url_addr());
    assert_eq!(
        tcp_state(server, client).as_deref(),
        Some("01"),
        "open while streaming"
    );
    // The invocation ends at 1 s; a client that read nothing for the function timeout is gone:
    // the emulator closes its side (FIN_WAIT1, its unsent bytes still queued) instead of
    // keeping the connection, its task and its buffers for as long as the client stays.
    let closed = within(async {
        loop {
            tokio::time::sleep(Duration::from_millis(200)).await;
            if tcp_state(server, client).as_deref() != Some("01") {
                return true;
            }
        }
    })
    .await;
    assert!(closed);
    drop(stream);
}
