//! What answers on the URL's port: a Function URL (the default), or an API Gateway REST API
//! with a Lambda proxy integration in `responseTransferMode: STREAM` (or `BUFFERED`, as the
//! invoke mode says) in front of the function.
//!
//! The REST API's limits are AWS's ("Stream the integration response for your proxy
//! integrations in API Gateway", API Gateway developer guide): a stream lasts at most 15
//! minutes; it is closed after 5 minutes without data on a regional or private endpoint, 30
//! seconds on an edge-optimized one; the first 10 MB go uncapped, then at most 2 MB/s; the
//! gateway does not apply content encoding (compress in the function); the metadata and its
//! delimiter must come within the first 16 KB.

use std::fmt;
use std::str::FromStr;
use std::time::Duration;

use crate::stream::BandwidthModel;

/// The front serving requests.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Front {
    /// A Lambda Function URL (payload 2.0 events).
    #[default]
    FunctionUrl,
    /// An API Gateway REST API proxying every path to the function (payload 1.0 events).
    RestApi(EndpointType),
}

/// A REST API's endpoint type, which sets its streams' idle timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum EndpointType {
    /// Regional: streams idle 5 minutes are closed.
    #[default]
    Regional,
    /// Edge-optimized (behind CloudFront): streams idle 30 seconds are closed.
    Edge,
    /// Private (in a VPC): streams idle 5 minutes are closed.
    Private,
}

/// A REST API stream's longest life: 15 minutes.
pub(crate) const REST_API_MAX_STREAM: Duration = Duration::from_secs(15 * 60);

/// A REST API's pacing of a stream: the first 10 MB uncapped, then 2 MB/s (MiB, as Lambda's
/// own figures are). Lambda's own model (6 MiB, then 2 MiB/s) applies before it on the way from
/// the function, so a paced local run follows both.
pub(crate) const REST_API_BANDWIDTH: BandwidthModel = BandwidthModel {
    burst_bytes: 10 * 1024 * 1024,
    bytes_per_second: 2 * 1024 * 1024,
};

impl EndpointType {
    /// How long a stream may go without data before the gateway closes it.
    pub fn idle_timeout(self) -> Duration {
        match self {
            EndpointType::Regional | EndpointType::Private => Duration::from_secs(5 * 60),
            EndpointType::Edge => Duration::from_secs(30),
        }
    }
}

/// A front name that is not one of `function-url`, `rest-api`, `rest-api-edge`,
/// `rest-api-private`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "unknown front {0:?}: use function-url, rest-api (regional), rest-api-edge or rest-api-private"
)]
pub struct UnknownFront(pub String);

impl FromStr for Front {
    type Err = UnknownFront;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        match text.to_ascii_lowercase().as_str() {
            "function-url" | "url" => Ok(Front::FunctionUrl),
            "rest-api" | "rest-api-regional" => Ok(Front::RestApi(EndpointType::Regional)),
            "rest-api-edge" => Ok(Front::RestApi(EndpointType::Edge)),
            "rest-api-private" => Ok(Front::RestApi(EndpointType::Private)),
            _ => Err(UnknownFront(text.to_owned())),
        }
    }
}

impl fmt::Display for Front {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Front::FunctionUrl => "Function URL",
            Front::RestApi(EndpointType::Regional) => "REST API (regional)",
            Front::RestApi(EndpointType::Edge) => "REST API (edge-optimized)",
            Front::RestApi(EndpointType::Private) => "REST API (private)",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_idle_timeouts() {
        assert_eq!(
            "rest-api".parse(),
            Ok(Front::RestApi(EndpointType::Regional))
        );
        assert_eq!(
            "REST-API-EDGE".parse(),
            Ok(Front::RestApi(EndpointType::Edge))
        );
        assert_eq!("function-url".parse(), Ok(Front::FunctionUrl));
        assert!("graphql".parse::<Front>().is_err());
        assert_eq!(EndpointType::Edge.idle_timeout(), Duration::from_secs(30));
        assert_eq!(
            EndpointType::Private.idle_timeout(),
            Duration::from_secs(300)
        );
    }
}
