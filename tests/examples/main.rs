//! The examples that need more than a few seconds or a dependency of their own, run as users run
//! them: `examples/sqlite_export` paging a real SQLite table of 1,000,000 rows to its end.

#[path = "../common.rs"]
mod common;

mod sqlite_export;
