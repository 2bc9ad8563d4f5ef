//! An axum app as one streaming function: an SSE route streams, a JSON route answers plainly,
//! a download route streams a generated file. The official crates cannot mix these in one
//! function (aws-lambda-rust-runtime #805, #967).
//!
//! `cargo run -p axum_app`, then
//! `curl -N localhost:9000/events`, `curl localhost:9000/json`,
//! `curl -s localhost:9000/download | wc -c`. With `LAMBDA_STREAM_INVOKE_MODE=BUFFERED` every
//! route is collected into a buffered response instead.

use std::convert::Infallible;
use std::time::Duration;

use axum::response::IntoResponse;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::routing::get;
use axum::{Json, Router};
use futures_util::{Stream, StreamExt, stream};

fn events() -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let ticks = stream::iter(1..=5).then(|i| async move {
        tokio::time::sleep(Duration::from_millis(200)).await;
        Ok(Event::default().event("tick").data(format!("{i} of 5")))
    });
    Sse::new(ticks).keep_alive(KeepAlive::default())
}

async fn json() -> Json<serde_json::Value> {
    Json(serde_json::json!({"service": "axum on lambda-stream", "streaming": true}))
}

async fn download() -> impl IntoResponse {
    let chunks = stream::iter(0..64u8).map(|i| Ok::<_, Infallible>(vec![b'a' + i % 26; 16 * 1024]));
    (
        [("content-type", "application/octet-stream")],
        axum::body::Body::from_stream(chunks),
    )
}

/// The app: plain axum, nothing Lambda-specific.
pub fn app() -> Router {
    Router::new()
        .route("/events", get(|| async { events() }))
        .route("/json", get(json))
        .route("/download", get(download))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_stream::Error> {
    lambda_stream::run(lambda_stream::service(app())).await
}
