//! The `application/vnd.awslambda.http-integration-response` prelude: a JSON head, then exactly
//! eight `0x00` bytes, then the raw body.

use bytes::{Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use serde::Serialize;
use serde::ser::SerializeMap;
use serde_json::Value;

use super::head::{ResponseHead, all_cookies, joined_headers};

/// Content type of a streamed Function URL response sent to the Runtime API.
pub(crate) const HTTP_INTEGRATION_CONTENT_TYPE: &str =
    "application/vnd.awslambda.http-integration-response";

/// The delimiter between the prelude JSON and the body: eight NUL bytes (as AWS's
/// Node and .NET runtime clients write it).
pub const PRELUDE_DELIMITER: [u8; 8] = [0; 8];

/// Largest prelude (JSON plus delimiter) we write or read: API Gateway requires the prelude
/// within the first 16 KB of the stream (API Gateway developer guide, response streaming).
pub const MAX_PRELUDE_LEN: usize = 16 * 1024;

/// Why a prelude could not be written or read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PreludeError {
    /// The head does not fit in the prelude limit.
    #[error("response head needs {actual} bytes, over the {limit}-byte prelude limit")]
    HeadTooLarge {
        /// The limit, delimiter included.
        limit: usize,
        /// Bytes needed (when decoding: bytes seen so far without a delimiter).
        actual: usize,
    },
    /// A header value is not UTF-8 and cannot be a JSON string.
    #[error("header {name} has a value that is not UTF-8; Function URL heads carry text only")]
    NonUtf8HeaderValue {
        /// The header's name.
        name: HeaderName,
    },
    /// The first NUL byte is not followed by seven more.
    #[error("the prelude delimiter is not eight NUL bytes")]
    MalformedDelimiter,
    /// The JSON text does not parse.
    #[error("the prelude is not valid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The JSON is not an object.
    #[error("the prelude is not a JSON object")]
    NotAnObject,
    /// `statusCode` is not a number (or numeric string) from 200 to 999: informational codes
    /// (100-199) cannot be a final status.
    #[error("the prelude statusCode {value} is not an HTTP status")]
    InvalidStatus {
        /// The value as JSON text.
        value: String,
    },
    /// A header name or value is not valid HTTP.
    #[error("the prelude header {name:?} is not a valid HTTP header")]
    InvalidHeader {
        /// The header's name as given.
        name: String,
    },
    /// `cookies` is not an array of strings.
    #[error("the prelude cookies field is not an array of strings")]
    InvalidCookies,
    /// A whole payload ended before its prelude's 8 NULs.
    #[error("the payload ends before its prelude does (no 8-NUL delimiter)")]
    Incomplete,
}

struct JoinedHeadersJson<'a>(&'a [(&'a str, String)]);

impl Serialize for JoinedHeadersJson<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        let mut map = serializer.serialize_map(Some(self.0.len()))?;
        for (name, value) in self.0 {
            map.serialize_entry(name, value)?;
        }
        map.end()
    }
}

#[derive(Serialize)]
struct PreludeJson<'a> {
    #[serde(rename = "statusCode")]
    status_code: u16,
    headers: JoinedHeadersJson<'a>,
    cookies: Vec<String>,
}

/// Encodes the prelude JSON (without the delimiter): `statusCode`, then `headers` with repeated
/// values joined by `", "`, then `cookies` (head cookies first, then any `Set-Cookie` headers).
/// `connection`, `content-length` and `transfer-encoding` are dropped.
///
/// Send the result as one chunk and [`PRELUDE_DELIMITER`] as the next: `cargo lambda watch`
/// reads the prelude by chunk position.
///
/// # Errors
/// [`PreludeError::NonUtf8HeaderValue`] for a header value that is not UTF-8, and
/// [`PreludeError::HeadTooLarge`] when JSON and delimiter exceed [`MAX_PRELUDE_LEN`], and
/// [`PreludeError::InvalidStatus`] for an informational (1xx) status.
///
/// ```
/// use lambda_stream::wire::{encode_prelude, ResponseHead};
/// let mut head = ResponseHead::new(http::StatusCode::OK);
/// head.headers.insert("content-type", "text/plain".parse()?);
/// head.cookies.push("a=1".into());
/// assert_eq!(
///     &encode_prelude(&head)?[..],
///     br#"{"statusCode":200,"headers":{"content-type":"text/plain"},"cookies":["a=1"]}"#
/// );
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn encode_prelude(head: &ResponseHead) -> Result<Bytes, PreludeError> {
    check_final_status(head.status)?;
    let joined =
        joined_headers(&head.headers).map_err(|name| PreludeError::NonUtf8HeaderValue { name })?;
    let json = serde_json::to_vec(&PreludeJson {
        status_code: head.status.as_u16(),
        headers: JoinedHeadersJson(&joined),
        cookies: all_cookies(&head.cookies, &head.headers).collect(),
    })?;
    within_prelude_window(json)
}

/// Prelude JSON that, with its delimiter, fits in [`MAX_PRELUDE_LEN`] (what Function URLs and
/// API Gateway's 16 KB metadata window take).
pub(crate) fn within_prelude_window(json: Vec<u8>) -> Result<Bytes, PreludeError> {
    let needed = json.len() + PRELUDE_DELIMITER.len();
    if needed > MAX_PRELUDE_LEN {
        return Err(PreludeError::HeadTooLarge {
            limit: MAX_PRELUDE_LEN,
            actual: needed,
        });
    }
    Ok(Bytes::from(json))
}

/// Incremental prelude reader: finds the delimiter by scanning bytes, never by chunk position.
///
/// Feed it the stream as it arrives in one `BytesMut`; once it returns the head, the prelude and
/// delimiter have been taken out of the buffer and what is left is body.
///
/// ```
/// use bytes::BytesMut;
/// use lambda_stream::wire::PreludeDecoder;
/// let mut decoder = PreludeDecoder::new();
/// let mut buf = BytesMut::from(&b"{\"statusCode\":404}\0\0\0"[..]);
/// assert!(decoder.decode(&mut buf)?.is_none());
/// buf.extend_from_slice(b"\0\0\0\0\0not found");
/// let head = decoder.decode(&mut buf)?.expect("complete");
/// assert_eq!(head.status, 404);
/// assert_eq!(&buf[..], b"not found");
/// # Ok::<(), lambda_stream::wire::PreludeError>(())
/// ```
#[derive(Debug, Clone)]
pub struct PreludeDecoder {
    scanned: usize,
    max_len: usize,
    /// Also reads `multiValueHeaders`, as an API Gateway REST API does (Function URLs ignore
    /// it).
    multi_value_headers: bool,
}

impl Default for PreludeDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl PreludeDecoder {
    /// A decoder with the [`MAX_PRELUDE_LEN`] limit.
    pub fn new() -> Self {
        Self::with_max_len(MAX_PRELUDE_LEN)
    }

    /// A decoder that accepts a prelude (JSON plus delimiter) of up to `max_len` bytes.
    pub fn with_max_len(max_len: usize) -> Self {
        PreludeDecoder {
            scanned: 0,
            max_len,
            multi_value_headers: false,
        }
    }

    /// A decoder that reads the metadata as an API Gateway REST API does: `multiValueHeaders`
    /// too, whose values replace those of the same name in `headers`.
    pub fn for_rest_api() -> Self {
        PreludeDecoder {
            multi_value_headers: true,
            ..Self::new()
        }
    }

    /// Looks for a complete prelude at the start of `buf`.
    ///
    /// Returns `Ok(None)` when more bytes are needed (nothing is consumed), or the head with the
    /// prelude and delimiter removed from `buf`.
    ///
    /// # Errors
    /// A [`PreludeError`] when the bytes cannot be a prelude; the decoder should not be used again.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<ResponseHead>, PreludeError> {
        let start = self.scanned.min(buf.len());
        let Some(offset) = memchr_nul(&buf[start..]) else {
            self.scanned = buf.len();
            return self
                .check_len(buf.len() + PRELUDE_DELIMITER.len())
                .map(|()| None);
        };
        let json_len = start + offset;
        self.scanned = json_len;
        self.check_len(json_len + PRELUDE_DELIMITER.len())?;
        let delimiter_seen = &buf[json_len..buf.len().min(json_len + PRELUDE_DELIMITER.len())];
        if delimiter_seen.iter().any(|&b| b != 0) {
            return Err(PreludeError::MalformedDelimiter);
        }
        if delimiter_seen.len() < PRELUDE_DELIMITER.len() {
            return Ok(None);
        }
        let head = parse_prelude_json(&buf[..json_len], self.multi_value_headers)?;
        let _ = buf.split_to(json_len + PRELUDE_DELIMITER.len());
        self.scanned = 0;
        Ok(Some(head))
    }

    /// Splits a whole payload, as the Lambda API's `Invoke` returns a streaming function's
    /// answer (or as the `PayloadChunk`s of `InvokeWithResponseStream` add up to), into its
    /// head and its body. Lambda reads the prelude only for Function URLs and API Gateway;
    /// an Invoke caller gets the bytes as written and reads the head itself.
    ///
    /// ```
    /// use lambda_stream::wire::PreludeDecoder;
    /// let payload = b"{\"statusCode\":201,\"headers\":{\"content-type\":\"text/csv\"}}\0\0\0\0\0\0\0\0a,b\n";
    /// let (head, body) = PreludeDecoder::split_payload(payload)?;
    /// assert_eq!(head.status, 201);
    /// assert_eq!(head.headers["content-type"], "text/csv");
    /// assert_eq!(body, b"a,b\n");
    /// # Ok::<(), lambda_stream::wire::PreludeError>(())
    /// ```
    ///
    /// # Errors
    /// A [`PreludeError`] when the payload does not start with a prelude
    /// ([`PreludeError::Incomplete`] when it ends before one does).
    pub fn split_payload(payload: &[u8]) -> Result<(ResponseHead, &[u8]), PreludeError> {
        // Only the prelude's room is copied: the body may be megabytes.
        let start = &payload[..payload.len().min(MAX_PRELUDE_LEN)];
        let mut buf = BytesMut::from(start);
        let head = Self::new()
            .decode(&mut buf)?
            .ok_or(PreludeError::Incomplete)?;
        Ok((head, &payload[start.len() - buf.len()..]))
    }

    fn check_len(&self, needed: usize) -> Result<(), PreludeError> {
        if needed > self.max_len {
            Err(PreludeError::HeadTooLarge {
                limit: self.max_len,
                actual: needed,
            })
        } else {
            Ok(())
        }
    }
}

fn memchr_nul(haystack: &[u8]) -> Option<usize> {
    haystack.iter().position(|&b| b == 0)
}

/// Parses prelude JSON leniently, as Lambda reads it: missing `statusCode` is 200, a numeric
/// string is accepted, header values may be strings or arrays of strings (the official Rust
/// runtime writes arrays for repeated headers); with `multi_value_headers`, the names in
/// `multiValueHeaders` replace those in `headers`.
pub(crate) fn parse_prelude_json(
    json: &[u8],
    multi_value_headers: bool,
) -> Result<ResponseHead, PreludeError> {
    let Value::Object(object) = serde_json::from_slice::<Value>(json)? else {
        return Err(PreludeError::NotAnObject);
    };
    let mut head = ResponseHead::new(parse_status(object.get("statusCode"))?);
    if let Some(Value::Object(headers)) = object.get("headers") {
        head.headers = parse_headers(headers)?;
    }
    if let Some(Value::Object(multi)) = object.get("multiValueHeaders")
        && multi_value_headers
    {
        merge_multi_value_headers(&mut head.headers, multi)?;
    }
    match object.get("cookies") {
        None | Some(Value::Null) => {}
        Some(Value::Array(items)) => {
            for item in items {
                let Value::String(cookie) = item else {
                    return Err(PreludeError::InvalidCookies);
                };
                head.cookies.push(cookie.clone());
            }
        }
        Some(_) => return Err(PreludeError::InvalidCookies),
    }
    Ok(head)
}

/// A status that can end an exchange. An informational code (100-199) cannot: as a final
/// status it leaves the client with no response (100) or switches protocols (101).
pub(crate) fn check_final_status(status: StatusCode) -> Result<StatusCode, PreludeError> {
    if status.is_informational() {
        return Err(PreludeError::InvalidStatus {
            value: status.as_u16().to_string(),
        });
    }
    Ok(status)
}

pub(crate) fn parse_status(value: Option<&Value>) -> Result<StatusCode, PreludeError> {
    let invalid = |v: &Value| PreludeError::InvalidStatus {
        value: v.to_string(),
    };
    let status = match value {
        None | Some(Value::Null) => Ok(StatusCode::OK),
        Some(v @ Value::Number(n)) => n
            .as_u64()
            .and_then(|n| u16::try_from(n).ok())
            .and_then(|n| StatusCode::from_u16(n).ok())
            .ok_or_else(|| invalid(v)),
        Some(v @ Value::String(s)) => s
            .trim()
            .parse::<u16>()
            .ok()
            .and_then(|n| StatusCode::from_u16(n).ok())
            .ok_or_else(|| invalid(v)),
        Some(v) => Err(invalid(v)),
    };
    check_final_status(status?)
}

/// Adds an API Gateway `multiValueHeaders` object to `headers`: its values replace those of the
/// same name, as the gateway merges the two maps.
pub(crate) fn merge_multi_value_headers(
    headers: &mut HeaderMap,
    multi: &serde_json::Map<String, Value>,
) -> Result<(), PreludeError> {
    let multi = parse_headers(multi)?;
    for name in multi.keys() {
        headers.remove(name);
    }
    for (name, value) in &multi {
        headers.append(name, value.clone());
    }
    Ok(())
}

pub(crate) fn parse_headers(
    headers: &serde_json::Map<String, Value>,
) -> Result<HeaderMap, PreludeError> {
    let mut map = HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        let invalid = || PreludeError::InvalidHeader { name: name.clone() };
        let header_name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| invalid())?;
        let values: Vec<&str> = match value {
            Value::String(s) => vec![s.as_str()],
            Value::Array(items) => items
                .iter()
                .map(|item| item.as_str().ok_or_else(invalid))
                .collect::<Result<_, _>>()?,
            Value::Null => continue,
            _ => return Err(invalid()),
        };
        for value in values {
            let value = HeaderValue::from_str(value).map_err(|_| invalid())?;
            map.append(header_name.clone(), value);
        }
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn head_with(headers: &[(&str, &str)], cookies: &[&str]) -> ResponseHead {
        let mut head = ResponseHead::new(StatusCode::OK);
        for (name, value) in headers {
            head.headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        head.cookies = cookies.iter().map(|c| (*c).to_owned()).collect();
        head
    }

    #[test]
    fn golden_minimal() {
        let head = ResponseHead::new(StatusCode::OK);
        assert_eq!(
            &encode_prelude(&head).unwrap()[..],
            br#"{"statusCode":200,"headers":{},"cookies":[]}"#
        );
    }

    #[test]
    fn golden_repeated_headers_joined_and_cookies_collected() {
        let head = head_with(
            &[
                ("content-type", "text/event-stream"),
                ("x-multi", "a"),
                ("x-multi", "b"),
                ("set-cookie", "late=1"),
                ("transfer-encoding", "chunked"),
                ("x-quote", "say \"hi\""),
            ],
            &["early=1; Path=/"],
        );
        assert_eq!(
            std::str::from_utf8(&encode_prelude(&head).unwrap()).unwrap(),
            r#"{"statusCode":200,"headers":{"content-type":"text/event-stream","x-multi":"a, b","x-quote":"say \"hi\""},"cookies":["early=1; Path=/","late=1"]}"#
        );
    }

    #[test]
    fn non_utf8_header_value_is_a_typed_error() {
        let mut head = ResponseHead::new(StatusCode::OK);
        head.headers
            .insert("x-bin", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        assert!(matches!(
            encode_prelude(&head),
            Err(PreludeError::NonUtf8HeaderValue { name }) if name == "x-bin"
        ));
    }

    #[test]
    fn head_over_16_kib_is_refused() {
        // {"statusCode":200,"headers":{"x":"..."},"cookies":[]} is 50 bytes plus the value.
        let fits = "v".repeat(MAX_PRELUDE_LEN - 8 - 50);
        let head = head_with(&[("x", &fits)], &[]);
        assert_eq!(
            encode_prelude(&head).unwrap().len() + 8,
            MAX_PRELUDE_LEN,
            "exactly at the limit"
        );
        let over = head_with(&[("x", &format!("{fits}v"))], &[]);
        assert!(matches!(
            encode_prelude(&over),
            Err(PreludeError::HeadTooLarge { limit: MAX_PRELUDE_LEN, actual }) if actual == MAX_PRELUDE_LEN + 1
        ));
    }

    #[test]
    fn decoder_is_lenient_like_lambda() {
        let mut buf = BytesMut::from(
            &br#"{"headers":{"a":["1","2"],"b":"x","n":null},"statusCode":"418"}"#[..],
        );
        buf.extend_from_slice(&[0; 8]);
        buf.extend_from_slice(b"\0body\0");
        let head = PreludeDecoder::new().decode(&mut buf).unwrap().unwrap();
        assert_eq!(head.status, 418);
        let a: Vec<_> = head.headers.get_all("a").iter().collect();
        assert_eq!(a, ["1", "2"]);
        assert_eq!(head.headers["b"], "x");
        assert!(head.cookies.is_empty());
        assert_eq!(&buf[..], b"\0body\0", "body NULs stay in the body");
    }

    #[test]
    fn empty_object_means_200() {
        let mut buf = BytesMut::from(&b"{}\0\0\0\0\0\0\0\0"[..]);
        let head = PreludeDecoder::new().decode(&mut buf).unwrap().unwrap();
        assert_eq!(head, ResponseHead::new(StatusCode::OK));
        assert!(buf.is_empty());
    }

    #[test]
    fn decoder_errors_are_typed() {
        type Check = fn(&PreludeError) -> bool;
        let cases: [(&[u8], Check); 9] = [
            (b"{}\0\0\0x", |e| {
                matches!(e, PreludeError::MalformedDelimiter)
            }),
            (b"[1]\0\0\0\0\0\0\0\0", |e| {
                matches!(e, PreludeError::NotAnObject)
            }),
            (b"{\0\0\0\0\0\0\0\0", |e| matches!(e, PreludeError::Json(_))),
            (b"{\"statusCode\":42}\0\0\0\0\0\0\0\0", |e| {
                matches!(e, PreludeError::InvalidStatus { .. })
            }),
            (b"{\"statusCode\":100}\0\0\0\0\0\0\0\0", |e| {
                matches!(e, PreludeError::InvalidStatus { .. })
            }),
            (b"{\"statusCode\":\"101\"}\0\0\0\0\0\0\0\0", |e| {
                matches!(e, PreludeError::InvalidStatus { .. })
            }),
            (b"{\"statusCode\":199}\0\0\0\0\0\0\0\0", |e| {
                matches!(e, PreludeError::InvalidStatus { .. })
            }),
            (b"{\"headers\":{\"a b\":\"x\"}}\0\0\0\0\0\0\0\0", |e| {
                matches!(e, PreludeError::InvalidHeader { .. })
            }),
            (b"{\"cookies\":[1]}\0\0\0\0\0\0\0\0", |e| {
                matches!(e, PreludeError::InvalidCookies)
            }),
        ];
        for (input, check) in cases {
            let err = PreludeDecoder::new()
                .decode(&mut BytesMut::from(input))
                .unwrap_err();
            assert!(
                check(&err),
                "{:?} gave {err:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn decoder_refuses_a_head_without_delimiter_past_the_limit() {
        let mut decoder = PreludeDecoder::with_max_len(32);
        let mut buf = BytesMut::from(&[b' '; 24][..]);
        assert!(decoder.decode(&mut buf).unwrap().is_none());
        buf.extend_from_slice(b" ");
        assert!(matches!(
            decoder.decode(&mut buf),
            Err(PreludeError::HeadTooLarge {
                limit: 32,
                actual: 33
            })
        ));
    }

    #[test]
    fn decode_with_input_split_at_every_byte() {
        let head = head_with(&[("content-type", "text/plain"), ("x", "y")], &["c=1"]);
        let mut wire = encode_prelude(&head).unwrap().to_vec();
        wire.extend_from_slice(&PRELUDE_DELIMITER);
        wire.extend_from_slice(b"body\0\0\0\0\0\0\0\0tail");
        for split in 0..=wire.len() {
            let mut decoder = PreludeDecoder::new();
            let mut buf = BytesMut::from(&wire[..split]);
            let mut decoded = decoder.decode(&mut buf).unwrap();
            buf.extend_from_slice(&wire[split..]);
            if decoded.is_none() {
                decoded = decoder.decode(&mut buf).unwrap();
            }
            assert_eq!(decoded.as_ref(), Some(&head), "split at {split}");
            assert_eq!(&buf[..], b"body\0\0\0\0\0\0\0\0tail", "split at {split}");
        }
    }

    #[test]
    fn decode_one_byte_at_a_time() {
        let head = head_with(&[("a", "b")], &[]);
        let mut wire = encode_prelude(&head).unwrap().to_vec();
        wire.extend_from_slice(&PRELUDE_DELIMITER);
        let mut decoder = PreludeDecoder::new();
        let mut buf = BytesMut::new();
        let mut found = None;
        for (index, byte) in wire.iter().enumerate() {
            buf.extend_from_slice(&[*byte]);
            if let Some(decoded) = decoder.decode(&mut buf).unwrap() {
                assert_eq!(
                    index,
                    wire.len() - 1,
                    "head is complete only at the last byte"
                );
                found = Some(decoded);
            }
        }
        assert_eq!(found, Some(head));
    }

    fn arb_head() -> impl Strategy<Value = ResponseHead> {
        let name = "[a-z][a-z0-9-]{0,15}".prop_filter("not dropped", |n| {
            !matches!(
                n.as_str(),
                "set-cookie" | "connection" | "content-length" | "transfer-encoding"
            )
        });
        let value = "[ -~]{0,40}".prop_map(|v| v.trim().to_owned());
        (
            200u16..1000,
            proptest::collection::btree_map(name, value, 0..8),
            proptest::collection::vec("[ -~]{0,30}", 0..4),
        )
            .prop_map(|(status, headers, cookies)| {
                let mut head = ResponseHead::new(StatusCode::from_u16(status).unwrap());
                for (name, value) in headers {
                    head.headers.insert(
                        HeaderName::from_bytes(name.as_bytes()).unwrap(),
                        HeaderValue::from_str(&value).unwrap(),
                    );
                }
                head.cookies = cookies;
                head
            })
    }

    #[test]
    fn a_whole_payload_splits_into_head_and_body_whatever_its_size() {
        let mut payload = br#"{"statusCode":200}"#.to_vec();
        payload.extend_from_slice(&PRELUDE_DELIMITER);
        payload.extend(std::iter::repeat_n(b'x', 3 * MAX_PRELUDE_LEN));
        let (head, body) = PreludeDecoder::split_payload(&payload).unwrap();
        assert_eq!(head.status, 200);
        assert_eq!(body.len(), 3 * MAX_PRELUDE_LEN);
        let cut = &payload[..br#"{"statusCode":200}"#.len() + 3];
        assert!(matches!(
            PreludeDecoder::split_payload(cut),
            Err(PreludeError::Incomplete)
        ));
        assert!(matches!(
            PreludeDecoder::split_payload(b"plain text, no prelude"),
            Err(PreludeError::Incomplete)
        ));
    }

    proptest! {
        #[test]
        fn prelude_round_trips(head in arb_head(), body in proptest::collection::vec(any::<u8>(), 0..64), split in any::<prop::sample::Index>()) {
            let mut wire = encode_prelude(&head).unwrap().to_vec();
            wire.extend_from_slice(&PRELUDE_DELIMITER);
            wire.extend_from_slice(&body);
            let split = split.index(wire.len() + 1);
            let mut decoder = PreludeDecoder::new();
            let mut buf = BytesMut::from(&wire[..split]);
            let first = decoder.decode(&mut buf).unwrap();
            buf.extend_from_slice(&wire[split..]);
            let decoded = match first { Some(h) => h, None => decoder.decode(&mut buf).unwrap().unwrap() };
            prop_assert_eq!(&decoded, &head);
            prop_assert_eq!(&buf[..], &body[..]);
            let (whole_head, whole_body) = PreludeDecoder::split_payload(&wire).unwrap();
            prop_assert_eq!(whole_head, head);
            prop_assert_eq!(whole_body, &body[..]);
        }

        #[test]
        fn decoder_never_panics(input in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = PreludeDecoder::new().decode(&mut BytesMut::from(&input[..]));
        }
    }
}
