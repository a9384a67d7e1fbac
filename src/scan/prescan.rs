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
//! its own parts scanned as they complete, and its walk's notes come after them ([`Work::Notes`]).

use std::borrow::Cow;

use super::{Carried, Object, Role, Scan, Streamed, Top, Work, quoted};
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

/// The top-level parts of a message, scanned during [`ScanSession::feed`](crate::ScanSession::feed) (see
/// the module docs).
#[derive(Debug, Default)]
pub(crate) struct Prescan {
    /// The state after the parts scanned so far; `None` before the first.
    pub(super) carried: Option<Carried>,
    /// The parts scanned, in order.
    pub(super) parts: Vec<Scanned>,
    pub(super) finder: walker::Parts,
    /// The part in flight, decoded as it arrives when it can be (`stream.rs`); only in a session.
    stream: Option<PartStream>,
    /// The body of a message that is not multipart, decoded as it arrives when it can be, and once the
    /// message has ended, what the walk of the message takes over.
    body: Option<PartStream>,
    body_done: Option<stream::Finished>,
    /// The part in flight when it is itself a multipart: its own parts are scanned as they complete.
    nested: Option<Box<Nested>>,
}

/// A part of the message, in flight, that is itself a multipart (an attachment inside
/// `multipart/alternative` or `multipart/related`): its own parts are found as it arrives and scanned as
/// soon as each is complete, as the message's are, its part in flight decoded as it arrives
/// ([`PartStream`]) or, when that is a multipart too, followed the same way; so a session need not hold
/// the part whole. When the part ends, its scan takes over what its parts found and skips them.
#[derive(Debug)]
struct Nested {
    /// The part's depth (1 for a part of the message).
    depth: u32,
    /// Where the part starts in the message (after its delimiter line).
    start: usize,
    /// The part's location, and where its parts hang: that, with its file name if it has one.
    part: Location,
    location: Location,
    /// The search for its parts; positions are the part's own.
    finder: walker::Parts,
    /// Its header block and preamble, copied once its first delimiter is found: the final walk of the
    /// part reads them, and the message may be let go of past them from then on.
    head: Option<Vec<u8>>,
    /// Its parts scanned so far, in order.
    parts: Vec<Scanned>,
    /// Its part in flight, decoded as it arrives when it can be.
    stream: Option<PartStream>,
    /// Its part in flight when that is a multipart too.
    child: Option<Box<Nested>>,
}

/// What scanning a part early works with: the engine's tables and the state the parts before it left.
struct Ctx<'c> {
    db: &'c Database,
    limits: &'c Limits,
    heuristics: &'c Heuristics,
    carried: &'c mut Option<Carried>,
}

impl Ctx<'_> {
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

    /// What the payload of the part in flight at `depth` may keep (see [`payload_cut`]): the part and its
    /// payload are the next objects worked.
    fn cut(&self, depth: u32) -> Option<u64> {
        let (objects, produced) = self.spent();
        payload_cut(self.limits, depth + 1, objects, produced)
    }

    /// A scan that goes on from the state the parts before left.
    fn scan<'a>(&mut self) -> Scan<'a, '_> {
        let mut scan = Scan::new(self.db, self.limits, self.heuristics);
        scan.st = self.carried.take().unwrap_or_else(Carried::start);
        scan
    }

    /// Scans a completed part at `depth` with the state the parts before it left; `finished` is what its
    /// session decoded as it arrived, if anything (else its bytes are held).
    #[allow(clippy::too_many_arguments)]
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
        // Exactly the object the final walk of its parent stages for this part.
        scan.queue.push_back(Work::Object(Object {
            data: Cow::Borrowed(bytes),
            location,
            depth,
            role: Role::Part,
            html_hint: false,
            name: None,
            in_archive: false,
            container: Some(FileType::Mail),
            root_range: Some(range),
            counted: false,
            streamed: finished.map(|f| Box::new(Streamed::Part(f))),
        }));
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
        // The part ends where it ends, whatever follows it in the message.
        let upto = data.get(..range.end.saturating_sub(base)).unwrap_or(&[]);
        let (own, own_base) = nested.own(upto, base);
        nested.finder.end_at(range.len());
        let last = nested.finder.finish(own, own_base);
        for (segment, r) in nested.absolute(last) {
            nested.complete(self, data, base, segment, r);
        }
        let view = match (&nested.head, own_base) {
            // The session may have let go of the message up to anywhere past the part's start once its
            // head was copied, inside the copy too: the copy is the part's start, what is held the rest.
            (Some(head), b) if b > 0 => {
                let skip = head.len().saturating_sub(b).min(own.len());
                View::split(head, b + skip, &own[skip..])
            }
            _ => View::whole(own),
        };
        let mut scan = self.scan();
        scan.skip = &nested.parts;
        scan.top = Some(Top {
            depth: nested.depth,
            range: Some(range.clone()),
            view,
            known: nested.finder.known(),
        });
        scan.queue.push_back(Work::Object(Object {
            data: Cow::Borrowed(&[]),
            location,
            depth: nested.depth,
            role: Role::Part,
            html_hint: false,
            name: None,
            in_archive: false,
            container: Some(FileType::Mail),
            root_range: Some(range),
            // Admitted when it was first followed: its slot passed on to its parts then.
            counted: true,
            streamed: None,
        }));
        scan.run();
        debug_assert_eq!(
            scan.skipped,
            nested.parts.len(),
            "the walk of a nested part did not meet the parts scanned early"
        );
        *self.carried = Some(scan.st);
    }

    /// A part (at `depth`, in `parent`) is complete: scanned, or, when it was followed as a multipart
    /// (`child`), completed as one; then noted in `parts`.
    #[allow(clippy::too_many_arguments)]
    fn complete_part(
        &mut self,
        data: &[u8],
        base: usize,
        depth: u32,
        parent: &Location,
        stream: &mut Option<PartStream>,
        child: &mut Option<Box<Nested>>,
        parts: &mut Vec<Scanned>,
        segment: String,
        range: std::ops::Range<usize>,
    ) {
        let finished = match stream.take() {
            Some(s) if s.start == range.start => s.finish(self.db, data, base, range.end),
            other => {
                *stream = other;
                None
            }
        };
        let location = parent.child(&segment);
        match child.take() {
            Some(nested) if nested.start == range.start => {
                self.complete_multipart(data, base, *nested, range.clone(), location.clone());
            }
            other => {
                *child = other;
                self.scan_part(data, base, depth, location.clone(), range.clone(), finished);
            }
        }
        parts.push((range, location));
    }

    /// Follows the part in flight (starting at `start`, at `depth`, its stream `stream`, found by `finder`
    /// in an entity located at `parent`) when it is a multipart the scan will walk: opens it once its
    /// header block says so, and follows it.
    #[allow(clippy::too_many_arguments)]
    fn follow_multipart(
        &mut self,
        data: &[u8],
        base: usize,
        depth: u32,
        start: usize,
        parent: &Location,
        finder: &walker::Parts,
        stream: Option<&PartStream>,
        slot: &mut Option<Box<Nested>>,
    ) {
        if slot.as_ref().is_some_and(|n| n.start != start) {
            *slot = None;
        }
        if slot.is_none() {
            let Some(name) = stream
                .filter(|s| s.start == start)
                .and_then(PartStream::multipart)
            else {
                return;
            };
            // Only a part the scan will walk: admitted, and a part whatever follows it.
            if !self.admits_part(depth) || !finder.in_flight_is_a_part() {
                return;
            }
            let part = parent.child(&finder.next_segment());
            *slot = Some(Box::new(Nested {
                depth,
                start,
                location: match name {
                    Some(name) => part.suffixed(&quoted(name)),
                    None => part.clone(),
                },
                part,
                finder: walker::Parts::default(),
                head: None,
                parts: Vec::new(),
                stream: None,
                child: None,
            }));
        }
        if let Some(nested) = slot {
            nested.follow(self, data, base);
        }
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

    /// Its parts' ranges in the message.
    fn absolute(
        &self,
        found: Vec<(String, std::ops::Range<usize>)>,
    ) -> Vec<(String, std::ops::Range<usize>)> {
        found
            .into_iter()
            .map(|(segment, r)| (segment, self.start + r.start..self.start + r.end))
            .collect()
    }

    /// Looks at the part so far: scans its parts completed since the last look, and follows its part in
    /// flight.
    fn follow(&mut self, ctx: &mut Ctx<'_>, data: &[u8], base: usize) {
        let (own, own_base) = self.own(data, base);
        let found = self
            .finder
            .advance(own, own_base, ctx.limits.get_max_parts());
        if self.head.is_none()
            && let Some((_, preamble_end)) = self.finder.in_flight()
        {
            // Held from the part's start until now (see `needed_from`).
            debug_assert_eq!(own_base, 0);
            self.head = Some(own.get(..preamble_end).unwrap_or(&[]).to_vec());
        }
        for (segment, range) in self.absolute(found) {
            self.complete(ctx, data, base, segment, range);
        }
        let Some(start) = self
            .finder
            .part_in_flight()
            .map(|p| self.start + p)
            .filter(|_| self.finder.unambiguous())
        else {
            return;
        };
        if self.stream.as_ref().is_none_or(|s| s.start != start) {
            self.stream = Some(PartStream::new(start));
        }
        let cut = ctx.cut(self.depth + 1);
        if let Some(stream) = &mut self.stream {
            stream.advance(ctx.db, cut, data, base);
        }
        ctx.follow_multipart(
            data,
            base,
            self.depth + 1,
            start,
            &self.location,
            &self.finder,
            self.stream.as_ref(),
            &mut self.child,
        );
    }

    /// One of its parts is complete.
    fn complete(
        &mut self,
        ctx: &mut Ctx<'_>,
        data: &[u8],
        base: usize,
        segment: String,
        range: std::ops::Range<usize>,
    ) {
        ctx.complete_part(
            data,
            base,
            self.depth + 1,
            &self.location,
            &mut self.stream,
            &mut self.child,
            &mut self.parts,
            segment,
            range,
        );
    }

    /// From where the session must hold the message for the part's final walk: its start until its head
    /// is copied or while it reads more than one way, then its part in flight, or from its last delimiter.
    fn needed_from(&self) -> usize {
        if self.head.is_none() || !self.finder.unambiguous() {
            return self.start;
        }
        let in_flight = self.finder.part_in_flight().map(|p| self.start + p);
        if let Some(child) = self.child.as_ref().filter(|c| in_flight == Some(c.start)) {
            return child.needed_from();
        }
        match &self.stream {
            Some(s) if in_flight == Some(s.start) => s.needed_from(),
            _ => self
                .finder
                .in_flight()
                .map_or(self.start, |(last, _)| self.start + last),
        }
    }

    fn memory_usage(&self) -> usize {
        self.head.as_ref().map_or(0, Vec::capacity)
            + self.parts.capacity() * std::mem::size_of::<Scanned>()
            + self.stream.as_ref().map_or(0, PartStream::memory_usage)
            + self.child.as_ref().map_or(0, |c| c.memory_usage())
    }
}

impl Prescan {
    /// The approximate heap memory held: what the parts scanned so far found, and what the part in flight or
    /// the body being decoded holds.
    pub(crate) fn memory_usage(&self) -> usize {
        let found = self.carried.as_ref().map_or(0, |c| {
            let v = &c.verdict;
            (v.detections.len() + v.damage.len() + v.unscanned.len()) * 96
                + c.collector.findings.len() * 128
        });
        found
            + self.parts.capacity() * std::mem::size_of::<Scanned>()
            + self.stream.as_ref().map_or(0, PartStream::memory_usage)
            + self.body.as_ref().map_or(0, PartStream::memory_usage)
            + self.nested.as_ref().map_or(0, |n| n.memory_usage())
    }

    /// The search for the message's parts ([`walker::Parts`]).
    pub(crate) fn finder(&self) -> &walker::Parts {
        &self.finder
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
        let mut ctx = Ctx {
            db,
            limits,
            heuristics,
            carried: &mut self.carried,
        };
        for (segment, range) in self.finder.advance(data, base, limits.get_max_parts()) {
            ctx.complete_part(
                data,
                base,
                1,
                &Location::root(),
                &mut self.stream,
                &mut self.nested,
                &mut self.parts,
                segment,
                range,
            );
        }
        if follow && self.finder.is_leaf() {
            // The message's own body: its payload is the message's child (depth 1), first after it.
            let body = self.body.get_or_insert_with(|| PartStream::new(0));
            let cut = payload_cut(limits, 1, 1, 0);
            body.advance(db, cut, data, base);
        }
        if !follow || !self.finder.unambiguous() {
            return;
        }
        let Some(start) = self.finder.part_in_flight() else {
            return;
        };
        if self.stream.as_ref().is_none_or(|s| s.start != start) {
            self.stream = Some(PartStream::new(start));
        }
        let cut = ctx.cut(1);
        if let Some(stream) = &mut self.stream {
            stream.advance(db, cut, data, base);
        }
        ctx.follow_multipart(
            data,
            base,
            1,
            start,
            &Location::root(),
            &self.finder,
            self.stream.as_ref(),
            &mut self.nested,
        );
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
        let mut ctx = Ctx {
            db,
            limits,
            heuristics,
            carried: &mut self.carried,
        };
        // Every part of the first reading is scanned ahead of the message's own walk, the last one too
        // (whether a session decoded it as it arrived or not), so that what the walk notes comes after
        // what the parts note, however the message arrived.
        for (segment, range) in self.finder.finish(data, base) {
            ctx.complete_part(
                data,
                base,
                1,
                &Location::root(),
                &mut self.stream,
                &mut self.nested,
                &mut self.parts,
                segment,
                range,
            );
        }
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
        let in_flight = self.finder.part_in_flight()?;
        if let Some(nested) = self.nested.as_ref().filter(|n| n.start == in_flight) {
            return Some(nested.needed_from());
        }
        let stream = self.stream.as_ref()?;
        (stream.start == in_flight).then(|| stream.needed_from())
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
