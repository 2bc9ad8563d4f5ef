//! A body fed by a task: bounded, so the producer waits for the client.

use bytes::Bytes;
use futures_util::Stream;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

use crate::aliases::BoxError;
use crate::wire::{ErrorType, FunctionError};

type Item = Result<Bytes, FunctionError>;

/// The sending half of [`Body::channel`](crate::Body::channel).
///
/// The body ends when every sender is dropped. To end it with an error instead, call
/// [`fail`](Self::fail). A sender dropped while its thread panics ends the body with
/// `Function.Panic`, so a crashed producer never looks like a complete response.
#[derive(Debug, Clone)]
pub struct BodySender {
    tx: mpsc::Sender<Item>,
}

/// The body's reader is gone: the response already ended (it failed, ran out of budget, or the
/// connection to the Runtime API closed). Stop producing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the response body is closed; nothing more can be sent")]
pub struct BodyClosed;

pub(super) fn pair(capacity: usize) -> (BodySender, impl Stream<Item = Item> + Send + 'static) {
    let (tx, rx) = mpsc::channel(capacity.max(1));
    (BodySender { tx }, ReceiverStream::new(rx))
}

impl BodySender {
    /// Sends one chunk, waiting while the channel is full.
    ///
    /// # Errors
    /// [`BodyClosed`] when the response has ended.
    pub async fn send(&self, data: impl Into<Bytes>) -> Result<(), BodyClosed> {
        self.tx.send(Ok(data.into())).await.map_err(|_| BodyClosed)
    }

    /// Ends the body with an error (a [`FunctionError`] keeps its type; anything else is
    /// `Function.StreamError`). Chunks sent before it are delivered first.
    ///
    /// # Errors
    /// [`BodyClosed`] when the response has already ended.
    pub async fn fail(self, error: impl Into<BoxError>) -> Result<(), BodyClosed> {
        let error = FunctionError::from_error(error.into(), ErrorType::STREAM_ERROR);
        self.tx.send(Err(error)).await.map_err(|_| BodyClosed)
    }

    /// True when the response has ended and sends would fail.
    pub fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }
}

impl Drop for BodySender {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let error = FunctionError::new(
                ErrorType::PANIC,
                "the task feeding the response body panicked",
            );
            // If the channel is full the reader still sees the end of the stream; the error
            // is best effort, the panic itself is logged by the task's runtime.
            let _ = self.tx.try_send(Err(error));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::body::Body;
    use futures_util::StreamExt;

    #[tokio::test]
    async fn chunks_then_end() {
        let (sender, body) = Body::channel();
        let mut body = body.into_data_stream();
        tokio::spawn(async move {
            sender.send("a").await.unwrap();
            sender.send(String::from("b")).await.unwrap();
        });
        assert_eq!(body.next().await, Some(Ok("a".into())));
        assert_eq!(body.next().await, Some(Ok("b".into())));
        assert_eq!(body.next().await, None);
    }

    #[tokio::test]
    async fn fail_ends_with_the_error() {
        let (sender, body) = Body::channel();
        let mut body = body.into_data_stream();
        tokio::spawn(async move {
            sender.send("a").await.unwrap();
            sender
                .fail(std::io::Error::other("upstream gone"))
                .await
                .unwrap();
        });
        assert_eq!(body.next().await, Some(Ok("a".into())));
        let error = body.next().await.unwrap().unwrap_err();
        assert_eq!(error.error_type(), &ErrorType::STREAM_ERROR);
        assert_eq!(error.message(), "upstream gone");
    }

    #[tokio::test]
    async fn backpressure_holds_the_producer() {
        let (sender, body) = Body::channel_with_capacity(2);
        sender.send("1").await.unwrap();
        sender.send("2").await.unwrap();
        let third = tokio::time::timeout(std::time::Duration::from_millis(50), sender.send("3"));
        assert!(third.await.is_err(), "a full channel makes send wait");
        drop(body);
        assert_eq!(sender.send("4").await, Err(BodyClosed));
        assert!(sender.is_closed());
    }

    #[tokio::test]
    async fn a_panicking_producer_ends_the_body_with_an_error() {
        let (sender, body) = Body::channel();
        let mut body = body.into_data_stream();
        let task = tokio::spawn(async move {
            sender.send("partial").await.unwrap();
            panic!("producer bug");
        });
        assert!(task.await.unwrap_err().is_panic());
        assert_eq!(body.next().await, Some(Ok("partial".into())));
        let error = body.next().await.unwrap().unwrap_err();
        assert_eq!(error.error_type(), &ErrorType::PANIC);
    }
}
