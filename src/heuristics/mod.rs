//! The heuristic scorer: facts collected while a message is taken apart become findings, each from a named
//! rule, with its points, the object it fired on and a short reason.
//!
//! Some rules alone make a message infected (their finding is also a detection of kind
//! [`DetectionKind::Heuristic`](crate::DetectionKind::Heuristic)), as ClamAV's heuristic alerts do; every
//! rule adds its points to the message's score, each rule counted once, and a score at or above the
//! threshold makes the verdict [`Status::Suspicious`](crate::Status::Suspicious). Weights, alerts and the
//! threshold are configurable ([`Heuristics`]); the default table is [`RULES`].
//!
//! Facts come from: file names (`names.rs`), content types and magic (`types.rs`), HTML (`html.rs`),
//! Office and PDF documents (`documents.rs`), archives and MIME structure (the scanner).

pub(crate) mod documents;
pub(crate) mod html;
mod names;
mod types;

use std::collections::HashMap;

use crate::filetype::FileType;
use crate::verdict::Location;

/// How heuristics take part in the verdict.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum HeuristicMode {
    /// No heuristic runs.
    Off,
    /// Only the rules that alert by themselves count: their findings are detections; no score is kept.
    Alert,
    /// Alerting rules are detections, and every finding adds points to the score (the default).
    Score,
}

/// One rule of the default table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    /// The stable name, ClamAV-style (`Heuristics.Encrypted.Zip`).
    pub name: &'static str,
    /// Points added to the score when it fires.
    pub points: u32,
    /// Whether its finding alone makes the message infected.
    pub alerts: bool,
    /// What it looks for.
    pub description: &'static str,
}

macro_rules! rules {
    ($($id:ident = $name:literal, $points:literal, $alerts:literal, $desc:literal;)*) => {
        $(pub(crate) const $id: &str = $name;)*
        /// Every rule, with its default points and whether it alerts by itself.
        pub const RULES: &[Rule] = &[
            $(Rule { name: $name, points: $points, alerts: $alerts, description: $desc },)*
        ];
    };
}

rules! {
    DOUBLE_EXTENSION = "Heuristics.Executable.DoubleExtension", 6, true,
        "a file name whose executable extension hides behind a document or image one (invoice.pdf.exe)";
    RTLO = "Heuristics.Executable.RTLO", 8, true,
        "a file name with a bidirectional override (U+202E and kin) that reverses how it reads";
    PADDED_NAME = "Heuristics.Executable.PaddedName", 6, true,
        "a file name with a long run of spaces, dots or underscores before an executable extension";
    HOMOGLYPH = "Heuristics.Executable.Homoglyph", 3, false,
        "a file name mixing Latin letters with look-alike Cyrillic or Greek ones";
    EXECUTABLE = "Heuristics.Executable.Attachment", 4, false,
        "a PE, ELF or Mach-O executable or an MSI package by content, or a file named .exe, .com, .msi, .dll...";
    MISMATCH = "Heuristics.Executable.Mismatch", 6, true,
        "an executable whose name says document, image or text";
    SCRIPT = "Heuristics.Script.Attachment", 5, false,
        "a script or script-like file by name: js, jse, vbs, vbe, wsf, wsh, hta, ps1, bat, cmd, scr, pif, cpl, reg, jar";
    SHORTCUT = "Heuristics.Shortcut.LNK", 6, false,
        "a Windows shortcut (LNK), a common dropper";
    DISK_IMAGE = "Heuristics.DiskImage.Attachment", 4, false,
        "an ISO, IMG or VHD disk image, used to slip past mark-of-the-web";
    ONENOTE = "Heuristics.OneNote.Attachment", 4, false,
        "a OneNote document, used to embed scripts behind fake buttons";
    CHM = "Heuristics.CHM.Attachment", 4, false,
        "a compiled HTML help file";
    ENCRYPTED_ZIP = "Heuristics.Encrypted.Zip", 3, false,
        "an encrypted archive member: its content cannot be scanned";
    PASSWORD_IN_MESSAGE = "Heuristics.Encrypted.PasswordInMessage", 5, false,
        "an encrypted archive and, in the message text, what reads as its password";
    OLE2_MACROS = "Heuristics.OLE2.ContainsMacros", 3, false,
        "a legacy Office document with a VBA project";
    AUTORUN_MACRO = "Heuristics.Macro.AutoRun", 5, false,
        "a VBA project with an auto-run entry point (AutoOpen, Document_Open, Workbook_Open...)";
    OOXML_MACROS = "Heuristics.OOXML.ContainsMacros", 3, false,
        "an Office Open XML document carrying vbaProject.bin";
    PDF_JAVASCRIPT = "Heuristics.PDF.JavaScript", 3, false,
        "a PDF with JavaScript";
    PDF_LAUNCH = "Heuristics.PDF.Launch", 5, false,
        "a PDF with a /Launch action that starts a program";
    PDF_EMBEDDED = "Heuristics.PDF.EmbeddedFile", 2, false,
        "a PDF carrying an embedded file";
    HTML_SMUGGLING = "Heuristics.HTML.Smuggling", 6, false,
        "HTML that builds a file in the browser from encoded data (atob with Blob, createObjectURL, msSaveOrOpenBlob)";
    HTML_EXTERNAL_FORM = "Heuristics.HTML.ExternalForm", 4, false,
        "an HTML attachment with a password form that posts to a web address";
    HTML_META_REFRESH = "Heuristics.HTML.MetaRefresh", 2, false,
        "HTML that redirects itself to a web address";
    SPOOFED_DOMAIN = "Heuristics.Phishing.Email.SpoofedDomain", 5, false,
        "a link whose text shows one domain while its target is another";
    IP_HOST = "Heuristics.Phishing.IPHost", 2, false,
        "a link to a bare IP address";
    PUNYCODE_HOST = "Heuristics.Phishing.Punycode", 2, false,
        "a link to an internationalised (punycode) host name";
    BROKEN_MIME = "Heuristics.Broken.MIME", 1, false,
        "ambiguous MIME structure that mail clients read differently";
}

/// Heuristic configuration: the mode, the threshold, and per-rule points and alert switches.
///
/// ```
/// use portcullis::{Heuristics, HeuristicMode};
/// let h = Heuristics::default()
///     .threshold(8)
///     .weight("Heuristics.Encrypted.Zip", 6)
///     .alert("Heuristics.Executable.DoubleExtension", false);
/// assert_eq!(h.get_mode(), HeuristicMode::Score);
/// assert_eq!(h.points("Heuristics.Encrypted.Zip"), 6);
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Heuristics {
    mode: HeuristicMode,
    threshold: u32,
    points: HashMap<String, u32>,
    alerts: HashMap<String, bool>,
}

impl Default for Heuristics {
    /// Score mode, threshold 10, the points and alerts of [`RULES`].
    fn default() -> Heuristics {
        Heuristics {
            mode: HeuristicMode::Score,
            threshold: 10,
            points: HashMap::new(),
            alerts: HashMap::new(),
        }
    }
}

impl Heuristics {
    /// Sets the mode.
    pub fn mode(mut self, mode: HeuristicMode) -> Heuristics {
        self.mode = mode;
        self
    }

    /// Sets the score at or above which a message is suspicious (default 10).
    pub fn threshold(mut self, points: u32) -> Heuristics {
        self.threshold = points;
        self
    }

    /// Sets a rule's points (0 turns it off).
    pub fn weight(mut self, rule: &str, points: u32) -> Heuristics {
        self.points.insert(rule.to_string(), points);
        self
    }

    /// Sets whether a rule's finding alone makes the message infected.
    pub fn alert(mut self, rule: &str, alerts: bool) -> Heuristics {
        self.alerts.insert(rule.to_string(), alerts);
        self
    }

    /// The mode.
    pub fn get_mode(&self) -> HeuristicMode {
        self.mode
    }

    /// The threshold.
    pub fn get_threshold(&self) -> u32 {
        self.threshold
    }

    /// A rule's points, as configured.
    pub fn points(&self, rule: &str) -> u32 {
        self.points
            .get(rule)
            .copied()
            .or_else(|| RULES.iter().find(|r| r.name == rule).map(|r| r.points))
            .unwrap_or(0)
    }

    /// Whether a rule alerts by itself, as configured.
    pub fn alerts(&self, rule: &str) -> bool {
        self.alerts
            .get(rule)
            .copied()
            .or_else(|| RULES.iter().find(|r| r.name == rule).map(|r| r.alerts))
            .unwrap_or(false)
    }
}

/// One rule that fired: on what, for how many points, and why.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Finding {
    rule: &'static str,
    location: Location,
    points: u32,
    alert: bool,
    reason: String,
}

impl Finding {
    /// The rule's name.
    pub fn rule(&self) -> &str {
        self.rule
    }
    /// The object it fired on.
    pub fn location(&self) -> &Location {
        &self.location
    }
    /// The points it adds (each rule counts once per message, with its highest points).
    pub fn points(&self) -> u32 {
        self.points
    }
    /// Whether it alone makes the message infected.
    pub fn alerts(&self) -> bool {
        self.alert
    }
    /// A short human reason.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// What the scanner knows of one object when heuristics look at it.
pub(crate) struct ObjectFacts<'a> {
    /// The object's bytes: all of them, or (for a part matched as it arrived) its first bytes, with
    /// `footer` then what [`footer_offset`] points at.
    pub(crate) data: &'a [u8],
    pub(crate) footer: Option<&'a [u8]>,
    /// For a document matched as it arrived: its search, done on the way.
    pub(crate) document: Option<&'a documents::DocumentScan>,
    pub(crate) file_type: FileType,
    /// The name the sender gave it (MIME file name, archive member name).
    pub(crate) name: Option<&'a str>,
    pub(crate) in_archive: bool,
    /// A message's own text body (not an attachment): links in it are judged for phishing.
    pub(crate) is_body_text: bool,
    /// For a text matched as it arrived: whether it mentions a password, looked for on the way (`data` then
    /// holds only its first bytes).
    pub(crate) mentions_password: Option<bool>,
    /// For HTML matched as it arrived: what [`html::inspect`] finds in it, found on the way.
    pub(crate) html_found: Option<&'a [(&'static str, String)]>,
    pub(crate) location: &'a Location,
}

/// Collects findings over one message.
#[derive(Clone, Debug, Default)]
pub(crate) struct Collector {
    pub(crate) findings: Vec<Finding>,
    /// (rule, location) of every finding kept, so that a repeated one is dropped in constant time.
    seen: std::collections::HashSet<(&'static str, Location)>,
    encrypted: Vec<Location>,
    /// Text bodies seen: where a password for an encrypted archive would be given; and whether one of
    /// them (its first MiB) reads as giving one.
    text_bodies: Vec<Location>,
    password: bool,
    broken: Option<(Location, String)>,
}

/// Most findings listed in one verdict.
const MAX_FINDINGS: usize = 256;

/// How much of an object the content heuristics read: enough for any header or script, bounded for speed.
pub(crate) const INSPECT_LIMIT: usize = 4 << 20;

/// Where, in an object of `len` bytes, the footer that heuristics read is (a disk image's, 512 bytes from the
/// end of what they read of it), if it is that long.
pub(crate) fn footer_offset(len: usize) -> Option<usize> {
    len.min(INSPECT_LIMIT).checked_sub(512)
}

impl Collector {
    fn add(
        &mut self,
        config: &Heuristics,
        rule: &'static str,
        location: &Location,
        reason: String,
    ) {
        let points = config.points(rule);
        if points == 0 && !config.alerts(rule) {
            return;
        }
        let finding = Finding {
            rule,
            location: location.clone(),
            points,
            alert: config.alerts(rule),
            reason,
        };
        // Past MAX_FINDINGS a hostile message (10,000 members named .exe) gets no more entries; the score
        // counts each rule once anyway.
        if self.findings.len() < MAX_FINDINGS && self.seen.insert((rule, location.clone())) {
            self.findings.push(finding);
        }
    }

    /// Looks at one object.
    pub(crate) fn object(&mut self, config: &Heuristics, facts: &ObjectFacts<'_>) {
        if config.mode == HeuristicMode::Off {
            return;
        }
        let data = &facts.data[..facts.data.len().min(INSPECT_LIMIT)];
        let mut found: Vec<(&'static str, String)> = Vec::new();
        if let Some(name) = facts.name {
            names::inspect(name, facts.file_type, &mut found);
        }
        types::inspect(
            data,
            facts.footer,
            facts.file_type,
            facts.name,
            facts.in_archive,
            &mut found,
        );
        match facts.document {
            Some(d) => d.finish(facts.name, &mut found),
            None => documents::inspect(data, facts.file_type, facts.name, &mut found),
        }
        if facts.file_type == FileType::Html {
            match facts.html_found {
                Some(f) => found.extend_from_slice(f),
                None => html::inspect(data, facts.is_body_text, &mut found),
            }
        }
        if facts.is_body_text && matches!(facts.file_type, FileType::Text | FileType::Html) {
            self.text_bodies.push(facts.location.clone());
            self.password = self.password
                || facts
                    .mentions_password
                    .unwrap_or_else(|| html::mentions_password(data));
        }
        for (rule, reason) in found {
            self.add(config, rule, facts.location, reason);
        }
    }

    /// Notes an encrypted archive member.
    pub(crate) fn encrypted(&mut self, config: &Heuristics, location: &Location) {
        if config.mode == HeuristicMode::Off {
            return;
        }
        self.encrypted.push(location.clone());
        self.add(
            config,
            ENCRYPTED_ZIP,
            location,
            "encrypted archive member".to_string(),
        );
    }

    /// Notes ambiguous MIME structure.
    pub(crate) fn broken_mime(&mut self, location: &Location, what: &str) {
        if self.broken.is_none() {
            self.broken = Some((location.clone(), what.to_string()));
        }
    }

    /// Message-level rules: the findings sorted, and the score. `header_mentions_password` says whether the
    /// message's header block reads as giving a password (asked only when an encrypted archive and a text
    /// body make it matter; the text bodies themselves were read as they were scanned).
    pub(crate) fn finish(
        mut self,
        config: &Heuristics,
        header_mentions_password: impl FnOnce() -> bool,
    ) -> (Vec<Finding>, u32) {
        if config.mode == HeuristicMode::Off {
            return (Vec::new(), 0);
        }
        if let Some(first) = self.encrypted.first().cloned()
            && let Some(body) = self.text_bodies.first().cloned()
            && (self.password || header_mentions_password())
        {
            let reason = format!("the message text ({body}) reads like it gives a password");
            self.add(config, PASSWORD_IN_MESSAGE, &first, reason);
        }
        if let Some((loc, what)) = self.broken.take() {
            self.add(config, BROKEN_MIME, &loc, what);
        }
        let mut findings = self.findings;
        findings.sort();
        let mut best: HashMap<&str, u32> = HashMap::new();
        for f in &findings {
            let e = best.entry(f.rule).or_insert(0);
            *e = (*e).max(f.points);
        }
        let score = if config.mode == HeuristicMode::Score {
            best.values().sum()
        } else {
            0
        };
        (findings, score)
    }
}

/// The lower-case extension of a name, if any.
pub(crate) fn extension(name: &str) -> Option<String> {
    let base = name.rsplit(['/', '\\']).next().unwrap_or(name);
    let (_, ext) = base.rsplit_once('.')?;
    let ext = ext.trim().to_ascii_lowercase();
    (!ext.is_empty() && ext.len() <= 5).then_some(ext)
}
