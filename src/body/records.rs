//! Bodies from streams of `serde::Serialize` records: NDJSON, a JSON array, CSV. Each record is
//! one item, so the budget and the deadline end a body after a whole record.

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use serde::Serialize;

use crate::aliases::BoxError;
use crate::body::{Body, Continuation, Truncation};
use crate::wire::{ErrorType, FunctionError};

fn record_error(context: &str, error: impl std::fmt::Display) -> FunctionError {
    FunctionError::new(ErrorType::STREAM_ERROR, format!("{context}: {error}"))
}

fn into_function_error<E: Into<BoxError>>(error: E) -> FunctionError {
    FunctionError::from_error(error.into(), ErrorType::STREAM_ERROR)
}

impl Body {
    /// Newline-delimited JSON (`application/x-ndjson`): one record per line, one item each.
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
        Body::from_stream(records.map(|record| {
            let record = record.map_err(into_function_error)?;
            let mut line = serde_json::to_vec(&record)
                .map_err(|e| record_error("a record does not serialize to JSON", e))?;
            line.push(b'\n');
            Ok::<_, FunctionError>(Bytes::from(line))
        }))
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
        let items = records
            .enumerate()
            .map(|(index, record)| {
                let record = record.map_err(into_function_error)?;
                let mut item = vec![if index == 0 { b'[' } else { b',' }];
                serde_json::to_writer(&mut item, &record)
                    .map_err(|e| record_error("a record does not serialize to JSON", e))?;
                Ok::<_, FunctionError>(Bytes::from(item))
            })
            .chain(futures_util::stream::once(async { Ok(Bytes::new()) }));
        // The closing item: `]`, or `[]` when there was no record. Computed at the end from
        // whether anything was sent, so it is a separate stream stage.
        let mut sent_any = false;
        let items = items.map(move |item| match item {
            Ok(bytes) if bytes.is_empty() => {
                Ok(Bytes::from_static(if sent_any { b"]" } else { b"[]" }))
            }
            Ok(bytes) => {
                sent_any = true;
                Ok(bytes)
            }
            Err(error) => Err(error),
        });
        let close = Continuation::new(2, |cut: &Truncation| {
            Bytes::from_static(if cut.records_sent == 0 { b"[]" } else { b"]" })
        });
        Body::from_stream(items).with_framing_end(close)
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
        let mut first = true;
        Body::from_stream(records.map(move |record| {
            let record = record.map_err(into_function_error)?;
            let mut writer = csv::WriterBuilder::new()
                .has_headers(std::mem::take(&mut first))
                .buffer_capacity(256)
                .from_writer(Vec::new());
            writer
                .serialize(&record)
                .map_err(|e| record_error("a record does not serialize to CSV", e))?;
            let line = writer
                .into_inner()
                .map_err(|e| record_error("CSV writer", e.error()))?;
            Ok::<_, FunctionError>(Bytes::from(line))
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

    #[tokio::test]
    async fn golden_ndjson_one_item_per_record() {
        let (items, error) = collect(Body::ndjson(rows(&["a", "line\nbreak"]))).await;
        assert_eq!(
            items,
            [
                Bytes::from("{\"id\":0,\"text\":\"a\"}\n"),
                Bytes::from("{\"id\":1,\"text\":\"line\\nbreak\"}\n")
            ]
        );
        assert!(error.is_none());
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
        let (items, _) =
            collect(Body::csv(rows(&["plain", "comma, \"quote\"", "new\nline"]))).await;
        assert_eq!(items.len(), 3, "the header travels with the first record");
        assert_eq!(
            items.concat(),
            b"id,text\n0,plain\n1,\"comma, \"\"quote\"\"\"\n2,\"new\nline\"\n"
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
