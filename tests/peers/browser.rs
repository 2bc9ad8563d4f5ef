//! The examples' pages in a real browser: headless Chromium (driven by `playwright-core` from
//! `tests/browser/`) loads `examples/llm_tokens`' page from the local Function URL, asks, and
//! the tokens must appear in the DOM one by one, over the stream's duration, ending with the
//! exact text; a mid-stream failure must show the function's message; a page from another
//! origin must work only when that URL's CORS allows its origin. `examples/bench_progress`'
//! page must draw each progress event as it arrives, then the summary. `examples/bedrock_chat`,
//! its real Bedrock client pointed at the test kit's fixture, must render the model's deltas in
//! order, then the stop reason and usage, and a throttled answer's error in red.
//!
//! Needs `node`, `npm ci --prefix tests/browser` and Chromium (`/usr/bin/chromium` or
//! `CHROMIUM`); without one the tests are built ignored, with the reason. `.ci/run` installs them
//! and sets `LAMBDA_STREAM_BROWSER_TESTS=required`, so there a missing part fails them.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use lambda_stream::testing::{BedrockFixture, BedrockStep};

use serde_json::{Value, json};
use tokio::process::{Child, Command};

use crate::common::{binary, get, send, spawn_announced, start_bedrock_chat, within};

const PROMPT: &str = "response streaming";
/// The model bedrock_chat asks for; the fixture answers any.
const TEST_MODEL: &[(&str, &str)] = &[("BEDROCK_MODEL_ID", "test-model")];

/// The example `name` on a free port, with the URL's CORS when given.
async fn start_example(name: &str, cors: Option<String>) -> (u16, Child) {
    let mut command = Command::new(binary(name).await);
    command.env("LAMBDA_STREAM_PORT", "0");
    if let Some(cors) = cors {
        command.env("LAMBDA_STREAM_CORS", cors);
    }
    spawn_announced(command).await
}

/// The tokens of the answer as a plain HTTP client reads them, and when each arrived (ms
/// after the first).
async fn reference_tokens(port: u16) -> (Vec<String>, Vec<f64>) {
    let path = format!(
        "/tokens?prompt={}",
        PROMPT.replace(' ', "%20").replace('?', "%3F")
    );
    let response = send(([127, 0, 0, 1], port).into(), get(&path)).await;
    let mut body = response.into_body();
    let (mut text, mut tokens, mut arrivals) = (String::new(), Vec::new(), Vec::new());
    let mut first = None;
    while let Some(frame) = within(http_body_util::BodyExt::frame(&mut body)).await {
        let Ok(data) = frame.unwrap().into_data() else {
            continue;
        };
        text.push_str(std::str::from_utf8(&data).unwrap());
        while let Some(end) = text.find("\n\n") {
            let event: String = text.drain(..end + 2).collect();
            if event.starts_with("data:") {
                // One message per token; the parser strips one space after `data:`.
                let data = &event["data:".len()..event.len() - 2];
                tokens.push(data.strip_prefix(' ').unwrap_or(data).to_owned());
                let first = *first.get_or_insert_with(Instant::now);
                arrivals.push(first.elapsed().as_secs_f64() * 1000.0);
            }
        }
    }
    (tokens, arrivals)
}

/// Runs the scenarios in one headless Chromium; what each page showed.
async fn run_browser(driver: &Path, scenarios: Value) -> Vec<Value> {
    let output = within(
        Command::new("node")
            .arg(driver.join("page.mjs"))
            .arg(scenarios.to_string())
            .current_dir(driver)
            .output(),
    )
    .await
    .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "the browser driver failed: {stderr}"
    );
    serde_json::from_slice(&output.stdout).unwrap()
}

/// Where screenshots go: `LAMBDA_STREAM_SCREENSHOTS` (to refresh `docs/`) or the target dir.
fn screenshot(name: &str) -> PathBuf {
    let dir = std::env::var_os("LAMBDA_STREAM_SCREENSHOTS")
        .map_or_else(|| PathBuf::from(env!("CARGO_TARGET_TMPDIR")), PathBuf::from);
    dir.join(name)
}

/// The browser driver's directory (`tests/browser`): the tests are built ignored where a part
/// is missing and not required (tests/build.rs).
fn browser_driver() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("browser")
}

/// Asking the token page at `url` (ticking "fail after 8 tokens" when `fail`).
fn ask(url: String, fail: bool, screenshot: Option<PathBuf>) -> Value {
    json!({
        "url": url,
        "fill": { "#prompt": PROMPT },
        "check": if fail { vec!["#fail"] } else { vec![] },
        "click": "button[type=submit]",
        "read": ["#answer"],
        "screenshot": screenshot,
    })
}

/// When each render happened, in ms, and how many of them were apart (over 1 ms).
fn render_times(result: &Value) -> (Vec<f64>, usize) {
    let renders = result["renders"].as_array().unwrap();
    let times: Vec<f64> = renders.iter().map(|r| r["at"].as_f64().unwrap()).collect();
    let mut distinct = times.clone();
    distinct.dedup_by(|a, b| (*a - *b).abs() < 1.0);
    (times, distinct.len())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(missing_browser, ignore = env!("MISSING_BROWSER"))]
async fn a_browser_renders_the_tokens_as_they_arrive() {
    let driver = browser_driver();
    let (site, _site) = start_example("llm_tokens", None).await;
    let origin = format!("http://127.0.0.1:{site}");
    let cors = json!({ "AllowOrigins": [origin] }).to_string();
    let (allowing, _allowing) = start_example("llm_tokens", Some(cors)).await;
    let (tokens, arrivals) = reference_tokens(site).await;
    let expected = tokens.concat();

    let results = run_browser(
        &driver,
        json!([
            ask(
                format!("{origin}/"),
                false,
                Some(screenshot("browser-tokens.png"))
            ),
            ask(
                format!("{origin}/"),
                true,
                Some(screenshot("browser-tokens-error.png"))
            ),
            // From the site's origin to a URL whose CORS allows it.
            ask(
                format!("{origin}/?api=http://127.0.0.1:{allowing}"),
                false,
                None
            ),
            // From the other origin to the site's URL, which has no CORS: the browser refuses.
            ask(
                format!("http://127.0.0.1:{allowing}/?api={origin}"),
                false,
                None
            ),
        ]),
    )
    .await;

    let streamed = &results[0];
    assert_eq!(streamed["ended"], "done", "{streamed}");
    assert_eq!(
        streamed["text"]["#answer"], expected,
        "the final text is exact"
    );
    let (renders, distinct) = render_times(streamed);
    assert_eq!(renders.len(), tokens.len(), "one render per token");
    assert!(
        distinct * 2 >= tokens.len(),
        "tokens rendered apart, not at once: {renders:?}"
    );
    let span = renders[renders.len() - 1] - renders[0];
    let reference_span = arrivals[arrivals.len() - 1];
    eprintln!(
        "{} tokens rendered over {span:.0} ms ({distinct} distinct times); a plain client read \
         them over {reference_span:.0} ms",
        renders.len()
    );
    assert!(
        span * 2.0 >= reference_span,
        "renders spread over the stream: {span} vs {reference_span} ms"
    );

    let failed = &results[1];
    assert_eq!(failed["ended"], "error", "{failed}");
    assert_eq!(
        failed["status"],
        "error: Function.ModelFailed: the model stopped after 8 tokens"
    );
    assert_eq!(
        failed["text"]["#answer"],
        tokens[..8].concat(),
        "what came before the failure stays"
    );

    let allowed = &results[2];
    assert_eq!(
        allowed["ended"], "done",
        "CORS allows the page's origin: {allowed}"
    );
    assert_eq!(allowed["text"]["#answer"], expected);

    let refused = &results[3];
    assert_eq!(refused["ended"], "error", "no CORS on that URL: {refused}");
    assert_eq!(
        refused["text"]["#answer"], "",
        "nothing from a URL that does not allow the origin"
    );
    let console = refused["console"].to_string();
    assert!(console.contains("CORS"), "the browser says why: {console}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(missing_browser, ignore = env!("MISSING_BROWSER"))]
async fn a_browser_draws_the_progress_of_a_long_run_as_a_bar() {
    let driver = browser_driver();
    let (port, _progress) = start_example("bench_progress", None).await;
    let results = run_browser(
        &driver,
        json!([{
            "url": format!("http://127.0.0.1:{port}/"),
            "fill": { "#n": "2000000" },
            "click": "button[type=submit]",
            "read": ["#detail"],
            "screenshot": screenshot("browser-progress.png"),
        }]),
    )
    .await;
    let run = &results[0];
    assert_eq!(run["ended"], "done", "{run}");
    let done: Vec<u64> = run["renders"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["done"].as_u64().unwrap())
        .collect();
    assert_eq!(
        done,
        (1..=20).collect::<Vec<u64>>(),
        "each of the 20 segments drawn, in order"
    );
    let (_, distinct) = render_times(run);
    assert!(
        distinct >= 10,
        "segments drawn as they finished, not at once ({distinct} distinct times)"
    );
    // pi(2,000,000) = 148,933.
    assert!(
        run["status"]
            .as_str()
            .unwrap()
            .starts_with("done: 148,933 primes below 2,000,000"),
        "{run}"
    );
    assert_eq!(
        run["text"]["#detail"],
        "segment 20 of 20: 148,933 primes so far"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(missing_browser, ignore = env!("MISSING_BROWSER"))]
async fn a_browser_renders_a_bedrock_answer_as_it_arrives() {
    let words = [
        "Streaming ",
        "sends ",
        "each ",
        "token ",
        "as ",
        "it ",
        "comes.",
    ];
    let mut script = vec![BedrockStep::Event(
        "messageStart",
        json!({ "role": "assistant" }),
    )];
    for word in words {
        script.push(BedrockStep::text(word));
        script.push(BedrockStep::Pause(Duration::from_millis(40)));
    }
    script.push(BedrockStep::stop("end_turn"));
    script.push(BedrockStep::usage(12, 7));
    let answering = BedrockFixture::start(script).await.unwrap();
    let throttled = BedrockFixture::start(vec![
        BedrockStep::text("Half "),
        BedrockStep::Exception("throttlingException", "Too many tokens, slow down".into()),
    ])
    .await
    .unwrap();
    let (port, _chat) = start_bedrock_chat(&answering, TEST_MODEL).await;
    let (throttled_port, _throttled_chat) = start_bedrock_chat(&throttled, TEST_MODEL).await;
    let ask = |port: u16, shot: Option<PathBuf>| {
        json!({
            "url": format!("http://127.0.0.1:{port}/"),
            "fill": { "#prompt": "What is response streaming?" },
            "click": "button[type=submit]",
            "read": ["#answer"],
            "screenshot": shot,
        })
    };
    let results = run_browser(
        &browser_driver(),
        json!([
            ask(port, Some(screenshot("browser-bedrock.png"))),
            ask(throttled_port, None)
        ]),
    )
    .await;

    let answered = &results[0];
    assert_eq!(answered["ended"], "done", "{answered}");
    assert_eq!(
        answered["text"]["#answer"],
        words.concat(),
        "tokens in order"
    );
    assert_eq!(
        answered["status"],
        "done: 7 tokens, stop reason end_turn, 12 tokens in / 7 out"
    );
    let (renders, distinct) = render_times(answered);
    assert_eq!(renders.len(), words.len(), "one render per delta");
    assert!(distinct * 2 >= words.len(), "rendered apart: {renders:?}");
    assert_eq!(
        answering.requests()[0]["messages"][0]["content"][0]["text"],
        "What is response streaming?"
    );

    let failed = &results[1];
    assert_eq!(failed["ended"], "error", "{failed}");
    assert_eq!(
        failed["status"],
        "error: Function.BedrockThrottlingException: Too many tokens, slow down"
    );
    assert_eq!(failed["text"]["#answer"], "Half ", "what came first stays");
}
