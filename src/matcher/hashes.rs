//! Hash signatures, keyed by file size: an object is hashed only when some signature has its size (or a
//! signature accepts any size), and only with the hash kinds those signatures use.

use std::collections::HashMap;

use md5::{Digest, Md5};
use sha1::Sha1;
use sha2::Sha256;

use crate::signatures::{HashKind, HashSig};

const KINDS: [HashKind; 3] = [HashKind::Md5, HashKind::Sha1, HashKind::Sha256];

fn bit(kind: HashKind) -> u8 {
    match kind {
        HashKind::Md5 => 1,
        HashKind::Sha1 => 2,
        HashKind::Sha256 => 4,
    }
}

/// Size `u64::MAX` in a key stands for "any size".
const ANY_SIZE: u64 = u64::MAX;

/// A set of hash signatures.
#[derive(Debug, Default)]
pub(crate) struct HashIndex {
    by_key: HashMap<(HashKind, [u8; 32], u64), u32>,
    names: Vec<String>,
    kinds_by_size: HashMap<u64, u8>,
    any_size_kinds: u8,
}

impl HashIndex {
    pub(crate) fn new(sigs: Vec<HashSig>) -> HashIndex {
        let mut index = HashIndex::default();
        let mut name_ids: HashMap<String, u32> = HashMap::new();
        for sig in sigs {
            let id = *name_ids.entry(sig.name.clone()).or_insert_with(|| {
                index.names.push(sig.name.clone());
                (index.names.len() - 1) as u32
            });
            let size = sig.size.unwrap_or(ANY_SIZE);
            index.by_key.insert((sig.kind, sig.digest, size), id);
            match sig.size {
                Some(s) => *index.kinds_by_size.entry(s).or_insert(0) |= bit(sig.kind),
                None => index.any_size_kinds |= bit(sig.kind),
            }
        }
        index
    }

    pub(crate) fn len(&self) -> usize {
        self.by_key.len()
    }

    pub(crate) fn memory_usage(&self) -> usize {
        self.by_key.capacity() * (std::mem::size_of::<(HashKind, [u8; 32], u64)>() + 8)
            + self.names.iter().map(|n| n.len() + 24).sum::<usize>()
            + self.kinds_by_size.capacity() * 16
    }

    /// Every signature name whose hash and size match `data`.
    pub(crate) fn lookup(&self, data: &[u8]) -> Vec<&str> {
        let size = data.len() as u64;
        let kinds = self.kinds_by_size.get(&size).copied().unwrap_or(0) | self.any_size_kinds;
        let mut out = Vec::new();
        for kind in KINDS {
            if kinds & bit(kind) == 0 {
                continue;
            }
            let mut digest = [0u8; 32];
            match kind {
                HashKind::Md5 => digest[..16].copy_from_slice(&Md5::digest(data)),
                HashKind::Sha1 => digest[..20].copy_from_slice(&Sha1::digest(data)),
                HashKind::Sha256 => digest.copy_from_slice(&Sha256::digest(data)),
            }
            debug_assert!(kind.len() <= 32);
            for key_size in [size, ANY_SIZE] {
                if let Some(&id) = self.by_key.get(&(kind, digest, key_size)) {
                    out.push(self.names[id as usize].as_str());
                }
            }
        }
        out
    }

    /// Whether any signature matches `data`.
    pub(crate) fn contains(&self, data: &[u8]) -> bool {
        !self.is_empty() && !self.lookup(data).is_empty()
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.by_key.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_keyed_lookup() {
        let data = b"hello";
        let md5 = Md5::digest(data);
        let sha = Sha256::digest(data);
        let mut d1 = [0u8; 32];
        d1[..16].copy_from_slice(&md5);
        let mut d2 = [0u8; 32];
        d2.copy_from_slice(&sha);
        let index = HashIndex::new(vec![
            HashSig {
                kind: HashKind::Md5,
                digest: d1,
                size: Some(5),
                name: "M".into(),
            },
            HashSig {
                kind: HashKind::Sha256,
                digest: d2,
                size: None,
                name: "S".into(),
            },
            HashSig {
                kind: HashKind::Md5,
                digest: d1,
                size: Some(6),
                name: "WrongSize".into(),
            },
        ]);
        assert_eq!(index.lookup(data), ["M", "S"]);
        assert!(index.lookup(b"other").is_empty());
    }
}
