//! Every limit: crossed, and reported as `Heuristics.Limits.Exceeded.<Name>`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use portcullis::{DetectionKind, Engine, LimitName, Limits, Status};
use support::corpusgen::{self, Method, base64, eicar, zip};

fn scan(limits: Limits, message: &[u8]) -> portcullis::Verdict {
    Engine::builder()
        .limits(limits)
        .build()
        .unwrap()
        .scan_bytes(message)
        .unwrap()
}

fn limits_hit(v: &portcullis::Verdict) -> Vec<LimitName> {
    v.detections().iter().filter_map(|d| d.limit()).collect()
}

fn with_attachment(name: &str, data: &[u8]) -> Vec<u8> {
    format!(
        "Subject: t\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: application/octet-stream; name=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{}--b--\r\n",
        base64(data)
    )
    .into_bytes()
}

#[test]
fn defaults_are_documented_values() {
    let l = Limits::default();
    assert_eq!(l.get_max_message_size(), 100 << 20);
    assert_eq!(l.get_max_recursion(), 17);
    assert_eq!(l.get_max_files(), 10_000);
    assert_eq!(l.get_max_scan_size(), 400 << 20);
    assert_eq!(l.get_max_file_size(), 100 << 20);
    assert_eq!(l.get_max_compression_ratio(), 1_000);
    assert_eq!(l.get_max_parts(), 10_000);
}

#[test]
fn max_message_size_scans_the_beginning_and_says_so() {
    let mut msg = b"Subject: big\r\n\r\nPORTCULLIS-TEST-SIGNATURE-NOT-A-VIRUS\r\n".to_vec();
    msg.extend(vec![b'x'; 10_000]);
    let v = scan(Limits::default().max_message_size(1_000), &msg);
    assert_eq!(limits_hit(&v), [LimitName::MaxMessageSize]);
    assert!(
        v.detections()
            .iter()
            .any(|d| d.name() == "Portcullis.Test.Plain-1"),
        "the kept part is scanned"
    );
    let v = scan(Limits::default().max_message_size(msg.len() as u64), &msg);
    assert!(
        limits_hit(&v).is_empty(),
        "exactly at the limit is within it"
    );
}

#[test]
fn max_recursion_stops_nesting() {
    let inner = zip(&[("eicar.com", &eicar(), Method::Deflate)]);
    let outer = zip(&[("inner.zip", &inner, Method::Stored)]);
    let msg = with_attachment("outer.zip", &outer);
    // message(0) -> part(1) -> payload... each level is one more.
    let v = scan(Limits::default().max_recursion(2), &msg);
    assert_eq!(limits_hit(&v), [LimitName::MaxRecursion]);
    assert_eq!(v.status(), Status::Incomplete);
    let v = scan(Limits::default(), &msg);
    assert!(v.is_infected() && limits_hit(&v).is_empty());
}

#[test]
fn max_files_stops_counting_objects() {
    let files: Vec<(String, Vec<u8>)> = (0..50)
        .map(|i| (format!("f{i}.txt"), format!("file {i}").into_bytes()))
        .collect();
    let members: Vec<(&str, &[u8], Method)> = files
        .iter()
        .map(|(n, d)| (n.as_str(), d.as_slice(), Method::Stored))
        .collect();
    let msg = with_attachment("many.zip", &zip(&members));
    let v = scan(Limits::default().max_files(20), &msg);
    assert_eq!(limits_hit(&v), [LimitName::MaxFiles]);
    assert!(v.objects_scanned() <= 20, "{}", v.objects_scanned());
    assert!(limits_hit(&scan(Limits::default(), &msg)).is_empty());
}

#[test]
fn max_scan_size_stops_unpacking() {
    let big = vec![b'a'; 300_000];
    let msg = with_attachment(
        "big.zip",
        &zip(&[
            ("a.txt", &big, Method::Deflate),
            ("b.txt", &big, Method::Deflate),
        ]),
    );
    let v = scan(Limits::default().max_scan_size(500_000), &msg);
    assert_eq!(limits_hit(&v), [LimitName::MaxScanSize]);
    assert!(v.bytes_scanned() < msg.len() as u64 + 500_000 + 1);
}

#[test]
fn max_file_size_cuts_one_object() {
    let mut data = vec![b'a'; 200_000];
    data.extend(eicar());
    let msg = with_attachment("big.zip", &zip(&[("big.txt", &data, Method::Deflate)]));
    let v = scan(Limits::default().max_file_size(100_000), &msg);
    assert!(limits_hit(&v).contains(&LimitName::MaxFileSize));
    assert!(!v.is_infected(), "EICAR lies beyond the cut");
    let v = scan(Limits::default(), &msg);
    assert!(v.is_infected());
}

#[test]
fn max_compression_ratio_stops_a_bomb() {
    let zeros = vec![0u8; 4 << 20];
    let msg = with_attachment("zeros.zip", &zip(&[("zeros.bin", &zeros, Method::Deflate)]));
    let v = scan(Limits::default().max_compression_ratio(100), &msg);
    assert_eq!(limits_hit(&v), [LimitName::MaxCompressionRatio]);
    let d = v
        .detections()
        .iter()
        .find(|d| d.kind() == DetectionKind::Limit)
        .unwrap();
    assert_eq!(d.name(), "Heuristics.Limits.Exceeded.MaxCompressionRatio");
    assert!(limits_hit(&scan(Limits::default().max_compression_ratio(10_000), &msg)).is_empty());
}

#[test]
fn corpus_limit_cases_exist() {
    assert!(
        corpusgen::cases()
            .iter()
            .any(|c| c.file.starts_with("limits-"))
    );
}

#[test]
fn scan_size_counts_what_parts_hold_not_their_encoded_bytes() {
    // 90 KB decoded from 120 KB of base64: within 100 KB of scanning, which counts decoded content only.
    let mut data = vec![b'a'; 90_000];
    data.extend(eicar());
    let msg = with_attachment("a.bin", &data);
    let v = scan(Limits::default().max_scan_size(100_000), &msg);
    assert!(limits_hit(&v).is_empty(), "{:?}", v.detections());
    assert!(v.is_infected());
    // One byte of content fewer than the attachment holds: crossed, cut, and said.
    let v = scan(Limits::default().max_scan_size(90_000), &msg);
    assert_eq!(limits_hit(&v), [LimitName::MaxScanSize]);
    assert!(!v.is_infected(), "EICAR lies beyond the cut");
    // A part larger than the largest file is not cut as sent: what it decodes to is.
    let v = scan(Limits::default().max_file_size(100_000), &msg);
    assert!(limits_hit(&v).is_empty(), "{:?}", v.detections());
}

#[test]
fn a_forwarded_message_counts_what_it_holds_not_its_own_bytes() {
    // A forwarded message of about 120 KB whose attachment decodes to 90 KB, then EICAR in base64 after it.
    let inner = with_attachment("a.bin", &vec![b'a'; 90_000]);
    let msg = format!(
        "Subject: fwd\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\nContent-Type: message/rfc822\r\n\r\n{}\r\n--o\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n{}--o--\r\n",
        String::from_utf8_lossy(&inner),
        base64(&eicar()),
    );
    assert!(inner.len() > 120_000);
    // Its bytes count neither against the total nor as a file: what it holds does.
    let v = scan(Limits::default().max_scan_size(100_000), msg.as_bytes());
    assert!(limits_hit(&v).is_empty(), "{:?}", v.detections());
    assert!(v.is_infected());
    let v = scan(Limits::default().max_file_size(100_000), msg.as_bytes());
    assert!(limits_hit(&v).is_empty(), "{:?}", v.detections());
    // What it holds leaves too little for the part after it.
    let v = scan(Limits::default().max_scan_size(90_010), msg.as_bytes());
    assert_eq!(limits_hit(&v), [LimitName::MaxScanSize]);
    assert!(!v.is_infected(), "{:?}", v.detections());
    // It takes an object slot: the message, the part, the forwarded message, its attachment.
    let v = scan(Limits::default().max_files(3), msg.as_bytes());
    assert_eq!(limits_hit(&v), [LimitName::MaxFiles]);
}

#[test]
fn max_parts_stops_splitting_a_flood_of_parts() {
    // 40 parts, EICAR (base64, so only its part's decoding shows it) in the 5th and the 30th. With 10
    // parts allowed, the first is found, the second is not split off: the limit says so, in scan_bytes and
    // in a session alike, whatever the chunking.
    let mut msg = "Subject: flood\r\nContent-Type: multipart/mixed; boundary=f\r\n\r\n".to_string();
    for i in 0..40 {
        let body = if i == 4 || i == 29 {
            base64(&eicar())
        } else {
            base64(format!("part {i}").as_bytes())
        };
        msg += &format!("--f\r\nContent-Transfer-Encoding: base64\r\n\r\n{body}\r\n");
    }
    msg += "--f--\r\n";
    let msg = msg.into_bytes();
    let v = scan(Limits::default(), &msg);
    assert!(limits_hit(&v).is_empty());
    let signatures = |v: &portcullis::Verdict| -> Vec<String> {
        v.detections()
            .iter()
            .filter(|d| d.kind() == DetectionKind::Signature)
            .map(|d| d.location().to_string())
            .collect()
    };
    assert_eq!(
        signatures(&v),
        ["message/part[30]", "message/part[5]"],
        "{v:?}"
    );
    let engine = Engine::builder()
        .limits(Limits::default().max_parts(10))
        .build()
        .unwrap();
    let v = engine.scan_bytes(&msg).unwrap();
    assert_eq!(limits_hit(&v), [LimitName::MaxParts], "{v:?}");
    assert_eq!(signatures(&v), ["message/part[5]"], "{v:?}");
    for chunk in [1, 9, 100, 4096] {
        let mut session = engine.session().with_let_go_step(1);
        for c in msg.chunks(chunk) {
            session.feed(c).unwrap();
        }
        assert_eq!(session.finish().unwrap(), v, "{chunk}");
    }
}
