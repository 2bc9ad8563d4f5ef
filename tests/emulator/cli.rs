//! `lambda-stream serve -- <command>` with a runtime in another language (Python, standard
//! library): requests stream through, a crashed function gives 502 and is restarted.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;

use crate::common;
use crate::common::{binary, spawn_announced};

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
#[cfg_attr(missing_python3, ignore = env!("MISSING_PYTHON3"))]
async fn serves_a_python_runtime_and_restarts_it_after_a_crash() {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/functions/python_runtime.py");
    let mut command = Command::new(binary("lambda-stream").await);
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
    let output = Command::new(binary("lambda-stream").await)
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

/// `examples/hello` in embedded mode (no `AWS_LAMBDA_RUNTIME_API`) on a free port.
async fn hello_embedded() -> (std::net::SocketAddr, tokio::process::Child) {
    let mut command = Command::new(binary("hello").await);
    command
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env("LAMBDA_STREAM_PORT", "0");
    let (port, hello) = spawn_announced(command).await;
    (std::net::SocketAddr::from(([127, 0, 0, 1], port)), hello)
}

/// A POST of `json` to `/`, as `curl -d` sends it.
fn greet(json: &'static str) -> http::Request<http_body_util::Full<bytes::Bytes>> {
    http::Request::post("/")
        .header("host", "localhost")
        .body(http_body_util::Full::new(bytes::Bytes::from_static(
            json.as_bytes(),
        )))
        .unwrap()
}

#[tokio::test]
async fn the_readme_first_command_serves_the_greeting_locally() {
    use common::{read_all, send, within};
    // `cargo run --example hello` with no AWS_LAMBDA_RUNTIME_API: the embedded emulator.
    let (address, mut hello) = hello_embedded().await;
    // curl -N -d '{"name":"Alice"}' localhost:9000/
    let response = within(send(address, greet(r#"{"name":"Alice"}"#))).await;
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
#[cfg_attr(missing_python3, ignore = env!("MISSING_PYTHON3"))]
async fn concurrent_function_processes_crash_alone_and_the_rest_is_throttled() {
    use common::{read_all, send, within};
    use http_body_util::BodyExt;

    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/functions/python_runtime.py");
    let mut command = Command::new(binary("lambda-stream").await);
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
    let mut command = Command::new(binary("hello").await);
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
    let output = Command::new(binary("hello").await)
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

const PYTHON_RUNTIME: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/functions/python_runtime.py");

/// `lambda-stream serve <options> -- python3 python_runtime.py`, started and announced.
async fn serve_python(options: &[&str], env: &[(&str, &str)]) -> (u16, tokio::process::Child) {
    let mut command = Command::new(binary("lambda-stream").await);
    command
        .args(["serve", "--port", "0"])
        .args(options)
        .args(["--", "python3", PYTHON_RUNTIME])
        .envs(env.iter().copied());
    spawn_announced(command).await
}

/// The function process's id, from the runtime's `/pid` answer.
async fn function_pid(port: u16) -> u32 {
    let response = get(port, "/pid").await;
    let (status, body) = status_and_body(&response);
    assert_eq!(status, "HTTP/1.1 200 OK");
    let pid = body.strip_prefix("python streams ").unwrap_or(&body);
    pid.trim().parse().unwrap()
}

/// Whether process `pid` is gone (or a zombie nobody reaped).
fn is_gone(pid: u32) -> bool {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status.is_empty() || status.contains("State:\tZ")
}

async fn signal(pid: u32, name: &str) {
    let sent = Command::new("kill")
        .args([&format!("-{name}"), &pid.to_string()])
        .status()
        .await
        .unwrap();
    assert!(sent.success());
}

#[tokio::test]
#[cfg_attr(missing_python3, ignore = env!("MISSING_PYTHON3"))]
async fn serve_stopped_by_sigterm_or_sigkill_leaves_no_function_running() {
    for name in ["TERM", "KILL"] {
        let (port, mut cli) = serve_python(&[], &[]).await;
        let function = function_pid(port).await;
        // Busy on /hang (asleep for an hour), the function does not notice that its Runtime
        // API went away: only serve can stop it.
        let hang = tokio::spawn(async move { get(port, "/hang").await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        signal(cli.id().unwrap(), name).await;
        common::within(cli.wait()).await.unwrap();
        common::within(async {
            while !is_gone(function) {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        hang.abort();
    }
}

#[tokio::test]
#[cfg_attr(missing_python3, ignore = env!("MISSING_PYTHON3"))]
async fn serve_opens_one_runtime_api_per_function_process_and_no_other() {
    let (port, cli) = serve_python(&["--concurrency", "2"], &[]).await;
    function_pid(port).await;
    let pid = cli.id().unwrap();
    // Listening TCP sockets (state 0A) of the serve process: the URL and two Runtime APIs.
    let inodes: Vec<String> = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .unwrap()
        .filter_map(|fd| std::fs::read_link(fd.ok()?.path()).ok())
        .filter_map(|target| {
            let target = target.to_string_lossy().into_owned();
            Some(
                target
                    .strip_prefix("socket:[")?
                    .trim_end_matches(']')
                    .to_owned(),
            )
        })
        .collect();
    let tcp = std::fs::read_to_string("/proc/net/tcp").unwrap();
    let listening = tcp
        .lines()
        .skip(1)
        .map(|line| line.split_whitespace().collect::<Vec<_>>())
        .filter(|fields| fields.get(3) == Some(&"0A"))
        .filter(|fields| {
            fields
                .get(9)
                .is_some_and(|inode| inodes.iter().any(|i| i == inode))
        })
        .count();
    assert_eq!(
        listening, 3,
        "the Function URL and one Runtime API per process"
    );
}

#[tokio::test]
#[cfg_attr(missing_python3, ignore = env!("MISSING_PYTHON3"))]
async fn a_function_failing_its_init_is_answered_at_once_with_the_init_error() {
    // As AWS answers: an exit in its words, a reported init error as the document posted.
    for (how, error_type, message) in [
        (
            "crash",
            "Runtime.ExitError",
            "Error: Runtime exited with error: exit status 1",
        ),
        ("error", "Function.NoDatabase", "no database"),
    ] {
        // A 60 s timeout: each request would wait it out for a /next that never comes.
        let (port, mut cli) =
            serve_python(&["--timeout", "60"], &[("PYTHON_RUNTIME_INIT", how)]).await;
        for _ in 0..3 {
            let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
            let answer = common::invoke_raw(address, r#"{"rawPath":"/"}"#).await;
            assert!(
                answer.contains("x-amz-function-error: Unhandled"),
                "{answer}"
            );
            assert!(answer.contains(error_type), "{how}: {answer}");
            assert!(answer.contains(message), "{how}: {answer}");
        }
        cli.kill().await.unwrap();
    }
}

/// Lambda Managed Instances (`--environment-concurrency 4`): one invocation's timeout fails
/// that invocation only; the three streams in flight on the same process complete, and the
/// process is not restarted (AWS: "the timed-out invocation fails; the others go on").
#[tokio::test]
#[cfg_attr(missing_python3, ignore = env!("MISSING_PYTHON3"))]
async fn a_managed_instances_timeout_fails_one_invocation_and_not_its_environment() {
    use common::{read_all, send, within};
    let options = ["--environment-concurrency", "4", "--timeout", "4"];
    let (port, mut cli) = serve_python(&options, &[]).await;
    let address = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let before = function_pid(port).await;
    let hang = tokio::spawn(async move { send(address, common::get("/hang")).await.status() });
    // The streams start 1.5 s later: the hang times out (at 4 s) while they are half way.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let streams: Vec<_> = (0..3)
        .map(|_| {
            tokio::spawn(async move { read_all(send(address, common::get("/ticks")).await).await })
        })
        .collect();
    assert_eq!(within(hang).await.unwrap(), 502);
    for stream in streams {
        let (body, _, clean) = within(stream).await.unwrap();
        assert!(clean, "the stream was not cut");
        let ticks: Vec<String> = (0..60).map(|tick| format!("{tick:02} ")).collect();
        assert_eq!(
            String::from_utf8_lossy(&body),
            format!("python streams {}", ticks.concat())
        );
    }
    assert_eq!(
        function_pid(port).await,
        before,
        "the same process serves on"
    );
    cli.kill().await.unwrap();
}

/// `run` in embedded mode (no `AWS_LAMBDA_RUNTIME_API`): SIGTERM lets the invocation in flight
/// finish and reach its client, then the process ends cleanly.
#[tokio::test]
async fn embedded_mode_finishes_the_invocations_in_flight_on_sigterm() {
    use common::{read_all, send, within};
    let (address, mut hello) = hello_embedded().await;
    // hello answers in three pieces, 300 ms apart: SIGTERM comes after the head.
    let response = within(send(address, greet(r#"{"name":"Ada"}"#))).await;
    assert_eq!(response.status(), 200);
    signal(hello.id().unwrap(), "TERM").await;
    let (body, _, clean) = within(read_all(response)).await;
    assert!(clean, "not cut");
    assert_eq!(
        String::from_utf8_lossy(&body),
        "{\"message\": \"Hello, Ada!\"}\n"
    );
    let status = within(hello.wait()).await.unwrap();
    assert!(status.success(), "{status}");
}

#[tokio::test]
async fn an_out_of_range_timeout_is_refused_at_start() {
    let mut serve = Command::new(binary("lambda-stream").await);
    serve
        .args(["serve", "--port", "0", "--timeout", "9.3e18", "--", "true"])
        .kill_on_drop(true);
    let output = common::within(serve.output()).await.unwrap();
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("invalid value \"9.3e18\" for --timeout"),
        "{stderr}"
    );
    let mut hello = Command::new(binary("hello").await);
    hello
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env("LAMBDA_STREAM_PORT", "0")
        .env("LAMBDA_STREAM_TIMEOUT", "9.3e18")
        .kill_on_drop(true);
    let output = common::within(hello.output()).await.unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("LAMBDA_STREAM_TIMEOUT 9300000000000000000 s is out of range"),
        "{stderr}"
    );
}
