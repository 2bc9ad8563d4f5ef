//! `lambda-stream serve -- <command>` with a runtime in another language (Python, standard
//! library): requests stream through, a crashed function gives 502 and is restarted.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;

mod common;
use common::{example_binary, spawn_announced};

/// A plain HTTP/1.0-style GET with curl's manners: read until the server closes.
async fn get(port: u16, path: &str) -> String {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).await.unwrap();
    let request = format!("GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.unwrap();
    String::from_utf8_lossy(&response).into_owned()
}

/// Status line and the de-chunked body of a raw HTTP/1.1 response.
fn status_and_body(response: &str) -> (&str, String) {
    let (head, rest) = response.split_once("\r\n\r\n").unwrap_or((response, ""));
    let status = head.lines().next().unwrap_or_default();
    if !head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked")
    {
        return (status, rest.to_owned());
    }
    let mut decoder = lambda_stream::wire::ChunkedDecoder::new();
    let mut buf = bytes::BytesMut::from(rest.as_bytes());
    let mut body = Vec::new();
    while let Ok(Some(lambda_stream::wire::ChunkedEvent::Data(data))) = decoder.decode(&mut buf) {
        body.extend_from_slice(&data);
    }
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test]
async fn serves_a_python_runtime_and_restarts_it_after_a_crash() {
    if Command::new("python3")
        .arg("--version")
        .output()
        .await
        .is_err()
    {
        eprintln!("python3 not found: skipping");
        return;
    }
    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/functions/python_runtime.py"
    );
    let mut command = Command::new(env!("CARGO_BIN_EXE_lambda-stream"));
    command
        .args(["serve", "--port", "0", "--timeout", "10", "--"])
        .args(["python3", script]);
    let (port, mut cli) = spawn_announced(command).await;
    let within = |f| tokio::time::timeout(Duration::from_secs(20), f);

    let response = within(get(port, "/first")).await.unwrap();
    assert!(response.contains("content-type: text/plain"), "{response}");
    assert_eq!(
        status_and_body(&response),
        ("HTTP/1.1 200 OK", "python streams /first".to_owned())
    );

    let response = within(get(port, "/crash")).await.unwrap();
    assert_eq!(
        status_and_body(&response),
        (
            "HTTP/1.1 502 Bad Gateway",
            "Internal Server Error".to_owned()
        )
    );

    let response = within(get(port, "/after-restart")).await.unwrap();
    assert_eq!(
        status_and_body(&response),
        (
            "HTTP/1.1 200 OK",
            "python streams /after-restart".to_owned()
        )
    );
    cli.kill().await.unwrap();
}

#[tokio::test]
async fn bad_arguments_exit_2_with_usage() {
    let output = Command::new(env!("CARGO_BIN_EXE_lambda-stream"))
        .args(["serve", "--port", "not-a-port", "--", "true"])
        .output()
        .await
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid value \"not-a-port\" for --port"),
        "{stderr}"
    );
    assert!(stderr.contains("usage: lambda-stream serve"), "{stderr}");
}

#[tokio::test]
async fn the_readme_first_command_serves_the_greeting_locally() {
    use common::{read_all, send, within};
    // `cargo run --example hello` with no AWS_LAMBDA_RUNTIME_API: the embedded emulator.
    let mut command = Command::new(example_binary("hello").await);
    command
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env("LAMBDA_STREAM_PORT", "0");
    let (port, mut hello) = spawn_announced(command).await;
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    // curl -N -d '{"name":"Alice"}' localhost:9000/
    let request = http::Request::post("/")
        .header("host", "localhost")
        .body(http_body_util::Full::new(bytes::Bytes::from_static(
            br#"{"name":"Alice"}"#,
        )))
        .unwrap();
    let response = within(send(address, request)).await;
    assert_eq!(response.headers()["content-type"], "application/json");
    let (body, _, clean) = within(read_all(response)).await;
    assert_eq!(
        String::from_utf8_lossy(&body),
        "{\"message\": \"Hello, Alice!\"}\n"
    );
    assert!(clean);
    hello.kill().await.unwrap();
}

#[tokio::test]
async fn concurrent_function_processes_crash_alone_and_the_rest_is_throttled() {
    use common::{read_all, send, within};
    use http_body_util::BodyExt;

    let script = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/functions/python_runtime.py"
    );
    let mut command = Command::new(env!("CARGO_BIN_EXE_lambda-stream"));
    command
        .args(["serve", "--port", "0", "--concurrency", "2", "--"])
        .args(["python3", script]);
    let (port, mut cli) = spawn_announced(command).await;
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));

    // One process is busy with /slow (its first chunk is here, the rest 1.5 s later)...
    let slow = within(send(address, common::get("/slow"))).await;
    let mut slow_body = slow.into_body();
    let first = within(slow_body.frame()).await.unwrap().unwrap();
    assert_eq!(first.into_data().unwrap(), "python streams ");

    // ...the other one crashes: only its own request fails.
    let crashed = within(send(address, common::get("/crash"))).await;
    assert_eq!(crashed.status(), 502);
    let mut rest = Vec::new();
    while let Some(frame) = within(slow_body.frame()).await {
        rest.extend_from_slice(&frame.expect("/slow was not failed").into_data().unwrap());
    }
    assert_eq!(rest, b"/slow");

    // Two slow requests take both processes (once the crashed one is back); a third gets 429.
    let mut busy = Vec::new();
    for _ in 0..2 {
        let mut response = None;
        for _ in 0..100 {
            let attempt = within(send(address, common::get("/slow"))).await;
            if attempt.status() == 200 {
                response = Some(attempt);
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut body = response.expect("a process took /slow").into_body();
        within(body.frame()).await.unwrap().unwrap();
        busy.push(body);
    }
    let third = within(send(address, common::get("/"))).await;
    assert_eq!(third.status(), 429);
    assert_eq!(
        within(read_all(third)).await.0,
        br#"{"Message":"Rate Exceeded."}"#
    );
    cli.kill().await.unwrap();
}

#[tokio::test]
async fn embedded_mode_with_aws_iam_guards_the_url_and_the_invoke_api() {
    use common::{read_all, send, within};
    let mut command = Command::new(example_binary("hello").await);
    command
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env("LAMBDA_STREAM_PORT", "0")
        .env("LAMBDA_STREAM_AUTH_TYPE", "AWS_IAM")
        .env("AWS_ACCESS_KEY_ID", "AKIDEMBEDDED")
        .env("AWS_SECRET_ACCESS_KEY", "embedded-secret");
    let (port, mut hello) = spawn_announced(command).await;
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    for (path, error_type) in [
        ("/", "AccessDeniedException"),
        (
            "/2015-03-31/functions/local/invocations",
            "MissingAuthenticationTokenException",
        ),
        (
            "/2021-11-15/functions/local/response-streaming-invocations",
            "MissingAuthenticationTokenException",
        ),
    ] {
        let request = http::Request::post(path)
            .header("host", "localhost")
            .body(http_body_util::Full::new(bytes::Bytes::from_static(b"{}")))
            .unwrap();
        let response = within(send(address, request)).await;
        assert_eq!(response.status(), 403, "{path}");
        assert_eq!(response.headers()["x-amzn-errortype"], error_type, "{path}");
        within(read_all(response)).await;
    }
    hello.kill().await.unwrap();
}

#[tokio::test]
async fn a_port_in_use_is_one_readable_line_naming_the_variable() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let output = Command::new(example_binary("hello").await)
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env("LAMBDA_STREAM_PORT", port.to_string())
        .output()
        .await
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().collect();
    assert_eq!(lines.len(), 1, "one line: {stderr}");
    assert!(
        lines[0].starts_with(&format!("Error: cannot listen on 127.0.0.1:{port}: ")),
        "{stderr}"
    );
    assert!(lines[0].contains("set LAMBDA_STREAM_PORT"), "{stderr}");
    assert!(
        !lines[0].contains("Bind {"),
        "not Rust debug output: {stderr}"
    );
}
