//! A test kit for handlers and runtimes (feature `testing`).
//!
//! - [`TestRuntime`]: your handler on the real runtime loop, against an in-process Runtime API.
//! - [`TestEmulator`] (with the `emulator` feature): your handler behind the local emulator in
//!   the test's process, a Function URL on `127.0.0.1:0` for any HTTP client.
//! - [`RuntimeApiServer`]: that Runtime API alone, for any runtime (point
//!   `AWS_LAMBDA_RUNTIME_API` at it); it records the exact bytes each request carried.
//! - [`BedrockFixture`] (with the `bedrock` feature): a stand-in for Amazon Bedrock's
//!   `ConverseStream`, for the real `aws-sdk-bedrockruntime` client.
//! - [`decode_captured_request`]: decode bytes captured elsewhere into prelude, body and
//!   trailers.

#[cfg(feature = "bedrock")]
mod bedrock;
mod capture;
#[cfg(feature = "emulator")]
mod emulator;
mod server;

#[cfg(feature = "bedrock")]
#[cfg_attr(docsrs, doc(cfg(feature = "bedrock")))]
pub use bedrock::{BedrockFixture, BedrockStep};
pub use capture::{CaptureError, CapturedRequest, StreamedResponse, decode_captured_request};
#[cfg(feature = "emulator")]
#[cfg_attr(docsrs, doc(cfg(feature = "emulator")))]
pub use emulator::TestEmulator;
pub use server::{RuntimeApiServer, ServerClosed, TestRuntime};

/// Internals for the benchmarks; not part of the API.
#[doc(hidden)]
pub mod bench {
    use std::convert::Infallible;

    /// The HTTP/1.1 chunked encoder the decoder is tested against.
    pub use crate::wire::chunk_encoder::{ChunkSizeLine, EncodedChunk, encode_chunk};

    use bytes::Bytes;

    use crate::body::{Body, Response};
    use crate::stream::{BandwidthModel, Budget};
    use crate::stream::{PerResponse, StreamLimits, StreamingBody};

    /// The real streamed request body (prelude, budget, deadline check, stats) around `body`.
    /// With `deadline`, a far deadline is armed so the per-item bandwidth check runs too
    /// (needs a tokio runtime). `None` when the budget cannot hold the head.
    pub fn budgeted_stream(
        body: Body,
        budget: Budget,
        deadline: bool,
    ) -> Option<impl http_body::Body<Data = Bytes, Error = Infallible>> {
        streamed_response(http::Response::new(body), budget, deadline)
    }

    /// Like [`budgeted_stream`], for a whole response: what its extensions ask of the
    /// pipeline (a continuation, compression) applies.
    pub fn streamed_response(
        response: Response,
        budget: Budget,
        deadline: bool,
    ) -> Option<impl http_body::Body<Data = Bytes, Error = Infallible>> {
        let end_by =
            deadline.then(|| tokio::time::Instant::now() + std::time::Duration::from_secs(3600));
        let limits = StreamLimits {
            budget,
            end_by,
            bandwidth: BandwidthModel::AWS,
        };
        let (mut parts, mut body) = response.into_parts();
        let ending = PerResponse::take_from(&mut parts.extensions, &mut body);
        let streaming =
            StreamingBody::new(Bytes::from_static(b"{}"), Vec::new(), body, ending, limits);
        streaming.ok().map(|(body, _)| body)
    }
}
