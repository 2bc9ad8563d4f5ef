//! The names every handler uses for what it receives and may fail with, and the query-string
//! helper (the response it returns, [`Response`](crate::Response), is defined beside its
//! [`Body`](crate::Body)).

use std::borrow::Cow;

/// A boxed error, what handlers and body streams may fail with.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The request a handler receives: a Function URL request with its body read.
pub type Request = http::Request<bytes::Bytes>;

/// What handlers read from a request beyond `http`'s accessors: its query string, decoded.
///
/// ```
/// use lambda_stream::{Request, RequestExt};
///
/// let request: Request = http::Request::get("/export?after=120&status=paid%20late&x")
///     .body(bytes::Bytes::new())
///     .unwrap();
/// assert_eq!(request.query_param("status").as_deref(), Some("paid late"));
/// let after: i64 = request.query_param("after").map_or(Ok(0), |v| v.parse()).unwrap();
/// assert_eq!(after, 120);
/// assert_eq!(request.query_param("missing"), None);
/// assert_eq!(request.query_params().count(), 3);
/// ```
pub trait RequestExt {
    /// The first value of the query parameter `name`, percent-decoded (`+` as a space, as
    /// forms send it); `None` when the query does not name it. A parameter without `=` has
    /// the empty value.
    fn query_param(&self, name: &str) -> Option<Cow<'_, str>>;

    /// Every query parameter in order, names and values percent-decoded; a name may repeat.
    fn query_params(&self) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)>;
}

impl<B> RequestExt for http::Request<B> {
    fn query_param(&self, name: &str) -> Option<Cow<'_, str>> {
        self.query_params()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value)
    }

    fn query_params(&self) -> impl Iterator<Item = (Cow<'_, str>, Cow<'_, str>)> {
        let query = self.uri().query().unwrap_or_default();
        form_urlencoded::parse(query.as_bytes())
    }
}
