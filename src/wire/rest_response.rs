//! The response heads written for an API Gateway REST API: streamed (`responseTransferMode:
//! STREAM`), the metadata JSON (`statusCode`, `headers`, `multiValueHeaders`, `cookies`), the
//! 8-NUL delimiter, then the payload; buffered, the proxy response JSON (`statusCode`,
//! `headers`, `multiValueHeaders`, `body`, `isBase64Encoded`). When a name is in both maps, API
//! Gateway keeps the `multiValueHeaders` values (AWS's API Gateway developer guide).

use bytes::Bytes;
use http::header::SET_COOKIE;
use http::{HeaderMap, Request};
use serde::Serialize;
use serde_json::{Map, Value};

use super::buffered::BufferedResponseError;
use super::event::response_body;
use super::head::{HOP_BY_HOP, ResponseHead, all_cookies};
use super::prelude::{PreludeError, check_final_status, within_prelude_window};
use super::rest_event::RestRequestContext;

/// Who reads the response head: a Function URL (and the Invoke API) or an API Gateway REST
/// API, as the invocation's event says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) enum HeadFormat {
    #[default]
    FunctionUrl,
    RestApi,
}

impl HeadFormat {
    /// The format for a request built from an event: a REST API's when it came from one.
    pub(crate) fn of<B>(request: &Request<B>) -> Self {
        if request.extensions().get::<RestRequestContext>().is_some() {
            HeadFormat::RestApi
        } else {
            HeadFormat::FunctionUrl
        }
    }

    /// The streamed answer's metadata JSON.
    pub(crate) fn prelude(self, head: &ResponseHead) -> Result<Bytes, PreludeError> {
        match self {
            HeadFormat::FunctionUrl => super::encode_prelude(head),
            HeadFormat::RestApi => encode_rest_prelude(head),
        }
    }

    /// The buffered answer's payload.
    pub(crate) fn buffered(
        self,
        head: &ResponseHead,
        body: &[u8],
    ) -> Result<Vec<u8>, PreludeError> {
        match self {
            HeadFormat::FunctionUrl => super::encode_buffered_response(head, body),
            HeadFormat::RestApi => encode_rest_buffered_response(head, body),
        }
    }
}

/// The streamed answer's metadata, in the documented field order.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RestPreludeJson {
    status_code: u16,
    headers: Map<String, Value>,
    multi_value_headers: Map<String, Value>,
    cookies: Vec<String>,
}

/// The buffered proxy response.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct RestBufferedJson {
    status_code: u16,
    headers: Map<String, Value>,
    multi_value_headers: Map<String, Value>,
    body: String,
    is_base64_encoded: bool,
}

/// `headers` (a value each) and `multiValueHeaders` (repeated names, all their values).
type SplitHeaders = (Map<String, Value>, Map<String, Value>);

/// `headers` for single values and `multiValueHeaders` for repeated ones (never joined, as a
/// REST API passes each value on), without `Set-Cookie` and hop-by-hop fields.
fn split_headers(headers: &HeaderMap) -> Result<SplitHeaders, PreludeError> {
    let (mut single, mut multi) = (Map::new(), Map::new());
    for name in headers.keys() {
        if *name == SET_COOKIE || HOP_BY_HOP.contains(name) {
            continue;
        }
        let values = headers
            .get_all(name)
            .iter()
            .map(|value| value.to_str().map(|v| Value::from(v.to_owned())))
            .collect::<Result<Vec<Value>, _>>()
            .map_err(|_| PreludeError::NonUtf8HeaderValue { name: name.clone() })?;
        match <[Value; 1]>::try_from(values) {
            Ok([value]) => single.insert(name.to_string(), value),
            Err(values) => multi.insert(name.to_string(), Value::Array(values)),
        };
    }
    Ok((single, multi))
}

/// Encodes the metadata JSON of a response streamed through a REST API, without the
/// delimiter. API Gateway requires metadata and delimiter within the first 16 KB.
///
/// # Errors
/// As [`encode_prelude`](super::encode_prelude).
///
/// ```
/// use lambda_stream::wire::{encode_rest_prelude, ResponseHead};
/// let mut head = ResponseHead::new(http::StatusCode::OK);
/// head.headers.append("x-multi", "a".parse().unwrap());
/// head.headers.append("x-multi", "b".parse().unwrap());
/// head.headers.insert("content-type", "text/plain".parse().unwrap());
/// assert_eq!(
///     &encode_rest_prelude(&head)?[..],
///     br#"{"statusCode":200,"headers":{"content-type":"text/plain"},"multiValueHeaders":{"x-multi":["a","b"]},"cookies":[]}"#
/// );
/// # Ok::<(), lambda_stream::wire::PreludeError>(())
/// ```
pub fn encode_rest_prelude(head: &ResponseHead) -> Result<Bytes, PreludeError> {
    check_final_status(head.status)?;
    let (headers, multi_value_headers) = split_headers(&head.headers)?;
    let cookies: Vec<String> = all_cookies(&head.cookies, &head.headers).collect();
    let json = serde_json::to_vec(&RestPreludeJson {
        status_code: head.status.as_u16(),
        headers,
        multi_value_headers,
        cookies,
    })?;
    within_prelude_window(json)
}

/// Encodes a buffered REST API proxy response; cookies go in `multiValueHeaders` as
/// `Set-Cookie` (the 1.0 format has no `cookies` field). The body is a JSON string when its
/// bytes are UTF-8, whatever its content type, otherwise base64 with `isBase64Encoded: true`.
///
/// # Errors
/// As [`encode_buffered_response`](super::encode_buffered_response).
///
/// ```
/// use lambda_stream::wire::{encode_rest_buffered_response, ResponseHead};
/// let mut head = ResponseHead::new(http::StatusCode::CREATED);
/// head.cookies = vec!["a=1".into(), "b=2".into()];
/// assert_eq!(
///     encode_rest_buffered_response(&head, b"made")?,
///     br#"{"statusCode":201,"headers":{},"multiValueHeaders":{"set-cookie":["a=1","b=2"]},"body":"made","isBase64Encoded":false}"#
/// );
/// # Ok::<(), lambda_stream::wire::PreludeError>(())
/// ```
pub fn encode_rest_buffered_response(
    head: &ResponseHead,
    body: &[u8],
) -> Result<Vec<u8>, PreludeError> {
    check_final_status(head.status)?;
    let (headers, mut multi_value_headers) = split_headers(&head.headers)?;
    let cookies: Vec<Value> = all_cookies(&head.cookies, &head.headers)
        .map(Value::from)
        .collect();
    if !cookies.is_empty() {
        multi_value_headers.insert(SET_COOKIE.to_string(), Value::Array(cookies));
    }
    let (body, is_base64_encoded) = response_body(body);
    Ok(serde_json::to_vec(&RestBufferedJson {
        status_code: head.status.as_u16(),
        headers,
        multi_value_headers,
        body: body.into_owned(),
        is_base64_encoded,
    })?)
}

/// Maps a buffered REST API proxy response to a head and body, as API Gateway does: it must be
/// an object with `statusCode`; `multiValueHeaders` values replace those of the same name in
/// `headers`. Anything else is a malformed proxy response (the gateway answers `502`).
///
/// # Errors
/// [`BufferedResponseError`] for a payload that is not such an object or has invalid fields.
///
/// ```
/// use lambda_stream::wire::decode_rest_buffered_response;
/// let payload = br#"{"statusCode":200,"multiValueHeaders":{"x-m":["1","2"]},"body":"hi"}"#;
/// let (head, body) = decode_rest_buffered_response(payload)?;
/// assert_eq!(head.headers.get_all("x-m").iter().count(), 2);
/// assert_eq!(&body[..], b"hi");
/// assert!(decode_rest_buffered_response(br#""just text""#).is_err());
/// # Ok::<(), lambda_stream::wire::BufferedResponseError>(())
/// ```
pub fn decode_rest_buffered_response(
    payload: &[u8],
) -> Result<(ResponseHead, Bytes), BufferedResponseError> {
    let value: Value = serde_json::from_slice(payload)?;
    let Some(object) = value.as_object().filter(|o| o.contains_key("statusCode")) else {
        return Err(BufferedResponseError::Head(PreludeError::NotAnObject));
    };
    let (mut head, body) = super::decode_buffered_response(payload)?;
    if let Some(Value::Object(multi)) = object.get("multiValueHeaders") {
        super::prelude::merge_multi_value_headers(&mut head.headers, multi)?;
    }
    Ok((head, body))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{PRELUDE_DELIMITER, PreludeDecoder};
    use bytes::BytesMut;
    use proptest::prelude::*;

    #[test]
    fn golden_streamed_head() {
        let mut head = ResponseHead::new(http::StatusCode::OK);
        head.headers.append("x-multi", "a".parse().unwrap());
        head.headers.append("x-multi", "b".parse().unwrap());
        head.headers.insert("content-length", "5".parse().unwrap());
        head.cookies = vec!["s=1".into()];
        let mut wire = encode_rest_prelude(&head).unwrap().to_vec();
        wire.extend_from_slice(&PRELUDE_DELIMITER);
        wire.extend_from_slice(b"body");
        assert_eq!(
            wire,
            [
                &br#"{"statusCode":200,"headers":{},"multiValueHeaders":{"x-multi":["a","b"]},"cookies":["s=1"]}"#[..],
                &[0; 8],
                b"body"
            ]
            .concat()
        );
    }

    /// Decodes `wire` fed in two pieces split at `at`, as a REST API reads it.
    fn decode_split(wire: &[u8], at: usize) -> (ResponseHead, Vec<u8>) {
        let mut decoder = PreludeDecoder::for_rest_api();
        let mut buf = BytesMut::from(&wire[..at]);
        if let Some(head) = decoder.decode(&mut buf).unwrap() {
            buf.extend_from_slice(&wire[at..]);
            return (head, buf.to_vec());
        }
        buf.extend_from_slice(&wire[at..]);
        let head = decoder.decode(&mut buf).unwrap().expect("a whole prelude");
        (head, buf.to_vec())
    }

    fn header_lists() -> impl Strategy<Value = Vec<(String, Vec<String>)>> {
        proptest::collection::vec(
            (
                "x-[a-z]{1,6}",
                proptest::collection::vec("[ -~]{0,8}", 1..4),
            ),
            0..5,
        )
    }

    proptest! {
        /// Any head, encoded for a REST API and decoded split at every byte, comes back whole:
        /// status, every header value in order, cookies.
        #[test]
        fn rest_heads_round_trip_at_every_split(
            status in 200u16..600,
            headers in header_lists(),
            cookies in proptest::collection::vec("[a-z]{1,4}=[0-9]{1,3}", 0..3),
        ) {
            let mut head = ResponseHead::new(http::StatusCode::from_u16(status).unwrap());
            for (name, values) in &headers {
                head.headers.remove(name.as_str());
                for value in values {
                    head.headers.append(http::HeaderName::try_from(name.as_str()).unwrap(), value.trim().parse().unwrap());
                }
            }
            head.cookies = cookies;
            let mut wire = encode_rest_prelude(&head).unwrap().to_vec();
            wire.extend_from_slice(&PRELUDE_DELIMITER);
            wire.extend_from_slice(b"\0payload");
            for at in 0..=wire.len() {
                let (decoded, rest) = decode_split(&wire, at);
                prop_assert_eq!(&decoded, &head);
                prop_assert_eq!(&rest[..], b"\0payload");
            }
        }
    }
}
