//! `lambda-stream serve -- <command...>`: run any Lambda runtime binary behind a local,
//! streaming Function URL.

use std::process::ExitCode;
use std::time::Duration;

use lambda_stream::InvokeMode;
use lambda_stream::emulator::{DEFAULT_STREAM_BUDGET, DEFAULT_TIMEOUT, Emulator, EmulatorConfig};
use tokio::process::Command;

const USAGE: &str = "\
usage: lambda-stream serve [options] -- <command> [args...]

Runs <command> as a Lambda function (any runtime: lambda-stream, lambda_runtime, Node, Python...)
behind a local Function URL, restarting it when it exits.

options:
  --port <n>            Function URL port (default 9000)
  --invoke-mode <mode>  RESPONSE_STREAM (default) or BUFFERED
  --timeout <seconds>   function timeout (default 60)
  --budget <bytes>      streamed response budget (default 78643200 = 75 MiB; AWS documents 200 MB)
  --function-name <n>   name used in the ARN and AWS_LAMBDA_FUNCTION_NAME (default local)
  -h, --help            this text";

#[derive(Debug, Clone, PartialEq)]
struct ServeArgs {
    port: u16,
    invoke_mode: InvokeMode,
    timeout: Duration,
    budget: u64,
    function_name: String,
    command: Vec<String>,
}

#[derive(Debug, PartialEq)]
enum Parsed {
    Serve(ServeArgs),
    Help,
}

fn parse_args(args: &[String]) -> Result<Parsed, String> {
    let mut rest = args.iter();
    match rest.next().map(String::as_str) {
        Some("serve") => {}
        Some("-h" | "--help" | "help") | None => return Ok(Parsed::Help),
        Some(other) => return Err(format!("unknown command {other:?}")),
    }
    let mut parsed = ServeArgs {
        port: 9000,
        invoke_mode: InvokeMode::ResponseStream,
        timeout: DEFAULT_TIMEOUT,
        budget: DEFAULT_STREAM_BUDGET,
        function_name: "local".to_owned(),
        command: Vec::new(),
    };
    while let Some(arg) = rest.next() {
        let mut value = |flag: &str| {
            rest.next()
                .cloned()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        let invalid = |flag: &str, v: &str| format!("invalid value {v:?} for {flag}");
        match arg.as_str() {
            "--" => {
                parsed.command = rest.cloned().collect();
                break;
            }
            "-h" | "--help" => return Ok(Parsed::Help),
            "--port" => {
                let v = value(arg)?;
                parsed.port = v.parse().map_err(|_| invalid(arg, &v))?;
            }
            "--invoke-mode" => {
                let v = value(arg)?;
                parsed.invoke_mode = v.parse().map_err(|_| invalid(arg, &v))?;
            }
            "--timeout" => {
                let v = value(arg)?;
                let seconds: f64 = v.parse().map_err(|_| invalid(arg, &v))?;
                parsed.timeout =
                    Duration::try_from_secs_f64(seconds).map_err(|_| invalid(arg, &v))?;
            }
            "--budget" => {
                let v = value(arg)?;
                parsed.budget = v.parse().map_err(|_| invalid(arg, &v))?;
            }
            "--function-name" => parsed.function_name = value(arg)?,
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    if parsed.command.is_empty() {
        return Err("missing the function command after --".to_owned());
    }
    Ok(Parsed::Serve(parsed))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let serve = match parse_args(&args) {
        Ok(Parsed::Serve(serve)) => serve,
        Ok(Parsed::Help) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("lambda-stream: {message}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(serve).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("lambda-stream: {message}");
            ExitCode::FAILURE
        }
    }
}

async fn run(serve: ServeArgs) -> Result<(), String> {
    let config = EmulatorConfig::default()
        .with_url_addr(([127, 0, 0, 1], serve.port).into())
        .with_invoke_mode(serve.invoke_mode)
        .with_timeout(serve.timeout)
        .with_stream_budget(serve.budget)
        .with_function_name(serve.function_name.clone());
    let emulator = Emulator::start(config)
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", serve.port))?;
    let runtime_api = emulator.runtime_api();
    eprintln!(
        "lambda-stream: {} Function URL at {} -> `{}` (AWS_LAMBDA_RUNTIME_API={})",
        serve.invoke_mode,
        emulator.url(),
        serve.command.join(" "),
        runtime_api.authority()
    );
    let mut backoff = Duration::from_millis(100);
    loop {
        let mut child = Command::new(&serve.command[0])
            .args(&serve.command[1..])
            .env("AWS_LAMBDA_RUNTIME_API", runtime_api.authority())
            .env("LAMBDA_STREAM_INVOKE_MODE", serve.invoke_mode.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", &serve.function_name)
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_REGION", "us-east-1")
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("cannot start `{}`: {e}", serve.command[0]))?;
        let started = tokio::time::Instant::now();
        tokio::select! {
            status = child.wait() => {
                let status = status.map_or_else(|e| e.to_string(), |s| s.to_string());
                eprintln!("lambda-stream: the function exited ({status}); answering its requests with 502 and restarting");
                emulator.fail_in_flight(&format!("the function exited ({status})"));
            }
            _ = tokio::signal::ctrl_c() => {
                let _ = child.kill().await;
                return Ok(());
            }
        }
        // A function that keeps crashing at start-up is restarted less and less often.
        backoff = if started.elapsed() > Duration::from_secs(10) {
            Duration::from_millis(100)
        } else {
            (backoff * 2).min(Duration::from_secs(5))
        };
        tokio::time::sleep(backoff).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_serve_with_every_option() {
        let parsed = parse_args(&args(
            "serve --port 9100 --invoke-mode BUFFERED --timeout 2.5 --budget 1000 --function-name f -- node index.mjs --flag",
        ))
        .unwrap();
        assert_eq!(
            parsed,
            Parsed::Serve(ServeArgs {
                port: 9100,
                invoke_mode: InvokeMode::Buffered,
                timeout: Duration::from_millis(2500),
                budget: 1000,
                function_name: "f".into(),
                command: args("node index.mjs --flag"),
            })
        );
    }

    #[test]
    fn bad_input_is_a_clear_error() {
        assert_eq!(
            parse_args(&args("serve")).unwrap_err(),
            "missing the function command after --"
        );
        assert_eq!(
            parse_args(&args("serve --port")).unwrap_err(),
            "--port needs a value"
        );
        assert_eq!(
            parse_args(&args("serve --port x -- f")).unwrap_err(),
            "invalid value \"x\" for --port"
        );
        assert_eq!(
            parse_args(&args("serve --invoke-mode sometimes -- f")).unwrap_err(),
            "invalid value \"sometimes\" for --invoke-mode"
        );
        assert_eq!(
            parse_args(&args("deploy")).unwrap_err(),
            "unknown command \"deploy\""
        );
        assert_eq!(
            parse_args(&args("serve --what -- f")).unwrap_err(),
            "unknown option \"--what\""
        );
        assert_eq!(parse_args(&args("--help")).unwrap(), Parsed::Help);
    }
}
