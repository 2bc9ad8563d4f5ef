//! `lambda-stream serve -- <command>` with a runtime in another language (Python, standard
//! library): requests stream through, a crashed function gives 502 and is restarted.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::process::Command;

mod common;

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

/// Starts `command` on port 0 and reads the address it announces on stderr ("... Function URL at
/// http://127.0.0.1:PORT/ ..."): no guessed free port, no race with other tests for it. The rest
/// of its stderr is passed through.
async fn spawn_announced(mut command: Command) -> (u16, tokio::process::Child) {
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
            if let Some((_, rest)) = line.split_once("Function URL at http://127.0.0.1:") {
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

/// An example binary (built by `cargo test`, which builds examples; built here when this test
/// runs alone).
async fn example_binary(name: &str) -> std::path::PathBuf {
    let exe = std::env::current_exe().unwrap();
    let profile_dir = exe.parent().and_then(|deps| deps.parent()).unwrap();
    let binary = profile_dir.join("examples").join(name);
    if !binary.exists() {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(cargo)
            .args(["build", "--example", name])
            .status()
            .await
            .unwrap();
        assert!(status.success(), "could not build the {name} example");
    }
    binary
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

async fn serve_command(command: &[&str]) -> (u16, tokio::process::Child) {
    let mut cli = Command::new(env!("CARGO_BIN_EXE_lambda-stream"));
    cli.args(["serve", "--port", "0", "--"]).args(command);
    spawn_announced(cli).await
}

#[tokio::test]
async fn official_runtime_error_is_body_text_ours_is_trailers() {
    use common::{get, get_with_trailers, read_all, send, within};
    use futures_util::stream;
    use lambda_stream::emulator::{Emulator, EmulatorConfig};
    use lambda_stream::{Body, Config, Context, Runtime};

    let binary = example_binary("official_runtime").await;
    let (port, mut cli) = serve_command(&[binary.to_str().unwrap()]).await;
    let official = std::net::SocketAddr::from(([127, 0, 0, 1], port));

    // Success: the same bytes from both runtimes.
    let response = within(send(official, get("/"))).await;
    assert_eq!(response.headers()["content-type"], "text/plain");
    let (official_ok, _, clean) = within(read_all(response)).await;
    assert_eq!((official_ok.as_slice(), clean), (&b"hello world"[..], true));

    // Failure mid-stream: the official runtime's error arrives as body text, no trailers.
    let response = within(send(official, get_with_trailers("/fail"))).await;
    let (body, trailers, _) = within(read_all(response)).await;
    let text = String::from_utf8_lossy(&body);
    assert!(text.starts_with("partial "), "{text}");
    assert!(
        text.contains("Lambda-Runtime-Function-Error-Type: Runtime.StreamError"),
        "{text}"
    );
    assert_eq!(trailers, None);
    cli.kill().await.unwrap();

    // Ours, same handler shape, through the same emulator code.
    let config = EmulatorConfig::default()
        .with_url_addr("127.0.0.1:0".parse().unwrap())
        .with_access_log(false);
    let emulator = Emulator::start(config).await.unwrap();
    let runtime = Runtime::new(Config::new(emulator.runtime_api()));
    let _task = tokio::spawn(runtime.run(
        |req: lambda_stream::Request, _ctx: Context| async move {
            let items = if req.uri().path() == "/fail" {
                vec![Ok("partial "), Err(std::io::Error::other("db closed"))]
            } else {
                vec![Ok("hello "), Ok("world")]
            };
            http::Response::builder()
                .header("content-type", "text/plain")
                .body(Body::from_stream(stream::iter(items)))
        },
    ));
    let response = within(send(emulator.url_addr(), get("/"))).await;
    let (ours_ok, _, _) = within(read_all(response)).await;
    assert_eq!(ours_ok, official_ok, "identical bodies on success");

    let response = within(send(emulator.url_addr(), get_with_trailers("/fail"))).await;
    let (body, trailers, clean) = within(read_all(response)).await;
    assert_eq!((body.as_slice(), clean), (&b"partial "[..], true));
    let error = lambda_stream::wire::FunctionError::from_trailers(&trailers.unwrap()).unwrap();
    assert_eq!(error.error_type().as_str(), "Function.StreamError");
    assert_eq!(error.message(), "db closed");
}
