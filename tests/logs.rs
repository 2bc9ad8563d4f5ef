//! The default logs: `examples/hello` on the real loop against a Runtime API, with Lambda's
//! `AWS_LAMBDA_LOG_FORMAT` set, writes lines Lambda (and CloudWatch) can read: JSON objects with
//! `level`, `message` and, inside an invocation, `requestId`; or text carrying the request id.

use std::process::Stdio;

use lambda_stream::testing::RuntimeApiServer;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

mod common;
use common::{example_binary, within};

/// Runs `hello` with `format`, invokes it twice, and returns its stdout and the request ids.
async fn logs_of_two_invocations(format: &str, level: &str) -> (String, Vec<String>) {
    let server = RuntimeApiServer::start().await.unwrap();
    let mut hello = Command::new(example_binary("hello").await)
        .env("AWS_LAMBDA_RUNTIME_API", server.runtime_api().authority())
        .env("AWS_LAMBDA_LOG_FORMAT", format)
        .env_remove("RUST_LOG")
        .env("AWS_LAMBDA_LOG_LEVEL", level)
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut ids = Vec::new();
    for name in ["Ada", "Grace"] {
        let request = http::Request::post("/")
            .body(bytes::Bytes::from(format!(r#"{{"name":"{name}"}}"#)))
            .unwrap();
        let capture = within(server.invoke_request(&request)).await.unwrap();
        // `/2018-06-01/runtime/invocation/{id}/response`
        let id = capture.path.rsplit('/').nth(1).unwrap().to_owned();
        ids.push(id);
    }
    // The stats line is written once the answer is delivered: read until both are there.
    let mut lines = BufReader::new(hello.stdout.take().unwrap()).lines();
    let mut stdout = String::new();
    let mut completions = 0;
    while completions < ids.len() {
        let line = within(lines.next_line())
            .await
            .unwrap()
            .expect("hello exited");
        completions += usize::from(line.contains("response complete"));
        stdout.push_str(&line);
        stdout.push('\n');
    }
    hello.kill().await.unwrap();
    (stdout, ids)
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_the_request_id_inside_an_invocation() {
    let (stdout, ids) = logs_of_two_invocations("JSON", "DEBUG").await;
    let lines: Vec<serde_json::Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect();
    assert!(!lines.is_empty(), "something was logged");
    for line in &lines {
        assert!(line["level"].is_string(), "{line}");
        assert!(line["message"].is_string(), "{line}");
        assert!(line["timestamp"].is_string(), "{line}");
    }
    let completed: Vec<&str> = lines
        .iter()
        .filter(|line| line["message"] == "response complete")
        .map(|line| line["requestId"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(
        completed, ids,
        "each invocation's stats carry its request id"
    );
    let started = lines
        .iter()
        .find(|line| line["message"] == "lambda-stream runtime started")
        .expect("the start is logged");
    assert_eq!(
        started["level"], "DEBUG",
        "shown at AWS_LAMBDA_LOG_LEVEL=DEBUG"
    );
    assert!(started.get("requestId").is_none(), "outside any invocation");
}

#[tokio::test]
async fn text_logs_carry_the_level_and_the_request_id() {
    let (stdout, ids) = logs_of_two_invocations("Text", "INFO").await;
    for id in &ids {
        let line = stdout
            .lines()
            .find(|line| line.contains("response complete") && line.contains(id.as_str()))
            .unwrap_or_else(|| panic!("no completion line for {id} in:\n{stdout}"));
        assert!(line.contains("INFO"), "{line}");
        assert!(line.contains(&format!("requestId={id}")), "{line}");
    }
    assert!(serde_json::from_str::<serde_json::Value>(stdout.lines().next().unwrap()).is_err());
    assert!(
        !stdout.contains("runtime started"),
        "debug lines are not shown at INFO"
    );
}
