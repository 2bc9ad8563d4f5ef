//! What is not worth compressing: a response that already has a `Content-Encoding`, an
//! already-compressed content type, or no body. Everything else streams compressed, SSE
//! included: the stage flushes after every merge, so each event is decodable as it arrives.

use http::header::{CONTENT_ENCODING, CONTENT_TYPE};
use http::{HeaderValue, StatusCode};

use crate::body::Body;
use crate::wire::media_type_essence;

/// Whether a response with these parts and this body is worth compressing.
pub(super) fn worth_compressing(parts: &http::response::Parts, body: &Body) -> bool {
    let bodiless = parts.status.is_informational()
        || parts.status == StatusCode::NO_CONTENT
        || parts.status == StatusCode::NOT_MODIFIED
        || body.exact_len() == Some(0);
    !(parts.headers.contains_key(CONTENT_ENCODING)
        || already_compressed(parts.headers.get(CONTENT_TYPE))
        || bodiless)
}

/// Content types not worth compressing again.
fn already_compressed(content_type: Option<&HeaderValue>) -> bool {
    let Some(essence) = content_type.and_then(media_type_essence) else {
        return false;
    };
    (essence.starts_with("image/") && essence != "image/svg+xml")
        || essence.starts_with("audio/")
        || essence.starts_with("video/")
        || matches!(
            essence.as_str(),
            "application/zip"
                | "application/gzip"
                | "application/x-gzip"
                | "application/zstd"
                | "application/x-bzip2"
                | "application/x-xz"
                | "application/x-7z-compressed"
                | "font/woff"
                | "font/woff2"
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn svg_is_text_among_the_images() {
        let svg = HeaderValue::from_static("image/svg+xml");
        let png = HeaderValue::from_static("image/png");
        assert!(!already_compressed(Some(&svg)));
        assert!(already_compressed(Some(&png)));
        assert!(!already_compressed(None));
    }
}
