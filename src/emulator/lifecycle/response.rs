//! Responses the emulator writes itself (refusals, errors, preflights), in any front's shape.

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Response, StatusCode};

use super::client_body::ClientBody;
use crate::emulator::access_log::AccessLog;

/// A plain response: `status`, `content_type` and `body`, logged with `outcome`.
pub(crate) fn plain(
    mut log: AccessLog,
    status: StatusCode,
    content_type: &'static str,
    body: &str,
    outcome: &str,
) -> Response<ClientBody> {
    log.status = status.as_u16();
    log.data(body.len());
    log.finish(outcome);
    let mut response = Response::new(ClientBody::Full(Some(Bytes::from(body.to_owned())), None));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A JSON error with its `x-amzn-ErrorType`, the shape every AWS front uses.
pub(crate) fn typed_error(
    log: AccessLog,
    status: StatusCode,
    error_type: &'static str,
    body: &str,
    outcome: &str,
) -> Response<ClientBody> {
    let mut response = plain(log, status, "application/json", body, outcome);
    response
        .headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(error_type));
    response
}

/// Marks a response as the connection's last: its request body was not read to the end.
pub(crate) fn closing(mut response: Response<ClientBody>) -> Response<ClientBody> {
    response
        .headers_mut()
        .insert(http::header::CONNECTION, HeaderValue::from_static("close"));
    response
}

/// Adds `x-amzn-RequestId`.
pub(crate) fn with_request_id(
    mut response: Response<ClientBody>,
    request_id: &str,
) -> Response<ClientBody> {
    if let Ok(value) = HeaderValue::from_str(request_id) {
        response.headers_mut().insert("x-amzn-requestid", value);
    }
    response
}
