//! Streaming compression, decoded by the real decoders (flate2, brotli, zstd) after every
//! item, and end to end: negotiated headers, budgets counting compressed bytes, a compressed
//! continuation that still ends the stream properly.

use std::io::Write;

use bytes::Bytes;
use futures_util::{StreamExt, stream};
use lambda_stream::compression::{Compression, Encoding};
use lambda_stream::emulator::EmulatorConfig;
use lambda_stream::sse::{Event, Sse};
use lambda_stream::testing::RuntimeApiServer;
use lambda_stream::testing::TestEmulator;
use lambda_stream::{Body, Budget, Config, Context, Continuation, Request, Runtime, Truncation};

use crate::common::{read_all, send, within};

/// Feeds one compressed chunk, returns everything decoded so far.
type Feed = Box<dyn FnMut(&[u8]) -> Vec<u8>>;

/// A real decoder fed chunk by chunk.
struct Decoder(Feed);

fn decoder(encoding: Encoding) -> Decoder {
    fn fed<W: Write + 'static>(mut writer: W, get: fn(&W) -> &Vec<u8>) -> Decoder {
        Decoder(Box::new(move |chunk: &[u8]| {
            writer.write_all(chunk).unwrap();
            writer.flush().unwrap();
            get(&writer).clone()
        }))
    }
    match encoding {
        Encoding::Gzip => fed(flate2::write::GzDecoder::new(Vec::new()), |w| w.get_ref()),
        Encoding::Deflate => fed(flate2::write::ZlibDecoder::new(Vec::new()), |w| w.get_ref()),
        Encoding::Brotli => fed(brotli::DecompressorWriter::new(Vec::new(), 4096), |w| {
            w.get_ref()
        }),
        Encoding::Zstd => fed(
            zstd::stream::write::Decoder::new(Vec::new()).unwrap(),
            |w| w.get_ref(),
        ),
        _ => unreachable!("all encodings are listed"),
    }
}

fn events() -> Vec<Bytes> {
    (0..5)
        .map(|i| {
            Event::default()
                .data(format!("token {i} of a streamed answer"))
                .encode()
        })
        .collect()
}

/// The runtime compressing `/trickle` (each item after a wait, as tokens from a model come)
/// or `/ready` (every item ready at once) with the encoding the request accepts.
fn compressing_runtime(server: &RuntimeApiServer) -> tokio::task::JoinHandle<()> {
    let runtime =
        Runtime::new(Config::new(server.runtime_api()).with_compression(Compression::new()));
    tokio::spawn(async move {
        let _ = runtime
            .run(|req: Request, _ctx: Context| async move {
                let items = stream::iter(events());
                let body = if req.uri().path() == "/trickle" {
                    Body::from_stream(items.then(|item| async {
                        tokio::task::yield_now().await;
                        Ok::<_, std::io::Error>(item)
                    }))
                } else {
                    Body::from_stream(items.map(Ok::<_, std::io::Error>))
                };
                Ok::<_, std::convert::Infallible>(http::Response::new(body))
            })
            .await;
    })
}

/// Each encoding end to end through the runtime: a trickled body decodes whole, and items
/// that are ready together (and the end) are compressed together: one chunk, one flush. (That
/// each item is decodable on arrival is tested beside the compressing stage.)
#[tokio::test]
async fn every_encoding_end_to_end_and_ready_items_share_a_flush() {
    let server = RuntimeApiServer::start().await.unwrap();
    let _task = compressing_runtime(&server);
    let items = events();
    for encoding in [
        Encoding::Gzip,
        Encoding::Deflate,
        Encoding::Brotli,
        Encoding::Zstd,
    ] {
        let request = |path: &str| {
            http::Request::get(path)
                .header("accept-encoding", encoding.as_str())
                .body(Bytes::new())
                .unwrap()
        };
        let capture = within(server.invoke_request(&request("/trickle")))
            .await
            .unwrap();
        let streamed = capture.streamed().unwrap();
        assert_eq!(streamed.head.headers["content-encoding"], encoding.as_str());
        assert_eq!(streamed.error, None);
        let mut decode = decoder(encoding);
        assert_eq!((decode.0)(&streamed.body), items.concat(), "{encoding:?}");

        let capture = within(server.invoke_request(&request("/ready")))
            .await
            .unwrap();
        // The prelude, the delimiter, then the body's one chunk.
        assert_eq!(capture.chunks.len(), 3, "{encoding:?}");
        let mut decode = decoder(encoding);
        assert_eq!(
            (decode.0)(&capture.chunks[2]),
            items.concat(),
            "{encoding:?}"
        );
    }
}

async fn on_emulator(config: impl Fn(Config) -> Config) -> TestEmulator {
    let handler = |_req: Request, _ctx: Context| async {
        let events = stream::iter(events().into_iter().enumerate().map(|(i, _)| {
            Ok::<_, std::io::Error>(
                Event::default().data(format!("token {i} of a streamed answer")),
            )
        }));
        Ok::<_, std::convert::Infallible>(Sse::new(events).into_response())
    };
    TestEmulator::start_with(EmulatorConfig::default(), config, handler)
        .await
        .unwrap()
}

#[tokio::test]
async fn negotiated_end_to_end_and_off_unless_configured() {
    let emulator = on_emulator(|c| c.with_compression(Compression::new())).await;
    let request = http::Request::get("/")
        .header("host", "localhost")
        .header("accept-encoding", "gzip;q=1.0, br;q=0.5")
        .body(http_body_util::Full::default())
        .unwrap();
    let response = within(send(emulator.url_addr(), request)).await;
    assert_eq!(response.headers()["content-encoding"], "gzip");
    assert_eq!(response.headers()["vary"], "accept-encoding");
    let (body, _, clean) = within(read_all(response)).await;
    assert!(clean);
    let mut decode = decoder(Encoding::Gzip);
    assert_eq!((decode.0)(&body), events().concat());

    // The default: no compression, whatever the client accepts.
    let emulator = on_emulator(|c| c).await;
    let request = http::Request::get("/")
        .header("host", "localhost")
        .header("accept-encoding", "gzip")
        .body(http_body_util::Full::default())
        .unwrap();
    let response = within(send(emulator.url_addr(), request)).await;
    assert!(!response.headers().contains_key("content-encoding"));
}

#[tokio::test]
async fn budgets_count_compressed_bytes_and_continuations_close_the_stream() {
    let server = RuntimeApiServer::start().await.unwrap();
    let runtime =
        Runtime::new(Config::new(server.runtime_api()).with_compression(Compression::new()));
    let _task = tokio::spawn(runtime.run(|req: Request, _ctx: Context| async move {
        if req.uri().path() == "/zeros" {
            // 4 MiB of zeros compress to a few KiB: it fits a 256 KiB budget.
            let zeros = stream::iter(
                (0..64).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![0u8; 64 * 1024]))),
            );
            return http::Response::builder()
                .extension(Budget::bytes(256 * 1024))
                .body(Body::from_stream(zeros));
        }
        // Varied records that do not fit: cut, with a cursor, compressed.
        let records = stream::iter((0..1_000_000u64).map(|id| {
            Ok::<_, std::io::Error>(
                serde_json::json!({"id": id, "hash": id.wrapping_mul(0x9E37_79B9_7F4A_7C15)}),
            )
        }));
        let cursor = Continuation::new(256, |cut: &Truncation| {
            format!("{{\"next_cursor\":{}}}\n", cut.records_sent).into()
        });
        http::Response::builder()
            .header("content-type", "application/x-ndjson")
            .extension(Budget::bytes(32 * 1024))
            .extension(cursor)
            .body(Body::ndjson(records))
    }));
    let gzip = |path: &str| {
        http::Request::get(path)
            .header("accept-encoding", "gzip")
            .body(Bytes::new())
            .unwrap()
    };

    let streamed = within(server.invoke_request(&gzip("/zeros")))
        .await
        .unwrap()
        .streamed()
        .unwrap();
    assert_eq!(
        streamed.error, None,
        "4 MiB of zeros fit in 256 KiB once compressed"
    );
    assert!(streamed.body.len() < 64 * 1024);
    let mut decode = decoder(Encoding::Gzip);
    assert_eq!((decode.0)(&streamed.body).len(), 4 * 1024 * 1024);

    let capture = within(server.invoke_request(&gzip("/export")))
        .await
        .unwrap();
    let streamed = capture.streamed().unwrap();
    assert_eq!(streamed.error, None);
    assert!(capture.chunks[0].len() + 8 + streamed.body.len() <= 32 * 1024);
    // A finished gzip member: read_to_end would fail on a truncated stream.
    let mut text = String::new();
    std::io::Read::read_to_string(
        &mut flate2::read::GzDecoder::new(&streamed.body[..]),
        &mut text,
    )
    .unwrap();
    let lines: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (cursor, records) = lines.split_last().unwrap();
    assert_eq!(cursor["next_cursor"], records.len());
}
