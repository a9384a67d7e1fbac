//! Raw matching at scale: the body-signature matcher alone over random data, at 1k, 10k, 100k and 1M
//! random binary signatures of 8 to 32 bytes, and at 100k with 30% of them printable strings sharing
//! common prefixes; and the time to compile each database.
//!
//! `cargo bench --bench matcher` (set `PORTCULLIS_BENCH_MAX=100000` to skip the million). Memory per
//! signature is printed once per size, beside the criterion output.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/synth.rs"]
mod synth;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use portcullis::fuzzing::RawMatcher;
use synth::NdbShape;

/// Data scanned per iteration.
const HAYSTACK: usize = 16 << 20;

fn sizes() -> Vec<usize> {
    let max: usize = std::env::var("PORTCULLIS_BENCH_MAX")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    [1_000, 10_000, 100_000, 1_000_000]
        .into_iter()
        .filter(|&n| n <= max)
        .collect()
}

fn databases() -> Vec<(String, usize, String)> {
    let mut dbs: Vec<(String, usize, String)> = sizes()
        .into_iter()
        .map(|n| ("random".to_string(), n, synth::ndb(n, 1, NdbShape::RAW)))
        .collect();
    let shared = NdbShape {
        ascii_frac: 0.3,
        ..NdbShape::RAW
    };
    dbs.push((
        "ascii30".to_string(),
        100_000,
        synth::ndb(100_000, 1, shared),
    ));
    dbs
}

fn raw_matching(c: &mut Criterion) {
    let haystack = synth::noise(HAYSTACK, 7);
    let mut group = c.benchmark_group("matcher");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1))
        .throughput(Throughput::Bytes(HAYSTACK as u64));
    for (kind, n, text) in databases() {
        let matcher = RawMatcher::from_ndb(&text).unwrap();
        eprintln!(
            "matcher/{kind}/{n}: {:.1} bytes per signature",
            matcher.memory_usage() as f64 / n as f64
        );
        group.bench_with_input(BenchmarkId::new(kind, n), &haystack, |b, h| {
            b.iter(|| black_box(matcher.count(h)))
        });
    }
    group.finish();
}

fn build(c: &mut Criterion) {
    let mut group = c.benchmark_group("matcher-build");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(4))
        .warm_up_time(Duration::from_secs(1));
    for (kind, n, text) in databases() {
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::new(kind, n), &text, |b, t| {
            b.iter(|| black_box(RawMatcher::from_ndb(t).unwrap()))
        });
    }
    group.finish();
}

criterion_group!(benches, raw_matching, build);
criterion_main!(benches);
