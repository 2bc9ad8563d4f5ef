//! Lambda Managed Instances: with `AWS_LAMBDA_MAX_CONCURRENCY` (here `Config::with_max_concurrency`)
//! one process serves that many invocations at once. Checked on the Runtime API side: N `/next`
//! connections open at once, N invocations in flight together (each handler waits for all the
//! others before it answers), every byte of every stream, and one failing and one panicking
//! invocation leaving the others intact.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use lambda_stream::testing::RuntimeApiServer;
use lambda_stream::{Body, Config, Context, Request, Runtime};

use crate::common;
use crate::common::within;

const N: usize = 4;
const CHUNKS: usize = 64;
/// The invocation whose stream fails half way.
const FAILING: usize = 2;
/// The invocation whose stream panics after 10 chunks.
const PANICKING: usize = 3;

/// Chunk `index` of invocation `seed`: 16 KiB that say whose they are.
fn chunk(seed: usize, index: usize) -> Bytes {
    Bytes::from(format!("{seed}:{index:03}|").repeat(16 * 1024 / 7))
}

/// Waits (up to 20 s) until `count` connections wait in `/next`.
async fn waiting_for_next(server: &RuntimeApiServer, count: usize) {
    within(async {
        while server.waiting_for_next() != count {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_process_serves_n_invocations_at_once_each_on_its_own_next() {
    let server = RuntimeApiServer::start().await.unwrap();
    let everyone_in = Arc::new(tokio::sync::Barrier::new(N));
    let handler = move |request: Request, _: Context| {
        let everyone_in = everyone_in.clone();
        async move {
            // Returns only when all N invocations are in flight at once.
            everyone_in.wait().await;
            let seed: usize = request.uri().path()[1..].parse().unwrap();
            let chunks = (0..CHUNKS).map(move |index| match (seed, index) {
                (FAILING, 32) => Err(std::io::Error::other("invocation 2 failed")),
                (PANICKING, 10) => panic!("invocation 3 panicked"),
                _ => Ok(chunk(seed, index)),
            });
            http::Response::builder().body(Body::from_stream(stream::iter(chunks)))
        }
    };
    let config = Config::new(server.runtime_api()).with_max_concurrency(N);
    let function = tokio::spawn(Runtime::new(config).run(handler));
    waiting_for_next(&server, N).await;

    let requests: Vec<_> = (0..N)
        .map(|seed| {
            http::Request::get(format!("/{seed}"))
                .body(Bytes::new())
                .unwrap()
        })
        .collect();
    let answers = within(futures_util::future::join_all(
        requests
            .iter()
            .map(|request| server.invoke_request(request)),
    ))
    .await;
    for (seed, answer) in answers.into_iter().enumerate() {
        let streamed = answer.unwrap().streamed().unwrap();
        let (sent, error) = match seed {
            FAILING => (32, Some("Function.StreamError")),
            PANICKING => (10, Some("Function.Panic")),
            _ => (CHUNKS, None),
        };
        let expected: Vec<Bytes> = (0..sent).map(|index| chunk(seed, index)).collect();
        let expected = expected.concat();
        assert_eq!(
            streamed.body.len(),
            expected.len(),
            "invocation {seed}: every byte"
        );
        assert!(
            streamed.body == expected,
            "invocation {seed}: its own bytes, in order"
        );
        let got = streamed.error.as_ref().map(|e| e.error_type().as_str());
        assert_eq!(got, error, "invocation {seed} ends as it should, alone");
    }
    // Every loop, the failed one's included, is back in `/next`.
    waiting_for_next(&server, N).await;
    assert!(!function.is_finished(), "the process serves on");
    function.abort();
}

/// `examples/hello` in a process of its own with `AWS_LAMBDA_MAX_CONCURRENCY=3`, once its three
/// loops wait in `/next`; its log (the default: text, `INFO`) goes to `stdout`.
async fn hello_serving_three(
    server: &RuntimeApiServer,
    stdout: std::process::Stdio,
) -> tokio::process::Child {
    let hello = tokio::process::Command::new(common::binary("hello").await)
        .env("AWS_LAMBDA_RUNTIME_API", server.runtime_api().authority())
        .env("AWS_LAMBDA_MAX_CONCURRENCY", "3")
        .env_remove("RUST_LOG")
        .env_remove("AWS_LAMBDA_LOG_LEVEL")
        .env_remove("AWS_LAMBDA_LOG_FORMAT")
        .stdout(stdout)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    waiting_for_next(server, 3).await;
    hello
}

/// A request `hello` answers with `{"message": "Hello, Ada!"}`.
fn greet_ada() -> http::Request<Bytes> {
    http::Request::post("/")
        .body(Bytes::from(r#"{"name":"Ada"}"#))
        .unwrap()
}

#[tokio::test]
async fn a_function_started_with_aws_lambda_max_concurrency_opens_that_many_nexts() {
    let server = RuntimeApiServer::start().await.unwrap();
    let mut hello = hello_serving_three(&server, std::process::Stdio::piped()).await;
    let request = greet_ada();
    let answer = within(server.invoke_request(&request)).await.unwrap();
    let body = answer.streamed().unwrap().body;
    assert_eq!(
        String::from_utf8_lossy(&body),
        "{\"message\": \"Hello, Ada!\"}\n"
    );
    waiting_for_next(&server, 3).await;
    hello.kill().await.unwrap();
    // hello starts one thread, as the examples do: its log says how to spread the three.
    let mut log = String::new();
    let mut stdout = hello.stdout.take().unwrap();
    within(tokio::io::AsyncReadExt::read_to_string(
        &mut stdout,
        &mut log,
    ))
    .await
    .unwrap();
    assert!(
        log.contains("these invocations take turns on one thread") && log.contains("concurrency=3"),
        "{log}"
    );
}

#[tokio::test]
async fn sigterm_stops_taking_invocations_and_lets_the_ones_in_flight_finish() {
    let server = RuntimeApiServer::start().await.unwrap();
    let hello = hello_serving_three(&server, std::process::Stdio::piped()).await;
    // hello answers in three pieces, 300 ms apart: SIGTERM arrives in the middle.
    let request = greet_ada();
    let answering = server.invoke_request(&request);
    let terminate = async {
        waiting_for_next(&server, 2).await;
        let pid = hello.id().unwrap().to_string();
        let sent = tokio::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .await;
        assert!(sent.unwrap().success());
    };
    let (answer, ()) = within(async { tokio::join!(answering, terminate) }).await;
    let streamed = answer.unwrap().streamed().unwrap();
    assert!(
        streamed.complete && streamed.error.is_none(),
        "the invocation in flight finished"
    );
    assert_eq!(
        String::from_utf8_lossy(&streamed.body),
        "{\"message\": \"Hello, Ada!\"}\n"
    );
    let ended = within(hello.wait_with_output()).await.unwrap();
    assert!(
        ended.status.success(),
        "the process ends cleanly once nothing is in flight: {}",
        ended.status
    );
    // Three loops stop on the one signal: the log says so once.
    let log = String::from_utf8_lossy(&ended.stdout);
    assert_eq!(log.matches("shutdown requested").count(), 1, "{log}");
}
