//! Peak memory per message and per archive of the shared data, measured one at a time in this test binary
//! of its own (Linux: the peak resident size is reset through `/proc/self/clear_refs` before each scan).
//! Reported, not asserted beyond a generous bound: the defaults allow up to about
//! `max_message_size + max_scan_size + max_file_size` in the worst case.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use portcullis::{Engine, Limits};

/// The peak resident size is the process's: one measurement at a time.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn status_kib(field: &str) -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut todo = vec![dir.to_path_buf()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                todo.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn peak_memory_per_message_is_bounded() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let Some(data) = std::env::var_os("PORTCULLIS_DATA").map(PathBuf::from) else {
        eprintln!("PORTCULLIS_DATA is not set: skipping the memory measurements");
        return;
    };
    if std::fs::write("/proc/self/clear_refs", "5").is_err() {
        eprintln!("/proc/self/clear_refs is not writable here: skipping");
        return;
    }
    let limits = Limits::default();
    let bound_kib =
        (limits.get_max_message_size() + limits.get_max_scan_size() + limits.get_max_file_size())
            / 1024;
    let engine = Engine::builder().limits(limits).build().unwrap();
    for what in ["mail", "archives"] {
        let mut peaks = Vec::new();
        for path in files_under(&data.join(what)) {
            let bytes = std::fs::read(&path).unwrap();
            std::fs::write("/proc/self/clear_refs", "5").unwrap();
            let base = status_kib("VmRSS:").unwrap_or(0);
            let v = engine.scan_bytes(&bytes).unwrap();
            let peak = status_kib("VmHWM:").unwrap_or(0).saturating_sub(base);
            drop(v);
            peaks.push((peak, bytes.len(), path));
        }
        peaks.sort_by_key(|p| std::cmp::Reverse(p.0));
        eprintln!(
            "{what}: largest peak memory above the resident base, of {} files:",
            peaks.len()
        );
        for (kib, len, p) in peaks.iter().take(10) {
            eprintln!("  {:>8} KiB  {:>9} bytes  {}", kib, len, p.display());
        }
        assert!(
            peaks[0].0 < bound_kib,
            "{} KiB is above the documented bound",
            peaks[0].0
        );
    }
}

#[test]
fn a_flood_of_tiny_parts_costs_memory_in_proportion_to_the_parts_allowed() {
    let _serial = SERIAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // 8 MB of 10-byte parts: 800,000 parts. Every part costs a few hundred bytes of bookkeeping, so
    // without `max_parts` this took over 400 MiB; past the 10,000 allowed the rest is not split off.
    if std::fs::write("/proc/self/clear_refs", "5").is_err() {
        eprintln!("/proc/self/clear_refs is not writable here: skipping");
        return;
    }
    let mut msg = b"Subject: flood\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n".to_vec();
    for _ in 0..800_000 {
        msg.extend_from_slice(b"--b\r\n\r\nx\r\n");
    }
    msg.extend_from_slice(b"--b--\r\n");
    let engine = Engine::builder().build().unwrap();
    std::fs::write("/proc/self/clear_refs", "5").unwrap();
    let base = status_kib("VmRSS:").unwrap_or(0);
    let v = engine.scan_bytes(&msg).unwrap();
    let peak = status_kib("VmHWM:").unwrap_or(0).saturating_sub(base);
    eprintln!(
        "{} KiB above the resident base for {} bytes",
        peak,
        msg.len()
    );
    assert!(
        v.detections()
            .iter()
            .any(|d| d.limit() == Some(portcullis::LimitName::MaxParts))
    );
    assert!(peak < 64 << 10, "{peak} KiB");
}
