//! The work of scanning one 10 MB probe message (`tests/support/probes.rs`) fed to a session, against
//! `scan_bytes` on the same message, for an instruction counter, whose counts do not move with the load of a
//! shared machine as the wall clock does:
//!
//! ```text
//! cargo build --release --example feed_cost
//! valgrind --tool=callgrind --callgrind-out-file=/dev/null target/release/examples/feed_cost MODE [CHUNK [DB [FILE]]]
//! ```
//! `MODE` is `none` (only builds the message: subtract it), `whole` (`scan_bytes`), `keep` (a session that
//! keeps the message) or `letgo` (a session that lets go of scanned parts, the default); `CHUNK` is the size
//! of each `feed` (4096); `DB`, a database to load instead of the built-in one (a file or a folder: the
//! official ClamAV database, say; `-` for the built-in one); `FILE`, a message to feed instead of the probe.
//!
//! With `FEED_COST_REPEAT=N` in the environment the message is scanned N times by the same engine. What an
//! engine builds once, on first use (the plans of regular-expression searches for each file type), is then
//! counted once: the cost of one more message is the difference between N = 2 and N = 1.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/corpusgen.rs"]
mod corpusgen;
#[path = "../tests/support/probes.rs"]
mod probes;
#[path = "../tests/support/synth.rs"]
mod synth;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map_or("letgo", String::as_str);
    let chunk: usize = args.get(1).map_or(4096, |c| c.parse().expect("CHUNK"));
    let engine = match args.get(2) {
        Some(db) if db != "-" => portcullis::Engine::builder().load_path(db).unwrap(),
        _ => portcullis::Engine::builder(),
    }
    .build()
    .unwrap();
    let message = match args.get(3) {
        Some(file) => std::fs::read(file).unwrap(),
        None => probes::message(10_000_000, false),
    };
    let repeat: usize = std::env::var("FEED_COST_REPEAT").map_or(1, |r| r.parse().expect("N"));
    for _ in 0..repeat {
        let verdict = match mode {
            "none" => return,
            "whole" => engine.scan_bytes(&message).unwrap(),
            "keep" | "letgo" => {
                let mut session = engine.session();
                if mode == "keep" {
                    session = session.with_let_go_step(usize::MAX);
                }
                for c in message.chunks(chunk) {
                    session.feed(c).unwrap();
                }
                session.finish().unwrap()
            }
            other => panic!("unknown mode {other}"),
        };
        if args.get(3).is_none() {
            assert!(verdict.is_clean(), "{verdict:?}");
        }
    }
}
