//! Paged exports in both invoke modes, on one description of the deployment: a budget set in
//! code applies to streamed and `BUFFERED` answers alike, with the same records and the same
//! cursor; a `BUFFERED` NDJSON page travels as a JSON string; a cut without a continuation
//! names the remedy; the local URL serves the mode the function was configured with.

use bytes::Bytes;
use futures_util::stream;
use lambda_stream::testing::CapturedRequest;
use lambda_stream::wire::ErrorType;
use lambda_stream::{
    Body, Budget, Config, Context, Continuation, Handler, InvokeMode, Request, Truncation,
};

use crate::common::{binary, on_loop, read_all, send, spawn_announced, within};

/// Runs `handler` on the real loop with `config` against a fresh raw Runtime API, and
/// captures its answer to one invocation.
async fn answer_once<H: Handler>(
    config: impl FnOnce(Config) -> Config,
    handler: H,
) -> CapturedRequest {
    let (server, task) = on_loop(config, handler).await;
    let capture = within(server.invoke("{}")).await.unwrap();
    task.abort();
    capture
}

/// NDJSON rows `0..rows`, paged (when `continued`) with the README's cursor code.
fn rows(rows: u64, continued: bool) -> Result<lambda_stream::Response, http::Error> {
    let cursor = 0;
    let lines = stream::iter(
        (cursor..rows)
            .map(|id| Ok::<_, std::io::Error>(format!("{{\"id\":{id},\"note\":\"row {id}\"}}\n"))),
    );
    let response = http::Response::builder().header("content-type", "application/x-ndjson");
    if !continued {
        return response.body(Body::from_stream(lines));
    }
    let next_page = Continuation::new(64, move |cut: &Truncation| {
        format!("{{\"next_cursor\":{}}}\n", cut.next_offset(cursor)).into()
    });
    response.extension(next_page).body(Body::from_stream(lines))
}

async fn export(_: Request, _: Context) -> Result<lambda_stream::Response, http::Error> {
    rows(10_000, true)
}

async fn uncontinued_export(
    _: Request,
    _: Context,
) -> Result<lambda_stream::Response, http::Error> {
    rows(10_000, false)
}

/// The page a function answers in `mode` with a 4,000-byte budget: the body as the client gets
/// it, and the bytes the stream carries (prelude and delimiter included) or the payload.
async fn page(mode: InvokeMode) -> (Bytes, u64) {
    let budget = |c: Config| c.with_invoke_mode(mode).with_budget(Budget::bytes(4_000));
    let capture = answer_once(budget, export).await;
    match mode {
        InvokeMode::Buffered => {
            let (_, body) = capture.buffered().unwrap();
            (body, capture.body.len() as u64)
        }
        _ => {
            let streamed = capture.streamed().unwrap();
            assert_eq!(streamed.error, None, "a continued page ends cleanly");
            let wire = capture.body.len() as u64;
            (streamed.body, wire)
        }
    }
}

#[tokio::test]
async fn a_budget_applies_in_buffered_mode_with_the_same_records_as_the_stream() {
    let (streamed, stream_wire) = page(InvokeMode::ResponseStream).await;
    let (buffered, _payload) = page(InvokeMode::Buffered).await;
    assert!(stream_wire <= 4_000, "{stream_wire} stream bytes");
    let text = String::from_utf8(streamed.to_vec()).unwrap();
    let last = text.lines().last().unwrap();
    assert!(last.starts_with("{\"next_cursor\":"), "{last}");
    assert!(text.lines().count() > 10, "a page of rows");
    // Old: the buffered answer ignored the budget and carried all 10,000 rows.
    assert_eq!(
        String::from_utf8_lossy(&buffered),
        text,
        "the same rows and the same cursor in both modes"
    );
}

/// The continuation travels beside the body: a body rebuilt by an http-body combinator (which
/// made a new body, knowing nothing of the old one's settings) still ends its page with the
/// link. Before, `Body::from_http_body(body.map_frame(..))` dropped it, and the page ended
/// with an error trailer.
#[tokio::test]
async fn a_body_rebuilt_by_a_combinator_keeps_its_continuation() {
    use http_body_util::BodyExt;
    let rebuilt = |_: Request, _: Context| async {
        let (parts, body) = rows(10_000, true)?.into_parts();
        let mapped = body.map_frame(|frame| frame.map_data(|line: Bytes| line));
        Ok::<_, http::Error>(http::Response::from_parts(
            parts,
            Body::from_http_body(mapped),
        ))
    };
    let capture = answer_once(|c| c.with_budget(Budget::bytes(4_000)), rebuilt).await;
    let streamed = capture.streamed().unwrap();
    assert_eq!(streamed.error, None, "ended by its continuation");
    let text = String::from_utf8(streamed.body.to_vec()).unwrap();
    let rows_sent = text.lines().count() - 1;
    assert_eq!(
        text.lines().last().unwrap(),
        format!("{{\"next_cursor\":{rows_sent}}}")
    );
}

#[tokio::test]
async fn an_ndjson_page_travels_as_a_json_string_in_a_buffered_answer() {
    let buffered = |c: Config| {
        c.with_invoke_mode(InvokeMode::Buffered)
            .with_budget(Budget::bytes(4_000))
    };
    let capture = answer_once(buffered, export).await;
    let payload: serde_json::Value = serde_json::from_slice(&capture.body).unwrap();
    assert_eq!(payload["isBase64Encoded"], false, "{payload}");
    let body = payload["body"].as_str().unwrap();
    assert!(
        body.starts_with("{\"id\":0,\"note\":\"row 0\"}\n"),
        "{body}"
    );
}

#[tokio::test]
async fn a_cut_without_a_continuation_names_the_remedy_in_both_modes() {
    let stream = |c: Config| c.with_budget(Budget::bytes(4_000));
    let capture = answer_once(stream, uncontinued_export).await;
    let error = capture.streamed().unwrap().error.expect("an error trailer");
    assert_eq!(error.error_type(), &ErrorType::RESPONSE_SIZE_TOO_LARGE);
    assert!(
        error.message().contains("lambda_stream::Continuation"),
        "{}",
        error.message()
    );

    let buffered = |c: Config| {
        c.with_invoke_mode(InvokeMode::Buffered)
            .with_budget(Budget::bytes(4_000))
    };
    let capture = answer_once(buffered, uncontinued_export).await;
    let (head, body) = capture.buffered().unwrap();
    assert_eq!(head.status, 413);
    let text = String::from_utf8_lossy(&body);
    assert!(text.contains("4000-byte limit in BUFFERED mode"), "{text}");
    assert!(text.contains("lambda_stream::Continuation"), "{text}");
}

/// `examples/export_ndjson` in embedded mode (no `AWS_LAMBDA_RUNTIME_API`) with `args`.
async fn export_embedded(args: &[&str]) -> (std::net::SocketAddr, tokio::process::Child) {
    let mut command = tokio::process::Command::new(binary("export_ndjson").await);
    command
        .args(args)
        .env_remove("AWS_LAMBDA_RUNTIME_API")
        .env_remove("LAMBDA_STREAM_INVOKE_MODE")
        .env_remove("LAMBDA_STREAM_BUDGET")
        .env("LAMBDA_STREAM_PORT", "0");
    let (port, child) = spawn_announced(command).await;
    (std::net::SocketAddr::from(([127, 0, 0, 1], port)), child)
}

/// One page from the local URL: status, content type and body.
async fn fetch(address: std::net::SocketAddr, path: &str) -> (u16, String, String) {
    let request = http::Request::get(path)
        .header("host", "localhost")
        .body(http_body_util::Full::new(Bytes::new()))
        .unwrap();
    let response = within(send(address, request)).await;
    let status = response.status().as_u16();
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    let (body, _, clean) = within(read_all(response)).await;
    assert!(clean, "{path}: a page ends cleanly");
    (status, content_type, String::from_utf8(body).unwrap())
}

#[tokio::test]
async fn buffered_set_in_code_is_what_the_local_url_serves() {
    let (address, mut function) = export_embedded(&["--buffered"]).await;
    let (status, content_type, body) = fetch(address, "/?rows=10").await;
    // Old: 200 with the raw payload-2.0 envelope (`{"statusCode":200,...}`) as the body.
    assert_eq!(
        (status, content_type.as_str()),
        (200, "application/x-ndjson")
    );
    assert_eq!(body.lines().count(), 10, "{body}");
    assert!(body.starts_with("{\"id\":0,"), "{body}");
    function.kill().await.unwrap();
}

/// Every page of a `rows`-row export, following each page's link.
async fn all_pages(address: std::net::SocketAddr, rows: u64) -> Vec<String> {
    let mut pages = Vec::new();
    let mut path = format!("/?rows={rows}");
    loop {
        let (status, _, body) = fetch(address, &path).await;
        assert_eq!(status, 200);
        let next = body
            .lines()
            .last()
            .and_then(|line| line.strip_prefix("{\"next\":\"?"))
            .map(|rest| rest.trim_end_matches("\"}").to_owned());
        pages.push(body);
        match next {
            Some(query) => path = format!("/?{query}"),
            None => return pages,
        }
    }
}

#[tokio::test]
async fn a_paged_export_reassembles_every_row_with_the_same_pages_in_both_modes() {
    const ROWS: u64 = 40_000;
    let (streamed_at, mut streamed) = export_embedded(&["--budget", "1000000"]).await;
    let (buffered_at, mut buffered) = export_embedded(&["--buffered", "--budget", "1000000"]).await;
    let streamed_pages = all_pages(streamed_at, ROWS).await;
    let buffered_pages = all_pages(buffered_at, ROWS).await;
    assert!(streamed_pages.len() >= 3, "{} pages", streamed_pages.len());
    assert_eq!(
        streamed_pages, buffered_pages,
        "the same pages in both modes"
    );
    let mut next_id = 0;
    for page in &streamed_pages {
        assert!(
            page.len() < 1_000_000,
            "a page within its budget: {} bytes",
            page.len()
        );
        for line in page.lines().filter(|line| !line.starts_with("{\"next\"")) {
            let row: serde_json::Value = serde_json::from_str(line).unwrap();
            assert_eq!(row["id"], next_id, "every row once, in order");
            next_id += 1;
        }
    }
    assert_eq!(next_id, ROWS);
    streamed.kill().await.unwrap();
    buffered.kill().await.unwrap();
}
