//! What body bytes take in the `BUFFERED` response JSON: as a JSON string while they are UTF-8,
//! as base64 once they are not. A buffered answer's payload limit counts these bytes, so an
//! export is cut exactly where its JSON would pass the limit.

/// How body bytes are carried in the response JSON, and so what each one costs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum PayloadCost {
    /// Inside a JSON string: `"`, `\` and control characters are escaped.
    JsonString,
    /// As standard base64 (`isBase64Encoded: true`).
    Base64,
}

impl PayloadCost {
    /// The payload bytes `data` takes when `before` body bytes precede it (the tests cost
    /// pieces with it; a body is tallied by [`BufferedCost`]).
    #[cfg(test)]
    fn of(self, before: u64, data: &[u8]) -> u64 {
        match self {
            PayloadCost::JsonString => data.iter().map(|&byte| escaped_len(byte)).sum(),
            PayloadCost::Base64 => base64_len(before + data.len() as u64) - base64_len(before),
        }
    }

    /// The most payload bytes `len` body bytes can take, wherever they fall.
    pub(crate) fn worst_case(self, len: u64) -> u64 {
        match self {
            PayloadCost::JsonString => len.saturating_mul(6),
            PayloadCost::Base64 => base64_len(len.saturating_add(2)),
        }
    }
}

/// What a buffered answer's body takes in its payload, tallied as its bytes are let through
/// ([`encode_buffered_response`](super::encode_buffered_response) sends a UTF-8 body as a
/// string, any other as base64): a string while every byte so far is UTF-8 (a character split
/// between chunks waits in `unfinished`), base64 from the first byte that is not.
#[derive(Debug, Clone)]
pub(crate) struct BufferedCost {
    carrier: PayloadCost,
    /// The leading bytes of a character the next bytes finish (at most 3).
    unfinished: Vec<u8>,
    /// What the bytes so far take as a JSON string.
    as_string: u64,
    /// Body bytes so far.
    len: u64,
}

impl Default for BufferedCost {
    fn default() -> Self {
        BufferedCost {
            carrier: PayloadCost::JsonString,
            unfinished: Vec::new(),
            as_string: 0,
            len: 0,
        }
    }
}

impl BufferedCost {
    /// Adds body bytes.
    pub(crate) fn add(&mut self, data: &[u8]) {
        if self.carrier == PayloadCost::JsonString {
            match utf8_tail(&self.unfinished, data) {
                Some(tail) => self.unfinished = tail,
                None => {
                    self.carrier = PayloadCost::Base64;
                    self.unfinished.clear();
                }
            }
            self.as_string += data.iter().map(|&byte| escaped_len(byte)).sum::<u64>();
        }
        self.len += data.len() as u64;
    }

    /// Body bytes so far.
    #[cfg(feature = "compression")]
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// The payload bytes the body so far adds to the envelope of an empty body
    /// (`"body":"","isBase64Encoded":false`): as base64, its `true` is a byte shorter.
    pub(crate) fn taken(&self) -> u64 {
        match self.carrier {
            PayloadCost::JsonString => self.as_string,
            PayloadCost::Base64 => base64_len(self.len).saturating_sub(1),
        }
    }

    /// How the whole body goes, once it ended: an unfinished character makes it base64.
    #[cfg(test)]
    fn finished(&self) -> PayloadCost {
        if self.unfinished.is_empty() {
            self.carrier
        } else {
            PayloadCost::Base64
        }
    }
}

/// The unfinished character at the end of `unfinished` + `data`, when everything before it is
/// UTF-8; `None` when it is not. Copies only when a character was split between chunks.
fn utf8_tail(unfinished: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    let joined;
    let bytes = if unfinished.is_empty() {
        data
    } else {
        joined = [unfinished, data].concat();
        &joined
    };
    match std::str::from_utf8(bytes) {
        Ok(_) => Some(Vec::new()),
        Err(error) if error.error_len().is_none() => Some(bytes[error.valid_up_to()..].to_vec()),
        Err(_) => None,
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
    use crate::wire::{ResponseHead, encode_buffered_response};
    use http::header::CONTENT_TYPE;
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
    fn the_bytes_choose_the_carrier_not_the_content_type() {
        let mut cost = BufferedCost::default();
        cost.add(b"{\"id\":1}\n");
        assert_eq!(
            (cost.finished(), cost.taken()),
            (PayloadCost::JsonString, 12)
        );
        // A character split between chunks is still text once finished.
        let mut split = BufferedCost::default();
        split.add(&"é".as_bytes()[..1]);
        assert_eq!(
            split.finished(),
            PayloadCost::Base64,
            "unfinished at the end"
        );
        split.add(&"é".as_bytes()[1..]);
        assert_eq!(
            (split.finished(), split.taken()),
            (PayloadCost::JsonString, 2)
        );
        let mut binary = BufferedCost::default();
        binary.add(b"\"\"\"");
        assert_eq!(binary.taken(), 6);
        binary.add(&[0xff]);
        assert_eq!(
            binary.taken(),
            7,
            "four bytes as base64 (and `true`), less than as a string"
        );
        binary.add(b"text");
        assert_eq!(
            binary.finished(),
            PayloadCost::Base64,
            "base64 stays base64"
        );
    }

    proptest! {
        /// Costed piece by piece, at any split, a body costs exactly what it adds to the JSON
        /// under any content type, with the carrier learned from its bytes.
        #[test]
        fn pieces_cost_what_the_encoded_payload_grows_by(
            text in "[a-z\"\\\\\n\t\u{1}\u{1f}é😀 ]{0,40}",
            binary in proptest::collection::vec(any::<u8>(), 0..40),
            split in 0usize..41,
            content_type in prop_oneof!["text/plain", "application/x-ndjson", "application/octet-stream"],
        ) {
            let head = head(&content_type);
            for body in [text.as_bytes(), &binary[..]] {
                let at = split.min(body.len());
                let mut cost = BufferedCost::default();
                cost.add(&body[..at]);
                cost.add(&body[at..]);
                let carrier = cost.finished();
                if carrier == cost.carrier {
                    prop_assert_eq!(cost.taken(), added(&head, body), "tallied");
                }
                prop_assert!(carrier.of(at as u64, &body[at..]) <= carrier.worst_case((body.len() - at) as u64));
            }
        }
    }
}
