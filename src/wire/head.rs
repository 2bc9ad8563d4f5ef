//! The response head shared by the prelude and the buffered response: status, headers, cookies.

use http::header::{CONNECTION, CONTENT_LENGTH, SET_COOKIE, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, StatusCode};

/// What a Function URL turns into the HTTP status line and headers of the client response.
///
/// `Set-Cookie` values live in [`cookies`](Self::cookies), because Function URLs carry them in
/// their own field; [`ResponseHead::from_parts`] moves them there.
///
/// ```
/// use lambda_stream::wire::ResponseHead;
/// let response = http::Response::builder()
///     .status(201)
///     .header("content-type", "text/plain")
///     .header("set-cookie", "a=1")
///     .body(())?;
/// let head = ResponseHead::from_parts(response.into_parts().0);
/// assert_eq!(head.status, 201);
/// assert_eq!(head.cookies, ["a=1"]);
/// assert!(head.headers.get("set-cookie").is_none());
/// # Ok::<(), http::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct ResponseHead {
    /// HTTP status; a prelude without `statusCode` means 200.
    pub status: StatusCode,
    /// Response headers (never `Set-Cookie`: see `cookies`).
    pub headers: HeaderMap,
    /// `Set-Cookie` values, one per cookie.
    pub cookies: Vec<String>,
}

/// Header fields that describe the connection to the Runtime API, not the client response, and
/// are dropped from a head. Lambda would rename `content-length` to
/// `x-amzn-remapped-content-length` for a streamed response (as observed on Lambda).
pub(crate) const HOP_BY_HOP: [HeaderName; 3] = [CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING];

impl ResponseHead {
    /// A head with this status, no headers and no cookies.
    pub fn new(status: StatusCode) -> Self {
        ResponseHead {
            status,
            headers: HeaderMap::new(),
            cookies: Vec::new(),
        }
    }

    /// Takes status and headers from `http` response parts; `Set-Cookie` headers whose value is
    /// text move to `cookies`, in order.
    pub fn from_parts(parts: http::response::Parts) -> Self {
        let mut headers = parts.headers;
        let cookies = take_cookies(&mut headers);
        ResponseHead {
            status: parts.status,
            headers,
            cookies,
        }
    }

    /// Builds `http` response parts: each cookie becomes a `set-cookie` header.
    pub fn into_response<B>(self, body: B) -> http::Response<B> {
        let mut response = http::Response::new(body);
        *response.status_mut() = self.status;
        *response.headers_mut() = self.headers;
        for cookie in self.cookies {
            if let Ok(value) = http::HeaderValue::try_from(cookie) {
                response.headers_mut().append(SET_COOKIE, value);
            }
        }
        response
    }
}

fn take_cookies(headers: &mut HeaderMap) -> Vec<String> {
    let mut cookies = Vec::new();
    if let http::header::Entry::Occupied(entry) = headers.entry(SET_COOKIE) {
        for value in entry.remove_entry_mult().1 {
            cookies.push(String::from_utf8_lossy(value.as_bytes()).into_owned());
        }
    }
    cookies
}

/// Header values joined the way Function URLs carry them: one string per name, repeated values
/// joined with `", "`, `Set-Cookie` left out (it goes to `cookies`) and hop-by-hop fields dropped.
///
/// # Errors
/// The name of the first header whose value is not UTF-8 (a JSON string cannot hold it).
pub(crate) fn joined_headers(headers: &HeaderMap) -> Result<Vec<(&str, String)>, HeaderName> {
    let mut joined = Vec::with_capacity(headers.keys_len());
    for name in headers.keys() {
        if *name == SET_COOKIE || HOP_BY_HOP.contains(name) {
            continue;
        }
        let mut text = String::new();
        for (index, value) in headers.get_all(name).iter().enumerate() {
            let value = value.to_str().map_err(|_| name.clone())?;
            if index > 0 {
                text.push_str(", ");
            }
            text.push_str(value);
        }
        joined.push((name.as_str(), text));
    }
    Ok(joined)
}

/// `Set-Cookie` values found in `headers` after those already in `cookies`.
pub(crate) fn all_cookies<'a>(
    cookies: &'a [String],
    headers: &'a HeaderMap,
) -> impl Iterator<Item = String> + 'a {
    cookies.iter().cloned().chain(
        headers
            .get_all(SET_COOKIE)
            .iter()
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn joins_repeated_values_and_drops_hop_by_hop() {
        let mut headers = HeaderMap::new();
        headers.append("x-multi", HeaderValue::from_static("a"));
        headers.append("x-multi", HeaderValue::from_static("b"));
        headers.append("content-length", HeaderValue::from_static("5"));
        headers.append("set-cookie", HeaderValue::from_static("c=1"));
        let joined = joined_headers(&headers).unwrap();
        assert_eq!(joined, vec![("x-multi", "a, b".to_owned())]);
    }

    #[test]
    fn non_utf8_value_is_named() {
        let mut headers = HeaderMap::new();
        headers.insert("x-bin", HeaderValue::from_bytes(b"\xff").unwrap());
        assert_eq!(joined_headers(&headers).unwrap_err(), "x-bin");
    }

    #[test]
    fn into_response_restores_cookies() {
        let mut head = ResponseHead::new(StatusCode::IM_A_TEAPOT);
        head.cookies = vec!["a=1".into(), "b=2".into()];
        let response = head.into_response(());
        assert_eq!(response.status(), 418);
        let cookies: Vec<_> = response.headers().get_all(SET_COOKIE).iter().collect();
        assert_eq!(cookies, ["a=1", "b=2"]);
    }
}
