//! SigV4 for Function URLs with `AuthType: AWS_IAM` (service `lambda`): every page's request
//! signed with credentials from the standard AWS chain (environment, shared profile, SSO,
//! container and instance roles), through `aws-config`.

use std::time::SystemTime;

use aws_credential_types::Credentials;
use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4::SigningParams;
use bytes::Bytes;
use http_body_util::Empty;
use tokio::sync::OnceCell;

use super::Error;

/// Signs requests; the credential chain is loaded at the first request.
#[derive(Debug, Default)]
pub(crate) struct Signer {
    /// The region asked for, else the Function URL's, else the chain's.
    region: Option<String>,
    chain: OnceCell<(Option<SharedCredentialsProvider>, Option<String>)>,
}

impl Signer {
    pub(crate) fn new(region: Option<String>) -> Signer {
        Signer {
            region,
            chain: OnceCell::new(),
        }
    }

    /// Signs `request` (headers only: the body is empty).
    pub(crate) async fn sign(
        &self,
        request: &mut http::Request<Empty<Bytes>>,
    ) -> Result<(), Error> {
        let url = request.uri().to_string();
        let failed = |reason: String| Error::Signing {
            url: url.clone(),
            reason,
        };
        let (credentials, region) = self
            .credentials_and_region(request.uri())
            .await
            .map_err(failed)?;
        let identity = credentials.into();
        let params = SigningParams::builder()
            .identity(&identity)
            .region(&region)
            .name("lambda")
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| failed(e.to_string()))?
            .into();
        let host = host_with_port(request.uri());
        let headers: Vec<(&str, &str)> = request
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)))
            .chain([("host", host.as_str())])
            .collect();
        let signable = SignableRequest::new(
            request.method().as_str(),
            url.clone(),
            headers.into_iter(),
            SignableBody::Bytes(&[]),
        )
        .map_err(|e| failed(e.to_string()))?;
        let (instructions, _) = sign(signable, &params)
            .map_err(|e| failed(e.to_string()))?
            .into_parts();
        instructions.apply_to_request_http1x(request);
        Ok(())
    }

    /// The credentials to sign with, and the region: the one asked for, else the Function
    /// URL's, else the chain's. The chain is loaded once, at the first request.
    async fn credentials_and_region(
        &self,
        uri: &http::Uri,
    ) -> Result<(Credentials, String), String> {
        let (provider, chain_region) = self
            .chain
            .get_or_init(|| async {
                let config = aws_config::defaults(aws_config::BehaviorVersion::latest())
                    .load()
                    .await;
                let region = config.region().map(ToString::to_string);
                (config.credentials_provider(), region)
            })
            .await;
        let region = self
            .region
            .clone()
            .or_else(|| function_url_region(uri.host().unwrap_or_default()))
            .or_else(|| chain_region.clone())
            .ok_or("no region: give --region (or set AWS_REGION)")?;
        let provider = provider.as_ref().ok_or("no AWS credentials found")?;
        let credentials = provider
            .provide_credentials()
            .await
            .map_err(|e| format!("no AWS credentials: {e}"))?;
        Ok((credentials, region))
    }
}

/// The region of a Function URL's host: `<id>.lambda-url.<region>.on.aws`.
fn function_url_region(host: &str) -> Option<String> {
    let (_, rest) = host.split_once(".lambda-url.")?;
    let region = rest.strip_suffix(".on.aws")?;
    (!region.is_empty() && !region.contains('.')).then(|| region.to_owned())
}

/// The `Host` header the client sends for `uri` (the port only when not the scheme's own).
fn host_with_port(uri: &http::Uri) -> String {
    let host = uri.host().unwrap_or_default();
    let default_port = if uri.scheme_str() == Some("https") {
        443
    } else {
        80
    };
    match uri.port_u16() {
        Some(port) if port != default_port => format!("{host}:{port}"),
        _ => host.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_region_comes_from_a_function_urls_host() {
        assert_eq!(
            function_url_region("abc123.lambda-url.eu-west-1.on.aws").as_deref(),
            Some("eu-west-1")
        );
        assert_eq!(function_url_region("127.0.0.1"), None);
        assert_eq!(function_url_region("x.lambda-url..on.aws"), None);
    }

    #[test]
    fn the_host_header_has_a_port_only_when_it_is_not_the_schemes() {
        let host = |uri: &str| host_with_port(&uri.parse().unwrap());
        assert_eq!(host("http://127.0.0.1:9000/x"), "127.0.0.1:9000");
        assert_eq!(
            host("https://a.lambda-url.us-east-1.on.aws/"),
            "a.lambda-url.us-east-1.on.aws"
        );
        assert_eq!(host("https://h:443/"), "h");
    }
}
