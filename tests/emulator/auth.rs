//! `AWS_IAM` on the local Function URL: requests signed with the `aws-sigv4` crate (the
//! header form and a presigned URL) reach the function with `requestContext.authorizer.iam`;
//! unsigned, tampered, wrong-region, expired and unknown-key requests get AWS's 403.

use lambda_stream::testing::TestEmulator;
use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4::SigningParams;
use bytes::Bytes;
use http_body_util::Full;
use lambda_stream::emulator::{AuthType, EmulatorConfig, IamKey};
use lambda_stream::wire::RequestContext;
use lambda_stream::{Body, Context, Request};

use crate::common;
use crate::common::{read_all, send, within};

const KEY_ID: &str = "AKIDLOCALTEST";
const SECRET: &str = "local/secret+key";

async fn serve() -> TestEmulator {
    let config = EmulatorConfig::default()
        .with_auth_type(AuthType::AwsIam)
        .with_region("eu-west-1")
        .with_iam_key(IamKey::new(KEY_ID, SECRET).with_account_id("111122223333"));
    // The function answers with who called it and what it received.
    TestEmulator::start(config, |request: Request, _: Context| async move {
        let iam = request
            .extensions()
            .get::<RequestContext>()
            .and_then(|c| c.authorizer.as_ref())
            .and_then(|a| a.iam.as_ref())
            .map(|iam| {
                format!(
                    "{} {}",
                    iam.access_key.clone().unwrap_or_default(),
                    iam.account_id.clone().unwrap_or_default()
                )
            })
            .unwrap_or_default();
        let text = format!("{iam} {}", String::from_utf8_lossy(request.body()));
        http::Response::builder().body(Body::from(text))
    })
    .await
    .unwrap()
}

struct Signing<'a> {
    key_id: &'a str,
    secret: &'a str,
    region: &'a str,
    time: SystemTime,
    presign: Option<Duration>,
    service: &'a str,
}

impl Default for Signing<'_> {
    fn default() -> Self {
        Signing {
            key_id: KEY_ID,
            secret: SECRET,
            region: "eu-west-1",
            time: SystemTime::now(),
            presign: None,
            service: "lambda",
        }
    }
}

/// A request for `path` signed as `awscurl --service lambda` would sign it.
fn signed(
    address: SocketAddr,
    method: &str,
    path: &str,
    signed_body: &'static [u8],
    sent_body: &'static [u8],
    signing: Signing<'_>,
) -> http::Request<Full<Bytes>> {
    let host = address.to_string();
    let url = format!("http://{host}{path}");
    let mut settings = SigningSettings::default();
    if let Some(expires) = signing.presign {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires);
    }
    let identity = Credentials::new(signing.key_id, signing.secret, None, None, "test").into();
    let params = SigningParams::builder()
        .identity(&identity)
        .region(signing.region)
        .name(signing.service)
        .time(signing.time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let headers = [("host", host.as_str()), ("content-type", "text/plain")];
    let signable = SignableRequest::new(
        method,
        url.clone(),
        headers.into_iter(),
        SignableBody::Bytes(signed_body),
    )
    .unwrap();
    let (instructions, _) = sign(signable, &params).unwrap().into_parts();
    let mut request = http::Request::builder()
        .method(method)
        .uri(path)
        .header("host", &host)
        .header("content-type", "text/plain")
        .body(Full::new(Bytes::from_static(sent_body)))
        .unwrap();
    instructions.apply_to_request_http1x(&mut request);
    // The signer writes the presigned query into an absolute URI; send it in origin form.
    let path_and_query = request.uri().path_and_query().unwrap().clone();
    *request.uri_mut() = path_and_query.into();
    request
}

async fn status_and_text(
    address: SocketAddr,
    request: http::Request<Full<Bytes>>,
) -> (u16, String, Option<String>) {
    let response = within(send(address, request)).await;
    let status = response.status().as_u16();
    let error_type = response
        .headers()
        .get("x-amzn-errortype")
        .map(|v| v.to_str().unwrap().to_owned());
    let (body, _, _) = within(read_all(response)).await;
    (
        status,
        String::from_utf8_lossy(&body).into_owned(),
        error_type,
    )
}

const FORBIDDEN: &str = r#"{"Message":"Forbidden. For troubleshooting Function URL authorization issues, see: https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"}"#;

#[tokio::test]
async fn signed_requests_reach_the_function_with_their_identity() {
    let emulator = serve().await;
    let address = emulator.url_addr();

    let post = signed(
        address,
        "POST",
        "/orders?b=2&a=1",
        b"hello",
        b"hello",
        Signing::default(),
    );
    assert_eq!(
        status_and_text(address, post).await,
        (200, "AKIDLOCALTEST 111122223333 hello".to_owned(), None)
    );

    let presigned = Signing {
        presign: Some(Duration::from_secs(300)),
        ..Signing::default()
    };
    let get = signed(address, "GET", "/report?id=7", b"", b"", presigned);
    assert!(get.uri().query().unwrap().contains("X-Amz-Signature="));
    assert_eq!(
        status_and_text(address, get).await,
        (200, "AKIDLOCALTEST 111122223333 ".to_owned(), None)
    );
}

#[tokio::test]
async fn bad_signatures_get_aws_403() {
    let emulator = serve().await;
    let address = emulator.url_addr();
    let twenty_minutes_ago = SystemTime::now() - Duration::from_secs(20 * 60);
    let cases: Vec<(&str, http::Request<Full<Bytes>>)> = vec![
        (
            "unsigned",
            http::Request::post("/orders")
                .header("host", address.to_string())
                .body(Full::new(Bytes::from_static(b"hello")))
                .unwrap(),
        ),
        (
            "tampered body",
            signed(
                address,
                "POST",
                "/orders",
                b"hello",
                b"HELLO",
                Signing::default(),
            ),
        ),
        (
            "wrong region",
            signed(
                address,
                "POST",
                "/orders",
                b"hello",
                b"hello",
                Signing {
                    region: "us-east-1",
                    ..Signing::default()
                },
            ),
        ),
        (
            "expired date",
            signed(
                address,
                "POST",
                "/orders",
                b"hello",
                b"hello",
                Signing {
                    time: twenty_minutes_ago,
                    ..Signing::default()
                },
            ),
        ),
        (
            "unknown key",
            signed(
                address,
                "POST",
                "/orders",
                b"hello",
                b"hello",
                Signing {
                    key_id: "AKIDSOMEONEELSE",
                    ..Signing::default()
                },
            ),
        ),
        (
            "wrong secret",
            signed(
                address,
                "POST",
                "/orders",
                b"hello",
                b"hello",
                Signing {
                    secret: "guess",
                    ..Signing::default()
                },
            ),
        ),
        (
            "expired presigned URL",
            signed(
                address,
                "GET",
                "/report",
                b"",
                b"",
                Signing {
                    time: SystemTime::now() - Duration::from_secs(120),
                    presign: Some(Duration::from_secs(60)),
                    ..Signing::default()
                },
            ),
        ),
    ];
    for (case, request) in cases {
        assert_eq!(
            status_and_text(address, request).await,
            (
                403,
                FORBIDDEN.to_owned(),
                Some("AccessDeniedException".to_owned())
            ),
            "{case}"
        );
    }

    // A path edited after presigning.
    let mut moved = signed(
        address,
        "GET",
        "/report?id=7",
        b"",
        b"",
        Signing {
            presign: Some(Duration::from_secs(300)),
            ..Signing::default()
        },
    );
    let query = moved.uri().query().unwrap().replace("id=7", "id=8");
    *moved.uri_mut() = format!("/report?{query}").parse().unwrap();
    assert_eq!(status_and_text(address, moved).await.0, 403, "edited query");
}

/// The Invoke API behind an `AWS_IAM` URL, with a count of the function's invocations.
async fn serve_counted() -> (TestEmulator, std::sync::Arc<std::sync::atomic::AtomicUsize>) {
    use std::sync::atomic::{AtomicUsize, Ordering};
    let calls = std::sync::Arc::new(AtomicUsize::new(0));
    let counted = calls.clone();
    let config = EmulatorConfig::default()
        .with_auth_type(AuthType::AwsIam)
        .with_region("eu-west-1")
        .with_iam_key(IamKey::new(KEY_ID, SECRET));
    let emulator = TestEmulator::start(config, move |_: Request, _: Context| {
        counted.fetch_add(1, Ordering::SeqCst);
        async { http::Response::builder().body(Body::from("ran")) }
    })
    .await
    .unwrap();
    (emulator, calls)
}

const INVOKE: &str = "/2015-03-31/functions/local/invocations";
const STREAM: &str = "/2021-11-15/functions/local/response-streaming-invocations";

#[tokio::test]
async fn the_invoke_api_requires_sigv4_on_both_routes() {
    use std::sync::atomic::Ordering;
    let (emulator, calls) = serve_counted().await;
    let address = emulator.url_addr();
    let routes = [
        (INVOKE, "RequestResponse"),
        (INVOKE, "Event"),
        (STREAM, "RequestResponse"),
    ];
    for (path, invocation_type) in routes {
        let with_type = |mut request: http::Request<Full<Bytes>>| {
            let value = http::HeaderValue::from_static(invocation_type);
            request.headers_mut().insert("x-amz-invocation-type", value);
            request
        };
        let unsigned = http::Request::post(path)
            .header("host", address.to_string())
            .body(Full::new(Bytes::from_static(b"{}")))
            .unwrap();
        let sign_with = |signing: Signing<'static>| {
            with_type(signed(address, "POST", path, b"{}", b"{}", signing))
        };
        let cases = [
            (
                "unsigned",
                with_type(unsigned),
                "MissingAuthenticationTokenException",
            ),
            (
                "wrong secret",
                sign_with(Signing {
                    secret: "guess",
                    ..Signing::default()
                }),
                "InvalidSignatureException",
            ),
            (
                "unknown key",
                sign_with(Signing {
                    key_id: "AKIDSOMEONEELSE",
                    ..Signing::default()
                }),
                "UnrecognizedClientException",
            ),
            (
                "wrong region",
                sign_with(Signing {
                    region: "us-east-1",
                    ..Signing::default()
                }),
                "InvalidSignatureException",
            ),
        ];
        for (case, request, error_type) in cases {
            let (status, body, found) = status_and_text(address, request).await;
            assert_eq!(
                (status, found.as_deref()),
                (403, Some(error_type)),
                "{path} {invocation_type} {case}: {body}"
            );
            assert!(body.contains("\"message\""), "{body}");
        }
        let (status, _, _) = status_and_text(address, sign_with(Signing::default())).await;
        let expected = if invocation_type == "Event" { 202 } else { 200 };
        assert_eq!(status, expected, "{path} {invocation_type} signed");
    }
    // Only the three signed requests ran the function (the Event one in the background).
    within(async {
        while calls.load(Ordering::SeqCst) < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test]
async fn an_absolute_form_invoke_request_is_refused_unsigned() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let (emulator, calls) = serve_counted().await;
    let address = emulator.url_addr();
    for path in [INVOKE, STREAM] {
        let mut stream = tokio::net::TcpStream::connect(address).await.unwrap();
        let request = format!(
            "POST http://{address}{path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut answer = String::new();
        within(stream.read_to_string(&mut answer)).await.unwrap();
        assert!(answer.starts_with("HTTP/1.1 403"), "{path}: {answer}");
        assert!(
            answer.contains("MissingAuthenticationTokenException"),
            "{answer}"
        );
    }
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 0);
}

/// A REST API front whose method has `AuthorizationType: AWS_IAM`: requests must be signed for
/// `execute-api` (API Gateway's service), and the function sees who signed in
/// `requestContext.identity`. Before the one lifecycle, this front served unsigned requests.
#[tokio::test]
async fn a_rest_api_with_aws_iam_refuses_unsigned_requests_and_names_the_signer() {
    use lambda_stream::emulator::{EndpointType, Front};
    use lambda_stream::wire::RestRequestContext;
    let config = EmulatorConfig::default()
        .with_front(Front::RestApi(EndpointType::Regional))
        .with_auth_type(AuthType::AwsIam)
        .with_region("eu-west-1")
        .with_iam_key(IamKey::new(KEY_ID, SECRET).with_account_id("111122223333"));
    let emulator = TestEmulator::start(config, |request: Request, _: Context| async move {
        let identity = request
            .extensions()
            .get::<RestRequestContext>()
            .map(|context| context.identity.clone())
            .unwrap_or_default();
        let text = format!(
            "{} {}",
            identity.access_key.unwrap_or_default(),
            identity.account_id.unwrap_or_default()
        );
        http::Response::builder().body(Body::from(text))
    })
    .await
    .unwrap();
    let address = emulator.url_addr();

    let unsigned = common::get("/orders");
    let (status, body, error_type) = status_and_text(address, unsigned).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body, r#"{"message":"Missing Authentication Token"}"#);
    assert_eq!(
        error_type.as_deref(),
        Some("MissingAuthenticationTokenException")
    );

    // Signed for the Lambda service: the wrong scope for a REST API.
    let for_lambda = signed(address, "GET", "/orders", b"", b"", Signing::default());
    let (status, body, error_type) = status_and_text(address, for_lambda).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(error_type.as_deref(), Some("InvalidSignatureException"));
    assert!(body.contains("execute-api"), "{body}");

    let signing = Signing {
        service: "execute-api",
        ..Signing::default()
    };
    let request = signed(address, "GET", "/orders", b"", b"", signing);
    let (status, body, _) = status_and_text(address, request).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, format!("{KEY_ID} 111122223333"));
}
