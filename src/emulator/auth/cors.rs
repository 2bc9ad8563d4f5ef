//! The Function URL's CORS configuration: preflights answered by the URL itself, configured
//! headers on every response, overriding the function's.

use http::header::{
    ACCESS_CONTROL_ALLOW_CREDENTIALS, ACCESS_CONTROL_ALLOW_HEADERS, ACCESS_CONTROL_ALLOW_METHODS,
    ACCESS_CONTROL_ALLOW_ORIGIN, ACCESS_CONTROL_EXPOSE_HEADERS, ACCESS_CONTROL_MAX_AGE,
    ACCESS_CONTROL_REQUEST_METHOD, ORIGIN, VARY,
};
use http::{HeaderMap, HeaderValue, Method};
use serde::Deserialize;

/// AWS's upper bound for `MaxAge`, in seconds.
pub(crate) const MAX_CORS_AGE: u32 = 86_400;

/// The six CORS fields of a Function URL, as `aws lambda create-function-url-config --cors`
/// takes them (the JSON uses the same PascalCase names).
///
/// ```
/// use lambda_stream::emulator::Cors;
/// let cors: Cors = serde_json::from_str(
///     r#"{"AllowOrigins":["https://app.example"],"AllowMethods":["GET","POST"],"MaxAge":600}"#,
/// )?;
/// assert_eq!(cors.allow_origins, ["https://app.example"]);
/// # Ok::<(), serde_json::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "PascalCase", deny_unknown_fields)]
#[non_exhaustive]
pub struct Cors {
    /// `Access-Control-Allow-Credentials: true` when set.
    #[serde(default)]
    pub allow_credentials: bool,
    /// Headers a browser may send (`Access-Control-Allow-Headers`).
    #[serde(default)]
    pub allow_headers: Vec<String>,
    /// Methods a browser may use (`Access-Control-Allow-Methods`; `*` for any).
    #[serde(default)]
    pub allow_methods: Vec<String>,
    /// Origins allowed (`*` for any).
    #[serde(default)]
    pub allow_origins: Vec<String>,
    /// Response headers a browser may read (`Access-Control-Expose-Headers`).
    #[serde(default)]
    pub expose_headers: Vec<String>,
    /// How long a preflight may be cached, 0..=86400 seconds.
    #[serde(default)]
    pub max_age: Option<u32>,
}

/// A CORS configuration AWS would refuse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CorsError {
    /// `MaxAge` over 86400.
    #[error("CORS MaxAge {0} is over {MAX_CORS_AGE} seconds")]
    MaxAge(u32),
    /// A value that cannot be an HTTP header value.
    #[error("CORS value {0:?} cannot be sent in a header")]
    InvalidValue(String),
}

impl Cors {
    /// Checks what AWS checks: `MaxAge` in range and values that fit in headers.
    ///
    /// # Errors
    /// [`CorsError`] naming the first bad field.
    pub fn validate(&self) -> Result<(), CorsError> {
        if let Some(age) = self.max_age.filter(|age| *age > MAX_CORS_AGE) {
            return Err(CorsError::MaxAge(age));
        }
        let lists = [
            &self.allow_headers,
            &self.allow_methods,
            &self.allow_origins,
            &self.expose_headers,
        ];
        match lists
            .into_iter()
            .flatten()
            .find(|value| HeaderValue::from_str(value).is_err())
        {
            Some(bad) => Err(CorsError::InvalidValue(bad.clone())),
            None => Ok(()),
        }
    }

    /// A warning for a configuration AWS accepts but that trusts every site: `AllowOrigins`
    /// `*` with `AllowCredentials`. AWS then echoes any `Origin` (`null` included) with
    /// `Access-Control-Allow-Credentials: true`, as reported from live Function URLs, and so
    /// does the emulator; the warning says what that means.
    pub fn warning(&self) -> Option<String> {
        let any = self.allow_origins.iter().any(|o| o == "*");
        (any && self.allow_credentials).then(|| {
            "CORS AllowOrigins [\"*\"] with AllowCredentials: as on AWS, every Origin (null included) is echoed with Access-Control-Allow-Credentials: true, so any site can read credentialed responses; list your origins instead".to_owned()
        })
    }

    /// Whether this request is a preflight the URL answers itself.
    pub(crate) fn is_preflight(method: &Method, headers: &HeaderMap) -> bool {
        method == Method::OPTIONS
            && headers.contains_key(ORIGIN)
            && headers.contains_key(ACCESS_CONTROL_REQUEST_METHOD)
    }

    /// The `Access-Control-Allow-Origin` value for a request from `origin`, if allowed.
    fn allowed_origin(&self, origin: Option<&HeaderValue>) -> Option<HeaderValue> {
        let any = self.allow_origins.iter().any(|o| o == "*");
        match origin {
            // Credentials cannot be combined with `*`: the origin is echoed instead.
            Some(origin) if any && self.allow_credentials => Some(origin.clone()),
            _ if any => Some(HeaderValue::from_static("*")),
            Some(origin) => {
                let text = origin.to_str().ok()?;
                self.allow_origins
                    .iter()
                    .any(|allowed| allowed.eq_ignore_ascii_case(text))
                    .then(|| origin.clone())
            }
            None => None,
        }
    }

    /// Replaces the function's CORS headers with the configured ones.
    pub(crate) fn apply(
        &self,
        origin: Option<&HeaderValue>,
        preflight: bool,
        headers: &mut HeaderMap,
    ) {
        let names = [
            ACCESS_CONTROL_ALLOW_CREDENTIALS,
            ACCESS_CONTROL_ALLOW_HEADERS,
            ACCESS_CONTROL_ALLOW_METHODS,
            ACCESS_CONTROL_ALLOW_ORIGIN,
            ACCESS_CONTROL_EXPOSE_HEADERS,
            ACCESS_CONTROL_MAX_AGE,
        ];
        for name in &names {
            headers.remove(name);
        }
        let Some(allowed) = self.allowed_origin(origin) else {
            return;
        };
        if allowed != "*" {
            headers.append(VARY, HeaderValue::from_static("Origin"));
        }
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, allowed);
        if self.allow_credentials {
            headers.insert(
                ACCESS_CONTROL_ALLOW_CREDENTIALS,
                HeaderValue::from_static("true"),
            );
        }
        let mut list = |name, values: &[String]| {
            if values.is_empty() {
                return;
            }
            if let Ok(value) = HeaderValue::from_str(&values.join(",")) {
                headers.insert(name, value);
            }
        };
        if preflight {
            list(ACCESS_CONTROL_ALLOW_METHODS, &self.allow_methods);
            list(ACCESS_CONTROL_ALLOW_HEADERS, &self.allow_headers);
            if let Some(age) = self.max_age {
                headers.insert(ACCESS_CONTROL_MAX_AGE, HeaderValue::from(age));
            }
        } else {
            list(ACCESS_CONTROL_EXPOSE_HEADERS, &self.expose_headers);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cors() -> Cors {
        Cors {
            allow_credentials: true,
            allow_headers: vec!["content-type".into(), "x-trace".into()],
            allow_methods: vec!["GET".into(), "POST".into()],
            allow_origins: vec!["https://app.example".into()],
            expose_headers: vec!["x-cursor".into()],
            max_age: Some(600),
        }
    }

    fn applied(cors: &Cors, origin: Option<&str>, preflight: bool) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(ACCESS_CONTROL_ALLOW_ORIGIN, HeaderValue::from_static("*"));
        let origin = origin.map(|o| HeaderValue::from_str(o).unwrap());
        cors.apply(origin.as_ref(), preflight, &mut headers);
        headers
    }

    #[test]
    fn preflight_and_simple_headers_follow_the_configuration() {
        let preflight = applied(&cors(), Some("https://app.example"), true);
        assert_eq!(
            preflight[ACCESS_CONTROL_ALLOW_ORIGIN],
            "https://app.example"
        );
        assert_eq!(preflight[ACCESS_CONTROL_ALLOW_METHODS], "GET,POST");
        assert_eq!(
            preflight[ACCESS_CONTROL_ALLOW_HEADERS],
            "content-type,x-trace"
        );
        assert_eq!(preflight[ACCESS_CONTROL_MAX_AGE], "600");
        assert_eq!(preflight[ACCESS_CONTROL_ALLOW_CREDENTIALS], "true");
        assert_eq!(preflight[VARY], "Origin");
        assert!(!preflight.contains_key(ACCESS_CONTROL_EXPOSE_HEADERS));

        let simple = applied(&cors(), Some("https://app.example"), false);
        assert_eq!(simple[ACCESS_CONTROL_EXPOSE_HEADERS], "x-cursor");
        assert!(!simple.contains_key(ACCESS_CONTROL_ALLOW_METHODS));

        // Another origin gets no CORS headers at all: the function's `*` is removed too.
        assert!(applied(&cors(), Some("https://evil.example"), false).is_empty());
        assert!(applied(&cors(), None, false).is_empty());
    }

    #[test]
    fn any_origin() {
        let mut any = cors();
        any.allow_origins = vec!["*".into()];
        any.allow_credentials = false;
        assert_eq!(applied(&any, None, false)[ACCESS_CONTROL_ALLOW_ORIGIN], "*");
        any.allow_credentials = true;
        let echoed = applied(&any, Some("https://x.example"), false);
        assert_eq!(echoed[ACCESS_CONTROL_ALLOW_ORIGIN], "https://x.example");
    }

    #[test]
    fn validation_matches_aws() {
        let mut bad = cors();
        bad.max_age = Some(86_401);
        assert_eq!(bad.validate(), Err(CorsError::MaxAge(86_401)));
        let mut bad = cors();
        bad.expose_headers = vec!["line\nbreak".into()];
        assert!(matches!(bad.validate(), Err(CorsError::InvalidValue(_))));
        assert_eq!(cors().validate(), Ok(()));
        assert!(serde_json::from_str::<Cors>(r#"{"AllowOrigin":["*"]}"#).is_err());
    }

    #[test]
    fn any_origin_with_credentials_is_warned_about() {
        let risky: Cors =
            serde_json::from_str(r#"{"AllowOrigins":["*"],"AllowCredentials":true}"#).unwrap();
        let warning = risky.warning().unwrap();
        assert!(
            warning.contains("every Origin (null included)"),
            "{warning}"
        );
        let listed: Cors = serde_json::from_str(
            r#"{"AllowOrigins":["https://app.example"],"AllowCredentials":true}"#,
        )
        .unwrap();
        assert_eq!(listed.warning(), None);
        let public: Cors = serde_json::from_str(r#"{"AllowOrigins":["*"]}"#).unwrap();
        assert_eq!(public.warning(), None);
    }
}
