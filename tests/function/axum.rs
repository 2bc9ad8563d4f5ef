//! An axum Router with SSE, JSON and download routes, run through `lambda_stream::service` on
//! the real loop behind the emulator, in both invoke modes.

use lambda_stream::testing::TestEmulator;
use std::convert::Infallible;

use axum::response::sse::{Event, Sse};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::stream;
use lambda_stream::emulator::EmulatorConfig;
use lambda_stream::{Context, InvokeMode};

use crate::common;
use crate::common::{read_all, send, within};

fn app() -> Router {
    Router::new()
        .route(
            "/events",
            get(|| async {
                let events = stream::iter((1..=3).map(|i| {
                    Ok::<_, Infallible>(Event::default().event("tick").data(i.to_string()))
                }));
                Sse::new(events)
            }),
        )
        .route(
            "/json",
            get(|| async { Json(serde_json::json!({"ok": true})) }),
        )
        .route(
            "/download",
            get(|| async {
                let chunks =
                    stream::iter((0..8).map(|_| Ok::<_, Infallible>(vec![b'z'; 64 * 1024])));
                axum::body::Body::from_stream(chunks)
            }),
        )
        .route(
            "/broken",
            get(|| async {
                let chunks = stream::iter([
                    Ok(bytes::Bytes::from("partial ")),
                    Err(std::io::Error::other("upstream closed")),
                ]);
                axum::body::Body::from_stream(chunks)
            }),
        )
        .route(
            "/context",
            get(|request: axum::extract::Request| async move {
                let context = request.extensions().get::<Context>().cloned();
                context.map(|c| c.request_id).unwrap_or_default()
            }),
        )
}

async fn serve(mode: InvokeMode) -> TestEmulator {
    let config = EmulatorConfig::default().with_invoke_mode(mode);
    TestEmulator::start(config, lambda_stream::service(app()))
        .await
        .unwrap()
}

#[tokio::test]
async fn every_route_in_both_invoke_modes() {
    for mode in [InvokeMode::ResponseStream, InvokeMode::Buffered] {
        let emulator = serve(mode).await;
        let response = within(send(emulator.url_addr(), common::get("/events"))).await;
        assert_eq!(
            response.headers()["content-type"],
            "text/event-stream",
            "{mode}"
        );
        let (body, _, clean) = within(read_all(response)).await;
        assert!(clean);
        assert_eq!(
            String::from_utf8(body).unwrap(),
            "event: tick\ndata: 1\n\nevent: tick\ndata: 2\n\nevent: tick\ndata: 3\n\n",
            "{mode}"
        );

        let response = within(send(emulator.url_addr(), common::get("/json"))).await;
        assert_eq!(
            response.headers()["content-type"],
            "application/json",
            "{mode}"
        );
        let (body, _, _) = within(read_all(response)).await;
        assert_eq!(body, br#"{"ok":true}"#, "{mode}");

        let response = within(send(emulator.url_addr(), common::get("/download"))).await;
        let (body, _, clean) = within(read_all(response)).await;
        assert_eq!((body.len(), clean), (8 * 64 * 1024, true), "{mode}");
        assert!(body.iter().all(|&b| b == b'z'));

        let response = within(send(emulator.url_addr(), common::get("/context"))).await;
        let request_id = response.headers()["x-amzn-requestid"].clone();
        let (body, _, _) = within(read_all(response)).await;
        assert_eq!(
            body,
            request_id.as_bytes(),
            "{mode}: the Context is an extension"
        );

        // A body error: trailers when streaming; before any byte was sent when buffering, so
        // it is reported to Lambda's /error and the URL answers 502.
        let response = within(send(
            emulator.url_addr(),
            common::get_with_trailers("/broken"),
        ))
        .await;
        let status = response.status();
        let (body, trailers, _) = within(read_all(response)).await;
        if mode == InvokeMode::ResponseStream {
            assert_eq!((status.as_u16(), body.as_slice()), (200, &b"partial "[..]));
            let error = lambda_stream::wire::FunctionError::from_trailers(&trailers.unwrap());
            assert_eq!(error.unwrap().message(), "upstream closed");
        } else {
            assert_eq!(status, 502, "{mode}");
        }

        let response = within(send(emulator.url_addr(), common::get("/nowhere"))).await;
        assert_eq!(response.status(), 404, "{mode}");
    }
}
