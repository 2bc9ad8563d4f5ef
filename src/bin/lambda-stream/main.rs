//! `lambda-stream serve -- <command...>`: run any Lambda runtime binary behind a local,
//! streaming Function URL. `lambda-stream get <url>` (feature `client`): download an export
//! whole, page after page.

use std::process::ExitCode;
use std::time::Duration;

use lambda_stream::emulator::{
    AuthType, Cors, Emulator, EmulatorConfig, Front, IamKey, InstanceId,
};
use lambda_stream::{BandwidthModel, Budget, Deployment, RuntimeApiAddress};
use tokio::process::Command;

#[cfg(feature = "client")]
mod get;
#[cfg(feature = "client")]
mod join;
#[cfg(feature = "client")]
mod output;
#[cfg(feature = "client")]
mod progress;

const USAGE: &str = "\
usage: lambda-stream serve [options] -- <command> [args...]
       lambda-stream get [options] <url>     (downloads an export whole; get --help)

Runs <command> as a Lambda function (any runtime: lambda-stream, lambda_runtime, Node, Python...)
behind a local Function URL, restarting it when it exits.

options:
  --port <n>            Function URL port (default 9000)
  --invoke-mode <mode>  RESPONSE_STREAM (default) or BUFFERED
  --timeout <seconds>   function timeout (default 60)
  --budget <bytes>      response budget, both invoke modes (default 78643200 = 75 MiB; AWS: 200 MB)
  --function-name <n>   name used in the ARN and AWS_LAMBDA_FUNCTION_NAME (default local)
  --concurrency <n>     function processes (default 1); one more concurrent request gets 429
  --environment-concurrency <n>
                        invocations each process serves at once, as one Lambda Managed
                        Instances environment (AWS_LAMBDA_MAX_CONCURRENCY=<n>; default 1)
  --auth-type <type>    NONE (default) or AWS_IAM: SigV4 (service lambda, us-east-1) checked
                        against AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY, or --iam-keys
  --iam-keys <file>     JSON array of {\"AccessKeyId\",\"SecretAccessKey\",\"AccountId\"?,..}
  --region <name>       region requests are signed for (default us-east-1)
  --cors <json>         CORS as `aws lambda create-function-url-config --cors` takes it,
                        e.g. '{\"AllowOrigins\":[\"*\"],\"AllowMethods\":[\"GET\"]}'
  --throttle <model>    aws: pace streams as AWS does (6 MiB at once, then 2 MiB/s);
                        <burst>:<bytes-per-second> for another model
  --cancel-on-disconnect
                        stop a function whose client went away (AWS lets it run on)
  --tenant-isolation    Lambda's tenant isolation mode: each Invoke names its tenant
                        (X-Amz-Tenant-Id), a process serves one tenant, no Function URL
  --front <front>       function-url (default), or an API Gateway REST API proxying every
                        path to the function: rest-api (regional), rest-api-edge,
                        rest-api-private (payload 1.0 events, the gateway's limits and errors)
  -h, --help            this text

Also served on the same port, the Lambda API's invoke routes (the function's bytes as written,
prelude included, as AWS passes them):
  POST /2015-03-31/functions/<name>/invocations                    Invoke
  POST /2021-11-15/functions/<name>/response-streaming-invocations InvokeWithResponseStream";

#[derive(Debug, Clone, PartialEq)]
struct ServeArgs {
    port: u16,
    /// Invoke mode, budget and timeout: served by the emulator and handed to each function
    /// process, so both answer by one description.
    deployment: Deployment,
    function_name: String,
    concurrency: usize,
    environment_concurrency: usize,
    auth_type: AuthType,
    region: String,
    cors: Option<Cors>,
    iam_keys: Option<String>,
    throttle: Option<BandwidthModel>,
    cancel_on_disconnect: bool,
    tenant_isolation: bool,
    front: Front,
    command: Vec<String>,
}

#[derive(Debug, PartialEq)]
enum Parsed {
    Serve(Box<ServeArgs>),
    Help,
}

/// `aws`, `none`, or `<burst>:<bytes-per-second>`.
fn parse_throttle(text: &str) -> Option<Option<BandwidthModel>> {
    match text {
        "aws" => Some(Some(BandwidthModel::AWS)),
        "none" => Some(None),
        _ => {
            let (burst, rate) = text.split_once(':')?;
            let model = BandwidthModel {
                burst_bytes: burst.parse().ok()?,
                bytes_per_second: rate.parse().ok().filter(|r| *r > 0)?,
            };
            Some(Some(model))
        }
    }
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
        deployment: Deployment::default(),
        function_name: "local".to_owned(),
        concurrency: 1,
        environment_concurrency: 1,
        auth_type: AuthType::None,
        region: "us-east-1".to_owned(),
        cors: None,
        iam_keys: None,
        throttle: None,
        cancel_on_disconnect: false,
        tenant_isolation: false,
        front: Front::FunctionUrl,
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
                let mode = v.parse().map_err(|_| invalid(arg, &v))?;
                parsed.deployment = parsed.deployment.with_invoke_mode(mode);
            }
            "--timeout" => {
                let v = value(arg)?;
                let seconds: f64 = v.parse().map_err(|_| invalid(arg, &v))?;
                let timeout = Duration::try_from_secs_f64(seconds).map_err(|_| invalid(arg, &v))?;
                let deployment = parsed.deployment.with_timeout(timeout);
                // The range is the deployment's own rule (more than 0, at most 24 hours).
                deployment
                    .validate()
                    .map_err(|error| format!("{}: {error}", invalid(arg, &v)))?;
                parsed.deployment = deployment;
            }
            "--budget" => {
                let v = value(arg)?;
                let bytes = v.parse().map_err(|_| invalid(arg, &v))?;
                parsed.deployment = parsed.deployment.with_budget(Budget::bytes(bytes));
            }
            "--function-name" => parsed.function_name = value(arg)?,
            "--environment-concurrency" => {
                let v = value(arg)?;
                parsed.environment_concurrency = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=1024).contains(n))
                    .ok_or_else(|| invalid(arg, &v))?;
            }
            "--concurrency" => {
                let v = value(arg)?;
                parsed.concurrency = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=256).contains(n))
                    .ok_or_else(|| invalid(arg, &v))?;
            }
            "--auth-type" => {
                let v = value(arg)?;
                parsed.auth_type = v.parse().map_err(|_| invalid(arg, &v))?;
            }
            "--region" => parsed.region = value(arg)?,
            "--cors" => {
                let v = value(arg)?;
                let cors: Cors = serde_json::from_str(&v)
                    .map_err(|e| format!("invalid value {v:?} for --cors: {e}"))?;
                cors.validate()
                    .map_err(|e| format!("invalid value {v:?} for --cors: {e}"))?;
                parsed.cors = Some(cors);
            }
            "--throttle" => {
                let v = value(arg)?;
                parsed.throttle = parse_throttle(&v).ok_or_else(|| invalid(arg, &v))?;
            }
            "--iam-keys" => parsed.iam_keys = Some(value(arg)?),
            "--cancel-on-disconnect" => parsed.cancel_on_disconnect = true,
            "--tenant-isolation" => parsed.tenant_isolation = true,
            "--front" => {
                let v = value(arg)?;
                parsed.front = v.parse().map_err(|_| invalid(arg, &v))?;
            }
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    if parsed.command.is_empty() {
        return Err("missing the function command after --".to_owned());
    }
    Ok(Parsed::Serve(Box::new(parsed)))
}

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    #[cfg(target_os = "linux")]
    if args.first().map(String::as_str) == Some(tied::SUBCOMMAND) {
        return tied::exec(&args[1..]);
    }
    if args.first().map(String::as_str) == Some("get") {
        return get_command(&args[1..]).await;
    }
    let serve = match parse_args(&args) {
        Ok(Parsed::Serve(serve)) => *serve,
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

/// `lambda-stream get ...`: exit status 0 once the last page ended cleanly, 1 when a page
/// failed, 2 for bad arguments.
#[cfg(feature = "client")]
async fn get_command(args: &[String]) -> ExitCode {
    let parsed = match get::parse(args) {
        Ok(Some(parsed)) => parsed,
        Ok(None) => {
            println!("{}", get::USAGE);
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("lambda-stream get: {message}\n\n{}", get::USAGE);
            return ExitCode::from(2);
        }
    };
    match get::run(parsed).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("lambda-stream get: {message}");
            ExitCode::FAILURE
        }
    }
}

/// Without the `client` feature, `get` says how to get it.
#[cfg(not(feature = "client"))]
async fn get_command(_args: &[String]) -> ExitCode {
    eprintln!(
        "lambda-stream get: this build has no client; install it with \
         `cargo install lambda-stream --features client`"
    );
    ExitCode::from(2)
}

/// Whether `program` can be started: a path to a file, or a name found on `PATH`. Checked
/// before serving, so a typo is one clear error instead of a function that never starts.
fn find_program(program: &str) -> Result<(), String> {
    let path = std::path::Path::new(program);
    let found = if path.components().count() > 1 {
        path.is_file()
    } else {
        std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(path).is_file()))
    };
    if found {
        Ok(())
    } else {
        Err(format!(
            "cannot start `{program}`: no such file, or not on PATH"
        ))
    }
}

async fn run(serve: ServeArgs) -> Result<(), String> {
    find_program(&serve.command[0])?;
    let mut config = EmulatorConfig::default()
        .with_url_addr(([127, 0, 0, 1], serve.port).into())
        .with_deployment(serve.deployment.clone())
        .with_environment_concurrency(serve.environment_concurrency)
        .with_function_name(serve.function_name.clone())
        .with_max_concurrency(serve.concurrency * serve.environment_concurrency)
        .with_region(serve.region.clone())
        .with_auth_type(serve.auth_type)
        .with_cancel_on_disconnect(serve.cancel_on_disconnect)
        .with_tenant_isolation(serve.tenant_isolation)
        .with_front(serve.front);
    if serve.auth_type == AuthType::AwsIam {
        let keys = match &serve.iam_keys {
            Some(path) => {
                let text = std::fs::read_to_string(path)
                    .map_err(|e| format!("cannot read --iam-keys {path}: {e}"))?;
                IamKey::from_json(&text).map_err(|e| format!("--iam-keys {path}: {e}"))?
            }
            None => IamKey::from_env().into_iter().collect(),
        };
        if keys.is_empty() {
            return Err("--auth-type AWS_IAM needs keys: --iam-keys <file>, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (the key clients sign with)".to_owned());
        }
        config = keys.into_iter().fold(config, EmulatorConfig::with_iam_key);
    }
    if let Some(cors) = serve.cors.clone() {
        config = config.with_cors(cors);
    }
    if let Some(model) = serve.throttle {
        config = config.with_throttle(model);
    }
    let mut emulator = Emulator::start(config)
        .await
        .map_err(|e| format!("cannot listen on 127.0.0.1:{}: {e}", serve.port))?;
    // The first process runs on the Runtime API the emulator starts with; each further one on
    // an API of its own.
    let mut instances = vec![(emulator.first_instance(), emulator.runtime_api())];
    for _ in 1..serve.concurrency {
        let instance = emulator
            .add_instance()
            .await
            .map_err(|e| format!("cannot open a Runtime API: {e}"))?;
        instances.push(instance);
    }
    let apis: Vec<String> = instances
        .iter()
        .map(|(_, api)| api.authority().to_owned())
        .collect();
    eprintln!(
        "lambda-stream: {} {} at {} ({}) -> `{}` x{} (AWS_LAMBDA_RUNTIME_API={})",
        serve.deployment.invoke_mode(),
        serve.front,
        emulator.url(),
        serve.auth_type,
        serve.command.join(" "),
        serve.concurrency,
        apis.join(", ")
    );
    let emulator = std::sync::Arc::new(emulator);
    let mut supervisors = tokio::task::JoinSet::new();
    for (instance, api) in instances {
        supervisors.spawn(supervise(serve.clone(), emulator.clone(), instance, api));
    }
    let result = tokio::select! {
        Some(Ok(Err(message))) = supervisors.join_next() => Err(message),
        signal = stop_signal() => {
            eprintln!("lambda-stream: {signal}: stopping the function processes");
            Ok(())
        }
    };
    // Each supervisor's child is killed as its task is dropped (`kill_on_drop`).
    supervisors.shutdown().await;
    result
}

/// Completes on SIGINT (Ctrl-C) or SIGTERM (a service manager, `docker stop`, `kill`), naming
/// it: `serve` then stops its function processes and exits.
async fn stop_signal() -> &'static str {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            return tokio::select! {
                _ = tokio::signal::ctrl_c() => "SIGINT",
                _ = terminate.recv() => "SIGTERM",
            };
        }
    }
    let _ = tokio::signal::ctrl_c().await;
    "SIGINT"
}

/// The function command, tied to this process on Linux: it runs through `lambda-stream`'s
/// own [`tied`] step, which asks the kernel to kill it when `serve` dies, even by SIGKILL.
fn function_command(command: &[String]) -> Command {
    #[cfg(target_os = "linux")]
    if let Ok(exe) = std::env::current_exe() {
        let mut tied = Command::new(exe);
        tied.arg(tied::SUBCOMMAND)
            .arg(std::process::id().to_string())
            .arg("--")
            .args(command);
        return tied;
    }
    let mut plain = Command::new(&command[0]);
    plain.args(&command[1..]);
    plain
}

/// How a process ended, in Lambda's words (its runtime is written in Go, whose wording this is):
/// `exit status 3`, `signal: killed`.
fn exit_description(status: &std::process::ExitStatus) -> String {
    if let Some(code) = status.code() {
        return format!("exit status {code}");
    }
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt;
        if let Some(signal) = status.signal() {
            let name = match signal {
                6 => "aborted".to_owned(),
                9 => "killed".to_owned(),
                11 => "segmentation fault".to_owned(),
                15 => "terminated".to_owned(),
                other => other.to_string(),
            };
            return format!("signal: {name}");
        }
    }
    status.to_string()
}

/// Starts one function process on the Runtime API `api`, with the variables Lambda sets; its
/// log goes through the emulator (echoed here), which keeps it for log tails.
fn spawn_function(
    serve: &ServeArgs,
    emulator: &Emulator,
    instance: InstanceId,
    api: &RuntimeApiAddress,
) -> Result<tokio::process::Child, String> {
    let mut command = function_command(&serve.command);
    if serve.environment_concurrency > 1 {
        // As Lambda Managed Instances set it; absent for one invocation at a time.
        let concurrency = serve.environment_concurrency.to_string();
        command.env("AWS_LAMBDA_MAX_CONCURRENCY", concurrency);
    }
    let memory = lambda_stream::emulator::EmulatorConfig::FUNCTION_MEMORY_MB.to_string();
    command
        .env("AWS_LAMBDA_RUNTIME_API", api.authority())
        .envs(serve.deployment.env())
        .env("AWS_LAMBDA_FUNCTION_NAME", &serve.function_name)
        .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", memory)
        .env("AWS_REGION", &serve.region)
        // The Lambda metadata endpoint answers beside the Runtime API, as on Lambda.
        .env("AWS_LAMBDA_METADATA_API", api.authority())
        .env("AWS_LAMBDA_METADATA_TOKEN", emulator.metadata_token())
        .kill_on_drop(true);
    #[cfg(target_os = "linux")]
    command
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let mut child = command
        .spawn()
        .map_err(|e| format!("cannot start `{}`: {e}", serve.command[0]))?;
    #[cfg(target_os = "linux")]
    if let (Some(stdout), Some(stderr)) = (child.stdout.take(), child.stderr.take()) {
        emulator.capture_output(instance, stdout, stderr);
    }
    #[cfg(not(target_os = "linux"))]
    let _ = instance;
    Ok(child)
}

/// Runs one function process on its own Runtime API, restarting it when it exits and failing
/// only its own invocations.
async fn supervise(
    serve: ServeArgs,
    emulator: std::sync::Arc<Emulator>,
    instance: InstanceId,
    api: RuntimeApiAddress,
) -> Result<(), String> {
    let mut backoff = Duration::from_millis(100);
    loop {
        emulator.instance_starting(instance);
        let mut child = spawn_function(&serve, &emulator, instance, &api)?;
        let started = tokio::time::Instant::now();
        let status = tokio::select! {
            status = child.wait() => status.map_or_else(|e| e.to_string(), |s| exit_description(&s)),
            why = emulator.environment_reset(instance) => {
                // As Lambda resets the execution environment of a timed-out invocation (or, with
                // tenant isolation, starts a new one for another tenant).
                let _ = child.kill().await;
                eprintln!("lambda-stream: {why}; stopping the function and starting it again");
                emulator.fail_instance(instance, &format!("the function was reset: {why}"));
                backoff = Duration::from_millis(100);
                continue;
            }
        };
        eprintln!(
            "lambda-stream: the function exited ({status}); answering its requests with 502 and restarting"
        );
        emulator.instance_exited(instance, &status);
        // A function that keeps crashing at start-up is restarted less and less often.
        backoff = if started.elapsed() > Duration::from_secs(10) {
            Duration::from_millis(100)
        } else {
            (backoff * 2).min(Duration::from_secs(5))
        };
        tokio::time::sleep(backoff).await;
    }
}

/// The step between `serve` and a function process on Linux: `lambda-stream <SUBCOMMAND>
/// <serve's pid> -- <command...>` asks the kernel for SIGKILL when its parent dies
/// (`PR_SET_PDEATHSIG`, kept across `exec`), checks that its parent is still `serve`, then
/// becomes the function command. So no function outlives `serve`, however it ends.
#[cfg(target_os = "linux")]
mod tied {
    use std::os::unix::process::CommandExt;
    use std::process::ExitCode;

    use rustix::process::{Signal, getppid, set_parent_process_death_signal};

    /// The internal subcommand (not for users: `serve` runs it).
    pub(super) const SUBCOMMAND: &str = "__function-process";

    pub(super) fn exec(args: &[String]) -> ExitCode {
        let (parent, command) = match args {
            [parent, separator, command @ ..] if separator == "--" && !command.is_empty() => {
                (parent, command)
            }
            _ => {
                eprintln!("lambda-stream: {SUBCOMMAND} <pid> -- <command...> (run by serve)");
                return ExitCode::from(2);
            }
        };
        if let Err(error) = set_parent_process_death_signal(Some(Signal::KILL)) {
            eprintln!("lambda-stream: cannot tie the function to serve: {error}");
        }
        // serve may have died before the kernel was asked: then nobody is left to serve.
        let parent_alive = getppid().is_some_and(|pid| pid.as_raw_nonzero().to_string() == *parent);
        if !parent_alive {
            return ExitCode::from(1);
        }
        let error = std::process::Command::new(&command[0])
            .args(&command[1..])
            .exec();
        eprintln!("lambda-stream: cannot start `{}`: {error}", command[0]);
        ExitCode::from(127)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use lambda_stream::InvokeMode;

    fn args(text: &str) -> Vec<String> {
        text.split_whitespace().map(str::to_owned).collect()
    }

    #[test]
    fn parses_serve_with_every_option() {
        let parsed = parse_args(&args(
            "serve --port 9100 --invoke-mode BUFFERED --timeout 2.5 --budget 1000 --function-name f --concurrency 3 --environment-concurrency 8 --auth-type AWS_IAM --region eu-west-1 --cors {\"AllowOrigins\":[\"*\"]} --throttle aws --cancel-on-disconnect --tenant-isolation --front rest-api-edge -- node index.mjs --flag",
        ))
        .unwrap();
        assert_eq!(
            parsed,
            Parsed::Serve(Box::new(ServeArgs {
                port: 9100,
                deployment: Deployment::default()
                    .with_invoke_mode(InvokeMode::Buffered)
                    .with_timeout(Duration::from_millis(2500))
                    .with_budget(Budget::bytes(1000)),
                function_name: "f".into(),
                concurrency: 3,
                environment_concurrency: 8,
                auth_type: AuthType::AwsIam,
                region: "eu-west-1".into(),
                cors: Some(serde_json::from_str(r#"{"AllowOrigins":["*"]}"#).unwrap()),
                iam_keys: None,
                throttle: Some(BandwidthModel::AWS),
                cancel_on_disconnect: true,
                tenant_isolation: true,
                front: Front::RestApi(lambda_stream::emulator::EndpointType::Edge),
                command: args("node index.mjs --flag"),
            }))
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
        assert_eq!(
            parse_args(&args("serve --concurrency 0 -- f")).unwrap_err(),
            "invalid value \"0\" for --concurrency"
        );
        assert!(
            parse_args(&args("serve --cors {\"MaxAge\":90000} -- f"))
                .unwrap_err()
                .contains("MaxAge 90000 is over 86400")
        );
        assert_eq!(
            parse_args(&args("serve --auth-type IAM -- f")).unwrap_err(),
            "invalid value \"IAM\" for --auth-type"
        );
        assert_eq!(
            parse_throttle("1000:500"),
            Some(Some(BandwidthModel {
                burst_bytes: 1000,
                bytes_per_second: 500
            }))
        );
        assert_eq!(parse_throttle("1000:0"), None);
        assert_eq!(
            parse_args(&args("serve --throttle fast -- f")).unwrap_err(),
            "invalid value \"fast\" for --throttle"
        );
        assert_eq!(parse_args(&args("--help")).unwrap(), Parsed::Help);
    }

    #[test]
    fn the_help_names_each_invoke_route_in_full() {
        for route in [
            "POST /2015-03-31/functions/<name>/invocations",
            "POST /2021-11-15/functions/<name>/response-streaming-invocations",
        ] {
            assert!(USAGE.contains(route), "{route}");
        }
        assert!(!USAGE.contains(".../"), "no route abbreviated");
    }

    #[cfg(unix)]
    #[test]
    fn exits_are_worded_as_lambda_words_them() {
        use std::os::unix::process::ExitStatusExt;
        let exited = std::process::ExitStatus::from_raw(3 << 8);
        assert_eq!(exit_description(&exited), "exit status 3");
        let killed = std::process::ExitStatus::from_raw(9);
        assert_eq!(exit_description(&killed), "signal: killed");
        let other = std::process::ExitStatus::from_raw(10);
        assert_eq!(exit_description(&other), "signal: 10");
    }
}
