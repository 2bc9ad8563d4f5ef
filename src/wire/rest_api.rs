//! API Gateway REST API events (Lambda proxy integration, payload format 1.0) and the response
//! heads written for them, streamed (`responseTransferMode: STREAM`) or buffered.
//!
//! AWS's API Gateway developer guide ("Set up a Lambda proxy integration with payload response
//! streaming"): the function gets the same 1.0 event as a buffered proxy integration, and a
//! streamed answer is the metadata JSON (`statusCode`, `headers`, `multiValueHeaders`,
//! `cookies`), the 8-NUL delimiter, then the payload. A buffered answer is the proxy response
//! JSON (`statusCode`, `headers`, `multiValueHeaders`, `body`, `isBase64Encoded`); when a name
//! is in both maps, API Gateway keeps the `multiValueHeaders` values.

use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::header::SET_COOKIE;
use http::{HeaderMap, Request, Uri};
use serde::Serialize;
use serde_json::{Map, Value, json};

use std::time::{Duration, UNIX_EPOCH};

use super::buffered::BufferedResponseError;
use super::event::{EventContext, EventError, format_clf_time, is_text_content_type};
use super::head::{HOP_BY_HOP, ResponseHead, all_cookies};
use super::prelude::{MAX_PRELUDE_LEN, PRELUDE_DELIMITER, PreludeError, check_final_status};

/// The `requestContext` of a REST API event (`identity`, `stage`, `resourcePath`, ...),
/// attached to every request built from one as an extension; its presence says the invocation
/// came through API Gateway REST, and the runtime writes the response head for it.
pub type RestRequestContext = aws_lambda_events::apigw::ApiGatewayProxyRequestContext;

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

/// Whether a parsed event is a REST API (1.0) event: it has `httpMethod` and no
/// `requestContext.http` (which Function URL and HTTP API 2.0 events have).
pub(crate) fn is_rest_event(event: &Value) -> bool {
    event.get("httpMethod").is_some_and(Value::is_string)
        && event
            .get("requestContext")
            .is_some_and(|context| context.get("http").is_none())
}

/// The request a handler sees for a REST API event: `httpMethod`, `path` with the query from
/// `multiValueQueryStringParameters` (every value, keys in order), the headers from
/// `multiValueHeaders` (each value its own entry) or else `headers`, the body base64-decoded
/// when `isBase64Encoded`, and the [`RestRequestContext`] as an extension.
pub(crate) fn request_from_rest_event(event: Value) -> Result<Request<Bytes>, EventError> {
    let event: ApiGatewayProxyRequest = serde_json::from_value(event)?;
    let uri = rest_uri(&event)?;
    let body = match event.body {
        None => Bytes::new(),
        Some(body) if event.is_base64_encoded => Bytes::from(BASE64.decode(body)?),
        Some(body) => Bytes::from(body),
    };
    let mut request = Request::new(body);
    *request.method_mut() = event.http_method;
    *request.uri_mut() = uri;
    *request.headers_mut() = if event.multi_value_headers.is_empty() {
        event.headers
    } else {
        event.multi_value_headers
    };
    request.extensions_mut().insert(event.request_context);
    Ok(request)
}

fn rest_uri(event: &ApiGatewayProxyRequest) -> Result<Uri, EventError> {
    let path = event
        .path
        .as_deref()
        .filter(|p| !p.is_empty())
        .unwrap_or("/");
    let query = if event.multi_value_query_string_parameters.is_empty() {
        &event.query_string_parameters
    } else {
        &event.multi_value_query_string_parameters
    };
    let mut pairs: Vec<(&str, &str)> = query.iter().collect();
    // Keys in a stable order (the event's maps have none); each key's values as given.
    pairs.sort_by_key(|(key, _)| *key);
    let mut serializer = form_urlencoded::Serializer::new(String::new());
    serializer.extend_pairs(pairs);
    let query = serializer.finish();
    let target = if query.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{query}")
    };
    target.parse().map_err(|_| EventError::InvalidUri(target))
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
    let needed = json.len() + PRELUDE_DELIMITER.len();
    if needed > MAX_PRELUDE_LEN {
        return Err(PreludeError::HeadTooLarge {
            limit: MAX_PRELUDE_LEN,
            actual: needed,
        });
    }
    Ok(Bytes::from(json))
}

/// Encodes a buffered REST API proxy response; cookies go in `multiValueHeaders` as
/// `Set-Cookie` (the 1.0 format has no `cookies` field). The body is text when the content type
/// is textual and the bytes are UTF-8, otherwise base64 with `isBase64Encoded: true`.
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
    let text = std::str::from_utf8(body)
        .ok()
        .filter(|_| is_text_content_type(head.headers.get(http::header::CONTENT_TYPE)));
    let (body, is_base64_encoded) = match text {
        Some(text) => (text.to_owned(), false),
        None => (BASE64.encode(body), true),
    };
    Ok(serde_json::to_vec(&RestBufferedJson {
        status_code: head.status.as_u16(),
        headers,
        multi_value_headers,
        body,
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

/// Builds the REST API proxy event (payload 1.0) for an HTTP request, as API Gateway does for a
/// `/{proxy+}` resource: `headers` and `queryStringParameters` with the last value of each name,
/// `multiValueHeaders` and `multiValueQueryStringParameters` with all of them, the path (less
/// its leading `/`) as the `proxy` path parameter, binary bodies base64 with
/// `isBase64Encoded: true`. `context.url_id` is the API id; the stage is `local`.
///
/// ```
/// use lambda_stream::wire::{rest_event_from_request, request_from_event, EventContext};
/// let request = http::Request::post("/p?a=1&a=2").header("x-m", "1").header("x-m", "2")
///     .body(bytes::Bytes::from_static(b"hi"))?;
/// let event = rest_event_from_request(&request, &EventContext::default());
/// assert_eq!(event["multiValueHeaders"]["x-m"], serde_json::json!(["1", "2"]));
/// assert_eq!(event["queryStringParameters"]["a"], "2");
/// let back = request_from_event(&serde_json::to_vec(&event)?)?;
/// assert_eq!(back.uri(), "/p?a=1&a=2");
/// assert_eq!(back.headers().get_all("x-m").iter().count(), 2);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn rest_event_from_request(request: &Request<Bytes>, context: &EventContext) -> Value {
    let (headers, multi_value_headers) = request_headers(request.headers());
    let query = request.uri().query().unwrap_or("");
    let (query_parameters, multi_value_query) = query_parameters(query);
    let path = request.uri().path();
    let (body, is_base64_encoded) = event_body(request);
    json!({
        "resource": "/{proxy+}",
        "path": path,
        "httpMethod": request.method().as_str(),
        "headers": headers,
        "multiValueHeaders": multi_value_headers,
        "queryStringParameters": query_parameters,
        "multiValueQueryStringParameters": multi_value_query,
        "pathParameters": { "proxy": path.trim_start_matches('/') },
        "stageVariables": null,
        "requestContext": rest_request_context(request, context),
        "body": body,
        "isBase64Encoded": is_base64_encoded,
    })
}

/// Headers by name: the last value, and all of them.
fn request_headers(headers: &HeaderMap) -> (Map<String, Value>, Map<String, Value>) {
    let (mut last, mut all) = (Map::new(), Map::new());
    for name in headers.keys() {
        let values: Vec<Value> = headers
            .get_all(name)
            .iter()
            .map(|v| Value::from(String::from_utf8_lossy(v.as_bytes()).into_owned()))
            .collect();
        if let Some(value) = values.last() {
            last.insert(name.to_string(), value.clone());
        }
        all.insert(name.to_string(), Value::Array(values));
    }
    (last, all)
}

/// Query parameters by key (decoded): the last value, and all of them; `null` when none.
fn query_parameters(query: &str) -> (Value, Value) {
    let (mut last, mut all) = (Map::new(), Map::<String, Value>::new());
    for (key, value) in form_urlencoded::parse(query.as_bytes()) {
        last.insert(key.to_string(), Value::from(value.to_string()));
        let values = all
            .entry(key.into_owned())
            .or_insert_with(|| Value::Array(Vec::new()));
        if let Value::Array(values) = values {
            values.push(Value::from(value.into_owned()));
        }
    }
    if last.is_empty() {
        return (Value::Null, Value::Null);
    }
    (Value::Object(last), Value::Object(all))
}

/// The body as the event carries it: text, or base64 when binary; `null` when empty.
fn event_body(request: &Request<Bytes>) -> (Value, bool) {
    let body = request.body();
    if body.is_empty() {
        return (Value::Null, false);
    }
    match std::str::from_utf8(body) {
        Ok(text) if is_text_content_type(request.headers().get(http::header::CONTENT_TYPE)) => {
            (Value::from(text), false)
        }
        _ => (Value::from(BASE64.encode(body)), true),
    }
}

fn rest_request_context(request: &Request<Bytes>, context: &EventContext) -> Value {
    let since_epoch = context
        .time
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO);
    let user_agent = request
        .headers()
        .get(http::header::USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let path = request.uri().path();
    json!({
        "accountId": context.account_id,
        "apiId": context.url_id,
        "domainName": format!("{}.execute-api.{}.amazonaws.com", context.url_id, context.region),
        "httpMethod": request.method().as_str(),
        "identity": { "sourceIp": context.source_ip, "userAgent": user_agent },
        "path": format!("/{REST_STAGE}{path}"),
        "protocol": "HTTP/1.1",
        "requestId": context.request_id,
        "requestTime": format_clf_time(since_epoch.as_secs()),
        "requestTimeEpoch": u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX),
        "resourceId": "proxy",
        "resourcePath": "/{proxy+}",
        "stage": REST_STAGE,
    })
}

/// The stage the local REST API serves.
const REST_STAGE: &str = "local";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{PreludeDecoder, request_from_event};
    use bytes::BytesMut;
    use proptest::prelude::*;

    /// A REST API proxy event (payload 1.0) as API Gateway sends it, trimmed.
    const EVENT: &str = r#"{
      "resource": "/{proxy+}", "path": "/orders/7", "httpMethod": "POST",
      "headers": {"accept": "b", "content-type": "text/plain", "x-multi": "two"},
      "multiValueHeaders": {"accept": ["a", "b"], "content-type": ["text/plain"], "x-multi": ["one", "two"]},
      "queryStringParameters": {"q": "2", "z": "last"},
      "multiValueQueryStringParameters": {"z": ["last"], "q": ["1", "2"]},
      "pathParameters": {"proxy": "orders/7"}, "stageVariables": null,
      "requestContext": {"accountId": "123456789012", "apiId": "abc123", "stage": "prod",
        "requestId": "c6af9ac6", "resourcePath": "/{proxy+}", "httpMethod": "POST",
        "path": "/prod/orders/7", "identity": {"sourceIp": "203.0.113.9", "userAgent": "curl/8"}},
      "body": "aGVsbG8=", "isBase64Encoded": true
    }"#;

    #[test]
    fn a_rest_event_becomes_the_request_with_every_repeated_value() {
        let request = request_from_event(EVENT.as_bytes()).unwrap();
        assert_eq!(request.method(), "POST");
        assert_eq!(request.uri(), "/orders/7?q=1&q=2&z=last");
        let accept: Vec<_> = request.headers().get_all("accept").iter().collect();
        assert_eq!(accept, ["a", "b"], "repeated headers stay separate values");
        assert_eq!(&request.body()[..], b"hello");
        let context = request.extensions().get::<RestRequestContext>().unwrap();
        assert_eq!(context.stage.as_deref(), Some("prod"));
        assert_eq!(context.identity.source_ip.as_deref(), Some("203.0.113.9"));
    }

    #[test]
    fn a_function_url_event_is_not_a_rest_event() {
        let url = br#"{"version":"2.0","rawPath":"/p","requestContext":{"http":{"method":"GET"},"timeEpoch":0},"isBase64Encoded":false}"#;
        let request = request_from_event(url).unwrap();
        assert!(request.extensions().get::<RestRequestContext>().is_none());
    }

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
