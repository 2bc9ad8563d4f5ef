//! How long a 20 MB export really takes on AWS: the same stream through the local emulator
//! without a cap and with AWS's bandwidth model (6 MiB at once, then 2 MiB/s), as
//! `lambda-stream serve --throttle aws` or `LAMBDA_STREAM_THROTTLE=aws` apply it.
//!
//! `cargo run --release --example throttled_export`

use std::time::Instant;

use bytes::Bytes;
use futures_util::stream;
use http_body_util::{BodyExt, Empty};
use lambda_stream::emulator::{Emulator, EmulatorConfig};
use lambda_stream::{BandwidthModel, Body, Config, Context, Request, Runtime};

const TOTAL: usize = 20_000_000;
const CHUNK: usize = 64 * 1024;

async fn export(_: Request, _: Context) -> Result<lambda_stream::Response, http::Error> {
    let chunks =
        stream::iter((0..TOTAL).step_by(CHUNK).map(|start| {
            Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; CHUNK.min(TOTAL - start)]))
        }));
    http::Response::builder()
        .header("content-type", "application/octet-stream")
        .body(Body::from_stream(chunks))
}

/// Streams the export through an emulator with `throttle` and returns (bytes, seconds).
async fn measure(
    throttle: Option<BandwidthModel>,
) -> Result<(usize, f64), Box<dyn std::error::Error>> {
    let mut config = EmulatorConfig::default()
        .with_url_addr("127.0.0.1:0".parse()?)
        .with_access_log(false);
    if let Some(model) = throttle {
        config = config.with_throttle(model);
    }
    let emulator = Emulator::start(config).await?;
    tokio::spawn(Runtime::new(Config::new(emulator.runtime_api())).run(export));
    let stream = tokio::net::TcpStream::connect(emulator.url_addr()).await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(connection);
    let started = Instant::now();
    let request = http::Request::get("/export")
        .header("host", "localhost")
        .body(Empty::<Bytes>::new())?;
    let mut body = sender.send_request(request).await?.into_body();
    let mut received = 0;
    while let Some(frame) = body.frame().await {
        if let Ok(data) = frame?.into_data() {
            received += data.len();
        }
    }
    Ok((received, started.elapsed().as_secs_f64()))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let model = BandwidthModel::AWS;
    let (bytes, free) = measure(None).await?;
    println!("{bytes} bytes, no cap:           {free:6.2} s");
    let (bytes, paced) = measure(Some(model)).await?;
    let predicted = model.time_to_send(0, bytes as u64).as_secs_f64();
    println!("{bytes} bytes, AWS model:        {paced:6.2} s (model: {predicted:.2} s)");
    Ok(())
}
