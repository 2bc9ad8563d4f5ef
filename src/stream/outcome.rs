//! How a response ended, as the pipeline reports it, and how its body ends between stages.

use std::fmt;

use crate::body::TruncationReason;
use crate::wire::FunctionError;

/// How a response ended.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Outcome {
    /// The whole body was sent.
    Complete,
    /// The handler or its body failed (reported to `/error`, as a 500 response, or as error
    /// trailers after the head).
    Failed(FunctionError),
    /// The budget or the deadline cut the body short; `continued` when a continuation closed it.
    Truncated {
        /// What cut it.
        reason: TruncationReason,
        /// Whether a continuation record ended the body (else an error trailer did).
        continued: bool,
    },
    /// The connection to the Runtime API broke, or the deadline stopped the invocation.
    Aborted,
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Complete => f.write_str("complete"),
            Outcome::Failed(error) => write!(f, "failed ({})", error.error_type()),
            Outcome::Truncated { reason, continued } => {
                let by = match reason {
                    TruncationReason::Budget => "budget",
                    TruncationReason::Deadline => "deadline",
                };
                let how = if *continued {
                    "continuation"
                } else {
                    "error trailer"
                };
                write!(f, "truncated by {by} ({how})")
            }
            Outcome::Aborted => f.write_str("aborted"),
        }
    }
}

/// How a limited body ends other than completely.
#[derive(Debug)]
pub(crate) enum StreamEnd {
    /// The handler's stream failed or panicked.
    Failed(FunctionError),
    /// The budget or the deadline cut it after its last whole record.
    Cut(TruncationReason),
}
