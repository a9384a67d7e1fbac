//! Logical signatures: `.ldb` (and `.ldu`).
//!
//! `Name;TargetDescriptionBlock;LogicalExpression;Subsig0;Subsig1;...`. Supported: the target block's
//! `Engine`, `Target`, `FileSize` and `Container` (for the containers this engine opens); hex subsignatures
//! with offsets `*`, `n[,shift]`, `EOF-n[,shift]` and the modifiers `::i` (case-insensitive), `::w` (wide,
//! UTF-16LE), `::a` (ASCII, with `::w` both), `::f` (full word); PCRE subsignatures through the pure-Rust
//! `regex` crate's engine where its syntax allows (no back-references or look-around; matches found and counted
//! as `matcher/regexes.rs` says) with the flags `i s m x U`,
//! and `A`, `r`, `e` applied to the offset. Everything else is reported as skipped with its reason:
//! executable-structure offsets and conditions (`EP`, `Sx`, `EntryPoint`, `NumberOfSections`, `IconGroup`),
//! macro and byte-compare subsignatures, and regular expressions the engine cannot take.

use std::path::Path;

use super::expr::{self, Expr};
use super::offset::{self, Offset, Parsed};
use super::{SignatureSet, flevel_skip, hexsig, load_lines};
use crate::error::{Error, Result};
use crate::filetype::FileType;
use crate::matcher::pattern::Pattern;
use crate::matcher::regexes::{Flags, Pcre};

/// One hex subsignature, in every variant its modifiers ask for.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct HexSub {
    pub(crate) offset: Offset,
    /// The ASCII and/or wide forms of the pattern.
    pub(crate) patterns: Vec<Pattern>,
    pub(crate) fullword: bool,
}

/// A PCRE subsignature: evaluated only when its trigger holds.
#[derive(Clone, Debug)]
pub(crate) struct PcreSub {
    pub(crate) trigger: Expr,
    pub(crate) regex: Pcre,
    pub(crate) offset: Offset,
    pub(crate) anchored: bool,
    /// The subsignature as written: what the compiled-database cache stores (a compiled regex cannot be).
    pub(crate) source: String,
}

impl serde::Serialize for PcreSub {
    fn serialize<S: serde::Serializer>(&self, s: S) -> std::result::Result<S::Ok, S::Error> {
        s.serialize_str(&self.source)
    }
}

impl<'de> serde::Deserialize<'de> for PcreSub {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<PcreSub, D::Error> {
        let source = String::deserialize(d)?;
        match pcre_sub(&source) {
            Ok(Ok((sub, _))) => Ok(sub),
            Ok(Err(e)) | Err(e) => Err(serde::de::Error::custom(e)),
        }
    }
}

/// Moves the patterns of the hex subsignatures out of `logical`, as body signatures that count their
/// matches for the subsignature they came from: the body matcher finds them, and each logical signature
/// keeps only what its expression needs.
pub(crate) fn take_hex_subs(logical: &mut [LogicalSig]) -> Vec<super::BodySig> {
    let mut body = Vec::new();
    for (i, l) in logical.iter_mut().enumerate() {
        let target = l.target;
        for (j, sub) in l.subs.iter_mut().enumerate() {
            if let SubSig::Hex(h) = sub {
                for pattern in std::mem::take(&mut h.patterns) {
                    body.push(super::BodySig {
                        name: String::new(),
                        target,
                        offset: h.offset,
                        pattern,
                        owner: Some((i as u32, j as u8)),
                        fullword: h.fullword,
                    });
                }
            }
        }
    }
    body
}

/// `container` as a small number: the container types a logical signature can name here.
mod container_serde {
    use crate::filetype::FileType;

    const TYPES: [FileType; 5] = [
        FileType::Zip,
        FileType::Gzip,
        FileType::Bzip2,
        FileType::Tar,
        FileType::Mail,
    ];

    pub(crate) fn serialize<S: serde::Serializer>(
        c: &Option<Option<FileType>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let code: Option<Option<u8>> =
            c.map(|t| t.and_then(|t| TYPES.iter().position(|&x| x == t).map(|i| i as u8)));
        serde::Serialize::serialize(&code, s)
    }

    pub(crate) fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Option<FileType>>, D::Error> {
        let code: Option<Option<u8>> = serde::Deserialize::deserialize(d)?;
        Ok(code.map(|t| t.and_then(|i| TYPES.get(i as usize).copied())))
    }
}

#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) enum SubSig {
    Hex(HexSub),
    /// Boxed: a hex subsignature is a few words once its patterns go to the body matcher, and the official
    /// database has 235,248 subsignatures, of which 506 are regular expressions.
    Pcre(Box<PcreSub>),
}

/// A logical signature, parsed.
#[derive(Clone, Debug, serde::Serialize, serde::Deserialize)]
pub(crate) struct LogicalSig {
    pub(crate) name: String,
    pub(crate) target: u8,
    pub(crate) file_size: Option<(u64, u64)>,
    /// `Some(Some(t))`: only inside a container of type t; `Some(None)`: inside a container this engine
    /// does not open yet, so never; `None`: anywhere.
    #[serde(with = "container_serde")]
    pub(crate) container: Option<Option<FileType>>,
    pub(crate) expr: Expr,
    pub(crate) subs: Vec<SubSig>,
}

impl LogicalSig {
    /// How many matches of subsignature `sub` decide all the signature can learn of it: its expression's
    /// and its regular expressions' triggers' [`Expr::enough`] (a trigger may name an earlier regular
    /// expression). A search for a regular expression that has found as many is over.
    pub(crate) fn enough(&self, sub: u8) -> u32 {
        let triggers = self.subs.iter().filter_map(|s| match s {
            SubSig::Pcre(p) => p.trigger.enough(sub),
            SubSig::Hex(_) => None,
        });
        triggers.chain(self.expr.enough(sub)).max().unwrap_or(1)
    }

    /// The approximate heap memory of the signature: its name, its subsignatures' patterns (those left
    /// here) and compiled regular expressions, and the text of those.
    pub(crate) fn memory_usage(&self) -> usize {
        let subs: usize = self
            .subs
            .iter()
            .map(|s| match s {
                SubSig::Hex(h) => h.patterns.iter().map(Pattern::memory_usage).sum::<usize>(),
                SubSig::Pcre(p) => {
                    std::mem::size_of::<PcreSub>() + p.regex.memory_usage() + p.source.capacity()
                }
            })
            .sum();
        self.name.capacity() + self.subs.capacity() * std::mem::size_of::<SubSig>() + subs
    }
}

/// How well a loaded signature is served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Support {
    /// Every part with ClamAV's semantics.
    Full,
    /// Loaded, but it can fire only once the engine opens the container it names, or a PCRE offset flag is
    /// approximated.
    Partial,
}

fn container_type(name: &str) -> std::result::Result<Option<FileType>, String> {
    Ok(match name {
        "CL_TYPE_ZIP" => Some(FileType::Zip),
        "CL_TYPE_GZ" => Some(FileType::Gzip),
        "CL_TYPE_BZ" => Some(FileType::Bzip2),
        "CL_TYPE_POSIX_TAR" | "CL_TYPE_OLD_TAR" => Some(FileType::Tar),
        "CL_TYPE_MAIL" => Some(FileType::Mail),
        n if n.starts_with("CL_TYPE_") => None,
        n => return Err(format!("unknown container type {n}")),
    })
}

fn range(value: &str) -> Option<(u64, u64)> {
    match value.split_once('-') {
        Some((a, b)) => Some((a.parse().ok()?, b.parse().ok()?)),
        None => value.parse().ok().map(|v| (v, v)),
    }
}

/// Parses `Offset:Hex::modifiers` (offset and modifiers optional).
fn hex_sub(text: &str) -> std::result::Result<std::result::Result<(HexSub, bool), String>, String> {
    // Modifiers follow "::"; some published signatures repeat them after each `*`-separated piece
    // (`aa::i*bb::i`), which ClamAV accepts: every occurrence is taken and removed.
    let mut modifiers = String::new();
    let mut body = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("::") {
        body.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let n = after
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(after.len());
        modifiers.push_str(&after[..n]);
        rest = &after[n..];
    }
    body.push_str(rest);
    let (off, hex) = match body.split_once(':') {
        Some((o, h)) => (o, h),
        None => ("*", body.as_str()),
    };
    let offset = match offset::parse(off)? {
        Parsed::Ok(o) => o,
        Parsed::Unsupported(r) => return Ok(Err(r.to_string())),
    };
    if hex.starts_with('$') || hex.contains('#') {
        return Ok(Err(
            "macro and byte-compare subsignatures are not supported yet".to_string(),
        ));
    }
    let (mut nocase, mut wide, mut ascii, mut fullword) = (false, false, false, false);
    for m in modifiers.chars() {
        match m {
            'i' => nocase = true,
            'w' => wide = true,
            'a' => ascii = true,
            'f' => fullword = true,
            other => return Err(format!("unknown subsignature modifier '{other}'")),
        }
    }
    let mut pattern = hexsig::parse(hex)?;
    if nocase {
        pattern = pattern.case_folded();
    }
    let mut patterns = Vec::new();
    if wide {
        patterns.push(pattern.widened());
    }
    if ascii || !wide {
        patterns.insert(0, pattern);
    }
    Ok(Ok((
        HexSub {
            offset,
            patterns,
            fullword,
        },
        false,
    )))
}

/// Parses `[Offset:]Trigger/regex/flags`.
fn pcre_sub(
    text: &str,
) -> std::result::Result<std::result::Result<(PcreSub, bool), String>, String> {
    let first = text.find('/').ok_or("no '/' in a PCRE subsignature")?;
    let last = text
        .rfind('/')
        .filter(|&l| l > first)
        .ok_or("unterminated PCRE subsignature")?;
    let head = &text[..first];
    let (off, trigger) = match head.rsplit_once(':') {
        Some((o, t)) => (o, t),
        None => ("*", head),
    };
    let offset = match offset::parse(off)? {
        Parsed::Ok(o) => o,
        Parsed::Unsupported(r) => return Ok(Err(r.to_string())),
    };
    let trigger = expr::parse(trigger)?;
    let mut flags = Flags::default();
    let (mut anchored, mut approximate) = (false, false);
    for f in text[last + 1..].chars() {
        match f {
            'i' => flags.case_insensitive = true,
            's' => flags.dot_all = true,
            'm' => flags.multi_line = true,
            'x' => flags.extended = true,
            'U' => flags.ungreedy = true,
            'A' => anchored = true,
            'r' | 'e' | 'E' | 'g' => approximate = true,
            other => return Ok(Err(format!("PCRE flag '{other}' is not supported"))),
        }
    }
    match Pcre::new(&text[first + 1..last], flags) {
        Some(regex) => Ok(Ok((
            PcreSub {
                trigger,
                regex,
                offset,
                anchored,
                source: text.to_string(),
            },
            approximate,
        ))),
        None => Ok(Err(
            "PCRE syntax the pure-Rust regex engine cannot take (back-references, look-around)"
                .to_string(),
        )),
    }
}

/// Parses one line: the signature and how well it is supported, or the reason it is skipped.
pub(crate) fn parse_line(
    path: &Path,
    n: usize,
    line: &str,
) -> Result<std::result::Result<(LogicalSig, Support), String>> {
    let syntax = |m: String| Error::syntax(path, n, m);
    let fields: Vec<&str> = line.split(';').collect();
    if fields.len() < 4 {
        return Err(syntax(
            "expected Name;TargetDescriptionBlock;LogicalExpression;Subsig0...".to_string(),
        ));
    }
    let name = fields[0];
    if name.is_empty() {
        return Err(syntax("the signature has no name".to_string()));
    }
    let mut sig = LogicalSig {
        name: name.to_string(),
        target: 0,
        file_size: None,
        container: None,
        expr: match expr::parse(fields[2]) {
            Ok(e) => e,
            // ClamAV's own parser is lenient with some published expressions (`(8==9)`): such a signature
            // is skipped with its reason, not allowed to stop the whole database from loading.
            Err(e) => return Ok(Err(format!("malformed logical expression: {e}"))),
        },
        subs: Vec::new(),
    };
    let mut support = Support::Full;
    for item in fields[1].split(',').filter(|s| !s.is_empty()) {
        let (key, value) = item
            .split_once(':')
            .ok_or_else(|| syntax(format!("{name}: '{item}' is not Key:Value")))?;
        match key {
            "Engine" => {
                let (lo, hi) = range(value)
                    .ok_or_else(|| syntax(format!("{name}: bad Engine range '{value}'")))?;
                let (lo, hi) = (lo.to_string(), hi.to_string());
                if let Some(reason) = flevel_skip(path, n, &[lo.as_str(), hi.as_str()])? {
                    return Ok(Err(reason));
                }
            }
            "Target" => {
                sig.target = value
                    .parse()
                    .map_err(|_| syntax(format!("{name}: bad Target '{value}'")))?;
            }
            "FileSize" => {
                sig.file_size = Some(
                    range(value)
                        .ok_or_else(|| syntax(format!("{name}: bad FileSize '{value}'")))?,
                );
            }
            "Container" => {
                let c = container_type(value).map_err(|e| syntax(format!("{name}: {e}")))?;
                if c.is_none() {
                    support = Support::Partial;
                }
                sig.container = Some(c);
            }
            "EntryPoint" | "NumberOfSections" | "IconGroup1" | "IconGroup2" | "HandlerType"
            | "Intermediates" => {
                return Ok(Err(format!("target condition {key} is not supported yet")));
            }
            other => return Ok(Err(format!("target condition {other} is unknown"))),
        }
    }
    let mut subs: &[&str] = &fields[3..];
    while let Some((last, rest)) = subs.split_last()
        && last.is_empty()
    {
        subs = rest;
    }
    for (i, sub) in subs.iter().enumerate() {
        // A PCRE subsignature has a '/' after its trigger; a hex one never has one.
        let parsed = if sub.contains('/') {
            pcre_sub(sub)
                .unwrap_or_else(|e| Err(format!("malformed subsignature {i}: {e}")))
                .map(|(p, approx)| (SubSig::Pcre(Box::new(p)), approx))
        } else {
            hex_sub(sub)
                .unwrap_or_else(|e| Err(format!("malformed subsignature {i}: {e}")))
                .map(|(h, approx)| (SubSig::Hex(h), approx))
        };
        match parsed {
            Ok((s, approx)) => {
                if approx {
                    support = Support::Partial;
                }
                sig.subs.push(s);
            }
            Err(reason) => return Ok(Err(reason)),
        }
    }
    if sig.expr.max_sub() as usize >= sig.subs.len() {
        return Err(syntax(format!(
            "{name}: the expression names subsignature {} of {}",
            sig.expr.max_sub(),
            sig.subs.len()
        )));
    }
    if !sig.subs.iter().any(|s| matches!(s, SubSig::Hex(_))) {
        return Ok(Err("no hex subsignature to trigger on".to_string()));
    }
    Ok(Ok((sig, support)))
}

pub(crate) fn load(set: &mut SignatureSet, path: &Path, bytes: &[u8]) -> Result<()> {
    load_lines(
        set,
        path,
        bytes,
        ';',
        0,
        parse_line,
        |set, (sig, support)| {
            set.logical.push(sig);
            set.report.count("ldb");
            if support == Support::Partial {
                set.report.count("ldb-partial");
            }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(line: &str) -> std::result::Result<(LogicalSig, Support), String> {
        parse_line(Path::new("t.ldb"), 1, line).unwrap()
    }

    #[test]
    fn ldb_lines_table() {
        let (s, sup) = parse("A;Engine:51-255,Target:0;0&1;41424344;45464748::iw").unwrap();
        assert_eq!((s.subs.len(), sup), (2, Support::Full));
        match &s.subs[1] {
            SubSig::Hex(h) => assert!(h.patterns[0].parts[0].nocase && h.patterns.len() == 1),
            _ => panic!(),
        }
        let (s, _) = parse("B;Target:3,FileSize:10-2000;0>2;0:3c736372697074::a;").unwrap();
        assert_eq!((s.target, s.file_size), (3, Some((10, 2000))));
        let (s, _) = parse("C;Target:7,Container:CL_TYPE_ZIP;0&1;4142;0/ab+c/si").unwrap();
        assert!(matches!(s.subs[1], SubSig::Pcre(_)));
        assert_eq!(s.container, Some(Some(FileType::Zip)));
        assert_eq!(
            parse("D;Target:1,Container:CL_TYPE_RAR;0;4142").unwrap().1,
            Support::Partial
        );
        for skipped in [
            "E;Target:1,EntryPoint:0-100;0;4142",
            "F;Target:1;0;EP+0:4142",
            "G;Target:0;0&1;4142;0/(a)\\1/",
            "H;Target:0;0;${1-2}12$",
            "I;Engine:300-400,Target:0;0;4142",
        ] {
            assert!(parse(skipped).is_err(), "{skipped}");
        }
        for bad in [
            "J;Target:0;0",
            "K;Target:0;0&2;4142;4344",
            "L;Target:x;0;4142",
        ] {
            assert!(parse_line(Path::new("t.ldb"), 3, bad).is_err(), "{bad}");
        }
        // A malformed subsignature or expression is skipped with its reason, as ClamAV's published
        // databases hold a few that its own parser tolerates.
        for malformed in [
            "M;Target:0;0;41zz",
            "N;Target:0;0;4142::q",
            "O;Target:0;(8==9);4142",
        ] {
            let reason = parse(malformed).unwrap_err();
            assert!(reason.contains("malformed"), "{malformed}: {reason}");
        }
    }
}
