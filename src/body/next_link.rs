//! The standard last record of a page: the link to the next one, in the body's own framing, so
//! a client follows it without knowing the app (`lambda-stream get`, `lambda_stream::client`).
//!
//! | framing | last record of a page |
//! |---|---|
//! | NDJSON (JSON lines) | `{"next":"<link>"}` and a newline |
//! | CSV | `#next=<link>` and a newline |
//! | SSE | `event: next`, `data: <link>` and the blank line |
//! | JSON array | a last element `{"next":"<link>"}`, then the array's `]` |
//!
//! The link is resolved against the request's URL, as a browser resolves an `href`: a query
//! (`?after=120&format=csv`), a path (`/export/page/2`) or a whole URL. Bytes that a URL may not
//! hold unencoded (controls, space, `"`, `\`, and everything outside ASCII) are percent-encoded,
//! so the record needs no escaping in any framing and its length is known.

use bytes::Bytes;

use super::continuation::{Continuation, Truncation};

/// The framings a page's link is written in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LinkFraming {
    Ndjson,
    Csv,
    Sse,
    /// The link is the array's last element; the record is that element as the client's
    /// splitter hands it out (without the `,` before it or the `]` after it).
    JsonArray,
}

impl LinkFraming {
    /// The bytes around the link.
    fn parts(self) -> (&'static str, &'static str) {
        match self {
            LinkFraming::Ndjson => ("{\"next\":\"", "\"}\n"),
            LinkFraming::Csv => ("#next=", "\n"),
            LinkFraming::Sse => ("event: next\ndata: ", "\n\n"),
            LinkFraming::JsonArray => ("{\"next\":\"", "\"}"),
        }
    }

    /// The last record of a page whose next page is at `link`.
    pub(crate) fn record(self, link: &str) -> Bytes {
        let (before, after) = self.parts();
        format!("{before}{}{after}", url_safe(link)).into()
    }

    /// The bytes a cut page ends with: the record, and for a JSON array what joins it to the
    /// elements sent (`,`, or `[` when none was) and closes the array.
    fn page_end(self, link: &str, records_sent: u64) -> Bytes {
        let record = self.record(link);
        if self != LinkFraming::JsonArray {
            return record;
        }
        let open = if records_sent == 0 { b'[' } else { b',' };
        [&[open][..], &record, b"]"].concat().into()
    }

    /// The continuation writing that end, with room for a link of `max_link_len` bytes.
    pub(crate) fn continuation<F>(self, max_link_len: usize, link: F) -> Continuation
    where
        F: FnOnce(&Truncation) -> String + Send + 'static,
    {
        let (before, after) = self.parts();
        let joins = if self == LinkFraming::JsonArray { 2 } else { 0 };
        let reserve = before.len() + max_link_len + after.len() + joins;
        Continuation::new(reserve, move |cut: &Truncation| {
            self.page_end(&link(cut), cut.records_sent)
        })
    }

    /// The link a page's last record names, when `record` is such a record (the record as the
    /// framing delimits it, its line break or blank line included).
    #[cfg(any(test, feature = "client"))]
    pub(crate) fn link_in(self, record: &[u8]) -> Option<&str> {
        let (before, after) = self.parts();
        let link = record
            .strip_prefix(before.as_bytes())?
            .strip_suffix(after.as_bytes())?;
        let link = std::str::from_utf8(link).ok()?;
        let safe = link.bytes().all(url_may_hold);
        (safe && !link.is_empty()).then_some(link)
    }
}

impl Continuation {
    /// The standard end of an NDJSON page: a last record `{"next":"<link>"}`, which
    /// `lambda-stream get` and `lambda_stream::client` follow to the next page. `link` makes
    /// the link from what was sent, relative to the request's URL (`?after=120`) or whole;
    /// `max_link_len` is the longest it makes, in bytes as sent (what a URL may not hold is
    /// percent-encoded first), and is kept at the end of the budget.
    ///
    /// ```
    /// use lambda_stream::{Continuation, RequestExt, Truncation};
    /// # let request: lambda_stream::Request = http::Request::new(bytes::Bytes::new());
    /// let start: u64 = request.query_param("cursor").and_then(|c| c.parse().ok()).unwrap_or(0);
    /// let next_page = Continuation::ndjson_link(40, move |cut: &Truncation| {
    ///     format!("?cursor={}", cut.next_offset(start))
    /// });
    /// ```
    pub fn ndjson_link<F>(max_link_len: usize, link: F) -> Continuation
    where
        F: FnOnce(&Truncation) -> String + Send + 'static,
    {
        LinkFraming::Ndjson.continuation(max_link_len, link)
    }

    /// The standard end of a CSV page: a last line `#next=<link>` (a comment line to CSV
    /// readers that skip them); otherwise as [`ndjson_link`](Self::ndjson_link).
    pub fn csv_link<F>(max_link_len: usize, link: F) -> Continuation
    where
        F: FnOnce(&Truncation) -> String + Send + 'static,
    {
        LinkFraming::Csv.continuation(max_link_len, link)
    }

    /// The standard end of an SSE page: a last event `next` whose data is the link (a browser's
    /// `EventSource` can listen for it); otherwise as [`ndjson_link`](Self::ndjson_link).
    pub fn sse_link<F>(max_link_len: usize, link: F) -> Continuation
    where
        F: FnOnce(&Truncation) -> String + Send + 'static,
    {
        LinkFraming::Sse.continuation(max_link_len, link)
    }

    /// The standard end of a [`Body::json_array`](crate::Body::json_array) page: a last
    /// element `{"next":"<link>"}`, then the array's `]` (so a cut page is still one valid
    /// array); `lambda-stream get` joins the pages' elements into one array. Otherwise as
    /// [`ndjson_link`](Self::ndjson_link).
    pub fn json_array_link<F>(max_link_len: usize, link: F) -> Continuation
    where
        F: FnOnce(&Truncation) -> String + Send + 'static,
    {
        LinkFraming::JsonArray.continuation(max_link_len, link)
    }
}

/// Whether a link may hold `byte` as it is: visible ASCII, but not `"` or `\`.
fn url_may_hold(byte: u8) -> bool {
    byte.is_ascii_graphic() && byte != b'"' && byte != b'\\'
}

/// `link` with every byte a URL may not hold unencoded percent-encoded (what is already
/// percent-encoded stays as it is).
fn url_safe(link: &str) -> String {
    let mut safe = String::with_capacity(link.len());
    for byte in link.bytes() {
        if url_may_hold(byte) {
            safe.push(char::from(byte));
        } else {
            safe.push_str(&format!("%{byte:02X}"));
        }
    }
    safe
}

#[cfg(test)]
mod tests {
    use super::*;

    const ALL: [LinkFraming; 4] = [
        LinkFraming::Ndjson,
        LinkFraming::Csv,
        LinkFraming::Sse,
        LinkFraming::JsonArray,
    ];

    #[test]
    fn golden_records() {
        let link = "/?after=120&format=csv";
        assert_eq!(
            &LinkFraming::Ndjson.record(link)[..],
            b"{\"next\":\"/?after=120&format=csv\"}\n"
        );
        assert_eq!(
            &LinkFraming::Csv.record(link)[..],
            b"#next=/?after=120&format=csv\n"
        );
        assert_eq!(
            &LinkFraming::Sse.record(link)[..],
            b"event: next\ndata: /?after=120&format=csv\n\n"
        );
        let json = LinkFraming::JsonArray;
        assert_eq!(
            &json.record(link)[..],
            b"{\"next\":\"/?after=120&format=csv\"}"
        );
        assert_eq!(
            &json.page_end(link, 3)[..],
            b",{\"next\":\"/?after=120&format=csv\"}]"
        );
        assert_eq!(
            &json.page_end(link, 0)[..],
            b"[{\"next\":\"/?after=120&format=csv\"}]",
            "a page cut before its first element is still an array"
        );
        assert_eq!(
            &LinkFraming::Csv.page_end(link, 3),
            &LinkFraming::Csv.record(link)
        );
    }

    #[test]
    fn what_a_url_may_not_hold_is_percent_encoded() {
        assert_eq!(url_safe("/?q=a b\"c\\d\né"), "/?q=a%20b%22c%5Cd%0A%C3%A9");
        assert_eq!(url_safe("/?q=a%20b"), "/?q=a%20b");
    }

    #[test]
    fn the_reserve_holds_a_link_of_the_longest_length() {
        let link = "x".repeat(40);
        for framing in ALL {
            let made = link.clone();
            let continuation = framing.continuation(40, move |_: &Truncation| made);
            assert_eq!(
                continuation.reserve(),
                framing.page_end(&link, 1).len() as u64,
                "{framing:?}"
            );
        }
    }

    #[test]
    fn only_the_exact_form_is_a_link() {
        let ndjson = LinkFraming::Ndjson;
        assert_eq!(ndjson.link_in(b"{\"next\":\"?a=1\"}\n"), Some("?a=1"));
        assert_eq!(
            ndjson.link_in(b"{\"next\":\"?a=1\"}"),
            None,
            "no line break"
        );
        assert_eq!(ndjson.link_in(b"{\"next\":\"\"}\n"), None, "empty");
        assert_eq!(ndjson.link_in(b"{\"id\":1}\n"), None);
        assert_eq!(LinkFraming::Csv.link_in(b"#next=/p/2\n"), Some("/p/2"));
        assert_eq!(LinkFraming::Csv.link_in(b"#next=/p 2\n"), None);
        assert_eq!(
            LinkFraming::Sse.link_in(b"event: next\ndata: /p/2\n\n"),
            Some("/p/2")
        );
        let json = LinkFraming::JsonArray;
        assert_eq!(json.link_in(b"{\"next\":\"/p/2\"}"), Some("/p/2"));
        assert_eq!(json.link_in(b"{\"next\":\"/p/2\"}]"), None);
        assert_eq!(
            json.link_in(b"{\"next\": \"/p/2\"}"),
            None,
            "only the exact form"
        );
    }

    proptest::proptest! {
        #[test]
        fn a_record_names_its_link(link in "[ -~]{1,40}|\\PC{1,10}") {
            for framing in ALL {
                let (record, safe) = (framing.record(&link), url_safe(&link));
                proptest::prop_assert_eq!(framing.link_in(&record), Some(safe.as_str()));
            }
        }
    }
}
