//! Where a function starts: [`run`], [`run_with`] and [`run_with_init`] choose between the
//! runtime loop on Lambda's Runtime API and, on your machine, the embedded emulator serving the
//! same handler. This module composes the two shells; `function/` never imports `emulator/`.

use std::future::Future;
#[cfg(feature = "emulator")]
use std::sync::Arc;

#[cfg(feature = "emulator")]
use tokio::task::JoinSet;

use crate::aliases::BoxError;
#[cfg(feature = "emulator")]
use crate::emulator::{Emulator, EmulatorConfig};
use crate::error::Error;
use crate::function::{Config, Handler, Runtime};
#[cfg(feature = "emulator")]
use crate::wire::{ErrorType, FunctionError};

/// Runs a handler on the Runtime API described by the environment.
///
/// Without `AWS_LAMBDA_RUNTIME_API` (on your machine) and with the `emulator` feature (on by
/// default), it starts the local emulator instead and serves the handler in-process behind a
/// Function URL at `http://127.0.0.1:9000/` (port from `LAMBDA_STREAM_PORT`).
///
/// Reads `AWS_LAMBDA_RUNTIME_API` (as `host:port` or `http://host:port/prefix`) and
/// `LAMBDA_STREAM_INVOKE_MODE` (`RESPONSE_STREAM`, the default, or `BUFFERED`), then serves
/// invocations until the Runtime API goes away.
///
/// # Errors
/// [`Error::Config`] for a missing or bad environment, and an error when the Runtime API cannot
/// be reached or answers `/next` with a failure. Handler failures are not errors: they are
/// reported to Lambda and the loop goes on.
///
/// # One thread on Lambda
/// Lambda sends an environment one invocation at a time (and below 1,769 MB a function has
/// less than one vCPU), so start a `current_thread` runtime, as the examples do:
/// `#[tokio::main(flavor = "current_thread")]` starts sooner, holds less memory and spends
/// less CPU per record streamed than the multi-thread runtime (`docs/perf/` measures both).
/// On Lambda Managed Instances (`AWS_LAMBDA_MAX_CONCURRENCY` above 1) `run` serves that many
/// invocations at once: use the multi-thread runtime there (`#[tokio::main]`), so they
/// spread over the instance's vCPUs. Locally the emulator has a thread of its own either way.
///
/// ```no_run
/// use lambda_stream::{Body, Context, Request, Response};
///
/// async fn handler(_: Request, _: Context) -> Result<Response, http::Error> {
///     http::Response::builder().body(Body::from("hello"))
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), lambda_stream::Error> {
///     lambda_stream::run(handler).await
/// }
/// ```
pub async fn run<H: Handler>(handler: H) -> Result<(), Error> {
    run_with(handler, |config| config).await
}

/// Like [`run`], with settings applied to the [`Config`] read from the environment, on Lambda
/// and in local mode alike.
///
/// # Errors
/// As [`run`].
///
/// ```no_run
/// use lambda_stream::{Body, Budget, Context, Request, Response};
///
/// async fn handler(_: Request, _: Context) -> Result<Response, http::Error> {
///     http::Response::builder().body(Body::from("hello"))
/// }
///
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), lambda_stream::Error> {
///     lambda_stream::run_with(handler, |config| config.with_budget(Budget::AWS_200_MB)).await
/// }
/// ```
pub async fn run_with<H, F>(handler: H, configure: F) -> Result<(), Error>
where
    H: Handler,
    F: FnOnce(Config) -> Config,
{
    crate::logging::install_default();
    #[cfg(feature = "emulator")]
    if std::env::var_os(crate::settings::RUNTIME_API_ENV).is_none() {
        return serve_embedded(handler, configure).await;
    }
    Runtime::new(configure(Config::from_env()?))
        .run(handler)
        .await
}

/// Like [`run`], with a fallible start-up step: a failure is posted to `/runtime/init/error`
/// (type `Function.InitError` unless it is a [`FunctionError`]) and returned.
///
/// # Errors
/// As [`run`], plus [`Error::Init`] when `init` fails.
pub async fn run_with_init<F, Fut, H, E>(init: F) -> Result<(), Error>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<H, E>>,
    H: Handler,
    E: Into<BoxError>,
{
    crate::logging::install_default();
    #[cfg(feature = "emulator")]
    if std::env::var_os(crate::settings::RUNTIME_API_ENV).is_none() {
        let handler = init().await.map_err(|error| {
            Error::Init(FunctionError::from_error(
                error.into(),
                ErrorType::INIT_ERROR,
            ))
        })?;
        return serve_embedded(handler, |config| config).await;
    }
    Runtime::from_env()?.run_with_init(init).await
}

/// Serves `handler` in-process behind a local Function URL: the embedded mode of
/// [`run`](crate::run) when `AWS_LAMBDA_RUNTIME_API` is not set. The function is configured
/// first, and the emulator serves the [`Deployment`](crate::Deployment) it was configured with
/// (invoke mode, budget, limits, timeout), so what the function answers is what the URL serves.
#[cfg(feature = "emulator")]
async fn serve_embedded<H, F>(handler: H, configure: F) -> Result<(), Error>
where
    H: Handler,
    F: FnOnce(Config) -> Config,
{
    let config = EmulatorConfig::from_env()?;
    let function = configure(not_yet_listening(&config));
    let config = config.with_deployment(function.deployment().clone());
    config.validate()?;
    let (instances, timeout) = (config.max_concurrency(), config.timeout());
    let requested = config.url_addr();
    let announced = format!("{} {}", config.invoke_mode(), config.front());
    let mut emulator = start_on_own_thread(config)
        .await
        .map_err(|source| Error::Bind {
            address: requested.to_string(),
            source,
        })?;
    eprintln!(
        "lambda-stream: no AWS_LAMBDA_RUNTIME_API, serving locally as a {announced} at {}",
        emulator.url()
    );
    eprintln!("lambda-stream: try: curl -N {}", emulator.url());
    let runtime = Runtime::new(attached(function, &emulator));
    let result = run_loops(runtime, handler, instances).await;
    emulator.stop_function("the function stopped");
    // What the loops answered still reaches its clients, to its last byte, before the process
    // ends.
    let drained = async {
        emulator.idle().await;
        emulator.shut_down().await;
    };
    let _ = tokio::time::timeout(timeout, drained).await;
    result
}

/// The function's settings before the emulator listens: the deployment read from the
/// environment, which `run_with`'s closure may change; the Runtime API is set once known.
#[cfg(feature = "emulator")]
fn not_yet_listening(config: &EmulatorConfig) -> Config {
    let unbound = crate::wire::RuntimeApiAddress::from_socket_addr(config.runtime_addr());
    Config::new(unbound).with_deployment(config.deployment().clone())
}

/// The configured function, answering at the emulator's Runtime API and reading its metadata
/// endpoint.
#[cfg(feature = "emulator")]
fn attached(function: Config, emulator: &Emulator) -> Config {
    let runtime_api = emulator.runtime_api();
    let info = function.function_info().clone().with_metadata_endpoint(
        runtime_api.authority().to_owned(),
        emulator.metadata_token().to_owned(),
    );
    function
        .with_runtime_api(runtime_api)
        .with_function_info(info)
}

/// One runtime loop per concurrent execution, as Lambda runs one instance per request. Every
/// loop runs until it ends (on SIGTERM, once its invocation in flight is answered): the first
/// to end does not cut the others' streams.
#[cfg(feature = "emulator")]
async fn run_loops<H: Handler>(
    runtime: Runtime,
    handler: H,
    instances: usize,
) -> Result<(), Error> {
    let handler = Arc::new(handler);
    let mut loops = JoinSet::new();
    for _ in 0..instances {
        loops.spawn(runtime.clone().run(handler.clone()));
    }
    let mut result = Ok(());
    while let Some(ended) = loops.join_next().await {
        match ended {
            Ok(Err(error)) if result.is_ok() => result = Err(error),
            // A loop catches handler panics; one of its own is a bug, passed on as it is.
            Err(failed) if failed.is_panic() => std::panic::resume_unwind(failed.into_panic()),
            _ => {}
        }
    }
    result
}

/// Starts the emulator on a thread and runtime of its own, as Lambda's front end is not the
/// function's process: a handler that keeps its workers busy (rows computed or compressed
/// inside `poll_next`) cannot delay the relay to the client, and the emulator's sockets are
/// driven whatever the function's runtime is doing. The thread lives as long as the process.
#[cfg(feature = "emulator")]
async fn start_on_own_thread(config: EmulatorConfig) -> std::io::Result<Emulator> {
    let (started, start) = tokio::sync::oneshot::channel();
    std::thread::Builder::new()
        .name("lambda-stream-emulator".to_owned())
        .spawn(move || {
            let runtime = match tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            {
                Ok(runtime) => runtime,
                Err(error) => {
                    let _ = started.send(Err(error));
                    return;
                }
            };
            runtime.block_on(async move {
                let _ = started.send(Emulator::start(config).await);
                // Serve until the process ends.
                std::future::pending::<()>().await;
            });
        })?;
    start
        .await
        .map_err(|_| std::io::Error::other("the emulator thread stopped before it started"))?
}

/// The function side and the emulator together: composed here, where both shells meet.
#[cfg(all(test, feature = "emulator"))]
mod tests {
    use crate::emulator::{Emulator, EmulatorConfig};
    use crate::function::{FunctionInfo, MetadataError};

    #[tokio::test]
    async fn the_function_reads_the_emulators_metadata_endpoint() {
        let config = EmulatorConfig::default()
            .with_url_addr(([127, 0, 0, 1], 0).into())
            .with_region("ap-northeast-1");
        let emulator = Emulator::start(config).await.unwrap();
        let authority = emulator.runtime_api().authority().to_owned();
        let token = emulator.metadata_token().to_owned();
        let function = FunctionInfo::default().with_metadata_endpoint(authority.clone(), token);
        let environment = function.execution_environment().await.unwrap();
        assert_eq!(environment.availability_zone_id, "apne1-az1");

        let wrong = FunctionInfo::default().with_metadata_endpoint(authority, "wrong".into());
        let refused = wrong.execution_environment().await.unwrap_err();
        assert!(
            matches!(refused, MetadataError::Refused { status } if status == 401),
            "{refused}"
        );
        let none = FunctionInfo::default().execution_environment().await;
        assert!(matches!(none, Err(MetadataError::NotOffered)));
        let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let gone = closed.local_addr().unwrap().to_string();
        drop(closed);
        let unreachable = FunctionInfo::default().with_metadata_endpoint(gone, "t".into());
        let error = unreachable.execution_environment().await.unwrap_err();
        assert!(
            matches!(error, MetadataError::Unreachable { .. }),
            "{error}"
        );
    }
}
