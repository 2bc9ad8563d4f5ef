//! Handlers written for the official crates, run on the lambda-stream loop unchanged.
//!
//! | Written for | On lambda-stream |
//! |---|---|
//! | `lambda_runtime::run(service)` | `lambda_stream::run(compat::lambda_runtime(service))` |
//! | `lambda_http::run(service)` | `lambda_stream::run(compat::lambda_http(service))` |
//! | `lambda_http::run_with_streaming_response(service)` | `lambda_stream::run(compat::lambda_http_streaming(service))` |
//!
//! The handler receives the same event type and the same `lambda_runtime::Context` it would on
//! the official loop, and its answer keeps its meaning. What changes is what the official loop
//! gets wrong or does not have: a stream that fails mid-way ends with real
//! `Lambda-Runtime-Function-Error-Type` / `-Body` trailer fields instead of error text appended
//! to the body, budgets and deadlines apply, `LAMBDA_STREAM_INVOKE_MODE=BUFFERED` collects the
//! same answer through the buffered fallback, and with no `AWS_LAMBDA_RUNTIME_API` the binary
//! serves a local Function URL.
//!
//! Errors the handler returns keep their `errorType` when it is a valid Lambda error type
//! (`Function.Xxx` or `Runtime.Xxx`); any other type (the official crates use Rust type names)
//! is reported as `Function.HandlerError` with the same message. An event the handler's type
//! cannot deserialize is reported as `Runtime.InvalidEvent`.
//!
//! Features: `lambda-runtime` for [`lambda_runtime()`], `lambda-http` for [`lambda_http()`]
//! and [`lambda_http_streaming()`].

#[cfg(feature = "lambda-http")]
mod http_service;
mod runtime_service;

#[cfg(feature = "lambda-http")]
#[cfg_attr(docsrs, doc(cfg(feature = "lambda-http")))]
pub use http_service::{lambda_http, lambda_http_streaming};
pub use runtime_service::lambda_runtime;

use std::sync::Arc;
use std::time::UNIX_EPOCH;

use crate::function::Context;
use crate::wire::{ErrorType, FunctionError, RawEvent};

/// The official crates' view of the invocation, built from ours.
fn official_context(context: &Context) -> ::lambda_runtime::Context {
    let function = &context.function;
    let mut official = ::lambda_runtime::Context::default();
    official.request_id = context.request_id.clone();
    official.deadline = context
        .deadline
        .and_then(|deadline| deadline.duration_since(UNIX_EPOCH).ok())
        .map_or(0, |since| {
            u64::try_from(since.as_millis()).unwrap_or(u64::MAX)
        });
    official.invoked_function_arn = context.invoked_function_arn.clone();
    official.xray_trace_id = context.trace_id.clone();
    official.client_context = parse_json(context.client_context.as_deref(), "client context");
    official.identity = parse_json(context.identity.as_deref(), "Cognito identity");
    official.tenant_id = context.tenant_id.clone();
    official.env_config = Arc::new(::lambda_runtime::Config {
        function_name: function.name.clone(),
        memory: i32::try_from(function.memory_mb).unwrap_or(i32::MAX),
        version: function.version.clone(),
        log_stream: function.log_stream.clone(),
        log_group: function.log_group.clone(),
    });
    official
}

/// A JSON header value of the invocation, or `None` (logged) when it does not parse.
fn parse_json<T: serde::de::DeserializeOwned>(text: Option<&str>, what: &str) -> Option<T> {
    text.and_then(|text| match serde_json::from_str(text) {
        Ok(value) => Some(value),
        Err(error) => {
            tracing::warn!(%error, "the invocation's {what} is not valid JSON; left out");
            None
        }
    })
}

/// A handler error as the official crates describe it, as one of ours.
fn handler_error(error: impl Into<::lambda_runtime::Diagnostic>) -> FunctionError {
    let diagnostic = error.into();
    let error_type = ErrorType::new(diagnostic.error_type).unwrap_or(ErrorType::HANDLER_ERROR);
    FunctionError::new(error_type, diagnostic.error_message)
}

/// The event the Runtime API delivered, which the runtime attaches to every request.
fn raw_event(request: &crate::aliases::Request) -> Result<bytes::Bytes, FunctionError> {
    request
        .extensions()
        .get::<RawEvent>()
        .map(|RawEvent(event)| event.clone())
        .ok_or_else(|| {
            FunctionError::new(
                ErrorType::INVALID_EVENT,
                "the request carries no RawEvent: compat handlers run on the lambda-stream loop",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, SystemTime};

    #[test]
    fn the_official_context_mirrors_ours() {
        let mut headers = http::HeaderMap::new();
        headers.insert("lambda-runtime-aws-request-id", "req-1".parse().unwrap());
        headers.insert(
            "lambda-runtime-deadline-ms",
            "4102444800000".parse().unwrap(),
        );
        headers.insert(
            "lambda-runtime-invoked-function-arn",
            "arn:aws:lambda:us-east-1:1:function:f".parse().unwrap(),
        );
        headers.insert("lambda-runtime-trace-id", "Root=1-abc".parse().unwrap());
        headers.insert(
            "lambda-runtime-cognito-identity",
            r#"{"cognitoIdentityId":"id","cognitoIdentityPoolId":"pool"}"#
                .parse()
                .unwrap(),
        );
        headers.insert("lambda-runtime-client-context", "not json".parse().unwrap());
        let function = crate::function::FunctionInfo {
            name: "f".into(),
            version: "$LATEST".into(),
            memory_mb: 128,
            log_group: "/aws/lambda/f".into(),
            log_stream: "s".into(),
            ..crate::function::FunctionInfo::default()
        };
        let now = SystemTime::now();
        let ours = Context::from_headers(&headers, Arc::new(function), now).unwrap();
        let official = official_context(&ours);
        assert_eq!(official.request_id, "req-1");
        assert_eq!(official.deadline, 4_102_444_800_000);
        assert_eq!(
            official.deadline(),
            UNIX_EPOCH + Duration::from_millis(4_102_444_800_000)
        );
        assert_eq!(
            official.invoked_function_arn,
            "arn:aws:lambda:us-east-1:1:function:f"
        );
        assert_eq!(official.xray_trace_id.as_deref(), Some("Root=1-abc"));
        assert_eq!(official.identity.unwrap().identity_pool_id, "pool");
        assert!(
            official.client_context.is_none(),
            "invalid JSON is left out"
        );
        assert_eq!(official.env_config.function_name, "f");
        assert_eq!(official.env_config.memory, 128);
        assert_eq!(official.env_config.log_group, "/aws/lambda/f");
    }

    #[test]
    fn error_types_are_kept_when_lambda_accepts_them() {
        let kept = handler_error(::lambda_runtime::Diagnostic {
            error_type: "Function.OutOfStock".into(),
            error_message: "no more".into(),
        });
        assert_eq!(
            (kept.error_type().as_str(), kept.message()),
            ("Function.OutOfStock", "no more")
        );
        let renamed = handler_error(std::io::Error::other("disk"));
        assert_eq!(
            (renamed.error_type(), renamed.message()),
            (&ErrorType::HANDLER_ERROR, "disk")
        );
    }
}
