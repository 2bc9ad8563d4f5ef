//! Function URL request events (payload format 2.0) to and from `http::Request`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lambda_events::lambda_function_urls::LambdaFunctionUrlRequest;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use http::header::{CONTENT_TYPE, COOKIE, USER_AGENT};
use http::{HeaderValue, Method, Request, Uri};
use serde_json::{Map, Value, json};

/// The `requestContext` of a Function URL event, attached to every request built from one as an
/// extension.
///
/// ```no_run
/// # fn handler(request: lambda_stream::Request) {
/// if let Some(context) = request.extensions().get::<lambda_stream::wire::RequestContext>() {
///     println!("source ip: {:?}", context.http.source_ip);
/// }
/// # }
/// ```
pub type RequestContext = aws_lambda_events::lambda_function_urls::LambdaFunctionUrlRequestContext;

/// Extension marking a request built from an event that is not a Function URL event (a direct
/// `Invoke` or `InvokeWithResponseStream` payload): the request is `POST /` with the event JSON
/// as its `application/json` body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RawInvoke;

/// The invocation's event exactly as the Runtime API delivered it. The runtime attaches it to
/// every request it hands a handler, so code written for other event shapes (the `compat`
/// adapters of features `lambda-runtime` and `lambda-http`) can read it again.
///
/// ```no_run
/// # fn handler(request: lambda_stream::Request) {
/// if let Some(lambda_stream::wire::RawEvent(event)) = request.extensions().get() {
///     println!("{} bytes of event JSON", event.len());
/// }
/// # }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawEvent(pub Bytes);

/// Why an event could not become a request.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The event is not JSON, or is a Function URL or REST API event with fields of the wrong
    /// type.
    #[error("the event is not a valid Function URL or REST API event: {0}")]
    Json(#[from] serde_json::Error),
    /// `isBase64Encoded` is true but the body is not base64.
    #[error("the event body is marked base64 but does not decode: {0}")]
    InvalidBase64(#[from] base64::DecodeError),
    /// The method is not an HTTP method.
    #[error("the event method {0:?} is not an HTTP method")]
    InvalidMethod(String),
    /// `rawPath` and `rawQueryString` do not form a URI path.
    #[error("the event path {0:?} is not a valid URI path")]
    InvalidUri(String),
    /// A header or cookie cannot be an HTTP header.
    #[error("the event header {0:?} is not a valid HTTP header")]
    InvalidHeader(String),
    /// A REST API event lists no value for a query key in `multiValueQueryStringParameters`.
    #[error("the event's multiValueQueryStringParameters has no value for {0:?}")]
    EmptyQueryValues(String),
}

/// Turns an invocation event into the request a handler sees.
///
/// A Function URL event (it has `requestContext.http`) maps field by field: method, `rawPath`
/// and `rawQueryString` as the URI, headers as given (repeated values stay comma-joined),
/// `cookies` as one `cookie` header, the body base64-decoded when `isBase64Encoded`, and the
/// [`RequestContext`] as an extension. Any other JSON becomes a [`RawInvoke`] request.
///
/// # Errors
/// [`EventError`] when the event is not JSON or a field cannot be mapped.
///
/// ```
/// let event = br#"{"version":"2.0","rawPath":"/p","rawQueryString":"a=1",
///   "headers":{"content-type":"text/plain"},"cookies":["c1=v1","c2=v2"],
///   "requestContext":{"http":{"method":"POST","path":"/p"},"timeEpoch":0},
///   "body":"aGk=","isBase64Encoded":true}"#;
/// let request = lambda_stream::wire::request_from_event(event)?;
/// assert_eq!(request.method(), "POST");
/// assert_eq!(request.uri(), "/p?a=1");
/// assert_eq!(request.headers()["cookie"], "c1=v1; c2=v2");
/// assert_eq!(&request.body()[..], b"hi");
/// # Ok::<(), lambda_stream::wire::EventError>(())
/// ```
pub fn request_from_event(event: &[u8]) -> Result<Request<Bytes>, EventError> {
    let value: Value = serde_json::from_slice(event)?;
    if super::is_rest_event(&value) {
        return super::request_from_rest_event(value);
    }
    let is_url_event = value
        .get("requestContext")
        .and_then(|c| c.get("http"))
        .is_some_and(Value::is_object);
    if !is_url_event {
        let mut request = Request::new(Bytes::copy_from_slice(event));
        *request.method_mut() = Method::POST;
        request
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        request.extensions_mut().insert(RawInvoke);
        return Ok(request);
    }
    let event: LambdaFunctionUrlRequest = serde_json::from_value(value)?;
    let context = event.request_context;

    let method_text = context.http.method.as_deref().unwrap_or("GET");
    let method = Method::from_bytes(method_text.as_bytes())
        .map_err(|_| EventError::InvalidMethod(method_text.to_owned()))?;
    let path = event
        .raw_path
        .as_deref()
        .or(context.http.path.as_deref())
        .filter(|p| !p.is_empty())
        .unwrap_or("/");
    let path_and_query = match event.raw_query_string.as_deref() {
        Some(query) if !query.is_empty() => format!("{path}?{query}"),
        _ => path.to_owned(),
    };
    let uri: Uri = path_and_query
        .parse()
        .map_err(|_| EventError::InvalidUri(path_and_query.clone()))?;

    let body = decoded_body(event.body, event.is_base64_encoded)?;
    let mut request = Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.headers_mut() = event.headers;
    if let Some(cookies) = event.cookies.filter(|c| !c.is_empty()) {
        let joined = cookies.join("; ");
        let value =
            HeaderValue::from_str(&joined).map_err(|_| EventError::InvalidHeader(joined))?;
        request.headers_mut().insert(COOKIE, value);
    }
    request.extensions_mut().insert(context);
    Ok(request)
}

/// What the Function URL knows about a request besides the request itself.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct EventContext {
    /// `requestContext.requestId`.
    pub request_id: String,
    /// When the request arrived.
    pub time: SystemTime,
    /// The client address.
    pub source_ip: String,
    /// The function's account.
    pub account_id: String,
    /// The URL id (`<url-id>.lambda-url.<region>.on.aws`).
    pub url_id: String,
    /// The region.
    pub region: String,
    /// `requestContext.authorizer` (present with `AWS_IAM` auth), as JSON.
    pub authorizer: Option<Value>,
}

impl Default for EventContext {
    fn default() -> Self {
        EventContext {
            request_id: "00000000-0000-0000-0000-000000000000".to_owned(),
            time: SystemTime::now(),
            source_ip: "127.0.0.1".to_owned(),
            account_id: "123456789012".to_owned(),
            url_id: "local".to_owned(),
            region: "us-east-1".to_owned(),
            authorizer: None,
        }
    }
}

/// Builds the payload-2.0 event for an HTTP request, as a Function URL does: lower-case header
/// names, repeated headers and query keys comma-joined, `cookie` headers split into `cookies`,
/// binary bodies base64 with `isBase64Encoded: true`.
///
/// ```
/// use lambda_stream::wire::{event_from_request, request_from_event, EventContext};
/// let request = http::Request::post("/p?a=1&a=2").header("x-m", "1").header("x-m", "2")
///     .body(bytes::Bytes::from_static(b"\x00\xff"))?;
/// let event = event_from_request(&request, &EventContext::default());
/// assert_eq!(event["headers"]["x-m"], "1,2");
/// assert_eq!(event["queryStringParameters"]["a"], "1,2");
/// assert_eq!(event["isBase64Encoded"], true);
/// let back = request_from_event(&serde_json::to_vec(&event)?)?;
/// assert_eq!(back.body(), request.body());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn event_from_request(request: &Request<Bytes>, context: &EventContext) -> Value {
    let mut headers = Map::new();
    let mut cookies = Vec::new();
    for name in request.headers().keys() {
        let values = request.headers().get_all(name).iter();
        if *name == COOKIE {
            for value in values {
                cookies.extend(
                    String::from_utf8_lossy(value.as_bytes())
                        .split(';')
                        .map(str::trim)
                        .filter(|c| !c.is_empty())
                        .map(Value::from),
                );
            }
            continue;
        }
        let joined: Vec<_> = values
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
            .collect();
        headers.insert(name.as_str().to_owned(), Value::from(joined.join(",")));
    }

    let raw_path = request.uri().path();
    let raw_query = request.uri().query().unwrap_or("");
    let mut query = Map::new();
    for (key, value) in form_urlencoded::parse(raw_query.as_bytes()) {
        match query.get_mut(key.as_ref()) {
            Some(Value::String(existing)) => {
                existing.push(',');
                existing.push_str(&value);
            }
            _ => {
                query.insert(key.into_owned(), Value::from(value.into_owned()));
            }
        }
    }

    let since_epoch = since_epoch(context.time);
    let user_agent = user_agent(request);
    let domain_name = format!("{}.lambda-url.{}.on.aws", context.url_id, context.region);
    let mut request_context = json!({
        "accountId": context.account_id,
        "apiId": context.url_id,
        "domainName": domain_name,
        "domainPrefix": context.url_id,
        "http": {
            "method": request.method().as_str(),
            "path": raw_path,
            "protocol": "HTTP/1.1",
            "sourceIp": context.source_ip,
            "userAgent": user_agent,
        },
        "requestId": context.request_id,
        "routeKey": "$default",
        "stage": "$default",
        "time": format_clf_time(since_epoch.as_secs()),
        "timeEpoch": u64::try_from(since_epoch.as_millis()).unwrap_or(u64::MAX),
    });
    if let (Some(authorizer), Value::Object(map)) = (&context.authorizer, &mut request_context) {
        map.insert("authorizer".to_owned(), authorizer.clone());
    }

    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": raw_path,
        "rawQueryString": raw_query,
        "headers": headers,
        "requestContext": request_context,
        "pathParameters": null,
        "isBase64Encoded": false,
        "stageVariables": null,
    });
    let Value::Object(fields) = &mut event else {
        return event;
    };
    if !cookies.is_empty() {
        fields.insert("cookies".to_owned(), Value::from(cookies));
    }
    if !query.is_empty() {
        fields.insert("queryStringParameters".to_owned(), Value::from(query));
    }
    let body = request.body();
    if !body.is_empty() {
        let (text, is_base64_encoded) = carried_body(body, request.headers().get(CONTENT_TYPE));
        fields.insert("body".to_owned(), Value::from(text.into_owned()));
        fields.insert("isBase64Encoded".to_owned(), Value::from(is_base64_encoded));
    }
    event
}

/// A body as a request event carries it (AWS's rule): the text when the content type is
/// textual and the bytes are UTF-8, else base64 (then `true`, for `isBase64Encoded`).
pub(crate) fn carried_body<'a>(
    body: &'a [u8],
    content_type: Option<&HeaderValue>,
) -> (std::borrow::Cow<'a, str>, bool) {
    match std::str::from_utf8(body) {
        Ok(text) if is_text_content_type(content_type) => (text.into(), false),
        _ => (BASE64.encode(body).into(), true),
    }
}

/// A body as a function's buffered answer carries it: the function chose its bytes, so any
/// UTF-8 body goes as a JSON string (NDJSON and CSV too, whatever their content type), and
/// only bytes that are not UTF-8 as base64 (then `true`, for `isBase64Encoded`). Request
/// events follow AWS's own rule ([`carried_body`]).
pub(crate) fn response_body(body: &[u8]) -> (std::borrow::Cow<'_, str>, bool) {
    match std::str::from_utf8(body) {
        Ok(text) => (text.into(), false),
        Err(_) => (BASE64.encode(body).into(), true),
    }
}

/// An event's `body`, base64-decoded when `isBase64Encoded`; empty when absent.
pub(crate) fn decoded_body(
    body: Option<String>,
    is_base64_encoded: bool,
) -> Result<Bytes, base64::DecodeError> {
    Ok(match body {
        None => Bytes::new(),
        Some(body) if is_base64_encoded => Bytes::from(BASE64.decode(body)?),
        Some(body) => Bytes::from(body),
    })
}

/// How long after the Unix epoch `time` is (zero for a time before it).
pub(crate) fn since_epoch(time: SystemTime) -> Duration {
    time.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO)
}

/// The request's `User-Agent`, as text.
pub(crate) fn user_agent<B>(request: &Request<B>) -> Option<String> {
    request
        .headers()
        .get(USER_AGENT)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
}

/// Whether a body of this content type travels as text (not base64) in events and buffered
/// responses: `text/*`, JSON, XML, JavaScript and form-urlencoded. A missing content type counts
/// as text, so plain UTF-8 bodies stay readable.
pub(crate) fn is_text_content_type(content_type: Option<&HeaderValue>) -> bool {
    let Some(content_type) = content_type else {
        return true;
    };
    let Some(essence) = media_type_essence(content_type) else {
        return false;
    };
    essence.starts_with("text/")
        || essence.ends_with("+json")
        || essence.ends_with("+xml")
        || matches!(
            essence.as_str(),
            "application/json"
                | "application/xml"
                | "application/javascript"
                | "application/x-www-form-urlencoded"
        )
}

/// The media type of a `Content-Type` value without parameters, lower-cased
/// (`Text/CSV; charset=utf-8` -> `text/csv`); `None` when the value is not text.
pub(crate) fn media_type_essence(content_type: &HeaderValue) -> Option<String> {
    let text = content_type.to_str().ok()?;
    Some(
        text.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase(),
    )
}

/// Formats Unix seconds as the `requestContext.time` of events: `12/Mar/2020:19:03:58 +0000`.
pub(crate) fn format_clf_time(unix_seconds: u64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let days = unix_seconds / 86_400;
    let seconds_of_day = unix_seconds % 86_400;
    // Civil-from-days (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms").
    let z = days as i64 + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!(
        "{day:02}/{}/{year}:{:02}:{:02}:{:02} +0000",
        MONTHS[(month - 1) as usize],
        seconds_of_day / 3_600,
        seconds_of_day % 3_600 / 60,
        seconds_of_day % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const PROTOCOL_EXAMPLE: &str = r#"{"version":"2.0","routeKey":"$default","rawPath":"/p","rawQueryString":"a=1&a=2&b=x",
 "cookies":["c1=v1"],"headers":{"accept":"x","x-multi":"v1,v2"},
 "queryStringParameters":{"a":"1,2","b":"x"},
 "requestContext":{"accountId":"123456789012","apiId":"<url-id>",
   "authorizer":{"iam":{"accessKey":"AKIA..","accountId":"..","callerId":"..","userArn":"..","userId":".."}},
   "domainName":"<url-id>.lambda-url.<region>.on.aws","domainPrefix":"<url-id>",
   "http":{"method":"POST","path":"/p","protocol":"HTTP/1.1","sourceIp":"1.2.3.4","userAgent":"curl/8"},
   "requestId":"<uuid>","routeKey":"$default","stage":"$default",
   "time":"12/Mar/2020:19:03:58 +0000","timeEpoch":1583348638390},
 "body":"...","pathParameters":null,"isBase64Encoded":false,"stageVariables":null}"#;

    #[test]
    fn protocol_example_maps_to_a_request() {
        let request = request_from_event(PROTOCOL_EXAMPLE.as_bytes()).unwrap();
        assert_eq!(request.method(), Method::POST);
        assert_eq!(request.uri(), "/p?a=1&a=2&b=x");
        assert_eq!(request.headers()["x-multi"], "v1,v2");
        assert_eq!(request.headers()["cookie"], "c1=v1");
        assert_eq!(&request.body()[..], b"...");
        let context = request.extensions().get::<RequestContext>().unwrap();
        assert_eq!(context.http.source_ip.as_deref(), Some("1.2.3.4"));
        let iam = context.authorizer.as_ref().unwrap().iam.as_ref().unwrap();
        assert_eq!(iam.access_key.as_deref(), Some("AKIA.."));
        assert!(request.extensions().get::<RawInvoke>().is_none());
    }

    #[test]
    fn other_json_is_a_raw_invoke() {
        let request = request_from_event(br#"{"name":"Alice"}"#).unwrap();
        assert_eq!(request.method(), Method::POST);
        assert_eq!(request.uri(), "/");
        assert_eq!(&request.body()[..], br#"{"name":"Alice"}"#);
        assert!(request.extensions().get::<RawInvoke>().is_some());
    }

    #[test]
    fn bad_events_are_typed_errors() {
        let url_event = |extra: &str| {
            format!(
                r#"{{"requestContext":{{"http":{{"method":"GET"}},"timeEpoch":0}},"isBase64Encoded":false{extra}}}"#
            )
        };
        assert!(matches!(
            request_from_event(b"not json"),
            Err(EventError::Json(_))
        ));
        let bad_base64 = r#"{"requestContext":{"http":{"method":"GET"},"timeEpoch":0},"body":"!!","isBase64Encoded":true}"#;
        assert!(matches!(
            request_from_event(bad_base64.as_bytes()),
            Err(EventError::InvalidBase64(_))
        ));
        assert!(matches!(
            request_from_event(url_event(r#","rawPath":"/a b""#).as_bytes()),
            Err(EventError::InvalidUri(_))
        ));
        let bad_method = r#"{"requestContext":{"http":{"method":"G ET"},"timeEpoch":0},"isBase64Encoded":false}"#;
        assert!(matches!(
            request_from_event(bad_method.as_bytes()),
            Err(EventError::InvalidMethod(_))
        ));
    }

    #[test]
    fn event_golden_fields() {
        let request = Request::get("/x/y?b=2&a=%20sp")
            .header("Host", "localhost:9000")
            .header("user-agent", "curl/8")
            .header("cookie", "a=1; b=2")
            .body(Bytes::new())
            .unwrap();
        let context = EventContext {
            time: UNIX_EPOCH + Duration::from_millis(1_583_348_638_390),
            ..EventContext::default()
        };
        let event = event_from_request(&request, &context);
        assert_eq!(event["rawPath"], "/x/y");
        assert_eq!(event["rawQueryString"], "b=2&a=%20sp");
        assert_eq!(
            event["queryStringParameters"],
            json!({"a": " sp", "b": "2"})
        );
        assert_eq!(event["cookies"], json!(["a=1", "b=2"]));
        assert_eq!(
            event["headers"],
            json!({"host": "localhost:9000", "user-agent": "curl/8"})
        );
        assert_eq!(
            event["requestContext"]["time"],
            "04/Mar/2020:19:03:58 +0000"
        );
        assert_eq!(event["requestContext"]["timeEpoch"], 1_583_348_638_390u64);
        assert_eq!(event["requestContext"]["http"]["userAgent"], "curl/8");
        assert!(event.get("body").is_none());
        assert_eq!(event["isBase64Encoded"], false);
    }

    #[test]
    fn text_bodies_stay_text() {
        for (content_type, text) in [
            (Some("application/json"), true),
            (Some("text/csv; charset=utf-8"), true),
            (Some("application/vnd.api+json"), true),
            (Some("application/x-www-form-urlencoded"), true),
            (None, true),
            (Some("application/octet-stream"), false),
            (Some("multipart/form-data; boundary=x"), false),
            (Some("image/png"), false),
        ] {
            let value = content_type.map(HeaderValue::from_static);
            assert_eq!(
                is_text_content_type(value.as_ref()),
                text,
                "{content_type:?}"
            );
        }
    }

    #[test]
    fn clf_time_known_dates() {
        assert_eq!(format_clf_time(0), "01/Jan/1970:00:00:00 +0000");
        assert_eq!(format_clf_time(951_782_400), "29/Feb/2000:00:00:00 +0000");
        assert_eq!(format_clf_time(1_764_028_800), "25/Nov/2025:00:00:00 +0000");
    }

    proptest! {
        #[test]
        fn request_event_round_trips(
            method in prop::sample::select(vec!["GET", "POST", "PUT", "DELETE", "PATCH"]),
            path in "(/[a-zA-Z0-9._~-]{0,8}){1,3}",
            query in "([a-z]{1,4}=[a-z0-9]{0,4}(&[a-z]{1,4}=[a-z0-9]{0,4}){0,3})?",
            headers in proptest::collection::btree_map("x-[a-z]{1,8}", "[!-~]{1,16}", 0..5),
            body in proptest::collection::vec(any::<u8>(), 0..64),
            binary in any::<bool>(),
        ) {
            let uri = if query.is_empty() { path.clone() } else { format!("{path}?{query}") };
            let mut builder = Request::builder().method(method).uri(&uri);
            for (name, value) in &headers {
                builder = builder.header(name.as_str(), value.as_str());
            }
            if binary {
                builder = builder.header("content-type", "application/octet-stream");
            }
            let request = builder.body(Bytes::from(body)).unwrap();
            let event = event_from_request(&request, &EventContext::default());
            let back = request_from_event(&serde_json::to_vec(&event).unwrap()).unwrap();
            prop_assert_eq!(back.method(), request.method());
            prop_assert_eq!(back.uri(), request.uri());
            prop_assert_eq!(back.headers(), request.headers());
            prop_assert_eq!(back.body(), request.body());
        }

        #[test]
        fn parser_never_panics(input in proptest::collection::vec(any::<u8>(), 0..200)) {
            let _ = request_from_event(&input);
        }
    }
}
