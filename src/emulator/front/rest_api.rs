//! The REST API front ([`Front::RestApi`](super::Front)): each request becomes a payload-1.0
//! proxy event for a `/{proxy+}` resource on stage `local`; the function's answer is relayed
//! with the gateway's limits ([`super::front`]) and its failures answered in API Gateway's
//! shapes (`{"message": ...}` bodies, `x-amzn-ErrorType`), as AWS documents them ("Handling
//! Lambda errors with an API Gateway API"; gateway response types): `502 Internal server
//! error` for a function error or a malformed answer (metadata past the first 16 KB
//! included), `500 Internal server error` when Lambda refuses the invocation (throttled),
//! `504 Endpoint request timed out` when the function runs out of time before answering.

use std::sync::Arc;

use bytes::Bytes;
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;

use super::tenant;
use crate::emulator::access_log::AccessLog;
use crate::emulator::auth::iam::{AuthType, Scope};
use crate::emulator::config::EmulatorConfig;
use crate::emulator::failure::PlatformFailure;
use crate::emulator::front_kind::{EndpointType, REST_API_BANDWIDTH, REST_API_MAX_STREAM};
use crate::emulator::lifecycle::admission::{Admitted, Refusal};
use crate::emulator::lifecycle::client_body::{ClientBody, GatewayLimits, Relay, RelayOptions};
use crate::emulator::lifecycle::collect::collect_stream;
use crate::emulator::lifecycle::response::typed_error;
use crate::emulator::lifecycle::{CorsModel, FrontEnd};
use crate::emulator::runtime::state::{Answer, Deadline, Invocation, Pending, State};
use crate::settings::InvokeMode;
use crate::wire::{EventContext, decode_rest_buffered_response, rest_event_from_request};

/// An API Gateway REST API with a Lambda proxy integration on `/{proxy+}`.
pub(crate) struct RestApi(pub(crate) EndpointType);

impl FrontEnd for RestApi {
    /// When the request arrived: the stream's 15 minutes count from it.
    type Plan = tokio::time::Instant;

    fn plan(&self, _: &EmulatorConfig, _: &Request<Incoming>) -> Result<Self::Plan, Refusal> {
        Ok(tokio::time::Instant::now())
    }

    fn request_limit(&self, config: &EmulatorConfig, _: &Self::Plan) -> usize {
        config.request_limit()
    }

    /// A method with `AuthorizationType: AWS_IAM`: SigV4 for `execute-api`.
    fn signing<'a>(&self, config: &'a EmulatorConfig) -> Option<Scope<'a>> {
        (config.auth_type() == AuthType::AwsIam).then(|| Scope::execute_api(config.region()))
    }

    fn cors<'a>(&self, config: &'a EmulatorConfig) -> CorsModel<'a> {
        config
            .cors()
            .map_or(CorsModel::None, CorsModel::PreflightOnly)
    }

    /// The proxy event; for a tenant-isolated function, the tenant id the integration maps
    /// from the client's `X-Amz-Tenant-Id` header.
    fn event(
        &self,
        config: &EmulatorConfig,
        _: &Self::Plan,
        admitted: Admitted,
        context: EventContext,
    ) -> Result<Option<Invocation>, Refusal> {
        let request = admitted.into_request();
        // Without tenant isolation the header is the client's own, passed on in the event.
        let tenant_id = if config.tenant_isolation() {
            tenant::requested(request.headers()).map_err(Refusal::InvalidParameter)?
        } else {
            None
        };
        tenant::check(config, tenant_id.as_deref())?;
        let event = rest_event_from_request(&request, &context);
        let mut invocation = Invocation::http(Bytes::from(event.to_string()));
        invocation.tenant_id = tenant_id;
        Ok(Some(invocation))
    }

    fn refused(&self, log: AccessLog, refusal: &Refusal) -> Response<ClientBody> {
        refused(log, refusal)
    }

    async fn answer(
        &self,
        state: &Arc<State>,
        started: Self::Plan,
        invocation: Pending,
        log: AccessLog,
    ) -> Response<ClientBody> {
        let (answer, deadline) = invocation.answer().await;
        let config = &state.config;
        match config.invoke_mode() {
            InvokeMode::ResponseStream => {
                let options = relay_options(config, self.0, deadline, started);
                streamed(answer, options, log)
            }
            InvokeMode::Buffered => buffered(config, answer, deadline, log).await,
        }
    }
}

/// An API Gateway error response: `{"message": ..}` with its `x-amzn-ErrorType`.
fn gateway_error(
    log: AccessLog,
    status: StatusCode,
    message: &str,
    error_type: &'static str,
    outcome: &str,
) -> Response<ClientBody> {
    let body = serde_json::json!({ "message": message }).to_string();
    typed_error(log, status, error_type, &body, outcome)
}

/// The gateway's answer when the function failed or answered what it cannot read.
fn internal_error(log: AccessLog, outcome: &str) -> Response<ClientBody> {
    let status = StatusCode::BAD_GATEWAY;
    gateway_error(
        log,
        status,
        "Internal server error",
        "InternalServerErrorException",
        outcome,
    )
}

/// The gateway's answer to a failed invocation: `504` for a timeout, else `502`.
fn failed(log: AccessLog, answer: &Answer) -> Response<ClientBody> {
    match answer {
        Answer::Failed(failure @ PlatformFailure::Timeout(_)) => {
            let status = StatusCode::GATEWAY_TIMEOUT;
            let outcome = failure.outcome();
            gateway_error(
                log,
                status,
                "Endpoint request timed out",
                "InternalServerErrorException",
                &outcome,
            )
        }
        Answer::Failed(failure) => internal_error(log, &failure.outcome()),
        Answer::Error(error, _) => internal_error(log, &error.to_string()),
        _ => internal_error(log, "unexpected answer"),
    }
}

/// The gateway's answer to a request it does not pass on.
fn refused(log: AccessLog, refusal: &Refusal) -> Response<ClientBody> {
    match refusal {
        Refusal::TooLarge { limit } => {
            let outcome = format!("413 (request event over {limit} bytes)");
            let status = StatusCode::PAYLOAD_TOO_LARGE;
            gateway_error(log, status, "Request Too Long", "RequestTooLarge", &outcome)
        }
        // "If the Lambda API rejects the invocation request, API Gateway returns a 500" (AWS
        // Lambda developer guide, "Handling Lambda errors with an API Gateway API").
        Refusal::Throttled { limit } => {
            let outcome = format!("throttled: {limit} invocations already running");
            let status = StatusCode::INTERNAL_SERVER_ERROR;
            let error_type = "InternalServerErrorException";
            gateway_error(log, status, "Internal server error", error_type, &outcome)
        }
        Refusal::SlowBody { timeout } => {
            let outcome = format!("request body not received within {timeout:?}");
            let status = StatusCode::REQUEST_TIMEOUT;
            gateway_error(log, status, "Request Timeout", "RequestTimeout", &outcome)
        }
        // A method with AWS_IAM auth refuses as the Lambda API does, in the gateway's shape.
        Refusal::Forbidden(error) => {
            tracing::warn!(%error, "AWS_IAM auth refused a REST API request");
            let (error_type, message) = error.api_error();
            let outcome = format!("forbidden: {error}");
            gateway_error(log, StatusCode::FORBIDDEN, &message, error_type, &outcome)
        }
        // The Lambda API refused the invocation (a tenant-isolated function invoked with no
        // tenant id): a 500, as for any rejected invocation.
        Refusal::InvalidParameter(message) => {
            let outcome = format!("the Lambda API refused the invocation: {message}");
            let status = StatusCode::INTERNAL_SERVER_ERROR;
            let error_type = "InternalServerErrorException";
            gateway_error(log, status, "Internal server error", error_type, &outcome)
        }
        Refusal::Unreadable
        | Refusal::UnknownFunction(_)
        | Refusal::InvalidContent(_)
        | Refusal::Unavailable(_) => {
            let status = StatusCode::BAD_REQUEST;
            gateway_error(
                log,
                status,
                "Bad Request",
                "BadRequestException",
                "unreadable request",
            )
        }
    }
}

/// The gateway's limits on top of the invocation's deadline and the URL's pacing; the stream's
/// 15 minutes count from the request (`started`), not from the head.
fn relay_options(
    config: &EmulatorConfig,
    endpoint: EndpointType,
    deadline: Deadline,
    started: tokio::time::Instant,
) -> RelayOptions {
    RelayOptions {
        // API Gateway does not pass a function's error trailers on.
        forward_trailers: false,
        deadline,
        throttle: config.throttle(),
        gateway: Some(GatewayLimits {
            idle: endpoint.idle_timeout(),
            max_duration: REST_API_MAX_STREAM.saturating_sub(started.elapsed()),
            bandwidth: REST_API_BANDWIDTH,
        }),
    }
}

/// A streamed answer, relayed as it comes (the head as soon as the metadata is read).
fn streamed(answer: Answer, relay: RelayOptions, mut log: AccessLog) -> Response<ClientBody> {
    match answer {
        Answer::Stream { head, events, .. } => {
            // A Function URL and a REST API always read the prelude.
            let mut head = head.unwrap_or_default();
            head.headers.remove(CONTENT_LENGTH);
            head.headers.remove(http::header::TRANSFER_ENCODING);
            head.headers.remove(http::header::CONNECTION);
            log.status = head.status.as_u16();
            head.into_response(ClientBody::Relay(Box::new(Relay::new(events, relay, log))))
        }
        // A buffered payload to a streaming integration is not a proxy stream.
        Answer::Payload { .. } => internal_error(log, "invalid response (not a stream)"),
        failure => failed(log, &failure),
    }
}

/// A `BUFFERED` integration: the proxy response JSON, mapped; a stream collected.
async fn buffered(
    config: &EmulatorConfig,
    answer: Answer,
    deadline: Deadline,
    mut log: AccessLog,
) -> Response<ClientBody> {
    let limit = config.buffered_limit();
    let mapped = match answer {
        Answer::Payload { body, .. } => decode_rest_buffered_response(&body).map_err(|error| {
            format!("invalid response (malformed Lambda proxy response: {error})")
        }),
        Answer::Stream {
            head,
            prelude_len,
            events,
        } => {
            let head = head.unwrap_or_default();
            collect_stream(head, prelude_len, events, limit, deadline).await
        }
        failure => return failed(log, &failure),
    };
    match mapped {
        Ok((mut head, body)) => {
            head.headers.remove(CONTENT_LENGTH);
            if head.headers.get(CONTENT_TYPE).is_none() {
                // API Gateway's default for a proxy response without one.
                head.headers
                    .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
            log.status = head.status.as_u16();
            head.into_response(ClientBody::full(body, log))
        }
        Err(outcome) => internal_error(log, &outcome),
    }
}
