//! Reading the SigV4 fields of a request, in the `Authorization` header or in presigned query
//! parameters (sans-IO: the emulator's `AWS_IAM` check and the fuzz target share it). Private
//! to the crate; public only when built for fuzzing (`cfg(fuzzing)`), for the fuzz crate.
#![cfg_attr(
    not(fuzzing),
    allow(unreachable_pub, reason = "public to the fuzz crate only")
)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The only algorithm Function URLs accept.
pub const ALGORITHM: &str = "AWS4-HMAC-SHA256";

/// The SigV4 fields a request carries.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SignedFields {
    /// The access key id of the credential scope.
    pub access_key_id: String,
    /// The scope's date, `YYYYMMDD`.
    pub scope_date: String,
    /// The scope's region.
    pub region: String,
    /// The scope's service (`lambda` for Function URLs).
    pub service: String,
    /// The signed header names, lower-case, in the order given.
    pub signed_headers: Vec<String>,
    /// The signature, lower-case hex.
    pub signature: String,
    /// Presigned requests only: `X-Amz-Date` (headers carry it in `x-amz-date`).
    pub date: Option<String>,
    /// Presigned requests only: `X-Amz-Expires`.
    pub expires: Option<Duration>,
}

/// Why the SigV4 fields could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SigV4FieldError {
    /// Not `AWS4-HMAC-SHA256`.
    #[error("unsupported signing algorithm {0:?}")]
    Algorithm(String),
    /// A required field is absent.
    #[error("the signature has no {0}")]
    Missing(&'static str),
    /// A field is present but malformed.
    #[error("malformed {field}: {value:?}")]
    Malformed {
        /// Which field.
        field: &'static str,
        /// What it held.
        value: String,
    },
}

fn malformed(field: &'static str, value: &str) -> SigV4FieldError {
    SigV4FieldError::Malformed {
        field,
        value: value.chars().take(200).collect(),
    }
}

/// The presigned query parameters, all removed before the canonical query is rebuilt.
pub(crate) const PRESIGN_PARAMS: [&str; 7] = [
    "X-Amz-Algorithm",
    "X-Amz-Credential",
    "X-Amz-Date",
    "X-Amz-Expires",
    "X-Amz-SignedHeaders",
    "X-Amz-Signature",
    "X-Amz-Security-Token",
];

/// AWS's limit on `X-Amz-Expires`: seven days.
pub const MAX_PRESIGNED_EXPIRY: Duration = Duration::from_secs(7 * 24 * 3600);

impl SignedFields {
    /// Reads `AWS4-HMAC-SHA256 Credential=.., SignedHeaders=.., Signature=..`.
    ///
    /// # Errors
    /// [`SigV4FieldError`] when the algorithm is not SigV4 or a field is absent or malformed.
    pub fn from_authorization_header(value: &str) -> Result<Self, SigV4FieldError> {
        let value = value.trim();
        let (algorithm, rest) = value.split_once(' ').unwrap_or((value, ""));
        if algorithm != ALGORITHM {
            return Err(SigV4FieldError::Algorithm(
                algorithm.chars().take(64).collect(),
            ));
        }
        let (mut credential, mut signed_headers, mut signature) = (None, None, None);
        for part in rest.split(',') {
            let Some((name, value)) = part.trim().split_once('=') else {
                return Err(malformed("Authorization", part));
            };
            match name.trim() {
                "Credential" => credential = Some(value.trim()),
                "SignedHeaders" => signed_headers = Some(value.trim()),
                "Signature" => signature = Some(value.trim()),
                _ => {}
            }
        }
        Self::from_parts(
            credential.ok_or(SigV4FieldError::Missing("Credential"))?,
            signed_headers.ok_or(SigV4FieldError::Missing("SignedHeaders"))?,
            signature.ok_or(SigV4FieldError::Missing("Signature"))?,
        )
    }

    /// Reads presigned query parameters; `Ok(None)` when the query carries no
    /// `X-Amz-Signature` (the request is not presigned).
    ///
    /// # Errors
    /// [`SigV4FieldError`] when the query is presigned but a field is absent or malformed.
    pub fn from_query(query: &str) -> Result<Option<Self>, SigV4FieldError> {
        let mut found: [Option<String>; 6] = Default::default();
        for (name, value) in form_urlencoded::parse(query.as_bytes()) {
            if let Some(slot) = PRESIGN_PARAMS[..6].iter().position(|p| *p == name) {
                found[slot] = Some(value.into_owned());
            }
        }
        let [
            algorithm,
            credential,
            date,
            expires,
            signed_headers,
            signature,
        ] = found;
        let Some(signature) = signature else {
            return Ok(None);
        };
        let algorithm = algorithm.ok_or(SigV4FieldError::Missing("X-Amz-Algorithm"))?;
        if algorithm != ALGORITHM {
            return Err(SigV4FieldError::Algorithm(
                algorithm.chars().take(64).collect(),
            ));
        }
        let mut fields = Self::from_parts(
            &credential.ok_or(SigV4FieldError::Missing("X-Amz-Credential"))?,
            &signed_headers.ok_or(SigV4FieldError::Missing("X-Amz-SignedHeaders"))?,
            &signature,
        )?;
        let date = date.ok_or(SigV4FieldError::Missing("X-Amz-Date"))?;
        parse_amz_date(&date)?;
        let expires = expires.ok_or(SigV4FieldError::Missing("X-Amz-Expires"))?;
        let seconds: u64 = expires
            .parse()
            .map_err(|_| malformed("X-Amz-Expires", &expires))?;
        if Duration::from_secs(seconds) > MAX_PRESIGNED_EXPIRY {
            return Err(malformed("X-Amz-Expires", &expires));
        }
        fields.date = Some(date);
        fields.expires = Some(Duration::from_secs(seconds));
        Ok(Some(fields))
    }

    fn from_parts(
        credential: &str,
        signed_headers: &str,
        signature: &str,
    ) -> Result<Self, SigV4FieldError> {
        let scope: Vec<&str> = credential.split('/').collect();
        let [access_key_id, scope_date, region, service, "aws4_request"] = scope[..] else {
            return Err(malformed("Credential", credential));
        };
        let valid_date = scope_date.len() == 8 && scope_date.bytes().all(|b| b.is_ascii_digit());
        if access_key_id.is_empty() || !valid_date || region.is_empty() || service.is_empty() {
            return Err(malformed("Credential", credential));
        }
        let headers: Vec<String> = signed_headers.split(';').map(str::to_owned).collect();
        let valid_header = |name: &String| {
            !name.is_empty()
                && name
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-_.".contains(&b))
        };
        if !headers.iter().all(valid_header) {
            return Err(malformed("SignedHeaders", signed_headers));
        }
        if signature.len() != 64 || !signature.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(malformed("Signature", signature));
        }
        Ok(SignedFields {
            access_key_id: access_key_id.to_owned(),
            scope_date: scope_date.to_owned(),
            region: region.to_owned(),
            service: service.to_owned(),
            signed_headers: headers,
            signature: signature.to_ascii_lowercase(),
            date: None,
            expires: None,
        })
    }
}

/// Reads an `x-amz-date` / `X-Amz-Date` value, `YYYYMMDDTHHMMSSZ`.
///
/// # Errors
/// [`SigV4FieldError::Malformed`] when it is not that format or not a real time.
pub fn parse_amz_date(value: &str) -> Result<SystemTime, SigV4FieldError> {
    let bytes = value.as_bytes();
    let shape_ok = bytes.len() == 16
        && bytes[8] == b'T'
        && bytes[15] == b'Z'
        && bytes[..8]
            .iter()
            .chain(&bytes[9..15])
            .all(u8::is_ascii_digit);
    if !shape_ok {
        return Err(malformed("x-amz-date", value));
    }
    let number = |range: std::ops::Range<usize>| {
        bytes[range]
            .iter()
            .fold(0i64, |n, digit| n * 10 + i64::from(digit - b'0'))
    };
    let (year, month, day) = (number(0..4), number(4..6), number(6..8));
    let (hour, minute, second) = (number(9..11), number(11..13), number(13..15));
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        _ => 0,
    };
    if year < 1970 || day < 1 || day > days_in_month || hour > 23 || minute > 59 || second > 59 {
        return Err(malformed("x-amz-date", value));
    }
    let seconds = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    let seconds = u64::try_from(seconds).map_err(|_| malformed("x-amz-date", value))?;
    Ok(UNIX_EPOCH + Duration::from_secs(seconds))
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// What the fuzz target checks: the `Authorization` header (before the first newline) and the
/// presigned query (after it) never panic, and what they accept is well-formed.
#[cfg(any(fuzzing, test))]
pub fn check_parsers(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let (header, query) = text.split_once('\n').unwrap_or((&text, ""));
    for fields in [
        SignedFields::from_authorization_header(header).ok(),
        SignedFields::from_query(query).ok().flatten(),
    ]
    .into_iter()
    .flatten()
    {
        assert_eq!(fields.signature.len(), 64);
        assert!(fields.signature.bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(!fields.signed_headers.is_empty());
        assert_eq!(fields.scope_date.len(), 8);
    }
    let _ = parse_amz_date(header);
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGNATURE: &str = "5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";

    #[test]
    fn reads_the_header_form() {
        let header = format!(
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/iam/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature={SIGNATURE}"
        );
        let fields = SignedFields::from_authorization_header(&header).unwrap();
        assert_eq!(
            fields,
            SignedFields {
                access_key_id: "AKIDEXAMPLE".into(),
                scope_date: "20150830".into(),
                region: "us-east-1".into(),
                service: "iam".into(),
                signed_headers: vec!["content-type".into(), "host".into(), "x-amz-date".into()],
                signature: SIGNATURE.into(),
                date: None,
                expires: None,
            }
        );
    }

    #[test]
    fn reads_the_presigned_form() {
        let query = format!(
            "a=1&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261125%2Feu-west-1%2Flambda%2Faws4_request&X-Amz-Date=20261125T080000Z&X-Amz-Expires=300&X-Amz-SignedHeaders=host&X-Amz-Signature={SIGNATURE}"
        );
        let fields = SignedFields::from_query(&query).unwrap().unwrap();
        assert_eq!(fields.region, "eu-west-1");
        assert_eq!(fields.date.as_deref(), Some("20261125T080000Z"));
        assert_eq!(fields.expires, Some(Duration::from_secs(300)));
        assert_eq!(SignedFields::from_query("a=1&b=2"), Ok(None));
    }

    #[test]
    fn bad_fields_are_typed_errors() {
        let header = |text: &str| SignedFields::from_authorization_header(text).unwrap_err();
        assert_eq!(
            header("Basic dXNlcjpwYXNz"),
            SigV4FieldError::Algorithm("Basic".into())
        );
        assert_eq!(
            header("AWS4-HMAC-SHA256 SignedHeaders=host, Signature=ab"),
            SigV4FieldError::Missing("Credential")
        );
        assert!(matches!(
            header(&format!(
                "AWS4-HMAC-SHA256 Credential=AKID/2026/us-east-1/lambda/aws4_request, SignedHeaders=host, Signature={SIGNATURE}"
            )),
            SigV4FieldError::Malformed {
                field: "Credential",
                ..
            }
        ));
        assert!(matches!(
            header(
                "AWS4-HMAC-SHA256 Credential=AKID/20261125/us-east-1/lambda/aws4_request, SignedHeaders=Host, Signature=zz"
            ),
            SigV4FieldError::Malformed {
                field: "SignedHeaders",
                ..
            }
        ));
        let query = format!(
            "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKID%2F20261125%2Fus-east-1%2Flambda%2Faws4_request&X-Amz-Date=20261125T080000Z&X-Amz-Expires=604801&X-Amz-SignedHeaders=host&X-Amz-Signature={SIGNATURE}"
        );
        assert!(matches!(
            SignedFields::from_query(&query),
            Err(SigV4FieldError::Malformed {
                field: "X-Amz-Expires",
                ..
            })
        ));
    }

    #[test]
    fn the_fuzz_seeds_and_corpus_replay() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz");
        let mut replayed = 0;
        for dir in ["seeds", "corpus"] {
            let Ok(entries) = std::fs::read_dir(root.join(dir).join("sigv4_fields")) else {
                continue;
            };
            for entry in entries {
                check_parsers(&std::fs::read(entry.unwrap().path()).unwrap());
                replayed += 1;
            }
        }
        assert!(replayed > 0, "no seeds for sigv4_fields");
    }

    #[test]
    fn amz_dates_are_checked() {
        assert_eq!(parse_amz_date("19700101T000000Z").unwrap(), UNIX_EPOCH);
        assert_eq!(
            parse_amz_date("20240229T235959Z").unwrap(),
            UNIX_EPOCH + Duration::from_secs(1_709_251_199)
        );
        for bad in [
            "20230229T000000Z",
            "20261325T000000Z",
            "20261125T240000Z",
            "2026-11-25",
            "20261125T000000",
            "２０２６1125T000000Z",
        ] {
            assert!(parse_amz_date(bad).is_err(), "{bad}");
        }
    }
}
