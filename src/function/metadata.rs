//! The Lambda metadata endpoint, read from the function: where it answers and with which token
//! come from `AWS_LAMBDA_METADATA_API` and `AWS_LAMBDA_METADATA_TOKEN`, which Lambda (and the
//! local emulator) set; `GET /2026-01-15/metadata/execution-environment` answers the
//! environment's Availability Zone id.

use std::fmt;

use bytes::Bytes;
use http::header::{AUTHORIZATION, HOST};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Empty, Limited};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use tokio::net::TcpStream;

/// The variable that holds the metadata endpoint's address (`host:port`).
pub(crate) const METADATA_API_ENV: &str = "AWS_LAMBDA_METADATA_API";
/// The variable that holds the metadata endpoint's bearer token.
pub(crate) const METADATA_TOKEN_ENV: &str = "AWS_LAMBDA_METADATA_TOKEN";
const EXECUTION_ENVIRONMENT: &str = "/2026-01-15/metadata/execution-environment";
/// The largest answer read (AWS's is a few dozen bytes).
const MAX_ANSWER: usize = 64 * 1024;

/// Where the metadata endpoint answers, and the token it wants.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct MetadataEndpoint {
    pub(crate) authority: String,
    pub(crate) token: String,
}

impl fmt::Debug for MetadataEndpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MetadataEndpoint")
            .field("authority", &self.authority)
            .field("token", &"<redacted>")
            .finish()
    }
}

impl MetadataEndpoint {
    /// The endpoint the platform offers through the environment, if it does.
    pub(crate) fn from_env() -> Option<Self> {
        let authority = std::env::var(METADATA_API_ENV).ok()?;
        let token = std::env::var(METADATA_TOKEN_ENV).ok()?;
        Some(MetadataEndpoint { authority, token })
    }
}

/// The execution environment's metadata, as the Lambda metadata endpoint gives it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[non_exhaustive]
pub struct ExecutionEnvironment {
    /// The id of the Availability Zone the environment runs in (`use1-az1`): the same zone
    /// for every account, unlike zone names.
    #[serde(rename = "AvailabilityZoneID")]
    pub availability_zone_id: String,
}

/// Why the metadata could not be read.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// The platform offers no metadata endpoint (`AWS_LAMBDA_METADATA_API` or
    /// `AWS_LAMBDA_METADATA_TOKEN` is not set).
    #[error(
        "no Lambda metadata endpoint: AWS_LAMBDA_METADATA_API and AWS_LAMBDA_METADATA_TOKEN are not both set"
    )]
    NotOffered,
    /// The endpoint could not be reached, or broke off its answer.
    #[error("the Lambda metadata endpoint at {authority} could not be read: {reason}")]
    Unreachable {
        /// The endpoint's address.
        authority: String,
        /// What went wrong.
        reason: String,
    },
    /// The endpoint answered with an error status (`401`: the token was refused).
    #[error("the Lambda metadata endpoint answered {status}")]
    Refused {
        /// The status it answered.
        status: StatusCode,
    },
    /// The answer is not the metadata's JSON.
    #[error("the Lambda metadata endpoint's answer is not its JSON: {0}")]
    Invalid(String),
}

/// Reads the execution environment's metadata from `endpoint`.
pub(crate) async fn execution_environment(
    endpoint: Option<&MetadataEndpoint>,
) -> Result<ExecutionEnvironment, MetadataError> {
    let endpoint = endpoint.ok_or(MetadataError::NotOffered)?;
    let unreachable = |reason: String| MetadataError::Unreachable {
        authority: endpoint.authority.clone(),
        reason,
    };
    let stream = TcpStream::connect(&endpoint.authority)
        .await
        .map_err(|error| unreachable(error.to_string()))?;
    let (mut sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|error| unreachable(error.to_string()))?;
    let connection = tokio::spawn(connection);
    let request = Request::get(EXECUTION_ENVIRONMENT)
        .header(HOST, &endpoint.authority)
        .header(AUTHORIZATION, format!("Bearer {}", endpoint.token))
        .body(Empty::<Bytes>::new())
        .map_err(|error| unreachable(error.to_string()))?;
    let response = sender
        .send_request(request)
        .await
        .map_err(|error| unreachable(error.to_string()))?;
    let status = response.status();
    let body = Limited::new(response.into_body(), MAX_ANSWER)
        .collect()
        .await;
    connection.abort();
    if !status.is_success() {
        return Err(MetadataError::Refused { status });
    }
    let body = body.map_err(|error| unreachable(error.to_string()))?;
    serde_json::from_slice(&body.to_bytes())
        .map_err(|error| MetadataError::Invalid(error.to_string()))
}
