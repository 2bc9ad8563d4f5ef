//! One description of a deployment: how the platform in front of the function answers and
//! limits it. The function's [`Config`](crate::Config), the local emulator and the
//! `lambda-stream serve` CLI each hold one [`Deployment`], read once from the environment or
//! set in code, so what the function answers is what the local URL serves.

use std::time::Duration;

use crate::settings::{
    BUDGET_ENV, ConfigError, INVOKE_MODE_ENV, InvokeMode, TIMEOUT_ENV, env_value,
};
use crate::stream::{BandwidthModel, Budget};
use crate::wire::BUFFERED_RESPONSE_LIMIT;

/// The longest function timeout accepted: 24 hours. AWS allows at most 900 s; a longer local
/// timeout is for a function held at a debugger's breakpoint.
pub(crate) const MAX_TIMEOUT: Duration = Duration::from_secs(24 * 60 * 60);

/// The default function timeout: 60 s, like a configured function.
pub(crate) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// How a function is deployed: its invoke mode, its response budget, the buffered payload
/// limit, the bandwidth Lambda allows and the function timeout.
///
/// The function answers by it ([`Config::with_deployment`](crate::Config::with_deployment)),
/// and the local emulator serves by the same value (in embedded mode, the one the function was
/// configured with; under `lambda-stream serve`, the CLI's, handed to each function process
/// through [`env`](Self::env)).
///
/// ```
/// use lambda_stream::{Budget, Deployment, InvokeMode};
/// let deployment = Deployment::default()
///     .with_invoke_mode(InvokeMode::Buffered)
///     .with_budget(Budget::bytes(1_000_000));
/// // A BUFFERED answer keeps to its budget (counted as its stream would be) and to the
/// // 6,291,556-byte payload limit.
/// assert_eq!(deployment.budget().limit(), 1_000_000);
/// assert_eq!(deployment.buffered_limit(), 6_291_556);
/// assert!(deployment.validate().is_ok());
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Deployment {
    invoke_mode: InvokeMode,
    budget: Budget,
    buffered_limit: usize,
    bandwidth: BandwidthModel,
    timeout: Duration,
}

impl Default for Deployment {
    /// `RESPONSE_STREAM`, [`Budget::DEFAULT`], a 6,291,556-byte buffered limit, AWS's
    /// bandwidth model and a 60 s timeout.
    fn default() -> Self {
        Deployment {
            invoke_mode: InvokeMode::ResponseStream,
            budget: Budget::DEFAULT,
            buffered_limit: BUFFERED_RESPONSE_LIMIT,
            bandwidth: BandwidthModel::AWS,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

impl Deployment {
    /// The defaults overridden by `LAMBDA_STREAM_INVOKE_MODE`, `LAMBDA_STREAM_BUDGET` (bytes)
    /// and `LAMBDA_STREAM_TIMEOUT` (seconds).
    ///
    /// # Errors
    /// [`ConfigError`] naming a variable that does not parse or is out of range.
    pub fn from_env() -> Result<Self, ConfigError> {
        let mut deployment = Deployment::default();
        if let Some(mode) = env_value(INVOKE_MODE_ENV)? {
            deployment.invoke_mode = mode;
        }
        if let Some(limit) = env_value(BUDGET_ENV)? {
            deployment.budget = Budget::bytes(limit);
        }
        if let Some(seconds) = env_value::<f64>(TIMEOUT_ENV)? {
            deployment.timeout = Duration::try_from_secs_f64(seconds)
                .map_err(|_| ConfigError::invalid(TIMEOUT_ENV, seconds.to_string()))?;
        }
        deployment.check_timeout(TIMEOUT_ENV)?;
        Ok(deployment)
    }

    /// The variables that describe this deployment to a function process, which reads them
    /// back with [`from_env`](Self::from_env).
    pub fn env(&self) -> [(&'static str, String); 3] {
        [
            (INVOKE_MODE_ENV, self.invoke_mode.to_string()),
            (BUDGET_ENV, self.budget.limit().to_string()),
            (TIMEOUT_ENV, self.timeout.as_secs_f64().to_string()),
        ]
    }

    /// Sets the invoke mode (default `RESPONSE_STREAM`).
    pub fn with_invoke_mode(mut self, invoke_mode: InvokeMode) -> Self {
        self.invoke_mode = invoke_mode;
        self
    }

    /// Sets the budget of one response (default [`Budget::DEFAULT`], 75 MiB), counted in
    /// wire bytes; it applies in both invoke modes.
    pub fn with_budget(mut self, budget: Budget) -> Self {
        self.budget = budget;
        self
    }

    /// Sets the largest buffered payload (default 6,291,556 bytes, Lambda's limit).
    pub fn with_buffered_limit(mut self, bytes: usize) -> Self {
        self.buffered_limit = bytes;
        self
    }

    /// Sets the bandwidth Lambda allows a stream (default [`BandwidthModel::AWS`]): the
    /// function ends a stream in time by it, and the emulator enforces it when throttling.
    pub fn with_bandwidth(mut self, bandwidth: BandwidthModel) -> Self {
        self.bandwidth = bandwidth;
        self
    }

    /// Sets the function timeout (default 60 s; more than 0 and at most 24 h).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The invoke mode.
    pub fn invoke_mode(&self) -> InvokeMode {
        self.invoke_mode
    }

    /// The budget of one response.
    pub fn budget(&self) -> Budget {
        self.budget
    }

    /// The largest buffered payload in bytes.
    pub fn buffered_limit(&self) -> usize {
        self.buffered_limit
    }

    /// The bandwidth model.
    pub fn bandwidth(&self) -> BandwidthModel {
        self.bandwidth
    }

    /// The function timeout.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Checks what parses but may be out of range: the timeout must be more than 0 and at
    /// most 24 hours (AWS allows 900 s; a longer local one is for a function held at a
    /// debugger's breakpoint).
    ///
    /// # Errors
    /// [`ConfigError::OutOfRange`] naming the function timeout.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.check_timeout("the function timeout")
    }

    /// Checks the timeout, naming it as `name` when it is out of range.
    pub(crate) fn check_timeout(&self, name: &str) -> Result<(), ConfigError> {
        if self.timeout.is_zero() || self.timeout > MAX_TIMEOUT {
            return Err(ConfigError::OutOfRange {
                name: name.to_owned(),
                value: format!("{} s", self.timeout.as_secs_f64()),
                allowed: format!(
                    "more than 0 and at most {} s (AWS allows at most 900 s)",
                    MAX_TIMEOUT.as_secs()
                ),
            });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn out_of_range_timeouts_are_refused() {
        for timeout in [Duration::ZERO, MAX_TIMEOUT + Duration::from_secs(1)] {
            let deployment = Deployment::default().with_timeout(timeout);
            assert!(matches!(
                deployment.check_timeout("t"),
                Err(ConfigError::OutOfRange { .. })
            ));
        }
        assert_eq!(Deployment::default().check_timeout("t"), Ok(()));
        assert_eq!(
            Deployment::default().with_timeout(MAX_TIMEOUT).validate(),
            Ok(())
        );
    }
}
