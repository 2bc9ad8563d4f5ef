//! The examples that need more than a few seconds or a dependency of their own, run as users run
//! them: `examples/sqlite_export` paging a real SQLite table of 1,000,000 rows to its end, and
//! `examples/bedrock_chat` against the test kit's Bedrock fixture.

#[path = "../common.rs"]
mod common;

mod bedrock_chat;
mod sqlite_export;
