//! Where patterns are matched: the body-signature matcher (atoms found by a filter-first search,
//! [`filter`], then exact verification of each candidate) and the size-keyed hash index.
//!
//! Compilation: every part of every body signature gets an atom, the best run of exact bytes in it
//! ([`pattern`]); identical atoms are shared. Signatures whose offset allows only a few start positions
//! (`0`, `EOF-n`, `n,shift` with a small shift) need no atom: they are verified directly at those positions.
//! Scanning: the automaton reports every atom occurrence; each is verified for the parts that use it; a
//! single-part signature matches as soon as one part verifies at an offset it allows, and a multi-part one
//! when its parts occur in order with their minimum gaps between them.

pub(crate) mod filter;
pub(crate) mod gate;
pub(crate) mod hashes;
pub(crate) mod logical;
pub(crate) mod pattern;
pub(crate) mod regexes;

use std::collections::{HashMap, HashSet};

use crate::signatures::BodySig;
pub(crate) use crate::view::View;
pub(crate) use filter::AtomStream;
use filter::{AtomSet, AtomSetBuilder};
use pattern::Scratch;

/// Whether every verified occurrence of a signature counts alike: one part, anywhere, not by whole words.
fn simple(sig: &BodySig) -> bool {
    sig.pattern.parts.len() == 1
        && !sig.fullword
        && sig.offset == crate::signatures::offset::Offset::Any
}

/// Whether a signature's verified occurrences ahead are kept as the (start, end) of each part
/// ([`PreVerified::chained`]): one of several parts whose first part's offset does not depend on the
/// object's length.
fn chained(sig: &BodySig) -> bool {
    sig.pattern.parts.len() > 1
        && !matches!(
            sig.offset,
            crate::signatures::offset::Offset::FromEnd { .. }
        )
}

/// The start and end of a verified occurrence of part `part` of `sig` in an object of `len` bytes, if it
/// counts: the latest start its offset and whole-word rule allow.
fn occurrence(sig: &BodySig, part: u16, o: &Outcome, len: usize) -> Option<(usize, usize)> {
    let first = part == 0;
    let last = part as usize + 1 == sig.pattern.parts.len();
    let (&start, _) = o
        .starts
        .iter()
        .zip(&o.before)
        .rev()
        .find(|&(&st, before)| {
            (!first || sig.offset.allows(st, len))
                && (!sig.fullword || !first || before.is_none_or(|b| !word_byte(b)))
        })?;
    if sig.fullword && last && o.after.is_some_and(word_byte) {
        return None;
    }
    Some((start, o.end))
}

/// Occurrences kept per signature part and object; beyond this, later ones are dropped.
const MAX_OCCURRENCES: usize = 4096;

#[derive(Clone, Copy, Debug, serde::Serialize, serde::Deserialize)]
struct AtomUse {
    sig: u32,
    part: u16,
}

/// Reports atom occurrences (atom id, start) to the callback it is given: a search of the object, or the
/// replay of a stream's hits.
type AtomSource<'s> = dyn FnMut(&mut dyn FnMut(u32, usize)) + 's;

/// Most matches counted for one subsignature in one object: enough for any count a signature asks.
const MAX_COUNT: u32 = 1024;

/// What matching one object found.
#[derive(Debug, Default)]
pub(crate) struct Hits<'a> {
    /// Names of the body signatures that matched.
    pub(crate) names: Vec<&'a str>,
    /// Matches counted per logical-signature subsignature.
    pub(crate) subs: HashMap<(u32, u8), u32>,
}

/// One verified occurrence of a signature part: its possible starts with the byte before each (for
/// `fullword`), and its least end with the byte after it.
#[derive(Clone, Debug)]
pub(crate) struct Outcome {
    starts: Vec<usize>,
    before: Vec<Option<u8>>,
    end: usize,
    after: Option<u8>,
}

impl Outcome {
    /// From a verification in `piece`, which starts at `base` in the object.
    fn new(piece: &[u8], base: usize, starts: Vec<usize>, end: usize) -> Outcome {
        let before = starts
            .iter()
            .map(|&s| s.checked_sub(1).and_then(|i| piece.get(i).copied()))
            .collect();
        Outcome {
            starts: starts.into_iter().map(|s| s + base).collect(),
            before,
            end: end + base,
            after: piece.get(end).copied(),
        }
    }
}

/// Occurrences verified ahead of the end of an object, while the bytes around them were still held: every
/// atom hit at a position below `below`, by (position, signature, part). A hit there without an entry did
/// not verify.
///
/// Only what can still change the outcome is kept: for a plain signature that matches anywhere, its first
/// occurrence; for a counted subsignature, how many distinct starts (up to [`MAX_COUNT`]), with the starts
/// themselves only where a later occurrence could start too. A hit none of whose users verified is dropped
/// from the stream ([`Self::needs`]).
#[derive(Debug, Default)]
pub(crate) struct PreVerified {
    pub(crate) below: usize,
    found: HashMap<(usize, u32, u16), Outcome>,
    /// Hits with at least one occurrence kept.
    kept: HashSet<(u32, usize)>,
    /// Plain signatures with an occurrence kept, and the starts of counted subsignatures.
    plain: HashSet<u32>,
    counted: HashMap<u32, Starts>,
    /// Per part of a [`chained`] signature, as the final chain check takes them: how many occurrences were
    /// seen, and of the first [`MAX_OCCURRENCES`], those that can still be part of a chain.
    chained: PartOccurrences,
}

/// Per (signature, part): how many occurrences were seen, and the (start, end) of those kept.
type PartOccurrences = HashMap<(u32, u16), (usize, Vec<(usize, usize)>)>;

/// The distinct starts of a counted subsignature's occurrences: those below where a later occurrence can
/// start only counted, the others kept (in order, once each) to tell a later occurrence's start from
/// theirs. A stream of text has one for each of a hundred subsignatures, nearly all with no start kept.
#[derive(Debug, Default)]
struct Starts {
    folded: u32,
    recent: Vec<usize>,
}

/// Gives back the room a burst left in `list` (hits or starts dropped once verified or counted): past
/// twice what it holds and `slack`, down to half again. Dense text refills it at every step, so no
/// tighter.
pub(crate) fn shed_room<T>(list: &mut Vec<T>, slack: usize) {
    if list.capacity() > 2 * list.len() + slack {
        list.shrink_to(list.len() + list.len() / 2);
    }
}

/// The heap memory of a hash table's room for `capacity` entries of type `T` (a control byte each).
fn table_memory<T>(capacity: usize) -> usize {
    capacity * (std::mem::size_of::<T>() + 1)
}

impl PreVerified {
    pub(crate) fn memory_usage(&self) -> usize {
        let outcomes: usize = self
            .found
            .values()
            .map(|o| o.starts.capacity() * 8 + o.before.capacity() * 2)
            .sum();
        table_memory::<((usize, u32, u16), Outcome)>(self.found.capacity())
            + outcomes
            + table_memory::<(u32, usize)>(self.kept.capacity())
            + table_memory::<u32>(self.plain.capacity())
            + table_memory::<((u32, u16), (usize, Vec<(usize, usize)>))>(self.chained.capacity())
            + self
                .chained
                .values()
                .map(|(_, l)| l.capacity() * 16)
                .sum::<usize>()
            + table_memory::<(u32, Starts)>(self.counted.capacity())
            + self
                .counted
                .values()
                .map(|s| s.recent.capacity() * 8)
                .sum::<usize>()
    }

    /// Whether the hit of `atom` at `at` is still needed: not verified yet, or with an occurrence kept.
    pub(crate) fn needs(&self, atom: u32, at: usize) -> bool {
        at >= self.below || self.kept.contains(&(atom, at))
    }
}

/// How far around an atom hit, and from the start and the end of the object, the matching of a message
/// itself may look: what a session must hold of it ([`BodyMatcher::span`] says instead why it needs
/// every byte, when some signature for mail has no atom or a logical one runs a regular expression at an
/// offset far from the end).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RootSpan {
    /// Bytes before an atom's start and from it on that a verification may read.
    pub(crate) back: usize,
    pub(crate) fwd: usize,
    /// Bytes from the start that anchored signatures read, and from the end.
    pub(crate) from_start: usize,
    pub(crate) from_end: usize,
    /// Bytes before the end that the searches of regular expressions still read
    /// ([`regexes::PcreStream::needed_from`] says exactly where they start).
    pub(crate) pcre: usize,
}

/// The compiled body signatures.
#[derive(serde::Serialize, serde::Deserialize)]
pub(crate) struct BodyMatcher {
    sigs: Vec<BodySig>,
    /// Every atom, exact or case-insensitive.
    atoms: AtomSet,
    /// The parts that use atom `a` are `users[user_offsets[a]..user_offsets[a + 1]]`.
    user_offsets: Vec<u32>,
    users: Vec<AtomUse>,
    anchored: Vec<u32>,
    unanchored: Vec<AtomUse>,
}

impl std::fmt::Debug for BodyMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BodyMatcher")
            .field("signatures", &self.sigs.len())
            .field("atoms", &self.atoms)
            .finish()
    }
}

fn word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric()
}

impl BodyMatcher {
    pub(crate) fn new(sigs: Vec<BodySig>) -> BodyMatcher {
        let mut builder = AtomSetBuilder::default();
        let mut uses: Vec<(u32, AtomUse)> = Vec::new();
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
                    Some(atom) => uses.push((builder.add(atom, part.nocase), using)),
                    None => unanchored.push(using),
                }
            }
        }
        let atoms = builder.build();
        // Users grouped by atom, in signature order within an atom.
        let mut user_offsets = vec![0u32; atoms.len() + 1];
        for &(a, _) in &uses {
            user_offsets[a as usize + 1] += 1;
        }
        for i in 1..user_offsets.len() {
            user_offsets[i] += user_offsets[i - 1];
        }
        let mut fill = user_offsets.clone();
        let mut users = vec![AtomUse { sig: 0, part: 0 }; uses.len()];
        for (a, u) in uses {
            users[fill[a as usize] as usize] = u;
            fill[a as usize] += 1;
        }
        BodyMatcher {
            sigs,
            atoms,
            user_offsets,
            users,
            anchored,
            unanchored,
        }
    }

    /// After loading from the compiled-database cache: rebuilds what is not stored and checks every index
    /// (`logical` gives each logical signature's number of subsignatures).
    pub(crate) fn restore(&mut self, logical: &[usize]) -> Result<(), String> {
        self.atoms.restore()?;
        let part_ok = |u: &AtomUse| {
            self.sigs
                .get(u.sig as usize)
                .is_some_and(|s| (u.part as usize) < s.pattern.parts.len())
        };
        if self.user_offsets.len() != self.atoms.len() + 1
            || self.user_offsets.windows(2).any(|w| w[0] > w[1])
            || self.user_offsets.last().copied() != Some(self.users.len() as u32)
            || !self.users.iter().all(part_ok)
            || !self.unanchored.iter().all(part_ok)
            || self.anchored.iter().any(|&s| {
                self.sigs
                    .get(s as usize)
                    .is_none_or(|s| s.pattern.parts.len() != 1)
            })
        {
            return Err("malformed body-signature index".into());
        }
        for sig in &self.sigs {
            if let Some((l, sub)) = sig.owner
                && logical.get(l as usize).is_none_or(|&n| sub as usize >= n)
            {
                return Err("subsignature of an unknown logical signature".into());
            }
            for part in &sig.pattern.parts {
                if let Some(a) = part.atom
                    && !matches!(part.elems.get(a), Some(pattern::Elem::Lit(_)))
                {
                    return Err("malformed pattern".into());
                }
            }
        }
        Ok(())
    }

    fn users_of(&self, atom: u32) -> &[AtomUse] {
        let a = atom as usize;
        match (self.user_offsets.get(a), self.user_offsets.get(a + 1)) {
            (Some(&lo), Some(&hi)) => self.users.get(lo as usize..hi as usize).unwrap_or(&[]),
            _ => &[],
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.sigs.iter().filter(|s| s.owner.is_none()).count()
    }

    /// The hex subsignatures of logical signatures that `wanted` says are wanted, by (signature,
    /// subsignature): each form's offset and its pattern's first part, where its matches start.
    pub(crate) fn first_parts(
        &self,
        wanted: impl Fn((u32, u8)) -> bool,
    ) -> HashMap<(u32, u8), gate::Forms<'_>> {
        let mut out: HashMap<_, Vec<_>> = HashMap::new();
        for sig in &self.sigs {
            if let Some(owner) = sig.owner
                && wanted(owner)
            {
                out.entry(owner)
                    .or_default()
                    .push((sig.offset, sig.pattern.parts.first()));
            }
        }
        out
    }

    /// The approximate heap memory the matcher uses.
    pub(crate) fn memory_usage(&self) -> usize {
        self.atoms.memory_usage()
            + self.user_offsets.len() * 4
            + self.users.len() * std::mem::size_of::<AtomUse>()
            + self.sigs.iter().map(BodySig::memory_usage).sum::<usize>()
    }

    /// Matches `data`, an object of ClamAV target type `target`.
    pub(crate) fn scan<'a>(&'a self, data: &[u8], target: u8) -> Hits<'a> {
        self.scan_with(
            View::whole(data),
            target,
            &mut |found| self.atoms.find(data, found),
            None,
        )
    }

    /// Searches the bytes of an object that have arrived since the last call: `data` holds the object
    /// from position `base` on (a session may have let go of what came before).
    pub(crate) fn advance(&self, stream: &mut AtomStream, data: &[u8], base: usize, last: bool) {
        self.atoms.advance(stream, data, base, last);
    }

    /// As [`scan`](Self::scan), with the atoms found by a stream that was completed on the object, and the
    /// occurrences verified while it arrived (`pre`), for the hits in bytes `view` no longer holds.
    pub(crate) fn scan_streamed<'a>(
        &'a self,
        view: View<'_>,
        target: u8,
        stream: &AtomStream,
        pre: Option<&PreVerified>,
    ) -> Hits<'a> {
        if stream.overflowed {
            return match (view.is_whole(), view.get(0..view.len())) {
                (true, Some(data)) => self.scan(data, target),
                // A session never lets go of a message's bytes once its stream gave up, and its stream
                // never gives up once it let go of bytes.
                _ => {
                    debug_assert!(false, "a stream that gave up on a message held in pieces");
                    Hits::default()
                }
            };
        }
        self.scan_with(view, target, &mut |found| stream.replay(found), pre)
    }

    /// Whether signature `sig` applies to an object of type `target`.
    fn applies(&self, sig: &BodySig, target: u8) -> bool {
        sig.target == 0 || sig.target == target
    }

    /// The piece of `view` that holds bytes `lo..hi`, as its start and its bytes: the whole object when it is
    /// held whole (then no span need be worked out).
    fn piece<'v>(
        view: &View<'v>,
        span: impl FnOnce() -> (usize, usize),
    ) -> Option<(usize, &'v [u8])> {
        if view.is_whole() {
            return view.covering(0, 0);
        }
        let (lo, hi) = span();
        let found = view.covering(lo, hi);
        debug_assert!(found.is_some(), "bytes a verification reads were let go");
        found
    }

    /// Verifies `part` around an atom at `at`, in the piece of `view` that holds all it may read.
    fn verify_atom(
        &self,
        view: &View<'_>,
        part: &pattern::Part,
        at: usize,
        scratch: &mut Scratch,
    ) -> Option<Outcome> {
        // One byte more on each side: what `fullword` and the classes look at.
        let (base, piece) = Self::piece(view, || {
            let (back, fwd) = part.extent();
            (at.saturating_sub(back + 1), at.saturating_add(fwd + 1))
        })?;
        let (starts, end) = part.verify_at_atom(piece, at.checked_sub(base)?, scratch)?;
        Some(Outcome::new(piece, base, starts, end))
    }

    /// Verifies `part` starting exactly at `start`.
    fn verify_start(
        &self,
        view: &View<'_>,
        part: &pattern::Part,
        start: usize,
        scratch: &mut Scratch,
    ) -> Option<Outcome> {
        let (base, piece) = Self::piece(view, || {
            (
                start.saturating_sub(1),
                start.saturating_add(part.max_width() + 1),
            )
        })?;
        let local = start.checked_sub(base)?;
        let end = part.verify_from(piece, local, scratch)?;
        Some(Outcome::new(piece, base, vec![local], end))
    }

    /// Verifies, while their bytes are still held, the stream's hits at positions `pre.below..below` for
    /// an object of type `target`, and records what verified in `pre`.
    pub(crate) fn preverify(
        &self,
        stream: &AtomStream,
        view: View<'_>,
        target: u8,
        below: usize,
        pre: &mut PreVerified,
    ) {
        let from = pre.below;
        if below <= from {
            return;
        }
        let mut scratch = Scratch::default();
        stream.replay(&mut |atom, at| {
            if at < from || at >= below {
                return;
            }
            for &u in self.users_of(atom) {
                let sig = &self.sigs[u.sig as usize];
                if !self.applies(sig, target) {
                    continue;
                }
                let part = &sig.pattern.parts[u.part as usize];
                let Some(o) = self.verify_atom(&view, part, at, &mut scratch) else {
                    continue;
                };
                if chained(sig) {
                    if let Some(found) = occurrence(sig, u.part, &o, usize::MAX) {
                        let (seen, list) = pre.chained.entry((u.sig, u.part)).or_default();
                        if *seen < MAX_OCCURRENCES {
                            list.push(found);
                        }
                        *seen += 1;
                    }
                    continue;
                }
                // Matching anywhere and not by whole words, every occurrence counts alike: past the first
                // (plain) or the first MAX_COUNT distinct starts (counted, kept as starts alone), more
                // change nothing.
                let needed = match (simple(sig), sig.owner, o.starts.last()) {
                    (true, None, _) => pre.plain.insert(u.sig),
                    (true, Some(_), Some(&start)) => {
                        let starts = pre.counted.entry(u.sig).or_default();
                        if (starts.folded as usize) + starts.recent.len() < MAX_COUNT as usize
                            && let Err(at) = starts.recent.binary_search(&start)
                        {
                            starts.recent.insert(at, start);
                        }
                        false
                    }
                    _ => true,
                };
                if needed {
                    pre.found.insert((at, u.sig, u.part), o);
                    pre.kept.insert((atom, at));
                }
            }
        });
        pre.below = below;
        self.prune_chains(pre, below);
        // A later hit is at `below` or after, so its occurrence starts no further back than its part reaches.
        for (&s, starts) in &mut pre.counted {
            let (back, _) = self.sigs[s as usize].pattern.parts[0].extent();
            let floor = below.saturating_sub(back);
            let below_floor = starts.recent.partition_point(|&st| st < floor);
            starts.recent.drain(..below_floor);
            starts.folded += below_floor as u32;
            // A burst of starts folded leaves no lasting room (dense text makes one for a hundred
            // subsignatures at every step), and an empty list none at all.
            let slack = if starts.recent.is_empty() { 0 } else { 4 };
            shed_room(&mut starts.recent, slack);
        }
    }

    /// Drops the occurrences of multi-part signatures, verified ahead of `below`, that no chain can use: the
    /// chain check takes the least end of a first part, then of each next part the least end of an
    /// occurrence starting at least its gap after the previous end. So of a first part only the occurrence
    /// with the least end counts, and an occurrence of a later part that starts before the least end the
    /// previous part can still have (one seen, or one starting no further back than a hit at `below`), plus
    /// its gap, counts for nothing.
    ///
    /// Once the previous part's least end is settled (no later occurrence can end before it, and the one
    /// that has it is kept for good), where this part must start is too: of the occurrences that start
    /// there or later, only the one with the least end counts. A part with thousands of occurrences (a
    /// tag in HTML) then keeps one, not all of them.
    fn prune_chains(&self, pre: &mut PreVerified, below: usize) {
        let sigs: HashSet<u32> = pre.chained.keys().map(|&(s, _)| s).collect();
        for s in sigs {
            let sig = &self.sigs[s as usize];
            let mut least: Option<usize> = None;
            // Whether `least` is settled.
            let mut settled = true;
            for (p, part) in sig.pattern.parts.iter().enumerate() {
                // A later occurrence starts at `below` less its reach back, and ends no earlier.
                let future = below.saturating_sub(part.extent().0);
                let Some((_, list)) = pre.chained.get_mut(&(s, p as u16)) else {
                    least = Some(future);
                    settled = false;
                    continue;
                };
                if let Some(prev) = least.filter(|_| p > 0) {
                    let need = prev.saturating_add(part.min_gap_before as usize);
                    list.retain(|o| o.0 >= need);
                }
                // The first part's least end is all that counts; so is a later part's, once where it must
                // start is settled.
                if (p == 0 || settled)
                    && let Some(&best) = list.iter().min_by_key(|o| o.1)
                {
                    list.clear();
                    list.push(best);
                }
                let seen_least = list.iter().map(|o| o.1).min();
                settled = settled && seen_least.is_some_and(|e| e <= future);
                least = Some(seen_least.map_or(future, |e| e.min(future)));
                list.shrink_to(list.len() * 2);
            }
        }
    }

    /// What matching an object of target type `target` (a message: `mail`) reads beyond its atom hits; an
    /// error saying why if it needs the whole.
    pub(crate) fn span(
        &self,
        logical: &[crate::signatures::ldb::LogicalSig],
        target: u8,
    ) -> Result<RootSpan, &'static str> {
        let mut span = RootSpan::default();
        for l in logical
            .iter()
            .filter(|l| l.target == 0 || l.target == target)
        {
            for sub in &l.subs {
                let crate::signatures::ldb::SubSig::Pcre(p) = sub else {
                    continue;
                };
                if !regexes::streamable(p) {
                    return Err(
                        "a logical signature for the type runs a regular expression at an \
                         offset too far from the end",
                    );
                }
                // A search reads from its block's start to the expression's reach past its end, and the
                // byte on either side; one that matches only at the start, only at first.
                if p.regex.at_start() {
                    continue;
                }
                span.pcre = span.pcre.max(
                    regexes::BLOCK
                        .saturating_add(p.regex.reach())
                        .saturating_add(2),
                );
            }
        }
        let unanchored = self
            .unanchored
            .iter()
            .any(|u| self.applies(&self.sigs[u.sig as usize], target));
        if unanchored {
            return Err("a signature for the type has no run of exact bytes to find it by");
        }
        for sig in self.sigs.iter().filter(|s| self.applies(s, target)) {
            for part in &sig.pattern.parts {
                let (back, fwd) = part.extent();
                span.back = span.back.max(back.saturating_add(2));
                span.fwd = span.fwd.max(fwd.saturating_add(2));
            }
        }
        for &s in &self.anchored {
            let sig = &self.sigs[s as usize];
            if !self.applies(sig, target) {
                continue;
            }
            let width = sig.pattern.parts[0].max_width().saturating_add(2);
            let to_usize = |v: u64| usize::try_from(v).unwrap_or(usize::MAX);
            match sig.offset {
                crate::signatures::offset::Offset::Absolute { at, shift } => {
                    let reach = to_usize(at.saturating_add(shift)).saturating_add(width);
                    span.from_start = span.from_start.max(reach);
                }
                crate::signatures::offset::Offset::FromEnd { back, .. } => {
                    span.from_end = span.from_end.max(to_usize(back).saturating_add(2));
                }
                crate::signatures::offset::Offset::Any => {}
            }
        }
        Ok(span)
    }

    /// Matches an object, with the atom occurrences reported by `atoms`; occurrences at positions below
    /// `pre.below` were verified ahead ([`Self::preverify`]).
    fn scan_with<'a>(
        &'a self,
        view: View<'_>,
        target: u8,
        atoms: &mut AtomSource<'_>,
        pre: Option<&PreVerified>,
    ) -> Hits<'a> {
        let len = view.len();
        let mut scratch = Scratch::default();
        let mut matched: HashSet<u32> = HashSet::new();
        let mut counted: HashSet<(u32, usize)> = HashSet::new();
        let mut hits = Hits::default();
        // Per part of a multi-part signature: how many occurrences were seen, and the first
        // MAX_OCCURRENCES of them (as verified ahead: those that can still be part of a chain).
        let mut occurrences: PartOccurrences = pre.map(|p| p.chained.clone()).unwrap_or_default();

        // Counted subsignatures verified ahead left their starts alone.
        for (&s, starts) in pre.map(|p| &p.counted).into_iter().flatten() {
            let Some(owner) = self.sigs[s as usize].owner else {
                continue;
            };
            let c = hits.subs.entry(owner).or_insert(0);
            *c = (*c + starts.folded).min(MAX_COUNT);
            if *c >= MAX_COUNT {
                matched.insert(s);
            }
            for &start in &starts.recent {
                if counted.insert((s, start)) {
                    let c = hits.subs.entry(owner).or_insert(0);
                    *c = (*c + 1).min(MAX_COUNT);
                    if *c >= MAX_COUNT {
                        matched.insert(s);
                    }
                }
            }
        }

        // Records one verified occurrence of a part. Plain single-part signatures are then done; counted
        // ones add one match per distinct start; multi-part ones keep the occurrence for the chain check.
        let mut record =
            |u: AtomUse, o: &Outcome, matched: &mut HashSet<u32>, hits: &mut Hits<'a>| {
                let sig = &self.sigs[u.sig as usize];
                let whole = sig.pattern.parts.len() == 1;
                let Some((start, end)) = occurrence(sig, u.part, o, len) else {
                    return;
                };
                if whole {
                    match sig.owner {
                        None => {
                            matched.insert(u.sig);
                        }
                        Some(owner) => {
                            if counted.insert((u.sig, start)) {
                                let c = hits.subs.entry(owner).or_insert(0);
                                *c = (*c + 1).min(MAX_COUNT);
                                if *c >= MAX_COUNT {
                                    matched.insert(u.sig);
                                }
                            }
                        }
                    }
                    return;
                }
                let (seen, list) = occurrences.entry((u.sig, u.part)).or_default();
                if *seen < MAX_OCCURRENCES {
                    list.push((start, end));
                }
                *seen += 1;
            };

        for &s in &self.anchored {
            let sig = &self.sigs[s as usize];
            if !self.applies(sig, target) {
                continue;
            }
            if let Some((first, last)) = sig.offset.window(len) {
                for start in first..=last {
                    let part = &sig.pattern.parts[0];
                    if let Some(o) = self.verify_start(&view, part, start, &mut scratch) {
                        record(AtomUse { sig: s, part: 0 }, &o, &mut matched, &mut hits);
                        if matched.contains(&s) {
                            break;
                        }
                    }
                }
            }
        }

        atoms(&mut |atom, at| {
            for &u in self.users_of(atom) {
                let sig = &self.sigs[u.sig as usize];
                if matched.contains(&u.sig) || !self.applies(sig, target) {
                    continue;
                }
                let part = &sig.pattern.parts[u.part as usize];
                match pre.filter(|p| at < p.below) {
                    Some(_) if (sig.owner.is_some() && simple(sig)) || chained(sig) => {}
                    Some(p) => {
                        if let Some(o) = p.found.get(&(at, u.sig, u.part)) {
                            record(u, o, &mut matched, &mut hits);
                        }
                    }
                    None => {
                        if let Some(o) = self.verify_atom(&view, part, at, &mut scratch) {
                            record(u, &o, &mut matched, &mut hits);
                        }
                    }
                }
            }
        });

        for &u in &self.unanchored {
            let sig = &self.sigs[u.sig as usize];
            if matched.contains(&u.sig) || !self.applies(sig, target) {
                continue;
            }
            let part = &sig.pattern.parts[u.part as usize];
            let mut found = 0;
            for start in 0..=len {
                if let Some(o) = self.verify_start(&view, part, start, &mut scratch) {
                    record(u, &o, &mut matched, &mut hits);
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
                .1
                .iter()
                .map(|o| o.1)
                .min()
                .unwrap_or(usize::MAX);
            let mut ok = true;
            for (p, part) in sig.pattern.parts.iter().enumerate().skip(1) {
                let need = prev_end.saturating_add(part.min_gap_before as usize);
                let next = occurrences
                    .get(&(s, p as u16))
                    .and_then(|(_, list)| list.iter().filter(|o| o.0 >= need).map(|o| o.1).min());
                match next {
                    Some(end) => prev_end = end,
                    None => {
                        ok = false;
                        break;
                    }
                }
            }
            if ok {
                match sig.owner {
                    None => {
                        matched.insert(s);
                    }
                    Some(owner) => *hits.subs.entry(owner).or_insert(0) += 1,
                }
            }
        }

        let mut ids: Vec<u32> = matched
            .into_iter()
            .filter(|&s| self.sigs[s as usize].owner.is_none())
            .collect();
        ids.sort_unstable();
        hits.names
            .extend(ids.into_iter().map(|s| self.sigs[s as usize].name.as_str()));
        hits
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
            owner: None,
            fullword: false,
        }
    }

    fn scan(m: &BodyMatcher, data: &[u8], target: u8) -> Vec<String> {
        m.scan(data, target)
            .names
            .into_iter()
            .map(String::from)
            .collect()
    }

    /// Matches `data` as a session does: the atom search in pieces of `step` bytes, the hits verified ahead
    /// after each, the rest at the end.
    fn scan_in_steps(m: &BodyMatcher, data: &[u8], step: usize) -> Vec<String> {
        let mut stream = AtomStream::default();
        stream.keep_every_hit();
        let mut pre = PreVerified::default();
        let mut at = 0;
        while at < data.len() {
            at = (at + step).min(data.len());
            m.advance(&mut stream, &data[..at], 0, at == data.len());
            if at < data.len() {
                let below = stream.floor(at).min(at.saturating_sub(16));
                m.preverify(&stream, View::whole(&data[..at]), 0, below, &mut pre);
                let kept = &pre;
                stream.retain(|atom, at| kept.needs(atom, at));
            }
        }
        m.scan_streamed(View::whole(data), 0, &stream, Some(&pre))
            .names
            .into_iter()
            .map(String::from)
            .collect()
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(256))]

        #[test]
        fn chains_verified_ahead_match_as_the_whole(
            data in proptest::collection::vec(0usize..3, 0..300),
            step in 1usize..40,
        ) {
            // Multi-part signatures with tight gaps over a small alphabet: parts found before, after and
            // between each other, at every distance from where the hits are verified.
            let m = BodyMatcher::new(vec![
                sig("Two", 0, "*", "6161{1-}6262"),
                sig("Three", 0, "*", "6161{1-}6262{0-}6161"),
                sig("Star", 0, "*", "616161*6262"),
                sig("Repeat", 0, "*", "61{2-}61{2-}61{2-}61"),
                sig("Fixed", 0, "0,40", "62*6161{3-}6262"),
                // Later parts that start well before their atom: a hit verified ahead leaves a window
                // where later occurrences of the previous part may still end.
                sig("Wide", 0, "*", "6161{1-}????????6262"),
                sig("WidePrev", 0, "*", "62{1-}????????6161{1-}6262"),
                sig("WideThree", 0, "*", "62{1-}??????6161{0-}????6262"),
            ]);
            let data: Vec<u8> = data.into_iter().map(|i| b"ab."[i]).collect();
            proptest::prop_assert_eq!(scan_in_steps(&m, &data, step), scan(&m, &data, 0));
        }
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
