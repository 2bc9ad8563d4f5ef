//! Function errors and their two wire forms: the `/error` request body and the
//! `Lambda-Runtime-Function-Error-Type` / `-Body` trailer fields of a streamed response.

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use http::{HeaderMap, HeaderName, HeaderValue};
use serde::{Deserialize, Serialize};

/// Trailer field that carries the error type of a mid-stream failure.
pub const ERROR_TYPE_TRAILER: HeaderName =
    HeaderName::from_static("lambda-runtime-function-error-type");
/// Trailer field that carries the base64 JSON error body of a mid-stream failure.
pub const ERROR_BODY_TRAILER: HeaderName =
    HeaderName::from_static("lambda-runtime-function-error-body");

/// The `Trailer` header value that declares both error fields (hyper, and HTTP/1.1, only send
/// declared trailer fields).
/// The longest `Lambda-Runtime-Function-Error-Body` value [`FunctionError::to_trailers`]
/// writes: 8 KiB, half of hyper's 16 KiB trailer-section limit, leaving room for the type
/// field and other readers' smaller caps.
pub const MAX_ERROR_BODY_TRAILER_LEN: usize = 8 * 1024;

pub(crate) const DECLARED_ERROR_TRAILERS: &str =
    "Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body";

/// An error type Lambda accepts: `(Runtime|Function)\.[A-Z][a-zA-Z]+`.
///
/// Lambda rewrites any other value to `Runtime.Unknown`, so this type refuses it up front.
///
/// ```
/// use lambda_stream::wire::ErrorType;
/// assert!(ErrorType::new("Function.UpstreamTimeout").is_ok());
/// assert!(ErrorType::new("unhandled").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ErrorType(Cow<'static, str>);

/// The string given to [`ErrorType::new`] does not match `(Runtime|Function)\.[A-Z][a-zA-Z]+`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid Lambda error type {value:?}: it must match (Runtime|Function)\\.[A-Z][a-zA-Z]+")]
pub struct InvalidErrorType {
    /// The rejected value.
    pub value: String,
}

impl ErrorType {
    /// A handler returned an error before the first body byte.
    pub const HANDLER_ERROR: ErrorType = ErrorType(Cow::Borrowed("Function.HandlerError"));
    /// The body stream failed after the head was sent.
    pub const STREAM_ERROR: ErrorType = ErrorType(Cow::Borrowed("Function.StreamError"));
    /// The handler or its body stream panicked.
    pub const PANIC: ErrorType = ErrorType(Cow::Borrowed("Function.Panic"));
    /// The response did not fit its byte budget.
    pub const RESPONSE_SIZE_TOO_LARGE: ErrorType =
        ErrorType(Cow::Borrowed("Function.ResponseSizeTooLarge"));
    /// The invocation event could not be turned into a request.
    pub const INVALID_EVENT: ErrorType = ErrorType(Cow::Borrowed("Runtime.InvalidEvent"));
    /// The deadline (less the safety margin) ended the stream.
    pub const DEADLINE_EXCEEDED: ErrorType = ErrorType(Cow::Borrowed("Function.DeadlineExceeded"));
    /// The handler's response head cannot be encoded (a non-UTF-8 header, a head over 16 KiB).
    pub const INVALID_RESPONSE: ErrorType = ErrorType(Cow::Borrowed("Function.InvalidResponse"));
    /// The `/next` event was over the loop's event size limit and was not read.
    pub const EVENT_TOO_LARGE: ErrorType = ErrorType(Cow::Borrowed("Function.EventTooLarge"));
    /// `Function.InitError`: the start-up step failed.
    pub const INIT_ERROR: ErrorType = ErrorType(Cow::Borrowed("Function.InitError"));
    /// What Lambda substitutes for an invalid error type.
    pub const UNKNOWN: ErrorType = ErrorType(Cow::Borrowed("Runtime.Unknown"));

    /// Validates `value` as a Lambda error type.
    ///
    /// # Errors
    /// [`InvalidErrorType`] when `value` does not match `(Runtime|Function)\.[A-Z][a-zA-Z]+`.
    pub fn new(value: impl Into<String>) -> Result<Self, InvalidErrorType> {
        let value = value.into();
        if is_valid_error_type(&value) {
            Ok(ErrorType(Cow::Owned(value)))
        } else {
            Err(InvalidErrorType { value })
        }
    }

    /// The error type as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The error types the platform itself reports (the emulator's), which a function cannot send.
#[cfg(feature = "emulator")]
impl ErrorType {
    /// The platform's: the function did not finish within its timeout.
    pub(crate) const SANDBOX_TIMEDOUT: ErrorType = ErrorType(Cow::Borrowed("Sandbox.Timedout"));
    /// The platform's: the function process exited before answering.
    pub(crate) const EXIT_ERROR: ErrorType = ErrorType(Cow::Borrowed("Runtime.ExitError"));
    /// The platform's: a response it cannot read (undocumented by AWS for a bad prelude).
    pub(crate) const RUNTIME_INVALID_RESPONSE: ErrorType =
        ErrorType(Cow::Borrowed("Runtime.InvalidResponse"));
    /// The platform's: the response ended without its last chunk.
    pub(crate) const TRUNCATED_RESPONSE: ErrorType =
        ErrorType(Cow::Borrowed("Runtime.TruncatedResponse"));
}

impl fmt::Display for ErrorType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn is_valid_error_type(value: &str) -> bool {
    let rest = value
        .strip_prefix("Runtime.")
        .or_else(|| value.strip_prefix("Function."));
    let Some(rest) = rest else { return false };
    let mut chars = rest.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_uppercase())
        && rest.len() >= 2
        && chars.all(|c| c.is_ascii_alphabetic())
}

/// A failure reported to Lambda: an error type and a human-readable message.
///
/// Return it (or any error) from a handler or a body stream. Before the first body byte it is
/// posted to `/error` (a Function URL client sees `502`); after it, it ends the stream with real
/// HTTP trailer fields. Other error types are converted with [`FunctionError::from_error`].
///
/// ```
/// use lambda_stream::wire::{ErrorType, FunctionError};
/// let err = FunctionError::new(ErrorType::new("Function.UpstreamTimeout")?, "db took 30 s");
/// assert_eq!(err.error_type().as_str(), "Function.UpstreamTimeout");
/// # Ok::<(), lambda_stream::wire::InvalidErrorType>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionError {
    error_type: ErrorType,
    message: String,
}

#[derive(Serialize, Deserialize)]
struct ErrorBody<'a> {
    #[serde(rename = "errorType", default)]
    error_type: Cow<'a, str>,
    #[serde(rename = "errorMessage", default)]
    error_message: Cow<'a, str>,
}

#[derive(Serialize)]
struct ErrorRequestBody<'a> {
    #[serde(rename = "errorMessage")]
    error_message: &'a str,
    #[serde(rename = "errorType")]
    error_type: &'a str,
    #[serde(rename = "stackTrace")]
    stack_trace: [&'a str; 0],
}

impl FunctionError {
    /// An error of the given type.
    pub fn new(error_type: ErrorType, message: impl Into<String>) -> Self {
        FunctionError {
            error_type,
            message: message.into(),
        }
    }

    /// Converts any error: a [`FunctionError`] is kept as it is, also behind transparent
    /// wrappers (an error whose text is its source's, as `axum::Error` wraps a body error);
    /// anything else gets `default_type` and its display text followed by the new text of its
    /// `source()` chain.
    ///
    /// ```
    /// use lambda_stream::wire::{ErrorType, FunctionError};
    /// let error = FunctionError::from_error(std::io::Error::other("disk full").into(), ErrorType::STREAM_ERROR);
    /// assert_eq!((error.error_type(), error.message()), (&ErrorType::STREAM_ERROR, "disk full"));
    /// ```
    pub fn from_error(
        error: Box<dyn std::error::Error + Send + Sync>,
        default_type: ErrorType,
    ) -> Self {
        let error = match error.downcast::<FunctionError>() {
            Ok(function_error) => return *function_error,
            Err(other) => other,
        };
        if let Some(inner) = transparent_function_error(error.as_ref()) {
            return inner.clone();
        }
        FunctionError::new(default_type, error_chain_text(error.as_ref()))
    }

    /// Builds the error reported for a caught panic payload.
    pub fn from_panic(payload: &(dyn std::any::Any + Send)) -> Self {
        let text = payload
            .downcast_ref::<&str>()
            .map(|s| (*s).to_owned())
            .or_else(|| payload.downcast_ref::<String>().cloned())
            .unwrap_or_else(|| "panic with a non-string payload".to_owned());
        FunctionError::new(ErrorType::PANIC, format!("handler panicked: {text}"))
    }

    /// The error type.
    pub fn error_type(&self) -> &ErrorType {
        &self.error_type
    }

    /// The message.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The `/runtime/invocation/{id}/error` request body:
    /// `{"errorMessage":..,"errorType":..,"stackTrace":[]}`.
    ///
    /// ```
    /// use lambda_stream::wire::{ErrorType, FunctionError};
    /// let body = FunctionError::new(ErrorType::HANDLER_ERROR, "boom").to_error_request_body();
    /// assert_eq!(&body[..], br#"{"errorMessage":"boom","errorType":"Function.HandlerError","stackTrace":[]}"#);
    /// ```
    pub fn to_error_request_body(&self) -> Vec<u8> {
        let body = ErrorRequestBody {
            error_message: &self.message,
            error_type: self.error_type.as_str(),
            stack_trace: [],
        };
        // A struct of strings always serialises.
        serde_json::to_vec(&body).unwrap_or_default()
    }

    /// `{"errorType":..,"errorMessage":..}`: the JSON inside the error trailer, and the body of
    /// error responses (`EarlyErrors::Respond500`, the default buffered overflow).
    ///
    /// ```
    /// use lambda_stream::wire::{ErrorType, FunctionError};
    /// let json = FunctionError::new(ErrorType::PANIC, "x").to_json();
    /// assert_eq!(json, br#"{"errorType":"Function.Panic","errorMessage":"x"}"#);
    /// ```
    pub fn to_json(&self) -> Vec<u8> {
        // A struct of strings always serialises.
        serde_json::to_vec(&ErrorBody {
            error_type: Cow::Borrowed(self.error_type.as_str()),
            error_message: Cow::Borrowed(&self.message),
        })
        .unwrap_or_default()
    }

    /// Reads an `/error` or `/init/error` request as Lambda does: the type from the
    /// `Lambda-Runtime-Function-Error-Type` header, else the body's `errorType`, an invalid one
    /// becoming `Runtime.Unknown`; the message from `errorMessage`, or the body text when the
    /// body is not that JSON.
    ///
    /// ```
    /// use lambda_stream::wire::{ErrorType, FunctionError};
    /// let sent = FunctionError::new(ErrorType::PANIC, "oops");
    /// let header = http::HeaderValue::from_static("Function.Panic");
    /// let read = FunctionError::from_error_request(Some(&header), &sent.to_error_request_body());
    /// assert_eq!(read, sent);
    /// ```
    pub fn from_error_request(type_header: Option<&HeaderValue>, body: &[u8]) -> FunctionError {
        let parsed: Option<ErrorBody<'_>> = serde_json::from_slice(body).ok();
        let error_type = type_header
            .and_then(|v| v.to_str().ok())
            .or_else(|| parsed.as_ref().map(|p| p.error_type.as_ref()))
            .and_then(|t| ErrorType::new(t).ok())
            .unwrap_or(ErrorType::UNKNOWN);
        let message = parsed.map_or_else(
            || String::from_utf8_lossy(body).into_owned(),
            |p| p.error_message.into_owned(),
        );
        FunctionError::new(error_type, message)
    }

    /// The trailer fields that end a failed stream: the type, and the base64 (standard
    /// alphabet) of `{"errorType":..,"errorMessage":..}`, so no CR/LF can break the framing.
    ///
    /// The body field is kept within [`MAX_ERROR_BODY_TRAILER_LEN`]: a longer message is
    /// shortened and says so (`... [shortened from N bytes]`), because HTTP/1.1 readers cap
    /// a trailer section (hyper at 16 KiB) and one over the cap loses the whole error.
    ///
    /// ```
    /// use lambda_stream::wire::{ERROR_BODY_TRAILER, ErrorType, FunctionError, MAX_ERROR_BODY_TRAILER_LEN};
    /// let long = FunctionError::new(ErrorType::STREAM_ERROR, "x".repeat(12_500));
    /// let trailers = long.to_trailers();
    /// assert!(trailers[ERROR_BODY_TRAILER].len() <= MAX_ERROR_BODY_TRAILER_LEN);
    /// let read = FunctionError::from_trailers(&trailers).unwrap();
    /// assert!(read.message().ends_with("[shortened from 12500 bytes]"));
    /// ```
    pub fn to_trailers(&self) -> HeaderMap {
        let json = self.to_trailer_json();
        let mut trailers = HeaderMap::with_capacity(2);
        // Both values are ASCII by construction (validated type, base64 text).
        if let Ok(value) = HeaderValue::from_str(self.error_type.as_str()) {
            trailers.insert(ERROR_TYPE_TRAILER, value);
        }
        if let Ok(value) = HeaderValue::from_str(&BASE64.encode(json)) {
            trailers.insert(ERROR_BODY_TRAILER, value);
        }
        trailers
    }

    /// The trailer's JSON, its message shortened until its base64 fits the trailer cap.
    fn to_trailer_json(&self) -> Vec<u8> {
        let fits = |json: &[u8]| json.len().div_ceil(3) * 4 <= MAX_ERROR_BODY_TRAILER_LEN;
        let json = self.to_json();
        if fits(&json) {
            return json;
        }
        let note = format!(" [shortened from {} bytes]", self.message.len());
        let mut keep = MAX_ERROR_BODY_TRAILER_LEN / 4 * 3;
        loop {
            keep = keep.min(self.message.len()) * 3 / 4;
            while !self.message.is_char_boundary(keep) {
                keep -= 1;
            }
            let shortened = format!("{}...{note}", &self.message[..keep]);
            let json = FunctionError::new(self.error_type.clone(), shortened).to_json();
            if fits(&json) || keep == 0 {
                return json;
            }
        }
    }

    /// Reads the error fields back from a trailer section, as Lambda does: `None` when there is
    /// no error type field; an invalid type becomes `Runtime.Unknown`; a body that is not base64
    /// JSON is kept as the raw message text.
    pub fn from_trailers(trailers: &HeaderMap) -> Option<FunctionError> {
        let raw_type = trailers.get(ERROR_TYPE_TRAILER)?;
        let error_type = raw_type
            .to_str()
            .ok()
            .and_then(|t| ErrorType::new(t).ok())
            .unwrap_or(ErrorType::UNKNOWN);
        let message = trailers
            .get(ERROR_BODY_TRAILER)
            .map(|body| decode_error_body(body.as_bytes()))
            .unwrap_or_default();
        Some(FunctionError::new(error_type, message))
    }
}

fn decode_error_body(raw: &[u8]) -> String {
    BASE64
        .decode(raw)
        .ok()
        .and_then(|json| {
            serde_json::from_slice::<ErrorBody<'_>>(&json)
                .ok()
                .map(|b| b.error_message.into_owned())
        })
        .unwrap_or_else(|| String::from_utf8_lossy(raw).into_owned())
}

/// A [`FunctionError`] that `error` only wraps, adding no text of its own.
fn transparent_function_error<'a>(
    error: &'a (dyn std::error::Error + 'static),
) -> Option<&'a FunctionError> {
    let text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        if let Some(function_error) = cause.downcast_ref::<FunctionError>() {
            // A FunctionError displays as "type: message"; wrappers may show either.
            let shown = [function_error.to_string(), function_error.message.clone()];
            return shown.contains(&text).then_some(function_error);
        }
        if cause.to_string() != text {
            return None;
        }
        source = cause.source();
    }
    None
}

/// The error's text, then each cause's text that is not already at its end (wrappers that
/// repeat their source's text add nothing).
fn error_chain_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

impl fmt::Display for FunctionError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.error_type, self.message)
    }
}

impl std::error::Error for FunctionError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_type_validation_follows_lambda_pattern() {
        for ok in [
            "Function.Xy",
            "Runtime.Unknown",
            "Function.ResponseSizeTooLarge",
        ] {
            assert!(ErrorType::new(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "Function.",
            "Function.X",
            "Function.x",
            "Function.A1",
            "Function.A_B",
            "Other.Abc",
            "unhandled",
            "function.Abc",
            "Function.Ab\r\nX: y",
        ] {
            assert_eq!(
                ErrorType::new(bad),
                Err(InvalidErrorType {
                    value: bad.to_owned()
                })
            );
        }
    }

    #[test]
    fn constants_are_valid() {
        for t in [
            ErrorType::HANDLER_ERROR,
            ErrorType::STREAM_ERROR,
            ErrorType::PANIC,
            ErrorType::RESPONSE_SIZE_TOO_LARGE,
            ErrorType::INVALID_EVENT,
            ErrorType::INVALID_RESPONSE,
            ErrorType::INIT_ERROR,
            ErrorType::EVENT_TOO_LARGE,
            ErrorType::DEADLINE_EXCEEDED,
            ErrorType::UNKNOWN,
        ] {
            assert!(is_valid_error_type(t.as_str()), "{t}");
        }
    }

    #[test]
    fn trailer_golden_values() {
        let err = FunctionError::new(ErrorType::STREAM_ERROR, "line1\r\nline2");
        let trailers = err.to_trailers();
        assert_eq!(trailers[ERROR_TYPE_TRAILER], "Function.StreamError");
        // base64 of {"errorType":"Function.StreamError","errorMessage":"line1\r\nline2"}
        assert_eq!(
            trailers[ERROR_BODY_TRAILER],
            "eyJlcnJvclR5cGUiOiJGdW5jdGlvbi5TdHJlYW1FcnJvciIsImVycm9yTWVzc2FnZSI6ImxpbmUxXHJcbmxpbmUyIn0="
        );
        assert_eq!(FunctionError::from_trailers(&trailers), Some(err));
    }

    #[test]
    fn trailers_decode_like_lambda() {
        assert_eq!(FunctionError::from_trailers(&HeaderMap::new()), None);
        let mut trailers = HeaderMap::new();
        trailers.insert(ERROR_TYPE_TRAILER, HeaderValue::from_static("unhandled"));
        trailers.insert(ERROR_BODY_TRAILER, HeaderValue::from_static("not base64!"));
        let err = FunctionError::from_trailers(&trailers).unwrap();
        assert_eq!(err.error_type(), &ErrorType::UNKNOWN);
        assert_eq!(err.message(), "not base64!");
    }

    #[test]
    fn error_requests_decode_like_lambda() {
        let body = br#"{"errorMessage":"m","errorType":"Function.FromBody","stackTrace":[]}"#;
        let from_body = FunctionError::from_error_request(None, body);
        assert_eq!(from_body.error_type().as_str(), "Function.FromBody");
        let header = HeaderValue::from_static("unhandled");
        let invalid = FunctionError::from_error_request(Some(&header), body);
        assert_eq!(
            (invalid.error_type(), invalid.message()),
            (&ErrorType::UNKNOWN, "m")
        );
        let raw = FunctionError::from_error_request(None, b"plain text");
        assert_eq!(
            (raw.error_type(), raw.message()),
            (&ErrorType::UNKNOWN, "plain text")
        );
    }

    #[test]
    fn from_error_keeps_function_errors_and_chains_others() {
        let inner = FunctionError::new(ErrorType::PANIC, "x");
        assert_eq!(
            FunctionError::from_error(Box::new(inner.clone()), ErrorType::STREAM_ERROR),
            inner
        );
        let io = std::io::Error::other("disk gone");
        let err = FunctionError::from_error(Box::new(io), ErrorType::STREAM_ERROR);
        assert_eq!(err.error_type(), &ErrorType::STREAM_ERROR);
        assert_eq!(err.message(), "disk gone");
    }

    /// An error that shows `text` and has `source` as its cause.
    #[derive(Debug)]
    struct Wrapper {
        text: String,
        source: Box<dyn std::error::Error + Send + Sync>,
    }

    impl fmt::Display for Wrapper {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str(&self.text)
        }
    }

    impl std::error::Error for Wrapper {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(self.source.as_ref())
        }
    }

    fn wrap(text: &str, source: impl std::error::Error + Send + Sync + 'static) -> Wrapper {
        Wrapper {
            text: text.to_owned(),
            source: Box::new(source),
        }
    }

    #[test]
    fn causes_add_only_new_text_and_transparent_wrappers_keep_function_errors() {
        let io = || std::io::Error::other("disk gone");
        let context = FunctionError::from_error(
            Box::new(wrap("exporting", wrap("writing", io()))),
            ErrorType::STREAM_ERROR,
        );
        assert_eq!(context.message(), "exporting: writing: disk gone");
        // Wrappers that repeat their cause's text (as axum::Error does) add nothing.
        let repeated = FunctionError::from_error(
            Box::new(wrap("disk gone", wrap("disk gone", io()))),
            ErrorType::STREAM_ERROR,
        );
        assert_eq!(repeated.message(), "disk gone");

        let typed = FunctionError::new(ErrorType::new("Function.Gone").unwrap(), "db closed");
        for shown in ["db closed", "Function.Gone: db closed"] {
            let kept = FunctionError::from_error(
                Box::new(wrap(shown, typed.clone())),
                ErrorType::STREAM_ERROR,
            );
            assert_eq!(kept, typed, "behind a wrapper showing {shown:?}");
        }
        let with_context = FunctionError::from_error(
            Box::new(wrap("while exporting", typed.clone())),
            ErrorType::STREAM_ERROR,
        );
        assert_eq!(
            (with_context.error_type(), with_context.message()),
            (
                &ErrorType::STREAM_ERROR,
                "while exporting: Function.Gone: db closed"
            )
        );
    }

    #[test]
    fn panic_payloads_become_messages() {
        let err = FunctionError::from_panic(&"boom");
        assert_eq!(err.message(), "handler panicked: boom");
        let err = FunctionError::from_panic(&String::from("owned"));
        assert_eq!(err.message(), "handler panicked: owned");
    }
}
