//! Body bytes that know where their whole records end, so a chunk merged from many records can
//! still be cut on a record boundary (by the budget) and counted in records (by the
//! continuation's cursor), with no side table.

use bytes::{Bytes, BytesMut};

/// Bytes and the ends of the whole records in them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Chunk {
    data: Bytes,
    /// Exclusive end offsets of the records, increasing; the last is `data.len()`. Empty for
    /// a single record (the common case, with no allocation). `u32`: a chunk is far below
    /// 4 GiB (merges stop at 64 KiB; a single record needs no offsets).
    ends: Vec<u32>,
}

impl Chunk {
    /// One record.
    pub(crate) fn record(data: Bytes) -> Self {
        Chunk {
            data,
            ends: Vec::new(),
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.data.len()
    }

    /// How many whole records it holds.
    pub(crate) fn records(&self) -> u64 {
        self.ends.len().max(1) as u64
    }

    pub(crate) fn data(&self) -> &[u8] {
        &self.data
    }

    pub(crate) fn into_data(self) -> Bytes {
        self.data
    }

    /// The last whole record in it (the chunk itself when it is one record).
    pub(crate) fn last_record(&self) -> Bytes {
        match self.ends.len().checked_sub(2) {
            Some(before_last) => self.data.slice(self.ends[before_last] as usize..),
            None => self.data.clone(),
        }
    }

    /// Splits off the leading whole records that fit in `room`, leaving the rest in `self`;
    /// `None` when not even the first record fits (or `self` is one record). `cost` says what a
    /// record at an offset in the chunk takes of `room` (its length, or what it becomes in the
    /// payload that carries it).
    #[cfg(any(test, feature = "compression"))]
    pub(crate) fn split_fitting(
        &mut self,
        room: u64,
        cost: impl Fn(u64, &[u8]) -> u64,
    ) -> Option<Chunk> {
        let fitting = self.records_fitting(room, cost);
        self.split_records(fitting)
    }

    /// How many leading whole records fit in `room`, each costing what `cost` says of it at
    /// its offset.
    pub(crate) fn records_fitting(&self, room: u64, cost: impl Fn(u64, &[u8]) -> u64) -> usize {
        let mut spent = 0u64;
        self.leading_records(|offset, record| {
            spent = spent.saturating_add(cost(offset, record));
            spent <= room
        })
    }

    /// How many leading whole records `fits` accepts, asked of each record (with its offset)
    /// in order until it says no.
    pub(crate) fn leading_records(&self, mut fits: impl FnMut(u64, &[u8]) -> bool) -> usize {
        let (mut start, mut fitting) = (0usize, 0usize);
        for end in self.record_ends() {
            if !fits(start as u64, &self.data[start..end]) {
                break;
            }
            fitting += 1;
            start = end;
        }
        fitting
    }

    /// Splits off the first `count` whole records, leaving the rest in `self`; `None` when
    /// that is none of them or all of them (nothing to split).
    pub(crate) fn split_records(&mut self, count: usize) -> Option<Chunk> {
        if count == 0 || count >= self.ends.len() {
            return None;
        }
        let at = self.ends[count - 1] as usize;
        let data = self.data.split_to(at);
        let mut ends: Vec<u32> = self.ends.drain(..count).collect();
        for end in &mut self.ends {
            *end -= at as u32;
        }
        if ends.len() == 1 {
            ends.clear();
        }
        if self.ends.len() == 1 {
            self.ends.clear();
        }
        Some(Chunk { data, ends })
    }

    /// The exclusive end offsets of its records (its length alone for a single record).
    fn record_ends(&self) -> impl Iterator<Item = usize> + '_ {
        let single = self.ends.is_empty().then_some(self.data.len());
        self.ends.iter().map(|&end| end as usize).chain(single)
    }
}

/// Room kept free for the next record written into a gathering buffer.
const RECORD_ROOM: usize = 4 * 1024;
/// What a new chunk reserves, with [`RECORD_ROOM`], for records written into it: a whole
/// merge (64 KiB), so there is one allocation per merged chunk and none per record.
const WRITE_AHEAD: usize = 64 * 1024;

/// Gathers records into one chunk.
#[derive(Debug, Default)]
pub(crate) struct ChunkBuilder {
    data: BytesMut,
    ends: Vec<u32>,
    /// Records in the last chunk taken: the next one is sized for as many, so a steady
    /// stream of tiny records never regrows the offsets.
    last_records: usize,
}

impl ChunkBuilder {
    pub(crate) fn push(&mut self, chunk: Chunk) {
        // Offsets fit in u32: merges stop far below 4 GiB (see `Chunk::ends`).
        let offset = self.data.len() as u32;
        self.data.extend_from_slice(&chunk.data);
        self.size_ends();
        if chunk.ends.is_empty() {
            self.ends.push(offset + chunk.data.len() as u32);
        } else {
            self.ends.extend(chunk.ends.iter().map(|end| offset + end));
        }
    }

    /// Gives a new chunk's record offsets room for as many records as the last chunk held, so a
    /// steady stream of tiny records never regrows them.
    fn size_ends(&mut self) {
        if self.ends.capacity() == 0 {
            self.ends.reserve(self.last_records.max(64));
        }
    }

    /// Writes one record straight into the chunk being gathered, with no buffer of its own:
    /// `write` appends the record's bytes; what it wrote is dropped when it fails. An empty
    /// record is no record. The bytes written.
    pub(crate) fn write_record<E>(
        &mut self,
        write: impl FnOnce(&mut BytesMut) -> Result<(), E>,
    ) -> Result<usize, E> {
        let start = self.data.len();
        if start == 0 && self.data.capacity() < WRITE_AHEAD + RECORD_ROOM {
            // A new chunk: room for a whole merge, so it never regrows (and copies) midway.
            self.data.reserve(WRITE_AHEAD + RECORD_ROOM);
        } else if self.data.capacity() - start < RECORD_ROOM {
            self.data.reserve(RECORD_ROOM);
        }
        if let Err(error) = write(&mut self.data) {
            self.data.truncate(start);
            return Err(error);
        }
        let written = self.data.len() - start;
        if written > 0 {
            self.size_ends();
            // Offsets fit in u32: merges stop far below 4 GiB (see `Chunk::ends`).
            self.ends.push(self.data.len() as u32);
        }
        Ok(written)
    }

    /// Takes the last record back out as a chunk of its own (it did not fit this merge),
    /// without copying it.
    pub(crate) fn take_last_record(&mut self) -> Option<Chunk> {
        self.ends.pop()?;
        let start = self.ends.last().map_or(0, |&end| end as usize);
        Some(Chunk::record(self.data.split_off(start).freeze()))
    }

    pub(crate) fn len(&self) -> usize {
        self.data.len()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.ends.is_empty()
    }

    /// The gathered records as one chunk; the builder is empty again.
    pub(crate) fn take(&mut self) -> Chunk {
        let mut ends = std::mem::take(&mut self.ends);
        self.last_records = ends.len();
        if ends.len() == 1 {
            ends.clear();
        }
        Chunk {
            data: self.data.split().freeze(),
            ends,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn merged(sizes: &[usize]) -> Chunk {
        let mut builder = ChunkBuilder::default();
        for (i, &n) in sizes.iter().enumerate() {
            builder.push(Chunk::record(Bytes::from(vec![b'a' + i as u8; n])));
        }
        builder.take()
    }

    fn length(_offset: u64, record: &[u8]) -> u64 {
        record.len() as u64
    }

    #[test]
    fn the_last_record_is_the_tail_after_the_last_but_one_end() {
        assert_eq!(merged(&[3, 4, 5]).last_record(), "ccccc");
        assert_eq!(merged(&[2]).last_record(), "aa");
        assert_eq!(Chunk::record(Bytes::from("xyz")).last_record(), "xyz");
    }

    #[test]
    fn a_split_counts_each_record_at_its_offset() {
        // Each record costs its offset plus one: 1, 4, 8 for records at 0, 3, 7.
        let mut chunk = merged(&[3, 4, 5]);
        let head = chunk.split_fitting(5, |offset, _| offset + 1).unwrap();
        assert_eq!(head.into_data(), "aaabbbb");
        assert_eq!(chunk.into_data(), "ccccc");
    }

    #[test]
    fn a_merged_chunk_splits_on_record_boundaries() {
        let mut chunk = merged(&[3, 4, 5]);
        assert_eq!(chunk.records(), 3);
        assert_eq!(
            chunk.clone().split_fitting(2, length),
            None,
            "not even one record fits"
        );
        let head = chunk.split_fitting(8, length).unwrap();
        assert_eq!(head.clone().into_data(), "aaabbbb");
        assert_eq!(head.records(), 2);
        assert_eq!(chunk.records(), 1);
        assert_eq!(chunk.clone().into_data(), "ccccc");
        assert_eq!(chunk.split_fitting(100, length), None, "all of it fits");
        assert_eq!(
            Chunk::record(Bytes::from("x")).split_fitting(100, length),
            None
        );
    }

    #[test]
    fn a_written_record_is_whole_or_not_there() {
        use bytes::BufMut;
        let mut builder = ChunkBuilder::default();
        builder
            .write_record(|buffer| {
                buffer.put_slice(b"one\n");
                Ok::<_, ()>(())
            })
            .unwrap();
        let failed = builder.write_record(|buffer| {
            buffer.put_slice(b"half of tw");
            Err("did not serialize")
        });
        assert_eq!(failed, Err("did not serialize"));
        assert_eq!(
            builder.write_record(|_| Ok::<_, ()>(())),
            Ok(0),
            "empty: no record"
        );
        builder
            .write_record(|buffer| {
                buffer.put_slice(b"three\n");
                Ok::<_, ()>(())
            })
            .unwrap();
        let last = builder.take_last_record().unwrap();
        assert_eq!(last.into_data(), "three\n");
        let chunk = builder.take();
        assert_eq!(chunk.records(), 1);
        assert_eq!(chunk.into_data(), "one\n");
    }

    proptest! {
        #[test]
        fn splitting_keeps_every_byte_and_record(
            sizes in proptest::collection::vec(1usize..50, 1..20),
            room in 0u64..600,
        ) {
            let whole = merged(&sizes);
            let mut rest = whole.clone();
            match rest.split_fitting(room, length) {
                Some(head) => {
                    prop_assert!(head.len() as u64 <= room);
                    prop_assert_eq!(head.records() + rest.records(), whole.records());
                    let joined = [head.into_data(), rest.into_data()].concat();
                    prop_assert_eq!(&joined[..], &whole.into_data()[..]);
                }
                None => prop_assert!(sizes[0] as u64 > room || whole.len() as u64 <= room),
            }
        }
    }
}
