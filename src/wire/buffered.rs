//! The buffered (`BUFFERED` invoke mode) Function URL response: one JSON document with
//! `statusCode`, `headers`, `body`, `isBase64Encoded` and `cookies`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::StatusCode;
use http::header::CONTENT_TYPE;
use serde::Serialize;
use serde_json::Value;

use super::event::response_body;
use super::head::{ResponseHead, all_cookies, joined_headers};
use super::prelude::{PreludeError, check_final_status, parse_headers, parse_status};

/// Largest buffered response payload Lambda accepts: 6 MiB + 100 bytes; the Runtime API answers
/// `413` beyond it (AWS Lambda quotas: 6 MB for a synchronous response).
pub const BUFFERED_RESPONSE_LIMIT: usize = 6_291_556;

#[derive(Serialize)]
struct BufferedJson<'a> {
    #[serde(rename = "statusCode")]
    status_code: u16,
    headers: serde_json::Map<String, Value>,
    body: &'a str,
    #[serde(rename = "isBase64Encoded")]
    is_base64_encoded: bool,
    cookies: Vec<String>,
}

/// Encodes a buffered Function URL response. The body is sent as a JSON string when its bytes
/// are UTF-8, whatever its content type (NDJSON, CSV), otherwise as base64 with
/// `isBase64Encoded: true`.
///
/// # Errors
/// [`PreludeError::NonUtf8HeaderValue`] for a header value that is not UTF-8, and
/// [`PreludeError::InvalidStatus`] for an informational (1xx) status.
///
/// ```
/// use lambda_stream::wire::{encode_buffered_response, ResponseHead};
/// let head = ResponseHead::new(http::StatusCode::OK);
/// assert_eq!(
///     encode_buffered_response(&head, b"hi")?,
///     br#"{"statusCode":200,"headers":{},"body":"hi","isBase64Encoded":false,"cookies":[]}"#
/// );
/// # Ok::<(), lambda_stream::wire::PreludeError>(())
/// ```
pub fn encode_buffered_response(head: &ResponseHead, body: &[u8]) -> Result<Vec<u8>, PreludeError> {
    check_final_status(head.status)?;
    let headers = joined_headers(&head.headers)
        .map_err(|name| PreludeError::NonUtf8HeaderValue { name })?
        .into_iter()
        .map(|(name, value)| (name.to_owned(), Value::from(value)))
        .collect();
    let (body, is_base64_encoded) = response_body(body);
    Ok(serde_json::to_vec(&BufferedJson {
        status_code: head.status.as_u16(),
        headers,
        body: &body,
        is_base64_encoded,
        cookies: all_cookies(&head.cookies, &head.headers).collect(),
    })?)
}

/// Why a buffered response payload cannot be mapped to HTTP (a Function URL answers `502`).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BufferedResponseError {
    /// The payload is not JSON.
    #[error("the response payload is not JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// A field has the wrong type or value.
    #[error(transparent)]
    Head(#[from] PreludeError),
    /// `body` is not a string, or `isBase64Encoded` is set and it does not decode.
    #[error("the response body is not a string or not valid base64")]
    InvalidBody,
}

/// Maps a buffered response payload to a head and body, with the Function URL inference rules:
/// an object with `statusCode` is a response; any other JSON is a `200 application/json` body,
/// except a bare JSON string, which is sent unquoted.
///
/// # Errors
/// [`BufferedResponseError`] when the payload is not JSON or a response field is invalid.
///
/// ```
/// use lambda_stream::wire::decode_buffered_response;
/// let (head, body) = decode_buffered_response(br#""hello""#)?;
/// assert_eq!((head.status.as_u16(), &body[..]), (200, &b"hello"[..]));
/// let (head, body) = decode_buffered_response(br#"{"statusCode":"418","body":"tea"}"#)?;
/// assert_eq!((head.status.as_u16(), &body[..]), (418, &b"tea"[..]));
/// # Ok::<(), lambda_stream::wire::BufferedResponseError>(())
/// ```
pub fn decode_buffered_response(
    payload: &[u8],
) -> Result<(ResponseHead, Bytes), BufferedResponseError> {
    let value: Value = serde_json::from_slice(payload)?;
    let inferred = |body: Bytes| {
        let mut head = ResponseHead::new(StatusCode::OK);
        head.headers.insert(
            CONTENT_TYPE,
            http::HeaderValue::from_static("application/json"),
        );
        (head, body)
    };
    let object = match value {
        Value::Object(object) if object.contains_key("statusCode") => object,
        Value::String(text) => return Ok(inferred(Bytes::from(text))),
        _ => return Ok(inferred(Bytes::copy_from_slice(payload))),
    };
    let mut head = ResponseHead::new(parse_status(object.get("statusCode"))?);
    if let Some(Value::Object(headers)) = object.get("headers") {
        head.headers = parse_headers(headers)?;
    }
    if let Some(Value::Array(cookies)) = object.get("cookies") {
        head.cookies = cookies
            .iter()
            .map(|c| c.as_str().map(str::to_owned))
            .collect::<Option<_>>()
            .ok_or(PreludeError::InvalidCookies)?;
    }
    let is_base64 = object
        .get("isBase64Encoded")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let body = match object.get("body") {
        None | Some(Value::Null) => Bytes::new(),
        Some(Value::String(text)) if is_base64 => Bytes::from(
            BASE64
                .decode(text)
                .map_err(|_| BufferedResponseError::InvalidBody)?,
        ),
        Some(Value::String(text)) => Bytes::from(text.clone()),
        Some(_) => return Err(BufferedResponseError::InvalidBody),
    };
    Ok((head, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use proptest::prelude::*;

    #[test]
    fn golden_binary_body_is_base64() {
        let mut head = ResponseHead::new(StatusCode::OK);
        head.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/octet-stream"),
        );
        head.headers
            .append("set-cookie", HeaderValue::from_static("s=1"));
        assert_eq!(
            std::str::from_utf8(&encode_buffered_response(&head, &[0, 255]).unwrap()).unwrap(),
            r#"{"statusCode":200,"headers":{"content-type":"application/octet-stream"},"body":"AP8=","isBase64Encoded":true,"cookies":["s=1"]}"#
        );
    }

    #[test]
    fn golden_ndjson_body_is_a_json_string() {
        let mut head = ResponseHead::new(StatusCode::OK);
        head.headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static("application/x-ndjson"),
        );
        assert_eq!(
            std::str::from_utf8(&encode_buffered_response(&head, b"{\"id\":1}\n").unwrap())
                .unwrap(),
            r#"{"statusCode":200,"headers":{"content-type":"application/x-ndjson"},"body":"{\"id\":1}\n","isBase64Encoded":false,"cookies":[]}"#
        );
    }

    #[test]
    fn invalid_utf8_text_is_base64_too() {
        let head = ResponseHead::new(StatusCode::OK);
        let json = encode_buffered_response(&head, b"\xff").unwrap();
        assert!(json.windows(22).any(|w| w == br#""isBase64Encoded":true"#));
    }

    #[test]
    fn inference_rules() {
        let (head, body) = decode_buffered_response(br#"{"message":"hi"}"#).unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(head.headers[CONTENT_TYPE], "application/json");
        assert_eq!(&body[..], br#"{"message":"hi"}"#);
        let (_, body) = decode_buffered_response(b"[1, 2]").unwrap();
        assert_eq!(&body[..], b"[1, 2]");
        let (head, body) = decode_buffered_response(br#"{"statusCode":204}"#).unwrap();
        assert_eq!((head.status.as_u16(), body.len()), (204, 0));
        assert!(matches!(
            decode_buffered_response(b"{"),
            Err(BufferedResponseError::Json(_))
        ));
        assert!(matches!(
            decode_buffered_response(br#"{"statusCode":200,"body":7}"#),
            Err(BufferedResponseError::InvalidBody)
        ));
        assert!(matches!(
            decode_buffered_response(br#"{"statusCode":true}"#),
            Err(BufferedResponseError::Head(
                PreludeError::InvalidStatus { .. }
            ))
        ));
    }

    proptest! {
        #[test]
        fn buffered_round_trips(
            status in 200u16..1000,
            body in proptest::collection::vec(any::<u8>(), 0..100),
            binary in any::<bool>(),
            cookies in proptest::collection::vec("[ -~]{0,20}", 0..3),
        ) {
            let mut head = ResponseHead::new(StatusCode::from_u16(status).unwrap());
            let content_type = if binary { "image/png" } else { "text/plain" };
            head.headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
            head.cookies = cookies;
            let json = encode_buffered_response(&head, &body).unwrap();
            let (decoded, decoded_body) = decode_buffered_response(&json).unwrap();
            prop_assert_eq!(decoded, head);
            prop_assert_eq!(&decoded_body[..], &body[..]);
        }

        #[test]
        fn decoder_never_panics(input in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = decode_buffered_response(&input);
        }
    }
}
