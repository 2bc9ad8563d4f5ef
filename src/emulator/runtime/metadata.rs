//! The Lambda metadata endpoint, served beside the Runtime API as Lambda serves it: the
//! function gets `AWS_LAMBDA_METADATA_API` (this listener's address) and
//! `AWS_LAMBDA_METADATA_TOKEN`, and `GET /2026-01-15/metadata/execution-environment` with
//! `Authorization: Bearer <token>` answers `{"AvailabilityZoneID":"use1-az1"}`.
//!
//! Statuses, headers and bodies are AWS's Runtime Interface Emulator's, checked against it:
//! `401 Unauthorized` without the token, `405 Method Not Allowed` for another method, `404 page
//! not found` for another metadata path, all `text/plain`.

use bytes::Bytes;
use http::header::{CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::Full;

/// The path prefix of the metadata endpoint's API version.
pub(crate) const METADATA_PREFIX: &str = "/2026-01-15/metadata/";
/// The execution environment's metadata.
const EXECUTION_ENVIRONMENT: &str = "/2026-01-15/metadata/execution-environment";

/// Whether `path` is the metadata endpoint's.
pub(crate) fn is_metadata_path(path: &str) -> bool {
    path.starts_with(METADATA_PREFIX)
}

/// The endpoint's answer to `request`, for an emulator in `region` whose token is `token`.
pub(crate) fn answer<B>(request: &Request<B>, region: &str, token: &str) -> Response<Full<Bytes>> {
    if request.uri().path() != EXECUTION_ENVIRONMENT {
        return text(StatusCode::NOT_FOUND, "404 page not found\n");
    }
    if request.method() != Method::GET {
        return text(StatusCode::METHOD_NOT_ALLOWED, "Method Not Allowed\n");
    }
    let bearer = request
        .headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.strip_prefix("Bearer "));
    if bearer != Some(token) {
        return text(StatusCode::UNAUTHORIZED, "Unauthorized\n");
    }
    let body = serde_json::json!({ "AvailabilityZoneID": availability_zone_id(region) });
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert(
        CACHE_CONTROL,
        HeaderValue::from_static("private, max-age=43200, immutable"),
    );
    response
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    headers.insert(
        "x-content-type-options",
        HeaderValue::from_static("nosniff"),
    );
    response
}

/// The id of the region's first Availability Zone, in AWS's form: `us-east-1` is `use1-az1`,
/// `eu-west-1` `euw1-az1`, `ap-northeast-1` `apne1-az1`.
pub(crate) fn availability_zone_id(region: &str) -> String {
    let parts: Vec<&str> = region.split('-').collect();
    let code = match parts.as_slice() {
        [area, direction, number] => format!("{area}{}{number}", direction_code(direction)),
        _ => region.replace('-', ""),
    };
    format!("{code}-az1")
}

fn direction_code(direction: &str) -> String {
    match direction {
        "northeast" => "ne".to_owned(),
        "northwest" => "nw".to_owned(),
        "southeast" => "se".to_owned(),
        "southwest" => "sw".to_owned(),
        other => other.chars().take(1).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str, authorization: Option<&str>) -> Response<Full<Bytes>> {
        let mut request = Request::get(path);
        if let Some(value) = authorization {
            request = request.header("authorization", value);
        }
        answer(&request.body(()).unwrap(), "us-east-1", "t0ken")
    }

    #[test]
    fn availability_zone_ids_follow_aws_region_codes() {
        assert_eq!(availability_zone_id("us-east-1"), "use1-az1");
        assert_eq!(availability_zone_id("eu-west-1"), "euw1-az1");
        assert_eq!(availability_zone_id("eu-central-1"), "euc1-az1");
        assert_eq!(availability_zone_id("ap-northeast-1"), "apne1-az1");
        assert_eq!(availability_zone_id("ap-southeast-2"), "apse2-az1");
    }

    #[test]
    fn the_endpoint_answers_as_aws_rie_does() {
        let ok = get(EXECUTION_ENVIRONMENT, Some("Bearer t0ken"));
        assert_eq!(ok.status(), StatusCode::OK);
        assert_eq!(ok.headers()[CONTENT_TYPE], "application/json");
        assert_eq!(
            ok.headers()[CACHE_CONTROL],
            "private, max-age=43200, immutable"
        );
        for authorization in [None, Some("Bearer wrong"), Some("t0ken")] {
            let refused = get(EXECUTION_ENVIRONMENT, authorization);
            assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);
        }
        let other = get("/2026-01-15/metadata/other", Some("Bearer t0ken"));
        assert_eq!(other.status(), StatusCode::NOT_FOUND);
        let post = Request::post(EXECUTION_ENVIRONMENT)
            .header("authorization", "Bearer t0ken")
            .body(())
            .unwrap();
        let post = answer(&post, "us-east-1", "t0ken");
        assert_eq!(post.status(), StatusCode::METHOD_NOT_ALLOWED);
    }
}
