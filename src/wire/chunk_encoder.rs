//! The HTTP/1.1 chunked encoder the decoder is tested against, public under `testing`.
//!
//! It copies no payload: a chunk is a [`Buf`] chain of a stack-allocated hex size line, the
//! payload `Bytes` and `\r\n`, ready for a vectored write.
#![cfg_attr(
    not(feature = "testing"),
    allow(
        dead_code,
        unreachable_pub,
        reason = "the encoder is public under `testing` only"
    )
)]

use bytes::{Buf, Bytes};

/// The size line of one chunk: up to 16 hex digits and `\r\n`, on the stack.
#[derive(Debug, Clone)]
pub struct ChunkSizeLine {
    bytes: [u8; 18],
    pos: u8,
}

impl ChunkSizeLine {
    fn new(len: usize) -> Self {
        let mut bytes = [0u8; 18];
        let digits = format_hex(len as u64, &mut bytes[..16]);
        let start = 16 - digits;
        bytes[16] = b'\r';
        bytes[17] = b'\n';
        ChunkSizeLine {
            bytes,
            pos: start as u8,
        }
    }
}

fn format_hex(mut n: u64, out: &mut [u8]) -> usize {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut len = 0;
    loop {
        out[out.len() - 1 - len] = HEX[(n & 0xf) as usize];
        len += 1;
        n >>= 4;
        if n == 0 {
            return len;
        }
    }
}

impl Buf for ChunkSizeLine {
    fn remaining(&self) -> usize {
        self.bytes.len() - self.pos as usize
    }

    fn chunk(&self) -> &[u8] {
        &self.bytes[self.pos as usize..]
    }

    fn advance(&mut self, cnt: usize) {
        assert!(
            cnt <= self.remaining(),
            "advance past the end of a chunk size line"
        );
        self.pos += cnt as u8;
    }
}

/// One encoded chunk: size line, payload, CRLF.
pub type EncodedChunk = bytes::buf::Chain<bytes::buf::Chain<ChunkSizeLine, Bytes>, &'static [u8]>;

/// Frames `data` as one chunk without copying it.
///
/// An empty `data` would be read as the last chunk, so callers skip empty payloads; this
/// function encodes exactly what it is given.
///
/// ```
/// # #[cfg(feature = "testing")] {
/// use bytes::{Buf, Bytes};
/// let mut chunk = lambda_stream::testing::bench::encode_chunk(Bytes::from_static(b"hello, world"));
/// assert_eq!(chunk.copy_to_bytes(chunk.remaining()), &b"c\r\nhello, world\r\n"[..]);
/// # }
/// ```
pub fn encode_chunk(data: Bytes) -> EncodedChunk {
    ChunkSizeLine::new(data.len()).chain(data).chain(b"\r\n")
}

/// Encodes the last chunk and the trailer section (for the decoder's tests). Field names are
/// written in title case (`Lambda-Runtime-Function-Error-Type`), as AWS's own runtime clients
/// write them.
#[cfg(test)]
pub(crate) fn encode_last_chunk(trailers: &http::HeaderMap) -> Bytes {
    let mut out = Vec::with_capacity(5 + trailers.len() * 64);
    out.extend_from_slice(b"0\r\n");
    for (name, value) in trailers {
        write_title_case(name.as_str(), &mut out);
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    Bytes::from(out)
}

/// Writes a lower-case field name in title case: `lambda-runtime` -> `Lambda-Runtime`.
#[cfg(test)]
fn write_title_case(name: &str, out: &mut Vec<u8>) {
    let mut upper = true;
    for byte in name.bytes() {
        out.push(if upper {
            byte.to_ascii_uppercase()
        } else {
            byte
        });
        upper = byte == b'-';
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue};

    #[test]
    fn golden_last_chunks() {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("x-checksum", HeaderValue::from_static("abc"));
        assert_eq!(
            &encode_last_chunk(&trailers)[..],
            b"0\r\nX-Checksum: abc\r\n\r\n"
        );
        assert_eq!(
            &encode_last_chunk(&http::HeaderMap::new())[..],
            b"0\r\n\r\n"
        );
    }

    #[test]
    fn golden_chunk_sizes() {
        let line = |n: usize| ChunkSizeLine::new(n).chunk().to_vec();
        assert_eq!(line(1), b"1\r\n");
        assert_eq!(line(0x10), b"10\r\n");
        assert_eq!(line(65536), b"10000\r\n");
        assert_eq!(line(usize::MAX), b"ffffffffffffffff\r\n");
    }

    #[test]
    fn golden_error_trailers_in_title_case() {
        let mut trailers = HeaderMap::new();
        trailers.insert(
            "lambda-runtime-function-error-type",
            HeaderValue::from_static("Function.StreamError"),
        );
        trailers.insert(
            "lambda-runtime-function-error-body",
            HeaderValue::from_static("e30="),
        );
        assert_eq!(
            &encode_last_chunk(&trailers)[..],
            &b"0\r\nLambda-Runtime-Function-Error-Type: Function.StreamError\r\nLambda-Runtime-Function-Error-Body: e30=\r\n\r\n"[..]
        );
    }
}
