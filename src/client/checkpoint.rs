//! Where a download stands after a page: enough for another process to continue it with
//! [`Client::resume`](super::Client::resume), as if it had never stopped.

use base64::Engine as _;
use bytes::Bytes;
use serde::{Deserialize, Serialize};

use super::{Error, Format};

/// A download after one of its pages, as text (JSON) a caller keeps.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Checkpoint {
    /// The next page's URL.
    pub(crate) next: String,
    /// The format the first page settled (`auto` resolved).
    pub(crate) format: String,
    /// CSV: the first page's header line (base64), which later pages repeat.
    pub(crate) header: Option<String>,
    /// The pages already read, so that a link back to one is still caught.
    pub(crate) read: Vec<String>,
}

impl Checkpoint {
    pub(crate) fn new(
        next: &str,
        format: Format,
        header: Option<&Bytes>,
        read: Vec<String>,
    ) -> Self {
        Checkpoint {
            next: next.to_owned(),
            format: format.name().to_owned(),
            header: header.map(|h| base64::engine::general_purpose::STANDARD.encode(h)),
            read,
        }
    }

    pub(crate) fn encode(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// A checkpoint from its text; an error names what is wrong.
    pub(crate) fn decode(text: &str) -> Result<Checkpoint, Error> {
        let bad = |reason: String| Error::Url {
            url: String::new(),
            reason: format!("not a checkpoint of a download: {reason}"),
        };
        let checkpoint: Checkpoint = serde_json::from_str(text).map_err(|e| bad(e.to_string()))?;
        checkpoint.format.parse::<Format>().map_err(bad)?;
        checkpoint.header().map_err(bad)?;
        Ok(checkpoint)
    }

    pub(crate) fn format(&self) -> Format {
        self.format.parse().unwrap_or(Format::Raw)
    }

    pub(crate) fn header(&self) -> Result<Option<Bytes>, String> {
        let Some(header) = &self.header else {
            return Ok(None);
        };
        let decoded = base64::engine::general_purpose::STANDARD.decode(header);
        decoded
            .map(|h| Some(Bytes::from(h)))
            .map_err(|e| e.to_string())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_checkpoint_round_trips_and_bad_text_is_an_error() {
        let header = Bytes::from_static(b"id,note\n");
        let read = vec!["http://h/".to_owned()];
        let checkpoint = Checkpoint::new("http://h/?after=3", Format::Csv, Some(&header), read);
        let decoded = Checkpoint::decode(&checkpoint.encode()).unwrap();
        assert_eq!(decoded, checkpoint);
        assert_eq!(decoded.header().unwrap(), Some(header));
        assert_eq!(decoded.format(), Format::Csv);
        assert!(Checkpoint::decode("{}").is_err());
        assert!(Checkpoint::decode("not json").is_err());
    }
}
