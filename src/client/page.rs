//! One page's records, sans-IO: its last record is held back until the page ends, to tell the
//! link to the next page (the convention of [`Continuation::ndjson_link`] and its siblings)
//! from data; a CSV page's header line is dropped after the first page's.
//!
//! [`Continuation::ndjson_link`]: crate::Continuation::ndjson_link

use bytes::Bytes;

use super::Format;
use super::split::Splitter;
use crate::body::next_link::LinkFraming;

/// Reads one page.
#[derive(Debug)]
pub(crate) struct PageReader {
    framing: Option<LinkFraming>,
    splitter: Splitter,
    held: Option<Bytes>,
    /// CSV: the first page's header line, dropped where a later page repeats it.
    header: Option<Bytes>,
    first_record: bool,
}

/// How a page ended: its last data records, its link if it had one, and why it is not in its
/// format, if it is not (a JSON array that does not close).
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct PageEnd {
    pub(crate) rest: Vec<Bytes>,
    pub(crate) next: Option<String>,
    pub(crate) malformed: Option<String>,
}

impl PageReader {
    /// A page of `format`; for CSV, `header` is the first page's header line (`None` on the
    /// first page).
    pub(crate) fn new(format: Format, header: Option<Bytes>) -> PageReader {
        let framing = match format {
            Format::Ndjson => Some(LinkFraming::Ndjson),
            Format::Csv => Some(LinkFraming::Csv),
            Format::Sse => Some(LinkFraming::Sse),
            Format::JsonArray => Some(LinkFraming::JsonArray),
            Format::Raw | Format::Auto => None,
        };
        PageReader {
            framing,
            splitter: Splitter::new(format),
            held: None,
            header,
            first_record: true,
        }
    }

    /// Adds bytes that arrived.
    pub(crate) fn push(&mut self, bytes: &[u8]) {
        self.splitter.push(bytes);
    }

    /// The next record that is surely data (one more has arrived after it).
    pub(crate) fn next_record(&mut self) -> Option<Bytes> {
        loop {
            let record = self.splitter.next_record()?;
            if let Some(data) = self.take(record) {
                return Some(data);
            }
        }
    }

    /// Why the page is not in its format, once that is known: read no further.
    pub(crate) fn malformed(&self) -> Option<&str> {
        self.splitter.malformed()
    }

    /// The first page's CSV header line, once read.
    pub(crate) fn header(&self) -> Option<&Bytes> {
        self.header.as_ref()
    }

    /// The page ended cleanly (call it once [`next_record`](Self::next_record) returns
    /// `None`): its data records still held, and its link.
    pub(crate) fn finish(mut self) -> PageEnd {
        let mut rest = Vec::new();
        if let Some(tail) = self.splitter.finish() {
            rest.extend(self.take(tail));
        }
        let next = match (self.framing, &self.held) {
            (Some(framing), Some(record)) => framing.link_in(record).map(str::to_owned),
            _ => None,
        };
        if next.is_none() {
            rest.extend(self.held.take());
        }
        let malformed = self.malformed().map(str::to_owned);
        PageEnd {
            rest,
            next,
            malformed,
        }
    }

    /// The page broke off (no final chunk, or bytes not in its format): the whole record still
    /// held, unless it is a link; bytes of a record that did not arrive whole are dropped.
    pub(crate) fn abandon(mut self) -> Option<Bytes> {
        let held = self.held.take()?;
        let link = self.framing.and_then(|framing| framing.link_in(&held));
        link.is_none().then_some(held)
    }

    /// Takes in a whole record: what is surely data comes back.
    fn take(&mut self, record: Bytes) -> Option<Bytes> {
        if self.is_repeated_header(&record) {
            return None;
        }
        if self.framing.is_none() {
            return Some(record);
        }
        self.held.replace(record)
    }

    /// Whether `record` is a later CSV page's header line (the first page's is kept).
    fn is_repeated_header(&mut self, record: &Bytes) -> bool {
        if !std::mem::take(&mut self.first_record) || self.framing != Some(LinkFraming::Csv) {
            return false;
        }
        match &self.header {
            Some(header) => header == record,
            None => {
                self.header = Some(record.clone());
                false
            }
        }
    }
}

/// The fuzz target's check (public only when built with `--cfg fuzzing`; the unit tests replay
/// its seeds and corpus): reading a page never panics,
/// and reading it in two parts (split where the input's second byte says) gives the records
/// and the link (or the fault) that reading it whole gives. The first byte picks the format.
#[cfg(any(fuzzing, test))]
#[cfg_attr(test, allow(unreachable_pub, reason = "public to the fuzz crate only"))]
pub fn check_page_reader(data: &[u8]) {
    let [pick, at, page @ ..] = data else {
        return;
    };
    let formats = [
        Format::Ndjson,
        Format::Csv,
        Format::Sse,
        Format::JsonArray,
        Format::Raw,
    ];
    let format = formats[usize::from(*pick) % formats.len()];
    let read = |parts: &[&[u8]]| {
        let mut reader = PageReader::new(format, Some(Bytes::from_static(b"id,note\n")));
        let mut records = Vec::new();
        for part in parts {
            reader.push(part);
            records.extend(std::iter::from_fn(|| reader.next_record()));
        }
        let end = reader.finish();
        records.extend(end.rest);
        (records, end.next, end.malformed)
    };
    let (first, second) = page.split_at(usize::from(*at).min(page.len()));
    let (whole, in_parts) = (read(&[page]), read(&[first, second]));
    if format == Format::Raw {
        assert_eq!(
            whole.0.concat(),
            page,
            "raw pages are handed out as they came"
        );
    } else {
        assert_eq!(whole, in_parts, "a split page reads as the whole page");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads `page` split at `cut`: the data records and the link.
    fn read(
        format: Format,
        header: Option<&str>,
        page: &str,
        cut: usize,
    ) -> (Vec<Bytes>, Option<String>) {
        let mut reader = PageReader::new(format, header.map(|h| Bytes::from(h.to_owned())));
        let mut records = Vec::new();
        let cut = cut.min(page.len());
        for part in [&page.as_bytes()[..cut], &page.as_bytes()[cut..]] {
            reader.push(part);
            while let Some(record) = reader.next_record() {
                records.push(record);
            }
        }
        let end = reader.finish();
        records.extend(end.rest);
        (records, end.next)
    }

    #[test]
    fn a_page_ending_with_its_link_hands_out_only_data() {
        let page = "{\"id\":1}\n{\"id\":2}\n{\"next\":\"?after=2\"}\n";
        for cut in 0..=page.len() {
            let (records, next) = read(Format::Ndjson, None, page, cut);
            assert_eq!(
                records,
                [&b"{\"id\":1}\n"[..], b"{\"id\":2}\n"],
                "cut at {cut}"
            );
            assert_eq!(next.as_deref(), Some("?after=2"));
        }
    }

    #[test]
    fn a_last_page_keeps_its_last_record_even_without_a_line_break() {
        let (records, next) = read(Format::Ndjson, None, "{\"id\":1}\n{\"id\":2}", 3);
        assert_eq!(records, [&b"{\"id\":1}\n"[..], b"{\"id\":2}"]);
        assert_eq!(next, None);
        // A record shaped like a link in the middle of a page is data.
        let page = "{\"next\":\"?x\"}\n{\"id\":2}\n";
        assert_eq!(read(Format::Ndjson, None, page, 0).0.len(), 2);
    }

    #[test]
    fn later_csv_pages_drop_the_repeated_header() {
        let page = "id,note\n3,\"a\nb\"\n#next=?after=3\n";
        let (records, next) = read(Format::Csv, Some("id,note\n"), page, 9);
        assert_eq!(records, [&b"3,\"a\nb\"\n"[..]]);
        assert_eq!(next.as_deref(), Some("?after=3"));
        let (first, _) = read(Format::Csv, None, page, 9);
        assert_eq!(
            first[0],
            &b"id,note\n"[..],
            "the first page keeps its header"
        );
    }

    #[test]
    fn a_json_array_page_hands_out_its_elements_and_its_link() {
        let page = "[{\"id\":1},\n {\"id\":2},{\"next\":\"?after=2\"}]";
        for cut in 0..=page.len() {
            let (records, next) = read(Format::JsonArray, None, page, cut);
            assert_eq!(records, [&b"{\"id\":1}"[..], b"{\"id\":2}"], "cut at {cut}");
            assert_eq!(next.as_deref(), Some("?after=2"));
        }
        let (records, next) = read(Format::JsonArray, None, "[{\"next\":\"?x\"},3]", 0);
        assert_eq!((records.len(), next), (2, None), "a link mid-array is data");
    }

    #[test]
    fn a_page_not_in_its_format_says_why() {
        let mut reader = PageReader::new(Format::JsonArray, None);
        reader.push(b"[1,2,{\"next\":\"?p=2\"}");
        assert_eq!(reader.next_record().as_deref(), Some(&b"1"[..]));
        assert_eq!(reader.next_record(), None);
        assert_eq!(reader.malformed(), None);
        let end = reader.finish();
        assert_eq!(end.rest, [&b"2"[..]]);
        assert_eq!(end.next, None, "an element that never ended is no link");
        assert!(end.malformed.unwrap().contains("does not close"));
        let mut object = PageReader::new(Format::JsonArray, None);
        object.push(b"{\"message\":\"x\"}");
        assert_eq!(object.next_record(), None);
        assert!(object.malformed().unwrap().contains("not a JSON array"));
    }

    #[test]
    fn raw_pages_have_no_link() {
        let (records, next) = read(Format::Raw, None, "{\"next\":\"?x\"}\n", 4);
        assert_eq!(records.concat(), b"{\"next\":\"?x\"}\n");
        assert_eq!(next, None);
    }

    #[test]
    fn a_page_that_broke_off_keeps_its_whole_records_only() {
        let mut reader = PageReader::new(Format::Ndjson, None);
        reader.push(b"{\"id\":1}\n{\"id\":2}\n{\"id");
        assert_eq!(reader.next_record().as_deref(), Some(&b"{\"id\":1}\n"[..]));
        assert_eq!(reader.next_record(), None);
        assert_eq!(reader.abandon().as_deref(), Some(&b"{\"id\":2}\n"[..]));
        let mut linked = PageReader::new(Format::Ndjson, None);
        linked.push(b"{\"id\":1}\n{\"next\":\"?p=2\"}\n");
        assert!(linked.next_record().is_some());
        assert_eq!(linked.abandon(), None, "a link is never handed out as data");
    }

    #[test]
    fn the_fuzz_seeds_and_corpus_replay() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
        let mut replayed = 0;
        for dir in ["seeds", "corpus"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join("page_reader")) else {
                continue;
            };
            for entry in entries {
                check_page_reader(&std::fs::read(entry.unwrap().path()).unwrap());
                replayed += 1;
            }
        }
        assert!(replayed > 0, "no seeds for page_reader");
    }
}
