//! The heuristic scorer on real mail: how often each rule fires on ham, spam and rspamd's attachment-trick
//! messages, and the whole-verdict false-positive rate on ham (must stay under 0.5%).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use portcullis::{Engine, Status};

fn files(dir: &Path) -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

struct Tally {
    messages: usize,
    flagged: usize,
    rules: BTreeMap<String, usize>,
}

fn tally(engine: &Engine, paths: &[PathBuf], show_flagged: bool) -> Tally {
    let mut t = Tally {
        messages: 0,
        flagged: 0,
        rules: BTreeMap::new(),
    };
    for p in paths {
        let v = engine.scan_bytes(&std::fs::read(p).unwrap()).unwrap();
        t.messages += 1;
        if matches!(v.status(), Status::Infected | Status::Suspicious) {
            t.flagged += 1;
            if show_flagged {
                let rules: Vec<String> = v
                    .findings()
                    .iter()
                    .map(|f| format!("{} ({})", f.rule(), f.reason()))
                    .collect();
                eprintln!(
                    "  flagged {:?} {}: {}",
                    v.status(),
                    p.display(),
                    rules.join("; ")
                );
            }
        }
        let mut seen: Vec<&str> = v.findings().iter().map(|f| f.rule()).collect();
        seen.dedup();
        for r in seen {
            *t.rules.entry(r.to_string()).or_default() += 1;
        }
    }
    t
}

#[test]
fn firing_rates_on_real_mail() {
    let Some(data) = std::env::var_os("PORTCULLIS_DATA").map(PathBuf::from) else {
        eprintln!("PORTCULLIS_DATA is not set: skipping the heuristics measurements");
        return;
    };
    let engine = Engine::builder().build().unwrap();
    let sa = data.join("mail/spamassassin-public-corpus");
    let ham: Vec<PathBuf> = ["easy-ham-1", "easy-ham-2", "hard-ham-1"]
        .iter()
        .flat_map(|d| files(&sa.join(d)))
        .collect();
    let spam: Vec<PathBuf> = ["spam-1", "spam-2"]
        .iter()
        .flat_map(|d| files(&sa.join(d)))
        .collect();
    let rspamd = files(&data.join("mail/rspamd-test-messages"));
    let sets = [
        ("ham", tally(&engine, &ham, true)),
        ("spam", tally(&engine, &spam, false)),
        ("rspamd", tally(&engine, &rspamd, true)),
    ];
    let mut rules: Vec<&str> = portcullis::heuristics::RULES
        .iter()
        .map(|r| r.name)
        .collect();
    rules.sort();
    eprintln!(
        "| rule | {} |",
        sets.iter()
            .map(|(n, t)| format!("{n} ({})", t.messages))
            .collect::<Vec<_>>()
            .join(" | ")
    );
    eprintln!("|---|---|---|---|");
    for r in rules {
        let cells: Vec<String> = sets
            .iter()
            .map(|(_, t)| t.rules.get(r).copied().unwrap_or(0).to_string())
            .collect();
        eprintln!("| {r} | {} |", cells.join(" | "));
    }
    let cells: Vec<String> = sets
        .iter()
        .map(|(_, t)| {
            format!(
                "{} ({:.2}%)",
                t.flagged,
                100.0 * t.flagged as f64 / t.messages.max(1) as f64
            )
        })
        .collect();
    eprintln!(
        "| whole verdict infected or suspicious | {} |",
        cells.join(" | ")
    );
    let ham = &sets[0].1;
    assert!(ham.messages > 4000);
    assert!(
        (ham.flagged as f64) < 0.005 * ham.messages as f64,
        "{} of {} ham messages flagged",
        ham.flagged,
        ham.messages
    );
}
