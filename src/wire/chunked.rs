//! HTTP/1.1 chunked transfer coding (RFC 9112 section 7.1) with trailer fields: the decoder,
//! incremental, handing out payload as slices of the input buffer (its encoder, for tests, is
//! `chunk_encoder`).

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue};

/// Longest chunk-size line accepted, extensions included.
const MAX_SIZE_LINE: usize = 4096;
/// Largest trailer section accepted.
const MAX_TRAILER_SECTION: usize = 16 * 1024;
/// Most trailer fields accepted.
const MAX_TRAILER_FIELDS: usize = 64;

/// What the chunked decoder found next.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ChunkedEvent {
    /// Payload bytes (a whole chunk or the part of one received so far).
    Data(Bytes),
    /// The last chunk and its trailer fields (empty when none): the body is complete.
    End(HeaderMap),
}

/// Why chunked input is malformed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChunkedError {
    /// The chunk-size line is not hex digits (optionally followed by `;extensions`).
    #[error("invalid chunk size line")]
    InvalidChunkSize,
    /// The chunk size does not fit in 64 bits.
    #[error("chunk size overflows 64 bits")]
    ChunkSizeOverflow,
    /// The chunk-size line is longer than 4096 bytes.
    #[error("chunk size line longer than {MAX_SIZE_LINE} bytes")]
    SizeLineTooLong,
    /// A chunk's payload is not followed by `\r\n`.
    #[error("chunk payload not followed by CRLF")]
    MissingChunkCrlf,
    /// The trailer section is over 16 KiB or holds over 64 fields.
    #[error(
        "trailer section larger than {MAX_TRAILER_SECTION} bytes or {MAX_TRAILER_FIELDS} fields"
    )]
    TrailersTooLarge,
    /// A trailer field is not `name: value`.
    #[error("invalid trailer field")]
    InvalidTrailer,
    /// Input arrived after the last chunk.
    #[error("data after the end of the chunked body")]
    DataAfterEnd,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    SizeLine,
    Data(u64),
    DataCrlf,
    Trailers,
    Done,
}

/// Incremental decoder of a chunked body, trailers included.
///
/// Append input to a `BytesMut` and call [`decode`](Self::decode) until it returns `Ok(None)`
/// (needs more input). Payload comes out as it arrives, split wherever the input was split.
///
/// ```
/// use bytes::BytesMut;
/// use lambda_stream::wire::{ChunkedDecoder, ChunkedEvent};
/// let mut decoder = ChunkedDecoder::new();
/// let mut buf = BytesMut::from(&b"5\r\nhello\r\n0\r\nX-Done: yes\r\n\r\n"[..]);
/// assert_eq!(decoder.decode(&mut buf)?, Some(ChunkedEvent::Data("hello".into())));
/// let Some(ChunkedEvent::End(trailers)) = decoder.decode(&mut buf)? else { panic!() };
/// assert_eq!(trailers["x-done"], "yes");
/// # Ok::<(), lambda_stream::wire::ChunkedError>(())
/// ```
#[derive(Debug, Clone)]
pub struct ChunkedDecoder {
    state: State,
}

impl Default for ChunkedDecoder {
    fn default() -> Self {
        Self::new()
    }
}

impl ChunkedDecoder {
    /// A decoder at the start of a chunked body.
    pub fn new() -> Self {
        ChunkedDecoder {
            state: State::SizeLine,
        }
    }

    /// True while part of the current chunk's payload is still to come (the last
    /// [`ChunkedEvent::Data`] was a piece of a chunk, not its end).
    pub fn in_chunk(&self) -> bool {
        matches!(self.state, State::Data(_))
    }

    /// True once the last chunk and trailers were decoded.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Decodes the next event from the front of `buf`, consuming what it used.
    ///
    /// # Errors
    /// A [`ChunkedError`] for malformed input; the decoder should not be used again.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<ChunkedEvent>, ChunkedError> {
        loop {
            match self.state {
                State::SizeLine => {
                    let Some(line_end) = find_crlf(buf, MAX_SIZE_LINE)? else {
                        return Ok(None);
                    };
                    let size = parse_size_line(&buf[..line_end])?;
                    buf.advance(line_end + 2);
                    self.state = if size == 0 {
                        State::Trailers
                    } else {
                        State::Data(size)
                    };
                }
                State::Data(remaining) => {
                    if buf.is_empty() {
                        return Ok(None);
                    }
                    let take = usize::try_from(remaining)
                        .unwrap_or(usize::MAX)
                        .min(buf.len());
                    let data = buf.split_to(take).freeze();
                    let left = remaining - take as u64;
                    self.state = if left == 0 {
                        State::DataCrlf
                    } else {
                        State::Data(left)
                    };
                    return Ok(Some(ChunkedEvent::Data(data)));
                }
                State::DataCrlf => {
                    if buf.len() < 2 {
                        if buf.first().is_some_and(|&b| b != b'\r') {
                            return Err(ChunkedError::MissingChunkCrlf);
                        }
                        return Ok(None);
                    }
                    if &buf[..2] != b"\r\n" {
                        return Err(ChunkedError::MissingChunkCrlf);
                    }
                    buf.advance(2);
                    self.state = State::SizeLine;
                }
                State::Trailers => {
                    let Some(section_len) = find_trailer_section_end(buf)? else {
                        return Ok(None);
                    };
                    let trailers = parse_trailers(&buf[..section_len])?;
                    buf.advance(section_len);
                    self.state = State::Done;
                    return Ok(Some(ChunkedEvent::End(trailers)));
                }
                State::Done => {
                    return if buf.is_empty() {
                        Ok(None)
                    } else {
                        Err(ChunkedError::DataAfterEnd)
                    };
                }
            }
        }
    }
}

fn find_crlf(buf: &[u8], max: usize) -> Result<Option<usize>, ChunkedError> {
    match buf.windows(2).position(|w| w == b"\r\n") {
        Some(pos) if pos <= max => Ok(Some(pos)),
        Some(_) => Err(ChunkedError::SizeLineTooLong),
        None if buf.len() > max => Err(ChunkedError::SizeLineTooLong),
        None => Ok(None),
    }
}

fn parse_size_line(line: &[u8]) -> Result<u64, ChunkedError> {
    let digits = line.split(|&b| b == b';').next().unwrap_or_default();
    let digits = digits.trim_ascii();
    if digits.is_empty() {
        return Err(ChunkedError::InvalidChunkSize);
    }
    let mut size: u64 = 0;
    for &digit in digits {
        let value = (digit as char)
            .to_digit(16)
            .ok_or(ChunkedError::InvalidChunkSize)?;
        size = size
            .checked_mul(16)
            .and_then(|s| s.checked_add(u64::from(value)))
            .ok_or(ChunkedError::ChunkSizeOverflow)?;
    }
    Ok(size)
}

/// Length of the trailer section including its final empty line, once it is all in `buf`.
fn find_trailer_section_end(buf: &[u8]) -> Result<Option<usize>, ChunkedError> {
    if buf.starts_with(b"\r\n") {
        return Ok(Some(2));
    }
    match buf.windows(4).position(|w| w == b"\r\n\r\n") {
        Some(pos) if pos + 4 <= MAX_TRAILER_SECTION => Ok(Some(pos + 4)),
        Some(_) => Err(ChunkedError::TrailersTooLarge),
        None if buf.len() > MAX_TRAILER_SECTION => Err(ChunkedError::TrailersTooLarge),
        None => Ok(None),
    }
}

fn parse_trailers(section: &[u8]) -> Result<HeaderMap, ChunkedError> {
    let mut fields = [httparse::EMPTY_HEADER; MAX_TRAILER_FIELDS];
    match httparse::parse_headers(section, &mut fields) {
        Ok(httparse::Status::Complete((_, parsed))) => {
            let mut trailers = HeaderMap::with_capacity(parsed.len());
            for field in parsed {
                let name = HeaderName::from_bytes(field.name.as_bytes())
                    .map_err(|_| ChunkedError::InvalidTrailer)?;
                let value = HeaderValue::from_bytes(field.value)
                    .map_err(|_| ChunkedError::InvalidTrailer)?;
                trailers.append(name, value);
            }
            Ok(trailers)
        }
        Ok(httparse::Status::Partial) => Err(ChunkedError::InvalidTrailer),
        Err(httparse::Error::TooManyHeaders) => Err(ChunkedError::TrailersTooLarge),
        Err(_) => Err(ChunkedError::InvalidTrailer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::chunk_encoder::{encode_chunk, encode_last_chunk};
    use proptest::prelude::*;

    fn encode_all(chunks: &[Vec<u8>], trailers: &HeaderMap) -> Vec<u8> {
        let mut out = Vec::new();
        for chunk in chunks.iter().filter(|c| !c.is_empty()) {
            let mut encoded = encode_chunk(Bytes::copy_from_slice(chunk));
            while encoded.has_remaining() {
                let piece = encoded.chunk().to_vec();
                encoded.advance(piece.len());
                out.extend_from_slice(&piece);
            }
        }
        out.extend_from_slice(&encode_last_chunk(trailers));
        out
    }

    /// Feeds `wire` in two parts split at `split`; returns the body and the trailers.
    fn decode_split(
        wire: &[u8],
        split: usize,
    ) -> Result<(Vec<u8>, Option<HeaderMap>), ChunkedError> {
        let mut decoder = ChunkedDecoder::new();
        let mut buf = BytesMut::new();
        let mut body = Vec::new();
        let mut end = None;
        for part in [&wire[..split], &wire[split..]] {
            buf.extend_from_slice(part);
            while let Some(event) = decoder.decode(&mut buf)? {
                match event {
                    ChunkedEvent::Data(data) => body.extend_from_slice(&data),
                    ChunkedEvent::End(trailers) => end = Some(trailers),
                }
            }
        }
        Ok((body, end))
    }

    #[test]
    fn decodes_extensions_and_upper_case_hex() {
        let wire = b"A;name=value\r\n0123456789\r\n0\r\n\r\n";
        let (body, trailers) = decode_split(wire, wire.len()).unwrap();
        assert_eq!(body, b"0123456789");
        assert_eq!(trailers, Some(HeaderMap::new()));
    }

    #[test]
    fn typed_errors() {
        let cases: [(&[u8], ChunkedError); 6] = [
            (b"xyz\r\n", ChunkedError::InvalidChunkSize),
            (b"\r\n", ChunkedError::InvalidChunkSize),
            (b"10000000000000000\r\n", ChunkedError::ChunkSizeOverflow),
            (b"1\r\naXY", ChunkedError::MissingChunkCrlf),
            (b"0\r\nno colon here\r\n\r\n", ChunkedError::InvalidTrailer),
            (b"0\r\n\r\nextra", ChunkedError::DataAfterEnd),
        ];
        for (wire, expected) in cases {
            assert_eq!(
                decode_split(wire, wire.len()).unwrap_err(),
                expected,
                "{:?}",
                String::from_utf8_lossy(wire)
            );
        }
        let long = vec![b'1'; MAX_SIZE_LINE + 1];
        assert_eq!(
            decode_split(&long, long.len()).unwrap_err(),
            ChunkedError::SizeLineTooLong
        );
        let mut big_trailers = b"0\r\n".to_vec();
        big_trailers.extend(std::iter::repeat_n(b'a', MAX_TRAILER_SECTION + 1));
        assert_eq!(
            decode_split(&big_trailers, big_trailers.len()).unwrap_err(),
            ChunkedError::TrailersTooLarge
        );
    }

    #[test]
    fn truncated_input_is_not_an_end() {
        let wire = b"5\r\nhello\r\n";
        let (body, end) = decode_split(wire, 3).unwrap();
        assert_eq!(body, b"hello");
        assert_eq!(end, None);
    }

    #[test]
    fn decode_with_input_split_at_every_byte() {
        let mut trailers = HeaderMap::new();
        trailers.insert("x-a", HeaderValue::from_static("1"));
        trailers.append("x-a", HeaderValue::from_static("2"));
        let chunks = vec![b"hello".to_vec(), vec![0; 300], b"\r\n0\r\n".to_vec()];
        let wire = encode_all(&chunks, &trailers);
        for split in 0..=wire.len() {
            let (body, end) = decode_split(&wire, split).unwrap();
            assert_eq!(body, chunks.concat(), "split at {split}");
            assert_eq!(end.as_ref(), Some(&trailers), "split at {split}");
        }
    }

    fn arb_trailers() -> impl Strategy<Value = HeaderMap> {
        proptest::collection::vec(("x-[a-z]{1,10}", "[!-~]([ -~]{0,20}[!-~])?"), 0..4).prop_map(
            |fields| {
                let mut map = HeaderMap::new();
                for (name, value) in fields {
                    map.append(
                        HeaderName::from_bytes(name.as_bytes()).unwrap(),
                        HeaderValue::from_str(&value).unwrap(),
                    );
                }
                map
            },
        )
    }

    proptest! {
        #[test]
        fn chunked_round_trips(
            chunks in proptest::collection::vec(proptest::collection::vec(any::<u8>(), 0..100), 0..8),
            trailers in arb_trailers(),
            split in any::<prop::sample::Index>(),
        ) {
            let wire = encode_all(&chunks, &trailers);
            let (body, end) = decode_split(&wire, split.index(wire.len() + 1)).unwrap();
            prop_assert_eq!(body, chunks.concat());
            prop_assert_eq!(end, Some(trailers));
        }

        #[test]
        fn decoder_never_panics(input in proptest::collection::vec(any::<u8>(), 0..300), split in any::<prop::sample::Index>()) {
            let _ = decode_split(&input, split.index(input.len() + 1));
        }
    }
}
