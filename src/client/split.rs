//! Splitting a page's bytes into records, as its framing delimits them (sans-IO): fed bytes as
//! they arrive, in chunks of any size, it hands out each whole record, its delimiter included.

use bytes::{Bytes, BytesMut};

use super::Format;
use super::split_json::JsonArraySplitter;

/// Splits bytes into the records of `format`.
#[derive(Debug)]
pub(crate) struct Splitter {
    format: Format,
    buffer: BytesMut,
    /// How far `buffer` was searched for a record's end.
    scanned: usize,
    /// CSV: whether the byte at `scanned` is inside a quoted field.
    quoted: bool,
    json: JsonArraySplitter,
}

impl Splitter {
    /// A splitter for `format` (`Auto` splits as raw: each chunk is a record).
    pub(crate) fn new(format: Format) -> Splitter {
        Splitter {
            format,
            buffer: BytesMut::new(),
            scanned: 0,
            quoted: false,
            json: JsonArraySplitter::new(),
        }
    }

    /// Adds bytes that arrived.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// The next whole record, if one has arrived.
    pub(crate) fn next_record(&mut self) -> Option<Bytes> {
        let end = match self.format {
            Format::Ndjson => self.line_end(false),
            Format::Csv => self.line_end(true),
            Format::Sse => self.event_end(),
            Format::JsonArray => return self.json.next_element(&mut self.buffer),
            Format::Raw | Format::Auto => (!self.buffer.is_empty()).then_some(self.buffer.len()),
        }?;
        self.scanned = 0;
        self.quoted = false;
        Some(self.buffer.split_to(end).freeze())
    }

    /// Why the page is not in its format, once that is known (a JSON array only: the other
    /// framings take any bytes).
    pub(crate) fn malformed(&self) -> Option<&str> {
        self.json.malformed()
    }

    /// What is left when the page ends: a last record without its delimiter, if any (a JSON
    /// array's elements all end with their `,` or `]`: there, [`malformed`](Self::malformed)
    /// then says whether the array closed).
    pub(crate) fn finish(&mut self) -> Option<Bytes> {
        if self.format == Format::JsonArray {
            self.json.finish(&mut self.buffer);
            return None;
        }
        self.scanned = 0;
        self.quoted = false;
        (!self.buffer.is_empty()).then(|| self.buffer.split().freeze())
    }

    /// The end of the first line (after its `\n`), outside quoted fields for CSV.
    fn line_end(&mut self, csv: bool) -> Option<usize> {
        while self.scanned < self.buffer.len() {
            let rest = &self.buffer[self.scanned..];
            let found = if csv {
                memchr::memchr2(b'"', b'\n', rest)
            } else {
                memchr::memchr(b'\n', rest)
            };
            let Some(at) = found else {
                self.scanned = self.buffer.len();
                return None;
            };
            let byte = rest[at];
            self.scanned += at + 1;
            if byte == b'"' {
                self.quoted = !self.quoted;
            } else if !self.quoted {
                return Some(self.scanned);
            }
        }
        None
    }

    /// The end of the first event (after the blank line that ends it: `\n\n` or `\r\n\r\n`).
    fn event_end(&mut self) -> Option<usize> {
        while self.scanned < self.buffer.len() {
            self.scanned += 1;
            let seen = &self.buffer[..self.scanned];
            if seen.ends_with(b"\n\n") || seen.ends_with(b"\r\n\r\n") {
                return Some(self.scanned);
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(format: Format, chunks: &[&[u8]]) -> Vec<Bytes> {
        let mut splitter = Splitter::new(format);
        let mut records = Vec::new();
        for chunk in chunks {
            splitter.push(chunk);
            while let Some(record) = splitter.next_record() {
                records.push(record);
            }
        }
        records.extend(splitter.finish());
        records
    }

    #[test]
    fn golden_records() {
        assert_eq!(
            split(Format::Ndjson, &[b"{\"a\":1}\n{\"a\"", b":2}\n{\"a\":3}"]),
            [&b"{\"a\":1}\n"[..], b"{\"a\":2}\n", b"{\"a\":3}"]
        );
        assert_eq!(
            split(
                Format::Csv,
                &[b"id,note\n1,\"two\nlines\"\n2,\"a \"\"q\"\"\"\n"]
            ),
            [
                &b"id,note\n"[..],
                b"1,\"two\nlines\"\n",
                b"2,\"a \"\"q\"\"\"\n"
            ]
        );
        assert_eq!(
            split(
                Format::Sse,
                &[b"data: a\n\nevent: x\r\ndata: b\r\n\r\n: keep\n\n"]
            ),
            [
                &b"data: a\n\n"[..],
                b"event: x\r\ndata: b\r\n\r\n",
                b": keep\n\n"
            ]
        );
        assert_eq!(split(Format::Raw, &[b"ab", b"c"]), [&b"ab"[..], b"c"]);
    }

    /// Records joined into one page, for `format`, and the page split at `cut`.
    fn round_trip(format: Format, records: &[Vec<u8>], cut: usize) -> Vec<Bytes> {
        let page: Vec<u8> = records.concat();
        let cut = cut.min(page.len());
        split(format, &[&page[..cut], &page[cut..]])
    }

    #[test]
    fn splitting_at_every_byte_gives_the_same_records() {
        let records: Vec<Vec<u8>> = [
            &b"id,note\n"[..],
            b"1,\"x\ny\"\n",
            b"2,\"\"\"\"\n",
            b"3,plain\n",
        ]
        .map(<[u8]>::to_vec)
        .to_vec();
        let page = records.concat();
        for cut in 0..=page.len() {
            assert_eq!(
                round_trip(Format::Csv, &records, cut),
                records,
                "cut at {cut}"
            );
        }
    }

    /// A CSV field as writers write it: quoted (quotes doubled) when it holds `"`, `,` or `\n`.
    fn quoted(field: &str) -> String {
        if field.contains(['"', ',', '\n']) {
            format!("\"{}\"", field.replace('"', "\"\""))
        } else {
            field.to_owned()
        }
    }

    fn csv_field() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::prop_oneof!["[a-z ]{0,6}", "[a-z\n\",]{0,6}"]
    }

    proptest::proptest! {
        #[test]
        fn ndjson_lines_round_trip(lines in proptest::collection::vec("[ -~]{0,20}", 1..8), cut in 0usize..200) {
            let records: Vec<Vec<u8>> = lines.iter().map(|l| format!("{l}\n").into_bytes()).collect();
            proptest::prop_assert_eq!(round_trip(Format::Ndjson, &records, cut), records);
        }

        #[test]
        fn csv_records_round_trip(rows in proptest::collection::vec((csv_field(), csv_field()), 1..8), cut in 0usize..200) {
            let records: Vec<Vec<u8>> = rows
                .iter()
                .map(|(a, b)| format!("{},{}\n", quoted(a), quoted(b)).into_bytes())
                .collect();
            proptest::prop_assert_eq!(round_trip(Format::Csv, &records, cut), records);
        }

        #[test]
        fn sse_events_round_trip(data in proptest::collection::vec("[a-z ]{0,12}", 1..6), cut in 0usize..200) {
            let records: Vec<Vec<u8>> = data.iter().map(|d| format!("data: {d}\n\n").into_bytes()).collect();
            proptest::prop_assert_eq!(round_trip(Format::Sse, &records, cut), records);
        }
    }
}
