//! The regular expressions of PCRE subsignatures: how their matches are found and counted, in one way
//! whether an object is held whole or arrives in pieces.
//!
//! A PCRE subsignature counts the matches of its expression that a search from the start of the object
//! finds one after the other (leftmost-first, each search starting where the last match ended, as PCRE's
//! and the `regex` crate's iteration do), and whose start its offset allows. It runs only when its trigger
//! holds, which is known at the end of the object; a session lets go of an attachment's bytes long before
//! ([`crate::stream`]), so it runs every expression that applies to the object's type over the bytes
//! before they go and keeps the counts ([`PcreStream`]).
//!
//! For that, a search must read a bounded stretch. [`Search`] looks for the next match within a window:
//! from where the search starts to the end of the [`BLOCK`] it starts in, plus the expression's reach. A
//! match found that starts in the block is taken; else the search goes on from the next block. The reach
//! is the longest match the expression's syntax allows (`a{2,8}` → 8), or, for an expression whose matches
//! have no bound (`*`, `+`, `{n,}`), [`UNBOUNDED_REACH`] more than its shortest match. For a bounded
//! expression this finds exactly the matches plain iteration finds; the match of an unbounded one is cut
//! at the window's end, at least its reach after its start (ClamAV's own PCRE match limits cut long
//! searches too). The whole object's scan runs the very same search, so the verdict does not depend on
//! how the object arrived.
//!
//! Searching every expression over every block would cost a session several times what the scan of the
//! whole object costs, where expressions run only when triggered. So a session's searches
//! ([`PcreStream`], made from a [`PcrePlan`] per target type and container) pass over what cannot matter:
//! - an expression is looked for first by literals every match starts with or holds (found in its syntax
//!   by `regex-syntax`'s extractor; for a case-insensitive one, its literals taken with case and looked for
//!   in any case): one pass over the new bytes marks the blocks where a match may start, and the others
//!   are passed over. The pass is a table of an Aho-Corasick automaton of the literals that most objects
//!   look for, shared by every stream, one lookup a byte ([`LiteralTable`]); the atom filter
//!   ([`crate::matcher::filter`]) when an object looks for others (its first bytes left a gate open) or
//!   the literals are too many for a table;
//! - an expression with no such literals (`12\s*0C\s*43` has none of 3 bytes) is looked for by where its
//!   matches end: one DFA of all of them, which reports every position where a match of one ends, reads
//!   each byte once as it arrives (one table lookup a byte in a DFA built whole and shared by every stream,
//!   [`EndTable`]; else a lazy DFA per stream, which passes over with one lookup each the bytes it has seen
//!   leave it where no match is under way, [`Stay`]) and marks the blocks whose windows may find that match
//!   ([`Ends`]); the literals' table is walked as one with such a table when the two fit one
//!   ([`EndTable::product`]). A marked block's window is searched only up to the latest match end that
//!   marked it ([`Live`]), not on to its end after the block's last match;
//!   searching such an expression's windows reads each byte twice over (a block and its reach), per
//!   expression;
//! - an expression whose trigger names subsignatures anchored near the start (`0:504B`: the object starts
//!   as a zip) is not searched for at all once the object's first bytes say that trigger cannot hold
//!   ([`crate::matcher::gate`]), and the literals of the others only are looked for;
//! - an expression anchored at the start (`^` without `m`) is done after its first window;
//! - the signatures for another container (most of the official database's are for a part of a message
//!   only) are not searched for in the message itself, nor a signature's once the object is longer than
//!   its `FileSize` allows.

use std::collections::HashMap;

use regex_automata::meta;
use regex_automata::util::syntax;
use regex_automata::{Anchored, Input};

use crate::filetype::FileType;
use crate::matcher::BodyMatcher;
use crate::matcher::filter::{AtomSet, AtomSetBuilder, AtomStream};
use crate::matcher::gate::Gate;
use crate::matcher::pattern::{MAX_ATOM, Scratch};
use crate::signatures::ldb::{LogicalSig, PcreSub, SubSig};
use crate::signatures::offset::Offset;

/// The stretch a search for a match is started in: a search reads up to the end of its block plus the
/// expression's reach.
pub(crate) const BLOCK: usize = 16 << 10;

/// How much longer than its shortest match an unbounded expression's match may be.
pub(crate) const UNBOUNDED_REACH: usize = 16 << 10;

/// The longest reach: a bounded expression whose matches may be longer is cut like an unbounded one.
const MAX_REACH: usize = 256 << 10;

/// The furthest from the end an offset may point for an object to be matched as it arrives: the starts of
/// matches that may lie there are kept until the end, one `usize` each (the official database's reach 32
/// bytes).
const MAX_FROM_END: u64 = 4 << 10;

/// Most matches counted per subsignature and object: enough for any count a signature asks.
pub(crate) const MAX_MATCHES: u32 = 1024;

/// The flags of a PCRE subsignature that change what its expression matches.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Flags {
    pub(crate) case_insensitive: bool,
    pub(crate) dot_all: bool,
    pub(crate) multi_line: bool,
    pub(crate) extended: bool,
    pub(crate) ungreedy: bool,
}

/// A compiled expression, its reach, and the literals that every match of it starts with or holds, if there
/// are few and long enough to look for first.
#[derive(Clone, Debug)]
pub(crate) struct Pcre {
    regex: meta::Regex,
    reach: usize,
    /// The shortest match.
    min_len: usize,
    literals: Option<Literals>,
    /// Every match starts at the start of the object (`^` without the `m` flag, `\A`).
    at_start: bool,
    /// The syntax, kept for an expression with no literals to look for: it is looked for by where its
    /// matches end ([`Ends`]).
    hir: Option<Box<regex_syntax::hir::Hir>>,
}

/// Literals one of which every match starts with (`prefix`), or else holds somewhere, in any case when
/// `nocase`.
#[derive(Clone, Debug)]
struct Literals {
    prefix: bool,
    nocase: bool,
    set: Vec<Vec<u8>>,
}

/// The shortest literal worth looking for first: shorter ones occur everywhere.
const MIN_LITERAL: usize = 3;

/// The most literals an expression may be looked for by.
const MAX_LITERALS: usize = 64;

impl Literals {
    /// The literals every match of `hir` starts with, else holds somewhere (its last ones, or the first
    /// ones of a piece of it), if they are few and long enough.
    fn of(hir: &regex_syntax::hir::Hir, nocase: bool) -> Option<Literals> {
        use regex_syntax::hir::HirKind;
        use regex_syntax::hir::literal::ExtractKind;
        if let Some(set) = good(hir, ExtractKind::Prefix) {
            return Some(Literals {
                prefix: true,
                nocase,
                set,
            });
        }
        // Else literals every match holds somewhere: its last ones, or the first ones of a piece of it.
        let mut inner = good(hir, ExtractKind::Suffix);
        let mut node = hir;
        while let HirKind::Capture(c) = node.kind() {
            node = &c.sub;
        }
        if let HirKind::Concat(pieces) = node.kind() {
            for piece in pieces {
                let Some(set) = good(piece, ExtractKind::Prefix) else {
                    continue;
                };
                let shortest = |s: &Vec<Vec<u8>>| s.iter().map(Vec::len).min().unwrap_or(0);
                if inner.as_ref().is_none_or(|i| shortest(&set) > shortest(i)) {
                    inner = Some(set);
                }
            }
        }
        inner.map(|set| Literals {
            prefix: false,
            nocase,
            set,
        })
    }
}

/// The literals every match of `hir` starts (or ends) with, if they are few and long enough.
fn good(
    hir: &regex_syntax::hir::Hir,
    kind: regex_syntax::hir::literal::ExtractKind,
) -> Option<Vec<Vec<u8>>> {
    use regex_syntax::hir::literal::{ExtractKind, Extractor};
    let prefix = matches!(kind, ExtractKind::Prefix);
    let mut extractor = Extractor::new();
    extractor.kind(kind);
    let mut seq = extractor.extract(hir);
    if prefix {
        seq.optimize_for_prefix_by_preference();
    } else {
        seq.optimize_for_suffix_by_preference();
    }
    let literals = seq.literals()?;
    let good = !literals.is_empty()
        && literals.len() <= MAX_LITERALS
        && literals.iter().all(|l| l.as_bytes().len() >= MIN_LITERAL);
    good.then(|| literals.iter().map(|l| l.as_bytes().to_vec()).collect())
}

impl Pcre {
    /// The approximate heap memory of the compiled expression and its literals (not of the syntax kept for
    /// an expression looked for by where its matches end, which the regex crates do not measure).
    pub(crate) fn memory_usage(&self) -> usize {
        self.regex.memory_usage()
            + self.literals.as_ref().map_or(0, |l| {
                l.set.capacity() * std::mem::size_of::<Vec<u8>>()
                    + l.set.iter().map(Vec::capacity).sum::<usize>()
            })
    }

    /// Compiles `pattern` as bytes (no Unicode) with `flags`; `None` for syntax the pure-Rust engine
    /// cannot take (back-references, look-around) or an expression too large.
    pub(crate) fn new(pattern: &str, flags: Flags) -> Option<Pcre> {
        let config = syntax::Config::new()
            .unicode(false)
            .utf8(false)
            .case_insensitive(flags.case_insensitive)
            .dot_matches_new_line(flags.dot_all)
            .multi_line(flags.multi_line)
            .ignore_whitespace(flags.extended)
            .swap_greed(flags.ungreedy);
        let hir = syntax::parse_with(pattern, &config).ok()?;
        let props = hir.properties();
        let reach = match props.maximum_len() {
            Some(longest) if longest <= MAX_REACH => longest,
            _ => props
                .minimum_len()
                .unwrap_or(0)
                .saturating_add(UNBOUNDED_REACH)
                .min(MAX_REACH),
        };
        let regex = meta::Builder::new()
            .configure(
                meta::Config::new()
                    .match_kind(regex_automata::MatchKind::LeftmostFirst)
                    .utf8_empty(false)
                    .nfa_size_limit(Some(4 << 20))
                    .hybrid_cache_capacity(4 << 20)
                    // No whole DFA (the crate builds one with `dfa-build`, which `Ends` needs): a search
                    // runs in a window, where the lazy DFA's few states are built cheaply.
                    .dfa(false),
            )
            .build_from_hir(&hir)
            .ok()?;
        // A case-insensitive expression's matches start (or end) with some case of the literals of the
        // expression taken with case: those are looked for without it, rather than every case of them.
        let literals = match flags.case_insensitive {
            false => Literals::of(&hir, false),
            true => syntax::parse_with(pattern, &config.case_insensitive(false))
                .ok()
                .and_then(|h| Literals::of(&h, true)),
        };
        let at_start = props
            .look_set_prefix()
            .contains(regex_syntax::hir::Look::Start);
        let min_len = props.minimum_len().unwrap_or(0);
        let hir = literals.is_none().then(|| Box::new(hir));
        Some(Pcre {
            regex,
            reach,
            min_len,
            literals,
            at_start,
            hir,
        })
    }

    /// The longest match looked for past the end of a search's block.
    pub(crate) fn reach(&self) -> usize {
        self.reach
    }

    /// Whether every match starts at the start of the object: then only the first window is searched.
    pub(crate) fn at_start(&self) -> bool {
        self.at_start
    }
}

/// Whether a match starting at `start` counts, for a subsignature with this offset.
fn counts(sub: &PcreSub, start: usize, len: usize) -> bool {
    if sub.anchored {
        sub.offset
            .window(len)
            .is_some_and(|(a, b)| (a..=b).contains(&start))
    } else {
        sub.offset.allows(start, len)
    }
}

/// Whether an object's count for `sub` can be found as it arrives: the starts an offset from the end may
/// allow are kept until the end, so that offset must point close enough.
pub(crate) fn streamable(sub: &PcreSub) -> bool {
    match sub.offset {
        Offset::FromEnd { back, .. } => back <= MAX_FROM_END,
        Offset::Any | Offset::Absolute { .. } => true,
    }
}

/// The search of one object for one expression's matches, carried from piece to piece.
#[derive(Clone, Debug, Default)]
pub(crate) struct Search {
    /// Where the next search starts.
    pos: usize,
    /// Where the last match ended: an empty match there is passed over.
    last_end: Option<usize>,
    /// Matches counted so far (their start allowed whatever the object's length).
    counted: u32,
    /// The starts of matches that an offset from the end may allow, once the length is known (boxed: few
    /// expressions have such an offset, and a session keeps a search per expression per object).
    #[allow(clippy::box_collection)]
    starts: Option<Box<std::collections::VecDeque<usize>>>,
    /// Nothing more can change the count.
    done: bool,
}

impl Search {
    /// Searches `hay`, the object's bytes from `base` on, as far as they allow; `complete` when `hay` ends
    /// the object. The bytes from [`Self::needed_from`] on must be given again next time.
    pub(crate) fn run(&mut self, sub: &PcreSub, hay: &[u8], base: usize, complete: bool) {
        self.run_filtered(sub, hay, base, complete, None, MAX_MATCHES);
    }

    /// As [`Self::run`], passing over a block not in `live` (when given): no literal the expression's
    /// matches start or end with says one may start there; and where `live` knows the latest end of a
    /// match that may start in a block, searching its window no further. Done once `enough` matches are
    /// counted ([`LogicalSig::enough`]).
    fn run_filtered(
        &mut self,
        sub: &PcreSub,
        hay: &[u8],
        base: usize,
        complete: bool,
        mut live: Option<&mut Live>,
        enough: u32,
    ) {
        let held_end = base + hay.len();
        if sub.anchored && sub.offset == Offset::Any {
            // No start is allowed.
            self.done = true;
        }
        while !self.done {
            if self.pos >= held_end {
                self.done = complete;
                return;
            }
            // An expression that matches only at the start is done with its first window.
            if sub.regex.at_start && self.pos >= BLOCK {
                self.done = true;
                return;
            }
            if let Offset::Absolute { at, shift } = sub.offset
                && self.pos as u64 > at.saturating_add(shift)
            {
                self.done = true;
                return;
            }
            let block_end = (self.pos / BLOCK + 1) * BLOCK;
            let window_end = block_end.saturating_add(sub.regex.reach);
            // A window that ends before the object does needs the byte after it (for `\b` and `$`).
            let end = if window_end < held_end {
                window_end
            } else if complete {
                held_end
            } else {
                return;
            };
            let mut end = end;
            if let Some(live) = live.as_deref_mut() {
                let block = self.pos / BLOCK;
                while live.blocks.first().is_some_and(|&b| b < block) {
                    live.blocks.pop_first();
                }
                if live.blocks.first() != Some(&block) {
                    self.pos = block_end;
                    continue;
                }
                if let Some(latest) = live.latest_end(block) {
                    // The byte after it too, as a window's end (`\b`, `$`): look-around reads past a range.
                    end = end.min(latest.saturating_add(1));
                    if end <= self.pos {
                        self.pos = block_end;
                        continue;
                    }
                }
            }
            let (Some(from), Some(to)) = (self.pos.checked_sub(base), end.checked_sub(base)) else {
                // The caller gave too little: a defect, but never a panic.
                debug_assert!(false, "search given bytes from {base}, needs {}", self.pos);
                self.done = true;
                return;
            };
            let input = Input::new(hay).range(from..to).anchored(Anchored::No);
            match sub.regex.regex.search(&input) {
                Some(m) if m.start() + base < block_end => {
                    let (start, stop) = (m.start() + base, m.end() + base);
                    if start == stop && self.last_end == Some(stop) {
                        self.pos = start + 1;
                        continue;
                    }
                    self.found(sub, start, held_end, enough);
                    self.last_end = Some(stop);
                    self.pos = stop;
                }
                _ => self.pos = block_end,
            }
        }
    }

    /// Counts a match starting at `start`, or keeps its start until the length is known.
    fn found(&mut self, sub: &PcreSub, start: usize, held_end: usize, enough: u32) {
        match sub.offset {
            Offset::FromEnd { back, .. } => {
                let back = usize::try_from(back).unwrap_or(usize::MAX);
                // A start more than `back` before what has arrived is before every window the end allows.
                let floor = held_end.saturating_sub(back);
                let starts = self.starts.get_or_insert_with(Box::default);
                while starts.front().is_some_and(|&s| s < floor) {
                    starts.pop_front();
                }
                if start >= floor {
                    starts.push_back(start);
                }
            }
            _ => {
                if counts(sub, start, usize::MAX) {
                    self.counted += 1;
                    self.done |= self.counted >= enough.min(MAX_MATCHES);
                }
            }
        }
    }

    /// Where the bytes the search still reads start (one before its position, for look-behind);
    /// `usize::MAX` once it reads none.
    pub(crate) fn needed_from(&self) -> usize {
        if self.done {
            usize::MAX
        } else {
            self.pos.saturating_sub(1)
        }
    }

    /// The count, for an object of `len` bytes.
    pub(crate) fn count(&self, sub: &PcreSub, len: usize) -> u32 {
        let late = self
            .starts
            .iter()
            .flat_map(|s| s.iter())
            .filter(|&&s| counts(sub, s, len))
            .count();
        self.counted
            .saturating_add(u32::try_from(late).unwrap_or(u32::MAX))
            .min(MAX_MATCHES)
    }

    fn memory_usage(&self) -> usize {
        self.starts.as_ref().map_or(0, |s| {
            std::mem::size_of_val(&**s) + s.capacity() * std::mem::size_of::<usize>()
        })
    }
}

/// The count of `sub`'s matches in a whole object.
pub(crate) fn count_whole(sub: &PcreSub, data: &[u8]) -> u32 {
    let mut search = Search::default();
    search.run(sub, data, 0, true);
    search.count(sub, data.len())
}

/// The regular expressions that apply to objects of one target type, and the literals to look for them by.
#[derive(Debug, Default)]
pub(crate) struct PcrePlan {
    /// The subsignatures, as (signature, subsignature) indices.
    subs: Vec<(u32, u8)>,
    /// Per expression: how many matches decide all its signature can learn of it ([`LogicalSig::enough`]).
    enough: Vec<u32>,
    /// The literals of the expressions that have some.
    literals: Option<Finder>,
    /// Per expression: how the blocks where its match may start are found.
    lookup: Vec<Lookup>,
    /// Where the matches of the expressions with no literals end: the DFAs they are split into.
    ends: Vec<Ends>,
    /// Per expression: its trigger, when an object's first bytes may decide it ([`Gate`]).
    gates: Vec<Option<Gate>>,
    /// The literals of the expressions with no gate, looked for instead of all of them in an object whose
    /// first bytes shut every gate (when some expression with literals has one).
    ungated: Option<Finder>,
    /// The literals that the choice most objects make looks for, as one more table of where matches end
    /// instead of by the atom filter, if they fit one.
    literal_table: Option<LiteralTable>,
}

/// The literals of the expressions that one choice of [`Looking`] looks for, each a pattern of a table of
/// where matches end ([`Ends`]), walked after the plan's own (its index is theirs' count): a byte costs one
/// lookup, where the atom filter samples every position for literals of 3 bytes (the official database
/// has some: `var `, `XPM`). A literal's match end marks the blocks of the windows that may find a match
/// holding it, as its hit by the atom filter would.
///
/// When the literals' table and one of the plan's (the smallest) fit one table together
/// ([`Ends::product`], at most [`TABLE_MERGED`]), that one is walked instead of both
/// ([`LiteralTable::merged`]): a byte costs one lookup less.
#[derive(Debug)]
struct LiteralTable {
    looking: Looking,
    /// The plan's table that `ends` holds too (its patterns first, then the literals'), and is walked
    /// instead of.
    merged: Option<usize>,
    ends: Ends,
    /// Per expression: how it is looked for when the literals are.
    lookup: Vec<Lookup>,
}

/// How a session finds the blocks where an expression's match may start.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Lookup {
    /// It does not: every block is searched.
    Every,
    /// By the literals every match starts with.
    Prefix,
    /// By the literals every match holds.
    Inner,
    /// By where its matches end (through the plan's [`Ends`] of this index).
    Ends(usize),
}

/// A DFA of the expressions with no literals to look for, which reports every position where a match of
/// one of them ends (overlapping matches included: every start). It reads each byte once as it arrives,
/// where searching each expression's windows would read every byte of the object twice over per expression
/// (a block and the reach of its window). A match ending at `e` starts in the block `(e - shortest) / BLOCK`
/// or before, and is found by no window that ends before `e`: so it marks the blocks of the windows that may
/// find it, and the others are passed over.
///
/// A plan's expressions are split into as few such DFAs as fit ([`Ends::new`]). Each is built whole once
/// per plan, and shared by every stream, when its table fits [`TABLE_ENDS`] (the official database's three
/// expressions for a part of a message make 162 states; its five for text, two tables of 845 and 303
/// states, 1.5 MiB shared by every session, their rows padded to a power of two): a byte then costs one
/// lookup per table (about five instructions: read the byte, add, mask, load, OR), and a stream holds
/// only its state. The expressions that fit no table are one lazy DFA, whose states each stream builds in
/// a cache of its own as its bytes need them ([`ENDS_CACHE`]).
#[derive(Debug)]
struct Ends {
    dfa: EndsDfa,
    /// Per pattern of the DFA: its search (index into `PcrePlan::subs`), shortest match and reach.
    owners: Vec<(u32, usize, usize)>,
}

/// The DFA of an [`Ends`]: whole, or built lazily per stream.
#[derive(Debug)]
enum EndsDfa {
    Table(EndTable),
    Lazy(Box<regex_automata::hybrid::dfa::DFA>),
}

/// The most memory the table of an [`Ends`] DFA built whole may take; one that needs more is built lazily.
const TABLE_ENDS: usize = 1 << 20;

/// The most memory a table of where matches end and the literals' together may take ([`LiteralTable`]).
/// With the official database, the message itself's make 636 states (162 and 184 apart), a binary part's
/// 566 (162 and 129) and an HTML part's 720 (162 and 199); a text part's smaller table and its literals
/// would make 24,687 (303 and 189), so they stay apart (finding so costs 8 ms, with the engine).
const TABLE_MERGED: usize = 2 << 20;

/// A whole DFA as a table of 256 transitions per state, so that a byte costs one lookup. A state is named
/// by where its row starts (its number times 256), with [`MATCH_FLAG`] set when a match ends at it. The
/// rows are a power of two (from [`MIN_ROWS`] to [`MAX_ROWS`]; those past the states are never reached),
/// so that a lookup masks its index, which drops the flag too, instead of checking it.
#[derive(Debug)]
struct EndTable {
    next: Box<[u32]>,
    start: u32,
    /// Per state (by number): the patterns whose match ends at it, and those whose match ends at the end
    /// of the object after it.
    matches: Vec<[Box<[u32]>; 2]>,
}

/// Set in the name of an [`EndTable`]'s state where a match ends: a walk ORs the states of a stretch of
/// bytes and looks at this bit once.
const MATCH_FLAG: u32 = 1 << 31;

/// The fewest rows of an [`EndTable`].
const MIN_ROWS: usize = 1;

/// The most rows of an [`EndTable`] (2 MiB, [`TABLE_MERGED`]).
const MAX_ROWS: usize = 2048;

impl EndTable {
    fn memory_usage(&self) -> usize {
        self.next.len() * 4
            + self.matches.capacity() * std::mem::size_of::<[Box<[u32]>; 2]>()
            + self
                .matches
                .iter()
                .flatten()
                .map(|m| m.len() * 4)
                .sum::<usize>()
    }

    /// The table of `dfa`, unanchored from the start of the object, if its rows fit `limit` bytes (see
    /// [`EndTable::build`]) and it has no quit state.
    fn new(dfa: &regex_automata::dfa::dense::DFA<Vec<u32>>, limit: usize) -> Option<EndTable> {
        use regex_automata::dfa::Automaton;
        use regex_automata::util::primitives::StateID;
        let config = regex_automata::util::start::Config::new().anchored(Anchored::No);
        let patterns = |sid: StateID| -> Box<[u32]> {
            match dfa.is_match_state(sid) {
                true => (0..dfa.match_len(sid))
                    .map(|m| dfa.match_pattern(sid, m).as_u32())
                    .collect(),
                false => Box::default(),
            }
        };
        EndTable::build(
            dfa.start_state(&config).ok()?,
            |sid, byte| Some(dfa.next_state(sid, byte)).filter(|&to| !dfa.is_quit_state(to)),
            |sid| [patterns(sid), patterns(dfa.next_eoi_state(sid))],
            limit,
        )
    }

    /// The table of an Aho-Corasick automaton, unanchored, if its rows fit `limit` bytes. Its
    /// matches are seen as soon as their last byte is read, a byte earlier than a DFA's: each is reported
    /// as ending a byte before it does.
    fn of_literals(dfa: &aho_corasick::dfa::DFA, limit: usize) -> Option<EndTable> {
        use aho_corasick::Anchored;
        use aho_corasick::automaton::Automaton;
        use aho_corasick::automaton::StateID;
        let patterns = |sid: StateID| -> [Box<[u32]>; 2] {
            let inside = match dfa.is_match(sid) {
                true => (0..dfa.match_len(sid))
                    .map(|m| dfa.match_pattern(sid, m).as_u32())
                    .collect(),
                false => Box::default(),
            };
            [inside, Box::default()]
        };
        EndTable::build(
            dfa.start_state(Anchored::No).ok()?,
            |sid, byte| Some(dfa.next_state(Anchored::No, sid, byte)),
            patterns,
            limit,
        )
    }

    /// The table of `a` and `b` walked together, `b`'s patterns numbered after `a`'s (`a_patterns` of
    /// them), if its rows fit `limit` bytes: a state for each pair of their states that a byte
    /// string leads to from their starts. Its matches are theirs: a table made of an Aho-Corasick
    /// automaton keeps seeing its own a byte earlier.
    fn product(a: &EndTable, b: &EndTable, a_patterns: u32, limit: usize) -> Option<EndTable> {
        EndTable::build(
            (a.start, b.start),
            |(x, y), byte| Some((a.next_of(x, byte)?, b.next_of(y, byte)?)),
            |(x, y)| {
                let (Some(ma), Some(mb)) = (a.matches_of(x), b.matches_of(y)) else {
                    return Default::default();
                };
                [0, 1].map(|k| {
                    ma[k]
                        .iter()
                        .copied()
                        .chain(mb[k].iter().map(|&p| p + a_patterns))
                        .collect()
                })
            },
            limit,
        )
    }

    /// How many states the table has.
    fn states(&self) -> usize {
        self.matches.len()
    }

    /// The table of the automaton whose states `next` walks from `start` (`None`: a state the table cannot
    /// hold), with the patterns `matches` gives per state (whose match ends at it, and at the end of the
    /// object after it), if its rows (its states, to a power of two) take at most `limit` bytes.
    fn build<S: Copy + Eq + std::hash::Hash>(
        start: S,
        next: impl Fn(S, u8) -> Option<S>,
        matches: impl Fn(S) -> [Box<[u32]>; 2],
        limit: usize,
    ) -> Option<EndTable> {
        // Rows a walk can use: past these, the states found are not worth finding.
        let most = (limit / std::mem::size_of::<[u32; 256]>()).min(MAX_ROWS);
        // The states the start leads to, numbered as found.
        let mut found: HashMap<S, usize> = HashMap::from([(start, 0)]);
        let mut states = vec![start];
        let mut edges: Vec<[usize; 256]> = Vec::new();
        while let Some(&sid) = states.get(edges.len()) {
            let mut row = [0; 256];
            for (byte, to) in (0..=255u8).zip(row.iter_mut()) {
                let next = next(sid, byte)?;
                *to = *found.entry(next).or_insert_with(|| {
                    states.push(next);
                    states.len() - 1
                });
            }
            if states.len() > most {
                return None;
            }
            edges.push(row);
        }
        let rows = states.len().next_power_of_two().max(MIN_ROWS);
        if rows > most {
            return None;
        }
        let matches: Vec<[Box<[u32]>; 2]> = states.iter().map(|&s| matches(s)).collect();
        let name = |k: usize| -> Option<u32> {
            let row = u32::try_from(k * 256).ok()?;
            Some(match matches.get(k)?[0].is_empty() {
                true => row,
                false => row | MATCH_FLAG,
            })
        };
        let names: Vec<u32> = (0..states.len()).map(name).collect::<Option<_>>()?;
        let mut next: Vec<u32> = edges.iter().flatten().map(|&to| names[to]).collect();
        next.resize(rows * 256, 0);
        Some(EndTable {
            next: next.into(),
            start: *names.first()?,
            matches,
        })
    }

    /// The patterns of state `state` (by name): whose match ends at it, and at the end of the object after
    /// it.
    fn matches_of(&self, state: u32) -> Option<&[Box<[u32]>; 2]> {
        self.matches.get((state & !MATCH_FLAG) as usize / 256)
    }

    /// The state after `state` (by name) reads `byte`.
    fn next_of(&self, state: u32, byte: u8) -> Option<u32> {
        let row = (state & !MATCH_FLAG) as usize;
        self.next.get(row + usize::from(byte)).copied()
    }
}

/// A lazy DFA's cache, per object: small, since the expressions are few (it is cleared when full).
const ENDS_CACHE: usize = 32 << 10;

/// The most tables a plan's expressions with no literals are split into: each is one lookup a byte.
const MAX_TABLES: usize = 3;

/// The most DFAs built whole (each determinized to a quarter of [`TABLE_ENDS`]) to split a plan's
/// expressions into tables: a plan is made with the engine, or on first use in a session's `feed`.
const MAX_TABLE_TRIES: usize = 12;

impl Ends {
    fn memory_usage(&self) -> usize {
        let dfa = match &self.dfa {
            EndsDfa::Table(t) => t.memory_usage(),
            EndsDfa::Lazy(dfa) => dfa.memory_usage(),
        };
        dfa + self.owners.capacity() * std::mem::size_of::<(u32, usize, usize)>()
    }

    /// The DFAs of `hirs` (with `owners`, one per expression): as few tables as the expressions fit, each
    /// no larger than `table_limit` bytes (several expressions whose DFA is small alone may need one
    /// exponentially large together: the official database's five for text do), all together if they fit,
    /// else grouped in order as they fit (at most [`MAX_TABLE_TRIES`] tries); the expressions that fit no
    /// table (of [`MAX_TABLES`]) in one lazy DFA, which gives up after `give_up` clears of its cache (of
    /// [`ENDS_CACHE`] bytes) if it makes too few bytes' progress per state it adds.
    fn new(
        hirs: &[&regex_syntax::hir::Hir],
        owners: &[(u32, usize, usize)],
        table_limit: usize,
        give_up: Option<usize>,
    ) -> Vec<Ends> {
        let pick = |group: &[usize]| -> (Vec<&regex_syntax::hir::Hir>, Vec<(u32, usize, usize)>) {
            group
                .iter()
                .filter_map(|&k| Some((*hirs.get(k)?, *owners.get(k)?)))
                .unzip()
        };
        let mut tries = MAX_TABLE_TRIES;
        let mut table = |group: &[usize]| {
            tries = tries.checked_sub(1)?;
            let (hirs, owners) = pick(group);
            Ends::table(&hirs, owners, table_limit)
        };
        let all: Vec<usize> = (0..hirs.len().min(owners.len())).collect();
        if table_limit > 0
            && let Some(t) = table(&all)
        {
            return vec![t];
        }
        let mut parts = Vec::new();
        let (mut group, mut open, mut lazy) = (Vec::new(), None, Vec::new());
        for &k in &all {
            if table_limit > 0 && parts.len() < MAX_TABLES {
                let with: Vec<usize> = group.iter().copied().chain([k]).collect();
                // All of them together did not fit.
                if with != all
                    && let Some(t) = table(&with)
                {
                    (group, open) = (with, Some(t));
                    continue;
                }
                // Not with the group so far: that one is closed, and a new one tried.
                parts.extend(open.take());
                group.clear();
                if parts.len() < MAX_TABLES
                    && let Some(t) = table(&[k])
                {
                    (group, open) = (vec![k], Some(t));
                    continue;
                }
            }
            lazy.push(k);
        }
        parts.extend(open);
        let (hirs, owners) = pick(&lazy);
        parts.extend(Ends::lazy(&hirs, owners, give_up));
        parts
    }

    /// The NFA of `hirs`, one pattern each.
    fn nfa(hirs: &[&regex_syntax::hir::Hir]) -> Option<regex_automata::nfa::thompson::NFA> {
        use regex_automata::nfa::thompson;
        if hirs.is_empty() {
            return None;
        }
        thompson::Compiler::new()
            .configure(
                thompson::Config::new()
                    .utf8(false)
                    .which_captures(thompson::WhichCaptures::None)
                    .nfa_size_limit(Some(4 << 20)),
            )
            .build_many_from_hir(hirs)
            .ok()
    }

    /// The DFA of `hirs` as a table, if it takes no more than `limit` bytes.
    fn table(
        hirs: &[&regex_syntax::hir::Hir],
        owners: Vec<(u32, usize, usize)>,
        limit: usize,
    ) -> Option<Ends> {
        use regex_automata::dfa::{StartKind, dense};
        // Byte classes make the DFA built a quarter of its table or less (the official database's 845
        // states for text take 220 KB); its states are the table's. Determinizing expressions whose DFA is
        // too large costs more the further it goes (to 256 KiB, 9 ms; to 1 MiB, 80 ms), so it stops there.
        let built = (limit / 4).max(64 << 10);
        let dfa = dense::Builder::new()
            .configure(
                dense::Config::new()
                    .match_kind(regex_automata::MatchKind::All)
                    .start_kind(StartKind::Unanchored)
                    .dfa_size_limit(Some(built))
                    .determinize_size_limit(Some(built)),
            )
            .build_from_nfa(&Ends::nfa(hirs)?)
            .ok()?;
        Some(Ends {
            dfa: EndsDfa::Table(EndTable::new(&dfa, limit)?),
            owners,
        })
    }

    /// The table of where `literals` end (in any ASCII case: a literal looked for by case is found a little
    /// more often than it occurs, which passes over fewer blocks, never more), with `owners` (shortest
    /// match and reach as for a match ending where the literal does), if it takes no more than `limit`
    /// bytes.
    fn literals(literals: &[&[u8]], owners: &[(u32, usize, usize)], limit: usize) -> Option<Ends> {
        // An automaton has at most a state per byte of its literals, and a table at most `limit / 1 KiB`
        // states: more literals are not built into one (a plan with hundreds of expressions and no gate).
        let bytes: usize = literals.iter().map(|l| l.len()).sum();
        if literals.is_empty() || bytes >= limit / std::mem::size_of::<[u32; 256]>() {
            return None;
        }
        let dfa = aho_corasick::dfa::DFA::builder()
            .match_kind(aho_corasick::MatchKind::Standard)
            .start_kind(aho_corasick::StartKind::Unanchored)
            .ascii_case_insensitive(true)
            .build(literals)
            .ok()?;
        // A match is reported a byte before it ends (see `EndTable::of_literals`).
        let owners = owners
            .iter()
            .map(|&(j, shortest, reach)| (j, shortest.saturating_sub(1), reach.saturating_sub(1)))
            .collect();
        Some(Ends {
            dfa: EndsDfa::Table(EndTable::of_literals(&dfa, limit)?),
            owners,
        })
    }

    /// Its table, if it has one.
    fn whole(&self) -> Option<&EndTable> {
        match &self.dfa {
            EndsDfa::Table(t) => Some(t),
            EndsDfa::Lazy(_) => None,
        }
    }

    /// This table and `other` walked as one ([`EndTable::product`]), if both are tables and together
    /// take at most `limit` bytes: this one's patterns first.
    fn product(&self, other: &Ends, limit: usize) -> Option<Ends> {
        let a_patterns = u32::try_from(self.owners.len()).ok()?;
        Some(Ends {
            dfa: EndsDfa::Table(EndTable::product(
                self.whole()?,
                other.whole()?,
                a_patterns,
                limit,
            )?),
            owners: self.owners.iter().chain(&other.owners).copied().collect(),
        })
    }

    /// The lazy DFA of `hirs`, giving up as [`Ends::new`] says.
    fn lazy(
        hirs: &[&regex_syntax::hir::Hir],
        owners: Vec<(u32, usize, usize)>,
        give_up: Option<usize>,
    ) -> Option<Ends> {
        use regex_automata::hybrid::dfa::DFA;
        let dfa = DFA::builder()
            .configure(
                DFA::config()
                    .match_kind(regex_automata::MatchKind::All)
                    .cache_capacity(ENDS_CACHE)
                    .skip_cache_capacity_check(true)
                    // A DFA that keeps making new states (hostile input against many expressions) gives
                    // up, as the `regex` crate's does, rather than cost thousands of instructions a byte:
                    // then its expressions are searched in every block.
                    .minimum_cache_clear_count(give_up)
                    .minimum_bytes_per_state(Some(10)),
            )
            .build_from_nfa(Ends::nfa(hirs)?)
            .ok()?;
        Some(Ends {
            dfa: EndsDfa::Lazy(Box::new(dfa)),
            owners,
        })
    }
}

/// The walk of one object through the [`Ends`] DFA, carried from piece to piece.
#[derive(Clone, Debug)]
struct EndWalk {
    /// Where the walk is in the DFA.
    at_state: WalkState,
    /// The end of the bytes walked.
    at: usize,
    /// The walk could not go on (a DFA that gave up, bytes missed): its expressions are searched in every
    /// block from then on.
    failed: bool,
    /// Per pattern of the DFA: the last block marked (the blocks a match end marks only move forward).
    marked: Vec<Option<usize>>,
}

/// A walk's state: in a whole DFA, or in a lazy one with the stream's cache of its states.
#[derive(Clone, Debug)]
enum WalkState {
    /// The row of the state after the bytes walked, in an [`EndTable`].
    Table(u32),
    Lazy {
        cache: Box<regex_automata::hybrid::dfa::Cache>,
        /// The state after the bytes walked.
        state: Option<regex_automata::hybrid::LazyStateID>,
        /// The bytes that leave one state where it is, learnt as the walk goes ([`Stay`]).
        stay: Option<Box<Stay>>,
    },
}

impl WalkState {
    fn memory_usage(&self) -> usize {
        match self {
            WalkState::Table(_) => 0,
            WalkState::Lazy { cache, stay, .. } => {
                cache.memory_usage() + stay.as_ref().map_or(0, |_| 272)
            }
        }
    }
}

/// The bytes that take a state of the [`Ends`] DFA back to itself, learnt as the walk takes them. Most
/// bytes leave the DFA in the state where no match is under way, and each costs a transition (a dozen
/// instructions and more); a byte this says stays is passed over with one lookup.
///
/// A lazy DFA renumbers its states when it clears its cache, so what is learnt holds only while the
/// cache has been cleared as often as when it was learnt: after a clear it is learnt anew.
#[derive(Clone, Debug)]
struct Stay {
    state: regex_automata::hybrid::LazyStateID,
    clears: usize,
    bytes: [bool; 256],
}

impl Stay {
    /// Learns that `byte` leaves `state` where it is, in a DFA whose cache was cleared `clears` times;
    /// returns the bytes known to do so, if `state` is the one learnt of. The first state learnt of is
    /// kept until the cache is cleared.
    fn learn(
        slot: &mut Option<Box<Stay>>,
        state: regex_automata::hybrid::LazyStateID,
        byte: u8,
        clears: usize,
    ) -> Option<&[bool; 256]> {
        let stay = slot.get_or_insert_with(|| {
            Box::new(Stay {
                state,
                clears,
                bytes: [false; 256],
            })
        });
        if stay.clears != clears {
            **stay = Stay {
                state,
                clears,
                bytes: [false; 256],
            };
        }
        if stay.state != state {
            return None;
        }
        stay.bytes[usize::from(byte)] = true;
        Some(&stay.bytes)
    }
}

/// The literals, looked for at once by the atom filter ([`crate::matcher::filter`]) as the bytes arrive,
/// and for each (by atom id) its length and the expressions (indices into `PcrePlan::subs`) it belongs to.
/// A literal longer than an atom is looked for by its first [`MAX_ATOM`] bytes: an occurrence of those
/// starts where the literal's does and ends no later, so the blocks it marks include those the whole
/// literal would.
struct Finder {
    atoms: AtomSet,
    owners: Vec<(usize, Vec<u32>)>,
}

impl std::fmt::Debug for Finder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Finder")
            .field("atoms", &self.atoms.len())
            .finish()
    }
}

impl Finder {
    fn memory_usage(&self) -> usize {
        self.atoms.memory_usage()
            + self.owners.capacity() * std::mem::size_of::<(usize, Vec<u32>)>()
            + self
                .owners
                .iter()
                .map(|(_, o)| o.capacity() * 4)
                .sum::<usize>()
    }

    /// The finder of the literals of each expression `wanted` gives (by its index in the plan).
    fn new(wanted: &[(u32, &Literals)]) -> Option<Finder> {
        let mut atoms = AtomSetBuilder::default();
        let mut owners: Vec<(usize, Vec<u32>)> = Vec::new();
        for &(search, literals) in wanted {
            for lit in &literals.set {
                let atom = &lit[..lit.len().min(MAX_ATOM)];
                let id = atoms.add(atom.to_vec(), literals.nocase) as usize;
                if id == owners.len() {
                    owners.push((atom.len(), Vec::new()));
                }
                if let Some((_, o)) = owners.get_mut(id) {
                    o.push(search);
                }
            }
        }
        (!owners.is_empty()).then(|| Finder {
            atoms: atoms.build(),
            owners,
        })
    }
}

impl PcrePlan {
    /// The approximate heap memory of the plan: its tables, the automata of its literals and its lazy
    /// DFAs (each stream's caches are the stream's).
    pub(crate) fn memory_usage(&self) -> usize {
        self.subs.capacity() * 8
            + self.enough.capacity() * 4
            + self.lookup.capacity() * std::mem::size_of::<Lookup>()
            + self.ends.iter().map(Ends::memory_usage).sum::<usize>()
            + self.gates.capacity() * std::mem::size_of::<Option<Gate>>()
            + self.literals.as_ref().map_or(0, Finder::memory_usage)
            + self.ungated.as_ref().map_or(0, Finder::memory_usage)
            + self.literal_table.as_ref().map_or(0, |t| {
                t.ends.memory_usage() + t.lookup.capacity() * std::mem::size_of::<Lookup>()
            })
    }

    /// The literals a stream looks for: those `looking` chose, or every expression's before it chose.
    fn finder(&self, looking: Looking) -> Option<&Finder> {
        match looking {
            Looking::Ungated => self.ungated.as_ref(),
            Looking::All | Looking::Unchosen => self.literals.as_ref(),
        }
    }

    /// The plan for objects of target type `target`, found in a container of type `container` (a part of a
    /// message: `mail`; the message itself: none): the signatures for another type or container are left
    /// out, as evaluation leaves them out ([`crate::matcher::logical`]).
    /// The hex subsignatures are read from `body`, which holds their patterns.
    pub(crate) fn new(
        logical: &[LogicalSig],
        body: &BodyMatcher,
        target: u8,
        container: Option<FileType>,
    ) -> PcrePlan {
        PcrePlan::build(logical, body, target, container, true)
    }

    /// As [`PcrePlan::new`]; the literals' table is merged with the plan's own when `merge` and they fit
    /// one (tests build both).
    fn build(
        logical: &[LogicalSig],
        body: &BodyMatcher,
        target: u8,
        container: Option<FileType>,
        merge: bool,
    ) -> PcrePlan {
        let applies = |sig: &LogicalSig| {
            let in_container = match sig.container {
                None => true,
                Some(None) => false,
                Some(Some(t)) => container == Some(t),
            };
            (sig.target == 0 || sig.target == target)
                && in_container
                && sig.subs.iter().any(|s| matches!(s, SubSig::Pcre(_)))
        };
        let forms = body.first_parts(|(i, _)| logical.get(i as usize).is_some_and(applies));
        let mut plan = PcrePlan::default();
        // Per expression with literals: its literals, and whether they are looked for by case.
        let mut wanted: Vec<(u32, &Literals)> = Vec::new();
        let (mut end_hirs, mut end_owners) = (Vec::new(), Vec::new());
        for (i, sig) in logical.iter().enumerate() {
            if !applies(sig) {
                continue;
            }
            for (j, sub) in sig.subs.iter().enumerate() {
                let (SubSig::Pcre(p), Ok(i), Ok(j)) = (sub, u32::try_from(i), u8::try_from(j))
                else {
                    continue;
                };
                let search = plan.subs.len() as u32;
                plan.subs.push((i, j));
                plan.enough.push(sig.enough(j));
                let trigger_forms: HashMap<u8, Vec<_>> = p
                    .trigger
                    .subs()
                    .into_iter()
                    .filter_map(|n| Some((n, forms.get(&(i, n))?.clone())))
                    .collect();
                plan.gates.push(Gate::new(&p.trigger, &trigger_forms));
                // An expression anchored at the start is done after its first window: searched there,
                // its literals are not looked for in the rest.
                let literals = p.regex.literals.as_ref().filter(|_| !p.regex.at_start);
                plan.lookup.push(match literals {
                    Some(l) if l.prefix => Lookup::Prefix,
                    Some(_) => Lookup::Inner,
                    None => Lookup::Every,
                });
                let Some(literals) = literals else {
                    // An expression that may match empty would mark every block; one anchored at the start
                    // is done after its first window anyway.
                    if let (Some(hir), false, false) =
                        (&p.regex.hir, p.regex.min_len == 0, p.regex.at_start)
                    {
                        end_hirs.push(&**hir);
                        end_owners.push((search, p.regex.min_len, p.regex.reach));
                    }
                    continue;
                };
                wanted.push((search, literals));
            }
        }
        plan.literals = Finder::new(&wanted);
        let mut looking = Looking::All;
        if wanted
            .iter()
            .any(|&(j, _)| plan.gates[j as usize].is_some())
        {
            wanted.retain(|&(j, _)| plan.gates[j as usize].is_none());
            plan.ungated = Finder::new(&wanted);
            looking = Looking::Ungated;
        }
        plan.ends = Ends::new(&end_hirs, &end_owners, TABLE_ENDS, Some(3));
        for (n, ends) in plan.ends.iter().enumerate() {
            for &(j, _, _) in &ends.owners {
                plan.lookup[j as usize] = Lookup::Ends(n);
            }
        }
        // The literals `wanted` holds now are those of the choice most objects make: every expression's,
        // or, when some have gates, which an object's first bytes mostly shut, those of the others.
        let (mut set, mut owners) = (Vec::new(), Vec::new());
        for &(j, literals) in &wanted {
            let (sig, sub) = plan.subs[j as usize];
            let reach = pcre_of(logical, sig, sub).map_or(MAX_REACH, |p| p.regex.reach);
            for literal in &literals.set {
                set.push(&literal[..]);
                // A match starts with the literal, or holds it and reaches no further back than its reach.
                let back = if literals.prefix {
                    literal.len()
                } else {
                    reach
                };
                owners.push((j, literal.len(), back));
            }
        }
        if let Some(ends) = Ends::literals(&set, &owners, TABLE_ENDS) {
            // The literals with one of the plan's tables, the smallest, if the two fit one.
            let smallest = (0..plan.ends.len())
                .filter_map(|n| Some((plan.ends[n].whole()?.states(), n)))
                .min();
            let merged = smallest
                .filter(|_| merge)
                .and_then(|(_, n)| Some((n, plan.ends[n].product(&ends, TABLE_MERGED)?)));
            let (merged, ends, n) = match merged {
                Some((n, both)) => (Some(n), both, n),
                None => (None, ends, plan.ends.len()),
            };
            let mut lookup = plan.lookup.clone();
            for &(j, _, _) in &ends.owners {
                lookup[j as usize] = Lookup::Ends(n);
            }
            plan.literal_table = Some(LiteralTable {
                looking,
                merged,
                ends,
                lookup,
            });
        }
        plan
    }

    /// The DFA of where matches end `n`: the plan's own, then the literals' table when `tabled`.
    fn ends_at(&self, tabled: bool, n: usize) -> Option<&Ends> {
        match &self.literal_table {
            Some(t) if tabled && t.merged.is_some_and(|m| m == n) => Some(&t.ends),
            Some(t) if tabled && t.merged.is_none() && n == self.ends.len() => Some(&t.ends),
            _ => self.ends.get(n),
        }
    }

    /// How each expression is looked for, by the literals' table when `tabled`.
    fn lookups(&self, tabled: bool) -> &[Lookup] {
        match (&self.literal_table, tabled) {
            (Some(t), true) => &t.lookup,
            _ => &self.lookup,
        }
    }
}

/// Where a search looked for by literals or by where its matches end may find a match: the blocks (by
/// index) where one may start, and for an expression looked for by where its matches end, how far its
/// matches that start in a block reach.
///
/// Every end of a match (of any start) is marked as it is walked, and a match that starts in block `b`
/// and ends at `e` marks `b` (see [`PcreStream::look_for_ends`]); the first block an end marks grows
/// with the end. So the last end whose first block is `b` or before is the latest that a match starting
/// in `b` can have, and the search of `b`'s window can stop there: after its last match, it would read
/// on to the window's end (16 KiB and the expression's reach) for nothing.
#[derive(Clone, Debug, Default)]
struct Live {
    blocks: std::collections::BTreeSet<usize>,
    /// (first block an end marks, the latest end that marks from it), in order; empty for an expression
    /// looked for by literals.
    ends: std::collections::VecDeque<(usize, usize)>,
}

impl Live {
    /// Notes a match end at `end`, which marks blocks from `first` on.
    fn note_end(&mut self, first: usize, end: usize) {
        match self.ends.back_mut() {
            Some((f, e)) if *f == first => *e = end.max(*e),
            _ => self.ends.push_back((first, end)),
        }
    }

    /// The latest end a match starting in `block` can have (blocks are asked in order), if ends were
    /// noted.
    fn latest_end(&mut self, block: usize) -> Option<usize> {
        while self.ends.get(1).is_some_and(|&(f, _)| f <= block) {
            self.ends.pop_front();
        }
        self.ends
            .front()
            .filter(|&&(f, _)| f <= block)
            .map(|&(_, e)| e)
    }

    fn memory_usage(&self) -> usize {
        16 + self.blocks.len() * 16 + self.ends.capacity() * 16
    }
}

/// Every expression that applies to an object, searched as it arrives (see the module docs).
#[derive(Clone, Debug, Default)]
pub(crate) struct PcreStream {
    plan: std::sync::Arc<PcrePlan>,
    /// The searches, one per expression of the plan (`searches[k]` is expression `k`'s), or once the
    /// object's first bytes have decided the gates, only those of the expressions `exprs` names.
    searches: Vec<Search>,
    /// Per search looked for by literals or by where its matches end: where a match may start.
    live: Vec<Live>,
    /// Once the searches that can find nothing more and found nothing are dropped: the expression each
    /// search left is for, in order. Most of the official database's expressions for a part of a message
    /// are shut by its first bytes (see [`Gate`]); each search kept costs memory in every session.
    exprs: Option<Vec<u32>>,
    /// The search for the literals, carried from piece to piece.
    atoms: AtomStream,
    /// The end of the bytes seen so far.
    seen: usize,
    /// The walks through the DFAs of where matches end (the plan's `ends`), each once begun.
    ends: Vec<Option<EndWalk>>,
    /// Some gates are still to be decided by the object's first bytes.
    gates_open: bool,
    /// Which literals are looked for, chosen at the first search for them.
    looking: Looking,
    /// They are looked for through the plan's literal table ([`LiteralTable`]), not the atom filter.
    tabled: bool,
}

/// Which of a plan's literals a stream looks for.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
enum Looking {
    /// Not chosen yet.
    #[default]
    Unchosen,
    /// Every expression's.
    All,
    /// Only those of the expressions with no gate: every gate of an expression with literals was shut.
    Ungated,
}

impl PcreStream {
    /// The searches of an object for the expressions of `plan`.
    pub(crate) fn new(plan: std::sync::Arc<PcrePlan>) -> PcreStream {
        let n = plan.subs.len();
        PcreStream {
            searches: vec![Search::default(); n],
            live: vec![Live::default(); n],
            exprs: None,
            atoms: AtomStream::default(),
            seen: 0,
            ends: (0..plan.ends.len()).map(|_| None).collect(),
            gates_open: plan.gates.iter().any(Option::is_some),
            looking: Looking::Unchosen,
            tabled: false,
            plan,
        }
    }

    /// The literals looked for by the atom filter.
    fn finder(&self) -> Option<&Finder> {
        match self.tabled {
            true => None,
            false => self.plan.finder(self.looking),
        }
    }

    /// The search of expression `j`, if it is kept.
    fn slot(&self, j: usize) -> Option<usize> {
        slot_in(self.exprs.as_deref(), j)
    }

    /// The expression search `k` is for.
    fn expr(exprs: Option<&[u32]>, k: usize) -> usize {
        exprs.map_or(k, |e| e.get(k).map_or(usize::MAX, |&j| j as usize))
    }

    /// Drops the searches that are over and found nothing (their count is 0): once the gates are decided,
    /// those of the expressions they shut.
    fn compact(&mut self) {
        if self.exprs.is_some() {
            return;
        }
        let keep = |s: &Search| {
            !s.done || s.counted > 0 || s.starts.as_ref().is_some_and(|v| !v.is_empty())
        };
        let mut exprs = Vec::new();
        let mut searches = Vec::new();
        let mut live = Vec::new();
        for (k, (search, blocks)) in std::mem::take(&mut self.searches)
            .into_iter()
            .zip(std::mem::take(&mut self.live))
            .enumerate()
        {
            if keep(&search) {
                exprs.push(u32::try_from(k).unwrap_or(u32::MAX));
                searches.push(search);
                live.push(blocks);
            }
        }
        self.searches = searches;
        self.live = live;
        self.exprs = Some(exprs);
    }

    /// Ends the search for every expression whose trigger the object's first bytes shut. `hay` holds the
    /// object from `base` on; the gates are decided from its start, or not at all.
    fn close_gates(&mut self, logical: &[LogicalSig], hay: &[u8], base: usize, complete: bool) {
        if !self.gates_open {
            return;
        }
        if base > 0 {
            // The first bytes are gone (never so in a session, which searches before it lets go).
            self.gates_open = false;
            return;
        }
        let mut scratch = Scratch::default();
        let mut open = false;
        let exprs = self.exprs.as_deref();
        for (k, search) in self.searches.iter_mut().enumerate() {
            let i = Self::expr(exprs, k);
            let Some(Some(gate)) = self.plan.gates.get(i) else {
                continue;
            };
            let (sig, sub) = self.plan.subs[i];
            let Some(p) = pcre_of(logical, sig, sub) else {
                continue;
            };
            if search.done {
                continue;
            }
            match gate.shut(&p.trigger, hay, complete, &mut scratch) {
                Some(true) => search.done = true,
                Some(false) => {}
                None => open = true,
            }
        }
        self.gates_open = open;
        if !open {
            self.compact();
        }
    }

    /// Runs every search over `hay`, the object's bytes from `base` on.
    pub(crate) fn run(&mut self, logical: &[LogicalSig], hay: &[u8], base: usize, complete: bool) {
        self.close_gates(logical, hay, base, complete);
        let found = self.look_for_literals(logical, hay, base, complete);
        self.look_for_ends(hay, base, complete);
        let ends_failed = |n: usize, ends: &[Option<EndWalk>]| {
            ends.get(n)
                .is_none_or(|w| w.as_ref().is_none_or(|w| w.failed))
        };
        let literals_failed = self.atoms.overflowed;
        // An expression looked for by literals is searched only as far as they were looked for.
        let literal_hay = hay.get(..found - base).unwrap_or(hay);
        let plan = &self.plan;
        let held_end = base + hay.len();
        let exprs = self.exprs.as_deref();
        for (k, search) in self.searches.iter_mut().enumerate() {
            if search.done {
                continue;
            }
            let i = Self::expr(exprs, k);
            let (sig, sub) = plan.subs[i];
            let Some(p) = pcre_of(logical, sig, sub) else {
                continue;
            };
            // A signature for objects no longer than this one already is decides nothing: not searched on.
            let too_long = logical
                .get(sig as usize)
                .and_then(|l| l.file_size)
                .is_some_and(|(_, most)| held_end as u64 > most);
            if too_long {
                search.done = true;
                continue;
            }
            let (hay, live) = match plan.lookups(self.tabled)[i] {
                Lookup::Every => (hay, None),
                Lookup::Ends(n) if ends_failed(n, &self.ends) => (hay, None),
                Lookup::Prefix | Lookup::Inner if literals_failed => (hay, None),
                Lookup::Ends(_) => (hay, Some(&mut self.live[k])),
                Lookup::Prefix | Lookup::Inner => (literal_hay, Some(&mut self.live[k])),
            };
            search.run_filtered(p, hay, base, complete, live, plan.enough[i]);
        }
    }

    /// Marks the blocks where the literals found in the new bytes say a match may start. Returns where the
    /// literals were looked for up to: every occurrence that starts before it was found.
    fn look_for_literals(
        &mut self,
        logical: &[LogicalSig],
        hay: &[u8],
        base: usize,
        complete: bool,
    ) -> usize {
        let held_end = base + hay.len();
        self.seen = held_end;
        if self.looking == Looking::Unchosen {
            // The literals of every expression, unless the gates shut every one with literals and a gate.
            let plan = &self.plan;
            let gated = |j: usize| {
                plan.gates[j].is_some() && matches!(plan.lookup[j], Lookup::Prefix | Lookup::Inner)
            };
            let n = plan.subs.len();
            let split = (0..n).any(gated);
            let open = (0..n).any(|j| {
                gated(j)
                    && self
                        .slot(j)
                        .and_then(|k| self.searches.get(k))
                        .is_some_and(|s| !s.done)
            });
            self.looking = match split && !open {
                true => Looking::Ungated,
                false => Looking::All,
            };
            self.tabled = plan
                .literal_table
                .as_ref()
                .is_some_and(|t| t.looking == self.looking);
            if self
                .plan
                .literal_table
                .as_ref()
                .is_some_and(|t| self.tabled && t.merged.is_none())
            {
                self.ends.push(None);
            }
        }
        if self.tabled {
            return held_end;
        }
        let Some(finder) = self.plan.finder(self.looking) else {
            return held_end;
        };
        if self.atoms.overflowed {
            return held_end;
        }
        finder.atoms.advance(&mut self.atoms, hay, base, complete);
        let (searches, live, plan) = (&self.searches, &mut self.live, &self.plan);
        let exprs = self.exprs.as_deref();
        self.atoms.take_hits(&mut |atom, start| {
            let Some((len, owners)) = finder.owners.get(atom as usize) else {
                return;
            };
            for &j in owners {
                let j = j as usize;
                let Some(k) = slot_in(exprs, j) else {
                    continue;
                };
                let (Some(search), Some(&lookup), Some(live)) =
                    (searches.get(k), plan.lookup.get(j), live.get_mut(k))
                else {
                    continue;
                };
                if search.done {
                    continue;
                }
                if lookup == Lookup::Prefix {
                    live.blocks.insert(start / BLOCK);
                } else {
                    // A match that holds the literal starts at or before it, in a block whose window
                    // reaches past it.
                    let (sig, sub) = plan.subs[j];
                    let reach = pcre_of(logical, sig, sub).map_or(MAX_REACH, |p| p.regex.reach);
                    let first = (start + len)
                        .saturating_sub(reach)
                        .div_ceil(BLOCK)
                        .saturating_sub(1);
                    live.blocks.extend(first..=start / BLOCK);
                }
            }
        });
        if complete || self.atoms.overflowed {
            held_end
        } else {
            self.atoms.floor(held_end).max(base)
        }
    }

    /// Walks the new bytes through the DFA of where matches end, marking the blocks each end says a match
    /// may start in.
    fn look_for_ends(&mut self, hay: &[u8], base: usize, complete: bool) {
        for n in 0..self.ends.len() {
            self.look_for_ends_by(n, hay, base, complete);
        }
    }

    /// As [`Self::look_for_ends`], through the plan's DFA `n`.
    fn look_for_ends_by(&mut self, n: usize, hay: &[u8], base: usize, complete: bool) {
        let Some(ends) = self.plan.ends_at(self.tabled, n) else {
            return;
        };
        let over = |j: u32| {
            self.slot(j as usize)
                .and_then(|k| self.searches.get(k))
                .is_none_or(|s| s.done)
        };
        if ends.owners.iter().all(|&(j, _, _)| over(j)) {
            return;
        }
        let Some(walk) = self.ends.get_mut(n) else {
            return;
        };
        let walk = walk.get_or_insert_with(|| EndWalk {
            at_state: match &ends.dfa {
                EndsDfa::Table(table) => WalkState::Table(table.start),
                EndsDfa::Lazy(dfa) => WalkState::Lazy {
                    cache: Box::new(dfa.create_cache()),
                    state: None,
                    stay: None,
                },
            },
            at: 0,
            failed: false,
            marked: vec![None; ends.owners.len()],
        });
        if walk.failed {
            return;
        }
        let (Some(from), held_end) = (walk.at.checked_sub(base), base + hay.len()) else {
            debug_assert!(
                false,
                "the end walk was given bytes from {base}, needs {}",
                walk.at
            );
            walk.failed = true;
            return;
        };
        let Some(new) = hay.get(from..) else {
            return;
        };
        let exprs = self.exprs.as_deref();
        let (searches, live, lookup) = (&self.searches, &mut self.live, &self.plan.lookup);
        let marked = &mut walk.marked;
        // Marks, for a match of DFA pattern `pattern` that ends at `end`, the windows that may find it: those
        // of the blocks from the first whose window reaches `end` to the one its latest start is in.
        let mut mark = |pattern: usize, end: usize| {
            let Some(&(j, shortest, reach)) = ends.owners.get(pattern) else {
                return;
            };
            let Some(k) = slot_in(exprs, j as usize) else {
                return;
            };
            if searches.get(k).is_none_or(|s| s.done) {
                return;
            }
            let first = end.saturating_sub(reach).div_ceil(BLOCK).saturating_sub(1);
            let last = end.saturating_sub(shortest) / BLOCK;
            let (Some(marked), Some(live)) = (marked.get_mut(pattern), live.get_mut(k)) else {
                return;
            };
            // The end of a match, not of a literal (the literals' table walked with the plan's).
            if matches!(lookup.get(j as usize), Some(Lookup::Ends(_))) {
                live.note_end(first, end);
            }
            let first = marked.map_or(first, |m| first.max(m + 1));
            if first <= last {
                live.blocks.extend(first..=last);
                *marked = Some(last);
            }
        };
        let start = regex_automata::util::start::Config::new().anchored(Anchored::No);
        let at = base + from;
        let walked = match (&ends.dfa, &mut walk.at_state) {
            (EndsDfa::Table(table), WalkState::Table(state)) => {
                walk_table(table, state, new, at, complete, &mut mark)
            }
            (EndsDfa::Lazy(dfa), WalkState::Lazy { cache, state, stay }) => walk_lazy(
                dfa, cache, state, stay, &start, new, at, complete, &mut mark,
            ),
            _ => None,
        };
        if walked.is_none() {
            walk.failed = true;
            return;
        }
        walk.at = held_end;
    }

    /// Where the bytes still read start; `usize::MAX` when none are.
    pub(crate) fn needed_from(&self) -> usize {
        let searches = self
            .searches
            .iter()
            .map(Search::needed_from)
            .min()
            .unwrap_or(usize::MAX);
        if searches == usize::MAX || self.finder().is_none() || self.atoms.overflowed {
            return searches;
        }
        searches.min(self.atoms.floor(self.seen))
    }

    /// The count of subsignature `sub` of signature `sig` in the object of `len` bytes, if it was run.
    ///
    /// A stream given its object's last bytes need not search them: a search is worth finishing only when
    /// its signature's trigger holds, which is known once every subsignature has been counted, and seldom
    /// does. So a search left unfinished is finished here, on a copy, over `held`: where the bytes the
    /// object's stream still holds start in it, and those bytes (at least from [`Self::needed_from`] on).
    /// It searches each of their windows, whatever the literals and ends found in them: it finds what the
    /// stream would have.
    pub(crate) fn count(
        &self,
        logical: &[LogicalSig],
        sig: u32,
        sub: u8,
        len: usize,
        held: Option<(usize, &[u8])>,
    ) -> Option<u32> {
        let i = self.plan.subs.iter().position(|&k| k == (sig, sub))?;
        let p = pcre_of(logical, sig, sub)?;
        // A search dropped was over and had found nothing.
        let Some(search) = self.slot(i).and_then(|k| self.searches.get(k)) else {
            return Some(0);
        };
        Some(match held {
            Some((base, hay)) if !search.done => {
                let mut search = search.clone();
                let enough = self.plan.enough.get(i).copied().unwrap_or(MAX_MATCHES);
                search.run_filtered(p, hay, base, true, None, enough);
                search.count(p, len)
            }
            _ => search.count(p, len),
        })
    }

    pub(crate) fn memory_usage(&self) -> usize {
        self.exprs.as_ref().map_or(0, |e| e.capacity() * 4)
            + self.searches.capacity() * std::mem::size_of::<Search>()
            + self
                .searches
                .iter()
                .map(Search::memory_usage)
                .sum::<usize>()
            + self.live.iter().map(Live::memory_usage).sum::<usize>()
            + self.atoms.memory_usage()
            + self
                .ends
                .iter()
                .flatten()
                .map(|w| w.at_state.memory_usage() + w.marked.len() * 16)
                .sum::<usize>()
    }
}

/// Walks `new`, the bytes from `at` on, through a whole DFA's table from state `state`, calling `mark` with
/// each pattern and end of a match; at the end of the object when `complete`. `None` if the walk cannot go
/// on (never, for a table built whole).
fn walk_table(
    table: &EndTable,
    state: &mut u32,
    new: &[u8],
    at: usize,
    complete: bool,
    mark: &mut dyn FnMut(usize, usize),
) -> Option<()> {
    // The table's size, known to the walk: a lookup's masked index needs no check.
    macro_rules! by_rows {
        ($($rows:literal)*) => {
            match table.next.len() / 256 {
                $($rows => walk_rows::<{ $rows * 256 }>(
                    table,
                    table.next[..].try_into().ok()?,
                    state,
                    new,
                    at,
                    complete,
                    mark,
                ),)*
                _ => None,
            }
        };
    }
    const _: () = assert!(MIN_ROWS == 1 && MAX_ROWS == 2048);
    by_rows!(1 2 4 8 16 32 64 128 256 512 1024 2048)
}

/// As [`walk_table`], through `next`, the table's `N` transitions.
fn walk_rows<const N: usize>(
    table: &EndTable,
    next: &[u32; N],
    state: &mut u32,
    new: &[u8],
    at: usize,
    complete: bool,
    mark: &mut dyn FnMut(usize, usize),
) -> Option<()> {
    const STRETCH: usize = 16;
    // `N` is a power of two; masking the index drops the state's match flag too.
    let step = |now: u32, byte: u8| next[(now as usize + usize::from(byte)) & (N - 1)];
    let mut marks = |state: u32, end: usize, at_end: bool| -> Option<()> {
        let [inside, after] = table.matches_of(state)?;
        for &pattern in if at_end { after } else { inside }.iter() {
            mark(pattern as usize, end);
        }
        Some(())
    };
    let mut now = *state;
    // Matches are rare: a stretch is walked ORing the states it passes through, and walked again, marking,
    // only if one was a match. A DFA's match is seen one byte late: the state after the byte at `p` says a
    // match ended at `p`.
    let mut walk = |stretch: &[u8], from: usize, now: &mut u32| -> Option<()> {
        let before = *now;
        let mut seen = 0;
        for &byte in stretch {
            *now = step(*now, byte);
            seen |= *now;
        }
        if seen & MATCH_FLAG != 0 {
            *now = before;
            for (i, &byte) in stretch.iter().enumerate() {
                *now = step(*now, byte);
                if *now & MATCH_FLAG != 0 {
                    marks(*now, from + i, false)?;
                }
            }
        }
        Some(())
    };
    let stretches = new.chunks_exact(STRETCH);
    let rest = stretches.remainder();
    for (c, stretch) in stretches.enumerate() {
        let stretch: &[u8; STRETCH] = stretch.try_into().ok()?;
        walk(stretch, at + c * STRETCH, &mut now)?;
    }
    walk(rest, at + new.len() - rest.len(), &mut now)?;
    if complete {
        marks(now, at + new.len(), true)?;
    }
    *state = now;
    Some(())
}

/// As [`walk_table`], through a lazy DFA whose states the walk adds to `cache` as it needs them, passing
/// over the bytes it has learnt leave a state where it is ([`Stay`]).
#[allow(clippy::too_many_arguments)]
fn walk_lazy(
    dfa: &regex_automata::hybrid::dfa::DFA,
    cache: &mut regex_automata::hybrid::dfa::Cache,
    state: &mut Option<regex_automata::hybrid::LazyStateID>,
    stay: &mut Option<Box<Stay>>,
    start: &regex_automata::util::start::Config,
    new: &[u8],
    at: usize,
    complete: bool,
    mark: &mut dyn FnMut(usize, usize),
) -> Option<()> {
    let mut sid = match *state {
        Some(sid) => sid,
        None => dfa.start_state(cache, start).ok()?,
    };
    let mut i = 0;
    while let Some(&byte) = new.get(i) {
        let next = dfa.next_state(cache, sid, byte).ok()?;
        if next.is_tagged() {
            if next.is_match() {
                for m in 0..dfa.match_len(cache, next) {
                    mark(dfa.match_pattern(cache, next, m).as_usize(), at + i);
                }
            }
        } else if next == sid {
            // The byte left the state where it was: so will it next time, and so will the bytes learnt
            // before, which are passed over.
            let clears = cache.clear_count();
            if let Some(stays) = Stay::learn(stay, sid, byte, clears) {
                while new.get(i + 1).is_some_and(|&b| stays[usize::from(b)]) {
                    i += 1;
                }
            }
        }
        sid = next;
        i += 1;
    }
    if complete {
        let eoi = dfa.next_eoi_state(cache, sid).ok()?;
        if eoi.is_match() {
            for m in 0..dfa.match_len(cache, eoi) {
                mark(dfa.match_pattern(cache, eoi, m).as_usize(), at + new.len());
            }
        }
    }
    *state = Some(sid);
    Some(())
}

/// Where the search of expression `j` is kept: at `j`, or, once the searches are compacted (`exprs`, see
/// [`PcreStream::compact`]), where `exprs` names it, if it does. A slot past the searches finds none.
fn slot_in(exprs: Option<&[u32]>, j: usize) -> Option<usize> {
    match exprs {
        None => Some(j),
        Some(e) => e.binary_search(&u32::try_from(j).ok()?).ok(),
    }
}

fn pcre_of(logical: &[LogicalSig], sig: u32, sub: u8) -> Option<&PcreSub> {
    match logical.get(sig as usize)?.subs.get(usize::from(sub))? {
        SubSig::Pcre(p) => Some(p),
        SubSig::Hex(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn sub(pattern: &str, flags: Flags, offset: Offset, anchored: bool) -> PcreSub {
        PcreSub {
            trigger: crate::signatures::expr::parse("0").unwrap(),
            regex: Pcre::new(pattern, flags).unwrap(),
            offset,
            anchored,
            source: pattern.to_string(),
        }
    }

    fn anywhere(pattern: &str) -> PcreSub {
        sub(pattern, Flags::default(), Offset::Any, false)
    }

    /// Plain iteration's count: what a bounded expression's count must be.
    fn plain(sub: &PcreSub, data: &[u8]) -> u32 {
        let n = sub
            .regex
            .regex
            .find_iter(data)
            .filter(|m| counts(sub, m.start(), data.len()))
            .count();
        (n as u32).min(MAX_MATCHES)
    }

    /// The count of a search given the object in pieces ending at `cuts`, holding from where it needs.
    fn in_pieces(sub: &PcreSub, data: &[u8], cuts: &[usize]) -> u32 {
        let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (data.len() + 1)).collect();
        cuts.sort_unstable();
        let mut search = Search::default();
        let mut from = 0;
        for c in cuts {
            if c < from {
                continue;
            }
            search.run(sub, &data[from..c], from, false);
            from = search.needed_from().min(c).max(from);
        }
        search.run(sub, &data[from..], from, true);
        search.count(sub, data.len())
    }

    /// Text with matches of the test expressions here and there, some across block boundaries.
    fn text(len: usize, seed: u64, plant: &[(usize, &[u8])]) -> Vec<u8> {
        let mut out = crate::testing::XorShift::new(seed).bytes(len, b"abcx 0123\n");
        for &(at, bytes) in plant {
            let at = at.min(len.saturating_sub(bytes.len()));
            out[at..at + bytes.len()].copy_from_slice(bytes);
        }
        out
    }

    #[test]
    fn bounded_expressions_count_as_plain_iteration() {
        let data = text(
            100_000,
            9,
            &[
                (BLOCK - 3, b"abc0123x"),
                (2 * BLOCK - 1, b"cab"),
                (50_000, b"\nab\n"),
            ],
        );
        for pattern in [
            "ab",
            "a[bc]{1,3}x?",
            "c?",
            r"\bab\b",
            "(?m)^ab$",
            "0123|01",
            "x{0,2}",
            r"[0-9]{3}\n",
        ] {
            let s = anywhere(pattern);
            assert_eq!(count_whole(&s, &data), plain(&s, &data), "{pattern}");
        }
    }

    #[test]
    fn an_expression_that_matches_only_at_the_start_is_done_with_its_first_window() {
        let mut data = text(120_000, 5, &[(0, b"ab")]);
        data[20_000] = b'x';
        for pattern in ["^ab", r"\A(?s).{20000}x", "(?s)^.{20000}y", "(?m)^ab"] {
            let s = anywhere(pattern);
            assert_eq!(count_whole(&s, &data), plain(&s, &data), "{pattern}");
            let mut search = Search::default();
            search.run(&s, &data[..100_000], 0, false);
            let done = search.needed_from() == usize::MAX;
            // `(?m)^` matches after any line end: searched throughout.
            assert_eq!(done, !pattern.starts_with("(?m)"), "{pattern}");
        }
    }

    #[test]
    fn offsets_and_the_anchored_flag_decide_which_starts_count() {
        let data = text(40_000, 3, &[(10, b"zz"), (39_990, b"zz"), (39_900, b"zz")]);
        let table = [
            (Offset::Any, false, 3),
            (Offset::Any, true, 0),
            (Offset::Absolute { at: 10, shift: 0 }, false, 1),
            (Offset::Absolute { at: 5, shift: 4 }, true, 0),
            (Offset::FromEnd { back: 10, shift: 0 }, false, 1),
            (
                Offset::FromEnd {
                    back: 100,
                    shift: 5,
                },
                false,
                1,
            ),
            (
                Offset::FromEnd {
                    back: 100,
                    shift: 200,
                },
                false,
                2,
            ),
        ];
        for (offset, anchored, want) in table {
            let s = sub("zz", Flags::default(), offset, anchored);
            assert_eq!(count_whole(&s, &data), want, "{offset:?} {anchored}");
            assert_eq!(in_pieces(&s, &data, &[7_000, 39_950]), want, "{offset:?}");
        }
    }

    #[test]
    fn an_unbounded_match_is_cut_at_its_window() {
        // `a.*b` finds one match of 100,002 bytes by plain iteration; a window holds a match of at most
        // its reach past its block, so this one is not found, and one of 30,000 bytes is.
        let s = sub(
            "a.*b",
            Flags {
                dot_all: true,
                ..Flags::default()
            },
            Offset::Any,
            false,
        );
        assert_eq!(s.regex.reach(), 2 + UNBOUNDED_REACH);
        let mut long = vec![b'x'; 100_002];
        (long[0], long[100_001]) = (b'a', b'b');
        assert_eq!(plain(&s, &long), 1);
        assert_eq!(count_whole(&s, &long), 0);
        long[30_000] = b'b';
        assert_eq!(count_whole(&s, &long), 1);
        // The byte after a window decides an assertion at its end: a search given bytes that end there
        // waits for one more.
        let s = sub(
            r"q.*x\b",
            Flags {
                dot_all: true,
                ..Flags::default()
            },
            Offset::Any,
            false,
        );
        let window_end = BLOCK + s.regex.reach();
        let mut data = vec![b' '; window_end + 10];
        (data[0], data[window_end - 1], data[window_end]) = (b'q', b'x', b'y');
        assert_eq!(count_whole(&s, &data), 0);
        assert_eq!(in_pieces(&s, &data, &[window_end]), 0);
        data[window_end] = b' ';
        assert_eq!(in_pieces(&s, &data, &[window_end]), 1);
        // Counting stops at the most any signature asks.
        assert_eq!(count_whole(&anywhere("x"), &vec![b'x'; 5000]), MAX_MATCHES);
    }

    /// The plan for objects of any type outside a container, for `sigs` as an engine compiles them: their
    /// hex subsignatures in a body matcher.
    fn plan(sigs: &[LogicalSig]) -> PcrePlan {
        plan_merging(sigs, true)
    }

    /// As [`plan`], with the literals' table merged with one of the plan's when `merge` and they fit.
    fn plan_merging(sigs: &[LogicalSig], merge: bool) -> PcrePlan {
        let mut sigs = sigs.to_vec();
        let body = BodyMatcher::new(crate::signatures::ldb::take_hex_subs(&mut sigs));
        PcrePlan::build(&sigs, &body, 0, None, merge)
    }

    /// Logical signatures, parsed from their lines, whose expression `0&1` is made `0&(1>1023)`: most tests
    /// here are of finding every match, and a search for `0&1` is over at its first
    /// ([`LogicalSig::enough`]).
    fn parsed(lines: &[&str]) -> Vec<LogicalSig> {
        let every: Vec<String> = lines
            .iter()
            .map(|l| l.replacen(";0&1;", ";0&(1>1023);", 1))
            .collect();
        as_written(&every.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// Logical signatures, parsed from their lines as written.
    fn as_written(lines: &[&str]) -> Vec<LogicalSig> {
        lines
            .iter()
            .map(|l| {
                crate::signatures::ldb::parse_line(std::path::Path::new("t.ldb"), 1, l)
                    .unwrap()
                    .unwrap()
                    .0
            })
            .collect()
    }

    /// Logical signatures whose expressions are looked for by literals they start with (`abc`, `x00+1`),
    /// end with (`[0-9 ]+cab`), or not at all (`[ac ]{1,4}b`), bounded or not.
    fn logical() -> Vec<LogicalSig> {
        parsed(LOGICAL)
    }

    const LOGICAL: &[&str] = &[
        "P;Target:0;0&1;616161;0/abc[0-9]{0,3}/",
        "Q;Target:0;0&1;616161;0/x00+1/i",
        "S;Target:0;0&1;616161;0/[0-9 ]{2,30}cab/",
        "T;Target:0;0&1;616161;0/(?s)[0-9].*cab/",
        "N;Target:0;0&1;616161;0/[ac ]{1,4}b/",
        "O;Target:7;0&1;616161;0/abc/",
        // No literal to look for: looked for by where their matches end.
        "U;Target:0;0&1;616161;0/1\\s*2\\s*z/i",
        "V;Target:0;0&1;616161;0/(\\d[a-c]){3,}/",
        "W;Target:0;0&1;616161;0/\\bc\\d/",
        "X;Target:0;0&1;616161;0/(?m)\\d$/",
        "Y;Target:0;0&1;616161;0/c?/",
    ];

    #[test]
    fn a_search_is_over_once_it_has_found_what_its_signature_can_learn() {
        // `0&1` learns only whether the expression matches: its search is over at the first match, and
        // reads nothing more. `0&(1>2)` learns up to three matches; `(0|1)>4` up to five.
        let sigs = as_written(&[
            "One;Target:0;0&1;616161;0/abc[0-9]/",
            "Three;Target:0;0&(1>2);616161;0/abc[0-9]/",
            "Five;Target:0;(0|1)>4;616161;0/abc[0-9]/",
        ]);
        let enough: Vec<u32> = sigs.iter().map(|s| s.enough(1)).collect();
        assert_eq!(enough, [1, 3, 5]);
        // A later expression's trigger counts the earlier one's matches too.
        let trigger = as_written(&["T;Target:0;0&1&2;616161;0/abc[0-9]/;1>3/def/"]);
        assert_eq!((trigger[0].enough(1), trigger[0].enough(2)), (4, 1));
        let mut data = vec![b' '; 10 * BLOCK];
        for k in 0..10 {
            data[k * BLOCK + 100..k * BLOCK + 104].copy_from_slice(b"abc7");
        }
        for step in [4096, 50_000] {
            let (open, held) = fed_openly(std::sync::Arc::new(plan(&sigs)), &sigs, &data, step);
            // Each search stopped right after its last match needed: the first, third and fifth block.
            let done: Vec<bool> = open.searches.iter().map(|s| s.done).collect();
            assert_eq!(done, [true, true, true], "step {step}");
            for (sig, want) in [(0, 1), (1, 3), (2, 5)] {
                assert_eq!(open.count(&sigs, sig, 1, data.len(), None), Some(want));
                assert_eq!(
                    open.count(&sigs, sig, 1, data.len(), Some((held, &data[held..]))),
                    Some(want)
                );
            }
            assert_eq!(open.needed_from(), usize::MAX);
        }
    }

    #[test]
    fn a_signature_for_smaller_objects_is_searched_no_further_than_it_could_match() {
        let line = |size: &str| {
            parsed(&[&format!("F;Target:0,FileSize:0-{size};0&1;616161;0/abc/")]).remove(0)
        };
        let mut data = vec![b' '; 60_000];
        data[59_000..59_003].copy_from_slice(b"abc");
        for (size, len, want) in [
            ("60000", 60_000, 1),
            ("59500", 59_500, 1),
            ("40000", 60_000, 0),
        ] {
            let sigs = vec![line(size)];
            let mut stream = PcreStream::new(std::sync::Arc::new(plan(&sigs)));
            let mut from = 0;
            for c in (0..len).step_by(7_000) {
                stream.run(&sigs, &data[from..c], from, false);
                from = stream.needed_from().min(c).max(from);
            }
            stream.run(&sigs, &data[from..len], from, true);
            // Past its size the count is no longer kept (evaluation passes the signature over first).
            assert_eq!(
                stream.count(&sigs, 0, 1, len, None),
                Some(want),
                "{size} {len}"
            );
        }
    }

    #[test]
    fn expressions_are_looked_for_by_their_literals() {
        let sigs = logical();
        let plan = plan(&sigs);
        // The one for another type is not run; the others are looked for by literals, else by where their
        // matches end, but the one that may match empty.
        assert_eq!(plan.subs.len(), 10);
        use Lookup::*;
        assert_eq!(
            plan.lookup,
            [
                Prefix,
                Prefix,
                Inner,
                Inner,
                Ends(0),
                Ends(0),
                Ends(0),
                Ends(0),
                Ends(0),
                Every
            ]
        );
    }

    #[test]
    fn an_expression_whose_trigger_the_first_bytes_shut_is_not_searched_for() {
        let sigs = parsed(&[
            // Triggered by a zip's or a RAR archive's first bytes, as 401 of the official database's are.
            "G;Target:0;2;0:504B;0:526172211a07;0|1/klm+o/",
            // Two letters, in any case, at one of the first four bytes; an expression with no literal.
            "H;Target:0;1;0,3:7a7a::i;0/d[ef]+g/",
            // Shut by its anchored half alone: the other may match anywhere.
            "K;Target:0;2;0:7171;6e6565646c65;0&1/ghi+j/",
            // Never shut: triggered by what may come anywhere, or by nothing at all.
            "U;Target:0;1;6e6565646c65;0/uvw+y/",
            "Z;Target:0;1;0:7171;0=0/uvw+y/",
            // Too far from the start to be decided by the first bytes searched.
            "F;Target:0;1;100000:7171;0/uvw+y/",
        ]);
        let gated: Vec<bool> = plan(&sigs).gates.iter().map(Option::is_some).collect();
        assert_eq!(gated, [true, true, true, false, false, false]);
        // (the object's first bytes, which of G, H and K stay open)
        let table: &[(&[u8], [bool; 3])] = &[
            (b"PK\x03\x04", [true, false, false]),
            (b"Rar!\x1a\x07", [true, false, false]),
            (b"Rar!\x1a\x08", [false, false, false]),
            (b" PK", [false, false, false]),
            (b"qqZz", [false, true, true]),
            (b"xyzZ", [false, true, false]),
            (b"1234zZ", [false, false, false]),
        ];
        let plant: &[(usize, &[u8])] = &[(30_000, b"klmmo deffg ghiij uvwwy"), (90_000, b"needle")];
        for &(start, open) in table {
            let mut data = text(120_000, 7, plant);
            data[..start.len()].copy_from_slice(start);
            for step in [8 << 10, 50_000] {
                let stream = fed(&sigs, &data, step);
                // Each signature's expression is its last subsignature.
                let count = |sig: u32| {
                    let sub = sigs[sig as usize].subs.len() as u8 - 1;
                    stream.count(&sigs, sig, sub, data.len(), None)
                };
                for (sig, open) in open.into_iter().enumerate() {
                    assert_eq!(count(sig as u32), Some(u32::from(open)), "{sig} {start:?}");
                }
                for sig in 3..6 {
                    assert_eq!(count(sig), Some(1));
                }
                // With no gated expression that has literals (G and K) left open, only the others'
                // literals were looked for.
                let looking = match open[0] || open[2] {
                    true => Looking::All,
                    false => Looking::Ungated,
                };
                assert_eq!(stream.looking, looking, "{start:?}");
            }
            // An object no longer than the bytes that decide is decided at its end.
            let short = &data[..start.len()];
            let stream = fed(&sigs, short, 8 << 10);
            assert!(!stream.gates_open);
        }
    }

    /// The count of a stream of the expressions of `sigs` for objects of any type, fed `step` bytes at a
    /// time and let go of as it says, for signature `sig`'s subsignature 1. The stream is not told the last
    /// bytes end the object: its count finishes the search on them, as a session's does; and that count
    /// must be the one a stream told so gives.
    fn streamed(
        plan: PcrePlan,
        sigs: &[LogicalSig],
        data: &[u8],
        step: usize,
        sig: u32,
    ) -> Option<u32> {
        let plan = std::sync::Arc::new(plan);
        let (open, held) = fed_openly(plan.clone(), sigs, data, step);
        let count = open.count(sigs, sig, 1, data.len(), Some((held, &data[held..])));
        let mut told = open;
        told.run(sigs, &data[held..], held, true);
        assert_eq!(count, told.count(sigs, sig, 1, data.len(), None));
        count
    }

    /// The syntax of the expression of each of `sigs` (their second subsignature) kept for looking for it
    /// by where its matches end.
    fn hirs_of(sigs: &[LogicalSig]) -> Vec<&regex_syntax::hir::Hir> {
        sigs.iter()
            .filter_map(|s| match &s.subs[1] {
                SubSig::Pcre(p) => p.regex.hir.as_deref(),
                SubSig::Hex(_) => None,
            })
            .collect()
    }

    /// `plan`, its DFA of where matches end built lazily, giving up after `give_up` clears of its cache.
    fn lazy_ends(sigs: &[LogicalSig], mut plan: PcrePlan, give_up: Option<usize>) -> PcrePlan {
        let [ends] = &plan.ends[..] else {
            panic!("one DFA")
        };
        assert!(matches!(ends.dfa, EndsDfa::Table(_)));
        let owners = ends.owners.clone();
        let hirs: Vec<&regex_syntax::hir::Hir> = owners
            .iter()
            .map(|&(j, _, _)| {
                let (sig, sub) = plan.subs[j as usize];
                pcre_of(sigs, sig, sub)
                    .unwrap()
                    .regex
                    .hir
                    .as_deref()
                    .unwrap()
            })
            .collect();
        plan.ends = Ends::new(&hirs, &owners, 0, give_up);
        assert!(matches!(
            plan.ends[..],
            [Ends {
                dfa: EndsDfa::Lazy(_),
                ..
            }]
        ));
        plan
    }

    /// The plans of `sigs` for objects of any type: with its DFA of where matches end whole, merged with
    /// the literals' table or not, and lazy; and with its literals looked for by the atom filter, not a
    /// table.
    fn every_plan(sigs: &[LogicalSig]) -> [PcrePlan; 4] {
        let mut filtered = plan(sigs);
        filtered.literal_table = None;
        [
            plan(sigs),
            plan_merging(sigs, false),
            lazy_ends(sigs, plan_merging(sigs, false), Some(3)),
            filtered,
        ]
    }

    /// A stream of the expressions of `sigs` for objects of any type, fed `data` `step` bytes at a time and
    /// let go of as it says.
    fn fed(sigs: &[LogicalSig], data: &[u8], step: usize) -> PcreStream {
        fed_by(plan(sigs), sigs, data, step)
    }

    /// Asserts that `stream`, fed `data`, counts every expression of `sigs` as the whole search does.
    fn counts_as_whole(stream: &PcreStream, sigs: &[LogicalSig], data: &[u8]) {
        for (i, sig) in sigs.iter().enumerate() {
            let SubSig::Pcre(p) = &sig.subs[1] else {
                unreachable!()
            };
            assert_eq!(
                stream.count(sigs, i as u32, 1, data.len(), None),
                Some(count_whole(p, data)),
                "{}",
                sig.name
            );
        }
    }

    /// As [`fed`], by `plan`.
    fn fed_by(plan: PcrePlan, sigs: &[LogicalSig], data: &[u8], step: usize) -> PcreStream {
        let (mut stream, from) = fed_openly(std::sync::Arc::new(plan), sigs, data, step);
        stream.run(sigs, &data[from..], from, true);
        stream
    }

    /// A stream fed all of `data` `step` bytes at a time but not told it ended, and where the bytes it
    /// still needs start.
    fn fed_openly(
        plan: std::sync::Arc<PcrePlan>,
        sigs: &[LogicalSig],
        data: &[u8],
        step: usize,
    ) -> (PcreStream, usize) {
        let mut stream = PcreStream::new(plan);
        let mut from = 0;
        for c in (step..data.len()).step_by(step) {
            stream.run(sigs, &data[from..c], from, false);
            from = stream.needed_from().min(c).max(from);
        }
        stream.run(sigs, &data[from..], from, false);
        let from = stream.needed_from().min(data.len()).max(from);
        (stream, from)
    }

    #[test]
    fn where_matches_end_marks_the_windows_that_find_them() {
        let sigs: Vec<LogicalSig> = logical().into_iter().filter(|s| s.target == 0).collect();
        let at = |name: &str| sigs.iter().position(|s| s.name == name).unwrap() as u32;
        let reach = |name: &str| match &sigs[at(name) as usize].subs[1] {
            SubSig::Pcre(p) => p.regex.reach,
            SubSig::Hex(_) => unreachable!(),
        };
        // Spaces, with `plant` written at `at`.
        let data = |len: usize, plants: &[(usize, &[u8])]| {
            let mut d = vec![b' '; len];
            for &(at, plant) in plants {
                d[at..at + plant.len()].copy_from_slice(plant);
            }
            d
        };
        // `1\s*2\s*z` starting in the first block's last byte and ending exactly where its window does, or a
        // byte after (cut there: no match); ending the object; the last byte before the end for `\d$`.
        let u_end = BLOCK + reach("U");
        let cases: Vec<(&str, Vec<u8>, u32)> = vec![
            (
                "U",
                data(u_end + 100, &[(BLOCK - 1, b"1"), (u_end - 2, b"2z")]),
                1,
            ),
            (
                "U",
                data(u_end + 100, &[(BLOCK - 1, b"1"), (u_end - 1, b"2z")]),
                0,
            ),
            ("U", data(3 * BLOCK, &[(3 * BLOCK - 4, b"1 2Z")]), 1),
            ("X", data(2 * BLOCK + 5, &[(2 * BLOCK + 4, b"7")]), 1),
            ("X", data(BLOCK, &[(BLOCK - 2, b"7\n")]), 1),
            ("V", data(BLOCK + 10, &[(BLOCK - 3, b"1a2b3c")]), 1),
            ("W", data(BLOCK + 10, &[(BLOCK - 1, b"c1")]), 1),
            // A match that holds its literal (`cab`) in the block after the one it starts in.
            ("S", data(BLOCK + 10, &[(BLOCK - 2, b"12 cab")]), 1),
            ("P", data(BLOCK + 10, &[(BLOCK - 1, b"abc9")]), 1),
        ];
        for (name, data, want) in cases {
            let SubSig::Pcre(p) = &sigs[at(name) as usize].subs[1] else {
                unreachable!()
            };
            assert_eq!(count_whole(p, &data), want, "{name} whole");
            for step in [1000, 4096, 7777, 1 << 20] {
                for (n, plan) in every_plan(&sigs).into_iter().enumerate() {
                    assert_eq!(
                        streamed(plan, &sigs, &data, step, at(name)),
                        Some(want),
                        "{name} {step} plan {n}"
                    );
                }
            }
        }
    }

    #[test]
    fn a_dfa_that_gives_up_leaves_its_expressions_searched_in_every_block() {
        // `a[a-p]{12}` needs thousands of DFA states over random `a`s and `b`s: its cache is cleared again
        // and again, the walk gives up, and the count is still the whole's. (No literal: the class is too
        // wide to list, the digits too short.)
        let line = "G;Target:0;0&1;7a7a7a;0/[a-p]*a[a-p]{12}\\d\\d/";
        let sigs = parsed(&[line]);
        let mut data = crate::testing::XorShift::new(7).bytes(200_000, b"ab");
        for at in [5_000, 70_000, 150_000] {
            data[at..at + 2].copy_from_slice(b"42");
        }
        let SubSig::Pcre(p) = &sigs[0].subs[1] else {
            unreachable!()
        };
        assert_eq!(plan(&sigs).lookup, [Lookup::Ends(0)]);
        // Too many states to build whole: lazy.
        assert!(matches!(
            plan(&sigs).ends[..],
            [Ends {
                dfa: EndsDfa::Lazy(_),
                ..
            }]
        ));
        let stream = fed(&sigs, &data, 4096);
        assert!(stream.ends[0].as_ref().is_some_and(|w| w.failed));
        assert_eq!(
            stream.count(&sigs, 0, 1, data.len(), None),
            Some(count_whole(p, &data))
        );
        assert!(count_whole(p, &data) > 0);
    }

    #[test]
    fn expressions_whose_dfa_is_too_large_together_are_split_into_tables() {
        // Each DFA is small alone, and the first three's together; the fourth's with `[a-z]{300,}` is not
        // (the official database's expressions for text are much like these). The first three share a
        // table, the fourth has one of its own, and each count is the whole's.
        let lines = [
            "U;Target:0;0&1;616161;0/1\\s*2\\s*z/i",
            "V;Target:0;0&1;616161;0/(\\d[a-c]){3,}/",
            "L;Target:0;0&1;616161;0/[a-z]{300,}/",
            "Q;Target:0;0&1;616161;0/\\([\"'][^\\x3b]+([\"'][a-z]{1,3}[\"'], ){20,}[^\\x3b]+\\x3b/",
        ];
        let sigs = parsed(&lines);
        let plan = plan(&sigs);
        assert!(plan.ends.iter().all(|e| matches!(e.dfa, EndsDfa::Table(_))));
        let lookup = plan.lookup.clone();
        assert_eq!(
            lookup,
            [
                Lookup::Ends(0),
                Lookup::Ends(0),
                Lookup::Ends(0),
                Lookup::Ends(1)
            ]
        );
        let mut rng = crate::testing::XorShift::new(5);
        let mut data = Vec::new();
        while data.len() < 200_000 {
            data.extend(rng.bytes(2_000, b"ab 1"));
            data.extend(b"1 2z 1a2b3c (\"q");
            data.extend(b"\"ab\", ".repeat(21));
            data.extend(b"z; ");
            data.extend(rng.bytes(400, b"xyz"));
        }
        let stream = fed_by(plan, &sigs, &data, 4096);
        // Both walked to the end: no expression was searched in every block.
        assert!(
            stream
                .ends
                .iter()
                .all(|w| w.as_ref().is_some_and(|w| !w.failed && w.at == data.len()))
        );
        for (sig, s) in sigs.iter().enumerate() {
            let SubSig::Pcre(p) = &s.subs[1] else {
                unreachable!()
            };
            let whole = count_whole(p, &data);
            assert!(whole > 0, "{}", s.name);
            assert_eq!(
                stream.count(&sigs, sig as u32, 1, data.len(), None),
                Some(whole),
                "{}",
                s.name
            );
        }
    }

    #[test]
    fn expressions_split_into_tables_make_a_few_and_the_rest_is_lazy() {
        // Each expression's DFA fits the limit alone, and no two together: three tables, then the others
        // in one lazy DFA; and with a limit that none fits, one lazy DFA.
        let lines = [
            "A;Target:0;0&1;616161;0/1\\s*2\\s*z/",
            "B;Target:0;0&1;616161;0/3\\s*4\\s*y/",
            "C;Target:0;0&1;616161;0/5\\s*6\\s*x/",
            "D;Target:0;0&1;616161;0/7\\s*8\\s*w/",
            "E;Target:0;0&1;616161;0/9\\s*0\\s*v/",
        ];
        let sigs = parsed(&lines);
        let hirs = hirs_of(&sigs);
        let owners: Vec<(u32, usize, usize)> = (0..5).map(|j| (j, 3, 100)).collect();
        // What the first one's table takes: its states, to a power of two, 1 KiB each.
        let alone = Ends::new(&hirs[..1], &owners[..1], TABLE_ENDS, None);
        let limit = match &alone[0].dfa {
            EndsDfa::Table(t) => t.next.len() * 4,
            EndsDfa::Lazy(_) => unreachable!(),
        };
        let split = Ends::new(&hirs, &owners, limit, None);
        let shape: Vec<(bool, Vec<u32>)> = split
            .iter()
            .map(|e| {
                (
                    matches!(e.dfa, EndsDfa::Table(_)),
                    e.owners.iter().map(|o| o.0).collect(),
                )
            })
            .collect();
        assert_eq!(
            shape,
            [
                (true, vec![0]),
                (true, vec![1]),
                (true, vec![2]),
                (false, vec![3, 4])
            ]
        );
        let none = Ends::new(&hirs, &owners, 1024, None);
        assert!(matches!(
            &none[..],
            [Ends { dfa: EndsDfa::Lazy(_), owners }] if owners.len() == 5
        ));
    }

    #[test]
    fn the_literals_table_and_the_plans_walk_as_one_when_they_fit() {
        // The test signatures' expressions for any type: one table of where matches end, and literals.
        let sigs: Vec<LogicalSig> = logical().into_iter().filter(|s| s.target == 0).collect();
        let apart = plan_merging(&sigs, false);
        let (Some(literals), [own]) = (&apart.literal_table, &apart.ends[..]) else {
            panic!("a table of literals and one of the plan's")
        };
        assert_eq!(literals.merged, None);
        let states = |e: &Ends| e.whole().map_or(0, EndTable::states);
        let merged = plan(&sigs);
        let both = merged.literal_table.as_ref().unwrap();
        assert_eq!(both.merged, Some(0));
        assert_eq!(
            both.ends.owners.len(),
            own.owners.len() + literals.ends.owners.len()
        );
        assert!(states(&both.ends) > states(own).max(states(&literals.ends)));
        // A stream walks one table, not two, and finds what the whole search does (as the other tests
        // check on more data, for every plan).
        let data = b"  abc12  then 1 2Z and x001 ".repeat(2000);
        let stream = fed_by(merged, &sigs, &data, 4096);
        assert!(stream.tabled);
        assert_eq!(stream.ends.len(), 1);
        counts_as_whole(&stream, &sigs, &data);
        // Too large together: apart.
        assert!(own.product(&literals.ends, states(own) * 1024).is_none());
        assert!(own.product(&literals.ends, TABLE_MERGED).is_some());
    }

    #[test]
    fn literals_too_many_for_a_table_are_looked_for_by_the_atom_filter() {
        // 48 expressions with a literal of 24 bytes each: more bytes than a table's states.
        let lines: Vec<String> = (0..48)
            .map(|i| format!("L{i};Target:0;0&1;616161;0/literal number {i:02} here[0-9]+/"))
            .collect();
        let lines: Vec<&str> = lines.iter().map(String::as_str).collect();
        let sigs = parsed(&lines);
        assert!(plan(&sigs).literal_table.is_none());
        let few = parsed(&lines[..8]);
        assert!(plan(&few).literal_table.is_some());
        let mut data = vec![b' '; 3 * BLOCK];
        for (k, at) in [(7, BLOCK - 10), (30, 2 * BLOCK + 5)] {
            let plant = format!("literal number {k:02} here42");
            data[at..at + plant.len()].copy_from_slice(plant.as_bytes());
        }
        let stream = fed(&sigs, &data, 4096);
        assert!(!stream.tabled);
        counts_as_whole(&stream, &sigs, &data);
    }

    #[test]
    fn what_is_learnt_of_a_state_holds_until_the_cache_is_cleared() {
        use regex_automata::hybrid::dfa::DFA;
        let dfa = DFA::new(r"1\s*2").unwrap();
        let mut cache = dfa.create_cache();
        let config = regex_automata::util::start::Config::new().anchored(Anchored::No);
        let start = dfa.start_state(&mut cache, &config).unwrap();
        let one = dfa.next_state(&mut cache, start, b'1').unwrap();
        let mut slot = None;
        let known = |s: Option<&[bool; 256]>| {
            s.map(|b| {
                (0..=255u8)
                    .filter(|&x| b[usize::from(x)])
                    .collect::<Vec<u8>>()
            })
        };
        assert_eq!(
            known(Stay::learn(&mut slot, start, b'x', 0)),
            Some(vec![b'x'])
        );
        assert_eq!(
            known(Stay::learn(&mut slot, start, b'y', 0)),
            Some(vec![b'x', b'y'])
        );
        // Another state is not learnt of while the first holds.
        assert_eq!(known(Stay::learn(&mut slot, one, b' ', 0)), None);
        // Once the cache is cleared, a number may stand for another state: what was learnt goes.
        assert_eq!(
            known(Stay::learn(&mut slot, one, b' ', 1)),
            Some(vec![b' '])
        );
        assert_eq!(known(Stay::learn(&mut slot, start, b'x', 1)), None);
        assert_eq!(
            known(Stay::learn(&mut slot, start, b'z', 2)),
            Some(vec![b'z'])
        );
    }

    #[test]
    fn what_a_walk_learns_of_its_states_is_forgotten_when_its_cache_is_cleared() {
        // The walk passes over the bytes it learnt leave a state where it is; a lazy DFA renumbers its
        // states when it clears its cache, and what was learnt of a number then speaks of another state.
        // Here the cache is cleared again and again (by `a[a-p]{12}` over runs of `a`s and `b`s, and a DFA
        // that never gives up), between stretches where `1\s*2\s*z` waits in one state, and every count is
        // still the whole's.
        let lines = [
            "G;Target:0;0&1;7a7a7a;0/[a-p]*a[a-p]{12}\\d\\d/",
            "U;Target:0;0&1;616161;0/1\\s*2\\s*z/i",
        ];
        let sigs = parsed(&lines);
        let mut plan = plan(&sigs);
        // `1\s*2\s*z` has a table; `a[a-p]{12}` is too large for one.
        assert_eq!(plan.lookup, [Lookup::Ends(1), Lookup::Ends(0)]);
        let hirs = hirs_of(&sigs);
        let mut owners: Vec<_> = plan.ends.iter().flat_map(|e| e.owners.clone()).collect();
        owners.sort_unstable();
        plan.ends = Ends::new(&hirs, &owners, 0, None);
        plan.lookup = vec![Lookup::Ends(0); 2];
        let plan = std::sync::Arc::new(plan);
        let mut rng = crate::testing::XorShift::new(11);
        let mut data = Vec::new();
        while data.len() < 400_000 {
            data.extend(rng.bytes(3_000, b"ab"));
            data.extend(b"42");
            data.extend(rng.bytes(9_000, b"xy 3\n"));
            data.extend(b"1 \n2Z");
        }
        for step in [4096, 10_000] {
            let mut stream = PcreStream::new(std::sync::Arc::clone(&plan));
            let mut from = 0;
            for c in (step..data.len()).step_by(step) {
                stream.run(&sigs, &data[from..c], from, false);
                from = stream.needed_from().min(c).max(from);
            }
            stream.run(&sigs, &data[from..], from, true);
            let walk = stream.ends[0].as_ref().unwrap();
            let WalkState::Lazy { cache, .. } = &walk.at_state else {
                panic!("the DFA is lazy")
            };
            assert!(
                !walk.failed && cache.clear_count() > 10,
                "{}",
                cache.clear_count()
            );
            for (sig, s) in sigs.iter().enumerate() {
                let SubSig::Pcre(p) = &s.subs[1] else {
                    unreachable!()
                };
                let whole = count_whole(p, &data);
                assert!(whole > 0);
                assert_eq!(
                    stream.count(&sigs, sig as u32, 1, data.len(), None),
                    Some(whole),
                    "{}",
                    s.name
                );
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        #[test]
        fn literals_pass_over_no_match(
            seed in any::<u64>(),
            len in 0usize..150_000,
            cuts in proptest::collection::vec(any::<usize>(), 0..12),
        ) {
            // A stream of every expression for the type, its bytes let go of as it says, counts as the whole.
            // Counting every match, and as written: `0&1` needs only the first.
            for sigs in [logical(), as_written(LOGICAL)] {
                // Sparse: literals only where planted, at and around block ends.
                let mut rng = crate::testing::XorShift::new(seed);
                let mut next = || rng.next_u64();
                let mut data: Vec<u8> = (0..len).map(|_| b"zz \n"[(next() % 4) as usize]).collect();
                let plants: [&[u8]; 10] = [
                    b"abc12", b"x001", b"X0001", b"12 cab", b"9 zzz cab", b"a b", b"1 \n 2Z", b"1a2b3c4a", b" c9\n",
                    b"1c2c3",
                ];
                for _ in 0..len / 2000 {
                    let r = next() as usize;
                    let block_end = (r % 10 + 1) * BLOCK;
                    let at = if r.is_multiple_of(3) { r % len.max(1) } else { (block_end + r % 24).saturating_sub(12) };
                    let plant = plants[(r >> 8) % plants.len()];
                    if at + plant.len() <= len {
                        data[at..at + plant.len()].copy_from_slice(plant);
                    }
                }
                let mut cuts: Vec<usize> = cuts.iter().map(|c| c % (len + 1)).collect();
                cuts.sort_unstable();
                for (n, plan) in every_plan(&sigs).into_iter().enumerate() {
                    let mut stream = PcreStream::new(std::sync::Arc::new(plan));
                    let mut from = 0;
                    for &c in &cuts {
                        if c < from {
                            continue;
                        }
                        stream.run(&sigs, &data[from..c], from, false);
                        from = stream.needed_from().min(c).max(from);
                    }
                    // Not told the object ended, the count finishes the searches on the bytes still needed; told,
                    // the stream finishes them itself.
                    stream.run(&sigs, &data[from..], from, false);
                    let held = stream.needed_from().min(len).max(from);
                    let lazily: Vec<Option<u32>> = (0..sigs.len())
                        .map(|i| stream.count(&sigs, i as u32, 1, len, Some((held, &data[held..]))))
                        .collect();
                    stream.run(&sigs, &data[held..], held, true);
                    for (i, sig) in sigs.iter().enumerate().filter(|(_, s)| s.target == 0) {
                        let SubSig::Pcre(p) = &sig.subs[1] else { unreachable!() };
                        let whole = Some(count_whole(p, &data).min(sig.enough(1)));
                        prop_assert_eq!(stream.count(&sigs, i as u32, 1, len, None), whole, "{} plan {}", sig.name, n);
                        prop_assert_eq!(lazily[i], whole, "{} plan {}, finished by the count", sig.name, n);
                    }
                }
            }
        }

        #[test]
        fn any_pieces_count_as_the_whole(
            seed in any::<u64>(),
            len in 0usize..120_000,
            cuts in proptest::collection::vec(any::<usize>(), 0..12),
            which in 0usize..8,
        ) {
            let data = text(len, seed, &[(len / 2, b"a0123b"), (BLOCK - 2, b"ab 1 b")]);
            let patterns = [
                "ab",
                "a[0-9 ]{1,5}b",
                r"\bx",
                "(?s)a.*?b",
                "(?s)1.*3",
                "c?",
                "(?m)^a|x$",
                "[a-c]{3,}",
            ];
            let dot_all = Flags { dot_all: true, ..Flags::default() };
            let s = sub(patterns[which], dot_all, Offset::Any, false);
            prop_assert_eq!(in_pieces(&s, &data, &cuts), count_whole(&s, &data));
            let far = sub(patterns[which], dot_all, Offset::FromEnd { back: 30_000, shift: 20_000 }, false);
            prop_assert_eq!(in_pieces(&far, &data, &cuts), count_whole(&far, &data));
        }
    }
}
