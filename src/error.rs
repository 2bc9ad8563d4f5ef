//! The runtime's error: what stops the loop or prevents an answer from reaching Lambda.

use std::fmt;

use http::StatusCode;

use crate::settings::ConfigError;
use crate::wire::{FunctionError, InvocationHeadersError};

/// Why the runtime could not talk to the Runtime API.
///
/// Its `Debug` form is its message with the causes that the message does not already say, so
/// `main` returning it prints one readable line (`Error: cannot listen on 127.0.0.1:9000:
/// Address in use (os error 98) (set LAMBDA_STREAM_PORT to use another port)`).
#[derive(thiserror::Error)]
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
    /// A runtime loop of a concurrent process panicked (a bug: handler panics are caught);
    /// the other loops served on until they ended.
    #[error("a runtime loop panicked")]
    LoopPanicked,
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let message = self.to_string();
        f.write_str(&message)?;
        let mut cause = std::error::Error::source(self);
        while let Some(error) = cause {
            let text = error.to_string();
            if !message.contains(&text) {
                write!(f, ": {text}")?;
            }
            cause = error.source();
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_the_readable_message_with_its_causes_once() {
        let bind = Error::Bind {
            address: "127.0.0.1:9000".to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::AddrInUse, "Address in use"),
        };
        assert_eq!(
            format!("{bind:?}"),
            "cannot listen on 127.0.0.1:9000: Address in use (set LAMBDA_STREAM_PORT to use another port)"
        );
        let config = Error::Config(ConfigError::InvalidValue {
            name: "LAMBDA_STREAM_BUDGET".to_owned(),
            value: "abc".to_owned(),
        });
        assert_eq!(
            format!("{config:?}"),
            "invalid value \"abc\" for LAMBDA_STREAM_BUDGET"
        );
    }
}
