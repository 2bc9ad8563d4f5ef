//! The Lambda API's invoke routes as AWS serves them, beyond the bytes (which
//! `emulator_fidelity` and the RIE differential suite check, with the queue of asynchronous
//! invocations): qualifiers, payloads that are not JSON, tenant isolation, the metadata
//! endpoint, and API Gateway's completion notice. Each runs the real emulator on
//! `127.0.0.1:0`, read with hyper.

use lambda_stream::testing::TestEmulator;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http_body_util::Full;
use lambda_stream::emulator::EmulatorConfig;
use lambda_stream::{Body, Context, Request};

use crate::common;
use crate::common::{binary, read_all, send, spawn_announced, within};

const INVOKE: &str = "/2015-03-31/functions/local/invocations";

const PYTHON_RUNTIME: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/functions/python_runtime.py");

fn invoke(path: &str, headers: &[(&str, &str)], payload: &str) -> http::Request<Full<Bytes>> {
    let mut builder = http::Request::post(path).header("host", "localhost");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder
        .body(Full::new(Bytes::from(payload.to_owned())))
        .unwrap()
}

/// Status, error type (`x-amzn-errortype`) and body of one call.
async fn call(addr: SocketAddr, request: http::Request<Full<Bytes>>) -> (u16, String, Vec<u8>) {
    let response = within(send(addr, request)).await;
    let status = response.status().as_u16();
    let error_type = response
        .headers()
        .get("x-amzn-errortype")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, error_type, within(read_all(response)).await.0)
}

/// An emulator whose function echoes its event and counts its invocations.
async fn echo() -> (TestEmulator, Arc<AtomicUsize>) {
    let runs = Arc::new(AtomicUsize::new(0));
    let counted = runs.clone();
    let emulator = TestEmulator::start(
        EmulatorConfig::default(),
        move |request: Request, _: Context| {
            counted.fetch_add(1, Ordering::SeqCst);
            let body = request.body().clone();
            async move { http::Response::builder().body(Body::from(body)) }
        },
    )
    .await
    .unwrap();
    (emulator, runs)
}

#[tokio::test]
async fn only_latest_exists_and_payloads_must_be_json() {
    let (emulator, runs) = echo().await;
    let address = emulator.url_addr();
    for path in [
        "/2015-03-31/functions/local/invocations?Qualifier=%24LATEST",
        "/2015-03-31/functions/local:$LATEST/invocations",
    ] {
        assert_eq!(
            call(address, invoke(path, &[], "{}")).await.0,
            200,
            "{path}"
        );
    }
    for path in [
        "/2015-03-31/functions/local/invocations?Qualifier=prod",
        "/2015-03-31/functions/local:7/invocations",
        "/2021-11-15/functions/local/response-streaming-invocations?Qualifier=live",
    ] {
        let (status, error_type, body) = call(address, invoke(path, &[], "{}")).await;
        assert_eq!(
            (status, error_type.as_str()),
            (404, "ResourceNotFoundException")
        );
        let message = String::from_utf8(body).unwrap();
        assert!(message.contains("function:local:"), "{message}");
    }
    let (status, error_type, body) = call(address, invoke(INVOKE, &[], "not json")).await;
    assert_eq!(
        (status, error_type.as_str()),
        (400, "InvalidRequestContentException")
    );
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains("Could not parse request body into json")
    );
    let log_type = [("x-amz-log-type", "Everything")];
    let (status, error_type, _) = call(address, invoke(INVOKE, &log_type, "{}")).await;
    assert_eq!(
        (status, error_type.as_str()),
        (400, "InvalidParameterValueException")
    );
    assert_eq!(
        runs.load(Ordering::SeqCst),
        2,
        "only the two $LATEST calls ran"
    );
}

#[tokio::test]
async fn api_gateways_completion_notice_is_acknowledged_without_the_handler() {
    let (emulator, runs) = echo().await;
    let notice = r#"{"invokeCompletionStatus":"Success","requestId":"5b6f1d2e-0000-4000-8000-000000000000"}"#;
    let (status, _, body) = call(emulator.url_addr(), invoke(INVOKE, &[], notice)).await;
    assert_eq!((status, body.is_empty()), (200, true));
    assert_eq!(runs.load(Ordering::SeqCst), 0, "the handler did not run");
    // Anything else still reaches it.
    let other = r#"{"invokeCompletionStatus":"Success"}"#;
    call(emulator.url_addr(), invoke(INVOKE, &[], other)).await;
    assert_eq!(runs.load(Ordering::SeqCst), 1);
}

async fn serve_python(options: &[&str]) -> (u16, tokio::process::Child) {
    let mut command = tokio::process::Command::new(binary("lambda-stream").await);
    command
        .args(["serve", "--port", "0"])
        .args(options)
        .args(["--", "python3", PYTHON_RUNTIME]);
    spawn_announced(command).await
}

/// The body after the python runtime's prelude and its `python streams ` prefix.
fn python_answer(payload: &[u8]) -> String {
    let (_, body) = lambda_stream::wire::PreludeDecoder::split_payload(payload).unwrap();
    let text = String::from_utf8(body.to_vec()).unwrap();
    text.trim_start_matches("python streams ").to_owned()
}

#[tokio::test]
#[cfg_attr(missing_python3, ignore = env!("MISSING_PYTHON3"))]
async fn a_tenant_isolated_function_gets_its_tenant_and_an_environment_per_tenant() {
    let (port, _serve) = serve_python(&["--tenant-isolation"]).await;
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let as_tenant = |tenant: &'static str| {
        let headers = [("x-amz-tenant-id", tenant)];
        invoke(INVOKE, &headers, r#"{"rawPath":"/tenant"}"#)
    };
    let blue = python_answer(&call(address, as_tenant("blue")).await.2);
    let (tenant, blue_pid) = blue.split_once(' ').unwrap();
    assert_eq!(tenant, "blue");
    let again = python_answer(&call(address, as_tenant("blue")).await.2);
    assert_eq!(again, blue, "the same tenant, the same environment");
    let green = python_answer(&call(address, as_tenant("green")).await.2);
    let (tenant, green_pid) = green.split_once(' ').unwrap();
    assert_eq!(tenant, "green");
    assert_ne!(
        green_pid, blue_pid,
        "another tenant never shares an environment"
    );
    let untenanted = invoke(INVOKE, &[], r#"{"rawPath":"/tenant"}"#);
    let (status, error_type, _) = call(address, untenanted).await;
    assert_eq!(
        (status, error_type.as_str()),
        (400, "InvalidParameterValueException")
    );
    // Tenant isolation has no Function URL.
    let (status, _, body) = call(address, common::get("/tenant")).await;
    assert_eq!(status, 404);
    assert!(
        String::from_utf8(body)
            .unwrap()
            .contains("tenant isolation")
    );
}

#[tokio::test]
async fn a_tenant_id_for_a_function_without_isolation_is_refused() {
    let (emulator, runs) = echo().await;
    let headers = [("x-amz-tenant-id", "blue")];
    let (status, error_type, _) = call(emulator.url_addr(), invoke(INVOKE, &headers, "{}")).await;
    assert_eq!(
        (status, error_type.as_str()),
        (400, "InvalidParameterValueException")
    );
    assert_eq!(runs.load(Ordering::SeqCst), 0);
}

#[tokio::test]
#[cfg_attr(missing_python3, ignore = env!("MISSING_PYTHON3"))]
async fn the_metadata_endpoint_answers_the_function_its_availability_zone() {
    let (port, _serve) = serve_python(&["--region", "eu-west-1"]).await;
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let (status, _, payload) =
        call(address, invoke(INVOKE, &[], r#"{"rawPath":"/metadata"}"#)).await;
    assert_eq!(status, 200);
    assert_eq!(
        python_answer(&payload),
        r#"200 {"AvailabilityZoneID":"euw1-az1"}"#
    );
}

/// The log tail of one call: the decoded `X-Amz-Log-Result`, and the request id.
async fn tail_of(addr: SocketAddr, payload: &str) -> (Option<String>, String) {
    let tail = [("x-amz-log-type", "Tail")];
    let response = within(send(addr, invoke(INVOKE, &tail, payload))).await;
    let request_id = response.headers()["x-amzn-requestid"]
        .to_str()
        .unwrap()
        .to_owned();
    let result = response.headers().get("x-amz-log-result").map(|value| {
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value.as_bytes())
            .unwrap();
        String::from_utf8(decoded).unwrap()
    });
    within(read_all(response)).await;
    (result, request_id)
}

#[tokio::test]
#[cfg_attr(missing_python3, ignore = env!("MISSING_PYTHON3"))]
async fn a_tail_is_the_invocations_log_framed_as_lambda_frames_it() {
    let (port, _serve) = serve_python(&[]).await;
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    let (tail, id) = tail_of(address, r#"{"rawPath":"/log"}"#).await;
    let tail = tail.expect("X-Amz-Log-Result");
    let lines: Vec<&str> = tail.lines().collect();
    assert_eq!(lines[0], format!("START RequestId: {id} Version: $LATEST"));
    assert!(lines.contains(&"log line to stdout"), "{tail}");
    assert!(lines.contains(&"log line to stderr"), "{tail}");
    assert_eq!(lines[lines.len() - 2], format!("END RequestId: {id}"));
    let report = lines[lines.len() - 1];
    assert!(
        report.starts_with(&format!("REPORT RequestId: {id}\tDuration: ")),
        "{report}"
    );
    assert!(report.contains(" ms\tBilled Duration: "), "{report}");
    assert!(report.ends_with("\tMemory Size: 128 MB\t"), "{report}");
    // Only this invocation's lines: the next tail starts after them.
    let (next, _) = tail_of(address, r#"{"rawPath":"/hello"}"#).await;
    assert!(!next.unwrap().contains("log line"));
    // The last 4 KB only, as AWS keeps.
    let (long, id) = tail_of(address, r#"{"rawPath":"/log","size":10000}"#).await;
    let long = long.unwrap();
    assert_eq!(long.len(), 4096);
    assert!(long.ends_with("Memory Size: 128 MB\t\n"), "{long}");
    assert!(!long.contains("START"), "the start is cut");
    assert!(long.contains(&format!("END RequestId: {id}")));
    // Without Tail, no tail.
    let (status, _, _) = call(address, invoke(INVOKE, &[], r#"{"rawPath":"/log"}"#)).await;
    assert_eq!(status, 200);
    let plain = within(send(address, invoke(INVOKE, &[], "{}"))).await;
    assert!(!plain.headers().contains_key("x-amz-log-result"));
}
