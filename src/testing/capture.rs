//! Decoding a captured Runtime API request: request line, headers, body, trailers, and what
//! they mean (a streamed response, a buffered one, or a function error).

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method};

use crate::wire::{
    BufferedResponseError, ChunkedDecoder, ChunkedError, ChunkedEvent, ERROR_TYPE_TRAILER,
    FunctionError, PreludeDecoder, PreludeError, ResponseHead, decode_buffered_response,
};

/// Why captured bytes could not be decoded.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CaptureError {
    /// The request head is malformed.
    #[error("malformed request head: {0}")]
    Head(#[from] httparse::Error),
    /// The request head or its fixed-length body is incomplete.
    #[error("the request is incomplete")]
    Incomplete,
    /// The chunked body is malformed.
    #[error(transparent)]
    Chunked(#[from] ChunkedError),
    /// The streamed body does not start with a valid prelude.
    #[error(transparent)]
    Prelude(#[from] PreludeError),
    /// The buffered payload cannot be mapped.
    #[error(transparent)]
    Buffered(#[from] BufferedResponseError),
}

/// One request the function sent to the Runtime API, decoded.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct CapturedRequest {
    /// The method.
    pub method: Method,
    /// The request target, as sent.
    pub path: String,
    /// The headers.
    pub headers: HeaderMap,
    /// Every byte of the request as it arrived: head, framing and trailers.
    pub raw: Bytes,
    /// The body with any chunked framing removed.
    pub body: Bytes,
    /// The chunk payloads one by one, as framed (empty for a fixed-length body).
    pub chunks: Vec<Bytes>,
    /// The trailer fields after the last chunk.
    pub trailers: HeaderMap,
    /// False when a chunked body ended without its last chunk (a truncated response).
    pub complete: bool,
}

/// A streamed response read back from a captured request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct StreamedResponse {
    /// Status, headers and cookies from the prelude.
    pub head: ResponseHead,
    /// The body bytes after the delimiter.
    pub body: Bytes,
    /// The error from the trailer fields, if the stream failed.
    pub error: Option<FunctionError>,
    /// False when the stream was truncated.
    pub complete: bool,
}

impl CapturedRequest {
    /// Reads a streamed response: prelude (found by scanning), body, error trailers.
    ///
    /// # Errors
    /// [`CaptureError::Prelude`] when the body has no valid prelude.
    pub fn streamed(&self) -> Result<StreamedResponse, CaptureError> {
        let mut buf = BytesMut::from(&self.body[..]);
        let head = PreludeDecoder::new()
            .decode(&mut buf)?
            .ok_or(CaptureError::Incomplete)?;
        Ok(StreamedResponse {
            head,
            body: buf.freeze(),
            error: FunctionError::from_trailers(&self.trailers),
            complete: self.complete,
        })
    }

    /// Reads a buffered response payload with the Function URL mapping rules.
    ///
    /// # Errors
    /// [`CaptureError::Buffered`] when the payload cannot be mapped.
    pub fn buffered(&self) -> Result<(ResponseHead, Bytes), CaptureError> {
        Ok(decode_buffered_response(&self.body)?)
    }

    /// The function error of an `/error` request: the type from the
    /// `Lambda-Runtime-Function-Error-Type` header (or the body), the message from the body.
    /// `None` for other requests.
    pub fn function_error(&self) -> Option<FunctionError> {
        if !self.path.ends_with("/error") {
            return None;
        }
        Some(FunctionError::from_error_request(
            self.headers.get(ERROR_TYPE_TRAILER),
            &self.body,
        ))
    }
}

/// The head of a request, once complete: method, target, headers and its length in bytes.
pub(crate) struct ParsedHead {
    pub(crate) method: Method,
    pub(crate) path: String,
    pub(crate) headers: HeaderMap,
    pub(crate) len: usize,
}

pub(crate) fn parse_head(buf: &[u8]) -> Result<Option<ParsedHead>, CaptureError> {
    let mut fields = [httparse::EMPTY_HEADER; 64];
    let mut request = httparse::Request::new(&mut fields);
    let httparse::Status::Complete(len) = request.parse(buf)? else {
        return Ok(None);
    };
    let method = Method::from_bytes(request.method.unwrap_or("GET").as_bytes())
        .map_err(|_| CaptureError::Head(httparse::Error::Token))?;
    let mut headers = HeaderMap::new();
    for field in request.headers.iter() {
        let name = HeaderName::from_bytes(field.name.as_bytes())
            .map_err(|_| CaptureError::Head(httparse::Error::HeaderName))?;
        let value = HeaderValue::from_bytes(field.value)
            .map_err(|_| CaptureError::Head(httparse::Error::HeaderValue))?;
        headers.append(name, value);
    }
    Ok(Some(ParsedHead {
        method,
        path: request.path.unwrap_or("/").to_owned(),
        headers,
        len,
    }))
}

pub(crate) fn is_chunked(headers: &HeaderMap) -> bool {
    headers
        .get_all(http::header::TRANSFER_ENCODING)
        .iter()
        .any(|v| {
            v.to_str()
                .is_ok_and(|t| t.to_ascii_lowercase().contains("chunked"))
        })
}

pub(crate) fn content_length(headers: &HeaderMap) -> usize {
    headers
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// Body decoding state shared by [`decode_captured_request`] and the test server.
pub(crate) struct BodyReader {
    chunked: Option<ChunkedDecoder>,
    remaining: usize,
    pub(crate) body: BytesMut,
    pub(crate) chunks: Vec<Bytes>,
    pub(crate) trailers: HeaderMap,
    open_chunk: bool,
}

impl BodyReader {
    pub(crate) fn new(headers: &HeaderMap) -> Self {
        BodyReader {
            chunked: is_chunked(headers).then(ChunkedDecoder::new),
            remaining: content_length(headers),
            body: BytesMut::new(),
            chunks: Vec::new(),
            trailers: HeaderMap::new(),
            open_chunk: false,
        }
    }

    /// Consumes body bytes from `buf`; returns true once the body is complete.
    pub(crate) fn feed(&mut self, buf: &mut BytesMut) -> Result<bool, CaptureError> {
        let Some(decoder) = self.chunked.as_mut() else {
            let take = self.remaining.min(buf.len());
            self.body.extend_from_slice(&buf[..take]);
            buf.advance(take);
            self.remaining -= take;
            return Ok(self.remaining == 0);
        };
        while let Some(event) = decoder.decode(buf)? {
            match event {
                ChunkedEvent::Data(data) => {
                    self.body.extend_from_slice(&data);
                    // A chunk split across reads arrives in pieces; keep one entry per chunk.
                    match self.chunks.last_mut() {
                        Some(last) if self.open_chunk => {
                            let mut joined = BytesMut::from(&last[..]);
                            joined.extend_from_slice(&data);
                            *last = joined.freeze();
                        }
                        _ => self.chunks.push(data),
                    }
                    self.open_chunk = decoder.in_chunk();
                }
                ChunkedEvent::End(trailers) => {
                    self.trailers = trailers;
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

/// Decodes the bytes of one captured HTTP/1.1 request (for example, taken with `tcpdump` from a
/// runtime talking to the Runtime API).
///
/// # Errors
/// [`CaptureError`] when the head or the framing is malformed, or a fixed-length body is short.
/// A chunked body without its last chunk is not an error: it is returned with `complete: false`.
///
/// ```
/// use lambda_stream::testing::decode_captured_request;
/// let raw = b"POST /2018-06-01/runtime/invocation/1/response HTTP/1.1\r\n\
///     Transfer-Encoding: chunked\r\n\r\n\
///     2\r\n{}\r\n8\r\n\0\0\0\0\0\0\0\0\r\n2\r\nhi\r\n0\r\n\r\n";
/// let response = decode_captured_request(raw)?.streamed()?;
/// assert_eq!((response.head.status.as_u16(), &response.body[..]), (200, &b"hi"[..]));
/// # Ok::<(), lambda_stream::testing::CaptureError>(())
/// ```
pub fn decode_captured_request(raw: &[u8]) -> Result<CapturedRequest, CaptureError> {
    let head = parse_head(raw)?.ok_or(CaptureError::Incomplete)?;
    let mut buf = BytesMut::from(&raw[head.len..]);
    let mut reader = BodyReader::new(&head.headers);
    let complete = reader.feed(&mut buf)?;
    if !complete && reader.chunked.is_none() {
        return Err(CaptureError::Incomplete);
    }
    Ok(CapturedRequest {
        method: head.method,
        path: head.path,
        headers: head.headers,
        raw: Bytes::copy_from_slice(raw),
        body: reader.body.freeze(),
        chunks: reader.chunks,
        trailers: reader.trailers,
        complete,
    })
}
