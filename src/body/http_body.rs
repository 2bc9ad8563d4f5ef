//! Any `http_body::Body` (an axum or hyper body, a tower-http response body) as a [`Body`].

use bytes::Bytes;
use futures_util::StreamExt;
use http_body_util::BodyStream;

use crate::aliases::BoxError;
use crate::body::Body;
use crate::wire::{ErrorType, FunctionError};

impl Body {
    /// Streams an `http_body::Body` frame by frame: data frames become items, a body error ends
    /// the body with `Function.StreamError`, and trailers carrying
    /// `Lambda-Runtime-Function-Error-Type` / `-Body` end it with that error. Other trailer
    /// fields cannot travel through Lambda and are dropped (logged at debug level).
    ///
    /// ```
    /// let body = lambda_stream::Body::from_http_body(http_body_util::Full::new(bytes::Bytes::from("hi")));
    /// # drop(body);
    /// ```
    pub fn from_http_body<B>(body: B) -> Body
    where
        B: http_body::Body<Data = Bytes> + Send + 'static,
        B::Error: Into<BoxError>,
    {
        let items = BodyStream::new(body).filter_map(|frame| {
            // Converted here, synchronously: the body's error type need not be `Send`.
            let item = match frame {
                Ok(frame) => match frame.into_data() {
                    Ok(data) => Some(Ok(data)),
                    Err(frame) => frame.into_trailers().ok().and_then(|trailers| {
                        let error = FunctionError::from_trailers(&trailers);
                        if error.is_none() {
                            tracing::debug!(fields = trailers.len(), "trailers dropped");
                        }
                        error.map(Err)
                    }),
                },
                Err(error) => Some(Err(FunctionError::from_error(
                    error.into(),
                    ErrorType::STREAM_ERROR,
                ))),
            };
            std::future::ready(item)
        });
        Body::from_stream(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;
    use http_body_util::StreamBody;

    #[tokio::test]
    async fn frames_errors_and_error_trailers() {
        let error = FunctionError::new(ErrorType::new("Function.Late").unwrap(), "x");
        let mut other = HeaderMap::new();
        other.insert("x-checksum", "1".parse().unwrap());
        let frames = futures_util::stream::iter([
            Ok::<_, std::io::Error>(http_body::Frame::data(Bytes::from("a"))),
            Ok(http_body::Frame::trailers(other)),
            Ok(http_body::Frame::trailers(error.to_trailers())),
        ]);
        let mut body = Body::from_http_body(StreamBody::new(frames)).into_data_stream();
        assert_eq!(body.next().await, Some(Ok(Bytes::from("a"))));
        assert_eq!(body.next().await, Some(Err(error)));

        let failing = futures_util::stream::iter([Err::<http_body::Frame<Bytes>, _>(
            std::io::Error::other("socket"),
        )]);
        let mut body = Body::from_http_body(StreamBody::new(failing)).into_data_stream();
        let error = body.next().await.unwrap().unwrap_err();
        assert_eq!(
            (error.error_type(), error.message()),
            (&ErrorType::STREAM_ERROR, "socket")
        );
    }
}
