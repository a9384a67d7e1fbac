//! Where a verdict is made: the work list that takes a message apart and scans every object in it.
//!
//! Each object on the list is a message (scanned as mail, then walked), a MIME part (walked only: its bytes
//! are scanned as part of its parent) or a payload (typed, scanned, and opened if it is a container).
//! Children go back on the list, so nesting costs heap, never stack; every push is checked against the
//! limits first. The list is worked depth first, and an archive's members are extracted one at a time,
//! only when the scanner gets to them: at any moment at most one member per open archive is in memory,
//! not the whole of what an archive expands to.
//!
//! A session scans the parts of a message while it arrives, with the same work list, and the final scan
//! takes them over (`prescan.rs`).

mod prescan;

pub(crate) use prescan::Prescan;

use std::borrow::Cow;
use std::collections::VecDeque;
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::engine::Database;
use crate::filetype::{self, FileType};
use crate::heuristics::{Collector, Heuristics, ObjectFacts};
use crate::limits::{LimitName, Limits};
use crate::matcher::hashes::StreamDigest;
use crate::matcher::logical::{self, Subject};
use crate::matcher::regexes::PcreStream;
use crate::matcher::{AtomStream, PreVerified, View};
use crate::mime::walker::{self, ChildData, ChildKind};
use crate::stream::{self, Sink};
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
    /// Its object slot and bytes are taken from the budget (when it is worked, or when extracted).
    counted: bool,
    /// A part its session decoded as it arrived, or the payload of one matched as it arrived: what the
    /// scan has of it instead of its bytes (`stream.rs`).
    streamed: Option<Box<Streamed>>,
}

/// What a session kept of an object it did not hold whole.
enum Streamed {
    Part(stream::Finished),
    /// A payload's length (before any cut), and what was kept of it.
    Payload(u64, Sink),
    /// A part that is a message forwarded as sent, which its session followed (`prescan.rs`'s
    /// `Forwarded`): the part's walk, and what its message needs.
    Forwarded(stream::Finished, Box<Followed>),
    /// That message: what its walk's child takes over.
    Message(Box<Followed>),
}

/// A message forwarded as sent that its session followed as it arrived: matched as mail on the way, its
/// parts scanned as they completed (the scan skips them), its body decoded on the way when it is a leaf.
struct Followed {
    matched: Box<stream::Streamed>,
    /// What its walk takes over of its body, when that was decoded as it arrived.
    body: Option<stream::Finished>,
    /// The state when it was admitted, before its parts were scanned: an allow-listed message reports
    /// nothing found inside it, and is not walked.
    before: Option<Carried>,
}

impl Object<'_> {
    /// Its length: what a payload decoded as it arrived had before any cut.
    fn len(&self) -> u64 {
        match self.streamed.as_deref() {
            Some(Streamed::Payload(len, _)) => *len,
            _ => self.data.len() as u64,
        }
    }

    /// Keeps its first `len` bytes.
    fn cut(&mut self, len: u64) {
        self.data = cut(std::mem::take(&mut self.data), len);
        if let Some(Streamed::Payload(l, _)) = self.streamed.as_deref_mut() {
            *l = (*l).min(len);
        }
    }
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
    /// What the walk of an entity noted, worked after its children: an entity's notes (whether its
    /// multipart is terminated, whether it has more parts than allowed) are known only at its end, and a
    /// session scans its parts before that ([`Prescan`]).
    Notes(Notes),
}

/// What the walk of one entity noted about it.
struct Notes {
    location: Location,
    damage: Vec<String>,
    parts_capped: bool,
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
    queue: VecDeque<Work<'a>>,
    /// Children of the item being processed, put at the front of the queue in order once it is done.
    staged: Vec<Work<'a>>,
    /// What the scan has found and spent so far.
    st: Carried,
    /// Parts of the message already scanned while it arrived, in order (see [`Prescan`]), and how many of
    /// them the walk of the message has met so far.
    skip: &'d [(std::ops::Range<usize>, Location)],
    skipped: usize,
    /// The entity whose parts were scanned while it arrived turned out allow-listed: they were dropped,
    /// not met.
    dropped: bool,
    /// The atoms of the message itself, found while it arrived.
    root_atoms: Option<&'d AtomStream>,
    /// The entity the scan starts from, when its session found its delimiters as it arrived and may hold
    /// it in pieces: the message itself, or a part of it that is a multipart (`prescan.rs`'s `Nested`).
    top: Option<Top<'a, 'd>>,
    sparse: Option<Sparse<'d>>,
    /// The message's atom hits verified while it arrived.
    root_pre: Option<&'d PreVerified>,
}

/// The entity a scan starts from, as its session kept it: see [`Scan::top`].
#[derive(Clone)]
struct Top<'a, 'd> {
    depth: u32,
    /// Where it is in the message: `None` for the message itself.
    range: Option<std::ops::Range<usize>>,
    /// Whole or as its session kept it.
    view: View<'a>,
    /// Its delimiters found while it arrived.
    known: Option<walker::Known<'d>>,
}

/// What a session kept of a message whose middle it let go of (see `session.rs`): besides the bytes of
/// [`View::split`], the digests of every byte.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Sparse<'e> {
    pub(crate) digest: &'e StreamDigest,
    /// What the expressions of PCRE subsignatures found of it.
    pub(crate) pcre: Option<&'e PcreStream>,
}

/// What was found of an object while it arrived, for matching it without all of its bytes: its atom hits,
/// those verified already, and its digests when it is not held whole.
#[derive(Clone, Copy)]
struct Evidence<'e> {
    atoms: &'e AtomStream,
    pre: Option<&'e PreVerified>,
    digest: Option<&'e StreamDigest>,
    pcre: Option<&'e PcreStream>,
}

impl<'e> Evidence<'e> {
    /// What was found of an object matched as it arrived.
    fn of(s: &'e stream::Streamed) -> Evidence<'e> {
        Evidence {
            atoms: &s.atoms,
            pre: Some(&s.pre),
            digest: s.sparse().then_some(&s.digest),
            pcre: s.sparse().then_some(&s.pcre),
        }
    }
}

/// What a scan has found and spent so far: all that passes from one part of a message to the next.
#[derive(Clone, Debug, Default)]
struct Carried {
    collector: Collector,
    verdict: Verdict,
    /// Objects admitted so far, the message included.
    objects: u64,
    /// Bytes of every object admitted but the message itself.
    produced: u64,
    /// Damage entries not recorded because there were too many.
    damage_dropped: u64,
}

impl Carried {
    /// The state before anything but the message itself is admitted.
    fn start() -> Carried {
        Carried {
            objects: 1,
            ..Carried::default()
        }
    }
}

/// Most damage entries recorded in one verdict.
const MAX_DAMAGE: usize = 256;

/// Scans a message. `cut` is true when the caller kept only the first `max_message_size` bytes. `early` is
/// what a session did while the message arrived; [`Engine::scan_bytes`](crate::Engine::scan_bytes) does the
/// same on the whole message first ([`scan_whole`]). The message is `view`: whole, or as a session kept it
/// (then `early.sparse` has the rest of what its scan needs).
pub(crate) fn scan_message(
    db: &Database,
    limits: &Limits,
    heuristics: &Heuristics,
    view: View<'_>,
    cut: bool,
    early: Early<'_>,
    body: Option<stream::Finished>,
) -> Verdict {
    let run = Run {
        db,
        limits,
        heuristics,
        view,
        cut,
        early,
        body: std::cell::Cell::new(body),
    };
    // An allow-listed message reports nothing found inside it: what its parts found is dropped.
    let take_over = early
        .prescan
        .is_some_and(|p| p.carried.is_some() && !run.allowed());
    let (verdict, met) = run_message(&run, take_over);
    // The walk of the whole message meets the parts scanned early first; should it ever not (a difference
    // between the incremental and the whole reading), a message held whole is scanned again from the start
    // rather than trusted.
    debug_assert!(met, "the walk did not meet the parts scanned early");
    if met || early.sparse.is_some() {
        verdict
    } else {
        run_message(&run, false).0
    }
}

/// [`scan_message`] for a message held whole: its parts scanned first, as a session would.
pub(crate) fn scan_whole(
    db: &Database,
    limits: &Limits,
    heuristics: &Heuristics,
    message: &[u8],
    cut: bool,
) -> Verdict {
    let mut prescan = Prescan::default();
    prescan.advance(db, limits, heuristics, message, 0, false);
    prescan.finish(db, limits, heuristics, message, 0);
    let early = Early {
        prescan: Some(&prescan),
        ..Early::default()
    };
    scan_message(
        db,
        limits,
        heuristics,
        View::whole(message),
        cut,
        early,
        None,
    )
}

/// What a session did while the message arrived: its completed parts scanned, the message's own atoms found
/// (a stream completed on the whole message) and those verified already (by position, see
/// [`PreVerified`]), and what it kept of a message it let go of in part.
#[derive(Clone, Copy, Default)]
pub(crate) struct Early<'e> {
    pub(crate) prescan: Option<&'e Prescan>,
    pub(crate) root_atoms: Option<&'e AtomStream>,
    pub(crate) pre: Option<&'e PreVerified>,
    pub(crate) sparse: Option<Sparse<'e>>,
}

/// One scan of a message: what [`run_message`] works with.
struct Run<'r> {
    db: &'r Database,
    limits: &'r Limits,
    heuristics: &'r Heuristics,
    view: View<'r>,
    cut: bool,
    early: Early<'r>,
    /// The message's body, decoded as it arrived (taken by the first run).
    body: std::cell::Cell<Option<stream::Finished>>,
}

impl Run<'_> {
    /// Whether the message as a whole is on the allow-list.
    fn allowed(&self) -> bool {
        !self.db.allow.is_empty()
            && !lookup(
                &self.db.allow,
                self.view,
                self.early.sparse.map(|s| s.digest),
            )
            .is_empty()
    }
}

/// The signatures of `index` that an object's size and digests match: hashed here when the object is
/// held whole, from the digests its session kept (`sparse`) when it is not.
fn lookup<'i>(
    index: &'i crate::matcher::hashes::HashIndex,
    view: View<'_>,
    digest: Option<&StreamDigest>,
) -> Vec<&'i str> {
    let len = view.len() as u64;
    match (digest, view.get(0..view.len())) {
        (Some(d), _) => index.lookup_with(len, &mut |k| d.digest(k)),
        (None, Some(whole)) => index.lookup(whole),
        (None, None) => Vec::new(),
    }
}

/// The scan of the message; with `take_over`, after the parts its session scanned early. Also says whether
/// its walk met those parts, in order (always, unless the incremental and the whole reading differ).
fn run_message(run: &Run<'_>, take_over: bool) -> (Verdict, bool) {
    let Run {
        db,
        limits,
        heuristics,
        view,
        cut,
        early,
        ..
    } = *run;
    let mut scan = Scan::new(db, limits, heuristics);
    scan.root_atoms = early.root_atoms;
    let mut top = Top {
        depth: 0,
        range: None,
        view,
        known: None,
    };
    scan.sparse = early.sparse;
    scan.root_pre = early.pre;
    scan.st = Carried::start();
    if let Some(p) = early.prescan {
        top.known = p.level.finder.known();
        if take_over && let Some(c) = &p.carried {
            scan.skip = &p.level.parts;
            scan.st = c.clone();
        }
    }
    scan.top = Some(top);
    if cut {
        scan.limit(LimitName::MaxMessageSize, Location::root());
    }
    // A message has a header block; anything else (an attachment saved alone) is scanned as a file.
    let head = view.head();
    let role = if crate::mime::header::has_header(head) || filetype::detect(head) == FileType::Mail
    {
        Role::Message
    } else {
        Role::Payload
    };
    scan.queue.push_back(Work::Object(Object {
        data: Cow::Borrowed(head),
        location: Location::root(),
        depth: 0,
        role,
        html_hint: false,
        name: None,
        in_archive: false,
        container: None,
        root_range: None,
        counted: true,
        streamed: run
            .body
            .take()
            .filter(|_| role == Role::Message)
            .map(|f| Box::new(Streamed::Part(f))),
    }));
    scan.run();
    let met = scan.skipped == scan.skip.len();
    let mut st = scan.st;
    if st.damage_dropped > 0 {
        let more = format!("{} more damage entries not listed", st.damage_dropped);
        st.verdict.damage.push(Damage::new(Location::root(), more));
    }
    // Asked only when an encrypted archive makes it matter: the message's header block, always held.
    let password = || {
        let (_, body_start, _) = crate::mime::header::parse_block(head);
        crate::heuristics::html::mentions_password(&head[..body_start.min(head.len())])
    };
    let (findings, score) = st.collector.finish(heuristics, password);
    for f in findings.iter().filter(|f| f.alerts()) {
        st.verdict.detections.push(Detection::new(
            f.rule(),
            DetectionKind::Heuristic,
            f.location().clone(),
        ));
    }
    let mut verdict = st.verdict;
    verdict.suspicious =
        heuristics.get_mode() == crate::HeuristicMode::Score && score >= heuristics.get_threshold();
    verdict.findings = findings;
    verdict.score = score;
    verdict.normalize();
    (verdict, met)
}

impl<'a, 'd> Scan<'a, 'd> {
    fn new(db: &'d Database, limits: &'d Limits, heuristics: &'d Heuristics) -> Scan<'a, 'd> {
        Scan {
            db,
            limits,
            heuristics,
            queue: VecDeque::new(),
            staged: Vec::new(),
            st: Carried::default(),
            skip: &[],
            skipped: 0,
            dropped: false,
            root_atoms: None,
            top: None,
            sparse: None,
            root_pre: None,
        }
    }

    /// Works the list to its end.
    fn run(&mut self) {
        while let Some(work) = self.queue.pop_front() {
            let location = match &work {
                Work::Object(o) => o.location.clone(),
                Work::Members(m) => m.archive.location.clone(),
                Work::Notes(n) => n.location.clone(),
            };
            // A panic in any parser, ours or a dependency's, costs this object, not the mail server: the
            // object is reported as not scanned and the scan goes on with the rest of the work list.
            let outcome = catch_unwind(AssertUnwindSafe(|| match work {
                Work::Object(obj) => self.process(obj),
                Work::Members(members) => self.next_member(members),
                Work::Notes(notes) => self.note(notes),
            }));
            if outcome.is_err() {
                self.damage(&location, "internal error while scanning this object");
                self.st
                    .verdict
                    .unscanned
                    .push(Unscanned::new(location, UnscannedReason::Undecodable));
            }
            while let Some(w) = self.staged.pop() {
                self.queue.push_front(w);
            }
        }
    }

    /// The entity the scan starts from, if `obj` is it.
    fn top_of(&self, obj: &Object<'a>) -> Option<Top<'a, 'd>> {
        self.top
            .clone()
            .filter(|t| t.depth == obj.depth && t.range == obj.root_range)
    }

    /// Whether `obj` is the next of the parts scanned while the message arrived: then it is done.
    fn already_scanned(&mut self, obj: &Object<'a>) -> bool {
        let hit = obj.role == Role::Part
            && match (&obj.root_range, self.skip.get(self.skipped)) {
                (Some(r), Some((range, location))) => r == range && obj.location == *location,
                _ => false,
            };
        if hit {
            self.skipped += 1;
        }
        hit
    }

    fn limit(&mut self, name: LimitName, location: Location) {
        let already = self
            .st
            .verdict
            .detections
            .iter()
            .any(|d| d.limit() == Some(name));
        // One detection per limit is enough to tell the user; more would only repeat it.
        if !already {
            self.st.verdict.detections.push(Detection::new(
                name.detection_name(),
                DetectionKind::Limit,
                location,
            ));
        }
    }

    fn damage(&mut self, location: &Location, description: impl Into<String>) {
        // A hostile message can be damaged everywhere; past a few hundred entries, count instead.
        if self.st.verdict.damage.len() < MAX_DAMAGE {
            self.st
                .verdict
                .damage
                .push(Damage::new(location.clone(), description));
        } else {
            self.st.damage_dropped += 1;
        }
    }

    /// Scans one object's bytes with hash and body signatures. Returns false when the object is on the
    /// allow-list (`.fp`/`.sfp`): then neither it nor anything inside it is reported.
    fn match_object(
        &mut self,
        view: View<'_>,
        file_type: FileType,
        container: Option<FileType>,
        location: &Location,
        evidence: Option<Evidence<'_>>,
    ) -> bool {
        let len = view.len();
        self.st.verdict.objects += 1;
        self.st.verdict.bytes_scanned += len as u64;
        let is_root = *location == Location::root();
        // The message itself: what its session found as it arrived.
        let evidence = evidence.or_else(|| {
            let atoms = self.root_atoms.filter(|_| is_root)?;
            Some(Evidence {
                atoms,
                pre: self.root_pre,
                digest: self.sparse.map(|s| s.digest),
                pcre: self.sparse.and_then(|s| s.pcre),
            })
        });
        let digest = evidence.and_then(|e| e.digest);
        if !self.db.allow.is_empty() && !lookup(&self.db.allow, view, digest).is_empty() {
            return false;
        }
        for name in lookup(&self.db.hashes, view, digest) {
            self.st.verdict.detections.push(Detection::new(
                name,
                DetectionKind::Hash,
                location.clone(),
            ));
        }
        let target = file_type.target();
        let whole = view.get(0..len);
        let hits = match (evidence, whole) {
            (Some(e), _) => self.db.body.scan_streamed(view, target, e.atoms, e.pre),
            (None, Some(data)) => self.db.body.scan(data, target),
            (None, None) => crate::matcher::Hits::default(),
        };
        let subject = Subject {
            data: whole.unwrap_or(&[]),
            pcre: evidence.and_then(|e| e.pcre),
            held: view.tail(),
            len,
            target,
            container,
        };
        let logical = logical::evaluate(&self.db.logical, &hits.subs, &subject);
        for name in hits.names.into_iter().chain(logical) {
            self.st.verdict.detections.push(Detection::new(
                name,
                DetectionKind::Signature,
                location.clone(),
            ));
        }
        true
    }

    /// Stages a child for the work list; it is admitted when it is worked ([`Self::admit`]).
    fn push(&mut self, child: Object<'a>) {
        self.staged.push(Work::Object(child));
    }

    /// Checks an object against the limits when its turn comes, takes its slot and bytes from the budget,
    /// and cuts it to what is left. Counting in the order objects are worked (depth first) makes an
    /// object's outcome depend only on what was worked before it (see [`Prescan`]).
    fn admit(&mut self, mut child: Object<'a>) -> Option<Object<'a>> {
        if child.depth > self.limits.get_max_recursion() {
            self.limit(LimitName::MaxRecursion, child.location);
            return None;
        }
        if child.counted {
            return Some(child);
        }
        if self.st.objects >= self.limits.get_max_files() {
            self.limit(LimitName::MaxFiles, child.location);
            return None;
        }
        self.st.objects += 1;
        child.counted = true;
        // A part is structure: what it holds is counted and cut when decoded, its bytes are not (else a
        // part's bytes would count twice, and how much of a part may be decoded would depend on its end).
        // So is a message forwarded in the message: the mail's own bytes, which take a slot, while what
        // it holds is counted (so a session can scan its parts as they arrive, before its length is known).
        if matches!(child.role, Role::Part | Role::Message) {
            return Some(child);
        }
        let room = self
            .limits
            .get_max_scan_size()
            .saturating_sub(self.st.produced);
        if child.len() > room {
            self.limit(LimitName::MaxScanSize, child.location.clone());
            if room == 0 {
                return None;
            }
            child.cut(room);
        }
        if child.len() > self.limits.get_max_file_size() {
            self.limit(LimitName::MaxFileSize, child.location.clone());
            child.cut(self.limits.get_max_file_size());
        }
        self.st.produced += child.len();
        child.counted = true;
        Some(child)
    }

    fn process(&mut self, obj: Object<'a>) {
        if self.already_scanned(&obj) {
            return;
        }
        // A part of the message whose bytes its session let go of is one it scanned early: never another.
        // Should it be, the part is reported as not scanned, never passed over in silence.
        if let Some(range) = &obj.root_range
            && obj.data.len() != range.len()
            && obj.streamed.is_none()
            && self.top_of(&obj).is_none()
        {
            debug_assert!(false, "a part let go of before it was scanned");
            self.damage(
                &obj.location,
                "internal error: the part was let go of before it was scanned",
            );
            self.st
                .verdict
                .unscanned
                .push(Unscanned::new(obj.location, UnscannedReason::Undecodable));
            return;
        }
        // A part admitted before (a nested multipart its session followed) passed its slot on then.
        let fresh = !obj.counted;
        let Some(obj) = self.admit(obj) else {
            return;
        };
        match obj.role {
            Role::Part => {
                // A part is structure, not content: once taken apart, its slot passes to what it holds,
                // so a flood of parts cannot use up MaxFiles before any of their payloads is scanned.
                if fresh {
                    self.st.objects = self.st.objects.saturating_sub(1);
                }
                self.walk(obj, false);
            }
            Role::Message => {
                let mut obj = obj;
                // A message its session followed as it arrived is matched on what it kept (the root's body
                // decoded as it arrived stays for the walk).
                let followed = match obj.streamed.take().map(|b| *b) {
                    Some(Streamed::Message(followed)) => Some(*followed),
                    other => {
                        obj.streamed = other.map(Box::new);
                        None
                    }
                };
                let top = self.top_of(&obj).map(|t| t.view);
                // Its walk reads it as its session held it, unless its body came decoded.
                debug_assert!(
                    followed
                        .as_ref()
                        .is_none_or(|f| f.body.is_some() || top.is_some())
                );
                let (view, evidence) = match &followed {
                    Some(f) => (f.matched.view(), Some(Evidence::of(&f.matched))),
                    None => (top.unwrap_or(View::whole(&obj.data)), None),
                };
                let len = view.len() as u64;
                let location = obj.location.clone();
                if self.match_object(view, FileType::Mail, obj.container, &location, evidence) {
                    if let Some(f) = followed {
                        obj.streamed = f.body.map(|f| Box::new(Streamed::Part(f)));
                    }
                    self.walk(obj, true);
                } else if let Some(before) = followed.and_then(|f| f.before) {
                    // Allow-listed: what its parts found and spent as they arrived is dropped, as if they
                    // had never been walked; what matching it counted stays.
                    self.st = before;
                    self.st.verdict.objects += 1;
                    self.st.verdict.bytes_scanned += len;
                    self.dropped = true;
                }
            }
            Role::Payload => {
                let mut obj = obj;
                // What its session decoded as the part arrived: held, or matched as it arrived.
                let streamed = match obj.streamed.take().map(|b| *b) {
                    Some(Streamed::Payload(len, Sink::Held(mut bytes))) => {
                        bytes.truncate(usize::try_from(len).unwrap_or(usize::MAX));
                        obj.data = Cow::Owned(bytes);
                        None
                    }
                    Some(Streamed::Payload(len, Sink::Streamed(s))) => Some((len, s)),
                    _ => None,
                };
                let (file_type, evidence, view) = match &streamed {
                    Some((_, s)) => (s.file_type, Some(Evidence::of(s)), s.view()),
                    None => {
                        let mut file_type = filetype::detect(&obj.data);
                        if file_type == FileType::Text && obj.html_hint {
                            file_type = FileType::Html;
                        }
                        (file_type, None, View::whole(&obj.data))
                    }
                };
                debug_assert!(
                    streamed
                        .as_ref()
                        .is_none_or(|(len, _)| *len == view.len() as u64)
                );
                if !self.match_object(view, file_type, obj.container, &obj.location, evidence) {
                    return;
                }
                let at = crate::heuristics::footer_offset(view.len());
                let (data, footer, document) = match &streamed {
                    Some((_, s)) => (s.head(), at.and_then(|at| s.footer(at)), s.document()),
                    None => (
                        &obj.data[..],
                        at.and_then(|at| obj.data.get(at..at + 8)),
                        None,
                    ),
                };
                let facts = ObjectFacts {
                    data,
                    footer,
                    document,
                    file_type,
                    name: obj.name.as_deref(),
                    in_archive: obj.in_archive,
                    is_body_text: obj.name.is_none() && !obj.in_archive,
                    mentions_password: streamed.as_ref().and_then(|(_, s)| s.mentions_password()),
                    html_found: streamed.as_ref().and_then(|(_, s)| s.html_found()),
                    location: &obj.location,
                };
                self.st.collector.object(self.heuristics, &facts);
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
                    | FileType::Xz => self.st.verdict.unscanned.push(Unscanned::new(
                        obj.location,
                        UnscannedReason::UnsupportedContainer(file_type.name().to_string()),
                    )),
                    _ => {}
                }
            }
        }
    }

    /// Walks a message or part, staging its children.
    fn walk(&mut self, mut obj: Object<'a>, is_message: bool) {
        // The entity the scan starts from was searched for delimiters as it arrived, and may be held in
        // pieces; what its walk yields is taken from those, and its parts are known by where they are in
        // the message.
        let top = self.top_of(&obj);
        let known = top.as_ref().and_then(|t| t.known);
        let root_view = top.as_ref().map(|t| t.view);
        let top_start = top
            .as_ref()
            .map(|t| t.range.as_ref().map_or(0, |r| r.start));
        // A part its session decoded as it arrived comes walked, with its payload apart; a part that is a
        // message it followed, with what that message needs.
        let mut followed = None;
        let (mut walked, payload) = match obj.streamed.take().map(|b| *b) {
            Some(Streamed::Part(finished)) => (finished.walked, finished.payloads),
            Some(Streamed::Forwarded(finished, message)) => {
                followed = Some(message);
                (finished.walked, finished.payloads)
            }
            _ => (
                walker::walk_known(
                    root_view.unwrap_or(View::whole(&obj.data)),
                    known,
                    self.limits.get_max_parts(),
                ),
                Vec::new(),
            ),
        };
        let location = match (&walked.filename, is_message) {
            (Some(name), false) => obj.location.suffixed(&quoted(name)),
            _ => obj.location.clone(),
        };
        let notes = Notes {
            location: location.clone(),
            damage: std::mem::take(&mut walked.damage),
            parts_capped: walked.parts_capped,
        };
        for (suffix, len, sink) in payload {
            let at = match is_message {
                true => location.child("body"),
                false => location.clone(),
            };
            self.push(Object {
                data: Cow::Borrowed(&[]),
                location: match &suffix {
                    Some(suffix) => at.suffixed(suffix),
                    None => at,
                },
                depth: obj.depth + 1,
                role: Role::Payload,
                html_hint: walked.declares_html,
                name: walked.filename.clone(),
                in_archive: obj.in_archive,
                container: Some(FileType::Mail),
                root_range: None,
                counted: false,
                streamed: Some(Box::new(Streamed::Payload(len, sink))),
            });
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
            // The message in a part its session followed is where the part's body is in the message.
            let part_start = followed
                .as_ref()
                .and(obj.root_range.as_ref())
                .map(|r| r.start);
            let root_range = match (&child.data, top_start.or(part_start)) {
                (ChildData::Range(r), Some(at)) => Some(at + r.start..at + r.end),
                _ => None,
            };
            let message = followed.take_if(|_| child.kind == ChildKind::Message);
            let data: Cow<'a, [u8]> = match (child.data, root_view) {
                (ChildData::Owned(v), _) => Cow::Owned(v),
                // Its session kept what the scan needs of it (and admitted it when it followed it).
                (ChildData::Range(_), _) if message.is_some() => Cow::Borrowed(&[]),
                // A part of the message its session let go of was scanned already: it is skipped.
                (ChildData::Range(r), Some(view)) => Cow::Borrowed(view.get(r).unwrap_or(&[])),
                (ChildData::Range(r), None) => match &obj.data {
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
                counted: message.is_some(),
                streamed: message.map(|m| Box::new(Streamed::Message(m))),
            };
            self.push(child);
        }
        if notes.parts_capped || !notes.damage.is_empty() {
            self.staged.push(Work::Notes(notes));
        }
    }

    /// Records what the walk of an entity noted, after its children.
    fn note(&mut self, notes: Notes) {
        let Notes {
            location,
            damage,
            parts_capped,
        } = notes;
        if parts_capped {
            self.limit(LimitName::MaxParts, location.clone());
        }
        for d in damage {
            if walker::is_ambiguity(&d) {
                self.st.collector.broken_mime(&location, &d);
            }
            self.damage(&location, d);
        }
    }

    fn budget(&self) -> Budget {
        Budget {
            remaining_bytes: self
                .limits
                .get_max_scan_size()
                .saturating_sub(self.st.produced),
            max_file: self.limits.get_max_file_size(),
            max_ratio: self.limits.get_max_compression_ratio(),
            remaining_objects: self.limits.get_max_files().saturating_sub(self.st.objects),
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
        self.st.produced += spent;
        self.st.objects += 1;
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
            counted: true,
            streamed: None,
        };
        self.push(member);
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
                self.st.collector.encrypted(self.heuristics, &location);
            }
            self.st
                .verdict
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
        if self.st.objects >= self.limits.get_max_files() {
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
            self.st.verdict.unscanned.push(Unscanned::new(
                obj.location.clone(),
                UnscannedReason::Undecodable,
            ));
        }
        self.st.produced += start_bytes.saturating_sub(budget.remaining_bytes);
        self.st.objects += start_objects.saturating_sub(budget.remaining_objects);
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
                counted: true,
                streamed: None,
            };
            self.push(member);
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
    fn parts_scanned_early_are_taken_over_not_scanned_again() {
        let engine = Engine::builder()
            .load_str("t.ndb", "T:0:*:6d61726b6572\n")
            .unwrap()
            .build()
            .unwrap();
        let msg = "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\none marker\r\n--b\r\nContent-Type: application/zip\r\n\r\ntwo\r\n--b\r\n\r\nthree\r\n--b--\r\n";
        let db = engine.db();
        let heuristics = engine.heuristics();
        // Every prefix, every byte budget and every object budget: the parts complete in a prefix are
        // scanned early, the final scan takes them over (none is met twice) and the verdict is the one of
        // the whole message scanned in one go.
        let mut budgets: Vec<Limits> = vec![Limits::default()];
        budgets.extend((1..200).map(|n| Limits::default().max_scan_size(n)));
        budgets.extend((1..8).map(|n| Limits::default().max_files(n)));
        budgets.extend((0..3).map(|n| Limits::default().max_recursion(n)));
        budgets.extend((1..3).map(|n| Limits::default().max_parts(n)));
        for limits in &budgets {
            let whole = super::scan_whole(db, limits, heuristics, msg.as_bytes(), false);
            for cut in 0..=msg.len() {
                let mut pre = super::Prescan::default();
                pre.advance(db, limits, heuristics, &msg.as_bytes()[..cut], 0, false);
                pre.advance(db, limits, heuristics, msg.as_bytes(), 0, false);
                let parts = usize::try_from(limits.get_max_parts()).unwrap_or(3).min(3);
                assert_eq!(pre.level.parts.len(), parts, "{limits:?}");
                let run = super::Run {
                    db,
                    limits,
                    heuristics,
                    view: super::View::whole(msg.as_bytes()),
                    cut: false,
                    early: super::Early {
                        prescan: Some(&pre),
                        ..super::Early::default()
                    },
                    body: std::cell::Cell::new(None),
                };
                assert_eq!(
                    super::run_message(&run, true),
                    (whole.clone(), true),
                    "{limits:?} {cut}"
                );
            }
        }
        // With room for everything, stream order finds what the message-first order does.
        let limits = Limits::default();
        let run = super::Run {
            db,
            limits: &limits,
            heuristics,
            view: super::View::whole(msg.as_bytes()),
            cut: false,
            early: super::Early::default(),
            body: std::cell::Cell::new(None),
        };
        let plain = super::run_message(&run, false);
        let whole = super::scan_whole(db, &Limits::default(), heuristics, msg.as_bytes(), false);
        assert_eq!(plain, (whole.clone(), true));
        assert!(whole.is_infected(), "{whole:?}");
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
