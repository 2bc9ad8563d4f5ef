//! Coalescing: merge small items into fewer chunks without holding any byte past a delay.

use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::{Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use tokio::time::Sleep;

use std::sync::{Arc, Mutex};

use crate::body::Continuation;
use crate::wire::FunctionError;
use crate::{Body, Truncation};

/// A flush policy: send when `max_bytes` are gathered, or when the oldest gathered byte has
/// waited `max_delay`, whichever comes first. The default flushes every item as it comes
/// (lowest latency; items that are already ready together share a chunk); use this for tiny
/// items that trickle in one at a time (16-byte tokens from a model) to save per-chunk
/// overhead.
///
/// ```
/// use std::time::Duration;
/// use lambda_stream::{Body, Coalesce};
/// let tokens = futures_util::stream::iter(["a", "b", "c"].map(Ok::<_, std::io::Error>));
/// let body = Body::from_stream(tokens).coalesce(Coalesce {
///     max_bytes: 16 * 1024,
///     max_delay: Duration::from_millis(20),
/// });
/// # drop(body);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Coalesce {
    /// Flush once this many bytes are gathered (an item this large goes alone, uncopied).
    pub max_bytes: usize,
    /// The longest any byte waits.
    pub max_delay: Duration,
}

impl Body {
    /// Merges items according to `policy`. A merged chunk holds whole items, so the budget still
    /// never splits an item (it refuses a whole merged chunk). A continuation set with
    /// [`Body::with_continuation`] is kept, and its [`Truncation::items_sent`] still counts
    /// the original items (records), not merged chunks.
    pub fn coalesce(mut self, policy: Coalesce) -> Body {
        let continuation = self.take_continuation();
        let view = self.take_budget_view();
        // Items gathered into each flushed chunk, cumulated: chunk k holds items up to
        // `flushed[k]`.
        let flushed = Arc::new(Mutex::new(Vec::new()));
        let merged = Body::from_stream(Coalescing {
            inner: self,
            policy,
            gathered: BytesMut::new(),
            gathered_items: 0,
            items_flushed: 0,
            flushed: flushed.clone(),
            timer: None,
            pending_end: None,
            done: false,
        });
        let merged = match view {
            Some(view) => merged.with_budget_view(view),
            None => merged,
        };
        let Some(Continuation { reserve, make }) = continuation else {
            return merged;
        };
        merged.with_continuation_parts(Continuation {
            reserve,
            make: Box::new(move |cut: &Truncation| {
                let chunks = usize::try_from(cut.items_sent).unwrap_or(usize::MAX);
                let items = match (chunks.checked_sub(1), flushed.lock()) {
                    (Some(last), Ok(flushed)) => flushed.get(last).copied().unwrap_or(0),
                    _ => 0,
                };
                make(&Truncation {
                    items_sent: items,
                    ..cut.clone()
                })
            }),
        })
    }
}

struct Coalescing {
    inner: Body,
    policy: Coalesce,
    gathered: BytesMut,
    gathered_items: u64,
    items_flushed: u64,
    flushed: Arc<Mutex<Vec<u64>>>,
    timer: Option<Pin<Box<Sleep>>>,
    /// The inner stream's end (`None`) or error, held until the gathered bytes are out.
    pending_end: Option<Option<FunctionError>>,
    done: bool,
}

impl Coalescing {
    /// Sends what is gathered as one chunk, recording how many items it holds.
    fn flush(&mut self) -> Poll<Option<Result<Bytes, FunctionError>>> {
        self.timer = None;
        let items = std::mem::take(&mut self.gathered_items);
        self.record_chunk(items);
        Poll::Ready(Some(Ok(self.gathered.split().freeze())))
    }

    fn record_chunk(&mut self, items: u64) {
        self.items_flushed += items;
        if let Ok(mut flushed) = self.flushed.lock() {
            flushed.push(self.items_flushed);
        }
    }
}

impl Stream for Coalescing {
    type Item = Result<Bytes, FunctionError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        loop {
            if this.done {
                return Poll::Ready(None);
            }
            if let Some(end) = this.pending_end.take() {
                if !this.gathered.is_empty() {
                    this.pending_end = Some(end);
                    return this.flush();
                }
                this.done = true;
                return Poll::Ready(end.map(Err));
            }
            match this.inner.poll_next_unpin(cx) {
                Poll::Ready(Some(Ok(item))) => {
                    if this.gathered.is_empty() && item.len() >= this.policy.max_bytes {
                        this.record_chunk(1);
                        return Poll::Ready(Some(Ok(item)));
                    }
                    this.gathered.extend_from_slice(&item);
                    this.gathered_items += 1;
                    if this.gathered.len() >= this.policy.max_bytes {
                        return this.flush();
                    }
                    if this.timer.is_none() {
                        this.timer = Some(Box::pin(tokio::time::sleep(this.policy.max_delay)));
                    }
                }
                Poll::Ready(Some(Err(error))) => this.pending_end = Some(Some(error)),
                Poll::Ready(None) => this.pending_end = Some(None),
                Poll::Pending => {
                    let Some(timer) = this.timer.as_mut() else {
                        return Poll::Pending;
                    };
                    if timer.as_mut().poll(cx).is_pending() {
                        return Poll::Pending;
                    }
                    return this.flush();
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    fn tokens(count: usize) -> Body {
        Body::from_stream(stream::iter(
            (0..count).map(|i| Ok::<_, std::io::Error>(format!("tok{i:02} "))),
        ))
    }

    #[tokio::test]
    async fn ready_items_merge_up_to_max_bytes() {
        let policy = Coalesce {
            max_bytes: 20,
            max_delay: Duration::from_secs(60),
        };
        let chunks: Vec<_> = tokens(7)
            .coalesce(policy)
            .map(|c| c.unwrap())
            .collect()
            .await;
        let sizes: Vec<_> = chunks.iter().map(Bytes::len).collect();
        assert_eq!(
            sizes,
            [24, 18],
            "whole 6-byte tokens; the rest flushed at the end"
        );
        assert_eq!(
            chunks.concat(),
            b"tok00 tok01 tok02 tok03 tok04 tok05 tok06 "
        );
    }

    #[tokio::test(start_paused = true)]
    async fn no_byte_waits_longer_than_the_delay() {
        let slow =
            stream::iter(["a", "b"].map(Ok::<_, std::io::Error>)).chain(stream::once(async {
                tokio::time::sleep(Duration::from_secs(10)).await;
                Ok("late")
            }));
        let policy = Coalesce {
            max_bytes: 1024,
            max_delay: Duration::from_millis(50),
        };
        let mut body = Body::from_stream(slow).coalesce(policy);
        let start = tokio::time::Instant::now();
        assert_eq!(body.next().await, Some(Ok(Bytes::from("ab"))));
        assert_eq!(start.elapsed(), Duration::from_millis(50));
        assert_eq!(body.next().await, Some(Ok(Bytes::from("late"))));
        assert_eq!(body.next().await, None);
    }

    #[tokio::test]
    async fn errors_come_after_the_gathered_bytes() {
        let items = stream::iter([Ok(Bytes::from("x")), Err(std::io::Error::other("boom"))]);
        let policy = Coalesce {
            max_bytes: 1024,
            max_delay: Duration::from_secs(1),
        };
        let mut body = Body::from_stream(items).coalesce(policy);
        assert_eq!(body.next().await, Some(Ok(Bytes::from("x"))));
        assert_eq!(body.next().await.unwrap().unwrap_err().message(), "boom");
        assert_eq!(body.next().await, None);
    }
}
