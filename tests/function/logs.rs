//! The default logs: `examples/hello` on the real loop against a Runtime API, with Lambda's
//! `AWS_LAMBDA_LOG_FORMAT` set, writes lines Lambda (and CloudWatch) can read: JSON objects with
//! `level`, `message` and, inside an invocation, `requestId` (lines its body logs as it streams
//! too); or text carrying the request id. Pages ended by their continuation log no warning.

use std::process::Stdio;

use lambda_stream::testing::RuntimeApiServer;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Command;

use crate::common::{binary, within};

/// Runs `hello` with `format`, invokes it twice, and returns its stdout and the request ids.
async fn logs_of_two_invocations(format: &str, level: &str) -> (String, Vec<String>) {
    let env = [
        ("AWS_LAMBDA_LOG_FORMAT", format),
        ("AWS_LAMBDA_LOG_LEVEL", level),
    ];
    let greetings = [r#"{"name":"Ada"}"#, r#"{"name":"Grace"}"#].map(|name| {
        http::Request::post("/")
            .body(bytes::Bytes::from(name))
            .unwrap()
    });
    logs_of("hello", &env, &greetings).await
}

/// Runs the example `name` with `env` on the real loop, invokes it with each request, and
/// returns its stdout and the request ids, once every invocation's stats line is written.
async fn logs_of(
    name: &str,
    env: &[(&str, &str)],
    requests: &[http::Request<bytes::Bytes>],
) -> (String, Vec<String>) {
    let server = RuntimeApiServer::start().await.unwrap();
    let mut function = Command::new(binary(name).await)
        .env("AWS_LAMBDA_RUNTIME_API", server.runtime_api().authority())
        .env_remove("RUST_LOG")
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut ids = Vec::new();
    for request in requests {
        let capture = within(server.invoke_request(request)).await.unwrap();
        // `/2018-06-01/runtime/invocation/{id}/response`
        let id = capture.path.rsplit('/').nth(1).unwrap().to_owned();
        ids.push(id);
    }
    // The stats line is written once the answer is delivered: read until all are there.
    let mut lines = BufReader::new(function.stdout.take().unwrap()).lines();
    let mut stdout = String::new();
    let mut completions = 0;
    while completions < ids.len() {
        let line = within(lines.next_line())
            .await
            .unwrap()
            .expect("the function exited");
        completions +=
            usize::from(line.contains("response complete") || line.contains("response ended"));
        stdout.push_str(&line);
        stdout.push('\n');
    }
    function.kill().await.unwrap();
    (stdout, ids)
}

/// JSON log lines, parsed.
fn json_lines(stdout: &str) -> Vec<serde_json::Value> {
    stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line}")))
        .collect()
}

#[tokio::test]
async fn pages_ended_by_their_continuation_log_no_budget_warning() {
    let env = [
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("LAMBDA_STREAM_BUDGET", "20000"),
    ];
    let pages = ["/?rows=5000", "/?rows=5000&cursor=200"]
        .map(|path| http::Request::get(path).body(bytes::Bytes::new()).unwrap());
    let (stdout, ids) = logs_of("export_ndjson", &env, &pages).await;
    let lines = json_lines(&stdout);
    let pages: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|line| line["message"] == "response ended with its continuation")
        .collect();
    assert_eq!(pages.len(), 2, "{stdout}");
    // Old: `WARN ... crossed its budget warning threshold` on every page.
    assert!(
        lines.iter().all(|line| line["level"] != "WARN"),
        "no warning for a page that fills its budget by design:\n{stdout}"
    );
    let logged: Vec<&str> = pages
        .iter()
        .map(|line| line["requestId"].as_str().unwrap())
        .collect();
    assert_eq!(logged, ids);
}

#[tokio::test]
async fn a_budget_warning_logged_while_the_body_streams_carries_the_request_id() {
    // hello's answer is about 110 wire bytes: a 120-byte budget crosses its 80% warning (96
    // bytes) as the body streams.
    let env = [
        ("AWS_LAMBDA_LOG_FORMAT", "JSON"),
        ("LAMBDA_STREAM_BUDGET", "120"),
    ];
    let greeting = [http::Request::post("/")
        .body(bytes::Bytes::from(r#"{"name":"Ada"}"#))
        .unwrap()];
    let (stdout, ids) = logs_of("hello", &env, &greeting).await;
    let lines = json_lines(&stdout);
    let warning = lines
        .iter()
        .find(|line| line["level"] == "WARN")
        .unwrap_or_else(|| panic!("the budget warning is logged:\n{stdout}"));
    assert!(
        warning["message"]
            .as_str()
            .unwrap()
            .contains("budget warning"),
        "{warning}"
    );
    // Old: logged from the connection's task, outside the invocation's span: no requestId.
    assert_eq!(warning["requestId"], ids[0].as_str(), "{warning}");
}

#[tokio::test]
async fn json_logs_are_one_object_per_line_with_the_request_id_inside_an_invocation() {
    let (stdout, ids) = logs_of_two_invocations("JSON", "DEBUG").await;
    let lines = json_lines(&stdout);
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
