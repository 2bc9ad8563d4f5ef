//! The export's query string, validated: every parameter is known, every value parses, and the
//! values reach SQLite only as bound parameters (never spliced into the SQL).

use lambda_stream::{Body, Request, RequestExt, Response};

/// How rows are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Format {
    Ndjson,
    Csv,
    /// One JSON array per page.
    Json,
}

impl Format {
    pub(crate) fn content_type(self) -> &'static str {
        match self {
            Format::Ndjson => "application/x-ndjson",
            Format::Csv => "text/csv",
            Format::Json => "application/json",
        }
    }

    fn name(self) -> &'static str {
        match self {
            Format::Ndjson => "ndjson",
            Format::Csv => "csv",
            Format::Json => "json",
        }
    }
}

/// What to export: rows after a key, optionally filtered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Export {
    pub(crate) format: Format,
    /// The last id the client has (0 for the first page).
    pub(crate) after: i64,
    pub(crate) status: Option<String>,
    pub(crate) min_amount: i64,
}

/// A request the export refuses: answered `400` with the reason.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadRequest(pub(crate) String);

impl BadRequest {
    pub(crate) fn into_response(self) -> Response {
        let message = serde_json::json!({ "message": self.0 }).to_string();
        http::Response::builder()
            .status(400)
            .header("content-type", "application/json")
            .body(Body::from(message))
            .expect("a valid response")
    }
}

const STATUSES: [&str; 3] = ["paid", "refunded", "pending"];

fn number(name: &str, value: &str) -> Result<i64, BadRequest> {
    value
        .parse::<i64>()
        .ok()
        .filter(|n| *n >= 0)
        .ok_or_else(|| BadRequest(format!("{name} must be a whole number >= 0, not {value:?}")))
}

impl Export {
    /// Parses the query's `format`, `after`, `status` and `min_amount`; anything else is
    /// refused.
    pub(crate) fn from_request(request: &Request) -> Result<Export, BadRequest> {
        let mut export = Export {
            format: Format::Ndjson,
            after: 0,
            status: None,
            min_amount: 0,
        };
        for (name, value) in request.query_params() {
            match &*name {
                "format" if value == "ndjson" => export.format = Format::Ndjson,
                "format" if value == "csv" => export.format = Format::Csv,
                "format" if value == "json" => export.format = Format::Json,
                "format" => {
                    return Err(BadRequest(format!(
                        "format must be ndjson, csv or json, not {value:?}"
                    )));
                }
                "after" => export.after = number("after", &value)?,
                "min_amount" => export.min_amount = number("min_amount", &value)?,
                "status" if STATUSES.contains(&&*value) => export.status = Some(value.into_owned()),
                "status" => {
                    return Err(BadRequest(format!(
                        "status must be one of {STATUSES:?}, not {value:?}"
                    )));
                }
                other => return Err(BadRequest(format!("unknown parameter {other:?}"))),
            }
        }
        Ok(export)
    }

    /// The link to the page after `after`, with the same filter.
    pub(crate) fn next_page_link(&self, after: i64) -> String {
        let mut link = format!("/?after={after}&format={}", self.format.name());
        if let Some(status) = &self.status {
            link.push_str(&format!("&status={status}"));
        }
        if self.min_amount > 0 {
            link.push_str(&format!("&min_amount={}", self.min_amount));
        }
        link
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parsed(query: &str) -> Result<Export, BadRequest> {
        let request = http::Request::get(format!("/?{query}")).body(Default::default());
        Export::from_request(&request.unwrap())
    }

    #[test]
    fn good_and_bad_queries() {
        let export = parsed("status=paid&min_amount=100&after=7&format=csv").unwrap();
        assert_eq!(export.status.as_deref(), Some("paid"));
        assert_eq!(
            (export.after, export.min_amount, export.format),
            (7, 100, Format::Csv)
        );
        assert_eq!(
            export.next_page_link(9),
            "/?after=9&format=csv&status=paid&min_amount=100"
        );
        assert_eq!(parsed("format=json").unwrap().format, Format::Json);
        for bad in [
            "status=paid'%20OR%201=1--",
            "after=-1",
            "after=x",
            "limit=5",
            "format=xml",
        ] {
            assert!(parsed(bad).is_err(), "{bad} is refused");
        }
    }
}
