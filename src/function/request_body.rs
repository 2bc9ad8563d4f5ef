//! The bodies the runtime client sends to the Runtime API: a whole one, or the streamed
//! response ([`StreamingBody`]).

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body::{Frame, SizeHint};

use crate::stream::StreamingBody;

/// Every body the runtime client sends.
pub(crate) enum RequestBody {
    Full(Option<Bytes>),
    Streaming(Box<StreamingBody>),
}

impl RequestBody {
    pub(crate) fn empty() -> Self {
        RequestBody::Full(None)
    }

    pub(crate) fn full(data: impl Into<Bytes>) -> Self {
        RequestBody::Full(Some(data.into()))
    }
}

impl http_body::Body for RequestBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        match self.get_mut() {
            RequestBody::Full(data) => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
            RequestBody::Streaming(body) => Pin::new(body.as_mut()).poll_frame(cx),
        }
    }

    fn is_end_stream(&self) -> bool {
        matches!(self, RequestBody::Full(None))
    }

    fn size_hint(&self) -> SizeHint {
        match self {
            RequestBody::Full(data) => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            RequestBody::Streaming(_) => SizeHint::default(),
        }
    }
}
