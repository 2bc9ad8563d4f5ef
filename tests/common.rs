//! Helpers shared by the end-to-end tests: a real HTTP/1.1 client (hyper) over 127.0.0.1.
#![allow(dead_code, reason = "each test binary uses a subset")]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use tokio::net::TcpStream;

/// Fails the test instead of hanging when `future` takes over 20 s.
pub(crate) async fn within<T>(future: impl std::future::Future<Output = T>) -> T {
    tokio::time::timeout(Duration::from_secs(20), future)
        .await
        .expect("finished within 20 s")
}

/// Sends one request on a new connection; the body is read by the caller, frame by frame.
pub(crate) async fn send(
    addr: SocketAddr,
    request: Request<Full<Bytes>>,
) -> http::Response<Incoming> {
    let stream = TcpStream::connect(addr).await.expect("connect");
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream))
            .await
            .expect("handshake");
    tokio::spawn(connection);
    sender.send_request(request).await.expect("response head")
}

/// A GET request for `path`.
pub(crate) fn get(path: &str) -> Request<Full<Bytes>> {
    Request::get(path)
        .header("host", "localhost")
        .body(Full::default())
        .expect("valid request")
}

/// A GET request for `path` that accepts trailers (`TE: trailers`).
pub(crate) fn get_with_trailers(path: &str) -> Request<Full<Bytes>> {
    let mut request = get(path);
    request
        .headers_mut()
        .insert("te", http::HeaderValue::from_static("trailers"));
    request
}

/// Reads the first line the server sends on `stream`, without sending anything more.
pub(crate) async fn first_line(stream: &mut TcpStream) -> String {
    use tokio::io::AsyncReadExt;
    let mut answer = Vec::new();
    let mut byte = [0u8; 1];
    while !answer.ends_with(b"\r\n") {
        match within(stream.read(&mut byte)).await {
            Ok(1) => answer.push(byte[0]),
            _ => break,
        }
    }
    String::from_utf8_lossy(&answer).trim_end().to_owned()
}

/// `Invoke` (`RequestResponse`) of `payload` on a new raw connection: the whole answer as text,
/// head included, read until the server closes.
pub(crate) async fn invoke_raw(addr: SocketAddr, payload: &str) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = format!(
        "POST /2015-03-31/functions/local/invocations HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{payload}",
        payload.len()
    );
    stream.write_all(request.as_bytes()).await.expect("send");
    let mut answer = Vec::new();
    within(stream.read_to_end(&mut answer)).await.expect("read");
    String::from_utf8_lossy(&answer).into_owned()
}

/// Reads the whole body: data, trailers, and whether it ended cleanly (false: truncated).
pub(crate) async fn read_all(
    response: http::Response<Incoming>,
) -> (Vec<u8>, Option<HeaderMap>, bool) {
    let mut body = response.into_body();
    let mut data = Vec::new();
    let mut trailers = None;
    loop {
        match body.frame().await {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(chunk) => data.extend_from_slice(&chunk),
                Err(frame) => trailers = frame.into_trailers().ok(),
            },
            Some(Err(_)) => return (data, trailers, false),
            None => return (data, trailers, true),
        }
    }
}

/// Starts `command` on port 0 and reads the address it announces on stderr ("... Function URL at
/// http://127.0.0.1:PORT/ ...", or "REST API (regional) at ..."): no guessed free port, no race with other tests for it. The rest
/// of its stderr is passed through.
pub(crate) async fn spawn_announced(
    mut command: tokio::process::Command,
) -> (u16, tokio::process::Child) {
    use tokio::io::AsyncBufReadExt;
    let mut child = command
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let announced = async {
        while let Some(line) = lines.next_line().await.unwrap() {
            eprintln!("{line}");
            if let Some((_, rest)) = line.split_once(" at http://127.0.0.1:") {
                let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
                return digits.parse::<u16>().unwrap();
            }
        }
        panic!("the command exited without announcing its Function URL");
    };
    let port = tokio::time::timeout(Duration::from_secs(60), announced)
        .await
        .expect("no Function URL announced within 60 s");
    tokio::spawn(async move {
        while let Ok(Some(line)) = lines.next_line().await {
            eprintln!("{line}");
        }
    });
    (port, child)
}

/// A binary of the workspace by its name: the `lambda-stream` CLI, an example of the crate
/// (`hello`, `export_ndjson`) or an example package (`sqlite_export`). The first call in a test
/// process builds them all as `cargo test --workspace --all-features` resolved them (a no-op when they are
/// up to date; always asked for, since a binary left from an older build would test old code).
pub(crate) async fn binary(name: &str) -> std::path::PathBuf {
    static BUILT: tokio::sync::OnceCell<()> = tokio::sync::OnceCell::const_new();
    BUILT
        .get_or_init(|| async {
            let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
            let status = tokio::process::Command::new(cargo)
                .args([
                    "build",
                    "--workspace",
                    "--all-features",
                    "--bins",
                    "--examples",
                ])
                .current_dir(workspace_root())
                .status()
                .await
                .unwrap();
            assert!(status.success(), "could not build the workspace's binaries");
        })
        .await;
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    [
        profile_dir.join(name),
        profile_dir.join("examples").join(name),
    ]
    .into_iter()
    .find(|path| path.exists())
    .unwrap_or_else(|| panic!("no binary or example named {name} in the workspace"))
}

/// The workspace's root directory (the crate's own), for the files the tests read there.
pub(crate) fn workspace_root() -> &'static std::path::Path {
    std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// Held by a test that measures this process (its memory, its descriptors): such tests take
/// turns, so each measures itself alone.
pub(crate) async fn measured() -> tokio::sync::MutexGuard<'static, ()> {
    static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    ALONE.lock().await
}

/// A `kB` field of `/proc/self/status` (`VmRSS:`, `VmHWM:`), 0 where there is none.
pub(crate) fn proc_status(field: &str) -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find(|l| l.starts_with(field))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|kib| kib.parse().ok())
        .unwrap_or(0)
}

/// Runs `handler` on the real runtime loop, configured by `config`, against a fresh raw
/// Runtime API that records the exact bytes the loop sends.
pub(crate) async fn on_loop<H: lambda_stream::Handler>(
    config: impl FnOnce(lambda_stream::Config) -> lambda_stream::Config,
    handler: H,
) -> (
    lambda_stream::testing::RuntimeApiServer,
    tokio::task::JoinHandle<()>,
) {
    use lambda_stream::{Config, Runtime};
    let server = lambda_stream::testing::RuntimeApiServer::start()
        .await
        .unwrap();
    let runtime = Runtime::new(config(Config::new(server.runtime_api())));
    let task = tokio::spawn(async move {
        let _ = runtime.run(handler).await;
    });
    (server, task)
}

/// Starts `examples/bedrock_chat` on port 0 with its Bedrock client pointed at `fixture` (the
/// standard `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`, test credentials, no instance metadata), plus `env`.
pub(crate) async fn start_bedrock_chat(
    fixture: &lambda_stream::testing::BedrockFixture,
    env: &[(&str, &str)],
) -> (u16, tokio::process::Child) {
    let mut command = tokio::process::Command::new(binary("bedrock_chat").await);
    command
        .env("LAMBDA_STREAM_PORT", "0")
        .env("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", fixture.url())
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .envs(env.iter().copied());
    spawn_announced(command).await
}
