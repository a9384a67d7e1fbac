//! Pathological structure: each case must end within its limits, with the limit it crossed named in the
//! verdict. Times are printed, never asserted (the machines are shared and noisy).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::time::Instant;

use portcullis::{Engine, LimitName, Verdict};
use support::corpusgen::{Method, base64, zip};

fn scan(what: &str, message: &[u8]) -> Verdict {
    let engine = Engine::builder().build().unwrap();
    let started = Instant::now();
    let v = engine.scan_bytes(message).unwrap();
    eprintln!(
        "{what}: {} bytes in, {} objects, {} bytes scanned, {:?}, {:.1} ms",
        message.len(),
        v.objects_scanned(),
        v.bytes_scanned(),
        v.status(),
        started.elapsed().as_secs_f64() * 1e3
    );
    v
}

fn limits(v: &Verdict) -> Vec<LimitName> {
    v.detections().iter().filter_map(|d| d.limit()).collect()
}

#[test]
fn mime_nested_105_levels() {
    let mut body = "Content-Type: text/plain\r\n\r\nbottom\r\n".to_string();
    for level in 0..105 {
        body = format!(
            "Content-Type: multipart/mixed; boundary=\"l{level}\"\r\n\r\n--l{level}\r\n{body}\r\n--l{level}--\r\n"
        );
    }
    let v = scan(
        "105-level MIME nesting",
        format!("Subject: deep\r\n{body}").as_bytes(),
    );
    assert_eq!(limits(&v), [LimitName::MaxRecursion]);
}

#[test]
fn a_million_tiny_parts() {
    let mut m = String::from("Subject: many\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n");
    for _ in 0..1_000_000 {
        m.push_str("--b\r\n\r\nx\r\n");
    }
    m.push_str("--b--\r\n");
    let v = scan("a million tiny parts", m.as_bytes());
    // Ten thousand parts are split off (each costs memory), and their payloads reach MaxFiles.
    assert_eq!(limits(&v), [LimitName::MaxFiles, LimitName::MaxParts]);
}

#[test]
fn a_100_mb_header_without_newline() {
    let mut m = b"Subject: ".to_vec();
    m.resize(100 << 20, b'A');
    let v = scan("100 MB header line", &m);
    assert!(!v.is_infected());
}

#[test]
fn base64_of_a_gigabyte_from_a_small_zip() {
    // An email inside a zip whose base64 part would decode to far more than the limits allow.
    let line = "QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFB\r\n";
    let mut inner =
        String::from("From: a@b\r\nSubject: inner\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    inner.push_str(&line.repeat((200 << 20) / line.len()));
    let z = zip(&[("inner.eml", inner.as_bytes(), Method::Deflate)]);
    let m = format!(
        "Subject: outer\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\nContent-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n\r\n{}--z--\r\n",
        base64(&z)
    );
    let v = scan("200 MB of base64 in a small zip", m.as_bytes());
    let l = limits(&v);
    assert!(
        l.contains(&LimitName::MaxFileSize) || l.contains(&LimitName::MaxCompressionRatio),
        "{l:?}"
    );
}

#[test]
fn many_members_with_data_descriptors_and_no_directory() {
    // 100,000 stored members whose sizes are "in a data descriptor" that never comes: each member's end must
    // be found without scanning the rest of the archive again, and the listing stops at its cap.
    let mut z = Vec::new();
    for i in 0..100_000u32 {
        z.extend(b"PK\x03\x04\x14\x00\x08\x00\x00\x00\x00\x00\x21\x00\x00\x00\x00\x00");
        z.extend([0u8; 8]);
        z.extend(6u16.to_le_bytes());
        z.extend([0u8, 0]);
        z.extend(format!("{:06}", i % 1_000_000).as_bytes());
        z.extend(b"data");
    }
    let m = format!(
        "Subject: many\r\nContent-Type: multipart/mixed; boundary=z\r\n\r\n--z\r\nContent-Type: application/zip\r\nContent-Transfer-Encoding: base64\r\n\r\n{}--z--\r\n",
        base64(&z)
    );
    let v = scan("100,000 members with data descriptors", m.as_bytes());
    assert!(
        limits(&v).contains(&LimitName::MaxFiles),
        "{:?}",
        limits(&v)
    );
}
