//! Runtime configuration, from the environment Lambda sets or from code.

use std::env;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use super::metadata::{ExecutionEnvironment, MetadataEndpoint, MetadataError};
use super::stats::{CompletionHook, CompletionStats};
use crate::deploy::Deployment;
pub use crate::settings::{ConfigError, InvokeMode};
use crate::settings::{MAX_CONCURRENCY_ENV, RUNTIME_API_ENV, env_value};
use crate::stream::{BandwidthModel, Budget};
use crate::wire::RuntimeApiAddress;

/// Default largest `/next` event: 6,291,556 bytes (6 MiB + 100), above Lambda's 6 MB
/// synchronous payload limit, so every event Lambda can send fits.
pub(crate) const DEFAULT_MAX_EVENT_SIZE: usize = crate::wire::BUFFERED_RESPONSE_LIMIT;

/// What the runtime loop needs to know: where the Runtime API is and how to answer.
///
/// ```
/// use lambda_stream::{Config, InvokeMode};
/// let config = Config::new("127.0.0.1:9001".parse()?).with_invoke_mode(InvokeMode::Buffered);
/// assert_eq!(config.invoke_mode(), InvokeMode::Buffered);
/// # Ok::<(), lambda_stream::ConfigError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Config {
    runtime_api: RuntimeApiAddress,
    deployment: Deployment,
    function: FunctionInfo,
    hold: Hold,
    early_errors: EarlyErrors,
    deadline_margin: Duration,
    max_event_size: usize,
    max_concurrency: usize,
    completion_hook: Option<CompletionHook>,
    buffered_overflow: BufferedOverflow,
    #[cfg(feature = "compression")]
    compression: Option<crate::stream::compress::Compression>,
}

/// The response sent instead of a buffered response over the limit. The default is `413` with
/// `{"errorType":"Function.ResponseSizeTooLarge","errorMessage":...}`.
///
/// ```
/// use lambda_stream::{BufferedOverflow, Config};
/// let overflow = BufferedOverflow::new(|limit| {
///     http::Response::builder()
///         .status(507)
///         .header("content-type", "text/plain")
///         .body(format!("too big for {limit} bytes; use the streaming URL").into())
///         .unwrap_or_default()
/// });
/// let config = Config::new("127.0.0.1:9001".parse()?).with_buffered_overflow(overflow);
/// # Ok::<(), lambda_stream::ConfigError>(())
/// ```
#[derive(Clone)]
pub struct BufferedOverflow(Arc<dyn Fn(usize) -> http::Response<bytes::Bytes> + Send + Sync>);

impl BufferedOverflow {
    /// A response built from the limit that was exceeded.
    pub fn new<F>(make: F) -> Self
    where
        F: Fn(usize) -> http::Response<bytes::Bytes> + Send + Sync + 'static,
    {
        BufferedOverflow(Arc::new(make))
    }

    pub(crate) fn response(&self, limit: usize) -> http::Response<bytes::Bytes> {
        (self.0)(limit)
    }
}

impl Default for BufferedOverflow {
    fn default() -> Self {
        BufferedOverflow::new(|limit| {
            let error = crate::wire::FunctionError::new(
                crate::wire::ErrorType::RESPONSE_SIZE_TOO_LARGE,
                format!(
                    "the response is larger than its {limit}-byte limit in BUFFERED mode (the \
                     smaller of its budget and the buffered payload limit); to page it, end the \
                     body with a continuation (the response extension lambda_stream::Continuation)"
                ),
            );
            let mut response = http::Response::new(bytes::Bytes::from(error.to_json()));
            *response.status_mut() = http::StatusCode::PAYLOAD_TOO_LARGE;
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            response
        })
    }
}

impl fmt::Debug for BufferedOverflow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BufferedOverflow")
    }
}

/// When the response head is committed (sent): until then a failure can still change the
/// status. The head goes when `bytes` body bytes are held, or when `time` has passed since the
/// handler returned and at least one byte is held, or when the body ends.
///
/// The default, `Hold::FIRST_BYTE`, commits at the first body byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hold {
    /// Body bytes to hold before committing (at least 1).
    pub bytes: usize,
    /// Longest wait, once a byte is held.
    pub time: Duration,
}

impl Hold {
    /// Commit at the first body byte.
    pub const FIRST_BYTE: Hold = Hold {
        bytes: 1,
        time: Duration::ZERO,
    };
}

impl Default for Hold {
    fn default() -> Self {
        Hold::FIRST_BYTE
    }
}

/// What a failure before the head is committed becomes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum EarlyErrors {
    /// Posted to `/runtime/invocation/{id}/error`: Lambda records a function error and a
    /// Function URL client gets `502 Internal Server Error` (the default).
    #[default]
    ReportToLambda,
    /// Sent as a `500` response with `{"errorType","errorMessage"}` JSON: the client sees the
    /// message, Lambda records a success.
    Respond500,
}

/// The function's own settings, from the variables Lambda sets.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FunctionInfo {
    /// `AWS_LAMBDA_FUNCTION_NAME`.
    pub name: String,
    /// `AWS_LAMBDA_FUNCTION_VERSION`.
    pub version: String,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` in MB (0 when unknown).
    pub memory_mb: u32,
    /// `AWS_LAMBDA_LOG_GROUP_NAME`.
    pub log_group: String,
    /// `AWS_LAMBDA_LOG_STREAM_NAME`.
    pub log_stream: String,
    /// `AWS_LAMBDA_METADATA_API` and `AWS_LAMBDA_METADATA_TOKEN`, when the platform offers
    /// its metadata endpoint (read it with [`execution_environment`](Self::execution_environment)).
    pub(crate) metadata: Option<MetadataEndpoint>,
}

impl FunctionInfo {
    fn from_env() -> Self {
        let var = |name: &str| env::var(name).unwrap_or_default();
        FunctionInfo {
            name: var("AWS_LAMBDA_FUNCTION_NAME"),
            version: var("AWS_LAMBDA_FUNCTION_VERSION"),
            memory_mb: var("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").parse().unwrap_or(0),
            log_group: var("AWS_LAMBDA_LOG_GROUP_NAME"),
            log_stream: var("AWS_LAMBDA_LOG_STREAM_NAME"),
            metadata: MetadataEndpoint::from_env(),
        }
    }

    /// The same, reading the metadata endpoint at `authority` with `token` (the local
    /// emulator's, in embedded mode).
    #[cfg(feature = "emulator")]
    pub(crate) fn with_metadata_endpoint(mut self, authority: String, token: String) -> Self {
        self.metadata = Some(MetadataEndpoint { authority, token });
        self
    }

    /// The execution environment's metadata (its Availability Zone id) from the Lambda
    /// metadata endpoint. It does not change for the environment's life: read it once, at
    /// init, and keep it.
    ///
    /// ```no_run
    /// # async fn handler(context: lambda_stream::Context) -> Result<(), lambda_stream::environment::MetadataError> {
    /// let environment = context.function.execution_environment().await?;
    /// println!("running in {}", environment.availability_zone_id);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    /// A [`MetadataError`] when the platform offers no endpoint, or it cannot be read.
    pub async fn execution_environment(&self) -> Result<ExecutionEnvironment, MetadataError> {
        super::metadata::execution_environment(self.metadata.as_ref()).await
    }
}

impl Config {
    /// A configuration for this Runtime API with the defaults: `RESPONSE_STREAM`, a buffered
    /// limit of 6,291,556 bytes, no function metadata.
    pub fn new(runtime_api: RuntimeApiAddress) -> Self {
        Config {
            runtime_api,
            deployment: Deployment::default(),
            function: FunctionInfo::default(),
            hold: Hold::default(),
            early_errors: EarlyErrors::default(),
            deadline_margin: Duration::from_millis(500),
            max_event_size: DEFAULT_MAX_EVENT_SIZE,
            max_concurrency: 1,
            completion_hook: None,
            buffered_overflow: BufferedOverflow::default(),
            #[cfg(feature = "compression")]
            compression: None,
        }
    }

    /// Reads `AWS_LAMBDA_RUNTIME_API`, the [`Deployment`] ([`Deployment::from_env`]),
    /// `AWS_LAMBDA_MAX_CONCURRENCY` (Lambda Managed Instances) and the function variables.
    ///
    /// # Errors
    /// [`ConfigError`] when the Runtime API is missing or a value is malformed.
    pub fn from_env() -> Result<Self, ConfigError> {
        let runtime_api = env::var(RUNTIME_API_ENV)
            .map_err(|_| ConfigError::MissingRuntimeApi)?
            .parse()?;
        let mut config = Config {
            deployment: Deployment::from_env()?,
            function: FunctionInfo::from_env(),
            ..Config::new(runtime_api)
        };
        if let Some(concurrency) = env_value::<usize>(MAX_CONCURRENCY_ENV)? {
            config.max_concurrency = concurrency.max(1);
        }
        Ok(config)
    }

    /// Sets the whole deployment: invoke mode, budget, buffered limit, bandwidth, timeout.
    pub fn with_deployment(mut self, deployment: Deployment) -> Self {
        self.deployment = deployment;
        self
    }

    /// The deployment the function answers by.
    pub fn deployment(&self) -> &Deployment {
        &self.deployment
    }

    /// Answers at another Runtime API (the embedded emulator's, once it listens).
    #[cfg(feature = "emulator")]
    pub(crate) fn with_runtime_api(mut self, runtime_api: RuntimeApiAddress) -> Self {
        self.runtime_api = runtime_api;
        self
    }

    /// Sets the invoke mode ([`Deployment::with_invoke_mode`]).
    pub fn with_invoke_mode(mut self, invoke_mode: InvokeMode) -> Self {
        self.deployment = self.deployment.with_invoke_mode(invoke_mode);
        self
    }

    /// Sets the largest buffered response payload ([`Deployment::with_buffered_limit`]).
    pub fn with_buffered_limit(mut self, limit: usize) -> Self {
        self.deployment = self.deployment.with_buffered_limit(limit);
        self
    }

    /// Sets the function metadata handed to handlers.
    pub fn with_function_info(mut self, function: FunctionInfo) -> Self {
        self.function = function;
        self
    }

    /// Sets the response budget ([`Deployment::with_budget`]; default 75 MiB, in both invoke
    /// modes); a response may carry its own [`Budget`] as an extension.
    pub fn with_budget(mut self, budget: Budget) -> Self {
        self.deployment = self.deployment.with_budget(budget);
        self
    }

    /// Sets when the head is committed (default: at the first body byte).
    pub fn with_hold(mut self, hold: Hold) -> Self {
        self.hold = Hold {
            bytes: hold.bytes.max(1),
            ..hold
        };
        self
    }

    /// Sets what a failure before the head becomes (default: reported to Lambda's `/error`).
    pub fn with_early_errors(mut self, early_errors: EarlyErrors) -> Self {
        self.early_errors = early_errors;
        self
    }

    /// Sets how long before the deadline a stream is ended cleanly (default 500 ms; never more
    /// than a quarter of the time left when the response starts, so short timeouts still
    /// stream).
    pub fn with_deadline_margin(mut self, margin: Duration) -> Self {
        self.deadline_margin = margin;
        self
    }

    /// The largest `/next` event the loop reads (default 6,291,556 bytes, above Lambda's 6 MB
    /// synchronous payload limit, so every event Lambda can send fits). A larger
    /// one is not read into memory: its invocation is answered with a
    /// `Function.EventTooLarge` error and the loop goes on.
    pub fn with_max_event_size(mut self, bytes: usize) -> Self {
        self.max_event_size = bytes;
        self
    }

    /// The largest `/next` event the loop reads.
    pub fn max_event_size(&self) -> usize {
        self.max_event_size
    }

    /// How many invocations this process serves at once (default 1; Lambda Managed Instances
    /// set `AWS_LAMBDA_MAX_CONCURRENCY`): that many runtime loops, each on its own Runtime API
    /// connection with its own `/next`, share the handler; each invocation keeps its own
    /// context, budget, deadline and stats, and a failure or panic in one leaves the others
    /// alone.
    pub fn with_max_concurrency(mut self, concurrency: usize) -> Self {
        self.max_concurrency = concurrency.max(1);
        self
    }

    /// How many invocations this process serves at once.
    pub fn max_concurrency(&self) -> usize {
        self.max_concurrency
    }

    /// Sets the bandwidth model used to end a stream before its deadline
    /// ([`Deployment::with_bandwidth`]; default AWS's).
    pub fn with_bandwidth(mut self, bandwidth: BandwidthModel) -> Self {
        self.deployment = self.deployment.with_bandwidth(bandwidth);
        self
    }

    /// Calls `hook` with the [`CompletionStats`] of every response.
    pub fn with_completion_hook<F>(mut self, hook: F) -> Self
    where
        F: Fn(&CompletionStats) + Send + Sync + 'static,
    {
        self.completion_hook = Some(CompletionHook(Arc::new(hook)));
        self
    }

    /// Sets the response sent instead of a buffered response over the limit.
    pub fn with_buffered_overflow(mut self, overflow: BufferedOverflow) -> Self {
        self.buffered_overflow = overflow;
        self
    }

    /// Compresses responses for clients that accept it (feature `compression`; off by default,
    /// since Function URLs strip `Content-Encoding` from streamed responses: use it for API
    /// Gateway REST or direct `InvokeWithResponseStream` clients). Budgets then count
    /// compressed bytes.
    #[cfg(feature = "compression")]
    #[cfg_attr(docsrs, doc(cfg(feature = "compression")))]
    pub fn with_compression(mut self, compression: crate::stream::compress::Compression) -> Self {
        self.compression = Some(compression);
        self
    }

    #[cfg(feature = "compression")]
    pub(crate) fn compression(&self) -> Option<&crate::stream::compress::Compression> {
        self.compression.as_ref()
    }

    pub(crate) fn buffered_overflow(&self) -> &BufferedOverflow {
        &self.buffered_overflow
    }

    /// The stream budget.
    pub fn budget(&self) -> Budget {
        self.deployment.budget()
    }

    /// When the head is committed.
    pub fn hold(&self) -> Hold {
        self.hold
    }

    /// What early failures become.
    pub fn early_errors(&self) -> EarlyErrors {
        self.early_errors
    }

    /// The safety margin before the deadline.
    pub fn deadline_margin(&self) -> Duration {
        self.deadline_margin
    }

    /// The bandwidth model.
    pub fn bandwidth(&self) -> BandwidthModel {
        self.deployment.bandwidth()
    }

    pub(crate) fn completion_hook(&self) -> Option<&CompletionHook> {
        self.completion_hook.as_ref()
    }

    /// The Runtime API address.
    pub fn runtime_api(&self) -> &RuntimeApiAddress {
        &self.runtime_api
    }

    /// The invoke mode.
    pub fn invoke_mode(&self) -> InvokeMode {
        self.deployment.invoke_mode()
    }

    /// The buffered response limit in bytes.
    pub fn buffered_limit(&self) -> usize {
        self.deployment.buffered_limit()
    }

    /// The function metadata.
    pub fn function_info(&self) -> &FunctionInfo {
        &self.function
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn invoke_modes() {
        assert_eq!("BUFFERED".parse(), Ok(InvokeMode::Buffered));
        assert_eq!("response_stream".parse(), Ok(InvokeMode::ResponseStream));
        assert_eq!(
            "sometimes".parse::<InvokeMode>(),
            Err(ConfigError::InvalidInvokeMode("sometimes".into()))
        );
        assert_eq!(InvokeMode::Buffered.to_string(), "BUFFERED");
    }
}
