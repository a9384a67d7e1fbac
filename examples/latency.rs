//! The time from the end of a message to its verdict, for portcullis (`ScanSession::finish` after the
//! message was fed in 64 KiB chunks) and, given `--clamd`, for a running clamd (from the INSTREAM
//! terminator to the reply), on the same messages: what an SMTP server waits for after the final dot.
//!
//! ```text
//! cargo run --release --example latency -- [--database PATH | --compiled FILE] [--clamd SOCKET]
//!                                          [--repeat 20] [--zip] [--nested] [--text] [--forwarded]
//! ```
//! `SOCKET` is a Unix socket path or `host:port`. `benches/vs-clamd.sh` starts a clamd with the same
//! signatures and runs this. Messages come from `tests/support/probes.rs` (10 KB to 25 MB, clean); with
//! `--text`, each is a message that is its own text body, with no attachment; with `--forwarded`, each
//! forwards a message with plain attachments as an attachment (`message/rfc822`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/corpusgen.rs"]
mod corpusgen;
#[path = "../tests/support/probes.rs"]
mod probes;
#[path = "../tests/support/synth.rs"]
mod synth;

use std::io::{Read, Write};
use std::time::{Duration, Instant};

use portcullis::Engine;

const CHUNK: usize = 64 << 10;

fn arg(args: &[String], name: &str) -> Option<String> {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
}

/// Median and 99th percentile, in milliseconds.
fn summary(mut times: Vec<Duration>) -> (f64, f64) {
    times.sort();
    let at = |q: f64| {
        let i = ((times.len() as f64 - 1.0) * q).round() as usize;
        times[i].as_secs_f64() * 1e3
    };
    (at(0.5), at(0.99))
}

trait Stream: Read + Write {}
impl<T: Read + Write> Stream for T {}

fn connect(addr: &str) -> Box<dyn Stream> {
    if addr.contains('/') {
        Box::new(std::os::unix::net::UnixStream::connect(addr).expect("clamd socket"))
    } else {
        Box::new(std::net::TcpStream::connect(addr).expect("clamd address"))
    }
}

/// One INSTREAM scan: sends the message in chunks, then times the terminator to the reply.
fn clamd_once(addr: &str, message: &[u8]) -> (Duration, String) {
    let mut s = connect(addr);
    s.write_all(b"zINSTREAM\0").unwrap();
    for c in message.chunks(CHUNK) {
        s.write_all(&(c.len() as u32).to_be_bytes()).unwrap();
        s.write_all(c).unwrap();
    }
    s.flush().unwrap();
    let start = Instant::now();
    s.write_all(&0u32.to_be_bytes()).unwrap();
    let mut reply = Vec::new();
    let mut byte = [0u8; 1];
    while s.read(&mut byte).unwrap_or(0) == 1 && byte[0] != 0 {
        reply.push(byte[0]);
    }
    (
        start.elapsed(),
        String::from_utf8_lossy(&reply).into_owned(),
    )
}

fn kib(bytes: usize) -> String {
    format!("{:.0} KiB", bytes as f64 / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let repeat: usize = arg(&args, "--repeat").map_or(20, |r| r.parse().unwrap());
    let zip = args.iter().any(|a| a == "--zip");
    let nested = args.iter().any(|a| a == "--nested");
    let text = args.iter().any(|a| a == "--text");
    let forwarded = args.iter().any(|a| a == "--forwarded");
    let mut builder = Engine::builder();
    if let Some(p) = arg(&args, "--database") {
        builder = builder.load_path(p).unwrap();
    }
    if let Some(p) = arg(&args, "--compiled") {
        builder = builder.load_compiled(p).unwrap();
    }
    let engine = builder.build().unwrap();
    let clamd = arg(&args, "--clamd");
    println!(
        "latency after the end of a clean message ({}), fed in 64 KiB chunks; median / p99 of {repeat} runs, ms",
        match (text, zip, nested) {
            _ if forwarded => "a forwarded message with plain attachments, as an attachment",
            (true, _, _) => "a text body, quoted-printable, no attachment",
            (false, true, false) => "zip attachments",
            (false, false, false) => "plain attachments",
            (false, true, true) => "zip attachments in a nested multipart",
            (false, false, true) => "plain attachments in a nested multipart",
        }
    );
    println!(
        "| size | portcullis finish() | clamd INSTREAM | ratio (median) | session memory, peak |"
    );
    println!("|---|---|---|---|---|");
    for (label, size) in probes::SIZES {
        let message = match (text, forwarded) {
            (_, true) => probes::forwarded(size),
            (true, _) => probes::text_body(size),
            _ => probes::shaped(size, zip, nested),
        };
        let mut ours = Vec::new();
        let mut peak = 0;
        for _ in 0..repeat {
            let mut session = engine.session();
            for c in message.chunks(CHUNK) {
                session.feed(c).unwrap();
                peak = peak.max(session.memory_usage());
            }
            let start = Instant::now();
            let verdict = session.finish().unwrap();
            ours.push(start.elapsed());
            assert!(!verdict.is_infected(), "{label}: {verdict:?}");
        }
        let (om, op) = summary(ours);
        match &clamd {
            Some(addr) => {
                let mut theirs = Vec::new();
                for _ in 0..repeat {
                    let (t, reply) = clamd_once(addr, &message);
                    assert!(reply.ends_with("OK"), "clamd: {reply}");
                    theirs.push(t);
                }
                let (cm, cp) = summary(theirs);
                println!(
                    "| {label} | {om:.3} / {op:.3} | {cm:.1} / {cp:.1} | {:.0}x | {} |",
                    cm / om,
                    kib(peak)
                );
            }
            None => println!("| {label} | {om:.3} / {op:.3} | - | - | {} |", kib(peak)),
        }
    }
}
