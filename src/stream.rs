//! A part of a message decoded and matched while it arrives, so that a session holds neither the part as
//! sent nor, for a type that needs no more, the whole of what it decodes to.
//!
//! A session ([`crate::ScanSession`]) scans each part of a multipart message when the delimiter after it
//! arrives (`scan.rs`'s `Prescan`). The part in flight would then be held whole until its end: 1.33 MB of
//! base64 for a 1 MB attachment. A [`PartStream`] follows the part in flight instead. Once its header block
//! has ended, if the part is a leaf declared base64 and nothing else (what almost every attachment is), it
//! decodes each complete line as it arrives, exactly as the walk of the whole part would
//! ([`walker::after_base64`]: the body is decoded whole, and what follows its first line that is not base64
//! is kept as sent for the other readings). The raw bytes decoded are no longer needed.
//!
//! What the part decodes to goes to a [`Sink`]: held, while its type is not known, and for good when the
//! type needs its whole (archives, HTML, mail, a text body without a name: the buffered containers); or, for
//! the other types (images, executables, PDF and OLE2 documents, named text, anything else), matched as it
//! arrives: atoms searched, hits verified while their bytes are held, bytes hashed, the regular expressions
//! of logical signatures for the type searched ([`crate::matcher::regexes`]), a document's heuristic search
//! done, and then let go of, keeping only the head and what signatures read around hits and at the end (the
//! same bookkeeping as the session's own for the message, `session.rs`). The body of a message that
//! is not multipart is followed the same way, and so is the part in flight of a part that is itself a
//! multipart (`scan/prescan.rs`'s `Nested`).
//!
//! When the part is complete, [`PartStream::finish`] hands the scan what it needs to scan the part exactly
//! as it would the part held whole ([`Finished`]).

use crate::decode::base64;
use crate::engine::Database;
use crate::filetype::{self, FileType};
use crate::heuristics::documents::DocumentScan;
use crate::matcher::hashes::StreamDigest;
use crate::matcher::regexes::PcreStream;
use crate::matcher::{AtomStream, PreVerified, RootSpan, View};
use crate::mime::walker::{self, Decoding, EntityHead};

/// Decoded bytes after which a part's type is decided: more than type detection reads.
const DECIDE: usize = 64 << 10;

/// The least number of new decoded bytes searched at once.
const SEARCH_STEP: usize = 8 << 10;

/// The least number of decoded bytes let go of at once.
const LET_GO_STEP: usize = 8 << 10;

/// Bytes kept beyond what signatures read at the end: the atom search's own margin, and the last 512 bytes
/// and 8 that heuristics look at (a disk image's footer).
const MARGIN: usize = 520 + 64;

/// The longest header block of a part decoded as it arrives: past this, the part is held.
const MAX_HEAD: usize = 64 << 10;

/// Whether the bytes hold a blank line.
fn has_blank_line(bytes: &[u8]) -> bool {
    memchr::memmem::find(bytes, b"\n\n").is_some()
        || memchr::memmem::find(bytes, b"\n\r\n").is_some()
}

/// The first bytes of a streamed payload kept for its end: what heuristics read of its start.
const KEEP_HEAD: usize = 4096;

/// The part in flight of a message (see the module docs).
#[derive(Debug)]
pub(crate) struct PartStream {
    /// Where the part starts in the message (after its delimiter line).
    pub(crate) start: usize,
    state: State,
}

#[derive(Debug)]
enum State {
    /// The part's header block has not ended; how far it was looked at, and when it was last read whole.
    Head {
        searched: usize,
        read_at: usize,
    },
    /// Not decoded as it arrives: held, and scanned when complete like any part.
    Held,
    /// Its header block declares a multipart: held here; a part of the message follows its parts
    /// (`scan/prescan.rs`'s `Nested`). The part's file name, if it has one.
    Multipart(Option<String>),
    Decoding(Box<Decoding64>),
}

/// A base64 body being decoded.
#[derive(Debug)]
struct Decoding64 {
    head: EntityHead,
    /// Where the body starts in the message.
    body_start: usize,
    decoder: base64::Decoder,
    /// Raw bytes decoded up to here (a line start), and looked at for a line end.
    decoded_to: usize,
    searched: usize,
    /// The start of the body's first line that is not base64, once seen: the raw bytes are kept from there.
    rest_from: Option<usize>,
    /// Bytes decoded in all, and how many of them the payload keeps (the limits, as at its admission).
    total: u64,
    cut: u64,
    scratch: Vec<u8>,
    sink: Sink,
    /// Whether the payload's type was looked at (after [`DECIDE`] bytes) to choose its sink.
    typed: bool,
}

/// What a part decodes to.
#[derive(Debug)]
pub(crate) enum Sink {
    /// Held whole.
    Held(Vec<u8>),
    /// Matched as it arrives.
    Streamed(Box<Streamed>),
}

/// A payload matched as it arrives: its head and tail bytes, its atom hits and those verified, and its
/// digests.
#[derive(Debug)]
pub(crate) struct Streamed {
    pub(crate) file_type: FileType,
    span: RootSpan,
    /// The first bytes, once the middle is let go of.
    head: Vec<u8>,
    /// The payload from `base` on.
    tail: Vec<u8>,
    base: usize,
    /// Its length when it was last searched.
    searched: usize,
    pub(crate) atoms: AtomStream,
    pub(crate) pre: PreVerified,
    pub(crate) digest: StreamDigest,
    /// The 8 bytes at the heuristics' footer offset, when that lies in what was let go of.
    footer: Vec<u8>,
    /// A PDF's or an OLE2 document's search by heuristics, done as it arrives.
    docs: Option<DocumentScan>,
    /// The searches for the regular expressions that apply to the type.
    pub(crate) pcre: PcreStream,
}

impl Streamed {
    /// The payload as held.
    pub(crate) fn view(&self) -> View<'_> {
        View::held(&self.head, self.base, &self.tail)
    }

    /// The search of a document by heuristics.
    pub(crate) fn document(&self) -> Option<&DocumentScan> {
        self.docs.as_ref()
    }

    /// The first bytes, for heuristics.
    pub(crate) fn head(&self) -> &[u8] {
        self.view().head()
    }

    /// The 8 bytes at `at`, if held or kept.
    pub(crate) fn footer(&self, at: usize) -> Option<&[u8]> {
        self.view()
            .get(at..at + 8)
            .or_else(|| (self.footer.len() == 8).then_some(&self.footer[..]))
    }

    fn len(&self) -> usize {
        self.base + self.tail.len()
    }

    fn memory_usage(&self) -> usize {
        self.head.capacity()
            + self.tail.capacity()
            + self.atoms.memory_usage()
            + self.pre.memory_usage()
            + self.pcre.memory_usage()
    }

    /// Adds decoded bytes, a step's worth at a time: each is searched, verified and let go of (as far as
    /// the searches allow) before the next is added, so that the tail does not grow with the size of the
    /// chunks the message arrives in.
    fn push(&mut self, db: &Database, bytes: &[u8]) {
        for piece in bytes.chunks(SEARCH_STEP) {
            self.push_piece(db, piece);
        }
    }

    /// Adds decoded bytes; searches, verifies and lets go of what is no longer read.
    fn push_piece(&mut self, db: &Database, bytes: &[u8]) {
        extend_sparingly(&mut self.tail, bytes);
        if let Some(d) = &mut self.docs {
            d.feed(bytes, crate::heuristics::INSPECT_LIMIT);
        }
        let len = self.len();
        // Searched in steps: each search of a stream has a cost of its own, whatever its length.
        if len - self.searched < SEARCH_STEP {
            return;
        }
        self.searched = len;
        db.body
            .advance(&mut self.atoms, &self.tail, self.base, false);
        let span = self.span;
        self.pcre.run(&db.logical, &self.tail, self.base, false);
        // The hits whose bytes have all arrived are verified at each step, not only when bytes go: text can
        // hold a hit every few bytes, and what goes waits for the searches of regular expressions too.
        let below = self
            .atoms
            .floor(len)
            .min(len.saturating_sub(span.fwd + MARGIN));
        if below >= self.pre.below + SEARCH_STEP {
            self.verify(db, below);
        }
        let mut target = self
            .atoms
            .floor(len)
            .saturating_sub(span.back)
            .min(len.saturating_sub(span.back + span.fwd + span.from_end + MARGIN))
            .min(self.pcre.needed_from());
        // The footer heuristics read of a large payload is let go of whole or not at all.
        let footer = crate::heuristics::footer_offset(usize::MAX).unwrap_or(usize::MAX);
        if target > footer && target < footer + 8 {
            target = footer;
        }
        let keep = KEEP_HEAD.max(span.from_start);
        if target <= self.base.max(keep) || target - self.base < LET_GO_STEP {
            return;
        }
        if self.base == 0 {
            self.head = self.tail[..keep].to_vec();
        }
        // Every hit whose verification reads the bytes that go is verified now.
        self.verify(db, below);
        // The target leaves `span.back` under the search's floor and `span.fwd` before the end.
        debug_assert!(self.pre.below >= target + span.back);
        let upto = target - self.base;
        self.digest
            .update([&db.hashes, &db.allow], &self.tail[..upto]);
        if self.base <= footer
            && footer + 8 <= target
            && let Some(f) = self.view().get(footer..footer + 8)
        {
            self.footer = f.to_vec();
        }
        self.tail.drain(..upto);
        self.base = target;
    }

    /// Verifies the hits below `below` and drops those that decide nothing.
    fn verify(&mut self, db: &Database, below: usize) {
        // Verified at this step already: the hits left are all still needed.
        if below <= self.pre.below {
            return;
        }
        db.body.preverify(
            &self.atoms,
            View::held(&self.head, self.base, &self.tail),
            self.file_type.target(),
            below,
            &mut self.pre,
        );
        let pre = &self.pre;
        self.atoms.retain(|atom, at| pre.needs(atom, at));
    }

    /// Ends the payload: the search completed and every byte hashed.
    fn finish(&mut self, db: &Database) {
        db.body
            .advance(&mut self.atoms, &self.tail, self.base, true);
        if self.base > 0 {
            self.digest.update([&db.hashes, &db.allow], &self.tail);
            self.pcre.run(&db.logical, &self.tail, self.base, true);
        }
    }

    /// Whether the digests cover the payload (else it is held whole and hashed at the end).
    pub(crate) fn sparse(&self) -> bool {
        self.base > 0
    }
}

/// A streamed part, complete: what the scan of the part needs instead of its bytes.
#[derive(Debug)]
pub(crate) struct Finished {
    /// The walk of the part, less its decoded payload; the children's bytes are owned.
    pub(crate) walked: walker::Walked,
    /// The payload (its decoded length before any cut, and what was kept of it), first of the children.
    pub(crate) payload: Option<(u64, Sink)>,
}

impl PartStream {
    pub(crate) fn new(start: usize) -> PartStream {
        PartStream {
            start,
            state: State::Head {
                searched: 0,
                read_at: 0,
            },
        }
    }

    /// Where the part's body starts in the message, once it is decoded as it arrives.
    pub(crate) fn body_start(&self) -> Option<usize> {
        match &self.state {
            State::Decoding(d) => Some(d.body_start),
            _ => None,
        }
    }

    /// Once its header block has ended, whether it declares a multipart, and its file name if so.
    pub(crate) fn multipart(&self) -> Option<Option<&str>> {
        match &self.state {
            State::Multipart(name) => Some(name.as_deref()),
            _ => None,
        }
    }

    /// From where the part's bytes as sent are still needed, in the message.
    pub(crate) fn needed_from(&self) -> usize {
        match &self.state {
            // Two bytes before the last line start decoded: where the final walk of the message resumes its
            // search for delimiters.
            State::Decoding(d) if d.total > 0 => d
                .decoded_to
                .min(d.rest_from.unwrap_or(usize::MAX))
                .saturating_sub(2)
                .max(self.start),
            _ => self.start,
        }
    }

    pub(crate) fn memory_usage(&self) -> usize {
        match &self.state {
            State::Decoding(d) => match &d.sink {
                Sink::Held(v) => v.capacity(),
                Sink::Streamed(s) => s.memory_usage(),
            },
            _ => 0,
        }
    }

    /// Looks at the part so far (`data` is the message from `base` on, and no line of it that is complete
    /// is a delimiter). `cut`: how much of what it decodes to its payload may keep, `None` if the payload
    /// would not be admitted at all (then the part is held, and scanned as any other).
    pub(crate) fn advance(&mut self, db: &Database, cut: Option<u64>, data: &[u8], base: usize) {
        if let State::Head { searched, read_at } = &mut self.state {
            let Some(bytes) = self.start.checked_sub(base).and_then(|s| data.get(s..)) else {
                self.state = State::Held;
                return;
            };
            // Read whole only when a blank line arrived (it ends a header block) or the bytes doubled (a
            // line that is not a field ends one too): a header block in small chunks is read a few times,
            // not once per chunk.
            let blank = has_blank_line(&bytes[searched.saturating_sub(2).min(bytes.len())..]);
            *searched = bytes.len();
            let head = if blank || bytes.len() >= 2 * *read_at {
                *read_at = bytes.len();
                walker::complete_head(bytes)
            } else {
                None
            };
            let Some(head) = head else {
                if bytes.len() > MAX_HEAD {
                    self.state = State::Held;
                }
                return;
            };
            self.state = match cut {
                _ if head.is_multipart() => State::Multipart(head.filename),
                Some(cut) if head.only_base64() => State::Decoding(Box::new(Decoding64 {
                    body_start: self.start + head.body_start,
                    decoded_to: self.start + head.body_start,
                    searched: 0,
                    head,
                    decoder: base64::Decoder::default(),
                    rest_from: None,
                    total: 0,
                    cut,
                    scratch: Vec::new(),
                    sink: Sink::Held(Vec::new()),
                    typed: false,
                })),
                _ => State::Held,
            };
        }
        if let State::Decoding(d) = &mut self.state {
            let held = base + data.len();
            let Some(from) = d.decoded_to.checked_sub(base) else {
                debug_assert!(false, "a part's bytes were let go before they were decoded");
                return;
            };
            // Complete lines only: the line end before a delimiter is not the body's, and a line decides
            // whether it is base64 when it is whole.
            // Only the bytes new since the last look: a long line in small chunks is searched once.
            let new_from = d.searched.max(d.decoded_to);
            d.searched = held;
            let Some(nl) = memchr::memrchr(b'\n', data.get(new_from - base..).unwrap_or(&[]))
            else {
                return;
            };
            let upto = new_from + nl + 1;
            debug_assert!(upto <= held);
            d.decode(db, data.get(from..upto - base).unwrap_or(&[]));
            d.decoded_to = upto;
        }
    }

    /// The part is complete: it ends at `end` in the message (`data` holds it from `base` on). What the
    /// scan needs instead of its bytes, or `None` when it was not decoded as it arrived (then its bytes are
    /// all held).
    pub(crate) fn finish(
        self,
        db: &Database,
        data: &[u8],
        base: usize,
        end: usize,
    ) -> Option<Finished> {
        let State::Decoding(mut d) = self.state else {
            return None;
        };
        let raw = |r: std::ops::Range<usize>| -> &[u8] {
            let bytes = r
                .start
                .checked_sub(base)
                .zip(r.end.checked_sub(base))
                .and_then(|(s, e)| data.get(s..e));
            debug_assert!(
                bytes.is_some(),
                "a streamed part's bytes were let go too early"
            );
            bytes.unwrap_or(&[])
        };
        if end > d.decoded_to {
            d.decode(db, raw(d.decoded_to..end));
        }
        let mut sink_bytes = Vec::new();
        let (invalid, _) = std::mem::take(&mut d.decoder).finish(&mut sink_bytes);
        d.accept(db, &sink_bytes);
        let Decoding64 {
            head,
            body_start,
            rest_from,
            total,
            mut sink,
            ..
        } = *d;
        let mut walked = walker::Walked {
            filename: head.filename,
            declares_html: head.declares_html,
            damage: head.damage,
            ..walker::Walked::default()
        };
        if invalid > 0 {
            walked.damage.push(walker::base64_damage(invalid));
        }
        let body_end = end.max(body_start);
        let from = rest_from.unwrap_or(body_end).min(body_end);
        let text = raw(from..body_end);
        let payload = total > 0;
        for (suffix, reading) in walker::after_base64(payload, text, from - body_start) {
            let bytes = match reading {
                Decoding::Identity(at) => raw(body_start + at..body_end).to_vec(),
                Decoding::Bytes(b) => b,
            };
            walked.children.push(walker::Child {
                kind: walker::ChildKind::Payload,
                segment: None,
                suffix,
                data: walker::ChildData::Owned(bytes),
            });
        }
        if let Sink::Streamed(s) = &mut sink {
            s.finish(db);
        }
        Some(Finished {
            walked,
            payload: payload.then_some((total, sink)),
        })
    }
}

impl Decoding64 {
    /// Decodes raw bytes of the body (whole lines, but for the last piece).
    fn decode(&mut self, db: &Database, raw: &[u8]) {
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        self.decoder.feed(raw, &mut out);
        self.rest_from = self.decoder.first_odd_line().map(|at| self.body_start + at);
        self.accept(db, &out);
        self.scratch = out;
    }

    /// Takes decoded bytes: counted, and given to the sink up to the cut.
    fn accept(&mut self, db: &Database, bytes: &[u8]) {
        let room = usize::try_from(self.cut.saturating_sub(self.total)).unwrap_or(usize::MAX);
        self.total += bytes.len() as u64;
        let bytes = &bytes[..bytes.len().min(room)];
        if bytes.is_empty() {
            return;
        }
        match &mut self.sink {
            Sink::Streamed(s) => s.push(db, bytes),
            Sink::Held(held) => {
                extend_sparingly(held, bytes);
                // The type is decided once: a payload held for good is not typed again with every piece.
                if !self.typed && held.len() >= DECIDE {
                    self.typed = true;
                    if let Some(streamed) = streamable(db, held, &self.head) {
                        let mut s = Box::new(streamed);
                        let first = std::mem::take(held);
                        s.push(db, &first);
                        self.sink = Sink::Streamed(s);
                    }
                }
            }
        }
    }
}

/// Below this size a buffer grows by a quarter when it must grow, above by half.
const SMALL_BUFFER: usize = 256 << 10;

/// Appends `bytes`, growing `v` sparingly when it must grow, not doubling it. What a session holds whole
/// (an archive in flight, a message it cannot let go of) is the largest thing it holds, and doubling leaves
/// up to as much again unused: it grows by half (each byte is then copied about three times as the buffer
/// grows, not two). A buffer let go of as it goes (the message, a payload's tail) stays small and keeps
/// the room of the most it held: it grows by a quarter, so that room is at most a quarter more than that.
pub(crate) fn extend_sparingly(v: &mut Vec<u8>, bytes: &[u8]) {
    if v.capacity() - v.len() < bytes.len() {
        let step = match v.capacity() < SMALL_BUFFER {
            true => v.capacity() / 4,
            false => v.capacity() / 2,
        };
        let want = (v.len() + bytes.len()).max(v.capacity() + step);
        v.reserve_exact(want - v.len());
    }
    v.extend_from_slice(bytes);
}

/// A payload to match as it arrives, if its type (known from its first bytes) needs no more than the
/// head, the tail and what signatures read around their hits: not a container, HTML, mail or a text body,
/// which are read whole (a document's search by heuristics is done on the way); and only when the database's signatures for the type read a bounded span.
fn streamable(db: &Database, first: &[u8], head: &EntityHead) -> Option<Streamed> {
    // The whole payload would be typed alike: detection reads at most 0x8006 bytes, or where an MZ
    // header's PE offset points.
    let pe_offset = first
        .get(0x3c..0x40)
        .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]) as usize);
    if first.starts_with(b"MZ") && pe_offset.is_none_or(|o| o.saturating_add(4) > first.len()) {
        return None;
    }
    let file_type = match filetype::detect(first) {
        FileType::Text if head.declares_html => FileType::Html,
        t => t,
    };
    let whole = matches!(
        file_type,
        FileType::Mail
            | FileType::Html
            | FileType::Zip
            | FileType::Tar
            | FileType::Gzip
            | FileType::Bzip2
    );
    // Heuristics read the whole of a VBA project by name, and the first MiB of a text body (no name).
    let vba = crate::heuristics::documents::is_vba_project(head.filename.as_deref());
    let body_text = file_type == FileType::Text && head.filename.is_none();
    if whole || vba || body_text {
        return None;
    }
    let span = db.span(file_type.target()).ok()?;
    let mut atoms = AtomStream::default();
    // Its hits are all there will be of the search: never give up.
    atoms.keep_every_hit();
    Some(Streamed {
        file_type,
        span,
        head: Vec::new(),
        tail: Vec::new(),
        base: 0,
        searched: 0,
        atoms,
        pre: PreVerified::default(),
        digest: StreamDigest::default(),
        footer: Vec::new(),
        docs: DocumentScan::new(file_type),
        // A part's payload is in mail.
        pcre: db.pcre_stream(file_type.target(), Some(FileType::Mail)),
    })
}
