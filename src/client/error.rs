//! What can go wrong while a client downloads pages.

use crate::wire::FunctionError;

/// Why a download stopped before its last page ended cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A URL (given, or a page's link resolved against its page) is not an HTTP(S) URL.
    #[error("bad URL {url:?}: {reason}")]
    Url {
        /// The URL as given or as resolved.
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The request could not be made or its answer not read (connection, TLS, HTTP).
    #[error("{url}: {source}")]
    Http {
        /// The page's URL.
        url: String,
        /// The underlying error.
        source: crate::BoxError,
    },
    /// A request could not be signed (no region, no credentials in the AWS chain).
    #[error("{url}: cannot sign the request: {reason}")]
    Signing {
        /// The page's URL.
        url: String,
        /// Why.
        reason: String,
    },
    /// The server answered with another status than `200`.
    #[error("{url}: HTTP {status}{}: {body}", .error_type.as_deref().map(|t| format!(" {t}")).unwrap_or_default())]
    Status {
        /// The page's URL.
        url: String,
        /// The status.
        status: u16,
        /// AWS's error type (`x-amzn-ErrorType`: `AccessDeniedException` for a refused
        /// `AWS_IAM` request, `TooManyRequestsException`...), when the answer has one.
        error_type: Option<String>,
        /// The start of the answer's body (its error document, usually).
        body: String,
    },
    /// The function ended the page with an error trailer, after the records already handed
    /// out.
    #[error("{url}: the function failed mid-page: {} ({})", .error.message(), .error.error_type().as_str())]
    Function {
        /// The page's URL.
        url: String,
        /// The error the trailer carried.
        error: FunctionError,
    },
    /// The page was cut by its budget or deadline and had no continuation to follow (its
    /// trailer says which): the download is incomplete.
    #[error("{url}: the page was cut without a link to the next one: {} ({})", .error.message(), .error.error_type().as_str())]
    CutWithoutContinuation {
        /// The page's URL.
        url: String,
        /// The error the trailer carried (`Function.ResponseSizeTooLarge`,
        /// `Function.DeadlineExceeded`).
        error: FunctionError,
    },
    /// The page broke off before its final chunk (the connection closed or failed mid-page).
    #[error("{url}: the page was truncated before its final chunk: {cause}")]
    Truncated {
        /// The page's URL.
        url: String,
        /// What the connection reported.
        cause: String,
    },
    /// A page's bytes are not in its format (a JSON array that is not one: an object, an
    /// array that does not close, bytes after its end); the records before the fault were
    /// handed out.
    #[error("{url}: {reason}")]
    Malformed {
        /// The page's URL.
        url: String,
        /// What is wrong, and where.
        reason: String,
    },
    /// A page linked to a page already read: following it would loop.
    #[error("{url} links to {link}, which was already read")]
    LinkRepeated {
        /// The page that linked.
        url: String,
        /// The link, resolved.
        link: String,
    },
}
