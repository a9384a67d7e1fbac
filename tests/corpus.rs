//! Golden verdicts for every corpus message, the corpus's freshness, and the CLI's output on it.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::BTreeSet;
use std::path::Path;

use portcullis::{Engine, Verdict};
use support::corpusgen;

fn engine() -> Engine {
    Engine::builder().build().expect("built-in database")
}

/// The verdict in the `.expected` file's terms.
fn describe(v: &Verdict) -> (String, BTreeSet<String>, BTreeSet<String>) {
    let detections = v
        .detections()
        .iter()
        .map(|d| format!("{} {} @ {}", d.kind().as_str(), d.name(), d.location()))
        .collect();
    let unscanned = v
        .unscanned()
        .iter()
        .map(|u| format!("unscanned {} @ {}", u.reason(), u.location()))
        .collect();
    (v.status().as_str().to_string(), detections, unscanned)
}

#[test]
fn corpus_on_disk_is_what_the_generator_writes() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    for case in corpusgen::cases() {
        let on_disk = std::fs::read(dir.join(case.file)).unwrap_or_default();
        assert!(
            on_disk == case.bytes,
            "{} differs from the generator: run `cargo run --example gen_corpus`",
            case.file
        );
        let expected = std::fs::read_to_string(dir.join(format!("{}.expected", case.file)))
            .unwrap_or_default();
        assert_eq!(
            expected,
            case.expected_text(),
            "{}.expected is stale",
            case.file
        );
    }
    let (mbox, _) = corpusgen::mbox();
    assert!(
        std::fs::read(dir.join("mailbox.mbox")).unwrap_or_default() == mbox,
        "mailbox.mbox is stale"
    );
}

#[test]
fn corpus_never_holds_eicar_verbatim() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("corpus");
    let eicar = corpusgen::eicar();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        assert!(
            memchr::memmem::find(&bytes, &eicar).is_none(),
            "{} holds the EICAR string verbatim",
            path.display()
        );
    }
}

#[test]
fn golden_verdicts() {
    let engine = engine();
    let mut failures = Vec::new();
    for case in corpusgen::cases() {
        let v = engine.scan_bytes(&case.bytes).unwrap();
        let (status, detections, unscanned) = describe(&v);
        let want_detections: BTreeSet<String> = case
            .detections
            .iter()
            .map(|(k, n, l)| format!("{k} {n} @ {l}"))
            .collect();
        let want_unscanned: BTreeSet<String> = case
            .unscanned
            .iter()
            .map(|(r, l)| format!("unscanned {r} @ {l}"))
            .collect();
        if status != case.status || detections != want_detections || unscanned != want_unscanned {
            failures.push(format!(
                "{} ({})\n  status {status}, want {}\n  got  {detections:?}\n  want {want_detections:?}\n  unscanned {unscanned:?}, want {want_unscanned:?}\n  damage {:?}",
                case.file,
                case.what,
                case.status,
                v.damage().iter().map(|d| format!("{}: {}", d.location(), d.description())).collect::<Vec<_>>()
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} corpus verdicts differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn cli_prints_every_verdict_in_clamscan_form() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["scan", "--no-summary", "corpus"])
        .current_dir(root)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: BTreeSet<&str> = stdout.lines().collect();
    assert_eq!(
        out.status.code(),
        Some(1),
        "something was found, so the exit code is 1"
    );
    for case in corpusgen::cases() {
        let path = format!("corpus/{}", case.file);
        let mut names: Vec<&str> = case.detections.iter().map(|(_, n, _)| *n).collect();
        names.sort();
        names.dedup();
        if names.is_empty() {
            assert!(
                lines.contains(format!("{path}: OK").as_str()),
                "{path}: OK missing in\n{stdout}"
            );
        }
        for n in names {
            assert!(
                lines.contains(format!("{path}: {n} FOUND").as_str()),
                "{path}: {n} FOUND missing in\n{stdout}"
            );
        }
    }
    for line in corpusgen::mbox().1 {
        assert!(lines.contains(line.as_str()), "{line} missing in\n{stdout}");
    }
    // A clean file alone exits 0; an unreadable path exits 2.
    let clean = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["scan", "corpus/clean-01-plain-text.eml"])
        .current_dir(root)
        .output()
        .unwrap();
    assert_eq!(clean.status.code(), Some(0));
    let missing = std::process::Command::new(env!("CARGO_BIN_EXE_portcullis"))
        .args(["scan", "no/such/file.eml"])
        .current_dir(root)
        .output()
        .unwrap();
    assert_eq!(missing.status.code(), Some(2));
}
