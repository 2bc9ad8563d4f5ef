//! What a function answers, as the fronts receive it: a stream (its head, then body events), a
//! buffered payload, an error, or the platform's failure.

use bytes::Bytes;
use http::HeaderValue;
use tokio::sync::mpsc;

use crate::emulator::failure::PlatformFailure;
use crate::wire::{FunctionError, ResponseHead};

/// What the function answered, as the fronts need it.
pub(crate) enum Answer {
    /// A streamed response: body events follow on the channel.
    Stream {
        /// The head read from the prelude, for a front that reads it (a Function URL, a REST
        /// API); `None` for the Lambda API's invoke routes, whose body events are the
        /// function's bytes as written, prelude and 8 NULs included.
        head: Option<ResponseHead>,
        /// The prelude's length on the wire (0 when it was not read).
        prelude_len: usize,
        events: mpsc::Receiver<StreamEvent>,
    },
    /// A buffered `/response` payload and the runtime's content type.
    Payload {
        content_type: Option<HeaderValue>,
        body: Bytes,
    },
    /// `/error` (or error trailers before the prelude): the error, and the document the
    /// runtime posted, which the Invoke API passes on as posted (`None` for trailers).
    Error(FunctionError, Option<Bytes>),
    /// The invocation failed on the platform side: the URL client gets `502`.
    Failed(PlatformFailure),
}

/// Body events of a streamed response, in order.
#[derive(Debug)]
pub(crate) enum StreamEvent {
    Data(Bytes),
    /// The last chunk arrived with no error.
    End,
    /// The last chunk arrived with error trailers.
    Error(FunctionError),
    /// The stream failed on the platform side (truncated, over budget, timed out): the client
    /// response is cut off.
    Failed(PlatformFailure),
}
