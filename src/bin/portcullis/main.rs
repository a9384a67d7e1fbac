//! `portcullis`: the command-line scanner, in clamscan's conventions.
//!
//! ```text
//! portcullis scan [--database PATH]... [--no-default-db] [--recursive] [--json] PATH...
//! portcullis sigtool --info PATH
//! ```
//! Exit codes: 0 nothing found, 1 something found, 2 an error.

mod json;
mod scan;

use std::process::ExitCode;

const USAGE: &str = "\
usage:
  portcullis scan [OPTIONS] PATH...
      --database PATH, -d PATH   load a database file or directory (repeatable; replaces the built-in one)
      --default-db               also load the built-in database when --database is given
      --no-default-db            do not load the built-in database
      --recursive, -r            descend into subdirectories
      --json                     one JSON object per file, then a summary object
      --infected, -i             print only infected files
      --no-summary               do not print the summary
      --heuristics MODE          off, alert (only rules that alert alone) or score (default)
      --heuristic-threshold N    the score that makes a message suspicious (default 10)
      --max-message-size BYTES   --max-filesize BYTES   --max-scansize BYTES
      --max-files N   --max-recursion N   --max-ratio N
  portcullis sigtool --info PATH
      load PATH (a database file or directory) and print what was loaded and skipped
exit codes: 0 nothing found, 1 something found, 2 an error";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("scan") => scan::run(&args[1..]),
        Some("sigtool") => sigtool(&args[1..]),
        Some("--version") | Some("-V") => {
            println!("portcullis {}", env!("CARGO_PKG_VERSION"));
            0
        }
        Some("--help") | Some("-h") | Some("help") => {
            println!("{USAGE}");
            0
        }
        _ => {
            eprintln!("{USAGE}");
            2
        }
    };
    ExitCode::from(code)
}

fn sigtool(args: &[String]) -> u8 {
    let path = match args {
        [flag, path] if flag == "--info" || flag == "-i" => path,
        _ => {
            eprintln!("usage: portcullis sigtool --info PATH");
            return 2;
        }
    };
    let started = std::time::Instant::now();
    let engine = match portcullis::Engine::builder()
        .load_path(path)
        .and_then(|b| b.with_default_database(false).build())
    {
        Ok(e) => e,
        Err(e) => {
            eprintln!("ERROR: {e}");
            return 2;
        }
    };
    let report = engine.load_report();
    println!("Database: {path}");
    for c in report.containers() {
        println!("Container: {c}");
    }
    println!("Files read: {}", report.files().len());
    println!("Loaded:");
    for (format, n) in report.loaded_by_format() {
        println!("  {format:<6} {n}");
    }
    println!("Signatures loaded: {}", report.total_loaded());
    println!("Skipped: {}", report.skipped().len());
    for (reason, n) in report.skipped_by_reason() {
        println!("  {n:>8}  {reason}");
    }
    println!(
        "Compiled memory: {:.1} MiB",
        engine.memory_usage() as f64 / (1 << 20) as f64
    );
    println!("Load time: {:.3} s", started.elapsed().as_secs_f64());
    0
}
