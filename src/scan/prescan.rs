//! The parts of a message scanned while it arrives, as soon as each is complete, so that
//! [`finish`](crate::ScanSession::finish) only does what is still open.
//!
//! A scan works its list in *stream order*: the parts of the message's first multipart reading come first,
//! each admitted (counted against the limits) only when it is worked, and the message's own matching and the
//! rest of its walk come after them. Each part's outcome therefore depends only on the parts before it, so
//! a part scanned while the message arrives, with the state the parts before it left ([`Carried`]), is
//! exactly what the final scan would compute: the final scan takes that state over and skips those parts.
//! [`Engine::scan_bytes`](crate::Engine::scan_bytes) runs the same two steps on the whole message, so the
//! verdict does not depend on how the message was split.
//!
//! The same holds one level down, and the next: a part in flight that is itself a multipart ([`Nested`]) has
//! its own parts scanned as they complete, and its walk's notes come after them ([`Work::Notes`]). So does
//! a part in flight that is a message forwarded as sent ([`Forwarded`]): the message is admitted as soon as
//! its header block is known (its own bytes count against no size limit, so its admission does not wait
//! for its end), matched as mail as it arrives, and its parts scanned as they complete.

use std::borrow::Cow;

use super::{Carried, Followed, Object, Role, Scan, Streamed, Top, Work, quoted};
use crate::engine::Database;
use crate::filetype::FileType;
use crate::heuristics::Heuristics;
use crate::limits::Limits;
use crate::matcher::View;
use crate::mime::walker;
use crate::stream::{self, PartStream};
use crate::verdict::{Detection, DetectionKind, Location};

/// A part's range in the message, and its location.
type Scanned = (std::ops::Range<usize>, Location);

/// The deepest part followed as a multipart while it arrives ([`Nested`]): following is recursive, and
/// `max_recursion` may be set high; a part deeper than this is held until it ends, as any part was.
const MAX_FOLLOWED_DEPTH: u32 = 32;

/// The top-level parts of a message, scanned during [`ScanSession::feed`](crate::ScanSession::feed) (see
/// the module docs).
#[derive(Debug, Default)]
pub(crate) struct Prescan {
    /// The state after the parts scanned so far; `None` before the first.
    pub(super) carried: Option<Carried>,
    /// The message's own parts.
    pub(super) level: Level,
    /// The body of a message that is not multipart, decoded as it arrives when it can be, and once the
    /// message has ended, what the walk of the message takes over.
    body: Option<PartStream>,
    body_done: Option<stream::Finished>,
}

/// An entity whose parts are scanned as they complete: the message itself, or a part of it that is a
/// multipart too ([`Nested`]).
#[derive(Debug)]
pub(super) struct Level {
    /// The entity's depth (0 for the message).
    depth: u32,
    /// Where its parts hang: its location, with its file name if it has one.
    location: Location,
    /// The search for its parts; positions are the entity's own.
    pub(super) finder: walker::Parts,
    /// Its parts scanned so far, in order.
    pub(super) parts: Vec<Scanned>,
    /// Its part in flight, decoded as it arrives when it can be (`stream.rs`); only in a session.
    stream: Option<PartStream>,
    /// Its part in flight when that is a multipart too, or a message forwarded as sent.
    child: Option<Child>,
}

/// A part in flight that is followed, not only decoded: what its session finds in it as it arrives.
#[derive(Debug)]
enum Child {
    Multipart(Box<Nested>),
    Message(Box<Forwarded>),
}

impl Child {
    /// Where the part starts in the message.
    fn start(&self) -> usize {
        match self {
            Child::Multipart(n) => n.start,
            Child::Message(f) => f.part_start,
        }
    }

    /// `enclosing`: the boundaries of the multiparts the part is in.
    fn follow(&mut self, ctx: &mut Ctx<'_>, data: &[u8], base: usize, enclosing: &[&str]) {
        match self {
            Child::Multipart(n) => n.follow(ctx, data, base, enclosing),
            Child::Message(f) => f.follow(ctx, data, base, enclosing),
        }
    }

    fn needed_from(&self) -> usize {
        match self {
            Child::Multipart(n) => n.needed_from(),
            Child::Message(f) => f.needed_from(),
        }
    }

    fn memory_usage(&self) -> usize {
        match self {
            Child::Multipart(n) => n.memory_usage(),
            Child::Message(f) => f.memory_usage(),
        }
    }
}

impl Default for Level {
    fn default() -> Level {
        Level {
            depth: 0,
            location: Location::root(),
            finder: walker::Parts::default(),
            parts: Vec::new(),
            stream: None,
            child: None,
        }
    }
}

/// A part of the message, in flight, that is itself a multipart (an attachment inside
/// `multipart/alternative` or `multipart/related`): its own parts are found as it arrives and scanned as
/// soon as each is complete, as the message's are, its part in flight decoded as it arrives
/// ([`PartStream`]) or, when that is a multipart too, followed the same way; so a session need not hold
/// the part whole. When the part ends, its scan takes over what its parts found and skips them.
#[derive(Debug)]
struct Nested {
    /// Where the part starts in the message (after its delimiter line).
    start: usize,
    /// The part's location (its parts hang from `level.location`, which adds its file name if any).
    part: Location,
    /// Its header block and preamble, copied once its first delimiter is found: the final walk of the
    /// part reads them, and the message may be let go of past them from then on.
    head: Option<Vec<u8>>,
    level: Level,
}

/// A part of the message, in flight, that is a message forwarded as sent (`message/rfc822`, as mail clients
/// forward a message as an attachment): that message is matched as mail as it arrives, and its parts are
/// scanned as they complete (its body decoded as it arrives when it is a leaf), as the message's own are;
/// so a session need not hold it whole. When the part ends, its scan takes over what was found.
///
/// Its walk reads the part's body as a message and nothing else (`walker::walk_known`), and the message's
/// own bytes count against no size limit: what it holds is budgeted from its admission on, known before it
/// ends.
#[derive(Debug)]
struct Forwarded {
    /// Where the part starts in the message (after its delimiter line), and the message in it (the part's
    /// body).
    part_start: usize,
    start: usize,
    /// What the part's header block says: its walk, less the message.
    filename: Option<String>,
    declares_html: bool,
    damage: Vec<String>,
    /// The message, matched as mail as it arrives: fed up to where `fed` was read to, the bytes known to be
    /// the part's.
    matched: Box<stream::Streamed>,
    fed: stream::KnownLines,
    /// Where the message's body starts, once its header block is known to be the part's (the line after
    /// it has arrived): from then on the message is admitted, and followed.
    body_start: Option<usize>,
    /// How much of the message was known when its header block was last read for its end.
    head_read_at: usize,
    /// The state at its admission, when the database has an allow-list (see [`Followed`]).
    before: Option<Carried>,
    /// The message as an entity whose parts are scanned as they complete (when it is a multipart)...
    message: Nested,
    /// ... and its body, decoded as it arrives, when it is a leaf.
    body: Option<PartStream>,
}

/// What scanning a part early works with: the engine's tables and the state the parts before it left.
struct Ctx<'c> {
    db: &'c Database,
    limits: &'c Limits,
    heuristics: &'c Heuristics,
    carried: &'c mut Option<Carried>,
}

impl<'c> Ctx<'c> {
    fn new(
        db: &'c Database,
        limits: &'c Limits,
        heuristics: &'c Heuristics,
        carried: &'c mut Option<Carried>,
    ) -> Ctx<'c> {
        Ctx {
            db,
            limits,
            heuristics,
            carried,
        }
    }

    /// Objects admitted and bytes produced so far.
    fn spent(&self) -> (u64, u64) {
        match self.carried.as_ref() {
            Some(c) => (c.objects, c.produced),
            None => (Carried::start().objects, 0),
        }
    }

    /// Whether a part at `depth` that is next on the work list will be admitted (a part takes a slot and
    /// passes it on to what it holds), and so walked.
    fn admits_part(&self, depth: u32) -> bool {
        self.limits.get_max_recursion() >= depth && self.spent().0 < self.limits.get_max_files()
    }

    /// A scan that goes on from the state the parts before left.
    fn scan<'a>(&mut self) -> Scan<'a, '_> {
        let mut scan = Scan::new(self.db, self.limits, self.heuristics);
        scan.st = self.carried.take().unwrap_or_else(Carried::start);
        scan
    }

    /// Scans a completed part at `depth` with the state the parts before it left; `finished` is what its
    /// session decoded as it arrived, if anything (else its bytes are held).
    fn scan_part(
        &mut self,
        data: &[u8],
        base: usize,
        depth: u32,
        location: Location,
        range: std::ops::Range<usize>,
        finished: Option<stream::Finished>,
    ) {
        let held = range
            .start
            .checked_sub(base)
            .zip(range.end.checked_sub(base));
        let bytes = match (
            &finished,
            held.and_then(|(start, end)| data.get(start..end)),
        ) {
            (Some(_), _) => &[][..],
            (None, Some(bytes)) => bytes,
            (None, None) => {
                debug_assert!(false, "a completed part was let go before it was scanned");
                return;
            }
        };
        let mut scan = self.scan();
        let mut part = part(bytes, location, depth, range);
        part.streamed = finished.map(|f| Box::new(Streamed::Part(f)));
        scan.queue.push_back(Work::Object(part));
        scan.run();
        *self.carried = Some(scan.st);
    }

    /// Scans a part that is a multipart whose own parts were scanned as they arrived ([`Nested`]), when
    /// it is complete: its last parts, then the part itself, taking over what its parts found and
    /// skipping them.
    fn complete_multipart(
        &mut self,
        data: &[u8],
        base: usize,
        mut nested: Nested,
        range: std::ops::Range<usize>,
        location: Location,
    ) {
        debug_assert_eq!(nested.part, location, "a nested part named unlike its walk");
        nested.finish(self, data, base, range.end);
        let view = nested.view(data, base, range.end);
        let depth = nested.level.depth;
        let mut scan = self.scan();
        scan.skip = &nested.level.parts;
        scan.top = Some(Top {
            depth,
            range: Some(range.clone()),
            view,
            known: nested.level.finder.known(),
        });
        let mut part = part(&[], location, depth, range);
        // Admitted when it was first followed: its slot passed on to its parts then.
        part.counted = true;
        scan.queue.push_back(Work::Object(part));
        scan.run();
        debug_assert_eq!(
            scan.skipped,
            nested.level.parts.len(),
            "the walk of a nested part did not meet the parts scanned early"
        );
        *self.carried = Some(scan.st);
    }
}

impl Ctx<'_> {
    /// Scans a part that is a message forwarded as sent, which was followed as it arrived ([`Forwarded`]),
    /// when it is complete: the message's last parts, then the part and the message, taking over what was
    /// found of it and skipping its parts.
    fn complete_forwarded(
        &mut self,
        data: &[u8],
        base: usize,
        mut fwd: Forwarded,
        depth: u32,
        range: std::ops::Range<usize>,
        location: Location,
    ) {
        if fwd.body_start.is_none() {
            // Never known to hold a message's header block: held from its start, and scanned as any part.
            self.scan_part(data, base, depth, location, range, None);
            return;
        }
        debug_assert!(fwd.fed.read_to <= range.end, "a part matched past its end");
        if range.end > fwd.fed.read_to {
            let rest = stream::held_raw(data, base, fwd.fed.read_to..range.end);
            fwd.matched.push(self.db, rest);
        }
        fwd.matched.finish(self.db);
        fwd.message.finish(self, data, base, range.end);
        let body = fwd
            .body
            .take()
            .and_then(|b| b.finish(self.db, data, base, range.end));
        let message = &fwd.message;
        let view = message.view(data, base, range.end);
        let mut scan = self.scan();
        scan.skip = &message.level.parts;
        scan.top = Some(Top {
            depth: message.level.depth,
            range: Some(message.start..range.end),
            view,
            known: message.level.finder.known(),
        });
        // The part's walk (`walker::walk_known`): its header block, and the message that is its body.
        let walked = walker::Walked {
            filename: fwd.filename,
            declares_html: fwd.declares_html,
            damage: fwd.damage,
            children: vec![walker::Child {
                kind: walker::ChildKind::Message,
                segment: Some("message".to_string()),
                suffix: None,
                data: walker::ChildData::Range(
                    message.start.saturating_sub(range.start)..range.len(),
                ),
            }],
            ..walker::Walked::default()
        };
        let followed = Followed {
            matched: fwd.matched,
            body,
            before: fwd.before,
        };
        let mut part = part(&[], location, depth, range);
        // Admitted when it was first followed (a part passes its slot on, and its message took one).
        part.counted = true;
        part.streamed = Some(Box::new(Streamed::Forwarded(
            stream::Finished {
                walked,
                payloads: Vec::new(),
            },
            Box::new(followed),
        )));
        scan.queue.push_back(Work::Object(part));
        scan.run();
        debug_assert!(
            scan.dropped || scan.skipped == message.level.parts.len(),
            "the walk of a forwarded message did not meet the parts scanned early"
        );
        *self.carried = Some(scan.st);
    }
}

impl Level {
    /// Scans its parts just completed, given as (segment, range in the entity), the entity starting at
    /// `start` in the message.
    fn complete_all(
        &mut self,
        ctx: &mut Ctx<'_>,
        data: &[u8],
        base: usize,
        start: usize,
        found: Vec<(String, std::ops::Range<usize>)>,
    ) {
        for (segment, r) in found {
            self.complete(ctx, data, base, segment, start + r.start..start + r.end);
        }
    }

    /// One of its parts (at `range` in the message) is complete: scanned, or, when it was followed as a
    /// multipart, completed as one; then noted.
    fn complete(
        &mut self,
        ctx: &mut Ctx<'_>,
        data: &[u8],
        base: usize,
        segment: String,
        range: std::ops::Range<usize>,
    ) {
        let finished = match self.stream.take() {
            Some(s) if s.start == range.start => s.finish(ctx.db, data, base, range.end),
            other => {
                self.stream = other;
                None
            }
        };
        let location = self.location.child(&segment);
        let depth = self.depth + 1;
        match self.child.take() {
            Some(Child::Multipart(nested)) if nested.start == range.start => {
                ctx.complete_multipart(data, base, *nested, range.clone(), location.clone());
            }
            Some(Child::Message(fwd)) if fwd.part_start == range.start => {
                ctx.complete_forwarded(data, base, *fwd, depth, range.clone(), location.clone());
            }
            other => {
                self.child = other;
                ctx.scan_part(data, base, depth, location.clone(), range.clone(), finished);
            }
        }
        self.parts.push((range, location));
    }

    /// Follows its part in flight, when it reads one way: decodes it as it arrives ([`PartStream`]), and
    /// follows it as a multipart ([`Nested`]) when its header block says it is one and the scan will
    /// walk it. The entity starts at `start` in the message, inside the multiparts whose boundaries are
    /// `enclosing`: its part in flight ends at a delimiter line of one of those or of its own.
    fn follow(
        &mut self,
        ctx: &mut Ctx<'_>,
        data: &[u8],
        base: usize,
        start: usize,
        enclosing: &[&str],
    ) {
        let Some(at) = self
            .finder
            .part_in_flight()
            .map(|p| start + p)
            .filter(|_| self.finder.unambiguous())
        else {
            return;
        };
        if self.stream.as_ref().is_none_or(|s| s.start != at) {
            self.stream = Some(PartStream::new(at));
        }
        // What the part's payload may keep, as its admission will find the limits: the part and its
        // payload are the next objects worked.
        let depth = self.depth + 1;
        let (objects, produced) = ctx.spent();
        let cut = payload_cut(ctx.limits, depth + 1, objects, produced);
        let whole = readings_whole(ctx.limits, produced);
        let mut boundaries = enclosing.to_vec();
        boundaries.extend(self.finder.boundary());
        if let Some(stream) = &mut self.stream {
            stream.advance(ctx.db, cut, whole, data, base, &boundaries);
        }
        if self.child.as_ref().is_some_and(|c| c.start() != at) {
            self.child = None;
        }
        if self.child.is_none() {
            self.child = self.child_in_flight(ctx, at);
        }
        if let Some(child) = &mut self.child {
            child.follow(ctx, data, base, &boundaries);
        }
    }

    /// The part in flight (starting at `at`) to follow, once its header block says it is a multipart or a
    /// message forwarded as sent: only a part the scan will walk (admitted, and a part whatever follows
    /// it), and a message it will match and walk.
    fn child_in_flight(&self, ctx: &Ctx<'_>, at: usize) -> Option<Child> {
        let depth = self.depth + 1;
        if depth > MAX_FOLLOWED_DEPTH
            || !ctx.admits_part(depth)
            || !self.finder.in_flight_is_a_part()
        {
            return None;
        }
        let stream = self.stream.as_ref()?;
        if stream.multipart().is_none() && stream.forwarded().is_none() {
            return None;
        }
        let part = self.location.child(&self.finder.next_segment());
        let located = |name: Option<&str>| match name {
            Some(name) => part.suffixed(&quoted(name)),
            None => part.clone(),
        };
        if let Some(name) = stream.multipart() {
            return Some(Child::Multipart(Box::new(Nested {
                start: at,
                part: part.clone(),
                head: None,
                level: Level {
                    depth,
                    location: located(name),
                    ..Level::default()
                },
            })));
        }
        let (head, start) = stream.forwarded()?;
        // The message is the part's child, admitted after it.
        if !ctx.admits_part(depth + 1) {
            return None;
        }
        let matched = Box::new(stream::Streamed::message(ctx.db)?);
        Some(Child::Message(Box::new(Forwarded {
            part_start: at,
            start,
            filename: head.filename.clone(),
            declares_html: head.declares_html,
            damage: head.damage.clone(),
            matched,
            fed: stream::KnownLines::new(start),
            body_start: None,
            head_read_at: 0,
            before: None,
            message: Nested {
                start,
                part: located(head.filename.as_deref()).child("message"),
                head: None,
                level: Level {
                    depth: depth + 1,
                    location: located(head.filename.as_deref()).child("message"),
                    ..Level::default()
                },
            },
            body: None,
        })))
    }

    /// From where the session must hold the message for the part in flight, if it follows one: `None`
    /// when it follows none.
    fn needed_from(&self, start: usize) -> Option<usize> {
        let in_flight = start + self.finder.part_in_flight()?;
        if let Some(child) = self.child.as_ref().filter(|c| c.start() == in_flight) {
            // This entity's search must still find the delimiter that ends the child.
            return Some(
                child
                    .needed_from()
                    .min(start + self.finder.search_needs_from()),
            );
        }
        let stream = self.stream.as_ref()?;
        // This entity's search must still find the delimiter that ends the part, from where it resumes.
        (stream.start == in_flight).then(|| {
            stream
                .needed_from()
                .min(start + self.finder.search_needs_from())
        })
    }

    fn memory_usage(&self) -> usize {
        self.parts.capacity() * std::mem::size_of::<Scanned>()
            + self.stream.as_ref().map_or(0, PartStream::memory_usage)
            + self.child.as_ref().map_or(0, |c| c.memory_usage())
    }
}

impl Nested {
    /// The part's bytes held, `data` being the message from `base` on, as its own: the bytes and the
    /// part's own position of the first.
    fn own<'b>(&self, data: &'b [u8], base: usize) -> (&'b [u8], usize) {
        match self.start.checked_sub(base) {
            Some(skip) => (data.get(skip..).unwrap_or(&[]), 0),
            None => (data, base - self.start),
        }
    }

    /// The entity ends at `end` in the message: its last parts are scanned.
    fn finish(&mut self, ctx: &mut Ctx<'_>, data: &[u8], base: usize, end: usize) {
        let (own, own_base) = self.own(upto(data, base, end), base);
        self.level.finder.end_at(end.saturating_sub(self.start));
        let last = self.level.finder.finish(own, own_base);
        self.level.complete_all(ctx, data, base, self.start, last);
    }

    /// What the final walk of the entity, which ends at `end` in the message, reads of it: as held.
    fn view<'b>(&'b self, data: &'b [u8], base: usize, end: usize) -> View<'b> {
        let (own, own_base) = self.own(upto(data, base, end), base);
        match (&self.head, own_base) {
            // The session may have let go of the message up to anywhere past the part's start once its
            // head was copied, inside the copy too: the copy is the part's start, what is held the rest.
            (Some(head), b) if b > 0 => {
                let skip = head.len().saturating_sub(b).min(own.len());
                View::split(head, b + skip, &own[skip..])
            }
            _ => View::whole(own),
        }
    }

    /// Looks at the part so far: scans its parts completed since the last look, and follows its part in
    /// flight. `enclosing`: the boundaries of the multiparts it is in.
    fn follow(&mut self, ctx: &mut Ctx<'_>, data: &[u8], base: usize, enclosing: &[&str]) {
        let (own, own_base) = self.own(data, base);
        let found = self
            .level
            .finder
            .advance(own, own_base, ctx.limits.get_max_parts());
        if self.head.is_none()
            && let Some((_, preamble_end)) = self.level.finder.in_flight()
        {
            // Held from the part's start until now (see `needed_from`).
            debug_assert_eq!(own_base, 0);
            self.head = Some(own.get(..preamble_end).unwrap_or(&[]).to_vec());
        }
        self.level.complete_all(ctx, data, base, self.start, found);
        self.level.follow(ctx, data, base, self.start, enclosing);
    }

    /// From where the session must hold the message for the part's final walk: its start until its head
    /// is copied or while it reads more than one way, then its part in flight, or from its last delimiter;
    /// nothing past the parts allowed (its walk reads no further; its parent keeps what its own search
    /// needs).
    fn needed_from(&self) -> usize {
        let finder = &self.level.finder;
        if self.head.is_none() || !finder.unambiguous() {
            return self.start;
        }
        if finder.read_to_the_cap() {
            return usize::MAX;
        }
        self.level.needed_from(self.start).unwrap_or_else(|| {
            finder
                .in_flight()
                .map_or(self.start, |(last, _)| self.start + last)
        })
    }

    fn memory_usage(&self) -> usize {
        self.head.as_ref().map_or(0, Vec::capacity) + self.level.memory_usage()
    }
}

impl Forwarded {
    /// Looks at the part so far: matches the lines known to be its, and once the message's header block is
    /// known (its message is then admitted), scans its parts completed since the last look and follows its
    /// part in flight, or decodes its body. `enclosing`: the boundaries of the multiparts the part is in.
    fn follow(&mut self, ctx: &mut Ctx<'_>, data: &[u8], base: usize, enclosing: &[&str]) {
        // The whole stretches of a long line too: a message sent as one long line is not held until it ends.
        let mut blank = false;
        if let Some(to) = self.fed.advance(data, base, <[u8]>::len, enclosing) {
            let fed_to = self.fed.read_to;
            let lines = stream::held_raw(data, base, fed_to..to);
            self.matched.push(ctx.db, lines);
            if self.body_start.is_none() {
                // A blank line ends a header block (the line break before the lines read counts too); the
                // message is held from the part's start until its header block is known.
                let from = fed_to.saturating_sub(3).max(self.start);
                blank = stream::has_blank_line(stream::held_raw(data, base, from..to));
            }
            self.fed.read_to = to;
        }
        if self.body_start.is_none() {
            // Held from the part's start until now (see `needed_from`). A header block that ends before
            // the last line known to be the part's is the message's whatever follows. It is read again
            // only when a blank line arrived or what is known doubled (a line that is not a field ends
            // one too), so a long header block in small chunks is read a few times, not once per chunk.
            let known = stream::held_raw(data, base, self.start..self.fed.read_to);
            if !(blank || known.len() >= 2 * self.head_read_at) {
                return;
            }
            self.head_read_at = known.len();
            let Some(head) = walker::complete_head(known, enclosing) else {
                return;
            };
            self.body_start = Some(self.start + head.body_start);
            // Admitted: it takes its slot (its bytes count against no size limit).
            let carried = ctx.carried.get_or_insert_with(Carried::start);
            carried.objects += 1;
            if !ctx.db.allow.is_empty() {
                self.before = Some(carried.clone());
            }
        }
        self.message.follow(ctx, data, base, enclosing);
        if self.message.level.finder.is_leaf() {
            // Its body is its child, the next object worked after it.
            let body = self
                .body
                .get_or_insert_with(|| PartStream::new(self.message.start));
            let (objects, produced) = ctx.spent();
            let cut = payload_cut(ctx.limits, self.message.level.depth + 1, objects, produced);
            body.advance(
                ctx.db,
                cut,
                readings_whole(ctx.limits, produced),
                data,
                base,
                enclosing,
            );
        }
    }

    /// From where the session must hold the message for the part's final scan: its start until the
    /// message's header block is known, then what the message needs (its body's decoding, or what a
    /// multipart needs, see [`Nested::needed_from`]) and the lines not yet matched.
    fn needed_from(&self) -> usize {
        if self.body_start.is_none() {
            return self.part_start;
        }
        let message = match (&self.body, self.message.level.finder.is_leaf()) {
            (Some(body), true) => body.needed_from(),
            (None, true) => self.message.start,
            (_, false) => self.message.needed_from(),
        };
        message.min(self.fed.read_to)
    }

    fn memory_usage(&self) -> usize {
        self.matched.memory_usage()
            + self.message.memory_usage()
            + self.body.as_ref().map_or(0, PartStream::memory_usage)
            + self.before.as_ref().map_or(0, found_usage)
    }
}

impl Prescan {
    /// The approximate heap memory held: what the parts scanned so far found, and what the part in flight or
    /// the body being decoded holds.
    pub(crate) fn memory_usage(&self) -> usize {
        let found = self.carried.as_ref().map_or(0, found_usage);
        found + self.level.memory_usage() + self.body.as_ref().map_or(0, PartStream::memory_usage)
    }

    /// The search for the message's parts ([`walker::Parts`]).
    pub(crate) fn finder(&self) -> &walker::Parts {
        &self.level.finder
    }

    /// The first signature or hash detection found in a part scanned so far, if any.
    pub(crate) fn decided(&self) -> Option<&Detection> {
        self.carried
            .as_ref()?
            .verdict
            .detections
            .iter()
            .find(|d| matches!(d.kind(), DetectionKind::Signature | DetectionKind::Hash))
    }

    /// Scans the parts of the message so far (`data` holds it from `base` on) that are complete and not
    /// scanned yet. Only a multipart message's own parts are scanned here; a part counts as complete when
    /// the delimiter line after it is. The parts are found by searching only the bytes new since the last
    /// call ([`walker::Parts`]). With `follow` (a session), the part in flight is decoded as it arrives
    /// when it can be ([`PartStream`]), and followed when it is a multipart ([`Nested`]).
    pub(crate) fn advance(
        &mut self,
        db: &Database,
        limits: &Limits,
        heuristics: &Heuristics,
        data: &[u8],
        base: usize,
        follow: bool,
    ) {
        let mut ctx = Ctx::new(db, limits, heuristics, &mut self.carried);
        let found = self
            .level
            .finder
            .advance(data, base, limits.get_max_parts());
        self.level.complete_all(&mut ctx, data, base, 0, found);
        if follow && self.level.finder.is_leaf() {
            // The message's own body: its payload is the message's child (depth 1), first after it.
            let body = self.body.get_or_insert_with(|| PartStream::new(0));
            let cut = payload_cut(limits, 1, 1, 0);
            // Read as it arrives only if the scan will walk it as a message: it has a header block (not
            // a file sent alone, scanned as one). The body's state is chosen while the message is held
            // from its start.
            let whole =
                readings_whole(limits, 0) && base == 0 && crate::mime::header::has_header(data);
            // Not in a multipart: no line of it is a delimiter.
            body.advance(db, cut, whole, data, base, &[]);
        }
        if follow {
            self.level.follow(&mut ctx, data, base, 0, &[]);
        }
    }

    /// At the end of the message: the parts its last line completes, and the part it ends in.
    pub(crate) fn finish(
        &mut self,
        db: &Database,
        limits: &Limits,
        heuristics: &Heuristics,
        data: &[u8],
        base: usize,
    ) {
        if let Some(body) = self.body.take() {
            self.body_done = body.finish(db, data, base, base + data.len());
        }
        let mut ctx = Ctx::new(db, limits, heuristics, &mut self.carried);
        // Every part of the first reading is scanned ahead of the message's own walk, the last one too
        // (whether a session decoded it as it arrived or not), so that what the walk notes comes after
        // what the parts note, however the message arrived.
        let found = self.level.finder.finish(data, base);
        self.level.complete_all(&mut ctx, data, base, 0, found);
    }

    /// For a message that is not multipart and whose body is decoded as it arrives: from where the session
    /// must hold the message, and where its body starts.
    pub(crate) fn body_needed_from(&self) -> Option<(usize, usize)> {
        let body = self.body.as_ref()?;
        Some((body.needed_from(), body.body_start()?))
    }

    /// What the walk of the message takes over of its body decoded as it arrived.
    pub(crate) fn take_body(&mut self) -> Option<stream::Finished> {
        self.body_done.take()
    }

    /// From where the session must hold the message for the part in flight, if it follows one.
    pub(crate) fn needed_from(&self) -> Option<usize> {
        self.level.needed_from(0)
    }
}

/// The approximate heap memory of what a scan found so far.
fn found_usage(c: &Carried) -> usize {
    let v = &c.verdict;
    (v.detections.len() + v.damage.len() + v.unscanned.len()) * 96
        + c.collector.findings.len() * 128
}

/// The message held (`data`, from `base` on) up to `end`: an entity ends where it ends, whatever follows it.
fn upto(data: &[u8], base: usize, end: usize) -> &[u8] {
    data.get(..end.saturating_sub(base)).unwrap_or(&[])
}

/// Exactly the object the final walk of its parent stages for a part of the message at `range`: walked, not
/// yet admitted.
fn part<'a>(
    data: &'a [u8],
    location: Location,
    depth: u32,
    range: std::ops::Range<usize>,
) -> Object<'a> {
    Object {
        data: Cow::Borrowed(data),
        location,
        depth,
        role: Role::Part,
        html_hint: false,
        name: None,
        in_archive: false,
        container: Some(FileType::Mail),
        root_range: Some(range),
        counted: false,
        streamed: None,
    }
}

/// How much of what a part decodes to its payload may keep, as its admission will find the limits: the
/// payload is at `depth`, and the next object worked after the `objects` and `produced` bytes so far; `None`
/// when it will not be admitted.
fn payload_cut(limits: &Limits, depth: u32, objects: u64, produced: u64) -> Option<u64> {
    let room = limits.get_max_scan_size().saturating_sub(produced);
    (limits.get_max_recursion() >= depth && objects < limits.get_max_files() && room > 0)
        .then(|| room.min(limits.get_max_file_size()))
}

/// Whether the limits let every reading of a part's body not declared base64 keep all it decodes to, after
/// the `produced` bytes so far, however long the body: those a session decodes as the body arrives (as
/// sent, and as base64 or as quoted-printable: two, each no longer than the body; and its uuencoded blocks,
/// together shorter than the body) are each within `max_file_size`, and all within what is left of
/// `max_scan_size`, when the message is within `max_message_size`.
fn readings_whole(limits: &Limits, produced: u64) -> bool {
    let most = limits.get_max_message_size();
    let room = limits.get_max_scan_size().saturating_sub(produced);
    limits.get_max_file_size() >= most && room >= most.saturating_mul(3)
}
