//! The MIME walker: one entity (a message or a part, headers and body) in, its children out, under every
//! plausible reading.
//!
//! Ambiguous structure must not hide a payload, so the walker does not pick one reading where mail clients
//! disagree: every `boundary=` parameter of every `Content-Type` (and of `Content-Disposition`, where some
//! mailers misplace it) is tried, with and without a trailing `;`, with RFC 2046's strict delimiter lines and
//! with the prefix match some clients use; every reading that finds delimiters yields parts, and parts
//! already produced by an earlier reading are not repeated. A leaf body is decoded as declared and also as
//! whatever it plausibly is (base64 without a declaration, uuencode inside text, quoted-printable).

use std::ops::Range;

use super::header::{Structured, decode_words, parse_block, parse_structured};
use crate::decode::{base64, qp, uu};
use crate::view::View;

/// Most boundary candidates tried for one entity.
const MAX_CANDIDATES: usize = 8;

/// What a child is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ChildKind {
    /// A MIME part, headers and body: walked, not scanned itself.
    Part,
    /// A nested message (`message/rfc822`): scanned as mail, then walked.
    Message,
    /// Decoded content: scanned, typed, unpacked.
    Payload,
}

/// A child's bytes: a range of the entity, or decoded bytes.
#[derive(Debug)]
pub(crate) enum ChildData {
    Range(Range<usize>),
    Owned(Vec<u8>),
}

/// One child of an entity.
#[derive(Debug)]
pub(crate) struct Child {
    pub(crate) kind: ChildKind,
    /// The location segment it adds (`part[2]`, `message`, `preamble`); `None` for the entity's own payload.
    pub(crate) segment: Option<String>,
    /// For a second reading of the same payload: what it is (`as base64`, `uuencoded "a.exe"`).
    pub(crate) suffix: Option<String>,
    pub(crate) data: ChildData,
}

/// The result of walking one entity.
#[derive(Debug, Default)]
pub(crate) struct Walked {
    pub(crate) children: Vec<Child>,
    pub(crate) damage: Vec<String>,
    /// The entity's file name (Content-Disposition `filename`, else Content-Type `name`).
    pub(crate) filename: Option<String>,
    /// Whether a Content-Type declares HTML: a hint for type detection of the payload.
    pub(crate) declares_html: bool,
    /// A reading had more parts than allowed: the rest of the entity was not split into parts.
    pub(crate) parts_capped: bool,
}

/// One delimiter line: where it starts, where the next line starts, whether it closes, and where the part
/// before it ends (the line break before a delimiter belongs to the delimiter).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Delimiter {
    start: usize,
    end: usize,
    close: bool,
    before: usize,
}

impl Delimiter {
    fn shifted(self, by: usize) -> Delimiter {
        Delimiter {
            start: self.start + by,
            end: self.end + by,
            close: self.close,
            before: self.before + by,
        }
    }
}

/// For a line in flight that starts at `line_start` in the message (`data` holds it from `base` on): if it
/// is longer than a stretch ([`base64::LONG_LINE`]) and is no delimiter line of a multipart whose boundary
/// is one of `boundaries`, whatever follows (it does not start with `--` and one of them; `looked`: that
/// was seen already, and its start may be let go of), where its whole stretches end. Its bytes up to there
/// are then known to be the part's before the line ends.
pub(crate) fn long_line_stretches(
    data: &[u8],
    base: usize,
    line_start: usize,
    looked: bool,
    boundaries: &[&str],
) -> Option<usize> {
    let held = base + data.len();
    let stretches = held.checked_sub(line_start)? / base64::LONG_LINE * base64::LONG_LINE;
    if stretches == 0 {
        return None;
    }
    let delimiter = || {
        line_start
            .checked_sub(base)
            .and_then(|at| data.get(at..))
            .is_none_or(|line| may_delimit(line, boundaries))
    };
    (looked || !delimiter()).then_some(line_start + stretches)
}

/// Whether a line that starts with `first` (as much of it as has arrived) is, or may yet turn out to be, a
/// delimiter line of a multipart whose boundary is one of `boundaries`: it starts with `--` and the
/// boundary, or is a start of those. What follows the boundary on the line only decides whether it closes,
/// and whether it is a delimiter strictly or by its prefix.
pub(crate) fn may_delimit(first: &[u8], boundaries: &[&str]) -> bool {
    boundaries.iter().any(|b| {
        let starts = |text: &[u8], with: &[u8]| {
            let n = text.len().min(with.len());
            text[..n] == with[..n]
        };
        starts(first, b"--") && starts(first.get(2..).unwrap_or(&[]), b.as_bytes())
    })
}

/// The delimiters of both modes from one search of `body` from `from` (a line start, or a place in a line
/// that no delimiter starts: see [`Parts`]): strict ones are the prefix ones whose line has nothing after
/// the boundary but blanks. Positions are `body`'s.
fn find_delimiters_both(
    body: &[u8],
    from: usize,
    boundary: &str,
    most: usize,
) -> (Vec<Delimiter>, Vec<Delimiter>) {
    let needle = format!("--{boundary}");
    let mut strict = Vec::new();
    let mut out = Vec::new();
    let Some(searched) = body.get(from..) else {
        return (strict, out);
    };
    for p in memchr::memmem::find_iter(searched, needle.as_bytes()).map(|p| p + from) {
        // Each list holds at most `most`: a flood of parts costs no more than that.
        if strict.len() >= most && out.len() >= most {
            break;
        }
        if p > 0 && body[p - 1] != b'\n' {
            continue;
        }
        let line_end = memchr::memchr(b'\n', &body[p..]).map_or(body.len(), |e| p + e + 1);
        let rest = &body[p + needle.len()..line_end];
        let close = rest.starts_with(b"--");
        let after = if close { &rest[2..] } else { rest };
        let blank = after.iter().all(|b| b.is_ascii_whitespace());
        let d = Delimiter {
            start: p,
            end: line_end,
            close,
            before: part_end(body, p),
        };
        if blank && strict.len() < most {
            strict.push(d);
        }
        if out.len() < most {
            out.push(d);
        }
    }
    (strict, out)
}

/// Where a part before a delimiter ends: the line break before the delimiter belongs to the delimiter.
fn part_end(body: &[u8], delimiter_start: usize) -> usize {
    let mut e = delimiter_start;
    if e > 0 && body[e - 1] == b'\n' {
        e -= 1;
        if e > 0 && body[e - 1] == b'\r' {
            e -= 1;
        }
    }
    e
}

fn boundary_candidates(cts: &[Structured], cds: &[Structured], body: &[u8]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let add = |out: &mut Vec<String>, b: &str| {
        for v in [
            b,
            b.trim(),
            b.trim_end_matches(';'),
            b.trim().trim_matches('"'),
        ] {
            if !v.is_empty() && v.len() <= 200 && !out.iter().any(|o| o == v) {
                out.push(v.to_string());
            }
        }
    };
    for s in cts.iter().chain(cds) {
        for b in s.all("boundary") {
            add(&mut out, b);
        }
    }
    if out.is_empty() && cts.iter().any(|c| c.value.starts_with("multipart/")) {
        // Declared multipart without a boundary: take the first line that looks like a delimiter and recurs.
        for line in body.split(|&b| b == b'\n').take(1000) {
            let line = line.strip_suffix(b"\r").unwrap_or(line);
            if let Some(rest) = line.strip_prefix(b"--")
                && rest.len() >= 4
                && !rest.iter().all(|&b| b == b'-')
            {
                let text =
                    String::from_utf8_lossy(rest.strip_suffix(b"--").unwrap_or(rest)).into_owned();
                add(&mut out, &text);
                break;
            }
        }
    }
    out.truncate(MAX_CANDIDATES);
    out
}

/// The values of the header fields named `name` (lower case).
fn values<'f>(
    fields: &'f [super::header::Field],
    name: &'f str,
) -> impl Iterator<Item = &'f str> + 'f {
    fields
        .iter()
        .filter(move |f| f.name == name)
        .map(|f| f.value.as_str())
}

fn is_blank(bytes: &[u8]) -> bool {
    bytes.iter().all(|b| b.is_ascii_whitespace())
}

/// Whether a damage note says the structure is ambiguous (read differently by different clients), as
/// opposed to merely damaged.
pub(crate) fn is_ambiguity(damage: &str) -> bool {
    damage.contains("disagree") || damage.contains("boundary parameter")
}

/// The parts of a multipart message found while it is still arriving, bytes only ever appended: what
/// [`walk`]'s first reading (the first boundary candidate, strict delimiters) names `part[k]`, found by
/// searching only the new bytes each time. A session scans these parts early, and the final walk of the
/// message must meet them first and in order (the scan checks it; see `scan.rs`'s `Prescan`).
#[derive(Debug, Default)]
pub(crate) struct Parts {
    /// `None` until the header block is complete; then the body's start and the first boundary, if any.
    head: Option<Option<(usize, String)>>,
    /// How far the search for the end of the header block has gone.
    header_searched: usize,
    delimiters: Vec<Delimiter>,
    /// The delimiters in the prefix mode (anything after the boundary on the line), for the final walk.
    prefix_delimiters: Vec<Delimiter>,
    /// Where the search resumes in the body: the start of its last line, which may be incomplete, or a
    /// place in that line once it is known that no delimiter starts it (see [`long_line_stretches`]).
    resume: usize,
    /// Where the body's last line starts.
    line_at: usize,
    /// How much of the body has been looked at for line ends.
    scanned: usize,
    /// Delimiters already paired into parts, and the parts counted so far.
    paired: usize,
    k: usize,
    /// The header block gives one boundary candidate only.
    single: bool,
    /// A line is a delimiter by prefix and not strictly: the two readings differ.
    diverged: bool,
    /// Delimiters kept per list (one more than the parts allowed), and whether a list had more.
    cap: usize,
    capped: bool,
}

/// How many delimiters a reading keeps when `max_parts` parts are allowed.
fn delimiter_cap(max_parts: u64) -> usize {
    usize::try_from(max_parts)
        .unwrap_or(usize::MAX)
        .saturating_add(1)
}

/// Keeps at most `cap` delimiters; says whether there were more.
fn capped(mut list: Vec<Delimiter>, cap: usize) -> (Vec<Delimiter>, bool) {
    let more = list.len() > cap;
    list.truncate(cap);
    (list, more)
}

impl Parts {
    /// Looks at the message so far, of which `data` holds the bytes from `base` on (a session lets go of
    /// the parts it has scanned; the header block is read while `base` is 0); returns the parts completed
    /// since the last call, as (segment, range in the message).
    pub(crate) fn advance(
        &mut self,
        data: &[u8],
        base: usize,
        max_parts: u64,
    ) -> Vec<(String, std::ops::Range<usize>)> {
        self.cap = delimiter_cap(max_parts);
        if self.head.is_none() {
            if base > 0 {
                return Vec::new();
            }
            let message = data;
            // Only once the header block has ended: what it says cannot change after that. The search
            // resumes where it stopped, so a header block that never ends costs one pass, not one per chunk.
            let from = self.header_searched.saturating_sub(2);
            self.header_searched = message.len();
            if !has_blank_line(&message[from.min(message.len())..]) {
                return Vec::new();
            }
            let (fields, body_start, _) = parse_block(message);
            let cts: Vec<Structured> = values(&fields, "content-type")
                .map(parse_structured)
                .collect();
            let cds: Vec<Structured> = values(&fields, "content-disposition")
                .map(parse_structured)
                .collect();
            let multipart = cts.iter().any(|c| c.value.starts_with("multipart/"));
            // A boundary found by sniffing the body (none declared) depends on the whole body: not here.
            let candidates = boundary_candidates(&cts, &cds, b"");
            self.single = candidates.len() == 1;
            let first = candidates.into_iter().next();
            self.head = Some(first.filter(|_| multipart).map(|b| (body_start, b)));
        }
        let Some(Some((body_start, boundary))) = &self.head else {
            return Vec::new();
        };
        // The body as held: `body[i]` is the body's byte `body_base + i`.
        let (body, body_base) = match body_start.checked_sub(base) {
            Some(skip) => (data.get(skip..).unwrap_or(&[]), 0),
            None => (data, base - body_start),
        };
        let Some(new) = (self.scanned.checked_sub(body_base)).and_then(|s| body.get(s..)) else {
            return Vec::new();
        };
        // Nothing can complete before a new line ends: a long line arriving in small chunks must not be
        // searched again with every chunk.
        let Some(last_newline) = memchr::memrchr(b'\n', new).map(|n| self.scanned + n) else {
            self.scanned = body_base + body.len();
            self.pass_long_line(body, body_base);
            return Vec::new();
        };
        self.scanned = body_base + body.len();
        // Only delimiter lines that are complete: what follows them on their line decides whether they are
        // delimiters at all.
        let Some(resume) = self.resume.checked_sub(body_base) else {
            return Vec::new();
        };
        let upto = &body[..=last_newline - body_base];
        let (found, prefix_found) = find_delimiters_both(upto, resume, boundary, self.cap + 1);
        // `upto` ends with a line end, so every delimiter line found in it is complete.
        let body_start = *body_start;
        self.record(found, prefix_found, body_base);
        self.resume = last_newline + 1;
        self.line_at = last_newline + 1;
        self.pass_long_line(body, body_base);
        self.pair(body_start)
    }

    /// Moves the search past what has arrived of the body's last line, once it is longer than a stretch of
    /// base64 and does not start with `--` and the boundary: no delimiter starts in it, and a session need
    /// not hold such a line (a body sent as one unbroken line of base64) for the search until it ends.
    /// `body` holds the body from `body_base` on.
    fn pass_long_line(&mut self, body: &[u8], body_base: usize) {
        let looked = self.resume > self.line_at;
        let boundary = self.boundary();
        if long_line_stretches(body, body_base, self.line_at, looked, boundary.as_slice()).is_some()
        {
            self.resume = self.resume.max(body_base + body.len());
        }
    }

    /// The boundary whose delimiters are searched for, once the header block has declared one.
    pub(crate) fn boundary(&self) -> Option<&str> {
        match &self.head {
            Some(Some((_, boundary))) => Some(boundary),
            _ => None,
        }
    }

    /// Keeps delimiters found (positions in the body from `body_base`), each list up to the cap.
    fn record(&mut self, found: Vec<Delimiter>, prefix_found: Vec<Delimiter>, body_base: usize) {
        let cap = self.cap;
        let mut more = false;
        for (list, new) in [
            (&mut self.delimiters, found),
            (&mut self.prefix_delimiters, prefix_found),
        ] {
            let room = cap.saturating_sub(list.len());
            more |= new.len() > room;
            list.extend(new.into_iter().take(room).map(|d| d.shifted(body_base)));
        }
        self.capped |= more;
        // The strict delimiters are those of the prefix reading whose line is blank after the boundary, in
        // order: the two lists kept are the same when they are as long and end alike.
        self.diverged |= self.delimiters.len() != self.prefix_delimiters.len()
            || self.delimiters.last() != self.prefix_delimiters.last();
    }

    /// At the end of the message: the parts its last line completes (a delimiter line needs no line end
    /// there), then, if the message ends inside a part, that part, running to the end as [`walk`] reads an
    /// unterminated multipart. `data` holds the message from `base` on.
    pub(crate) fn finish(
        &mut self,
        data: &[u8],
        base: usize,
    ) -> Vec<(String, std::ops::Range<usize>)> {
        let Some(Some((body_start, boundary))) = &self.head else {
            return Vec::new();
        };
        let body_start = *body_start;
        let (body, body_base) = match body_start.checked_sub(base) {
            Some(skip) => (data.get(skip..).unwrap_or(&[]), 0),
            None => (data, base - body_start),
        };
        let body_len = body_base + body.len();
        let mut parts = Vec::new();
        if let Some(resume) = self.resume.checked_sub(body_base)
            && resume <= body.len()
        {
            let (found, prefix_found) = find_delimiters_both(body, resume, boundary, self.cap + 1);
            self.record(found, prefix_found, body_base);
            self.resume = body_len;
            self.scanned = body_len;
            parts = self.pair(body_start);
        }
        // Past the last part allowed, the walk splits off no more.
        if let Some(last) = self.delimiters.last().filter(|_| !self.capped)
            && !last.close
            && body_len > last.end
        {
            self.k += 1;
            parts.push((
                format!("part[{}]", self.k),
                body_start + last.end..body_start + body_len,
            ));
        }
        parts
    }

    /// Ends the entity at `len` bytes, for an entity that is a part of a message: its search may have read
    /// the line break after its end (which belongs to the delimiter that ends it) before that delimiter's
    /// line was complete. What it found is made what a search of the entity alone finds: a delimiter line
    /// that took that line break ends where the entity does.
    pub(crate) fn end_at(&mut self, len: usize) {
        let Some(Some((body_start, _))) = &self.head else {
            return;
        };
        let body_len = len.saturating_sub(*body_start);
        for d in self
            .delimiters
            .iter_mut()
            .chain(&mut self.prefix_delimiters)
        {
            debug_assert!(d.end <= body_len + 2, "a delimiter past the entity's end");
            d.end = d.end.min(body_len);
        }
        self.resume = self.resume.min(body_len);
        self.line_at = self.line_at.min(body_len);
        self.scanned = self.scanned.min(body_len);
    }

    /// Where the part in flight starts (after its delimiter line) in the message, if the message is inside
    /// a part.
    pub(crate) fn part_in_flight(&self) -> Option<usize> {
        let Some(Some((body_start, _))) = &self.head else {
            return None;
        };
        let last = self
            .delimiters
            .last()
            .filter(|d| !d.close && !self.capped)?;
        Some(body_start + last.end)
    }

    /// Whether the part in flight is a part whatever follows: the delimiter that ends it is within the
    /// parts allowed (past them, the walk splits off no more, and the part is one only if the message
    /// ends in it).
    pub(crate) fn in_flight_is_a_part(&self) -> bool {
        self.part_in_flight().is_some() && self.delimiters.len() < self.cap
    }

    /// The segment the part in flight will have when it completes (`part[k]`).
    pub(crate) fn next_segment(&self) -> String {
        format!("part[{}]", self.k + 1)
    }

    /// Pairs the delimiters found into parts: those completed since the last call.
    fn pair(&mut self, body_start: usize) -> Vec<(String, std::ops::Range<usize>)> {
        let mut parts = Vec::new();
        while self.paired + 1 < self.delimiters.len() {
            let (d, next) = (
                self.delimiters[self.paired],
                self.delimiters[self.paired + 1],
            );
            self.paired += 1;
            let end = next.before;
            if d.close || end <= d.end {
                continue;
            }
            self.k += 1;
            parts.push((
                format!("part[{}]", self.k),
                body_start + d.end..body_start + end,
            ));
        }
        parts
    }

    /// Whether the message's header block has ended and declares no multipart: its body is a leaf.
    pub(crate) fn is_leaf(&self) -> bool {
        matches!(self.head, Some(None))
    }

    /// Whether the message is read one way only so far: a multipart with one boundary candidate, whose
    /// delimiter lines all read alike strictly and by prefix. Then the final walk of the message needs its
    /// header block, its preamble and the bytes from the last delimiter on, nothing of the parts before.
    pub(crate) fn unambiguous(&self) -> bool {
        matches!(self.head, Some(Some(_))) && self.single && !self.diverged
    }

    /// Whether the walk of the entity reads nothing more of its body than what was searched: both lists
    /// hold as many delimiters as parts allowed and one more was seen (the walk splits off nothing more and
    /// searches no further, [`walk_known`]), and the last kept does not close (no epilogue is read).
    pub(crate) fn read_to_the_cap(&self) -> bool {
        self.capped
            && self.delimiters.len() >= self.cap
            && self.prefix_delimiters.len() >= self.cap
            && self.delimiters.last().is_some_and(|d| !d.close)
    }

    /// From where the search for delimiters still reads the entity: two bytes before the line it resumes
    /// at (where a part ending at a delimiter there ends).
    pub(crate) fn search_needs_from(&self) -> usize {
        match &self.head {
            Some(Some((body_start, _))) => body_start + self.resume.saturating_sub(2),
            _ => 0,
        }
    }

    /// Where the part in flight starts (its delimiter line's start), and where the preamble ends, in the
    /// message; `None` before the first delimiter.
    pub(crate) fn in_flight(&self) -> Option<(usize, usize)> {
        let Some(Some((body_start, _))) = &self.head else {
            return None;
        };
        let first = self.delimiters.first()?;
        let last = self.delimiters.last()?;
        Some((body_start + last.start, body_start + first.start))
    }

    /// What the search found so far, for the final walk of the same message ([`walk_known`]).
    pub(crate) fn known(&self) -> Option<Known<'_>> {
        let Some(Some((body_start, boundary))) = &self.head else {
            return None;
        };
        Some(Known {
            body_start: *body_start,
            boundary,
            strict: &self.delimiters,
            prefix: &self.prefix_delimiters,
            upto: self.resume,
            capped: self.capped,
        })
    }
}

/// The delimiters of one boundary already found in the body of a message up to `upto` (a line start), in
/// both modes: [`walk_known`] searches only the rest.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Known<'k> {
    body_start: usize,
    boundary: &'k str,
    strict: &'k [Delimiter],
    prefix: &'k [Delimiter],
    upto: usize,
    /// A list had more delimiters than it kept.
    capped: bool,
}

/// Whether the bytes hold a blank line (the end of a header block).
fn has_blank_line(bytes: &[u8]) -> bool {
    memchr::memmem::find(bytes, b"\n\n").is_some()
        || memchr::memmem::find(bytes, b"\n\r\n").is_some()
}

/// What an entity's header block says, as the walk reads it.
#[derive(Debug)]
pub(crate) struct EntityHead {
    /// Where the body starts.
    pub(crate) body_start: usize,
    cts: Vec<Structured>,
    cds: Vec<Structured>,
    ctes: Vec<String>,
    pub(crate) filename: Option<String>,
    pub(crate) declares_html: bool,
    /// What is wrong with the header block.
    pub(crate) damage: Vec<String>,
}

impl EntityHead {
    /// Whether a Content-Type declares a multipart with a boundary: then [`walk`] reads parts first.
    pub(crate) fn is_multipart(&self) -> bool {
        self.cts.iter().any(|c| c.value.starts_with("multipart/"))
            && !boundary_candidates(&self.cts, &self.cds, b"").is_empty()
    }

    /// Whether the entity is a leaf declared base64 and nothing else: then [`walk`] decodes its body whole
    /// as base64 and reads it otherwise only from its first line that is not base64 ([`decodings`],
    /// [`after_base64`]).
    pub(crate) fn only_base64(&self) -> bool {
        self.leaf_encoding() == Some(Encoding::Base64)
    }

    /// For a leaf (not a multipart, not a message, no boundary) declared one way or not at all: how.
    fn leaf_encoding(&self) -> Option<Encoding> {
        let mut damage = Vec::new();
        let declared = declared_encodings(&self.ctes, &mut damage);
        let leaf = !self
            .cts
            .iter()
            .any(|c| c.value.starts_with("multipart/") || is_message_type(c))
            && boundary_candidates(&self.cts, &self.cds, b"").is_empty();
        match declared[..] {
            [one] if leaf => Some(one),
            _ => None,
        }
    }
}

impl EntityHead {
    /// Whether the entity is a message forwarded as sent (`message/rfc822` or `message/global`, declared
    /// as sent or not declared, and no multipart or boundary): then [`walk`] reads its body as a message
    /// and as nothing else, and a session can follow that message as it arrives.
    pub(crate) fn message_as_sent(&self) -> bool {
        let mut damage = Vec::new();
        self.cts.iter().any(is_message_type)
            && !self.cts.iter().any(|c| c.value.starts_with("multipart/"))
            && boundary_candidates(&self.cts, &self.cds, b"").is_empty()
            && declared_encodings(&self.ctes, &mut damage) == [Encoding::Identity]
    }

    /// Whether the entity is a leaf declared as sent (or not declared) or quoted-printable, and nothing
    /// else: `Some(true)` for quoted-printable. Then [`walk`] reads its body as declared, as what its first
    /// bytes say it looks like, and as the uuencoded blocks it holds ([`decodings`]).
    pub(crate) fn only_text(&self) -> Option<bool> {
        match self.leaf_encoding()? {
            Encoding::Identity => Some(false),
            Encoding::QuotedPrintable => Some(true),
            _ => None,
        }
    }
}

/// Whether a Content-Type declares a message (its body is a message of its own).
fn is_message_type(ct: &Structured) -> bool {
    matches!(ct.value.as_str(), "message/rfc822" | "message/global")
}

/// Reads an entity's header block (`bytes` holds at least all of it).
fn read_head(bytes: &[u8]) -> EntityHead {
    let (fields, body_start, truncated) = parse_block(bytes);
    let mut damage = Vec::new();
    if truncated {
        damage.push("too many header fields; the rest were ignored".to_string());
    }
    let cts: Vec<Structured> = values(&fields, "content-type")
        .map(parse_structured)
        .collect();
    let cds: Vec<Structured> = values(&fields, "content-disposition")
        .map(parse_structured)
        .collect();
    let ctes: Vec<String> = values(&fields, "content-transfer-encoding")
        .map(|v| v.trim().trim_matches('"').to_ascii_lowercase())
        .collect();
    let filename = cds
        .iter()
        .find_map(|c| c.decoded("filename"))
        .or_else(|| cts.iter().find_map(|c| c.decoded("name")))
        .map(|n| decode_words(&n));
    let declares_html = cts.iter().any(|c| c.value == "text/html");
    if cts.len() > 1 && cts.iter().any(|c| c.value != cts[0].value) {
        damage.push(format!("{} Content-Type headers that disagree", cts.len()));
    }
    if cds.iter().any(|c| c.all("boundary").next().is_some()) {
        damage.push("boundary parameter in Content-Disposition".to_string());
    }
    if cts.iter().any(|c| c.all("boundary").count() > 1) {
        damage.push("more than one boundary parameter".to_string());
    }
    EntityHead {
        body_start,
        cts,
        cds,
        ctes,
        filename,
        declares_html,
        damage,
    }
}

/// The header block of an entity still arriving (`bytes`, its first bytes) in the multiparts whose
/// boundaries are `boundaries`, once nothing that follows can change it: it has ended before its last
/// complete line, or at it when the line after (not complete yet) already shows it is no delimiter line
/// (the line break before a delimiter is the delimiter's, so the blank line that ends a header block might
/// have been).
pub(crate) fn complete_head(bytes: &[u8], boundaries: &[&str]) -> Option<EntityHead> {
    let upto = memchr::memrchr(b'\n', bytes)? + 1;
    let head = read_head(&bytes[..upto]);
    let next = &bytes[upto..];
    let ended = head.body_start < upto
        || (head.body_start == upto
            && ends_blank(&bytes[..upto])
            && next.len() >= 2
            && !may_delimit(next, boundaries));
    ended.then_some(head)
}

/// Whether the last line of `bytes` (which end with a line break) is blank.
fn ends_blank(bytes: &[u8]) -> bool {
    let line = bytes.strip_suffix(b"\n").unwrap_or(bytes);
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    line.is_empty() || line.ends_with(b"\n")
}

/// Walks one entity.
pub(crate) fn walk(bytes: &[u8]) -> Walked {
    walk_known(
        View::whole(bytes),
        None,
        crate::Limits::default().get_max_parts(),
    )
}

/// [`walk`], with the delimiters of the message already found while it arrived (by [`Parts`] on the same
/// bytes): the same result, with only the bytes after them searched.
///
/// The entity may be held in pieces ([`View::split`]): a session lets go of the parts of a message it has
/// scanned when [`Parts::unambiguous`] says the walk reads only the header block, the preamble and the
/// bytes from the last known delimiter on.
pub(crate) fn walk_known(view: View<'_>, known: Option<Known<'_>>, max_parts: u64) -> Walked {
    let cap = delimiter_cap(max_parts);
    let EntityHead {
        body_start,
        cts,
        cds,
        ctes,
        filename,
        declares_html,
        damage,
    } = read_head(view.head());
    let mut w = Walked {
        filename,
        declares_html,
        damage,
        ..Walked::default()
    };
    let len = view.len();
    let body_range = body_start..len;
    // Bytes of the body, which must be held.
    let held = |r: Range<usize>| -> &[u8] {
        let bytes = view.get(body_start + r.start..body_start + r.end);
        debug_assert!(bytes.is_some(), "the walk needs bytes that were let go");
        bytes.unwrap_or(&[])
    };
    let body_len = len - body_start.min(len);

    // Multipart readings, each with whether it was cut at the parts allowed.
    let mut readings: Vec<(Vec<Delimiter>, bool)> = Vec::new();
    // The body is read for a boundary only when the header block declares none.
    let mut candidates = boundary_candidates(&cts, &cds, b"");
    if candidates.is_empty() {
        candidates = boundary_candidates(&cts, &cds, held(0..body_len));
    }
    for cand in candidates {
        let reuse = known.filter(|k| {
            k.body_start == body_start
                && k.boundary == cand
                && k.upto <= body_len
                && !cand.contains('\n')
        });
        let (strict, prefix) = match reuse {
            // Both lists full, and one more seen: the rest of the body can add nothing.
            Some(k) if k.capped && k.strict.len() >= cap && k.prefix.len() >= cap => {
                let full = |l: &[Delimiter]| l[..cap].to_vec();
                ((full(k.strict), true), (full(k.prefix), true))
            }
            // A delimiter lies within its line and the known part ends at a line start (or inside a line
            // that no delimiter starts), so the search of the rest finds exactly the others.
            Some(k) => {
                // From two bytes before: where the part before the first delimiter found ends.
                let lo = k.upto.saturating_sub(2);
                let (s, p) = find_delimiters_both(held(lo..body_len), k.upto - lo, &cand, cap + 1);
                let shift = |v: Vec<Delimiter>| v.into_iter().map(move |d| d.shifted(lo));
                let (strict, more_strict) =
                    capped(k.strict.iter().copied().chain(shift(s)).collect(), cap);
                let (prefix, more_prefix) =
                    capped(k.prefix.iter().copied().chain(shift(p)).collect(), cap);
                let more = k.capped || more_strict || more_prefix;
                ((strict, more), (prefix, more))
            }
            None => {
                let (s, p) = find_delimiters_both(held(0..body_len), 0, &cand, cap + 1);
                let (s, p) = (capped(s, cap), capped(p, cap));
                let more = s.1 || p.1;
                ((s.0, more), (p.0, more))
            }
        };
        for d in [strict, prefix] {
            if !d.0.is_empty() && !readings.iter().any(|r| r.0 == d.0) {
                readings.push(d);
            }
        }
    }
    if !readings.is_empty() {
        let many = readings.len() > 1;
        let mut seen: std::collections::HashSet<(usize, usize)> = std::collections::HashSet::new();
        let mut first_ends: std::collections::HashMap<usize, usize> =
            std::collections::HashMap::new();
        for (r, (delims, more)) in readings.iter().enumerate() {
            if *more {
                w.parts_capped = true;
            }
            let mut k = 0;
            for (i, d) in delims.iter().enumerate() {
                let end = match delims.get(i + 1) {
                    Some(next) => next.before,
                    // Past the last part allowed, nothing more is split off.
                    None if d.close || *more => break,
                    None => {
                        // Bytes a session let go of belong to a part it decoded as it arrived: not blank.
                        let rest = view.get(body_start + d.end..body_start + body_len);
                        if !rest.is_some_and(is_blank) {
                            w.damage.push("multipart is not terminated".to_string());
                        }
                        body_len
                    }
                };
                if d.close || end <= d.end {
                    continue;
                }
                let range = body_start + d.end..body_start + end;
                k += 1;
                if !seen.insert((range.start, range.end)) {
                    continue;
                }
                // A part of a later reading that is the start of a part of the first (a prefix-only
                // delimiter line inside it) holds nothing that part does not: its bytes are scanned there.
                if r > 0
                    && first_ends
                        .get(&range.start)
                        .is_some_and(|&e| range.end <= e)
                {
                    continue;
                }
                if r == 0 {
                    first_ends.insert(range.start, range.end);
                }
                let segment = if many && r > 0 {
                    format!("reading[{}]/part[{k}]", r + 1)
                } else {
                    format!("part[{k}]")
                };
                w.children.push(Child {
                    kind: ChildKind::Part,
                    segment: Some(segment),
                    suffix: None,
                    data: ChildData::Range(range),
                });
            }
            if r == 0 {
                // Text outside the parts is content some clients show: scan what it plausibly holds.
                let first = delims[0].start;
                let preamble = held(0..first);
                if !is_blank(preamble) {
                    add_text_outside(&mut w, body_start, preamble, "preamble");
                }
                if let Some(last) = delims.last().filter(|d| d.close)
                    && !is_blank(held(last.end..body_len))
                {
                    let epilogue = held(last.end..body_len);
                    add_text_outside(&mut w, body_start + last.end, epilogue, "epilogue");
                }
            }
        }
        return w;
    }
    if cts.iter().any(|c| c.value.starts_with("multipart/")) {
        w.damage
            .push("multipart without boundary lines".to_string());
    }

    let is_message = cts.iter().any(is_message_type);
    // A message forwarded as sent is read as a message only: its own walk reads each of its leaves every
    // way, and a session can follow it as it arrives (`scan/prescan.rs`), which other readings of its
    // whole, budgeted after everything in it, would not let it do.
    let payloads =
        match is_message && declared_encodings(&ctes, &mut Vec::new()) == [Encoding::Identity] {
            true => vec![(None, Decoding::Identity(0))],
            false => decodings(held(0..body_len), &ctes, &mut w.damage),
        };
    for (i, (suffix, data)) in payloads.into_iter().enumerate() {
        let data = match data {
            Decoding::Identity(from) => ChildData::Range(body_range.start + from..body_range.end),
            Decoding::Bytes(b) => ChildData::Owned(b),
        };
        let kind = if is_message && i == 0 {
            ChildKind::Message
        } else {
            ChildKind::Payload
        };
        w.children.push(Child {
            kind,
            segment: (kind == ChildKind::Message).then(|| "message".to_string()),
            suffix,
            data,
        });
    }
    w
}

fn add_text_outside(w: &mut Walked, offset: usize, text: &[u8], segment: &str) {
    let mut damage = Vec::new();
    for (suffix, data) in decodings(text, &[], &mut damage) {
        w.children.push(Child {
            kind: ChildKind::Payload,
            segment: Some(segment.to_string()),
            suffix,
            data: match data {
                Decoding::Identity(from) => ChildData::Range(offset + from..offset + text.len()),
                Decoding::Bytes(b) => ChildData::Owned(b),
            },
        });
    }
}

pub(crate) enum Decoding {
    /// The body as sent, from this offset in it on.
    Identity(usize),
    Bytes(Vec<u8>),
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub(crate) enum Encoding {
    Identity,
    Base64,
    QuotedPrintable,
    Uuencode,
}

pub(crate) fn encoding_of(cte: &str) -> Encoding {
    match cte {
        "base64" => Encoding::Base64,
        "quoted-printable" => Encoding::QuotedPrintable,
        "x-uuencode" | "uuencode" | "x-uue" | "uue" => Encoding::Uuencode,
        _ => Encoding::Identity,
    }
}

/// How much of a body not declared base64 decides what else it is read as (base64, quoted-printable): its
/// first bytes, so that the readings are known long before a large body ends.
pub(crate) const READING_HEAD: usize = 64 << 10;

/// Every plausible decoding of a leaf body: the declared ones first, then what the body looks like (its
/// first [`READING_HEAD`] bytes), then the uuencoded blocks it holds.
///
/// A body declared base64 is decoded whole as base64; what else it is read as (as sent, uuencode,
/// quoted-printable) is read only from its first line that is not base64 (nothing but the alphabet and `=`, then perhaps blanks), so that a
/// session can decode a large attachment as it arrives and keep only that tail (see `stream.rs`).
fn decodings(
    body: &[u8],
    ctes: &[String],
    damage: &mut Vec<String>,
) -> Vec<(Option<String>, Decoding)> {
    let declared = declared_encodings(ctes, damage);
    if declared == [Encoding::Base64] {
        let d = base64::decode(body);
        if d.invalid > 0 {
            damage.push(base64_damage(d.invalid));
        }
        let from = d.text_from;
        let payload = !d.data.is_empty() && d.data != body;
        let mut out = Vec::new();
        if payload {
            out.push((None, Decoding::Bytes(d.data)));
        }
        out.extend(after_base64(payload, &body[from..], from));
        return out;
    }
    let declared_base64 = declared.contains(&Encoding::Base64);
    // Decoded once when declared: the decoding also finds where the body stops being base64.
    let mut decoded = declared_base64.then(|| base64::decode(body));
    // What is read otherwise than as declared base64: the whole body, or the tail of a base64 one.
    let from = decoded.as_ref().map_or(0, |d| d.text_from);
    let text = &body[from..];
    let mut out: Vec<(Option<String>, Decoding)> = Vec::new();
    // A decoding that is empty or the body as sent is not read again. Only uuencoded blocks, read last, are
    // compared with others (with those from `blocks_from` on: the blocks before), so that a session, which
    // decodes the other readings as the body arrives and lets go of them, never needs their bytes.
    let push = |out: &mut Vec<(Option<String>, Decoding)>,
                blocks_from: Option<usize>,
                suffix: Option<String>,
                d: Decoding| {
        if let Decoding::Bytes(b) = &d {
            if b.is_empty() || b == text {
                return;
            }
            if let Some(from) = blocks_from
                && out[from.min(out.len())..]
                    .iter()
                    .any(|(_, o)| matches!(o, Decoding::Bytes(x) if x == b))
            {
                return;
            }
        }
        let suffix = if out.is_empty() { None } else { suffix };
        out.push((suffix, d));
    };
    // What the body is read as besides what it declares is decided by its first bytes, so that a session
    // knows which readings to decode as the rest arrives (see `stream.rs`).
    let shape = &text[..text.len().min(READING_HEAD)];
    let text_shaped = base64::looks_like(shape);
    for enc in &declared {
        match enc {
            Encoding::Identity => push(
                &mut out,
                None,
                Some("(as sent)".into()),
                Decoding::Identity(0),
            ),
            Encoding::Base64 => {
                let Some(d) = decoded.take() else {
                    continue;
                };
                if d.invalid > 0 {
                    damage.push(base64_damage(d.invalid));
                }
                if !d.data.is_empty() && d.data != body {
                    out.push((None, Decoding::Bytes(d.data)));
                }
                if !text.is_empty() {
                    // Not base64 from here on: the declaration may be the lie.
                    push(
                        &mut out,
                        None,
                        Some("(as sent)".into()),
                        Decoding::Identity(from),
                    );
                }
            }
            Encoding::QuotedPrintable => push(
                &mut out,
                None,
                Some("(as quoted-printable)".into()),
                Decoding::Bytes(qp::decode(body)),
            ),
            Encoding::Uuencode => {}
        }
    }
    if !declared_base64 && text_shaped {
        push(
            &mut out,
            None,
            Some("(as base64)".into()),
            Decoding::Bytes(base64::decode(body).data),
        );
    }
    if !declared.contains(&Encoding::QuotedPrintable) && !text_shaped && qp::looks_like(shape) {
        push(
            &mut out,
            None,
            Some("(as quoted-printable)".into()),
            Decoding::Bytes(qp::decode(text)),
        );
    }
    // Last: a block may open anywhere in the body, so a session holds the body as sent from the first one
    // on and decodes the blocks at its end, after the readings it decoded as the body arrived.
    if declared.contains(&Encoding::Uuencode) || uu::looks_like(text) {
        let blocks_from = out.len();
        for block in uu::decode_all(text) {
            let suffix = format!("(uuencoded \"{}\")", block.name);
            push(
                &mut out,
                Some(blocks_from),
                Some(suffix),
                Decoding::Bytes(block.data),
            );
        }
    }
    if out.is_empty() {
        out.push((None, Decoding::Identity(0)));
    }
    out
}

/// The damage note for a base64 body with characters outside the alphabet.
pub(crate) fn base64_damage(invalid: usize) -> String {
    format!("base64: {invalid} invalid characters skipped")
}

/// The readings of a body declared base64 and nothing else besides its base64 decoding (`payload`: that
/// decoding is not empty): what `text`, the body from its first line that is not base64 (`from` in the
/// body), plainly is. A session that decodes such a body as it arrives keeps only `text`.
pub(crate) fn after_base64(
    payload: bool,
    text: &[u8],
    from: usize,
) -> Vec<(Option<String>, Decoding)> {
    let mut out: Vec<(Option<String>, Decoding)> = Vec::new();
    // As in `decodings`: only uuencoded blocks are compared, with the blocks before them.
    let mut push = |suffix: String, d: Decoding, block: bool| {
        if let Decoding::Bytes(b) = &d
            && (b.is_empty()
                || b == text
                || (block
                    && out
                        .iter()
                        .any(|(_, o)| matches!(o, Decoding::Bytes(x) if x == b))))
        {
            return;
        }
        let suffix = (payload || !out.is_empty()).then_some(suffix);
        out.push((suffix, d));
    };
    if !text.is_empty() {
        // Not base64 from here on: the declaration may be the lie.
        push("(as sent)".into(), Decoding::Identity(from), false);
    }
    if uu::looks_like(text) {
        for block in uu::decode_all(text) {
            push(
                format!("(uuencoded \"{}\")", block.name),
                Decoding::Bytes(block.data),
                true,
            );
        }
    }
    if !base64::looks_like(text) && qp::looks_like(text) {
        push(
            "(as quoted-printable)".into(),
            Decoding::Bytes(qp::decode(text)),
            false,
        );
    }
    if !payload && out.is_empty() {
        out.push((None, Decoding::Identity(0)));
    }
    out
}

/// The transfer encodings the header fields declare, in order (the same one repeated counts once); a note
/// in `damage` when they disagree.
pub(crate) fn declared_encodings(ctes: &[String], damage: &mut Vec<String>) -> Vec<Encoding> {
    let mut declared: Vec<Encoding> = ctes.iter().map(|c| encoding_of(c)).collect();
    declared.dedup();
    if declared.len() > 1 {
        damage.push("Content-Transfer-Encoding headers that disagree".to_string());
    }
    if declared.is_empty() {
        declared.push(Encoding::Identity);
    }
    declared
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part_bodies(msg: &str) -> Vec<String> {
        let w = walk(msg.as_bytes());
        w.children
            .iter()
            .filter(|c| c.kind == ChildKind::Part)
            .map(|c| match &c.data {
                ChildData::Range(r) => {
                    String::from_utf8_lossy(&msg.as_bytes()[r.clone()]).into_owned()
                }
                ChildData::Owned(v) => String::from_utf8_lossy(v).into_owned(),
            })
            .collect()
    }

    #[test]
    fn a_line_may_delimit_only_with_a_boundary_after_its_dashes() {
        // (the line's first bytes, the boundaries, whether it is or may yet be a delimiter line)
        let table: &[(&str, &[&str], bool)] = &[
            ("--b", &["b"], true),
            ("--b--", &["b"], true),
            ("--bx and more", &["b"], true),
            ("--", &["bound"], true),
            ("--bou", &["bound"], true),
            ("--box", &["bound"], false),
            ("-- signature", &["b"], false),
            ("--b", &[], false),
            ("--inner", &["outer", "inner"], true),
            ("--other", &["outer", "inner"], false),
            ("-", &["b"], true),
            ("x--b", &["b"], false),
        ];
        for &(first, boundaries, want) in table {
            assert_eq!(
                may_delimit(first.as_bytes(), boundaries),
                want,
                "{first:?} {boundaries:?}"
            );
        }
        // A header block that ends at its blank line is known to when the next line is no delimiter line
        // of the multiparts it is in, however that line goes on.
        let head = "Content-Type: text/plain\r\n\r\n";
        for (next, boundaries, ended) in [
            ("-- a signature", &["b"][..], true),
            ("--b", &["b"], false),
            ("--", &["b"], false),
            ("-- a signature", &[], true),
            ("--b", &[], true),
            ("x", &["b"], false),
        ] {
            let bytes = format!("{head}{next}");
            assert_eq!(
                complete_head(bytes.as_bytes(), boundaries).is_some(),
                ended,
                "{next:?} {boundaries:?}"
            );
        }
    }

    #[test]
    fn simple_multipart() {
        let msg = "Content-Type: multipart/mixed; boundary=XX\r\n\r\npre\r\n--XX\r\n\r\none\r\n--XX\r\nA: b\r\n\r\ntwo\r\n--XX--\r\nepi\r\n";
        assert_eq!(part_bodies(msg), ["\r\none", "A: b\r\n\r\ntwo"]);
    }

    #[test]
    fn ambiguous_structures_yield_every_reading() {
        // Two boundary parameters: parts of both are found.
        let msg = "Content-Type: multipart/mixed; boundary=AAA; boundary=BBB\r\n\r\n--AAA\r\n\r\nfirst\r\n--AAA--\r\n--BBB\r\n\r\nsecond\r\n--BBB--\r\n";
        let bodies = part_bodies(msg);
        assert!(bodies.iter().any(|b| b.contains("first")), "{bodies:?}");
        assert!(bodies.iter().any(|b| b.contains("second")), "{bodies:?}");
        // Two Content-Type headers.
        let msg = "Content-Type: text/plain\r\nContent-Type: multipart/mixed; boundary=CC\r\n\r\n--CC\r\n\r\nhidden\r\n--CC--\r\n";
        assert!(part_bodies(msg).iter().any(|b| b.contains("hidden")));
        // Boundary in Content-Disposition.
        let msg = "Content-Type: multipart/mixed\r\nContent-Disposition: inline; boundary=DD\r\n\r\n--DD\r\n\r\nhidden\r\n--DD--\r\n";
        assert!(part_bodies(msg).iter().any(|b| b.contains("hidden")));
        // Boundary with a trailing ';' in the header but not in the body, and the other way round.
        let msg = "Content-Type: multipart/mixed; boundary=\"EE;\"\r\n\r\n--EE\r\n\r\nhidden\r\n--EE--\r\n";
        assert!(part_bodies(msg).iter().any(|b| b.contains("hidden")));
        let msg =
            "Content-Type: multipart/mixed; boundary=FF;\r\n\r\n--FF;\r\n\r\nhidden\r\n--FF;--\r\n";
        assert!(part_bodies(msg).iter().any(|b| b.contains("hidden")));
        // Unterminated.
        let msg = "Content-Type: multipart/mixed; boundary=GG\r\n\r\n--GG\r\n\r\nhidden and cut";
        let w = walk(msg.as_bytes());
        assert!(w.damage.iter().any(|d| d.contains("not terminated")));
        assert!(part_bodies(msg)[0].contains("hidden and cut"));
        // Multipart with no boundary parameter at all.
        let msg = "Content-Type: multipart/mixed\r\n\r\n--HHHH\r\n\r\nhidden\r\n--HHHH--\r\n";
        assert!(part_bodies(msg).iter().any(|b| b.contains("hidden")));
    }

    #[test]
    fn leaf_decodings() {
        let msg = "Content-Transfer-Encoding: 7bit\r\n\r\naGVsbG8gd29ybGQgaGVsbG8gd29ybGQ=\r\n";
        let w = walk(msg.as_bytes());
        let owned: Vec<&[u8]> = w
            .children
            .iter()
            .filter_map(|c| match &c.data {
                ChildData::Owned(v) => Some(&v[..]),
                _ => None,
            })
            .collect();
        assert_eq!(owned, [&b"hello world hello world"[..]]);
        // Declared base64: decoded whole; read otherwise only from its first line that is not base64.
        let b64 = "Content-Transfer-Encoding: base64\r\n\r\n";
        let table: &[(&str, &[&str])] = &[
            ("aGVsbG8gd29y\r\nbGQ=  \r\n", &["(none) hello world"]),
            (
                "aGVsbG8gd29y\r\nnot base64 at all\r\nbGQ=\r\n",
                &[
                    "(none) hello wor",
                    "(as sent) not base64 at all\r\nbGQ=\r\n",
                ],
            ),
            (
                "aGVsbG8=\r\nbegin 644 cat.txt\r\n#0V%T\r\n`\r\nend\r\n",
                &[
                    "(none) hello",
                    "(as sent) begin 644 cat.txt",
                    "(uuencoded \"cat.txt\") Cat",
                ],
            ),
        ];
        for (body, want) in table {
            let msg = format!("{b64}{body}");
            let w = walk(msg.as_bytes());
            let got: Vec<String> = w
                .children
                .iter()
                .map(|c| {
                    let bytes = match &c.data {
                        ChildData::Range(r) => &msg.as_bytes()[r.clone()],
                        ChildData::Owned(v) => &v[..],
                    };
                    let suffix = c.suffix.as_deref().unwrap_or("(none)");
                    format!("{suffix} {}", String::from_utf8_lossy(bytes))
                })
                .collect();
            assert_eq!(got.len(), want.len(), "{body:?}: {got:?}");
            for (g, w) in got.iter().zip(*want) {
                assert!(g.starts_with(w), "{g:?} {w:?}");
            }
        }
        let msg = "Content-Type: message/rfc822\r\n\r\nSubject: inner\r\n\r\nbody\r\n";
        let w = walk(msg.as_bytes());
        assert_eq!(w.children[0].kind, ChildKind::Message);
        let msg = "Content-Disposition: attachment; filename*=utf-8''%C3%A9.zip\r\n\r\nx";
        assert_eq!(walk(msg.as_bytes()).filename.as_deref(), Some("é.zip"));
    }

    #[test]
    fn a_message_forwarded_as_sent_is_read_as_a_message_only() {
        let qp = "Subject: inner\r\n\r\nline=3D=3D=3Dmore=\r\nand =E9t=E9=\r\n";
        let uu = "Subject: inner\r\n\r\nbegin 644 a.txt\r\n#86)C\r\n`\r\nend\r\n";
        // (headers of the part, its body, what each child is)
        type Children<'a> = &'a [(ChildKind, Option<&'a str>)];
        let table: [(&str, &str, Children); 5] = [
            ("message/rfc822", qp, &[(ChildKind::Message, None)]),
            ("message/rfc822", uu, &[(ChildKind::Message, None)]),
            (
                "message/global\r\nContent-Transfer-Encoding: 8bit",
                qp,
                &[(ChildKind::Message, None)],
            ),
            // Declared otherwise: the declared decoding is the message; other readings follow.
            (
                "message/rfc822\r\nContent-Transfer-Encoding: quoted-printable",
                qp,
                &[(ChildKind::Message, None)],
            ),
            // Not a message: read every way.
            (
                "text/plain",
                qp,
                &[
                    (ChildKind::Payload, None),
                    (ChildKind::Payload, Some("(as quoted-printable)")),
                ],
            ),
        ];
        for (ct, body, want) in table {
            let msg = format!("Content-Type: {ct}\r\n\r\n{body}");
            let w = walk(msg.as_bytes());
            let got: Vec<(ChildKind, Option<&str>)> = w
                .children
                .iter()
                .map(|c| (c.kind, c.suffix.as_deref()))
                .collect();
            assert_eq!(got, want, "{ct}");
            let head = read_head(msg.as_bytes());
            assert_eq!(
                head.message_as_sent(),
                !ct.contains("quoted") && ct.starts_with("message/"),
                "{ct}"
            );
        }
    }
}
