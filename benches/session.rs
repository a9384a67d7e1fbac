//! Streaming sessions: the latency of `finish()` once a message has been fed in 64 KiB chunks (what an SMTP
//! server waits for after the final dot), for clean messages of 10 KB to 25 MB whose attachments are plain
//! files or zip archives, or plain files inside a nested `multipart/related`, or inside a forwarded message
//! (`message/rfc822`); and feeding throughput per chunk size against `scan_bytes` on the same message.
//!
//! `cargo bench --bench session`. `examples/latency.rs` gives the same latencies as medians and p99 next to
//! clamd's (`benches/vs-clamd.sh`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/corpusgen.rs"]
mod corpusgen;
#[path = "../tests/support/probes.rs"]
mod probes;
#[path = "../tests/support/synth.rs"]
mod synth;

use std::hint::black_box;
use std::time::Duration;

use criterion::{BatchSize, BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use portcullis::{Engine, ScanSession};

fn fed(engine: &Engine, message: &[u8], chunk: usize) -> ScanSession {
    let mut session = engine.session();
    for c in message.chunks(chunk) {
        session.feed(c).unwrap();
    }
    session
}

fn finish_latency(c: &mut Criterion) {
    let engine = Engine::builder().build().unwrap();
    let mut group = c.benchmark_group("finish");
    group
        .sample_size(20)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_millis(500));
    for (kind, zip, nested) in [
        ("plain", false, false),
        ("zip", true, false),
        ("nested", false, true),
        ("forwarded", false, false),
    ] {
        for (label, size) in probes::SIZES {
            let message = match kind {
                "forwarded" => probes::forwarded(size),
                _ => probes::shaped(size, zip, nested),
            };
            let s = fed(&engine, &message, 64 << 10);
            eprintln!(
                "finish/{kind}/{label}: session memory {:.1} KiB for {:.1} KiB of message",
                s.memory_usage() as f64 / 1024.0,
                message.len() as f64 / 1024.0
            );
            group.bench_with_input(BenchmarkId::new(kind, label), &message, |b, m| {
                b.iter_batched(
                    || fed(&engine, m, 64 << 10),
                    |s| black_box(s.finish().unwrap()),
                    BatchSize::PerIteration,
                )
            });
        }
    }
    group.finish();
}

fn feeding_throughput(c: &mut Criterion) {
    let engine = Engine::builder().build().unwrap();
    let message = probes::message(10_000_000, false);
    let mut group = c.benchmark_group("throughput");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .throughput(Throughput::Bytes(message.len() as u64));
    group.bench_function("scan_bytes", |b| {
        b.iter(|| black_box(engine.scan_bytes(&message).unwrap()))
    });
    for chunk in [4 << 10, 64 << 10] {
        group.bench_with_input(
            BenchmarkId::new("session", format!("{}KiB", chunk >> 10)),
            &chunk,
            |b, &chunk| b.iter(|| black_box(fed(&engine, &message, chunk).finish().unwrap())),
        );
    }
    group.finish();
}

criterion_group!(benches, finish_latency, feeding_throughput);
criterion_main!(benches);
