//! Entry points into the internal parsers and the matcher for the fuzz targets in `fuzz/`, the regression
//! tests that replay what they found, and the raw-matching benchmarks in `benches/matcher.rs`. Hidden from
//! the documentation: not part of the public API, not covered by semver.

#![allow(missing_docs)]

use crate::unpack::{self, Budget, Unpacked};

/// A budget generous enough to reach deep states and small enough to keep each run fast.
fn budget() -> Budget {
    Budget {
        remaining_bytes: 8 << 20,
        max_file: 4 << 20,
        max_ratio: 1_000,
        remaining_objects: 1_000,
    }
}

/// Runs the MIME walker on one entity; returns how many children it found.
pub fn mime_walk(data: &[u8]) -> usize {
    crate::mime::walker::walk(data).children.len()
}

/// Parses a header block and every structured value in it.
pub fn mime_headers(data: &[u8]) -> usize {
    let (fields, _, _) = crate::mime::header::parse_block(data);
    for f in &fields {
        let s = crate::mime::header::parse_structured(&f.value);
        let _ = s.decoded("filename");
        let _ = crate::mime::header::decode_words(&f.value);
    }
    fields.len()
}

pub fn base64(data: &[u8]) -> usize {
    let d = crate::decode::base64::decode(data);
    assert!(d.data.len() <= data.len());
    d.data.len()
}

pub fn quoted_printable(data: &[u8]) -> usize {
    let d = crate::decode::qp::decode(data);
    assert!(d.len() <= data.len());
    d.len()
}

pub fn uudecode(data: &[u8]) -> usize {
    crate::decode::uu::decode_all(data)
        .iter()
        .map(|b| b.data.len())
        .sum()
}

fn check(out: &Unpacked, budget_before: &Budget, budget_after: &Budget) {
    let produced: u64 = out.members.iter().map(|m| m.data.len() as u64).sum();
    assert!(produced <= budget_before.remaining_bytes);
    assert!(
        out.members
            .iter()
            .all(|m| m.data.len() as u64 <= budget_before.max_file)
    );
    assert!(budget_after.remaining_bytes <= budget_before.remaining_bytes);
}

/// Unpacks a container of the given kind: `zip`, `gzip`, `bzip2` or `tar`.
pub fn unpack(kind: &str, data: &[u8]) -> usize {
    let before = budget();
    let mut b = before.clone();
    let mut out = Unpacked::default();
    match kind {
        "zip" => unpack::zip::unpack(data, &mut b, &mut out),
        "gzip" => unpack::gzip::unpack(data, &mut b, &mut out),
        "bzip2" => unpack::bzip2::unpack(data, &mut b, &mut out),
        _ => unpack::tar::unpack(data, &mut b, &mut out),
    }
    check(&out, &before, &b);
    out.members.len()
}

/// Explodes zip "implode" data with the given flags and declared size.
pub fn explode(data: &[u8], flags: u16, size: u64) -> usize {
    let mut b = budget();
    unpack::implode::explode(data, flags, size, &mut b)
        .data
        .len()
}

/// Parses a hex signature and, if it parses, matches it against `haystack`.
pub fn hex_signature(sig: &str, haystack: &[u8]) -> bool {
    match crate::signatures::hexsig::parse(sig) {
        Ok(pattern) => {
            let matcher = crate::matcher::BodyMatcher::new(vec![crate::signatures::BodySig {
                name: "F".to_string(),
                target: 0,
                offset: crate::signatures::offset::Offset::Any,
                pattern,
                owner: None,
                fullword: false,
            }]);
            !matcher.scan(haystack, 0).names.is_empty()
        }
        Err(_) => false,
    }
}

/// The body-signature matcher alone, built from `.ndb` text: what the raw-matching benchmarks measure.
pub struct RawMatcher(crate::matcher::BodyMatcher);

impl RawMatcher {
    /// Parses `.ndb` lines and compiles them.
    pub fn from_ndb(text: &str) -> crate::Result<RawMatcher> {
        let mut set = crate::signatures::SignatureSet::default();
        set.load_bytes(std::path::Path::new("raw.ndb"), text.as_bytes(), true)?;
        Ok(RawMatcher(crate::matcher::BodyMatcher::new(set.body)))
    }

    /// The number of signatures that match `data`.
    pub fn count(&self, data: &[u8]) -> usize {
        self.0.scan(data, 0).names.len()
    }

    /// The matcher's shape (atoms, tiers and strides), for reports.
    pub fn describe(&self) -> String {
        format!("{:?}", self.0)
    }

    /// The heap memory of the compiled matcher, in bytes.
    pub fn memory_usage(&self) -> usize {
        self.0.memory_usage()
    }
}

/// Signatures the session fuzz target and its replays load beside the built-in database, so that what a
/// session carries for logical signatures (counted and multi-part subsignatures, regular expressions
/// bounded and not, looked for by literals and not, triggered by what an object's first bytes decide)
/// is checked against the whole message too.
pub const SESSION_NDB: &str = "\
Fuzz.Gap:0:*:436f6e74656e74{1-30}3a
Fuzz.Multi:0:*:2d2d*0d0a{2-}0d0a0d0a
";

/// See [`SESSION_NDB`].
pub const SESSION_LDB: &str = "\
Fuzz.Count;Target:0;0>3&1;3d;0/[A-Za-z0-9+]{8,76}/
Fuzz.Boundary;Target:0;0&1;626f756e64617279;0/boundary=\"?[^\\r\\n\"]{1,40}/i
Fuzz.Loose;Target:0;0>1&1;2d2d;0/(?s)--[a-z0-9]+.*?--/
Fuzz.Chain;Target:0;0>1&1;0d0a*0d0a{2-}0d0a;0/\\x0d\\x0a[a-z]+: /
Fuzz.Pairs;Target:0;(0|1|2)&(3>2)&4&5&6;3a20;0d0a2d;3d;7c7c;2e2f;5c;0/[0-9]{2}[a-z]/i
Fuzz.Gated;Target:0;2;0:2d2d;0,2:46726f6d::i;0|1/[a-z]{3}[0-9]/
Fuzz.Half;Target:0;2;0:3c;3e;0&1/<html[^>]*>/i
";

/// The engine the session fuzz targets and their replays scan with: the built-in database and the
/// [`SESSION_NDB`] and [`SESSION_LDB`] signatures, under `limits`. The signatures are compiled once per
/// process and shared ([`crate::Engine::with_limits`]): compiling them (and making the plans of their
/// regular expressions' searches) costs far more than scanning a fuzz input, and each input has limits
/// of its own.
pub fn session_engine(limits: crate::Limits) -> crate::Result<crate::Engine> {
    static BASE: std::sync::OnceLock<crate::Engine> = std::sync::OnceLock::new();
    let base = match BASE.get() {
        Some(base) => base,
        None => {
            let built = crate::Engine::builder()
                .with_default_database(true)
                .load_str("fuzz.ndb", SESSION_NDB)?
                .load_str("fuzz.ldb", SESSION_LDB)?
                .build()?;
            BASE.get_or_init(|| built)
        }
    };
    Ok(base.with_limits(limits))
}

/// Feeds `message` to `session` in chunks of the lengths `splits` gives (each cut to what is left), then
/// the rest, and finishes it.
pub fn feed_in_splits(
    mut session: crate::ScanSession,
    message: &[u8],
    splits: impl IntoIterator<Item = usize>,
) -> crate::Result<crate::Verdict> {
    let mut rest = message;
    for s in splits {
        let (chunk, tail) = rest.split_at(s.min(rest.len()));
        session.feed(chunk)?;
        rest = tail;
    }
    session.feed(rest)?;
    session.finish()
}

/// A message with a long body made from `data`, for the `long_body_session` fuzz target and its replays.
/// The first byte chooses the body's transfer encoding (none, `7bit`, `quoted-printable`, `8bit`) and
/// whether it is a part of a multipart message; the rest, split at its middle, gives the body's first
/// 64 KiB (the first half, repeated: what the body's readings are chosen from) and up to 128 KiB after them
/// (the second half, repeated as often as the first byte's top bits say): a session decodes those as they
/// arrive and lets go of them. So a small input reaches the states a long text body has.
pub fn long_body_message(data: &[u8]) -> Vec<u8> {
    let (&first, rest) = data.split_first().unwrap_or((&0, &[]));
    let cte = ["", "7bit", "quoted-printable", "8bit"][usize::from(first & 3)];
    let part = first & 4 != 0;
    let (head, tail) = rest.split_at(rest.len() / 2);
    let mut msg = b"Subject: long\r\n".to_vec();
    if part {
        msg.extend_from_slice(b"Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n");
    }
    msg.extend_from_slice(
        format!("Content-Type: text/plain\r\nContent-Transfer-Encoding: {cte}\r\n\r\n").as_bytes(),
    );
    let body_start = msg.len();
    while !head.is_empty() && msg.len() - body_start < crate::mime::walker::READING_HEAD {
        msg.extend_from_slice(head);
    }
    let tail_len = usize::from(first >> 3) * 4096;
    let tail_start = msg.len();
    while !tail.is_empty() && msg.len() - tail_start < tail_len {
        msg.extend_from_slice(tail);
    }
    if part {
        msg.extend_from_slice(b"\r\n--q\r\n\r\nlast\r\n--q--\r\n");
    }
    msg
}

/// A message that forwards `data` as an attachment, for the `forwarded_session` fuzz target and its
/// replays. The first byte chooses how many times it is forwarded (one to three: a forwarded message that
/// forwards the one before), whether a part follows the forwarded one, whether the forwarded part is named,
/// and its transfer encoding (none, `7bit`, `8bit` or `binary`: all as sent); the rest is the innermost
/// message (a corpus message, say), which a session follows as it arrives.
pub fn forwarded_message(data: &[u8]) -> Vec<u8> {
    let (&first, rest) = data.split_first().unwrap_or((&0, &[]));
    let depth = 1 + usize::from(first % 3);
    let after = first & 4 != 0;
    let disposition = match first & 8 != 0 {
        true => "Content-Disposition: attachment; filename=\"f.eml\"\r\n",
        false => "",
    };
    let cte = ["", "7bit", "8bit", "binary"][usize::from(first >> 4 & 3)];
    let mut msg = rest.to_vec();
    for level in 0..depth {
        let mut outer = format!(
            "Subject: fwd\r\nContent-Type: multipart/mixed; boundary=\"f{level}\"\r\n\r\n--f{level}\r\n\r\n\
             see below\r\n--f{level}\r\nContent-Type: message/rfc822\r\n{disposition}\
             Content-Transfer-Encoding: {cte}\r\n\r\n"
        )
        .into_bytes();
        outer.extend_from_slice(&msg);
        outer.extend_from_slice(b"\r\n");
        if after {
            outer.extend_from_slice(format!("--f{level}\r\n\r\nafter\r\n").as_bytes());
        }
        outer.extend_from_slice(format!("--f{level}--\r\n").as_bytes());
        msg = outer;
    }
    msg
}
