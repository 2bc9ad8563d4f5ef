//! The results as Markdown: our loop against the official one, then every two-hop path as a
//! share of the one-hop copy of the same paired round.

use std::fmt::Write as _;

use crate::paired::{Paired, PathResult, ROUNDS};
use crate::{CHUNK_SIZES, LoopResults};

/// Both tables, as `docs/perf/results.md` holds them.
pub(crate) fn table(ours: &LoopResults, official: &LoopResults, paired: &Paired) -> String {
    let mut table = loops(ours, official);
    let _ = writeln!(
        table,
        "\nAgainst raw TCP: {ROUNDS} paired rounds of 190 MiB in 64 KiB writes, every path once per \
         round, the order reversed every other round; each path's share is of the one-hop copy \
         of the same round.\n"
    );
    table.push_str(&against_raw(paired));
    table
}

/// Ours against the official loop, measure by measure.
fn loops(ours: &LoopResults, official: &LoopResults) -> String {
    let mut table = String::new();
    let _ = writeln!(
        table,
        "| measure | lambda-stream | lambda_runtime 1.5 | ours / official |"
    );
    let _ = writeln!(table, "|---|---|---|---|");
    for (i, chunk) in CHUNK_SIZES.iter().enumerate() {
        let label = if *chunk >= 1024 {
            format!("{} KiB", chunk / 1024)
        } else {
            format!("{chunk} B")
        };
        let (o, f) = (ours.throughput[i], official.throughput[i]);
        let _ = writeln!(
            table,
            "| 64 MiB in {label} chunks, MiB/s (median of 3) | {o:.1} | {f:.1} | {:.2}x |",
            o / f
        );
    }
    let coalesced = ours.tokens_coalesced.unwrap_or_default();
    let _ = writeln!(
        table,
        "| 16-byte tokens, items/s | {:.0} ({coalesced:.0} coalesced) | {:.0} | {:.2}x ({:.1}x coalesced) |",
        ours.tokens,
        official.tokens,
        ours.tokens / official.tokens,
        coalesced / official.tokens
    );
    let _ = writeln!(
        table,
        "| first yield -> client, p50 / p99 ms | {:.2} / {:.2} | {:.2} / {:.2} | |",
        ours.ttfb.0, ours.ttfb.1, official.ttfb.0, official.ttfb.1
    );
    let rss = |r: Option<f64>| r.map_or("n/a".to_owned(), |m| format!("{m:.1}"));
    let _ = writeln!(
        table,
        "| peak RSS growth streaming 75 MiB, MiB | {} | {} | |",
        rss(ours.rss_growth_mib),
        rss(official.rss_growth_mib)
    );
    let ratio = ours
        .cpu_per_gib
        .zip(official.cpu_per_gib)
        .map_or(String::new(), |(a, b)| format!("{:.2}x", a / b));
    let _ = writeln!(
        table,
        "| machine CPU ms per GiB at 64 KiB chunks | {} | {} | {ratio} |",
        cpu(ours.cpu_per_gib),
        cpu(official.cpu_per_gib)
    );
    table
}

/// Each path's rate, its share of the same round's one-hop copy, and its CPU per GiB.
fn against_raw(paired: &Paired) -> String {
    let mut table = String::new();
    let _ = writeln!(
        table,
        "| path | MiB/s: median (range) | share of the one-hop copy: median (range) | machine CPU ms per GiB |"
    );
    let _ = writeln!(table, "|---|---|---|---|");
    let rows = [
        ("raw loopback TCP copy (one hop)", Some(paired.direct)),
        (
            "lambda-stream: function -> emulator -> client (two hops)",
            Some(paired.ours),
        ),
        (
            "raw copy through a TCP relay (two hops)",
            Some(paired.copy_relay),
        ),
        ("raw zero-copy splice relay (two hops)", paired.splice_relay),
    ];
    for (name, result) in rows {
        let Some(PathResult {
            rate,
            share,
            cpu_per_gib,
        }) = result
        else {
            continue;
        };
        let _ = writeln!(
            table,
            "| {name} | {:.0} ({:.0} .. {:.0}) | {:.0}% ({:.0} .. {:.0}%) | {} |",
            rate.median,
            rate.min,
            rate.max,
            share.median,
            share.min,
            share.max,
            cpu(cpu_per_gib)
        );
    }
    table
}

fn cpu(ms: Option<f64>) -> String {
    ms.map_or("n/a".to_owned(), |ms| format!("{ms:.0}"))
}
