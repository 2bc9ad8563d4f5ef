//! Byte budgets, continuations, early errors, deadline-aware ends and completion stats: on the
//! real runtime loop (exact wire bytes) and end to end through the emulator.

use std::time::Duration;

use bytes::Bytes;
use futures_util::{StreamExt, stream};
use lambda_stream::emulator::EmulatorConfig;
use lambda_stream::testing::CapturedRequest;
use lambda_stream::testing::TestEmulator;
use lambda_stream::wire::{BUFFERED_RESPONSE_LIMIT, ErrorType, FunctionError};
use lambda_stream::{
    Body, Budget, BufferedOverflow, CompletionStats, Config, Context, Continuation, EarlyErrors,
    Handler, Hold, InvokeMode, Outcome, Request, Truncation, TruncationReason,
};

use crate::common;
use crate::common::{get_with_trailers, on_loop, read_all, send, within};

/// `{"statusCode":200,"headers":{},"cookies":[]}` plus the 8 NULs: what the head costs.
const HEAD_COST: u64 = 44 + 8;

fn ten_byte_items(count: usize) -> Body {
    Body::from_stream(stream::iter(
        (0..count).map(|i| Ok::<_, std::io::Error>(format!("item-{i:04}\n"))),
    ))
}

async fn with_budget(limit: u64) -> CapturedRequest {
    let (server, _task) = on_loop(
        |c| c,
        move |_req: Request, _ctx: Context| async move {
            http::Response::builder()
                .extension(Budget::bytes(limit))
                .body(ten_byte_items(5))
        },
    )
    .await;
    within(server.invoke("{}")).await.unwrap()
}

#[tokio::test]
async fn the_budget_counts_the_head_and_never_splits_an_item() {
    // limit: exactly three items fit.
    let capture = with_budget(HEAD_COST + 30).await;
    let streamed = capture.streamed().unwrap();
    assert_eq!(&streamed.body[..], b"item-0000\nitem-0001\nitem-0002\n");
    let error = streamed.error.unwrap();
    assert_eq!(error.error_type(), &ErrorType::RESPONSE_SIZE_TOO_LARGE);

    // limit - 1: the third item would cross, so two go.
    let capture = with_budget(HEAD_COST + 29).await;
    let streamed = capture.streamed().unwrap();
    assert_eq!(&streamed.body[..], b"item-0000\nitem-0001\n");
    assert!(streamed.error.is_some());

    // Exactly the whole response: complete, no trailer.
    let capture = with_budget(HEAD_COST + 50).await;
    let streamed = capture.streamed().unwrap();
    assert_eq!(streamed.body.len(), 50);
    assert_eq!(streamed.error, None);

    // limit + 1 over the whole response: complete too.
    let capture = with_budget(HEAD_COST + 51).await;
    assert_eq!(capture.streamed().unwrap().error, None);
}

/// 10,000 NDJSON records, and the continuation that ends a cut page with its cursor.
fn ndjson_export(reserve: usize) -> (Body, Continuation) {
    let records =
        stream::iter((0..10_000u64).map(|id| {
            Ok::<_, std::io::Error>(format!("{{\"id\":{id},\"name\":\"user {id}\"}}\n"))
        }));
    let cursor = Continuation::new(reserve, |cut: &Truncation| {
        assert_eq!(cut.reason, TruncationReason::Budget);
        format!("{{\"next_cursor\":{}}}\n", cut.records_sent).into()
    });
    (Body::from_stream(records), cursor)
}

#[tokio::test]
async fn a_record_export_ends_on_a_whole_record_with_its_continuation() {
    let limit = 4096;
    let (stats_tx, mut stats_rx) = tokio::sync::mpsc::unbounded_channel::<CompletionStats>();
    let (server, _task) = on_loop(
        move |c| {
            c.with_completion_hook(move |s: &CompletionStats| {
                let _ = stats_tx.send(s.clone());
            })
        },
        move |_req: Request, _ctx: Context| async move {
            let (body, cursor) = ndjson_export(64);
            http::Response::builder()
                .header("content-type", "application/x-ndjson")
                .extension(Budget::bytes(limit))
                .extension(cursor)
                .body(body)
        },
    )
    .await;
    let capture = within(server.invoke("{}")).await.unwrap();
    let streamed = capture.streamed().unwrap();
    assert_eq!(
        streamed.error, None,
        "a continuation replaces the error trailer"
    );
    let prelude_len = capture.chunks[0].len() as u64 + 8;
    assert!(prelude_len + streamed.body.len() as u64 <= limit);
    let text = String::from_utf8(streamed.body.to_vec()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|line| serde_json::from_str(line).expect("every line is whole JSON"))
        .collect();
    let (last, records) = lines.split_last().unwrap();
    assert_eq!(last["next_cursor"], records.len());
    assert_eq!(records.last().unwrap()["id"], records.len() - 1);

    let stats = within(stats_rx.recv()).await.expect("the hook ran");
    assert_eq!(
        stats.outcome,
        Outcome::Truncated {
            reason: TruncationReason::Budget,
            continued: true
        }
    );
    assert_eq!(stats.wire_bytes, prelude_len + streamed.body.len() as u64);
    assert!(
        !stats.budget_warned,
        "a page ended by its continuation fills its budget by design: no warning"
    );
    assert!(stats.budget_used() <= 1.0);
    // Records are counted one by one; data frames merge ready records, plus the cursor's.
    assert_eq!(stats.records, records.len() as u64);
    assert!(
        (2..=stats.records + 1).contains(&stats.chunks),
        "{}",
        stats.chunks
    );
}

#[tokio::test]
async fn a_continuation_that_does_not_fit_falls_back_to_the_error_trailer() {
    let (server, _task) = on_loop(
        |c| c,
        |_req: Request, _ctx: Context| async {
            let too_large = Continuation::new(4, |_: &Truncation| {
                Bytes::from_static(b"a continuation far larger than four bytes\n")
            });
            http::Response::builder()
                .extension(Budget::bytes(HEAD_COST + 64))
                .extension(too_large)
                .body(ten_byte_items(100))
        },
    )
    .await;
    let streamed = within(server.invoke("{}"))
        .await
        .unwrap()
        .streamed()
        .unwrap();
    // 60 bytes of records (the 4 reserved bytes are not for records), then the trailer.
    assert_eq!(streamed.body.len(), 60);
    assert!(streamed.body.ends_with(b"item-0005\n"));
    let error = streamed.error.unwrap();
    assert_eq!(error.error_type(), &ErrorType::RESPONSE_SIZE_TOO_LARGE);
}

#[tokio::test]
async fn early_errors_can_be_a_500_response_with_the_message() {
    let (server, _task) = on_loop(
        |c| {
            c.with_early_errors(EarlyErrors::Respond500)
                .with_hold(Hold {
                    bytes: 64 * 1024,
                    time: Duration::from_secs(5),
                })
        },
        |req: Request, _ctx: Context| async move {
            if req.uri().path() == "/handler" {
                return Err(std::io::Error::other("no database").into());
            }
            // Fails after some bytes, but inside the hold: the head is not committed yet.
            let error = FunctionError::new(ErrorType::new("Function.Upstream").unwrap(), "late");
            let items = stream::iter([Ok(Bytes::from("partial")), Err(error)]);
            http::Response::builder()
                .body(Body::from_stream(items))
                .map_err(lambda_stream::BoxError::from)
        },
    )
    .await;
    for (path, error_type, message) in [
        ("/handler", "Function.HandlerError", "no database"),
        ("/body", "Function.Upstream", "late"),
    ] {
        let request = http::Request::get(path).body(Bytes::new()).unwrap();
        let capture = within(server.invoke_request(&request)).await.unwrap();
        let streamed = capture.streamed().unwrap();
        assert_eq!(streamed.head.status, 500, "{path}");
        assert_eq!(streamed.head.headers["content-type"], "application/json");
        let json: serde_json::Value = serde_json::from_slice(&streamed.body).unwrap();
        assert_eq!(json["errorType"], error_type);
        assert_eq!(json["errorMessage"], message);
        assert_eq!(streamed.error, None);
    }
}

#[tokio::test]
async fn a_body_that_completes_inside_the_hold_goes_as_one_chunk_of_its_exact_size() {
    let (server, _task) = on_loop(
        |c| {
            c.with_hold(Hold {
                bytes: 1024,
                time: Duration::from_secs(5),
            })
        },
        |_req: Request, _ctx: Context| async { http::Response::builder().body(ten_byte_items(5)) },
    )
    .await;
    let capture = within(server.invoke("{}")).await.unwrap();
    assert_eq!(
        capture.chunks.len(),
        3,
        "prelude, delimiter, one body chunk"
    );
    assert_eq!(capture.chunks[2].len(), 50);
    let raw = String::from_utf8_lossy(&capture.raw).into_owned();
    assert!(raw.contains("\r\n32\r\nitem-0000\n"), "{raw:?}");
}

#[tokio::test]
async fn the_buffered_overflow_response_is_the_users_choice() {
    let (server, _task) = on_loop(
        |c| {
            c.with_invoke_mode(InvokeMode::Buffered)
                .with_buffered_limit(100)
                .with_buffered_overflow(BufferedOverflow::new(|limit| {
                    http::Response::builder()
                        .status(507)
                        .body(Bytes::from(format!("over {limit}")))
                        .unwrap()
                }))
        },
        |_req: Request, _ctx: Context| async { http::Response::builder().body(ten_byte_items(20)) },
    )
    .await;
    let capture = within(server.invoke("{}")).await.unwrap();
    let (head, body) = capture.buffered().unwrap();
    assert_eq!((head.status.as_u16(), &body[..]), (507, &b"over 100"[..]));
}

// ---- end to end through the emulator, read with a real HTTP client ----

async fn through_emulator<H: Handler>(
    emulator: EmulatorConfig,
    config: impl Fn(Config) -> Config,
    handler: H,
) -> TestEmulator {
    TestEmulator::start_with(emulator, config, handler)
        .await
        .unwrap()
}

#[tokio::test]
async fn a_100_mib_stream_ends_within_the_default_budget_with_its_trailer() {
    static CHUNK: [u8; 64 * 1024] = [b'x'; 64 * 1024];
    let emulator = through_emulator(
        EmulatorConfig::default(),
        |c| c,
        |_req: Request, _ctx: Context| async {
            let chunks =
                stream::iter(0..1600).map(|_| Ok::<_, std::io::Error>(Bytes::from_static(&CHUNK)));
            http::Response::builder().body(Body::from_stream(chunks))
        },
    )
    .await;
    let response = within(send(emulator.url_addr(), get_with_trailers("/"))).await;
    let (body, trailers, clean) = within(read_all(response)).await;
    assert!(clean, "ended by the function, not cut by the platform");
    assert!(body.len() as u64 <= 75 * 1024 * 1024);
    assert_eq!(
        body.len(),
        1199 * 64 * 1024,
        "every whole chunk that fits, no more"
    );
    let error = FunctionError::from_trailers(&trailers.unwrap()).unwrap();
    assert_eq!(error.error_type(), &ErrorType::RESPONSE_SIZE_TOO_LARGE);
}

#[tokio::test]
async fn an_ndjson_export_through_the_emulator_ends_with_a_parsable_cursor() {
    let emulator = through_emulator(
        EmulatorConfig::default(),
        |c| c,
        |_req: Request, _ctx: Context| async {
            let (body, cursor) = ndjson_export(64);
            http::Response::builder()
                .extension(Budget::bytes(64 * 1024))
                .extension(cursor)
                .body(body)
        },
    )
    .await;
    let response = within(send(emulator.url_addr(), get_with_trailers("/"))).await;
    let (body, trailers, clean) = within(read_all(response)).await;
    assert!(clean);
    assert_eq!(trailers, None);
    let text = String::from_utf8(body).unwrap();
    let last: serde_json::Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!(last["next_cursor"], text.lines().count() - 1);
}

#[tokio::test]
async fn buffered_mode_at_the_limit_and_one_over_through_the_emulator() {
    let emulator = through_emulator(
        EmulatorConfig::default().with_invoke_mode(InvokeMode::Buffered),
        |c| c,
        |req: Request, _ctx: Context| async move {
            let size: usize = req.uri().query().unwrap().parse().unwrap();
            http::Response::builder()
                .header("content-type", "text/plain")
                .body(Body::from(vec![b'a'; size]))
        },
    )
    .await;
    // {"statusCode":200,"headers":{"content-type":"text/plain"},"body":"","isBase64Encoded":false,"cookies":[]}
    let overhead = 105;
    let fits = BUFFERED_RESPONSE_LIMIT - overhead;
    for (size, status) in [(fits, 200), (fits + 1, 413)] {
        let request = common::get(&format!("/?{size}"));
        let response = within(send(emulator.url_addr(), request)).await;
        assert_eq!(response.status().as_u16(), status, "body of {size} bytes");
        let (body, _, _) = within(read_all(response)).await;
        if status == 200 {
            assert_eq!(body.len(), fits);
        } else {
            let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
            assert_eq!(json["errorType"], "Function.ResponseSizeTooLarge");
        }
    }
}

#[tokio::test]
async fn an_error_before_the_first_byte_is_a_500_with_its_message_through_the_emulator() {
    let emulator = through_emulator(
        EmulatorConfig::default(),
        |c| c.with_early_errors(EarlyErrors::Respond500),
        |_req: Request, _ctx: Context| async {
            Err::<lambda_stream::Response, _>(std::io::Error::other("config missing"))
        },
    )
    .await;
    let response = within(send(emulator.url_addr(), common::get("/"))).await;
    assert_eq!(response.status(), 500);
    let (body, _, _) = within(read_all(response)).await;
    let json: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["errorMessage"], "config missing");
}

#[tokio::test]
async fn a_deadline_two_seconds_away_ends_the_stream_with_its_trailer_in_time() {
    let emulator = through_emulator(
        EmulatorConfig::default().with_timeout(Duration::from_secs(2)),
        |c| c,
        |_req: Request, _ctx: Context| async {
            let ticks = stream::iter(0..).then(|i| async move {
                tokio::time::sleep(Duration::from_millis(100)).await;
                Ok::<_, std::io::Error>(format!("tick {i}\n"))
            });
            http::Response::builder().body(Body::from_stream(ticks))
        },
    )
    .await;
    let response = within(send(emulator.url_addr(), get_with_trailers("/"))).await;
    let (body, trailers, clean) = within(read_all(response)).await;
    // A clean end with the function's trailer: the function ended the stream before the
    // platform's deadline (which would cut the connection instead). The exact instant is
    // checked on a paused clock in the crate's unit tests.
    assert!(clean, "ended by the function before the platform cut it");
    assert!(String::from_utf8(body).unwrap().starts_with("tick 0\n"));
    let error = FunctionError::from_trailers(&trailers.unwrap()).unwrap();
    assert_eq!(error.error_type(), &ErrorType::DEADLINE_EXCEEDED);
}
