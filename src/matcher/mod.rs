//! Where patterns are matched: the body-signature matcher (atoms in one Aho-Corasick automaton, then exact
//! verification of each candidate) and the size-keyed hash index.
//!
//! Compilation: every part of every body signature gets an atom, the best run of exact bytes in it
//! ([`pattern`]); identical atoms are shared. Signatures whose offset allows only a few start positions
//! (`0`, `EOF-n`, `n,shift` with a small shift) need no atom: they are verified directly at those positions.
//! Scanning: the automaton reports every atom occurrence; each is verified for the parts that use it; a
//! single-part signature matches as soon as one part verifies at an offset it allows, and a multi-part one
//! when its parts occur in order with their minimum gaps between them.

pub(crate) mod hashes;
pub(crate) mod pattern;

use std::collections::{HashMap, HashSet};

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use crate::signatures::BodySig;
use pattern::Scratch;

/// Occurrences kept per signature part and object; beyond this, later ones are dropped.
const MAX_OCCURRENCES: usize = 4096;

#[derive(Clone, Copy, Debug)]
struct AtomUse {
    sig: u32,
    part: u16,
}

/// The compiled body signatures.
pub(crate) struct BodyMatcher {
    sigs: Vec<BodySig>,
    automaton: Option<AhoCorasick>,
    atom_users: Vec<Vec<AtomUse>>,
    anchored: Vec<u32>,
    unanchored: Vec<AtomUse>,
}

impl std::fmt::Debug for BodyMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyMatcher")
            .field("signatures", &self.sigs.len())
            .field("atoms", &self.atom_users.len())
            .finish()
    }
}

impl BodyMatcher {
    pub(crate) fn new(sigs: Vec<BodySig>) -> BodyMatcher {
        let mut atoms: Vec<Vec<u8>> = Vec::new();
        let mut atom_ids: HashMap<Vec<u8>, usize> = HashMap::new();
        let mut atom_users: Vec<Vec<AtomUse>> = Vec::new();
        let mut anchored = Vec::new();
        let mut unanchored = Vec::new();
        for (s, sig) in sigs.iter().enumerate() {
            let s = s as u32;
            if sig.pattern.parts.len() == 1 && sig.offset.is_narrow() {
                anchored.push(s);
                continue;
            }
            for (p, part) in sig.pattern.parts.iter().enumerate() {
                let using = AtomUse {
                    sig: s,
                    part: p as u16,
                };
                match part.atom_bytes() {
                    Some(atom) => {
                        let id = *atom_ids.entry(atom.clone()).or_insert_with(|| {
                            atoms.push(atom);
                            atom_users.push(Vec::new());
                            atoms.len() - 1
                        });
                        atom_users[id].push(using);
                    }
                    None => unanchored.push(using),
                }
            }
        }
        let automaton = if atoms.is_empty() {
            None
        } else {
            AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .build(&atoms)
                .ok()
        };
        BodyMatcher {
            sigs,
            automaton,
            atom_users,
            anchored,
            unanchored,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.sigs.len()
    }

    /// The approximate heap memory the matcher uses.
    pub(crate) fn memory_usage(&self) -> usize {
        self.automaton.as_ref().map_or(0, |a| a.memory_usage())
            + self
                .atom_users
                .iter()
                .map(|u| u.len() * 8 + 24)
                .sum::<usize>()
            + self.sigs.len() * std::mem::size_of::<BodySig>()
    }

    /// The names of every signature matching `data`, an object of ClamAV target type `target`.
    pub(crate) fn scan<'a>(&'a self, data: &[u8], target: u8, out: &mut Vec<&'a str>) {
        let applies = |sig: &BodySig| sig.target == 0 || sig.target == target;
        let len = data.len();
        let mut scratch = Scratch::default();
        let mut matched: HashSet<u32> = HashSet::new();
        let mut occurrences: HashMap<(u32, u16), Vec<(usize, usize)>> = HashMap::new();

        for &s in &self.anchored {
            let sig = &self.sigs[s as usize];
            if !applies(sig) {
                continue;
            }
            if let Some((first, last)) = sig.offset.window(len)
                && (first..=last).any(|start| {
                    sig.pattern.parts[0]
                        .verify_from(data, start, &mut scratch)
                        .is_some()
                })
            {
                matched.insert(s);
            }
        }

        let mut record = |u: AtomUse, starts: &[usize], end: usize, matched: &mut HashSet<u32>| {
            let sig = &self.sigs[u.sig as usize];
            let start = if u.part == 0 {
                match starts.iter().rev().find(|&&st| sig.offset.allows(st, len)) {
                    Some(&st) => st,
                    None => return,
                }
            } else {
                match starts.last() {
                    Some(&st) => st,
                    None => return,
                }
            };
            if sig.pattern.parts.len() == 1 {
                matched.insert(u.sig);
                return;
            }
            let list = occurrences.entry((u.sig, u.part)).or_default();
            if list.len() < MAX_OCCURRENCES {
                list.push((start, end));
            }
        };

        if let Some(ac) = &self.automaton {
            for m in ac.find_overlapping_iter(data) {
                for &u in &self.atom_users[m.pattern().as_usize()] {
                    let sig = &self.sigs[u.sig as usize];
                    if matched.contains(&u.sig) || !applies(sig) {
                        continue;
                    }
                    let part = &sig.pattern.parts[u.part as usize];
                    if let Some((starts, end)) = part.verify_at_atom(data, m.start(), &mut scratch)
                    {
                        record(u, &starts, end, &mut matched);
                    }
                }
            }
        }

        for &u in &self.unanchored {
            let sig = &self.sigs[u.sig as usize];
            if matched.contains(&u.sig) || !applies(sig) {
                continue;
            }
            let part = &sig.pattern.parts[u.part as usize];
            let mut found = 0;
            for start in 0..=len {
                if let Some(end) = part.verify_from(data, start, &mut scratch) {
                    record(u, &[start], end, &mut matched);
                    found += 1;
                    if found >= 64 || matched.contains(&u.sig) {
                        break;
                    }
                }
            }
        }

        // Multi-part signatures: parts in order, each at least its minimum gap after the previous one's end.
        let mut candidates: Vec<u32> = occurrences
            .keys()
            .filter(|(_, p)| *p == 0)
            .map(|(s, _)| *s)
            .collect();
        candidates.sort_unstable();
        for s in candidates {
            if matched.contains(&s) {
                continue;
            }
            let sig = &self.sigs[s as usize];
            let mut prev_end = occurrences[&(s, 0)]
                .iter()
                .map(|o| o.1)
                .min()
                .unwrap_or(usize::MAX);
            let mut ok = true;
            for (p, part) in sig.pattern.parts.iter().enumerate().skip(1) {
                let need = prev_end.saturating_add(part.min_gap_before as usize);
                let next = occurrences
                    .get(&(s, p as u16))
                    .and_then(|list| list.iter().filter(|o| o.0 >= need).map(|o| o.1).min());
                match next {
                    Some(end) => prev_end = end,
                    None => {
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                matched.insert(s);
            }
        }

        let mut ids: Vec<u32> = matched.into_iter().collect();
        ids.sort_unstable();
        out.extend(ids.into_iter().map(|s| self.sigs[s as usize].name.as_str()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::signatures::{hexsig, offset};

    fn sig(name: &str, target: u8, off: &str, hex: &str) -> BodySig {
        let offset = match offset::parse(off) {
            Ok(offset::Parsed::Ok(o)) => o,
            _ => panic!("{off}"),
        };
        BodySig {
            name: name.into(),
            target,
            offset,
            pattern: hexsig::parse(hex).unwrap(),
        }
    }

    fn scan(m: &BodyMatcher, data: &[u8], target: u8) -> Vec<String> {
        let mut out = Vec::new();
        m.scan(data, target, &mut out);
        out.into_iter().map(String::from).collect()
    }

    #[test]
    fn matcher_table() {
        let m = BodyMatcher::new(vec![
            sig("Plain", 0, "*", "6576696c"),
            sig("AtStart", 0, "0", "4d5a"),
            sig("AtEnd", 0, "EOF-3", "656e64"),
            sig("Shift", 0, "2,2", "7878"),
            sig("Html", 3, "*", "3c736372697074"),
            sig("Multi", 0, "*", "616161*626262{2-}636363"),
            sig("Nibbles", 0, "*", "??a?"),
            sig("Shared", 0, "*", "6576696c21"),
        ]);
        let table: &[(&[u8], u8, &[&str])] = &[
            (b"an evil thing", 0, &["Plain"]),
            (b"evil!", 0, &["Plain", "Shared"]),
            (b"MZ....", 0, &["AtStart"]),
            (b".MZ...", 0, &[]),
            (b"the end", 0, &["AtEnd"]),
            (b"the end.", 0, &[]),
            (b"..xx", 0, &["Shift"]),
            (b"....xx", 0, &["Shift"]),
            (b".....xx", 0, &[]),
            (b"<script>", 3, &["Html"]),
            (b"<script>", 7, &[]),
            (b"aaa bbb .. ccc", 0, &["Multi"]),
            (b"aaa bbbccc", 0, &[]),
            (b"bbb aaa ccc", 0, &[]),
            (b"aaa bbb bbb..ccc", 0, &["Multi"]),
            (b"\x01\xa0", 0, &["Nibbles"]),
        ];
        for (data, target, want) in table {
            assert_eq!(
                scan(&m, data, *target),
                *want,
                "{:?}",
                String::from_utf8_lossy(data)
            );
        }
    }
}
