//! A part of a message decoded and matched while it arrives, so that a session holds neither the part as
//! sent nor, for a type that needs no more, the whole of what it decodes to.
//!
//! A session ([`crate::ScanSession`]) scans each part of a multipart message when the delimiter after it
//! arrives (`scan.rs`'s `Prescan`). The part in flight would then be held whole until its end: 1.33 MB of
//! base64 for a 1 MB attachment. A [`PartStream`] follows the part in flight instead. Once its header block
//! has ended, if the part is a leaf declared base64 and nothing else (what almost every attachment is), it
//! decodes each complete line as it arrives, and each whole stretch of a line longer than one
//! ([`base64::LONG_LINE`]: a body sent as one unbroken line), exactly as the walk of the whole part would
//! ([`walker::after_base64`]: the body is decoded whole, and what follows its first line that is not base64,
//! or the stretch of a long one that shows it, is kept as sent for the other readings). The raw bytes decoded
//! are no longer needed.
//!
//! What the part decodes to goes to a [`Sink`]: held, while its type is not known, and for good when the
//! type needs its whole (archives, mail: the buffered containers); or, for the other types (images,
//! executables, PDF and OLE2 documents, HTML, text, anything else), matched as it arrives: atoms searched,
//! hits verified while their bytes are held, bytes hashed, the regular expressions of logical signatures for
//! the type searched ([`crate::matcher::regexes`]), a document's and HTML's heuristic search done, a text
//! body's password mention looked for, and then let go of, keeping only the head and what signatures read
//! around hits and at the end (the same bookkeeping as the session's own for the message, `session.rs`).
//! The body of a message that is not multipart is followed the same way, and so is the part in flight of a
//! part that is itself a multipart (`scan/prescan.rs`'s `Nested`), and the body of a forwarded message
//! (`Forwarded`, which matches that message as mail with a [`Streamed`] of its own).
//!
//! A leaf sent as is or declared quoted-printable ([`TextBody`]: a long text body) is read the same way,
//! once its first [`walker::READING_HEAD`] bytes have chosen its readings as the walk chooses them: as
//! declared, and as base64 or quoted-printable when those bytes look so. Each reading has a sink of its own,
//! fed whole lines as they are known to be the body's; the raw bytes read are let go of. Its uuencoded
//! blocks are decoded line by line too, each a reading of its own ([`Blocks`]; the walk compares only those
//! blocks with one another, by length and SHA-256 here, never the readings decoded on the way). This is done
//! only when the limits cannot cut any reading ([`PartStream::advance`]'s `whole`): a reading's cut depends
//! on the length of the ones before it, known only at the end.
//!
//! When the part is complete, [`PartStream::finish`] hands the scan what it needs to scan the part exactly
//! as it would the part held whole ([`Finished`]).

use crate::decode::base64;
use crate::decode::{qp, uu};
use crate::engine::Database;
use crate::filetype::{self, FileType};
use crate::heuristics::documents::DocumentScan;
use crate::heuristics::html::{HtmlScan, PasswordScan};
use crate::matcher::hashes::StreamDigest;
use crate::matcher::regexes::PcreStream;
use crate::matcher::{AtomStream, PreVerified, RootSpan, View};
use crate::mime::walker::{self, Decoding, EntityHead};

/// Decoded bytes after which a part's type is decided: more than type detection reads (0x8006 bytes, or up
/// to an MZ header's PE offset, which `streamable` checks).
const DECIDE: usize = 36 << 10;

/// The least number of new decoded bytes searched at once.
const SEARCH_STEP: usize = 8 << 10;

/// A scratch buffer that a long line grew past this is given back once the line is read, not kept for the
/// rest of the part ([`give_back`]).
const SCRATCH_KEPT: usize = 2 * SEARCH_STEP;

/// Gives back `scratch`'s memory if a long line grew it past [`SCRATCH_KEPT`].
fn give_back(scratch: &mut Vec<u8>) {
    if scratch.capacity() > SCRATCH_KEPT {
        *scratch = Vec::new();
    }
}

/// The least number of decoded bytes let go of at once.
const LET_GO_STEP: usize = 8 << 10;

/// Bytes kept beyond what signatures read at the end: the atom search's own margin, and the last 512 bytes
/// and 8 that heuristics look at (a disk image's footer).
const MARGIN: usize = 520 + 64;

/// The longest header block of a part decoded as it arrives: past this, the part is held.
const MAX_HEAD: usize = 64 << 10;

/// Whether the bytes hold a blank line.
pub(crate) fn has_blank_line(bytes: &[u8]) -> bool {
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
    /// Its header block declares a message forwarded as sent ([`EntityHead::message_as_sent`]): held
    /// here; a part of the message may follow that message (`scan/prescan.rs`'s `Forwarded`).
    Message(Box<EntityHead>),
    Decoding(Box<Decoding64>),
    Text(Box<TextBody>),
}

/// A base64 body being decoded.
#[derive(Debug)]
struct Decoding64 {
    head: EntityHead,
    /// Where the body starts in the message.
    body_start: usize,
    decoder: base64::Decoder,
    /// Raw bytes decoded up to here (a line start, or a stretch of a long line, see
    /// [`base64::LONG_LINE`]), and looked at for a line end.
    decoded_to: usize,
    searched: usize,
    /// Where the line in flight starts.
    line_start: usize,
    /// The start of the body's first line that is not base64 (or of the stretch of a long one that shows
    /// it), once seen: the raw bytes are kept from there.
    rest_from: Option<usize>,
    scratch: Vec<u8>,
    payload: Reading,
}

/// One reading of a part's body (what it decodes to): counted, and given to its sink up to the cut.
#[derive(Debug)]
struct Reading {
    /// Bytes decoded in all, and how many of them the payload keeps (the limits, as at its admission).
    total: u64,
    cut: u64,
    sink: Sink,
    /// Whether the payload's type was looked at (after [`DECIDE`] bytes) to choose its sink.
    typed: bool,
    /// Held, complete and typed, and not a container: it holds nothing whose members the limits count.
    plain: bool,
}

/// What the readings of a body before one are: matched as they arrive, some not typed yet, or some held
/// for good. A reading is matched as it arrives only when those before it are: what they hold (an archive's
/// members) could change what the limits let it keep.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Before {
    Streamed,
    Open,
    Held,
}

/// A body not declared base64 (as sent, or quoted-printable; see [`walker::READING_HEAD`]) being read.
#[derive(Debug)]
struct TextBody {
    head: EntityHead,
    /// Where the body starts in the message.
    body_start: usize,
    /// Whether it is declared quoted-printable.
    qp_declared: bool,
    /// How far the body was read as sent: a line is read once the line after it is complete, or a stretch
    /// of a long line at a time.
    known: KnownLines,
    cut: u64,
    /// Once its first [`walker::READING_HEAD`] bytes are read: the readings they choose.
    readings: Option<TextReadings>,
}

/// The readings of a [`TextBody`] its first bytes chose, in the walk's order.
#[derive(Debug)]
struct TextReadings {
    /// As sent (for a body not declared quoted-printable).
    sent: Option<Reading>,
    /// As base64, when the first bytes look so.
    base64: Option<(base64::Decoder, Reading)>,
    /// As quoted-printable: declared, or when the first bytes look so (and not base64).
    qp: Option<Reading>,
    /// Whether the quoted-printable decoding differs from the body as sent (it is never longer).
    qp_changed: bool,
    scratch: Vec<u8>,
    /// Its uuencoded blocks, read last.
    blocks: Blocks,
}

/// Where the first line of `raw` (which starts at a line start) that starts with `begin` starts; else where
/// its last line starts (`raw` has no line break after it).
fn next_begin(raw: &[u8]) -> Result<usize, usize> {
    memchr::memmem::find_iter(raw, b"begin")
        .find(|&at| at == 0 || raw[at - 1] == b'\n')
        .ok_or_else(|| memchr::memrchr(b'\n', raw).map_or(0, |nl| nl + 1))
}

/// What is kept of a line for the uuencoded blocks, unless it may open one: more than what decoding a line
/// reads (85 characters) or ending a block compares (`end`, `====`), so that a longer line is told apart.
const MAX_BLOCK_LINE: usize = 128;

/// The most uuencoded blocks of one body matched as they arrive: each keeps a stream's state until the body
/// ends; later ones are held decoded (as the body as sent was held from its first block on).
const MAX_STREAMED_BLOCKS: usize = 4;

/// The uuencoded blocks of a [`TextBody`], decoded as its lines are read ([`uu::LineDecoder`]), each a
/// reading of its own. The walk drops a block that is empty or like one before it (`walker::decodings`):
/// blocks are compared by length and SHA-256, since their bytes are let go of.
#[derive(Debug)]
struct Blocks {
    decoder: uu::LineDecoder,
    /// The end of the last piece read when it was not a whole line (only the body's last piece is not).
    partial: Vec<u8>,
    /// The block open: its name, its reading and the digest of what it decoded so far.
    open: Option<(String, Reading, sha2::Sha256)>,
    /// The blocks ended, in order: name, digest, reading.
    done: Vec<(String, [u8; 32], Reading)>,
    /// What the blocks ended are to the readings after them, and how many are matched as they arrived.
    done_before: Before,
    /// In a line outside any block that opens none, passed over to its end.
    passing: bool,
    streamed: usize,
    cut: u64,
    scratch: Vec<u8>,
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
    /// For a text without a name (a message's own text): whether it mentions a password, looked for on the
    /// way.
    password: Option<PasswordScan>,
    /// For HTML: the heuristics' search, done on the way; its findings once the payload has ended.
    html: Option<HtmlScan>,
    html_found: Option<Vec<(&'static str, String)>>,
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

    /// For HTML: what the heuristics' search found, done on the way.
    pub(crate) fn html_found(&self) -> Option<&[(&'static str, String)]> {
        self.html_found.as_deref()
    }

    /// For a text without a name: whether it reads as giving a password (what heuristics ask of a message's
    /// own text).
    pub(crate) fn mentions_password(&self) -> Option<bool> {
        self.password.as_ref().map(PasswordScan::found)
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

    pub(crate) fn memory_usage(&self) -> usize {
        self.head.capacity()
            + self.tail.capacity()
            + self.atoms.memory_usage()
            + self.pre.memory_usage()
            + self.pcre.memory_usage()
            + self.html.as_ref().map_or(0, HtmlScan::memory_usage)
    }

    /// Adds decoded bytes, a step's worth at a time: each is searched, verified and let go of (as far as
    /// the searches allow) before the next is added, so that the tail does not grow with the size of the
    /// chunks the message arrives in.
    pub(crate) fn push(&mut self, db: &Database, bytes: &[u8]) {
        for piece in bytes.chunks(SEARCH_STEP) {
            self.push_piece(db, piece);
        }
    }

    /// Adds decoded bytes; searches, verifies and lets go of what is no longer read.
    fn push_piece(&mut self, db: &Database, bytes: &[u8]) {
        extend_sparingly(&mut self.tail, bytes, self.base > 0);
        if let Some(d) = &mut self.docs {
            d.feed(bytes, crate::heuristics::INSPECT_LIMIT);
        }
        if let Some(p) = &mut self.password {
            p.feed(bytes);
        }
        if let Some(h) = &mut self.html {
            h.feed(bytes, crate::heuristics::INSPECT_LIMIT);
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
        let_go_front(&mut self.tail, upto, self.base == 0);
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

    /// Ends the payload: the search completed and every byte hashed. The searches of regular expressions
    /// are finished on the bytes held only where their signature's trigger holds
    /// ([`PcreStream::count`](crate::matcher::regexes::PcreStream::count)).
    pub(crate) fn finish(&mut self, db: &Database) {
        if let Some(h) = self.html.take() {
            let mut found = Vec::new();
            h.finish(&mut found);
            self.html_found = Some(found);
        }
        db.body
            .advance(&mut self.atoms, &self.tail, self.base, true);
        if self.base > 0 {
            self.digest.update([&db.hashes, &db.allow], &self.tail);
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
    /// The payloads decoded as the part arrived, in order, before the children: each with the suffix the
    /// walk gives it (`(as base64)`), its decoded length before any cut, and what was kept of it.
    pub(crate) payloads: Vec<(Option<String>, u64, Sink)>,
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
            State::Text(t) => Some(t.body_start),
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

    /// Once its header block has ended, whether it is a message forwarded as sent: its header block, and
    /// where the message (its body) starts in the message.
    pub(crate) fn forwarded(&self) -> Option<(&EntityHead, usize)> {
        match &self.state {
            State::Message(head) => Some((head, self.start + head.body_start)),
            _ => None,
        }
    }

    /// From where the part's bytes as sent are still needed, in the message.
    pub(crate) fn needed_from(&self) -> usize {
        match &self.state {
            // Two bytes before the last line start decoded: where the final walk of the message resumes its
            // search for delimiters.
            State::Decoding(d) if d.payload.total > 0 => d
                .decoded_to
                .min(d.rest_from.unwrap_or(usize::MAX))
                .saturating_sub(2)
                .max(self.start),
            State::Text(t) if t.readings.as_ref().is_some_and(TextReadings::let_go) => {
                t.known.read_to.saturating_sub(2).max(self.start)
            }
            _ => self.start,
        }
    }

    pub(crate) fn memory_usage(&self) -> usize {
        match &self.state {
            State::Decoding(d) => d.payload.memory_usage() + d.scratch.capacity(),
            State::Text(t) => t.readings.as_ref().map_or(0, |r| {
                r.scratch.capacity()
                    + r.blocks.memory_usage()
                    + r.sent.as_ref().map_or(0, Reading::memory_usage)
                    + r.base64.as_ref().map_or(0, |b| b.1.memory_usage())
                    + r.qp.as_ref().map_or(0, Reading::memory_usage)
            }),
            _ => 0,
        }
    }

    /// Looks at the part so far (`data` is the message from `base` on, and no line of it that is complete
    /// is a delimiter). `cut`: how much of what it decodes to its payload may keep, `None` if the payload
    /// would not be admitted at all (then the part is held, and scanned as any other).
    ///
    /// `whole`: whether the limits let every reading of a body not declared base64 keep all it decodes to,
    /// however long the body (then those readings are decoded as the body arrives, see [`TextBody`]).
    /// `boundaries`: those of the multiparts the part is in, whose delimiter lines would end it.
    pub(crate) fn advance(
        &mut self,
        db: &Database,
        cut: Option<u64>,
        whole: bool,
        data: &[u8],
        base: usize,
        boundaries: &[&str],
    ) {
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
                walker::complete_head(bytes, boundaries)
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
                _ if head.message_as_sent() => State::Message(Box::new(head)),
                Some(cut) if head.only_base64() => State::Decoding(Box::new(Decoding64 {
                    body_start: self.start + head.body_start,
                    decoded_to: self.start + head.body_start,
                    line_start: self.start + head.body_start,
                    searched: 0,
                    head,
                    decoder: base64::Decoder::default(),
                    rest_from: None,
                    scratch: Vec::new(),
                    payload: Reading::new(cut),
                })),
                Some(cut) if whole => match head.only_text() {
                    Some(qp_declared) => State::Text(Box::new(TextBody {
                        body_start: self.start + head.body_start,
                        known: KnownLines::new(self.start + head.body_start),
                        head,
                        qp_declared,
                        cut,
                        readings: None,
                    })),
                    None => State::Held,
                },
                _ => State::Held,
            };
        }
        if let State::Text(t) = &mut self.state {
            t.advance(db, data, base, boundaries);
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
            let mut upto = d.decoded_to;
            if let Some(nl) = memchr::memrchr(b'\n', data.get(new_from - base..).unwrap_or(&[])) {
                upto = new_from + nl + 1;
                d.line_start = upto;
            }
            // But for the whole stretches of a line longer than one: they are judged apart, and no
            // delimiter line starts otherwise than with "--" and a boundary.
            // (A line some of which was decoded was looked at already.)
            let looked = d.decoded_to > d.line_start;
            if let Some(end) =
                walker::long_line_stretches(data, base, d.line_start, looked, boundaries)
            {
                upto = upto.max(end);
            }
            debug_assert!(upto <= held);
            if upto > d.decoded_to {
                d.decode(db, data.get(from..upto - base).unwrap_or(&[]));
                d.decoded_to = upto;
            }
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
        let mut d = match self.state {
            State::Decoding(d) => d,
            State::Text(t) => return t.finish(db, data, base, end),
            _ => return None,
        };
        let raw = |r| held_raw(data, base, r);
        if end > d.decoded_to {
            d.decode(db, raw(d.decoded_to..end));
        }
        let mut sink_bytes = Vec::new();
        let (invalid, _) = std::mem::take(&mut d.decoder).finish(&mut sink_bytes);
        d.payload.accept(db, &d.head, &sink_bytes, Before::Streamed);
        let Decoding64 {
            head,
            body_start,
            rest_from,
            payload: reading,
            ..
        } = *d;
        let total = reading.total;
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
        Some(Finished {
            walked,
            payloads: payload
                .then(|| (None, total, reading.finish(db)))
                .into_iter()
                .collect(),
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
        self.payload.accept(db, &self.head, &out, Before::Streamed);
        self.scratch = out;
        give_back(&mut self.scratch);
    }
}

/// The bytes at `r` in the message, of which `data` holds those from `base` on.
pub(crate) fn held_raw(data: &[u8], base: usize, r: std::ops::Range<usize>) -> &[u8] {
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
}

/// How far a part in flight is known to be its own as it arrives, for what reads it a line at a time
/// without its line break being known to be the part's (a text body's readings, a forwarded message's
/// matching): the line break before a line that is not a delimiter is the part's; the one before a
/// delimiter is the delimiter's.
#[derive(Debug)]
pub(crate) struct KnownLines {
    /// Where the part was read to (a line start, or inside a long line).
    pub(crate) read_to: usize,
    /// Where the bytes held were looked at up to: a long line in small chunks is searched once.
    searched: usize,
    /// Where the line in flight starts.
    line_at: usize,
}

impl KnownLines {
    /// The part read from `start` on (in the message).
    pub(crate) fn new(start: usize) -> KnownLines {
        KnownLines {
            read_to: start,
            searched: start,
            line_at: start,
        }
    }

    /// Where what is known to be the part's now ends, if past where it was read to (`data` holds the
    /// message from `base` on): the start of its last complete line, or, in a line in flight longer than a
    /// stretch that no delimiter starts ([`walker::long_line_stretches`]), the end of its whole stretches,
    /// less what `cut` leaves of what was not read of them (how much of those bytes may be read apart).
    /// `boundaries`: those of the multiparts the part is in.
    pub(crate) fn advance(
        &mut self,
        data: &[u8],
        base: usize,
        cut: impl Fn(&[u8]) -> usize,
        boundaries: &[&str],
    ) -> Option<usize> {
        let held_end = base + data.len();
        let new_from = self.searched.max(self.read_to);
        let line_from = self.searched.max(self.line_at).min(held_end);
        self.searched = held_end;
        let Some(new) = new_from.checked_sub(base).and_then(|at| data.get(at..)) else {
            debug_assert!(false, "a part's bytes were let go before they were read");
            return None;
        };
        // The last complete line ends at `new_from + nl`; what is known ends where it starts.
        let lines = memchr::memrchr(b'\n', new).and_then(|nl| {
            let unread = held_raw(data, base, self.read_to..new_from + nl);
            memchr::memrchr(b'\n', unread).map(|last| self.read_to + last + 1)
        });
        if let Some(n) = memchr::memrchr(b'\n', held_raw(data, base, line_from..held_end)) {
            self.line_at = line_from + n + 1;
        }
        // A line some of which was read was looked at already, and its start may be let go of.
        let looked = self.read_to > self.line_at;
        let stretches = walker::long_line_stretches(data, base, self.line_at, looked, boundaries)
            .map(|end| {
                let from = self.read_to.max(self.line_at).min(end);
                from + cut(held_raw(data, base, from..end))
            });
        lines.max(stretches).filter(|&to| to > self.read_to)
    }
}

impl TextBody {
    /// Reads the lines new in `data` (the message from `base` on) that are followed by a complete line, and
    /// the whole stretches of a line in flight longer than one that no delimiter starts (see
    /// [`walker::long_line_stretches`]), so that a body sent as one long line is not held until it ends.
    fn advance(&mut self, db: &Database, data: &[u8], base: usize, boundaries: &[&str]) {
        // A long line's stretches not inside a quoted-printable escape or soft line break, which its
        // decoding reads whole.
        if let Some(to) = self
            .known
            .advance(data, base, qp::cut_within_line, boundaries)
        {
            self.read(db, data, base, to);
        }
    }

    /// Reads the body from where it was read to `to` (`data` holds the message from `base` on).
    fn read(&mut self, db: &Database, data: &[u8], base: usize, to: usize) {
        let piece = held_raw(data, base, self.known.read_to..to);
        self.known.read_to = to;
        if let Some(r) = &mut self.readings {
            r.feed(db, &self.head, piece);
            return;
        }
        if to - self.body_start < walker::READING_HEAD {
            return;
        }
        // The first bytes are all there: they choose the readings, which take the body so far.
        let body = held_raw(data, base, self.body_start..to);
        let Some(shape) = body.get(..walker::READING_HEAD) else {
            return;
        };
        let mut r = TextReadings::choose(shape, self.qp_declared, self.cut);
        r.feed(db, &self.head, body);
        self.readings = Some(r);
    }

    /// The body is complete: the part ends at `end` (`data` holds the message from `base` on). `None` when
    /// its readings were never chosen (it is shorter than their choice needs): then its bytes are all held.
    fn finish(mut self, db: &Database, data: &[u8], base: usize, end: usize) -> Option<Finished> {
        let body_end = end.max(self.body_start);
        self.readings.as_ref()?;
        if body_end > self.known.read_to {
            self.read(db, data, base, body_end);
        }
        let mut r = self.readings?;
        if let Some((decoder, reading)) = &mut r.base64 {
            let mut rest = Vec::new();
            std::mem::take(decoder).finish(&mut rest);
            reading.accept(db, &self.head, &rest, Before::Streamed);
        }
        let before = r.before();
        r.blocks.finish(db, &self.head, before);
        let mut walked = walker::Walked {
            filename: self.head.filename,
            declares_html: self.head.declares_html,
            damage: self.head.damage,
            ..walker::Walked::default()
        };
        // The walk's readings, in its order and with its suffixes (see `walker::decodings`): a decoding that
        // is empty or the body as sent is not read, nor a uuencoded block like one before it.
        let mut readings: Vec<(Option<String>, Reading)> = Vec::new();
        let suffix = |first: bool, s: &str| (!first).then(|| s.to_string());
        if let Some(sent) = r.sent {
            readings.push((None, sent));
        }
        // A quoted-printable decoding is the body as sent exactly when it changed nothing.
        let changed = r.qp_changed;
        let mut unchanged = None;
        if let Some(q) = r.qp.take_if(|_| self.qp_declared) {
            match changed && q.total > 0 {
                true => readings.push((None, q)),
                false => unchanged = Some(q),
            }
        }
        if let Some((_, b)) = r.base64.filter(|(_, b)| b.total > 0) {
            readings.push((suffix(readings.is_empty(), "(as base64)"), b));
        }
        if let Some(q) = r.qp.filter(|q| changed && q.total > 0) {
            readings.push((suffix(readings.is_empty(), "(as quoted-printable)"), q));
        }
        let mut kept: Vec<(u64, [u8; 32])> = Vec::new();
        for (name, digest, block) in r.blocks.done {
            if kept.contains(&(block.total, digest)) {
                continue;
            }
            kept.push((block.total, digest));
            let first = readings.is_empty();
            readings.push((suffix(first, &format!("(uuencoded \"{name}\")")), block));
        }
        // Nothing else: the body as sent, which a quoted-printable decoding that changed nothing is; if it
        // decoded to nothing, the body was held (see `needed_from`).
        if readings.is_empty()
            && walked.children.is_empty()
            && let Some(q) = unchanged
        {
            match changed {
                false => readings.push((None, q)),
                true => walked.children.push(walker::Child {
                    kind: walker::ChildKind::Payload,
                    segment: None,
                    suffix: None,
                    data: walker::ChildData::Owned(
                        held_raw(data, base, self.body_start..body_end).to_vec(),
                    ),
                }),
            }
        }
        let payloads = readings
            .into_iter()
            .map(|(suffix, reading)| (suffix, reading.total, reading.finish(db)))
            .collect();
        Some(Finished { walked, payloads })
    }
}

impl TextReadings {
    /// Whether the body as sent may be let go of: it is a reading of its own, or a quoted-printable
    /// decoding has given a byte (one that gives none is read as sent, see `TextBody::finish`).
    fn let_go(&self) -> bool {
        self.sent.is_some() || self.qp.as_ref().is_some_and(|q| q.total > 0)
    }

    /// The readings the body's first bytes (`shape`) choose, as the walk chooses them.
    fn choose(shape: &[u8], qp_declared: bool, cut: u64) -> TextReadings {
        let shaped = base64::looks_like(shape);
        TextReadings {
            sent: (!qp_declared).then(|| Reading::new(cut)),
            base64: shaped.then(|| (base64::Decoder::default(), Reading::new(cut))),
            qp: (qp_declared || (!shaped && qp::looks_like(shape))).then(|| Reading::new(cut)),
            qp_changed: false,
            scratch: Vec::new(),
            blocks: Blocks::new(cut),
        }
    }

    /// What the readings before the uuencoded blocks are to them.
    fn before(&self) -> Before {
        [
            self.sent.as_ref(),
            self.base64.as_ref().map(|b| &b.1),
            self.qp.as_ref(),
        ]
        .into_iter()
        .flatten()
        .fold(Before::Streamed, |b, r| b.then(r.before()))
    }

    /// Reads the next bytes of the body (whole lines, but for the last piece) into each reading, a few
    /// lines at a time: what each decodes to is matched and let go of before the next lines are read.
    fn feed(&mut self, db: &Database, head: &EntityHead, mut raw: &[u8]) {
        while !raw.is_empty() {
            // Whole lines of a step's worth, or one longer line.
            let end = memchr::memchr(b'\n', raw.get(SEARCH_STEP..).unwrap_or(&[]))
                .map_or(raw.len(), |at| SEARCH_STEP + at + 1);
            let (lines, rest) = raw.split_at(end);
            self.feed_lines(db, head, lines);
            raw = rest;
        }
        give_back(&mut self.scratch);
    }

    /// Reads whole lines (or the body's last piece) into each reading.
    fn feed_lines(&mut self, db: &Database, head: &EntityHead, raw: &[u8]) {
        let mut before = Before::Streamed;
        if let Some(r) = &mut self.sent {
            r.accept(db, head, raw, before);
            before = before.then(r.before());
        }
        if let Some((decoder, r)) = &mut self.base64 {
            self.scratch.clear();
            decoder.feed(raw, &mut self.scratch);
            r.accept(db, head, &self.scratch, before);
            before = before.then(r.before());
        }
        if let Some(r) = &mut self.qp {
            self.scratch.clear();
            qp::decode_into(raw, &mut self.scratch);
            // Decoding never lengthens: it changed something exactly when it shortened.
            self.qp_changed |= self.scratch.len() != raw.len();
            r.accept(db, head, &self.scratch, before);
            before = before.then(r.before());
        }
        self.blocks.feed(db, head, raw, before);
    }
}

impl Blocks {
    fn new(cut: u64) -> Blocks {
        Blocks {
            decoder: uu::LineDecoder::default(),
            partial: Vec::new(),
            open: None,
            done: Vec::new(),
            done_before: Before::Streamed,
            passing: false,
            streamed: 0,
            cut,
            scratch: Vec::new(),
        }
    }

    /// Reads the next bytes of the body (whole lines, but for its last piece); `before`: what the readings
    /// before the blocks are. Outside a block, only the lines that start with `begin` are read (found by one
    /// search, not line by line: most bodies have none).
    fn feed(&mut self, db: &Database, head: &EntityHead, mut raw: &[u8], before: Before) {
        while !raw.is_empty() {
            if self.passing {
                // A line outside any block that opens none: passed over to its end.
                let Some(nl) = memchr::memchr(b'\n', raw) else {
                    return;
                };
                raw = &raw[nl + 1..];
                self.passing = false;
                continue;
            }
            if self.partial.is_empty() && !self.decoder.is_open() {
                // At a line start, outside a block: on to the next line that may open one.
                match next_begin(raw) {
                    Ok(at) => raw = &raw[at..],
                    Err(tail) => {
                        // The last line, not complete: kept if it may still start with "begin".
                        let last = &raw[tail..];
                        match b"begin".starts_with(last) {
                            true => self.keep(last),
                            false => self.passing = true,
                        }
                        return;
                    }
                }
            }
            let Some(nl) = memchr::memchr(b'\n', raw) else {
                self.keep(raw);
                return;
            };
            let line = &raw[..nl];
            if self.partial.is_empty() {
                self.line(db, head, line, before);
            } else {
                self.keep(line);
                let whole = std::mem::take(&mut self.partial);
                self.line(db, head, &whole, before);
            }
            raw = &raw[nl + 1..];
        }
    }

    /// Keeps the next bytes of a line not complete yet, as far as the blocks read it: all of one that may
    /// open a block (its name is the rest of it), else what decoding or ending a block reads of it.
    fn keep(&mut self, bytes: &[u8]) {
        let first: Vec<u8> = self.partial.iter().chain(bytes).take(5).copied().collect();
        let most = match b"begin".starts_with(&first) {
            true => usize::MAX,
            false => MAX_BLOCK_LINE,
        };
        let room = most.saturating_sub(self.partial.len()).min(bytes.len());
        self.partial.extend_from_slice(&bytes[..room]);
    }

    /// Reads one line (without its line break).
    fn line(&mut self, db: &Database, head: &EntityHead, line: &[u8], before: Before) {
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        match self.decoder.line(line, &mut out) {
            uu::Line::Outside => {}
            uu::Line::Begin(name) => {
                use sha2::Digest;
                self.open = Some((name, Reading::new(self.cut), sha2::Sha256::new()));
            }
            uu::Line::Inside => self.take(db, head, &out, before),
            uu::Line::End => {
                self.take(db, head, &out, before);
                self.close();
            }
        }
        self.scratch = out;
    }

    /// Gives decoded bytes to the block open.
    fn take(&mut self, db: &Database, head: &EntityHead, bytes: &[u8], before: Before) {
        use sha2::Digest;
        // Past the blocks matched as they arrive, the others are held.
        let before = match self.streamed < MAX_STREAMED_BLOCKS {
            true => before.then(self.done_before),
            false => Before::Held,
        };
        if let Some((_, reading, digest)) = &mut self.open {
            digest.update(bytes);
            reading.accept(db, head, bytes, before);
        }
    }

    /// Ends the block open.
    fn close(&mut self) {
        use sha2::Digest;
        let Some((name, mut reading, digest)) = self.open.take() else {
            return;
        };
        // An empty block is not read (so a flood of them costs nothing until the end).
        if reading.total == 0 {
            return;
        }
        reading.settle();
        self.done_before = self.done_before.then(reading.before());
        self.streamed += usize::from(matches!(reading.sink, Sink::Streamed(_)));
        self.done.push((name, digest.finalize().into(), reading));
    }

    /// The body has ended: its last line (what follows its last line break) is read, and the block open
    /// ends with it.
    fn finish(&mut self, db: &Database, head: &EntityHead, before: Before) {
        let last = std::mem::take(&mut self.partial);
        self.line(db, head, &last, before);
        let mut out = std::mem::take(&mut self.scratch);
        out.clear();
        if self.decoder.finish(&mut out) {
            self.take(db, head, &out, before);
            self.close();
        }
        self.scratch = out;
    }

    fn memory_usage(&self) -> usize {
        self.partial.capacity()
            + self.scratch.capacity()
            + self
                .open
                .as_ref()
                .map_or(0, |(name, r, _)| name.capacity() + r.memory_usage())
            + self
                .done
                .iter()
                .map(|(name, _, r)| name.capacity() + 40 + r.memory_usage())
                .sum::<usize>()
    }
}

impl Before {
    /// What the readings before one are, once `next` is among them.
    fn then(self, next: Before) -> Before {
        self.max(next)
    }
}

impl Reading {
    fn new(cut: u64) -> Reading {
        Reading {
            total: 0,
            cut,
            sink: Sink::Held(Vec::new()),
            typed: false,
            plain: false,
        }
    }

    /// What it is to the readings after it.
    fn before(&self) -> Before {
        match (&self.sink, self.typed) {
            (Sink::Streamed(_), _) => Before::Streamed,
            (Sink::Held(_), false) => Before::Open,
            (Sink::Held(_), true) if self.plain => Before::Streamed,
            (Sink::Held(_), true) => Before::Held,
        }
    }

    /// Takes decoded bytes: counted, and given to the sink up to the cut. Once it holds [`DECIDE`] bytes
    /// its type chooses its sink, when the readings `before` it allow.
    fn accept(&mut self, db: &Database, head: &EntityHead, bytes: &[u8], before: Before) {
        let room = usize::try_from(self.cut.saturating_sub(self.total)).unwrap_or(usize::MAX);
        self.total += bytes.len() as u64;
        let bytes = &bytes[..bytes.len().min(room)];
        match &mut self.sink {
            Sink::Streamed(s) => s.push(db, bytes),
            Sink::Held(held) => {
                extend_sparingly(held, bytes, false);
                // The type is decided once: a payload held for good is not typed again with every piece.
                if self.typed || held.len() < DECIDE || before == Before::Open {
                    return;
                }
                self.typed = true;
                if before == Before::Held {
                    return;
                }
                if let Some(streamed) = streamable(db, held, head) {
                    let mut s = Box::new(streamed);
                    let first = std::mem::take(held);
                    s.push(db, &first);
                    self.sink = Sink::Streamed(s);
                }
            }
        }
    }

    /// The reading is complete, and shorter than what decides its type ([`DECIDE`]) if it was never typed:
    /// then it is held, and for the readings after it, as one matched as it arrived unless it is a container
    /// (its length is known, and it holds nothing whose members the limits count).
    fn settle(&mut self) {
        if self.typed {
            return;
        }
        self.typed = true;
        if let Sink::Held(held) = &self.sink {
            self.plain = !matches!(
                filetype::detect(held),
                FileType::Mail | FileType::Zip | FileType::Tar | FileType::Gzip | FileType::Bzip2
            );
        }
    }

    /// The reading is complete: its sink, its search completed.
    fn finish(mut self, db: &Database) -> Sink {
        if let Sink::Streamed(s) = &mut self.sink {
            s.finish(db);
        }
        self.sink
    }

    fn memory_usage(&self) -> usize {
        match &self.sink {
            Sink::Held(v) => v.capacity(),
            Sink::Streamed(s) => s.memory_usage(),
        }
    }
}

/// Below this size a buffer grows by a quarter when it must grow, above by half.
const SMALL_BUFFER: usize = 256 << 10;

/// What a buffer that lets go of bytes as it goes grows by, at least, once it has let go of some.
const STEADY_GRAIN: usize = 4 << 10;

/// Leaves a buffer that has just let go of bytes for the first time (see [`extend_sparingly`]) only the
/// room it will hold from then on, most of which it holds already: what it grew to until then (all it
/// held before any could go) it will not need again. A large buffer is one an engine recycles from
/// session to session (see `BufferPool`): it stays as it is for the next.
fn settle(v: &mut Vec<u8>) {
    if v.capacity() < SMALL_BUFFER {
        v.shrink_to(v.len().next_multiple_of(STEADY_GRAIN));
    }
}

/// Lets go of the first `upto` bytes of a buffer that lets go as it goes; the first time (`first`), it is
/// left only the room it will hold from then on ([`settle`]).
pub(crate) fn let_go_front(v: &mut Vec<u8>, upto: usize, first: bool) {
    v.drain(..upto);
    if first {
        settle(v);
    }
}

/// Appends `bytes`, growing `v` sparingly when it must grow, not doubling it. What a session holds whole
/// (an archive in flight, a message it cannot let go of) is the largest thing it holds, and doubling leaves
/// up to as much again unused: it grows by half (each byte is then copied about three times as the buffer
/// grows, not two), and by a quarter while small. A buffer that has begun to let go of bytes as it goes
/// (`steady`: the message, a payload's tail) holds about as much from then on, the span its searches
/// read: it grows only to what it needs, in steps of [`STEADY_GRAIN`], and keeps no more room than that
/// (it rarely grows again, so few bytes are copied). Past [`SMALL_BUFFER`] (a let-go held up: a buffer
/// that keeps growing) it grows by half again, so that the bytes copied stay a few times its size.
pub(crate) fn extend_sparingly(v: &mut Vec<u8>, bytes: &[u8], steady: bool) {
    if v.capacity() - v.len() < bytes.len() {
        let need = v.len() + bytes.len();
        let want = match (steady, v.capacity() < SMALL_BUFFER) {
            (true, true) => need.next_multiple_of(STEADY_GRAIN),
            (false, true) => need.max(v.capacity() + v.capacity() / 4),
            (_, false) => need.max(v.capacity() + v.capacity() / 2),
        };
        v.reserve_exact(want - v.len());
    }
    v.extend_from_slice(bytes);
}

impl Streamed {
    /// A message forwarded in the message, matched as mail as it arrives (its bytes as sent; heuristics
    /// read none of a message), when the database's signatures for mail read a bounded span.
    pub(crate) fn message(db: &Database) -> Option<Streamed> {
        Streamed::new(db, FileType::Mail, false)
    }

    fn new(db: &Database, file_type: FileType, body_text: bool) -> Option<Streamed> {
        let span = db.span(file_type.target()).ok()?;
        let mut atoms = AtomStream::default();
        // Its hits are all there will be of the search: never give up.
        atoms.keep_every_hit();
        let html = file_type == FileType::Html;
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
            // What a part holds is in mail.
            pcre: db.pcre_stream(file_type.target(), Some(FileType::Mail)),
            password: body_text.then(PasswordScan::default),
            html: html.then(HtmlScan::default),
            html_found: None,
        })
    }
}

/// A payload to match as it arrives, if its type (known from its first bytes) needs no more than the
/// head, the tail and what signatures read around their hits: not a container or mail, which are read whole
/// (the search by heuristics of a document or HTML is done on the way, and so is a text body's for a
/// password); and only when the database's signatures for the type read a bounded span.
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
        FileType::Mail | FileType::Zip | FileType::Tar | FileType::Gzip | FileType::Bzip2
    );
    // Heuristics read the whole of a VBA project by name. What they read of HTML (its links, forms and
    // scripts) and of a text body (no name: a password mention in its first MiB) is looked for on the way.
    let vba = crate::heuristics::documents::is_vba_project(head.filename.as_deref());
    if whole || vba {
        return None;
    }
    let html = file_type == FileType::Html;
    let body_text = (file_type == FileType::Text || html) && head.filename.is_none();
    Streamed::new(db, file_type, body_text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buffers_grow_sparingly_and_steady_ones_to_what_they_need() {
        // (capacity, length, bytes added, steady) → capacity after.
        let cases = [
            // Holding all: a quarter more while small, half more past SMALL_BUFFER, or what is needed.
            (40_000, 40_000, 1_000, false, 50_000),
            (40_000, 40_000, 20_000, false, 60_000),
            (SMALL_BUFFER, SMALL_BUFFER, 1, false, SMALL_BUFFER * 3 / 2),
            // Letting go: what is needed, in steps of STEADY_GRAIN, while small; half more past it.
            (40_000, 40_000, 1_000, true, 45_056),
            (45_056, 45_000, 56, true, 45_056),
            (45_056, 45_000, 57, true, 49_152),
            (45_056, 45_000, 4_000, true, 49_152),
            (SMALL_BUFFER, SMALL_BUFFER, 1, true, SMALL_BUFFER * 3 / 2),
            // Room enough: no growth.
            (50_000, 10_000, 30_000, false, 50_000),
        ];
        for (n, &(capacity, len, add, steady, want)) in cases.iter().enumerate() {
            let mut v = Vec::with_capacity(capacity);
            v.resize(len, 0u8);
            extend_sparingly(&mut v, &vec![1; add], steady);
            assert_eq!(v.len(), len + add, "case {n}");
            assert_eq!(v.capacity(), want, "case {n}");
        }
    }

    #[test]
    fn a_buffer_settles_to_what_it_holds_unless_it_is_a_recycled_one() {
        // (capacity, length) → capacity after settling.
        for (capacity, len, want) in [
            (78_125, 40_000, 40_960),
            (51_200, 45_056, 45_056),
            (SMALL_BUFFER - 1, 10, STEADY_GRAIN),
            (SMALL_BUFFER, 10, SMALL_BUFFER),
            (10 << 20, 50_000, 10 << 20),
        ] {
            let mut v = Vec::with_capacity(capacity);
            v.resize(len, 7u8);
            settle(&mut v);
            assert_eq!(v.capacity(), want, "{capacity} holding {len}");
            assert!(v.iter().all(|&b| b == 7) && v.len() == len);
        }
    }
}
