//! Hash signatures: `.hdb`/`.hsb` (and their `.hdu`/`.hsu` forms) and the `.fp`/`.sfp` allow-lists.
//!
//! Each line is `HashString:FileSize:MalwareName[:MinFL[:MaxFL]]`; the hash is MD5, SHA-1 or SHA-256, told
//! apart by its length; the size may be `*` (any size).

use std::path::Path;

use super::{SignatureSet, flevel_skip, load_lines};
use crate::error::{Error, Result};

/// Which hash a signature holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum HashKind {
    Md5,
    Sha1,
    Sha256,
}

impl HashKind {
    pub(crate) fn len(self) -> usize {
        match self {
            HashKind::Md5 => 16,
            HashKind::Sha1 => 20,
            HashKind::Sha256 => 32,
        }
    }
}

/// One hash signature.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct HashSig {
    pub(crate) kind: HashKind,
    /// The digest, zero-padded to 32 bytes.
    pub(crate) digest: [u8; 32],
    /// The file size, `None` for `*`.
    pub(crate) size: Option<u64>,
    pub(crate) name: String,
}

pub(crate) fn decode_hex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes()
        .chunks(2)
        .map(|p| {
            let hi = (p[0] as char).to_digit(16)?;
            let lo = (p[1] as char).to_digit(16)?;
            Some((hi << 4 | lo) as u8)
        })
        .collect()
}

/// Parses one line; `Ok(None)` when the line is valid but not for this engine's functionality level.
pub(crate) fn parse_line(
    path: &Path,
    n: usize,
    line: &str,
) -> Result<std::result::Result<HashSig, String>> {
    let fields: Vec<&str> = line.split(':').collect();
    if fields.len() < 3 {
        return Err(Error::syntax(
            path,
            n,
            "expected HashString:FileSize:MalwareName",
        ));
    }
    let (hash, size, name) = (fields[0], fields[1], fields[2]);
    let kind = match hash.len() {
        32 => HashKind::Md5,
        40 => HashKind::Sha1,
        64 => HashKind::Sha256,
        l => {
            return Err(Error::syntax(
                path,
                n,
                format!("hash of {l} characters is none of MD5 (32), SHA-1 (40), SHA-256 (64)"),
            ));
        }
    };
    let bytes = decode_hex(hash)
        .ok_or_else(|| Error::syntax(path, n, format!("'{hash}' is not hexadecimal")))?;
    let mut digest = [0u8; 32];
    digest[..bytes.len()].copy_from_slice(&bytes);
    let size = match size {
        "*" => None,
        s => Some(s.parse::<u64>().map_err(|_| {
            Error::syntax(path, n, format!("file size '{s}' is not a number or '*'"))
        })?),
    };
    if name.is_empty() {
        return Err(Error::syntax(path, n, "the signature has no name"));
    }
    if let Some(reason) = flevel_skip(path, n, &fields[3..])? {
        return Ok(Err(reason));
    }
    Ok(Ok(HashSig {
        kind,
        digest,
        size,
        name: name.to_string(),
    }))
}

pub(crate) fn load(set: &mut SignatureSet, path: &Path, bytes: &[u8], allow: bool) -> Result<()> {
    let format = super::extension(path);
    let format = match format.as_str() {
        "hdu" => "hdb",
        "hsu" => "hsb",
        f => f,
    }
    .to_string();
    load_lines(set, path, bytes, ':', 2, parse_line, |set, sig| {
        if allow {
            set.allow.push(sig);
        } else {
            set.hashes.push(sig);
        }
        set.report.count(&format);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_lines_table() {
        let p = Path::new("t.hdb");
        let ok = [
            (
                "44d88612fea8a8f36de82e1278abb02f:68:Eicar",
                HashKind::Md5,
                Some(68),
            ),
            (
                "3395856ce81f2b7382dee72602f798b642f14140:68:Eicar",
                HashKind::Sha1,
                Some(68),
            ),
            (
                "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f:*:Eicar:73",
                HashKind::Sha256,
                None,
            ),
        ];
        for (line, kind, size) in ok {
            let sig = parse_line(p, 1, line).unwrap().unwrap();
            assert_eq!((sig.kind, sig.size), (kind, size), "{line}");
            assert_eq!(sig.name, "Eicar");
        }
        let bad = [
            ("44d88612fea8a8f36de82e1278abb02f:68", "expected"),
            ("44d88612fea8a8f36de82e1278abb0:68:X", "none of MD5"),
            ("zzd88612fea8a8f36de82e1278abb02f:68:X", "not hexadecimal"),
            ("44d88612fea8a8f36de82e1278abb02f:6x8:X", "not a number"),
            ("44d88612fea8a8f36de82e1278abb02f:68:", "no name"),
            (
                "44d88612fea8a8f36de82e1278abb02f:68:X:abc",
                "functionality level",
            ),
        ];
        for (line, want) in bad {
            let err = parse_line(p, 7, line).unwrap_err();
            assert_eq!(err.line(), Some(7));
            assert!(err.to_string().contains(want), "{line}: {err}");
        }
        assert!(
            parse_line(p, 1, "44d88612fea8a8f36de82e1278abb02f:68:X:999")
                .unwrap()
                .is_err()
        );
    }
}
