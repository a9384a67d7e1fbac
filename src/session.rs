//! One message's scan, fed as the bytes arrive.

use crate::engine::Engine;
use crate::error::Result;
use crate::filetype::FileType;
use crate::matcher::hashes::StreamDigest;
use crate::matcher::regexes::PcreStream;
use crate::matcher::{AtomStream, PreVerified, View};
use crate::scan::{Early, Prescan, Sparse};
use crate::verdict::{Detection, Verdict};

/// The least growth of the message between two looks for newly completed parts (every chunk).
const PRESCAN_STEP: usize = 1;

/// The least number of bytes a session lets go of at once: each time costs a move of what it keeps.
const LET_GO_STEP: usize = 8 << 10;

/// The least number of bytes between two verifications of the message's atom hits ahead of its end.
const PREVERIFY_STEP: usize = 64 << 10;

/// The most of a chunk taken at once: a larger chunk is fed in pieces, each let go of (as far as the
/// searches allow) before the next is added, so that what the session holds does not grow with the size
/// of the chunks it is given.
const FEED_PIECE: usize = 8 << 10;

/// The scan of one message, fed chunk by chunk during SMTP DATA.
///
/// Chunks may split the message anywhere; the verdict is the same as [`Engine::scan_bytes`] on the whole.
///
/// ```
/// let engine = portcullis::Engine::builder().build()?;
/// let mut session = engine.session();
/// for chunk in [&b"Subject: hi\r\n"[..], b"\r\nhello", b" world\r\n"] {
///     session.feed(chunk)?;
/// }
/// let verdict = session.finish()?;
/// assert!(verdict.is_clean());
/// # Ok::<(), portcullis::Error>(())
/// ```
///
/// # Work while the message arrives
/// A multipart message's parts are scanned as soon as they are complete (when the delimiter line after them
/// is): each `feed` searches the new bytes for delimiter lines and scans the parts they complete,
/// attachments, archives and all (and so for the parts of a part in flight that is itself a multipart),
/// and it runs the body-signature search of the message itself over the new bytes. The scan works in
/// stream order (each part is counted against the limits when it is scanned, after the parts before it),
/// so a part's outcome is final as soon as it is scanned; [`finish`](Self::finish) takes those outcomes
/// over and is left with the message's own matching, the rest of its walk and the last part. What it
/// matches of the message itself is what was not verified yet (the last let-go step and the reach of the
/// signatures); once the session lets go of the message's middle, the message is hashed as it arrives,
/// and the searches of regular expressions are finished on the bytes still held only for the signatures
/// whose trigger holds, which is known only then and seldom does.
/// [`Engine::scan_bytes`] does the same two steps on the whole message, so the verdict does not depend on
/// how the message was split. [`decided`](Self::decided) tells early when a signature has matched.
///
/// # Memory
/// A session lets go of the parts it has scanned once nothing at the end can read them again. For a
/// multipart message that reads one way, it holds:
/// - the message's header block and preamble (as long as they are);
/// - the message from where the part in flight still needs it: at most a let-go step (8 KiB), the last
///   piece taken (a chunk larger than 8 KiB is taken in 8 KiB pieces, each let go of before the next, so
///   what a session holds does not grow with the chunks it is given) and what the matching of the message
///   itself reads around signature hits and at its end ([`Engine::session_reach`]: under 4 KiB with the
///   built-in database);
/// - for the part in flight, when it is a leaf declared base64 (an attachment): nothing of it as sent,
///   since it is decoded line by line (a line longer than 64 KiB, 64 KiB at a time); of what it decodes to, the first 4 KiB and a tail of at most about
///   25 KiB plus what the signatures for its type read, since it is matched, hashed and searched by
///   heuristics as it arrives; unless its type needs the whole (archives, mail), which is held decoded,
///   within `max_file_size`, and opened when the part ends. A leaf sent as is or declared
///   quoted-printable (a long text or HTML body) the same, once its first 64 KiB have chosen how it is
///   read: each reading (as declared, as base64 or quoted-printable when those bytes look so) is matched
///   so;
/// - when the part in flight is itself a multipart (`multipart/alternative` or `multipart/related` holding
///   an attachment, as mail clients send them), its header block and preamble, and the same as above one
///   level down: its own parts are scanned as they complete, and its part in flight decoded as it arrives,
///   or followed the same way when it is a multipart too;
/// - when the part in flight is a message forwarded as sent (`message/rfc822`, as mail clients forward a
///   message as an attachment), once the line after its header block has arrived: what matching that
///   message as mail as it arrives keeps (as for an attachment: its first 4 KiB, a tail and its searches'
///   state), and the same as above for the message: its parts scanned as they complete and its part in
///   flight followed, or its body decoded as it arrives;
/// - the message's and the attachment's atom hits not yet verified, the occurrences verified that can
///   still decide something, and what the parts scanned found;
/// - when logical signatures for the type run regular expressions (the official ClamAV database's do, for
///   any file), the bytes their searches still read: a 16 KiB block and the expression's reach (see
///   [the crate docs](crate#regular-expressions)), where each search is, and the blocks where their
///   literals or the ends of their matches say a match may start (the DFAs that find those ends are
///   tables shared by every session; only expressions too many to fit a table make a lazy DFA with a
///   cache of 32 KiB per stream); nothing for an expression whose trigger the object's first bytes shut
///   (most of the official database's for a part of a message: see `src/matcher/gate.rs`).
///
/// Past the parts allowed (`max_parts`), the walk of the message splits off nothing more, so the rest of the
/// message is held only as far as the matching of the message itself reads it.
///
/// A buffer that lets go as it goes (the message's, a payload's tail) is cut back to what it holds when it
/// first lets go, and from then on grows only to what it needs, in 4 KiB steps.
///
/// An 8 MB message with a 6 MiB attachment is held in under 256 KiB (`tests/chunking.rs`); a 10 MB
/// message fed in 64 KiB chunks in about 78 KiB with a generated database of 100k body signatures and
/// 113 KiB with the official ClamAV one (`benches/vs-clamd.sh`); with the official database, fed in 4 KiB
/// chunks, a 4 MB text attachment in about 121 KiB, a 4 MB HTML message in about 159 KiB, a 4 MB
/// attachment to a forwarded message in about 172 KiB, and 3 MB of spam as the message's own body (read
/// as sent and as quoted-printable) in about 232 KiB (`tests/shared_data.rs`, which asserts 256 KiB for
/// each); a 4 MiB attachment inside `multipart/alternative`, in under 256 KiB, and one attached to a
/// forwarded message too (`tests/chunking.rs`). The session
/// keeps the whole message instead (up to `max_message_size`) when the message can be read more than one
/// way (two boundary candidates, a line that is a delimiter only by prefix, no declared boundary), when it
/// is not multipart and its body is declared some other way than base64, quoted-printable or as sent (a
/// body declared so is decoded and matched as it arrives, as an attachment is: every way the walk reads it,
/// as declared and as base64 or quoted-printable when its first 64 KiB look so, when the limits let each
/// reading keep all it decodes to, and its uuencoded blocks, of which the first four are matched as they
/// arrive and the others held decoded), and when the
/// database needs the whole message ([`Engine::session_reach`] says why: a regular expression at an offset
/// far from the end). Held until they end: a part declared some other way, a `message/rfc822` part declared
/// some other way than as sent (base64), and a nested multipart that reads more than one way.
/// [`memory_usage`](Self::memory_usage) tells what it holds.
///
/// # Limits
/// Bytes beyond `max_message_size` are counted, not kept, and the verdict reports
/// `Heuristics.Limits.Exceeded.MaxMessageSize`.
#[derive(Debug)]
pub struct ScanSession {
    engine: Engine,
    /// The message from `base` on.
    buffer: Vec<u8>,
    base: usize,
    /// Once `base` is past 0: the message's first bytes (its header block, its preamble and what anchored
    /// signatures read), kept for the end.
    head: Vec<u8>,
    /// What the session keeps of the bytes it lets go of.
    kept: Kept,
    /// The least number of bytes let go of at once (tests set it low; `usize::MAX` never).
    let_go_step: usize,
    received: u64,
    prescan: Prescan,
    /// Buffer length at the last look for completed parts.
    prescanned_len: usize,
    /// The least growth between two looks (tests set it to reach other splits).
    step: usize,
    /// The body-signature search of the message itself, carried from chunk to chunk.
    atoms: AtomStream,
}

impl ScanSession {
    pub(crate) fn new(engine: Engine, buffer: Vec<u8>) -> ScanSession {
        ScanSession {
            engine,
            buffer,
            base: 0,
            head: Vec::new(),
            kept: Kept::default(),
            let_go_step: LET_GO_STEP,
            received: 0,
            prescan: Prescan::default(),
            prescanned_len: 0,
            step: PRESCAN_STEP,
            atoms: AtomStream::default(),
        }
    }

    /// Looks for completed parts only after every `bytes` of growth (by default after every chunk): for
    /// tests that check that early scanning changes no verdict whatever the split.
    #[doc(hidden)]
    pub fn with_prescan_step(mut self, bytes: usize) -> ScanSession {
        self.step = bytes.max(1);
        self
    }

    /// Lets go of the scanned parts of a message only in steps of at least `bytes` (by default 8 KiB;
    /// `usize::MAX`: never): for tests that check that letting go changes no verdict whatever the split.
    #[doc(hidden)]
    pub fn with_let_go_step(mut self, bytes: usize) -> ScanSession {
        self.let_go_step = bytes.max(1);
        self
    }

    /// How many bytes at the start of the message (after its head) the session has let go of so far: for
    /// tests.
    #[doc(hidden)]
    pub fn let_go_bytes(&self) -> usize {
        self.base.saturating_sub(self.head.len())
    }

    /// A signature or hash detection already found in a completed part, before the end of the message: a
    /// caller may stop spending effort on it (an SMTP server still answers only after the final dot, with
    /// [`finish`](Self::finish)'s verdict). A part's outcome is final once it is scanned, so the final
    /// verdict reports this detection too, unless the message as a whole turns out to be on the allow-list
    /// (`.fp`/`.sfp`), or the forwarded message holding the part does.
    ///
    /// ```
    /// let engine = portcullis::Engine::builder()
    ///     .load_str("local.ndb", "Local.Test:0:*:6576696c2d6d61726b6572\n")?
    ///     .build()?;
    /// let mut session = engine.session().with_prescan_step(1);
    /// session.feed(b"Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n")?;
    /// session.feed(b"--b\r\n\r\nan evil-marker\r\n--b\r\n\r\nmore text")?;
    /// assert_eq!(session.decided().map(|d| d.name()), Some("Local.Test"));
    /// # Ok::<(), portcullis::Error>(())
    /// ```
    pub fn decided(&self) -> Option<&Detection> {
        self.prescan.decided()
    }

    /// Adds the next bytes of the message.
    ///
    /// # Errors
    /// None today; the `Result` leaves room for streaming stages that can fail.
    pub fn feed(&mut self, chunk: &[u8]) -> Result<()> {
        for piece in chunk.chunks(FEED_PIECE) {
            self.feed_piece(piece);
        }
        Ok(())
    }

    /// Takes the next piece of the message (see [`FEED_PIECE`]).
    fn feed_piece(&mut self, chunk: &[u8]) {
        let max = self.engine.limits().get_max_message_size();
        let room = max.saturating_sub(self.len() as u64);
        let take = usize::try_from(room).unwrap_or(usize::MAX).min(chunk.len());
        crate::stream::extend_sparingly(&mut self.buffer, &chunk[..take], self.base > 0);
        self.received = self.received.saturating_add(chunk.len() as u64);
        if take == 0 {
            return;
        }
        // Once the message's middle is let go of, its digests are needed: it is hashed as it arrives, so
        // that its end has only the last piece to hash.
        if self.base > 0 {
            self.hash_to(self.len());
        }
        let db = self.engine.db();
        db.body
            .advance(&mut self.atoms, &self.buffer, self.base, false);
        // Finding newly completed parts searches only the new bytes, so it can follow every chunk.
        if self.len() - self.prescanned_len >= self.step {
            self.prescanned_len = self.len();
            self.prescan.advance(
                db,
                self.engine.limits(),
                self.engine.heuristics(),
                &self.buffer,
                self.base,
                self.let_go_step != usize::MAX,
            );
            self.let_go();
            self.verify_hits(PREVERIFY_STEP.min(self.let_go_step));
        }
    }

    /// Verifies the message's atom hits whose bytes have all arrived (at least `step` bytes' worth more
    /// than last time) and drops those that change nothing: a hit is 16 bytes, and text can hold one every
    /// few bytes. Only once the message is known to be matched as mail (a multipart, or a header block
    /// that has ended, see `scan.rs`'s `run_message`), when the database's signatures for mail read a
    /// bounded span around their atoms.
    fn verify_hits(&mut self, step: usize) {
        let db = self.engine.db();
        let finder = self.prescan.finder();
        let mail = finder.in_flight().is_some()
            || self.prescan.body_needed_from().is_some()
            || (finder.is_leaf()
                && crate::mime::header::has_header(if self.base == 0 {
                    &self.buffer
                } else {
                    &self.head
                }));
        if self.atoms.overflowed || !mail {
            return;
        }
        let Ok(span) = db.root_span() else {
            return;
        };
        let len = self.len();
        let below = self
            .atoms
            .floor(len)
            .min(len.saturating_sub(span.fwd + MAX_ATOM_MARGIN));
        if below < self.kept.pre.below.saturating_add(step) {
            return;
        }
        let view = View::held(&self.head, self.base, &self.buffer);
        db.body.preverify(
            &self.atoms,
            view,
            FileType::Mail.target(),
            below,
            &mut self.kept.pre,
        );
        let pre = &self.kept.pre;
        self.atoms.retain(|atom, at| pre.needs(atom, at));
    }

    /// Hashes the message up to `to`, from where it was hashed to (at or past `base`: what is let go of is
    /// hashed first).
    fn hash_to(&mut self, to: usize) {
        let db = self.engine.db();
        let from = self.kept.hashed.max(self.base);
        debug_assert_eq!(from, self.kept.hashed, "bytes were let go of unhashed");
        if let Some(bytes) = self
            .buffer
            .get(from - self.base..to.saturating_sub(self.base))
        {
            self.kept.digest.update([&db.hashes, &db.allow], bytes);
            self.kept.hashed = from + bytes.len();
        }
    }

    /// The length of the message so far (as kept: up to `max_message_size`).
    fn len(&self) -> usize {
        self.base + self.buffer.len()
    }

    /// Lets go of the bytes of the parts already scanned, when the final scan will not read them: the
    /// message reads one way only ([`walker::Parts::unambiguous`](crate::mime::walker::Parts)), and the
    /// matching of the message itself reads no further around its atom hits and from its ends than the
    /// database says ([`RootSpan`](crate::matcher::RootSpan)). Before the bytes go, the atom hits among them
    /// are verified, and they are hashed, as the end would.
    fn let_go(&mut self) {
        let db = self.engine.db();
        let finder = self.prescan.finder();
        if self.let_go_step == usize::MAX || self.atoms.overflowed {
            return;
        }
        let Ok(span) = db.root_span() else {
            return;
        };
        // What the end reads of the message besides: its head (the header block, and a multipart's
        // preamble), and from where the part in flight, or the body being decoded, is still needed.
        let (in_flight, head_end) = match (finder.unambiguous(), finder.in_flight()) {
            // Past the parts allowed: the walk of the message reads nothing more of it.
            (true, Some((_, preamble_end))) if finder.read_to_the_cap() => {
                (usize::MAX, preamble_end)
            }
            (true, Some((in_flight, preamble_end))) => (
                self.prescan.needed_from().unwrap_or(in_flight),
                preamble_end,
            ),
            _ => match self.prescan.body_needed_from() {
                Some(needed) => needed,
                None => return,
            },
        };
        let len = self.len();
        let head_len = head_end.max(span.from_start);
        let pcre = self
            .kept
            .pcre
            .get_or_insert_with(|| db.pcre_stream(FileType::Mail.target(), None));
        pcre.run(&db.logical, &self.buffer, self.base, false);
        let pcre_from = pcre.needed_from();
        let target = in_flight
            .min(self.atoms.floor(len).saturating_sub(span.back))
            .min(len.saturating_sub(span.back + span.fwd + span.from_end + MAX_ATOM_MARGIN))
            .min(pcre_from);
        if target <= self.base.max(head_len) || target - self.base < self.let_go_step {
            return;
        }
        if self.base == 0 {
            self.head = self.buffer[..head_len].to_vec();
            // From now on the hits are all there is of the message's own search: never give it up.
            self.atoms.keep_every_hit();
        }
        let upto = target - self.base;
        self.hash_to(target);
        // Every hit whose verification reads the bytes that go (below `target + span.back`) is verified now:
        // the target leaves `span.back` under the search's floor and `span.fwd` before the end.
        self.verify_hits(0);
        debug_assert!(self.kept.pre.below >= target + span.back);
        crate::stream::let_go_front(&mut self.buffer, upto, self.base == 0);
        self.base = target;
    }

    /// The heap memory the session holds, in bytes: the message as kept (its buffer, perhaps reused from
    /// an earlier session, and its head once the middle is let go of), the state of the signature search
    /// carried across chunks, and what the parts scanned early found.
    pub fn memory_usage(&self) -> usize {
        self.buffer.capacity()
            + self.head.capacity()
            + self.kept.pre.memory_usage()
            + self.atoms.memory_usage()
            + self.prescan.memory_usage()
            + self.kept.pcre.as_ref().map_or(0, PcreStream::memory_usage)
    }

    /// How many bytes have been fed so far.
    pub fn bytes_received(&self) -> u64 {
        self.received
    }

    /// Ends the message and returns the verdict.
    ///
    /// # Errors
    /// None today; see [`Engine::scan_bytes`].
    pub fn finish(mut self) -> Result<Verdict> {
        let cut = self.received > self.len() as u64;
        let engine = self.engine.clone();
        let db = engine.db();
        // Parts completed since the last look (when looks are spaced by a step) are scanned now, in order.
        self.prescan.advance(
            db,
            engine.limits(),
            engine.heuristics(),
            &self.buffer,
            self.base,
            false,
        );
        self.prescan.finish(
            db,
            engine.limits(),
            engine.heuristics(),
            &self.buffer,
            self.base,
        );
        db.body
            .advance(&mut self.atoms, &self.buffer, self.base, true);
        let sparse = self.base > 0;
        if sparse {
            self.hash_to(self.len());
            // The searches of regular expressions are finished on the bytes held only where their
            // signature's trigger holds ([`PcreStream::count`](crate::matcher::regexes::PcreStream::count)).
        }
        let body = self.prescan.take_body();
        let early = Early {
            prescan: Some(&self.prescan),
            root_atoms: Some(&self.atoms),
            pre: Some(&self.kept.pre).filter(|p| p.below > 0),
            sparse: sparse.then_some(Sparse {
                digest: &self.kept.digest,
                pcre: self.kept.pcre.as_ref(),
            }),
        };
        Ok(crate::scan::scan_message(
            db,
            engine.limits(),
            engine.heuristics(),
            View::held(&self.head, self.base, &self.buffer),
            cut,
            early,
            body,
        ))
    }
}

/// Bytes kept at the end of the message beyond what signatures read: the atom search's own margin.
const MAX_ATOM_MARGIN: usize = 64;

/// What a session keeps of the bytes it lets go of.
#[derive(Debug, Default)]
struct Kept {
    /// The message's atom hits among them, verified.
    pre: PreVerified,
    /// Their digests, for hash signatures and the allow-list.
    digest: StreamDigest,
    /// Where the message was hashed up to.
    hashed: usize,
    /// What the regular expressions for mail found in them (made when the session first looks at letting
    /// go).
    pcre: Option<PcreStream>,
}

impl Drop for ScanSession {
    /// The message buffer goes back to the engine for the next session: freeing it here would cost
    /// milliseconds at the end of a large message, inside [`finish`](ScanSession::finish).
    fn drop(&mut self) {
        self.engine.recycle(std::mem::take(&mut self.buffer));
    }
}

#[cfg(test)]
mod tests {
    use crate::Engine;

    #[test]
    fn finished_sessions_leave_their_buffer_to_the_next() {
        let message = vec![b'a'; 300_000];
        for (keep, reused) in [(4, true), (0, false)] {
            let engine = Engine::builder().session_buffers(keep).build().unwrap();
            let mut first = engine.session();
            first.feed(&message).unwrap();
            let capacity = first.memory_usage();
            assert!(first.finish().unwrap().is_clean());
            let second = engine.session();
            assert_eq!(second.memory_usage() >= capacity / 2, reused, "keep {keep}");
            drop(second);
            engine.release_buffers();
            assert!(engine.session().memory_usage() < 1000);
        }
        // An abandoned session gives its buffer back too.
        let engine = Engine::builder().build().unwrap();
        let mut s = engine.session();
        s.feed(&message).unwrap();
        drop(s);
        assert!(engine.session().memory_usage() >= message.len());
    }
}
