//! Damaged input is data: thousands of deterministic mutations of the corpus, none may panic, and each
//! verdict must be the same whole and chunked.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use portcullis::{Engine, Limits};
use support::corpusgen;

struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

const TOKENS: &[&[u8]] = &[
    b"\r\n",
    b"--",
    b"boundary=",
    b"Content-Type: multipart/mixed; boundary=x\r\n",
    b"=",
    b";",
    b":",
    b"\"",
    b"PK\x03\x04",
    b"PK\x01\x02",
    b"PK\x05\x06",
    b"\x1f\x8b\x08",
    b"BZh9",
    b"begin 644 a\r\n",
    b"=?utf-8?b?",
    b"*",
    b"Content-Transfer-Encoding: base64\r\n",
    b"\r\n\r\n",
    b"\0\0\0\0",
];

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut v = input.to_vec();
    for _ in 0..1 + rng.below(8) {
        let at = rng.below(v.len() + 1);
        match rng.below(5) {
            0 if !v.is_empty() => {
                let i = at.min(v.len() - 1);
                v[i] ^= 1 << rng.below(8);
            }
            1 => v.truncate(at),
            2 => {
                let t = TOKENS[rng.below(TOKENS.len())];
                v.splice(at..at, t.iter().copied());
            }
            3 if !v.is_empty() => {
                let end = (at + rng.below(64)).min(v.len());
                v.drain(at.min(end)..end);
            }
            _ => {
                let from = rng.below(v.len());
                let end = (from + rng.below(200)).min(v.len());
                let piece = v[from..end].to_vec();
                v.splice(at..at, piece);
            }
        }
    }
    v
}

#[test]
fn mutated_corpus_never_panics() {
    let engine = Engine::builder()
        .limits(
            Limits::default()
                .max_scan_size(8 << 20)
                .max_file_size(4 << 20),
        )
        .build()
        .unwrap();
    let cases = corpusgen::cases();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    for round in 0..3000 {
        let case = &cases[round % cases.len()];
        let input = mutate(&mut rng, &case.bytes);
        let whole = engine.scan_bytes(&input).unwrap();
        let mut session = engine
            .session()
            .with_prescan_step(1 + rng.below(3000))
            .with_let_go_step(1 + rng.below(3000));
        for chunk in input.chunks(1 + rng.below(5000)) {
            session.feed(chunk).unwrap();
        }
        assert_eq!(
            whole,
            session.finish().unwrap(),
            "round {round}, from {}",
            case.file
        );
    }
}
