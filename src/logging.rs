//! The default log output. [`run`](crate::run), [`run_with`](crate::run_with) and
//! [`run_with_init`](crate::run_with_init) install it when the application has no `tracing`
//! subscriber of its own (install yours first to opt out), so the budget warning, the
//! completion stats and stream errors reach CloudWatch, the terminal, or `cargo lambda watch`.
//!
//! It follows Lambda's advanced logging controls: `AWS_LAMBDA_LOG_FORMAT` = `JSON` writes one
//! JSON object per line (`timestamp`, `level`, `message`, `target`, the event's fields, and
//! `requestId` for lines emitted during an invocation), anything else plain text;
//! `AWS_LAMBDA_LOG_LEVEL` (`TRACE`, `DEBUG`, `INFO`, `WARN`, `ERROR`, `FATAL`; default `INFO`)
//! sets the level, and `RUST_LOG`, where set, wins. Lines go to stdout, which Lambda captures.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id};
use tracing::{Event, Subscriber};
use tracing_subscriber::filter::LevelFilter;
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::FormatTime;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::{EnvFilter, Layer};

/// Environment variable Lambda sets to `Text` or `JSON` (the function's log format).
pub(crate) const LOG_FORMAT_ENV: &str = "AWS_LAMBDA_LOG_FORMAT";
/// Environment variable Lambda sets to the function's application log level.
pub(crate) const LOG_LEVEL_ENV: &str = "AWS_LAMBDA_LOG_LEVEL";

/// The span every invocation runs in; its `requestId` field is put on each line inside it.
pub(crate) const INVOCATION_SPAN: &str = "invocation";

/// Installs the default subscriber unless one is set already.
pub(crate) fn install_default() {
    if tracing::dispatcher::has_been_set() {
        return;
    }
    let json =
        std::env::var(LOG_FORMAT_ENV).is_ok_and(|format| format.eq_ignore_ascii_case("json"));
    let (rust_log, level) = filters();
    let registry = tracing_subscriber::registry()
        .with(rust_log)
        .with(level)
        .with(RequestIds);
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stdout)
        .with_ansi(false);
    // Another subscriber set in between wins: the application's choice stands.
    let _ = if json {
        registry.with(layer.event_format(LambdaJson)).try_init()
    } else {
        registry.with(layer).try_init()
    };
}

/// `RUST_LOG`'s directives if it is set and parses, else the level `AWS_LAMBDA_LOG_LEVEL`
/// names (`INFO` by default). A plain level needs no directive parser, which keeps start-up
/// (before the first `/next`) short.
fn filters() -> (Option<EnvFilter>, LevelFilter) {
    if let Ok(filter) = EnvFilter::try_from_default_env() {
        return (Some(filter), LevelFilter::TRACE);
    }
    let level = std::env::var(LOG_LEVEL_ENV).unwrap_or_default();
    let level = match level.trim().to_ascii_uppercase().as_str() {
        "TRACE" => LevelFilter::TRACE,
        "DEBUG" => LevelFilter::DEBUG,
        "WARN" => LevelFilter::WARN,
        // Lambda's FATAL has no `tracing` level: errors are the most severe there are.
        "ERROR" | "FATAL" => LevelFilter::ERROR,
        _ => LevelFilter::INFO,
    };
    (None, level)
}

/// The request id of an invocation span, kept in the span's extensions.
struct RequestIdOf(String);

/// Reads the `requestId` field of each invocation span as it opens.
struct RequestIds;

impl<S> Layer<S> for RequestIds
where
    S: Subscriber + for<'a> LookupSpan<'a>,
{
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        if attrs.metadata().name() != INVOCATION_SPAN {
            return;
        }
        let mut fields = Fields::default();
        attrs.record(&mut fields);
        if let (Some(request_id), Some(span)) = (fields.take("requestId"), ctx.span(id)) {
            span.extensions_mut().insert(RequestIdOf(request_id));
        }
    }
}

/// An event's or a span's fields as JSON values, the message apart.
#[derive(Default)]
struct Fields {
    message: Option<String>,
    values: serde_json::Map<String, serde_json::Value>,
}

impl Fields {
    fn take(&mut self, name: &str) -> Option<String> {
        match self.values.remove(name)? {
            serde_json::Value::String(text) => Some(text),
            other => Some(other.to_string()),
        }
    }

    fn insert(&mut self, field: &Field, value: serde_json::Value) {
        if field.name() == "message" {
            self.message = Some(match value {
                serde_json::Value::String(text) => text,
                other => other.to_string(),
            });
        } else {
            self.values.insert(field.name().to_owned(), value);
        }
    }
}

impl Visit for Fields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.insert(field, value.into());
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.insert(field, value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.insert(field, value.into());
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.insert(field, value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.insert(field, value.into());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.insert(field, format!("{value:?}").into());
    }
}

/// One JSON object per line, in the shape of Lambda's JSON application logs.
struct LambdaJson;

impl<S, N> FormatEvent<S, N> for LambdaJson
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut fields = Fields::default();
        event.record(&mut fields);
        let mut timestamp = String::new();
        tracing_subscriber::fmt::time::SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        let metadata = event.metadata();
        let mut line = serde_json::Map::new();
        line.insert("timestamp".into(), timestamp.into());
        line.insert("level".into(), metadata.level().as_str().into());
        line.insert("message".into(), fields.message.unwrap_or_default().into());
        line.insert("target".into(), metadata.target().into());
        if let Some(request_id) = request_id(ctx) {
            line.insert("requestId".into(), request_id.into());
        }
        for (name, value) in fields.values {
            line.entry(name).or_insert(value);
        }
        writeln!(writer, "{}", serde_json::Value::Object(line))
    }
}

/// The request id of the invocation the event happened in, if any.
fn request_id<S, N>(ctx: &FmtContext<'_, S, N>) -> Option<String>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    ctx.event_scope()?.find_map(|span| {
        span.extensions()
            .get::<RequestIdOf>()
            .map(|id| id.0.clone())
    })
}
