//! The other end of the stream (feature `client`): download an export whole, page after page.
//!
//! An export larger than its budget arrives in pages, each ending with the link to the next
//! one in its framing's standard form ([`Continuation::ndjson_link`], [`csv_link`],
//! [`sse_link`], [`json_array_link`]). A [`Client`] fetches a URL (`http://` or `https://`, with your CA roots),
//! hands out the records as they arrive without the links, follows each page's link until a
//! page ends without one, and stops with a typed [`Error`] on anything else: an HTTP status, an
//! error trailer, a page cut without a link, a page truncated mid-way, a link that goes back to
//! a page already read, a page that is not in its format (a JSON array that does not close).
//!
//! ```no_run
//! use futures_util::StreamExt;
//! use lambda_stream::client::{Client, Event};
//!
//! # async fn example() -> Result<(), lambda_stream::client::Error> {
//! let client = Client::new();
//! let mut events = std::pin::pin!(client.events("http://localhost:9000/?format=csv"));
//! while let Some(event) = events.next().await {
//!     match event? {
//!         Event::Record(record) => print!("{}", String::from_utf8_lossy(&record)),
//!         Event::PageEnd { url, next, .. } => eprintln!("{url} read, next: {next:?}"),
//!         _ => {}
//!     }
//! }
//! # Ok(())
//! # }
//! ```
//!
//! Each page's end carries a checkpoint: [`Client::resume`] continues the download from it in
//! another process, as if it had never stopped (`lambda-stream get --resume` keeps it beside
//! its output). `lambda-stream get URL` does all this from a shell.
//!
//! Callers of `InvokeWithResponseStream` (feature `invoke-stream`, with `aws-sdk-lambda`):
//! `invoke_response` parses the prelude off the front of the event stream and yields the
//! body, with `InvokeComplete`'s error as the same typed error.
//!
//! [`Continuation::ndjson_link`]: crate::Continuation::ndjson_link
//! [`csv_link`]: crate::Continuation::csv_link
//! [`sse_link`]: crate::Continuation::sse_link
//! [`json_array_link`]: crate::Continuation::json_array_link

mod checkpoint;
mod error;
mod fetch;
#[cfg(feature = "invoke-stream")]
mod invoke;
mod page;
mod sign;
mod split;
mod split_json;

pub use error::Error;
// Public only to the fuzz crate (built with `--cfg fuzzing`).
pub use fetch::{Client, Event};
#[cfg(feature = "invoke-stream")]
#[cfg_attr(docsrs, doc(cfg(feature = "invoke-stream")))]
pub use invoke::invoke_response;
#[cfg(fuzzing)]
pub use page::check_page_reader;

/// How a page's records are framed, which tells the client where each ends and what its link
/// looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Format {
    /// From the first page's `content-type`: NDJSON (`application/x-ndjson`,
    /// `application/jsonl`), CSV (`text/csv`), SSE (`text/event-stream`), a JSON array
    /// (`application/json`), raw otherwise.
    #[default]
    Auto,
    /// One JSON document per line; the link is a last line `{"next":"<link>"}`.
    Ndjson,
    /// CSV records (quoted fields may hold line breaks); the link is a last line
    /// `#next=<link>`; later pages' header lines are dropped.
    Csv,
    /// Server-sent events; the link is a last event `next` whose data is the link.
    Sse,
    /// A JSON array (`application/json`); each element is a record (handed out without the
    /// `,` or `]` after it), the link is a last element `{"next":"<link>"}`. A page whose
    /// bytes are not one array (an object, an array that does not close, bytes after it) is
    /// an [`Error::Malformed`]; the elements are split, not validated.
    JsonArray,
    /// Bytes as they come: no records, no link, one page.
    Raw,
}

impl Format {
    /// The format a page's `content-type` names (`Raw` when it names none of them).
    fn of_content_type(content_type: &str) -> Format {
        let media = content_type.split(';').next().unwrap_or_default().trim();
        match media.to_ascii_lowercase().as_str() {
            "application/x-ndjson" | "application/jsonl" | "application/json-lines" => {
                Format::Ndjson
            }
            "text/csv" => Format::Csv,
            "text/event-stream" => Format::Sse,
            "application/json" => Format::JsonArray,
            _ => Format::Raw,
        }
    }
}

impl Format {
    /// The format's name, as `lambda-stream get --format` takes it.
    fn name(self) -> &'static str {
        match self {
            Format::Auto => "auto",
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
            Format::Sse => "sse",
            Format::JsonArray => "json",
            Format::Raw => "raw",
        }
    }
}

impl std::str::FromStr for Format {
    type Err = String;

    fn from_str(name: &str) -> Result<Format, String> {
        match name {
            "auto" => Ok(Format::Auto),
            "ndjson" => Ok(Format::Ndjson),
            "csv" => Ok(Format::Csv),
            "sse" => Ok(Format::Sse),
            "json" => Ok(Format::JsonArray),
            "raw" => Ok(Format::Raw),
            other => Err(format!(
                "unknown format {other:?}: auto, ndjson, csv, sse, json or raw"
            )),
        }
    }
}
