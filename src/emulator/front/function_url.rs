//! The Function URL front: each HTTP request becomes a payload-2.0 event; the function's
//! answer becomes the HTTP response, streamed live or mapped from the buffered JSON. Its auth
//! is the URL's `AuthType` (SigV4, service `lambda`), its CORS the URL's (every response).

use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE, TE, TRAILER};
use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;

use crate::emulator::access_log::AccessLog;
use crate::emulator::auth::iam::{AuthError, AuthType, FORBIDDEN_BODY, Scope};
use crate::emulator::config::EmulatorConfig;
use crate::emulator::lifecycle::admission::{Admitted, Refusal};
use crate::emulator::lifecycle::client_body::{ClientBody, Relay, RelayOptions};
use crate::emulator::lifecycle::collect::collect_stream;
use crate::emulator::lifecycle::response::{closing, plain, typed_error};
use crate::emulator::lifecycle::{CorsModel, FrontEnd};
use crate::emulator::runtime::state::{Answer, Deadline, Invocation, Pending, State};
use crate::settings::InvokeMode;
use crate::wire::{
    DECLARED_ERROR_TRAILERS, EventContext, decode_buffered_response, event_from_request,
};

/// A Lambda Function URL.
pub(crate) struct FunctionUrl;

/// What the URL reads from a request's head: whether the client takes trailers.
pub(crate) struct UrlPlan {
    forward_trailers: bool,
}

fn wants_trailers<B>(request: &Request<B>) -> bool {
    request
        .headers()
        .get_all(TE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|t| t.trim().eq_ignore_ascii_case("trailers"))
}

impl FrontEnd for FunctionUrl {
    type Plan = UrlPlan;

    fn plan(
        &self,
        config: &EmulatorConfig,
        request: &Request<Incoming>,
    ) -> Result<UrlPlan, Refusal> {
        if config.tenant_isolation() {
            return Err(Refusal::Unavailable(
                "a function with tenant isolation has no Function URL (as on AWS): invoke it \
                 through the Invoke API with X-Amz-Tenant-Id"
                    .to_owned(),
            ));
        }
        Ok(UrlPlan {
            forward_trailers: wants_trailers(request),
        })
    }

    fn request_limit(&self, config: &EmulatorConfig, _: &UrlPlan) -> usize {
        config.request_limit()
    }

    fn signing<'a>(&self, config: &'a EmulatorConfig) -> Option<Scope<'a>> {
        (config.auth_type() == AuthType::AwsIam).then(|| Scope::lambda(config.region()))
    }

    fn cors<'a>(&self, config: &'a EmulatorConfig) -> CorsModel<'a> {
        config
            .cors()
            .map_or(CorsModel::None, CorsModel::EveryResponse)
    }

    fn event(
        &self,
        _: &EmulatorConfig,
        _: &UrlPlan,
        admitted: Admitted,
        context: EventContext,
    ) -> Result<Option<Invocation>, Refusal> {
        let event = event_from_request(&admitted.into_request(), &context);
        Ok(Some(Invocation::http(Bytes::from(event.to_string()))))
    }

    fn refused(&self, log: AccessLog, refusal: &Refusal) -> Response<ClientBody> {
        refused(log, refusal)
    }

    async fn answer(
        &self,
        state: &Arc<State>,
        plan: UrlPlan,
        invocation: Pending,
        log: AccessLog,
    ) -> Response<ClientBody> {
        let (answer, deadline) = invocation.answer().await;
        let config = &state.config;
        match config.invoke_mode() {
            InvokeMode::ResponseStream => {
                let relay = RelayOptions {
                    forward_trailers: plan.forward_trailers,
                    deadline,
                    throttle: config.throttle(),
                    gateway: None,
                };
                streamed(answer, relay, log)
            }
            InvokeMode::Buffered => buffered(config, answer, deadline, log).await,
        }
    }
}

fn bad_gateway(log: AccessLog, outcome: &str) -> Response<ClientBody> {
    plain(
        log,
        StatusCode::BAD_GATEWAY,
        "text/plain",
        "Internal Server Error",
        outcome,
    )
}

/// The URL's answer to a request it did not admit, in the Function URL's shapes.
fn refused(log: AccessLog, refusal: &Refusal) -> Response<ClientBody> {
    match refusal {
        Refusal::TooLarge { limit } => {
            let body = format!(
                r#"{{"Message":"Request must be smaller than {limit} bytes for the InvokeFunction operation"}}"#
            );
            let status = StatusCode::PAYLOAD_TOO_LARGE;
            plain(
                log,
                status,
                "application/json",
                &body,
                "413 (request event too large)",
            )
        }
        Refusal::SlowBody { timeout } => {
            let outcome = format!("request body not received within {timeout:?}");
            closing(plain(
                log,
                StatusCode::REQUEST_TIMEOUT,
                "text/plain",
                "Request Timeout",
                &outcome,
            ))
        }
        Refusal::Unreadable
        | Refusal::InvalidParameter(_)
        | Refusal::UnknownFunction(_)
        | Refusal::InvalidContent(_) => {
            let status = StatusCode::BAD_REQUEST;
            let outcome = "unreadable request body";
            closing(plain(log, status, "text/plain", "Bad Request", outcome))
        }
        Refusal::Forbidden(error) => forbidden(log, error),
        Refusal::Unavailable(message) => {
            let outcome = format!("404: {message}");
            plain(log, StatusCode::NOT_FOUND, "text/plain", message, &outcome)
        }
        Refusal::Throttled { limit } => throttled(log, *limit),
    }
}

/// AWS's answer to a request that fails `AWS_IAM` auth; the reason goes to the log only.
fn forbidden(log: AccessLog, error: &AuthError) -> Response<ClientBody> {
    tracing::warn!(%error, "AWS_IAM auth refused the request");
    let outcome = format!("forbidden: {error}");
    let status = StatusCode::FORBIDDEN;
    typed_error(
        log,
        status,
        "AccessDeniedException",
        FORBIDDEN_BODY,
        &outcome,
    )
}

/// AWS's answer when every concurrent execution is taken.
fn throttled(log: AccessLog, limit: usize) -> Response<ClientBody> {
    let outcome = format!("throttled: {limit} invocations already running");
    let status = StatusCode::TOO_MANY_REQUESTS;
    let body = r#"{"Message":"Rate Exceeded."}"#;
    typed_error(log, status, "TooManyRequestsException", body, &outcome)
}

fn failure_outcome(answer: &Answer) -> String {
    match answer {
        Answer::Error(error, _) => error.to_string(),
        Answer::Failed(failure) => failure.outcome(),
        _ => String::new(),
    }
}

fn streamed(answer: Answer, relay: RelayOptions, mut log: AccessLog) -> Response<ClientBody> {
    match answer {
        Answer::Stream { head, events, .. } => {
            // A Function URL and a REST API always read the prelude.
            let mut head = head.unwrap_or_default();
            // Lambda renames a content-length it cannot honour on a stream.
            if let Some(length) = head.headers.remove(CONTENT_LENGTH) {
                head.headers
                    .insert("x-amzn-remapped-content-length", length);
            }
            head.headers.remove(http::header::TRANSFER_ENCODING);
            head.headers.remove(http::header::CONNECTION);
            if relay.forward_trailers {
                head.headers
                    .insert(TRAILER, HeaderValue::from_static(DECLARED_ERROR_TRAILERS));
            }
            log.status = head.status.as_u16();
            head.into_response(ClientBody::Relay(Box::new(Relay::new(events, relay, log))))
        }
        // A RESPONSE_STREAM URL does not map a buffered answer: 200 and the payload as sent.
        Answer::Payload { content_type, body } => {
            log.status = 200;
            let mut response = Response::new(ClientBody::full(body, log));
            if let Some(content_type) = content_type {
                response.headers_mut().insert(CONTENT_TYPE, content_type);
            }
            response
        }
        failure => {
            let outcome = failure_outcome(&failure);
            bad_gateway(log, &outcome)
        }
    }
}

async fn buffered(
    config: &EmulatorConfig,
    answer: Answer,
    deadline: Deadline,
    mut log: AccessLog,
) -> Response<ClientBody> {
    let limit = config.buffered_limit();
    let mapped = match answer {
        Answer::Payload { body, .. } => decode_buffered_response(&body).map_err(|error| {
            format!("Runtime.InvalidResponse: invalid buffered response: {error}")
        }),
        Answer::Stream {
            head,
            prelude_len,
            events,
        } => {
            let head = head.unwrap_or_default();
            collect_stream(head, prelude_len, events, limit, deadline).await
        }
        failure => Err(failure_outcome(&failure)),
    };
    match mapped {
        Ok((mut head, body)) => {
            head.headers.remove(CONTENT_LENGTH);
            head.headers.remove(http::header::TRANSFER_ENCODING);
            log.status = head.status.as_u16();
            head.into_response(ClientBody::full(body, log))
        }
        Err(outcome) => bad_gateway(log, &outcome),
    }
}
