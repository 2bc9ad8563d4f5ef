//! Where the Runtime API lives: the address Lambda passes in `AWS_LAMBDA_RUNTIME_API` (or
//! `cargo lambda watch` with a path prefix), and the path of each route under it.

use std::str::FromStr;

use super::runtime_api::RuntimeRoute;
use crate::settings::ConfigError;

/// Where the Runtime API lives: `host:port` plus an optional path prefix.
///
/// Lambda passes `host:port`; `cargo lambda watch` passes `http://127.0.0.1:9000/.rt/<fn>`.
///
/// ```
/// use lambda_stream::RuntimeApiAddress;
/// let plain: RuntimeApiAddress = "127.0.0.1:9001".parse()?;
/// use lambda_stream::wire::RuntimeRoute;
/// assert_eq!(plain.url(&RuntimeRoute::Next), "/2018-06-01/runtime/invocation/next");
/// let prefixed: RuntimeApiAddress = "http://127.0.0.1:9000/.rt/hello/".parse()?;
/// assert_eq!(prefixed.authority(), "127.0.0.1:9000");
/// assert_eq!(prefixed.url(&RuntimeRoute::Next), "/.rt/hello/2018-06-01/runtime/invocation/next");
/// # Ok::<(), lambda_stream::ConfigError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuntimeApiAddress {
    authority: String,
    prefix: String,
}

impl FromStr for RuntimeApiAddress {
    type Err = ConfigError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || ConfigError::InvalidRuntimeApi(s.to_owned());
        let trimmed = s.trim();
        let rest = match trimmed.split_once("://") {
            Some(("http", rest)) => rest,
            Some(_) => return Err(invalid()),
            None => trimmed,
        };
        let (authority, path) = match rest.find('/') {
            Some(index) => rest.split_at(index),
            None => (rest, ""),
        };
        let authority: http::uri::Authority = authority.parse().map_err(|_| invalid())?;
        if authority.port_u16().is_none() || authority.as_str().contains('@') {
            return Err(invalid());
        }
        let prefix = path.trim_end_matches('/');
        if prefix
            .chars()
            .any(|c| c.is_whitespace() || c == '?' || c == '#')
        {
            return Err(invalid());
        }
        Ok(RuntimeApiAddress {
            authority: authority.as_str().to_owned(),
            prefix: prefix.to_owned(),
        })
    }
}

impl RuntimeApiAddress {
    /// The address of a Runtime API listening on `address`, without a path prefix.
    pub fn from_socket_addr(address: std::net::SocketAddr) -> Self {
        RuntimeApiAddress {
            authority: address.to_string(),
            prefix: String::new(),
        }
    }

    /// `host:port` to connect to.
    pub fn authority(&self) -> &str {
        &self.authority
    }

    /// The request path for a Runtime API route, under the address's prefix.
    pub fn url(&self, route: &RuntimeRoute) -> String {
        format!("{}{}", self.prefix, route.path())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runtime_api_forms() {
        let parse = |s: &str| s.parse::<RuntimeApiAddress>();
        let plain = parse("localhost:9001").unwrap();
        assert_eq!(
            (plain.authority(), plain.prefix.as_str()),
            ("localhost:9001", "")
        );
        let cargo_lambda = parse("http://127.0.0.1:9000/.rt/my-fn").unwrap();
        assert_eq!(
            cargo_lambda.url(&RuntimeRoute::InitError),
            "/.rt/my-fn/2018-06-01/runtime/init/error"
        );
        for bad in [
            "",
            "localhost",
            "https://h:1",
            "h:1/a b",
            "user@h:1",
            "h:port",
        ] {
            assert_eq!(
                parse(bad),
                Err(ConfigError::InvalidRuntimeApi(bad.to_owned())),
                "{bad}"
            );
        }
    }
}
