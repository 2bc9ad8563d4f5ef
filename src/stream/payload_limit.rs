//! A `BUFFERED` answer's payload limit, beside its budget: what the body takes in the response
//! JSON (a string while it is UTF-8, base64 once it is not) must stay within the room the
//! envelope leaves, with the continuation's room kept.

use crate::body::Chunk;
use crate::wire::{BufferedCost, PayloadCost};

/// What a buffered body may still take of its payload.
#[derive(Debug)]
pub(crate) struct PayloadLimit {
    /// Payload bytes the body may take, its continuation included.
    room: u64,
    /// Payload bytes kept for the continuation.
    reserve: u64,
    cost: BufferedCost,
}

impl PayloadLimit {
    /// A limit of `room` payload bytes for the body.
    pub(crate) fn new(room: u64) -> Self {
        PayloadLimit {
            room,
            reserve: 0,
            cost: BufferedCost::default(),
        }
    }

    /// Keeps room for a continuation of at most `bytes` body bytes, whatever they become.
    pub(crate) fn reserve(&mut self, bytes: u64) {
        if bytes == 0 {
            // No continuation: nothing to keep (base64's worst case has padding even for 0).
            self.reserve = 0;
            return;
        }
        self.reserve = PayloadCost::JsonString
            .worst_case(bytes)
            .max(PayloadCost::Base64.worst_case(bytes));
    }

    /// Whether `data` fits after what was let through, the continuation's room kept.
    pub(crate) fn fits(&self, data: &[u8]) -> bool {
        self.taken_with(data) <= self.room.saturating_sub(self.reserve)
    }

    /// The most bytes that surely fit whatever they are (base64 carries any byte; a compressed
    /// body is not UTF-8), the continuation's room kept.
    #[cfg(feature = "compression")]
    pub(crate) fn room_for_any_bytes(&self) -> u64 {
        let available = self.room.saturating_sub(self.reserve);
        // Base64 takes 4 bytes per 3 (the body so far included, once any byte is not UTF-8).
        (available / 4 * 3).saturating_sub(self.cost.len())
    }

    /// Whether the closing continuation fits (it may use the reserve).
    pub(crate) fn fits_closing(&self, data: &[u8]) -> bool {
        self.taken_with(data) <= self.room
    }

    /// How many of `chunk`'s leading whole records fit.
    pub(crate) fn leading_records(&self, chunk: &Chunk) -> usize {
        let available = self.room.saturating_sub(self.reserve);
        let mut cost = self.cost.clone();
        chunk.leading_records(|_, record| {
            cost.add(record);
            cost.taken() <= available
        })
    }

    /// Counts bytes let through.
    pub(crate) fn let_through(&mut self, data: &[u8]) {
        self.cost.add(data);
    }

    fn taken_with(&self, data: &[u8]) -> u64 {
        let mut cost = self.cost.clone();
        cost.add(data);
        cost.taken()
    }
}
