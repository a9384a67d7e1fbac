//! Loading signature databases: every format, directories, containers, and clear errors for bad input.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::io::Write;
use std::path::PathBuf;

use md5::{Digest, Md5};
use portcullis::{Engine, ErrorKind};
use support::corpusgen::{eicar, gzip, tar};

fn temp_dir(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("portcullis-test-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn eicar_message() -> Vec<u8> {
    let mut m = b"Subject: x\r\n\r\n".to_vec();
    m.extend(eicar());
    m
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

#[test]
fn builtin_database_loads_and_finds_eicar() {
    let engine = Engine::builder().build().unwrap();
    let r = engine.load_report();
    assert_eq!(r.loaded("ndb"), 5);
    assert_eq!(r.loaded("hdb"), 2);
    assert!(r.skipped().is_empty());
    assert!(engine.scan_bytes(&eicar_message()).unwrap().is_infected());
}

#[test]
fn loading_replaces_the_builtin_database_unless_asked() {
    let e = Engine::builder()
        .load_str("x.ndb", "X:0:*:78787878787878\n")
        .unwrap()
        .build()
        .unwrap();
    assert!(!e.scan_bytes(&eicar_message()).unwrap().is_infected());
    let e = Engine::builder()
        .load_str("x.ndb", "X:0:*:78787878787878\n")
        .unwrap()
        .with_default_database(true)
        .build()
        .unwrap();
    assert!(e.scan_bytes(&eicar_message()).unwrap().is_infected());
}

#[test]
fn malformed_lines_name_file_and_line() {
    let table = [
        (
            "bad.ndb",
            "Good:0:*:41424344\n\nBad:0:*:4142zz\n",
            3,
            "invalid hex",
        ),
        (
            "bad.hdb",
            "# comment\n44d88612fea8a8f36de82e1278abb02f:68\n",
            2,
            "expected",
        ),
        ("bad.hsb", "abc:1:X\n", 1, "none of MD5"),
        ("bad.ndb", "A:0:EOF-x:4142\n", 1, "offset"),
        ("bad.ndb", "Huge:0:*:41{99999999999}42\n", 1, "larger than"),
        ("bad.ndb", "Range:0:*:41{9-3}42\n", 1, "minimum above"),
    ];
    for (name, text, line, want) in table {
        let err = Engine::builder().load_str(name, text).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Syntax, "{name}: {err}");
        assert_eq!(err.line(), Some(line), "{name}: {err}");
        assert_eq!(err.path().unwrap().to_str(), Some(name));
        assert!(err.to_string().contains(want), "{err}");
    }
    // What a message quotes of a line is cut short: a hostile line may be megabytes long.
    let huge = format!("Big:0:*:{}41{}\n", "(".repeat(100_000), ")".repeat(100_000));
    let err = Engine::builder().load_str("big.ndb", &huge).unwrap_err();
    assert_eq!((err.kind(), err.line()), (ErrorKind::Syntax, Some(1)));
    assert!(
        err.to_string().len() < 400,
        "{} bytes",
        err.to_string().len()
    );
    let err = Engine::builder()
        .load_bytes("bad.ndb", b"A:0:*:4142\n\xff\xfe:0:*:4142\n")
        .unwrap_err();
    assert_eq!((err.kind(), err.line()), (ErrorKind::Syntax, Some(2)));
    assert!(err.to_string().contains("UTF-8"));
    let err = Engine::builder()
        .load_str("x.unknown", "whatever")
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::NoDatabase);
}

#[test]
fn a_logical_expression_too_long_is_skipped_not_a_stack_overflow() {
    // A chain of 100,000 operators is a tree 100,000 deep, which evaluating (and dropping) would recurse
    // through: the line is skipped with its reason, and the signature after it still works.
    let chain = vec!["0"; 100_001].join("&");
    let ldb = format!("Deep;Target:0;{chain};616263\nShallow;Target:0;0&1;6576696c;6d61726b6572\n");
    let e = Engine::builder()
        .load_str("deep.ldb", &ldb)
        .unwrap()
        .build()
        .unwrap();
    let r = e.load_report();
    assert_eq!(r.skipped().len(), 1);
    assert_eq!((r.skipped()[0].line(), r.skipped()[0].name()), (1, "Deep"));
    assert!(
        r.skipped()[0].reason().contains("terms"),
        "{}",
        r.skipped()[0].reason()
    );
    let verdict = e
        .scan_bytes(b"Subject: x\r\n\r\nabc evil marker\r\n")
        .unwrap();
    let names: Vec<&str> = verdict.detections().iter().map(|d| d.name()).collect();
    assert!(
        names.iter().all(|&n| n == "Shallow") && !names.is_empty(),
        "{names:?}"
    );
}

#[test]
fn unsupported_signatures_are_skipped_with_reasons() {
    let e = Engine::builder()
        .load_str(
            "x.ndb",
            "Ep:1:EP+0:4142434445\nOk:0:*:4142434445\nNew:0:*:4142434445:999\n",
        )
        .unwrap()
        .load_str("x.ldb", "Logical;Engine:51-255,Target:1;0;EP+0:41424344\n")
        .unwrap()
        .build()
        .unwrap();
    let r = e.load_report();
    assert_eq!(r.loaded("ndb"), 1);
    let reasons: Vec<&str> = r.skipped().iter().map(|s| s.reason()).collect();
    assert_eq!(r.skipped().len(), 3, "{reasons:?}");
    assert!(reasons.iter().any(|r| r.contains("entry point")));
    assert!(
        reasons
            .iter()
            .any(|r| r.contains("functionality level 999"))
    );
    assert_eq!(
        reasons.iter().filter(|r| r.contains("entry point")).count(),
        2
    );
    assert_eq!(r.skipped()[0].line(), 1);
    assert_eq!(r.skipped()[0].name(), "Ep");
}

#[test]
fn directory_with_every_simple_format() {
    let dir = temp_dir("dir");
    let data = b"a file known by its hashes\n";
    let md5 = hex(&Md5::digest(data));
    let sha256 = hex(&sha2::Sha256::digest(data));
    std::fs::write(
        dir.join("a.hdb"),
        format!("{md5}:{}:Test.Md5\n", data.len()),
    )
    .unwrap();
    std::fs::write(dir.join("b.hsb"), format!("{sha256}:*:Test.Sha256\n")).unwrap();
    std::fs::write(
        dir.join("c.ndb"),
        "Test.Body:0:*:6b6e6f776e206279\nTest.Ignored:0:*:66696c65\n",
    )
    .unwrap();
    std::fs::write(dir.join("d.ign2"), "Test.Ignored\n").unwrap();
    std::fs::write(dir.join("notes.txt"), "not a database").unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(b"Test.Gz:0:*:6861736865730a\n").unwrap();
    std::fs::write(dir.join("e.ndb.gz"), gz.finish().unwrap()).unwrap();
    let e = Engine::builder().load_path(&dir).unwrap().build().unwrap();
    let r = e.load_report();
    assert_eq!(
        (
            r.loaded("hdb"),
            r.loaded("hsb"),
            r.loaded("ndb"),
            r.loaded("ign2")
        ),
        (1, 1, 3, 1)
    );
    let mut msg = b"Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Transfer-Encoding: base64\r\n\r\n".to_vec();
    msg.extend(support::corpusgen::base64(data).as_bytes());
    msg.extend(b"--b--\r\n");
    let v = e.scan_bytes(&msg).unwrap();
    let names: std::collections::BTreeSet<&str> = v.detections().iter().map(|d| d.name()).collect();
    assert_eq!(
        names.into_iter().collect::<Vec<_>>(),
        ["Test.Body", "Test.Gz", "Test.Md5", "Test.Sha256"]
    );

    // An allow-list entry for the attachment silences everything found in it.
    std::fs::write(dir.join("f.fp"), format!("{md5}:{}:Allowed\n", data.len())).unwrap();
    let e = Engine::builder().load_path(&dir).unwrap().build().unwrap();
    let v = e.scan_bytes(&msg).unwrap();
    assert!(
        v.detections()
            .iter()
            .all(|d| !d.location().as_str().contains("part[1]")),
        "{:?}",
        v.detections()
    );
    let empty = temp_dir("empty");
    assert_eq!(
        Engine::builder().load_path(&empty).unwrap_err().kind(),
        ErrorKind::NoDatabase
    );
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_dir_all(empty);
}

/// Builds a `.cvd`: the 512-byte header, then a gzipped tar.
fn cvd(files: &[(&str, &[u8])], corrupt_md5: bool, gzipped: bool) -> Vec<u8> {
    let tar = tar(files);
    let body = if gzipped { gzip("", &tar) } else { tar };
    let mut md5 = hex(&Md5::digest(&body));
    if corrupt_md5 {
        md5 = "0".repeat(32);
    }
    let mut header = format!(
        "ClamAV-VDB:27 Nov 2026 10-00 +0000:42:{}:210:{md5}:nodsig:test:1800000000",
        files.len()
    )
    .into_bytes();
    header.resize(512, b' ');
    header.extend(body);
    header
}

#[test]
fn cvd_and_cld_containers() {
    let ndb = b"Cvd.Test:0:*:6576696c2d636f6e7461696e6572\n".as_slice();
    let sha = hex(&sha2::Sha256::digest(ndb));
    let info = format!(
        "ClamAV-VDB:x:42:1:210:x:x:x:0\ntest.ndb:{}:{sha}\n",
        ndb.len()
    );
    let files: [(&str, &[u8]); 2] = [("test.info", info.as_bytes()), ("test.ndb", ndb)];
    let e = Engine::builder()
        .load_bytes("test.cvd", &cvd(&files, false, true))
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(e.load_report().loaded("ndb"), 1);
    assert!(e.load_report().containers()[0].contains("MD5"));
    assert!(
        e.scan_bytes(b"Subject: x\r\n\r\nan evil-container here")
            .unwrap()
            .is_infected()
    );

    let err = Engine::builder()
        .load_bytes("test.cvd", &cvd(&files, true, true))
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Container);
    assert!(err.to_string().contains("MD5"), "{err}");

    // A .cld holds a plain tar and its MD5 is not checked.
    let e = Engine::builder()
        .load_bytes("test.cld", &cvd(&files, true, false))
        .unwrap()
        .build()
        .unwrap();
    assert_eq!(e.load_report().loaded("ndb"), 1);

    // A file that does not match the container's manifest is refused.
    let bad_info = format!("test.ndb:{}:{}\n", ndb.len(), "0".repeat(64));
    let files: [(&str, &[u8]); 2] = [("test.info", bad_info.as_bytes()), ("test.ndb", ndb)];
    let err = Engine::builder()
        .load_bytes("test.cvd", &cvd(&files, false, true))
        .unwrap_err();
    assert!(err.to_string().contains("manifest"), "{err}");

    // A hostile path inside the tar never leaves the container; errors name the inner file.
    let files: [(&str, &[u8]); 1] = [("../../evil.ndb", b"Bad:0:*:zz\n")];
    let err = Engine::builder()
        .load_bytes("test.cvd", &cvd(&files, false, true))
        .unwrap_err();
    assert_eq!(err.path().unwrap().to_str(), Some("test.cvd/evil.ndb"));
    assert_eq!(err.line(), Some(1));

    // Truncated containers.
    for cut in [0, 100, 511, 600] {
        let full = cvd(&[("test.ndb", ndb)], false, true);
        assert!(
            Engine::builder()
                .load_bytes("test.cvd", &full[..cut.min(full.len())])
                .is_err(),
            "cut at {cut}"
        );
    }
}

#[test]
fn damaged_databases_are_clear_errors() {
    // A gzipped database cut short.
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&b"Test.A:0:*:41424344454647\n".repeat(200))
        .unwrap();
    let gz = gz.finish().unwrap();
    let err = Engine::builder()
        .load_bytes("cut.ndb.gz", &gz[..gz.len() / 2])
        .unwrap_err();
    assert_eq!(err.kind(), ErrorKind::Container, "{err}");
    assert_eq!(err.path().unwrap().to_str(), Some("cut.ndb.gz"));
    // A hash file cut in the middle of its last line: that line is named.
    let err = Engine::builder()
        .load_str(
            "cut.hdb",
            "44d88612fea8a8f36de82e1278abb02f:68:Eicar\n44d88612fea8a8f3",
        )
        .unwrap_err();
    assert_eq!((err.kind(), err.line()), (ErrorKind::Syntax, Some(2)));
    // Impossible ranges and absurd repetition counts.
    for sig in [
        "41{5-2}42",
        "41[9-1]42",
        "41{4294967296}42",
        "41{-99999999999}42",
    ] {
        let err = Engine::builder()
            .load_str("r.ndb", &format!("R:0:*:{sig}\n"))
            .unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Syntax, "{sig}: {err}");
    }
    // A large but legal gap loads and matches without trouble.
    let e = Engine::builder()
        .load_str("g.ndb", "G:0:*:4142{0-60000000}4344\n")
        .unwrap()
        .build()
        .unwrap();
    assert!(
        e.scan_bytes(b"Subject: x\r\n\r\nAB and much later CD\r\n")
            .unwrap()
            .is_infected()
    );
}
