//! Streaming compression (feature `compression`): gzip, deflate, br and zstd through
//! `async-compression`, negotiated from `Accept-Encoding`, flushed at every item so each chunk
//! (each SSE event) is decodable when it arrives.
//!
//! **Off by default, and not for Function URLs:** they strip `Content-Encoding` from streamed
//! responses (reported by users, not documented by AWS). Turn it on for clients behind API Gateway REST or direct
//! `InvokeWithResponseStream` callers, with [`Config::with_compression`](crate::Config) or
//! [`Compression::apply`] in a handler.
//!
//! Split as tower-http splits it: negotiation (`negotiate.rs`), what is not worth compressing
//! (`predicate.rs`), the encoders (`encoder.rs`) and the stage that runs them under the budget
//! (`stage.rs`).

mod encoder;
mod negotiate;
mod predicate;
mod stage;

use http::HeaderValue;
use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, VARY};

use crate::body::Response;
pub use negotiate::Encoding;
pub(crate) use stage::Compressing;

/// What a continuation of `reserve` bytes may take once compressed and flushed, with the
/// encoder's epilogue behind it.
pub(crate) fn closing_room(reserve: u64) -> u64 {
    encoder::worst_case(usize::try_from(reserve).unwrap_or(usize::MAX))
}

/// The encoding a response is compressed with as it streams (a response extension set by
/// [`Compression::apply`], read once by the pipeline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct CompressWith(pub(crate) Encoding);

/// Which encodings to offer, in order of preference (used to break q-value ties).
///
/// ```
/// use lambda_stream::compression::{Compression, Encoding};
/// let compression = Compression::new();
/// let accept = http::HeaderValue::from_static("gzip;q=0.8, br, zstd");
/// assert_eq!(compression.negotiate(Some(&accept)), Some(Encoding::Zstd)); // tie: zstd first
/// let accept = http::HeaderValue::from_static("gzip, br;q=0.5");
/// assert_eq!(compression.negotiate(Some(&accept)), Some(Encoding::Gzip));
/// assert_eq!(compression.negotiate(None), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compression {
    preference: Vec<Encoding>,
}

impl Default for Compression {
    fn default() -> Self {
        Self::new()
    }
}

impl Compression {
    /// All four encodings; ties go to zstd, then br, gzip, deflate (fastest good ratio first).
    pub fn new() -> Self {
        Compression {
            preference: vec![
                Encoding::Zstd,
                Encoding::Brotli,
                Encoding::Gzip,
                Encoding::Deflate,
            ],
        }
    }

    /// Only these encodings, preferred in this order.
    pub fn with_preference(encodings: impl IntoIterator<Item = Encoding>) -> Self {
        let mut preference = Vec::new();
        for encoding in encodings {
            if !preference.contains(&encoding) {
                preference.push(encoding);
            }
        }
        Compression { preference }
    }

    /// The encoding to use for a request's `Accept-Encoding`: the highest q above 0 (a listed
    /// token, else `*`), ties broken by preference; `None` without the header.
    pub fn negotiate(&self, accept_encoding: Option<&HeaderValue>) -> Option<Encoding> {
        negotiate::best(&self.preference, accept_encoding?.to_str().ok()?)
    }

    /// Has `response` compressed as it streams when the client accepts an encoding and it is
    /// worth it: not when it already has a `Content-Encoding`, an already-compressed content
    /// type, no body (204, 304, 1xx, or an empty buffer). Sets `Content-Encoding`, adds
    /// `Vary: Accept-Encoding`, removes `Content-Length`.
    ///
    /// The body itself is compressed by the runtime, as a stage of the response's pipeline:
    /// it knows how much of the budget is left before it compresses an item, and ends a cut
    /// body with the compressed continuation and the encoder's epilogue. So return the
    /// response to the runtime: the body this returns is not compressed yet.
    pub fn apply(&self, accept_encoding: Option<&HeaderValue>, response: Response) -> Response {
        let (mut parts, body) = response.into_parts();
        if !predicate::worth_compressing(&parts, &body) {
            return Response::from_parts(parts, body);
        }
        parts
            .headers
            .append(VARY, HeaderValue::from_static("accept-encoding"));
        let Some(encoding) = self.negotiate(accept_encoding) else {
            return Response::from_parts(parts, body);
        };
        parts.headers.insert(
            CONTENT_ENCODING,
            HeaderValue::from_static(encoding.as_str()),
        );
        parts.headers.remove(CONTENT_LENGTH);
        parts.extensions.insert(CompressWith(encoding));
        Response::from_parts(parts, body)
    }
}

#[cfg(test)]
mod tests;
