//! Writes a synthetic signature database and a synthetic mail corpus with planted detections, the same for
//! a seed on every machine: the input of `benches/vs-clamav.sh`, which runs clamscan and portcullis on it.
//!
//! ```text
//! cargo run --release --example gen_synth -- db     --out DIR [--ndb 100000] [--hdb 1000000] [--seed 1] [--ascii-frac 0]
//! cargo run --release --example gen_synth -- corpus --out DIR [--mb 100] [--seed 1]
//! ```
//!
//! `db` writes `synth.ndb` (random body signatures of 10-40 bytes, a fifth with a wildcard, or a share
//! `--ascii-frac` of printable strings beginning with common script and HTML tokens), `synth.hdb` (MD5s of
//! random content with random sizes) and `planted.ndb` / `planted.hdb`, the signatures the corpus plants,
//! which do not depend on `--ndb`/`--hdb`. `corpus` writes `DIR/*.eml` (plain text, HTML, base64
//! attachments, zip and gzip attachments) and `DIR.expected`: one line `FILE NAME` per planted detection.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/corpusgen.rs"]
mod corpusgen;
#[path = "../tests/support/synth.rs"]
mod synth;

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use md5::{Digest, Md5};
use synth::{NdbShape, Rng};

/// Planted body signatures: (name, `.ndb` hex, bytes to plant).
fn planted_ndb(seed: u64) -> Vec<(String, String, Vec<u8>)> {
    let mut rng = Rng::new(seed ^ 0x504c_414e_5444);
    (0..16)
        .map(|i| {
            let n = rng.range(16, 24);
            let bytes = rng.bytes(n);
            let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
            // A quarter of them with a wildcard byte: the planted bytes fill it.
            let hex = if i % 4 == 0 {
                format!("{}??{}", &hex[..16], &hex[18..])
            } else {
                hex
            };
            (format!("Synth.Planted.Ndb-{i}"), hex, bytes)
        })
        .collect()
}

/// Planted hash signatures: (name, file content).
fn planted_hdb(seed: u64) -> Vec<(String, Vec<u8>)> {
    let mut rng = Rng::new(seed ^ 0x4841_5348);
    (0..8)
        .map(|i| {
            let n = rng.range(1024, 8192);
            (format!("Synth.Planted.Hdb-{i}"), rng.bytes(n))
        })
        .collect()
}

fn md5_hex(data: &[u8]) -> String {
    Md5::digest(data)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn words(rng: &mut Rng, bytes: usize) -> String {
    const WORDS: &[&str] = &[
        "the",
        "of",
        "and",
        "to",
        "in",
        "is",
        "for",
        "that",
        "on",
        "with",
        "invoice",
        "payment",
        "account",
        "please",
        "order",
        "shipping",
        "meeting",
        "report",
        "quarterly",
        "update",
        "attached",
        "document",
        "review",
        "team",
        "project",
        "schedule",
        "customer",
        "service",
        "support",
        "thanks",
        "regards",
        "information",
        "details",
        "contact",
        "office",
        "week",
        "price",
        "offer",
        "product",
        "security",
        "delivery",
        "budget",
        "release",
        "agenda",
    ];
    let mut s = String::with_capacity(bytes + 16);
    let mut col = 0;
    while s.len() < bytes {
        let w = WORDS[rng.range(0, WORDS.len() - 1)];
        s.push_str(w);
        col += w.len() + 1;
        if col > 70 {
            s.push_str("\r\n");
            col = 0;
        } else {
            s.push(' ');
        }
    }
    s
}

fn arg(args: &[String], name: &str, default: &str) -> String {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .cloned()
        .unwrap_or_else(|| default.to_string())
}

fn write_db(out: &Path, ndb: usize, hdb: usize, seed: u64, ascii_frac: f64) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    let shape = NdbShape {
        ascii_frac,
        ..NdbShape::MAIL
    };
    // ClamAV refuses an empty database file: write only what has signatures.
    if ndb > 0 {
        std::fs::write(out.join("synth.ndb"), synth::ndb(ndb, seed, shape))?;
    }
    if hdb > 0 {
        std::fs::write(out.join("synth.hdb"), synth::hdb(hdb, seed))?;
    }
    let mut nd = String::new();
    for (name, hex, _) in planted_ndb(seed) {
        let _ = writeln!(nd, "{name}:0:*:{hex}");
    }
    std::fs::write(out.join("planted.ndb"), nd)?;
    let mut hd = String::new();
    for (name, content) in planted_hdb(seed) {
        let _ = writeln!(hd, "{}:{}:{name}", md5_hex(&content), content.len());
    }
    std::fs::write(out.join("planted.hdb"), hd)
}

/// One message of about `size` bytes; returns it and the planted names.
fn message(rng: &mut Rng, i: usize, size: usize, seed: u64) -> (Vec<u8>, Vec<String>) {
    let ndbs = planted_ndb(seed);
    let hdbs = planted_hdb(seed);
    let mut expected = Vec::new();
    let boundary = format!("=_synth_{i:06}");
    let head = format!(
        "From: sender{i}@example.com\r\nTo: rcpt@example.org\r\nSubject: synthetic message {i}\r\nMessage-ID: <{i}.{seed}@synth.portcullis>\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\nMIME-Version: 1.0\r\n"
    );
    // Which planted detection, if any: one message in 11 gets a body signature, one in 29 a hash.
    let plant = if i % 11 == 5 {
        let (name, _, bytes) = &ndbs[(i / 11) % ndbs.len()];
        expected.push(name.clone());
        Some(bytes.clone())
    } else {
        None
    };
    let mut binary = rng.bytes(size.saturating_sub(2048).max(512) * 3 / 4);
    if let Some(bytes) = &plant {
        let at = rng.range(0, binary.len() - bytes.len());
        binary[at..at + bytes.len()].copy_from_slice(bytes);
    }
    let text = words(rng, (size / 8).max(256));
    let mut parts = vec![format!(
        "Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n{text}\r\n"
    )];
    match i % 5 {
        0 => parts.push(format!(
            "Content-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>{}</p></body></html>\r\n",
            words(rng, size / 4)
        )),
        1 | 2 => parts.push(attachment("data.bin", "application/octet-stream", &binary)),
        3 => {
            let member_text = words(rng, size / 2);
            let zip = corpusgen::zip(&[
                (
                    "notes.txt",
                    member_text.as_bytes(),
                    corpusgen::Method::Deflate,
                ),
                ("payload.bin", &binary, corpusgen::Method::Deflate),
            ]);
            parts.push(attachment("files.zip", "application/zip", &zip));
        }
        _ => {
            let gz = corpusgen::gzip("payload.bin", &binary);
            parts.push(attachment("payload.bin.gz", "application/gzip", &gz));
        }
    }
    if plant.is_some() && matches!(i % 5, 0) {
        parts.push(attachment("data.bin", "application/octet-stream", &binary));
    }
    if i % 29 == 7 && plant.is_none() {
        let (name, content) = &hdbs[(i / 29) % hdbs.len()];
        expected.push(name.clone());
        parts.push(attachment(
            "sample.dat",
            "application/octet-stream",
            content,
        ));
    }
    let mut body = format!(
        "{head}Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\nThis is a multi-part message in MIME format.\r\n"
    );
    for p in parts {
        body += &format!("--{boundary}\r\n{p}");
    }
    body += &format!("--{boundary}--\r\n");
    (body.into_bytes(), expected)
}

fn attachment(name: &str, mime: &str, data: &[u8]) -> String {
    format!(
        "Content-Type: {mime}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
        corpusgen::base64(data)
    )
}

fn write_corpus(out: &Path, mb: usize, seed: u64) -> std::io::Result<()> {
    std::fs::create_dir_all(out)?;
    let mut rng = Rng::new(seed ^ 0x434f_5250_5553);
    let mut total = 0;
    let mut expected = String::new();
    let mut i = 0;
    while total < mb << 20 {
        // Sizes as in real mail: mostly small, some large.
        let size = match rng.range(0, 9) {
            0..=5 => rng.range(2 << 10, 30 << 10),
            6..=8 => rng.range(30 << 10, 300 << 10),
            _ => rng.range(300 << 10, 3 << 20),
        };
        let (bytes, names) = message(&mut rng, i, size, seed);
        let file = format!("msg-{i:06}.eml");
        std::fs::write(out.join(&file), &bytes)?;
        for n in names {
            let _ = writeln!(expected, "{file} {n}");
        }
        total += bytes.len();
        i += 1;
    }
    let mut manifest = out.as_os_str().to_owned();
    manifest.push(".expected");
    std::fs::write(PathBuf::from(manifest), expected)?;
    eprintln!("{i} messages, {:.1} MiB", total as f64 / (1 << 20) as f64);
    Ok(())
}

fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let out = PathBuf::from(arg(&args, "--out", "synth"));
    let seed: u64 = arg(&args, "--seed", "1").parse().expect("--seed");
    match args.first().map(String::as_str) {
        Some("db") => write_db(
            &out,
            arg(&args, "--ndb", "100000").parse().expect("--ndb"),
            arg(&args, "--hdb", "1000000").parse().expect("--hdb"),
            seed,
            arg(&args, "--ascii-frac", "0")
                .parse()
                .expect("--ascii-frac"),
        ),
        Some("corpus") => {
            write_corpus(&out, arg(&args, "--mb", "100").parse().expect("--mb"), seed)
        }
        _ => {
            eprintln!(
                "usage: gen_synth db|corpus --out DIR [options] (see the source's first lines)"
            );
            std::process::exit(2);
        }
    }
}
