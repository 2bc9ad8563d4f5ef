//! `AuthType` of the local Function URL: `NONE`, or `AWS_IAM` with SigV4 verified against the
//! configured access keys by re-signing the request with the `aws-sigv4` crate.

use std::fmt;
use std::time::{Duration, SystemTime};

use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    PayloadChecksumKind, SignableBody, SignableRequest, SignatureLocation, SigningSettings, sign,
};
use aws_sigv4::sign::v4::SigningParams;
use http::request::Parts;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use super::sigv4::{PRESIGN_PARAMS, SigV4FieldError, SignedFields, parse_amz_date};

/// How far `x-amz-date` may be from the emulator's clock, as AWS allows.
pub(crate) const MAX_CLOCK_SKEW: Duration = Duration::from_secs(15 * 60);

/// The Function URL's `AuthType`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AuthType {
    /// Public: no signature checked (`NONE`, the default).
    #[default]
    None,
    /// Requests must be SigV4-signed (service `lambda`) by a configured key (`AWS_IAM`).
    AwsIam,
}

impl std::str::FromStr for AuthType {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        match text {
            "NONE" => Ok(AuthType::None),
            "AWS_IAM" => Ok(AuthType::AwsIam),
            other => Err(format!("unknown auth type {other:?} (NONE or AWS_IAM)")),
        }
    }
}

impl fmt::Display for AuthType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AuthType::None => "NONE",
            AuthType::AwsIam => "AWS_IAM",
        })
    }
}

/// An access key the `AWS_IAM` URL accepts, and the identity the event reports for it
/// (`requestContext.authorizer.iam`).
///
/// ```
/// use lambda_stream::emulator::IamKey;
/// let key = IamKey::new("AKIDLOCAL", "local-secret").with_account_id("111122223333");
/// assert_eq!(key.access_key_id(), "AKIDLOCAL");
/// assert!(!format!("{key:?}").contains("local-secret"));
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct IamKey {
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    account_id: String,
    user_arn: Option<String>,
}

impl fmt::Debug for IamKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IamKey")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field("account_id", &self.account_id)
            .finish_non_exhaustive()
    }
}

impl IamKey {
    /// A key of account `123456789012`, user `arn:aws:iam::<account>:user/local`.
    pub fn new(access_key_id: impl Into<String>, secret_access_key: impl Into<String>) -> Self {
        IamKey {
            access_key_id: access_key_id.into(),
            secret_access_key: secret_access_key.into(),
            session_token: None,
            account_id: "123456789012".to_owned(),
            user_arn: None,
        }
    }

    /// The key from `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY` and `AWS_SESSION_TOKEN`, the
    /// variables `awscurl` and the AWS CLI sign with; `None` when they are not set.
    pub fn from_env() -> Option<Self> {
        let id = std::env::var("AWS_ACCESS_KEY_ID").ok()?;
        let secret = std::env::var("AWS_SECRET_ACCESS_KEY").ok()?;
        let token = std::env::var("AWS_SESSION_TOKEN")
            .ok()
            .filter(|t| !t.is_empty());
        Some(IamKey::new(id, secret).with_session_token(token))
    }

    /// Keys from a JSON file: an array of `{"AccessKeyId", "SecretAccessKey", "SessionToken"?,
    /// "AccountId"?, "UserArn"?}` (the field names of `aws sts` / `aws iam create-access-key`
    /// output).
    ///
    /// # Errors
    /// A message naming the file when it cannot be read or is not such an array.
    ///
    /// ```
    /// let keys = lambda_stream::emulator::IamKey::from_json(
    ///     r#"[{"AccessKeyId":"AKID1","SecretAccessKey":"s1","AccountId":"111122223333"}]"#,
    /// )?;
    /// assert_eq!(keys[0].access_key_id(), "AKID1");
    /// # Ok::<(), String>(())
    /// ```
    pub fn from_json(text: &str) -> Result<Vec<Self>, String> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase", deny_unknown_fields)]
        struct KeyFile {
            access_key_id: String,
            secret_access_key: String,
            session_token: Option<String>,
            account_id: Option<String>,
            user_arn: Option<String>,
        }
        let keys: Vec<KeyFile> = serde_json::from_str(text)
            .map_err(|e| format!("not a JSON array of access keys: {e}"))?;
        Ok(keys
            .into_iter()
            .map(|k| {
                let mut key = IamKey::new(k.access_key_id, k.secret_access_key)
                    .with_session_token(k.session_token);
                if let Some(account_id) = k.account_id {
                    key = key.with_account_id(account_id);
                }
                if let Some(user_arn) = k.user_arn {
                    key = key.with_user_arn(user_arn);
                }
                key
            })
            .collect())
    }

    /// The session token temporary credentials sign with.
    pub fn with_session_token(mut self, token: Option<String>) -> Self {
        self.session_token = token;
        self
    }

    /// The account reported in the event.
    pub fn with_account_id(mut self, account_id: impl Into<String>) -> Self {
        self.account_id = account_id.into();
        self
    }

    /// The caller ARN reported in the event.
    pub fn with_user_arn(mut self, user_arn: impl Into<String>) -> Self {
        self.user_arn = Some(user_arn.into());
        self
    }

    /// The access key id.
    pub fn access_key_id(&self) -> &str {
        &self.access_key_id
    }

    /// `requestContext.authorizer` for a request signed with this key.
    fn authorizer(&self) -> Value {
        let user_arn = self
            .user_arn
            .clone()
            .unwrap_or_else(|| format!("arn:aws:iam::{}:user/local", self.account_id));
        json!({"iam": {
            "accessKey": self.access_key_id,
            "accountId": self.account_id,
            "callerId": self.access_key_id,
            "cognitoIdentity": null,
            "principalOrgId": null,
            "userArn": user_arn,
            "userId": self.access_key_id,
        }})
    }
}

/// Why a request was refused under `AWS_IAM` (the client sees only AWS's 403; this goes to
/// the access log).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum AuthError {
    #[error("the request is not signed")]
    Unsigned,
    #[error(transparent)]
    Fields(#[from] SigV4FieldError),
    #[error("unknown access key {0:?}")]
    UnknownKey(String),
    #[error("credential scope is for {found}, the URL is {expected}")]
    WrongScope { found: String, expected: String },
    #[error("the signature is expired or not yet valid (x-amz-date {0})")]
    Expired(String),
    #[error("x-amz-content-sha256 is not the SHA-256 of the body")]
    PayloadHash,
    #[error("the signature does not match the request")]
    Mismatch,
}

impl AuthError {
    /// How the Lambda API (the Invoke routes) reports this refusal: its `x-amzn-ErrorType`
    /// and message, as AWS answers SDK callers (all with `403`).
    pub(crate) fn api_error(&self) -> (&'static str, String) {
        const MISMATCH: &str = "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.";
        match self {
            AuthError::Unsigned => (
                "MissingAuthenticationTokenException",
                "Missing Authentication Token".to_owned(),
            ),
            AuthError::UnknownKey(_) => (
                "UnrecognizedClientException",
                "The security token included in the request is invalid.".to_owned(),
            ),
            AuthError::WrongScope { found, expected } => (
                "InvalidSignatureException",
                format!("Credential should be scoped to {expected}, not {found}."),
            ),
            AuthError::Expired(date) => (
                "InvalidSignatureException",
                format!("Signature expired: {date} is not within 15 minutes of the server time."),
            ),
            AuthError::Fields(error) => ("IncompleteSignatureException", error.to_string()),
            AuthError::PayloadHash | AuthError::Mismatch => {
                ("InvalidSignatureException", MISMATCH.to_owned())
            }
        }
    }
}

/// AWS's 403 body for a refused `AWS_IAM` request.
pub(crate) const FORBIDDEN_BODY: &str = r#"{"Message":"Forbidden. For troubleshooting Function URL authorization issues, see: https://docs.aws.amazon.com/lambda/latest/dg/urls-auth.html"}"#;

/// Checks the request's SigV4 signature; on success, `requestContext.authorizer`.
#[cfg(test)]
pub(crate) fn verify(
    keys: &[IamKey],
    region: &str,
    parts: &Parts,
    body: &[u8],
    now: SystemTime,
) -> Result<Value, AuthError> {
    let scope = Scope::lambda(region);
    check_headers(keys, scope, parts, now)?.verify_body(parts, body)
}

/// Where a signature must be scoped: the region and the service (`lambda` for a Function URL
/// and the Lambda API, `execute-api` for an API Gateway REST API).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scope<'a> {
    pub(crate) region: &'a str,
    pub(crate) service: &'static str,
}

impl<'a> Scope<'a> {
    /// A Function URL's and the Lambda API's scope.
    pub(crate) fn lambda(region: &'a str) -> Self {
        Scope {
            region,
            service: "lambda",
        }
    }

    /// An API Gateway REST API method's scope (`AuthorizationType: AWS_IAM`).
    pub(crate) fn execute_api(region: &'a str) -> Self {
        Scope {
            region,
            service: "execute-api",
        }
    }
}

/// A request whose signing fields were checked: a known key, the right scope, a valid date.
/// Only the signature over the body is left to check.
pub(crate) struct SignedRequest<'a> {
    key: &'a IamKey,
    scope: Scope<'a>,
    fields: SignedFields,
    time: SystemTime,
}

/// Everything that can be checked before the body is read, so that an unsigned request, an
/// unknown key, a wrong region or an expired date is refused without reading (or buffering)
/// its body.
pub(crate) fn check_headers<'a>(
    keys: &'a [IamKey],
    scope: Scope<'a>,
    parts: &Parts,
    now: SystemTime,
) -> Result<SignedRequest<'a>, AuthError> {
    let query = parts.uri.query().unwrap_or_default();
    let (fields, date) = match SignedFields::from_query(query)? {
        Some(fields) => {
            let date = fields.date.clone().unwrap_or_default();
            (fields, date)
        }
        None => {
            let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
            let authorization = header("authorization").ok_or(AuthError::Unsigned)?;
            let fields = SignedFields::from_authorization_header(authorization)?;
            let date = header("x-amz-date")
                .ok_or(SigV4FieldError::Missing("x-amz-date"))?
                .to_owned();
            (fields, date)
        }
    };
    let key = keys
        .iter()
        .find(|key| key.access_key_id == fields.access_key_id)
        .ok_or_else(|| AuthError::UnknownKey(fields.access_key_id.clone()))?;
    let time = parse_amz_date(&date)?;
    let expected = format!("{}/{}/{}", &date[..8], scope.region, scope.service);
    let found = format!("{}/{}/{}", fields.scope_date, fields.region, fields.service);
    if found != expected {
        return Err(AuthError::WrongScope { found, expected });
    }
    let skew = |a: SystemTime, b: SystemTime| a.duration_since(b).unwrap_or_default();
    let valid_until = time + fields.expires.unwrap_or(MAX_CLOCK_SKEW);
    if skew(time, now) > MAX_CLOCK_SKEW || now > valid_until {
        return Err(AuthError::Expired(date));
    }
    Ok(SignedRequest {
        key,
        scope,
        fields,
        time,
    })
}

impl SignedRequest<'_> {
    /// Checks the signature over the request and its body; on success,
    /// `requestContext.authorizer`.
    pub(crate) fn verify_body(&self, parts: &Parts, body: &[u8]) -> Result<Value, AuthError> {
        let SignedRequest {
            key,
            scope,
            fields,
            time,
        } = self;
        check_signature(key, *scope, parts, fields, *time, body)?;
        Ok(key.authorizer())
    }
}

/// Checks that the signature is the one `key` gives this request and body (with the payload
/// hashed as the client declared it).
fn check_signature(
    key: &IamKey,
    scope: Scope<'_>,
    parts: &Parts,
    fields: &SignedFields,
    time: SystemTime,
    body: &[u8],
) -> Result<(), AuthError> {
    let declared_hash = parts
        .headers
        .get("x-amz-content-sha256")
        .and_then(|v| v.to_str().ok());
    // The body is hashed once: here when the client declared its hash, else by the signer.
    // A presigned URL signs no payload (UNSIGNED-PAYLOAD), unless its signer hashed the body.
    let bodies = match (fields.expires, declared_hash) {
        (expires, Some(hash)) if hash != "UNSIGNED-PAYLOAD" => {
            if hash != hex::encode(Sha256::digest(body)) {
                return Err(AuthError::PayloadHash);
            }
            let hashed = SignableBody::Precomputed(hash.to_owned());
            match expires {
                Some(_) => vec![SignableBody::UnsignedPayload, hashed],
                None => vec![hashed],
            }
        }
        (Some(_), _) => vec![SignableBody::UnsignedPayload, SignableBody::Bytes(body)],
        (None, Some(_)) => vec![SignableBody::UnsignedPayload],
        (None, None) => vec![SignableBody::Bytes(body)],
    };
    let matches = bodies.iter().any(|signable_body| {
        expected_signature(key, scope, parts, fields, time, signable_body).is_ok_and(|signature| {
            constant_time_eq(signature.as_bytes(), fields.signature.as_bytes())
        })
    });
    if matches {
        Ok(())
    } else {
        Err(AuthError::Mismatch)
    }
}

/// The signature `key` gives this request over exactly the headers the client signed.
fn expected_signature(
    key: &IamKey,
    scope: Scope<'_>,
    parts: &Parts,
    fields: &SignedFields,
    time: SystemTime,
    body: &SignableBody<'_>,
) -> Result<String, AuthError> {
    let mut settings = SigningSettings::default();
    // Sign exactly the headers listed: nothing excluded, nothing added but host and date.
    settings.excluded_headers = Some(Vec::new());
    settings.payload_checksum_kind = PayloadChecksumKind::NoHeader;
    if let Some(expires) = fields.expires {
        settings.signature_location = SignatureLocation::QueryParams;
        settings.expires_in = Some(expires);
    }
    let identity = Credentials::new(
        &key.access_key_id,
        &key.secret_access_key,
        key.session_token.clone(),
        None,
        "lambda-stream emulator",
    )
    .into();
    let params = SigningParams::builder()
        .identity(&identity)
        .region(scope.region)
        .name(scope.service)
        .time(time)
        .settings(settings)
        .build()
        .map_err(|_| AuthError::Mismatch)?
        .into();

    let headers: Vec<(&str, &str)> = fields
        .signed_headers
        .iter()
        .flat_map(|name| {
            parts
                .headers
                .get_all(name.as_str())
                .iter()
                .filter_map(move |value| Some((name.as_str(), value.to_str().ok()?)))
        })
        .collect();
    let host = parts
        .headers
        .get(http::header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("localhost");
    let uri = format!("http://{host}{}", unsigned_path_and_query(&parts.uri));
    let request = SignableRequest::new(
        parts.method.as_str(),
        uri,
        headers.into_iter(),
        body.clone(),
    )
    .map_err(|_| AuthError::Mismatch)?;
    let output = sign(request, &params).map_err(|_| AuthError::Mismatch)?;
    Ok(output.signature().to_owned())
}

/// The path and the query without presigning parameters, as they were signed.
fn unsigned_path_and_query(uri: &http::Uri) -> String {
    let path = uri.path();
    let Some(query) = uri.query() else {
        return path.to_owned();
    };
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| {
            let name = pair.split('=').next().unwrap_or_default();
            !PRESIGN_PARAMS.contains(&name)
        })
        .collect();
    if kept.is_empty() {
        path.to_owned()
    } else {
        format!("{path}?{}", kept.join("&"))
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Parts of a request signed with `x-amz-content-sha256` (as S3-style signers send it).
    fn signed_with_payload_hash(body: &[u8], now: SystemTime) -> Parts {
        let mut settings = SigningSettings::default();
        settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
        let identity = Credentials::new("AKID", "secret", None, None, "test").into();
        let params = SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name("lambda")
            .time(now)
            .settings(settings)
            .build()
            .unwrap()
            .into();
        let headers = [("host", "localhost:9000")];
        let signable = SignableRequest::new(
            "POST",
            "http://localhost:9000/x",
            headers.into_iter(),
            SignableBody::Bytes(body),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let mut request = http::Request::post("/x")
            .header("host", "localhost:9000")
            .body(())
            .unwrap();
        instructions.apply_to_request_http1x(&mut request);
        request.into_parts().0
    }

    #[test]
    fn the_declared_payload_hash_must_be_the_bodys() {
        let now = SystemTime::now();
        let keys = [IamKey::new("AKID", "secret")];
        let parts = signed_with_payload_hash(b"body", now);
        assert!(parts.headers.contains_key("x-amz-content-sha256"));
        let authorizer = verify(&keys, "us-east-1", &parts, b"body", now).unwrap();
        assert_eq!(authorizer["iam"]["accessKey"], "AKID");
        assert_eq!(
            verify(&keys, "us-east-1", &parts, b"other", now),
            Err(AuthError::PayloadHash)
        );
        // Fifteen minutes of skew are allowed either way, not more.
        let later = now + MAX_CLOCK_SKEW - Duration::from_secs(5);
        assert!(verify(&keys, "us-east-1", &parts, b"body", later).is_ok());
        let too_late = now + MAX_CLOCK_SKEW + Duration::from_secs(5);
        assert!(matches!(
            verify(&keys, "us-east-1", &parts, b"body", too_late),
            Err(AuthError::Expired(_))
        ));
        let too_early = now - MAX_CLOCK_SKEW - Duration::from_secs(5);
        assert!(matches!(
            verify(&keys, "us-east-1", &parts, b"body", too_early),
            Err(AuthError::Expired(_))
        ));
    }
}
