//! What a scan concludes: detections, damage seen, and what could not be scanned.

use std::fmt;

use crate::heuristics::Finding;
use crate::limits::LimitName;

/// Where inside a message an object lives, for example `message/part[2] "invoice.zip"/"docs/a.exe"`.
///
/// The first segment is always `message`. Each MIME part adds `part[N]` (1-based, followed by its file name
/// in quotes when it has one), each archive member adds its name in quotes, and a nested `message/rfc822`
/// adds `message`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Location(String);

impl Location {
    pub(crate) fn root() -> Location {
        Location("message".to_string())
    }

    pub(crate) fn child(&self, segment: &str) -> Location {
        Location(format!("{}/{}", self.0, segment))
    }

    pub(crate) fn suffixed(&self, suffix: &str) -> Location {
        Location(format!("{} {}", self.0, suffix))
    }

    /// The location as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// How a detection was made.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum DetectionKind {
    /// A body signature (`.ndb`) matched the object's content.
    Signature,
    /// A hash signature (`.hdb`, `.hsb`) matched the whole object.
    Hash,
    /// A heuristic rule fired.
    Heuristic,
    /// A scan limit was crossed; the name is `Heuristics.Limits.Exceeded.<Name>`.
    Limit,
}

impl DetectionKind {
    /// A short lower-case word for the kind: `signature`, `hash`, `heuristic` or `limit`.
    pub fn as_str(self) -> &'static str {
        match self {
            DetectionKind::Signature => "signature",
            DetectionKind::Hash => "hash",
            DetectionKind::Heuristic => "heuristic",
            DetectionKind::Limit => "limit",
        }
    }
}

/// One finding: a name, how it was made, and where.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Detection {
    name: String,
    kind: DetectionKind,
    location: Location,
}

impl Detection {
    pub(crate) fn new(
        name: impl Into<String>,
        kind: DetectionKind,
        location: Location,
    ) -> Detection {
        Detection {
            name: name.into(),
            kind,
            location,
        }
    }

    /// The signature or rule name, for example `Eicar-Test-Signature`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// How the detection was made.
    pub fn kind(&self) -> DetectionKind {
        self.kind
    }

    /// The object it was made on.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// The limit this detection reports, when it is of kind [`DetectionKind::Limit`].
    pub fn limit(&self) -> Option<LimitName> {
        if self.kind != DetectionKind::Limit {
            return None;
        }
        LimitName::ALL
            .into_iter()
            .find(|l| l.detection_name() == self.name)
    }
}

/// Malformed structure seen while scanning: the scan went on, leniently, but a user may want to know.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Damage {
    location: Location,
    description: String,
}

impl Damage {
    pub(crate) fn new(location: Location, description: impl Into<String>) -> Damage {
        Damage {
            location,
            description: description.into(),
        }
    }

    /// The object the damage was seen in.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// What was wrong, in a few words (for example `base64: 12 invalid characters skipped`).
    pub fn description(&self) -> &str {
        &self.description
    }
}

/// Why an object could not be scanned.
#[non_exhaustive]
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UnscannedReason {
    /// The archive member is encrypted.
    Encrypted,
    /// The archive member uses a compression method the engine does not decode (the method is named).
    UnsupportedCompression(String),
    /// The object is a container format the engine does not open yet (the format is named).
    UnsupportedContainer(String),
    /// The object's data is too damaged to decode.
    Undecodable,
}

impl fmt::Display for UnscannedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnscannedReason::Encrypted => f.write_str("encrypted"),
            UnscannedReason::UnsupportedCompression(m) => write!(f, "unsupported compression {m}"),
            UnscannedReason::UnsupportedContainer(m) => write!(f, "unsupported container {m}"),
            UnscannedReason::Undecodable => f.write_str("undecodable"),
        }
    }
}

/// An object whose content the engine could not see.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Unscanned {
    location: Location,
    reason: UnscannedReason,
}

impl Unscanned {
    pub(crate) fn new(location: Location, reason: UnscannedReason) -> Unscanned {
        Unscanned { location, reason }
    }

    /// The object that was not scanned.
    pub fn location(&self) -> &Location {
        &self.location
    }

    /// Why it was not scanned.
    pub fn reason(&self) -> &UnscannedReason {
        &self.reason
    }
}

/// The overall outcome of a scan.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Status {
    /// Nothing was found and everything was scanned.
    Clean,
    /// A signature, hash or heuristic detection was made.
    Infected,
    /// No detection, but the heuristic score reached the threshold.
    Suspicious,
    /// Nothing was found, but a limit was crossed or some object could not be scanned: the caller chooses
    /// whether to defer (SMTP 451) or accept.
    Incomplete,
}

impl Status {
    /// `clean`, `infected` or `incomplete`.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Clean => "clean",
            Status::Infected => "infected",
            Status::Suspicious => "suspicious",
            Status::Incomplete => "incomplete",
        }
    }
}

/// The result of scanning one message.
///
/// ```
/// let engine = portcullis::Engine::builder().build()?;
/// let verdict = engine.scan_bytes(b"Subject: hello\r\n\r\nJust a note.\r\n")?;
/// assert!(verdict.is_clean());
/// assert!(verdict.detections().is_empty());
/// # Ok::<(), portcullis::Error>(())
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Verdict {
    pub(crate) detections: Vec<Detection>,
    pub(crate) damage: Vec<Damage>,
    pub(crate) unscanned: Vec<Unscanned>,
    pub(crate) objects: u64,
    pub(crate) bytes_scanned: u64,
    pub(crate) findings: Vec<Finding>,
    pub(crate) score: u32,
    pub(crate) suspicious: bool,
}

impl Verdict {
    /// Clean: no detection of any kind, and every object was scanned.
    pub fn is_clean(&self) -> bool {
        self.status() == Status::Clean
    }

    /// Infected: at least one signature, hash or heuristic detection.
    pub fn is_infected(&self) -> bool {
        self.status() == Status::Infected
    }

    /// The overall status: infected wins over suspicious, then incomplete, then clean.
    pub fn status(&self) -> Status {
        if self
            .detections
            .iter()
            .any(|d| d.kind != DetectionKind::Limit)
        {
            Status::Infected
        } else if self.suspicious {
            Status::Suspicious
        } else if !self.detections.is_empty() || !self.unscanned.is_empty() {
            Status::Incomplete
        } else {
            Status::Clean
        }
    }

    /// Every detection, sorted by location then name, without duplicates.
    pub fn detections(&self) -> &[Detection] {
        &self.detections
    }

    /// Malformed structure seen (the scan went on leniently).
    pub fn damage(&self) -> &[Damage] {
        &self.damage
    }

    /// Objects whose content could not be scanned (encrypted members, unsupported methods).
    pub fn unscanned(&self) -> &[Unscanned] {
        &self.unscanned
    }

    /// Every heuristic rule that fired: its name, points, the object and a reason.
    pub fn findings(&self) -> &[Finding] {
        &self.findings
    }

    /// The heuristic score: the points of every rule that fired, each rule counted once.
    pub fn score(&self) -> u32 {
        self.score
    }

    /// How many objects were scanned: the message, its parts, decoded payloads and archive members.
    pub fn objects_scanned(&self) -> u64 {
        self.objects
    }

    /// How many bytes were scanned in all objects together.
    pub fn bytes_scanned(&self) -> u64 {
        self.bytes_scanned
    }

    pub(crate) fn normalize(&mut self) {
        self.detections.sort();
        self.detections.dedup();
        self.damage.sort();
        self.damage.dedup();
        self.unscanned.sort();
        self.unscanned.dedup();
    }
}
