//! The runtime's error: what stops the loop or prevents an answer from reaching Lambda.

use http::StatusCode;

use crate::function::ConfigError;
use crate::wire::{FunctionError, InvocationHeadersError};

/// Why the runtime could not talk to the Runtime API.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The configuration is missing or malformed.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The Runtime API address does not accept connections.
    #[error("cannot connect to the Runtime API at {address}: {source}")]
    Connect {
        /// `host:port`.
        address: String,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The HTTP exchange with the Runtime API failed.
    #[error("HTTP error talking to the Runtime API: {0}")]
    Http(#[from] hyper::Error),
    /// The Runtime API answered with an unexpected status.
    #[error("the Runtime API answered {status} to {route}: {body}")]
    RuntimeApi {
        /// The request path, such as `/2018-06-01/runtime/invocation/next`.
        route: String,
        /// The status it answered.
        status: StatusCode,
        /// Its body, as text.
        body: String,
    },
    /// An invocation came without a request id, or with one that cannot be put in a path.
    #[error(transparent)]
    InvalidInvocation(#[from] InvocationHeadersError),
    /// The local emulator could not listen on its address.
    #[error("cannot listen on {address}: {source} (set LAMBDA_STREAM_PORT to use another port)")]
    Bind {
        /// The address.
        address: String,
        /// The socket error.
        #[source]
        source: std::io::Error,
    },
    /// The start-up step failed (and was reported to `/runtime/init/error`).
    #[error("initialisation failed: {0}")]
    Init(FunctionError),
}
