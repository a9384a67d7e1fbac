//! Criterion benchmarks: whole-message scanning of the corpus, and body-signature matching as the number of
//! signatures grows. Compare runs as ratios on the same machine (`cargo bench -- --save-baseline NAME`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;

#[path = "../tests/support/synth.rs"]
mod synth;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use portcullis::{Engine, HeuristicMode, Heuristics};

/// `n` random `.ndb` body signatures, a fifth with a wildcard (the project's generator).
fn ndb(n: usize) -> String {
    synth::ndb(n, 1, synth::NdbShape::MAIL)
}

fn corpus() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| e == "eml") && !p.to_string_lossy().contains("limits-22")
        })
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

fn whole_messages(c: &mut Criterion) {
    let engine = Engine::builder().build().unwrap();
    let messages = corpus();
    let total: usize = messages.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("corpus");
    group.throughput(Throughput::Bytes(total as u64));
    group.bench_function("scan_bytes", |b| {
        b.iter(|| {
            for m in &messages {
                black_box(engine.scan_bytes(m).unwrap());
            }
        })
    });
    group.finish();
}

/// What the heuristic scorer costs on top of a signature-only scan of the same messages.
fn heuristics_cost(c: &mut Criterion) {
    let messages = corpus();
    let total: usize = messages.iter().map(Vec::len).sum();
    let mut group = c.benchmark_group("heuristics");
    group.throughput(Throughput::Bytes(total as u64));
    for (label, mode) in [("off", HeuristicMode::Off), ("score", HeuristicMode::Score)] {
        let engine = Engine::builder()
            .heuristics(Heuristics::default().mode(mode))
            .build()
            .unwrap();
        group.bench_function(label, |b| {
            b.iter(|| {
                for m in &messages {
                    black_box(engine.scan_bytes(m).unwrap());
                }
            })
        });
    }
    group.finish();
}

fn matcher_scaling(c: &mut Criterion) {
    let data = synth::noise(1 << 20, 7);
    let mut message = b"Subject: bench\r\nContent-Type: application/octet-stream\r\n\r\n".to_vec();
    message.extend_from_slice(&data);
    let mut group = c.benchmark_group("body-signatures");
    group.throughput(Throughput::Bytes(message.len() as u64));
    group.sample_size(10);
    for n in [1_000usize, 10_000] {
        let engine = Engine::builder()
            .load_str("bench.ndb", &ndb(n))
            .unwrap()
            .build()
            .unwrap();
        group.bench_with_input(BenchmarkId::new("random-1MiB", n), &message, |b, m| {
            b.iter(|| black_box(engine.scan_bytes(m).unwrap()))
        });
    }
    group.finish();
}

fn database_load(c: &mut Criterion) {
    let text = ndb(10_000);
    let mut group = c.benchmark_group("load");
    group.sample_size(10);
    group.bench_function("ndb-10k", |b| {
        b.iter(|| {
            black_box(
                Engine::builder()
                    .load_str("bench.ndb", &text)
                    .unwrap()
                    .build()
                    .unwrap(),
            )
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    whole_messages,
    heuristics_cost,
    matcher_scaling,
    database_load
);
criterion_main!(benches);
