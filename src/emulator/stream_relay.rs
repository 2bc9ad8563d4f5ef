//! Reading a streamed `/response`: scan for the prelude, hand the head to the front, then
//! relay each body chunk as it arrives, counting wire bytes against the budget, until the
//! last chunk, an error trailer, a failure, or the invocation's deadline.

use bytes::{Bytes, BytesMut};
use futures_util::FutureExt;
use http::StatusCode;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use super::failure::PlatformFailure;
use super::runtime_api::{RuntimeResponse, accepted, runtime_error};
use super::state::{Answer, InFlight, State, StreamEvent};
use crate::wire::{ErrorType, FunctionError, PreludeDecoder, ResponseHead};

/// Body events buffered between the function and a slow client before the function is held
/// back (TCP backpressure, as on Lambda).
const RELAY_CAPACITY: usize = 8;

/// Small chunks already received are relayed as one: each relayed event costs a task wake-up
/// and a client write, which dominate below a few KiB. Only frames that are ready now are
/// taken (nothing waits), never past `room` bytes (the budget), so what the client sees and
/// when is unchanged.
const RELAY_BATCH: usize = 16 * 1024;

type ReadAhead = Option<Option<Result<http_body::Frame<Bytes>, hyper::Error>>>;

fn batch_ready(body: &mut Incoming, first: Bytes, room: u64, read_ahead: &mut ReadAhead) -> Bytes {
    if first.len() >= RELAY_BATCH {
        return first;
    }
    let mut batch = BytesMut::from(&first[..]);
    while batch.len() < RELAY_BATCH {
        let Some(next) = body.frame().now_or_never() else {
            break;
        };
        match next {
            Some(Ok(frame)) if frame.is_data() => {
                let data = frame.into_data().unwrap_or_default();
                if (batch.len() + data.len()) as u64 > room {
                    *read_ahead = Some(Some(Ok(http_body::Frame::data(data))));
                    break;
                }
                batch.extend_from_slice(&data);
            }
            other => {
                *read_ahead = Some(other);
                break;
            }
        }
    }
    batch.freeze()
}

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
    let mut decoder = PreludeDecoder::new();
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

    async fn run(mut self, mut body: Incoming) -> RuntimeResponse {
        let budget = self.state.config.stream_budget();
        // A frame read ahead while batching, handled before reading another.
        let mut read_ahead = None;
        loop {
            let Some(frame) = self.next_frame(&mut body, &mut read_ahead).await else {
                return self.timed_out();
            };
            let event = match frame {
                Ok(Some(Ok(frame))) => match frame.into_data() {
                    Ok(data) => {
                        let room = budget - self.wire_bytes.min(budget);
                        let data = batch_ready(&mut body, data, room, &mut read_ahead);
                        self.wire_bytes += data.len() as u64;
                        if self.wire_bytes > budget {
                            return self.over_budget(budget).await;
                        }
                        StreamEvent::Data(data)
                    }
                    Err(frame) => {
                        let error = frame.trailers_ref().and_then(FunctionError::from_trailers);
                        error.map_or(StreamEvent::End, StreamEvent::Error)
                    }
                },
                Ok(None) => {
                    // `End` after an `Error` event is ignored by the reader.
                    self.forward(StreamEvent::End).await;
                    return accepted();
                }
                Ok(Some(Err(error))) => {
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

    /// The next frame, `None` at the deadline; `Err` when the client went away and the
    /// invocation is to be cancelled (`--cancel-on-disconnect`).
    async fn next_frame(
        &mut self,
        body: &mut Incoming,
        read_ahead: &mut ReadAhead,
    ) -> Option<Result<Option<Result<http_body::Frame<Bytes>, hyper::Error>>, RuntimeResponse>>
    {
        if let Some(frame) = read_ahead.take() {
            return Some(Ok(frame));
        }
        loop {
            tokio::select! {
                frame = tokio::time::timeout_at(self.deadline, body.frame()) => {
                    return frame.ok().map(Ok);
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
