//! End to end through the emulator: a function (our runtime loop, or a hand-written raw one
//! standing for another language's runtime) behind the local Function URL, read with a real
//! HTTP client (hyper) over 127.0.0.1.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use lambda_stream::emulator::{Emulator, EmulatorConfig};
use lambda_stream::testing::TestEmulator;
use lambda_stream::wire::{ErrorType, FunctionError};
use lambda_stream::{Body, Config, Context, Handler, InvokeMode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::Notify;

use crate::common::{get, get_with_trailers, read_all, send, within};

fn local() -> EmulatorConfig {
    EmulatorConfig::default()
        .with_url_addr("127.0.0.1:0".parse().unwrap())
        .with_access_log(false)
}

/// The emulator with our runtime loop serving `handler` in the same invoke mode.
async fn with_handler<H: Handler>(config: EmulatorConfig, handler: H) -> TestEmulator {
    TestEmulator::start(config, handler).await.unwrap()
}

#[tokio::test]
async fn chunks_are_relayed_live_with_head_and_cookies_applied() {
    let gate = Arc::new(Notify::new());
    let release = gate.clone();
    let emulator = with_handler(local(), move |_req, _ctx: Context| {
        let gate = gate.clone();
        async move {
            let (sender, body) = Body::channel();
            tokio::spawn(async move {
                let _ = sender.send("first\n").await;
                gate.notified().await;
                let _ = sender.send("second\n").await;
            });
            http::Response::builder()
                .status(201)
                .header("content-type", "text/plain")
                .header("set-cookie", "a=1")
                .header("set-cookie", "b=2; Path=/")
                .body(body)
        }
    })
    .await;
    let response = within(send(emulator.url_addr(), get("/live"))).await;
    assert_eq!(response.status(), StatusCode::CREATED);
    assert_eq!(response.headers()["content-type"], "text/plain");
    let cookies: Vec<_> = response.headers().get_all("set-cookie").iter().collect();
    assert_eq!(cookies, ["a=1", "b=2; Path=/"]);
    assert!(response.headers().contains_key("x-amzn-requestid"));
    let mut body = response.into_body();
    // The second chunk is not produced until the client has the first: nothing is buffered.
    let first = within(body.frame())
        .await
        .unwrap()
        .unwrap()
        .into_data()
        .unwrap();
    assert_eq!(first, "first\n");
    release.notify_one();
    let second = within(body.frame())
        .await
        .unwrap()
        .unwrap()
        .into_data()
        .unwrap();
    assert_eq!(second, "second\n");
    assert!(within(body.frame()).await.is_none());
}

fn failing_handler() -> impl Handler {
    |_req, _ctx: Context| async {
        let error = FunctionError::new(
            ErrorType::new("Function.UpstreamGone").unwrap(),
            "db closed",
        );
        let items = stream::iter([Ok(Bytes::from("partial ")), Err(error)]);
        http::Response::builder().body(Body::from_stream(items))
    }
}

#[tokio::test]
async fn mid_stream_errors_reach_clients_as_trailers_never_as_body_text() {
    let emulator = with_handler(local(), failing_handler()).await;
    let response = within(send(emulator.url_addr(), get_with_trailers("/"))).await;
    assert_eq!(
        response.headers()["trailer"],
        "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body"
    );
    let (body, trailers, clean) = within(read_all(response)).await;
    assert_eq!(body, b"partial ");
    assert!(clean);
    let error = FunctionError::from_trailers(&trailers.unwrap()).unwrap();
    assert_eq!(error.error_type().as_str(), "Function.UpstreamGone");
    assert_eq!(error.message(), "db closed");

    // Without TE: trailers the body ends after the data it had; the error is only logged.
    let response = within(send(emulator.url_addr(), get("/"))).await;
    let (body, trailers, clean) = within(read_all(response)).await;
    assert_eq!(
        (body.as_slice(), trailers, clean),
        (&b"partial "[..], None, true)
    );
}

#[tokio::test]
async fn errors_before_the_first_byte_are_502() {
    let emulator = with_handler(local(), |_req, _ctx: Context| async {
        Err::<lambda_stream::Response, _>(std::io::Error::other("boom"))
    })
    .await;
    let response = within(send(emulator.url_addr(), get("/"))).await;
    assert_eq!(response.status(), StatusCode::BAD_GATEWAY);
    let (body, _, _) = read_all(response).await;
    assert_eq!(body, b"Internal Server Error");
}

#[tokio::test]
async fn the_stream_budget_truncates_the_response() {
    let config = local().with_budget(lambda_stream::Budget::bytes(64 * 1024));
    // A function that does not keep to the URL's budget itself (its own is the default): the
    // emulator cuts it, as Lambda cuts a stream over its limit.
    let unaware = |function: Config| function.with_budget(lambda_stream::Budget::DEFAULT);
    let emulator = TestEmulator::start_with(config, unaware, |_req, _ctx: Context| async {
        let chunks = (0..64).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 16 * 1024])));
        http::Response::builder().body(Body::from_stream(stream::iter(chunks)))
    })
    .await
    .unwrap();
    let response = within(send(emulator.url_addr(), get("/"))).await;
    let (body, _, clean) = within(read_all(response)).await;
    assert!(
        !clean,
        "an over-budget stream is truncated, not ended cleanly"
    );
    assert!(body.len() <= 64 * 1024, "{} bytes relayed", body.len());
    assert!(body.len() >= 32 * 1024, "{} bytes relayed", body.len());
}

#[tokio::test]
async fn oversized_requests_get_413() {
    let emulator = with_handler(
        local().with_request_limit(4096),
        |_req, _ctx: Context| async { http::Response::builder().body(Body::from("unreachable")) },
    )
    .await;
    let request = Request::post("/")
        .header("host", "localhost")
        .body(Full::new(Bytes::from(vec![b'a'; 5000])))
        .unwrap();
    let response = within(send(emulator.url_addr(), request)).await;
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let (body, _, _) = read_all(response).await;
    assert!(String::from_utf8_lossy(&body).contains("4096"));
}

#[tokio::test]
async fn timeouts_give_502_or_a_truncated_stream() {
    // A raw function that ignores its deadline, so the emulator's own cut-off shows (ours ends
    // a margin before the deadline by itself: see the budget tests).
    let emulator = Emulator::start(local().with_timeout(Duration::from_millis(300)))
        .await
        .unwrap();
    let function = RawFunction {
        api: emulator.runtime_api().authority().parse().unwrap(),
    };

    // Nothing sent before the timeout: 502.
    let client = tokio::spawn(send(emulator.url_addr(), get("/silent")));
    let _ = within(function.next()).await;
    assert_eq!(
        within(client).await.unwrap().status(),
        StatusCode::BAD_GATEWAY
    );

    // A stream that outlives the timeout: what was sent arrives, then the stream is cut.
    let client = tokio::spawn(send(emulator.url_addr(), get("/")));
    let (id, _) = within(function.next()).await;
    let _stalled = function
        .stream(&id, &[b"{}", b"\0\0\0\0\0\0\0\0", b"started"])
        .await;
    let response = within(client).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (body, _, clean) = within(read_all(response)).await;
    assert_eq!((body.as_slice(), clean), (&b"started"[..], false));
}

#[tokio::test]
async fn buffered_mode_end_to_end_with_our_runtime() {
    let config = local().with_invoke_mode(InvokeMode::Buffered);
    let emulator = with_handler(config, |_req, _ctx: Context| async {
        http::Response::builder()
            .status(202)
            .header("content-type", "image/png")
            .header("set-cookie", "k=v")
            .body(Body::from(vec![0u8, 159, 146, 150]))
    })
    .await;
    let response = within(send(emulator.url_addr(), get("/"))).await;
    assert_eq!(response.status(), StatusCode::ACCEPTED);
    assert_eq!(response.headers()["set-cookie"], "k=v");
    assert_eq!(response.headers()["content-length"], "4");
    let (body, _, _) = read_all(response).await;
    assert_eq!(
        body,
        [0u8, 159, 146, 150],
        "base64 in the payload, bytes to the client"
    );
}

/// A hand-written runtime, as another language's runtime would talk to the Runtime API.
struct RawFunction {
    api: SocketAddr,
}

impl RawFunction {
    async fn exchange(&self, request: &[u8]) -> (u16, String, Vec<u8>) {
        let mut stream = TcpStream::connect(self.api).await.unwrap();
        stream.write_all(request).await.unwrap();
        read_response(&mut stream).await
    }

    async fn next(&self) -> (String, serde_json::Value) {
        let request = b"GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\n\r\n";
        let (status, head, body) = self.exchange(request).await;
        assert_eq!(status, 200);
        let id = head
            .lines()
            .find_map(|l| l.strip_prefix("lambda-runtime-aws-request-id: "))
            .unwrap()
            .trim()
            .to_owned();
        (id, serde_json::from_slice(&body).unwrap())
    }

    async fn respond(&self, id: &str, extra_headers: &str, body: &[u8]) -> u16 {
        let mut request = format!(
            "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nHost: x\r\n{extra_headers}Content-Length: {}\r\n\r\n",
            body.len()
        )
        .into_bytes();
        request.extend_from_slice(body);
        self.exchange(&request).await.0
    }

    /// Opens a streamed response and writes `chunks` framed exactly as given.
    async fn stream(&self, id: &str, chunks: &[&[u8]]) -> TcpStream {
        let mut stream = TcpStream::connect(self.api).await.unwrap();
        let head = format!(
            "POST /2018-06-01/runtime/invocation/{id}/response HTTP/1.1\r\nHost: x\r\n\
             Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        stream.write_all(head.as_bytes()).await.unwrap();
        for chunk in chunks {
            stream
                .write_all(format!("{:x}\r\n", chunk.len()).as_bytes())
                .await
                .unwrap();
            stream.write_all(chunk).await.unwrap();
            stream.write_all(b"\r\n").await.unwrap();
        }
        stream
    }
}

async fn read_response(stream: &mut TcpStream) -> (u16, String, Vec<u8>) {
    let mut buf = Vec::new();
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length: "))
                .map_or(0, |v| v.trim().parse().unwrap());
            while buf.len() < end + 4 + length {
                let mut more = [0u8; 8192];
                let n = stream.read(&mut more).await.unwrap();
                assert!(n > 0, "connection closed mid-response");
                buf.extend_from_slice(&more[..n]);
            }
            let status = head[9..12].parse().unwrap();
            return (status, head, buf[end + 4..end + 4 + length].to_vec());
        }
        let mut more = [0u8; 8192];
        let n = stream.read(&mut more).await.unwrap();
        assert!(n > 0, "connection closed before a response");
        buf.extend_from_slice(&more[..n]);
    }
}

#[tokio::test]
async fn prelude_is_found_by_scanning_any_chunking() {
    let emulator = Emulator::start(local()).await.unwrap();
    let function = RawFunction {
        api: emulator.runtime_api().authority().parse().unwrap(),
    };
    let client = tokio::spawn(send(emulator.url_addr(), get("/scan?x=1")));
    let (id, event) = within(function.next()).await;
    assert_eq!(event["rawPath"], "/scan");
    assert_eq!(event["queryStringParameters"]["x"], "1");
    // JSON split mid-token, the NULs split across chunks and sharing one with the body.
    let mut stream = function
        .stream(
            &id,
            &[
                br#"{"statusCode":206,"head"#,
                br#"ers":{"content-length":"9","x-a":"b"},"cookies":["z=1"]}"#,
                b"\0\0\0",
                b"\0\0\0\0\0body",
                b"\0 bytes",
            ],
        )
        .await;
    stream.write_all(b"0\r\n\r\n").await.unwrap();
    assert_eq!(read_response(&mut stream).await.0, 202);
    let response = within(client).await.unwrap();
    assert_eq!(response.status(), StatusCode::PARTIAL_CONTENT);
    assert_eq!(response.headers()["x-amzn-remapped-content-length"], "9");
    assert!(!response.headers().contains_key("content-length"));
    assert_eq!(response.headers()["set-cookie"], "z=1");
    let (body, _, clean) = read_all(response).await;
    assert_eq!((body.as_slice(), clean), (&b"body\0 bytes"[..], true));
}

#[tokio::test]
async fn a_truncated_function_stream_truncates_the_client_response() {
    let emulator = Emulator::start(local()).await.unwrap();
    let function = RawFunction {
        api: emulator.runtime_api().authority().parse().unwrap(),
    };
    let client = tokio::spawn(send(emulator.url_addr(), get("/")));
    let (id, _) = within(function.next()).await;
    let stream = function
        .stream(&id, &[b"{}", b"\0\0\0\0\0\0\0\0", b"half of it"])
        .await;
    let response = within(client).await.unwrap();
    drop(stream); // the function dies without the last chunk
    let (body, _, clean) = within(read_all(response)).await;
    assert_eq!((body.as_slice(), clean), (&b"half of it"[..], false));
}

#[tokio::test]
async fn buffered_mapping_table() {
    let emulator = Emulator::start(local().with_invoke_mode(InvokeMode::Buffered))
        .await
        .unwrap();
    let function = RawFunction {
        api: emulator.runtime_api().authority().parse().unwrap(),
    };
    let cases: [(&[u8], u16, &str, &[u8]); 6] = [
        (
            br#"{"statusCode":418,"headers":{"x-a":"1"},"body":"tea","cookies":["c=1"]}"#,
            418,
            "",
            b"tea",
        ),
        (
            br#"{"statusCode":"201","body":"aGk=","isBase64Encoded":true}"#,
            201,
            "",
            b"hi",
        ),
        (
            br#"{"message":"hi"}"#,
            200,
            "application/json",
            br#"{"message":"hi"}"#,
        ),
        (br#""hello""#, 200, "application/json", b"hello"),
        (b"not json", 502, "text/plain", b"Internal Server Error"),
        (
            br#"{"statusCode":200,"body":7}"#,
            502,
            "text/plain",
            b"Internal Server Error",
        ),
    ];
    for (payload, status, content_type, expected) in cases {
        let client = tokio::spawn(send(emulator.url_addr(), get("/")));
        let (id, _) = within(function.next()).await;
        assert_eq!(function.respond(&id, "", payload).await, 202);
        let response = within(client).await.unwrap();
        assert_eq!(
            response.status().as_u16(),
            status,
            "{}",
            String::from_utf8_lossy(payload)
        );
        if !content_type.is_empty() {
            assert_eq!(response.headers()["content-type"], content_type);
        }
        if status == 418 {
            assert_eq!(response.headers()["x-a"], "1");
            assert_eq!(response.headers()["set-cookie"], "c=1");
        }
        let (body, _, _) = read_all(response).await;
        assert_eq!(body, expected);
    }

    // Over 6,291,556 bytes: the function is told 413, the client gets 502.
    let client = tokio::spawn(send(emulator.url_addr(), get("/")));
    let (id, _) = within(function.next()).await;
    let mut big = b"\"".to_vec();
    big.extend(std::iter::repeat_n(b'a', 6_291_555));
    big.push(b'"');
    assert_eq!(big.len(), 6_291_557);
    assert_eq!(function.respond(&id, "", &big).await, 413);
    assert_eq!(
        within(client).await.unwrap().status(),
        StatusCode::BAD_GATEWAY
    );

    // /error: 502.
    let client = tokio::spawn(send(emulator.url_addr(), get("/")));
    let (id, _) = within(function.next()).await;
    let error = format!(
        "POST /2018-06-01/runtime/invocation/{id}/error HTTP/1.1\r\nHost: x\r\n\
         Lambda-Runtime-Function-Error-Type: Function.Oops\r\nContent-Length: 2\r\n\r\n{{}}"
    );
    assert_eq!(function.exchange(error.as_bytes()).await.0, 202);
    assert_eq!(
        within(client).await.unwrap().status(),
        StatusCode::BAD_GATEWAY
    );
}

#[tokio::test]
async fn a_stream_url_passes_a_buffered_answer_through_unmapped() {
    let emulator = Emulator::start(local()).await.unwrap();
    let function = RawFunction {
        api: emulator.runtime_api().authority().parse().unwrap(),
    };
    let client = tokio::spawn(send(emulator.url_addr(), get("/")));
    let (id, _) = within(function.next()).await;
    let payload = br#"{"statusCode":404,"body":"x"}"#;
    let status = function
        .respond(&id, "Content-Type: application/json\r\n", payload)
        .await;
    assert_eq!(status, 202);
    let response = within(client).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(read_all(response).await.0, payload);
}

#[tokio::test]
async fn a_dead_function_gives_502_not_a_hang() {
    let emulator = Emulator::start(local()).await.unwrap();
    let function = RawFunction {
        api: emulator.runtime_api().authority().parse().unwrap(),
    };
    let client = tokio::spawn(send(emulator.url_addr(), get("/")));
    let _ = within(function.next()).await;
    // The process running the function exited (what `lambda-stream serve` reports).
    emulator.fail_in_flight("function exited");
    assert_eq!(
        within(client).await.unwrap().status(),
        StatusCode::BAD_GATEWAY
    );
}

/// A producer that is always ready (its work is done inside `poll_next`, it never returns
/// `Pending`) still has its items sent as they are made: the body gives way to the connection
/// so hyper flushes, instead of buffering ~450 KB (seven of these items) before its first
/// write. The rule itself is tested on the paused clock next to the body
/// (`an_always_ready_body_gives_way_so_the_connection_flushes`); here the real loop, emulator
/// and client show its effect, with room for a busy machine: the first item must be at the
/// client before the producer has made its sixth (50 ms of work later), where a held buffer
/// would deliver it only after the seventh.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_always_ready_producer_is_sent_as_it_goes() {
    use futures_util::StreamExt;
    use std::sync::Mutex;
    use std::time::Instant;
    let made: Arc<Mutex<Vec<Instant>>> = Arc::default();
    let log = made.clone();
    let handler = move |_: lambda_stream::Request, _: Context| {
        let log = log.clone();
        async move {
            let items = stream::iter(0..16).map(move |_| {
                let started = Instant::now();
                while started.elapsed() < Duration::from_millis(10) {
                    std::hint::spin_loop(); // CPU work, never a wait
                }
                log.lock().unwrap().push(Instant::now());
                Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 64 * 1024]))
            });
            http::Response::builder().body(Body::from_stream(items))
        }
    };
    let emulator = with_handler(local(), handler).await;
    let response = within(send(emulator.url_addr(), get("/"))).await;
    let mut body = response.into_body();
    let mut arrived = Vec::new();
    let mut received = 0;
    while let Some(frame) = within(body.frame()).await {
        let data = frame.unwrap().into_data().unwrap_or_default();
        received += data.len();
        while arrived.len() < received / (64 * 1024) {
            arrived.push(Instant::now());
        }
    }
    let made = made.lock().unwrap().clone();
    assert_eq!((made.len(), arrived.len()), (16, 16));
    assert!(
        arrived[0] < made[5],
        "first item held back until item {} was made",
        made.iter().filter(|m| **m < arrived[0]).count()
    );
}
