//! `lambda_stream::client` against handlers behind the local emulator: pages followed through
//! their standard links (NDJSON, CSV with line breaks in a field, SSE, JSON arrays) until one
//! ends without a link, and each way a page can fail stopping the download with its typed error, after the
//! records that arrived before it.

use bytes::Bytes;
use futures_util::{StreamExt, stream};
use lambda_stream::client::{Client, Error, Event, Format};
use lambda_stream::emulator::EmulatorConfig;
use lambda_stream::testing::TestEmulator;
use lambda_stream::wire::{ErrorType, FunctionError};
use lambda_stream::{Body, Budget, Context, Continuation, Request, RequestExt, Truncation};

use crate::common::within;

const ROWS: u64 = 500;

/// Rows `?from=..` up to `ROWS` as NDJSON, each page cut by a 2,000-byte budget ending with
/// its link.
async fn ndjson_pages(
    request: Request,
    _: Context,
) -> Result<lambda_stream::Response, http::Error> {
    let from = page_start(&request);
    let rows =
        stream::iter((from..ROWS).map(|id| Ok::<_, std::io::Error>(format!("{{\"id\":{id}}}\n"))));
    let next = Continuation::ndjson_link(32, move |cut: &Truncation| {
        format!("?from={}", cut.next_offset(from))
    });
    page("application/x-ndjson", 2_000, next, Body::from_stream(rows))
}

/// Where a page starts (`?from=`, 0 without it).
fn page_start(request: &Request) -> u64 {
    request
        .query_param("from")
        .map_or(0, |f| f.parse().unwrap())
}

/// A page of `body`, cut by a budget of `budget` bytes and ended by `next`.
fn page(
    content_type: &str,
    budget: u64,
    next: Continuation,
    body: Body,
) -> Result<lambda_stream::Response, http::Error> {
    http::Response::builder()
        .header("content-type", content_type)
        .extension(Budget::bytes(budget))
        .extension(next)
        .body(body)
}

/// One row, then a mid-stream failure (`Function.StreamError`, "db closed").
async fn fails_after_one_row(
    _: Request,
    _: Context,
) -> Result<lambda_stream::Response, http::Error> {
    let items = stream::iter([
        Ok(Bytes::from("{\"id\":0}\n")),
        Err(FunctionError::new(ErrorType::STREAM_ERROR, "db closed")),
    ]);
    http::Response::builder()
        .header("content-type", "application/x-ndjson")
        .body(Body::from_stream(items))
}

/// Rows that a 2,000-byte budget cuts, with no continuation.
async fn cut_without_a_link(
    _: Request,
    _: Context,
) -> Result<lambda_stream::Response, http::Error> {
    let rows =
        stream::iter((0..1000).map(|id| Ok::<_, std::io::Error>(format!("{{\"id\":{id}}}\n"))));
    http::Response::builder()
        .header("content-type", "application/x-ndjson")
        .extension(Budget::bytes(2_000))
        .body(Body::from_stream(rows))
}

/// What a download hands out: the records' bytes, the pages' ends, and how it ended.
async fn download(client: &Client, url: &str) -> (Vec<u8>, Vec<Event>, Option<Error>) {
    let mut events = std::pin::pin!(client.events(url));
    let (mut records, mut ends) = (Vec::new(), Vec::new());
    while let Some(event) = within(events.next()).await {
        match event {
            Ok(Event::Record(record)) => records.extend_from_slice(&record),
            Ok(end @ Event::PageEnd { .. }) => ends.push(end),
            Ok(_) => {}
            Err(error) => return (records, ends, Some(error)),
        }
    }
    (records, ends, None)
}

fn expected_rows(to: u64) -> Vec<u8> {
    (0..to)
        .flat_map(|id| format!("{{\"id\":{id}}}\n").into_bytes())
        .collect()
}

#[tokio::test]
async fn every_page_is_followed_and_the_records_arrive_without_the_links() {
    let function = TestEmulator::start(EmulatorConfig::default(), ndjson_pages)
        .await
        .unwrap();
    let (records, ends, error) = download(&Client::new(), &function.url()).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(records, expected_rows(ROWS));
    assert!(ends.len() >= 3, "{} pages", ends.len());
    let Some(Event::PageEnd { next: last, .. }) = ends.last() else {
        panic!()
    };
    assert_eq!(*last, None, "the last page has no link");
    let Some(Event::PageEnd { url, next, .. }) = ends.first() else {
        panic!()
    };
    assert_eq!(*url, function.url());
    assert!(
        next.as_deref()
            .unwrap()
            .starts_with(&format!("{}?from=", function.url()))
    );
}

#[tokio::test]
async fn resuming_from_a_pages_checkpoint_hands_out_the_rest_exactly() {
    let function = TestEmulator::start(EmulatorConfig::default(), ndjson_pages)
        .await
        .unwrap();
    let client = Client::new();
    let (first_two, ends, _) = download(&client.clone().with_max_pages(2), &function.url()).await;
    let Some(Event::PageEnd {
        checkpoint: Some(checkpoint),
        ..
    }) = ends.last()
    else {
        panic!("{ends:?}")
    };
    // In another process, say: only the checkpoint's text is carried over.
    let mut rest = Vec::new();
    let mut events = std::pin::pin!(client.resume(checkpoint));
    while let Some(event) = within(events.next()).await {
        if let Event::Record(record) = event.unwrap() {
            rest.extend_from_slice(&record);
        }
    }
    assert_eq!([first_two, rest].concat(), expected_rows(ROWS));
    let mut bad = std::pin::pin!(client.resume("{}"));
    assert!(matches!(
        within(bad.next()).await,
        Some(Err(Error::Url { .. }))
    ));
}

#[tokio::test]
async fn max_pages_stops_after_that_many() {
    let function = TestEmulator::start(EmulatorConfig::default(), ndjson_pages)
        .await
        .unwrap();
    let client = Client::new().with_max_pages(2);
    let (records, ends, error) = download(&client, &function.url()).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(ends.len(), 2);
    assert!(records.len() < expected_rows(ROWS).len());
    assert!(expected_rows(ROWS).starts_with(&records));
}

#[tokio::test]
async fn csv_pages_keep_one_header_and_fields_with_line_breaks_whole() {
    async fn csv_pages(
        request: Request,
        _: Context,
    ) -> Result<lambda_stream::Response, http::Error> {
        #[derive(serde::Serialize)]
        struct Row {
            id: u64,
            note: String,
        }
        let from = page_start(&request);
        let rows = (from..100).map(|id| {
            Ok::<_, std::io::Error>(Row {
                id,
                note: format!("line\n{id}, \"q\""),
            })
        });
        let next = Continuation::csv_link(32, move |cut: &Truncation| {
            // The header line counts as part of the first record of every page.
            format!("?from={}", cut.next_offset(from))
        });
        page("text/csv", 1_000, next, Body::csv(stream::iter(rows)))
    }
    let function = TestEmulator::start(EmulatorConfig::default(), csv_pages)
        .await
        .unwrap();
    let (records, ends, error) = download(&Client::new(), &function.url()).await;
    assert!(error.is_none(), "{error:?}");
    assert!(ends.len() >= 3, "{} pages", ends.len());
    let mut reader = csv::Reader::from_reader(&records[..]);
    let ids: Vec<u64> = reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            assert_eq!(&r[1], format!("line\n{}, \"q\"", &r[0]));
            r[0].parse().unwrap()
        })
        .collect();
    assert_eq!(
        ids,
        (0..100).collect::<Vec<_>>(),
        "every row once, one header"
    );
}

/// Rows `?from=..` up to 200 as one JSON array per page, their notes holding `,`, `]` and
/// quotes; each page cut by a 1,000-byte budget, its last element the link.
async fn json_array_pages(
    request: Request,
    _: Context,
) -> Result<lambda_stream::Response, http::Error> {
    let from = page_start(&request);
    let rows = (from..200)
        .map(|id| Ok::<_, std::io::Error>(serde_json::json!({ "id": id, "note": note(id) })));
    let next = Continuation::json_array_link(32, move |cut: &Truncation| {
        format!("?from={}", cut.next_offset(from))
    });
    page(
        "application/json",
        1_000,
        next,
        Body::json_array(stream::iter(rows)),
    )
}

fn note(id: u64) -> String {
    format!("a,] \"{id}\"")
}

#[tokio::test]
async fn json_array_pages_hand_out_each_element_and_follow_the_last_one() {
    let function = TestEmulator::start(EmulatorConfig::default(), json_array_pages)
        .await
        .unwrap();
    let mut events = std::pin::pin!(Client::new().events(&function.url()));
    let (mut ids, mut formats, mut pages) = (Vec::new(), Vec::new(), 0);
    while let Some(event) = within(events.next()).await {
        match event.unwrap() {
            Event::PageStart { format, .. } => formats.push(format),
            Event::Record(element) => {
                let row: serde_json::Value = serde_json::from_slice(&element).unwrap();
                let id = row["id"].as_u64().unwrap();
                assert_eq!(row["note"], note(id));
                ids.push(id);
            }
            Event::PageEnd { .. } => pages += 1,
            _ => {}
        }
    }
    assert_eq!(ids, (0..200).collect::<Vec<_>>(), "every element once");
    assert!(pages >= 3, "{pages} pages");
    assert_eq!(formats, vec![Format::JsonArray; pages]);

    // `get` writes the pages as one array.
    let get = tokio::process::Command::new(crate::common::binary("lambda-stream").await)
        .args(["get", &function.url()])
        .output();
    let get = within(get).await.unwrap();
    assert!(get.status.success());
    let rows: Vec<serde_json::Value> = serde_json::from_slice(&get.stdout).unwrap();
    let ids: Vec<u64> = rows.iter().map(|r| r["id"].as_u64().unwrap()).collect();
    assert_eq!(ids, (0..200).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_json_page_that_is_not_an_array_is_malformed_and_raw_reads_it() {
    let function = TestEmulator::start(EmulatorConfig::default(), |_: Request, _: Context| async {
        http::Response::builder()
            .header("content-type", "application/json")
            .body(Body::from("{\"message\":\"hi\"}"))
    })
    .await
    .unwrap();
    let (records, _, error) = download(&Client::new(), &function.url()).await;
    let Some(Error::Malformed { reason, .. }) = error else {
        panic!("{error:?}")
    };
    assert!(reason.contains("not a JSON array"), "{reason}");
    assert!(records.is_empty());
    let raw = Client::new().with_format(Format::Raw);
    let (records, _, error) = download(&raw, &function.url()).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(records, b"{\"message\":\"hi\"}");
    let (status, stderr) = get_command(&function.url()).await;
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("page not in its format"), "{stderr}");
    assert!(stderr.contains("--format raw"), "{stderr}");
}

#[tokio::test]
async fn a_mid_page_error_trailer_stops_the_download_with_the_functions_error() {
    let function = TestEmulator::start(EmulatorConfig::default(), fails_after_one_row)
        .await
        .unwrap();
    let (records, _, error) = download(&Client::new(), &function.url()).await;
    assert_eq!(
        records, b"{\"id\":0}\n",
        "what arrived before the error is handed out"
    );
    let Some(Error::Function { error, .. }) = error else {
        panic!("{error:?}")
    };
    assert_eq!(error.error_type(), &ErrorType::STREAM_ERROR);
    assert_eq!(error.message(), "db closed");
}

#[tokio::test]
async fn a_page_cut_by_its_budget_without_a_link_is_an_incomplete_download() {
    let function = TestEmulator::start(EmulatorConfig::default(), cut_without_a_link)
        .await
        .unwrap();
    let (_, _, error) = download(&Client::new(), &function.url()).await;
    let Some(Error::CutWithoutContinuation { error, .. }) = error else {
        panic!("{error:?}")
    };
    assert_eq!(error.error_type(), &ErrorType::RESPONSE_SIZE_TOO_LARGE);
}

#[tokio::test]
async fn a_link_back_to_a_page_already_read_is_an_error_not_a_loop() {
    let function = TestEmulator::start(EmulatorConfig::default(), |_: Request, _: Context| async {
        let rows =
            stream::iter((0..1000).map(|id| Ok::<_, std::io::Error>(format!("{{\"id\":{id}}}\n"))));
        http::Response::builder()
            .header("content-type", "application/x-ndjson")
            .extension(Budget::bytes(2_000))
            .extension(Continuation::ndjson_link(16, |_: &Truncation| {
                "?page=1".to_owned()
            }))
            .body(Body::from_stream(rows))
    })
    .await
    .unwrap();
    let (_, ends, error) = download(&Client::new(), &function.url()).await;
    assert_eq!(ends.len(), 1, "the first page; ?page=1 links to itself");
    let Some(Error::LinkRepeated { link, .. }) = error else {
        panic!("{error:?}")
    };
    assert!(link.ends_with("/?page=1"), "{link}");
}

#[tokio::test]
async fn an_error_status_is_an_error_with_its_body() {
    let function = TestEmulator::start(EmulatorConfig::default(), |_: Request, _: Context| async {
        http::Response::builder()
            .status(400)
            .body(Body::from("after must be a number"))
    })
    .await
    .unwrap();
    let (records, _, error) = download(&Client::new(), &function.url()).await;
    assert!(records.is_empty());
    let Some(Error::Status { status, body, .. }) = error else {
        panic!("{error:?}")
    };
    assert_eq!((status, body.as_str()), (400, "after must be a number"));
}

#[tokio::test]
async fn a_long_error_body_is_kept_by_its_first_4_kib() {
    let function = TestEmulator::start(EmulatorConfig::default(), |_: Request, _: Context| async {
        let body = format!("too many requests: {}", "x".repeat(10_000));
        http::Response::builder().status(429).body(Body::from(body))
    })
    .await
    .unwrap();
    let (_, _, error) = download(&Client::new(), &function.url()).await;
    let Some(Error::Status { status, body, .. }) = error else {
        panic!("{error:?}")
    };
    assert_eq!(status, 429);
    assert_eq!(body.len(), 4096);
    assert!(body.starts_with("too many requests: xxx"), "{body}");
}

#[tokio::test]
async fn a_page_without_its_final_chunk_is_truncated() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    // A server that sends a chunked page and closes before its final chunk.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut head = [0u8; 1024];
        let _ = socket.read(&mut head).await.unwrap();
        let answer = "HTTP/1.1 200 OK\r\ncontent-type: application/x-ndjson\r\n\
                      transfer-encoding: chunked\r\n\r\n9\r\n{\"id\":0}\n\r\n";
        socket.write_all(answer.as_bytes()).await.unwrap();
    });
    let (records, _, error) = download(&Client::new(), &url).await;
    assert_eq!(records, b"{\"id\":0}\n");
    assert!(matches!(error, Some(Error::Truncated { .. })), "{error:?}");
}

#[tokio::test]
async fn a_url_that_is_not_http_is_refused() {
    let (_, _, error) = download(&Client::new().with_format(Format::Raw), "ftp://x/").await;
    assert!(matches!(error, Some(Error::Url { .. })), "{error:?}");
}

/// `lambda-stream get <url>`: its exit status and stderr.
async fn get_command(url: &str) -> (std::process::ExitStatus, String) {
    let output = tokio::process::Command::new(crate::common::binary("lambda-stream").await)
        .args(["get", url])
        .output();
    let output = within(output).await.unwrap();
    (
        output.status,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn get_exits_non_zero_naming_what_happened() {
    let failing = TestEmulator::start(EmulatorConfig::default(), fails_after_one_row)
        .await
        .unwrap();
    let (status, stderr) = get_command(&failing.url()).await;
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the function failed"), "{stderr}");
    assert!(
        stderr.contains("db closed (Function.StreamError)"),
        "{stderr}"
    );

    let cut = TestEmulator::start(EmulatorConfig::default(), cut_without_a_link)
        .await
        .unwrap();
    let (status, stderr) = get_command(&cut.url()).await;
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("page cut without a link"), "{stderr}");
    assert!(stderr.contains("Function.ResponseSizeTooLarge"), "{stderr}");

    let (status, stderr) = get_command("not a url").await;
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("bad URL"), "{stderr}");
}

/// Wraps `text` in single quotes for `sh`.
fn sh_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "'\\''"))
}

/// `lambda-stream get <url>` and `redirect` run in a pseudo-terminal by util-linux's `script`,
/// which copies what the terminal shows to its own stdout: that text.
async fn get_on_a_terminal(url: &str, redirect: &str) -> String {
    let get = crate::common::binary("lambda-stream").await;
    let command_line = format!(
        "{} get {} {redirect}",
        sh_quoted(&get.to_string_lossy()),
        sh_quoted(url)
    );
    let script = tokio::process::Command::new("script")
        .args(["-qefc", &command_line, "/dev/null"])
        .env("TERM", "xterm")
        .output();
    let script = within(script).await.expect("util-linux's script runs");
    let terminal = String::from_utf8_lossy(&script.stdout).into_owned();
    assert!(script.status.success(), "{terminal}");
    terminal
}

#[tokio::test]
async fn on_a_terminal_get_shows_its_progress_and_its_output_holds_only_the_data() {
    let function = TestEmulator::start(EmulatorConfig::default(), ndjson_pages)
        .await
        .unwrap();
    let out = std::env::temp_dir().join(format!("lambda-stream-pty-{}.ndjson", std::process::id()));
    // stderr the terminal, stdout the file.
    let redirect = format!("> {}", sh_quoted(&out.to_string_lossy()));
    let terminal = get_on_a_terminal(&function.url(), &redirect).await;
    let data = std::fs::read(&out).unwrap();
    let _ = std::fs::remove_file(&out);
    assert_eq!(data, expected_rows(ROWS), "the file holds the records only");
    let shown = terminal
        .split(&format!("{ROWS} records, "))
        .nth(1)
        .unwrap_or_else(|| panic!("no record count on the terminal: {terminal:?}"));
    let pages: u64 = shown
        .split(" pages")
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no page count on the terminal: {terminal:?}"));
    assert!(pages >= 3, "{terminal:?}");
    assert!(terminal.contains("B/s"), "the rate is shown: {terminal:?}");

    // The records on the terminal themselves: no progress line over them, as curl does.
    // (The terminal turns each line break into CR LF.)
    let terminal = get_on_a_terminal(&function.url(), "").await;
    let shown = terminal.replace("\r\n", "\n");
    assert!(
        shown.as_bytes() == expected_rows(ROWS),
        "only the records: {terminal:?}"
    );
}

/// `lambda-stream get --sign` of `url` with these credentials in its environment (and no
/// other source of them): its exit status, stdout and stderr.
async fn signed_get(
    url: &str,
    key_id: &str,
    secret: &str,
) -> (std::process::ExitStatus, String, String) {
    let output = tokio::process::Command::new(crate::common::binary("lambda-stream").await)
        .args(["get", "--sign", "--region", "us-east-1", url])
        .env("AWS_ACCESS_KEY_ID", key_id)
        .env("AWS_SECRET_ACCESS_KEY", secret)
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .env("AWS_CONFIG_FILE", "/nonexistent")
        .env("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .output();
    let output = within(output).await.unwrap();
    let text = |bytes: Vec<u8>| String::from_utf8_lossy(&bytes).into_owned();
    (output.status, text(output.stdout), text(output.stderr))
}

#[tokio::test]
async fn get_signs_for_an_aws_iam_url_with_credentials_from_the_environment() {
    use lambda_stream::emulator::{AuthType, IamKey};
    let config = EmulatorConfig::default()
        .with_auth_type(AuthType::AwsIam)
        .with_iam_key(IamKey::new("AKIDGETLOCAL", "get/local+secret"));
    let function = TestEmulator::start(config, ndjson_pages).await.unwrap();
    let (status, stdout, stderr) =
        signed_get(&function.url(), "AKIDGETLOCAL", "get/local+secret").await;
    assert!(status.success(), "{stderr}");
    assert_eq!(
        stdout.as_bytes(),
        expected_rows(ROWS),
        "every page signed and read"
    );

    let (status, stdout, stderr) =
        signed_get(&function.url(), "AKIDGETLOCAL", "a wrong secret").await;
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("HTTP 403 AccessDeniedException"),
        "{stderr}"
    );
}

/// `aws-sdk-lambda` pointed at the emulator's Lambda API (its invoke routes share the URL's port).
fn lambda_sdk(url: &str) -> aws_sdk_lambda::Client {
    use aws_sdk_lambda::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_lambda::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .endpoint_url(url.trim_end_matches('/'))
        .region(Region::new("us-east-1"))
        .credentials_provider(Credentials::new("AKIDLOCAL", "local", None, None, "test"))
        .build();
    aws_sdk_lambda::Client::from_conf(config)
}

/// `InvokeWithResponseStream` of the emulator's function, read by `invoke_response`: the head,
/// the body's chunks, and how the body ended.
async fn invoke_stream(
    url: &str,
) -> (lambda_stream::wire::ResponseHead, Vec<Bytes>, Option<Error>) {
    let output = lambda_sdk(url)
        .invoke_with_response_stream()
        .function_name("local")
        .payload(aws_sdk_lambda::primitives::Blob::new(&b"{}"[..]))
        .send();
    let output = within(output).await.unwrap();
    let (head, body) = lambda_stream::client::invoke_response(output)
        .await
        .unwrap();
    let mut body = std::pin::pin!(body);
    let mut chunks = Vec::new();
    while let Some(chunk) = within(body.next()).await {
        match chunk {
            Ok(chunk) => chunks.push(chunk),
            Err(error) => return (head, chunks, Some(error)),
        }
    }
    (head, chunks, None)
}

#[tokio::test]
async fn invoke_with_response_stream_reads_as_the_url_does_with_the_real_sdk() {
    let function = TestEmulator::start(EmulatorConfig::default(), |_: Request, _: Context| async {
        let chunks = stream::iter(["first ", "second ", "third"].map(Ok::<_, std::io::Error>));
        http::Response::builder()
            .status(201)
            .header("content-type", "text/plain")
            .header("set-cookie", "seen=1")
            .body(Body::from_stream(chunks))
    })
    .await
    .unwrap();
    let (head, chunks, error) = invoke_stream(&function.url()).await;
    assert!(error.is_none(), "{error:?}");
    assert_eq!(head.status, 201);
    assert_eq!(head.headers["content-type"], "text/plain");
    assert_eq!(head.cookies, ["seen=1"]);
    assert_eq!(
        chunks.concat(),
        b"first second third",
        "the body bytes exact"
    );
}

#[tokio::test]
async fn invoke_with_response_stream_ends_a_failed_body_with_the_typed_error() {
    let function = TestEmulator::start(EmulatorConfig::default(), |_: Request, _: Context| async {
        let items = stream::iter([
            Ok(Bytes::from("{\"id\":0}\n")),
            Err(FunctionError::new(ErrorType::STREAM_ERROR, "db closed")),
        ]);
        http::Response::builder().body(Body::from_stream(items))
    })
    .await
    .unwrap();
    let (head, chunks, error) = invoke_stream(&function.url()).await;
    assert_eq!(head.status, 200);
    assert_eq!(chunks.concat(), b"{\"id\":0}\n");
    let Some(Error::Function { error, .. }) = error else {
        panic!("{error:?}")
    };
    assert_eq!(error.error_type(), &ErrorType::STREAM_ERROR);
    assert_eq!(error.message(), "db closed");
}

/// `lambda-stream serve <options> -- python3 python_runtime.py` (a real runtime process),
/// announced, with `env`.
async fn serve_python(options: &[&str], env: &[(&str, &str)]) -> (u16, tokio::process::Child) {
    let runtime = concat!(env!("CARGO_MANIFEST_DIR"), "/functions/python_runtime.py");
    let mut command = tokio::process::Command::new(crate::common::binary("lambda-stream").await);
    command
        .args(["serve", "--port", "0"])
        .args(options)
        .args(["--", "python3", runtime])
        .envs(env.iter().copied());
    crate::common::spawn_announced(command).await
}

#[tokio::test]
#[cfg_attr(missing_python3, ignore = env!("MISSING_PYTHON3"))]
async fn get_signs_for_serve_with_aws_iam() {
    let keys = [
        ("AWS_ACCESS_KEY_ID", "AKIDSERVEGET"),
        ("AWS_SECRET_ACCESS_KEY", "serve/get+secret"),
    ];
    let (port, _serve) = serve_python(&["--auth-type", "AWS_IAM"], &keys).await;
    let url = format!("http://127.0.0.1:{port}/signed");
    let (status, stdout, stderr) = signed_get(&url, keys[0].1, keys[1].1).await;
    assert!(status.success(), "{stderr}");
    assert_eq!(
        stdout, "python streams /signed",
        "the function's answer, through AWS_IAM"
    );
    let (status, stdout, stderr) = signed_get(&url, keys[0].1, "a wrong secret").await;
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stdout.is_empty());
    assert!(
        stderr.contains("HTTP 403 AccessDeniedException"),
        "{stderr}"
    );
}

#[tokio::test]
#[cfg_attr(missing_python3, ignore = env!("MISSING_PYTHON3"))]
async fn get_exits_non_zero_when_the_function_breaks_off_mid_page() {
    // `/truncate`: the runtime sends a chunk, then closes its connection without the last.
    let (port, _serve) = serve_python(&[], &[]).await;
    let (status, stderr) = get_command(&format!("http://127.0.0.1:{port}/truncate")).await;
    assert_eq!(status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("page truncated"), "{stderr}");
}
