//! `portcullis scan`.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::time::Instant;

use portcullis::{Engine, HeuristicMode, Heuristics, Limits, Status, Verdict};

use crate::json;

struct Options {
    databases: Vec<PathBuf>,
    compiled: Option<PathBuf>,
    default_db: Option<bool>,
    recursive: bool,
    json: bool,
    infected_only: bool,
    summary: bool,
    limits: Limits,
    heuristics: Heuristics,
    paths: Vec<PathBuf>,
}

#[derive(Default)]
struct Totals {
    directories: u64,
    files: u64,
    infected: u64,
    suspicious: u64,
    incomplete: u64,
    errors: u64,
    bytes: u64,
}

fn parse(args: &[String]) -> Result<Options, String> {
    let mut o = Options {
        databases: Vec::new(),
        compiled: None,
        default_db: None,
        recursive: false,
        json: false,
        infected_only: false,
        summary: true,
        limits: Limits::default(),
        heuristics: Heuristics::default(),
        paths: Vec::new(),
    };
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
            _ => (arg.as_str(), None),
        };
        let mut value = |name: &str| -> Result<String, String> {
            inline
                .clone()
                .or_else(|| it.next().cloned())
                .ok_or(format!("{name} needs a value"))
        };
        let number = |name: &str, v: String| -> Result<u64, String> {
            v.parse::<u64>()
                .map_err(|_| format!("{name}: '{v}' is not a number"))
        };
        match flag {
            "--database" | "-d" => o.databases.push(PathBuf::from(value(flag)?)),
            "--compiled" => o.compiled = Some(PathBuf::from(value(flag)?)),
            "--default-db" => o.default_db = Some(true),
            "--no-default-db" => o.default_db = Some(false),
            "--recursive" | "-r" => o.recursive = true,
            "--json" => o.json = true,
            "--infected" | "-i" => o.infected_only = true,
            "--no-summary" => o.summary = false,
            "--heuristics" => {
                let mode = match value(flag)?.as_str() {
                    "off" => HeuristicMode::Off,
                    "alert" => HeuristicMode::Alert,
                    "score" => HeuristicMode::Score,
                    other => {
                        return Err(format!(
                            "--heuristics takes off, alert or score, not '{other}'"
                        ));
                    }
                };
                o.heuristics = o.heuristics.clone().mode(mode);
            }
            "--heuristic-threshold" => {
                let n = number(flag, value(flag)?)?;
                o.heuristics = o
                    .heuristics
                    .clone()
                    .threshold(u32::try_from(n).unwrap_or(u32::MAX));
            }
            "--max-message-size" => {
                o.limits = o
                    .limits
                    .clone()
                    .max_message_size(number(flag, value(flag)?)?)
            }
            "--max-filesize" => {
                o.limits = o.limits.clone().max_file_size(number(flag, value(flag)?)?)
            }
            "--max-scansize" => {
                o.limits = o.limits.clone().max_scan_size(number(flag, value(flag)?)?)
            }
            "--max-files" => o.limits = o.limits.clone().max_files(number(flag, value(flag)?)?),
            "--max-recursion" => {
                let n = number(flag, value(flag)?)?;
                o.limits = o
                    .limits
                    .clone()
                    .max_recursion(u32::try_from(n).unwrap_or(u32::MAX));
            }
            "--max-ratio" => {
                o.limits = o
                    .limits
                    .clone()
                    .max_compression_ratio(number(flag, value(flag)?)?)
            }
            "--max-parts" => o.limits = o.limits.clone().max_parts(number(flag, value(flag)?)?),
            f if f.starts_with('-') && f.len() > 1 => return Err(format!("unknown option {f}")),
            _ => o.paths.push(PathBuf::from(arg)),
        }
    }
    if o.paths.is_empty() {
        return Err("no PATH to scan".to_string());
    }
    Ok(o)
}

pub fn run(args: &[String]) -> u8 {
    let opts = match parse(args) {
        Ok(o) => o,
        Err(e) => {
            eprintln!("portcullis scan: {e}");
            return 2;
        }
    };
    let started = Instant::now();
    let mut builder = Engine::builder()
        .limits(opts.limits.clone())
        .heuristics(opts.heuristics.clone());
    if let Some(compiled) = &opts.compiled {
        builder = match builder.load_compiled(compiled) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("ERROR: {e}");
                return 2;
            }
        };
    }
    for db in &opts.databases {
        builder = match builder.load_path(db) {
            Ok(b) => b,
            Err(e) => {
                eprintln!("ERROR: {e}");
                return 2;
            }
        };
    }
    if let Some(d) = opts.default_db {
        builder = builder.with_default_database(d);
    }
    let engine = match builder.build() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("ERROR: {e}");
            return 2;
        }
    };
    let mut totals = Totals::default();
    for path in &opts.paths {
        visit(&engine, &opts, path, true, &mut totals);
    }
    let secs = started.elapsed().as_secs_f64();
    if opts.summary {
        if opts.json {
            println!(
                "{{\"summary\":{{\"known_signatures\":{},\"files\":{},\"infected\":{},\"suspicious\":{},\"incomplete\":{},\"errors\":{},\"bytes\":{},\"seconds\":{:.3}}}}}",
                engine.signature_count(),
                totals.files,
                totals.infected,
                totals.suspicious,
                totals.incomplete,
                totals.errors,
                totals.bytes,
                secs
            );
        } else {
            println!();
            println!("----------- SCAN SUMMARY -----------");
            println!("Known viruses: {}", engine.signature_count());
            println!("Engine version: portcullis {}", env!("CARGO_PKG_VERSION"));
            println!("Scanned directories: {}", totals.directories);
            println!("Scanned files: {}", totals.files);
            println!("Infected files: {}", totals.infected);
            if totals.suspicious > 0 {
                println!("Suspicious files: {}", totals.suspicious);
            }
            if totals.incomplete > 0 {
                println!("Files not fully scanned: {}", totals.incomplete);
            }
            if totals.errors > 0 {
                println!("Total errors: {}", totals.errors);
            }
            println!("Data scanned: {:.2} MB", totals.bytes as f64 / 1e6);
            println!(
                "Time: {secs:.3} sec ({} m {} s)",
                secs as u64 / 60,
                secs as u64 % 60
            );
        }
    }
    if totals.infected > 0 || totals.suspicious > 0 {
        1
    } else if totals.errors > 0 {
        2
    } else {
        0
    }
}

fn visit(engine: &Engine, opts: &Options, path: &Path, top: bool, totals: &mut Totals) {
    let meta = match std::fs::metadata(path) {
        Ok(m) => m,
        Err(e) => {
            report_error(path, &e.to_string(), totals);
            return;
        }
    };
    if meta.is_dir() {
        if !top && !opts.recursive {
            return;
        }
        totals.directories += 1;
        let mut entries: Vec<PathBuf> = match std::fs::read_dir(path) {
            Ok(rd) => rd.filter_map(|e| e.ok().map(|e| e.path())).collect(),
            Err(e) => {
                report_error(path, &e.to_string(), totals);
                return;
            }
        };
        entries.sort();
        for entry in entries {
            visit(engine, opts, &entry, false, totals);
        }
        return;
    }
    if let Err(e) = scan_file(engine, opts, path, totals) {
        report_error(path, &e.to_string(), totals);
    }
}

fn report_error(path: &Path, message: &str, totals: &mut Totals) {
    eprintln!("{}: {message} ERROR", path.display());
    totals.errors += 1;
}

/// Scans one file: an mbox file message by message, anything else as one message.
fn scan_file(
    engine: &Engine,
    opts: &Options,
    path: &Path,
    totals: &mut Totals,
) -> std::io::Result<()> {
    let file = std::fs::File::open(path)?;
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let is_mbox = reader.fill_buf()?.starts_with(b"From ");
    let label = path.display().to_string();
    if !is_mbox {
        let mut session = engine.session();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = reader.read(&mut buf)?;
            if n == 0 {
                break;
            }
            let _ = session.feed(&buf[..n]);
        }
        totals.bytes += session.bytes_received();
        if let Ok(v) = session.finish() {
            print_verdict(opts, &label, &v, totals);
        }
        return Ok(());
    }
    // mbox: a message starts at each "From " line that follows a blank line (or the start).
    let mut verdicts: Vec<Verdict> = Vec::new();
    let mut session = engine.session();
    let mut line = Vec::new();
    let mut previous_blank = true;
    let mut started = false;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        if line.starts_with(b"From ") && previous_blank && started {
            totals.bytes += session.bytes_received();
            let finished = std::mem::replace(&mut session, engine.session());
            if let Ok(v) = finished.finish() {
                verdicts.push(v);
            }
        }
        started = true;
        previous_blank = line == b"\n" || line == b"\r\n";
        let _ = session.feed(&line);
    }
    totals.bytes += session.bytes_received();
    if let Ok(v) = session.finish() {
        verdicts.push(v);
    }
    let many = verdicts.len() > 1;
    for (i, v) in verdicts.iter().enumerate() {
        let label = if many {
            format!("{label}/message[{}]", i + 1)
        } else {
            label.clone()
        };
        print_verdict(opts, &label, v, totals);
    }
    Ok(())
}

fn print_verdict(opts: &Options, label: &str, v: &Verdict, totals: &mut Totals) {
    totals.files += 1;
    let suspicious = v.status() == Status::Suspicious;
    let found = !v.detections().is_empty() || suspicious;
    if suspicious {
        totals.suspicious += 1;
    } else if found {
        totals.infected += 1;
    }
    if opts.json {
        println!("{}", json::verdict(label, v));
        return;
    }
    if found {
        let mut names: Vec<&str> = Vec::new();
        for d in v.detections() {
            if !names.contains(&d.name()) {
                names.push(d.name());
            }
        }
        for name in names {
            println!("{label}: {name} FOUND");
        }
        if suspicious {
            println!("{label}: Heuristics.Score.Suspicious FOUND");
        }
    } else if !opts.infected_only {
        println!("{label}: OK");
    }
    // Not an infection, but not a full scan either: say so where clamscan-style parsers will not trip.
    if !v.unscanned().is_empty() {
        totals.incomplete += 1;
        for u in v.unscanned() {
            eprintln!(
                "{label}: WARNING: not scanned: {} ({})",
                u.location(),
                u.reason()
            );
        }
    }
}
