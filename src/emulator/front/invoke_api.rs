//! The Lambda API's invoke routes, served on the Function URL's port, at the paths the AWS
//! SDKs call: `POST /2015-03-31/functions/{name}/invocations` (`Invoke`: `RequestResponse`,
//! `Event`, `DryRun`) and `POST /2021-11-15/functions/{name}/response-streaming-invocations`
//! (`InvokeWithResponseStream`, a live event stream), each with an optional `?Qualifier=`.
//! They require SigV4 (service `lambda`) whenever the emulator has access keys, whatever the
//! URL's auth type, and report errors in the API's own shape (`x-amzn-ErrorType`, JSON
//! `message`), not the URL's.

use std::sync::Arc;

use bytes::Bytes;
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::json;

use super::event_stream::{Failure, event_stream_response};
use super::log_tail::{LogTail, log_result};
use super::tenant;
use crate::emulator::access_log::AccessLog;
use crate::emulator::auth::iam::Scope;
use crate::emulator::config::EmulatorConfig;
use crate::emulator::lifecycle::admission::{Admitted, Refusal};
use crate::emulator::lifecycle::client_body::ClientBody;
use crate::emulator::lifecycle::collect::{Keep, read_to_end};
use crate::emulator::lifecycle::response::{closing, typed_error};
use crate::emulator::lifecycle::{CorsModel, FrontEnd};
use crate::emulator::runtime::output::TailRequest;
use crate::emulator::runtime::state::{Answer, Deadline, Invocation, Pending, State};
use crate::wire::EventContext;

/// AWS's limit on an asynchronous (`Event`) invocation's payload: 1 MB (AWS Lambda quotas).
pub(crate) const ASYNC_PAYLOAD_LIMIT: usize = 1024 * 1024;

/// `Invoke`'s path prefix (API version 2015-03-31).
const INVOKE_PREFIX: &str = "/2015-03-31/functions/";
/// `InvokeWithResponseStream`'s path prefix: another API version, 2021-11-15.
const STREAM_PREFIX: &str = "/2021-11-15/functions/";

/// Which invoke route a path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InvokeRoute {
    Invoke,
    InvokeWithResponseStream,
}

/// The function name and route of an invoke path, or `None` for any other path.
pub(crate) fn route(path: &str) -> Option<(&str, InvokeRoute)> {
    let split = |prefix: &str, action: &str| {
        let (name, rest) = path.strip_prefix(prefix)?.split_once('/')?;
        (rest == action && !name.is_empty()).then_some(name)
    };
    if let Some(name) = split(INVOKE_PREFIX, "invocations") {
        return Some((name, InvokeRoute::Invoke));
    }
    let name = split(STREAM_PREFIX, "response-streaming-invocations")?;
    Some((name, InvokeRoute::InvokeWithResponseStream))
}

/// The function name and qualifier `name` gives (a name, a partial or full ARN, each with an
/// optional qualifier); an empty name when it names no function.
fn function_and_qualifier(name: &str) -> (String, Option<String>) {
    let name = percent_decode(name);
    let parts: Vec<&str> = name.split(':').collect();
    let (function, qualifier) = match parts.as_slice() {
        [name] | [.., "function", name] => (*name, None),
        [name, qualifier] | [.., "function", name, qualifier] => (*name, Some(*qualifier)),
        _ => ("", None),
    };
    (function.to_owned(), qualifier.map(str::to_owned))
}

fn percent_decode(text: &str) -> String {
    form_urlencoded::parse(format!("n={}", text.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, value)| value.into_owned())
        .unwrap_or_default()
}

/// An API error the way the Lambda API reports it.
fn api_error(
    log: AccessLog,
    status: StatusCode,
    error_type: &'static str,
    message: &str,
) -> Response<ClientBody> {
    let body = json!({"Type": "User", "message": message}).to_string();
    let outcome = format!("{error_type}: {message}");
    typed_error(log, status, error_type, &body, &outcome)
}

/// The API's answer to a request it did not admit.
fn refused(log: AccessLog, refusal: &Refusal) -> Response<ClientBody> {
    match refusal {
        Refusal::TooLarge { limit } => {
            let message =
                format!("Request must be smaller than {limit} bytes for the Invoke operation");
            let status = StatusCode::PAYLOAD_TOO_LARGE;
            api_error(log, status, "RequestEntityTooLargeException", &message)
        }
        Refusal::SlowBody { timeout } => {
            let message = format!("the request body was not received within {timeout:?}");
            let status = StatusCode::REQUEST_TIMEOUT;
            closing(api_error(log, status, "RequestTimeoutException", &message))
        }
        Refusal::Unreadable => closing(api_error(
            log,
            StatusCode::BAD_REQUEST,
            "InvalidRequestContentException",
            "the request body could not be read",
        )),
        Refusal::Forbidden(error) => {
            tracing::warn!(%error, "SigV4 auth refused an Invoke API request");
            let (error_type, message) = error.api_error();
            api_error(log, StatusCode::FORBIDDEN, error_type, &message)
        }
        Refusal::Throttled { .. } => api_error(
            log,
            StatusCode::TOO_MANY_REQUESTS,
            "TooManyRequestsException",
            "Rate Exceeded.",
        ),
        Refusal::InvalidParameter(message) => {
            let status = StatusCode::BAD_REQUEST;
            api_error(log, status, "InvalidParameterValueException", message)
        }
        Refusal::InvalidContent(message) | Refusal::Unavailable(message) => {
            let status = StatusCode::BAD_REQUEST;
            api_error(log, status, "InvalidRequestContentException", message)
        }
        Refusal::UnknownFunction(arn) => {
            let message = format!("Function not found: {arn}");
            let status = StatusCode::NOT_FOUND;
            api_error(log, status, "ResourceNotFoundException", &message)
        }
    }
}

/// `X-Amz-Invocation-Type`, as the route allows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

fn invocation_type(
    request: &Request<Incoming>,
    route: InvokeRoute,
) -> Result<InvocationType, String> {
    let text = header_text(request, "x-amz-invocation-type").unwrap_or("RequestResponse");
    match (route, text) {
        (_, "RequestResponse") => Ok(InvocationType::RequestResponse),
        (InvokeRoute::Invoke, "Event") => Ok(InvocationType::Event),
        // `InvokeWithResponseStream` takes `RequestResponse | DryRun` (the Lambda API reference).
        (_, "DryRun") => Ok(InvocationType::DryRun),
        (_, other) => Err(format!("invalid X-Amz-Invocation-Type {other:?}")),
    }
}

fn header_text<'a>(request: &'a Request<Incoming>, name: &str) -> Option<&'a str> {
    request.headers().get(name).and_then(|v| v.to_str().ok())
}

/// What an invoke request asks for, read from its head.
#[derive(Debug, Clone)]
pub(crate) struct InvokePlan {
    kind: InvocationType,
    /// `?Qualifier=`, or the one the function name carries.
    qualifier: Option<String>,
    /// `X-Amz-Tenant-Id`.
    tenant_id: Option<String>,
    /// `X-Amz-Log-Type: Tail` on a synchronous invocation: the answer carries the log's tail.
    log_tail: Option<Arc<TailRequest>>,
}

impl InvokePlan {
    fn read(request: &Request<Incoming>, route: InvokeRoute) -> Result<Self, String> {
        let kind = invocation_type(request, route)?;
        let log_tail = match header_text(request, "x-amz-log-type") {
            None | Some("None") => false,
            // AWS returns a tail to synchronous invocations only.
            Some("Tail") => kind == InvocationType::RequestResponse,
            Some(other) => return Err(format!("invalid X-Amz-Log-Type {other:?}")),
        };
        let qualifier = request.uri().query().and_then(|query| {
            form_urlencoded::parse(query.as_bytes())
                .find(|(name, _)| name == "Qualifier")
                .map(|(_, value)| value.into_owned())
        });
        let tenant_id = tenant::requested(request.headers())?;
        Ok(InvokePlan {
            kind,
            qualifier,
            tenant_id,
            log_tail: log_tail.then(Arc::default),
        })
    }
}

/// The Lambda API's invoke route a request named: `Invoke` or `InvokeWithResponseStream`, for
/// the function `name`. It requires SigV4 (service `lambda`) whenever the emulator has keys,
/// whatever the URL's auth type, and has no CORS.
pub(crate) struct InvokeApi {
    pub(crate) name: String,
    pub(crate) route: InvokeRoute,
}

impl InvokeApi {
    /// The request's function, qualifier and tenant, checked against the function served:
    /// only `$LATEST` exists here, and a tenant id goes with tenant isolation only.
    fn check_target(&self, config: &EmulatorConfig, plan: &InvokePlan) -> Result<(), Refusal> {
        let (name, named_qualifier) = function_and_qualifier(&self.name);
        let qualifier = plan.qualifier.as_deref().or(named_qualifier.as_deref());
        if name != config.function_name() || qualifier.is_some_and(|q| q != "$LATEST") {
            let named = match qualifier {
                Some(qualifier) => format!("{name}:{qualifier}"),
                None => name,
            };
            return Err(Refusal::UnknownFunction(config.function_arn(&named)));
        }
        tenant::check(config, plan.tenant_id.as_deref())
    }
}

/// A payload the API takes: empty, or JSON (AWS answers anything else with
/// `400 InvalidRequestContentException`).
fn check_payload(payload: &[u8]) -> Result<(), Refusal> {
    if payload.is_empty() {
        return Ok(());
    }
    match serde_json::from_slice::<serde::de::IgnoredAny>(payload) {
        Ok(_) => Ok(()),
        Err(error) => Err(Refusal::InvalidContent(format!(
            "Could not parse request body into json: Could not parse payload into json: {error}"
        ))),
    }
}

impl FrontEnd for InvokeApi {
    type Plan = InvokePlan;

    fn plan(&self, _: &EmulatorConfig, request: &Request<Incoming>) -> Result<InvokePlan, Refusal> {
        InvokePlan::read(request, self.route).map_err(Refusal::InvalidParameter)
    }

    fn request_limit(&self, config: &EmulatorConfig, plan: &InvokePlan) -> usize {
        match plan.kind {
            InvocationType::Event => ASYNC_PAYLOAD_LIMIT,
            _ => config.request_limit(),
        }
    }

    // Auth comes first, as on AWS: an unsigned caller learns nothing, not even the name.
    fn signing<'a>(&self, config: &'a EmulatorConfig) -> Option<Scope<'a>> {
        config
            .invoke_api_requires_signature()
            .then(|| Scope::lambda(config.region()))
    }

    fn cors<'a>(&self, _: &'a EmulatorConfig) -> CorsModel<'a> {
        CorsModel::None
    }

    fn event(
        &self,
        config: &EmulatorConfig,
        plan: &InvokePlan,
        admitted: Admitted,
        _: EventContext,
    ) -> Result<Option<Invocation>, Refusal> {
        self.check_target(config, plan)?;
        check_payload(&admitted.body)?;
        // `DryRun`: the caller may invoke; nothing runs (the lifecycle's `204`).
        Ok((plan.kind != InvocationType::DryRun).then(|| Invocation {
            event: admitted.body,
            reads_prelude: false,
            tenant_id: plan.tenant_id.clone(),
            log_tail: plan.log_tail.clone(),
        }))
    }

    fn queues_when_busy(&self, plan: &InvokePlan) -> bool {
        plan.kind == InvocationType::Event
    }

    fn refused(&self, log: AccessLog, refusal: &Refusal) -> Response<ClientBody> {
        refused(log, refusal)
    }

    async fn answer(
        &self,
        state: &Arc<State>,
        plan: InvokePlan,
        invocation: Pending,
        log: AccessLog,
    ) -> Response<ClientBody> {
        if plan.kind == InvocationType::Event {
            return asynchronous(invocation, log);
        }
        let tail = plan.log_tail.map(|request| LogTail {
            request,
            request_id: log.request_id.clone(),
        });
        let (answer, deadline) = invocation.answer().await;
        match self.route {
            InvokeRoute::Invoke => {
                let limit = state.config.buffered_limit();
                let mut response = invoke_response(answer, limit, deadline, log).await;
                let result = log_result(tail).await;
                if let Some(result) = result.and_then(|text| HeaderValue::try_from(text).ok()) {
                    response.headers_mut().insert("x-amz-log-result", result);
                }
                response
            }
            InvokeRoute::InvokeWithResponseStream => {
                event_stream_response(answer, deadline, log, tail)
            }
        }
    }

    fn stamp(&self, response: &mut Response<ClientBody>) {
        response.headers_mut().insert(
            "x-amz-executed-version",
            HeaderValue::from_static("$LATEST"),
        );
    }
}

/// `Event`: the caller gets `202` at once; the answer is read to its end (so a stream is
/// not held back), counted and dropped, and logged.
fn asynchronous(invocation: Pending, mut log: AccessLog) -> Response<ClientBody> {
    tokio::spawn(async move {
        let (answer, deadline) = invocation.answer().await;
        let failure = match drain(answer, deadline).await {
            Ok(length) => {
                log.data(usize::try_from(length).unwrap_or(usize::MAX));
                None
            }
            Err(failure) => Some(failure),
        };
        log.status = 202;
        log.finish(&Failure::outcome(failure.as_ref()));
    });
    let mut response = Response::new(ClientBody::Full(None, None));
    *response.status_mut() = StatusCode::ACCEPTED;
    response
}

/// An answer read to its end and counted: nothing is kept, whatever its size.
async fn drain(answer: Answer, deadline: Deadline) -> Result<u64, Failure> {
    match answer {
        Answer::Payload { body, .. } => Ok(body.len() as u64),
        Answer::Error(error, document) => Err(Failure::reported(&error, document)),
        Answer::Failed(failure) => Err((&failure).into()),
        Answer::Stream { events, .. } => match read_to_end(events, Keep::Count, deadline).await {
            Ok((_, length)) => Ok(length),
            Err(unfinished) => Err((&unfinished).into()),
        },
    }
}

/// An answer as one payload (a stream is collected within `limit` bytes), or its failure.
async fn collect(answer: Answer, limit: usize, deadline: Deadline) -> Result<Bytes, Failure> {
    match answer {
        Answer::Payload { body, .. } => Ok(body),
        Answer::Error(error, document) => Err(Failure::reported(&error, document)),
        Answer::Failed(failure) => Err((&failure).into()),
        Answer::Stream { events, .. } => {
            match read_to_end(events, Keep::Within(limit), deadline).await {
                Ok((body, _)) => Ok(body),
                Err(unfinished) => Err((&unfinished).into()),
            }
        }
    }
}

/// The payload of a failed invocation, as AWS answers it: the error document the runtime
/// posted, as posted; or the platform's `{"errorMessage","errorType"}`, whose
/// `Runtime.ExitError` message names the request (`RequestId: <id> Error: Runtime exited with
/// error: exit status 3`, as AWS's RIE words it).
fn error_payload(failure: &Failure, request_id: &str) -> Bytes {
    if let Some(document) = &failure.document {
        return document.clone();
    }
    let message = if failure.names_request {
        format!("RequestId: {request_id} Error: {}", failure.details)
    } else {
        failure.details.clone()
    };
    let body = json!({"errorMessage": message, "errorType": failure.code.as_str()});
    Bytes::from(body.to_string())
}

/// `Invoke` `RequestResponse`: 200 with the payload, or 200 with `X-Amz-Function-Error`.
async fn invoke_response(
    answer: Answer,
    limit: usize,
    deadline: Deadline,
    mut log: AccessLog,
) -> Response<ClientBody> {
    let (body, failure) = match collect(answer, limit, deadline).await {
        Ok(body) => (body, None),
        Err(failure) => (error_payload(&failure, &log.request_id), Some(failure)),
    };
    log.status = 200;
    log.data(body.len());
    log.finish(&Failure::outcome(failure.as_ref()));
    let mut response = Response::new(ClientBody::Full(Some(body), None));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    if failure.is_some() {
        headers.insert(
            "x-amz-function-error",
            HeaderValue::from_static("Unhandled"),
        );
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_the_sdks_paths() {
        assert_eq!(
            route("/2015-03-31/functions/f/invocations"),
            Some(("f", InvokeRoute::Invoke))
        );
        assert_eq!(
            route("/2021-11-15/functions/f/response-streaming-invocations"),
            Some(("f", InvokeRoute::InvokeWithResponseStream))
        );
        // Each action lives under its own API version only.
        assert_eq!(
            route("/2015-03-31/functions/f/response-streaming-invocations"),
            None
        );
        assert_eq!(route("/2021-11-15/functions/f/invocations"), None);
        assert_eq!(route("/2015-03-31/functions//invocations"), None);
        assert_eq!(route("/2015-03-31/functions/f/other"), None);
        assert_eq!(route("/somewhere"), None);
    }

    #[test]
    fn names_and_arns_give_the_function_and_its_qualifier() {
        let read = |name: &str| function_and_qualifier(name);
        let plain = ("f".to_owned(), None);
        let latest = ("f".to_owned(), Some("$LATEST".to_owned()));
        assert_eq!(read("f"), plain);
        assert_eq!(read("123456789012:function:f"), plain);
        assert_eq!(
            read("arn:aws:lambda:us-east-1:123456789012:function:f"),
            plain
        );
        assert_eq!(read("f:$LATEST"), latest);
        assert_eq!(
            read("arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af%3Aprod"),
            ("f".to_owned(), Some("prod".to_owned()))
        );
        assert_eq!(read("arn:aws:lambda:us-east-1:1:layer:f").0, "");
    }

    #[test]
    fn payloads_are_empty_or_json() {
        assert!(check_payload(b"").is_ok());
        assert!(check_payload(br#"{"a":[1,2]}"#).is_ok());
        assert!(check_payload(b"\"text\"").is_ok());
        let Err(Refusal::InvalidContent(message)) = check_payload(b"not json") else {
            panic!("not JSON must be refused");
        };
        assert!(message.starts_with("Could not parse request body into json"));
    }
}
