//! Lambda's tenant isolation as the fronts see it: a tenant-isolated function is invoked with a
//! tenant id (`X-Amz-Tenant-Id` on the Invoke API; a REST API's integration maps one from the
//! client's request), only such a function takes one, and it has no Function URL. The id
//! reaches the function as `Lambda-Runtime-Aws-Tenant-Id` on `/next`, and an execution
//! environment serves one tenant only (see the runtime's state).
//!
//! AWS documents these rules; the exact wording of its refusals is not published, so the
//! messages here are ours.

use http::HeaderMap;

use crate::emulator::config::EmulatorConfig;
use crate::emulator::lifecycle::admission::Refusal;

/// The request header that carries the tenant id.
pub(crate) const TENANT_ID_HEADER: &str = "x-amz-tenant-id";

/// The tenant id a request carries, if any.
///
/// # Errors
/// A refusal when the id is not 1 to 256 printable ASCII characters.
pub(crate) fn requested(headers: &HeaderMap) -> Result<Option<String>, String> {
    let Some(value) = headers.get(TENANT_ID_HEADER) else {
        return Ok(None);
    };
    let text = value.to_str().unwrap_or_default();
    let valid = !text.is_empty() && text.len() <= 256 && text.bytes().all(|b| b.is_ascii_graphic());
    if valid {
        Ok(Some(text.to_owned()))
    } else {
        Err("X-Amz-Tenant-Id must be 1 to 256 printable ASCII characters".to_owned())
    }
}

/// Checks the tenant id against the function's isolation mode.
///
/// # Errors
/// A refusal for a tenant-isolated function invoked without an id, or an id given to a
/// function without tenant isolation.
pub(crate) fn check(config: &EmulatorConfig, tenant_id: Option<&str>) -> Result<(), Refusal> {
    match (config.tenant_isolation(), tenant_id) {
        (true, None) => Err(Refusal::InvalidParameter(
            "this function uses tenant isolation: invoke it with a tenant id (X-Amz-Tenant-Id)"
                .to_owned(),
        )),
        (false, Some(_)) => Err(Refusal::InvalidParameter(
            "a tenant id (X-Amz-Tenant-Id) was given, but this function does not use tenant \
             isolation"
                .to_owned(),
        )),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn read(text: &str) -> Result<Option<String>, String> {
        let mut headers = HeaderMap::new();
        headers.insert(TENANT_ID_HEADER, HeaderValue::from_str(text).unwrap());
        requested(&headers)
    }

    #[test]
    fn tenant_ids_are_printable_ascii_of_at_most_256() {
        assert_eq!(read("blue"), Ok(Some("blue".to_owned())));
        assert!(read(&"t".repeat(256)).is_ok());
        assert!(read(&"t".repeat(257)).is_err());
        assert!(read("a b").is_err());
        assert!(read("").is_err());
        assert_eq!(requested(&HeaderMap::new()), Ok(None));
    }

    #[test]
    fn an_isolated_function_needs_an_id_and_only_it_takes_one() {
        let isolated = EmulatorConfig::default().with_tenant_isolation(true);
        let shared = EmulatorConfig::default();
        assert!(check(&isolated, Some("blue")).is_ok());
        assert!(check(&isolated, None).is_err());
        assert!(check(&shared, None).is_ok());
        assert!(check(&shared, Some("blue")).is_err());
    }

    #[test]
    fn isolation_takes_one_invocation_per_environment() {
        let isolated = EmulatorConfig::default().with_tenant_isolation(true);
        assert!(isolated.validate().is_ok());
        let error = isolated
            .with_environment_concurrency(2)
            .validate()
            .unwrap_err();
        assert!(error.to_string().contains("tenant isolation"), "{error}");
    }
}
