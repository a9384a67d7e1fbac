//! The compiled form of one body signature's hex pattern, and its exact verification.
//!
//! A pattern is a list of [`Part`]s separated by unbounded gaps (`*` and `{n-}`); each part is a list of
//! [`Elem`]s of bounded width. Verification works on *sets of positions*: starting from where an atom was
//! found, each element maps the set of positions it may start at to the set it may end at, forwards for the
//! elements after the atom and backwards for those before it. Gaps and variable-length alternatives widen
//! the set instead of forking a search, so verification costs `O(elements × positions)` and never
//! backtracks exponentially.

/// One element of a part.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Elem {
    /// One byte compared under a mask: `0xFF` exact, `0xF0`/`0x0F` a nibble, `0x00` any byte (`??`).
    Byte { value: u8, mask: u8 },
    /// A run of exact bytes (in lower case in a case-insensitive part). [`Part::new`] folds runs of exact
    /// `Byte`s into these: one byte of memory per pattern byte instead of one element each.
    Lit(#[serde(with = "serde_bytes")] Box<[u8]>),
    /// Between `min` and `max` bytes of anything (`{n}`, `{-n}`, `{n-m}`, `[n-m]`).
    Gap { min: u32, max: u32 },
    /// Alternatives `(aa|bbcc)`; negated `!(aa|bb)` matches any sequence of the same width that none match.
    Alt {
        alts: Vec<Vec<(u8, u8)>>,
        negated: bool,
    },
    /// A character class: `(B)`, `(L)` or `(W)`.
    Class(Class),
}

/// The special classes of ClamAV's hex syntax.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) enum Class {
    /// `(B)`: a word boundary, one non-alphanumeric byte, or the start or end of the data.
    Boundary,
    /// `(L)`: a line end, CR, LF or CRLF, or the start or end of the data.
    Line,
    /// `(W)`: one non-alphanumeric byte.
    NonAlnum,
}

/// A run of elements with bounded width, and the unbounded gap that precedes it.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Part {
    pub(crate) elems: Vec<Elem>,
    /// The least number of bytes between the previous part's end and this part's start (0 for `*`, `n` for
    /// `{n-}`); meaningless for the first part.
    pub(crate) min_gap_before: u32,
    /// The atom: the index of the [`Elem::Lit`] that is the best run of exact bytes.
    pub(crate) atom: Option<usize>,
    /// Compare letters without case (the pattern's letters are stored in lower case).
    pub(crate) nocase: bool,
}

/// A whole hex pattern.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Pattern {
    pub(crate) parts: Vec<Part>,
}

impl Pattern {
    /// The approximate heap memory the pattern uses.
    pub(crate) fn memory_usage(&self) -> usize {
        self.parts
            .iter()
            .map(|p| {
                std::mem::size_of::<Part>()
                    + p.elems.capacity() * std::mem::size_of::<Elem>()
                    + p.elems
                        .iter()
                        .map(|e| match e {
                            Elem::Alt { alts, .. } => alts.iter().map(|a| 24 + a.len() * 2).sum(),
                            _ => 0,
                        })
                        .sum::<usize>()
            })
            .sum()
    }

    /// The pattern for `::i`: letters in lower case, compared without case.
    pub(crate) fn case_folded(&self) -> Pattern {
        let fold = |(v, m): (u8, u8)| {
            if m == 0xFF {
                (v.to_ascii_lowercase(), m)
            } else {
                (v, m)
            }
        };
        Pattern {
            parts: self
                .parts
                .iter()
                .map(|p| {
                    let elems = expand(&p.elems)
                        .iter()
                        .map(|e| match e {
                            Elem::Byte { value, mask } => {
                                let (value, mask) = fold((*value, *mask));
                                Elem::Byte { value, mask }
                            }
                            Elem::Alt { alts, negated } => Elem::Alt {
                                alts: alts
                                    .iter()
                                    .map(|a| a.iter().map(|&x| fold(x)).collect())
                                    .collect(),
                                negated: *negated,
                            },
                            other => other.clone(),
                        })
                        .collect();
                    let mut part = Part::new(elems, p.min_gap_before);
                    part.nocase = true;
                    part
                })
                .collect(),
        }
    }

    /// The pattern for `::w`: each byte followed by a zero byte (UTF-16LE of ASCII), gaps doubled.
    pub(crate) fn widened(&self) -> Pattern {
        let widen_seq =
            |a: &Vec<(u8, u8)>| a.iter().flat_map(|&x| [x, (0, 0xFF)]).collect::<Vec<_>>();
        Pattern {
            parts: self
                .parts
                .iter()
                .map(|p| {
                    let mut elems = Vec::with_capacity(p.elems.len() * 2);
                    for e in &expand(&p.elems) {
                        match e {
                            Elem::Byte { .. } => {
                                elems.push(e.clone());
                                elems.push(Elem::Byte {
                                    value: 0,
                                    mask: 0xFF,
                                });
                            }
                            Elem::Gap { min, max } => elems.push(Elem::Gap {
                                min: min.saturating_mul(2),
                                max: max.saturating_mul(2),
                            }),
                            Elem::Alt { alts, negated } => elems.push(Elem::Alt {
                                alts: alts.iter().map(widen_seq).collect(),
                                negated: *negated,
                            }),
                            Elem::Class(_) => {
                                elems.push(e.clone());
                                elems.push(Elem::Byte {
                                    value: 0,
                                    mask: 0xFF,
                                });
                            }
                            Elem::Lit(_) => {}
                        }
                    }
                    let mut part = Part::new(elems, p.min_gap_before.saturating_mul(2));
                    part.nocase = p.nocase;
                    part
                })
                .collect(),
        }
    }
}

/// Longest atom taken from a run of exact bytes.
pub(crate) const MAX_ATOM: usize = 16;

impl Part {
    pub(crate) fn new(elems: Vec<Elem>, min_gap_before: u32) -> Part {
        let elems = if elems.iter().any(|e| matches!(e, Elem::Lit(_))) {
            expand(&elems)
        } else {
            elems
        };
        let atom = choose_atom(&elems);
        let (elems, atom) = compact(elems, atom);
        Part {
            elems,
            min_gap_before,
            atom,
            nocase: false,
        }
    }

    /// The atom's bytes.
    pub(crate) fn atom_bytes(&self) -> Option<Vec<u8>> {
        match self.elems.get(self.atom?)? {
            Elem::Lit(bytes) => Some(bytes.to_vec()),
            _ => None,
        }
    }

    /// The least number of bytes a match of this part covers (used for an anchored first check).
    #[cfg(test)]
    pub(crate) fn min_width(&self) -> usize {
        self.elems
            .iter()
            .map(|e| match e {
                Elem::Byte { .. } => 1,
                Elem::Lit(b) => b.len(),
                Elem::Gap { min, .. } => *min as usize,
                Elem::Alt { alts, .. } => alts.iter().map(Vec::len).min().unwrap_or(0),
                Elem::Class(Class::NonAlnum) => 1,
                Elem::Class(_) => 0,
            })
            .sum()
    }

    /// The most bytes each element may cover.
    fn widths(&self) -> impl Iterator<Item = usize> + '_ {
        self.elems.iter().map(|e| match e {
            Elem::Byte { .. } => 1,
            Elem::Lit(b) => b.len(),
            Elem::Gap { max, .. } => *max as usize,
            Elem::Alt { alts, .. } => alts.iter().map(Vec::len).max().unwrap_or(0),
            Elem::Class(Class::Line) => 2,
            Elem::Class(_) => 1,
        })
    }

    /// The most bytes a match may cover before its atom's start and from it on (the atom included).
    pub(crate) fn extent(&self) -> (usize, usize) {
        let a = self.atom.unwrap_or(0);
        let mut back = 0usize;
        let mut fwd = 0usize;
        for (i, w) in self.widths().enumerate() {
            if i < a {
                back = back.saturating_add(w);
            } else {
                fwd = fwd.saturating_add(w);
            }
        }
        (back, fwd)
    }

    /// The most bytes a match may cover.
    pub(crate) fn max_width(&self) -> usize {
        self.widths().fold(0usize, usize::saturating_add)
    }

    /// Verifies the part around an atom found at `pos`. Returns the possible start positions (sorted) and
    /// the smallest end position, or `None` when the part does not match there.
    pub(crate) fn verify_at_atom(
        &self,
        data: &[u8],
        pos: usize,
        scratch: &mut Scratch,
    ) -> Option<(Vec<usize>, usize)> {
        let a = self.atom?;
        let len = match self.elems.get(a)? {
            Elem::Lit(bytes) => bytes.len(),
            _ => return None,
        };
        scratch.set.clear();
        scratch.set.push(pos + len);
        if !run(
            &self.elems[a + 1..],
            data,
            Dir::Forward,
            self.nocase,
            scratch,
        ) {
            return None;
        }
        let end = *scratch.set.iter().min()?;
        scratch.set.clear();
        scratch.set.push(pos);
        if !run(&self.elems[..a], data, Dir::Backward, self.nocase, scratch) {
            return None;
        }
        let mut starts = scratch.set.clone();
        starts.sort_unstable();
        starts.dedup();
        Some((starts, end))
    }

    /// Verifies the part starting exactly at `start`; returns the smallest end position.
    pub(crate) fn verify_from(
        &self,
        data: &[u8],
        start: usize,
        scratch: &mut Scratch,
    ) -> Option<usize> {
        if start > data.len() {
            return None;
        }
        scratch.set.clear();
        scratch.set.push(start);
        if !run(&self.elems, data, Dir::Forward, self.nocase, scratch) {
            return None;
        }
        scratch.set.iter().copied().min()
    }
}

/// Reusable buffers for verification.
#[derive(Default, Debug)]
pub(crate) struct Scratch {
    set: Vec<usize>,
    next: Vec<usize>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Dir {
    Forward,
    Backward,
}

/// Runs `elems` over the position set in `scratch.set` (in order for forward, in reverse for backward).
/// Returns false when the set becomes empty.
fn run(elems: &[Elem], data: &[u8], dir: Dir, nocase: bool, scratch: &mut Scratch) -> bool {
    let step_one = |elem: &Elem, scratch: &mut Scratch| -> bool {
        scratch.next.clear();
        step(elem, data, dir, nocase, &scratch.set, &mut scratch.next);
        std::mem::swap(&mut scratch.set, &mut scratch.next);
        !scratch.set.is_empty()
    };
    match dir {
        Dir::Forward => elems.iter().all(|e| step_one(e, scratch)),
        Dir::Backward => elems.iter().rev().all(|e| step_one(e, scratch)),
    }
}

fn byte_matches(b: u8, value: u8, mask: u8, nocase: bool) -> bool {
    let b = if nocase { b.to_ascii_lowercase() } else { b };
    b & mask == value & mask
}

fn seq_matches(data: &[u8], at: usize, seq: &[(u8, u8)], nocase: bool) -> bool {
    match data.get(at..at + seq.len()) {
        Some(window) => window
            .iter()
            .zip(seq)
            .all(|(&b, &(v, m))| byte_matches(b, v, m, nocase)),
        None => false,
    }
}

fn lit_matches(window: &[u8], lit: &[u8], nocase: bool) -> bool {
    if nocase {
        window.eq_ignore_ascii_case(lit)
    } else {
        window == lit
    }
}

fn is_word_boundary(b: u8) -> bool {
    !b.is_ascii_alphanumeric()
}

fn step(elem: &Elem, data: &[u8], dir: Dir, nocase: bool, set: &[usize], out: &mut Vec<usize>) {
    let len = data.len();
    let mut needs_sort = false;
    match (elem, dir) {
        (Elem::Byte { value, mask }, Dir::Forward) => {
            out.extend(
                set.iter()
                    .filter(|&&s| s < len && byte_matches(data[s], *value, *mask, nocase))
                    .map(|&s| s + 1),
            );
        }
        (Elem::Byte { value, mask }, Dir::Backward) => {
            out.extend(
                set.iter()
                    .filter(|&&s| {
                        s > 0 && s <= len && byte_matches(data[s - 1], *value, *mask, nocase)
                    })
                    .map(|&s| s - 1),
            );
        }
        (Elem::Lit(lit), Dir::Forward) => {
            let n = lit.len();
            out.extend(
                set.iter()
                    .filter(|&&s| {
                        data.get(s..s + n)
                            .is_some_and(|w| lit_matches(w, lit, nocase))
                    })
                    .map(|&s| s + n),
            );
        }
        (Elem::Lit(lit), Dir::Backward) => {
            let n = lit.len();
            out.extend(
                set.iter()
                    .filter(|&&s| {
                        s >= n
                            && data
                                .get(s - n..s)
                                .is_some_and(|w| lit_matches(w, lit, nocase))
                    })
                    .map(|&s| s - n),
            );
        }
        (Elem::Gap { min, max }, _) => {
            // The set is widened into a union of intervals; sorting first makes the union linear.
            let mut sorted: Vec<usize> = set.to_vec();
            sorted.sort_unstable();
            let (min, max) = (*min as usize, *max as usize);
            let mut next_free = 0usize;
            for &s in &sorted {
                let (lo, hi) = match dir {
                    Dir::Forward => (s.saturating_add(min), s.saturating_add(max).min(len)),
                    Dir::Backward => {
                        if s < min {
                            continue;
                        }
                        (s.saturating_sub(max), s - min)
                    }
                };
                let lo = lo.max(next_free);
                if lo > hi {
                    continue;
                }
                out.extend(lo..=hi);
                next_free = hi + 1;
            }
        }
        (Elem::Alt { alts, negated }, _) => {
            for &s in set {
                if *negated {
                    let width = alts.first().map_or(0, Vec::len);
                    let at = match dir {
                        Dir::Forward => Some(s),
                        Dir::Backward => s.checked_sub(width),
                    };
                    if let Some(at) = at
                        && at + width <= len
                        && !alts.iter().any(|alt| seq_matches(data, at, alt, nocase))
                    {
                        out.push(if dir == Dir::Forward { s + width } else { at });
                    }
                } else {
                    for alt in alts {
                        let at = match dir {
                            Dir::Forward => Some(s),
                            Dir::Backward => s.checked_sub(alt.len()),
                        };
                        if let Some(at) = at
                            && seq_matches(data, at, alt, nocase)
                        {
                            out.push(if dir == Dir::Forward {
                                s + alt.len()
                            } else {
                                at
                            });
                        }
                    }
                }
            }
            needs_sort = true;
        }
        (Elem::Class(class), _) => {
            for &s in set {
                class_step(*class, data, s, dir, out);
            }
            needs_sort = true;
        }
    }
    if needs_sort {
        out.sort_unstable();
        out.dedup();
    }
}

fn class_step(class: Class, data: &[u8], s: usize, dir: Dir, out: &mut Vec<usize>) {
    let len = data.len();
    if s > len {
        return;
    }
    // The start and the end of the data are boundaries in either direction (zero width).
    let at_edge = s == 0 || s == len;
    let next = |n: usize| match dir {
        Dir::Forward => s + n,
        Dir::Backward => s - n,
    };
    // The byte just ahead in the direction of travel, and the one after it.
    let ahead = |k: usize| -> Option<u8> {
        match dir {
            Dir::Forward => data.get(s + k).copied(),
            Dir::Backward => s.checked_sub(k + 1).and_then(|i| data.get(i).copied()),
        }
    };
    match class {
        Class::Boundary => {
            if at_edge {
                out.push(s);
            }
            if ahead(0).is_some_and(is_word_boundary) {
                out.push(next(1));
            }
        }
        Class::NonAlnum => {
            if ahead(0).is_some_and(is_word_boundary) {
                out.push(next(1));
            }
        }
        Class::Line => {
            if at_edge {
                out.push(s);
            }
            let (first, second) = match dir {
                Dir::Forward => (b'\r', b'\n'),
                Dir::Backward => (b'\n', b'\r'),
            };
            match ahead(0) {
                Some(b) if b == first => {
                    out.push(next(1));
                    if ahead(1) == Some(second) {
                        out.push(next(2));
                    }
                }
                Some(b'\r') | Some(b'\n') => out.push(next(1)),
                _ => {}
            }
        }
    }
}

/// The elements with every [`Elem::Lit`] spelled out as exact `Byte`s.
fn expand(elems: &[Elem]) -> Vec<Elem> {
    let mut out = Vec::with_capacity(elems.len());
    for e in elems {
        match e {
            Elem::Lit(bytes) => {
                out.extend(bytes.iter().map(|&value| Elem::Byte { value, mask: 0xFF }))
            }
            other => out.push(other.clone()),
        }
    }
    out
}

/// Folds runs of two or more exact bytes into [`Elem::Lit`]s; the atom (a run of exact bytes given as
/// first element and length) becomes a `Lit` of its own, whose index is returned.
fn compact(elems: Vec<Elem>, atom: Option<(usize, usize)>) -> (Vec<Elem>, Option<usize>) {
    fn flush(run: &mut Vec<u8>, out: &mut Vec<Elem>, force_lit: bool) {
        match run.as_slice() {
            [] => {}
            &[value] if !force_lit => out.push(Elem::Byte { value, mask: 0xFF }),
            _ => out.push(Elem::Lit(run.as_slice().into())),
        }
        run.clear();
    }
    let mut out = Vec::new();
    let mut run: Vec<u8> = Vec::new();
    let mut atom_index = None;
    for (i, e) in elems.into_iter().enumerate() {
        if atom.is_some_and(|(a, _)| i == a) {
            flush(&mut run, &mut out, false);
        }
        match e {
            Elem::Byte { value, mask: 0xFF } => run.push(value),
            other => {
                flush(&mut run, &mut out, false);
                out.push(other);
            }
        }
        if atom.is_some_and(|(a, len)| i + 1 == a + len) {
            flush(&mut run, &mut out, true);
            atom_index = out.len().checked_sub(1);
        }
    }
    flush(&mut run, &mut out, false);
    (out, atom_index)
}

/// How common a byte is in ordinary files: common bytes make poor atoms.
pub(crate) fn byte_cost(b: u8) -> u32 {
    match b {
        0x00 | 0xFF => 8,
        b' ' | b'\n' | b'\r' | b'\t' | 0x90 | 0xCC => 5,
        b'0'..=b'9' | b'a'..=b'z' => 2,
        b'A'..=b'Z' => 2,
        _ => 1,
    }
}

/// Picks the best run of exact bytes in a part: the longest (up to [`MAX_ATOM`]), then the least common.
fn choose_atom(elems: &[Elem]) -> Option<(usize, usize)> {
    let mut best: Option<(usize, usize, i64)> = None;
    let mut i = 0;
    while i < elems.len() {
        if !matches!(elems[i], Elem::Byte { mask: 0xFF, .. }) {
            i += 1;
            continue;
        }
        let run_start = i;
        while i < elems.len() && matches!(elems[i], Elem::Byte { mask: 0xFF, .. }) {
            i += 1;
        }
        let run_len = i - run_start;
        let width = run_len.min(MAX_ATOM);
        let cost_at = |k: usize| match elems[k] {
            Elem::Byte { value, .. } => byte_cost(value),
            _ => 0,
        };
        // The cost of each window of `width` bytes in the run, slid one byte at a time.
        let mut cost: u32 = (run_start..run_start + width).map(cost_at).sum();
        for start in run_start..=run_start + run_len - width {
            if start > run_start {
                cost = cost - cost_at(start - 1) + cost_at(start + width - 1);
            }
            // Length dominates: each byte of length is worth more than any cost difference.
            let score = width as i64 * 16 - cost as i64;
            if best.is_none_or(|(_, _, s)| score > s) {
                best = Some((start, width, score));
            }
        }
    }
    best.map(|(s, w, _)| (s, w))
}
