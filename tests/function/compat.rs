//! Handlers written for the official crates (`lambda_runtime`, `lambda_http`) run on the official
//! loop and on ours, behind the same emulator (`lambda-stream serve`): identical answers on
//! success; on a mid-stream error, body text (theirs) against real trailers (ours).

use lambda_stream::testing::TestEmulator;
use std::net::SocketAddr;

use lambda_stream::InvokeMode;
use lambda_stream::emulator::EmulatorConfig;
use lambda_stream::wire::FunctionError;

use crate::common::{binary, get, get_with_trailers, read_all, send, spawn_announced, within};

/// `lambda-stream serve -- <example> [official]`: the example on the chosen loop.
async fn serve_example(example: &str, official: bool) -> (SocketAddr, tokio::process::Child) {
    let function = binary(example).await;
    let mut command = tokio::process::Command::new(binary("lambda-stream").await);
    command
        .args(["serve", "--port", "0", "--"])
        .arg(function)
        .args(official.then_some("official"));
    let (port, child) = spawn_announced(command).await;
    (SocketAddr::from(([127, 0, 0, 1], port)), child)
}

/// What a client sees: status, content type, set-cookie values, body, trailers, clean end.
#[derive(Debug, PartialEq)]
struct Seen {
    status: u16,
    content_type: Option<String>,
    cookies: Vec<String>,
    body: String,
    trailers: Option<http::HeaderMap>,
    clean: bool,
}

async fn fetch(
    address: SocketAddr,
    request: http::Request<http_body_util::Full<bytes::Bytes>>,
) -> Seen {
    let response = within(send(address, request)).await;
    let status = response.status().as_u16();
    let text = |value: &http::HeaderValue| value.to_str().unwrap().to_owned();
    let content_type = response.headers().get("content-type").map(text);
    let cookies = response
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(text)
        .collect();
    let (body, trailers, clean) = within(read_all(response)).await;
    Seen {
        status,
        content_type,
        cookies,
        body: String::from_utf8(body).unwrap(),
        trailers,
        clean,
    }
}

fn stream_error(trailers: Option<&http::HeaderMap>) -> (String, String) {
    let error = FunctionError::from_trailers(trailers.expect("trailers")).expect("error trailers");
    (error.error_type().to_string(), error.message().to_owned())
}

/// `/fail` (`partial `, then an error): the official loop writes the error into the body and
/// ends cleanly; ours sends exactly what was produced, then real trailer fields.
async fn fails_mid_stream_on_both(official: SocketAddr, ours: SocketAddr) {
    let theirs = fetch(official, get_with_trailers("/fail")).await;
    assert!(theirs.body.starts_with("partial "), "{theirs:?}");
    assert!(
        theirs
            .body
            .contains("Lambda-Runtime-Function-Error-Type: Runtime.StreamError"),
        "{theirs:?}"
    );
    assert_eq!(theirs.trailers, None);
    let mine = fetch(ours, get_with_trailers("/fail")).await;
    assert_eq!((mine.body.as_str(), mine.clean), ("partial ", true));
    assert_eq!(
        stream_error(mine.trailers.as_ref()),
        ("Function.StreamError".to_owned(), "db closed".to_owned())
    );
}

#[tokio::test]
async fn a_lambda_runtime_handler_on_both_loops() {
    let (official, mut official_cli) = serve_example("migrate_lambda_runtime", true).await;
    let (ours, mut our_cli) = serve_example("migrate_lambda_runtime", false).await;

    // Success, streamed: the same bytes from both loops.
    let theirs = fetch(official, get("/")).await;
    assert_eq!(
        (
            theirs.status,
            theirs.content_type.as_deref(),
            theirs.body.as_str(),
            theirs.clean
        ),
        (200, Some("text/plain"), "hello world", true)
    );
    assert_eq!(fetch(ours, get("/")).await, theirs, "identical on success");

    // A serializable answer: a 200 JSON body on both (the value has no statusCode to map).
    let theirs = fetch(official, get("/json")).await;
    let mine = fetch(ours, get("/json")).await;
    let json = |seen: &Seen| -> serde_json::Value { serde_json::from_str(&seen.body).unwrap() };
    assert_eq!((theirs.status, mine.status), (200, 200));
    assert_eq!(json(&theirs)["path"], "/json");
    assert_eq!(json(&mine)["path"], "/json");
    assert!(
        json(&mine)["requestId"]
            .as_str()
            .is_some_and(|id| !id.is_empty())
    );

    fails_mid_stream_on_both(official, ours).await;
    official_cli.kill().await.unwrap();
    our_cli.kill().await.unwrap();
}

#[tokio::test]
async fn a_lambda_http_streaming_handler_on_both_loops() {
    let (official, mut official_cli) = serve_example("migrate_lambda_http", true).await;
    let (ours, mut our_cli) = serve_example("migrate_lambda_http", false).await;

    let theirs = fetch(official, get("/?name=Ada")).await;
    assert_eq!(
        (
            theirs.status,
            theirs.body.as_str(),
            theirs.cookies.as_slice()
        ),
        (200, "hello Ada", &["seen=1".to_owned()][..])
    );
    assert_eq!(
        fetch(ours, get("/?name=Ada")).await,
        theirs,
        "identical on success"
    );

    fails_mid_stream_on_both(official, ours).await;
    official_cli.kill().await.unwrap();
    our_cli.kill().await.unwrap();
}

/// A `lambda_http::run` handler: its request extensions, `IntoResponse` answers, cookies,
/// binary bodies and errors, in both invoke modes.
#[tokio::test]
async fn a_lambda_http_handler_in_both_invoke_modes() {
    use lambda_http::{Body, Error, IntoResponse, Request, RequestExt, Response};

    async fn handler(request: Request) -> Result<Response<Body>, Error> {
        let query = request.query_string_parameters();
        let context = request.lambda_context();
        Ok(match request.raw_http_path() {
            "/text" => {
                format!(
                    "name={} ids={:?} request={}",
                    query.first("name").unwrap_or("-"),
                    query.all("id").unwrap_or_default(),
                    !context.request_id.is_empty(),
                )
                .into_response()
                .await
            }
            "/binary" => Response::builder()
                .status(201)
                .header("content-type", "application/octet-stream")
                .header("set-cookie", "a=1")
                .header("set-cookie", "b=2")
                .body(Body::Binary(vec![0, 159, 146, 150]))?,
            _ => return Err("no such page".into()),
        })
    }

    for mode in [InvokeMode::ResponseStream, InvokeMode::Buffered] {
        let service = lambda_http::service_fn(handler);
        let config = EmulatorConfig::default().with_invoke_mode(mode);
        let emulator = TestEmulator::start(config, lambda_stream::compat::lambda_http(service))
            .await
            .unwrap();
        let address = emulator.url_addr();

        let seen = fetch(address, get("/text?name=Ada&id=1&id=2")).await;
        assert_eq!(
            (seen.status, seen.body.as_str()),
            (200, r#"name=Ada ids=["1", "2"] request=true"#),
            "{mode}"
        );
        // lambda_http gives a `String` answer no content type, and neither do we.
        assert_eq!(seen.content_type, None, "{mode}");

        let response = within(send(address, get("/binary"))).await;
        assert_eq!(response.status(), 201, "{mode}");
        let cookies: Vec<_> = response.headers().get_all("set-cookie").iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"], "{mode}");
        let (body, _, clean) = within(read_all(response)).await;
        assert_eq!((body, clean), (vec![0, 159, 146, 150], true), "{mode}");

        // An error before the first byte goes to Lambda's /error: the URL answers 502.
        let seen = fetch(address, get("/missing")).await;
        assert_eq!(seen.status, 502, "{mode}");
    }
}

/// A `lambda_runtime` handler answering a Function URL response object: mapped as a BUFFERED
/// URL maps it, in both invoke modes; an event that does not fit the handler's type is refused.
#[tokio::test]
async fn a_lambda_runtime_handler_answering_a_url_response() {
    use aws_lambda_events::lambda_function_urls::{
        LambdaFunctionUrlRequest, LambdaFunctionUrlResponse,
    };
    use lambda_runtime::{Error, LambdaEvent};

    async fn handler(
        event: LambdaEvent<LambdaFunctionUrlRequest>,
    ) -> Result<LambdaFunctionUrlResponse, Error> {
        let mut response = LambdaFunctionUrlResponse::default();
        response.status_code = 418;
        response
            .headers
            .insert("content-type", "text/plain".parse()?);
        response.cookies = vec!["tea=green".to_owned()];
        response.body = Some(format!(
            "teapot at {}",
            event.payload.raw_path.unwrap_or_default()
        ));
        Ok(response)
    }

    for mode in [InvokeMode::ResponseStream, InvokeMode::Buffered] {
        let service = lambda_runtime::service_fn(handler);
        let config = EmulatorConfig::default().with_invoke_mode(mode);
        let emulator = TestEmulator::start(config, lambda_stream::compat::lambda_runtime(service))
            .await
            .unwrap();
        let seen = fetch(emulator.url_addr(), get("/pot")).await;
        assert_eq!(
            seen,
            Seen {
                status: 418,
                content_type: Some("text/plain".into()),
                cookies: vec!["tea=green".into()],
                body: "teapot at /pot".into(),
                trailers: None,
                clean: true,
            },
            "{mode}"
        );
    }
}

/// A direct invoke (not a URL event) of a `lambda_runtime` handler with its own event type:
/// a fitting event is answered, one that does not fit is `Runtime.InvalidEvent`, and the
/// handler's own `Diagnostic` keeps its error type.
#[tokio::test]
async fn a_lambda_runtime_handler_with_its_own_event_type() {
    use lambda_runtime::{Diagnostic, LambdaEvent};
    use lambda_stream::testing::TestRuntime;

    #[derive(serde::Deserialize)]
    struct Order {
        item: String,
    }

    async fn handler(event: LambdaEvent<Order>) -> Result<serde_json::Value, Diagnostic> {
        if event.payload.item == "unicorn" {
            return Err(Diagnostic {
                error_type: "Function.OutOfStock".into(),
                error_message: "no unicorns left".into(),
            });
        }
        Ok(serde_json::json!({ "ordered": event.payload.item }))
    }

    let handler = lambda_stream::compat::lambda_runtime(lambda_runtime::service_fn(handler));
    let runtime = TestRuntime::start(handler, InvokeMode::ResponseStream)
        .await
        .unwrap();

    let capture = within(runtime.server().invoke(r#"{"item":"tea"}"#))
        .await
        .unwrap();
    let streamed = capture.streamed().unwrap();
    assert_eq!(streamed.head.status, 200);
    assert_eq!(streamed.head.headers["content-type"], "application/json");
    assert_eq!(&streamed.body[..], br#"{"ordered":"tea"}"#);

    let capture = within(runtime.server().invoke(r#"{"colour":"red"}"#))
        .await
        .unwrap();
    let error = capture.function_error().unwrap();
    assert_eq!(error.error_type().as_str(), "Runtime.InvalidEvent");
    assert!(
        error.message().contains("missing field `item`"),
        "{error:?}"
    );

    let capture = within(runtime.server().invoke(r#"{"item":"unicorn"}"#))
        .await
        .unwrap();
    let error = capture.function_error().unwrap();
    assert_eq!(
        (error.error_type().as_str(), error.message()),
        ("Function.OutOfStock", "no unicorns left")
    );
    assert!(runtime.is_running());
}
