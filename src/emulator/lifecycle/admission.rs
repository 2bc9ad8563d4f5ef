//! Admitting a client request before it becomes an invocation, cheapest check first: the
//! declared size, the SigV4 fields, a concurrency slot, and only then the body (within its
//! size and time limits) and the signature over it. A refused request never has its body
//! read or buffered, and `Expect: 100-continue` gets no `100 Continue` for a body over the
//! limit.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::Request;
use http::header::CONTENT_LENGTH;
use http::request::Parts;
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::body::Incoming;
use serde_json::Value;
use tokio::sync::OwnedSemaphorePermit;

use super::auth::{self, AuthError};
use super::state::State;

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
}

/// A request admitted as an invocation: its body, who signed it, and its concurrency slot.
pub(crate) struct Admitted {
    pub(crate) parts: Parts,
    pub(crate) body: Bytes,
    /// `requestContext.authorizer` when the request was signed.
    pub(crate) authorizer: Option<Value>,
    pub(crate) permit: OwnedSemaphorePermit,
    /// When the request arrived (the event's `time`, the signature's clock).
    pub(crate) received: SystemTime,
}

/// Admits `request` with a body of at most `limit` bytes; `signed`: SigV4 is required.
pub(crate) async fn admit(
    state: &State,
    request: Request<Incoming>,
    limit: usize,
    signed: bool,
) -> Result<Admitted, Refusal> {
    let config = &state.config;
    let received = SystemTime::now();
    let (parts, body) = request.into_parts();
    if declared_length(&parts).is_some_and(|length| length > limit as u64) {
        return Err(Refusal::TooLarge { limit });
    }
    let signature = if signed {
        let checked = auth::check_headers(config.iam_keys(), config.region(), &parts, received);
        Some(checked.map_err(Refusal::Forbidden)?)
    } else {
        None
    };
    let permit = state.try_start().ok_or(Refusal::Throttled {
        limit: config.max_concurrency(),
    })?;
    let body = read_body(body, limit, config.body_read_timeout()).await?;
    let authorizer = match signature {
        Some(signature) => Some(
            signature
                .verify_body(config.region(), &parts, &body)
                .map_err(Refusal::Forbidden)?,
        ),
        None => None,
    };
    Ok(Admitted {
        parts,
        body,
        authorizer,
        permit,
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

/// The whole body, within `limit` bytes and `timeout`.
async fn read_body(body: Incoming, limit: usize, timeout: Duration) -> Result<Bytes, Refusal> {
    let collected = tokio::time::timeout(timeout, Limited::new(body, limit).collect())
        .await
        .map_err(|_| Refusal::SlowBody { timeout })?;
    match collected {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<LengthLimitError>() => Err(Refusal::TooLarge { limit }),
        Err(_) => Err(Refusal::Unreadable),
    }
}
