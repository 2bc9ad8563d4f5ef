//! Differential tests: the same function and the same event through AWS's Runtime Interface
//! Emulator (RIE) and through `lambda-stream serve`, both on the Invoke API
//! (`POST /2015-03-31/functions/function/invocations`). Status, body bytes and error type must
//! agree; where RIE differs from AWS by design, a one-line comment says why and each side is
//! checked on its own. Request ids are normalised to `<id>` before any comparison.
//!
//! RIE is the binary named by `LAMBDA_STREAM_RIE` (`.ci/run` installs it). Without it (or
//! without python3) the tests are built ignored, with the reason, unless
//! `LAMBDA_STREAM_RIE_TESTS=required`: then they fail.

use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};

use bytes::Bytes;
use http_body_util::Full;
use tokio::process::{Child, Command};

use crate::common::{binary, read_all, send, spawn_announced, within};

const PYTHON_RUNTIME: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/functions/python_runtime.py");

/// The function name RIE serves (it answers 404 for any other); ours is given the same one.
const FUNCTION: &str = "function";
const INVOKE_PATH: &str = "/2015-03-31/functions/function/invocations";
/// AWS's limit on a synchronous invocation's response payload, and RIE's.
const PAYLOAD_LIMIT: usize = 6_291_556;
/// The Python runtime's prelude (`{"statusCode": 200, "headers": {...}}`, 62 bytes) and its 8 NULs.
const PYTHON_PRELUDE_AND_NULS: usize = 70;
/// The function timeout of every test but the timeout test, in seconds.
const TIMEOUT: u32 = 10;

/// RIE's path (`LAMBDA_STREAM_RIE`): the tests are built ignored where it is missing and not
/// required (tests/build.rs).
fn rie_binary() -> PathBuf {
    let path = std::env::var_os("LAMBDA_STREAM_RIE")
        .expect("LAMBDA_STREAM_RIE names AWS's RIE binary (.ci/run installs it)");
    assert!(
        Path::new(&path).is_file(),
        "LAMBDA_STREAM_RIE={path:?} is not a file"
    );
    path.into()
}

/// The function both emulators run.
enum Function {
    /// `tests/functions/python_runtime.py`, with these environment variables.
    Python(&'static [(&'static str, &'static str)]),
    /// `examples/hello`, a streaming handler on this crate.
    Hello,
}

impl Function {
    /// The command line that starts it, and its environment.
    async fn command(&self) -> (Vec<String>, Vec<(String, String)>) {
        match self {
            Function::Python(env) => (
                vec!["python3".to_owned(), PYTHON_RUNTIME.to_owned()],
                env.iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                    .collect(),
            ),
            Function::Hello => {
                let hello = binary("hello").await;
                (vec![hello.to_string_lossy().into_owned()], Vec::new())
            }
        }
    }
}

/// A running emulator; dropping it sends SIGTERM (RIE then kills its runtime, `serve` its
/// function processes).
struct Emulator {
    address: SocketAddr,
    child: Child,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        if let Some(pid) = self.child.id() {
            let _ = std::process::Command::new("kill")
                .args(["-TERM", &pid.to_string()])
                .status();
        }
    }
}

/// Two ports nobody listens on now, for RIE, which needs explicit ports. They come from below
/// Linux's ephemeral range (32768 and up), where no `bind(port 0)` of a test running beside
/// this one can take them between this check and RIE's bind, and each call in this process
/// gets ports no earlier call got.
fn free_ports() -> (u16, u16) {
    use std::sync::atomic::{AtomicU16, Ordering};
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let start = 20_000 + (std::process::id() % 5_000) as u16 * 2;
    let _ = NEXT.compare_exchange(0, start, Ordering::SeqCst, Ordering::SeqCst);
    let free = || loop {
        let port = NEXT.fetch_add(1, Ordering::SeqCst);
        assert!(port < 32_768, "no free port below the ephemeral range");
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    };
    (free(), free())
}

/// Passes a child's output through the test harness (shown for failing tests only).
fn forward(output: impl tokio::io::AsyncRead + Unpin + Send + 'static) {
    use tokio::io::AsyncBufReadExt;
    let mut lines = tokio::io::BufReader::new(output).lines();
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("rie: {line}");
        }
    });
}

/// RIE running `function` with a `timeout` in seconds, once its Invoke API accepts connections.
async fn start_rie(rie: &Path, function: &Function, timeout: u32) -> Emulator {
    let (port, runtime_port) = free_ports();
    let (command, env) = function.command().await;
    let mut child = Command::new(rie)
        .arg("--runtime-interface-emulator-address")
        .arg(format!("127.0.0.1:{port}"))
        .arg("--runtime-api-address")
        .arg(format!("127.0.0.1:{runtime_port}"))
        .args(&command)
        .env("AWS_LAMBDA_FUNCTION_TIMEOUT", timeout.to_string())
        .envs(env)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("RIE starts");
    forward(child.stdout.take().unwrap());
    forward(child.stderr.take().unwrap());
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    within(async {
        while tokio::net::TcpStream::connect(address).await.is_err() {
            let exited = child.try_wait().expect("RIE's status");
            assert!(
                exited.is_none(),
                "RIE exited before it listened: {exited:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    })
    .await;
    Emulator { address, child }
}

/// `lambda-stream serve` running `function` under RIE's function name, with a `timeout` in
/// seconds and any further `options`.
async fn start_ours(function: &Function, timeout: u32, options: &[&str]) -> Emulator {
    let (command, env) = function.command().await;
    let mut serve = Command::new(binary("lambda-stream").await);
    serve
        .args(["serve", "--port", "0", "--function-name", FUNCTION])
        .args(["--timeout", &timeout.to_string()])
        .args(options)
        .arg("--")
        .args(&command)
        .envs(env);
    let (port, child) = spawn_announced(serve).await;
    let address = SocketAddr::from(([127, 0, 0, 1], port));
    Emulator { address, child }
}

/// Both emulators running `function`: RIE first, ours second.
async fn both(rie: &Path, function: &Function, timeout: u32) -> (Emulator, Emulator) {
    let theirs = start_rie(rie, function, timeout).await;
    let ours = start_ours(function, timeout, &[]).await;
    (theirs, ours)
}

/// One answer of an emulator, as the comparisons need it.
#[derive(Debug)]
struct Answer {
    status: u16,
    /// `X-Amz-Function-Error`.
    function_error: Option<String>,
    /// `X-Amzn-ErrorType` (an API error, not the function's).
    api_error: Option<String>,
    /// `Content-Type`.
    content_type: Option<String>,
    body: Vec<u8>,
}

impl Answer {
    /// The body as text, request ids normalised.
    fn text(&self) -> String {
        normalise(&String::from_utf8_lossy(&self.body))
    }

    /// `errorType` and `errorMessage` (ids normalised) of a JSON error body; key order,
    /// spacing and other fields are not compared.
    fn error(&self) -> Option<(String, String)> {
        let value: serde_json::Value = serde_json::from_slice(&self.body).ok()?;
        let field = |name: &str| value.get(name)?.as_str().map(normalise);
        Some((field("errorType")?, field("errorMessage")?))
    }
}

/// `text` with every UUID (a request id) replaced by `<id>`.
fn normalise(text: &str) -> String {
    let is_uuid = |candidate: &[u8]| {
        candidate.len() == 36
            && candidate.iter().enumerate().all(|(i, b)| match i {
                8 | 13 | 18 | 23 => *b == b'-',
                _ => b.is_ascii_hexdigit(),
            })
    };
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut at = 0;
    while at < bytes.len() {
        if bytes.get(at..at + 36).is_some_and(is_uuid) {
            out.push_str("<id>");
            at += 36;
        } else {
            let c = text[at..].chars().next().unwrap();
            out.push(c);
            at += c.len_utf8();
        }
    }
    out
}

/// POSTs `payload` to `path` with `headers` and reads the whole answer.
async fn post(emulator: &Emulator, path: &str, headers: &[(&str, &str)], payload: &[u8]) -> Answer {
    let mut builder = http::Request::post(path).header("host", "localhost");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder
        .body(Full::new(Bytes::copy_from_slice(payload)))
        .unwrap();
    let response = within(send(emulator.address, request)).await;
    let header = |name: &str| {
        let value = response.headers().get(name)?;
        Some(value.to_str().ok()?.to_owned())
    };
    let (status, function_error) = (response.status().as_u16(), header("x-amz-function-error"));
    let (api_error, content_type) = (header("x-amzn-errortype"), header("content-type"));
    let (body, _, clean) = within(read_all(response)).await;
    assert!(clean, "the answer ended cleanly");
    Answer {
        status,
        function_error,
        api_error,
        content_type,
        body,
    }
}

/// `Invoke` (`RequestResponse`) of `payload`.
async fn invoke(emulator: &Emulator, payload: &str) -> Answer {
    post(emulator, INVOKE_PATH, &[], payload.as_bytes()).await
}

/// The same event to both; each answer is returned for the caller's comparisons.
async fn invoke_both(theirs: &Emulator, ours: &Emulator, payload: &str) -> (Answer, Answer) {
    (invoke(theirs, payload).await, invoke(ours, payload).await)
}

/// A successful answer: same status and the same bytes, and no function error on either side.
fn assert_same_success(theirs: &Answer, ours: &Answer) {
    assert_eq!(theirs.status, 200, "RIE: {theirs:?}");
    assert_eq!(theirs.function_error, None, "RIE: {theirs:?}");
    assert_eq!(ours.status, theirs.status, "ours: {:?}", ours.text());
    assert_eq!(ours.function_error, None, "ours: {:?}", ours.text());
    assert!(
        ours.body == theirs.body,
        "body bytes differ ({} bytes from ours, {} from RIE):\nours: {:?}\nRIE:  {:?}",
        ours.body.len(),
        theirs.body.len(),
        preview(&ours.body),
        preview(&theirs.body),
    );
}

/// The first 300 bytes of a body, as text.
fn preview(body: &[u8]) -> String {
    String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned()
}

/// A function error: RIE answers `rie_status` and never sends `X-Amz-Function-Error` (its
/// known gap); ours answers as AWS does, 200 with `X-Amz-Function-Error: Unhandled`.
fn assert_function_error_statuses(theirs: &Answer, ours: &Answer, rie_status: u16) {
    assert_eq!(theirs.status, rie_status, "RIE: {theirs:?}");
    assert_eq!(theirs.function_error, None, "RIE: {theirs:?}");
    assert_eq!(ours.status, 200, "ours: {:?}", ours.text());
    assert_eq!(
        ours.function_error.as_deref(),
        Some("Unhandled"),
        "ours: {:?}",
        ours.text()
    );
}

/// `examples/hello` (this crate, streaming): ours gives the same bytes as RIE, the prelude and
/// its 8 NULs included, as AWS's Invoke does.
#[tokio::test]
#[cfg_attr(missing_rie, ignore = env!("MISSING_RIE"))]
async fn a_streamed_answer_of_a_rust_function_is_the_same_bytes() {
    let rie = rie_binary();
    let (theirs, ours) = both(&rie, &Function::Hello, TIMEOUT).await;
    let (theirs, ours) = invoke_both(&theirs, &ours, r#"{"name":"Alice"}"#).await;
    assert!(
        theirs
            .text()
            .ends_with("\0\0\0\0\0\0\0\0{\"message\": \"Hello, Alice!\"}\n"),
        "RIE: {theirs:?}"
    );
    assert_same_success(&theirs, &ours);
}

/// The Python runtime's stream (prelude, NULs, two body chunks): the same bytes from both.
#[tokio::test]
#[cfg_attr(missing_rie, ignore = env!("MISSING_RIE"))]
async fn a_streamed_answer_of_a_foreign_runtime_is_the_same_bytes() {
    let rie = rie_binary();
    let (theirs, ours) = both(&rie, &Function::Python(&[]), TIMEOUT).await;
    let (theirs, ours) = invoke_both(&theirs, &ours, r#"{"rawPath":"/hello"}"#).await;
    assert!(
        theirs.text().ends_with("python streams /hello"),
        "{theirs:?}"
    );
    assert_same_success(&theirs, &ours);
}

/// A buffered answer (one `/response` with a JSON document): the same bytes from both.
#[tokio::test]
#[cfg_attr(missing_rie, ignore = env!("MISSING_RIE"))]
async fn a_buffered_answer_is_the_same_bytes() {
    let rie = rie_binary();
    let (theirs, ours) = both(&rie, &Function::Python(&[]), TIMEOUT).await;
    let (theirs, ours) = invoke_both(&theirs, &ours, r#"{"rawPath":"/buffered"}"#).await;
    assert_eq!(
        theirs.body,
        br#"{"python": "buffers", "path": "/buffered"}"#
    );
    assert_same_success(&theirs, &ours);
}

/// A handler error reported on `/error` before any answer: its body is the function's error
/// document, passed on byte for byte (its `errorType` kept, whatever it is).
#[tokio::test]
#[cfg_attr(missing_rie, ignore = env!("MISSING_RIE"))]
async fn a_handler_error_before_the_head_is_the_functions_error_document() {
    let rie = rie_binary();
    let (theirs, ours) = both(&rie, &Function::Python(&[]), TIMEOUT).await;
    let (theirs, ours) = invoke_both(&theirs, &ours, r#"{"rawPath":"/error"}"#).await;
    assert_function_error_statuses(&theirs, &ours, 200);
    assert_eq!(
        theirs.text(),
        r#"{"errorType": "OrderError", "errorMessage": "no such order"}"#
    );
    assert_eq!(ours.text(), theirs.text());
}

/// A stream that ends in error trailers after some data.
#[tokio::test]
#[cfg_attr(missing_rie, ignore = env!("MISSING_RIE"))]
async fn a_mid_stream_error_is_the_functions_error_on_ours() {
    let rie = rie_binary();
    let (theirs, ours) = both(&rie, &Function::Python(&[]), TIMEOUT).await;
    let (theirs, ours) = invoke_both(&theirs, &ours, r#"{"rawPath":"/fail-mid"}"#).await;
    // RIE buffers streams and ignores their error trailers: it answers the data sent before them.
    assert_eq!(theirs.status, 200);
    assert_eq!(theirs.function_error, None);
    assert!(theirs.text().ends_with("\0python streams "), "{theirs:?}");
    assert_eq!(ours.status, theirs.status);
    assert_eq!(ours.function_error.as_deref(), Some("Unhandled"));
    let expected = ("Function.StreamError", "the database went away");
    let error = ours.error().expect("a JSON error");
    assert_eq!((error.0.as_str(), error.1.as_str()), expected);
}

/// `Function.ResponseSizeTooLarge` from both, in RIE's (AWS's) words.
fn assert_too_large(theirs: &Answer, ours: &Answer) {
    assert_function_error_statuses(theirs, ours, 200);
    let expected = (
        "Function.ResponseSizeTooLarge".to_owned(),
        "Response payload size exceeded maximum allowed payload size (6291556 bytes).".to_owned(),
    );
    assert_eq!(theirs.error(), Some(expected), "RIE: {:?}", theirs.text());
    assert_eq!(ours.error(), theirs.error(), "ours: {:?}", ours.text());
}

/// A buffered answer of exactly 6,291,556 bytes is passed on; one byte more is
/// `Function.ResponseSizeTooLarge`.
#[tokio::test]
#[cfg_attr(missing_rie, ignore = env!("MISSING_RIE"))]
async fn a_buffered_answer_over_6_mb_is_response_size_too_large() {
    let rie = rie_binary();
    let (theirs, ours) = both(&rie, &Function::Python(&[]), TIMEOUT).await;
    let event = |size: usize| format!(r#"{{"rawPath":"/buffered","size":{size}}}"#);
    let (at_limit, ours_at_limit) = invoke_both(&theirs, &ours, &event(PAYLOAD_LIMIT)).await;
    assert_eq!(at_limit.body.len(), PAYLOAD_LIMIT);
    assert_same_success(&at_limit, &ours_at_limit);
    let (over, ours_over) = invoke_both(&theirs, &ours, &event(PAYLOAD_LIMIT + 1)).await;
    assert_too_large(&over, &ours_over);
}

/// A streamed answer whose bytes, prelude and NULs included, make exactly 6,291,556 is passed on
/// whole; one byte more is `Function.ResponseSizeTooLarge`.
#[tokio::test]
#[cfg_attr(missing_rie, ignore = env!("MISSING_RIE"))]
async fn a_streamed_answer_over_6_mb_is_response_size_too_large() {
    let rie = rie_binary();
    let (theirs, ours) = both(&rie, &Function::Python(&[]), TIMEOUT).await;
    let body_size = PAYLOAD_LIMIT - PYTHON_PRELUDE_AND_NULS;
    let event = |size: usize| format!(r#"{{"rawPath":"/stream-size","size":{size}}}"#);
    let (at_limit, ours_at_limit) = invoke_both(&theirs, &ours, &event(body_size)).await;
    assert_eq!(at_limit.body.len(), PAYLOAD_LIMIT);
    assert_same_success(&at_limit, &ours_at_limit);
    let (over, ours_over) = invoke_both(&theirs, &ours, &event(body_size + 1)).await;
    assert_too_large(&over, &ours_over);
}

/// A function that never answers, with a 2 s timeout, is stopped at it; the next invocation is
/// served by a new process on both.
#[tokio::test]
#[cfg_attr(missing_rie, ignore = env!("MISSING_RIE"))]
async fn a_timeout_is_task_timed_out_and_the_next_invocation_is_served() {
    let rie = rie_binary();
    let (theirs, ours) = both(&rie, &Function::Python(&[]), 2).await;
    let (timed_out, ours_timed_out) = invoke_both(&theirs, &ours, r#"{"rawPath":"/hang"}"#).await;
    assert_function_error_statuses(&timed_out, &ours_timed_out, 200);
    // RIE answers a timeout in bare text, no errorType; AWS answers Sandbox.Timedout JSON.
    assert_eq!(timed_out.text(), "Task timed out after 2.00 seconds");
    let (error_type, message) = ours_timed_out.error().expect("a JSON error");
    assert_eq!(error_type, "Sandbox.Timedout");
    assert!(message.ends_with(&timed_out.text()), "ours: {message:?}");
    let (next, ours_next) = invoke_both(&theirs, &ours, r#"{"rawPath":"/buffered"}"#).await;
    assert_same_success(&next, &ours_next);
}

/// A function that exits mid-invocation: `Runtime.ExitError`, in AWS's words (RIE's), and the
/// next invocation is served by a new process on both.
#[tokio::test]
#[cfg_attr(missing_rie, ignore = env!("MISSING_RIE"))]
async fn a_function_exiting_mid_invocation_is_runtime_exit_error() {
    let rie = rie_binary();
    let (theirs, ours) = both(&rie, &Function::Python(&[]), TIMEOUT).await;
    let (exited, ours_exited) = invoke_both(&theirs, &ours, r#"{"rawPath":"/crash"}"#).await;
    // RIE answers a failure of the platform 502; AWS answers 200 with X-Amz-Function-Error.
    assert_function_error_statuses(&exited, &ours_exited, 502);
    let expected = (
        "Runtime.ExitError".to_owned(),
        "RequestId: <id> Error: Runtime exited with error: exit status 3".to_owned(),
    );
    assert_eq!(exited.error(), Some(expected), "RIE: {:?}", exited.text());
    assert_eq!(
        ours_exited.error(),
        exited.error(),
        "ours: {:?}",
        ours_exited.text()
    );
    let (next, ours_next) = invoke_both(&theirs, &ours, r#"{"rawPath":"/buffered"}"#).await;
    assert_same_success(&next, &ours_next);
}

/// A function that exits during its init: every invocation fails with `Runtime.ExitError`.
#[tokio::test]
#[cfg_attr(missing_rie, ignore = env!("MISSING_RIE"))]
async fn a_function_crashing_in_its_init_is_runtime_exit_error() {
    let rie = rie_binary();
    let function = Function::Python(&[("PYTHON_RUNTIME_INIT", "crash")]);
    let (theirs, ours) = both(&rie, &function, TIMEOUT).await;
    for _ in 0..2 {
        let (failed, ours_failed) = invoke_both(&theirs, &ours, r#"{"rawPath":"/"}"#).await;
        assert_function_error_statuses(&failed, &ours_failed, 502);
        // RIE answers an init crash with an empty body; AWS names it as RIE does mid-invocation.
        assert!(failed.body.is_empty(), "RIE: {:?}", failed.text());
        let expected = (
            "Runtime.ExitError".to_owned(),
            "RequestId: <id> Error: Runtime exited with error: exit status 1".to_owned(),
        );
        assert_eq!(
            ours_failed.error(),
            Some(expected),
            "{:?}",
            ours_failed.text()
        );
    }
}

/// A function that reports `/runtime/init/error` and exits: every invocation is answered
/// with the error document it reported, byte for byte.
#[tokio::test]
#[cfg_attr(missing_rie, ignore = env!("MISSING_RIE"))]
async fn a_function_failing_its_init_is_answered_with_its_init_error_document() {
    let rie = rie_binary();
    let function = Function::Python(&[("PYTHON_RUNTIME_INIT", "error")]);
    let (theirs, ours) = both(&rie, &function, TIMEOUT).await;
    for _ in 0..2 {
        let (failed, ours_failed) = invoke_both(&theirs, &ours, r#"{"rawPath":"/"}"#).await;
        // RIE answers a failed init 502; AWS answers 200 with X-Amz-Function-Error.
        assert_function_error_statuses(&failed, &ours_failed, 502);
        let reported = r#"{"errorType": "Function.NoDatabase", "errorMessage": "no database"}"#;
        assert_eq!(failed.text(), reported);
        assert_eq!(ours_failed.text(), failed.text());
    }
}

/// `X-Amz-Invocation-Type: DryRun` and `Event`: ours answers 204 (nothing runs) and 202
/// (queued) with no body, as AWS does.
#[tokio::test]
#[cfg_attr(missing_rie, ignore = env!("MISSING_RIE"))]
async fn dry_run_and_event_invocations_are_not_run_synchronously() {
    let rie = rie_binary();
    let (theirs, ours) = both(&rie, &Function::Python(&[]), TIMEOUT).await;
    let payload = br#"{"rawPath":"/buffered"}"#;
    for (kind, status) in [("DryRun", 204), ("Event", 202)] {
        let headers = [("x-amz-invocation-type", kind)];
        let rie_answer = post(&theirs, INVOKE_PATH, &headers, payload).await;
        // RIE ignores X-Amz-Invocation-Type: it runs every invocation synchronously.
        assert_eq!(rie_answer.status, 200, "{kind}");
        assert!(
            rie_answer.text().contains("python"),
            "{kind}: {rie_answer:?}"
        );
        let our_answer = post(&ours, INVOKE_PATH, &headers, payload).await;
        assert_eq!(our_answer.status, status, "{kind}: {:?}", our_answer.text());
        assert!(our_answer.body.is_empty(), "{kind}: {our_answer:?}");
    }
}

/// `InvokeWithResponseStream` (API version 2021-11-15): ours answers a live event stream.
#[tokio::test]
#[cfg_attr(missing_rie, ignore = env!("MISSING_RIE"))]
async fn invoke_with_response_stream_is_served_by_ours_only() {
    let rie = rie_binary();
    let (theirs, ours) = both(&rie, &Function::Python(&[]), TIMEOUT).await;
    let path = "/2021-11-15/functions/function/response-streaming-invocations";
    let payload = br#"{"rawPath":"/hello"}"#;
    // RIE lacks the 2021-11-15 route: 404.
    assert_eq!(post(&theirs, path, &[], payload).await.status, 404);
    let answer = post(&ours, path, &[], payload).await;
    assert_eq!(answer.status, 200, "{:?}", answer.text());
    let content_type = answer.content_type.as_deref();
    assert_eq!(content_type, Some("application/vnd.amazon.eventstream"));
}

/// An unsigned Invoke of a function with `AWS_IAM` auth: ours refuses it, as AWS does.
#[tokio::test]
#[cfg_attr(missing_rie, ignore = env!("MISSING_RIE"))]
async fn an_unsigned_invoke_is_refused_by_ours_with_aws_iam() {
    let rie = rie_binary();
    // The keys reach `serve` (and both functions, which ignore them) through the environment.
    const KEYS: &[(&str, &str)] = &[
        ("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE"),
        (
            "AWS_SECRET_ACCESS_KEY",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
        ),
    ];
    let function = Function::Python(KEYS);
    let theirs = start_rie(&rie, &function, TIMEOUT).await;
    let ours = start_ours(&function, TIMEOUT, &["--auth-type", "AWS_IAM"]).await;
    let (rie_answer, our_answer) = invoke_both(&theirs, &ours, r#"{"rawPath":"/buffered"}"#).await;
    // RIE has no IAM: it runs any caller's invocation.
    assert_eq!(rie_answer.status, 200, "{rie_answer:?}");
    assert_eq!(our_answer.status, 403, "{:?}", our_answer.text());
    let error_type = our_answer.api_error.as_deref();
    assert_eq!(error_type, Some("MissingAuthenticationTokenException"));
}

/// A payload that is not JSON: ours refuses it (400 `InvalidRequestContentException`) as
/// AWS does, before the function runs.
#[tokio::test]
#[cfg_attr(missing_rie, ignore = env!("MISSING_RIE"))]
async fn a_payload_that_is_not_json_is_refused_by_ours() {
    let rie = rie_binary();
    let (theirs, ours) = both(&rie, &Function::Hello, TIMEOUT).await;
    let (rie_answer, our_answer) = invoke_both(&theirs, &ours, "not json").await;
    // RIE accepts non-JSON payloads: the function gets it (and fails to read an event in it).
    let (error_type, _) = rie_answer.error().expect("the function's error");
    assert_eq!(error_type, "Runtime.InvalidEvent");
    assert_eq!(our_answer.status, 400, "{:?}", our_answer.text());
    let api_error = our_answer.api_error.as_deref();
    assert_eq!(api_error, Some("InvalidRequestContentException"));
}
