//! The emulator's access log tells outcomes apart: `ok`, a function's error status (`413` for
//! a buffered answer over its limit), a `budget` or `deadline` error trailer, the platform's
//! `timeout`, and a client that went away (`drained` or `cancelled`). Read from the log's
//! `tracing` event (the printed line carries the same outcome), on one thread so a scoped
//! subscriber sees every task.

use lambda_stream::testing::TestEmulator;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream;
use lambda_stream::emulator::EmulatorConfig;
use lambda_stream::{Body, Budget, Context, InvokeMode, Request};
use tracing::field::{Field, Visit};
use tracing_subscriber::layer::{Context as LayerContext, SubscriberExt};

use crate::common::{get, get_with_trailers, read_all, send, within};

/// Collects the `outcome` of every access-log event.
#[derive(Clone, Default)]
struct Outcomes(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Outcomes {
    fn on_event(&self, event: &tracing::Event<'_>, _: LayerContext<'_, S>) {
        struct Find(Option<String>);
        impl Visit for Find {
            fn record_str(&mut self, field: &Field, value: &str) {
                if field.name() == "outcome" {
                    self.0 = Some(value.to_owned());
                }
            }
            fn record_debug(&mut self, _: &Field, _: &dyn std::fmt::Debug) {}
        }
        let mut find = Find(None);
        event.record(&mut find);
        if let Some(outcome) = find
            .0
            .filter(|_| event.metadata().target().contains("access_log"))
        {
            self.0.lock().unwrap().push(outcome);
        }
    }
}

impl Outcomes {
    /// Waits (briefly) for the next outcome logged.
    async fn next(&self) -> String {
        within(async {
            loop {
                if let Some(outcome) = self.0.lock().unwrap().pop() {
                    return outcome;
                }
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        })
        .await
    }
}

async fn handler(request: Request, _: Context) -> Result<lambda_stream::Response, http::Error> {
    let response = http::Response::builder();
    if request.uri().path() == "/stuck" {
        std::future::pending::<()>().await;
    }
    match request.uri().path() {
        "/big" => response.body(Body::from(vec![b'x'; 7 * 1024 * 1024])),
        "/budget" => {
            let rows = (0..100).map(|_| Ok::<_, std::io::Error>(Bytes::from(vec![b'r'; 100])));
            response
                .extension(Budget::bytes(1000))
                .body(Body::from_stream(stream::iter(rows)))
        }
        "/endless" => response.body(Body::from_stream(stream::repeat_with(|| {
            Ok::<_, std::io::Error>(Bytes::from(vec![b'x'; 64 * 1024]))
        }))),
        "/forever" => {
            let first = stream::iter([Ok::<_, std::io::Error>(Bytes::from("started"))]);
            response.body(Body::from_stream(futures_util::StreamExt::chain(
                first,
                stream::pending(),
            )))
        }
        _ => response.body(Body::from("hello")),
    }
}

async fn outcome_of(config: EmulatorConfig, path: &str) -> String {
    let outcomes = Outcomes::default();
    let subscriber = tracing_subscriber::registry().with(outcomes.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let emulator = TestEmulator::start(config, handler).await.unwrap();
    let response = within(send(emulator.url_addr(), get_with_trailers(path))).await;
    let _ = within(read_all(response)).await;
    outcomes.next().await
}

#[tokio::test]
async fn a_whole_answer_is_ok_and_a_buffered_answer_over_the_limit_is_its_413() {
    assert_eq!(outcome_of(EmulatorConfig::default(), "/").await, "ok");
    let buffered = EmulatorConfig::default().with_invoke_mode(InvokeMode::Buffered);
    assert_eq!(outcome_of(buffered, "/big").await, "413");
}

#[tokio::test]
async fn a_stream_cut_at_its_budget_says_budget() {
    let outcome = outcome_of(EmulatorConfig::default(), "/budget").await;
    assert!(
        outcome.starts_with("budget (Function.ResponseSizeTooLarge: "),
        "{outcome}"
    );
}

#[tokio::test]
async fn a_function_past_its_timeout_says_timeout_and_one_that_ends_first_deadline() {
    let config = || EmulatorConfig::default().with_timeout(Duration::from_millis(300));
    let outcome = outcome_of(config(), "/stuck").await;
    assert!(
        outcome.starts_with("timeout (Sandbox.Timedout: "),
        "{outcome}"
    );
    // A stream that would run past it is ended by the function first, with its trailer.
    let outcome = outcome_of(config(), "/forever").await;
    assert!(
        outcome.starts_with("deadline (Function.DeadlineExceeded: "),
        "{outcome}"
    );
}

#[tokio::test]
async fn a_client_that_goes_away_is_drained_or_cancelled_as_configured() {
    for (cancel, expected) in [
        (false, "client disconnected (drained)"),
        (true, "client disconnected (cancelled)"),
    ] {
        let outcomes = Outcomes::default();
        let subscriber = tracing_subscriber::registry().with(outcomes.clone());
        let _guard = tracing::subscriber::set_default(subscriber);
        let config = EmulatorConfig::default().with_cancel_on_disconnect(cancel);
        let emulator = TestEmulator::start(config, handler).await.unwrap();
        let response = within(send(emulator.url_addr(), get("/forever"))).await;
        let mut body = response.into_body();
        let first = within(http_body_util::BodyExt::frame(&mut body)).await;
        assert!(first.is_some(), "the stream started");
        drop(body);
        assert_eq!(outcomes.next().await, expected);
    }
}

/// A client that stops reading: its response is cut when the function's time runs out, and the
/// line says so (it used to say the client disconnected).
#[tokio::test]
async fn a_client_not_reading_at_the_deadline_is_a_timeout_cut() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let outcomes = Outcomes::default();
    let subscriber = tracing_subscriber::registry().with(outcomes.clone());
    let _guard = tracing::subscriber::set_default(subscriber);
    let config = EmulatorConfig::default().with_timeout(Duration::from_secs(1));
    let emulator = TestEmulator::start(config, handler).await.unwrap();
    let mut stream = tokio::net::TcpStream::connect(emulator.url_addr())
        .await
        .unwrap();
    stream
        .write_all(b"GET /endless HTTP/1.1\r\nHost: x\r\n\r\n")
        .await
        .unwrap();
    let mut head = [0u8; 12];
    stream.read_exact(&mut head).await.unwrap();
    assert_eq!(&head, b"HTTP/1.1 200");
    // Never read again.
    let outcome = within(async {
        loop {
            if let Some(outcome) = outcomes.0.lock().unwrap().pop() {
                return outcome;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    assert!(
        outcome.starts_with("timeout (the client was not reading"),
        "{outcome}"
    );
    drop(stream);
}
