//! Bodies from streams of `serde::Serialize` records: NDJSON, a JSON array, CSV. Each record is
//! written straight into the chunk that carries it (no buffer of its own), and stays a whole
//! record there, so the budget and the deadline end a body after a whole record.

use std::task::Poll;

use bytes::{BufMut, Bytes, BytesMut};
use futures_util::{Stream, StreamExt};
use serde::Serialize;

use crate::aliases::BoxError;
use crate::body::{Body, Continuation, Truncation};
use crate::stream::MERGE;
use crate::stream::merge::MergeReady;
use crate::wire::{ErrorType, FunctionError};

fn record_error(context: &str, error: impl std::fmt::Display) -> FunctionError {
    FunctionError::new(ErrorType::STREAM_ERROR, format!("{context}: {error}"))
}

/// Appends `record` as JSON.
fn write_json(buffer: &mut BytesMut, record: &impl Serialize) -> Result<(), FunctionError> {
    serde_json::to_writer(buffer.writer(), record)
        .map_err(|e| record_error("a record does not serialize to JSON", e))
}

fn into_function_error<E: Into<BoxError>>(error: E) -> FunctionError {
    FunctionError::from_error(error.into(), ErrorType::STREAM_ERROR)
}

impl Body {
    /// Newline-delimited JSON (`application/x-ndjson`): one record per line, each a whole record
    /// to the budget and the deadline; the lines that are ready travel together.
    /// Add a [`Continuation`](crate::Continuation) to the response to end a cut export with a
    /// cursor line.
    ///
    /// ```
    /// # async fn example() {
    /// use futures_util::StreamExt;
    /// #[derive(serde::Serialize)]
    /// struct Row { id: u32 }
    /// let rows = futures_util::stream::iter([Row { id: 1 }, Row { id: 2 }].map(Ok::<_, std::io::Error>));
    /// let body: Vec<_> = lambda_stream::Body::ndjson(rows).into_data_stream().map(|c| c.unwrap()).collect().await;
    /// assert_eq!(body.concat(), b"{\"id\":1}\n{\"id\":2}\n");
    /// # }
    /// ```
    pub fn ndjson<S, T, E>(records: S) -> Body
    where
        S: Stream<Item = Result<T, E>> + Send + 'static,
        T: Serialize,
        E: Into<BoxError> + 'static,
    {
        Body::serialized(records, |buffer, record| {
            write_json(buffer, &record)?;
            buffer.put_u8(b'\n');
            Ok(())
        })
    }

    /// A JSON array (`application/json`) for clients that cannot read NDJSON: `[`, records
    /// separated by `,`, `]`. When the budget or the deadline cuts it, it still closes with `]`,
    /// so what arrives is always valid JSON (the records that fit).
    ///
    /// ```
    /// # async fn example() {
    /// use futures_util::StreamExt;
    /// let numbers = futures_util::stream::iter([1, 2, 3].map(Ok::<_, std::io::Error>));
    /// let body: Vec<_> = lambda_stream::Body::json_array(numbers).into_data_stream().map(|c| c.unwrap()).collect().await;
    /// assert_eq!(body.concat(), b"[1,2,3]");
    /// # }
    /// ```
    pub fn json_array<S, T, E>(records: S) -> Body
    where
        S: Stream<Item = Result<T, E>> + Send + 'static,
        T: Serialize,
        E: Into<BoxError> + 'static,
    {
        // `None` after the last record: the closing `]`, or `[]` when there was none.
        let records = records
            .map(|record| record.map(Some))
            .chain(futures_util::stream::once(async { Ok(None) }));
        let mut sent_any = false;
        let body = Body::serialized(records, move |buffer, record| {
            let Some(record) = record else {
                buffer.put_slice(if sent_any { b"]" } else { b"[]" });
                return Ok(());
            };
            buffer.put_u8(if sent_any { b',' } else { b'[' });
            write_json(buffer, &record)?;
            sent_any = true;
            Ok(())
        });
        let close = Continuation::new(2, |cut: &Truncation| {
            Bytes::from_static(if cut.records_sent == 0 { b"[]" } else { b"]" })
        });
        body.with_framing_end(close)
    }

    /// CSV (`text/csv`) with a header row from the first record's field names and the `csv`
    /// crate's quoting; one record per item (the header goes with the first).
    ///
    /// ```
    /// # async fn example() {
    /// use futures_util::StreamExt;
    /// #[derive(serde::Serialize)]
    /// struct Row { name: &'static str, note: &'static str }
    /// let rows = futures_util::stream::iter([Row { name: "a", note: "x, \"y\"" }].map(Ok::<_, std::io::Error>));
    /// let body: Vec<_> = lambda_stream::Body::csv(rows).into_data_stream().map(|c| c.unwrap()).collect().await;
    /// assert_eq!(body.concat(), b"name,note\na,\"x, \"\"y\"\"\"\n");
    /// # }
    /// ```
    #[cfg(feature = "csv")]
    #[cfg_attr(docsrs, doc(cfg(feature = "csv")))]
    pub fn csv<S, T, E>(records: S) -> Body
    where
        S: Stream<Item = Result<T, E>> + Send + 'static,
        T: Serialize,
        E: Into<BoxError> + 'static,
    {
        // The header goes with the first record.
        let mut first = true;
        Body::serialized(records, move |buffer, record| {
            let mut writer = csv::WriterBuilder::new()
                .has_headers(std::mem::take(&mut first))
                .buffer_capacity(256)
                .from_writer(buffer.writer());
            writer
                .serialize(&record)
                .map_err(|e| record_error("a record does not serialize to CSV", e))?;
            writer.flush().map_err(|e| record_error("CSV writer", e))
        })
    }

    /// A body of records, each written by `write` straight into the chunk that carries it
    /// (no buffer or copy of its own). The records that are ready travel together, as the
    /// streamed response merges ready items; each stays a whole record to the budget.
    fn serialized<S, T, E, W>(records: S, mut write: W) -> Body
    where
        S: Stream<Item = Result<T, E>> + Send + 'static,
        E: Into<BoxError> + 'static,
        W: FnMut(&mut BytesMut, T) -> Result<(), FunctionError> + Send + 'static,
    {
        let mut records = Box::pin(records);
        let mut merge = MergeReady::new(MERGE);
        Body::from_chunks(futures_util::stream::poll_fn(move |cx| {
            merge.poll_written(cx, |cx, gathered| {
                Poll::Ready(match std::task::ready!(records.as_mut().poll_next(cx)) {
                    Some(Ok(record)) => Some(
                        gathered
                            .write_record(|buffer| write(buffer, record))
                            .map(drop),
                    ),
                    Some(Err(error)) => Some(Err(into_function_error(error))),
                    None => None,
                })
            })
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use futures_util::stream;

    async fn collect(body: Body) -> (Vec<Bytes>, Option<FunctionError>) {
        let mut body = body.into_data_stream();
        let mut items = Vec::new();
        while let Some(item) = body.next().await {
            match item {
                Ok(bytes) => items.push(bytes),
                Err(error) => return (items, Some(error)),
            }
        }
        (items, None)
    }

    #[derive(Serialize)]
    struct Row {
        id: u32,
        text: String,
    }

    fn rows(texts: &[&str]) -> impl Stream<Item = Result<Row, std::io::Error>> + Send + 'static {
        let rows: Vec<_> = texts
            .iter()
            .enumerate()
            .map(|(i, t)| {
                Ok(Row {
                    id: i as u32,
                    text: (*t).to_owned(),
                })
            })
            .collect();
        stream::iter(rows)
    }

    /// Each chunk of `body`, as the whole records it holds.
    async fn records(mut body: Body) -> (Vec<Vec<Bytes>>, Option<FunctionError>) {
        let mut chunks = Vec::new();
        while let Some(chunk) = std::future::poll_fn(|cx| body.poll_chunk(cx)).await {
            let chunk = match chunk {
                Ok(chunk) => chunk,
                Err(error) => return (chunks, Some(error)),
            };
            let mut whole = Vec::new();
            let all = chunk.leading_records(|_, record| {
                whole.push(Bytes::copy_from_slice(record));
                true
            });
            assert_eq!(all as u64, chunk.records());
            chunks.push(whole);
        }
        (chunks, None)
    }

    #[tokio::test]
    async fn golden_ndjson_one_record_per_line_ready_ones_together() {
        let (chunks, error) = records(Body::ndjson(rows(&["a", "line\nbreak"]))).await;
        assert_eq!(
            chunks,
            [[
                Bytes::from("{\"id\":0,\"text\":\"a\"}\n"),
                Bytes::from("{\"id\":1,\"text\":\"line\\nbreak\"}\n")
            ]]
        );
        assert!(error.is_none());
    }

    #[tokio::test]
    async fn a_record_not_ready_yet_is_not_waited_for() {
        let (sender, receiver) = tokio::sync::mpsc::channel(4);
        let rows = tokio_stream::wrappers::ReceiverStream::new(receiver);
        let mut body = Body::ndjson(rows);
        sender.send(Ok::<_, std::io::Error>(1)).await.unwrap();
        sender.send(Ok(2)).await.unwrap();
        let first = std::future::poll_fn(|cx| body.poll_chunk(cx)).await;
        assert_eq!(first.unwrap().unwrap().into_data(), "1\n2\n");
        sender.send(Ok(3)).await.unwrap();
        drop(sender);
        let (rest, error) = records(body).await;
        assert_eq!(rest, [[Bytes::from("3\n")]]);
        assert!(error.is_none());
    }

    #[tokio::test]
    async fn records_split_into_chunks_of_at_most_64_kib_and_large_ones_go_alone() {
        let mut texts = vec!["x".repeat(90); 1500];
        texts.insert(700, "L".repeat(20_000));
        let texts: Vec<&str> = texts.iter().map(String::as_str).collect();
        let (chunks, error) = records(Body::ndjson(rows(&texts))).await;
        assert!(error.is_none());
        let all: Vec<Bytes> = chunks.iter().flatten().cloned().collect();
        assert_eq!(all.len(), 1501, "every record, whole");
        for (index, record) in all.iter().enumerate() {
            let row: serde_json::Value = serde_json::from_slice(record).unwrap();
            assert_eq!(row["id"], index, "in order");
        }
        for chunk in &chunks {
            let len: usize = chunk.iter().map(Bytes::len).sum();
            assert!(len <= 64 * 1024, "a chunk of {len} bytes");
        }
        let large = chunks
            .iter()
            .find(|chunk| chunk.iter().any(|r| r.len() > 20_000));
        assert_eq!(large.unwrap().len(), 1, "the large record goes alone");
    }

    #[tokio::test]
    async fn an_error_after_records_comes_after_them() {
        let rows = stream::iter([
            Ok(1),
            Ok(2),
            Err(std::io::Error::other("the database went away")),
            Ok(3),
        ]);
        let (chunks, error) = records(Body::ndjson(rows)).await;
        assert_eq!(chunks, [[Bytes::from("1\n"), Bytes::from("2\n")]]);
        assert_eq!(error.unwrap().message(), "the database went away");
    }

    #[tokio::test]
    async fn golden_json_array() {
        let (items, _) = collect(Body::json_array(rows(&["a", "b"]))).await;
        assert_eq!(
            items.concat(),
            b"[{\"id\":0,\"text\":\"a\"},{\"id\":1,\"text\":\"b\"}]"
        );
        let (items, _) = collect(Body::json_array(rows(&[]))).await;
        assert_eq!(items.concat(), b"[]");
    }

    #[cfg(feature = "csv")]
    #[tokio::test]
    async fn golden_csv_with_quoting() {
        let (chunks, _) =
            records(Body::csv(rows(&["plain", "comma, \"quote\"", "new\nline"]))).await;
        assert_eq!(
            chunks,
            [[
                Bytes::from("id,text\n0,plain\n"),
                Bytes::from("1,\"comma, \"\"quote\"\"\"\n"),
                Bytes::from("2,\"new\nline\"\n")
            ]],
            "the header travels with the first record"
        );
    }

    #[tokio::test]
    async fn unserializable_records_end_the_body_with_an_error() {
        let bad = stream::iter([Ok::<_, std::io::Error>(f64::NAN)]);
        let (items, error) = collect(Body::ndjson(bad)).await;
        assert_eq!(
            items,
            [Bytes::from("null\n")],
            "serde_json writes NaN as null"
        );
        assert!(error.is_none());
        let failing = stream::iter([Err::<u8, _>(std::io::Error::other("db"))]);
        let (_, error) = collect(Body::ndjson(failing)).await;
        assert_eq!(error.unwrap().message(), "db");
    }
}
