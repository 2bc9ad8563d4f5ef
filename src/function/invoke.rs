//! Answering one invocation: call the handler, then stream or buffer its response within its
//! budget and deadline, and report what happened.

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use tracing::Instrument;

use bytes::Bytes;
use futures_util::FutureExt;
use http::StatusCode;
use http::header::CONTENT_TYPE;

use super::client::{NextInvocation, RuntimeClient};
use super::config::{Config, EarlyErrors, FunctionInfo, Hold, InvokeMode};
use super::context::Context;
use super::handler::Handler;
use super::stats::{CompletionStats, Outcome, report};
use crate::body::Body;
use crate::body::Response;
use crate::body::{Chunk, ChunkBuilder};
use crate::error::Error;
use crate::stream::Budget;
use crate::stream::{CollectedEnd, collect};
use crate::stream::{PerResponse, StreamLimits, StreamingBody};
use crate::wire::{
    ErrorType, FunctionError, HeadFormat, InvocationHeaders, RawEvent, RequestId, ResponseHead,
    is_invoke_completion_notice, request_from_event,
};

/// Serves one invocation end to end. Errors are about delivering the answer, never the
/// handler's own failures (those are reported to Lambda and are not errors here).
///
/// At the invocation's deadline (when known) the work is dropped and the connection aborted,
/// as Lambda stops a function that runs out of time, so one stuck invocation cannot hold the
/// loop (locally, the next request would wait behind it forever). A stream normally ends
/// cleanly before that, a safety margin ahead of the deadline.
pub(crate) async fn serve_invocation<H: Handler>(
    client: &mut RuntimeClient,
    config: &Config,
    handler: &H,
    next: NextInvocation,
    function: Arc<FunctionInfo>,
) -> Result<(), Error> {
    let now = SystemTime::now();
    let invocation = InvocationHeaders::from_headers(&next.headers)?;
    let id = invocation.request_id.clone();
    // Every line logged while it is answered carries its request id (`requestId` in JSON).
    let span = tracing::info_span!(crate::logging::INVOCATION_SPAN, requestId = %id);
    let context = Context::from_invocation(invocation, function, now);
    within_deadline(client, config, handler, (id, next.event), context)
        .instrument(span)
        .await
}

/// Answers, stopped at the invocation's deadline when it is known.
async fn within_deadline<H: Handler>(
    client: &mut RuntimeClient,
    config: &Config,
    handler: &H,
    event: (RequestId, Result<Bytes, usize>),
    context: Context,
) -> Result<(), Error> {
    let Some(deadline) = context.deadline_instant() else {
        return answer(client, config, handler, event, context).await;
    };
    let request_id = context.request_id.clone();
    let answering = answer(client, config, handler, event, context);
    match tokio::time::timeout_at(deadline, answering).await {
        Ok(result) => result,
        Err(_) => {
            client.abort();
            tracing::error!(
                request_id,
                "deadline reached: invocation stopped and its response cut off"
            );
            Ok(())
        }
    }
}

/// One invocation being answered: where to, under which settings, since when.
struct Answering<'a> {
    client: &'a mut RuntimeClient,
    config: &'a Config,
    request_id: RequestId,
    started: Instant,
    budget: Budget,
    deadline: Option<tokio::time::Instant>,
    /// How the response head is written: for a Function URL or for a REST API.
    format: HeadFormat,
}

impl Answering<'_> {
    fn stats(&self, status: StatusCode, outcome: Outcome) -> CompletionStats {
        CompletionStats {
            request_id: self.request_id.to_string(),
            invoke_mode: self.config.invoke_mode(),
            status: status.as_u16(),
            wire_bytes: 0,
            body_bytes: 0,
            chunks: 0,
            records: 0,
            time_to_first_byte: None,
            duration: self.started.elapsed(),
            outcome,
            budget: self.budget,
            budget_warned: false,
        }
    }

    /// When a body must end cleanly: the deadline less the safety margin, which never takes
    /// more than a quarter of the time left.
    fn end_by(&self) -> Option<tokio::time::Instant> {
        let margin = self.config.deadline_margin();
        self.deadline.map(|deadline| {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            deadline - margin.min(left / 4)
        })
    }

    /// API Gateway's reported notice after a streamed REST response is no request: it is
    /// acknowledged (an empty answer) without running the handler.
    async fn acknowledge_notice(self, event: &[u8]) -> Result<(), Error> {
        tracing::debug!(
            event = %String::from_utf8_lossy(event),
            "acknowledged API Gateway's invocation-completion notice without running the handler"
        );
        self.client
            .buffered_response(&self.request_id, Vec::new())
            .await
    }

    /// A failure before the head was committed: reported to `/error`, or answered as a 500
    /// JSON response, as configured.
    async fn early_failure(self, error: FunctionError) -> Result<(), Error> {
        tracing::error!(
            request_id = %self.request_id,
            error_type = %error.error_type(),
            message = error.message(),
            "invocation failed before the head was committed"
        );
        match self.config.early_errors() {
            EarlyErrors::ReportToLambda => {
                let stats = self.stats(StatusCode::BAD_GATEWAY, Outcome::Failed(error.clone()));
                let sent = self.client.invocation_error(&self.request_id, &error).await;
                report(&stats, self.config.completion_hook());
                sent
            }
            EarlyErrors::Respond500 => {
                let response = http::Response::builder()
                    .status(StatusCode::INTERNAL_SERVER_ERROR)
                    .header(CONTENT_TYPE, "application/json")
                    .body(Body::from(error.to_json()))
                    .unwrap_or_default();
                self.respond(response, Some(error)).await
            }
        }
    }

    async fn respond(
        self,
        response: Response,
        failure: Option<FunctionError>,
    ) -> Result<(), Error> {
        match self.config.invoke_mode() {
            InvokeMode::ResponseStream => self.stream(response, failure).await,
            InvokeMode::Buffered => self.buffer(response, failure).await,
        }
    }

    /// RESPONSE_STREAM: the head is committed once the hold fills (by default at the first
    /// body byte), so an error before it can still go to `/error` or become a 500; after it,
    /// errors, the budget and the deadline end the stream with trailers or a continuation.
    async fn stream(self, response: Response, failure: Option<FunctionError>) -> Result<(), Error> {
        let (mut parts, mut body) = response.into_parts();
        let ending = PerResponse::take_from(&mut parts.extensions, &mut body);
        let head = ResponseHead::from_parts(parts);
        let prelude = match self.format.prelude(&head) {
            Ok(prelude) => prelude,
            Err(error) => {
                let error = FunctionError::new(ErrorType::INVALID_RESPONSE, error.to_string());
                return Box::pin(self.early_failure(error)).await;
            }
        };
        let held = match hold(&mut body, self.config.hold()).await {
            // The whole body fit in the hold: it goes as one chunk of its exact size.
            Ok(Held { items, ended: true }) if items.len() > 1 => {
                let mut whole = ChunkBuilder::default();
                items.into_iter().for_each(|item| whole.push(item));
                vec![whole.take()]
            }
            Ok(Held { items, .. }) => items,
            Err(error) if failure.is_none() => return Box::pin(self.early_failure(error)).await,
            Err(_) => Vec::new(),
        };
        let limits = self.limits();
        let (streaming, report_rx) = match StreamingBody::new(prelude, held, body, ending, limits) {
            Ok(streaming) => streaming,
            Err(too_small) => {
                let error =
                    FunctionError::new(ErrorType::RESPONSE_SIZE_TOO_LARGE, too_small.to_string());
                return Box::pin(self.early_failure(error)).await;
            }
        };
        let sent = self
            .client
            .stream_response(&self.request_id, streaming)
            .await;
        let stream_report = report_rx.await.ok();
        let mut stats = self.stats(head.status, Outcome::Aborted);
        if let Some(stream_report) = stream_report {
            stats.wire_bytes = stream_report.wire_bytes;
            stats.body_bytes = stream_report.body_bytes;
            stats.chunks = stream_report.chunks;
            stats.records = stream_report.records;
            stats.budget_warned = stream_report.budget_warned;
            stats.time_to_first_byte = stream_report
                .first_byte_at
                .map(|at| at.saturating_duration_since(self.started));
            // A 500 sent for an early failure is that failure, however its stream ended.
            stats.outcome = failure.map_or(stream_report.end, Outcome::Failed);
        }
        report(&stats, self.config.completion_hook());
        sent
    }

    /// BUFFERED: the body is collected into one payload within the smaller of its budget
    /// (counted as its stream would be) and the payload limit, ending with its continuation
    /// when it has one; a response that does not fit otherwise is replaced by the configured
    /// overflow response, never sent over the limit.
    async fn buffer(self, response: Response, failure: Option<FunctionError>) -> Result<(), Error> {
        let limit = self.config.buffered_limit();
        let (mut parts, mut body) = response.into_parts();
        let ending = PerResponse::take_from(&mut parts.extensions, &mut body);
        let head = ResponseHead::from_parts(parts);
        let framed = self
            .format
            .buffered(&head, b"")
            .and_then(|envelope| Ok((envelope.len(), self.format.prelude(&head)?)));
        let (envelope, prelude) = match framed {
            Ok(framed) => framed,
            Err(error) => {
                let error = FunctionError::new(ErrorType::INVALID_RESPONSE, error.to_string());
                return Box::pin(self.early_failure(error)).await;
            }
        };
        let room = limit.saturating_sub(envelope) as u64;
        let collected = match collect(body, ending, &prelude, self.limits(), room).await {
            Ok(collected) => collected,
            Err(too_small) => {
                let error =
                    FunctionError::new(ErrorType::RESPONSE_SIZE_TOO_LARGE, too_small.to_string());
                return Box::pin(self.early_failure(error)).await;
            }
        };
        let outcome = match collected.end {
            CollectedEnd::Failed(error) if failure.is_none() => {
                return Box::pin(self.early_failure(error)).await;
            }
            _ if failure.is_some() => failure.map(Outcome::Failed),
            CollectedEnd::Cut {
                continued: false, ..
            } => None,
            CollectedEnd::Cut { reason, .. } => Some(Outcome::Truncated {
                reason,
                continued: true,
            }),
            CollectedEnd::Complete | CollectedEnd::Failed(_) => Some(Outcome::Complete),
        };
        // The final check also catches a body whose last character was never finished
        // (base64 after all).
        let payload = outcome.and_then(|outcome| {
            let payload = self.format.buffered(&head, &collected.body).ok()?;
            (payload.len() <= limit).then_some((head.status, payload, outcome))
        });
        let effective =
            usize::try_from(self.budget.limit()).map_or(limit, |budget| budget.min(limit));
        let (status, payload, outcome) = payload.unwrap_or_else(|| self.overflow(effective));
        let mut stats = self.stats(status, outcome);
        stats.wire_bytes = payload.len() as u64;
        stats.body_bytes = collected.body.len() as u64;
        stats.records = collected.records;
        stats.budget_warned = collected.budget_warned;
        let sent = self
            .client
            .buffered_response(&self.request_id, payload)
            .await;
        report(&stats, self.config.completion_hook());
        sent
    }

    /// The limits this response runs under: its budget, its time to end by, the bandwidth.
    fn limits(&self) -> StreamLimits {
        StreamLimits {
            budget: self.budget,
            end_by: self.end_by(),
            bandwidth: self.config.bandwidth(),
        }
    }

    /// The configured response for a buffered answer over `limit`.
    fn overflow(&self, limit: usize) -> (StatusCode, Vec<u8>, Outcome) {
        tracing::error!(
            request_id = %self.request_id,
            limit,
            "buffered response over the limit"
        );
        let (parts, body) = self.config.buffered_overflow().response(limit).into_parts();
        let head = ResponseHead::from_parts(parts);
        let payload = self.format.buffered(&head, &body).unwrap_or_default();
        let outcome = Outcome::Truncated {
            reason: crate::body::TruncationReason::Budget,
            continued: false,
        };
        (head.status, payload, outcome)
    }
}

async fn answer<H: Handler>(
    client: &mut RuntimeClient,
    config: &Config,
    handler: &H,
    (request_id, event): (RequestId, Result<Bytes, usize>),
    context: Context,
) -> Result<(), Error> {
    let mut answering = Answering {
        client,
        config,
        request_id,
        started: Instant::now(),
        budget: config.budget(),
        deadline: context.deadline_instant(),
        format: HeadFormat::FunctionUrl,
    };
    let event = match event {
        Ok(event) => event,
        Err(limit) => {
            let message = format!(
                "the invocation event is over the {limit}-byte limit (Config::with_max_event_size)"
            );
            let error = FunctionError::new(ErrorType::EVENT_TOO_LARGE, message);
            return answering.early_failure(error).await;
        }
    };
    if is_invoke_completion_notice(&event) {
        return answering.acknowledge_notice(&event).await;
    }
    let mut request = match request_from_event(&event) {
        Ok(request) => request,
        Err(error) => {
            let error = FunctionError::new(ErrorType::INVALID_EVENT, error.to_string());
            return answering.early_failure(error).await;
        }
    };
    request.extensions_mut().insert(RawEvent(event));
    answering.format = HeadFormat::of(&request);
    #[cfg(feature = "compression")]
    let accept_encoding = request
        .headers()
        .get(http::header::ACCEPT_ENCODING)
        .cloned();
    let response = match call_handler(handler, request, context).await {
        Ok(response) => response,
        Err(error) => return answering.early_failure(error).await,
    };
    #[cfg(feature = "compression")]
    let response = match config.compression() {
        Some(compression) => compression.apply(accept_encoding.as_ref(), response),
        None => response,
    };
    if let Some(budget) = response.extensions().get::<Budget>() {
        answering.budget = *budget;
    }
    answering.respond(response, None).await
}

/// The body's first items, and whether they are all of it.
struct Held {
    items: Vec<Chunk>,
    ended: bool,
}

/// Takes the body's first items until the hold fills: `hold.bytes` held, or `hold.time` passed
/// with at least one byte held, or the body ended.
async fn hold(body: &mut Body, hold: Hold) -> Result<Held, FunctionError> {
    let mut items = Vec::new();
    let mut held_bytes = 0;
    let timer = tokio::time::sleep(hold.time);
    tokio::pin!(timer);
    while held_bytes < hold.bytes {
        let item = if items.is_empty() {
            next_chunk(body).await
        } else {
            tokio::select! {
                biased;
                item = next_chunk(body) => item,
                () = &mut timer => break,
            }
        };
        match item {
            Some(Ok(chunk)) => {
                held_bytes += chunk.len();
                items.push(chunk);
            }
            Some(Err(error)) => return Err(error),
            None => return Ok(Held { items, ended: true }),
        }
    }
    Ok(Held {
        items,
        ended: false,
    })
}

async fn call_handler<H: Handler>(
    handler: &H,
    request: crate::aliases::Request,
    context: Context,
) -> Result<Response, FunctionError> {
    let future = catch_unwind(AssertUnwindSafe(|| handler.call(request, context)))
        .map_err(|panic| FunctionError::from_panic(panic.as_ref()))?;
    match AssertUnwindSafe(future).catch_unwind().await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(error)) => Err(FunctionError::from_error(
            error.into(),
            ErrorType::HANDLER_ERROR,
        )),
        Err(panic) => Err(FunctionError::from_panic(panic.as_ref())),
    }
}

/// Polls the body for its next chunk (with its records), turning a panic into an error.
async fn next_chunk(body: &mut Body) -> Option<Result<Chunk, FunctionError>> {
    let next = std::future::poll_fn(|cx| body.poll_chunk(cx));
    match AssertUnwindSafe(next).catch_unwind().await {
        Ok(item) => item,
        Err(panic) => Some(Err(FunctionError::from_panic(panic.as_ref()))),
    }
}
