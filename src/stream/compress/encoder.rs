//! The encoders, written to in memory: each item compressed and flushed, the stream's end
//! written once.

use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use async_compression::tokio::write::{BrotliEncoder, GzipEncoder, ZlibEncoder, ZstdEncoder};
use bytes::Bytes;
use tokio::io::AsyncWrite;

use super::negotiate::Encoding;
use crate::wire::{ErrorType, FunctionError};

/// One stream's encoder.
pub(super) enum Encoder {
    Zstd(ZstdEncoder<Vec<u8>>),
    // Boxed: brotli's state is ~5.6 KiB, the others' ~150 bytes.
    Brotli(Box<BrotliEncoder<Vec<u8>>>),
    Gzip(GzipEncoder<Vec<u8>>),
    Deflate(ZlibEncoder<Vec<u8>>),
}

/// What an in-memory encoder's poll gives: it writes to a `Vec`, which never makes it wait, so
/// a `Pending` (a call to make again) is an error rather than a state to keep.
fn ready_now<T>(polled: Poll<io::Result<T>>) -> io::Result<T> {
    match polled {
        Poll::Ready(result) => result,
        Poll::Pending => Err(io::Error::new(
            io::ErrorKind::WouldBlock,
            "an in-memory compressor would block",
        )),
    }
}

/// Writes all of `data`, polled with the task's context.
fn write_all<W: AsyncWrite + Unpin>(
    writer: &mut W,
    cx: &mut Context<'_>,
    mut data: &[u8],
) -> io::Result<()> {
    while !data.is_empty() {
        let written = ready_now(Pin::new(&mut *writer).poll_write(cx, data))?;
        if written == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        data = &data[written..];
    }
    Ok(())
}

macro_rules! with_encoder {
    ($encoder:expr, $e:ident => $body:expr) => {
        match $encoder {
            Encoder::Zstd($e) => $body,
            Encoder::Brotli($e) => $body,
            Encoder::Gzip($e) => $body,
            Encoder::Deflate($e) => $body,
        }
    };
}

/// The brotli quality used for streams.
const BROTLI_STREAM_QUALITY: i32 = 5;

impl Encoder {
    pub(super) fn new(encoding: Encoding) -> Self {
        match encoding {
            Encoding::Zstd => Encoder::Zstd(ZstdEncoder::new(Vec::new())),
            // Brotli's default quality (11) compresses at ~1 MiB/s (`benches/wire.rs`): far too
            // slow for a live stream. Quality 5 is the usual on-the-fly setting.
            Encoding::Brotli => Encoder::Brotli(Box::new(BrotliEncoder::with_quality(
                Vec::new(),
                async_compression::Level::Precise(BROTLI_STREAM_QUALITY),
            ))),
            Encoding::Gzip => Encoder::Gzip(GzipEncoder::new(Vec::new())),
            Encoding::Deflate => Encoder::Deflate(ZlibEncoder::new(Vec::new())),
        }
    }

    /// Compresses `data` without flushing; the encoder is polled with the task's `cx`, as
    /// are all its calls.
    pub(super) fn write(&mut self, cx: &mut Context<'_>, data: &[u8]) -> io::Result<()> {
        with_encoder!(self, e => write_all(e, cx, data))
    }

    /// Flushes: everything written so far is decodable from what this returns and before.
    pub(super) fn flush(&mut self, cx: &mut Context<'_>) -> io::Result<Bytes> {
        with_encoder!(self, e => {
            ready_now(Pin::new(&mut *e).poll_flush(cx))?;
            Ok(Bytes::from(std::mem::take(e.get_mut())))
        })
    }

    /// Compresses `data` and flushes.
    pub(super) fn item(&mut self, cx: &mut Context<'_>, data: &[u8]) -> io::Result<Bytes> {
        self.write(cx, data)?;
        self.flush(cx)
    }

    /// Ends the compressed stream (gzip's CRC trailer, zstd's epilogue...).
    pub(super) fn finish(&mut self, cx: &mut Context<'_>) -> io::Result<Bytes> {
        with_encoder!(self, e => {
            ready_now(Pin::new(&mut *e).poll_shutdown(cx))?;
            Ok(Bytes::from(std::mem::take(e.get_mut())))
        })
    }
}

/// A failed write to an encoder, as the stream's error.
pub(super) fn compression_error(error: io::Error) -> FunctionError {
    FunctionError::new(
        ErrorType::STREAM_ERROR,
        format!("compression failed: {error}"),
    )
}

/// Bytes an item may grow by once compressed and flushed: deflate's stored blocks and sync
/// flush, brotli's and zstd's block headers, and the format headers, with room to spare.
pub(super) fn worst_case(len: usize) -> u64 {
    len as u64 + len as u64 / 64 + 64
}
