//! A page that the deadline ends carries its link for slow readers too: the function measures
//! the reader's pace (what the connection takes while the body is always ready) and stops early
//! enough for what is still on its way, then the link, to arrive before the deadline.

use lambda_stream::testing::TestEmulator;
use std::time::Duration;

use futures_util::stream;
use http_body_util::BodyExt;
use lambda_stream::emulator::EmulatorConfig;
use lambda_stream::{Body, Context, Continuation, Request, Truncation};

use crate::common::{get, send};

/// NDJSON rows for as long as it is read, ended by the deadline with a link to the next page.
async fn endless_export(_: Request, _: Context) -> Result<lambda_stream::Response, http::Error> {
    let rows =
        stream::iter((0u64..).map(|id| {
            Ok::<_, std::io::Error>(format!("{{\"id\":{id},\"note\":\"{:060}\"}}\n", id))
        }));
    let next_page = Continuation::new(64, |cut: &Truncation| {
        format!("{{\"next_cursor\":{}}}\n", cut.next_offset(0)).into()
    });
    http::Response::builder()
        .header("content-type", "application/x-ndjson")
        .extension(next_page)
        .body(Body::from_stream(rows))
}

/// Reads the export at `bytes_per_second` and returns the body and whether it ended cleanly.
async fn read_slowly(address: std::net::SocketAddr, bytes_per_second: f64) -> (String, bool) {
    let response = send(address, get("/")).await;
    let mut body = response.into_body();
    let mut text = Vec::new();
    loop {
        match body.frame().await {
            Some(Ok(frame)) => {
                if let Ok(data) = frame.into_data() {
                    text.extend_from_slice(&data);
                    let pause = data.len() as f64 / bytes_per_second;
                    tokio::time::sleep(Duration::from_secs_f64(pause)).await;
                }
            }
            Some(Err(_)) => return (String::from_utf8_lossy(&text).into_owned(), false),
            None => return (String::from_utf8_lossy(&text).into_owned(), true),
        }
    }
}

#[tokio::test]
async fn a_deadline_ended_page_reaches_slow_readers_with_its_link() {
    let config = EmulatorConfig::default()
        .with_timeout(Duration::from_secs(4))
        .with_max_concurrency(3);
    let emulator = TestEmulator::start(config, endless_export).await.unwrap();
    let address = emulator.url_addr();
    // Before: at 2 MB/s and 1 MB/s the page was cut mid-line at the deadline, with no link.
    let rates = [8e6, 2e6, 1e6];
    let readers = rates.map(|rate| tokio::spawn(read_slowly(address, rate)));
    let mut pages = Vec::new();
    for (reader, rate) in readers.into_iter().zip(rates) {
        let (text, clean) = reader.await.unwrap();
        let rows = text.lines().count().saturating_sub(1);
        let link = text.lines().last().unwrap_or_default().to_owned();
        eprintln!(
            "{} MB/s: {} bytes, clean {clean}, ends {link:?}",
            rate / 1e6,
            text.len()
        );
        pages.push((rate, text, clean, rows, link));
    }
    for (rate, text, clean, rows, link) in pages {
        let rate = rate / 1e6;
        assert!(
            clean,
            "{rate} MB/s: the page ends cleanly ({} bytes)",
            text.len()
        );
        assert_eq!(
            link,
            format!("{{\"next_cursor\":{rows}}}"),
            "{rate} MB/s: the page ends with the link to its next row"
        );
        assert!(text.ends_with('\n'), "{rate} MB/s: whole lines only");
    }
}
