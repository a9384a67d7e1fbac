//! The project's deterministic generator of synthetic signature databases and mail, for the scale
//! benchmarks (`benches/matcher.rs`) and the peer comparison (`benches/vs-clamav.sh`, through
//! `cargo run --release --example gen_synth`). Everything follows from a seed: the same arguments give
//! byte-identical output on every machine.

#![allow(dead_code)]

use std::fmt::Write as _;

/// A xorshift64* generator: small, fast and the same everywhere.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `lo..=hi`.
    pub fn range(&mut self, lo: usize, hi: usize) -> usize {
        lo + (self.next_u64() % (hi - lo + 1) as u64) as usize
    }

    pub fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next_u64() as u8).collect()
    }

    pub fn chance(&mut self, p: f64) -> bool {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64 <= p
    }
}

/// Tokens that begin real script, HTML and macro signatures, and that also occur in mail.
pub const ASCII_TOKENS: &[&str] = &[
    "document.write(",
    "eval(",
    "unescape(",
    "String.fromCharCode(",
    "window.location",
    "ActiveXObject(",
    "WScript.Shell",
    "CreateObject(",
    "Shell(",
    "powershell -enc ",
    "cmd.exe /c ",
    "<script>",
    "<iframe src=",
    "http://",
    "https://",
    ".exe",
    "AutoOpen",
    "Document_Open",
    "Chr(",
    "base64,",
    "var ",
    "function(",
    "return ",
    "charCodeAt(",
    "<html>",
    "<a href=\"",
    "Content-Type:",
    "application/",
    "password",
    "invoice",
];

fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(s, "{b:02x}");
    }
    s
}

/// How the body signatures of a synthetic database look.
#[derive(Clone, Copy, Debug)]
pub struct NdbShape {
    pub min_len: usize,
    pub max_len: usize,
    /// Share of signatures with a wildcard (`??` or a short `{n-m}` gap) in the middle.
    pub wildcard_frac: f64,
    /// Share of signatures that are printable strings beginning with one of [`ASCII_TOKENS`].
    pub ascii_frac: f64,
}

impl NdbShape {
    /// Random binary literals of 8 to 32 bytes: the raw-matching benchmark.
    pub const RAW: NdbShape = NdbShape {
        min_len: 8,
        max_len: 32,
        wildcard_frac: 0.0,
        ascii_frac: 0.0,
    };
    /// Random bytes of 10 to 40 bytes, a fifth with a wildcard: the peer comparison's database.
    pub const MAIL: NdbShape = NdbShape {
        min_len: 10,
        max_len: 40,
        wildcard_frac: 0.2,
        ascii_frac: 0.0,
    };
}

/// The hex body of one generated signature.
fn ndb_body(rng: &mut Rng, shape: NdbShape) -> String {
    let len = rng.range(shape.min_len, shape.max_len);
    if rng.chance(shape.ascii_frac) {
        let token = ASCII_TOKENS[rng.range(0, ASCII_TOKENS.len() - 1)].as_bytes();
        let mut bytes = token.to_vec();
        while bytes.len() < len.max(token.len() + 6) {
            bytes.push(b"abcdefghijklmnopqrstuvwxyz0123456789_"[rng.range(0, 36)]);
        }
        return hex(&bytes);
    }
    let bytes = rng.bytes(len);
    if len >= 8 && rng.chance(shape.wildcard_frac) {
        let cut = rng.range(4, len - 4);
        let middle = if rng.chance(0.5) {
            "??".to_string()
        } else {
            format!("{{{}-{}}}", rng.range(0, 2), rng.range(3, 8))
        };
        return format!("{}{}{}", hex(&bytes[..cut]), middle, hex(&bytes[cut..]));
    }
    hex(&bytes)
}

/// `n` `.ndb` lines named `Synth.Ndb-<i>`, any target, any offset.
pub fn ndb(n: usize, seed: u64, shape: NdbShape) -> String {
    let mut rng = Rng::new(seed);
    let mut out = String::with_capacity(n * 64);
    for i in 0..n {
        let body = ndb_body(&mut rng, shape);
        let _ = writeln!(out, "Synth.Ndb-{i}:0:*:{body}");
    }
    out
}

/// `n` `.hdb` lines (MD5 of random content, with a random size) named `Synth.Hdb-<i>`.
pub fn hdb(n: usize, seed: u64) -> String {
    let mut rng = Rng::new(seed ^ 0x4844_4200);
    let mut out = String::with_capacity(n * 56);
    for i in 0..n {
        let digest = rng.bytes(16);
        let size = rng.range(64, 4 << 20);
        let _ = writeln!(out, "{}:{size}:Synth.Hdb-{i}", hex(&digest));
    }
    out
}

/// Random bytes to scan.
pub fn noise(n: usize, seed: u64) -> Vec<u8> {
    Rng::new(seed ^ 0x006e_6f69_7365).bytes(n)
}
