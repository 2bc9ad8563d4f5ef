//! The Lambda response-streaming wire format, sans-IO: no sockets, no runtime, only bytes in
//! and bytes out. The function side and the emulator both speak through these types, and tests
//! decode what any runtime sends with them.
//!
//! - [`encode_prelude`] / [`PreludeDecoder`]: the JSON head and the 8-NUL delimiter.
//! - [`ChunkedDecoder`]: HTTP/1.1 chunked framing with trailers.
//! - [`FunctionError`]: the `/error` body and the `Lambda-Runtime-Function-Error-*` trailers.
//! - [`request_from_event`] / [`event_from_request`]: Function URL payload format 2.0.
//! - [`encode_buffered_response`] / [`decode_buffered_response`]: the `BUFFERED` response JSON.
//! - [`RuntimeRoute`] / [`InvocationHeaders`] / [`RequestId`]: the Runtime API's routes and
//!   `/next` headers.

mod buffered;
pub(crate) mod chunk_encoder;
mod chunked;
mod error_trailer;
mod event;
#[cfg(feature = "compression")]
pub(crate) use event::media_type_essence;
mod head;
mod payload_cost;
pub(crate) use payload_cost::{BufferedCost, PayloadCost};
mod prelude;
mod rest_event;
mod rest_response;
mod runtime_address;
mod runtime_api;

pub use buffered::{
    BUFFERED_RESPONSE_LIMIT, BufferedResponseError, decode_buffered_response,
    encode_buffered_response,
};
pub use chunked::{ChunkedDecoder, ChunkedError, ChunkedEvent};
pub(crate) use error_trailer::DECLARED_ERROR_TRAILERS;
pub use error_trailer::{
    ERROR_BODY_TRAILER, ERROR_TYPE_TRAILER, ErrorType, FunctionError, InvalidErrorType,
    MAX_ERROR_BODY_TRAILER_LEN,
};
pub use event::{
    EventContext, EventError, RawEvent, RawInvoke, RequestContext, event_from_request,
    request_from_event,
};
pub use head::ResponseHead;
pub(crate) use prelude::HTTP_INTEGRATION_CONTENT_TYPE;
pub use prelude::{
    MAX_PRELUDE_LEN, PRELUDE_DELIMITER, PreludeDecoder, PreludeError, encode_prelude,
};
pub(crate) use rest_event::is_invoke_completion_notice;
pub use rest_event::{RestRequestContext, rest_event_from_request};
pub(crate) use rest_event::{is_rest_event, request_from_rest_event};
pub(crate) use rest_response::HeadFormat;
pub use rest_response::{
    decode_rest_buffered_response, encode_rest_buffered_response, encode_rest_prelude,
};
pub use runtime_address::RuntimeApiAddress;
pub(crate) use runtime_api::RESPONSE_MODE_HEADER;
pub use runtime_api::{
    InvalidRequestId, InvocationHeaders, InvocationHeadersError, RequestId, RuntimeRoute,
    UnknownRoute,
};
