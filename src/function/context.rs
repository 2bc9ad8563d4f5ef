//! What a handler knows about the invocation it serves.

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[cfg(test)]
use http::HeaderMap;

use super::config::FunctionInfo;
use crate::wire::InvocationHeaders;
#[cfg(test)]
use crate::wire::InvocationHeadersError;

/// The invocation's metadata, from the Runtime API's `/next` response headers.
///
/// ```no_run
/// # fn handler(context: lambda_stream::Context) {
/// if let Some(left) = context.remaining() {
///     println!("{} has {left:?} left", context.request_id);
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Context {
    /// `Lambda-Runtime-Aws-Request-Id`, validated as a
    /// [`RequestId`](crate::wire::RequestId).
    pub request_id: String,
    /// `Lambda-Runtime-Deadline-Ms`; `None` when absent or already in the past (`cargo lambda`
    /// sends the constant `600000`), which means "unknown", not "expired".
    pub deadline: Option<SystemTime>,
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub invoked_function_arn: String,
    /// `Lambda-Runtime-Trace-Id` (the value of `_X_AMZN_TRACE_ID` for this invocation).
    pub trace_id: Option<String>,
    /// `Lambda-Runtime-Client-Context` (JSON text).
    pub client_context: Option<String>,
    /// `Lambda-Runtime-Cognito-Identity` (JSON text).
    pub identity: Option<String>,
    /// `Lambda-Runtime-Aws-Tenant-Id`.
    pub tenant_id: Option<String>,
    /// The function's settings.
    pub function: Arc<FunctionInfo>,
    /// The deadline on tokio's clock, fixed once when the invocation arrived.
    deadline_at: Option<tokio::time::Instant>,
}

impl Context {
    #[cfg(test)]
    pub(crate) fn from_headers(
        headers: &HeaderMap,
        function: Arc<FunctionInfo>,
        now: SystemTime,
    ) -> Result<Self, InvocationHeadersError> {
        let invocation = InvocationHeaders::from_headers(headers)?;
        Ok(Context::from_invocation(invocation, function, now))
    }

    /// The context of the invocation `/next` described.
    pub(crate) fn from_invocation(
        invocation: InvocationHeaders,
        function: Arc<FunctionInfo>,
        now: SystemTime,
    ) -> Self {
        let deadline = invocation
            .deadline_ms
            .map(|ms| UNIX_EPOCH + Duration::from_millis(ms))
            .filter(|deadline| *deadline > now);
        let arrived = tokio::time::Instant::now();
        let deadline_at =
            deadline.map(|deadline| arrived + deadline.duration_since(now).unwrap_or_default());
        Context {
            deadline_at,
            request_id: invocation.request_id.to_string(),
            deadline,
            invoked_function_arn: invocation.invoked_function_arn.unwrap_or_default(),
            trace_id: invocation.trace_id,
            client_context: invocation.client_context,
            identity: invocation.cognito_identity,
            tenant_id: invocation.tenant_id,
            function,
        }
    }

    /// Time left before the deadline, when the deadline is known.
    pub fn remaining(&self) -> Option<Duration> {
        self.deadline_at
            .map(|at| at.saturating_duration_since(tokio::time::Instant::now()))
    }

    /// The deadline as a `tokio::time::Instant` (for `sleep_until` or `timeout_at`), when it is
    /// known: `Lambda-Runtime-Deadline-Ms` read against the wall clock once, when the
    /// invocation arrived, so every later decision runs on tokio's clock (and tests can pause
    /// it).
    pub fn deadline_instant(&self) -> Option<tokio::time::Instant> {
        self.deadline_at
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        pairs
            .iter()
            .map(|(n, v)| {
                (
                    http::HeaderName::from_static(n),
                    HeaderValue::from_str(v).unwrap(),
                )
            })
            .collect()
    }

    #[tokio::test(start_paused = true)]
    async fn the_deadline_becomes_an_instant_once_on_arrival() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let arrived = tokio::time::Instant::now();
        let context = Context::from_headers(
            &headers(&[
                ("lambda-runtime-aws-request-id", "id-1"),
                ("lambda-runtime-deadline-ms", "1002500"),
            ]),
            Arc::default(),
            now,
        )
        .unwrap();
        assert_eq!(
            context.deadline_instant(),
            Some(arrived + Duration::from_millis(2500))
        );
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(context.remaining(), Some(Duration::from_millis(1500)));
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert_eq!(context.remaining(), Some(Duration::ZERO));
    }

    #[test]
    fn reads_every_header() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000);
        let context = Context::from_headers(
            &headers(&[
                ("lambda-runtime-aws-request-id", "id-1"),
                ("lambda-runtime-deadline-ms", "1060000"),
                (
                    "lambda-runtime-invoked-function-arn",
                    "arn:aws:lambda:us-east-1:1:function:f",
                ),
                ("lambda-runtime-trace-id", "Root=1-abc"),
                ("lambda-runtime-client-context", "{}"),
                ("lambda-runtime-cognito-identity", "{\"id\":1}"),
                ("lambda-runtime-aws-tenant-id", "tenant-a"),
            ]),
            Arc::default(),
            now,
        )
        .unwrap();
        assert_eq!(context.request_id, "id-1");
        assert_eq!(
            context.deadline,
            Some(UNIX_EPOCH + Duration::from_secs(1_060))
        );
        assert_eq!(context.trace_id.as_deref(), Some("Root=1-abc"));
        assert_eq!(context.tenant_id.as_deref(), Some("tenant-a"));
        assert_eq!(context.identity.as_deref(), Some("{\"id\":1}"));
    }

    #[test]
    fn past_or_constant_deadline_is_unknown() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        for deadline in ["600000", "garbage", "0"] {
            let context = Context::from_headers(
                &headers(&[
                    ("lambda-runtime-aws-request-id", "id"),
                    ("lambda-runtime-deadline-ms", deadline),
                ]),
                Arc::default(),
                now,
            )
            .unwrap();
            assert_eq!(context.deadline, None, "{deadline}");
            assert_eq!(context.remaining(), None);
        }
    }

    #[test]
    fn request_id_is_required() {
        assert_eq!(
            Context::from_headers(&HeaderMap::new(), Arc::default(), SystemTime::now())
                .unwrap_err(),
            InvocationHeadersError::MissingRequestId
        );
    }
}
