//! The settings shared by the function side and the emulator: the invoke mode, the
//! environment variables both read, and how a variable is parsed (once, into its type, with a
//! [`ConfigError`] naming it when it does not parse).

use std::env;
use std::fmt;
use std::str::FromStr;

/// Environment variable Lambda sets to the Runtime API's `host:port`; without it, `run`
/// serves the function locally.
pub(crate) const RUNTIME_API_ENV: &str = "AWS_LAMBDA_RUNTIME_API";
/// Environment variable that selects the invoke mode: `RESPONSE_STREAM` (default) or `BUFFERED`.
pub(crate) const INVOKE_MODE_ENV: &str = "LAMBDA_STREAM_INVOKE_MODE";
/// Environment variable with the stream budget in bytes (read by the runtime and the emulator).
pub(crate) const BUDGET_ENV: &str = "LAMBDA_STREAM_BUDGET";
/// Set by Lambda Managed Instances: how many invocations one execution environment serves at
/// once (absent elsewhere: one at a time).
pub(crate) const MAX_CONCURRENCY_ENV: &str = "AWS_LAMBDA_MAX_CONCURRENCY";
/// Environment variable with the Function URL port of the embedded emulator (default 9000).
#[cfg(feature = "emulator")]
pub(crate) const PORT_ENV: &str = "LAMBDA_STREAM_PORT";
/// Environment variable with the function timeout in seconds (default 60).
pub(crate) const TIMEOUT_ENV: &str = "LAMBDA_STREAM_TIMEOUT";
/// Environment variable with the concurrency limit of the embedded emulator (default 10): that
/// many runtime loops serve it, and one more concurrent request gets `429`.
#[cfg(feature = "emulator")]
pub(crate) const CONCURRENCY_ENV: &str = "LAMBDA_STREAM_CONCURRENCY";
/// Environment variable with the URL's auth type, `NONE` (default) or `AWS_IAM`; the accepted
/// key is `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`.
#[cfg(feature = "emulator")]
pub(crate) const AUTH_TYPE_ENV: &str = "LAMBDA_STREAM_AUTH_TYPE";
/// Environment variable with the URL's CORS configuration as JSON (`{"AllowOrigins":[..],..}`).
#[cfg(feature = "emulator")]
pub(crate) const CORS_ENV: &str = "LAMBDA_STREAM_CORS";
/// Environment variable that turns on the bandwidth model: `aws` (6 MiB, then 2 MiB/s).
#[cfg(feature = "emulator")]
pub(crate) const THROTTLE_ENV: &str = "LAMBDA_STREAM_THROTTLE";
/// Environment variable choosing the front: `function-url` (default), `rest-api`,
/// `rest-api-edge` or `rest-api-private` (an API Gateway REST API in front of the function).
#[cfg(feature = "emulator")]
pub(crate) const FRONT_ENV: &str = "LAMBDA_STREAM_FRONT";

/// How the Function URL in front of the function was configured (`InvokeMode`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum InvokeMode {
    /// `RESPONSE_STREAM`: the body is streamed with the prelude and chunked framing.
    #[default]
    ResponseStream,
    /// `BUFFERED`: the body is collected into one payload-2.0 response of at most
    /// 6,291,556 bytes.
    Buffered,
}

impl FromStr for InvokeMode {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_uppercase().as_str() {
            "RESPONSE_STREAM" | "STREAM" | "STREAMING" => Ok(InvokeMode::ResponseStream),
            "BUFFERED" => Ok(InvokeMode::Buffered),
            _ => Err(ConfigError::InvalidInvokeMode(s.to_owned())),
        }
    }
}

impl fmt::Display for InvokeMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InvokeMode::ResponseStream => "RESPONSE_STREAM",
            InvokeMode::Buffered => "BUFFERED",
        })
    }
}

/// A configuration value is missing or malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// `AWS_LAMBDA_RUNTIME_API` is not set.
    #[error(
        "AWS_LAMBDA_RUNTIME_API is not set: run inside Lambda, or behind `lambda-stream serve`"
    )]
    MissingRuntimeApi,
    /// The Runtime API address is not `host:port` or `http://host:port[/prefix]`.
    #[error("invalid Runtime API address {0:?}: expected host:port or http://host:port/prefix")]
    InvalidRuntimeApi(String),
    /// The invoke mode is not `RESPONSE_STREAM` or `BUFFERED`.
    #[error("invalid invoke mode {0:?}: expected RESPONSE_STREAM or BUFFERED")]
    InvalidInvokeMode(String),
    /// Another setting does not parse.
    #[error("invalid value {value:?} for {name}")]
    InvalidValue {
        /// The setting (an environment variable or flag).
        name: String,
        /// The value given.
        value: String,
    },
    /// A setting parses but is outside the range it may take.
    #[error("{name} {value} is out of range: {allowed}")]
    OutOfRange {
        /// The setting (an environment variable, flag or builder method).
        name: String,
        /// The value given.
        value: String,
        /// What it may be.
        allowed: String,
    },
}

impl ConfigError {
    /// `value` is not a valid value for the setting `name`.
    pub(crate) fn invalid(name: &str, value: impl Into<String>) -> Self {
        ConfigError::InvalidValue {
            name: name.to_owned(),
            value: value.into(),
        }
    }
}

/// The variable `name` parsed as `T`; `None` when it is not set.
///
/// # Errors
/// [`ConfigError::InvalidValue`] naming the variable and the value when it does not parse.
pub(crate) fn env_value<T: FromStr>(name: &str) -> Result<Option<T>, ConfigError> {
    let Ok(text) = env::var(name) else {
        return Ok(None);
    };
    match text.trim().parse() {
        Ok(value) => Ok(Some(value)),
        Err(_) => Err(ConfigError::invalid(name, text)),
    }
}
