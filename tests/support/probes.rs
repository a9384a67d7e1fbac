//! Messages of a given size for the latency benchmarks (`benches/session.rs`) and the clamd comparison
//! (`examples/latency.rs`): a text part, attachments of up to 1 MiB, and a small last part, so that what is
//! left to do at the end of DATA is what a real message leaves. Deterministic for a size.

#![allow(dead_code)]

use crate::{corpusgen, synth};

/// The sizes the latency figures are given for.
pub const SIZES: [(&str, usize); 5] = [
    ("10KB", 10_000),
    ("100KB", 100_000),
    ("1MB", 1_000_000),
    ("10MB", 10_000_000),
    ("25MB", 25_000_000),
];

fn text(len: usize) -> String {
    let words = [
        "invoice ",
        "meeting ",
        "report ",
        "attached ",
        "please ",
        "thanks ",
        "review ",
    ];
    let mut s = String::with_capacity(len + 80);
    let mut i = 0;
    while s.len() < len {
        s.push_str(words[i % words.len()]);
        i += 1;
        if i % 10 == 0 {
            s.push_str("\r\n");
        }
    }
    s
}

/// A clean message of about `size` bytes that is its own text body, declared quoted-printable (a long
/// letter, a log, a report pasted in): not multipart, so nothing completes before the end of DATA but the
/// body, which a session reads as it arrives.
pub fn text_body(size: usize) -> Vec<u8> {
    let mut out = String::from(
        "From: a@example.com\r\nTo: b@example.org\r\nSubject: probe\r\nMIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n",
    );
    out += &text(size.saturating_sub(out.len()));
    out += "\r\n";
    out.into_bytes()
}

/// A clean message of about `size` bytes that forwards a message as an attachment (`message/rfc822`, as
/// mail clients do): a short text, the forwarded message (a [`message`] with plain attachments), and a
/// small last part.
pub fn forwarded(size: usize) -> Vec<u8> {
    let mut out = String::from(
        "From: c@example.com\r\nTo: d@example.org\r\nSubject: Fwd: probe\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"fwd-boundary\"\r\n\r\n--fwd-boundary\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nforwarded below\r\n--fwd-boundary\r\nContent-Type: message/rfc822\r\nContent-Disposition: attachment; filename=\"probe.eml\"\r\n\r\n",
    );
    let tail = "\r\n--fwd-boundary\r\nContent-Type: text/plain\r\n\r\n-- \r\nsent from a probe\r\n--fwd-boundary--\r\n";
    let inner = message(size.saturating_sub(out.len() + tail.len()), false);
    out += &String::from_utf8_lossy(&inner);
    out += tail;
    out.into_bytes()
}

/// A clean message of about `size` bytes; with `zip`, the attachments are zip archives.
pub fn message(size: usize, zip: bool) -> Vec<u8> {
    shaped(size, zip, false)
}

/// [`message`]; with `nested`, the attachments are inside a nested `multipart/related`, after an HTML
/// part, as mail clients send inline images and attachments.
pub fn shaped(size: usize, zip: bool, nested: bool) -> Vec<u8> {
    let mut out = String::from(
        "From: a@example.com\r\nTo: b@example.org\r\nSubject: probe\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"probe-boundary\"\r\n\r\n",
    );
    out += &format!(
        "--probe-boundary\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}\r\n",
        text(size.min(4000) / 2)
    );
    let boundary = if nested {
        out += "--probe-boundary\r\nContent-Type: multipart/related; boundary=\"probe-inner\"\r\n\r\n\
                --probe-inner\r\nContent-Type: text/html; charset=utf-8\r\n\r\n<html><body><p>see the \
                attached files</p></body></html>\r\n";
        "probe-inner"
    } else {
        "probe-boundary"
    };
    // Base64 grows by 4/3: attachments of at most 1 MiB until the size is reached.
    let mut i = 0u64;
    while out.len() + 2000 < size {
        let left = (size - out.len() - 1000) * 3 / 4;
        let n = left.clamp(64, 1 << 20);
        let (name, mime, data) = if zip {
            // Half random, half text: compresses a little, as real attachments do.
            let mut member = synth::noise(n / 2, 0x9e37 + i);
            member.extend_from_slice(text(n / 2).as_bytes());
            let z = corpusgen::zip(&[("data.bin", &member, corpusgen::Method::Deflate)]);
            (format!("archive{i}.zip"), "application/zip", z)
        } else {
            (
                format!("file{i}.bin"),
                "application/octet-stream",
                synth::noise(n, 0x9e37 + i),
            )
        };
        out += &format!(
            "--{boundary}\r\nContent-Type: {mime}; name=\"{name}\"\r\nContent-Disposition: attachment; filename=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
            corpusgen::base64(&data)
        );
        i += 1;
    }
    if nested {
        out += "--probe-inner--\r\n";
    }
    out += "--probe-boundary\r\nContent-Type: text/plain\r\n\r\n-- \r\nsent from a probe\r\n--probe-boundary--\r\n";
    out.into_bytes()
}
