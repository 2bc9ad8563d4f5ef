//! Real peers: an AWS SDK (boto3), a browser (headless Chromium), a hostile runtime in another
//! language, and AWS's own Runtime Interface Emulator run side by side with ours. A peer this
//! machine lacks makes its tests show as ignored, with the reason (see `build.rs`); CI installs
//! them all and requires them.

#[path = "../common.rs"]
mod common;

mod boto3;
mod browser;
mod foreign_runtime;
mod rie_differential;
