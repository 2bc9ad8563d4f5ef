//! Reading a streamed `/response`: scan for the prelude, hand the head to the front, then
//! relay each body chunk as it arrives, counting wire bytes against the budget, until the
//! last chunk, an error trailer, a failure, or the invocation's deadline.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::BytesMut;
use http::StatusCode;
use http_body::Body as _;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::failure::PlatformFailure;
use super::runtime_api::{RuntimeResponse, accepted, runtime_error};
use super::state::{Answer, InFlight, State, StreamEvent};
use crate::body::Chunk;
use crate::body::merge::{ChunkSource, MergeLimits, MergeReady};
use crate::body::ready::MERGE_WINDOW;
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

impl ChunkSource for Frames {
    type End = FramesEnd;

    fn poll_chunk(&mut self, cx: &mut Context<'_>) -> Poll<Option<Result<Chunk, FramesEnd>>> {
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

/// What the function is told when its response was cut at the deadline.
fn timed_out() -> RuntimeResponse {
    runtime_error(
        StatusCode::GONE,
        "Function.Timeout",
        "the invocation reached its deadline; the response was cut off",
    )
}

/// The prelude, the body bytes read past it, and the prelude's length; or how the response
/// ended before its body (the answer for the front, the reply for the function).
type Prelude = Result<(ResponseHead, BytesMut, usize), (Answer, RuntimeResponse)>;

async fn read_prelude(body: &mut Incoming, deadline: Instant, state: &State) -> Prelude {
    // A REST API reads the metadata's multiValueHeaders too; a Function URL ignores them.
    let mut decoder = match state.config.front() {
        super::front::Front::RestApi(_) => PreludeDecoder::for_rest_api(),
        _ => PreludeDecoder::new(),
    };
    let mut buf = BytesMut::new();
    let mut wire_bytes = 0;
    let failed = |failure: PlatformFailure| (Answer::Failed(failure), accepted());
    loop {
        let Ok(frame) = tokio::time::timeout_at(deadline, body.frame()).await else {
            let timeout = PlatformFailure::Timeout(state.config.timeout());
            return Err((Answer::Failed(timeout), timed_out()));
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
                    return Err((Answer::Error(error), accepted()));
                }
            },
            None => {
                let reason = "the response ended before its prelude".to_owned();
                return Err(failed(PlatformFailure::Truncated(reason)));
            }
            Some(Err(error)) => {
                let reason = format!("before its prelude: {error}");
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

/// Relays a streamed response to the front that waits on `in_flight`.
pub(crate) async fn relay_stream(
    state: &State,
    in_flight: InFlight,
    mut body: Incoming,
) -> RuntimeResponse {
    let deadline = in_flight.deadline_instant();
    // The concurrency slot is held until the stream ends or the deadline passes.
    let InFlight {
        reply,
        permit: _slot,
        instance,
        ..
    } = in_flight;
    let (head, rest, prelude_len) = match read_prelude(&mut body, deadline, state).await {
        Ok(prelude) => prelude,
        Err((answer, response)) => return answer_early(state, instance, reply, answer, response),
    };
    let (events, receiver) = mpsc::channel(RELAY_CAPACITY);
    let _ = reply.send(Answer::Stream {
        head,
        prelude_len,
        events: receiver,
    });
    let mut relay = Relaying {
        state,
        instance,
        events,
        deadline,
        wire_bytes: prelude_len as u64,
        client_gone: false,
    };
    if !rest.is_empty() {
        relay.wire_bytes += rest.len() as u64;
        if !relay.forward(StreamEvent::Data(rest.freeze())).await {
            return relay.timed_out();
        }
    }
    relay.run(body).await
}

fn answer_early(
    state: &State,
    instance: usize,
    reply: oneshot::Sender<Answer>,
    answer: Answer,
    response: RuntimeResponse,
) -> RuntimeResponse {
    if matches!(answer, Answer::Failed(PlatformFailure::Timeout(_))) {
        state.reset(instance);
    }
    let _ = reply.send(answer);
    response
}

/// A body being relayed.
struct Relaying<'a> {
    state: &'a State,
    instance: usize,
    events: mpsc::Sender<StreamEvent>,
    deadline: Instant,
    wire_bytes: u64,
    client_gone: bool,
}

impl Relaying<'_> {
    /// Hands an event to the front, waiting for a slow client at most until the deadline:
    /// a client that stops reading cannot hold the invocation (and its slot) past it.
    async fn forward(&mut self, event: StreamEvent) -> bool {
        // A client that went away is not an error (the send fails, the output is drained);
        // only the deadline is.
        tokio::time::timeout_at(self.deadline, self.events.send(event))
            .await
            .is_ok()
    }

    /// The deadline passed: the client's response is cut off (told so if there is room in
    /// the relay, else its own deadline cuts it) and the function's environment is reset.
    fn timed_out(&self) -> RuntimeResponse {
        let timeout = PlatformFailure::Timeout(self.state.config.timeout());
        let _ = self.events.try_send(StreamEvent::Failed(timeout));
        self.state.reset(self.instance);
        timed_out()
    }

    async fn run(mut self, body: Incoming) -> RuntimeResponse {
        let budget = self.state.config.stream_budget();
        let mut frames = MergeReady::new(Frames(body), RELAY_MERGE);
        loop {
            let room = budget - self.wire_bytes.min(budget);
            frames.set_max_bytes(
                usize::try_from(room).map_or(usize::MAX, |room| room.min(RELAY_MERGE.max_bytes)),
            );
            let Some(merged) = self.next_merged(&mut frames).await else {
                return self.timed_out();
            };
            let event = match merged {
                Ok(Some(Ok(chunk))) => {
                    self.wire_bytes += chunk.len() as u64;
                    if self.wire_bytes > budget {
                        return self.over_budget(budget).await;
                    }
                    StreamEvent::Data(chunk.into_data())
                }
                Ok(Some(Err(FramesEnd::Trailers(error)))) => {
                    error.map_or(StreamEvent::End, StreamEvent::Error)
                }
                Ok(None) => {
                    // `End` after an `Error` event is ignored by the reader.
                    self.forward(StreamEvent::End).await;
                    return accepted();
                }
                Ok(Some(Err(FramesEnd::Broken(error)))) => {
                    let failure = PlatformFailure::Truncated(error.to_string());
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
        frames: &mut MergeReady<Frames>,
    ) -> Option<Result<Merged, RuntimeResponse>> {
        loop {
            let merged = std::future::poll_fn(|cx| frames.poll_merged(cx));
            tokio::select! {
                merged = tokio::time::timeout_at(self.deadline, merged) => {
                    return merged.ok().map(Ok);
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

    async fn over_budget(&mut self, budget: u64) -> RuntimeResponse {
        let failure = PlatformFailure::OverBudget { budget };
        let message = failure.to_string();
        self.forward(StreamEvent::Failed(failure)).await;
        runtime_error(
            StatusCode::PAYLOAD_TOO_LARGE,
            "Function.ResponseSizeTooLarge",
            &message,
        )
    }
}
