//! Where atoms are found: a filter-first multi-literal search that stays fast at a million atoms.
//!
//! A byte-at-a-time automaton over every atom of a large database touches a state table far bigger than
//! the caches on every byte, and slows down as the database grows. This search instead reads a 4-byte
//! *window* of the data, hashes it, and tests two bits of one word of a small bitmap (the *filter*, a blocked
//! Bloom filter of 16 bits per window, 1 KiB to 4 MiB: 1 MiB at 100k atoms). Only when both bits are set
//! (about 1.5% of random windows) does it look the window up in a table of the atoms' windows and compare
//! the atom's bytes.
//!
//! Atoms of 4 bytes or more are grouped in one or two *tiers*, each tested every `S`-th position of the
//! data (its *stride*, 1 to 8); atoms of 1 to 3 bytes are found apart ([`ShortSet`]): by an Aho-Corasick
//! automaton when it has a prefilter, else by the pair of bytes that ends each position, and then the atoms
//! of 4 bytes are found that way too, since in a tier they would be tested at every position. An atom of
//! length `L` can be sampled at any stride up to `L - 3`, so a tier's stride is the smallest `L - 3` among
//! its atoms; where to split the atoms between two tiers is chosen by a cost model
//! ([`choose_split`]), so that a few short atoms get a small dense tier instead of slowing the rest down.
//!
//! Sampling is what makes long atoms cheap. An atom of length `L ≥ S + 3` puts the windows that start at `S`
//! consecutive offsets `k0 .. k0 + S` inside it into the table. Wherever the atom occurs, exactly one of
//! those windows starts on a multiple of `S`, so testing one position in `S` finds every occurrence exactly
//! once. `k0` is chosen so that the windows are made of the least common bytes.
//!
//! Case-insensitive atoms (stored in lower case) put every case variant of their windows into the table and
//! are compared without case.

use std::collections::HashMap;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};

use super::pattern::byte_cost;

/// Width of a window, in bytes.
const WINDOW: usize = 4;
/// Largest stride; window offsets inside an atom are kept in 4 bits, so `k0 + S` must stay ≤ 16.
const MAX_STRIDE: usize = 8;
/// The filter sizes, in bits (1 KiB to 4 MiB). The scanning loop is compiled once per size so that its
/// shift is a constant and its bounds check disappears.
const FILTER_BITS: [u32; 7] = [13, 16, 19, 21, 22, 23, 25];
/// Filter bits per table entry.
const BITS_PER_ENTRY: usize = 16;
/// Bits set per window in the filter word: with 16 bits per entry about 1% of random windows pass.
const PROBES: u32 = 2;
/// Fibonacci hashing: the top bits of the product depend on every bit of the window.
const MULTIPLIER: u64 = 0x9E37_79B9_7F4A_7C15;

/// Collects atoms; identical atoms get one id.
#[derive(Default)]
pub(crate) struct AtomSetBuilder {
    atoms: Vec<(Vec<u8>, bool)>,
    ids: HashMap<(Vec<u8>, bool), u32>,
}

impl AtomSetBuilder {
    /// Adds an atom (in lower case when `nocase`) and returns its id.
    pub(crate) fn add(&mut self, bytes: Vec<u8>, nocase: bool) -> u32 {
        let next = self.atoms.len() as u32;
        let bytes = if nocase {
            bytes.to_ascii_lowercase()
        } else {
            bytes
        };
        let key = (bytes, nocase);
        if let Some(&id) = self.ids.get(&key) {
            return id;
        }
        self.atoms.push(key.clone());
        self.ids.insert(key, next);
        next
    }

    /// Compiles the atoms into a searcher.
    pub(crate) fn build(self) -> AtomSet {
        let mut arena = Vec::new();
        let mut spans = Vec::with_capacity(self.atoms.len());
        for (bytes, nocase) in &self.atoms {
            spans.push(Span {
                start: arena.len() as u32,
                len: bytes.len() as u16,
                nocase: *nocase,
            });
            arena.extend_from_slice(bytes);
        }
        let mut strides: Vec<usize> = self
            .atoms
            .iter()
            .map(|(a, _)| a.len().saturating_sub(WINDOW - 1).min(MAX_STRIDE))
            .collect();
        // An automaton per case that has a prefilter; the other atoms in one set found by pairs. Never
        // fails: every atom is in the arena, and of its set.
        let mut short = Vec::new();
        let mut by_pairs = Vec::new();
        for nocase in [false, true] {
            let ids: Vec<u32> = (0..self.atoms.len() as u32)
                .filter(|&a| {
                    let (bytes, nc) = &self.atoms[a as usize];
                    (1..WINDOW).contains(&bytes.len()) && *nc == nocase
                })
                .collect();
            if ids.is_empty() {
                continue;
            }
            match ShortSet::with_automaton(ids.clone(), nocase, true, &arena, &spans) {
                Ok(Some(set)) => short.push(set),
                Ok(None) | Err(_) => by_pairs.extend(ids),
            }
        }
        // When the data is read pair by pair anyway, atoms of one window are found that way too: sampled,
        // they would make a tier test every position.
        if !by_pairs.is_empty() {
            for (a, (bytes, _)) in self.atoms.iter().enumerate() {
                if bytes.len() == WINDOW {
                    by_pairs.push(a as u32);
                    strides[a] = 0;
                }
            }
        }
        if !by_pairs.is_empty() {
            short.extend(ShortSet::with_pairs(by_pairs, &arena, &spans));
        }
        let split = choose_split(&strides);
        let mut tiers = Vec::new();
        for high in [false, true] {
            let ids: Vec<u32> = (0..self.atoms.len() as u32)
                .filter(|&a| {
                    let s = strides[a as usize];
                    s >= 1 && (s >= split.at) == high
                })
                .collect();
            let lowest = ids.iter().map(|&a| strides[a as usize]).min();
            let stride = if high {
                Some(split.high_stride)
            } else {
                lowest
            };
            if let (Some(stride), false) = (stride, ids.is_empty()) {
                tiers.push(Tier::build(&self.atoms, &ids, stride));
            }
        }
        AtomSet {
            arena,
            spans,
            tiers,
            short,
        }
    }
}

/// Relative cost of testing one window against a filter for `entries` windows, measured on random data
/// (`benches/matcher.rs`): about 1.5 ns in L1, 5 ns at 1 MiB (L2), 16 ns at 4 MiB.
fn sample_cost(entries: usize) -> f64 {
    match entries * BITS_PER_ENTRY / 8 {
        0 => 0.0,
        b if b <= 32 << 10 => 1.0,
        b if b <= 256 << 10 => 2.0,
        b if b <= 1 << 20 => 3.5,
        _ => 11.0,
    }
}

/// How the atoms are split into tiers.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Split {
    /// Atoms whose largest stride is below this go to the low tier (at the smallest stride among them).
    at: usize,
    /// The high tier's stride (at least `at`, at most the smallest largest-stride among its atoms).
    high_stride: usize,
}

/// Splits the atoms (given by their largest possible stride, 1 to [`MAX_STRIDE`]; 0 for atoms shorter
/// than a window) into at most two tiers, minimising the modelled cost per byte of data: a tier costs its
/// per-window cost ([`sample_cost`], which grows with its filter) divided by its stride. So a few short atoms
/// get a small dense tier of their own instead of slowing every other atom down, and a large database may
/// take a shorter stride than its atoms allow to keep its filter in cache.
fn choose_split(strides: &[usize]) -> Split {
    let mut count = [0usize; MAX_STRIDE + 1];
    for &s in strides {
        count[s] += 1;
    }
    let mut best = (
        f64::INFINITY,
        Split {
            at: 1,
            high_stride: 1,
        },
    );
    for at in 1..=MAX_STRIDE + 1 {
        let low_n: usize = (1..at.min(MAX_STRIDE + 1)).map(|s| count[s]).sum();
        let low_stride = (1..at.min(MAX_STRIDE + 1)).find(|&s| count[s] > 0);
        let low_cost = low_stride.map_or(0.0, |s| sample_cost(low_n * s) / s as f64);
        let high_n: usize = (at..=MAX_STRIDE).map(|s| count[s]).sum();
        let high_max = (at..=MAX_STRIDE).find(|&s| count[s] > 0);
        let Some(high_max) = high_max else {
            if low_cost < best.0 {
                best = (
                    low_cost,
                    Split {
                        at,
                        high_stride: at,
                    },
                );
            }
            continue;
        };
        for high_stride in at..=high_max {
            let cost = low_cost + sample_cost(high_n * high_stride) / high_stride as f64;
            if cost < best.0 {
                best = (cost, Split { at, high_stride });
            }
        }
    }
    best.1
}

/// Where an atom's bytes are in the arena.
#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
struct Span {
    start: u32,
    len: u16,
    nocase: bool,
}

/// The windows of one group of atoms, tested every `stride` bytes.
#[derive(serde::Serialize, serde::Deserialize)]
struct Tier {
    stride: usize,
    filter_bits: u32,
    /// A blocked Bloom filter: each window sets [`PROBES`] bits of one 64-bit word, so a test is one load.
    filter: Vec<u64>,
    table_bits: u32,
    /// Entries of table slot `i` are `entries[offsets[i]..offsets[i + 1]]`.
    offsets: Vec<u32>,
    /// The window, and the atom id shifted left by 4 with the window's offset inside the atom.
    entries: Vec<(u32, u32)>,
}

fn hash(window: u32) -> u64 {
    u64::from(window).wrapping_mul(MULTIPLIER)
}

/// The bits a window sets in its filter word: taken from the middle of the hash, which depends on every
/// bit of the window (the top bits pick the word).
fn probe_mask(h: u64) -> u64 {
    let mut mask = 0;
    for i in 0..PROBES {
        mask |= 1 << ((h >> (20 + 6 * i)) & 63);
    }
    mask
}

fn window_at(data: &[u8], at: usize) -> u32 {
    match data.get(at..at + WINDOW) {
        Some(&[a, b, c, d]) => u32::from_le_bytes([a, b, c, d]),
        _ => 0,
    }
}

/// Every case variant of a lower-case window (letters in either case).
fn case_variants(window: [u8; 4], out: &mut Vec<u32>) {
    out.clear();
    out.push(u32::from_le_bytes(window));
    for i in 0..WINDOW {
        if window[i].is_ascii_lowercase() {
            for j in 0..out.len() {
                let mut bytes = out[j].to_le_bytes();
                bytes[i] = bytes[i].to_ascii_uppercase();
                out.push(u32::from_le_bytes(bytes));
            }
        }
    }
}

fn ceil_log2(n: usize) -> u32 {
    n.max(1).next_power_of_two().trailing_zeros()
}

impl Tier {
    fn build(atoms: &[(Vec<u8>, bool)], ids: &[u32], stride: usize) -> Tier {
        let mut raw: Vec<(u32, u32)> = Vec::with_capacity(ids.len() * stride);
        let mut variants = Vec::new();
        for &id in ids {
            let (bytes, nocase) = &atoms[id as usize];
            let k0 = best_first_window(bytes, stride);
            for k in k0..k0 + stride {
                let w = [bytes[k], bytes[k + 1], bytes[k + 2], bytes[k + 3]];
                if *nocase {
                    case_variants(w, &mut variants);
                } else {
                    variants.clear();
                    variants.push(u32::from_le_bytes(w));
                }
                for &v in &variants {
                    raw.push((v, id << 4 | k as u32));
                }
            }
        }
        let wanted = ceil_log2(raw.len() * BITS_PER_ENTRY);
        let filter_bits = FILTER_BITS
            .iter()
            .copied()
            .find(|&b| b >= wanted)
            .unwrap_or(FILTER_BITS[FILTER_BITS.len() - 1]);
        let table_bits = ceil_log2(raw.len() / 2).clamp(4, 28);
        let mut filter = vec![0u64; 1 << (filter_bits - 6)];
        let mut offsets = vec![0u32; (1 << table_bits) + 1];
        for &(w, _) in &raw {
            let h = hash(w);
            filter[(h >> (64 - (filter_bits - 6))) as usize] |= probe_mask(h);
            offsets[(h >> (64 - table_bits)) as usize + 1] += 1;
        }
        for i in 1..offsets.len() {
            offsets[i] += offsets[i - 1];
        }
        let mut fill = offsets.clone();
        let mut entries = vec![(0u32, 0u32); raw.len()];
        for &(w, ak) in &raw {
            let slot = (hash(w) >> (64 - table_bits)) as usize;
            entries[fill[slot] as usize] = (w, ak);
            fill[slot] += 1;
        }
        Tier {
            stride,
            filter_bits,
            filter,
            table_bits,
            offsets,
            entries,
        }
    }

    fn memory_usage(&self) -> usize {
        self.filter.len() * 8 + self.offsets.len() * 4 + self.entries.len() * 8
    }
}

/// The offset of the first of `stride` consecutive windows inside `atom` whose bytes are least common.
fn best_first_window(atom: &[u8], stride: usize) -> usize {
    let last = (atom.len() - (WINDOW - 1) - stride).min(16 - stride);
    let costs: Vec<u32> = atom.iter().map(|&b| byte_cost(b)).collect();
    (0..=last)
        .min_by_key(|&k0| costs[k0..k0 + stride + WINDOW - 1].iter().sum::<u32>())
        .unwrap_or(0)
}

/// The atoms shorter than a window (1 to 3 bytes), with case or without. Occurrences come in order of where
/// they end, so a search resumed after `done` reports exactly what a whole search reports after it. They are
/// found one of two ways, whichever is cheaper for the set:
/// - An Aho-Corasick automaton, when it has a prefilter (a few atoms, or a few rare bytes among them):
///   then it skips most of the data with `memchr`.
/// - Else one pass that reads, at every position, the two bytes that end there: a bitmap of all 65,536
///   pairs (8 KiB, in cache) says whether an atom of 2 to 4 bytes ends with the pair (in some case, for an
///   atom without case), and only then is the pair looked up in a sorted table and the atoms' bytes
///   compared. Atoms of one byte are looked up by the last byte. Over the official database's 230 short
///   atoms, an automaton without a prefilter took about 57 instructions a byte; this takes about 16. The
///   atoms of a whole window (4 bytes) join such a set: in a tier they would be tested at every position.
///
/// The automaton and the tables are rebuilt, not stored, by the compiled-database cache.
#[derive(serde::Serialize, serde::Deserialize)]
struct ShortSet {
    /// Found by an automaton, with case or not (`Some(nocase)`), or else by pairs (`None`).
    case: Option<bool>,
    ids: Vec<u32>,
    #[serde(skip)]
    automaton: Option<AhoCorasick>,
    /// Bit `p` is set when an atom of 2 to 4 bytes ends with the pair `p` (`u16::from_le_bytes`).
    #[serde(skip)]
    pairs: Vec<u64>,
    /// Sorted (pair, atom) for the atoms of 2 to 4 bytes, each under every case of its last pair.
    #[serde(skip)]
    by_pair: Vec<(u16, u32)>,
    /// Sorted (byte, atom) for the atoms of one byte, each under every case of its byte.
    #[serde(skip)]
    by_byte: Vec<(u8, u32)>,
    /// Bit `b` is set when an atom of one byte is `b`.
    #[serde(skip)]
    singles: [u64; 4],
}

/// The words of the pair bitmap.
const PAIR_WORDS: usize = (1 << 16) / 64;

/// The cases of a byte: itself, and the other case of a letter when `nocase`.
fn cases(b: u8, nocase: bool) -> impl Iterator<Item = u8> {
    let other = (nocase && b.is_ascii_alphabetic()).then_some(b ^ 0x20);
    std::iter::once(b).chain(other)
}

impl ShortSet {
    /// The atoms `ids`, checked to be 1 to 3 bytes long (4 for a set found by pairs) and, for an automaton's
    /// set, of its case.
    fn atoms<'a>(
        ids: &[u32],
        automaton: Option<bool>,
        arena: &'a [u8],
        spans: &[Span],
    ) -> Result<Vec<(&'a [u8], bool)>, String> {
        let mut atoms = Vec::with_capacity(ids.len());
        for &id in ids {
            let span = spans
                .get(id as usize)
                .ok_or_else(|| format!("atom {id} out of range"))?;
            let atom = arena
                .get(span.start as usize..span.start as usize + span.len as usize)
                .ok_or("atom outside the arena")?;
            let longest = if automaton.is_some() {
                WINDOW - 1
            } else {
                WINDOW
            };
            if automaton.is_some_and(|nocase| nocase != span.nocase)
                || !(1..=longest).contains(&atom.len())
            {
                return Err(format!("atom {id} does not belong to its short set"));
            }
            atoms.push((atom, span.nocase));
        }
        Ok(atoms)
    }

    /// The atoms `ids` (with case unless `nocase`) found by an automaton, if it has a prefilter and
    /// `prefiltered` asks for one.
    fn with_automaton(
        ids: Vec<u32>,
        nocase: bool,
        prefiltered: bool,
        arena: &[u8],
        spans: &[Span],
    ) -> Result<Option<ShortSet>, String> {
        let atoms: Vec<&[u8]> = ShortSet::atoms(&ids, Some(nocase), arena, spans)?
            .into_iter()
            .map(|(a, _)| a)
            .collect();
        if prefiltered {
            let has = aho_corasick::nfa::contiguous::Builder::new()
                .ascii_case_insensitive(nocase)
                .prefilter(true)
                .build(&atoms)
                .is_ok_and(|nfa| aho_corasick::automaton::Automaton::prefilter(&nfa).is_some());
            if !has {
                return Ok(None);
            }
        }
        let automaton = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .ascii_case_insensitive(nocase)
            .build(&atoms)
            .map_err(|e| format!("short atoms: {e}"))?;
        Ok(Some(ShortSet {
            case: Some(nocase),
            ids,
            automaton: Some(automaton),
            pairs: Vec::new(),
            by_pair: Vec::new(),
            by_byte: Vec::new(),
            singles: [0; 4],
        }))
    }

    /// The atoms `ids`, with case or without, found by their last pair.
    fn with_pairs(ids: Vec<u32>, arena: &[u8], spans: &[Span]) -> Result<ShortSet, String> {
        let atoms = ShortSet::atoms(&ids, None, arena, spans)?;
        let mut set = ShortSet {
            case: None,
            ids,
            automaton: None,
            pairs: vec![0; PAIR_WORDS],
            by_pair: Vec::new(),
            by_byte: Vec::new(),
            singles: [0; 4],
        };
        for (&id, &(atom, nocase)) in set.ids.iter().zip(&atoms) {
            match *atom {
                [b] => {
                    for c in cases(b, nocase) {
                        set.singles[usize::from(c >> 6)] |= 1 << (c & 63);
                        set.by_byte.push((c, id));
                    }
                }
                [.., a, b] => {
                    for ca in cases(a, nocase) {
                        for cb in cases(b, nocase) {
                            let pair = u16::from_le_bytes([ca, cb]);
                            set.pairs[usize::from(pair >> 6)] |= 1 << (pair & 63);
                            set.by_pair.push((pair, id));
                        }
                    }
                }
                [] => {}
            }
        }
        set.by_pair.sort_unstable();
        set.by_byte.sort_unstable();
        Ok(set)
    }

    /// The set again after loading from the compiled-database cache.
    fn restored(&mut self, arena: &[u8], spans: &[Span]) -> Result<ShortSet, String> {
        let ids = std::mem::take(&mut self.ids);
        match self.case {
            Some(nocase) => ShortSet::with_automaton(ids, nocase, false, arena, spans)?
                .ok_or_else(|| "short atoms".to_string()),
            None => ShortSet::with_pairs(ids, arena, spans),
        }
    }

    fn memory_usage(&self) -> usize {
        self.ids.len() * 4
            + self.automaton.as_ref().map_or(0, AhoCorasick::memory_usage)
            + self.pairs.len() * 8
            + self.by_pair.len() * 8
            + self.by_byte.len() * 8
    }
}

/// The longest atom.
const MAX_ATOM_LEN: usize = super::pattern::MAX_ATOM;
/// Most atom hits a stream keeps; past this it gives up and the object is searched whole at its end.
pub(crate) const MAX_STREAM_HITS: usize = 1 << 20;

/// The state of a search carried across the chunks of an object that is still arriving
/// ([`AtomSet::advance`]).
#[derive(Clone, Debug, Default)]
pub(crate) struct AtomStream {
    /// The next sample position of each tier.
    next: Vec<usize>,
    /// How far the short atoms were searched.
    short_done: usize,
    tier_hits: Vec<HitList>,
    short_hits: Vec<HitList>,
    started: bool,
    /// Too many hits: the stream was given up.
    pub(crate) overflowed: bool,
    /// Never given up ([`Self::keep_every_hit`]).
    unbounded: bool,
}

/// A stream's hits, (atom, position) in the order found: 8 bytes each while every position fits 32 bits
/// (an object under 4 GiB), 16 from the first that does not. Dense text holds a hit every few bytes for
/// as long as they await their verification, in every stream a session has open.
#[derive(Clone, Debug)]
enum HitList {
    Narrow(Vec<(u32, u32)>),
    Wide(Vec<(u32, usize)>),
}

impl Default for HitList {
    fn default() -> HitList {
        HitList::Narrow(Vec::new())
    }
}

impl HitList {
    fn push(&mut self, atom: u32, at: usize) {
        match self {
            HitList::Narrow(list) => match u32::try_from(at) {
                Ok(at) => list.push((atom, at)),
                Err(_) => {
                    let mut wide: Vec<(u32, usize)> =
                        list.iter().map(|&(a, p)| (a, p as usize)).collect();
                    wide.push((atom, at));
                    *self = HitList::Wide(wide);
                }
            },
            HitList::Wide(list) => list.push((atom, at)),
        }
    }

    fn len(&self) -> usize {
        match self {
            HitList::Narrow(list) => list.len(),
            HitList::Wide(list) => list.len(),
        }
    }

    /// The hits, in order.
    fn iter(&self) -> impl Iterator<Item = (u32, usize)> + '_ {
        let (narrow, wide) = match self {
            HitList::Narrow(list) => (&list[..], &[][..]),
            HitList::Wide(list) => (&[][..], &list[..]),
        };
        narrow
            .iter()
            .map(|&(a, p)| (a, p as usize))
            .chain(wide.iter().copied())
    }

    fn clear(&mut self) {
        match self {
            HitList::Narrow(list) => list.clear(),
            HitList::Wide(list) => list.clear(),
        }
    }

    /// Keeps the hits `keep` says are needed; the room a burst of hits dropped leaves goes too
    /// ([`super::shed_room`]).
    fn retain(&mut self, keep: impl Fn(u32, usize) -> bool) {
        fn retain_in<P: Copy>(list: &mut Vec<(u32, P)>, keep: impl Fn(u32, P) -> bool) {
            list.retain(|&(a, p)| keep(a, p));
            super::shed_room(list, 64);
        }
        match self {
            HitList::Narrow(list) => retain_in(list, |a, p| keep(a, p as usize)),
            HitList::Wide(list) => retain_in(list, keep),
        }
    }

    fn memory_usage(&self) -> usize {
        match self {
            HitList::Narrow(list) => list.capacity() * 8,
            HitList::Wide(list) => list.capacity() * 16,
        }
    }
}

impl AtomStream {
    /// Reports the hits in the order [`AtomSet::find`] would.
    pub(crate) fn replay(&self, found: &mut dyn FnMut(u32, usize)) {
        for (a, p) in self
            .tier_hits
            .iter()
            .chain(&self.short_hits)
            .flat_map(HitList::iter)
        {
            found(a, p);
        }
    }

    /// A position below which every atom occurrence of an object of `len` bytes so far has been found, and
    /// from which on the next call needs the object's bytes.
    pub(crate) fn floor(&self, len: usize) -> usize {
        let tiers = self.next.iter().copied().min().unwrap_or(len);
        let short = if self.short_hits.is_empty() {
            len
        } else {
            self.short_done
        };
        tiers.min(short).min(len).saturating_sub(MAX_ATOM_LEN)
    }

    /// Hands over the hits found so far, in no particular order, and forgets them.
    pub(crate) fn take_hits(&mut self, found: &mut dyn FnMut(u32, usize)) {
        for list in self.tier_hits.iter_mut().chain(&mut self.short_hits) {
            for (a, p) in list.iter() {
                found(a, p);
            }
            list.clear();
        }
    }

    /// Keeps only the hits `keep` says are needed.
    pub(crate) fn retain(&mut self, keep: impl Fn(u32, usize) -> bool) {
        for list in self.tier_hits.iter_mut().chain(&mut self.short_hits) {
            // A burst of hits verified and dropped leaves no lasting footprint.
            list.retain(&keep);
        }
    }

    /// Never give up: for a message whose bytes a session lets go of, the stream's hits are all there is.
    pub(crate) fn keep_every_hit(&mut self) {
        self.unbounded = true;
    }

    /// The heap memory the stream holds.
    pub(crate) fn memory_usage(&self) -> usize {
        self.next.capacity() * 8
            + self
                .tier_hits
                .iter()
                .chain(&self.short_hits)
                .map(HitList::memory_usage)
                .sum::<usize>()
    }
}

/// A compiled set of atoms.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct AtomSet {
    #[serde(with = "serde_bytes")]
    arena: Vec<u8>,
    spans: Vec<Span>,
    tiers: Vec<Tier>,
    /// The atoms shorter than a window, with case and without.
    short: Vec<ShortSet>,
}

impl std::fmt::Debug for AtomSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AtomSet")
            .field("atoms", &self.spans.len())
            .field(
                "tiers (stride, windows, filter KiB)",
                &self
                    .tiers
                    .iter()
                    .map(|t| (t.stride, t.entries.len(), 1usize << t.filter_bits >> 13))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl AtomSet {
    /// After loading from the compiled-database cache: rebuilds the automata, and checks that every index
    /// points where it should (a damaged or forged file must not make a scan panic).
    pub(crate) fn restore(&mut self) -> Result<(), String> {
        let atom = |id: u32| -> Result<Span, String> {
            self.spans
                .get(id as usize)
                .copied()
                .ok_or_else(|| format!("atom {id} out of range"))
        };
        for span in &self.spans {
            if span.start as usize + span.len as usize > self.arena.len() {
                return Err("atom outside the arena".into());
            }
        }
        for tier in &self.tiers {
            if !FILTER_BITS.contains(&tier.filter_bits)
                || tier.filter.len() != 1 << (tier.filter_bits - 6)
                || !(4..=28).contains(&tier.table_bits)
                || tier.offsets.len() != (1 << tier.table_bits) + 1
                || tier.offsets.windows(2).any(|w| w[0] > w[1])
                || tier.offsets.last().copied() != Some(tier.entries.len() as u32)
                || !(1..=MAX_STRIDE).contains(&tier.stride)
            {
                return Err("malformed filter tier".into());
            }
            for &(_, ak) in &tier.entries {
                atom(ak >> 4)?;
            }
        }
        for set in &mut self.short {
            *set = set.restored(&self.arena, &self.spans)?;
        }
        Ok(())
    }

    /// The number of distinct atoms.
    pub(crate) fn len(&self) -> usize {
        self.spans.len()
    }

    /// The approximate heap memory used.
    pub(crate) fn memory_usage(&self) -> usize {
        self.arena.len()
            + self.spans.len() * std::mem::size_of::<Span>()
            + self.tiers.iter().map(Tier::memory_usage).sum::<usize>()
            + self.short.iter().map(ShortSet::memory_usage).sum::<usize>()
    }

    /// Calls `found(atom, start)` for every occurrence of every atom in `data`, overlapping ones included.
    /// Occurrences come tier by tier, roughly in order of position within a tier.
    pub(crate) fn find(&self, data: &[u8], mut found: impl FnMut(u32, usize)) {
        for tier in &self.tiers {
            self.find_in_tier(tier, data, &mut found);
        }
        for set in &self.short {
            self.find_short(set, data, 0, &mut found);
        }
    }

    /// Reports the occurrences of the atoms of `set` in `data` that end after `done` (0: all of them), in
    /// order of where they end.
    fn find_short(
        &self,
        set: &ShortSet,
        data: &[u8],
        done: usize,
        found: &mut impl FnMut(u32, usize),
    ) {
        if let Some(automaton) = &set.automaton {
            // The atoms are at most three bytes long, so only the last two bytes before `done` are
            // searched again.
            let from = done.saturating_sub(WINDOW - 1);
            let Some(slice) = data.get(from..) else {
                return;
            };
            for m in automaton.find_overlapping_iter(slice) {
                if from + m.end() > done
                    && let Some(&id) = set.ids.get(m.pattern().as_usize())
                {
                    found(id, from + m.start());
                }
            }
            return;
        }
        match set.by_byte.is_empty() {
            true => self.scan_short::<false>(set, data, done, found),
            false => self.scan_short::<true>(set, data, done, found),
        }
    }

    /// The loop of [`Self::find_short`], compiled with and without atoms of one byte.
    fn scan_short<const SINGLES: bool>(
        &self,
        set: &ShortSet,
        data: &[u8],
        done: usize,
        found: &mut impl FnMut(u32, usize),
    ) {
        let Ok(pairs) = <&[u64; PAIR_WORDS]>::try_from(set.pairs.as_slice()) else {
            return;
        };
        let single = |b: u8, end: usize, found: &mut dyn FnMut(u32, usize)| {
            if set.singles[usize::from(b >> 6)] >> (b & 63) & 1 != 0 {
                let lo = set.by_byte.partition_point(|&(c, _)| c < b);
                for &(_, id) in set.by_byte[lo..].iter().take_while(|&&(c, _)| c == b) {
                    found(id, end - 1);
                }
            }
        };
        if SINGLES
            && done == 0
            && let Some(&b) = data.first()
        {
            single(b, 1, found);
        }
        // The bytes that end at `end` are read at `end - 2`.
        let from = done.max(1) - 1;
        let Some(hay) = data.get(from..) else {
            return;
        };
        for (i, window) in hay.windows(2).enumerate() {
            let &[a, b] = window else {
                continue;
            };
            let end = from + i + 2;
            if SINGLES {
                single(b, end, found);
            }
            let pair = u16::from_le_bytes([a, b]);
            if pairs[usize::from(pair >> 6)] >> (pair & 63) & 1 != 0 {
                self.confirm_short(&set.by_pair, pair, data, end, found);
            }
        }
    }

    /// Reports the atoms of 2 to 4 bytes that end with `pair` at `end` in `data`.
    #[cold]
    fn confirm_short(
        &self,
        by_pair: &[(u16, u32)],
        pair: u16,
        data: &[u8],
        end: usize,
        found: &mut impl FnMut(u32, usize),
    ) {
        let lo = by_pair.partition_point(|&(p, _)| p < pair);
        for &(_, id) in by_pair[lo..].iter().take_while(|&&(p, _)| p == pair) {
            let Some(span) = self.spans.get(id as usize) else {
                continue;
            };
            if let Some(start) = end.checked_sub(span.len as usize)
                && self.occurs(*span, data, start)
            {
                found(id, start);
            }
        }
    }

    /// Whether the atom of `span` is in `data` at `start` (in any case, for an atom without case).
    #[inline(always)]
    fn occurs(&self, span: Span, data: &[u8], start: usize) -> bool {
        let len = span.len as usize;
        let (Some(atom), Some(here)) = (
            self.arena
                .get(span.start as usize..span.start as usize + len),
            data.get(start..start + len),
        ) else {
            return false;
        };
        if span.nocase {
            here.eq_ignore_ascii_case(atom)
        } else {
            here == atom
        }
    }

    fn find_in_tier(&self, tier: &Tier, data: &[u8], found: &mut impl FnMut(u32, usize)) {
        if let Some(last) = data.len().checked_sub(WINDOW) {
            self.sample_range(tier, data, 0, last, found);
        }
    }

    /// Tests the sample positions `from..=last` (`from` a multiple of the stride); returns the next one.
    fn sample_range(
        &self,
        tier: &Tier,
        data: &[u8],
        from: usize,
        last: usize,
        found: &mut dyn FnMut(u32, usize),
    ) -> usize {
        match tier.filter_bits {
            13 => self.sample::<13>(tier, data, from, last, found),
            16 => self.sample::<16>(tier, data, from, last, found),
            19 => self.sample::<19>(tier, data, from, last, found),
            21 => self.sample::<21>(tier, data, from, last, found),
            22 => self.sample::<22>(tier, data, from, last, found),
            23 => self.sample::<23>(tier, data, from, last, found),
            _ => self.sample::<25>(tier, data, from, last, found),
        }
    }

    /// Continues a search over `data`, the object so far (bytes are only ever appended to it): finds the
    /// atoms whose every byte has arrived, keeping the state in `stream`. With `last`, the object is whole
    /// and the search is completed. The hits, taken in order by [`AtomStream::replay`], are exactly what
    /// [`find`](Self::find) reports on the whole object, in the same order.
    ///
    /// The state is a few positions per tier plus the hits themselves; past [`MAX_STREAM_HITS`] hits the
    /// stream gives up (`overflowed`), and the caller searches the whole object instead.
    pub(crate) fn advance(&self, stream: &mut AtomStream, data: &[u8], base: usize, last: bool) {
        if stream.overflowed {
            return;
        }
        if !stream.started {
            stream.started = true;
            stream.next = vec![0; self.tiers.len()];
            stream.tier_hits = vec![HitList::default(); self.tiers.len()];
            stream.short_hits = vec![HitList::default(); self.short.len()];
        }
        // `data` is the object from `base` on: positions below are the object's, `local` ones the slice's.
        // Before the end, only windows far enough from it that the longest atom around them is complete.
        let bound = match last {
            true => data.len().checked_sub(WINDOW),
            false => data.len().checked_sub(MAX_ATOM_LEN),
        };
        for (t, tier) in self.tiers.iter().enumerate() {
            let Some(from) = stream.next[t].checked_sub(base) else {
                // The caller lets go of bytes only below the stream's floor.
                debug_assert!(
                    false,
                    "a stream's bytes were let go before it searched them"
                );
                continue;
            };
            if let Some(bound) = bound
                && from <= bound
            {
                let hits = &mut stream.tier_hits[t];
                let next =
                    self.sample_range(tier, data, from, bound, &mut |a, p| hits.push(a, base + p));
                stream.next[t] = base + next;
            }
        }
        let short_done = stream.short_done.saturating_sub(base);
        for (i, set) in self.short.iter().enumerate() {
            let hits = &mut stream.short_hits[i];
            self.find_short(set, data, short_done, &mut |a, p| hits.push(a, base + p));
        }
        stream.short_done = base + data.len();
        let total: usize = stream
            .tier_hits
            .iter()
            .chain(&stream.short_hits)
            .map(HitList::len)
            .sum();
        if total > MAX_STREAM_HITS && !stream.unbounded {
            *stream = AtomStream {
                started: true,
                overflowed: true,
                ..AtomStream::default()
            };
        }
    }

    /// The scanning loop, for a filter of `2^BITS` bits.
    #[inline(never)]
    fn sample<const BITS: u32>(
        &self,
        tier: &Tier,
        data: &[u8],
        from: usize,
        last: usize,
        found: &mut dyn FnMut(u32, usize),
    ) -> usize {
        let Some(filter) = tier.filter.get(..1 << (BITS - 6)) else {
            return from;
        };
        let Some(max) = data.len().checked_sub(WINDOW) else {
            return from;
        };
        let last = last.min(max);
        // Windows are read from a slice that ends with the last one: the compiler then sees that the loop's
        // own test keeps them inside it, and drops the bounds check (3 of 23 instructions a sample). The
        // atoms are confirmed in the whole of `data`, since they may reach past the last window.
        let Some(windows) = data.get(..last + WINDOW) else {
            return from;
        };
        let mut p = from;
        while p <= last {
            let w = window_at(windows, p);
            let h = hash(w);
            let mask = probe_mask(h);
            if filter[(h >> (64 - (BITS - 6))) as usize] & mask == mask {
                self.confirm(tier, data, p, w, h, found);
            }
            p += tier.stride;
        }
        p
    }

    #[cold]
    fn confirm(
        &self,
        tier: &Tier,
        data: &[u8],
        p: usize,
        w: u32,
        h: u64,
        found: &mut dyn FnMut(u32, usize),
    ) {
        let slot = (h >> (64 - tier.table_bits)) as usize;
        let (Some(&lo), Some(&hi)) = (tier.offsets.get(slot), tier.offsets.get(slot + 1)) else {
            return;
        };
        for &(window, ak) in tier.entries.get(lo as usize..hi as usize).unwrap_or(&[]) {
            if window != w {
                continue;
            }
            let k = (ak & 15) as usize;
            let id = ak >> 4;
            let Some(start) = p.checked_sub(k) else {
                continue;
            };
            if let Some(&span) = self.spans.get(id as usize)
                && self.occurs(span, data, start)
            {
                found(id, start);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every occurrence of every atom, found naively.
    fn naive(atoms: &[(Vec<u8>, bool)], data: &[u8]) -> Vec<(u32, usize)> {
        let mut out = Vec::new();
        for (id, (a, nocase)) in atoms.iter().enumerate() {
            for s in 0..data.len() {
                if let Some(h) = data.get(s..s + a.len())
                    && ((*nocase && h.eq_ignore_ascii_case(a)) || (!nocase && h == a.as_slice()))
                {
                    out.push((id as u32, s));
                }
            }
        }
        out.sort_unstable();
        out
    }

    fn found(set: &AtomSet, data: &[u8]) -> Vec<(u32, usize)> {
        let mut out = Vec::new();
        set.find(data, |a, s| out.push((a, s)));
        out.sort_unstable();
        out
    }

    #[test]
    fn finds_every_occurrence_exactly_once() {
        let atoms: Vec<(Vec<u8>, bool)> = vec![
            (b"ab".to_vec(), false),
            (b"xyz".to_vec(), true),
            (b"abcd".to_vec(), false),
            (b"aaaaaaa".to_vec(), false),
            (b"hello world".to_vec(), true),
            (b"\x00\x00\x00\x00\x00\x00\x00\x00\x00".to_vec(), false),
            (b"0123456789abcdefghijklmnop".to_vec(), false),
            (b"aaaaaaaaaaaa".to_vec(), false),
        ];
        let mut b = AtomSetBuilder::default();
        for (a, nc) in &atoms {
            b.add(a.clone(), *nc);
        }
        let set = b.build();
        let inputs: &[&[u8]] = &[
            b"",
            b"ab",
            b"abcd abcd xYz XYZ",
            b"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
            b"say HELLO WORLD and Hello World and hello world!",
            &[0u8; 40],
            b"..0123456789abcdefghijklmnop0123456789abcdefghijklmnop",
        ];
        for data in inputs {
            assert_eq!(
                found(&set, data),
                naive(&atoms, data),
                "{:?}",
                String::from_utf8_lossy(data)
            );
        }
    }

    #[test]
    fn random_atoms_in_random_data() {
        // A small deterministic generator: the property must hold at every alignment and stride.
        let mut rng = crate::testing::XorShift::new(0x2545_F491_4F6C_DD1D);
        let mut next = move || rng.next_u64();
        let data: Vec<u8> = (0..20_000).map(|_| (next() % 4) as u8 + b'a').collect();
        let mut atoms = Vec::new();
        for i in 0..300 {
            let len = 2 + (next() % 14) as usize;
            let at = (next() % (data.len() as u64 - 20)) as usize;
            atoms.push((data[at..at + len].to_vec(), i % 7 == 0));
        }
        let mut b = AtomSetBuilder::default();
        let mut unique = Vec::new();
        for (a, nc) in &atoms {
            if b.add(a.clone(), *nc) as usize == unique.len() {
                unique.push((a.clone(), *nc));
            }
        }
        let set = b.build();
        assert_eq!(found(&set, &data), naive(&unique, &data));
    }

    #[test]
    fn a_stream_finds_what_a_whole_search_finds_in_the_same_order() {
        let mut b = AtomSetBuilder::default();
        for a in [
            &b"ab"[..],
            b"xyz",
            b"abcd",
            b"hello wor",
            b"0123456789abcdef",
            b"cdef0",
        ] {
            b.add(a.to_vec(), false);
        }
        let set = b.build();
        let data = b"..abcd hello world 0123456789abcdef0 xyz ab cdef0 hello wor".repeat(7);
        streams_agree(&set, &data, &[1, 2, 3, 5, 16, 17, 100]);
    }

    #[test]
    fn hits_let_go_of_leave_little_room_behind() {
        // Dense text fills a list with thousands of hits a step; once most are verified and dropped, what
        // the list keeps in reserve is at most half again what it holds, for every share kept.
        for kept_every in [1, 2, 3, 4, 10, 100, 10_000] {
            let mut stream = AtomStream {
                tier_hits: vec![HitList::Narrow((0..10_000).map(|p| (0u32, p)).collect())],
                ..AtomStream::default()
            };
            stream.retain(|_, p| p % kept_every == 0);
            let list = &stream.tier_hits[0];
            assert_eq!(list.len(), 10_000usize.div_ceil(kept_every));
            assert!(
                list.memory_usage() <= 8 * (2 * list.len() + 64),
                "{kept_every}: {} bytes for {}",
                list.memory_usage(),
                list.len()
            );
        }
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn hits_past_4_gib_widen_the_list_and_keep_their_order() {
        let far = u32::MAX as usize + 10;
        let mut list = HitList::default();
        let hits = [
            (1, 5),
            (2, u32::MAX as usize),
            (3, far),
            (4, 7),
            (5, far + 1),
        ];
        for (n, &(a, p)) in hits.iter().enumerate() {
            list.push(a, p);
            let narrow = matches!(list, HitList::Narrow(_));
            assert_eq!(narrow, n < 2, "after hit {n}");
        }
        assert_eq!(list.iter().collect::<Vec<_>>(), hits);
        list.retain(|a, _| a != 3);
        assert_eq!(list.iter().map(|h| h.0).collect::<Vec<_>>(), [1, 2, 4, 5]);
        assert_eq!(list.iter().last(), Some((5, far + 1)));
    }

    /// A stream of `data` fed `chunk` bytes at a time reports what a whole search does, in the same order.
    fn streams_agree(set: &AtomSet, data: &[u8], chunks: &[usize]) {
        let mut whole = Vec::new();
        set.find(data, |a, p| whole.push((a, p)));
        for &chunk in chunks {
            let mut stream = AtomStream::default();
            let mut end = 0;
            while end < data.len() {
                end = (end + chunk).min(data.len());
                set.advance(&mut stream, &data[..end], 0, false);
            }
            set.advance(&mut stream, data, 0, true);
            let mut streamed = Vec::new();
            stream.replay(&mut |a, p| streamed.push((a, p)));
            assert_eq!(streamed, whole, "chunk {chunk}");
        }
    }

    #[test]
    fn short_atoms_are_found_both_ways_whole_and_streamed() {
        let mut rng = crate::testing::XorShift::new(0x9E37_79B9_7F4A_7C15);
        let mut next = move || rng.next_u64();
        let alphabet = b"abcXYZ \n01aA";
        let data: Vec<u8> = (0..6_000)
            .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
            .collect();
        // A few atoms, of one first byte: an automaton with a prefilter. Many, of every length 1 to 3,
        // with case and without: found by pairs (and bytes). Both, and a long one beside.
        let few: Vec<(Vec<u8>, bool)> = vec![(b"ab".to_vec(), false), (b"a1".to_vec(), false)];
        let mut many: Vec<(Vec<u8>, bool)> = (0..80)
            .map(|i| {
                let len = 1 + (next() % 3) as usize;
                let atom = (0..len)
                    .map(|_| alphabet[(next() % alphabet.len() as u64) as usize])
                    .collect();
                (atom, i % 3 == 0)
            })
            .collect();
        many.push((b"bcXY".to_vec(), true));
        for (atoms, pairs) in [(few, false), (many, true)] {
            let mut b = AtomSetBuilder::default();
            let mut unique = Vec::new();
            for (a, nc) in &atoms {
                if b.add(a.clone(), *nc) as usize == unique.len() {
                    let a = if *nc {
                        a.to_ascii_lowercase()
                    } else {
                        a.clone()
                    };
                    unique.push((a, *nc));
                }
            }
            let set = b.build();
            assert_eq!(set.short.iter().any(|s| s.case.is_none()), pairs);
            assert_eq!(found(&set, &data), naive(&unique, &data), "pairs {pairs}");
            streams_agree(&set, &data, &[1, 2, 3, 7, 64, 1000]);
        }
    }

    #[test]
    fn identical_atoms_share_an_id() {
        let mut b = AtomSetBuilder::default();
        assert_eq!(b.add(b"abcdef".to_vec(), false), 0);
        assert_eq!(b.add(b"abcdef".to_vec(), true), 1);
        assert_eq!(b.add(b"abcdef".to_vec(), false), 0);
        assert_eq!(b.build().len(), 2);
    }
}
