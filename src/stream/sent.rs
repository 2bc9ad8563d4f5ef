//! What a stage let through, counted in the terms a continuation's cursor needs.

use bytes::Bytes;

use crate::body::{Chunk, Truncation, TruncationReason};

/// Whole records and bytes let through, and the last record.
#[derive(Debug, Default)]
pub(crate) struct Sent {
    records: u64,
    bytes: u64,
    /// The last whole record let through.
    last_record: Option<Bytes>,
}

impl Sent {
    /// Counts a chunk let through.
    pub(crate) fn count(&mut self, chunk: &Chunk) {
        self.records += chunk.records();
        self.bytes += chunk.len() as u64;
        self.last_record = Some(chunk.last_record());
    }

    /// Whole records let through.
    pub(crate) fn records(&self) -> u64 {
        self.records
    }

    /// Bytes let through.
    pub(crate) fn bytes(&self) -> u64 {
        self.bytes
    }

    /// What a continuation is handed when the body is cut for `reason` (the last record is
    /// handed over: a body is cut once).
    pub(crate) fn cut(&mut self, reason: TruncationReason) -> Truncation {
        Truncation {
            reason,
            records_sent: self.records,
            body_bytes: self.bytes,
            last_record: self.last_record.take(),
        }
    }
}
