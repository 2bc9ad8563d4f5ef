//! Uploads refused at their head hold none of their bytes: the process's resident memory,
//! measured while 30 clients park in the middle of a 6 MiB body.

use lambda_stream::emulator::{AuthType, EmulatorConfig, IamKey};
use lambda_stream::testing::TestEmulator;
use lambda_stream::{Body, Context, Request};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use crate::common::{self, first_line};

#[tokio::test]
async fn unsigned_uploads_to_an_aws_iam_url_are_refused_before_their_body() {
    let _alone = common::measured().await;
    let config = EmulatorConfig::default()
        .with_auth_type(AuthType::AwsIam)
        .with_iam_key(IamKey::new("AKIDLOCAL", "secret"));
    let emulator = TestEmulator::start(config, |_: Request, _: Context| async {
        http::Response::builder().body(Body::from("ran"))
    })
    .await
    .unwrap();
    let before = common::proc_status("VmRSS:");
    let mut parked = Vec::new();
    for path in ["/", "/2015-03-31/functions/local/invocations"] {
        for _ in 0..15 {
            let mut stream = TcpStream::connect(emulator.url_addr()).await.unwrap();
            let length = 6 * 1024 * 1024 - 1;
            let head =
                format!("POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n");
            stream.write_all(head.as_bytes()).await.unwrap();
            // A little of the body, then the client parks: the answer comes without the rest.
            stream.write_all(&[b'x'; 4096]).await.unwrap();
            assert_eq!(
                first_line(&mut stream).await,
                "HTTP/1.1 403 Forbidden",
                "{path}"
            );
            parked.push(stream);
        }
    }
    let grown_kib = common::proc_status("VmRSS:").saturating_sub(before);
    // 30 parked 6 MiB uploads buffered would be 180 MiB; refused at their head, nothing is.
    assert!(grown_kib < 32 * 1024, "RSS grew by {grown_kib} KiB");
}
