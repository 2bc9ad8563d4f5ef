//! What the Runtime API answers a function: `202 {"status":"OK"}`, or an error in the Runtime
//! API's JSON shape.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Response, StatusCode};
use http_body_util::Full;

pub(crate) type RuntimeResponse = Response<Full<Bytes>>;

fn json(status: StatusCode, body: String) -> RuntimeResponse {
    let mut response = Response::new(Full::new(Bytes::from(body)));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

/// The answer was taken.
pub(crate) fn accepted() -> RuntimeResponse {
    json(StatusCode::ACCEPTED, r#"{"status":"OK"}"#.to_owned())
}

/// A refusal: `{"errorMessage", "errorType"}` with `status`.
pub(crate) fn runtime_error(
    status: StatusCode,
    error_type: &str,
    message: &str,
) -> RuntimeResponse {
    let body = serde_json::json!({"errorMessage": message, "errorType": error_type});
    json(status, body.to_string())
}

/// What the function is told when the deadline ended its response.
pub(crate) fn timed_out() -> RuntimeResponse {
    runtime_error(
        StatusCode::GONE,
        "Function.Timeout",
        "the invocation reached its deadline; the response was cut off",
    )
}
