//! Coalescing: merge small items into fewer chunks without holding any byte past a delay.

use std::time::Duration;

use crate::body::Body;
use crate::stream::merge::{MergeLimits, MergeReady};

/// A flush policy: send when the next item would take the gathered bytes past `max_bytes`, or
/// when the oldest gathered byte has waited `max_delay`, whichever comes first. The default flushes every item as it comes
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
    /// The most bytes one chunk gathers (whole items; an item this large goes alone, uncopied).
    pub max_bytes: usize,
    /// The longest any byte waits.
    pub max_delay: Duration,
}

impl Body {
    /// Merges this body's items by `policy`. A budget still ends the body on a record
    /// boundary, and a [`Continuation`](crate::Continuation) still counts records: each merged
    /// chunk carries where its records end.
    pub fn coalesce(mut self, policy: Coalesce) -> Body {
        let framing_end = self.take_framing_end();
        let limits = MergeLimits {
            merge_below: policy.max_bytes,
            max_bytes: policy.max_bytes,
            window: policy.max_delay,
            wait_for_more: true,
        };
        let mut merge = MergeReady::new(limits);
        let merged = Body::from_chunks(futures_util::stream::poll_fn(move |cx| {
            merge.poll_merged(cx, |cx| self.poll_chunk(cx))
        }));
        match framing_end {
            Some(end) => merged.with_framing_end(end),
            None => merged,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use futures_util::{StreamExt, stream};

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
            .into_data_stream()
            .map(|c| c.unwrap())
            .collect()
            .await;
        let sizes: Vec<_> = chunks.iter().map(Bytes::len).collect();
        assert_eq!(
            sizes,
            [18, 18, 6],
            "whole 6-byte tokens, never past 20 bytes; the rest flushed at the end"
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
        let mut body = Body::from_stream(slow).coalesce(policy).into_data_stream();
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
        let mut body = Body::from_stream(items).coalesce(policy).into_data_stream();
        assert_eq!(body.next().await, Some(Ok(Bytes::from("x"))));
        assert_eq!(body.next().await.unwrap().unwrap_err().message(), "boom");
        assert_eq!(body.next().await, None);
    }
}
