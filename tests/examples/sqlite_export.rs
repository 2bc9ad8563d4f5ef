//! `examples/sqlite_export` against a real SQLite database of 1,000,000 rows: exported through
//! the real loop and the emulator with a budget that needs several continuations, the pages a
//! client gets by following the links reassemble the table exactly (count and checksum, in
//! order), in RESPONSE_STREAM and in BUFFERED mode; bad input is a 400; a missing database is
//! an init error; and a slow client keeps the function's memory flat.

use std::hash::{DefaultHasher, Hash, Hasher};
use std::path::PathBuf;
use std::sync::OnceLock;
use std::time::Duration;

use lambda_stream::testing::RuntimeApiServer;
use tokio::process::{Child, Command};

use crate::common::{binary, get, read_all, send, spawn_announced, within};

const ROWS: i64 = 1_000_000;

/// The test database (SQLite), built once in the target directory and kept for later runs:
/// a new version of its rows needs a new name. Built under a temporary name first, so an
/// interrupted build leaves no half table behind.
fn database() -> &'static PathBuf {
    static DATABASE: OnceLock<PathBuf> = OnceLock::new();
    DATABASE.get_or_init(|| {
        let path = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("sqlite-export-test-v1.db");
        if path.exists() {
            return path;
        }
        let partial = path.with_extension(format!("partial-{}", std::process::id()));
        let _ = std::fs::remove_file(&partial);
        let mut connection = rusqlite::Connection::open(&partial).unwrap();
        connection
            .execute_batch(
                "PRAGMA journal_mode = OFF; PRAGMA synchronous = OFF;
                 CREATE TABLE orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL,
                   amount_cents INTEGER NOT NULL, status TEXT NOT NULL);",
            )
            .unwrap();
        let fill = connection.transaction().unwrap();
        {
            let mut insert = fill
                .prepare("INSERT INTO orders VALUES (?1, ?2, ?3, ?4)")
                .unwrap();
            for id in 1..=ROWS {
                let status = ["paid", "refunded", "pending"][(id % 3) as usize];
                // Quotes and commas in some names, so CSV quoting and JSON escaping are exercised,
                // and a line break in every one, so the last row of each CSV page holds one (its
                // last line does not start with its id).
                let customer = if id % 1000 == 0 {
                    format!("\"Big\", Co {id}\nHQ")
                } else {
                    format!("c{}\nbranch {}", id % 7919, id % 13)
                };
                insert
                    .execute(rusqlite::params![
                        id,
                        customer,
                        id * 7_919 % 100_000,
                        status
                    ])
                    .unwrap();
            }
        }
        fill.commit().unwrap();
        drop(connection);
        std::fs::rename(&partial, &path).unwrap();
        path
    })
}

/// Order-sensitive checksum of rows as `(id, customer, amount_cents, status)`.
#[derive(Debug, Default, PartialEq, Eq)]
struct Checksum {
    rows: u64,
    fold: u64,
}

impl Checksum {
    fn add(&mut self, id: i64, customer: &str, amount_cents: i64, status: &str) {
        let mut hasher = DefaultHasher::new();
        (id, customer, amount_cents, status).hash(&mut hasher);
        self.rows += 1;
        self.fold = self
            .fold
            .wrapping_mul(1_000_003)
            .wrapping_add(hasher.finish());
    }
}

/// The checksum of the table's rows matching `status` (all when `None`), by id.
fn table_checksum(status: Option<&str>) -> Checksum {
    let connection = rusqlite::Connection::open(database()).unwrap();
    let mut statement = connection
        .prepare("SELECT id, customer, amount_cents, status FROM orders WHERE ?1 IS NULL OR status = ?1 ORDER BY id")
        .unwrap();
    let mut rows = statement.query([status]).unwrap();
    let mut checksum = Checksum::default();
    while let Some(row) = rows.next().unwrap() {
        let (customer, status): (String, String) = (row.get(1).unwrap(), row.get(3).unwrap());
        checksum.add(row.get(0).unwrap(), &customer, row.get(2).unwrap(), &status);
    }
    checksum
}

/// `sqlite_export` serving the test database locally, with extra environment.
async fn start_export(env: &[(&str, &str)]) -> (u16, Child) {
    let path = tokio::task::spawn_blocking(database).await.unwrap();
    let mut command = Command::new(binary("sqlite_export").await);
    command
        .env("ORDERS_DB", path)
        .env("LAMBDA_STREAM_PORT", "0")
        .env("RUST_LOG", "warn");
    for (name, value) in env {
        command.env(name, value);
    }
    spawn_announced(command).await
}

/// Gets `path`; the body, which must have ended cleanly with status 200.
async fn page(port: u16, path: &str) -> Vec<u8> {
    let response = send(([127, 0, 0, 1], port).into(), get(path)).await;
    assert_eq!(response.status(), 200, "{path}");
    let (body, trailers, clean) = read_all(response).await;
    assert!(
        clean && trailers.is_none(),
        "{path} ended cleanly, without an error trailer"
    );
    body
}

/// How the export writes rows (its `format` parameter).
#[derive(Debug, Clone, Copy)]
enum Framing {
    Ndjson,
    Csv,
    Json,
}

impl Framing {
    /// Adds the rows of a page (or of what `get` wrote) in this framing; its link, if any.
    fn rows(self, body: &[u8], checksum: &mut Checksum) -> Option<String> {
        match self {
            Framing::Ndjson => ndjson_rows(body, checksum),
            Framing::Csv => csv_rows(body, checksum),
            Framing::Json => json_rows(body, checksum),
        }
    }
}

/// Follows the pages from `first`: the checksum of their rows, and how many pages it took.
async fn follow(port: u16, first: &str, framing: Framing) -> (Checksum, usize) {
    let mut checksum = Checksum::default();
    let (mut next, mut pages) = (Some(first.to_owned()), 0);
    let mut seen = std::collections::HashSet::new();
    while let Some(path) = next.take() {
        assert!(
            seen.insert(path.clone()),
            "the link does not advance: {path} twice"
        );
        let body = within(page(port, &path)).await;
        pages += 1;
        next = framing.rows(&body, &mut checksum);
    }
    (checksum, pages)
}

/// Adds a row as JSON; its `next` link instead when it is the link.
fn json_row(value: &serde_json::Value, checksum: &mut Checksum) -> Option<String> {
    if let Some(link) = value["next"].as_str() {
        return Some(link.to_owned());
    }
    checksum.add(
        value["id"].as_i64().unwrap(),
        value["customer"].as_str().unwrap(),
        value["amount_cents"].as_i64().unwrap(),
        value["status"].as_str().unwrap(),
    );
    None
}

/// Adds a JSON array's rows (the page must be one valid array); its last element's link.
fn json_rows(body: &[u8], checksum: &mut Checksum) -> Option<String> {
    let values: Vec<serde_json::Value> = serde_json::from_slice(body).unwrap();
    let mut next = None;
    for value in &values {
        assert!(next.is_none(), "the link is the last element");
        next = json_row(value, checksum);
    }
    next
}

/// Adds an NDJSON page's rows; its `{"next": ..}` link, if it has one.
fn ndjson_rows(body: &[u8], checksum: &mut Checksum) -> Option<String> {
    let mut next = None;
    for line in body.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        assert!(next.is_none(), "the link is the last line");
        let value: serde_json::Value = serde_json::from_slice(line).unwrap();
        next = json_row(&value, checksum);
    }
    next
}

/// Adds a CSV page's rows (after its header line); its `#next=` link, if it has one.
fn csv_rows(body: &[u8], checksum: &mut Checksum) -> Option<String> {
    let text = std::str::from_utf8(body).unwrap();
    let (rows, next) = match text.rfind("#next=") {
        Some(at) => (&text[..at], Some(text[at + 6..].trim_end().to_owned())),
        None => (text, None),
    };
    let mut reader = csv::Reader::from_reader(rows.as_bytes());
    assert_eq!(
        reader.headers().unwrap(),
        vec!["id", "customer", "amount_cents", "status"]
    );
    for record in reader.records() {
        let record = record.unwrap();
        checksum.add(
            record[0].parse().unwrap(),
            &record[1],
            record[2].parse().unwrap(),
            &record[3],
        );
    }
    next
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_million_rows_reassemble_exactly_from_the_pages_a_small_budget_cuts() {
    let (port, _export) = start_export(&[("LAMBDA_STREAM_BUDGET", "6000000")]).await;
    let expected = tokio::task::spawn_blocking(|| table_checksum(None))
        .await
        .unwrap();
    assert_eq!(expected.rows, ROWS as u64);
    let (got, pages) = follow(port, "/", Framing::Ndjson).await;
    eprintln!("NDJSON: {} rows in {pages} pages", got.rows);
    assert_eq!(got, expected, "every row once, in order");
    assert!(
        pages >= 4,
        "the budget needed several continuations ({pages} pages)"
    );

    // CSV with a filter: the links keep it.
    let expected = tokio::task::spawn_blocking(|| table_checksum(Some("refunded")))
        .await
        .unwrap();
    let (got, pages) = follow(port, "/?format=csv&status=refunded", Framing::Csv).await;
    eprintln!("CSV, refunded: {} rows in {pages} pages", got.rows);
    assert_eq!(got, expected);
    assert!(pages >= 2, "{pages} pages");

    // A JSON array per page, each valid JSON, its last element the link.
    let (got, pages) = follow(port, "/?format=json&status=refunded", Framing::Json).await;
    eprintln!("JSON, refunded: {} rows in {pages} pages", got.rows);
    assert_eq!(got, expected);
    assert!(pages >= 2, "{pages} pages");
}

/// `lambda-stream get` of `url`, written to a file: the checksum of the file's rows, read in
/// `framing`.
async fn get_to_file(url: &str, framing: Framing) -> Checksum {
    let file = std::env::temp_dir().join(format!(
        "lambda-stream-get-{}-{}.out",
        std::process::id(),
        url.len()
    ));
    let status = Command::new(binary("lambda-stream").await)
        .args(["get", url, "-o"])
        .arg(&file)
        .status();
    let status = tokio::time::timeout(Duration::from_secs(300), status)
        .await
        .unwrap()
        .unwrap();
    assert!(status.success(), "lambda-stream get {url}: {status}");
    let body = std::fs::read(&file).unwrap();
    let _ = std::fs::remove_file(&file);
    let mut checksum = Checksum::default();
    let link = framing.rows(&body, &mut checksum);
    assert_eq!(link, None, "no link in what get wrote");
    checksum
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_stream_get_downloads_the_million_rows_whole_in_every_framing() {
    let (port, _export) = start_export(&[("LAMBDA_STREAM_BUDGET", "6000000")]).await;
    let expected = tokio::task::spawn_blocking(|| table_checksum(None))
        .await
        .unwrap();
    let ndjson = get_to_file(&format!("http://127.0.0.1:{port}/"), Framing::Ndjson).await;
    assert_eq!(ndjson, expected, "every row once, in order (NDJSON)");
    let csv = get_to_file(
        &format!("http://127.0.0.1:{port}/?format=csv"),
        Framing::Csv,
    )
    .await;
    assert_eq!(csv, expected, "every row once, in order, one header (CSV)");
    let url = format!("http://127.0.0.1:{port}/?format=json");
    let json = get_to_file(&url, Framing::Json).await;
    assert_eq!(json, expected, "every row once, in order, one array (JSON)");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_stream_get_downloads_buffered_pages_whole() {
    let (port, _export) = start_export(&[("LAMBDA_STREAM_INVOKE_MODE", "BUFFERED")]).await;
    let expected = tokio::task::spawn_blocking(|| table_checksum(Some("paid")))
        .await
        .unwrap();
    let url = format!("http://127.0.0.1:{port}/?format=csv&status=paid");
    assert_eq!(get_to_file(&url, Framing::Csv).await, expected);
    let url = format!("http://127.0.0.1:{port}/?format=json&status=paid");
    assert_eq!(get_to_file(&url, Framing::Json).await, expected);
}

/// The state `get` keeps beside `file`, once it keeps one.
fn get_state(file: &std::path::Path) -> Option<serde_json::Value> {
    let mut state = file.as_os_str().to_owned();
    state.push(".get-state");
    serde_json::from_slice(&std::fs::read(state).ok()?).ok()
}

/// Pages complete, as that state says.
fn pages_done(file: &std::path::Path) -> Option<u64> {
    get_state(file)?["pages"].as_u64()
}

/// The file's length when its last complete page ended, as that state says.
fn state_bytes(file: &std::path::Path) -> Option<u64> {
    get_state(file)?["bytes"].as_u64()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_killed_after_its_third_page_resumes_to_the_same_bytes() {
    killed_after_the_third_page_then_resumed("csv").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_array_get_killed_after_its_third_page_resumes_to_one_array() {
    let file = killed_after_the_third_page_then_resumed("json").await;
    let mut checksum = Checksum::default();
    assert_eq!(json_rows(&file, &mut checksum), None);
    assert_eq!(checksum.rows, ROWS as u64, "one array of every row");
}

/// `get` of the export in `format`, killed (SIGKILL) once its fourth page is on its way into
/// the file, then run again with `--resume`: the file must equal an uninterrupted download's.
/// The file's bytes.
async fn killed_after_the_third_page_then_resumed(format: &str) -> Vec<u8> {
    let (port, _export) = start_export(&[("LAMBDA_STREAM_BUDGET", "6000000")]).await;
    let url = format!("http://127.0.0.1:{port}/?format={format}");
    let dir = std::env::temp_dir().join(format!(
        "lambda-stream-resume-{format}-{}",
        std::process::id()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let (whole, resumed) = (dir.join("whole"), dir.join("resumed"));
    let get = binary("lambda-stream").await;
    let status = Command::new(&get)
        .args(["get", &url, "-o"])
        .arg(&whole)
        .status();
    assert!(status.await.unwrap().success());

    let mut interrupted = Command::new(&get)
        .args(["get", &url, "-o"])
        .arg(&resumed)
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    // Killed once three pages are complete and the fourth is on its way into the file, so
    // the resumed run must cut that partial page back off.
    let fourth_page_begun = async {
        loop {
            let committed = pages_done(&resumed)
                .filter(|pages| *pages >= 3)
                .and(state_bytes(&resumed));
            let length = std::fs::metadata(&resumed).map_or(0, |m| m.len());
            if committed.is_some_and(|bytes| length > bytes) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    };
    tokio::time::timeout(Duration::from_secs(120), fourth_page_begun)
        .await
        .unwrap();
    interrupted.kill().await.unwrap(); // SIGKILL
    let pages = pages_done(&resumed).unwrap();
    let written = std::fs::read(&resumed).unwrap();
    let committed = state_bytes(&resumed).unwrap();
    eprintln!(
        "killed after {pages} pages: {committed} bytes committed, {} written",
        written.len()
    );
    assert!(
        written.len() as u64 > committed,
        "a partial page to cut back off"
    );
    assert_ne!(
        written,
        std::fs::read(&whole).unwrap(),
        "killed before the end"
    );

    let status = Command::new(&get)
        .args(["get", &url, "--resume", "-o"])
        .arg(&resumed)
        .status();
    assert!(status.await.unwrap().success());
    let file = std::fs::read(&resumed).unwrap();
    assert!(
        file == std::fs::read(&whole).unwrap(),
        "the resumed file is byte-identical to an uninterrupted download"
    );
    assert_eq!(pages_done(&resumed), None, "no state is left once complete");
    let _ = std::fs::remove_dir_all(&dir);
    file
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_buffered_mode_the_same_handler_ends_each_page_within_the_payload_limit() {
    let (port, _export) = start_export(&[("LAMBDA_STREAM_INVOKE_MODE", "BUFFERED")]).await;
    let expected = tokio::task::spawn_blocking(|| table_checksum(Some("pending")))
        .await
        .unwrap();
    let (got, pages) = follow(port, "/?format=csv&status=pending", Framing::Csv).await;
    eprintln!("BUFFERED CSV, pending: {} rows in {pages} pages", got.rows);
    assert_eq!(
        got, expected,
        "every row once, in order, over {pages} buffered pages"
    );
    assert!(
        pages >= 2,
        "the export did not fit in one payload ({pages} pages)"
    );
}

#[tokio::test]
async fn bad_input_is_a_400_with_a_message_and_never_reaches_the_query() {
    let (port, _export) = start_export(&[]).await;
    for (query, says) in [
        ("/?status=paid%27%20OR%201=1--", "status must be one of"),
        ("/?after=abc", "after must be a whole number"),
        ("/?min_amount=-5", "min_amount must be a whole number"),
        ("/?format=xml", "format must be ndjson, csv or json"),
        ("/?limit=10", "unknown parameter \\\"limit\\\""),
    ] {
        let response = send(([127, 0, 0, 1], port).into(), get(query)).await;
        assert_eq!(response.status(), 400, "{query}");
        let (body, _, _) = read_all(response).await;
        let body = String::from_utf8(body).unwrap();
        assert!(body.contains(says), "{query}: {body}");
    }
}

#[tokio::test]
async fn a_missing_database_is_an_init_error_reported_to_lambda() {
    let server = RuntimeApiServer::start().await.unwrap();
    let missing = std::env::temp_dir().join("sqlite-export-test-missing.db");
    let mut export = Command::new(binary("sqlite_export").await)
        .env("AWS_LAMBDA_RUNTIME_API", server.runtime_api().authority())
        .env("ORDERS_DB", &missing)
        .stderr(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let posted = within(server.init_error())
        .await
        .expect("an init error was posted");
    assert_eq!(
        posted.headers["lambda-runtime-function-error-type"],
        "Function.InitError"
    );
    let body = String::from_utf8_lossy(&posted.body).into_owned();
    assert!(body.contains("unable to open database file"), "{body}");
    let status = within(export.wait()).await.unwrap();
    assert!(!status.success(), "the process ends after reporting it");
    assert!(!missing.exists(), "a read-only open never creates the file");
}

/// The function process's peak resident memory, in KiB.
fn peak_rss_kib(child: &Child) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{}/status", child.id().unwrap())).unwrap();
    let line = status.lines().find(|l| l.starts_with("VmHWM:")).unwrap();
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_client_keeps_memory_flat_the_query_waits_for_it() {
    let (port, export) = start_export(&[]).await;
    // One small request first, so start-up allocations are in the baseline.
    page(port, "/?after=999990").await;
    let before = peak_rss_kib(&export);
    let response = send(([127, 0, 0, 1], port).into(), get("/")).await;
    let mut body = response.into_body();
    let mut received = 0usize;
    let mut paused = false;
    while let Some(frame) = within(http_body_util::BodyExt::frame(&mut body)).await {
        received += frame.unwrap().data_ref().map_or(0, |d| d.len());
        if received > 1 << 20 && !paused {
            // A client that stops reading: without backpressure the query would run on and
            // its rows pile up in the function.
            tokio::time::sleep(Duration::from_secs(2)).await;
            paused = true;
        }
    }
    let growth = peak_rss_kib(&export).saturating_sub(before) * 1024;
    eprintln!("exported {received} bytes; the function's peak RSS grew by {growth} bytes");
    assert!(
        received > 60_000_000,
        "the export is large ({received} bytes)"
    );
    assert!(
        growth < received as u64 / 8,
        "peak RSS grew by {growth} bytes for a {received}-byte export"
    );
}
