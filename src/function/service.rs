//! Any tower `Service` over HTTP (an axum `Router`, a tower-http stack) as a handler
//! (feature `tower`).

use std::future::poll_fn;

use bytes::Bytes;
use http_body_util::Full;
use tower_service::Service;

use super::context::Context;
use super::handler::Handler;
use crate::aliases::{BoxError, Request};
use crate::body::Body;
use crate::body::Response;

/// A [`Handler`] that runs a tower `Service`: what [`service`] returns.
#[derive(Debug, Clone)]
struct ServiceHandler<S> {
    service: S,
}

/// Wraps a tower `Service`, such as an axum `Router`, as a handler: the request (with its
/// [`Context`] as an extension) goes in as `http::Request<Full<Bytes>>`, the response head is
/// committed at the first body frame and its frames stream out.
///
/// ```no_run
/// # #[cfg(feature = "tower")]
/// # async fn example(router: impl tower_service::Service<http::Request<http_body_util::Full<bytes::Bytes>>, Response = http::Response<http_body_util::Full<bytes::Bytes>>, Error = std::convert::Infallible, Future: Send> + Clone + Send + Sync + 'static) -> Result<(), lambda_stream::Error> {
/// lambda_stream::run(lambda_stream::service(router)).await
/// # }
/// ```
pub fn service<S, B>(service: S) -> impl Handler
where
    S: Service<http::Request<Full<Bytes>>, Response = http::Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    ServiceHandler { service }
}

impl<S, B> Handler for ServiceHandler<S>
where
    S: Service<http::Request<Full<Bytes>>, Response = http::Response<B>>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send,
    S::Error: Into<BoxError>,
    B: http_body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<BoxError>,
{
    type Error = BoxError;

    async fn call(&self, request: Request, context: Context) -> Result<Response, BoxError> {
        let mut service = self.service.clone();
        poll_fn(|cx| service.poll_ready(cx))
            .await
            .map_err(Into::into)?;
        let (mut parts, body) = request.into_parts();
        parts.extensions.insert(context);
        let response = service
            .call(http::Request::from_parts(parts, Full::new(body)))
            .await
            .map_err(Into::into)?;
        Ok(response.map(Body::from_http_body))
    }
}
