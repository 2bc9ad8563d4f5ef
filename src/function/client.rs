//! A Runtime API client: one kept-alive HTTP/1.1 connection with TCP_NODELAY.

use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, TRAILER, TRANSFER_ENCODING, USER_AGENT};
use http::{HeaderMap, HeaderValue, Request, StatusCode};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use hyper::client::conn::http1::{Builder, SendRequest};
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

use super::request_body::RequestBody;
use crate::error::Error;
use crate::stream::{StreamingBody, in_flight};
use crate::wire::RuntimeApiAddress;
use crate::wire::{
    DECLARED_ERROR_TRAILERS, ERROR_TYPE_TRAILER, FunctionError, HTTP_INTEGRATION_CONTENT_TYPE,
    RESPONSE_MODE_HEADER, RequestId, RuntimeRoute,
};

const USER_AGENT_VALUE: &str = concat!("lambda-stream/", env!("CARGO_PKG_VERSION"));

/// The next invocation: its headers and its event.
pub(crate) struct NextInvocation {
    pub(crate) headers: HeaderMap,
    /// The event, or the limit it is over (it was not read: the connection was dropped).
    pub(crate) event: Result<Bytes, usize>,
}

pub(crate) struct RuntimeClient {
    address: RuntimeApiAddress,
    host: HeaderValue,
    sender: Option<SendRequest<RequestBody>>,
    connection: Option<tokio::task::JoinHandle<()>>,
    /// The connection's socket, to bound what it holds unsent per response.
    send_side: Option<in_flight::SendSide>,
}

impl RuntimeClient {
    pub(crate) fn new(address: RuntimeApiAddress) -> Result<Self, Error> {
        let host = HeaderValue::from_str(address.authority()).map_err(|_| {
            crate::settings::ConfigError::InvalidRuntimeApi(address.authority().to_owned())
        })?;
        Ok(RuntimeClient {
            address,
            host,
            sender: None,
            connection: None,
            send_side: None,
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
        self.send_side = in_flight::SendSide::of(&stream).ok();
        let (sender, connection) = Builder::new()
            .title_case_headers(true)
            .max_buf_size(in_flight::WRITE_BUFFER)
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

    fn request(&self, route: &RuntimeRoute, body: RequestBody) -> Request<RequestBody> {
        let mut request = Request::new(body);
        *request.method_mut() = route.method();
        // The route is built from a validated address and a validated request id.
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
        bound_unsent: bool,
    ) -> Result<(StatusCode, HeaderMap, Bytes), Error> {
        let mut sender = self.ready_sender().await?;
        if let Some(side) = &mut self.send_side {
            side.bound_unsent(bound_unsent);
        }
        let response = sender.send_request(request).await?;
        let (parts, body) = response.into_parts();
        let body = body.collect().await?.to_bytes();
        self.sender = Some(sender);
        Ok((parts.status, parts.headers, body))
    }

    /// Sends a request and checks its answer; `bound_unsent` for a streamed response that
    /// counts on little on its way (see [`in_flight`]).
    async fn post(
        &mut self,
        request: Request<RequestBody>,
        bound_unsent: bool,
    ) -> Result<(), Error> {
        let route = request.uri().path().to_owned();
        let (status, _, body) = self.exchange(request, bound_unsent).await?;
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

    /// `GET /runtime/invocation/next`, with no client timeout: Lambda freezes us here. An
    /// event over `max_event` bytes is not read into memory: the connection is dropped and
    /// the invocation comes back with the limit instead of its event.
    pub(crate) async fn next(&mut self, max_event: usize) -> Result<NextInvocation, Error> {
        let request = self.request(&RuntimeRoute::Next, RequestBody::empty());
        let route = request.uri().path().to_owned();
        let mut sender = self.ready_sender().await?;
        let (parts, body) = sender.send_request(request).await?.into_parts();
        let event = match Limited::new(body, max_event).collect().await {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(error) if error.is::<LengthLimitError>() => Err(max_event),
            Err(error) => return Err(hyper_error(error)),
        };
        match &event {
            Ok(_) => self.sender = Some(sender),
            // The rest of the event is still on the connection: it cannot be reused.
            Err(_) => self.abort(),
        }
        if parts.status != StatusCode::OK {
            let body = event.as_ref().map_or_else(
                |_| "(over the event limit)".to_owned(),
                |body| String::from_utf8_lossy(body).into_owned(),
            );
            let status = parts.status;
            return Err(Error::RuntimeApi {
                route,
                status,
                body,
            });
        }
        Ok(NextInvocation {
            headers: parts.headers,
            event,
        })
    }

    /// `POST /runtime/invocation/{id}/response` with a streamed body and declared trailers.
    pub(crate) async fn stream_response(
        &mut self,
        request_id: &RequestId,
        body: StreamingBody,
    ) -> Result<(), Error> {
        let route = RuntimeRoute::Response(request_id.clone());
        let bounded = body.bounds_what_is_on_its_way();
        let mut request = self.request(&route, RequestBody::Streaming(Box::new(body)));
        let headers = request.headers_mut();
        headers.insert(
            CONTENT_TYPE,
            HeaderValue::from_static(HTTP_INTEGRATION_CONTENT_TYPE),
        );
        headers.insert(RESPONSE_MODE_HEADER, HeaderValue::from_static("streaming"));
        headers.insert(TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
        headers.insert(TRAILER, HeaderValue::from_static(DECLARED_ERROR_TRAILERS));
        self.post(request, bounded).await
    }

    /// `POST /runtime/invocation/{id}/response` with a buffered payload.
    pub(crate) async fn buffered_response(
        &mut self,
        request_id: &RequestId,
        payload: Vec<u8>,
    ) -> Result<(), Error> {
        let route = RuntimeRoute::Response(request_id.clone());
        let mut request = self.request(&route, RequestBody::full(payload));
        request
            .headers_mut()
            .insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        self.post(request, false).await
    }

    /// `POST /runtime/invocation/{id}/error`.
    pub(crate) async fn invocation_error(
        &mut self,
        request_id: &RequestId,
        error: &FunctionError,
    ) -> Result<(), Error> {
        let route = RuntimeRoute::Error(request_id.clone());
        self.post_error(&route, error).await
    }

    /// `POST /runtime/init/error`.
    pub(crate) async fn init_error(&mut self, error: &FunctionError) -> Result<(), Error> {
        self.post_error(&RuntimeRoute::InitError, error).await
    }

    async fn post_error(
        &mut self,
        route: &RuntimeRoute,
        error: &FunctionError,
    ) -> Result<(), Error> {
        let body = RequestBody::full(error.to_error_request_body());
        let mut request = self.request(route, body);
        let headers = request.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if let Ok(value) = HeaderValue::from_str(error.error_type().as_str()) {
            headers.insert(ERROR_TYPE_TRAILER, value);
        }
        self.post(request, false).await
    }
}

/// The transport error inside a body error (`Limited` boxes it).
fn hyper_error(error: Box<dyn std::error::Error + Send + Sync>) -> Error {
    match error.downcast::<hyper::Error>() {
        Ok(error) => Error::Http(*error),
        Err(other) => Error::Connect {
            address: "the Runtime API".to_owned(),
            source: std::io::Error::other(other),
        },
    }
}
