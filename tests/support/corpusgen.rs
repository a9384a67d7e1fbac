//! The corpus generator: every message in `corpus/`, built deterministically from code, with the verdict
//! each must get. `cargo run --example gen_corpus` writes them; `tests/corpus.rs` checks that the files on
//! disk are exactly what this code produces and that the engine gives each its expected verdict.
//!
//! No live malware is stored: EICAR is assembled here at run time from two halves and only ever written
//! inside an encoding (base64, uuencode, deflate, bzip2), never verbatim.

#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;

/// One corpus file and its expected verdict.
pub struct Case {
    pub file: &'static str,
    pub what: &'static str,
    pub bytes: Vec<u8>,
    /// `clean`, `infected` or `incomplete`.
    pub status: &'static str,
    /// (kind, name, location) of every expected detection.
    pub detections: Vec<(&'static str, &'static str, String)>,
    /// (reason, location) of every object expected to be reported unscanned.
    pub unscanned: Vec<(&'static str, String)>,
}

impl Case {
    /// The `.expected` file written beside the message.
    pub fn expected_text(&self) -> String {
        let mut out = format!("# {}\nstatus: {}\n", self.what, self.status);
        let mut d: Vec<String> = self
            .detections
            .iter()
            .map(|(k, n, l)| format!("{k} {n} @ {l}\n"))
            .collect();
        d.sort();
        out.extend(d);
        let mut u: Vec<String> = self
            .unscanned
            .iter()
            .map(|(r, l)| format!("unscanned {r} @ {l}\n"))
            .collect();
        u.sort();
        out.extend(u);
        out
    }
}

/// The EICAR test string, assembled so that it never appears verbatim in this source.
pub fn eicar() -> Vec<u8> {
    let mut v = b"X5O!P%@AP[4\\PZX54(P^)7CC)7}$EICAR".to_vec();
    v.extend_from_slice(b"-STANDARD-ANTIVIRUS-TEST-FILE!$H+H*");
    v
}

pub const PLAIN_SIG: &str = "PORTCULLIS-TEST-SIGNATURE-NOT-A-VIRUS";

/// The file `Portcullis.Test.Hash-1` names by its MD5.
pub fn hash_payload() -> Vec<u8> {
    b"portcullis hash-signature test payload: this exact file, 40 lines of it.\n".repeat(40)
}

pub fn base64(data: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for (i, chunk) in data.chunks(3).enumerate() {
        if i > 0 && i % 19 == 0 {
            out.push_str("\r\n");
        }
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let v = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(A[(v >> (18 - 6 * k) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out.push_str("\r\n");
    out
}

/// Quoted-printable with a soft line break every `width` characters, so a string is split across lines.
pub fn quoted_printable(data: &[u8], width: usize) -> String {
    let mut out = String::new();
    let mut col = 0;
    for &b in data {
        let piece = if b == b'=' || !(33..=126).contains(&b) && b != b' ' {
            format!("={b:02X}")
        } else {
            (b as char).to_string()
        };
        if col + piece.len() > width {
            out.push_str("=\r\n");
            col = 0;
        }
        col += piece.len();
        out.push_str(&piece);
    }
    out.push_str("\r\n");
    out
}

pub fn uuencode(name: &str, data: &[u8]) -> String {
    let enc = |v: u32| -> char { if v == 0 { '`' } else { (v as u8 + 32) as char } };
    let mut out = format!("begin 644 {name}\r\n");
    for line in data.chunks(45) {
        out.push((line.len() as u8 + 32) as char);
        for g in line.chunks(3) {
            let b = [g[0], *g.get(1).unwrap_or(&0), *g.get(2).unwrap_or(&0)];
            let v = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
            for k in 0..4 {
                out.push(enc(v >> (18 - 6 * k) & 63));
            }
        }
        out.push_str("\r\n");
    }
    out.push_str("`\r\nend\r\n");
    out
}

pub fn deflate(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn bzip2(data: &[u8]) -> Vec<u8> {
    let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

pub fn gzip(name: &str, data: &[u8]) -> Vec<u8> {
    let mut e = flate2::GzBuilder::new()
        .filename(name)
        .mtime(0)
        .write(Vec::new(), flate2::Compression::best());
    e.write_all(data).unwrap();
    e.finish().unwrap()
}

/// Zip compression methods the generator writes.
#[derive(Clone, Copy)]
pub enum Method {
    Stored,
    Deflate,
    Bzip2,
    /// Stored, with the encryption flag set (the data is not really encrypted: the flag is what is tested).
    Encrypted,
}

pub fn zip(members: &[(&str, &[u8], Method)]) -> Vec<u8> {
    let mut out = Vec::new();
    let mut central = Vec::new();
    for (name, data, method) in members {
        let (code, flags, payload): (u16, u16, Vec<u8>) = match method {
            Method::Stored => (0, 0, data.to_vec()),
            Method::Deflate => (8, 0, deflate(data)),
            Method::Bzip2 => (12, 0, bzip2(data)),
            Method::Encrypted => (0, 1, data.iter().map(|b| b ^ 0x5a).collect()),
        };
        let crc = crc32fast::hash(data);
        let offset = out.len() as u32;
        let mut common = Vec::new();
        common.extend(flags.to_le_bytes());
        common.extend(code.to_le_bytes());
        common.extend([0u8, 0, 0x21, 0]); // time, date (1980-01-01)
        common.extend(crc.to_le_bytes());
        common.extend((payload.len() as u32).to_le_bytes());
        common.extend((data.len() as u32).to_le_bytes());
        common.extend((name.len() as u16).to_le_bytes());
        common.extend([0u8, 0]);
        out.extend(b"PK\x03\x04\x14\x00");
        out.extend(&common);
        out.extend(name.as_bytes());
        out.extend(&payload);
        central.extend(b"PK\x01\x02\x14\x00\x14\x00");
        central.extend(&common);
        central.extend([0u8; 10]);
        central.extend(offset.to_le_bytes());
        central.extend(name.as_bytes());
    }
    let cd_offset = out.len() as u32;
    out.extend(&central);
    out.extend(b"PK\x05\x06\0\0\0\0");
    out.extend((members.len() as u16).to_le_bytes());
    out.extend((members.len() as u16).to_le_bytes());
    out.extend((central.len() as u32).to_le_bytes());
    out.extend(cd_offset.to_le_bytes());
    out.extend([0u8, 0]);
    out
}

pub fn tar(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, data) in members {
        let mut h = vec![0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        h[124..136].copy_from_slice(format!("{:011o}\0", data.len()).as_bytes());
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = b'0';
        h[257..265].copy_from_slice(b"ustar\x0000");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| b as u32).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend(h);
        out.extend_from_slice(data);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.extend([0u8; 1024]);
    out
}

const HEAD: &str = "From: Alice Example <alice@example.com>\r\nTo: bob@example.org\r\nDate: Thu, 26 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n";

fn message(subject: &str, rest: &str) -> Vec<u8> {
    format!(
        "{HEAD}Subject: {subject}\r\nMessage-ID: <{}@corpus.portcullis>\r\n{rest}",
        subject.len()
    )
    .into_bytes()
}

/// A multipart/mixed body with a text part and the given attachment parts (each with its headers).
fn mixed(boundary: &str, attachments: &[String]) -> String {
    let mut s = format!(
        "Content-Type: multipart/mixed; boundary=\"{boundary}\"\r\n\r\nThis is a multi-part message in MIME format.\r\n"
    );
    s += &format!(
        "--{boundary}\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nPlease find the file attached.\r\n"
    );
    for a in attachments {
        s += &format!("--{boundary}\r\n{a}");
    }
    s += &format!("--{boundary}--\r\n");
    s
}

fn attachment(name: &str, mime: &str, data: &[u8]) -> String {
    format!(
        "Content-Type: {mime}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
        base64(data)
    )
}

fn sig(name: &'static str, loc: &str) -> (&'static str, &'static str, String) {
    ("signature", name, loc.to_string())
}
fn hash(name: &'static str, loc: &str) -> (&'static str, &'static str, String) {
    ("hash", name, loc.to_string())
}
fn limit(name: &'static str, loc: &str) -> (&'static str, &'static str, String) {
    ("limit", name, loc.to_string())
}
/// EICAR found in a file that is exactly EICAR: by its body signature and by its hash.
fn eicar_at(loc: &str) -> Vec<(&'static str, &'static str, String)> {
    vec![
        sig("Eicar-Test-Signature", loc),
        hash("Eicar-Test-Signature", loc),
    ]
}

const EICAR: &str = "Eicar-Test-Signature";
const PLAIN: &str = "Portcullis.Test.Plain-1";

pub fn cases() -> Vec<Case> {
    let e = eicar();
    let mut cases = Vec::new();
    let mut add = |file, what, bytes, status, detections, unscanned| {
        cases.push(Case {
            file,
            what,
            bytes,
            status,
            detections,
            unscanned,
        })
    };

    // ---- clean ----
    add(
        "clean-01-plain-text.eml",
        "a plain text message",
        message(
            "Lunch",
            "Content-Type: text/plain; charset=us-ascii\r\n\r\nShall we have lunch on Friday?\r\n-- \r\nAlice\r\n",
        ),
        "clean",
        vec![],
        vec![],
    );
    add(
        "clean-02-html-alternative.eml",
        "multipart/alternative with a text and an HTML part",
        message(
            "Newsletter",
            "Content-Type: multipart/alternative; boundary=\"alt-1\"\r\n\r\n--alt-1\r\nContent-Type: text/plain\r\n\r\nNews of the week.\r\n--alt-1\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n<html><body><p style=3D\"color:red\">News of the week.</p><script>track()</script></body></html>\r\n--alt-1--\r\n",
        ),
        "clean",
        vec![],
        vec![],
    );
    add(
        "clean-03-html-signature-in-plain-text.eml",
        "near miss: the HTML-only test signature's text in a text/plain part (target type 3 must not apply)",
        message(
            "Code review",
            "Content-Type: text/plain\r\n\r\nThe snippet was <script>portcullis_test_html(1)</script>, harmless in plain text.\r\n",
        ),
        "clean",
        vec![],
        vec![],
    );
    add(
        "clean-04-zip-attachment.eml",
        "a zip of two ordinary files in base64",
        message(
            "Report",
            &mixed(
                "b-clean-4",
                &[attachment(
                    "report.zip",
                    "application/zip",
                    &zip(&[
                        (
                            "report.txt",
                            b"Quarterly numbers are up.\r\n".repeat(50).as_slice(),
                            Method::Deflate,
                        ),
                        (
                            "notes/readme.md",
                            b"# Notes\nnothing to see\n",
                            Method::Stored,
                        ),
                    ]),
                )],
            ),
        ),
        "clean",
        vec![],
        vec![],
    );
    add(
        "clean-05-forwarded-message.eml",
        "a forwarded message/rfc822 with its own text part",
        message(
            "Fwd: minutes",
            &mixed(
                "b-clean-5",
                &["Content-Type: message/rfc822\r\n\r\nFrom: carol@example.net\r\nSubject: minutes\r\n\r\nThe meeting went well.\r\n".to_string()],
            ),
        ),
        "clean",
        vec![],
        vec![],
    );
    add(
        "clean-06-wildcard-near-miss.eml",
        "near miss: the wildcard test signature without its final END! part",
        message(
            "Almost",
            "Content-Type: text/plain\r\n\r\nPCTEST12WILD-CARD and then nothing that ends it\r\n",
        ),
        "clean",
        vec![],
        vec![],
    );

    // ---- infected: one carrier each ----
    add(
        "infected-01-raw-body.eml",
        "the plain test signature in a text body",
        message(
            "Raw",
            &format!("Content-Type: text/plain\r\n\r\nHere it is: {PLAIN_SIG}\r\n"),
        ),
        "infected",
        vec![sig(PLAIN, "message"), sig(PLAIN, "message/body")],
        vec![],
    );
    add(
        "infected-02-base64-attachment.eml",
        "EICAR as a base64 attachment",
        message(
            "Base64",
            &mixed(
                "b-inf-2",
                &[attachment("eicar.com", "application/octet-stream", &e)],
            ),
        ),
        "infected",
        eicar_at("message/part[2] \"eicar.com\""),
        vec![],
    );
    add(
        "infected-03-quoted-printable.eml",
        "the plain test signature quoted-printable with soft breaks inside it (invisible in the raw message)",
        message(
            "QP",
            &format!(
                "Content-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{}",
                quoted_printable(format!("caf\u{e9} {PLAIN_SIG} =end").as_bytes(), 12)
            ),
        ),
        "infected",
        vec![sig(PLAIN, "message/body")],
        vec![],
    );
    add(
        "infected-04-uuencode.eml",
        "EICAR uuencoded inside a plain text body",
        message(
            "UU",
            &format!(
                "Content-Type: text/plain\r\n\r\nThe file follows.\r\n\r\n{}\r\nBye.\r\n",
                uuencode("eicar.com", &e)
            ),
        ),
        "infected",
        eicar_at("message/body (uuencoded \"eicar.com\")"),
        vec![],
    );
    add(
        "infected-05-zip-in-base64.eml",
        "EICAR deflated in a zip, the zip in base64",
        message(
            "Invoice",
            &mixed(
                "b-inf-5",
                &[attachment(
                    "invoice.zip",
                    "application/zip",
                    &zip(&[
                        ("docs/readme.txt", b"read me", Method::Deflate),
                        ("docs/eicar.com", &e, Method::Deflate),
                    ]),
                )],
            ),
        ),
        "infected",
        eicar_at("message/part[2] \"invoice.zip\"/\"docs/eicar.com\""),
        vec![],
    );
    add(
        "infected-06-gzip-in-zip.eml",
        "EICAR gzipped, inside a zip",
        message(
            "Logs",
            &mixed(
                "b-inf-6",
                &[attachment(
                    "logs.zip",
                    "application/zip",
                    &zip(&[("eicar.com.gz", &gzip("eicar.com", &e), Method::Stored)]),
                )],
            ),
        ),
        "infected",
        eicar_at("message/part[2] \"logs.zip\"/\"eicar.com.gz\"/\"eicar.com\""),
        vec![],
    );
    add(
        "infected-07-tar-gz.eml",
        "EICAR in a tar.gz",
        message(
            "Bundle",
            &mixed(
                "b-inf-7",
                &[attachment(
                    "bundle.tar.gz",
                    "application/gzip",
                    &gzip(
                        "bundle.tar",
                        &tar(&[("payload/notes.txt", b"notes\n"), ("payload/eicar.com", &e)]),
                    ),
                )],
            ),
        ),
        "infected",
        // tar stores members as they are: the string is visible in the tar itself too.
        [
            eicar_at("message/part[2] \"bundle.tar.gz\"/\"bundle.tar\"/\"payload/eicar.com\""),
            vec![sig(
                EICAR,
                "message/part[2] \"bundle.tar.gz\"/\"bundle.tar\"",
            )],
        ]
        .concat(),
        vec![],
    );
    let inner = String::from_utf8(message(
        "Inner",
        &mixed(
            "b-inner-8",
            &[attachment("eicar.com", "application/octet-stream", &e)],
        ),
    ))
    .unwrap();
    add(
        "infected-08-nested-message.eml",
        "EICAR attached to a message that is itself attached (message/rfc822)",
        message(
            "Fwd: inner",
            &mixed(
                "b-inf-8",
                &[format!("Content-Type: message/rfc822\r\n\r\n{inner}")],
            ),
        ),
        "infected",
        eicar_at("message/part[2]/message/part[2] \"eicar.com\""),
        vec![],
    );
    let inner = String::from_utf8(message(
        "Inner zip",
        &mixed(
            "b-inner-9",
            &[attachment(
                "inner.zip",
                "application/zip",
                &zip(&[("eicar.com", &e, Method::Deflate)]),
            )],
        ),
    ))
    .unwrap();
    add(
        "infected-09-zip-in-nested-message.eml",
        "a zip holding EICAR, attached to an attached message",
        message(
            "Fwd: inner zip",
            &mixed(
                "b-inf-9",
                &[format!("Content-Type: message/rfc822\r\n\r\n{inner}")],
            ),
        ),
        "infected",
        eicar_at("message/part[2]/message/part[2] \"inner.zip\"/\"eicar.com\""),
        vec![],
    );

    // ---- infected: ambiguous MIME ----
    add(
        "infected-10-two-boundary-parameters.eml",
        "two boundary= parameters: a client that takes the first sees only text, one that takes the second sees EICAR",
        message(
            "Two boundaries",
            &format!(
                "Content-Type: multipart/mixed; boundary=\"first-b\"; boundary=\"second-b\"\r\n\r\n--first-b\r\nContent-Type: text/plain\r\n\r\nNothing here.\r\n--first-b--\r\n--second-b\r\n{}--second-b--\r\n",
                attachment("eicar.com", "application/octet-stream", &e)
            ),
        ),
        "infected",
        eicar_at("message/reading[2]/part[1] \"eicar.com\""),
        vec![],
    );
    add(
        "infected-11-two-content-types.eml",
        "two Content-Type headers, text/plain first, multipart second",
        format!(
            "{HEAD}Subject: Two types\r\nContent-Type: text/plain\r\nContent-Type: multipart/mixed; boundary=\"tt\"\r\n\r\n--tt\r\n{}--tt--\r\n",
            attachment("eicar.com", "application/octet-stream", &e)
        )
        .into_bytes(),
        "infected",
        eicar_at("message/part[1] \"eicar.com\""),
        vec![],
    );
    add(
        "infected-12-boundary-in-disposition.eml",
        "the boundary parameter misplaced in Content-Disposition",
        format!(
            "{HEAD}Subject: Misplaced\r\nContent-Type: multipart/mixed\r\nContent-Disposition: inline; boundary=\"dd\"\r\n\r\n--dd\r\n{}--dd--\r\n",
            attachment("eicar.com", "application/octet-stream", &e)
        )
        .into_bytes(),
        "infected",
        eicar_at("message/part[1] \"eicar.com\""),
        vec![],
    );
    add(
        "infected-13-boundary-ending-in-semicolon.eml",
        "the boundary parameter ends in ';' but the delimiter lines do not",
        format!(
            "{HEAD}Subject: Semicolon\r\nContent-Type: multipart/mixed; boundary=\"semi;\"\r\n\r\n--semi\r\n{}--semi--\r\n",
            attachment("eicar.com", "application/octet-stream", &e)
        )
        .into_bytes(),
        "infected",
        eicar_at("message/part[1] \"eicar.com\""),
        vec![],
    );
    add(
        "infected-14-unterminated-multipart.eml",
        "the last part is never closed",
        message(
            "Unterminated",
            &format!(
                "Content-Type: multipart/mixed; boundary=\"un\"\r\n\r\n--un\r\nContent-Type: text/plain\r\n\r\nhi\r\n--un\r\n{}",
                attachment("eicar.com", "application/octet-stream", &e)
            ),
        ),
        "infected",
        eicar_at("message/part[2] \"eicar.com\""),
        vec![],
    );
    add(
        "infected-15-wrong-declared-encoding.eml",
        "base64 content declared as 7bit",
        message(
            "Wrong encoding",
            &mixed(
                "b-inf-15",
                &[format!(
                    "Content-Type: text/plain; name=\"readme.txt\"\r\nContent-Transfer-Encoding: 7bit\r\n\r\n{}",
                    base64(&e)
                )],
            ),
        ),
        "infected",
        eicar_at("message/part[2] \"readme.txt\" (as base64)"),
        vec![],
    );
    add(
        "infected-16-encoded-filenames.eml",
        "RFC 2231 and RFC 2047 file names",
        message(
            "Names",
            &mixed(
                "b-inf-16",
                &[
                    format!(
                        "Content-Type: application/zip\r\nContent-Disposition: attachment;\r\n filename*=utf-8''%E2%82%AC%20rates.zip\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
                        base64(&zip(&[("eicar.com", &e, Method::Deflate)]))
                    ),
                    format!(
                        "Content-Type: application/octet-stream; name=\"=?utf-8?B?w6lsw6h2ZS5jb20=?=\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}",
                        base64(&e)
                    ),
                ],
            ),
        ),
        "infected",
        [
            eicar_at("message/part[2] \"€ rates.zip\"/\"eicar.com\""),
            eicar_at("message/part[3] \"élève.com\""),
        ]
        .concat(),
        vec![],
    );

    // ---- infected: signature kinds ----
    add(
        "infected-17-hash-signature.eml",
        "a file known only by its MD5 (Portcullis.Test.Hash-1)",
        message(
            "Hash",
            &mixed(
                "b-inf-17",
                &[attachment("payload.txt", "text/plain", &hash_payload())],
            ),
        ),
        "infected",
        vec![hash(
            "Portcullis.Test.Hash-1",
            "message/part[2] \"payload.txt\"",
        )],
        vec![],
    );
    add(
        "infected-18-wildcard-signature.eml",
        "the wildcard test signature: gaps, any byte, *, and an alternative",
        message(
            "Wildcards",
            "Content-Type: text/plain\r\n\r\nPCTEST12WILDxCARD, and later on: THE END?\r\n",
        ),
        "infected",
        vec![
            sig("Portcullis.Test.Wildcard-1", "message"),
            sig("Portcullis.Test.Wildcard-1", "message/body"),
        ],
        vec![],
    );
    let mut broken = base64(&e).replace("\r\n", "");
    broken.insert_str(20, "!!*");
    broken.insert_str(50, "\r\n");
    let broken = broken.trim_end_matches('=').to_string();
    add(
        "infected-19-broken-base64.eml",
        "EICAR in base64 with garbage characters, a broken line and no padding",
        message(
            "Broken",
            &mixed(
                "b-inf-19",
                &[format!(
                    "Content-Type: application/octet-stream; name=\"x.com\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{broken}\r\n"
                )],
            ),
        ),
        "infected",
        eicar_at("message/part[2] \"x.com\""),
        vec![],
    );
    add(
        "infected-20-html-part.eml",
        "the HTML-only test signature in a real HTML part",
        message(
            "HTML",
            "Content-Type: multipart/alternative; boundary=\"h20\"\r\n\r\n--h20\r\nContent-Type: text/plain\r\n\r\nsee html\r\n--h20\r\nContent-Type: text/html\r\n\r\n<html><body><script>portcullis_test_html(42)</script></body></html>\r\n--h20--\r\n",
        ),
        "infected",
        vec![sig("Portcullis.Test.Html-1", "message/part[2]")],
        vec![],
    );
    add(
        "infected-21-anchored-offset.eml",
        "a file that starts with the anchored test signature (offset 0)",
        message(
            "Anchored",
            &mixed(
                "b-inf-21",
                &[attachment(
                    "data.bin",
                    "application/octet-stream",
                    b"PCANCHOR\nrest of the file\n",
                )],
            ),
        ),
        "infected",
        vec![sig(
            "Portcullis.Test.Anchored-1",
            "message/part[2] \"data.bin\"",
        )],
        vec![],
    );

    add(
        "infected-25-html-fragment.eml",
        "the HTML-only test signature in a text/html part that has no <html> tag: the declared type is a hint",
        message(
            "Fragment",
            "Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\nPHA+SGVsbG88L3A+PHNjcmlwdD5wb3J0Y3VsbGlzX3Rlc3RfaHRtbCgxKTwvc2NyaXB0Pg==\r\n",
        ),
        "infected",
        vec![sig("Portcullis.Test.Html-1", "message/body")],
        vec![],
    );

    add(
        "infected-26-attachment-in-alternative.eml",
        "EICAR attached inside a nested multipart/alternative, after its text and HTML parts, as mail clients send inline attachments",
        message(
            "Inline",
            &mixed(
                "b-inf-26",
                &[
                    format!(
                        "Content-Type: multipart/alternative; boundary=\"alt-26\"\r\n\r\n--alt-26\r\nContent-Type: text/plain\r\n\r\nsee the file\r\n--alt-26\r\nContent-Type: text/html\r\n\r\n<p>see the file</p>\r\n--alt-26\r\n{}\r\n--alt-26--\r\n",
                        attachment("eicar.com", "application/octet-stream", &e)
                    ),
                    "Content-Type: text/plain\r\n\r\n-- \r\nsent from a phone\r\n".to_string(),
                ],
            ),
        ),
        "infected",
        eicar_at("message/part[2]/part[3] \"eicar.com\""),
        vec![],
    );

    // ---- limits and what cannot be scanned ----
    add(
        "limits-22-bzip2-ratio-bomb.eml",
        "a zip member of 20 MiB of zeros, bzip2-compressed to a few hundred bytes",
        message(
            "Bomb",
            &mixed(
                "b-lim-22",
                &[attachment(
                    "zeros.zip",
                    "application/zip",
                    &zip(&[("zeros.bin", &vec![0u8; 20 << 20], Method::Bzip2)]),
                )],
            ),
        ),
        "incomplete",
        vec![limit(
            "Heuristics.Limits.Exceeded.MaxCompressionRatio",
            "message/part[2] \"zeros.zip\"/\"zeros.bin\"",
        )],
        vec![],
    );
    let mut nested = String::from("Subject: the innermost\r\n\r\nbottom\r\n");
    for level in 0..20 {
        nested = format!("Subject: level {level}\r\nContent-Type: message/rfc822\r\n\r\n{nested}");
    }
    add(
        "limits-23-deep-nesting.eml",
        "messages nested 20 deep, beyond the default recursion limit of 17",
        format!("{HEAD}{nested}").into_bytes(),
        "incomplete",
        vec![limit(
            "Heuristics.Limits.Exceeded.MaxRecursion",
            &format!("message{}", "/message".repeat(18)),
        )],
        vec![],
    );
    add(
        "limits-24-encrypted-zip.eml",
        "an encrypted zip member: reported as not scanned",
        message(
            "Secret",
            &mixed(
                "b-lim-24",
                &[attachment(
                    "secret.zip",
                    "application/zip",
                    &zip(&[("secret.exe", b"MZ not really", Method::Encrypted)]),
                )],
            ),
        ),
        "incomplete",
        vec![],
        vec![(
            "encrypted",
            "message/part[2] \"secret.zip\"/\"secret.exe\"".to_string(),
        )],
    );
    cases
}

/// The mbox file of the corpus: three messages, the second infected. Expected lines of `portcullis scan`.
pub fn mbox() -> (Vec<u8>, Vec<String>) {
    let mut out = Vec::new();
    let bodies = [
        message("one", "Content-Type: text/plain\r\n\r\nfirst message\r\n"),
        message(
            "two",
            &mixed(
                "b-mbox",
                &[attachment(
                    "eicar.com",
                    "application/octet-stream",
                    &eicar(),
                )],
            ),
        ),
        message("three", "Content-Type: text/plain\r\n\r\nthird message\r\n"),
    ];
    for b in bodies {
        out.extend(b"From alice@example.com Thu Nov 26 10:00:00 2026\n");
        out.extend(
            String::from_utf8(b)
                .unwrap()
                .replace("\r\n", "\n")
                .into_bytes(),
        );
        out.extend(b"\n");
    }
    let expected = vec![
        "corpus/mailbox.mbox/message[1]: OK".to_string(),
        "corpus/mailbox.mbox/message[2]: Eicar-Test-Signature FOUND".to_string(),
        "corpus/mailbox.mbox/message[3]: OK".to_string(),
    ];
    (out, expected)
}
