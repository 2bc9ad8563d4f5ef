//! A CSV export compressed with gzip for clients that accept it (API Gateway REST or direct
//! `InvokeWithResponseStream` callers; Function URLs strip `Content-Encoding` from streams),
//! flushed per 64 KiB of rows so the client decodes as data arrives.
//!
//! `cargo run --features compression --example export_csv_gzip`, then
//! `curl -sN --compressed 'localhost:9000/?rows=200000' | tail -n 2`
//! (`curl -sN -H 'Accept-Encoding: gzip' ... | gunzip | head` shows the same).

use std::time::Duration;

use futures_util::stream;
use lambda_stream::compression::Compression;
use lambda_stream::{Body, BoxError, Coalesce, Context, Request, Response};
use serde::Serialize;

#[derive(Serialize)]
struct Reading {
    sensor: String,
    timestamp: u64,
    celsius: f64,
    note: &'static str,
}

async fn export(request: Request, _context: Context) -> Result<Response, BoxError> {
    let rows: u64 = request
        .uri()
        .query()
        .and_then(|q| q.strip_prefix("rows="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let readings = stream::iter((0..rows).map(|i| {
        Ok::<_, std::io::Error>(Reading {
            sensor: format!("sensor-{:03}", i % 500),
            timestamp: 1_764_028_800 + i,
            celsius: 18.0 + (i % 97) as f64 / 10.0,
            note: if i % 101 == 0 {
                "recalibrated, \"manual\""
            } else {
                ""
            },
        })
    }));
    let body = Body::csv(readings).coalesce(Coalesce {
        max_bytes: 64 * 1024,
        max_delay: Duration::from_millis(50),
    });
    Ok(http::Response::builder()
        .header("content-type", "text/csv")
        .body(body)?)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_stream::Error> {
    // Compression applies to clients whose Accept-Encoding allows it, on Lambda and locally.
    lambda_stream::run_with(export, |config| config.with_compression(Compression::new())).await
}
