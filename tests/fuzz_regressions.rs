//! Replays every input kept in `fuzz/regressions/TARGET/` through the code its fuzz target exercises: a
//! crash the fuzzer once found must stay fixed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use portcullis::{Engine, fuzzing};

/// `message` fed in chunks of each size, letting go of parts at once and as by default: `scan_bytes`'s
/// verdict.
fn in_chunks(engine: &Engine, message: &[u8], chunks: &[usize], what: &str) {
    let whole = engine.scan_bytes(message).unwrap();
    for step in [1, usize::MAX] {
        for &chunk in chunks {
            let session = engine.session().with_let_go_step(step);
            let splits = std::iter::repeat_n(chunk, message.len() / chunk);
            let fed = fuzzing::feed_in_splits(session, message, splits).unwrap();
            assert_eq!(fed, whole, "{what} let-go step {step}, chunk {chunk}");
        }
    }
}

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
                let limits = portcullis::Limits::default().max_parts(parts);
                let engine = fuzzing::session_engine(limits).unwrap();
                in_chunks(
                    &engine,
                    data,
                    &[7, data.len().max(1)],
                    &format!("parts {parts}"),
                );
            }
        }
        "long_body_session" => {
            // The long body the fuzz target makes of the input, whole and in chunks of several sizes.
            let message = fuzzing::long_body_message(data);
            let engine = fuzzing::session_engine(portcullis::Limits::default()).unwrap();
            in_chunks(&engine, &message, &[7, 4096, 65536], "");
        }
        "forwarded_session" => {
            // The forwarded message the fuzz target makes of the input, whole and in chunks.
            let message = fuzzing::forwarded_message(data);
            let engine = fuzzing::session_engine(portcullis::Limits::default()).unwrap();
            in_chunks(&engine, &message, &[7, 4096], "");
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
