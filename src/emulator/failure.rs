//! What can go wrong on the platform side of an invocation, typed, with the error type AWS
//! reports for each. Every surface maps from here: the URL's `502` or truncated body, the
//! Invoke API's `X-Amz-Function-Error` payload and `InvokeComplete`, and the access log.

use std::time::Duration;

use bytes::Bytes;

use crate::wire::{ErrorType, FunctionError};

/// A failure the platform (not the function's own error report) puts on an invocation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum PlatformFailure {
    /// The function did not finish within its timeout.
    #[error("Task timed out after {:.2} seconds", .0.as_secs_f64())]
    Timeout(Duration),
    /// The function process (or its runtime loop) went away before answering.
    #[error("the function stopped before answering ({0})")]
    FunctionGone(String),
    /// The function's runtime process exited (`status`, worded as Lambda words it: `exit
    /// status 3`, `signal: killed`).
    #[error("Runtime exited with error: {0}")]
    RuntimeExited(String),
    /// The function reported an init error (`/runtime/init/error`): requests are answered at
    /// once with it while every instance fails its init.
    #[error("the function failed its init ({error})")]
    InitFailed {
        /// The error it reported; its type is the invocations' error type.
        error: FunctionError,
        /// The error document the runtime posted, which the Invoke API passes on as posted.
        document: Bytes,
    },
    /// A buffered payload, or a streamed one read into a buffered answer, over its limit.
    #[error("Response payload size exceeded maximum allowed payload size ({limit} bytes).")]
    PayloadTooLarge {
        /// The limit in bytes.
        limit: u64,
    },
    /// A streamed response over the stream budget: relaying stopped there.
    #[error("streamed response over the {budget}-byte budget")]
    OverBudget {
        /// The budget in wire bytes.
        budget: u64,
    },
    /// The streamed response's prelude is not one Lambda accepts.
    #[error("invalid streamed response prelude: {0}")]
    InvalidPrelude(String),
    /// The function's response ended without its last chunk (cut off, reset, or framing it
    /// could not read, such as a malformed or oversized trailer).
    #[error("the response was truncated: {0}")]
    Truncated(String),
}

impl PlatformFailure {
    /// The error type Lambda reports for it (`InvokeComplete.ErrorCode`, the `errorType` of an
    /// `Invoke` error payload).
    pub(crate) fn error_type(&self) -> ErrorType {
        match self {
            PlatformFailure::Timeout(_) => ErrorType::SANDBOX_TIMEDOUT,
            PlatformFailure::FunctionGone(_) | PlatformFailure::RuntimeExited(_) => {
                ErrorType::EXIT_ERROR
            }
            PlatformFailure::InitFailed { error, .. } => error.error_type().clone(),
            PlatformFailure::PayloadTooLarge { .. } | PlatformFailure::OverBudget { .. } => {
                ErrorType::RESPONSE_SIZE_TOO_LARGE
            }
            // Undocumented: Lambda's type for a prelude it cannot read is not published.
            PlatformFailure::InvalidPrelude(_) => ErrorType::RUNTIME_INVALID_RESPONSE,
            PlatformFailure::Truncated(_) => ErrorType::TRUNCATED_RESPONSE,
        }
    }

    /// The access-log outcome: what happened in a word, then the error type and the details.
    pub(crate) fn outcome(&self) -> String {
        let kind = match self {
            PlatformFailure::Timeout(_) => "timeout",
            PlatformFailure::FunctionGone(_) | PlatformFailure::RuntimeExited(_) => {
                "function exited"
            }
            PlatformFailure::InitFailed { .. } => "init failed",
            PlatformFailure::PayloadTooLarge { .. } => "payload too large",
            PlatformFailure::OverBudget { .. } => "budget",
            PlatformFailure::InvalidPrelude(_) => "invalid response",
            PlatformFailure::Truncated(_) => "truncated",
        };
        format!("{kind} ({}: {self})", self.error_type())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_failure_has_its_aws_error_type() {
        let cases = [
            (
                PlatformFailure::Timeout(Duration::from_secs(2)),
                "Sandbox.Timedout",
            ),
            (
                PlatformFailure::FunctionGone("exit 1".into()),
                "Runtime.ExitError",
            ),
            (
                PlatformFailure::RuntimeExited("exit status 1".into()),
                "Runtime.ExitError",
            ),
            (
                PlatformFailure::PayloadTooLarge { limit: 6 },
                "Function.ResponseSizeTooLarge",
            ),
            (
                PlatformFailure::OverBudget { budget: 6 },
                "Function.ResponseSizeTooLarge",
            ),
            (
                PlatformFailure::InvalidPrelude("x".into()),
                "Runtime.InvalidResponse",
            ),
            (
                PlatformFailure::Truncated("reset".into()),
                "Runtime.TruncatedResponse",
            ),
        ];
        for (failure, error_type) in cases {
            assert_eq!(failure.error_type().as_str(), error_type);
            assert!(failure.outcome().contains(error_type));
        }
        assert_eq!(
            PlatformFailure::RuntimeExited("exit status 3".into()).to_string(),
            "Runtime exited with error: exit status 3"
        );
        assert_eq!(
            PlatformFailure::Timeout(Duration::from_secs(2)).to_string(),
            "Task timed out after 2.00 seconds"
        );
        assert_eq!(
            PlatformFailure::Truncated("reset".into()).outcome(),
            "truncated (Runtime.TruncatedResponse: the response was truncated: reset)"
        );
        assert_eq!(
            PlatformFailure::OverBudget { budget: 6 }.outcome(),
            "budget (Function.ResponseSizeTooLarge: streamed response over the 6-byte budget)"
        );
    }
}
