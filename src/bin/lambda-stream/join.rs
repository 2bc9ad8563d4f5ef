//! A JSON-array export written as one array: its pages' elements arrive one by one (each page
//! is an array of its own), and the file gets `[`, the elements separated by `,`, and `]`.

use lambda_stream::client::Format;

/// Where the written array stands.
#[derive(Debug)]
pub(crate) struct ArrayJoin {
    /// Whether the download's records are JSON-array elements.
    array: bool,
    /// Whether the array was opened (an element written, here or before a resume).
    opened: bool,
    closed: bool,
}

impl ArrayJoin {
    /// `resumed_with_data`: the output already holds what an interrupted download wrote.
    pub(crate) fn new(resumed_with_data: bool) -> ArrayJoin {
        ArrayJoin {
            array: false,
            opened: resumed_with_data,
            closed: false,
        }
    }

    /// A page started, its records read as `format`.
    pub(crate) fn page_start(&mut self, format: Format) {
        self.array = format == Format::JsonArray;
    }

    /// What goes before the next record: `[`, `,` or nothing.
    pub(crate) fn before_record(&mut self) -> &'static [u8] {
        match (self.array, std::mem::replace(&mut self.opened, true)) {
            (false, _) => b"",
            (true, false) => b"[",
            (true, true) => b",",
        }
    }

    /// What closes the download once its last page ended: `]`, `[]` or nothing (nothing the
    /// second time).
    pub(crate) fn end(&mut self) -> &'static [u8] {
        match (self.array, self.opened) {
            _ if std::mem::replace(&mut self.closed, true) => b"",
            (false, _) => b"",
            (true, true) => b"]",
            (true, false) => b"[]",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn written(join: &mut ArrayJoin, records: &[&str]) -> String {
        let mut out = String::new();
        for record in records {
            out.push_str(std::str::from_utf8(join.before_record()).unwrap());
            out.push_str(record);
        }
        out
    }

    #[test]
    fn pages_of_elements_make_one_array() {
        let mut join = ArrayJoin::new(false);
        join.page_start(Format::JsonArray);
        let mut out = written(&mut join, &["1", "2"]);
        join.page_start(Format::JsonArray);
        out += &written(&mut join, &["3"]);
        out += std::str::from_utf8(join.end()).unwrap();
        assert_eq!(out, "[1,2,3]");
        assert_eq!(join.end(), b"", "closed once");
    }

    #[test]
    fn a_resumed_array_goes_on_and_an_empty_one_is_still_an_array() {
        let mut resumed = ArrayJoin::new(true);
        resumed.page_start(Format::JsonArray);
        assert_eq!(written(&mut resumed, &["3"]), ",3");
        let mut empty = ArrayJoin::new(false);
        empty.page_start(Format::JsonArray);
        assert_eq!(empty.end(), b"[]");
        let mut lines = ArrayJoin::new(false);
        lines.page_start(Format::Ndjson);
        assert_eq!(written(&mut lines, &["a\n"]), "a\n");
        assert_eq!(lines.end(), b"");
    }
}
