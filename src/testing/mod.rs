//! A test kit for handlers and runtimes (feature `testing`).
//!
//! - [`TestRuntime`]: your handler on the real runtime loop, against an in-process Runtime API.
//! - [`RuntimeApiServer`]: that Runtime API alone, for any runtime (point
//!   `AWS_LAMBDA_RUNTIME_API` at it); it records the exact bytes each request carried.
//! - [`decode_captured_request`]: decode bytes captured elsewhere into prelude, body and
//!   trailers.

mod capture;
mod server;

pub use capture::{CaptureError, CapturedRequest, StreamedResponse, decode_captured_request};
pub use server::{RuntimeApiServer, ServerClosed, TEST_FUNCTION_ARN, TestRuntime};
