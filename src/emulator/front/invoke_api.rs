//! The Lambda API's invoke routes, served on the Function URL's port, at the paths the AWS
//! SDKs call: `POST /2015-03-31/functions/{name}/invocations` (`Invoke`: `RequestResponse`,
//! `Event`, `DryRun`) and `POST /2021-11-15/functions/{name}/response-streaming-invocations`
//! (`InvokeWithResponseStream`, a live event stream), each with an optional `?Qualifier=`.
//! They require SigV4 (service `lambda`) whenever the emulator has access keys, whatever the
//! URL's auth type, and report errors in the API's own shape (`x-amzn-ErrorType`, JSON
//! `message`), not the URL's.

use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use http::header::CONTENT_TYPE;
use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;
use serde_json::json;

use super::access_log::AccessLog;
use super::event_stream::{Failure, event_stream_response};
use super::failure::PlatformFailure;
use super::function_url::{closing, plain, with_request_id};
use super::intake::{self, Refusal};
use super::state::{Answer, Deadline, State, StreamEvent};
use super::url_body::UrlBody;

/// AWS's limit on an asynchronous (`Event`) invocation's payload: 1 MB (AWS Lambda quotas).
pub const ASYNC_PAYLOAD_LIMIT: usize = 1024 * 1024;

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

/// Whether `name` (a name, a partial or full ARN, with an optional qualifier) names `function`.
fn names_function(name: &str, function: &str) -> bool {
    let name = percent_decode(name);
    let unqualified = |text: &str| -> String {
        let parts: Vec<&str> = text.split(':').collect();
        match parts.as_slice() {
            [name] | [name, _] => (*name).to_owned(),
            [.., "function", name] | [.., "function", name, _] => (*name).to_owned(),
            _ => String::new(),
        }
    };
    unqualified(&name) == function
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
) -> Response<UrlBody> {
    let body = json!({"Type": "User", "message": message}).to_string();
    let outcome = format!("{error_type}: {message}");
    let mut response = plain(log, status, "application/json", &body, &outcome);
    response
        .headers_mut()
        .insert("x-amzn-errortype", HeaderValue::from_static(error_type));
    response
}

/// The API's answer to a request it did not admit.
fn refused(log: AccessLog, refusal: &Refusal) -> Response<UrlBody> {
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
    }
}

/// `X-Amz-Invocation-Type`, as the route allows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum InvocationType {
    RequestResponse,
    Event,
    DryRun,
}

fn invocation_type(
    request: &Request<Incoming>,
    route: InvokeRoute,
) -> Result<InvocationType, String> {
    let header = request.headers().get("x-amz-invocation-type");
    let text = header
        .and_then(|v| v.to_str().ok())
        .unwrap_or("RequestResponse");
    match (route, text) {
        (_, "RequestResponse") => Ok(InvocationType::RequestResponse),
        (InvokeRoute::Invoke, "Event") => Ok(InvocationType::Event),
        (InvokeRoute::Invoke, "DryRun") => Ok(InvocationType::DryRun),
        (_, other) => Err(format!("invalid X-Amz-Invocation-Type {other:?}")),
    }
}

pub(crate) async fn handle(
    state: &Arc<State>,
    request: Request<Incoming>,
    name: &str,
    route: InvokeRoute,
) -> Response<UrlBody> {
    let config = &state.config;
    let log = AccessLog::for_request(&request, config);
    let request_id = log.request_id.clone();
    let kind = match invocation_type(&request, route) {
        Ok(kind) => kind,
        Err(message) => {
            let status = StatusCode::BAD_REQUEST;
            return api_error(log, status, "InvalidParameterValueException", &message);
        }
    };
    let limit = match kind {
        InvocationType::Event => ASYNC_PAYLOAD_LIMIT,
        _ => config.request_limit(),
    };
    let signed = config.invoke_api_requires_signature();
    // Auth comes first, as on AWS: an unsigned caller learns nothing, not even the name.
    let admitted = match intake::admit(state, request, limit, signed).await {
        Ok(admitted) => admitted,
        Err(refusal) => return refused(log, &refusal),
    };
    if !names_function(name, config.function_name()) {
        return not_found(log, name, config.region());
    }
    if kind == InvocationType::DryRun {
        return dry_run(log);
    }
    let state = state.clone();
    let invoke = async move {
        let (answer, deadline) = state
            .invoke(&request_id, admitted.body, admitted.permit)
            .await;
        (answer, deadline, state)
    };
    if kind == InvocationType::Event {
        return asynchronous(invoke, log);
    }
    let request_id = log.request_id.clone();
    let (answer, deadline, state) = invoke.await;
    let response = match route {
        InvokeRoute::Invoke => {
            let limit = state.config.buffered_limit();
            invoke_response(answer, limit, deadline, log).await
        }
        InvokeRoute::InvokeWithResponseStream => event_stream_response(answer, deadline, log),
    };
    with_ids(response, &request_id)
}

fn not_found(log: AccessLog, name: &str, region: &str) -> Response<UrlBody> {
    let message =
        format!("Function not found: arn:aws:lambda:{region}:123456789012:function:{name}");
    api_error(
        log,
        StatusCode::NOT_FOUND,
        "ResourceNotFoundException",
        &message,
    )
}

/// `DryRun`: the caller may invoke; nothing runs.
fn dry_run(mut log: AccessLog) -> Response<UrlBody> {
    log.status = 204;
    log.finish("dry run");
    let mut response = Response::new(UrlBody::Full(None, None));
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// `Event`: the caller gets `202` at once; the answer is read (so a stream is not held back)
/// and logged.
fn asynchronous<F>(invoke: F, mut log: AccessLog) -> Response<UrlBody>
where
    F: Future<Output = (Answer, Deadline, Arc<State>)> + Send + 'static,
{
    let request_id = log.request_id.clone();
    tokio::spawn(async move {
        let (answer, deadline, _) = invoke.await;
        let failure = collect(answer, usize::MAX, deadline).await.err();
        log.status = 202;
        log.finish(&Failure::outcome(failure.as_ref()));
    });
    let mut response = Response::new(UrlBody::Full(None, None));
    *response.status_mut() = StatusCode::ACCEPTED;
    with_ids(response, &request_id)
}

fn with_ids(response: Response<UrlBody>, request_id: &str) -> Response<UrlBody> {
    let mut response = with_request_id(response, request_id);
    response.headers_mut().insert(
        "x-amz-executed-version",
        HeaderValue::from_static("$LATEST"),
    );
    response
}

/// An answer as one payload (a stream is collected within `limit` bytes), or its failure.
async fn collect(answer: Answer, limit: usize, deadline: Deadline) -> Result<Bytes, Failure> {
    let mut events = match answer {
        Answer::Payload { body, .. } => return Ok(body),
        Answer::Error(error) => return Err((&error).into()),
        Answer::Failed(failure) => return Err((&failure).into()),
        Answer::Stream { events, .. } => events,
    };
    let mut body = BytesMut::new();
    loop {
        let event = deadline.next_event(&mut events).await;
        match event {
            StreamEvent::Data(data) if body.len() + data.len() <= limit => {
                body.extend_from_slice(&data);
            }
            StreamEvent::Data(_) => {
                let too_large = PlatformFailure::PayloadTooLarge {
                    limit: limit as u64,
                };
                return Err((&too_large).into());
            }
            StreamEvent::End => return Ok(body.freeze()),
            StreamEvent::Error(_) | StreamEvent::Failed(_) => {
                return Err(
                    Failure::of_event(&event).unwrap_or_else(|| (&deadline.failure()).into())
                );
            }
        }
    }
}

/// `Invoke` `RequestResponse`: 200 with the payload, or 200 with `X-Amz-Function-Error`.
async fn invoke_response(
    answer: Answer,
    limit: usize,
    deadline: Deadline,
    mut log: AccessLog,
) -> Response<UrlBody> {
    let (body, failure) = match collect(answer, limit, deadline).await {
        Ok(body) => (body, None),
        Err(failure) => {
            let body = json!({"errorMessage": failure.details, "errorType": failure.code});
            (Bytes::from(body.to_string()), Some(failure))
        }
    };
    log.status = 200;
    log.data(body.len());
    log.finish(&Failure::outcome(failure.as_ref()));
    let mut response = Response::new(UrlBody::Full(Some(body), None));
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
    fn names_and_arns_name_the_function() {
        for name in [
            "f",
            "f:$LATEST",
            "123456789012:function:f",
            "arn:aws:lambda:us-east-1:123456789012:function:f",
            "arn%3Aaws%3Alambda%3Aus-east-1%3A123456789012%3Afunction%3Af%3Aprod",
        ] {
            assert!(names_function(name, "f"), "{name}");
        }
        assert!(!names_function("g", "f"));
        assert!(!names_function("arn:aws:lambda:us-east-1:1:layer:f", "f"));
    }
}
