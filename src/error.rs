//! The crate's error type.
//!
//! Errors come from loading signature databases (a file that cannot be read, a malformed line, a damaged
//! container) and, in principle, from misuse of a session. Scanning a message never fails because of the
//! message's content: bad input is reported inside the [`Verdict`](crate::Verdict) instead.

use std::fmt;
use std::path::{Path, PathBuf};

/// What kind of failure an [`Error`] is.
#[non_exhaustive]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A file or directory could not be read.
    Io,
    /// A signature database line is malformed; [`Error::line`] names it.
    Syntax,
    /// A database container (`.cvd`, `.cld`, a gzipped file) is damaged or fails its checksum.
    Container,
    /// A path names no database this engine can load (an unknown extension given explicitly, an empty folder).
    NoDatabase,
    /// A compiled database (see [`Engine::save_compiled`](crate::Engine::save_compiled)) is damaged, was
    /// written by an engine with another format version, or was combined with other databases.
    Compiled,
}

/// An error from loading a signature database.
///
/// The error names the file and, for a malformed line, the line number (1-based), so a user can go straight
/// to the problem.
///
/// ```
/// let err = portcullis::Engine::builder()
///     .load_str("bad.ndb", "Name:0:*:abzz\n")
///     .unwrap_err();
/// assert_eq!(err.kind(), portcullis::ErrorKind::Syntax);
/// assert_eq!(err.line(), Some(1));
/// assert!(err.to_string().starts_with("bad.ndb:1:"));
/// ```
#[derive(Debug)]
pub struct Error {
    kind: ErrorKind,
    path: Option<PathBuf>,
    line: Option<usize>,
    message: String,
    source: Option<std::io::Error>,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<String>) -> Error {
        Error {
            kind,
            path: None,
            line: None,
            message: message.into(),
            source: None,
        }
    }

    pub(crate) fn io(path: &Path, source: std::io::Error) -> Error {
        Error {
            kind: ErrorKind::Io,
            path: Some(path.to_path_buf()),
            line: None,
            message: source.to_string(),
            source: Some(source),
        }
    }

    pub(crate) fn syntax(path: &Path, line: usize, message: impl Into<String>) -> Error {
        Error {
            kind: ErrorKind::Syntax,
            path: Some(path.to_path_buf()),
            line: Some(line),
            message: clipped(message.into()),
            source: None,
        }
    }

    pub(crate) fn with_path(mut self, path: &Path) -> Error {
        if self.path.is_none() {
            self.path = Some(path.to_path_buf());
        }
        self
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The file the error is about, if any. For a file inside a `.cvd` container this is
    /// `container.cvd/inner.ndb`.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The 1-based line number of a malformed signature, if the error is about one line.
    pub fn line(&self) -> Option<usize> {
        self.line
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (&self.path, self.line) {
            (Some(p), Some(l)) => write!(f, "{}:{}: {}", p.display(), l, self.message),
            (Some(p), None) => write!(f, "{}: {}", p.display(), self.message),
            _ => f.write_str(&self.message),
        }
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// A `Result` whose error is this crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

/// The longest message about a database line an error or a skipped signature carries: messages quote
/// pieces of the line, which a hostile database may make megabytes long.
const MAX_MESSAGE: usize = 256;

/// `message`, cut to [`MAX_MESSAGE`] bytes (at a character boundary) with an ellipsis if it was longer.
pub(crate) fn clipped(mut message: String) -> String {
    if message.len() > MAX_MESSAGE {
        let mut end = MAX_MESSAGE;
        while !message.is_char_boundary(end) {
            end -= 1;
        }
        message.truncate(end);
        message.push_str("...");
    }
    message
}
