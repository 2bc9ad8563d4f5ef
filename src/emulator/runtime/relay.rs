//! Reading a streamed `/response`: scan for the prelude, hand the head to the front, then
//! relay each body chunk as it arrives, counting wire bytes against the budget, until the
//! last chunk, an error trailer, a failure, or the invocation's deadline.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Bytes, BytesMut};
use http::StatusCode;
use http_body::Body as _;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::mpsc;

use super::reply::{RuntimeResponse, accepted, runtime_error, timed_out};
use super::state::{Answer, Answering, Deadline, State, StreamEvent, Taken};
use crate::body::Chunk;
use crate::emulator::failure::PlatformFailure;
use crate::stream::BudgetMeter;
use crate::stream::merge::{MergeLimits, MergeReady, PollChunk};
use crate::stream::ready::MERGE_WINDOW;
use crate::wire::{ErrorType, FunctionError, PreludeDecoder, ResponseHead};

/// Body events buffered between the function and a slow client before the function is held
/// back (TCP backpressure, as on Lambda).
const RELAY_CAPACITY: usize = 8;

/// Small chunks already received are relayed as one: each relayed event costs a task wake-up
/// and a client write, which dominate below a few KiB. Only frames that are ready now are
/// taken (nothing waits), never past the budget's room, so what the client sees and when is
/// unchanged.
const RELAY_MERGE: MergeLimits = MergeLimits {
    merge_below: 16 * 1024,
    max_bytes: 16 * 1024,
    window: MERGE_WINDOW,
    wait_for_more: false,
};

/// How the function's body ended other than completely.
enum FramesEnd {
    /// Trailers, with the function's error if they carry one.
    Trailers(Option<FunctionError>),
    /// The connection broke.
    Broken(hyper::Error),
}

/// The function's body frames as chunks (each one record), for [`MergeReady`].
struct Frames(Incoming);

impl Frames {
    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> PollChunk<FramesEnd> {
        loop {
            let frame = match ready!(Pin::new(&mut self.0).poll_frame(cx)) {
                Some(Ok(frame)) => frame,
                Some(Err(error)) => return Poll::Ready(Some(Err(FramesEnd::Broken(error)))),
                None => return Poll::Ready(None),
            };
            match frame.into_data() {
                Ok(data) if data.is_empty() => {}
                Ok(data) => return Poll::Ready(Some(Ok(Chunk::record(data)))),
                Err(frame) => {
                    let error = frame.trailers_ref().and_then(FunctionError::from_trailers);
                    return Poll::Ready(Some(Err(FramesEnd::Trailers(error))));
                }
            }
        }
    }
}

type Merged = Option<Result<Chunk, FramesEnd>>;

/// The prelude, the body bytes read past it, and the prelude's length; or how the response
/// ended before its body (the answer for the front, the reply for the function).
type Prelude = Result<(ResponseHead, BytesMut, usize), (Answer, RuntimeResponse)>;

async fn read_prelude(body: &mut Incoming, deadline: &Deadline, state: &State) -> Prelude {
    // A REST API reads the metadata's multiValueHeaders too; a Function URL ignores them.
    let mut decoder = match state.config.front() {
        crate::emulator::front_kind::Front::RestApi(_) => PreludeDecoder::for_rest_api(),
        _ => PreludeDecoder::new(),
    };
    let mut buf = BytesMut::new();
    let mut wire_bytes = 0;
    let failed = |failure: PlatformFailure| (Answer::Failed(failure), accepted());
    loop {
        let Some(frame) = deadline.bound(body.frame()).await else {
            return Err((Answer::Failed(deadline.failure()), timed_out()));
        };
        let data = match frame {
            Some(Ok(frame)) => match frame.into_data() {
                Ok(data) => data,
                Err(frame) => {
                    // Trailers before the prelude ended: an error with nothing sent.
                    let error = frame
                        .trailers_ref()
                        .and_then(FunctionError::from_trailers)
                        .unwrap_or_else(|| {
                            FunctionError::new(
                                ErrorType::UNKNOWN,
                                "stream ended before its prelude",
                            )
                        });
                    return Err((Answer::Error(error, None), accepted()));
                }
            },
            None => {
                let reason = "the response ended before its prelude".to_owned();
                return Err(failed(PlatformFailure::Truncated(reason)));
            }
            Some(Err(error)) => {
                let reason = format!("before its prelude: {}", broken_reason(&error));
                return Err(failed(PlatformFailure::Truncated(reason)));
            }
        };
        wire_bytes += data.len();
        buf.extend_from_slice(&data);
        match decoder.decode(&mut buf) {
            Ok(Some(head)) => {
                // The prelude is what was read less the body bytes read with it.
                let prelude_len = wire_bytes - buf.len();
                return Ok((head, buf.split(), prelude_len));
            }
            Ok(None) => {}
            Err(error) => {
                let failure = PlatformFailure::InvalidPrelude(error.to_string());
                let message = failure.to_string();
                let reply = runtime_error(StatusCode::BAD_REQUEST, "InvalidPrelude", &message);
                return Err((Answer::Failed(failure), reply));
            }
        }
    }
}

/// Why the function's body broke off, in words: hyper's error, or the Runtime API's limit on
/// a trailer section (a foreign runtime's error trailers over 64 KiB: its error is lost).
fn broken_reason(error: &hyper::Error) -> String {
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        if cause.to_string().contains("trailers bytes over limit") {
            return format!(
                "the function's trailer section is over the Runtime API's {} KiB limit: its error report was lost",
                super::RUNTIME_MAX_HEADER_SIZE / 1024
            );
        }
        source = cause.source();
    }
    error.to_string()
}

/// Relays a streamed response to the front that waits on `taken`. The invocation is released
/// (its slot freed) by `answering` when the stream ends in any way but the deadline, which the
/// invocation's watch handles.
pub(crate) async fn relay_stream(
    state: &State,
    answering: &mut Answering<'_>,
    taken: Taken,
    mut body: Incoming,
) -> RuntimeResponse {
    let Taken {
        reply,
        deadline,
        reads_prelude,
    } = taken;
    let prelude = if reads_prelude {
        read_prelude(&mut body, &deadline, state)
            .await
            .map(|(head, rest, len)| (Some(head), rest, len))
    } else {
        // The Lambda API's callers get the bytes as written: Lambda does not read them.
        Ok((None, BytesMut::new(), 0))
    };
    let (head, rest, prelude_len) = match prelude {
        Ok(prelude) => prelude,
        Err((answer, response)) => {
            if matches!(answer, Answer::Failed(PlatformFailure::Timeout(_))) {
                answering.expired();
            } else {
                answering.over();
            }
            let _ = reply.send(answer);
            return response;
        }
    };
    let (events, receiver) = mpsc::channel(RELAY_CAPACITY);
    let _ = reply.send(Answer::Stream {
        head,
        prelude_len,
        events: receiver,
    });
    let mut meter = BudgetMeter::new(state.config.budget());
    // The prelude counts, as Lambda counts it.
    let prelude_fits = meter.charge(prelude_len as u64).is_ok();
    let mut relay = Relaying {
        state,
        answering,
        events,
        timeout: deadline.failure(),
        deadline,
        meter,
        client_gone: false,
    };
    if prelude_fits {
        relay.run(rest.freeze(), body).await
    } else {
        relay.over_budget().await
    }
}

/// A body being relayed.
struct Relaying<'a, 'b> {
    state: &'a State,
    answering: &'a mut Answering<'b>,
    events: mpsc::Sender<StreamEvent>,
    deadline: Deadline,
    timeout: PlatformFailure,
    /// The stream budget, charged with every wire byte (the crate's own meter).
    meter: BudgetMeter,
    client_gone: bool,
}

impl Relaying<'_, '_> {
    /// Hands an event to the front, waiting for a slow client at most until the deadline:
    /// a client that stops reading cannot hold the invocation (and its slot) past it.
    async fn forward(&mut self, event: StreamEvent) -> bool {
        // A client that went away is not an error (the send fails, the output is drained);
        // only the deadline is.
        let sent = self.events.send(event);
        self.deadline.bound(sent).await.is_some()
    }

    /// The deadline passed: the client's response is cut off (told so if there is room in
    /// the relay, else its own deadline cuts it); the invocation's watch resets the function.
    fn timed_out(&mut self) -> RuntimeResponse {
        self.answering.expired();
        let _ = self
            .events
            .try_send(StreamEvent::Failed(self.timeout.clone()));
        timed_out()
    }

    /// Relays `data` if it fits in the budget (else the stream is over budget).
    async fn data(&mut self, data: Bytes) -> Result<(), RuntimeResponse> {
        if self.meter.charge(data.len() as u64).is_err() {
            return Err(self.over_budget().await);
        }
        if self.forward(StreamEvent::Data(data)).await {
            Ok(())
        } else {
            Err(self.timed_out())
        }
    }

    async fn run(&mut self, rest: Bytes, body: Incoming) -> RuntimeResponse {
        if !rest.is_empty()
            && let Err(response) = self.data(rest).await
        {
            return response;
        }
        let mut frames = Frames(body);
        let mut merge = MergeReady::new(RELAY_MERGE);
        loop {
            let room = usize::try_from(self.meter.room()).unwrap_or(usize::MAX);
            merge.set_max_bytes(room.min(RELAY_MERGE.max_bytes));
            let Some(merged) = self.next_merged(&mut merge, &mut frames).await else {
                return self.timed_out();
            };
            let event = match merged {
                Ok(Some(Ok(chunk))) => match self.data(chunk.into_data()).await {
                    Ok(()) => continue,
                    Err(response) => return response,
                },
                Ok(Some(Err(FramesEnd::Trailers(error)))) => {
                    self.answering.over();
                    error.map_or(StreamEvent::End, StreamEvent::Error)
                }
                Ok(None) => {
                    // `End` after an `Error` event is ignored by the reader.
                    self.answering.over();
                    self.forward(StreamEvent::End).await;
                    return accepted();
                }
                Ok(Some(Err(FramesEnd::Broken(error)))) => {
                    let failure = PlatformFailure::Truncated(broken_reason(&error));
                    self.answering.over();
                    self.forward(StreamEvent::Failed(failure)).await;
                    return accepted();
                }
                Err(cancelled) => return cancelled,
            };
            if !self.forward(event).await {
                return self.timed_out();
            }
        }
    }
    /// The next merged chunk or end, `None` at the deadline; `Err` when the client went away
    /// and the invocation is to be cancelled (`--cancel-on-disconnect`).
    async fn next_merged(
        &mut self,
        merge: &mut MergeReady<FramesEnd>,
        frames: &mut Frames,
    ) -> Option<Result<Merged, RuntimeResponse>> {
        loop {
            let merged =
                std::future::poll_fn(|cx| merge.poll_merged(cx, |cx| frames.poll_chunk(cx)));
            tokio::select! {
                merged = self.deadline.bound(merged) => {
                    return merged.map(Ok);
                }
                () = self.events.closed(), if !self.client_gone => {
                    self.client_gone = true;
                    if self.state.config.cancel_on_disconnect() {
                        tracing::info!("client disconnected: the invocation is cancelled");
                        return Some(Err(runtime_error(
                            StatusCode::GONE,
                            "Client.Disconnected",
                            "the client disconnected and cancel-on-disconnect is on",
                        )));
                    }
                    tracing::info!("client disconnected: the function runs on, as on AWS; its output is drained");
                }
            }
        }
    }

    async fn over_budget(&mut self) -> RuntimeResponse {
        let budget = self.meter.budget().limit();
        let failure = PlatformFailure::OverBudget { budget };
        let message = failure.to_string();
        self.answering.over();
        self.forward(StreamEvent::Failed(failure)).await;
        runtime_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Function.ResponseSizeTooLarge",
            &message,
        )
    }
}
