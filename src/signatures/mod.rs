//! Signature databases in ClamAV's formats: one parser per format, and the report of what was loaded.
//!
//! | extension | format | module |
//! |---|---|---|
//! | `.hdb` `.hdu` `.hsb` `.hsu` | MD5 / SHA-1 / SHA-256 hashes of whole files, `hash:size:name` | [`hash`] |
//! | `.fp` `.sfp` | hashes of files never to report | [`hash`] |
//! | `.ndb` `.ndu` | extended body signatures, `name:target:offset:hex[:minfl[:maxfl]]` | [`ndb`] |
//! | `.ign` `.ign2` | signature names to ignore | [`ign`] |
//! | `.cvd` `.cld` | ClamAV's containers of the above | [`cvd`] |
//! | `*.gz` | any of the above, gzipped | here |
//!
//! | `.ldb` `.ldu` | logical signatures: subsignatures combined by an expression | [`ldb`], [`expr`] |
//!
//! Container metadata (`.cdb`), file-type magic (`.ftm`), phishing lists
//! (`.pdb`, `.wdb`, `.gdb`) and PE-section hashes (`.mdb`, `.msb`) are recognised and reported as skipped,
//! line by line, with the reason.

pub(crate) mod cvd;
pub(crate) mod expr;
pub(crate) mod hash;
pub(crate) mod hexsig;
pub(crate) mod ign;
pub(crate) mod ldb;
pub(crate) mod ndb;
pub(crate) mod offset;

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::path::{Path, PathBuf};

use crate::error::{Error, ErrorKind, Result};
use crate::matcher::pattern::Pattern;

pub(crate) use hash::{HashKind, HashSig};

/// The functionality level this engine claims, as ClamAV's `FLEVEL`: signatures whose `MinFL` is above it or
/// whose `MaxFL` is below it are skipped, as ClamAV 1.4 would.
pub(crate) const FLEVEL: u32 = 210;

/// The largest database file accepted after decompression; a larger one is refused as hostile.
const MAX_DATABASE_SIZE: u64 = 2 << 30;

/// The built-in database: `signatures/` in the repository, compiled in.
const BUILTIN: &[(&str, &str)] = &[
    (
        "portcullis.ndb",
        include_str!("../../signatures/portcullis.ndb"),
    ),
    (
        "portcullis.hdb",
        include_str!("../../signatures/portcullis.hdb"),
    ),
];

/// A body signature as parsed, before compilation into the matcher.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct BodySig {
    pub(crate) name: String,
    pub(crate) target: u8,
    pub(crate) offset: offset::Offset,
    pub(crate) pattern: Pattern,
    /// For a subsignature of a logical signature: (logical signature index, subsignature index); its
    /// matches are counted instead of reported.
    pub(crate) owner: Option<(u32, u8)>,
    /// `::f`: the match must be a whole word.
    pub(crate) fullword: bool,
}

impl BodySig {
    /// The approximate heap memory the signature uses, itself included.
    pub(crate) fn memory_usage(&self) -> usize {
        std::mem::size_of::<BodySig>() + self.name.capacity() + self.pattern.memory_usage()
    }
}

/// One signature that was recognised but not loaded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SkippedSignature {
    file: String,
    line: usize,
    name: String,
    reason: String,
}

impl SkippedSignature {
    /// The database file (for a file inside a container, `container.cvd/inner.ndb`).
    pub fn file(&self) -> &str {
        &self.file
    }
    /// The 1-based line number.
    pub fn line(&self) -> usize {
        self.line
    }
    /// The signature's name, as far as it could be read.
    pub fn name(&self) -> &str {
        &self.name
    }
    /// Why it was skipped.
    pub fn reason(&self) -> &str {
        &self.reason
    }
}

/// What loading signature databases did: counts per format, files read, and what was skipped and why.
///
/// ```
/// let engine = portcullis::Engine::builder().build()?;
/// let report = engine.load_report();
/// assert!(report.loaded("ndb") >= 1);
/// assert!(report.total_loaded() >= 2);
/// # Ok::<(), portcullis::Error>(())
/// ```
#[derive(Clone, Debug, Default)]
pub struct LoadReport {
    loaded: BTreeMap<String, u64>,
    skipped: Vec<SkippedSignature>,
    files: Vec<String>,
    containers: Vec<String>,
}

/// The load report in the compiled-database cache, without making serde part of the public API.
pub(crate) mod report_serde {
    use super::{LoadReport, SkippedSignature};
    use std::collections::BTreeMap;

    type Repr = (
        BTreeMap<String, u64>,
        Vec<(String, usize, String, String)>,
        Vec<String>,
        Vec<String>,
    );

    pub(crate) fn serialize<S: serde::Serializer>(r: &LoadReport, s: S) -> Result<S::Ok, S::Error> {
        let skipped: Vec<(String, usize, String, String)> = r
            .skipped
            .iter()
            .map(|k| (k.file.clone(), k.line, k.name.clone(), k.reason.clone()))
            .collect();
        serde::Serialize::serialize(&(&r.loaded, skipped, &r.files, &r.containers), s)
    }

    pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<LoadReport, D::Error> {
        let (loaded, skipped, files, containers): Repr = serde::Deserialize::deserialize(d)?;
        Ok(LoadReport {
            loaded,
            skipped: skipped
                .into_iter()
                .map(|(file, line, name, reason)| SkippedSignature {
                    file,
                    line,
                    name,
                    reason,
                })
                .collect(),
            files,
            containers,
        })
    }
}

impl LoadReport {
    /// How many signatures of a format (`"hdb"`, `"hsb"`, `"ndb"`, `"ldb"`, `"fp"`, `"ign2"`...) were loaded.
    /// `"ldb-partial"` counts the logical signatures among them that are served only in part (they name a
    /// container this engine does not open yet, or a PCRE offset flag is approximated).
    pub fn loaded(&self, format: &str) -> u64 {
        self.loaded.get(format).copied().unwrap_or(0)
    }

    /// Every format with its count of loaded signatures, in name order.
    pub fn loaded_by_format(&self) -> impl Iterator<Item = (&str, u64)> {
        self.loaded.iter().map(|(k, v)| (k.as_str(), *v))
    }

    /// The number of detection signatures loaded (hash and body signatures; allow-lists and ignore lists
    /// are not counted).
    pub fn total_loaded(&self) -> u64 {
        self.loaded
            .iter()
            .filter(|(k, _)| !matches!(k.as_str(), "fp" | "sfp" | "ign" | "ign2" | "ldb-partial"))
            .map(|(_, v)| v)
            .sum()
    }

    /// Every signature recognised but not loaded, with its reason.
    pub fn skipped(&self) -> &[SkippedSignature] {
        &self.skipped
    }

    /// The skipped signatures counted by reason.
    pub fn skipped_by_reason(&self) -> BTreeMap<&str, u64> {
        let mut out = BTreeMap::new();
        for s in &self.skipped {
            *out.entry(s.reason.as_str()).or_insert(0) += 1;
        }
        out
    }

    /// The database files read, in load order.
    pub fn files(&self) -> &[String] {
        &self.files
    }

    /// A line per `.cvd`/`.cld` container: its name, version, signature count and what was verified.
    pub fn containers(&self) -> &[String] {
        &self.containers
    }

    pub(crate) fn count(&mut self, format: &str) {
        *self.loaded.entry(format.to_string()).or_insert(0) += 1;
    }

    pub(crate) fn skip(&mut self, file: &Path, line: usize, name: &str, reason: impl Into<String>) {
        self.skipped.push(SkippedSignature {
            file: file.display().to_string(),
            line,
            name: crate::error::clipped(name.to_string()),
            reason: crate::error::clipped(reason.into()),
        });
    }
}

/// Every signature loaded so far, not yet compiled.
#[derive(Default)]
pub(crate) struct SignatureSet {
    pub(crate) body: Vec<BodySig>,
    pub(crate) hashes: crate::matcher::hashes::HashIndexBuilder,
    pub(crate) allow: crate::matcher::hashes::HashIndexBuilder,
    pub(crate) ignored: HashSet<String>,
    pub(crate) logical: Vec<ldb::LogicalSig>,
    pub(crate) report: LoadReport,
}

/// The lines of a database file: 1-based number and text, without comments and blank lines.
pub(crate) fn lines<'a>(
    path: &'a Path,
    bytes: &'a [u8],
) -> impl Iterator<Item = Result<(usize, &'a str)>> + 'a {
    bytes
        .split(|&b| b == b'\n')
        .enumerate()
        .filter_map(move |(i, raw)| {
            let raw = raw.strip_suffix(b"\r").unwrap_or(raw);
            match std::str::from_utf8(raw) {
                Ok(line) => {
                    let trimmed = line.trim();
                    (!trimmed.is_empty() && !trimmed.starts_with('#'))
                        .then_some(Ok((i + 1, trimmed)))
                }
                Err(_) => Some(Err(Error::syntax(path, i + 1, "line is not valid UTF-8"))),
            }
        })
}

/// The loop every line-based format shares: parse each line; keep what parses, report what is skipped (with
/// the name the line gives, its field `name_field` split by `separator`), stop at the first malformed line.
pub(crate) fn load_lines<T>(
    set: &mut SignatureSet,
    path: &Path,
    bytes: &[u8],
    separator: char,
    name_field: usize,
    parse: impl Fn(&Path, usize, &str) -> Result<std::result::Result<T, String>>,
    mut keep: impl FnMut(&mut SignatureSet, T),
) -> Result<()> {
    for line in lines(path, bytes) {
        let (n, text) = line?;
        match parse(path, n, text)? {
            Ok(sig) => keep(set, sig),
            Err(reason) => {
                let name = text.split(separator).nth(name_field).unwrap_or("");
                set.report.skip(path, n, name, reason);
            }
        }
    }
    Ok(())
}

/// What the loader does with a file, by its extension.
enum Format {
    Container,
    Hash,
    Allow,
    Body,
    Ignore,
    Logical,
    Unsupported(&'static str),
    Metadata,
}

fn format_of(ext: &str) -> Option<Format> {
    Some(match ext {
        "cvd" | "cld" | "cud" => Format::Container,
        "hdb" | "hdu" | "hsb" | "hsu" => Format::Hash,
        "fp" | "sfp" => Format::Allow,
        "ndb" | "ndu" => Format::Body,
        "ign" | "ign2" => Format::Ignore,
        "ldb" | "ldu" => Format::Logical,
        "cdb" => Format::Unsupported("container metadata signatures (.cdb) are not supported yet"),
        "ftm" => Format::Unsupported("file-type magic (.ftm) is not loaded yet"),
        "pdb" | "gdb" | "wdb" => Format::Unsupported("phishing URL lists are not supported yet"),
        "mdb" | "mdu" | "msb" | "msu" | "imp" => {
            Format::Unsupported("PE section and import hashes need PE parsing, not supported yet")
        }
        "idb" => Format::Unsupported("icon signatures (.idb) are not supported yet"),
        "crb" | "cat" => Format::Unsupported("Authenticode rules are not supported yet"),
        "yar" | "yara" => Format::Unsupported("YARA rules are not supported yet"),
        "hwdb" | "pwdb" => Format::Unsupported("this database type is not supported yet"),
        "info" | "cfg" => Format::Metadata,
        _ => return None,
    })
}

fn extension(path: &Path) -> String {
    path.extension()
        .and_then(|e| e.to_str())
        .unwrap_or("")
        .to_ascii_lowercase()
}

impl SignatureSet {
    pub(crate) fn load_builtin(&mut self) -> Result<()> {
        for (name, text) in BUILTIN {
            let path = PathBuf::from(format!("builtin:{name}"));
            self.load_bytes(&path, text.as_bytes(), true)?;
        }
        Ok(())
    }

    /// Loads a file, or every database file in a directory (not recursively), in name order.
    pub(crate) fn load_path(&mut self, path: &Path) -> Result<()> {
        let meta = std::fs::metadata(path).map_err(|e| Error::io(path, e))?;
        if !meta.is_dir() {
            let bytes = std::fs::read(path).map_err(|e| Error::io(path, e))?;
            return self.load_bytes(path, &bytes, true);
        }
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| Error::io(path, e))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.is_file())
            .collect();
        entries.sort();
        let before = self.report.files.len();
        for entry in entries {
            let name = entry.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let ext = extension(Path::new(name.strip_suffix(".gz").unwrap_or(name)));
            if format_of(&ext).is_none() {
                continue;
            }
            // freshclam keeps either main.cvd or main.cld; if both are there the newer one is the .cld.
            let bytes = std::fs::read(&entry).map_err(|e| Error::io(&entry, e))?;
            self.load_bytes(&entry, &bytes, false)?;
        }
        if self.report.files.len() == before {
            return Err(
                Error::new(ErrorKind::NoDatabase, "no signature database files found")
                    .with_path(path),
            );
        }
        Ok(())
    }

    /// Loads one database from memory; `path` names it and its extension says its format.
    pub(crate) fn load_bytes(&mut self, path: &Path, bytes: &[u8], explicit: bool) -> Result<()> {
        let ext = extension(path);
        if ext == "gz" {
            let inner = path.with_extension("");
            let data = gunzip(path, bytes)?;
            return self.load_bytes(&inner, &data, explicit);
        }
        let Some(format) = format_of(&ext) else {
            if explicit {
                return Err(Error::new(
                    ErrorKind::NoDatabase,
                    format!("'.{ext}' is not a signature database extension this engine knows"),
                )
                .with_path(path));
            }
            return Ok(());
        };
        self.report.files.push(path.display().to_string());
        match format {
            Format::Container => cvd::load(self, path, bytes),
            Format::Hash => hash::load(self, path, bytes, false),
            Format::Allow => hash::load(self, path, bytes, true),
            Format::Body => ndb::load(self, path, bytes),
            Format::Ignore => ign::load(self, path, bytes),
            Format::Logical => ldb::load(self, path, bytes),
            Format::Metadata => Ok(()),
            Format::Unsupported(reason) => {
                for line in lines(path, bytes) {
                    let (n, text) = line?;
                    let name = text.split([';', ':']).next().unwrap_or("");
                    self.report.skip(path, n, name, reason);
                }
                Ok(())
            }
        }
    }
}

/// Decompresses a gzipped database within [`MAX_DATABASE_SIZE`].
pub(crate) fn gunzip(path: &Path, bytes: &[u8]) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let mut reader = flate2::read::MultiGzDecoder::new(bytes).take(MAX_DATABASE_SIZE + 1);
    reader.read_to_end(&mut out).map_err(|e| {
        Error::new(ErrorKind::Container, format!("gzip data is damaged: {e}")).with_path(path)
    })?;
    if out.len() as u64 > MAX_DATABASE_SIZE {
        return Err(Error::new(
            ErrorKind::Container,
            format!("expands beyond {MAX_DATABASE_SIZE} bytes"),
        )
        .with_path(path));
    }
    Ok(out)
}

/// Parses the optional `:MinFL[:MaxFL]` fields; `Some(reason)` when this engine's level is outside them.
pub(crate) fn flevel_skip(path: &Path, line: usize, fields: &[&str]) -> Result<Option<String>> {
    let parse = |s: &str| -> Result<Option<u32>> {
        if s.is_empty() {
            return Ok(None);
        }
        s.parse::<u32>().map(Some).map_err(|_| {
            Error::syntax(
                path,
                line,
                format!("functionality level '{s}' is not a number"),
            )
        })
    };
    let min = match fields.first() {
        Some(s) => parse(s)?,
        None => None,
    };
    let max = match fields.get(1) {
        Some(s) => parse(s)?,
        None => None,
    };
    if let Some(min) = min
        && min > FLEVEL
    {
        return Ok(Some(format!("needs functionality level {min}")));
    }
    if let Some(max) = max
        && max < FLEVEL
    {
        return Ok(Some(format!("only for functionality levels up to {max}")));
    }
    Ok(None)
}
