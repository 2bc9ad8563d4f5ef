//! A table streamed out of SQLite as NDJSON, CSV or a JSON array, with keyset pagination: when
//! the budget (or the deadline) ends a page, its last record is the link to the next one, so a
//! client that follows the links (`lambda-stream get`) reassembles the table exactly.
//!
//! `cargo run -p sqlite_export` builds a demo database of 200,000 orders in the temp
//! directory (or set `ORDERS_DB` to your own, with a table `orders(id INTEGER PRIMARY KEY,
//! customer TEXT, amount_cents INTEGER, status TEXT)`), then
//! `curl -sN 'localhost:9000/?status=refunded&min_amount=50000' | head -n 3`,
//! `curl -sN 'localhost:9000/?format=csv' | tail -n 2`, and with a small budget
//! (`LAMBDA_STREAM_BUDGET=1000000`) the last line is `{"next":"/?after=...&format=ndjson"}`.
//!
//! Why `rusqlite` (through the `deadpool-sqlite` pool) and not `sqlx`: SQLite is embedded and
//! its calls block, so the query runs on a blocking thread (the pool's `interact`) and hands
//! each row to the response through a bounded channel: a slow client fills the channel, the
//! blocked send stops the query's loop, and nothing is collected ahead. One small dependency
//! with SQLite bundled; `sqlx` would run the same blocking calls on a worker thread of its own.

use std::path::Path;

use deadpool_sqlite::{Config, Pool, Runtime};
use lambda_stream::{
    Body, BoxError, Coalesce, Context, Continuation, Request, Response, Truncation,
};
use rusqlite::{OptionalExtension, params};
use serde::{Deserialize, Serialize};
use tokio_stream::wrappers::ReceiverStream;

mod query;
use query::{Export, Format};

/// One row of the `orders` table.
#[derive(Debug, Serialize, Deserialize)]
struct Order {
    id: i64,
    customer: String,
    amount_cents: i64,
    status: String,
}

/// Rows handed over at most this many ahead of the response: the query waits beyond it.
const ROWS_AHEAD: usize = 256;
/// The longest link to the next page, in bytes (kept at the end of the budget).
const LINK_LEN: usize = 140;

/// Opens the pool once (in `run_with_init`) and checks the table is there: a missing file or
/// table is an init error, reported before any request is served.
async fn open(path: &Path) -> Result<Pool, BoxError> {
    // Read only, and never created: `mode=ro` in SQLite's URI form.
    let uri = format!("file:{}?mode=ro", path.display()).replace('#', "%23");
    let pool = Config::new(uri).create_pool(Runtime::Tokio1)?;
    let connection = pool.get().await?;
    let rows: i64 = connection
        .interact(|c| c.query_row("SELECT count(*) FROM orders", [], |row| row.get(0)))
        .await
        .map_err(|error| format!("{error}"))?
        .map_err(|error| format!("cannot read table orders in {}: {error}", path.display()))?;
    eprintln!("sqlite_export: {rows} orders in {}", path.display());
    Ok(pool)
}

/// Runs the export's query on the pool's blocking thread, sending rows as SQLite yields them;
/// stops when the response is gone (the send fails) or the rows end.
fn send_rows(
    connection: &mut rusqlite::Connection,
    export: &Export,
    rows: &tokio::sync::mpsc::Sender<Result<Order, rusqlite::Error>>,
) -> rusqlite::Result<()> {
    let mut statement = connection.prepare_cached(
        "SELECT id, customer, amount_cents, status FROM orders \
         WHERE id > ?1 AND (?2 IS NULL OR status = ?2) AND amount_cents >= ?3 ORDER BY id",
    )?;
    let mut found = statement.query(params![export.after, export.status, export.min_amount])?;
    while let Some(row) = found.next()? {
        let order = Order {
            id: row.get(0)?,
            customer: row.get(1)?,
            amount_cents: row.get(2)?,
            status: row.get(3)?,
        };
        if rows.blocking_send(Ok(order)).is_err() {
            return Ok(()); // the response ended (its budget, or the client): stop reading
        }
    }
    Ok(())
}

/// The id in the last record sent: an NDJSON line, a JSON array's element (after its `[` or
/// `,`), or a CSV record, read as CSV (the first record also carries the header line, and a
/// quoted field may hold line breaks, so its last *line* need not start with the id).
fn last_id(format: Format, record: &[u8]) -> Option<i64> {
    let order = |json: &[u8]| serde_json::from_slice::<Order>(json).ok().map(|o| o.id);
    match format {
        Format::Ndjson => order(record),
        Format::Json => order(record.get(1..)?),
        Format::Csv => {
            let mut reader = csv::ReaderBuilder::new()
                .has_headers(false)
                .from_reader(record);
            let last = reader.records().map_while(Result::ok).last()?;
            last.get(0)?.parse().ok()
        }
    }
}

async fn export(pool: &Pool, request: Request) -> Result<Response, BoxError> {
    let export = match Export::from_request(&request) {
        Ok(export) => export,
        Err(problem) => return Ok(problem.into_response()),
    };
    let connection = pool.get().await?;
    let (sender, receiver) = tokio::sync::mpsc::channel(ROWS_AHEAD);
    let query = export.clone();
    tokio::spawn(async move {
        let failed = sender.clone();
        let ran = connection
            .interact(move |c| send_rows(c, &query, &sender))
            .await;
        if let Ok(Err(error)) = ran {
            // A query that fails mid-way ends the response with an error trailer.
            let _ = failed.send(Err(error)).await;
        }
    });
    let rows = ReceiverStream::new(receiver);
    let body = match export.format {
        Format::Ndjson => Body::ndjson(rows),
        Format::Csv => Body::csv(rows),
        Format::Json => Body::json_array(rows),
    };
    let content_type = export.format.content_type();
    // A page cut by its budget or the deadline ends with the standard link to the next one
    // (`{"next":..}`, `#next=..`, or a last element `{"next":..}` and `]`), keyed on the
    // last row it sent.
    let format = export.format;
    let link = move |cut: &Truncation| {
        let after = cut.last_record.as_deref().and_then(|r| last_id(format, r));
        export.next_page_link(after.unwrap_or(export.after))
    };
    let next_page = match format {
        Format::Ndjson => Continuation::ndjson_link(LINK_LEN, link),
        Format::Csv => Continuation::csv_link(LINK_LEN, link),
        Format::Json => Continuation::json_array_link(LINK_LEN, link),
    };
    // ~70-byte rows: merged into 64 KiB chunks, never holding one over 50 ms.
    let merge = Coalesce {
        max_bytes: 64 * 1024,
        max_delay: std::time::Duration::from_millis(50),
    };
    Ok(http::Response::builder()
        .header("content-type", content_type)
        .extension(next_page)
        .body(body.coalesce(merge))?)
}

/// A demo table of `rows` orders, built once in the temp directory when `ORDERS_DB` is unset.
fn demo_database(rows: i64) -> Result<std::path::PathBuf, BoxError> {
    let path = std::env::temp_dir().join(format!("lambda-stream-orders-{rows}.db"));
    let mut connection = rusqlite::Connection::open(&path)?;
    connection.execute_batch(
        "CREATE TABLE IF NOT EXISTS orders (id INTEGER PRIMARY KEY, customer TEXT NOT NULL, \
         amount_cents INTEGER NOT NULL, status TEXT NOT NULL)",
    )?;
    let present: Option<i64> = connection
        .query_row("SELECT max(id) FROM orders", [], |row| row.get(0))
        .optional()?
        .flatten();
    if present != Some(rows) {
        let fill = connection.transaction()?;
        fill.execute("DELETE FROM orders", [])?;
        let mut insert = fill.prepare("INSERT INTO orders VALUES (?1, ?2, ?3, ?4)")?;
        for id in 1..=rows {
            let status = ["paid", "refunded", "pending"][(id % 7 % 3) as usize];
            insert.execute(params![
                id,
                format!("customer-{:05}", id % 9973),
                id * 7919 % 100_000,
                status
            ])?;
        }
        drop(insert);
        fill.commit()?;
    }
    Ok(path)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_stream::Error> {
    lambda_stream::run_with_init(|| async {
        let path = match std::env::var_os("ORDERS_DB") {
            Some(path) => path.into(),
            None => demo_database(200_000)?,
        };
        let pool = open(&path).await?;
        Ok::<_, BoxError>(move |request: Request, _context: Context| {
            let pool = pool.clone();
            async move { export(&pool, request).await }
        })
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_id_is_read_from_a_csv_record_whose_field_spans_lines() {
        let first = b"id,customer,amount_cents,status\n41,\"c1\nbranch 2\",100,paid\n";
        assert_eq!(last_id(Format::Csv, first), Some(41));
        assert_eq!(
            last_id(Format::Csv, b"42,\"a, \"\"b\"\"\nc\",1,paid\n"),
            Some(42)
        );
        assert_eq!(last_id(Format::Csv, b"not,a,row\n"), None);
    }

    #[test]
    fn the_id_is_read_from_a_json_arrays_element() {
        let row = br#"{"id":43,"customer":"c","amount_cents":1,"status":"paid"}"#;
        assert_eq!(last_id(Format::Json, &[b"[", &row[..]].concat()), Some(43));
        assert_eq!(last_id(Format::Json, &[b",", &row[..]].concat()), Some(43));
        assert_eq!(last_id(Format::Json, b""), None);
    }
}
