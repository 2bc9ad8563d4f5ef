//! Which encoding a request accepts: `Accept-Encoding` parsed (q-values as RFC 9110 gives
//! them) and weighed against the preference.

/// A content coding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Encoding {
    /// `zstd`
    Zstd,
    /// `br`
    Brotli,
    /// `gzip`
    Gzip,
    /// `deflate`: the zlib format, as HTTP defines it (RFC 9110 section 8.4.1.2), not raw
    /// deflate.
    Deflate,
}

impl Encoding {
    /// The `Content-Encoding` token.
    pub fn as_str(self) -> &'static str {
        match self {
            Encoding::Zstd => "zstd",
            Encoding::Brotli => "br",
            Encoding::Gzip => "gzip",
            Encoding::Deflate => "deflate",
        }
    }

    fn matches(self, token: &str) -> bool {
        token.eq_ignore_ascii_case(self.as_str())
            || (self == Encoding::Gzip && token.eq_ignore_ascii_case("x-gzip"))
    }
}

/// Parses `Accept-Encoding` into `(token, q)` with q as an integer from 0 to 1000; entries with
/// a malformed q are skipped.
fn accepted(header: &str) -> Vec<(&str, u16)> {
    header
        .split(',')
        .filter_map(|entry| {
            let mut parts = entry.split(';').map(str::trim);
            let token = parts.next().filter(|t| !t.is_empty())?;
            let mut q = 1000;
            for param in parts {
                if let Some(value) = param
                    .strip_prefix("q=")
                    .or_else(|| param.strip_prefix("Q="))
                {
                    q = parse_q(value)?;
                }
            }
            Some((token, q))
        })
        .collect()
}

/// `1`, `1.000`, `0`, `0.5`, `0.123` -> 1000, 1000, 0, 500, 123 (RFC 9110 section 12.4.2).
fn parse_q(value: &str) -> Option<u16> {
    let (whole, fraction) = value.split_once('.').unwrap_or((value, ""));
    if fraction.len() > 3 || !fraction.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let thousandths: u16 = format!("{fraction:0<3}").parse().ok()?;
    match whole {
        "0" => Some(thousandths),
        "1" if thousandths == 0 => Some(1000),
        _ => None,
    }
}

/// The encoding among `preference` with the highest q above 0 in `header` (a listed token,
/// else `*`), ties broken by the preference's order.
pub(super) fn best(preference: &[Encoding], header: &str) -> Option<Encoding> {
    let accepted = accepted(header);
    let wildcard = accepted.iter().find(|(t, _)| *t == "*").map(|(_, q)| *q);
    let mut best: Option<(Encoding, u16)> = None;
    for &encoding in preference {
        let q = accepted
            .iter()
            .find(|(token, _)| encoding.matches(token))
            .map(|(_, q)| *q)
            .or(wildcard)
            .unwrap_or(0);
        if q > 0 && best.is_none_or(|(_, best_q)| q > best_q) {
            best = Some((encoding, q));
        }
    }
    best.map(|(encoding, _)| encoding)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stream::compress::Compression;
    use http::HeaderValue;

    #[test]
    fn q_values() {
        assert_eq!(parse_q("1"), Some(1000));
        assert_eq!(parse_q("1.000"), Some(1000));
        assert_eq!(parse_q("0.5"), Some(500));
        assert_eq!(parse_q("0.123"), Some(123));
        assert_eq!(parse_q("0"), Some(0));
        for bad in ["1.5", "2", "0.1234", "-1", "x", "0.a"] {
            assert_eq!(parse_q(bad), None, "{bad}");
        }
    }

    #[test]
    fn negotiation_table() {
        let compression = Compression::new();
        let pick =
            |header: &str| compression.negotiate(Some(&HeaderValue::from_str(header).unwrap()));
        assert_eq!(pick("gzip"), Some(Encoding::Gzip));
        assert_eq!(pick("x-gzip"), Some(Encoding::Gzip));
        assert_eq!(pick("GZIP, deflate"), Some(Encoding::Gzip));
        assert_eq!(
            pick("deflate, gzip;q=1.0"),
            Some(Encoding::Gzip),
            "tie -> preference"
        );
        assert_eq!(pick("br;q=0.2, gzip;q=0.9"), Some(Encoding::Gzip));
        assert_eq!(pick("*"), Some(Encoding::Zstd));
        assert_eq!(
            pick("*;q=0.5, zstd;q=0"),
            Some(Encoding::Brotli),
            "q=0 refuses zstd"
        );
        assert_eq!(pick("identity"), None);
        assert_eq!(pick("gzip;q=0"), None);
        assert_eq!(pick("gzip;q=2"), None, "malformed q: entry ignored");
        assert_eq!(pick(""), None);
        let gzip_only = Compression::with_preference([Encoding::Gzip]);
        assert_eq!(
            gzip_only.negotiate(Some(&HeaderValue::from_static("br, zstd, gzip;q=0.1"))),
            Some(Encoding::Gzip)
        );
    }
}
