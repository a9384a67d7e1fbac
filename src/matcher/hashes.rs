//! Hash signatures, keyed by file size: an object is hashed only when some signature has its size (or a
//! signature accepts any size), and only with the hash kinds those signatures use.
//!
//! The index is flat, one table per hash kind with the records sorted by (size, digest): sizes, digests
//! and name ids in three arrays, names in one arena. A million MD5 signatures take about 45 bytes each,
//! lookups are binary searches, and the whole index is a handful of allocations (cheap to write to and read
//! back from the compiled-database cache).

use std::collections::HashSet;

use md5::{Digest, Md5};
use sha1::Sha1;
use sha2::Sha256;

use crate::signatures::{HashKind, HashSig};

const KINDS: [HashKind; 3] = [HashKind::Md5, HashKind::Sha1, HashKind::Sha256];

/// Size `u64::MAX` stands for "any size".
const ANY_SIZE: u64 = u64::MAX;

/// Signature names, one after another in one string.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Names {
    pub(crate) text: String,
    /// Where each name ends in `text`.
    pub(crate) ends: Vec<u32>,
}

impl Names {
    pub(crate) fn push(&mut self, name: &str) -> u32 {
        self.text.push_str(name);
        self.ends.push(self.text.len() as u32);
        (self.ends.len() - 1) as u32
    }

    pub(crate) fn get(&self, id: u32) -> &str {
        let id = id as usize;
        let start = match id {
            0 => 0,
            _ => self.ends.get(id - 1).copied().unwrap_or(0) as usize,
        };
        let end = self.ends.get(id).copied().unwrap_or(0) as usize;
        self.text.get(start..end).unwrap_or("")
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }
}

/// The signatures of one hash kind: record `i` is `sizes[i]`, `digests[i * len..(i + 1) * len]`, `names[i]`.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct KindTable {
    pub(crate) sizes: Vec<u64>,
    #[serde(with = "serde_bytes")]
    pub(crate) digests: Vec<u8>,
    pub(crate) names: Vec<u32>,
}

impl KindTable {
    fn len(&self) -> usize {
        self.sizes.len()
    }

    fn digest(&self, i: usize, len: usize) -> &[u8] {
        self.digests.get(i * len..(i + 1) * len).unwrap_or(&[])
    }

    /// Records of size `size` whose digest is `digest`.
    fn find(&self, size: u64, digest: &[u8], out: &mut Vec<u32>) {
        let len = digest.len();
        let lo = self.sizes.partition_point(|&s| s < size);
        let hi = self.sizes.partition_point(|&s| s <= size);
        let (mut i, mut end) = (lo, hi);
        while i < end {
            let mid = i + (end - i) / 2;
            if self.digest(mid, len) < digest {
                i = mid + 1;
            } else {
                end = mid;
            }
        }
        while i < hi && self.digest(i, len) == digest {
            out.push(self.names[i]);
            i += 1;
        }
    }

    fn has_size(&self, size: u64) -> bool {
        let i = self.sizes.partition_point(|&s| s < size);
        self.sizes.get(i) == Some(&size)
    }
}

/// Hash signatures as they are loaded, before sorting.
#[derive(Debug, Default)]
pub(crate) struct HashIndexBuilder {
    tables: [KindTable; 3],
    names: Names,
}

impl HashIndexBuilder {
    pub(crate) fn push(&mut self, sig: HashSig) {
        let name = self.names.push(&sig.name);
        let t = &mut self.tables[kind_index(sig.kind)];
        t.sizes.push(sig.size.unwrap_or(ANY_SIZE));
        t.digests.extend_from_slice(&sig.digest[..sig.kind.len()]);
        t.names.push(name);
    }

    /// Sorts the records, leaving out those whose name is in `ignored`.
    pub(crate) fn build(self, ignored: &HashSet<String>) -> HashIndex {
        let HashIndexBuilder { tables, names } = self;
        let mut out = HashIndex::default();
        let mut kept_names: Vec<Option<u32>> = vec![None; names.len()];
        for (k, table) in tables.into_iter().enumerate() {
            let len = KINDS[k].len();
            // Sorted by (size, first 8 digest bytes) as plain integers, then runs that tie on those (almost
            // never) by the whole digest.
            let prefix = |i: usize| {
                let mut p = [0u8; 8];
                p.copy_from_slice(table.digest(i, len).get(..8).unwrap_or(&[0; 8]));
                u64::from_be_bytes(p)
            };
            let mut keyed: Vec<(u64, u64, u32)> = (0..table.len())
                .filter(|&i| ignored.is_empty() || !ignored.contains(names.get(table.names[i])))
                .map(|i| (table.sizes[i], prefix(i), i as u32))
                .collect();
            keyed.sort_unstable();
            for run in keyed.chunk_by_mut(|a, b| a.0 == b.0 && a.1 == b.1) {
                if run.len() > 1 {
                    run.sort_unstable_by(|a, b| {
                        table
                            .digest(a.2 as usize, len)
                            .cmp(table.digest(b.2 as usize, len))
                    });
                }
            }
            let order: Vec<u32> = keyed.into_iter().map(|k| k.2).collect();
            let t = &mut out.tables[k];
            t.sizes.reserve_exact(order.len());
            t.digests.reserve_exact(order.len() * len);
            t.names.reserve_exact(order.len());
            for i in order {
                let i = i as usize;
                t.sizes.push(table.sizes[i]);
                t.digests.extend_from_slice(table.digest(i, len));
                let old = table.names[i] as usize;
                let id = match kept_names[old] {
                    Some(id) => id,
                    None => {
                        let id = out.names.push(names.get(old as u32));
                        kept_names[old] = Some(id);
                        id
                    }
                };
                t.names.push(id);
            }
        }
        out
    }
}

fn kind_index(kind: HashKind) -> usize {
    match kind {
        HashKind::Md5 => 0,
        HashKind::Sha1 => 1,
        HashKind::Sha256 => 2,
    }
}

/// A compiled set of hash signatures.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct HashIndex {
    pub(crate) tables: [KindTable; 3],
    pub(crate) names: Names,
}

impl HashIndex {
    #[cfg(test)]
    pub(crate) fn new(sigs: Vec<HashSig>) -> HashIndex {
        let mut b = HashIndexBuilder::default();
        for s in sigs {
            b.push(s);
        }
        b.build(&HashSet::new())
    }

    pub(crate) fn len(&self) -> usize {
        self.tables.iter().map(KindTable::len).sum()
    }

    /// After loading from the compiled-database cache: checks the tables' shapes and order.
    pub(crate) fn validate(&self) -> Result<(), String> {
        let names = &self.names;
        if names.ends.windows(2).any(|w| w[0] > w[1])
            || names
                .ends
                .last()
                .is_some_and(|&e| e as usize > names.text.len())
            || names
                .ends
                .iter()
                .any(|&e| !names.text.is_char_boundary(e as usize))
        {
            return Err("malformed name table".into());
        }
        for (k, t) in self.tables.iter().enumerate() {
            let len = KINDS[k].len();
            if t.digests.len() != t.sizes.len() * len
                || t.names.len() != t.sizes.len()
                || t.names.iter().any(|&n| n as usize >= names.len())
                || (1..t.len()).any(|i| {
                    (t.sizes[i - 1], t.digest(i - 1, len)) > (t.sizes[i], t.digest(i, len))
                })
            {
                return Err("malformed hash table".into());
            }
        }
        Ok(())
    }

    pub(crate) fn memory_usage(&self) -> usize {
        self.tables
            .iter()
            .map(|t| t.sizes.capacity() * 8 + t.digests.capacity() + t.names.capacity() * 4)
            .sum::<usize>()
            + self.names.text.capacity()
            + self.names.ends.capacity() * 4
    }

    /// Every signature name whose hash and size match `data`.
    pub(crate) fn lookup(&self, data: &[u8]) -> Vec<&str> {
        self.lookup_with(data.len() as u64, &mut |kind| digest_of(kind, data))
    }

    /// Every signature name whose hash and size match an object of `size` bytes, whose digest of each kind
    /// `digest` gives when asked (only for kinds with signatures of that size or of any size).
    pub(crate) fn lookup_with(
        &self,
        size: u64,
        digest: &mut dyn FnMut(HashKind) -> Option<[u8; 32]>,
    ) -> Vec<&str> {
        let mut ids = Vec::new();
        for (k, kind) in KINDS.into_iter().enumerate() {
            let t = &self.tables[k];
            let (sized, any) = (t.has_size(size), t.has_size(ANY_SIZE));
            if !sized && !any {
                continue;
            }
            let Some(digest) = digest(kind) else {
                continue;
            };
            let digest = &digest[..kind.len()];
            if sized {
                t.find(size, digest, &mut ids);
            }
            if any {
                t.find(ANY_SIZE, digest, &mut ids);
            }
        }
        ids.into_iter().map(|id| self.names.get(id)).collect()
    }

    /// Whether an object of `len` bytes or more may still match a signature of kind `k`.
    fn may_need(&self, k: usize, len: u64) -> bool {
        self.tables[k].sizes.last().is_some_and(|&s| s >= len)
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A digest in the 32-byte form lookups take (shorter kinds first, the rest zero).
fn widened(bytes: &[u8]) -> [u8; 32] {
    let mut digest = [0u8; 32];
    digest[..bytes.len().min(32)].copy_from_slice(&bytes[..bytes.len().min(32)]);
    digest
}

fn digest_of(kind: HashKind, data: &[u8]) -> Option<[u8; 32]> {
    Some(match kind {
        HashKind::Md5 => widened(&Md5::digest(data)),
        HashKind::Sha1 => widened(&Sha1::digest(data)),
        HashKind::Sha256 => widened(&Sha256::digest(data)),
    })
}

/// The digests of an object computed as its bytes go by, in order, for the kinds that signatures (and
/// allow-list entries) of its size so far or larger, or of any size, may need: a session hashes the bytes of
/// a message it lets go of.
#[derive(Clone, Debug, Default)]
pub(crate) struct StreamDigest {
    md5: Option<Md5>,
    sha1: Option<Sha1>,
    sha256: Option<Sha256>,
    len: u64,
    started: bool,
}

impl StreamDigest {
    /// Hashes the next bytes.
    pub(crate) fn update(&mut self, indexes: [&HashIndex; 2], bytes: &[u8]) {
        self.len += bytes.len() as u64;
        // The kinds some signature of this size or more uses: set up at the first bytes, dropped when none
        // is left (a kind dropped never comes back: sizes only grow).
        let len = self.len;
        let keep = |k: usize| indexes.iter().any(|i| i.may_need(k, len));
        if !self.started {
            self.started = true;
            self.md5 = keep(0).then(Md5::new);
            self.sha1 = keep(1).then(Sha1::new);
            self.sha256 = keep(2).then(Sha256::new);
        }
        if !keep(0) {
            self.md5 = None;
        }
        if !keep(1) {
            self.sha1 = None;
        }
        if !keep(2) {
            self.sha256 = None;
        }
        if let Some(h) = &mut self.md5 {
            h.update(bytes);
        }
        if let Some(h) = &mut self.sha1 {
            h.update(bytes);
        }
        if let Some(h) = &mut self.sha256 {
            h.update(bytes);
        }
    }

    /// The digest of kind `kind` of all the bytes, if it was kept.
    pub(crate) fn digest(&self, kind: HashKind) -> Option<[u8; 32]> {
        Some(match kind {
            HashKind::Md5 => widened(&self.md5.clone()?.finalize()),
            HashKind::Sha1 => widened(&self.sha1.clone()?.finalize()),
            HashKind::Sha256 => widened(&self.sha256.clone()?.finalize()),
        })
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
