//! A real AWS SDK against the emulator: boto3 (`tests/clients/boto3_checks.py`) calls `Invoke`
//! and `InvokeWithResponseStream` on `lambda-stream serve --auth-type AWS_IAM`, reads live
//! `PayloadChunk` events and `InvokeComplete` error codes, and signs Function URL requests
//! with botocore, as it would against AWS. `.ci/run` installs boto3; elsewhere the test is
//! skipped with a message when boto3 is missing.

use tokio::process::Command;

mod common;
use common::spawn_announced;

const KEY_ID: &str = "AKIDBOTO3LOCAL";
const SECRET: &str = "boto3/local+secret";

async fn boto3_installed() -> bool {
    let probe = Command::new("python3")
        .args(["-c", "import boto3"])
        .output()
        .await;
    probe.is_ok_and(|output| output.status.success())
}

#[tokio::test]
async fn boto3_invokes_streams_and_signs_like_against_aws() {
    if !boto3_installed().await {
        assert!(
            std::env::var_os("CI").is_none(),
            "CI must have boto3 (pip install boto3)"
        );
        eprintln!("SKIPPED: boto3 is not installed (pip install boto3) - the SDK test did not run");
        return;
    }
    let runtime = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/functions/python_runtime.py"
    );
    let checks = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/clients/boto3_checks.py");
    let mut command = Command::new(env!("CARGO_BIN_EXE_lambda-stream"));
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
