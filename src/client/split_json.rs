//! Splitting a JSON array's bytes into its elements (sans-IO): strings, escapes and nesting are
//! followed byte by byte, so a `,` or `]` inside an element never ends it, in chunks of any
//! size. Each element is handed out as written, without the whitespace around it or the `,`
//! and `]` after it. The array's own structure is checked; what is inside an element is split,
//! not validated (a JSON parser reading the element does that).

use bytes::{Buf, Bytes, BytesMut};

/// Where the scan stands in the array.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Before the array's `[`.
    Open,
    /// After `[` (true: an element or `]` may come) or after `,` (false: an element must).
    Between { may_close: bool },
    /// Inside an element.
    Element,
    /// After the array's `]`.
    Closed,
}

/// The elements of one JSON array.
#[derive(Debug)]
pub(crate) struct JsonArraySplitter {
    stage: Stage,
    /// How far the current element was scanned.
    scanned: usize,
    /// How deep inside the current element's objects and arrays the scan is.
    depth: usize,
    in_string: bool,
    escaped: bool,
    /// How many bytes of a leading byte order mark were skipped.
    bom: usize,
    malformed: Option<String>,
}

/// UTF-8's byte order mark.
const BOM: [u8; 3] = [0xEF, 0xBB, 0xBF];

impl JsonArraySplitter {
    pub(crate) fn new() -> JsonArraySplitter {
        JsonArraySplitter {
            stage: Stage::Open,
            scanned: 0,
            depth: 0,
            in_string: false,
            escaped: false,
            bom: 0,
            malformed: None,
        }
    }

    /// Why the bytes are not one JSON array, once that is known; nothing more is handed out.
    pub(crate) fn malformed(&self) -> Option<&str> {
        self.malformed.as_deref()
    }

    /// The next whole element in `buffer` (what it consumed is taken off its front).
    pub(crate) fn next_element(&mut self, buffer: &mut BytesMut) -> Option<Bytes> {
        while self.malformed.is_none() {
            if self.stage == Stage::Element {
                return self.element_end(buffer);
            }
            let &byte = buffer.first()?;
            if self.starts_element(byte) {
                self.stage = Stage::Element;
                self.scanned = 0;
                self.depth = 0;
            } else {
                buffer.advance(1);
                self.between(byte);
            }
        }
        buffer.clear();
        None
    }

    /// The page ended: an error unless the array closed.
    pub(crate) fn finish(&mut self, buffer: &mut BytesMut) {
        while self.next_element(buffer).is_some() {}
        if self.malformed.is_none() && self.stage != Stage::Closed {
            let reason = if self.stage == Stage::Open {
                "the page is not a JSON array (it is empty)"
            } else {
                "the page's JSON array does not close with ]"
            };
            self.fail(reason.to_owned());
        }
        buffer.clear();
    }

    /// Whether `byte` is the first of an element.
    fn starts_element(&self, byte: u8) -> bool {
        matches!(self.stage, Stage::Between { .. })
            && !byte.is_ascii_whitespace()
            && byte != b','
            && byte != b']'
    }

    /// A byte outside any element, not the first of one.
    fn between(&mut self, byte: u8) {
        if byte.is_ascii_whitespace() {
            return;
        }
        // A UTF-8 byte order mark before the array, which JSON parsers may ignore.
        if self.stage == Stage::Open && self.bom < BOM.len() && byte == BOM[self.bom] {
            self.bom += 1;
            return;
        }
        match (self.stage, byte) {
            (Stage::Open, b'[') => self.stage = Stage::Between { may_close: true },
            (Stage::Open, _) => self.fail(format!(
                "the page is not a JSON array (it starts with {:?}); --format raw reads it as it is",
                char::from(byte)
            )),
            (Stage::Between { may_close: true }, b']') => self.stage = Stage::Closed,
            (Stage::Between { .. }, _) => {
                self.fail(format!("an empty element before {:?}", char::from(byte)));
            }
            _ => self.fail(format!(
                "{:?} after the JSON array's end",
                char::from(byte)
            )),
        }
    }

    /// Scans the current element on from `scanned`; at its end, splits it off.
    fn element_end(&mut self, buffer: &mut BytesMut) -> Option<Bytes> {
        while self.scanned < buffer.len() {
            let byte = buffer[self.scanned];
            if let Some(close) = self.ends_element(byte) {
                let element = buffer.split_to(self.scanned).freeze();
                buffer.advance(1);
                self.stage = if close {
                    Stage::Closed
                } else {
                    Stage::Between { may_close: false }
                };
                let len = element.trim_ascii_end().len();
                return Some(element.slice(..len));
            }
            self.scan(byte);
            self.scanned += 1;
            if self.malformed.is_some() {
                return None;
            }
        }
        None
    }

    /// Whether `byte` ends the element: `Some(true)` for the array's `]`, `Some(false)` for `,`.
    fn ends_element(&self, byte: u8) -> Option<bool> {
        let outside = !self.in_string && self.depth == 0;
        match byte {
            b',' if outside => Some(false),
            b']' if outside => Some(true),
            _ => None,
        }
    }

    /// Follows strings and nesting through one byte of an element.
    fn scan(&mut self, byte: u8) {
        if self.in_string {
            match byte {
                _ if self.escaped => self.escaped = false,
                b'\\' => self.escaped = true,
                b'"' => self.in_string = false,
                _ => {}
            }
            return;
        }
        match byte {
            b'"' => self.in_string = true,
            b'{' | b'[' => self.depth += 1,
            b'}' | b']' if self.depth > 0 => self.depth -= 1,
            b'}' => self.fail("a } that closes nothing".to_owned()),
            _ => {}
        }
    }

    fn fail(&mut self, reason: String) {
        self.malformed.get_or_insert(reason);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The elements of `page` fed in `parts`, and why it is malformed, if it is.
    fn split(parts: &[&[u8]]) -> (Vec<Bytes>, Option<String>) {
        let (mut splitter, mut buffer) = (JsonArraySplitter::new(), BytesMut::new());
        let mut elements = Vec::new();
        for part in parts {
            buffer.extend_from_slice(part);
            elements.extend(std::iter::from_fn(|| splitter.next_element(&mut buffer)));
        }
        splitter.finish(&mut buffer);
        (elements, splitter.malformed().map(str::to_owned))
    }

    #[test]
    fn golden_elements() {
        let page = b" [ {\"a\":[1,2],\"s\":\"x,]}\\\"\"} ,\n\"t\\\\\", 3 ,[[]],null ]\n";
        let (elements, malformed) = split(&[page]);
        assert_eq!(
            elements,
            [
                &b"{\"a\":[1,2],\"s\":\"x,]}\\\"\"}"[..],
                b"\"t\\\\\"",
                b"3",
                b"[[]]",
                b"null"
            ]
        );
        assert_eq!(malformed, None);
        assert_eq!(split(&[b"[]"]), (vec![], None));
        assert_eq!(split(&[b"[ \n ]"]), (vec![], None));
        let with_bom = split(&[b"\xEF\xBB", b"\xBF[1]"]);
        assert_eq!(
            with_bom,
            (vec![Bytes::from_static(b"1")], None),
            "a leading BOM is skipped"
        );
    }

    #[test]
    fn splitting_at_every_byte_gives_the_same_elements() {
        let page = b"[{\"id\":1,\"note\":\"a, \\\"b\\\" ]\"},{\"id\":2,\"tags\":[\"x\",{}]},{\"next\":\"?p=2\"}]";
        let whole = split(&[page]);
        assert_eq!(whole.0.len(), 3);
        for cut in 0..=page.len() {
            assert_eq!(split(&[&page[..cut], &page[cut..]]), whole, "cut at {cut}");
        }
    }

    #[test]
    fn what_is_not_one_array_is_malformed() {
        let reason = |page: &[u8]| split(&[page]).1.unwrap_or_default();
        assert!(reason(b"{\"message\":\"hi\"}").contains("not a JSON array (it starts with '{')"));
        assert!(reason(b"").contains("it is empty"));
        assert!(reason(b"[1,2").contains("does not close"));
        assert!(reason(b"[1,\"]").contains("does not close"));
        assert!(reason(b"[1,]").contains("empty element"));
        assert!(reason(b"[,1]").contains("empty element"));
        assert!(reason(b"[1] x").contains("after the JSON array's end"));
        assert!(reason(b"[1}]").contains("closes nothing"));
        // What came before the fault is handed out; nothing after it.
        assert_eq!(split(&[b"[1,2,]"]).0, [&b"1"[..], b"2"]);
        assert_eq!(split(&[b"[1] [2]"]).0, [&b"1"[..]]);
    }

    /// A JSON value of strings with escapes, numbers and nesting.
    fn value() -> impl proptest::strategy::Strategy<Value = serde_json::Value> {
        use proptest::prelude::*;
        let leaf = prop_oneof![
            any::<i64>().prop_map(serde_json::Value::from),
            "[a-z,\\[\\]{}\"\\\\ \n\u{e9}]{0,8}".prop_map(serde_json::Value::from),
            Just(serde_json::Value::Null),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
                proptest::collection::btree_map("[a-z\"]{1,4}", inner, 0..4)
                    .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
            ]
        })
    }

    proptest::proptest! {
        #[test]
        fn elements_round_trip(
            values in proptest::collection::vec(value(), 0..6),
            pretty in proptest::bool::ANY,
            cut in 0usize..400,
        ) {
            let page = if pretty {
                serde_json::to_vec_pretty(&values).unwrap()
            } else {
                serde_json::to_vec(&values).unwrap()
            };
            let cut = cut.min(page.len());
            let (elements, malformed) = split(&[&page[..cut], &page[cut..]]);
            proptest::prop_assert_eq!(malformed, None);
            let parsed: Vec<serde_json::Value> =
                elements.iter().map(|e| serde_json::from_slice(e).unwrap()).collect();
            proptest::prop_assert_eq!(parsed, values);
        }
    }
}
