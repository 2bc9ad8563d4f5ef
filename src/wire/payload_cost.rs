//! What body bytes take in the payload that carries them: as they are in a stream, as a JSON
//! string or as base64 in the `BUFFERED` response JSON. The budget counts payload bytes, so a
//! buffered export is cut exactly where its JSON would pass the limit.

use super::event::is_text_content_type;
use super::head::ResponseHead;
use http::header::CONTENT_TYPE;

/// How body bytes are carried, and so what each one costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PayloadCost {
    /// As they are (a streamed response).
    Raw,
    /// Inside a JSON string: `"`, `\` and control characters are escaped.
    JsonString,
    /// As standard base64 (`isBase64Encoded: true`).
    Base64,
}

impl PayloadCost {
    /// How [`encode_buffered_response`](super::encode_buffered_response) carries the body of
    /// `head` (textual content types as a string: if the body then proves not to be UTF-8, it
    /// goes as base64 and the payload's final size check catches the difference).
    pub(crate) fn buffered(head: &ResponseHead) -> Self {
        if is_text_content_type(head.headers.get(CONTENT_TYPE)) {
            PayloadCost::JsonString
        } else {
            PayloadCost::Base64
        }
    }

    /// The payload bytes `data` takes when `before` body bytes precede it.
    pub(crate) fn of(self, before: u64, data: &[u8]) -> u64 {
        match self {
            PayloadCost::Raw => data.len() as u64,
            PayloadCost::JsonString => data.iter().map(|&byte| escaped_len(byte)).sum(),
            PayloadCost::Base64 => base64_len(before + data.len() as u64) - base64_len(before),
        }
    }

    /// The most payload bytes `len` body bytes can take, wherever they fall.
    pub(crate) fn worst_case(self, len: u64) -> u64 {
        match self {
            PayloadCost::Raw => len,
            PayloadCost::JsonString => len.saturating_mul(6),
            PayloadCost::Base64 => base64_len(len.saturating_add(2)),
        }
    }
}

/// serde_json's string escapes: two characters for `"`, `\` and `\b \f \n \r \t`, six
/// (`\u00XX`) for the other control characters.
fn escaped_len(byte: u8) -> u64 {
    match byte {
        b'"' | b'\\' | 0x08 | 0x0c | b'\n' | b'\r' | b'\t' => 2,
        0x00..0x20 => 6,
        _ => 1,
    }
}

fn base64_len(len: u64) -> u64 {
    len.div_ceil(3) * 4
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::encode_buffered_response;
    use proptest::prelude::*;

    fn head(content_type: &str) -> ResponseHead {
        let mut head = ResponseHead::new(http::StatusCode::OK);
        head.headers
            .insert(CONTENT_TYPE, content_type.parse().unwrap());
        head
    }

    /// What the body adds to the encoded payload.
    fn added(head: &ResponseHead, body: &[u8]) -> u64 {
        let empty = encode_buffered_response(head, b"").unwrap().len();
        (encode_buffered_response(head, body).unwrap().len() - empty) as u64
    }

    #[test]
    fn the_content_type_chooses_the_cost() {
        assert_eq!(
            PayloadCost::buffered(&head("text/csv")),
            PayloadCost::JsonString
        );
        assert_eq!(
            PayloadCost::buffered(&head("application/octet-stream")),
            PayloadCost::Base64
        );
    }

    proptest! {
        /// Costed piece by piece, at any split, a body costs exactly what it adds to the JSON.
        #[test]
        fn pieces_cost_what_the_encoded_payload_grows_by(
            text in "[a-z\"\\\\\n\t\u{1}\u{1f}é😀 ]{0,40}",
            binary in proptest::collection::vec(any::<u8>(), 0..40),
            split in 0usize..41,
        ) {
            for (head, body, cost) in [
                (head("text/plain"), text.as_bytes(), PayloadCost::JsonString),
                (head("application/octet-stream"), &binary[..], PayloadCost::Base64),
            ] {
                let at = split.min(body.len());
                let pieces = cost.of(0, &body[..at]) + cost.of(at as u64, &body[at..]);
                prop_assert_eq!(pieces, added(&head, body));
                prop_assert!(cost.of(at as u64, &body[at..]) <= cost.worst_case((body.len() - at) as u64));
            }
        }
    }
}
