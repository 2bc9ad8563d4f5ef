//! The function side: the real runtime loop, against the in-process Runtime API (exact bytes)
//! or the local emulator (read with a real HTTP client): budgets and continuations, framings,
//! compression, paging, slow readers, faults of the Runtime API, handlers written for the
//! official crates and for axum, and the default logs.

#[path = "../common.rs"]
mod common;

mod axum;
mod bedrock;
mod budget;
mod client;
mod compat;
mod compression;
mod faults;
mod framing;
mod logs;
mod paging;
mod runtime_loop;
mod slow_readers;
