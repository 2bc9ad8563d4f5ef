//! End to end: the real runtime loop against a raw Runtime API on 127.0.0.1:0, asserting the
//! exact bytes Lambda would receive.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{StreamExt, stream};
use lambda_stream::testing::{CapturedRequest, RuntimeApiServer, TestRuntime};
use lambda_stream::wire::{BUFFERED_RESPONSE_LIMIT, ErrorType, FunctionError, RequestContext};
use lambda_stream::{Body, Config, Context, InvokeMode, Request, Response, Runtime};

const STREAM_HEAD: &str = "Content-Type: application/vnd.awslambda.http-integration-response\r\n\
    Lambda-Runtime-Function-Response-Mode: streaming\r\n\
    Transfer-Encoding: chunked\r\n\
    Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n";

fn request_line(runtime: &TestRuntime, id: &str, route: &str) -> String {
    format!(
        "POST /2018-06-01/runtime/invocation/{id}/{route} HTTP/1.1\r\nHost: {}\r\nUser-Agent: lambda-stream/{}\r\n",
        runtime.server().address(),
        env!("CARGO_PKG_VERSION")
    )
}

fn request_id(capture: &CapturedRequest) -> String {
    capture
        .path
        .split('/')
        .nth(4)
        .unwrap_or_default()
        .to_owned()
}

async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(10), future)
        .await
        .expect("the function answered within 10 s")
}

fn text_stream(items: Vec<Result<&'static str, FunctionError>>) -> Body {
    Body::from_stream(stream::iter(items))
}

#[tokio::test]
async fn success_is_byte_exact() {
    let runtime = TestRuntime::start(
        |_req: Request, _ctx: Context| async {
            http::Response::builder()
                .status(201)
                .header("content-type", "text/plain")
                .header("set-cookie", "session=1; HttpOnly")
                .body(text_stream(vec![Ok("hello "), Ok("world")]))
        },
        InvokeMode::ResponseStream,
    )
    .await
    .unwrap();
    let capture = within(runtime.server().invoke("{}")).await.unwrap();
    let prelude = r#"{"statusCode":201,"headers":{"content-type":"text/plain"},"cookies":["session=1; HttpOnly"]}"#;
    let expected = format!(
        "{}{STREAM_HEAD}{:X}\r\n{prelude}\r\n8\r\n\0\0\0\0\0\0\0\0\r\nB\r\nhello world\r\n0\r\n\r\n",
        request_line(&runtime, &request_id(&capture), "response"),
        prelude.len()
    );
    assert_eq!(String::from_utf8_lossy(&capture.raw), expected);
    // The prelude JSON and the 8 NULs travel as separate chunks (cargo lambda reads them so).
    assert_eq!(capture.chunks[0], prelude.as_bytes());
    assert_eq!(capture.chunks[1], &[0u8; 8][..]);
    // The two items were ready together: they travel as one chunk (nothing waited for them).
    assert_eq!(capture.chunks[2], &b"hello world"[..]);
}

/// Each chunk is one or more whole, consecutive items: merged, never split or reordered.
fn assert_whole_items(chunks: &[Bytes], items: &[Bytes]) {
    let mut items = items.iter();
    for chunk in chunks {
        let mut rest = &chunk[..];
        while !rest.is_empty() {
            let item = items.next().expect("a chunk holds more than the items");
            assert!(rest.starts_with(item), "an item was split or reordered");
            rest = &rest[item.len()..];
        }
    }
    assert!(items.all(|item| item.is_empty()), "items were not sent");
}

#[tokio::test]
async fn mid_stream_error_ends_with_real_trailers_and_nothing_after() {
    let polled_after_error = Arc::new(AtomicBool::new(false));
    let flag = polled_after_error.clone();
    let runtime = TestRuntime::start(
        move |_req: Request, _ctx: Context| {
            let flag = flag.clone();
            async move {
                let error = FunctionError::new(
                    ErrorType::new("Function.UpstreamGone").unwrap(),
                    "db closed\r\nthe connection",
                );
                let items = stream::iter([Ok(Bytes::from("partial")), Err(error)]).chain(
                    stream::poll_fn(move |_| {
                        flag.store(true, Ordering::SeqCst);
                        std::task::Poll::Ready(Some(Ok(Bytes::from("never"))))
                    }),
                );
                http::Response::builder().body(Body::from_stream(items))
            }
        },
        InvokeMode::ResponseStream,
    )
    .await
    .unwrap();
    let capture = within(runtime.server().invoke("{}")).await.unwrap();
    let raw = String::from_utf8_lossy(&capture.raw).into_owned();
    // base64 of {"errorType":"Function.UpstreamGone","errorMessage":"db closed\r\nthe connection"}
    let tail = "7\r\npartial\r\n0\r\n\
        Lambda-Runtime-Function-Error-Type: Function.UpstreamGone\r\n\
        Lambda-Runtime-Function-Error-Body: eyJlcnJvclR5cGUiOiJGdW5jdGlvbi5VcHN0cmVhbUdvbmUiLCJlcnJvck1lc3NhZ2UiOiJkYiBjbG9zZWRcclxudGhlIGNvbm5lY3Rpb24ifQ==\r\n\r\n";
    assert!(raw.ends_with(tail), "{raw:?}");
    assert!(
        !polled_after_error.load(Ordering::SeqCst),
        "stream polled after its error"
    );
    let streamed = capture.streamed().unwrap();
    assert_eq!(&streamed.body[..], b"partial");
    let error = streamed.error.unwrap();
    assert_eq!(error.error_type().as_str(), "Function.UpstreamGone");
    assert_eq!(error.message(), "db closed\r\nthe connection");
    assert!(streamed.complete);
}

#[tokio::test]
async fn error_before_first_byte_goes_to_error_endpoint() {
    let runtime = TestRuntime::start(
        |req: Request, _ctx: Context| async move {
            if req.uri().path() == "/handler" {
                return Err(std::io::Error::other("no such user").into());
            }
            // The body fails before its first byte: the head is not committed yet.
            let error = FunctionError::new(ErrorType::new("Function.NotFound").unwrap(), "gone");
            http::Response::builder()
                .body(text_stream(vec![Err(error)]))
                .map_err(lambda_stream::BoxError::from)
        },
        InvokeMode::ResponseStream,
    )
    .await
    .unwrap();
    let handler_error = http::Request::get("/handler").body(Bytes::new()).unwrap();
    let capture = within(runtime.server().invoke_request(&handler_error))
        .await
        .unwrap();
    let body =
        r#"{"errorMessage":"no such user","errorType":"Function.HandlerError","stackTrace":[]}"#;
    let expected = format!(
        "{}Content-Type: application/json\r\nLambda-Runtime-Function-Error-Type: Function.HandlerError\r\nContent-Length: {}\r\n\r\n{body}",
        request_line(&runtime, &request_id(&capture), "error"),
        body.len()
    );
    assert_eq!(String::from_utf8_lossy(&capture.raw), expected);

    let body_error = http::Request::get("/body").body(Bytes::new()).unwrap();
    let capture = within(runtime.server().invoke_request(&body_error))
        .await
        .unwrap();
    let error = capture.function_error().unwrap();
    assert_eq!(error.error_type().as_str(), "Function.NotFound");
    assert_eq!(error.message(), "gone");
}

#[tokio::test]
async fn panics_are_reported_and_the_loop_goes_on() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let runtime = TestRuntime::start(
        move |req: Request, _ctx: Context| {
            let call = counter.fetch_add(1, Ordering::SeqCst);
            async move {
                match req.uri().path() {
                    "/panic" => panic!("handler bug #{call}"),
                    "/panic-mid-stream" => {
                        let items = stream::iter([Ok::<_, std::io::Error>("first")]).chain(
                            stream::poll_fn(|_| -> std::task::Poll<Option<Result<&str, _>>> {
                                panic!("stream bug")
                            }),
                        );
                        http::Response::builder().body(Body::from_stream(items))
                    }
                    _ => http::Response::builder().body(Body::from("still alive")),
                }
            }
        },
        InvokeMode::ResponseStream,
    )
    .await
    .unwrap();
    let get = |path: &str| http::Request::get(path).body(Bytes::new()).unwrap();

    let capture = within(runtime.server().invoke_request(&get("/panic")))
        .await
        .unwrap();
    let error = capture.function_error().unwrap();
    assert_eq!(error.error_type(), &ErrorType::PANIC);
    assert_eq!(error.message(), "handler panicked: handler bug #0");

    let capture = within(runtime.server().invoke_request(&get("/panic-mid-stream")))
        .await
        .unwrap();
    let streamed = capture.streamed().unwrap();
    assert_eq!(&streamed.body[..], b"first");
    assert_eq!(
        streamed.error.unwrap().message(),
        "handler panicked: stream bug"
    );

    let capture = within(runtime.server().invoke_request(&get("/ok")))
        .await
        .unwrap();
    assert_eq!(&capture.streamed().unwrap().body[..], b"still alive");
    assert!(runtime.is_running());
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

async fn sized_handler(req: Request, _ctx: Context) -> Result<Response, http::Error> {
    let size: usize = req.uri().query().and_then(|q| q.parse().ok()).unwrap_or(0);
    // Two chunks, so the collector sees more than one item.
    let half = size / 2;
    let items = [
        Ok::<_, std::io::Error>(Bytes::from(vec![b'a'; half])),
        Ok(Bytes::from(vec![b'a'; size - half])),
    ];
    http::Response::builder()
        .header("content-type", "text/plain")
        .header("x-multi", "1")
        .header("x-multi", "2")
        .header("set-cookie", "c=1")
        .body(Body::from_stream(stream::iter(items)))
}

#[tokio::test]
async fn buffered_mode_collects_within_the_limit() {
    let runtime = TestRuntime::start(sized_handler, InvokeMode::Buffered)
        .await
        .unwrap();
    let get = |size: usize| {
        http::Request::get(format!("/?{size}"))
            .body(Bytes::new())
            .unwrap()
    };
    let capture = within(runtime.server().invoke_request(&get(4)))
        .await
        .unwrap();
    let payload = r#"{"statusCode":200,"headers":{"content-type":"text/plain","x-multi":"1, 2"},"body":"aaaa","isBase64Encoded":false,"cookies":["c=1"]}"#;
    let expected = format!(
        "{}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{payload}",
        request_line(&runtime, &request_id(&capture), "response"),
        payload.len()
    );
    assert_eq!(String::from_utf8_lossy(&capture.raw), expected);

    // The payload, not the body, is what Lambda limits: find the body size that makes the
    // payload exactly 6,291,556 bytes, then go one over.
    let overhead = payload.len() - 4;
    let fits = BUFFERED_RESPONSE_LIMIT - overhead;
    let capture = within(runtime.server().invoke_request(&get(fits)))
        .await
        .unwrap();
    assert_eq!(capture.body.len(), BUFFERED_RESPONSE_LIMIT);
    let (head, body) = capture.buffered().unwrap();
    assert_eq!((head.status.as_u16(), body.len()), (200, fits));

    let capture = within(runtime.server().invoke_request(&get(fits + 1)))
        .await
        .unwrap();
    let (head, body) = capture.buffered().unwrap();
    assert_eq!(head.status.as_u16(), 413);
    let error: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(error["errorType"], "Function.ResponseSizeTooLarge");
    assert!(capture.body.len() < 512, "the refusal is small");
}

#[tokio::test]
async fn buffered_mode_reports_stream_errors_to_error_endpoint() {
    let runtime = TestRuntime::start(
        |_req: Request, _ctx: Context| async {
            let error = FunctionError::new(ErrorType::new("Function.Broken").unwrap(), "late");
            http::Response::builder().body(text_stream(vec![Ok("some"), Err(error)]))
        },
        InvokeMode::Buffered,
    )
    .await
    .unwrap();
    let capture = within(runtime.server().invoke("{}")).await.unwrap();
    assert_eq!(
        capture.function_error().unwrap().error_type().as_str(),
        "Function.Broken"
    );
}

#[tokio::test]
async fn decoding_our_bytes_gives_back_what_the_handler_produced() {
    let chunks: Vec<Bytes> = vec![
        Bytes::from_static(b"\0\0\0\0\0\0\0\0"),
        Bytes::from(vec![0xff; 70_000]),
        Bytes::from_static(b"\r\n0\r\n\r\n"),
        Bytes::from((0..=255u8).collect::<Vec<_>>()),
    ];
    let produced = chunks.clone();
    let runtime = TestRuntime::start(
        move |_req: Request, _ctx: Context| {
            let chunks = produced.clone();
            async move {
                let items = stream::iter(chunks.into_iter().map(Ok::<_, std::io::Error>));
                http::Response::builder()
                    .header("content-type", "application/octet-stream")
                    .body(Body::from_stream(items))
            }
        },
        InvokeMode::ResponseStream,
    )
    .await
    .unwrap();
    let capture = within(runtime.server().invoke("{}")).await.unwrap();
    // Small ready items share a chunk; an item of 16 KiB or more goes alone.
    assert_whole_items(&capture.chunks[2..], &chunks);
    assert_eq!(
        capture.chunks[2..]
            .iter()
            .map(Bytes::len)
            .collect::<Vec<_>>(),
        [8, 70_000, 7 + 256]
    );
    let streamed = capture.streamed().unwrap();
    assert_eq!(streamed.body, chunks.concat());
    assert_eq!(streamed.error, None);
}

#[tokio::test]
async fn handlers_see_the_request_and_the_context() {
    let runtime = TestRuntime::start(
        |req: Request, ctx: Context| async move {
            let source_ip = req
                .extensions()
                .get::<RequestContext>()
                .and_then(|c| c.http.source_ip.clone())
                .unwrap_or_default();
            let summary = serde_json::json!({
                "method": req.method().as_str(),
                "uri": req.uri().to_string(),
                "cookie": req.headers().get("cookie").and_then(|v| v.to_str().ok()),
                "body": String::from_utf8_lossy(req.body()),
                "request_id": ctx.request_id,
                "arn": ctx.invoked_function_arn,
                "has_deadline": ctx.deadline.is_some(),
                "trace": ctx.trace_id,
                "source_ip": source_ip,
            });
            http::Response::builder().body(Body::from(summary.to_string()))
        },
        InvokeMode::ResponseStream,
    )
    .await
    .unwrap();
    let request = http::Request::post("/items?page=2")
        .header("cookie", "a=1; b=2")
        .header("content-type", "application/octet-stream")
        .body(Bytes::from_static(b"\x00\x01binary"))
        .unwrap();
    let capture = within(runtime.server().invoke_request(&request))
        .await
        .unwrap();
    let seen: serde_json::Value =
        serde_json::from_slice(&capture.streamed().unwrap().body).unwrap();
    assert_eq!(seen["method"], "POST");
    assert_eq!(seen["uri"], "/items?page=2");
    assert_eq!(seen["cookie"], "a=1; b=2");
    assert_eq!(seen["body"], "\u{0}\u{1}binary");
    assert_eq!(seen["request_id"], request_id(&capture));
    assert_eq!(seen["arn"], RuntimeApiServer::FUNCTION_ARN);
    assert_eq!(seen["has_deadline"], true);
    assert_eq!(seen["source_ip"], "127.0.0.1");
    assert!(seen["trace"].as_str().unwrap().starts_with("Root=1-"));
}

#[tokio::test]
async fn reader_and_channel_bodies_stream() {
    let runtime = TestRuntime::start(
        |req: Request, _ctx: Context| async move {
            if req.uri().path() == "/reader" {
                let data: &'static [u8] = b"line 1\nline 2\n";
                return http::Response::builder().body(Body::from_reader_with_capacity(data, 7));
            }
            let (sender, body) = Body::channel_with_capacity(1);
            tokio::spawn(async move {
                for step in 0..5 {
                    if sender.send(format!("step {step}\n")).await.is_err() {
                        return;
                    }
                }
                let _ = sender.fail(std::io::Error::other("worker stopped")).await;
            });
            http::Response::builder().body(body)
        },
        InvokeMode::ResponseStream,
    )
    .await
    .unwrap();
    let get = |path: &str| http::Request::get(path).body(Bytes::new()).unwrap();
    let capture = within(runtime.server().invoke_request(&get("/reader")))
        .await
        .unwrap();
    assert_whole_items(
        &capture.chunks[2..],
        &[Bytes::from("line 1\n"), Bytes::from("line 2\n")],
    );

    let capture = within(runtime.server().invoke_request(&get("/channel")))
        .await
        .unwrap();
    let streamed = capture.streamed().unwrap();
    assert_eq!(
        &streamed.body[..],
        b"step 0\nstep 1\nstep 2\nstep 3\nstep 4\n"
    );
    assert_eq!(streamed.error.unwrap().message(), "worker stopped");
}

#[tokio::test]
async fn empty_body_still_sends_prelude_and_delimiter() {
    let runtime = TestRuntime::start(
        |_req: Request, _ctx: Context| async {
            http::Response::builder().status(204).body(Body::empty())
        },
        InvokeMode::ResponseStream,
    )
    .await
    .unwrap();
    let capture = within(runtime.server().invoke("{}")).await.unwrap();
    let raw = String::from_utf8_lossy(&capture.raw).into_owned();
    assert!(
        raw.ends_with("\r\n8\r\n\0\0\0\0\0\0\0\0\r\n0\r\n\r\n"),
        "{raw:?}"
    );
    assert_eq!(capture.streamed().unwrap().head.status, 204);
}

#[tokio::test]
async fn invalid_head_is_a_function_error_not_a_broken_stream() {
    let runtime = TestRuntime::start(
        |_req: Request, _ctx: Context| async {
            http::Response::builder()
                .header("x-bin", http::HeaderValue::from_bytes(b"caf\xe9").unwrap())
                .body(Body::from("never sent"))
        },
        InvokeMode::ResponseStream,
    )
    .await
    .unwrap();
    let capture = within(runtime.server().invoke("{}")).await.unwrap();
    let error = capture.function_error().unwrap();
    assert_eq!(error.error_type(), &ErrorType::INVALID_RESPONSE);
    assert!(error.message().contains("x-bin"), "{}", error.message());
}

#[tokio::test]
async fn init_failure_is_posted_to_init_error() {
    let server = RuntimeApiServer::start().await.unwrap();
    let config = Config::new(server.runtime_api());
    let result = Runtime::new(config)
        .run_with_init(|| async {
            Err::<fn(Request, Context) -> std::future::Ready<Result<Response, http::Error>>, _>(
                std::io::Error::other("missing DATABASE_URL"),
            )
        })
        .await;
    assert!(matches!(result, Err(lambda_stream::Error::Init(_))));
    let capture = within(server.init_error()).await.unwrap();
    assert_eq!(capture.path, "/2018-06-01/runtime/init/error");
    assert_eq!(
        capture.headers["lambda-runtime-function-error-type"],
        "Function.InitError"
    );
    assert_eq!(
        &capture.body[..],
        br#"{"errorMessage":"missing DATABASE_URL","errorType":"Function.InitError","stackTrace":[]}"#
    );
}

#[tokio::test]
async fn a_prefixed_runtime_api_address_works() {
    // cargo lambda passes http://host:port/.rt/<fn>; our server accepts any prefix.
    let server = RuntimeApiServer::start().await.unwrap();
    let address = format!("http://{}/.rt/my-fn", server.address());
    let config = Config::new(address.parse().unwrap());
    let task = tokio::spawn(
        Runtime::new(config).run(|_req: Request, _ctx: Context| async {
            http::Response::builder().body(Body::from("prefixed"))
        }),
    );
    let capture = within(server.invoke("{}")).await.unwrap();
    assert!(
        capture
            .path
            .starts_with("/.rt/my-fn/2018-06-01/runtime/invocation/")
    );
    assert_eq!(&capture.streamed().unwrap().body[..], b"prefixed");
    task.abort();
}

#[tokio::test]
async fn a_stream_ends_with_a_deadline_trailer_a_margin_before_the_deadline() {
    let server = RuntimeApiServer::start_with_timeout(Duration::from_secs(2))
        .await
        .unwrap();
    let config = Config::new(server.runtime_api()).with_deadline_margin(Duration::from_millis(500));
    let task = tokio::spawn(
        Runtime::new(config).run(|_req: Request, _ctx: Context| async {
            let items = stream::iter([Ok::<_, std::io::Error>(Bytes::from("started"))]);
            http::Response::builder().body(Body::from_stream(items.chain(stream::pending())))
        }),
    );
    let capture = within(server.invoke("{}")).await.unwrap();
    let streamed = capture.streamed().unwrap();
    // Complete, with the function's trailer: ended before the deadline (at it, the loop
    // aborts the connection instead). The exact instant is checked on a paused clock in the
    // crate's unit tests.
    assert!(streamed.complete, "ended cleanly, with its last chunk");
    assert_eq!(&streamed.body[..], b"started");
    assert_eq!(
        streamed.error.unwrap().error_type(),
        &ErrorType::DEADLINE_EXCEEDED
    );
    task.abort();
}

#[tokio::test]
async fn a_handler_stuck_at_the_deadline_is_stopped_and_the_loop_goes_on() {
    let server = Arc::new(
        RuntimeApiServer::start_with_timeout(Duration::from_millis(300))
            .await
            .unwrap(),
    );
    let task = tokio::spawn(Runtime::new(Config::new(server.runtime_api())).run(
        |req: Request, _ctx: Context| async move {
            if req.uri().path() == "/stuck" {
                std::future::pending::<()>().await;
            }
            http::Response::builder().body(Body::from("served"))
        },
    ));
    let get = |path: &str| http::Request::get(path).body(Bytes::new()).unwrap();
    // The stuck invocation never answers (as on Lambda, which stops the function)...
    let stuck_server = server.clone();
    let stuck = tokio::spawn(async move { stuck_server.invoke_request(&get("/stuck")).await });
    // ...and the next one is served.
    let capture = within(server.invoke_request(&get("/next-one")))
        .await
        .unwrap();
    assert_eq!(&capture.streamed().unwrap().body[..], b"served");
    assert!(!stuck.is_finished());
    stuck.abort();
    task.abort();
}

/// A REST API event with an empty list of query values (found by fuzzing, once a panic): the
/// invocation fails with `Runtime.InvalidEvent` and the loop serves the next one.
#[tokio::test]
async fn an_event_with_an_empty_query_list_fails_as_invalid_and_the_loop_goes_on() {
    let runtime = TestRuntime::start(
        |_: Request, _: Context| async { http::Response::builder().body(Body::from("served")) },
        InvokeMode::ResponseStream,
    )
    .await
    .unwrap();
    let bad = r#"{"httpMethod":"GET","path":"/","requestContext":{"httpMethod":"GET"},"multiValueQueryStringParameters":{"q":[]}}"#;
    let capture = within(runtime.server().invoke(bad)).await.unwrap();
    let error = capture.function_error().unwrap();
    assert_eq!(error.error_type(), &ErrorType::INVALID_EVENT);
    assert!(error.message().contains(r#"no value for "q""#), "{error}");
    let good = http::Request::get("/").body(Bytes::new()).unwrap();
    let capture = within(runtime.server().invoke_request(&good))
        .await
        .unwrap();
    assert_eq!(&capture.streamed().unwrap().body[..], b"served");
}
