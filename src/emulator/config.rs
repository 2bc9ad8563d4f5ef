//! Emulator settings and their defaults (each documented with its source).

use std::net::SocketAddr;
use std::time::Duration;

use super::auth::cors::Cors;
use super::auth::iam::{AuthType, IamKey};
use super::front_kind::Front;
use crate::deploy::Deployment;
use crate::settings::{
    AUTH_TYPE_ENV, CONCURRENCY_ENV, CORS_ENV, FRONT_ENV, PORT_ENV, THROTTLE_ENV, TIMEOUT_ENV,
};
use crate::settings::{ConfigError, InvokeMode, env_value};
use crate::stream::{BandwidthModel, Budget};

/// Default limit of a request event: 6 MiB, Lambda's synchronous invocation payload limit.
pub(crate) const DEFAULT_REQUEST_LIMIT: usize = 6 * 1024 * 1024;

/// The least memory for request bodies being read, in bytes: 32 MiB (at least one request's
/// limit). Clients that trickle bodies share it; a body waits for room within its read timeout.
const MIN_BODY_MEMORY: usize = 32 * 1024 * 1024;

/// How the local Function URL behaves.
///
/// ```
/// use lambda_stream::emulator::EmulatorConfig;
/// use lambda_stream::InvokeMode;
/// let config = EmulatorConfig::default()
///     .with_url_addr("127.0.0.1:0".parse()?)
///     .with_invoke_mode(InvokeMode::Buffered)
///     .with_timeout(std::time::Duration::from_secs(5));
/// assert_eq!(config.invoke_mode(), InvokeMode::Buffered);
/// # Ok::<(), std::net::AddrParseError>(())
/// ```
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    url_addr: SocketAddr,
    runtime_addr: SocketAddr,
    deployment: Deployment,
    request_limit: usize,
    function_name: String,
    region: String,
    access_log: bool,
    auth_type: AuthType,
    iam_keys: Vec<IamKey>,
    cors: Option<Cors>,
    /// Whether streams are paced at the deployment's bandwidth model.
    throttled: bool,
    max_concurrency: usize,
    cancel_on_disconnect: bool,
    header_read_timeout: Duration,
    body_read_timeout: Duration,
    front: Front,
    environment_concurrency: usize,
    tenant_isolation: bool,
}

/// Default number of invocations running at once before the URL answers `429`.
pub(crate) const DEFAULT_MAX_CONCURRENCY: usize = 10;

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            url_addr: SocketAddr::from(([127, 0, 0, 1], 9000)),
            runtime_addr: SocketAddr::from(([127, 0, 0, 1], 0)),
            deployment: Deployment::default(),
            request_limit: DEFAULT_REQUEST_LIMIT,
            function_name: "local".to_owned(),
            region: "us-east-1".to_owned(),
            access_log: true,
            auth_type: AuthType::None,
            iam_keys: Vec::new(),
            cors: None,
            throttled: false,
            max_concurrency: DEFAULT_MAX_CONCURRENCY,
            cancel_on_disconnect: false,
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(30),
            front: Front::FunctionUrl,
            environment_concurrency: 1,
            tenant_isolation: false,
        }
    }
}

impl EmulatorConfig {
    /// The memory size the emulator gives its function, in MB:
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` for the processes `lambda-stream serve` runs, and
    /// `Memory Size` in log tails' `REPORT` lines.
    pub const FUNCTION_MEMORY_MB: u32 = 128;

    /// Defaults overridden by the [`Deployment`] ([`Deployment::from_env`]) and the local
    /// emulator's variables (`LAMBDA_STREAM_PORT`, `_CONCURRENCY`, `_AUTH_TYPE`, `_CORS`,
    /// `_THROTTLE`, `_FRONT`): the [table of environment variables](crate#environment-variables).
    ///
    /// # Errors
    /// [`ConfigError`] for a variable that does not parse or is out of range
    /// ([`validate`](Self::validate)).
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut config = EmulatorConfig {
            deployment: Deployment::from_env()?,
            ..EmulatorConfig::default()
        };
        if let Some(port) = env_value::<u16>(PORT_ENV)? {
            config.url_addr.set_port(port);
        }
        if let Ok(name) = std::env::var("AWS_LAMBDA_FUNCTION_NAME") {
            config.function_name = name;
        }
        if let Some(limit) = env_value::<usize>(CONCURRENCY_ENV)? {
            config.max_concurrency = limit.max(1);
        }
        if let Ok(text) = std::env::var(AUTH_TYPE_ENV) {
            config.auth_type = text
                .parse()
                .map_err(|_| ConfigError::invalid(AUTH_TYPE_ENV, text))?;
            config.iam_keys.extend(IamKey::from_env());
        }
        if let Ok(text) = std::env::var(CORS_ENV) {
            let cors: Cors = serde_json::from_str(&text)
                .map_err(|_| ConfigError::invalid(CORS_ENV, text.clone()))?;
            cors.validate()
                .map_err(|_| ConfigError::invalid(CORS_ENV, text))?;
            config.cors = Some(cors);
        }
        if let Ok(text) = std::env::var(THROTTLE_ENV) {
            config = match text.as_str() {
                "aws" => config.with_throttle(BandwidthModel::AWS),
                "none" | "" => config,
                _ => return Err(ConfigError::invalid(THROTTLE_ENV, text)),
            };
        }
        if let Some(front) = env_value(FRONT_ENV)? {
            config.front = front;
        }
        config.validate_with_names(TIMEOUT_ENV)?;
        Ok(config)
    }

    /// Checks the settings that parse but may be out of range: the deployment's timeout
    /// ([`Deployment::validate`]), and tenant isolation with more than one invocation per
    /// environment. [`Emulator::start`] refuses what this
    /// refuses.
    ///
    /// [`Emulator::start`]: super::Emulator::start
    ///
    /// # Errors
    /// [`ConfigError::OutOfRange`] naming the setting.
    ///
    /// ```
    /// use lambda_stream::emulator::EmulatorConfig;
    /// let config = EmulatorConfig::default().with_timeout(std::time::Duration::from_secs(10_000_000));
    /// assert!(config.validate().is_err());
    /// ```
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_with_names("the function timeout")
    }

    fn validate_with_names(&self, timeout_name: &str) -> Result<(), ConfigError> {
        self.deployment.check_timeout(timeout_name)?;
        if self.tenant_isolation && self.environment_concurrency > 1 {
            return Err(ConfigError::OutOfRange {
                name: "the environment concurrency with tenant isolation".to_owned(),
                value: self.environment_concurrency.to_string(),
                allowed: "1: an environment serving one tenant is restarted for another, which \
                          would cut the invocations it runs at once"
                    .to_owned(),
            });
        }
        Ok(())
    }

    /// Where the Function URL listens (default `127.0.0.1:9000`; port 0 picks a free one).
    pub fn with_url_addr(mut self, addr: SocketAddr) -> Self {
        self.url_addr = addr;
        self
    }

    /// Where the Runtime API listens (default `127.0.0.1:0`).
    pub fn with_runtime_addr(mut self, addr: SocketAddr) -> Self {
        self.runtime_addr = addr;
        self
    }

    /// The deployment served: invoke mode, budget, buffered limit, bandwidth, timeout (the
    /// function's own, in embedded mode).
    pub fn with_deployment(mut self, deployment: Deployment) -> Self {
        self.deployment = deployment;
        self
    }

    /// The deployment served.
    pub fn deployment(&self) -> &Deployment {
        &self.deployment
    }

    /// The URL's invoke mode ([`Deployment::with_invoke_mode`]).
    pub fn with_invoke_mode(mut self, mode: InvokeMode) -> Self {
        self.deployment = self.deployment.with_invoke_mode(mode);
        self
    }

    /// The function timeout (default 60 s): the deadline sent to the function, after which the
    /// client gets `502` (nothing sent yet) or a truncated stream.
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.deployment = self.deployment.with_timeout(timeout);
        self
    }

    /// The response budget in wire bytes, prelude included ([`Deployment::with_budget`]).
    pub fn with_budget(mut self, budget: Budget) -> Self {
        self.deployment = self.deployment.with_budget(budget);
        self
    }

    /// The buffered response limit ([`Deployment::with_buffered_limit`]).
    pub fn with_buffered_limit(mut self, bytes: usize) -> Self {
        self.deployment = self.deployment.with_buffered_limit(bytes);
        self
    }

    /// The request event limit (default 6 MiB); larger requests get `413`.
    pub fn with_request_limit(mut self, bytes: usize) -> Self {
        self.request_limit = bytes;
        self
    }

    /// The function name used in ARNs and logs (default `local`).
    pub fn with_function_name(mut self, name: impl Into<String>) -> Self {
        self.function_name = name.into();
        self
    }

    /// Whether to print one access-log line per invocation to stderr (default on; the same
    /// line is always emitted as a `tracing` event).
    pub fn with_access_log(mut self, enabled: bool) -> Self {
        self.access_log = enabled;
        self
    }

    /// The URL's auth type (default `NONE`). With `AWS_IAM`, requests must be SigV4-signed
    /// (service `lambda`, this config's region) by one of [`with_iam_key`](Self::with_iam_key)'s
    /// keys; others get AWS's `403`.
    pub fn with_auth_type(mut self, auth_type: AuthType) -> Self {
        self.auth_type = auth_type;
        self
    }

    /// Adds an access key the `AWS_IAM` URL accepts.
    pub fn with_iam_key(mut self, key: IamKey) -> Self {
        self.iam_keys.push(key);
        self
    }

    /// The region requests are signed for and ARNs name (default `us-east-1`).
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// The URL's CORS configuration (default none: the function's headers pass through and
    /// `OPTIONS` goes to the function).
    pub fn with_cors(mut self, cors: Cors) -> Self {
        self.cors = Some(cors);
        self
    }

    /// Paces streamed bodies as AWS does ([`BandwidthModel::AWS`]: 6 MiB at once, then
    /// 2 MiB/s), so a local run shows how long a large export takes (default: no cap).
    pub fn with_throttle(mut self, model: BandwidthModel) -> Self {
        self.deployment = self.deployment.with_bandwidth(model);
        self.throttled = true;
        self
    }

    /// How many invocations may run at once (default 10); one more gets `429`
    /// (`TooManyRequestsException`). Each needs a runtime loop polling `/next` to be served.
    pub fn with_max_concurrency(mut self, limit: usize) -> Self {
        self.max_concurrency = limit.max(1);
        self
    }

    /// Whether a client disconnect cancels the invocation. Off by default, as on AWS, where
    /// the function runs on (and bills) and the emulator drains and logs its output; on, the
    /// emulator closes the function's response so the handler's stream is dropped.
    pub fn with_cancel_on_disconnect(mut self, cancel: bool) -> Self {
        self.cancel_on_disconnect = cancel;
        self
    }

    /// How long a client may take to send its request head before the connection is closed
    /// (default 30 s), so a slow or stalled client cannot hold a connection forever. hyper's
    /// timer also runs while a kept-alive connection waits for its next request, so this is
    /// the URL's keep-alive idle timeout too (clients reconnect, as they do for any server).
    pub fn with_header_read_timeout(mut self, timeout: Duration) -> Self {
        self.header_read_timeout = timeout;
        self
    }

    /// What answers on the URL's port (default a Function URL): with
    /// [`Front::RestApi`], an API Gateway REST API proxying every path to the function, with
    /// the gateway's events, limits and error responses.
    pub fn with_front(mut self, front: Front) -> Self {
        self.front = front;
        self
    }

    /// The front.
    pub fn front(&self) -> Front {
        self.front
    }

    /// How many invocations one function instance serves at once (default 1): more than one
    /// is a Lambda Managed Instances environment (`AWS_LAMBDA_MAX_CONCURRENCY`), which a timed
    /// out invocation does not reset (see [`Emulator::environment_reset`]). Not with tenant
    /// isolation.
    ///
    /// [`Emulator::environment_reset`]: super::Emulator::environment_reset
    pub fn with_environment_concurrency(mut self, invocations: usize) -> Self {
        self.environment_concurrency = invocations.max(1);
        self
    }

    /// How many invocations one function instance serves at once.
    pub fn environment_concurrency(&self) -> usize {
        self.environment_concurrency
    }

    /// Lambda's tenant isolation mode (`TenancyConfig: PER_TENANT`, default off): every
    /// invocation names its tenant (`X-Amz-Tenant-Id`), which the function reads as
    /// `Lambda-Runtime-Aws-Tenant-Id`; an execution environment serves one tenant only (a
    /// supervised process serving another tenant is restarted first); the function has no
    /// Function URL.
    pub fn with_tenant_isolation(mut self, isolated: bool) -> Self {
        self.tenant_isolation = isolated;
        self
    }

    /// Whether the function uses tenant isolation.
    pub fn tenant_isolation(&self) -> bool {
        self.tenant_isolation
    }

    /// Bytes of request bodies being read at once, over all clients.
    pub(crate) fn body_memory(&self) -> usize {
        self.request_limit.max(MIN_BODY_MEMORY)
    }

    /// The header read timeout.
    pub fn header_read_timeout(&self) -> Duration {
        self.header_read_timeout
    }

    /// How long a client may take to send its whole request body (default 30 s); a slower
    /// one gets `408` and its connection is closed, so a trickled upload cannot hold memory
    /// or a concurrency slot.
    pub fn with_body_read_timeout(mut self, timeout: Duration) -> Self {
        self.body_read_timeout = timeout;
        self
    }

    /// The body read timeout.
    pub fn body_read_timeout(&self) -> Duration {
        self.body_read_timeout
    }

    /// Whether the Invoke API routes require SigV4. AWS always requires it; here they do
    /// whenever access keys are configured (with `AWS_IAM` auth, or keys added with
    /// [`with_iam_key`](Self::with_iam_key)), and accept any caller otherwise, as AWS's
    /// Runtime Interface Emulator does, since there is no key to check a signature against.
    pub fn invoke_api_requires_signature(&self) -> bool {
        self.auth_type == AuthType::AwsIam || !self.iam_keys.is_empty()
    }

    /// The auth type.
    pub fn auth_type(&self) -> AuthType {
        self.auth_type
    }

    /// The accepted access keys.
    pub fn iam_keys(&self) -> &[IamKey] {
        &self.iam_keys
    }

    /// The CORS configuration.
    pub fn cors(&self) -> Option<&Cors> {
        self.cors.as_ref()
    }

    /// The bandwidth model, if streams are paced.
    pub fn throttle(&self) -> Option<BandwidthModel> {
        self.throttled.then(|| self.deployment.bandwidth())
    }

    /// The concurrency limit.
    pub fn max_concurrency(&self) -> usize {
        self.max_concurrency
    }

    /// Whether a client disconnect cancels the invocation.
    pub fn cancel_on_disconnect(&self) -> bool {
        self.cancel_on_disconnect
    }

    /// The Function URL address.
    pub fn url_addr(&self) -> SocketAddr {
        self.url_addr
    }

    /// The Runtime API address.
    pub fn runtime_addr(&self) -> SocketAddr {
        self.runtime_addr
    }

    /// The invoke mode.
    pub fn invoke_mode(&self) -> InvokeMode {
        self.deployment.invoke_mode()
    }

    /// The function timeout.
    pub fn timeout(&self) -> Duration {
        self.deployment.timeout()
    }

    /// The response budget.
    pub fn budget(&self) -> Budget {
        self.deployment.budget()
    }

    /// The buffered response limit in bytes.
    pub fn buffered_limit(&self) -> usize {
        self.deployment.buffered_limit()
    }

    /// The request event limit in bytes.
    pub fn request_limit(&self) -> usize {
        self.request_limit
    }

    /// The function name.
    pub fn function_name(&self) -> &str {
        &self.function_name
    }

    /// The region used in ARNs and domain names.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The ARN of the function `name` (with its qualifier, if it has one) in the emulator's
    /// region and account.
    pub(crate) fn function_arn(&self, name: &str) -> String {
        format!(
            "arn:aws:lambda:{}:123456789012:function:{name}",
            self.region
        )
    }

    /// Whether access-log lines go to stderr.
    pub fn access_log(&self) -> bool {
        self.access_log
    }
}
