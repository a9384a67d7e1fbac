//! Replays every input kept in `fuzz/regressions/TARGET/` through the code its fuzz target exercises: a
//! crash the fuzzer once found must stay fixed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use portcullis::{Engine, fuzzing};

fn replay(target: &str, data: &[u8], engine: &Engine) {
    match target {
        "scan_bytes" | "scan_structural" => {
            let _ = engine.scan_bytes(data).unwrap();
        }
        "chunked_session" => {
            // The input as the message (the fuzz target takes its limits and splits from its first
            // bytes), whole and in small chunks, letting go of parts at once and as by default, with the
            // default limits and with few parts allowed.
            for parts in [10_000, 1, 2, 3, 4, 6, 8, 16] {
                let engine = Engine::builder()
                    .with_default_database(true)
                    .load_str("fuzz.ndb", fuzzing::SESSION_NDB)
                    .unwrap()
                    .load_str("fuzz.ldb", fuzzing::SESSION_LDB)
                    .unwrap()
                    .limits(portcullis::Limits::default().max_parts(parts))
                    .build()
                    .unwrap();
                let whole = engine.scan_bytes(data).unwrap();
                for step in [1, usize::MAX] {
                    for chunk in [7, data.len().max(1)] {
                        let mut s = engine.session().with_let_go_step(step);
                        for c in data.chunks(chunk) {
                            s.feed(c).unwrap();
                        }
                        let fed = s.finish().unwrap();
                        assert_eq!(
                            fed, whole,
                            "parts {parts}, let-go step {step}, chunk {chunk}"
                        );
                    }
                }
            }
        }
        "long_body_session" => {
            // The long body the fuzz target makes of the input, whole and in chunks of several sizes,
            // letting go of parts at once and as by default.
            let message = fuzzing::long_body_message(data);
            let engine = Engine::builder()
                .with_default_database(true)
                .load_str("fuzz.ndb", fuzzing::SESSION_NDB)
                .unwrap()
                .load_str("fuzz.ldb", fuzzing::SESSION_LDB)
                .unwrap()
                .build()
                .unwrap();
            let whole = engine.scan_bytes(&message).unwrap();
            for step in [1, usize::MAX] {
                for chunk in [7, 4096, 65536] {
                    let mut s = engine.session().with_let_go_step(step);
                    for c in message.chunks(chunk) {
                        s.feed(c).unwrap();
                    }
                    assert_eq!(
                        s.finish().unwrap(),
                        whole,
                        "let-go step {step}, chunk {chunk}"
                    );
                }
            }
        }
        "mime_walker" => {
            fuzzing::mime_walk(data);
        }
        "mime_headers" => {
            fuzzing::mime_headers(data);
        }
        "decode_base64" => {
            fuzzing::base64(data);
        }
        "decode_qp" => {
            fuzzing::quoted_printable(data);
        }
        "decode_uu" => {
            fuzzing::uudecode(data);
        }
        "unpack_zip" => {
            fuzzing::unpack("zip", data);
        }
        "unpack_gzip" => {
            fuzzing::unpack("gzip", data);
        }
        "unpack_bzip2" => {
            fuzzing::unpack("bzip2", data);
        }
        "unpack_tar" => {
            fuzzing::unpack("tar", data);
        }
        "unpack_implode" => {
            fuzzing::explode(data, 6, 1 << 20);
        }
        "hex_signature" => {
            let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
            if let Ok(sig) = std::str::from_utf8(&data[..split]) {
                fuzzing::hex_signature(sig, data.get(split + 1..).unwrap_or(&[]));
            }
        }
        "database" => {
            const NAMES: &[&str] = &[
                "f.ndb", "f.hdb", "f.hsb", "f.fp", "f.sfp", "f.ign2", "f.ign", "f.cvd", "f.cld",
                "f.ldb", "f.ndb.gz", "f.cdb",
            ];
            if let Some((&sel, rest)) = data.split_first()
                && let Ok(b) = Engine::builder().load_bytes(NAMES[sel as usize % NAMES.len()], rest)
            {
                let _ = b.build().unwrap().scan_bytes(b"Subject: x\r\n\r\nbody\r\n");
            }
        }
        other => panic!("fuzz/regressions/{other}: no such fuzz target"),
    }
}

#[test]
fn every_regression_input_replays_cleanly() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
    let engine = Engine::builder().build().unwrap();
    let mut replayed = 0;
    for dir in std::fs::read_dir(&root).unwrap() {
        let dir = dir.unwrap().path();
        let target = dir.file_name().unwrap().to_string_lossy().into_owned();
        for file in std::fs::read_dir(&dir).unwrap() {
            let data = std::fs::read(file.unwrap().path()).unwrap();
            replay(&target, &data, &engine);
            replayed += 1;
        }
    }
    assert!(replayed >= 10, "only {replayed} regression inputs");
}
