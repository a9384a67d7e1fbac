//! # portcullis
//!
//! A pure-Rust antivirus engine for scanning email *inline*: while the SMTP session is still open, so that
//! an infected message is refused with a 5xx reply instead of accepted and cleaned up later. It reads
//! ClamAV's signature databases, so users keep the databases they already have.
//!
//! ```
//! use portcullis::{Engine, Limits};
//!
//! // Compile once (here the built-in database), share everywhere: Engine is Clone + Send + Sync.
//! let engine = Engine::builder().limits(Limits::default()).build()?;
//!
//! // One session per message, fed as DATA arrives.
//! let mut session = engine.session();
//! session.feed(b"From: a@example.com\r\nSubject: hello\r\n\r\n")?;
//! session.feed(b"PORTCULLIS-TEST-SIGNATURE-NOT-A-VIRUS\r\n")?;
//! let verdict = session.finish()?;
//! assert!(verdict.is_infected());
//! let d = &verdict.detections()[0];
//! assert_eq!(d.name(), "Portcullis.Test.Plain-1");
//! assert_eq!(d.location().as_str(), "message");
//! # Ok::<(), portcullis::Error>(())
//! ```
//!
//! ## What happens to a message
//! The raw message is matched as a whole; then the MIME walker ([`mime`](crate) module `mime/`) takes it
//! apart under every plausible reading, transfer encodings are decoded leniently (`decode/`), the real type
//! of each payload is detected from its content (`filetype/`), containers are opened (`unpack/`: zip, gzip,
//! bzip2, tar) and every object is matched against hash and body signatures (`matcher/`). The work list
//! that does this, and where the verdict is made, is `scan.rs`. Signature formats are parsed in
//! `signatures/`, one file per format.
//!
//! Signatures are ClamAV's: hashes (`.hdb`, `.hsb`), body signatures (`.ndb`) and logical signatures (`.ldb`,
//! with PCRE subsignatures), allow- and ignore-lists, and `.cvd`/`.cld` containers. Beside them, a heuristic
//! scorer (`heuristics/`, [`Heuristics`]) turns what the scan saw into named findings with points and reasons
//! ([`Verdict::findings`]), and [`SmtpPolicy`] turns a verdict into the reply for the final dot.
//!
//! ## Regular expressions
//! A PCRE subsignature counts its expression's matches as PCRE's iteration finds them (each search from
//! where the last match ended, leftmost first), with the pure-Rust `regex` engine. To count them while an
//! attachment arrives and let go of its bytes (a session cannot know yet whether the trigger will hold),
//! each search looks for a match within a window: the rest of the 16 KiB block it starts in, plus the
//! expression's reach. The reach is the longest match its syntax allows, so for an expression of bounded
//! length (up to 256 KiB: all of ClamAV's) the count is exactly PCRE's; an expression with `*`, `+` or
//! `{n,}` may match at most 16 KiB more than its shortest match past the end of its block (ClamAV's own
//! PCRE match limits cut long searches too). [`Engine::scan_bytes`] counts the same way, so the verdict never depends on how
//! a message arrived. A trigger that names only subsignatures anchored near the start (`0:504B`: the
//! object starts as a zip) is decided by the object's first bytes, and a session stops searching for an
//! expression whose trigger they shut, as `scan_bytes` never runs it. A session's search is also over once
//! it has found as many matches as the signature can learn from: one for an expression the logical
//! expression names plainly (`0&1&2`, most of them), `n + 1` under a comparison (`2>n`); and the bytes it
//! still holds when the object ends are searched only for a signature whose trigger holds, which is known
//! then. Neither changes a verdict.
//!
//! ## Bad input is data
//! Malformed MIME, broken encodings and hostile archives never make a scan fail: the [`Verdict`] lists the
//! [`Damage`] seen, the objects that could not be [`Unscanned`] (encrypted members), and any [`Limits`]
//! crossed as detections named `Heuristics.Limits.Exceeded.*`.

#![deny(missing_docs)]

mod compiled;
mod decode;
mod engine;
mod error;
mod filetype;
pub mod heuristics;
mod limits;
mod matcher;
mod mime;
mod scan;
mod session;
mod signatures;
mod smtp;
mod stream;
#[cfg(test)]
mod testing;
mod unpack;
mod verdict;
mod view;

#[doc(hidden)]
pub mod fuzzing;

pub use engine::{Engine, EngineBuilder};
pub use error::{Error, ErrorKind, Result};
pub use filetype::{FileType, detect as detect_file_type};
pub use heuristics::{Finding, HeuristicMode, Heuristics};
pub use limits::{LimitName, Limits};
pub use session::ScanSession;
pub use signatures::{LoadReport, SkippedSignature};
pub use smtp::{OnIncomplete, OnSuspicious, SmtpPolicy, SmtpReply};
pub use verdict::{
    Damage, Detection, DetectionKind, Location, Status, Unscanned, UnscannedReason, Verdict,
};
