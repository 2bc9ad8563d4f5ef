//! The live progress of a long run: counts the primes below N (a real CPU workload, on the
//! blocking pool) in 20 segments, streaming a `progress` event after each and a `summary` event
//! at the end.
//!
//! `cargo run --release --example bench_progress`, then `curl -N 'localhost:9000/?n=20000000'`,
//! or open <http://localhost:9000/> for a page that draws the events as a progress bar (a
//! request that accepts `text/html` gets the page; its `EventSource` asks for the events).

use std::time::Instant;

use futures_util::stream;
use lambda_stream::sse::{Event, Sse};
use lambda_stream::{Body, BoxError, Context, Request, Response};

const SEGMENTS: u64 = 20;

/// The page: a progress bar fed by the `progress` events, then the `summary`.
const PAGE: &str = include_str!("page.html");

fn is_prime(n: u64) -> bool {
    if n < 2 {
        return false;
    }
    let mut divisor = 2;
    while divisor * divisor <= n {
        if n.is_multiple_of(divisor) {
            return false;
        }
        divisor += 1;
    }
    true
}

fn count_primes(range: std::ops::Range<u64>) -> u64 {
    range.filter(|&n| is_prime(n)).count() as u64
}

struct Run {
    n: u64,
    segment: u64,
    primes: u64,
    started: Instant,
    finished: bool,
}

async fn next_event(mut run: Run) -> Option<(Result<Event, BoxError>, Run)> {
    if run.finished {
        return None;
    }
    if run.segment == SEGMENTS {
        run.finished = true;
        let summary = serde_json::json!({
            "n": run.n,
            "primes": run.primes,
            "elapsed_ms": run.started.elapsed().as_millis() as u64,
        });
        let event = Event::default().event("summary").map_err(BoxError::from);
        return Some((event.and_then(|e| Ok(e.json_data(&summary)?)), run));
    }
    let step = run.n.div_ceil(SEGMENTS);
    let range = run.segment * step..((run.segment + 1) * step).min(run.n);
    let segment_started = Instant::now();
    let found = match tokio::task::spawn_blocking(move || count_primes(range)).await {
        Ok(found) => found,
        Err(error) => return Some((Err(error.into()), run)),
    };
    run.primes += found;
    run.segment += 1;
    let progress = serde_json::json!({
        "done": run.segment,
        "of": SEGMENTS,
        "primes_so_far": run.primes,
        "segment_ms": segment_started.elapsed().as_millis() as u64,
    });
    let event = Event::default().event("progress").map_err(BoxError::from);
    Some((event.and_then(|e| Ok(e.json_data(&progress)?)), run))
}

/// Whether the client is a browser asking for a page (not `EventSource`, not curl).
fn wants_page(request: &Request) -> bool {
    request
        .headers()
        .get(http::header::ACCEPT)
        .and_then(|accept| accept.to_str().ok())
        .is_some_and(|accept| accept.contains("text/html"))
}

async fn bench(request: Request, _context: Context) -> Result<Response, BoxError> {
    if wants_page(&request) {
        return Ok(http::Response::builder()
            .header("content-type", "text/html; charset=utf-8")
            .body(Body::from(PAGE))?);
    }
    let n = request
        .uri()
        .query()
        .and_then(|q| q.strip_prefix("n="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000u64);
    let run = Run {
        n,
        segment: 0,
        primes: 0,
        started: Instant::now(),
        finished: false,
    };
    let events = stream::unfold(run, next_event);
    Ok(Sse::new(events).into_response())
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_stream::Error> {
    lambda_stream::run(bench).await
}
