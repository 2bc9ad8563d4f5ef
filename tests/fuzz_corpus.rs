//! Replays the fuzz seeds (and any local corpus) through the fuzz targets' checks, so a plain
//! `cargo test` catches a regression on every input the fuzzers were given.

use std::path::Path;

#[path = "../fuzz/checks.rs"]
mod checks;

fn replay(target: &str, check: fn(&[u8])) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../fuzz");
    let mut replayed = 0;
    for dir in [
        root.join("seeds").join(target),
        root.join("corpus").join(target),
    ] {
        let Ok(entries) = std::fs::read_dir(&dir) else {
            continue;
        };
        for entry in entries {
            let path = entry.unwrap().path();
            check(&std::fs::read(&path).unwrap());
            replayed += 1;
        }
    }
    assert!(replayed > 0, "no seeds for {target}");
}

#[test]
fn prelude_decoder_corpus() {
    replay("prelude_decoder", checks::prelude_decoder);
}

#[test]
fn chunked_decoder_corpus() {
    replay("chunked_decoder", checks::chunked_decoder);
}

#[test]
fn event_parser_corpus() {
    replay("event_parser", checks::event_parser);
}

#[test]
fn buffered_response_corpus() {
    replay("buffered_response", checks::buffered_response);
}

#[test]
fn accept_encoding_corpus() {
    replay("accept_encoding", checks::accept_encoding);
}

#[test]
fn runtime_api_corpus() {
    replay("runtime_api", checks::runtime_api);
}
