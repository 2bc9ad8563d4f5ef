//! Reading a streamed answer to its end for a front that answers in one piece: a BUFFERED URL
//! or REST API, `Invoke` `RequestResponse`, and the count of an async `Event` invocation.

use bytes::{Bytes, BytesMut};
use tokio::sync::mpsc;

use crate::emulator::failure::PlatformFailure;
use crate::emulator::runtime::state::{Deadline, StreamEvent};
use crate::wire::{FunctionError, ResponseHead};

/// How a stream ended other than with its last chunk.
#[derive(Debug)]
pub(crate) enum Unfinished {
    /// The function's error trailer.
    Error(FunctionError),
    /// The platform's failure: over the limit, truncated, timed out.
    Failed(PlatformFailure),
}

impl Unfinished {
    /// The access-log outcome.
    pub(crate) fn outcome(&self) -> String {
        match self {
            Unfinished::Error(error) => error.to_string(),
            Unfinished::Failed(failure) => failure.outcome(),
        }
    }
}

/// What to keep of a stream's body.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Keep {
    /// The body, up to this many bytes; more is `Function.ResponseSizeTooLarge`.
    Within(usize),
    /// Nothing: the bytes are counted and dropped (no caller reads them).
    Count,
}

/// The body read to its last chunk and its length, or how it ended otherwise.
pub(crate) async fn read_to_end(
    mut events: mpsc::Receiver<StreamEvent>,
    keep: Keep,
    deadline: Deadline,
) -> Result<(Bytes, u64), Unfinished> {
    let mut body = BytesMut::new();
    let mut length = 0u64;
    loop {
        match deadline.next_event(&mut events).await {
            StreamEvent::Data(data) => {
                length += data.len() as u64;
                if let Keep::Within(limit) = keep {
                    if body.len() + data.len() > limit {
                        let limit = limit as u64;
                        let too_large = PlatformFailure::PayloadTooLarge { limit };
                        return Err(Unfinished::Failed(too_large));
                    }
                    body.extend_from_slice(&data);
                }
            }
            StreamEvent::End => return Ok((body.freeze(), length)),
            StreamEvent::Error(error) => return Err(Unfinished::Error(error)),
            StreamEvent::Failed(failure) => return Err(Unfinished::Failed(failure)),
        }
    }
}

/// A streamed answer to a BUFFERED URL or REST API: collected within the buffered limit (prelude
/// included, as Lambda counts it), with its prelude applied.
pub(crate) async fn collect_stream(
    head: ResponseHead,
    prelude_len: usize,
    events: mpsc::Receiver<StreamEvent>,
    limit: usize,
    deadline: Deadline,
) -> Result<(ResponseHead, Bytes), String> {
    let keep = Keep::Within(limit.saturating_sub(prelude_len));
    match read_to_end(events, keep, deadline).await {
        Ok((body, _)) => Ok((head, body)),
        // The limit counts the prelude: say the whole limit.
        Err(Unfinished::Failed(PlatformFailure::PayloadTooLarge { .. })) => {
            let limit = limit as u64;
            Err(PlatformFailure::PayloadTooLarge { limit }.outcome())
        }
        Err(unfinished) => Err(unfinished.outcome()),
    }
}
