//! Pages over HTTP(S): one request per page, its records handed out as they arrive, its link
//! followed when it ends.

use std::collections::{HashSet, VecDeque};

use bytes::Bytes;
use futures_util::Stream;
use http::{HeaderMap, HeaderName, HeaderValue, Request};
use http_body_util::{BodyExt, Empty};
use hyper::body::Incoming;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use super::checkpoint::Checkpoint;
use super::page::PageReader;
use super::sign::Signer;
use super::{Error, Format};
use crate::wire::{ErrorType, FunctionError};

type Connector = hyper_rustls::HttpsConnector<HttpConnector>;

/// Downloads exports page by page: see the [module](super) docs.
#[derive(Debug, Clone)]
pub struct Client {
    http: HttpClient<Connector, Empty<Bytes>>,
    headers: HeaderMap,
    format: Format,
    max_pages: Option<u64>,
    signer: Option<std::sync::Arc<Signer>>,
}

/// What a download hands out, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Event {
    /// A page answered `200`: its URL, and the format its records are read in (settled by the
    /// first page's `content-type` when the client's is [`Format::Auto`]).
    #[non_exhaustive]
    PageStart {
        /// The page's URL.
        url: String,
        /// The format of its records.
        format: Format,
    },
    /// A record of the export, as the function sent it, its delimiter included (a line, a CSV
    /// record, an event) but for a JSON array's element (without the `,` or `]` after it);
    /// never a page's link.
    Record(Bytes),
    /// A page ended cleanly: its URL, and the next page's (resolved) when it had a link.
    #[non_exhaustive]
    PageEnd {
        /// The page's URL.
        url: String,
        /// The next page's URL; `None` on the last page.
        next: Option<String>,
        /// Where the download stands, for [`Client::resume`] (text to keep as it is); `None`
        /// on the last page.
        checkpoint: Option<String>,
    },
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

impl Client {
    /// A client for `http://` and `https://` URLs (the system's CA roots, else Mozilla's), sending
    /// `TE: trailers` so that an error trailer reaches it.
    pub fn new() -> Client {
        // The system's CA roots, or Mozilla's where the system has none (a slim container);
        // aws-lc-rs named here, whatever other crates make rustls's process default.
        let provider = || std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(provider())
            .or_else(|_| {
                hyper_rustls::HttpsConnectorBuilder::new()
                    .with_provider_and_webpki_roots(provider())
            });
        let builder = match builder {
            Ok(builder) => builder,
            // A provider without a TLS version rustls accepts: `http://` only.
            Err(_) => hyper_rustls::HttpsConnectorBuilder::new().with_webpki_roots(),
        };
        let connector = builder.https_or_http().enable_http1().build();
        Client {
            http: HttpClient::builder(TokioExecutor::new()).build(connector),
            headers: HeaderMap::new(),
            format: Format::Auto,
            max_pages: None,
            signer: None,
        }
    }

    /// Signs every page's request with SigV4 for a Function URL whose `AuthType` is `AWS_IAM`
    /// (service `lambda`), with credentials from the standard AWS chain (environment, shared
    /// profile, SSO, container and instance roles), loaded at the first request. The region
    /// is `region`, else the Function URL's (`<id>.lambda-url.<region>.on.aws`), else the
    /// chain's (`AWS_REGION`, the profile).
    pub fn with_aws_signing(mut self, region: Option<String>) -> Client {
        self.signer = Some(std::sync::Arc::new(Signer::new(region)));
        self
    }

    /// Sends `name: value` with every page's request.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Client {
        self.headers.append(name, value);
        self
    }

    /// Reads pages as `format` (default [`Format::Auto`]: from the first page's
    /// `content-type`).
    pub fn with_format(mut self, format: Format) -> Client {
        self.format = format;
        self
    }

    /// Stops after `pages` pages, whatever the last one links to.
    pub fn with_max_pages(mut self, pages: u64) -> Client {
        self.max_pages = Some(pages);
        self
    }

    /// The export at `url`, page after page: its records as they arrive, and each page's end.
    /// The stream ends after the last page, or with the first [`Error`].
    pub fn events(&self, url: &str) -> impl Stream<Item = Result<Event, Error>> + Send + 'static {
        let mut download = Download::new(self.clone());
        match parse_url(url) {
            Ok(url) => download.url = Some(url),
            Err(error) => download.fail(error),
        }
        download.into_stream()
    }

    /// The rest of a download, from the `checkpoint` a page's end carried: the pages after that
    /// one, as [`events`](Self::events) would have handed them out (the CSV header dropped as
    /// before, a link back to any page read before caught).
    pub fn resume(
        &self,
        checkpoint: &str,
    ) -> impl Stream<Item = Result<Event, Error>> + Send + 'static {
        let mut download = Download::new(self.clone());
        match Checkpoint::decode(checkpoint).and_then(|c| download.restore(c)) {
            Ok(()) => {}
            Err(error) => download.fail(error),
        }
        download.into_stream()
    }
}

/// A download in progress.
struct Download {
    client: Client,
    /// The page to read next (or being read).
    url: Option<url::Url>,
    page: Option<(Incoming, PageReader)>,
    trailers: Option<HeaderMap>,
    seen: HashSet<String>,
    header: Option<Bytes>,
    pages: u64,
    ready: VecDeque<Result<Event, Error>>,
    done: bool,
}

impl Download {
    fn new(client: Client) -> Download {
        Download {
            client,
            url: None,
            page: None,
            trailers: None,
            seen: HashSet::new(),
            header: None,
            pages: 0,
            ready: VecDeque::new(),
            done: false,
        }
    }

    /// Takes up where `checkpoint` stood.
    fn restore(&mut self, checkpoint: Checkpoint) -> Result<(), Error> {
        self.url = Some(parse_url(&checkpoint.next)?);
        self.client.format = checkpoint.format();
        self.header = checkpoint.header().map_err(|reason| Error::Url {
            url: checkpoint.next.clone(),
            reason,
        })?;
        self.seen = checkpoint.read.into_iter().collect();
        Ok(())
    }

    fn into_stream(self) -> impl Stream<Item = Result<Event, Error>> + Send + 'static {
        futures_util::stream::unfold(self, |mut download| async move {
            let event = download.next().await?;
            Some((event, download))
        })
    }

    /// The page being read, as text.
    fn page_url(&self) -> String {
        self.url
            .as_ref()
            .map(ToString::to_string)
            .unwrap_or_default()
    }

    /// The next event: what is ready, else the next frame of the page, else the next page.
    async fn next(&mut self) -> Option<Result<Event, Error>> {
        loop {
            if let Some(event) = self.ready.pop_front() {
                self.done |= event.is_err();
                return Some(event);
            }
            if self.done {
                return None;
            }
            match self.page.take() {
                None => self.open().await,
                Some((body, reader)) => self.read(body, reader).await,
            }
        }
    }

    /// Requests the page at `self.url`.
    async fn open(&mut self) {
        let Some(url) = self.url.clone() else {
            self.done = true;
            return;
        };
        self.seen.insert(url.to_string());
        match self.request(&url).await {
            Ok((body, format)) => {
                self.client.format = format;
                self.page = Some((body, PageReader::new(format, self.header.clone())));
                self.ready.push_back(Ok(Event::PageStart {
                    url: url.to_string(),
                    format,
                }));
            }
            Err(error) => self.fail(error),
        }
    }

    /// Sends the request for `url`; checks its status and settles the format.
    async fn request(&self, url: &url::Url) -> Result<(Incoming, Format), Error> {
        let http_error = |source: crate::BoxError| Error::Http {
            url: url.to_string(),
            source,
        };
        let mut request = Request::get(url.as_str())
            .body(Empty::new())
            .map_err(|e| http_error(e.into()))?;
        request.headers_mut().extend(self.client.headers.clone());
        request
            .headers_mut()
            .insert(http::header::TE, HeaderValue::from_static("trailers"));
        if let Some(signer) = &self.client.signer {
            signer.sign(&mut request).await?;
        }
        let response = self
            .client
            .http
            .request(request)
            .await
            .map_err(|e| http_error(e.into()))?;
        if response.status() != http::StatusCode::OK {
            return Err(status_error(url, response).await);
        }
        let format = match self.client.format {
            Format::Auto => response
                .headers()
                .get(http::header::CONTENT_TYPE)
                .and_then(|value| value.to_str().ok())
                .map_or(Format::Raw, Format::of_content_type),
            chosen => chosen,
        };
        Ok((response.into_body(), format))
    }

    /// Reads the next frame of the page.
    async fn read(&mut self, mut body: Incoming, mut reader: PageReader) {
        match body.frame().await {
            Some(Ok(frame)) => {
                match frame.into_data() {
                    Ok(data) => reader.push(&data),
                    Err(frame) => self.trailers = frame.into_trailers().ok(),
                }
                while let Some(record) = reader.next_record() {
                    self.ready.push_back(Ok(Event::Record(record)));
                }
                if self.header.is_none() {
                    self.header = reader.header().cloned();
                }
                match reader.malformed().map(str::to_owned) {
                    Some(reason) => self.abandon(reader, self.malformed(reason)),
                    None => self.page = Some((body, reader)),
                }
            }
            Some(Err(error)) => {
                let error = self.body_error(error);
                self.abandon(reader, error);
            }
            None => self.end_page(reader),
        }
    }

    /// The page ended: its last records, then its error, or its end and the next page.
    fn end_page(&mut self, reader: PageReader) {
        let end = reader.finish();
        self.ready
            .extend(end.rest.into_iter().map(|r| Ok(Event::Record(r))));
        let url = self.page_url();
        if let Some(error) = self
            .trailers
            .take()
            .and_then(|t| FunctionError::from_trailers(&t))
        {
            return self.fail(trailer_error(url, error));
        }
        if let Some(reason) = end.malformed {
            return self.fail(self.malformed(reason));
        }
        self.pages += 1;
        let next = end.next.map(|link| self.resolve(&link));
        let next = match next {
            Some(Ok(next)) => Some(next),
            Some(Err(error)) => return self.fail(error),
            None => None,
        };
        let checkpoint = next.as_ref().map(|next| {
            let read = self.seen.iter().cloned().collect();
            Checkpoint::new(
                next.as_str(),
                self.client.format,
                self.header.as_ref(),
                read,
            )
            .encode()
        });
        self.ready.push_back(Ok(Event::PageEnd {
            url,
            next: next.as_ref().map(ToString::to_string),
            checkpoint,
        }));
        let limit_reached = self.client.max_pages.is_some_and(|max| self.pages >= max);
        match next {
            Some(next) if !limit_reached => self.url = Some(next),
            // Once what is ready is handed out.
            _ => self.done = true,
        }
    }

    /// `link` resolved against the page's URL; an error when it is not HTTP(S) or was
    /// already read.
    fn resolve(&self, link: &str) -> Result<url::Url, Error> {
        let joined = match &self.url {
            Some(page) => page.join(link).map_err(|e| e.to_string()),
            None => Err("no page to resolve it against".to_owned()),
        };
        let joined = joined.map_err(|reason| Error::Url {
            url: link.to_owned(),
            reason,
        })?;
        let next = http_only(joined)?;
        if self.seen.contains(next.as_str()) {
            return Err(Error::LinkRepeated {
                url: self.page_url(),
                link: next.to_string(),
            });
        }
        Ok(next)
    }

    /// Stops reading a page that broke off with `error`: its whole records first.
    fn abandon(&mut self, reader: PageReader, error: Error) {
        self.ready
            .extend(reader.abandon().map(|r| Ok(Event::Record(r))));
        self.fail(error);
    }

    /// The page is not in its format.
    fn malformed(&self, reason: String) -> Error {
        Error::Malformed {
            url: self.page_url(),
            reason,
        }
    }

    /// The page did not arrive whole, whatever broke it off.
    fn body_error(&self, error: hyper::Error) -> Error {
        let cause = std::error::Error::source(&error)
            .map_or_else(|| error.to_string(), ToString::to_string);
        Error::Truncated {
            url: self.page_url(),
            cause,
        }
    }

    /// Ends the download with `error`, after what is ready.
    fn fail(&mut self, error: Error) {
        self.ready.push_back(Err(error));
    }
}

/// An `http://` or `https://` URL.
fn parse_url(url: &str) -> Result<url::Url, Error> {
    let parsed = url::Url::parse(url).map_err(|e| Error::Url {
        url: url.to_owned(),
        reason: e.to_string(),
    })?;
    http_only(parsed)
}

/// `url`, when its scheme is `http` or `https`.
fn http_only(url: url::Url) -> Result<url::Url, Error> {
    match url.scheme() {
        "http" | "https" => Ok(url),
        other => Err(Error::Url {
            reason: format!("the scheme is {other}, not http or https"),
            url: url.to_string(),
        }),
    }
}

/// A page's error trailer as an error: a cut without a link, or the function's failure.
fn trailer_error(url: String, error: FunctionError) -> Error {
    let cut = [
        ErrorType::RESPONSE_SIZE_TOO_LARGE,
        ErrorType::DEADLINE_EXCEEDED,
    ];
    if cut.contains(error.error_type()) {
        Error::CutWithoutContinuation { url, error }
    } else {
        Error::Function { url, error }
    }
}

/// A non-200 answer as an error, with the start of its body.
async fn status_error(url: &url::Url, response: http::Response<Incoming>) -> Error {
    let status = response.status().as_u16();
    let error_type = response
        .headers()
        .get("x-amzn-errortype")
        .and_then(|value| value.to_str().ok())
        .map(|value| value.split(':').next().unwrap_or(value).to_owned());
    let body = body_start(response.into_body(), 4096).await;
    Error::Status {
        url: url.to_string(),
        status,
        error_type,
        body,
    }
}

/// The first `limit` bytes of `body` (all of it when shorter), as text.
async fn body_start(mut body: Incoming, limit: usize) -> String {
    let mut start = Vec::new();
    while start.len() < limit {
        match body.frame().await {
            Some(Ok(frame)) => start.extend_from_slice(frame.data_ref().map_or(&[][..], |d| d)),
            _ => break,
        }
    }
    start.truncate(limit);
    String::from_utf8_lossy(&start).into_owned()
}
