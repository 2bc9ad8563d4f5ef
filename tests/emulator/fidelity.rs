//! The emulator's AWS behaviours beyond streaming: CORS, the Lambda API's invoke routes (a live
//! `InvokeWithResponseStream` event stream), the concurrency limit, and client disconnects.

use lambda_stream::testing::TestEmulator;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use aws_smithy_eventstream::frame::{DecodedFrame, MessageFrameDecoder};
use aws_smithy_types::event_stream::Message;
use bytes::{Bytes, BytesMut};
use futures_util::{StreamExt, stream};
use http_body_util::{BodyExt, Full};
use lambda_stream::emulator::{Cors, EmulatorConfig};
use lambda_stream::wire::{ErrorType, FunctionError, PreludeDecoder};
use lambda_stream::{Body, Context, Request};
use tokio::sync::Notify;

use crate::common;
use crate::common::{read_all, send, within};

fn request(
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &'static str,
) -> http::Request<Full<Bytes>> {
    let mut builder = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", "localhost");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

#[tokio::test]
async fn cors_preflights_are_answered_and_configured_headers_win() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let cors: Cors = serde_json::from_str(
        r#"{"AllowOrigins":["https://app.example"],"AllowMethods":["GET","POST"],
            "AllowHeaders":["content-type"],"ExposeHeaders":["x-cursor"],
            "AllowCredentials":true,"MaxAge":600}"#,
    )
    .unwrap();
    let emulator = TestEmulator::start(
        EmulatorConfig::default().with_cors(cors),
        move |_: Request, _: Context| {
            counted.fetch_add(1, Ordering::SeqCst);
            async {
                http::Response::builder()
                    .header("access-control-allow-origin", "*")
                    .header("x-cursor", "42")
                    .body(Body::from("data"))
            }
        },
    )
    .await
    .unwrap();
    let address = emulator.url_addr();

    let preflight = request(
        "OPTIONS",
        "/items",
        &[
            ("origin", "https://app.example"),
            ("access-control-request-method", "POST"),
        ],
        "",
    );
    let response = within(send(address, preflight)).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example"
    );
    assert_eq!(headers["access-control-allow-methods"], "GET,POST");
    assert_eq!(headers["access-control-allow-headers"], "content-type");
    assert_eq!(headers["access-control-allow-credentials"], "true");
    assert_eq!(headers["access-control-max-age"], "600");
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "the function never sees a preflight"
    );

    let simple = request("GET", "/items", &[("origin", "https://app.example")], "");
    let response = within(send(address, simple)).await;
    let headers = response.headers().clone();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example"
    );
    assert_eq!(headers["access-control-expose-headers"], "x-cursor");
    assert_eq!(headers["x-cursor"], "42");
    assert_eq!(within(read_all(response)).await.0, b"data");

    // Another origin: the function's own `*` is overridden by the configuration (no header).
    let other = request("GET", "/items", &[("origin", "https://evil.example")], "");
    let response = within(send(address, other)).await;
    assert!(
        !response
            .headers()
            .contains_key("access-control-allow-origin")
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn without_cors_an_options_request_reaches_the_function() {
    let emulator = TestEmulator::start(
        EmulatorConfig::default(),
        |request: Request, _: Context| async move {
            http::Response::builder().body(Body::from(request.method().to_string()))
        },
    )
    .await
    .unwrap();
    let preflight = request(
        "OPTIONS",
        "/",
        &[
            ("origin", "https://a.example"),
            ("access-control-request-method", "GET"),
        ],
        "",
    );
    let response = within(send(emulator.url_addr(), preflight)).await;
    assert_eq!(within(read_all(response)).await.0, b"OPTIONS");
}

/// Reads event-stream messages off a response body as they arrive.
struct EventReader {
    body: hyper::body::Incoming,
    buffer: BytesMut,
    decoder: MessageFrameDecoder,
}

impl EventReader {
    async fn next(&mut self) -> Option<(String, Bytes)> {
        loop {
            if let DecodedFrame::Complete(message) =
                self.decoder.decode_frame(&mut self.buffer).unwrap()
            {
                return Some((event_type(&message), message.payload().clone()));
            }
            let frame = self.body.frame().await?.unwrap();
            if let Ok(data) = frame.into_data() {
                self.buffer.extend_from_slice(&data);
            }
        }
    }
}

fn event_type(message: &Message) -> String {
    message
        .headers()
        .iter()
        .find(|h| h.name().as_str() == ":event-type")
        .and_then(|h| h.value().as_string().ok())
        .map(|s| s.as_str().to_owned())
        .unwrap_or_default()
}

#[tokio::test]
async fn invoke_with_response_stream_is_a_live_event_stream() {
    let release = Arc::new(Notify::new());
    let gate = release.clone();
    let emulator = TestEmulator::start(
        EmulatorConfig::default(),
        move |request: Request, _: Context| {
            let gate = gate.clone();
            async move {
                let fail = request.body().as_ref() == br#"{"fail":true}"#;
                // "first", then nothing until the test has seen it, then "second" (or an error).
                let first = stream::iter([Ok(Bytes::from("first"))]);
                let rest = stream::once(async move {
                    gate.notified().await;
                    if fail {
                        Err(FunctionError::new(ErrorType::STREAM_ERROR, "db closed"))
                    } else {
                        Ok(Bytes::from("second"))
                    }
                });
                http::Response::builder().body(Body::from_stream(first.chain(rest)))
            }
        },
    )
    .await
    .unwrap();
    let path = "/2021-11-15/functions/local/response-streaming-invocations";
    for (payload, expected_end) in [("{}", "{}"), (r#"{"fail":true}"#, "Function.StreamError")] {
        let started = tokio::time::Instant::now();
        let response = within(send(
            emulator.url_addr(),
            request("POST", path, &[], payload),
        ))
        .await;
        assert_eq!(response.status(), 200);
        assert_eq!(
            response.headers()["content-type"],
            "application/vnd.amazon.eventstream"
        );
        let mut reader = EventReader {
            body: response.into_body(),
            buffer: BytesMut::new(),
            decoder: MessageFrameDecoder::new(),
        };
        // The function's bytes as written, as AWS passes them: its prelude, 8 NULs, then
        // "first" (in as many PayloadChunks as the relay made of them).
        let mut payload = Vec::new();
        while !payload.ends_with(b"first") {
            let (kind, data) = within(reader.next()).await.unwrap();
            assert_eq!(kind, "PayloadChunk");
            payload.extend_from_slice(&data);
        }
        let (head, body) = PreludeDecoder::split_payload(&payload).unwrap();
        assert_eq!((head.status.as_u16(), body), (200, &b"first"[..]));
        let first_at = started.elapsed();
        // Only now may the function go on: the first chunk came live, not buffered.
        release.notify_one();
        let mut events = Vec::new();
        while let Some(event) = within(reader.next()).await {
            events.push(event);
        }
        eprintln!(
            "first PayloadChunk after {first_at:?}, then {} events",
            events.len()
        );
        let (last_kind, last) = events.pop().unwrap();
        assert_eq!(last_kind, "InvokeComplete");
        let complete: serde_json::Value = serde_json::from_slice(&last).unwrap();
        if expected_end == "{}" {
            assert_eq!(complete, serde_json::json!({}));
            assert_eq!(events, [("PayloadChunk".to_owned(), Bytes::from("second"))]);
        } else {
            assert_eq!(complete["ErrorCode"], expected_end);
            assert_eq!(complete["ErrorDetails"], "db closed");
            assert!(events.is_empty());
        }
    }
}

#[tokio::test]
async fn invoke_request_response_event_and_errors() {
    let (seen_tx, mut seen) = tokio::sync::mpsc::unbounded_channel();
    let emulator = TestEmulator::start(
        EmulatorConfig::default(),
        move |request: Request, _: Context| {
            let seen_tx = seen_tx.clone();
            async move {
                let body = request.body().clone();
                let _ = seen_tx.send(body.clone());
                if body.as_ref() == b"\"boom\"" {
                    return Err(FunctionError::new(
                        ErrorType::new("Function.Boom").unwrap(),
                        "it broke",
                    ));
                }
                Ok(http::Response::builder()
                    .body(Body::from(format!(
                        "echo {}",
                        String::from_utf8_lossy(&body)
                    )))
                    .unwrap())
            }
        },
    )
    .await
    .unwrap();
    let address = emulator.url_addr();
    let path = "/2015-03-31/functions/local/invocations";

    let response = within(send(address, request("POST", path, &[], r#"{"a":1}"#))).await;
    assert_eq!(response.status(), 200);
    assert!(!response.headers().contains_key("x-amz-function-error"));
    // The function's bytes as written: AWS does not read the prelude on Invoke.
    let payload = within(read_all(response)).await.0;
    assert!(payload.starts_with(br#"{"statusCode":200"#), "{payload:?}");
    let (head, body) = PreludeDecoder::split_payload(&payload).unwrap();
    assert_eq!((head.status.as_u16(), body), (200, &br#"echo {"a":1}"#[..]));
    assert_eq!(seen.recv().await.unwrap(), Bytes::from(r#"{"a":1}"#));

    let response = within(send(address, request("POST", path, &[], "\"boom\""))).await;
    assert_eq!(response.headers()["x-amz-function-error"], "Unhandled");
    let body: serde_json::Value =
        serde_json::from_slice(&within(read_all(response)).await.0).unwrap();
    // The error document the runtime posted, as posted (ours adds an empty stackTrace).
    assert_eq!(
        body,
        serde_json::json!({"errorType": "Function.Boom", "errorMessage": "it broke", "stackTrace": []})
    );
    seen.recv().await.unwrap();

    let event = request(
        "POST",
        path,
        &[("x-amz-invocation-type", "Event")],
        r#"{"later":true}"#,
    );
    let response = within(send(address, event)).await;
    assert_eq!(response.status(), 202);
    assert_eq!(
        within(seen.recv()).await.unwrap(),
        Bytes::from(r#"{"later":true}"#)
    );

    let dry = request("POST", path, &[("x-amz-invocation-type", "DryRun")], "{}");
    assert_eq!(within(send(address, dry)).await.status(), 204);

    let missing = "/2015-03-31/functions/other/invocations";
    let response = within(send(address, request("POST", missing, &[], "{}"))).await;
    assert_eq!(response.status(), 404);
    assert_eq!(
        response.headers()["x-amzn-errortype"],
        "ResourceNotFoundException"
    );

    let too_big: &'static str = Box::leak("x".repeat(1024 * 1024 + 1).into_boxed_str());
    let event = request("POST", path, &[("x-amz-invocation-type", "Event")], too_big);
    let response = within(send(address, event)).await;
    assert_eq!(response.status(), 413);
    assert_eq!(
        response.headers()["x-amzn-errortype"],
        "RequestEntityTooLargeException"
    );
}

/// An emulator with `slots` concurrency slots and as many runtime loops, whose function says
/// when it starts an invocation and answers `done` only when released.
async fn gated(
    slots: usize,
) -> (
    TestEmulator,
    Arc<Notify>,
    tokio::sync::mpsc::UnboundedReceiver<Bytes>,
) {
    let release = Arc::new(Notify::new());
    let (started_tx, started) = tokio::sync::mpsc::unbounded_channel();
    let gate = release.clone();
    let emulator = TestEmulator::start(
        EmulatorConfig::default().with_max_concurrency(slots),
        move |request: Request, _: Context| {
            let (gate, started_tx) = (gate.clone(), started_tx.clone());
            async move {
                let _ = started_tx.send(request.body().clone());
                gate.notified().await;
                http::Response::builder().body(Body::from("done"))
            }
        },
    )
    .await
    .unwrap();
    (emulator, release, started)
}

#[tokio::test]
async fn one_request_over_the_concurrency_limit_gets_429() {
    let (emulator, release, mut started) = gated(2).await;
    let address = emulator.url_addr();
    let busy: Vec<_> = (0..2)
        .map(|_| tokio::spawn(send(address, common::get("/"))))
        .collect();
    // Both functions are working: every slot is taken, one more request is refused at once.
    for _ in 0..2 {
        within(started.recv()).await.unwrap();
    }
    let third = within(send(address, common::get("/"))).await;
    assert_eq!(third.status(), 429);
    assert_eq!(
        third.headers()["x-amzn-errortype"],
        "TooManyRequestsException"
    );
    assert_eq!(
        within(read_all(third)).await.0,
        br#"{"Message":"Rate Exceeded."}"#
    );
    release.notify_waiters();
    for request in busy {
        let response = within(request).await.unwrap();
        assert_eq!(within(read_all(response)).await.0, b"done");
    }
    // The slots come back when the answers are done.
    let later = tokio::spawn(send(address, common::get("/")));
    within(started.recv()).await.unwrap();
    release.notify_waiters();
    let response = within(later).await.unwrap();
    assert_eq!(response.status(), 200);
}

/// A stream that counts how far it got and whether it was dropped before its end.
#[derive(Default)]
struct Progress {
    chunks: AtomicUsize,
    dropped_early: std::sync::atomic::AtomicBool,
    finished: Notify,
}

fn slow_stream(progress: Arc<Progress>) -> Body {
    struct Guard(Arc<Progress>);
    impl Drop for Guard {
        fn drop(&mut self) {
            if self.0.chunks.load(Ordering::SeqCst) < 20 {
                self.0.dropped_early.store(true, Ordering::SeqCst);
            }
            self.0.finished.notify_one();
        }
    }
    let guard = Guard(progress);
    let chunks = stream::unfold(guard, |guard| async move {
        let done = guard.0.chunks.load(Ordering::SeqCst);
        if done == 20 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        guard.0.chunks.fetch_add(1, Ordering::SeqCst);
        Some((
            Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 1024])),
            guard,
        ))
    });
    Body::from_stream(chunks)
}

async fn disconnect_after_first_chunk(cancel: bool) -> Arc<Progress> {
    let progress = Arc::new(Progress::default());
    let shared = progress.clone();
    let emulator = TestEmulator::start(
        EmulatorConfig::default().with_cancel_on_disconnect(cancel),
        move |_: Request, _: Context| {
            let body = slow_stream(shared.clone());
            async move { http::Response::builder().body(body) }
        },
    )
    .await
    .unwrap();
    let response = within(send(emulator.url_addr(), common::get("/"))).await;
    let mut body = response.into_body();
    within(body.frame()).await.unwrap().unwrap();
    drop(body); // the client goes away
    within(progress.finished.notified()).await;
    // The loop serves the next request either way.
    let response = within(send(emulator.url_addr(), common::get("/"))).await;
    assert_eq!(response.status(), 200);
    drop(emulator);
    progress
}

#[tokio::test]
async fn a_client_disconnect_does_not_stop_the_function_as_on_aws() {
    let progress = disconnect_after_first_chunk(false).await;
    assert_eq!(progress.chunks.load(Ordering::SeqCst), 20, "ran to its end");
    assert!(!progress.dropped_early.load(Ordering::SeqCst));
}

#[tokio::test]
async fn cancel_on_disconnect_drops_the_handler_stream() {
    let progress = disconnect_after_first_chunk(true).await;
    assert!(
        progress.dropped_early.load(Ordering::SeqCst),
        "the stream was dropped"
    );
    assert!(progress.chunks.load(Ordering::SeqCst) < 20);
}

/// `DryRun` checks that the caller may invoke and runs nothing: allowed on both invoke routes
/// (the API takes `RequestResponse | DryRun` for `InvokeWithResponseStream`), answered `204`
/// even while every concurrency slot is taken, since it takes none.
#[tokio::test]
async fn a_dry_run_runs_nothing_on_either_route_and_takes_no_slot() {
    let (emulator, release, mut started) = gated(1).await;
    let address = emulator.url_addr();
    let busy = tokio::spawn(send(address, common::get("/")));
    within(started.recv()).await.unwrap();
    for path in [
        "/2015-03-31/functions/local/invocations",
        "/2021-11-15/functions/local/response-streaming-invocations",
    ] {
        let dry = request("POST", path, &[("x-amz-invocation-type", "DryRun")], "{}");
        let response = within(send(address, dry)).await;
        assert_eq!(response.status(), 204, "{path}");
        assert!(within(read_all(response)).await.0.is_empty());
    }
    assert!(started.try_recv().is_err(), "nothing ran");
    release.notify_waiters();
    let response = within(busy).await.unwrap();
    assert_eq!(within(read_all(response)).await.0, b"done");
}

#[tokio::test]
async fn an_async_invocation_is_queued_for_a_slot_where_a_sync_one_gets_429() {
    let (emulator, release, mut started) = gated(1).await;
    let address = emulator.url_addr();
    let path = "/2015-03-31/functions/local/invocations";
    let busy = tokio::spawn(send(address, request("POST", path, &[], r#"{"n":1}"#)));
    assert_eq!(within(started.recv()).await.unwrap(), r#"{"n":1}"#);
    // The only slot is taken: a synchronous call is throttled, an Event is accepted.
    let sync = within(send(address, request("POST", path, &[], r#"{"n":2}"#))).await;
    assert_eq!(sync.status(), 429);
    assert_eq!(
        sync.headers()["x-amzn-errortype"],
        "TooManyRequestsException"
    );
    let event = [("x-amz-invocation-type", "Event")];
    let queued = within(send(address, request("POST", path, &event, r#"{"n":3}"#))).await;
    assert_eq!(queued.status(), 202);
    assert!(within(read_all(queued)).await.0.is_empty());
    // A second event waits behind it.
    let queued = within(send(address, request("POST", path, &event, r#"{"n":4}"#))).await;
    assert_eq!(queued.status(), 202);
    // The slot frees: the queued events run then, in order, each before any later request.
    release.notify_one();
    within(read_all(within(busy).await.unwrap())).await;
    assert_eq!(within(started.recv()).await.unwrap(), r#"{"n":3}"#);
    let sync = within(send(address, request("POST", path, &[], r#"{"n":5}"#))).await;
    assert_eq!(sync.status(), 429, "the first event holds the slot");
    release.notify_one();
    assert_eq!(within(started.recv()).await.unwrap(), r#"{"n":4}"#);
    release.notify_one();
    assert!(started.try_recv().is_err(), "the refused call never ran");
}
