//! Where the compiled database is written to disk and read back: the cache that lets a restart or a reload
//! of a large database skip parsing and compiling.
//!
//! The file is a fixed header and a payload:
//!
//! | bytes | content |
//! |---|---|
//! | 16 | magic `portcullis-cdb\0\0` |
//! | 4 | format version, little-endian |
//! | 8 | payload length, little-endian |
//! | 4 | CRC-32 of the payload |
//! | rest | the [`Database`] in `postcard` encoding |
//!
//! Byte arrays (the atom arena, the hash digests, the names) are stored whole, so reading them back is a copy;
//! what cannot be stored (Aho-Corasick automata for atoms shorter than four bytes, compiled regular
//! expressions) is rebuilt from what is. Reading checks the magic, the version, the checksum and then every
//! index inside (`restore`/`validate`), so a damaged or foreign file is an error, never a panic later.

use crate::engine::Database;
use crate::error::{Error, ErrorKind, Result};

const MAGIC: &[u8; 16] = b"portcullis-cdb\0\0";
/// Bumped whenever the layout of anything inside [`Database`] changes.
const VERSION: u32 = 2;
const HEADER: usize = 16 + 4 + 8 + 4;

/// Encodes a database.
pub(crate) fn encode(db: &Database) -> Vec<u8> {
    let payload = postcard::to_stdvec(db).unwrap_or_default();
    let mut out = Vec::with_capacity(HEADER + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&VERSION.to_le_bytes());
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
    out.extend_from_slice(&payload);
    out
}

fn damaged(message: impl Into<String>) -> Error {
    Error::new(ErrorKind::Compiled, message)
}

/// Decodes and checks a database written by [`encode`].
pub(crate) fn decode(bytes: &[u8]) -> Result<Database> {
    if bytes.len() < HEADER || &bytes[..16] != MAGIC {
        return Err(damaged("not a compiled portcullis database"));
    }
    let version = u32::from_le_bytes([bytes[16], bytes[17], bytes[18], bytes[19]]);
    if version != VERSION {
        return Err(damaged(format!(
            "compiled database format {version}, this engine reads {VERSION}: compile it again"
        )));
    }
    let payload = &bytes[HEADER..];
    let mut len = [0u8; 8];
    len.copy_from_slice(&bytes[20..28]);
    let mut crc = [0u8; 4];
    crc.copy_from_slice(&bytes[28..32]);
    if u64::from_le_bytes(len) != payload.len() as u64
        || crc32fast::hash(payload) != u32::from_le_bytes(crc)
    {
        return Err(damaged(
            "compiled database checksum mismatch (truncated or damaged)",
        ));
    }
    let mut db: Database =
        postcard::from_bytes(payload).map_err(|e| damaged(format!("compiled database: {e}")))?;
    let subs: Vec<usize> = db.logical.iter().map(|l| l.subs.len()).collect();
    for l in &db.logical {
        if l.subs.len() > 64 || l.expr.max_sub() as usize >= l.subs.len() {
            return Err(damaged("compiled database: malformed logical signature"));
        }
    }
    db.body
        .restore(&subs)
        .and_then(|()| db.hashes.validate())
        .and_then(|()| db.allow.validate())
        .map_err(|e| damaged(format!("compiled database: {e}")))?;
    Ok(db)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Engine;

    fn engine() -> Engine {
        Engine::builder()
            .load_str(
                "t.ndb",
                "Short:0:*:6162\nLong:0:*:6c6f6e672d656e6f7567682d61746f6d\nNoCase:0:*:48454c4c4f\n\
                 P1:0:*:7c7c21\nP2:0:*:2e2f\nP3:0:*:5c\nP4:0:*:3d3d\nP5:0:*:7e40\n",
            )
            .unwrap()
            .load_str(
                "t.ldb",
                "L;Engine:51-255,Target:0;0&1;7072656669782d;0/suf[a-z]+/i",
            )
            .unwrap()
            .load_str("t.hdb", "5d41402abc4b2a76b9719d911017c592:5:Hello\n")
            .unwrap()
            .build()
            .unwrap()
    }

    #[test]
    fn round_trip_gives_the_same_verdicts() {
        let e = engine();
        let bytes = e.to_compiled();
        let again = Engine::builder()
            .load_compiled_bytes(&bytes)
            .unwrap()
            .build()
            .unwrap();
        assert_eq!(again.signature_count(), e.signature_count());
        for msg in [
            &b"Subject: a\r\n\r\nab\r\n"[..],
            b"Subject: a\r\n\r\na long-enough-atom here\r\n",
            b"Subject: a\r\n\r\nprefix- and SUFxyz\r\n",
            b"Subject: a\r\nContent-Type: application/octet-stream\r\n\r\nhello",
            b"Subject: a\r\n\r\nnothing\r\n",
            b"Subject: a\r\n\r\n||! ./ \\ == ~@\r\n",
        ] {
            let (a, b) = (e.scan_bytes(msg).unwrap(), again.scan_bytes(msg).unwrap());
            assert_eq!(format!("{a:?}"), format!("{b:?}"));
        }
        let logical = e
            .scan_bytes(b"Subject: a\r\n\r\nprefix- and SUFxyz\r\n")
            .unwrap();
        assert_eq!(logical.detections()[0].name(), "L");
        // Short atoms of many first bytes: found by pairs (and single bytes), in both engines.
        let short = again
            .scan_bytes(b"Subject: a\r\n\r\n||! ./ \\ == ~@\r\n")
            .unwrap();
        let mut names: Vec<&str> = short.detections().iter().map(|d| d.name()).collect();
        names.dedup();
        assert_eq!(names, ["P1", "P2", "P3", "P4", "P5"]);
        assert_eq!(again.to_compiled(), bytes);
    }

    #[test]
    fn damaged_files_are_errors() {
        let bytes = engine().to_compiled();
        let mut flipped = bytes.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        let mut wrong_version = bytes.clone();
        wrong_version[16] = 99;
        let cases: &[(&str, &[u8])] = &[
            ("empty", b""),
            ("text", b"Name:0:*:41424344\n"),
            ("truncated", &bytes[..bytes.len() / 2]),
            ("flipped", &flipped),
            ("version", &wrong_version),
        ];
        for (what, case) in cases {
            let err = Engine::builder().load_compiled_bytes(case).unwrap_err();
            assert_eq!(err.kind(), ErrorKind::Compiled, "{what}");
        }
    }

    #[test]
    fn forged_payloads_with_a_valid_checksum_are_errors_not_panics() {
        // Every single-byte change of the payload, re-signed: decoding must fail cleanly or give an engine
        // that scans without panicking.
        let bytes = engine().to_compiled();
        for i in HEADER..bytes.len() {
            for delta in [1u8, 0x80] {
                let mut forged = bytes.clone();
                forged[i] = forged[i].wrapping_add(delta);
                let crc = crc32fast::hash(&forged[HEADER..]);
                forged[28..32].copy_from_slice(&crc.to_le_bytes());
                if let Ok(b) = Engine::builder().load_compiled_bytes(&forged) {
                    let e = b.build().unwrap();
                    let _ =
                        e.scan_bytes(b"Subject: a\r\n\r\nab long-enough-atom prefix- /suf/ hello");
                }
            }
        }
    }
}
