//! The one lifecycle every request to the emulator's port goes through, whichever front it
//! meets (a Function URL, a REST API, the Lambda API's invoke routes):
//!
//! 1. the access log and the request id;
//! 2. CORS: a preflight the front answers itself (the front's CORS model);
//! 3. the front's reading of the head (its plan: route, invocation type, limits);
//! 4. admission: declared size, SigV4 fields (the front's signing scope), the body within its
//!    size, time and memory limits, the signature over the body;
//! 5. the event the front builds (or no invocation at all: a dry run, an unknown function);
//! 6. a concurrency slot, only now: a client still sending its body holds none (when every
//!    slot is taken, the front's plan says whether to wait for one or be throttled);
//! 7. the invocation, with its deadline (the slot is freed at the deadline whatever happens);
//! 8. the answer, streamed or buffered, in the front's shapes;
//! 9. CORS headers and the request id on whatever goes out.
//!
//! A front supplies only what differs ([`FrontEnd`]); it cannot skip a step.

pub(crate) mod admission;
pub(crate) mod client_body;
pub(crate) mod collect;
pub(crate) mod response;

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use http::header::ORIGIN;
use http::{HeaderValue, Request, Response, StatusCode};
use hyper::body::Incoming;

use self::admission::{Admitted, Refusal};
use self::client_body::ClientBody;
use self::response::{plain, with_request_id};
use crate::emulator::access_log::AccessLog;
use crate::emulator::auth::cors::Cors;
use crate::emulator::auth::iam::Scope;
use crate::emulator::config::EmulatorConfig;
use crate::emulator::runtime::state::{Invocation, Pending, State};
use crate::wire::EventContext;

/// How a front treats browsers' cross-origin requests.
#[derive(Debug, Clone, Copy)]
pub(crate) enum CorsModel<'a> {
    /// No CORS handling: every request goes on, responses pass as they are.
    None,
    /// A Function URL's: preflights answered by the URL, the configured headers on every
    /// response, replacing the function's.
    EveryResponse(&'a Cors),
    /// A REST API's: preflights answered by the gateway (an `OPTIONS` method with a mock
    /// integration, as the console's "Enable CORS" sets up); a Lambda proxy integration's
    /// responses pass as the function wrote them.
    PreflightOnly(&'a Cors),
}

impl CorsModel<'_> {
    fn cors(&self) -> Option<&Cors> {
        match self {
            CorsModel::None => None,
            CorsModel::EveryResponse(cors) | CorsModel::PreflightOnly(cors) => Some(cors),
        }
    }
}

/// What one front supplies to the lifecycle: everything that differs between fronts.
pub(crate) trait FrontEnd: Send + Sync {
    /// What the front reads from a request's head before admitting it.
    type Plan: Send + 'static;

    /// Reads the head: the plan, or a refusal before anything is read.
    fn plan(
        &self,
        config: &EmulatorConfig,
        request: &Request<Incoming>,
    ) -> Result<Self::Plan, Refusal>;

    /// The largest body (and event) the plan allows.
    fn request_limit(&self, config: &EmulatorConfig, plan: &Self::Plan) -> usize;

    /// The SigV4 scope requests must be signed for, if they must be signed.
    fn signing<'a>(&self, config: &'a EmulatorConfig) -> Option<Scope<'a>>;

    /// The front's CORS model.
    fn cors<'a>(&self, config: &'a EmulatorConfig) -> CorsModel<'a>;

    /// The invocation for an admitted request; `None` when nothing is to run (a dry run).
    ///
    /// # Errors
    /// A refusal after admission (a request for a function that is not served, a payload the
    /// API does not take).
    fn event(
        &self,
        config: &EmulatorConfig,
        plan: &Self::Plan,
        admitted: Admitted,
        context: EventContext,
    ) -> Result<Option<Invocation>, Refusal>;

    /// Whether the plan waits for a slot when every slot is taken (Lambda queues asynchronous
    /// invocations) instead of being throttled (`429`).
    fn queues_when_busy(&self, _plan: &Self::Plan) -> bool {
        false
    }

    /// The front's answer to a refused request.
    fn refused(&self, log: AccessLog, refusal: &Refusal) -> Response<ClientBody>;

    /// The front's answer to an invocation.
    fn answer(
        &self,
        state: &Arc<State>,
        plan: Self::Plan,
        invocation: Pending,
        log: AccessLog,
    ) -> impl Future<Output = Response<ClientBody>> + Send;

    /// The answer when [`event`](Self::event) gave nothing to run: `204 No Content` (the
    /// Lambda API's `DryRun`).
    fn ran_nothing(&self, mut log: AccessLog) -> Response<ClientBody> {
        log.status = 204;
        log.finish("dry run");
        let mut response = Response::new(ClientBody::Full(None, None));
        *response.status_mut() = StatusCode::NO_CONTENT;
        response
    }

    /// Headers the front adds to every response besides the request id.
    fn stamp(&self, _response: &mut Response<ClientBody>) {}
}

/// One request through `front`, from its head to the response.
pub(crate) async fn serve<F: FrontEnd>(
    front: &F,
    state: &Arc<State>,
    remote: SocketAddr,
    request: Request<Incoming>,
) -> Response<ClientBody> {
    let config = &state.config;
    let log = AccessLog::for_request(&request, config, &state.responses);
    let request_id = log.request_id.clone();
    let origin = request.headers().get(ORIGIN).cloned();
    let preflight = Cors::is_preflight(request.method(), request.headers());
    let cors = front.cors(config);
    let mut response = match cors.cors() {
        // The front answers a preflight itself; the function never sees it.
        Some(_) if preflight => plain(log, StatusCode::OK, "text/plain", "", "CORS preflight"),
        _ => invoke(front, state, remote, request, log).await,
    };
    apply_cors(cors, origin.as_ref(), preflight, &mut response);
    front.stamp(&mut response);
    with_request_id(response, &request_id)
}

fn apply_cors(
    cors: CorsModel<'_>,
    origin: Option<&HeaderValue>,
    preflight: bool,
    response: &mut Response<ClientBody>,
) {
    match cors {
        CorsModel::EveryResponse(cors) => cors.apply(origin, preflight, response.headers_mut()),
        CorsModel::PreflightOnly(cors) if preflight => {
            cors.apply(origin, preflight, response.headers_mut());
        }
        CorsModel::PreflightOnly(_) | CorsModel::None => {}
    }
}

/// Steps 3 to 8: plan, admission, event, slot, invocation, answer.
async fn invoke<F: FrontEnd>(
    front: &F,
    state: &Arc<State>,
    remote: SocketAddr,
    request: Request<Incoming>,
    mut log: AccessLog,
) -> Response<ClientBody> {
    let config = &state.config;
    let plan = match front.plan(config, &request) {
        Ok(plan) => plan,
        Err(refusal) => return front.refused(log, &refusal),
    };
    let limit = front.request_limit(config, &plan);
    let signing = front.signing(config);
    let admitted = match admission::admit(state, request, limit, signing).await {
        Ok(admitted) => admitted,
        Err(refusal) => return front.refused(log, &refusal),
    };
    let context = event_context(config, &log, &admitted, remote);
    let invocation = match front.event(config, &plan, admitted, context) {
        Ok(Some(invocation)) if invocation.event.len() > limit => {
            return front.refused(log, &Refusal::TooLarge { limit });
        }
        Ok(Some(invocation)) => invocation,
        Ok(None) => return front.ran_nothing(log),
        Err(refusal) => return front.refused(log, &refusal),
    };
    let started = match state.try_slot() {
        Some(slot) => Some(state.start(&log.request_id, invocation, slot)),
        None if front.queues_when_busy(&plan) => state.start_when_free(&log.request_id, invocation),
        None => None,
    };
    let Some(pending) = started else {
        let limit = config.max_concurrency();
        return front.refused(log, &Refusal::Throttled { limit });
    };
    log.deadline = pending.deadline_at();
    front.answer(state, plan, pending, log).await
}

fn event_context(
    config: &EmulatorConfig,
    log: &AccessLog,
    admitted: &Admitted,
    remote: SocketAddr,
) -> EventContext {
    EventContext {
        request_id: log.request_id.clone(),
        time: admitted.received,
        source_ip: remote.ip().to_string(),
        region: config.region().to_owned(),
        authorizer: admitted.authorizer.clone(),
        ..EventContext::default()
    }
}
