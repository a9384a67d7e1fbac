//! The engine: signatures compiled once, shared by every session.

use std::collections::HashSet;
use std::path::Path;
use std::sync::Arc;

use crate::error::{Error, ErrorKind, Result};
use crate::heuristics::Heuristics;
use crate::limits::Limits;
use crate::matcher::BodyMatcher;
use crate::matcher::hashes::HashIndex;
use crate::session::ScanSession;
use crate::signatures::ldb::LogicalSig;
use crate::signatures::{LoadReport, SignatureSet};
use crate::verdict::Verdict;

/// The compiled signature database.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct Database {
    pub(crate) body: BodyMatcher,
    pub(crate) logical: Vec<LogicalSig>,
    pub(crate) hashes: HashIndex,
    pub(crate) allow: HashIndex,
    #[serde(with = "crate::signatures::report_serde")]
    pub(crate) report: LoadReport,
    /// What matching an object of each target type reads around its atom hits (see
    /// [`BodyMatcher::span`]), worked out on first use.
    #[serde(skip)]
    spans: [std::sync::OnceLock<std::result::Result<crate::matcher::RootSpan, &'static str>>; 16],
    /// The regular expressions of PCRE subsignatures that apply to each target type, for the message
    /// itself and for a part's payload, and the literals to look for them by, worked out on first use.
    #[serde(skip)]
    pcre: [[std::sync::OnceLock<std::sync::Arc<crate::matcher::regexes::PcrePlan>>; 2]; 16],
}

impl Database {
    /// What a session must hold of a message for matching the message itself; an error saying why it
    /// must hold all of it.
    pub(crate) fn root_span(&self) -> std::result::Result<crate::matcher::RootSpan, &'static str> {
        self.span(crate::filetype::FileType::Mail.target())
    }

    /// What must be held of an object of ClamAV target type `target` for matching it as it arrives; an
    /// error saying why all of it must be.
    pub(crate) fn span(
        &self,
        target: u8,
    ) -> std::result::Result<crate::matcher::RootSpan, &'static str> {
        match self.spans.get(usize::from(target)) {
            Some(cell) => *cell.get_or_init(|| self.body.span(&self.logical, target)),
            None => Err("an unknown target type"),
        }
    }

    /// The searches for the regular expressions that apply to an object of target type `target` found in
    /// a container of type `container`, to run over it as it arrives.
    pub(crate) fn pcre_stream(
        &self,
        target: u8,
        container: Option<crate::filetype::FileType>,
    ) -> crate::matcher::regexes::PcreStream {
        crate::matcher::regexes::PcreStream::new(self.pcre_plan(target, container))
    }

    /// The plan of [`Self::pcre_stream`], made on first use.
    fn pcre_plan(
        &self,
        target: u8,
        container: Option<crate::filetype::FileType>,
    ) -> std::sync::Arc<crate::matcher::regexes::PcrePlan> {
        use crate::matcher::regexes::PcrePlan;
        // Objects arrive as the message itself (no container) or as a part's payload (in mail).
        let in_mail = container == Some(crate::filetype::FileType::Mail);
        match self.pcre.get(usize::from(target)) {
            Some(cells) if container.is_none() || in_mail => cells[usize::from(in_mail)]
                .get_or_init(|| {
                    std::sync::Arc::new(PcrePlan::new(&self.logical, &self.body, target, container))
                })
                .clone(),
            _ => std::sync::Arc::new(PcrePlan::new(&self.logical, &self.body, target, container)),
        }
    }

    /// The approximate heap memory of the database and of the plans of regular-expression searches made so
    /// far.
    fn memory_usage(&self) -> usize {
        let plans: usize = self
            .pcre
            .iter()
            .flatten()
            .filter_map(std::sync::OnceLock::get)
            .map(|p| p.memory_usage())
            .sum();
        self.body.memory_usage()
            + self.hashes.memory_usage()
            + self.allow.memory_usage()
            + self.logical.capacity() * std::mem::size_of::<crate::signatures::ldb::LogicalSig>()
            + self
                .logical
                .iter()
                .map(crate::signatures::ldb::LogicalSig::memory_usage)
                .sum::<usize>()
            + plans
    }

    /// Makes the plans nearly every message needs (the message itself, a text part, an HTML part) with the
    /// engine, rather than in the first session that needs each: the official database's for text take
    /// about 40 ms to make (their tables of where matches end), which the first message would wait for.
    /// A part of another type makes its plan on first use (4 to 40 ms with the official database; all
    /// of them at once would add 170 ms to every engine's build).
    fn prepare_sessions(&self) {
        use crate::filetype::FileType;
        self.pcre_plan(FileType::Mail.target(), None);
        for part in [FileType::Text, FileType::Html] {
            self.pcre_plan(part.target(), Some(FileType::Mail));
        }
    }
}

#[derive(Debug)]
struct Inner {
    /// Shared with the engines [`Engine::with_limits`] makes from this one.
    db: Arc<Database>,
    limits: Limits,
    heuristics: Heuristics,
    buffers: BufferPool,
}

/// Message buffers left by finished sessions for the next ones: freeing a buffer of tens of megabytes
/// (unmapping its pages) takes milliseconds, which would land in [`ScanSession::finish`], the one moment a
/// mail server waits for; a reused buffer also has its pages mapped already.
#[derive(Debug, Default)]
struct BufferPool {
    spare: std::sync::Mutex<Vec<Vec<u8>>>,
    keep: usize,
}

/// Buffers larger than this are freed, not kept for reuse.
const MAX_POOLED_BUFFER: usize = 64 << 20;

/// How many message buffers an engine keeps for reuse unless told otherwise.
const DEFAULT_SESSION_BUFFERS: usize = 4;

impl BufferPool {
    fn new(keep: usize) -> BufferPool {
        BufferPool {
            spare: std::sync::Mutex::new(Vec::new()),
            keep,
        }
    }

    fn take(&self) -> Vec<u8> {
        self.spare
            .lock()
            .ok()
            .and_then(|mut spare| spare.pop())
            .unwrap_or_default()
    }

    fn give(&self, mut buffer: Vec<u8>) {
        if buffer.capacity() == 0 || buffer.capacity() > MAX_POOLED_BUFFER {
            return;
        }
        buffer.clear();
        if let Ok(mut spare) = self.spare.lock()
            && spare.len() < self.keep
        {
            spare.push(buffer);
        }
    }
}

/// A compiled signature database and the limits scans work within.
///
/// An `Engine` is immutable, `Send + Sync`, and cheap to clone (an `Arc` inside): build it once and share it
/// with every connection. Each message is scanned by a [`ScanSession`] or by [`Engine::scan_bytes`].
///
/// ```
/// use portcullis::Engine;
///
/// let engine = Engine::builder().build()?; // the built-in database
/// let eicar = [
///     "X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR",
///     "-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*",
/// ]
/// .concat();
/// let message = format!("Subject: test\r\n\r\n{eicar}\r\n");
/// let verdict = engine.scan_bytes(message.as_bytes())?;
/// assert!(verdict.is_infected());
/// assert_eq!(verdict.detections()[0].name(), "Eicar-Test-Signature");
/// # Ok::<(), portcullis::Error>(())
/// ```
#[derive(Clone, Debug)]
pub struct Engine {
    inner: Arc<Inner>,
}

/// Builds an [`Engine`]: load databases, set limits, then [`build`](EngineBuilder::build).
///
/// With nothing loaded, the engine uses the built-in database (EICAR and the project's test signatures).
/// Loading any database replaces the built-in one unless [`with_default_database(true)`](Self::with_default_database)
/// asks for both.
#[derive(Default)]
pub struct EngineBuilder {
    set: SignatureSet,
    loaded: bool,
    compiled: Option<Database>,
    default_database: Option<bool>,
    limits: Limits,
    heuristics: Heuristics,
    session_buffers: Option<usize>,
}

impl std::fmt::Debug for EngineBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineBuilder")
            .field("loaded", &self.loaded)
            .field("limits", &self.limits)
            .finish()
    }
}

impl EngineBuilder {
    /// Loads a database file, or every database file in a directory (such as the one freshclam fills):
    /// `.cvd`, `.cld`, `.hdb`, `.hsb`, `.ndb`, `.fp`, `.sfp`, `.ign2`..., each possibly gzipped (`.gz`).
    ///
    /// # Errors
    /// An I/O error if the path cannot be read; [`ErrorKind::Syntax`](crate::ErrorKind::Syntax) naming the
    /// file and line of the first malformed signature; [`ErrorKind::Container`](crate::ErrorKind::Container)
    /// for a damaged `.cvd`; [`ErrorKind::NoDatabase`](crate::ErrorKind::NoDatabase) for a directory without
    /// database files or a file with an unknown extension. Nothing is half-loaded: on error the builder is
    /// gone.
    pub fn load_path(mut self, path: impl AsRef<Path>) -> Result<EngineBuilder> {
        self.set.load_path(path.as_ref())?;
        self.loaded = true;
        Ok(self)
    }

    /// Loads a database from memory; `name` (for example `local.ndb`) gives its format by its extension and
    /// names it in errors.
    ///
    /// ```
    /// let engine = portcullis::Engine::builder()
    ///     .load_str("local.ndb", "Local.Test:0:*:6576696c2d6d61726b6572\n")?
    ///     .build()?;
    /// assert!(engine.scan_bytes(b"Subject: x\r\n\r\nan evil-marker here\r\n")?.is_infected());
    /// # Ok::<(), portcullis::Error>(())
    /// ```
    ///
    /// # Errors
    /// As [`load_path`](Self::load_path), without I/O errors.
    pub fn load_str(self, name: &str, content: &str) -> Result<EngineBuilder> {
        self.load_bytes(name, content.as_bytes())
    }

    /// Loads a database from bytes (for a `.cvd` or a `.gz` file); `name` gives its format.
    ///
    /// # Errors
    /// As [`load_path`](Self::load_path), without I/O errors.
    pub fn load_bytes(mut self, name: &str, content: &[u8]) -> Result<EngineBuilder> {
        self.set.load_bytes(Path::new(name), content, true)?;
        self.loaded = true;
        Ok(self)
    }

    /// Loads a database compiled earlier by [`Engine::save_compiled`], instead of parsing signature files: a
    /// restart or reload of a large database then takes a fraction of the time.
    ///
    /// A compiled database stands alone: it cannot be combined with other databases or the built-in one
    /// (compile them together instead). Limits and heuristics are not part of it; set them on this builder.
    ///
    /// ```
    /// let engine = portcullis::Engine::builder()
    ///     .load_str("local.ndb", "Local.Test:0:*:6576696c2d6d61726b6572\n")?
    ///     .build()?;
    /// let compiled: Vec<u8> = engine.to_compiled();
    /// let restarted = portcullis::Engine::builder().load_compiled_bytes(&compiled)?.build()?;
    /// assert!(restarted.scan_bytes(b"Subject: x\r\n\r\nan evil-marker\r\n")?.is_infected());
    /// # Ok::<(), portcullis::Error>(())
    /// ```
    ///
    /// # Errors
    /// An I/O error if the file cannot be read; [`ErrorKind::Compiled`](crate::ErrorKind::Compiled) if it is
    /// not a compiled database, is damaged (its CRC-32 is checked, then every index inside), or was written
    /// with another format version (compile it again).
    pub fn load_compiled(self, path: impl AsRef<Path>) -> Result<EngineBuilder> {
        let path = path.as_ref();
        let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
        self.load_compiled_bytes(&bytes)
            .map_err(|e| e.with_path(path))
    }

    /// Loads a compiled database from memory; see [`load_compiled`](Self::load_compiled).
    ///
    /// # Errors
    /// As [`load_compiled`](Self::load_compiled), without I/O errors.
    pub fn load_compiled_bytes(mut self, bytes: &[u8]) -> Result<EngineBuilder> {
        if self.compiled.is_some() {
            return Err(Error::new(
                ErrorKind::Compiled,
                "only one compiled database can be loaded",
            ));
        }
        self.compiled = Some(crate::compiled::decode(bytes)?);
        Ok(self)
    }

    /// Whether to include the built-in database: by default it is used only when nothing else is loaded.
    pub fn with_default_database(mut self, yes: bool) -> EngineBuilder {
        self.default_database = Some(yes);
        self
    }

    /// Sets the heuristic configuration (by default: score mode, threshold 10, see
    /// [`RULES`](crate::heuristics::RULES)).
    pub fn heuristics(mut self, heuristics: Heuristics) -> EngineBuilder {
        self.heuristics = heuristics;
        self
    }

    /// Sets the limits every scan works within.
    pub fn limits(mut self, limits: Limits) -> EngineBuilder {
        self.limits = limits;
        self
    }

    /// How many message buffers finished sessions leave for the next sessions (4 unless set; 0 frees every
    /// buffer at the end of its session).
    ///
    /// # Memory
    /// A session keeps its message in a buffer; freeing a buffer of tens of megabytes costs milliseconds,
    /// which would otherwise be spent inside [`ScanSession::finish`], while the mail server waits. Kept
    /// buffers stay allocated (at most `n` of them, each of at most 64 MiB and no larger than a message
    /// seen needed) until [`Engine::release_buffers`] or the engine's end.
    ///
    /// ```
    /// let engine = portcullis::Engine::builder().session_buffers(0).build()?;
    /// let mut session = engine.session();
    /// session.feed(b"Subject: x\r\n\r\nhello\r\n")?;
    /// assert!(session.finish()?.is_clean());
    /// # Ok::<(), portcullis::Error>(())
    /// ```
    pub fn session_buffers(mut self, n: usize) -> EngineBuilder {
        self.session_buffers = Some(n);
        self
    }

    /// Compiles the loaded signatures into an engine.
    ///
    /// # Errors
    /// [`ErrorKind::Compiled`](crate::ErrorKind::Compiled) if a compiled database was loaded together with
    /// other databases; otherwise only if the built-in database fails to load, which the tests rule out.
    pub fn build(mut self) -> Result<Engine> {
        if let Some(db) = self.compiled.take() {
            if self.loaded || self.default_database == Some(true) {
                return Err(Error::new(
                    ErrorKind::Compiled,
                    "a compiled database cannot be combined with other databases: compile them together",
                ));
            }
            return Ok(Engine::prepared(
                db,
                self.limits,
                self.heuristics,
                self.session_buffers,
            ));
        }
        if self.default_database.unwrap_or(!self.loaded) {
            self.set.load_builtin()?;
        }
        let SignatureSet {
            mut body,
            hashes,
            allow,
            ignored,
            mut logical,
            report,
        } = self.set;
        if !ignored.is_empty() {
            body.retain(|s| !ignored.contains(&s.name));
            logical.retain(|s| !ignored.contains(&s.name));
        }
        body.extend(crate::signatures::ldb::take_hex_subs(&mut logical));
        let db = Database {
            body: BodyMatcher::new(body),
            logical,
            hashes: hashes.build(&ignored),
            allow: allow.build(&HashSet::new()),
            report,
            spans: Default::default(),
            pcre: Default::default(),
        };
        Ok(Engine::prepared(
            db,
            self.limits,
            self.heuristics,
            self.session_buffers,
        ))
    }
}

impl Engine {
    /// Starts building an engine.
    pub fn builder() -> EngineBuilder {
        EngineBuilder::default()
    }

    /// Starts a session for one message: [`feed`](ScanSession::feed) it the bytes as they arrive, then
    /// [`finish`](ScanSession::finish) it. It reuses a buffer a finished session left, if any (see
    /// [`EngineBuilder::session_buffers`]).
    pub fn session(&self) -> ScanSession {
        ScanSession::new(self.clone(), self.inner.buffers.take())
    }

    /// Frees the message buffers finished sessions left for reuse (a daemon may call this when idle).
    pub fn release_buffers(&self) {
        let spare = self
            .inner
            .buffers
            .spare
            .lock()
            .map(|mut s| std::mem::take(&mut *s));
        drop(spare);
    }

    /// Takes back a finished session's buffer for the next session.
    pub(crate) fn recycle(&self, buffer: Vec<u8>) {
        self.inner.buffers.give(buffer);
    }

    /// Scans a whole message at once; the verdict is the same as any chunking of a session's `feed` gives.
    ///
    /// # Errors
    /// None today: bad input is reported in the verdict. The `Result` leaves room for I/O-backed scans.
    ///
    /// # Limits
    /// Every limit of [`Limits`] applies; a message larger than `max_message_size` is scanned up to that size
    /// and the verdict says so.
    pub fn scan_bytes(&self, message: &[u8]) -> Result<Verdict> {
        let max = usize::try_from(self.inner.limits.get_max_message_size()).unwrap_or(usize::MAX);
        let cut = message.len() > max;
        let kept = &message[..message.len().min(max)];
        Ok(crate::scan::scan_whole(
            &self.inner.db,
            &self.inner.limits,
            &self.inner.heuristics,
            kept,
            cut,
        ))
    }

    /// The compiled database in the form [`EngineBuilder::load_compiled_bytes`] reads back.
    pub fn to_compiled(&self) -> Vec<u8> {
        crate::compiled::encode(&self.inner.db)
    }

    /// Writes the compiled database to `path` (through a temporary file beside it, renamed into place, so
    /// a reader never sees half a file); [`EngineBuilder::load_compiled`] reads it back.
    ///
    /// # Errors
    /// An I/O error naming the path if the file cannot be written.
    pub fn save_compiled(&self, path: impl AsRef<Path>) -> Result<()> {
        let path = path.as_ref();
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        let tmp = std::path::PathBuf::from(tmp);
        std::fs::write(&tmp, self.to_compiled())
            .and_then(|()| std::fs::rename(&tmp, path))
            .map_err(|e| Error::io(path, e))
    }

    /// What was loaded: counts per format, and every signature skipped with its reason.
    pub fn load_report(&self) -> &LoadReport {
        &self.inner.db.report
    }

    pub(crate) fn db(&self) -> &Database {
        &self.inner.db
    }

    /// The heuristic configuration.
    pub fn heuristics(&self) -> &Heuristics {
        &self.inner.heuristics
    }

    /// The limits scans work within.
    pub fn limits(&self) -> &Limits {
        &self.inner.limits
    }

    /// An engine with this one's signatures and heuristics under other `limits`, at the cost of a
    /// pointer: the compiled database (and the searches' plans it makes) is shared, not built again. A
    /// daemon can change its limits without reloading its databases. The new engine keeps its own buffers
    /// for sessions, as many as this one.
    ///
    /// ```
    /// let engine = portcullis::Engine::builder().build()?;
    /// let tight = engine.with_limits(portcullis::Limits::default().max_message_size(1000));
    /// assert_eq!(tight.limits().get_max_message_size(), 1000);
    /// assert_eq!(tight.signature_count(), engine.signature_count());
    /// let verdict = tight.scan_bytes(&vec![b'a'; 2000])?;
    /// assert!(verdict.detections().iter().any(|d| d.name() == "Heuristics.Limits.Exceeded.MaxMessageSize"));
    /// # Ok::<(), portcullis::Error>(())
    /// ```
    ///
    /// # Limits
    /// Only `limits` differ: the signatures, the heuristics and the number of buffers kept are this
    /// engine's.
    pub fn with_limits(&self, limits: Limits) -> Engine {
        Engine::of(
            Arc::clone(&self.inner.db),
            limits,
            self.inner.heuristics.clone(),
            self.inner.buffers.keep,
        )
    }

    /// The engine of `db`, once it has made the plans nearly every message needs (see
    /// [`Database::prepare_sessions`]).
    fn prepared(
        db: Database,
        limits: Limits,
        heuristics: Heuristics,
        buffers: Option<usize>,
    ) -> Engine {
        db.prepare_sessions();
        let buffers = buffers.unwrap_or(DEFAULT_SESSION_BUFFERS);
        Engine::of(Arc::new(db), limits, heuristics, buffers)
    }

    /// An engine of `db`, keeping up to `buffers` message buffers for its sessions.
    fn of(db: Arc<Database>, limits: Limits, heuristics: Heuristics, buffers: usize) -> Engine {
        Engine {
            inner: Arc::new(Inner {
                db,
                limits,
                heuristics,
                buffers: BufferPool::new(buffers),
            }),
        }
    }

    /// The number of detection signatures compiled in (body and hash).
    pub fn signature_count(&self) -> usize {
        self.inner.db.body.len() + self.inner.db.logical.len() + self.inner.db.hashes.len()
    }

    /// How many bytes of a message, beyond the part in flight, its header block and its preamble, a
    /// [`ScanSession`] must keep for the matching of the message itself with this database (around each
    /// signature's atom and at the message's ends, and behind the searches of the regular expressions of
    /// logical signatures for mail: a 16 KiB block and the expression's reach, see
    /// [the crate docs](crate#regular-expressions)); or why it must keep the whole message (a signature for
    /// mail that has no run of exact bytes, or a regular expression at an offset far from the end).
    ///
    /// ```
    /// let engine = portcullis::Engine::builder().build()?;
    /// assert!(engine.session_reach().unwrap() < 4096);
    /// # Ok::<(), portcullis::Error>(())
    /// ```
    ///
    /// # Errors
    /// The reason, when sessions keep whole messages.
    pub fn session_reach(&self) -> std::result::Result<usize, &'static str> {
        self.inner
            .db
            .root_span()
            .map(|s| (s.back + s.fwd + s.from_start.max(s.from_end)).max(s.pcre))
    }

    /// The approximate heap memory of the compiled database, in bytes: its signatures and their compiled
    /// regular expressions, and the plans of the searches for those made so far (for the message, a text
    /// and an HTML part when the engine is built; for another type of part when a session first meets
    /// one). Engines made by [`with_limits`](Self::with_limits) share it all.
    ///
    /// ```
    /// let plain = portcullis::Engine::builder().build()?;
    /// let with_regex = portcullis::Engine::builder()
    ///     .load_str("local.ldb", "Local.Rx;Target:0;0&1;6576696c;0/evil[0-9]+marker/\n")?
    ///     .build()?;
    /// assert!(with_regex.memory_usage() > plain.memory_usage());
    /// # Ok::<(), portcullis::Error>(())
    /// ```
    pub fn memory_usage(&self) -> usize {
        self.inner.db.memory_usage()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_engine_with_other_limits_shares_the_compiled_database() {
        let ldb = "Rx.Test;Target:0;0&1;616263;0/abc[0-9]+/\n";
        let engine = Engine::builder()
            .load_str("t.ldb", ldb)
            .unwrap()
            .build()
            .unwrap();
        let tight = engine.with_limits(Limits::default().max_message_size(100));
        assert!(Arc::ptr_eq(&engine.inner.db, &tight.inner.db));
        assert_eq!(tight.limits().get_max_message_size(), 100);
        assert_eq!(engine.limits(), &Limits::default());
        // Each scans under its own limits: the tight one stops before the signature.
        let msg = [
            b"Subject: x\r\n\r\n".as_slice(),
            &[b' '; 200],
            b"abc123\r\n",
        ]
        .concat();
        let names = |e: &Engine| -> Vec<String> {
            let v = e.scan_bytes(&msg).unwrap();
            let mut names: Vec<String> = v
                .detections()
                .iter()
                .map(|d| d.name().to_string())
                .collect();
            names.dedup();
            names
        };
        assert_eq!(names(&engine), ["Rx.Test"]);
        assert_eq!(names(&tight), ["Heuristics.Limits.Exceeded.MaxMessageSize"]);
    }
}
