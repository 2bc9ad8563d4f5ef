//! `AWS_IAM` on the local Function URL: requests signed with the `aws-sigv4` crate (the
//! header form and a presigned URL) reach the function with `requestContext.authorizer.iam`;
//! unsigned, tampered, wrong-region, expired and unknown-key requests get AWS's 403.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4::SigningParams;
use bytes::Bytes;
use http_body_util::Full;
use lambda_stream::emulator::{AuthType, Emulator, EmulatorConfig, IamKey};
use lambda_stream::wire::RequestContext;
use lambda_stream::{Body, Context, Request};

mod common;
use common::{read_all, send, within};

const KEY_ID: &str = "AKIDLOCALTEST";
const SECRET: &str = "local/secret+key";

async fn serve() -> Emulator {
    let config = EmulatorConfig::default()
        .with_auth_type(AuthType::AwsIam)
        .with_region("eu-west-1")
        .with_iam_key(IamKey::new(KEY_ID, SECRET).with_account_id("111122223333"));
    // The function answers with who called it and what it received.
    common::serve_in_process(config, 1, |request: Request, _: Context| async move {
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
}

struct Signing<'a> {
    key_id: &'a str,
    secret: &'a str,
    region: &'a str,
    time: SystemTime,
    presign: Option<Duration>,
}

impl Default for Signing<'_> {
    fn default() -> Self {
        Signing {
            key_id: KEY_ID,
            secret: SECRET,
            region: "eu-west-1",
            time: SystemTime::now(),
            presign: None,
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
        .name("lambda")
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
    (status, String::from_utf8(body).unwrap(), error_type)
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
