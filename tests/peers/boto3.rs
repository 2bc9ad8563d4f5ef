//! A real AWS SDK against the emulator: boto3 (`tests/clients/boto3_checks.py`) calls `Invoke`
//! and `InvokeWithResponseStream` on `lambda-stream serve --auth-type AWS_IAM`, reads live
//! `PayloadChunk` events and `InvokeComplete` error codes, and signs Function URL requests
//! with botocore, as it would against AWS. `.ci/run` installs boto3; elsewhere the test is
//! skipped with a message when boto3 is missing.

use tokio::process::Command;

use crate::common::binary;
use crate::common::spawn_announced;

const KEY_ID: &str = "AKIDBOTO3LOCAL";
const SECRET: &str = "boto3/local+secret";

#[tokio::test]
#[cfg_attr(missing_boto3, ignore = env!("MISSING_BOTO3"))]
async fn boto3_invokes_streams_and_signs_like_against_aws() {
    let runtime = concat!(env!("CARGO_MANIFEST_DIR"), "/functions/python_runtime.py");
    let checks = concat!(env!("CARGO_MANIFEST_DIR"), "/clients/boto3_checks.py");
    let mut command = Command::new(binary("lambda-stream").await);
    command
        .args([
            "serve",
            "--port",
            "0",
            "--auth-type",
            "AWS_IAM",
            "--timeout",
            "20",
            "--",
        ])
        .args(["python3", runtime])
        .env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET);
    let (port, mut cli) = spawn_announced(command).await;
    let output = Command::new("python3")
        .arg(checks)
        .arg(format!("http://127.0.0.1:{port}"))
        .env("AWS_ACCESS_KEY_ID", KEY_ID)
        .env("AWS_SECRET_ACCESS_KEY", SECRET)
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE")
        .output();
    let output = tokio::time::timeout(std::time::Duration::from_secs(120), output)
        .await
        .expect("the boto3 checks finished within 120 s")
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    eprintln!("{stdout}{}", String::from_utf8_lossy(&output.stderr));
    assert!(output.status.success(), "boto3 checks failed:\n{stdout}");
    assert!(stdout.contains("all boto3 checks passed"));
    cli.kill().await.unwrap();
}
