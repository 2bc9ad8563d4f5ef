//! The response body a handler returns, and the ways to make one.

mod channel;
mod chunk;
mod continuation;
mod http_body;
pub(crate) mod next_link;
mod records;
#[cfg(feature = "sse")]
#[cfg_attr(docsrs, doc(cfg(feature = "sse")))]
pub mod sse;

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{Stream, StreamExt};
use tokio::io::AsyncRead;

use crate::aliases::BoxError;
use crate::wire::{ErrorType, FunctionError};

pub use channel::{BodyClosed, BodySender};
pub(crate) use chunk::{Chunk, ChunkBuilder};
pub use continuation::{Continuation, Truncation, TruncationReason};

/// Read size used by [`Body::from_reader`]: large enough for throughput, small enough to keep
/// memory flat and first bytes early.
pub(crate) const DEFAULT_READ_CAPACITY: usize = 64 * 1024;

/// The response a handler returns. Build it with `http::Response::builder()`; `Set-Cookie`
/// headers become the Function URL's `cookies`.
pub type Response = http::Response<Body>;

/// A streamed response body: a sequence of byte chunks that may end with an error. It is an
/// [`http_body::Body`](::http_body::Body) (data frames; the error is a [`BoxError`] holding a [`FunctionError`])
/// and a [`Stream`] of `Result<Bytes, FunctionError>`.
///
/// Every item is sent as soon as it is produced; small items (under 16 KiB) already ready behind
/// it share its HTTP chunk (whole items, up to 64 KiB; nothing waits for an item that is not
/// ready). Empty items are skipped, since an empty chunk would end a chunked body. An error ends
/// the stream: before the first byte it becomes a function error, after it real trailer fields;
/// nothing is sent after it.
///
/// ```
/// use lambda_stream::Body;
/// use futures_util::stream;
///
/// let from_text = Body::from("hello");
/// let from_stream = Body::from_stream(stream::iter([Ok::<_, std::io::Error>("a"), Ok("b")]));
/// let (sender, from_channel) = Body::channel();
/// # drop((from_text, from_stream, sender, from_channel));
/// ```
#[must_use = "a body does nothing unless returned in a response"]
pub struct Body {
    inner: Inner,
    /// What a framing closes a cut body with (a JSON array's `]`), part of its format; a
    /// response's own [`Continuation`] (an extension) takes its place.
    framing_end: Option<Continuation>,
}

enum Inner {
    Once(Option<Bytes>),
    /// Each item is one or more whole records.
    Stream(BoxStream<'static, Result<Chunk, FunctionError>>),
}

impl Body {
    /// A body with no bytes.
    pub fn empty() -> Self {
        Body {
            inner: Inner::Once(None),
            framing_end: None,
        }
    }

    /// A body from any stream of byte chunks. An `Err` item ends the body with that error:
    /// a [`FunctionError`] keeps its type, any other error is reported as
    /// `Function.StreamError` with its message.
    pub fn from_stream<S, B, E>(stream: S) -> Self
    where
        S: Stream<Item = Result<B, E>> + Send + 'static,
        B: Into<Bytes> + 'static,
        E: Into<BoxError> + 'static,
    {
        Body::from_chunks(Records { items: stream })
    }

    /// A body from chunks that each know their records (a merging stage's output).
    pub(crate) fn from_chunks<S>(chunks: S) -> Self
    where
        S: Stream<Item = Result<Chunk, FunctionError>> + Send + 'static,
    {
        Body {
            inner: Inner::Stream(chunks.boxed()),
            framing_end: None,
        }
    }

    /// The next chunk with its record boundaries (never empty: every source skips empty
    /// items).
    #[inline]
    pub(crate) fn poll_chunk(
        &mut self,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Chunk, FunctionError>>> {
        match &mut self.inner {
            Inner::Stream(stream) => stream.poll_next_unpin(cx),
            Inner::Once(data) => Poll::Ready(
                data.take()
                    .filter(|d| !d.is_empty())
                    .map(|d| Ok(Chunk::record(d))),
            ),
        }
    }

    /// A body read from an [`AsyncRead`] (a file, a child process, a decompressor) in chunks of
    /// up to 64 KiB; a read error ends the body with
    /// `Function.StreamError`.
    pub fn from_reader<R>(reader: R) -> Self
    where
        R: AsyncRead + Send + 'static,
    {
        Self::from_reader_with_capacity(reader, DEFAULT_READ_CAPACITY)
    }

    /// Like [`Body::from_reader`] with a chosen read size.
    pub fn from_reader_with_capacity<R>(reader: R, capacity: usize) -> Self
    where
        R: AsyncRead + Send + 'static,
    {
        Self::from_stream(tokio_util::io::ReaderStream::with_capacity(
            reader,
            capacity.max(1),
        ))
    }

    /// A body fed from a task through a [`BodySender`], holding up to 16 chunks before
    /// `send` waits (backpressure: a slow client slows the producer, memory stays flat).
    ///
    /// ```
    /// # async fn example() -> Result<(), lambda_stream::BodyClosed> {
    /// let (sender, body) = lambda_stream::Body::channel();
    /// tokio::spawn(async move {
    ///     for step in 0..3 {
    ///         if sender.send(format!("step {step}\n")).await.is_err() {
    ///             return; // the response ended early: stop working
    ///         }
    ///     }
    /// });
    /// # drop(body); Ok(()) }
    /// ```
    pub fn channel() -> (BodySender, Body) {
        Self::channel_with_capacity(16)
    }

    /// Like [`Body::channel`], buffering up to `capacity` chunks (at least 1).
    pub fn channel_with_capacity(capacity: usize) -> (BodySender, Body) {
        let (sender, receiver) = channel::pair(capacity);
        (sender, Body::from_chunks(Records { items: receiver }))
    }

    /// Closes a cut body with what `end` makes (a framing's terminator).
    pub(crate) fn with_framing_end(mut self, end: Continuation) -> Self {
        self.framing_end = Some(end);
        self
    }

    /// The framing's terminator, taken out for the stage that ends the body.
    pub(crate) fn take_framing_end(&mut self) -> Option<Continuation> {
        self.framing_end.take()
    }

    /// The body's bytes as a stream, item by item: an explicit conversion, as axum's. What a
    /// framing closes a cut body with (a JSON array's `]`) is not part of the stream, so a body
    /// made again from it ends as any body does.
    ///
    /// ```
    /// # async fn example() {
    /// use futures_util::StreamExt;
    /// let body = lambda_stream::Body::from("hello");
    /// let items: Vec<_> = body.into_data_stream().collect().await;
    /// assert_eq!(items.len(), 1);
    /// # }
    /// ```
    pub fn into_data_stream(
        mut self,
    ) -> impl Stream<Item = Result<Bytes, FunctionError>> + Send + 'static {
        futures_util::stream::poll_fn(move |cx| self.poll_chunk(cx).map_ok(Chunk::into_data))
    }

    /// The exact length when the body is a single known buffer.
    pub fn exact_len(&self) -> Option<usize> {
        match &self.inner {
            Inner::Once(data) => Some(data.as_ref().map_or(0, Bytes::len)),
            Inner::Stream(_) => None,
        }
    }
}

pin_project_lite::pin_project! {
    /// A stream of items as one-record chunks, in one step: empty items skipped (an empty
    /// chunk would end a chunked body), errors made [`FunctionError`]s.
    struct Records<S> {
        #[pin]
        items: S,
    }
}

impl<S, B, E> Stream for Records<S>
where
    S: Stream<Item = Result<B, E>>,
    B: Into<Bytes>,
    E: Into<BoxError>,
{
    type Item = Result<Chunk, FunctionError>;

    #[inline]
    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let mut items = self.project().items;
        loop {
            return Poll::Ready(match std::task::ready!(items.as_mut().poll_next(cx)) {
                Some(Ok(data)) => {
                    let data = data.into();
                    if data.is_empty() {
                        continue;
                    }
                    Some(Ok(Chunk::record(data)))
                }
                Some(Err(error)) => Some(Err(FunctionError::from_error(
                    error.into(),
                    ErrorType::STREAM_ERROR,
                ))),
                None => None,
            });
        }
    }
}

impl Default for Body {
    fn default() -> Self {
        Self::empty()
    }
}

impl fmt::Debug for Body {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.inner {
            Inner::Once(data) => f.debug_tuple("Body").field(data).finish(),
            Inner::Stream(_) => f.write_str("Body(<stream>)"),
        }
    }
}

/// A `Body` is an `http_body::Body` as axum's and hyper's are, so http-body-util and
/// tower-http combinators apply to it; a [`FunctionError`] travels inside the error (downcast
/// it, or hand the result back to [`Body::from_http_body`], which keeps its type).
impl ::http_body::Body for Body {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<::http_body::Frame<Bytes>, BoxError>>> {
        self.poll_chunk(cx).map(|item| {
            item.map(|result| {
                result
                    .map(|chunk| ::http_body::Frame::data(chunk.into_data()))
                    .map_err(BoxError::from)
            })
        })
    }

    fn is_end_stream(&self) -> bool {
        matches!(&self.inner, Inner::Once(data) if data.as_ref().is_none_or(Bytes::is_empty))
    }

    fn size_hint(&self) -> ::http_body::SizeHint {
        match &self.inner {
            Inner::Once(data) => {
                ::http_body::SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
            Inner::Stream(_) => ::http_body::SizeHint::default(),
        }
    }
}

impl From<Bytes> for Body {
    fn from(data: Bytes) -> Self {
        Body {
            inner: Inner::Once(Some(data)),
            framing_end: None,
        }
    }
}

impl From<Vec<u8>> for Body {
    fn from(data: Vec<u8>) -> Self {
        Bytes::from(data).into()
    }
}

impl From<String> for Body {
    fn from(data: String) -> Self {
        Bytes::from(data).into()
    }
}

impl From<&'static str> for Body {
    fn from(data: &'static str) -> Self {
        Bytes::from_static(data.as_bytes()).into()
    }
}

impl From<&'static [u8]> for Body {
    fn from(data: &'static [u8]) -> Self {
        Bytes::from_static(data).into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    async fn collect(body: Body) -> (Vec<Bytes>, Option<FunctionError>) {
        let mut chunks = Vec::new();
        let mut body = std::pin::pin!(body.into_data_stream());
        while let Some(item) = body.next().await {
            match item {
                Ok(chunk) => chunks.push(chunk),
                Err(e) => return (chunks, Some(e)),
            }
        }
        (chunks, None)
    }

    #[tokio::test]
    async fn empty_chunks_are_skipped() {
        let body = Body::from_stream(stream::iter([
            Ok::<_, std::io::Error>(""),
            Ok("a"),
            Ok(""),
            Ok("b"),
        ]));
        assert_eq!(collect(body).await, (vec!["a".into(), "b".into()], None));
        assert_eq!(collect(Body::from("")).await, (vec![], None));
        assert_eq!(collect(Body::empty()).await, (vec![], None));
    }

    #[tokio::test]
    async fn stream_errors_become_function_errors() {
        let custom = FunctionError::new(ErrorType::PANIC, "custom");
        let body = Body::from_stream(stream::iter([Ok("a"), Err(BoxError::from(custom.clone()))]));
        assert_eq!(collect(body).await, (vec!["a".into()], Some(custom)));
        let body = Body::from_stream(stream::iter([Err::<&str, _>(std::io::Error::other("eof"))]));
        let (_, error) = collect(body).await;
        assert_eq!(error.unwrap().error_type(), &ErrorType::STREAM_ERROR);
    }

    #[tokio::test]
    async fn reader_bodies_chunk_by_capacity() {
        let data: &'static [u8] = b"0123456789";
        let body = Body::from_reader_with_capacity(data, 4);
        let (chunks, error) = collect(body).await;
        assert_eq!(chunks.concat(), data);
        assert!(chunks.iter().all(|c| c.len() <= 4));
        assert!(error.is_none());
    }

    #[tokio::test]
    async fn http_body_combinators_apply_and_errors_keep_their_type() {
        use http_body_util::BodyExt as _;
        let custom = FunctionError::new(ErrorType::new("Function.Custom").unwrap(), "late");
        let items = stream::iter([Ok("a"), Ok("b"), Err(BoxError::from(custom.clone()))]);
        let upper = Body::from_stream(items)
            .map_frame(|frame| frame.map_data(|data| Bytes::from(data.to_ascii_uppercase())));
        let (chunks, error) = collect(Body::from_http_body(upper)).await;
        assert_eq!(chunks, [Bytes::from("A"), Bytes::from("B")]);
        assert_eq!(
            error,
            Some(custom),
            "the error crosses the combinator typed"
        );

        let limited = http_body_util::Limited::new(Body::from("12345"), 3);
        assert!(
            limited.collect().await.is_err(),
            "http-body-util's Limited applies"
        );
        let whole = http_body_util::BodyExt::collect(Body::from("abc"))
            .await
            .unwrap()
            .to_bytes();
        assert_eq!(whole, "abc");
        assert!(::http_body::Body::is_end_stream(&Body::empty()));
        assert_eq!(
            ::http_body::Body::size_hint(&Body::from("abc")).exact(),
            Some(3)
        );
    }

    #[test]
    fn exact_len_is_known_for_buffers_only() {
        assert_eq!(Body::from("abc").exact_len(), Some(3));
        assert_eq!(Body::empty().exact_len(), Some(0));
        assert_eq!(Body::channel().1.exact_len(), None);
    }
}
