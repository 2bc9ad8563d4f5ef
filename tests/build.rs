//! Which real peers this machine has, decided when the tests are built: a test whose peer is
//! missing is built as `#[ignore = "<what is missing and how to get it>"]`, so the summary
//! counts it as ignored, never as passed (`cargo test -- --include-ignored` runs it anyway).
//! Where a peer is required (`LAMBDA_STREAM_BROWSER_TESTS=required`,
//! `LAMBDA_STREAM_RIE_TESTS=required`, `CI` for boto3 and python3, as `.ci/run` sets them),
//! nothing is ignored: a missing peer fails its tests.

use std::path::Path;
use std::process::Command;

fn main() {
    for var in [
        "PATH",
        "CI",
        "CHROMIUM",
        "LAMBDA_STREAM_RIE",
        "LAMBDA_STREAM_RIE_TESTS",
        "LAMBDA_STREAM_BROWSER_TESTS",
    ] {
        println!("cargo::rerun-if-env-changed={var}");
    }
    println!("cargo::rerun-if-changed=browser/node_modules");
    println!(
        "cargo::rustc-check-cfg=cfg(missing_python3, missing_boto3, missing_browser, missing_rie)"
    );
    let ci = std::env::var_os("CI").is_some();
    let python3 = runs("python3", &["-V"]);
    decide(
        "python3",
        ci,
        (!python3).then(|| "python3 is not installed".to_owned()),
    );
    let boto3 = runs("python3", &["-c", "import boto3"]);
    decide(
        "boto3",
        ci,
        (!boto3).then(|| "boto3 is not installed (pip install boto3)".to_owned()),
    );
    let browser_required = required("LAMBDA_STREAM_BROWSER_TESTS");
    decide("browser", browser_required, missing_browser_part());
    let rie_required = required("LAMBDA_STREAM_RIE_TESTS");
    let rie_missing =
        missing_rie().or_else(|| (!python3).then(|| "python3 is not installed".to_owned()));
    decide("rie", rie_required, rie_missing);
}

/// Ignores the peer's tests (with `missing` as the reason) unless the peer is required here.
fn decide(peer: &str, required: bool, missing: Option<String>) {
    let Some(missing) = missing.filter(|_| !required) else {
        return;
    };
    println!("cargo::rustc-cfg=missing_{peer}");
    println!("cargo::rustc-env=MISSING_{}={missing}", peer.to_uppercase());
    println!("cargo::warning=the {peer} tests are ignored: {missing}");
}

fn required(var: &str) -> bool {
    std::env::var(var).is_ok_and(|value| value == "required")
}

fn runs(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .is_ok_and(|output| output.status.success())
}

/// What the browser tests lack: Chromium, the driver's `playwright-core`, or node.
fn missing_browser_part() -> Option<String> {
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    if !Path::new(&chromium).exists() {
        return Some(format!(
            "no Chromium at {chromium} (apt-get install chromium)"
        ));
    }
    if !Path::new("browser/node_modules/playwright-core").exists() {
        return Some("no tests/browser/node_modules (npm ci --prefix tests/browser)".to_owned());
    }
    (!runs("node", &["--version"])).then(|| "no node on PATH".to_owned())
}

/// What the RIE tests lack: `LAMBDA_STREAM_RIE`, the path to AWS's RIE binary.
fn missing_rie() -> Option<String> {
    match std::env::var_os("LAMBDA_STREAM_RIE") {
        None => Some(
            "LAMBDA_STREAM_RIE is not set (CONTRIBUTING.md says where RIE comes from)".to_owned(),
        ),
        Some(path) if !Path::new(&path).is_file() => {
            Some(format!("LAMBDA_STREAM_RIE={path:?} is not a file"))
        }
        Some(_) => None,
    }
}
