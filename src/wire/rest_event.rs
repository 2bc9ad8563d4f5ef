//! API Gateway REST API proxy events (Lambda proxy integration, payload format 1.0) to and from
//! `http::Request`. The function gets the same 1.0 event whether the integration streams or
//! buffers (AWS's API Gateway developer guide, "Set up a Lambda proxy integration with payload
//! response streaming").

use aws_lambda_events::apigw::ApiGatewayProxyRequest;
use bytes::Bytes;
use http::{HeaderMap, Request, Uri};
use serde_json::{Map, Value, json};

use super::event::{
    EventContext, EventError, carried_body, decoded_body, format_clf_time, since_epoch, user_agent,
};
use http::header::CONTENT_TYPE;

/// The `requestContext` of a REST API event (`identity`, `stage`, `resourcePath`, ...),
/// attached to every request built from one as an extension; its presence says the invocation
/// came through API Gateway REST, and the runtime writes the response head for it.
pub type RestRequestContext = aws_lambda_events::apigw::ApiGatewayProxyRequestContext;

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
    check_query_lists(&event)?;
    let event: ApiGatewayProxyRequest = serde_json::from_value(event)?;
    let uri = rest_uri(&event)?;
    let body = decoded_body(event.body, event.is_base64_encoded)?;
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

/// Refuses a `multiValueQueryStringParameters` key with no values: API Gateway never sends
/// one, and the event type's query map cannot iterate it (it indexes the first value).
fn check_query_lists(event: &Value) -> Result<(), EventError> {
    let lists = event
        .get("multiValueQueryStringParameters")
        .and_then(Value::as_object);
    let empty = lists
        .into_iter()
        .flatten()
        .find(|(_, values)| values.as_array().is_some_and(Vec::is_empty));
    match empty {
        Some((key, _)) => Err(EventError::EmptyQueryValues(key.clone())),
        None => Ok(()),
    }
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
    let (text, is_base64_encoded) = carried_body(body, request.headers().get(CONTENT_TYPE));
    (Value::from(text.into_owned()), is_base64_encoded)
}

fn rest_request_context(request: &Request<Bytes>, context: &EventContext) -> Value {
    let since_epoch = since_epoch(context.time);
    let user_agent = user_agent(request);
    let path = request.uri().path();
    json!({
        "accountId": context.account_id,
        "apiId": context.url_id,
        "domainName": format!("{}.execute-api.{}.amazonaws.com", context.url_id, context.region),
        "httpMethod": request.method().as_str(),
        "identity": rest_identity(context, user_agent),
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

/// `requestContext.identity`: the caller's address and agent, and, for a request signed for
/// a method with `AWS_IAM` auth, who signed it (from the `authorizer.iam` the emulator found).
fn rest_identity(context: &EventContext, user_agent: Option<String>) -> Value {
    let mut identity = json!({ "sourceIp": context.source_ip, "userAgent": user_agent });
    let iam = context.authorizer.as_ref().and_then(|a| a.get("iam"));
    if let (Some(iam), Some(fields)) = (iam, identity.as_object_mut()) {
        for (rest, url) in [
            ("accessKey", "accessKey"),
            ("accountId", "accountId"),
            ("caller", "callerId"),
            ("user", "userId"),
            ("userArn", "userArn"),
        ] {
            fields.insert(
                rest.to_owned(),
                iam.get(url).cloned().unwrap_or(Value::Null),
            );
        }
    }
    identity
}

/// The stage the local REST API serves.
const REST_STAGE: &str = "local";

/// Whether `event` is the notice API Gateway is reported to send a function after a REST API
/// streamed its response: `{"invokeCompletionStatus": "Success", "requestId": "..."}`, an
/// invocation that is no HTTP request. The function acknowledges it without running the
/// handler.
///
/// Evidence: one third-party report ("observed AWS behavior as of 2026-03", in a crate's
/// documentation), not AWS's own documentation; hence the narrow match: an object with a
/// string `invokeCompletionStatus`, a `requestId`, and nothing of an HTTP event.
pub(crate) fn is_invoke_completion_notice(event: &[u8]) -> bool {
    const KEY: &[u8] = b"invokeCompletionStatus";
    // Cheap first: HTTP events are large and never carry the key.
    if event.len() > 4096 || !event.windows(KEY.len()).any(|window| window == KEY) {
        return false;
    }
    let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(event) else {
        return false;
    };
    fields
        .get("invokeCompletionStatus")
        .is_some_and(Value::is_string)
        && fields.contains_key("requestId")
        && !fields.contains_key("httpMethod")
        && !fields.contains_key("requestContext")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::request_from_event;

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

    /// Found by fuzzing: an empty list of query values used to panic inside the event type's
    /// query map; it is a typed error now.
    #[test]
    fn an_empty_list_of_query_values_is_a_typed_error() {
        let event = br#"{"httpMethod":"GET","path":"/","requestContext":{"httpMethod":"GET"},
            "multiValueQueryStringParameters":{"ok":["1"],"q":[]}}"#;
        let error = request_from_event(event).unwrap_err();
        assert!(
            matches!(&error, EventError::EmptyQueryValues(key) if key == "q"),
            "{error:?}"
        );
        assert_eq!(
            error.to_string(),
            "the event's multiValueQueryStringParameters has no value for \"q\""
        );
    }

    #[test]
    fn a_function_url_event_is_not_a_rest_event() {
        let url = br#"{"version":"2.0","rawPath":"/p","requestContext":{"http":{"method":"GET"},"timeEpoch":0},"isBase64Encoded":false}"#;
        let request = request_from_event(url).unwrap();
        assert!(request.extensions().get::<RestRequestContext>().is_none());
    }

    #[test]
    fn the_gateways_completion_notice_is_recognised_and_nothing_else() {
        assert!(is_invoke_completion_notice(
            br#"{"invokeCompletionStatus":"Success","requestId":"c6af9ac6-7b61-11e6-9a41-93e8deadbeef"}"#
        ));
        assert!(is_invoke_completion_notice(
            br#"{"invokeCompletionStatus": "Failure", "requestId": "r"}"#
        ));
        for other in [
            &br#"{"invokeCompletionStatus":"Success"}"#[..],
            br#"{"invokeCompletionStatus":1,"requestId":"r"}"#,
            br#"{"invokeCompletionStatus":"Success","requestId":"r","httpMethod":"GET"}"#,
            br#"{"httpMethod":"POST","body":"invokeCompletionStatus"}"#,
            b"not json invokeCompletionStatus",
            b"{}",
        ] {
            assert!(!is_invoke_completion_notice(other), "{other:?}");
        }
    }
}
