//! The emulator's REST API front (`Front::RestApi`): a real HTTP client streams through it from
//! the real runtime loop, and each documented limit of API Gateway's response streaming is
//! exercised: repeated headers through `multiValueHeaders`, a head over the 16 KB metadata
//! window, the gateway's pacing (10 MiB, then 2 MiB/s) after Lambda's, the idle timeout by
//! endpoint type, and the gateway's 502 / 504 error shapes. Timing runs on tokio's paused clock.

use lambda_stream::testing::TestEmulator;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use http_body_util::BodyExt;
use lambda_stream::emulator::{EmulatorConfig, EndpointType, Front};
use lambda_stream::wire::RestRequestContext;
use lambda_stream::{BandwidthModel, Body, BoxError, Context, Request, Response};

use crate::common::{get, read_all, send, within};

fn rest_api(endpoint: EndpointType) -> EmulatorConfig {
    EmulatorConfig::default()
        .with_front(Front::RestApi(endpoint))
        .with_timeout(Duration::from_secs(600))
}

/// Streams what it saw in three pieces, with a repeated header and a cookie.
async fn echo(request: Request, _: Context) -> Result<Response, http::Error> {
    let stage = request
        .extensions()
        .get::<RestRequestContext>()
        .and_then(|context| context.stage.clone())
        .unwrap_or_default();
    let seen = format!("{} {} stage={stage}", request.method(), request.uri());
    let pieces = [seen, " | two".to_owned(), " | three".to_owned()];
    let body = Body::from_stream(stream::iter(pieces.map(Ok::<_, std::io::Error>)));
    http::Response::builder()
        .header("x-multi", "a")
        .header("x-multi", "b")
        .header("set-cookie", "s=1")
        .body(body)
}

#[tokio::test]
async fn a_client_streams_through_the_rest_api_with_every_header_value() {
    let emulator = TestEmulator::start(rest_api(EndpointType::Regional), echo)
        .await
        .unwrap();
    let response = send(emulator.url_addr(), get("/orders/7?q=1&q=2")).await;
    assert_eq!(response.status(), 200);
    let multi: Vec<_> = response.headers().get_all("x-multi").iter().collect();
    assert_eq!(multi, ["a", "b"], "both values, from multiValueHeaders");
    assert_eq!(response.headers()["set-cookie"], "s=1");
    let (body, _, clean) = within(read_all(response)).await;
    assert!(clean);
    assert_eq!(
        String::from_utf8(body).unwrap(),
        "GET /orders/7?q=1&q=2 stage=local | two | three"
    );
}

#[tokio::test]
async fn a_head_past_the_16_kb_metadata_window_is_the_gateways_502() {
    let handler = |_: Request, _: Context| async {
        http::Response::builder()
            .header("x-big", "v".repeat(17 * 1024))
            .body(Body::from("never"))
    };
    let emulator = TestEmulator::start(rest_api(EndpointType::Regional), handler)
        .await
        .unwrap();
    let response = send(emulator.url_addr(), get("/")).await;
    assert_eq!(response.status(), 502);
    assert_eq!(
        response.headers()["x-amzn-errortype"],
        "InternalServerErrorException"
    );
    let (body, _, _) = read_all(response).await;
    assert_eq!(body, br#"{"message":"Internal server error"}"#);
}

#[tokio::test(start_paused = true)]
async fn a_function_error_is_a_502_and_a_timeout_a_504() {
    let failing = |_: Request, _: Context| async { Err::<Response, BoxError>("boom".into()) };
    let emulator = TestEmulator::start(rest_api(EndpointType::Regional), failing)
        .await
        .unwrap();
    let response = send(emulator.url_addr(), get("/")).await;
    assert_eq!(response.status(), 502);
    let (body, _, _) = read_all(response).await;
    assert_eq!(body, br#"{"message":"Internal server error"}"#);

    let stuck = |_: Request, _: Context| async {
        tokio::time::sleep(Duration::from_secs(3600)).await;
        http::Response::builder().body(Body::from("late"))
    };
    let config = rest_api(EndpointType::Regional).with_timeout(Duration::from_secs(3));
    let emulator = TestEmulator::start(config, stuck).await.unwrap();
    let response = send(emulator.url_addr(), get("/")).await;
    assert_eq!(response.status(), 504);
    let (body, _, _) = read_all(response).await;
    assert_eq!(body, br#"{"message":"Endpoint request timed out"}"#);
}

/// A chunk now, then one after `pause`.
async fn with_a_pause(pause: Duration) -> Result<Response, http::Error> {
    let first = stream::once(async { Ok::<_, std::io::Error>(Bytes::from("first")) });
    let second = stream::once(async move {
        tokio::time::sleep(pause).await;
        Ok::<_, std::io::Error>(Bytes::from(" second"))
    });
    http::Response::builder().body(Body::from_stream(futures_util::StreamExt::chain(
        first, second,
    )))
}

#[tokio::test(start_paused = true)]
async fn an_edge_stream_silent_for_30_s_is_closed_a_regional_one_is_not() {
    let pause = Duration::from_secs(31);
    let handler = move |_: Request, _: Context| with_a_pause(pause);
    let edge = TestEmulator::start(rest_api(EndpointType::Edge), handler)
        .await
        .unwrap();
    let (body, _, clean) = read_all(send(edge.url_addr(), get("/")).await).await;
    assert_eq!(
        (&body[..], clean),
        (&b"first"[..], false),
        "cut after 30 s of silence"
    );

    let regional = TestEmulator::start(rest_api(EndpointType::Regional), handler)
        .await
        .unwrap();
    let (body, _, clean) = read_all(send(regional.url_addr(), get("/")).await).await;
    assert_eq!(
        (&body[..], clean),
        (&b"first second"[..], true),
        "5 minutes allowed"
    );
}

/// When each MiB of a 14 MiB stream reached the client, in seconds after the head.
async fn arrivals(throttle: BandwidthModel) -> Vec<f64> {
    const MIB: usize = 1024 * 1024;
    let handler = |_: Request, _: Context| async {
        let chunks =
            stream::iter((0..14).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; MIB]))));
        http::Response::builder().body(Body::from_stream(chunks))
    };
    let config = rest_api(EndpointType::Regional).with_throttle(throttle);
    let emulator = TestEmulator::start(config, handler).await.unwrap();
    let response = send(emulator.url_addr(), get("/")).await;
    let started = tokio::time::Instant::now();
    let mut body = response.into_body();
    let (mut received, mut times) = (0, Vec::new());
    while let Some(frame) = body.frame().await {
        let before = received / MIB;
        received += frame.unwrap().into_data().map_or(0, |d| d.len());
        if received / MIB > before {
            times.push(started.elapsed().as_secs_f64());
        }
    }
    times
}

#[tokio::test(start_paused = true)]
async fn paced_streams_follow_the_gateways_10_mib_then_2_mib_per_second() {
    // Lambda's own pacing off: the gateway's alone.
    let times = arrivals(BandwidthModel::UNLIMITED).await;
    assert_eq!(times.len(), 14);
    assert!(times[9] < 0.01, "the first 10 MiB at once: {times:?}");
    assert!(
        (times[13] - 2.0).abs() < 0.01,
        "then 2 MiB/s: the 14th MiB at 2 s: {times:?}"
    );
    // With Lambda's (6 MiB, then 2 MiB/s) before it, Lambda's is the tighter.
    let times = arrivals(BandwidthModel::AWS).await;
    assert!(
        (times[13] - 4.0).abs() < 0.01,
        "the 14th MiB at 4 s: {times:?}"
    );
}

#[tokio::test(start_paused = true)]
async fn a_throttled_invocation_is_the_gateways_500() {
    let slow = |_: Request, _: Context| async {
        tokio::time::sleep(Duration::from_secs(10)).await;
        http::Response::builder().body(Body::from("done"))
    };
    let config = rest_api(EndpointType::Regional).with_max_concurrency(1);
    let emulator = TestEmulator::start(config, slow).await.unwrap();
    let addr = emulator.url_addr();
    let first = tokio::spawn(async move { send(addr, get("/")).await.status() });
    // The first holds the one slot: the second is refused as Lambda refuses it.
    tokio::time::sleep(Duration::from_millis(100)).await;
    let response = send(addr, get("/")).await;
    assert_eq!(response.status(), 500);
    let (body, _, _) = read_all(response).await;
    assert_eq!(body, br#"{"message":"Internal server error"}"#);
    assert_eq!(first.await.unwrap(), 200);
}

#[tokio::test]
async fn a_buffered_integration_maps_the_proxy_response_with_every_header_value() {
    let config =
        rest_api(EndpointType::Regional).with_invoke_mode(lambda_stream::InvokeMode::Buffered);
    let emulator = TestEmulator::start(config, echo).await.unwrap();
    let response = send(emulator.url_addr(), get("/b?x=1")).await;
    assert_eq!(response.status(), 200);
    let multi: Vec<_> = response.headers().get_all("x-multi").iter().collect();
    assert_eq!(multi, ["a", "b"]);
    assert_eq!(response.headers()["set-cookie"], "s=1");
    let (body, _, _) = read_all(response).await;
    assert_eq!(body, b"GET /b?x=1 stage=local | two | three");
}

/// Sends `request` to the emulator's Runtime API as a function would; the response.
async fn runtime_api(
    emulator: &lambda_stream::emulator::Emulator,
    request: http::Request<http_body_util::Full<Bytes>>,
) -> http::Response<hyper::body::Incoming> {
    let addr = emulator.runtime_api().authority().parse().unwrap();
    send(addr, request).await
}

#[tokio::test]
async fn the_gateway_reads_no_metadata_past_its_first_16_kb() {
    // A function of another runtime, speaking the Runtime API by hand.
    let config = rest_api(EndpointType::Regional)
        .with_url_addr("127.0.0.1:0".parse().unwrap())
        .with_access_log(false);
    let emulator = lambda_stream::emulator::Emulator::start(config)
        .await
        .unwrap();
    let url = emulator.url_addr();
    let client = tokio::spawn(async move { read_all(send(url, get("/")).await).await });
    let next = runtime_api(&emulator, get("/2018-06-01/runtime/invocation/next")).await;
    let id = next.headers()["lambda-runtime-aws-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    let metadata = format!(
        r#"{{"statusCode":200,"headers":{{"x-big":"{}"}}}}"#,
        "v".repeat(17 * 1024)
    );
    let body = [metadata.as_bytes(), &[0; 8], b"payload"].concat();
    let answer = http::Request::post(format!("/2018-06-01/runtime/invocation/{id}/response"))
        .header("host", "localhost")
        .header("lambda-runtime-function-response-mode", "streaming")
        .header(
            "content-type",
            "application/vnd.awslambda.http-integration-response",
        )
        .body(http_body_util::Full::new(Bytes::from(body)))
        .unwrap();
    let _ = runtime_api(&emulator, answer).await;
    let (body, _, _) = within(client).await.unwrap();
    assert_eq!(body, br#"{"message":"Internal server error"}"#);
}

#[tokio::test(start_paused = true)]
async fn a_stream_ends_at_the_gateways_15_minutes() {
    // A chunk every minute for 20 minutes: never idle, but past the gateway's longest stream.
    let handler = |_: Request, _: Context| async {
        let ticks = stream::unfold(0u32, |minute| async move {
            (minute < 20).then_some(())?;
            tokio::time::sleep(Duration::from_secs(60)).await;
            Some((
                Ok::<_, std::io::Error>(Bytes::from(format!("{minute} "))),
                minute + 1,
            ))
        });
        http::Response::builder().body(Body::from_stream(ticks))
    };
    let config = rest_api(EndpointType::Regional).with_timeout(Duration::from_secs(3600));
    let emulator = TestEmulator::start(config, handler).await.unwrap();
    let started = tokio::time::Instant::now();
    let (body, _, clean) = read_all(send(emulator.url_addr(), get("/")).await).await;
    assert!(!clean, "cut, not ended");
    assert_eq!(
        started.elapsed().as_secs(),
        15 * 60,
        "at 15 minutes exactly"
    );
    assert!(
        String::from_utf8(body).unwrap().ends_with("13 "),
        "14 chunks, one a minute"
    );
}

/// `--cors` on a REST API front follows API Gateway's model: the gateway answers preflights
/// (an `OPTIONS` method with a mock integration, as "Enable CORS" sets up) and a Lambda proxy
/// integration's responses are the function's own (it used to pass preflights to the function
/// and ignore the setting).
#[tokio::test]
async fn cors_on_a_rest_api_answers_preflights_and_leaves_proxy_responses_alone() {
    let cors = serde_json::from_str(
        r#"{"AllowOrigins":["https://app.example"],"AllowMethods":["GET"],"AllowHeaders":["x-token"]}"#,
    )
    .unwrap();
    let config = rest_api(EndpointType::Regional).with_cors(cors);
    let emulator = TestEmulator::start(config, echo).await.unwrap();
    let preflight = http::Request::options("/orders")
        .header("host", "localhost")
        .header("origin", "https://app.example")
        .header("access-control-request-method", "GET")
        .body(http_body_util::Full::default())
        .unwrap();
    let response = within(send(emulator.url_addr(), preflight)).await;
    assert_eq!(response.status(), 200);
    let headers = response.headers().clone();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example"
    );
    assert_eq!(headers["access-control-allow-methods"], "GET");
    assert_eq!(headers["access-control-allow-headers"], "x-token");
    let (body, _, _) = within(read_all(response)).await;
    assert!(body.is_empty(), "the function did not answer it");

    let mut request = get("/orders");
    request.headers_mut().insert(
        "origin",
        http::HeaderValue::from_static("https://app.example"),
    );
    let response = within(send(emulator.url_addr(), request)).await;
    assert_eq!(response.status(), 200);
    assert!(
        response
            .headers()
            .get("access-control-allow-origin")
            .is_none(),
        "a proxy integration's response is the function's own"
    );
    let (body, _, _) = within(read_all(response)).await;
    assert!(String::from_utf8(body).unwrap().starts_with("GET /orders"));
}
