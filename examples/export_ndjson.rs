//! A large export as NDJSON that never overruns its budget: when the next record would not fit,
//! the body ends after the last whole record with the standard link to the next page,
//! `{"next":"?rows=..&cursor=N"}`, which `lambda-stream get` follows.
//!
//! `cargo run --example export_ndjson`, then
//! `curl -sN 'localhost:9000/?rows=2000000' | tail -n 1` -> `{"next":"?rows=2000000&cursor=..."}`
//! (75 MiB budget); `lambda-stream get 'http://localhost:9000/?rows=2000000' -o orders.ndjson`
//! downloads every page.
//!
//! Settings made in code apply on Lambda and to the local URL alike:
//! `cargo run --example export_ndjson -- --buffered --budget 1000000` answers in `BUFFERED`
//! mode, in pages of at most 1,000,000 bytes with the same records as the streamed pages.

use std::time::Duration;

use futures_util::stream;
use lambda_stream::{
    Body, BoxError, Budget, Coalesce, Config, Context, Continuation, InvokeMode, Request,
    RequestExt, Response, Truncation,
};
use serde::Serialize;

#[derive(Serialize)]
struct Order {
    id: u64,
    customer: String,
    amount_cents: u64,
    status: &'static str,
}

fn query_number(request: &Request, key: &str, default: u64) -> u64 {
    request
        .query_param(key)
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

async fn export(request: Request, _context: Context) -> Result<Response, BoxError> {
    let rows = query_number(&request, "rows", 100_000);
    let cursor = query_number(&request, "cursor", 0);
    let orders = stream::iter((cursor..rows).map(|id| {
        Ok::<_, std::io::Error>(Order {
            id,
            customer: format!("customer-{:06}", id % 250_000),
            amount_cents: (id * 7_919) % 100_000,
            status: if id % 17 == 0 { "refunded" } else { "paid" },
        })
    }));
    // ~80-byte records: merge them into 64 KiB chunks (never holding one over 50 ms).
    let body = Body::ndjson(orders).coalesce(Coalesce {
        max_bytes: 64 * 1024,
        max_delay: Duration::from_millis(50),
    });
    // A page cut by its budget or the deadline ends with the link to the next one.
    let next_page = Continuation::ndjson_link(64, move |cut: &Truncation| {
        format!("?rows={rows}&cursor={}", cut.next_offset(cursor))
    });
    Ok(http::Response::builder()
        .header("content-type", "application/x-ndjson")
        .extension(next_page)
        .body(body)?)
}

/// The deployment this example asks for on its command line: `--buffered`, `--budget <bytes>`.
fn deployment(config: Config) -> Config {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut config = config;
    if args.iter().any(|arg| arg == "--buffered") {
        config = config.with_invoke_mode(InvokeMode::Buffered);
    }
    let budget = args.iter().skip_while(|arg| *arg != "--budget").nth(1);
    if let Some(bytes) = budget.and_then(|bytes| bytes.parse().ok()) {
        config = config.with_budget(Budget::bytes(bytes));
    }
    config
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_stream::Error> {
    lambda_stream::run_with(export, deployment).await
}
