//! The Runtime API protocol (version `2018-06-01`), sans-IO: its routes, the invocation
//! headers of `/next`, and the validated request id that names an invocation in a path. The
//! function's client, the emulator's Runtime API and the test kit's server all speak it
//! through these types.

use std::fmt;

use http::{HeaderMap, HeaderValue, Method};

/// The API version every route starts with.
pub(crate) const RUNTIME_API_VERSION: &str = "2018-06-01";
/// `/next` header: the invocation's request id.
pub(crate) const REQUEST_ID_HEADER: &str = "lambda-runtime-aws-request-id";
/// `/next` header: the deadline in Unix epoch milliseconds.
pub(crate) const DEADLINE_HEADER: &str = "lambda-runtime-deadline-ms";
/// `/next` header: the ARN the caller invoked.
pub(crate) const FUNCTION_ARN_HEADER: &str = "lambda-runtime-invoked-function-arn";
/// `/next` header: the X-Ray trace header (`_X_AMZN_TRACE_ID`).
pub(crate) const TRACE_ID_HEADER: &str = "lambda-runtime-trace-id";
/// `/next` header: the client context (JSON text) of a mobile SDK caller.
pub(crate) const CLIENT_CONTEXT_HEADER: &str = "lambda-runtime-client-context";
/// `/next` header: the Cognito identity (JSON text) of a mobile SDK caller.
pub(crate) const COGNITO_IDENTITY_HEADER: &str = "lambda-runtime-cognito-identity";
/// `/next` header: the tenant id of a tenant-isolated function.
pub(crate) const TENANT_ID_HEADER: &str = "lambda-runtime-aws-tenant-id";
/// `/response` header that marks a streamed response (`streaming`).
pub(crate) const RESPONSE_MODE_HEADER: &str = "lambda-runtime-function-response-mode";

/// Longest request id accepted: AWS's are 36-character UUIDs; this leaves room for other
/// emulators' ids while keeping paths and logs bounded.
pub(crate) const MAX_REQUEST_ID_LEN: usize = 256;

/// An invocation's request id, safe to put in a path: 1 to 256 characters from
/// `A-Z a-z 0-9 - _ .`, and not `.` or `..`.
///
/// ```
/// use lambda_stream::wire::RequestId;
/// assert!(RequestId::new("8476a536-e9f4-11e8-9739-2dfe598c3fcd").is_ok());
/// assert!(RequestId::new("a b").is_err());
/// assert!(RequestId::new("../../x").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct RequestId(String);

/// A request id that cannot name an invocation in a path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid request id {0:?}: expected 1 to 256 characters from A-Z a-z 0-9 - _ .")]
pub struct InvalidRequestId(pub String);

impl RequestId {
    /// Validates `id`.
    ///
    /// # Errors
    /// [`InvalidRequestId`] for an empty, too long or path-changing id.
    pub fn new(id: impl Into<String>) -> Result<Self, InvalidRequestId> {
        let id = id.into();
        let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
        let valid = !id.is_empty()
            && id.len() <= MAX_REQUEST_ID_LEN
            && id.chars().all(allowed)
            && id != "."
            && id != "..";
        if valid {
            Ok(RequestId(id))
        } else {
            Err(InvalidRequestId(id))
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A Runtime API route.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuntimeRoute {
    /// `GET /runtime/invocation/next`.
    Next,
    /// `POST /runtime/invocation/{id}/response`.
    Response(RequestId),
    /// `POST /runtime/invocation/{id}/error`.
    Error(RequestId),
    /// `POST /runtime/init/error`.
    InitError,
}

/// A method and path that are not a Runtime API route.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("no Runtime API route {method} {path}")]
pub struct UnknownRoute {
    /// The request's method.
    pub method: String,
    /// The request's path.
    pub path: String,
}

impl RuntimeRoute {
    /// The route's method.
    pub fn method(&self) -> Method {
        match self {
            RuntimeRoute::Next => Method::GET,
            _ => Method::POST,
        }
    }

    /// The route's path, `/2018-06-01/...`.
    ///
    /// ```
    /// use lambda_stream::wire::{RequestId, RuntimeRoute};
    /// let route = RuntimeRoute::Response(RequestId::new("abc")?);
    /// assert_eq!(route.path(), "/2018-06-01/runtime/invocation/abc/response");
    /// # Ok::<(), lambda_stream::wire::InvalidRequestId>(())
    /// ```
    pub fn path(&self) -> String {
        let route = match self {
            RuntimeRoute::Next => "/runtime/invocation/next".to_owned(),
            RuntimeRoute::Response(id) => format!("/runtime/invocation/{id}/response"),
            RuntimeRoute::Error(id) => format!("/runtime/invocation/{id}/error"),
            RuntimeRoute::InitError => "/runtime/init/error".to_owned(),
        };
        format!("/{RUNTIME_API_VERSION}{route}")
    }

    /// Parses a request's method and path; any prefix before `/2018-06-01` is ignored (as
    /// `cargo lambda watch` serves the API under `/.rt/<fn>`).
    ///
    /// # Errors
    /// [`UnknownRoute`] for anything else, an invalid request id included.
    pub fn parse(method: &Method, path: &str) -> Result<Self, UnknownRoute> {
        let unknown = || UnknownRoute {
            method: method.to_string(),
            path: path.to_owned(),
        };
        let version = format!("/{RUNTIME_API_VERSION}");
        let (_, route) = path.split_once(&version).ok_or_else(unknown)?;
        match (method.as_str(), route) {
            ("GET", "/runtime/invocation/next") => return Ok(RuntimeRoute::Next),
            ("POST", "/runtime/init/error") => return Ok(RuntimeRoute::InitError),
            ("POST", _) => {}
            _ => return Err(unknown()),
        }
        let rest = route
            .strip_prefix("/runtime/invocation/")
            .ok_or_else(unknown)?;
        let (id, action) = rest.split_once('/').ok_or_else(unknown)?;
        let id = RequestId::new(id).map_err(|_| unknown())?;
        match action {
            "response" => Ok(RuntimeRoute::Response(id)),
            "error" => Ok(RuntimeRoute::Error(id)),
            _ => Err(unknown()),
        }
    }
}

/// The headers `/next` carries with an event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvocationHeaders {
    /// `Lambda-Runtime-Aws-Request-Id`.
    pub request_id: RequestId,
    /// `Lambda-Runtime-Deadline-Ms`, when present and a number.
    pub deadline_ms: Option<u64>,
    /// `Lambda-Runtime-Invoked-Function-Arn`.
    pub invoked_function_arn: Option<String>,
    /// `Lambda-Runtime-Trace-Id`.
    pub trace_id: Option<String>,
    /// `Lambda-Runtime-Client-Context`.
    pub client_context: Option<String>,
    /// `Lambda-Runtime-Cognito-Identity`.
    pub cognito_identity: Option<String>,
    /// `Lambda-Runtime-Aws-Tenant-Id`.
    pub tenant_id: Option<String>,
}

/// `/next` headers that do not describe an invocation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvocationHeadersError {
    /// No `Lambda-Runtime-Aws-Request-Id`.
    #[error("the Runtime API sent an invocation without Lambda-Runtime-Aws-Request-Id")]
    MissingRequestId,
    /// A request id that cannot be put in a path.
    #[error(transparent)]
    InvalidRequestId(#[from] InvalidRequestId),
}

impl InvocationHeaders {
    /// Headers of an invocation with this id and nothing else.
    pub fn new(request_id: RequestId) -> Self {
        InvocationHeaders {
            request_id,
            deadline_ms: None,
            invoked_function_arn: None,
            trace_id: None,
            client_context: None,
            cognito_identity: None,
            tenant_id: None,
        }
    }

    /// Reads them from a `/next` response; empty values count as absent.
    ///
    /// # Errors
    /// [`InvocationHeadersError`] when the request id is missing or invalid.
    pub fn from_headers(headers: &HeaderMap) -> Result<Self, InvocationHeadersError> {
        let text = |name: &str| {
            let value = headers.get(name)?.to_str().ok()?;
            (!value.is_empty()).then(|| value.to_owned())
        };
        let id = text(REQUEST_ID_HEADER).ok_or(InvocationHeadersError::MissingRequestId)?;
        Ok(InvocationHeaders {
            request_id: RequestId::new(id)?,
            deadline_ms: text(DEADLINE_HEADER).and_then(|ms| ms.trim().parse().ok()),
            invoked_function_arn: text(FUNCTION_ARN_HEADER),
            trace_id: text(TRACE_ID_HEADER),
            client_context: text(CLIENT_CONTEXT_HEADER),
            cognito_identity: text(COGNITO_IDENTITY_HEADER),
            tenant_id: text(TENANT_ID_HEADER),
        })
    }

    /// Writes them into a `/next` response (values that are not valid header text are left
    /// out).
    pub fn write_to(&self, headers: &mut HeaderMap) {
        let deadline = self.deadline_ms.map(|ms| ms.to_string());
        let fields = [
            (REQUEST_ID_HEADER, Some(self.request_id.as_str())),
            (DEADLINE_HEADER, deadline.as_deref()),
            (FUNCTION_ARN_HEADER, self.invoked_function_arn.as_deref()),
            (TRACE_ID_HEADER, self.trace_id.as_deref()),
            (CLIENT_CONTEXT_HEADER, self.client_context.as_deref()),
            (COGNITO_IDENTITY_HEADER, self.cognito_identity.as_deref()),
            (TENANT_ID_HEADER, self.tenant_id.as_deref()),
        ];
        for (name, value) in fields {
            if let Some(value) = value.and_then(|v| HeaderValue::from_str(v).ok()) {
                headers.insert(name, value);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn request_ids_that_would_change_the_path_are_refused() {
        for bad in ["", "a b", "../../x", "a/b", ".", "..", "a?b", "a%2F", "é"] {
            assert!(RequestId::new(bad).is_err(), "{bad:?}");
        }
        assert!(RequestId::new("x".repeat(MAX_REQUEST_ID_LEN + 1)).is_err());
        for good in [
            "8476a536-e9f4-11e8-9739-2dfe598c3fcd",
            "req-1",
            "a.b_c",
            "...",
        ] {
            assert!(RequestId::new(good).is_ok(), "{good:?}");
        }
    }

    #[test]
    fn routes_parse_with_and_without_a_prefix() {
        let get = Method::GET;
        let post = Method::POST;
        let next = "/2018-06-01/runtime/invocation/next";
        assert_eq!(RuntimeRoute::parse(&get, next), Ok(RuntimeRoute::Next));
        let prefixed = "/.rt/f/2018-06-01/runtime/invocation/next";
        assert_eq!(RuntimeRoute::parse(&get, prefixed), Ok(RuntimeRoute::Next));
        assert!(RuntimeRoute::parse(&post, next).is_err());
        let bad_id = "/2018-06-01/runtime/invocation/a%20b/response";
        assert!(RuntimeRoute::parse(&post, bad_id).is_err());
        let other = "/2018-06-01/runtime/invocation/abc/other";
        assert!(RuntimeRoute::parse(&post, other).is_err());
        assert!(RuntimeRoute::parse(&get, "/next").is_err());
    }

    #[test]
    fn a_missing_or_bad_request_id_is_a_typed_error() {
        let mut headers = HeaderMap::new();
        assert_eq!(
            InvocationHeaders::from_headers(&headers),
            Err(InvocationHeadersError::MissingRequestId)
        );
        headers.insert(REQUEST_ID_HEADER, HeaderValue::from_static("../x"));
        assert!(matches!(
            InvocationHeaders::from_headers(&headers),
            Err(InvocationHeadersError::InvalidRequestId(_))
        ));
    }

    fn arb_id() -> impl Strategy<Value = RequestId> {
        "[A-Za-z0-9_-][A-Za-z0-9._-]{0,40}".prop_map(|id| RequestId::new(id).unwrap())
    }

    fn arb_route() -> impl Strategy<Value = RuntimeRoute> {
        prop_oneof![
            Just(RuntimeRoute::Next),
            Just(RuntimeRoute::InitError),
            arb_id().prop_map(RuntimeRoute::Response),
            arb_id().prop_map(RuntimeRoute::Error),
        ]
    }

    proptest! {
        #[test]
        fn routes_round_trip(route in arb_route()) {
            prop_assert_eq!(RuntimeRoute::parse(&route.method(), &route.path()), Ok(route));
        }

        #[test]
        fn invocation_headers_round_trip(
            id in arb_id(),
            deadline_ms in proptest::option::of(any::<u64>()),
            text in proptest::collection::vec(proptest::option::of("[ -~]{1,30}"), 5),
        ) {
            let trimmed = |t: &Option<String>| t.as_ref().map(|t| t.trim().to_owned()).filter(|t| !t.is_empty());
            let headers = InvocationHeaders {
                request_id: id,
                deadline_ms,
                invoked_function_arn: trimmed(&text[0]),
                trace_id: trimmed(&text[1]),
                client_context: trimmed(&text[2]),
                cognito_identity: trimmed(&text[3]),
                tenant_id: trimmed(&text[4]),
            };
            let mut map = HeaderMap::new();
            headers.write_to(&mut map);
            prop_assert_eq!(InvocationHeaders::from_headers(&map), Ok(headers));
        }

        #[test]
        fn route_parsing_never_panics(path in "[ -~]{0,80}") {
            let _ = RuntimeRoute::parse(&Method::POST, &path);
            let _ = RuntimeRoute::parse(&Method::GET, &path);
        }
    }
}
