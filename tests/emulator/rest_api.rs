//! A function behind an API Gateway REST API (Lambda proxy integration, payload 1.0) on the real
//! runtime loop: the 1.0 event becomes the request (repeated headers and query values kept), and
//! the answer's head is written for the REST API, with `multiValueHeaders` for repeated headers:
//! streamed (metadata, 8 NULs, payload) and buffered (the proxy response JSON), byte for byte.

use lambda_stream::testing::TestRuntime;
use lambda_stream::wire::RestRequestContext;
use lambda_stream::{Body, Context, InvokeMode, Request, Response};

use crate::common::within;

const EVENT: &str = r#"{
  "resource": "/{proxy+}", "path": "/orders/7", "httpMethod": "POST",
  "headers": {"accept": "b", "content-type": "text/plain"},
  "multiValueHeaders": {"accept": ["a", "b"], "content-type": ["text/plain"]},
  "queryStringParameters": {"q": "2"},
  "multiValueQueryStringParameters": {"q": ["1", "2"]},
  "requestContext": {"accountId": "123456789012", "apiId": "abc123", "stage": "prod",
    "requestId": "c6af9ac6", "httpMethod": "POST", "identity": {"sourceIp": "203.0.113.9"}},
  "body": "hello", "isBase64Encoded": false
}"#;

/// Answers with what it saw, two values of one header and a cookie.
async fn echo(request: Request, _: Context) -> Result<Response, http::Error> {
    let accept: Vec<_> = request
        .headers()
        .get_all("accept")
        .iter()
        .map(|v| v.to_str().unwrap())
        .collect();
    let source_ip = request
        .extensions()
        .get::<RestRequestContext>()
        .and_then(|context| context.identity.source_ip.clone())
        .unwrap_or_default();
    let seen = format!(
        "{} {} accept={} from={source_ip} body={}",
        request.method(),
        request.uri(),
        accept.join("|"),
        String::from_utf8_lossy(request.body())
    );
    http::Response::builder()
        .header("content-type", "text/plain")
        .header("x-multi", "a")
        .header("x-multi", "b")
        .header("set-cookie", "session=1")
        .body(Body::from(seen))
}

const SEEN: &str = "POST /orders/7?q=1&q=2 accept=a|b from=203.0.113.9 body=hello";

#[tokio::test]
async fn a_streamed_answer_has_the_rest_apis_metadata_then_the_payload() {
    let runtime = TestRuntime::start(echo, InvokeMode::ResponseStream)
        .await
        .unwrap();
    let capture = within(runtime.server().invoke(EVENT)).await.unwrap();
    let metadata = r#"{"statusCode":200,"headers":{"content-type":"text/plain"},"multiValueHeaders":{"x-multi":["a","b"]},"cookies":["session=1"]}"#;
    let expected = [metadata.as_bytes(), &[0; 8], SEEN.as_bytes()].concat();
    assert_eq!(
        String::from_utf8_lossy(&capture.body),
        String::from_utf8_lossy(&expected)
    );
    assert_eq!(
        capture.chunks[0], metadata,
        "the metadata is a chunk of its own"
    );
}

#[tokio::test]
async fn a_buffered_answer_is_the_rest_proxy_response() {
    let runtime = TestRuntime::start(echo, InvokeMode::Buffered)
        .await
        .unwrap();
    let capture = within(runtime.server().invoke(EVENT)).await.unwrap();
    let expected = format!(
        r#"{{"statusCode":200,"headers":{{"content-type":"text/plain"}},"multiValueHeaders":{{"set-cookie":["session=1"],"x-multi":["a","b"]}},"body":"{SEEN}","isBase64Encoded":false}}"#
    );
    assert_eq!(String::from_utf8_lossy(&capture.body), expected);
}
