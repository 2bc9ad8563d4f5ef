//! `InvokeWithResponseStream` answers read as a Function URL's client reads them: the prelude
//! the function wrote (status, headers, cookies) parsed off the front of the event stream, the
//! body after it, and `InvokeComplete`'s `ErrorCode` / `ErrorDetails` as the same typed error
//! an error trailer gives.

use aws_sdk_lambda::operation::invoke_with_response_stream::InvokeWithResponseStreamOutput;
use aws_sdk_lambda::types::InvokeWithResponseStreamResponseEvent as StreamEvent;
use bytes::{Bytes, BytesMut};
use futures_util::Stream;

use super::Error;
use crate::wire::{ErrorType, FunctionError, PreludeDecoder, ResponseHead};

/// What the errors name as the "URL".
const SOURCE: &str = "InvokeWithResponseStream";

/// The head and the body of an `InvokeWithResponseStream` answer (`aws-sdk-lambda`'s
/// `invoke_with_response_stream().send()` output). The head is the function's prelude; a
/// function that wrote none (not an HTTP-integration response) gets `200` and no headers, its
/// bytes all body. The body ends with an [`Error::Function`] when `InvokeComplete` carries an
/// error code (a mid-stream failure, a truncated response).
///
/// ```no_run
/// # async fn example(lambda: aws_sdk_lambda::Client) -> Result<(), Box<dyn std::error::Error>> {
/// use futures_util::StreamExt;
/// let output = lambda.invoke_with_response_stream().function_name("export").send().await?;
/// let (head, body) = lambda_stream::client::invoke_response(output).await?;
/// println!("{} {:?}", head.status, head.headers.get("content-type"));
/// let mut body = std::pin::pin!(body);
/// while let Some(chunk) = body.next().await {
///     std::io::Write::write_all(&mut std::io::stdout(), &chunk?)?;
/// }
/// # Ok(())
/// # }
/// ```
pub async fn invoke_response(
    mut output: InvokeWithResponseStreamOutput,
) -> Result<
    (
        ResponseHead,
        impl Stream<Item = Result<Bytes, Error>> + Send,
    ),
    Error,
> {
    let mut decoder = PreludeDecoder::new();
    let mut front = BytesMut::new();
    let (head, done) = loop {
        match next_event(&mut output).await? {
            Some(Some(chunk)) => {
                front.extend_from_slice(&chunk);
                match decoder.decode(&mut front) {
                    Ok(Some(head)) => break (head, false),
                    Ok(None) => {}
                    Err(_) => break (plain_head(), false),
                }
            }
            Some(None) => {}
            None => break (plain_head(), true),
        }
    };
    let body = Body {
        output,
        front: Some(front.freeze()).filter(|f| !f.is_empty()),
        done,
    };
    Ok((head, futures_util::stream::unfold(body, Body::next)))
}

/// The head of an answer without a prelude.
fn plain_head() -> ResponseHead {
    ResponseHead {
        status: http::StatusCode::OK,
        headers: http::HeaderMap::new(),
        cookies: Vec::new(),
    }
}

/// The body after the head.
struct Body {
    output: InvokeWithResponseStreamOutput,
    front: Option<Bytes>,
    done: bool,
}

impl Body {
    async fn next(mut self) -> Option<(Result<Bytes, Error>, Body)> {
        if let Some(front) = self.front.take() {
            return Some((Ok(front), self));
        }
        while !self.done {
            match next_event(&mut self.output).await {
                Ok(Some(Some(chunk))) if !chunk.is_empty() => return Some((Ok(chunk), self)),
                Ok(Some(_)) => {}
                Ok(None) => self.done = true,
                Err(error) => {
                    self.done = true;
                    return Some((Err(error), self));
                }
            }
        }
        None
    }
}

/// The next event: `Some(Some(bytes))` for a payload chunk, `Some(None)` for one without
/// bytes, `None` once `InvokeComplete` came without an error (or the stream ended).
async fn next_event(
    output: &mut InvokeWithResponseStreamOutput,
) -> Result<Option<Option<Bytes>>, Error> {
    let event = output.event_stream.recv().await.map_err(|e| Error::Http {
        url: SOURCE.to_owned(),
        source: Box::new(e),
    })?;
    match event {
        Some(StreamEvent::PayloadChunk(update)) => Ok(Some(
            update.payload.map(|blob| Bytes::from(blob.into_inner())),
        )),
        Some(StreamEvent::InvokeComplete(complete)) => match complete.error_code {
            Some(code) => {
                let error_type = ErrorType::new(code).unwrap_or(ErrorType::UNKNOWN);
                let details = complete.error_details.unwrap_or_default();
                Err(Error::Function {
                    url: SOURCE.to_owned(),
                    error: FunctionError::new(error_type, details),
                })
            }
            None => Ok(None),
        },
        Some(_) => Ok(Some(None)),
        None => Ok(None),
    }
}
