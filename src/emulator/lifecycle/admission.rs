//! Admitting a client request before it becomes an invocation, cheapest check first: the
//! declared size, the SigV4 fields, then the body (within its size and time limits, and the
//! emulator's memory for bodies being read) and the signature over it. A refused request never
//! has its body read, and `Expect: 100-continue` gets no `100 Continue` for a body over the
//! limit. No concurrency slot is held while a body is read: the lifecycle takes one after.

use std::time::{Duration, SystemTime};

use bytes::{Bytes, BytesMut};
use http::Request;
use http::header::CONTENT_LENGTH;
use http::request::Parts;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use serde_json::Value;
use tokio::sync::OwnedSemaphorePermit;

use crate::emulator::auth::iam::{self, AuthError, Scope};
use crate::emulator::runtime::state::State;

/// Why a request was not admitted; each front answers in its own shape.
#[derive(Debug)]
pub(crate) enum Refusal {
    /// The body (declared or sent) is over the limit.
    TooLarge { limit: usize },
    /// The body did not arrive within the read timeout.
    SlowBody { timeout: Duration },
    /// The body could not be read (bad framing, connection reset).
    Unreadable,
    /// SigV4 auth refused the request.
    Forbidden(AuthError),
    /// Every concurrent execution is taken.
    Throttled { limit: usize },
    /// A request parameter the front does not accept (the Invoke API's invocation type).
    InvalidParameter(String),
    /// The request names a function (or a version or alias) this emulator does not serve
    /// (the Invoke API): its ARN.
    UnknownFunction(String),
    /// A payload the front does not take (the Invoke API's payload that is not JSON).
    InvalidContent(String),
    /// The front does not exist for this function (a tenant-isolated function's URL).
    Unavailable(String),
}

/// A request admitted: its body, who signed it, and when it arrived.
pub(crate) struct Admitted {
    pub(crate) parts: Parts,
    pub(crate) body: Bytes,
    /// `requestContext.authorizer` when the request was signed.
    pub(crate) authorizer: Option<Value>,
    /// When the request arrived (the event's `time`, the signature's clock).
    pub(crate) received: SystemTime,
}

impl Admitted {
    /// The request with its whole body, for a front to build its event from.
    pub(crate) fn into_request(self) -> Request<Bytes> {
        Request::from_parts(self.parts, self.body)
    }
}

/// Admits `request` with a body of at most `limit` bytes, signed for `scope` when one is given.
pub(crate) async fn admit(
    state: &State,
    request: Request<Incoming>,
    limit: usize,
    scope: Option<Scope<'_>>,
) -> Result<Admitted, Refusal> {
    let config = &state.config;
    let received = SystemTime::now();
    let (parts, body) = request.into_parts();
    if declared_length(&parts).is_some_and(|length| length > limit as u64) {
        return Err(Refusal::TooLarge { limit });
    }
    let signature = match scope {
        Some(scope) => {
            let checked = iam::check_headers(config.iam_keys(), scope, &parts, received);
            Some(checked.map_err(Refusal::Forbidden)?)
        }
        None => None,
    };
    let timeout = config.body_read_timeout();
    let body = tokio::time::timeout(timeout, read_body(state, body, limit))
        .await
        .map_err(|_| Refusal::SlowBody { timeout })??;
    let authorizer = match signature {
        Some(signature) => Some(
            signature
                .verify_body(&parts, &body)
                .map_err(Refusal::Forbidden)?,
        ),
        None => None,
    };
    Ok(Admitted {
        parts,
        body,
        authorizer,
        received,
    })
}

fn declared_length(parts: &Parts) -> Option<u64> {
    parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
}

/// The whole body, within `limit` bytes. Each frame first takes its size from the emulator's
/// memory for bodies being read (waiting while it is all in use), so clients that trickle
/// bodies hold only the bytes they sent, and no more than that memory in all.
async fn read_body(state: &State, mut body: Incoming, limit: usize) -> Result<Bytes, Refusal> {
    let mut read = BytesMut::new();
    let mut memory: Option<OwnedSemaphorePermit> = None;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| Refusal::Unreadable)?;
        let Ok(data) = frame.into_data() else {
            continue;
        };
        if read.len() + data.len() > limit {
            return Err(Refusal::TooLarge { limit });
        }
        let bytes = u32::try_from(data.len()).map_err(|_| Refusal::TooLarge { limit })?;
        let permit = state.body_memory.clone().acquire_many_owned(bytes).await;
        let permit = permit.map_err(|_| Refusal::Unreadable)?;
        match memory.as_mut() {
            Some(held) => held.merge(permit),
            None => memory = Some(permit),
        }
        read.extend_from_slice(&data);
    }
    Ok(read.freeze())
}
