//! Where a verdict is made: the work list that takes a message apart and scans every object in it.
//!
//! Each object on the list is a message (scanned as mail, then walked), a MIME part (walked only: its bytes
//! are scanned as part of its parent) or a payload (typed, scanned, and opened if it is a container).
//! Children go back on the list, so nesting costs heap, never stack; every push is checked against the
//! limits first. The list is worked depth first, and an archive's members are extracted one at a time,
//! only when the scanner gets to them: at any moment at most one member per open archive is in memory,
//! not the whole of what an archive expands to.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::engine::Database;
use crate::filetype::{self, FileType};
use crate::heuristics::{Collector, Heuristics, ObjectFacts};
use crate::limits::{LimitName, Limits};
use crate::matcher::AtomStream;
use crate::matcher::logical::{self, Subject};
use crate::mime::walker::{self, ChildData, ChildKind};
use crate::unpack::{self, Budget, Entry, Inflated, Unpacked};
use crate::verdict::{
    Damage, Detection, DetectionKind, Location, Unscanned, UnscannedReason, Verdict,
};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Message,
    Part,
    Payload,
}

struct Object<'a> {
    data: Cow<'a, [u8]>,
    location: Location,
    depth: u32,
    role: Role,
    /// Declared as HTML by its part's headers: HTML fragments without `<html>` are still HTML.
    html_hint: bool,
    /// The name the sender gave it: a MIME file name or an archive member's name.
    name: Option<String>,
    /// Inside an archive, at any depth.
    in_archive: bool,
    /// The type of what it came out of: `Mail` for a MIME part's content, the archive type for a member.
    container: Option<FileType>,
    /// For a part of the message itself: where its bytes are in the message (the key of a [`Prescan`]).
    root_range: Option<std::ops::Range<usize>>,
}

/// An archive whose members are listed and are extracted one by one.
struct Members<'a> {
    archive: Object<'a>,
    kind: FileType,
    entries: Vec<Entry>,
    next: usize,
}

enum Work<'a> {
    Object(Object<'a>),
    Members(Members<'a>),
}

/// Quotes a name for a location: control characters and quotes are replaced, length is capped.
fn quoted(name: &str) -> String {
    let clean: String = name
        .chars()
        .take(200)
        .map(|c| if c.is_control() || c == '"' { '?' } else { c })
        .collect();
    format!("\"{clean}\"")
}

struct Scan<'a, 'd> {
    db: &'d Database,
    limits: &'d Limits,
    heuristics: &'d Heuristics,
    collector: Collector,
    queue: VecDeque<Work<'a>>,
    /// Children of the item being processed, put at the front of the queue in order once it is done.
    staged: Vec<Work<'a>>,
    verdict: Verdict,
    /// Objects created so far, the message included.
    objects: u64,
    /// Bytes of every object but the message itself.
    produced: u64,
    /// Damage entries not recorded because there were too many.
    damage_dropped: u64,
    /// The largest object count and byte count any limit check or budget of this scan needed to pass:
    /// what a prescanned part's replay checks against the budget left at that point (see [`Prescan`]).
    demand_objects: u64,
    demand_bytes: u64,
    /// Parts already scanned while the message was arriving, and how many were replayed.
    prescan: Option<&'d Prescan>,
    replayed: usize,
    /// The atoms and the delimiters of the message itself, found while it arrived.
    root_atoms: Option<&'d AtomStream>,
    root_known: Option<walker::Known<'d>>,
}

/// What scanning one part of the message produced, kept to be replayed at the end.
#[derive(Debug)]
struct Effects {
    detections: Vec<Detection>,
    damage: Vec<Damage>,
    unscanned: Vec<Unscanned>,
    objects_scanned: u64,
    bytes_scanned: u64,
    collector: Collector,
    damage_dropped: u64,
    objects: u64,
    produced: u64,
    demand_objects: u64,
    demand_bytes: u64,
}

/// One part of a message scanned while the rest of the message was still arriving.
#[derive(Debug)]
struct Prescanned {
    range: std::ops::Range<usize>,
    location: Location,
    /// `None` when the part crossed a limit: its outcome depends on what was scanned before it, so it is
    /// scanned again at the end.
    effects: Option<Effects>,
}

/// Parts of a message scanned during [`ScanSession::feed`](crate::ScanSession::feed), so that
/// [`finish`](crate::ScanSession::finish) only does what is still open.
///
/// The final scan is the same as a scan of the whole message; where it meets a part of the message with the
/// same bytes (the same range of the same buffer), location and context as a prescanned one, it replays
/// that part's effects (detections, damage, unscanned objects, heuristic findings, counters) instead of
/// scanning it again. Replaying is exact because the work list is depth first (a part's subtree is worked
/// contiguously), and a part is replayed only when it crossed no limit and the object and byte budgets left
/// at that point cover everything its scan needed (`demand_*`): then every limit check inside it passes
/// in both scans alike. Otherwise the part is simply scanned again.
#[derive(Debug, Default)]
pub(crate) struct Prescan {
    parts: Vec<Prescanned>,
    /// Index in `parts` by range.
    by_range: std::collections::HashMap<(usize, usize), usize>,
    finder: walker::Parts,
}

impl Prescan {
    /// The approximate heap memory held for replays.
    pub(crate) fn memory_usage(&self) -> usize {
        self.parts
            .iter()
            .map(|p| {
                std::mem::size_of::<Prescanned>()
                    + p.effects.as_ref().map_or(0, |e| {
                        (e.detections.len() + e.damage.len() + e.unscanned.len()) * 96
                            + e.collector.findings.len() * 128
                    })
            })
            .sum()
    }

    /// The first signature or hash detection found in a prescanned part, if any.
    pub(crate) fn decided(&self) -> Option<&Detection> {
        self.parts
            .iter()
            .filter_map(|p| p.effects.as_ref())
            .flat_map(|e| e.detections.iter())
            .find(|d| matches!(d.kind(), DetectionKind::Signature | DetectionKind::Hash))
    }

    /// Scans the parts of `prefix` (the message so far) that are complete and not scanned yet. Only a
    /// multipart message's own parts are prescanned; a part counts as complete when a later part starts
    /// after it. The parts are found by searching only the bytes new since the last call
    /// ([`walker::Parts`]).
    pub(crate) fn advance(
        &mut self,
        db: &Database,
        limits: &Limits,
        heuristics: &Heuristics,
        prefix: &[u8],
    ) {
        for (segment, range) in self.finder.advance(prefix) {
            // Past MaxFiles parts the final scan would not get to more: neither does this.
            if self.parts.len() as u64 >= limits.get_max_files() {
                return;
            }
            let location = Location::root().child(&segment);
            let mut scan = Scan::new(db, limits, heuristics, None);
            // As in the final scan after this part's slot is counted and handed on (see `process`).
            scan.objects = 1;
            scan.queue.push_back(Work::Object(Object {
                data: Cow::Borrowed(&prefix[range.clone()]),
                location: location.clone(),
                depth: 1,
                role: Role::Part,
                html_hint: false,
                name: None,
                in_archive: false,
                container: Some(FileType::Mail),
                root_range: Some(range.clone()),
            }));
            scan.run();
            let crossed = scan
                .verdict
                .detections
                .iter()
                .any(|d| d.kind() == DetectionKind::Limit);
            let effects = (!crossed).then(|| Effects {
                detections: scan.verdict.detections,
                damage: scan.verdict.damage,
                unscanned: scan.verdict.unscanned,
                objects_scanned: scan.verdict.objects,
                bytes_scanned: scan.verdict.bytes_scanned,
                collector: scan.collector,
                damage_dropped: scan.damage_dropped,
                objects: scan.objects,
                produced: scan.produced,
                demand_objects: scan.demand_objects,
                demand_bytes: scan.demand_bytes,
            });
            self.by_range
                .insert((range.start, range.end), self.parts.len());
            self.parts.push(Prescanned {
                range,
                location,
                effects,
            });
        }
    }
}

/// Most damage entries recorded in one verdict.
const MAX_DAMAGE: usize = 256;

/// Scans a whole message. `cut` is true when the caller kept only the first `max_message_size` bytes.
pub(crate) fn scan_message(
    db: &Database,
    limits: &Limits,
    heuristics: &Heuristics,
    message: &[u8],
    cut: bool,
    early: Early<'_>,
) -> Verdict {
    scan_counting(db, limits, heuristics, message, cut, early).0
}

/// What a session did while the message arrived: its completed parts scanned, and the message's own atoms
/// found (a stream completed on the whole message).
#[derive(Clone, Copy, Default)]
pub(crate) struct Early<'e> {
    pub(crate) prescan: Option<&'e Prescan>,
    pub(crate) root_atoms: Option<&'e AtomStream>,
}

impl<'e> Early<'e> {
    /// The message's delimiters found while it arrived.
    fn known(&self) -> Option<walker::Known<'e>> {
        self.prescan.and_then(|p| p.finder.known())
    }
}

/// [`scan_message`], also returning how many prescanned parts were replayed.
fn scan_counting(
    db: &Database,
    limits: &Limits,
    heuristics: &Heuristics,
    message: &[u8],
    cut: bool,
    early: Early<'_>,
) -> (Verdict, usize) {
    let mut scan = Scan::new(db, limits, heuristics, early.prescan);
    scan.root_atoms = early.root_atoms;
    scan.root_known = early.known();
    scan.objects = 1;
    if cut {
        scan.limit(LimitName::MaxMessageSize, Location::root());
    }
    // A message has a header block; anything else (an attachment saved alone) is scanned as a file.
    let role = if crate::mime::header::has_header(message)
        || filetype::detect(message) == FileType::Mail
    {
        Role::Message
    } else {
        Role::Payload
    };
    scan.queue.push_back(Work::Object(Object {
        data: Cow::Borrowed(message),
        location: Location::root(),
        depth: 0,
        role,
        html_hint: false,
        name: None,
        in_archive: false,
        container: None,
        root_range: None,
    }));
    scan.run();
    if scan.damage_dropped > 0 {
        let more = format!("{} more damage entries not listed", scan.damage_dropped);
        scan.verdict
            .damage
            .push(Damage::new(Location::root(), more));
    }
    let (findings, score) = scan.collector.finish(heuristics, message);
    for f in findings.iter().filter(|f| f.alerts()) {
        scan.verdict.detections.push(Detection::new(
            f.rule(),
            DetectionKind::Heuristic,
            f.location().clone(),
        ));
    }
    let mut verdict = std::mem::take(&mut scan.verdict);
    verdict.suspicious =
        heuristics.get_mode() == crate::HeuristicMode::Score && score >= heuristics.get_threshold();
    verdict.findings = findings;
    verdict.score = score;
    verdict.normalize();
    (verdict, scan.replayed)
}

impl<'a, 'd> Scan<'a, 'd> {
    fn new(
        db: &'d Database,
        limits: &'d Limits,
        heuristics: &'d Heuristics,
        prescan: Option<&'d Prescan>,
    ) -> Scan<'a, 'd> {
        Scan {
            db,
            limits,
            heuristics,
            collector: Collector::default(),
            queue: VecDeque::new(),
            staged: Vec::new(),
            verdict: Verdict::default(),
            objects: 0,
            produced: 0,
            damage_dropped: 0,
            demand_objects: 0,
            demand_bytes: 0,
            prescan,
            replayed: 0,
            root_atoms: None,
            root_known: None,
        }
    }

    /// Works the list to its end.
    fn run(&mut self) {
        while let Some(work) = self.queue.pop_front() {
            let location = match &work {
                Work::Object(o) => o.location.clone(),
                Work::Members(m) => m.archive.location.clone(),
            };
            // A panic in any parser, ours or a dependency's, costs this object, not the mail server: the
            // object is reported as not scanned and the scan goes on with the rest of the work list.
            let outcome = catch_unwind(AssertUnwindSafe(|| match work {
                Work::Object(obj) => self.process(obj),
                Work::Members(members) => self.next_member(members),
            }));
            if outcome.is_err() {
                self.damage(&location, "internal error while scanning this object");
                self.verdict
                    .unscanned
                    .push(Unscanned::new(location, UnscannedReason::Undecodable));
            }
            while let Some(w) = self.staged.pop() {
                self.queue.push_front(w);
            }
        }
    }

    /// Records that a limit check or a budget needed `objects` objects and `bytes` bytes in all.
    fn demand(&mut self, objects: u64, bytes: u64) {
        self.demand_objects = self.demand_objects.max(objects);
        self.demand_bytes = self.demand_bytes.max(bytes);
    }

    /// The effects of the prescanned part `obj` is, if it may be replayed here (see [`Prescan`]).
    fn prescanned(&self, obj: &Object<'a>) -> Option<&'d Effects> {
        let range = obj.root_range.as_ref()?;
        let prescan = self.prescan?;
        let part = prescan
            .parts
            .get(*prescan.by_range.get(&(range.start, range.end))?)
            .filter(|p| p.range == *range && p.location == obj.location)?;
        let e = part.effects.as_ref()?;
        // A part cut by a limit when it was staged is not the part that was prescanned.
        let fits = obj.data.len() == range.len()
            && obj.depth == 1
            && obj.name.is_none()
            && !obj.html_hint
            && !obj.in_archive
            && obj.container == Some(FileType::Mail)
            && self.objects.saturating_add(e.demand_objects) <= self.limits.get_max_files()
            && self.produced.saturating_add(e.demand_bytes) <= self.limits.get_max_scan_size();
        fits.then_some(e)
    }

    /// Applies a prescanned part's effects as if it had been scanned here.
    fn replay(&mut self, e: &Effects) {
        self.replayed += 1;
        self.demand(
            self.objects + e.demand_objects,
            self.produced + e.demand_bytes,
        );
        self.verdict.detections.extend(e.detections.iter().cloned());
        for d in &e.damage {
            self.damage(d.location(), d.description().to_string());
        }
        self.damage_dropped += e.damage_dropped;
        self.verdict.unscanned.extend(e.unscanned.iter().cloned());
        self.verdict.objects += e.objects_scanned;
        self.verdict.bytes_scanned += e.bytes_scanned;
        self.collector.absorb(&e.collector);
        self.objects += e.objects;
        self.produced += e.produced;
    }

    fn limit(&mut self, name: LimitName, location: Location) {
        let already = self
            .verdict
            .detections
            .iter()
            .any(|d| d.limit() == Some(name));
        // One detection per limit is enough to tell the user; more would only repeat it.
        if !already {
            self.verdict.detections.push(Detection::new(
                name.detection_name(),
                DetectionKind::Limit,
                location,
            ));
        }
    }

    fn damage(&mut self, location: &Location, description: impl Into<String>) {
        // A hostile message can be damaged everywhere; past a few hundred entries, count instead.
        if self.verdict.damage.len() < MAX_DAMAGE {
            self.verdict
                .damage
                .push(Damage::new(location.clone(), description));
        } else {
            self.damage_dropped += 1;
        }
    }

    /// Scans one object's bytes with hash and body signatures. Returns false when the object is on the
    /// allow-list (`.fp`/`.sfp`): then neither it nor anything inside it is reported.
    fn match_object(
        &mut self,
        data: &[u8],
        file_type: FileType,
        container: Option<FileType>,
        location: &Location,
    ) -> bool {
        self.verdict.objects += 1;
        self.verdict.bytes_scanned += data.len() as u64;
        if self.db.allow.contains(data) {
            return false;
        }
        for name in self.db.hashes.lookup(data) {
            self.verdict.detections.push(Detection::new(
                name,
                DetectionKind::Hash,
                location.clone(),
            ));
        }
        let hits = match (self.root_atoms, *location == Location::root()) {
            (Some(stream), true) => self.db.body.scan_streamed(data, file_type.target(), stream),
            _ => self.db.body.scan(data, file_type.target()),
        };
        let subject = Subject {
            data,
            target: file_type.target(),
            container,
        };
        let logical = logical::evaluate(&self.db.logical, &hits.subs, &subject);
        for name in hits.names.into_iter().chain(logical) {
            self.verdict.detections.push(Detection::new(
                name,
                DetectionKind::Signature,
                location.clone(),
            ));
        }
        true
    }

    /// Stages a child for the work list if the limits allow it; `counted` when its object slot and bytes
    /// were already taken from the budget (archive members).
    fn push(&mut self, mut child: Object<'a>, counted: bool) {
        if child.depth > self.limits.get_max_recursion() {
            self.limit(LimitName::MaxRecursion, child.location);
            return;
        }
        if !counted {
            self.demand(
                self.objects + 1,
                self.produced.saturating_add(child.data.len() as u64),
            );
            if self.objects >= self.limits.get_max_files() {
                self.limit(LimitName::MaxFiles, child.location);
                return;
            }
            self.objects += 1;
            let room = self
                .limits
                .get_max_scan_size()
                .saturating_sub(self.produced);
            if child.data.len() as u64 > room {
                self.limit(LimitName::MaxScanSize, child.location.clone());
                if room == 0 {
                    return;
                }
                child.data = cut(child.data, room);
            }
            if child.data.len() as u64 > self.limits.get_max_file_size() {
                self.limit(LimitName::MaxFileSize, child.location.clone());
                child.data = cut(child.data, self.limits.get_max_file_size());
            }
            self.produced += child.data.len() as u64;
        }
        self.staged.push(Work::Object(child));
    }

    fn process(&mut self, obj: Object<'a>) {
        match obj.role {
            Role::Part => {
                // A part is structure, not content: once taken apart, its slot passes to what it holds,
                // so a flood of parts cannot use up MaxFiles before any of their payloads is scanned.
                self.objects = self.objects.saturating_sub(1);
                match self.prescanned(&obj) {
                    Some(effects) => self.replay(effects),
                    None => self.walk(obj, false),
                }
            }
            Role::Message => {
                if self.match_object(&obj.data, FileType::Mail, obj.container, &obj.location) {
                    self.walk(obj, true);
                }
            }
            Role::Payload => {
                let mut file_type = filetype::detect(&obj.data);
                if file_type == FileType::Text && obj.html_hint {
                    file_type = FileType::Html;
                }
                if !self.match_object(&obj.data, file_type, obj.container, &obj.location) {
                    return;
                }
                let facts = ObjectFacts {
                    data: &obj.data,
                    file_type,
                    name: obj.name.as_deref(),
                    in_archive: obj.in_archive,
                    is_body_text: obj.name.is_none() && !obj.in_archive,
                    location: &obj.location,
                };
                self.collector.object(self.heuristics, &facts);
                match file_type {
                    // Walked as a message only if it has a header block, or it would be its own body.
                    FileType::Mail if crate::mime::header::has_header(&obj.data) => {
                        self.walk(obj, true)
                    }
                    FileType::Zip | FileType::Tar => self.list_members(obj, file_type),
                    FileType::Gzip | FileType::Bzip2 => self.decompress(obj, file_type),
                    FileType::SevenZip
                    | FileType::Rar
                    | FileType::Cab
                    | FileType::Arj
                    | FileType::Cpio
                    | FileType::Iso
                    | FileType::Xz => self.verdict.unscanned.push(Unscanned::new(
                        obj.location,
                        UnscannedReason::UnsupportedContainer(file_type.name().to_string()),
                    )),
                    _ => {}
                }
            }
        }
    }

    /// Walks a message or part, staging its children.
    fn walk(&mut self, obj: Object<'a>, is_message: bool) {
        // The message itself (depth 0) is the bytes its session searched for delimiters as they arrived.
        let known = self.root_known.filter(|_| obj.depth == 0);
        let walked = walker::walk_known(&obj.data, known);
        let location = match (&walked.filename, is_message) {
            (Some(name), false) => obj.location.suffixed(&quoted(name)),
            _ => obj.location.clone(),
        };
        for d in &walked.damage {
            if walker::is_ambiguity(d) {
                self.collector.broken_mime(&location, d);
            }
            self.damage(&location, d.clone());
        }
        for child in walked.children {
            let mut loc = match (&child.segment, is_message) {
                (Some(seg), _) => location.child(seg),
                (None, true) => location.child("body"),
                (None, false) => location.clone(),
            };
            if let Some(suffix) = &child.suffix {
                loc = loc.suffixed(suffix);
            }
            let root_range = match (&child.data, obj.depth, &obj.data) {
                (ChildData::Range(r), 0, Cow::Borrowed(_)) => Some(r.clone()),
                _ => None,
            };
            let data: Cow<'a, [u8]> = match child.data {
                ChildData::Owned(v) => Cow::Owned(v),
                ChildData::Range(r) => match &obj.data {
                    Cow::Borrowed(b) => Cow::Borrowed(&b[r]),
                    Cow::Owned(v) => Cow::Owned(v[r].to_vec()),
                },
            };
            let role = match child.kind {
                ChildKind::Part => Role::Part,
                ChildKind::Message => Role::Message,
                ChildKind::Payload => Role::Payload,
            };
            let hint = walked.declares_html && role == Role::Payload;
            let name = if role == Role::Payload {
                walked.filename.clone()
            } else {
                None
            };
            let child = Object {
                data,
                location: loc,
                depth: obj.depth + 1,
                role,
                html_hint: hint,
                name,
                in_archive: obj.in_archive,
                container: Some(FileType::Mail),
                root_range,
            };
            self.push(child, false);
        }
    }

    fn budget(&self) -> Budget {
        Budget {
            remaining_bytes: self
                .limits
                .get_max_scan_size()
                .saturating_sub(self.produced),
            max_file: self.limits.get_max_file_size(),
            max_ratio: self.limits.get_max_compression_ratio(),
            remaining_objects: self.limits.get_max_files().saturating_sub(self.objects),
        }
    }

    /// Records what one decompression cost and produced, and stages the member.
    #[allow(clippy::too_many_arguments)]
    fn take_member(
        &mut self,
        archive: &Location,
        depth: u32,
        kind: FileType,
        name: &str,
        spent: u64,
        inflated: Inflated,
    ) {
        self.produced += spent;
        self.objects += 1;
        let location = archive.child(&quoted(name));
        if let Some(limit) = inflated.limit {
            self.limit(limit, location.clone());
        }
        if let Some(err) = inflated.error {
            self.damage(archive, format!("{name}: {err}"));
        }
        let member = Object {
            data: Cow::Owned(inflated.data),
            location,
            depth: depth + 1,
            role: Role::Payload,
            html_hint: false,
            name: Some(name.to_string()),
            in_archive: true,
            container: Some(kind),
            root_range: None,
        };
        self.push(member, true);
    }

    /// Lists an archive's members; they are extracted one at a time by [`Self::next_member`].
    fn list_members(&mut self, obj: Object<'a>, kind: FileType) {
        if obj.depth + 1 > self.limits.get_max_recursion() {
            self.limit(LimitName::MaxRecursion, obj.location.clone());
            return;
        }
        let listing = match kind {
            FileType::Zip => unpack::zip::list(&obj.data),
            _ => unpack::tar::entries(&obj.data),
        };
        for d in listing.damage {
            self.damage(&obj.location, d);
        }
        if listing.truncated {
            self.limit(LimitName::MaxFiles, obj.location.clone());
        }
        for (name, reason) in listing.unscanned {
            let location = obj.location.child(&quoted(&name));
            if reason == UnscannedReason::Encrypted {
                self.collector.encrypted(self.heuristics, &location);
            }
            self.verdict
                .unscanned
                .push(Unscanned::new(location, reason));
        }
        if !listing.entries.is_empty() {
            self.staged.push(Work::Members(Members {
                archive: obj,
                kind,
                entries: listing.entries,
                next: 0,
            }));
        }
    }

    /// Extracts the next member of an archive and stages it, followed by the rest of the archive: the
    /// member and everything inside it are worked before the next member is extracted.
    fn next_member(&mut self, mut m: Members<'a>) {
        let Some(entry) = m.entries.get(m.next) else {
            return;
        };
        let name = entry.name.clone();
        self.demand(self.objects + 1, self.produced);
        if self.objects >= self.limits.get_max_files() {
            self.limit(
                LimitName::MaxFiles,
                m.archive.location.child(&quoted(&name)),
            );
            return;
        }
        let mut budget = self.budget();
        let before = budget.remaining_bytes;
        let inflated = match m.kind {
            FileType::Zip => unpack::zip::extract(&m.archive.data, entry, &mut budget),
            _ => m
                .archive
                .data
                .get(entry.range.clone())
                .map(|d| unpack::copy_limited(d, &mut budget)),
        };
        if let Some(inflated) = inflated {
            let spent = before.saturating_sub(budget.remaining_bytes);
            self.demand(self.objects + 1, self.produced.saturating_add(spent));
            self.take_member(
                &m.archive.location,
                m.archive.depth,
                m.kind,
                &name,
                spent,
                inflated,
            );
        }
        m.next += 1;
        if m.next < m.entries.len() {
            self.staged.push(Work::Members(m));
        }
    }

    /// Decompresses a single-stream container (gzip, bzip2) within the budget.
    fn decompress(&mut self, obj: Object<'a>, kind: FileType) {
        if obj.depth + 1 > self.limits.get_max_recursion() {
            self.limit(LimitName::MaxRecursion, obj.location.clone());
            return;
        }
        let mut budget = self.budget();
        let start_bytes = budget.remaining_bytes;
        let start_objects = budget.remaining_objects;
        let mut out = Unpacked::default();
        let data: &[u8] = &obj.data;
        let result = catch_unwind(AssertUnwindSafe(|| match kind {
            FileType::Gzip => unpack::gzip::unpack(data, &mut budget, &mut out),
            _ => unpack::bzip2::unpack(data, &mut budget, &mut out),
        }));
        if result.is_err() {
            self.damage(
                &obj.location,
                format!("the {} unpacker failed", kind.name()),
            );
            self.verdict.unscanned.push(Unscanned::new(
                obj.location.clone(),
                UnscannedReason::Undecodable,
            ));
        }
        self.produced += start_bytes.saturating_sub(budget.remaining_bytes);
        self.objects += start_objects.saturating_sub(budget.remaining_objects);
        self.demand(self.objects, self.produced);
        for d in out.damage {
            self.damage(&obj.location, d);
        }
        for (name, limit) in out.limits {
            self.limit(limit, obj.location.child(&quoted(&name)));
        }
        for member in out.members {
            let loc = obj.location.child(&quoted(&member.name));
            // A gzip member keeps the name of what it came from, less its ".gz".
            let name = obj
                .name
                .as_deref()
                .map(|n| n.strip_suffix(".gz").unwrap_or(n).to_string());
            let member = Object {
                data: Cow::Owned(member.data),
                location: loc,
                depth: obj.depth + 1,
                role: Role::Payload,
                html_hint: false,
                name,
                in_archive: obj.in_archive,
                container: Some(kind),
                root_range: None,
            };
            self.push(member, true);
        }
    }
}

fn cut(data: Cow<'_, [u8]>, len: u64) -> Cow<'_, [u8]> {
    let len = usize::try_from(len).unwrap_or(usize::MAX).min(data.len());
    match data {
        Cow::Borrowed(b) => Cow::Borrowed(&b[..len]),
        Cow::Owned(mut v) => {
            v.truncate(len);
            Cow::Owned(v)
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::{Engine, Limits, UnscannedReason};
    use std::io::Write;

    #[test]
    fn completed_parts_are_replayed_not_scanned_again() {
        let engine = Engine::builder()
            .load_str("t.ndb", "T:0:*:6d61726b6572\n")
            .unwrap()
            .build()
            .unwrap();
        let msg = "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none marker\r\n--b\r\nContent-Type: application/zip\r\n\r\ntwo\r\n--b\r\n\r\nthree\r\n--b--\r\n";
        let cut = msg.find("three").unwrap();
        let db = engine.db();
        let heuristics = engine.heuristics();
        let run = |limits: &Limits| {
            let mut pre = super::Prescan::default();
            pre.advance(db, limits, heuristics, &msg.as_bytes()[..cut]);
            assert_eq!(pre.parts.len() as u64, limits.get_max_files().min(2));
            let (v, replayed) = super::scan_counting(
                db,
                limits,
                heuristics,
                msg.as_bytes(),
                false,
                super::Early {
                    prescan: Some(&pre),
                    root_atoms: None,
                },
            );
            let whole = super::scan_message(
                db,
                limits,
                heuristics,
                msg.as_bytes(),
                false,
                super::Early::default(),
            );
            assert_eq!(v, whole, "{limits:?}");
            replayed
        };
        assert_eq!(run(&Limits::default()), 2);
        // Every byte budget and object budget: the verdict never changes; where the budget left when a part
        // is worked is too small for what its early scan needed, it is scanned again instead.
        let by_bytes: Vec<usize> = (1..200)
            .map(|n| run(&Limits::default().max_scan_size(n)))
            .collect();
        let by_files: Vec<usize> = (1..8)
            .map(|n| run(&Limits::default().max_files(n)))
            .collect();
        for replays in [&by_bytes, &by_files] {
            assert!(replays.contains(&0) && replays.contains(&2), "{replays:?}");
        }
        assert!(by_bytes.contains(&1), "{by_bytes:?}");
    }

    #[test]
    fn a_panic_inside_a_parser_is_contained() {
        let mut gz = flate2::GzBuilder::new()
            .filename("portcullis-panic-test")
            .write(Vec::new(), flate2::Compression::default());
        gz.write_all(b"anything").unwrap();
        let gz = gz.finish().unwrap();
        let mut eicar = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR".to_vec();
        eicar.extend_from_slice(b"-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
        // The gzip attachment panics; the EICAR text after it must still be found.
        let b64 = |d: &[u8]| {
            let mut out = String::new();
            let a = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
            for c in d.chunks(3) {
                let v = (c[0] as u32) << 16
                    | (*c.get(1).unwrap_or(&0) as u32) << 8
                    | *c.get(2).unwrap_or(&0) as u32;
                for k in 0..=c.len() {
                    out.push(a[(v >> (18 - 6 * k) & 63) as usize] as char);
                }
            }
            out
        };
        let msg = format!(
            "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n--b--\r\n",
            b64(&gz),
            b64(&eicar)
        );
        let engine = Engine::builder().build().unwrap();
        let v = engine.scan_bytes(msg.as_bytes()).unwrap();
        assert!(v.is_infected(), "{v:?}");
        assert!(
            v.unscanned()
                .iter()
                .any(|u| *u.reason() == UnscannedReason::Undecodable
                    && u.location().as_str() == "message/part[1]"),
            "{v:?}"
        );
        assert!(
            v.damage()
                .iter()
                .any(|d| d.description().contains("gzip unpacker failed")),
            "{v:?}"
        );
    }
}
