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
