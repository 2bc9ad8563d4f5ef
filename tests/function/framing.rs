//! Framings end to end: SSE through the emulator parsed back by an independent SSE parser,
//! a JSON array cut by the budget still parsing, CSV and NDJSON on the real loop.

use std::time::Duration;

use bytes::Bytes;
use eventsource_stream::Eventsource;
use futures_util::{StreamExt, stream};
use http_body_util::BodyExt;
use lambda_stream::emulator::EmulatorConfig;
use lambda_stream::sse::{Event, KeepAlive, Sse, token_events};
use lambda_stream::testing::RuntimeApiServer;
use lambda_stream::testing::TestEmulator;
use lambda_stream::{Body, Budget, Config, Context, Handler, Request, Runtime};

use crate::common::{get, send, within};

async fn on_emulator<H: Handler>(handler: H) -> TestEmulator {
    TestEmulator::start(EmulatorConfig::default(), handler)
        .await
        .unwrap()
}

#[tokio::test]
async fn sse_events_parse_back_with_an_independent_parser() {
    let emulator = on_emulator(|_req: Request, _ctx: Context| async {
        let events = vec![
            Ok::<_, std::io::Error>(
                Event::default()
                    .event("start")
                    .unwrap()
                    .id("1")
                    .unwrap()
                    .data("begin"),
            ),
            Ok(Event::default()
                .data("two\nlines")
                .retry(Duration::from_millis(1500))),
            Ok(Event::default()
                .comment("ignored by clients")
                .data("after a comment")),
        ];
        let response = Sse::new(stream::iter(events))
            .keep_alive(KeepAlive::new().interval(Duration::from_secs(30)))
            .into_response();
        Ok::<_, std::convert::Infallible>(response)
    })
    .await;
    let response = within(send(emulator.url_addr(), get("/"))).await;
    assert_eq!(response.headers()["content-type"], "text/event-stream");
    assert_eq!(response.headers()["cache-control"], "no-cache");
    let events: Vec<_> = response
        .into_body()
        .into_data_stream()
        .eventsource()
        .map(|event| event.unwrap())
        .collect()
        .await;
    let seen: Vec<_> = events
        .iter()
        .map(|e| (e.event.as_str(), e.data.as_str(), e.id.as_str(), e.retry))
        .collect();
    assert_eq!(
        seen,
        [
            ("start", "begin", "1", None),
            (
                "message",
                "two\nlines",
                "1",
                Some(Duration::from_millis(1500))
            ),
            ("message", "after a comment", "1", None),
        ]
    );
}

#[tokio::test]
async fn each_token_reaches_the_client_before_the_next_is_produced() {
    // The test hands the handler a token only after the client has read the previous one: an
    // event held back anywhere (runtime, emulator, client) would hang it. (The head goes with
    // the first body byte, so the first token is sent before the response is awaited.)
    let (tokens_tx, tokens_rx) = tokio::sync::mpsc::channel::<&'static str>(1);
    let tokens_rx = std::sync::Mutex::new(Some(tokens_rx));
    let emulator = on_emulator(move |_req: Request, _ctx: Context| {
        let tokens = tokens_rx.lock().unwrap().take().expect("one invocation");
        async move {
            let tokens = tokio_stream::wrappers::ReceiverStream::new(tokens);
            Ok::<_, std::convert::Infallible>(Sse::new(token_events(tokens)).into_response())
        }
    })
    .await;
    tokens_tx.send("The").await.unwrap();
    let response = within(send(emulator.url_addr(), get("/"))).await;
    let mut body = response.into_body();
    let mut frames = Vec::new();
    for next in [Some(" quick"), Some(" fox"), None] {
        let frame = within(body.frame()).await.unwrap().unwrap();
        frames.push(frame.into_data().unwrap());
        if let Some(token) = next {
            tokens_tx.send(token).await.unwrap();
        }
    }
    drop(tokens_tx);
    assert!(within(body.frame()).await.is_none());
    assert_eq!(
        frames,
        ["data: The\n\n", "data:  quick\n\n", "data:  fox\n\n"]
    );
}

#[derive(serde::Serialize)]
struct Row {
    id: u64,
    name: String,
}

fn rows() -> impl futures_util::Stream<Item = Result<Row, std::io::Error>> + Send + 'static {
    stream::iter((0..100_000u64).map(|id| {
        Ok(Row {
            id,
            name: format!("user \"{id}\", ok"),
        })
    }))
}

#[tokio::test]
async fn a_json_array_cut_by_the_budget_is_still_valid_json() {
    let server = RuntimeApiServer::start().await.unwrap();
    let runtime = Runtime::new(Config::new(server.runtime_api()));
    let _task = tokio::spawn(runtime.run(|req: Request, _ctx: Context| async move {
        let body = if req.uri().path() == "/empty" {
            Body::json_array(stream::iter(Vec::<Result<Row, std::io::Error>>::new()))
        } else {
            Body::json_array(rows())
        };
        http::Response::builder()
            .header("content-type", "application/json")
            .extension(Budget::bytes(8 * 1024))
            .body(body)
    }));
    let request = http::Request::get("/").body(Bytes::new()).unwrap();
    let streamed = within(server.invoke_request(&request))
        .await
        .unwrap()
        .streamed()
        .unwrap();
    assert_eq!(
        streamed.error, None,
        "closed by the array's own continuation"
    );
    let array: Vec<serde_json::Value> = serde_json::from_slice(&streamed.body).unwrap();
    assert!(array.len() > 10);
    assert_eq!(array.last().unwrap()["id"], array.len() - 1);

    let request = http::Request::get("/empty").body(Bytes::new()).unwrap();
    let streamed = within(server.invoke_request(&request))
        .await
        .unwrap()
        .streamed()
        .unwrap();
    assert_eq!(&streamed.body[..], b"[]");
}

#[tokio::test]
async fn csv_and_ndjson_exports_on_the_loop() {
    let server = RuntimeApiServer::start().await.unwrap();
    let runtime = Runtime::new(Config::new(server.runtime_api()));
    let _task = tokio::spawn(runtime.run(|req: Request, _ctx: Context| async move {
        let few = rows().take(3);
        let (content_type, body) = if req.uri().path() == "/csv" {
            ("text/csv", Body::csv(few))
        } else {
            ("application/x-ndjson", Body::ndjson(few))
        };
        http::Response::builder()
            .header("content-type", content_type)
            .body(body)
    }));
    let csv = http::Request::get("/csv").body(Bytes::new()).unwrap();
    let capture = within(server.invoke_request(&csv)).await.unwrap();
    assert_eq!(
        capture.chunks.len(),
        2 + 1,
        "records ready together travel as one chunk"
    );
    let body = capture.streamed().unwrap().body;
    let mut reader = csv::Reader::from_reader(&body[..]);
    let names: Vec<String> = reader.records().map(|r| r.unwrap()[1].to_owned()).collect();
    assert_eq!(
        names,
        ["user \"0\", ok", "user \"1\", ok", "user \"2\", ok"]
    );

    let ndjson = http::Request::get("/ndjson").body(Bytes::new()).unwrap();
    let body = within(server.invoke_request(&ndjson))
        .await
        .unwrap()
        .streamed()
        .unwrap()
        .body;
    let ids: Vec<u64> = String::from_utf8(body.to_vec())
        .unwrap()
        .lines()
        .map(|line| {
            serde_json::from_str::<serde_json::Value>(line).unwrap()["id"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(ids, [0, 1, 2]);
}

#[tokio::test]
async fn a_coalesced_export_still_counts_records_for_its_cursor() {
    let server = RuntimeApiServer::start().await.unwrap();
    let runtime = Runtime::new(Config::new(server.runtime_api()));
    let _task = tokio::spawn(runtime.run(|_req: Request, _ctx: Context| async move {
        let body = Body::ndjson(rows()).coalesce(lambda_stream::Coalesce {
            max_bytes: 1024,
            max_delay: Duration::from_millis(20),
        });
        let cursor = lambda_stream::Continuation::new(64, |cut: &lambda_stream::Truncation| {
            format!("{{\"next_cursor\":{}}}\n", cut.records_sent).into()
        });
        http::Response::builder()
            .extension(Budget::bytes(16 * 1024))
            .extension(cursor)
            .body(body)
    }));
    let capture = within(server.invoke("{}")).await.unwrap();
    assert!(
        capture.chunks.len() < 40,
        "records were merged into few chunks"
    );
    let text = String::from_utf8(capture.streamed().unwrap().body.to_vec()).unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (cursor, records) = lines.split_last().unwrap();
    assert_eq!(cursor["next_cursor"], records.len(), "records, not chunks");
    assert_eq!(records.last().unwrap()["id"], records.len() - 1);
}
