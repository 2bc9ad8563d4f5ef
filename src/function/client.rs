//! A Runtime API client: one kept-alive HTTP/1.1 connection with TCP_NODELAY.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, TRAILER, TRANSFER_ENCODING, USER_AGENT};
use http::{HeaderMap, HeaderValue, Method, Request, StatusCode};
use http_body_util::BodyExt;
use hyper::client::conn::http1::{Builder, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::config::RuntimeApiAddress;
use super::request_body::{RequestBody, StreamingBody};
use crate::Error;
use crate::wire::{
    DECLARED_ERROR_TRAILERS, ERROR_TYPE_TRAILER, FunctionError, HTTP_INTEGRATION_CONTENT_TYPE,
};

const USER_AGENT_VALUE: &str = concat!("lambda-stream/", env!("CARGO_PKG_VERSION"));
const RESPONSE_MODE: &str = "lambda-runtime-function-response-mode";

/// The next invocation: its headers and its event.
pub(crate) struct NextInvocation {
    pub(crate) headers: HeaderMap,
    pub(crate) event: Bytes,
}

pub(crate) struct RuntimeClient {
    address: RuntimeApiAddress,
    host: HeaderValue,
    sender: Option<SendRequest<RequestBody>>,
    connection: Option<tokio::task::JoinHandle<()>>,
}

impl RuntimeClient {
    pub(crate) fn new(address: RuntimeApiAddress) -> Result<Self, Error> {
        let host = HeaderValue::from_str(address.authority())
            .map_err(|_| crate::ConfigError::InvalidRuntimeApi(address.authority().to_owned()))?;
        Ok(RuntimeClient {
            address,
            host,
            sender: None,
            connection: None,
        })
    }

    /// Drops the connection and whatever it was sending (a streamed body included): the
    /// Runtime API sees the request cut off, as when Lambda stops a function.
    pub(crate) fn abort(&mut self) {
        self.sender = None;
        if let Some(connection) = self.connection.take() {
            connection.abort();
        }
    }

    async fn connect(&mut self) -> Result<SendRequest<RequestBody>, Error> {
        let authority = self.address.authority();
        let stream = TcpStream::connect(authority)
            .await
            .map_err(|source| Error::Connect {
                address: authority.to_owned(),
                source,
            })?;
        // Without it, small writes (the prelude, SSE events) wait ~40 ms for Nagle's algorithm.
        stream.set_nodelay(true).map_err(|source| Error::Connect {
            address: authority.to_owned(),
            source,
        })?;
        let (sender, connection) = Builder::new()
            .title_case_headers(true)
            .handshake(TokioIo::new(stream))
            .await?;
        self.connection = Some(tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "Runtime API connection closed");
            }
        }));
        Ok(sender)
    }

    async fn ready_sender(&mut self) -> Result<SendRequest<RequestBody>, Error> {
        if let Some(mut sender) = self.sender.take()
            && sender.ready().await.is_ok()
        {
            return Ok(sender);
        }
        let mut sender = self.connect().await?;
        sender.ready().await?;
        Ok(sender)
    }

    fn request(&self, method: Method, route: &str, body: RequestBody) -> Request<RequestBody> {
        let mut request = Request::new(body);
        *request.method_mut() = method;
        // The route is built from a validated address and request ids we received.
        *request.uri_mut() = self
            .address
            .url(route)
            .parse()
            .unwrap_or_else(|_| http::Uri::from_static("/"));
        let headers = request.headers_mut();
        headers.insert(HOST, self.host.clone());
        headers.insert(USER_AGENT, HeaderValue::from_static(USER_AGENT_VALUE));
        request
    }

    /// Sends a request and reads the whole answer.
    async fn exchange(
        &mut self,
        request: Request<RequestBody>,
    ) -> Result<(StatusCode, HeaderMap, Bytes), Error> {
        let mut sender = self.ready_sender().await?;
        let response = sender.send_request(request).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        self.sender = Some(sender);
        Ok((parts.status, parts.headers, body))
    }

    async fn post(&mut self, request: Request<RequestBody>, route: String) -> Result<(), Error> {
        let (status, _, body) = self.exchange(request).await?;
        if status.is_success() {
            Ok(())
        } else {
            Err(Error::RuntimeApi {
                route,
                status,
                body: String::from_utf8_lossy(&body).into_owned(),
            })
        }
    }

    /// `GET /runtime/invocation/next`, with no client timeout: Lambda freezes us here.
    pub(crate) async fn next(&mut self) -> Result<NextInvocation, Error> {
        let route = "/runtime/invocation/next";
        let request = self.request(Method::GET, route, RequestBody::empty());
        let (status, headers, event) = self.exchange(request).await?;
        if status != StatusCode::OK {
            return Err(Error::RuntimeApi {
                route: route.to_owned(),
                status,
                body: String::from_utf8_lossy(&event).into_owned(),
            });
        }
        Ok(NextInvocation { headers, event })
    }

    /// `POST /runtime/invocation/{id}/response` with a streamed body and declared trailers.
    pub(crate) async fn stream_response(
        &mut self,
        request_id: &str,
        body: StreamingBody,
    ) -> Result<(), Error> {
        let route = format!("/runtime/invocation/{request_id}/response");
        let mut request =
            self.request(Method::POST, &route, RequestBody::Streaming(Box::new(body)));
        let headers = request.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(HTTP_INTEGRATION_CONTENT_TYPE),
        );
        headers.insert(RESPONSE_MODE, HeaderValue::from_static("streaming"));
        headers.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        headers.insert(TRAILER, HeaderValue::from_static(DECLARED_ERROR_TRAILERS));
        self.post(request, route).await
    }

    /// `POST /runtime/invocation/{id}/response` with a buffered payload.
    pub(crate) async fn buffered_response(
        &mut self,
        request_id: &str,
        payload: Vec<u8>,
    ) -> Result<(), Error> {
        let route = format!("/runtime/invocation/{request_id}/response");
        let mut request = self.request(Method::POST, &route, RequestBody::full(payload));
        request
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        self.post(request, route).await
    }

    /// `POST /runtime/invocation/{id}/error`.
    pub(crate) async fn invocation_error(
        &mut self,
        request_id: &str,
        error: &FunctionError,
    ) -> Result<(), Error> {
        let route = format!("/runtime/invocation/{request_id}/error");
        self.post_error(route, error).await
    }

    /// `POST /runtime/init/error`.
    pub(crate) async fn init_error(&mut self, error: &FunctionError) -> Result<(), Error> {
        self.post_error("/runtime/init/error".to_owned(), error)
            .await
    }

    async fn post_error(&mut self, route: String, error: &FunctionError) -> Result<(), Error> {
        let mut request = self.request(
            Method::POST,
            &route,
            RequestBody::full(error.to_error_request_body()),
        );
        let headers = request.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Ok(value) = HeaderValue::from_str(error.error_type().as_str()) {
            headers.insert(ERROR_TYPE_TRAILER, value);
        }
        self.post(request, route).await
    }
}
