//! `portcullis`: the command-line scanner, in clamscan's conventions.
//!
//! ```text
//! portcullis scan [--database PATH]... [--no-default-db] [--recursive] [--json] PATH...
//! portcullis sigtool --info PATH
//! portcullis compile [--database PATH]... [--default-db] --output FILE
//! ```
//! Exit codes: 0 nothing found, 1 something found, 2 an error.

mod json;
mod scan;

use std::process::ExitCode;

const USAGE: &str = "\
usage:
  portcullis scan [OPTIONS] PATH...
      --database PATH, -d PATH   load a database file or directory (repeatable; replaces the built-in one)
      --compiled FILE            load a database compiled by `portcullis compile` (instead of --database)
      --default-db               also load the built-in database when --database is given
      --no-default-db            do not load the built-in database
      --recursive, -r            descend into subdirectories
      --json                     one JSON object per file, then a summary object
      --infected, -i             print only infected files
      --no-summary               do not print the summary
      --heuristics MODE          off, alert (only rules that alert alone) or score (default)
      --heuristic-threshold N    the score that makes a message suspicious (default 10)
      --max-message-size BYTES   --max-filesize BYTES   --max-scansize BYTES
      --max-files N   --max-recursion N   --max-ratio N   --max-parts N
  portcullis sigtool --info PATH
      load PATH (a database file or directory) and print what was loaded and skipped
  portcullis compile [--database PATH]... [--default-db] --output FILE
      load the databases (the built-in one if none is given, or with --default-db) and write their
      compiled form to FILE, which `scan --compiled FILE` loads in a fraction of the time
exit codes: 0 nothing found, 1 something found, 2 an error";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let code = match args.first().map(String::as_str) {
        Some("scan") => scan::run(&args[1..]),
        Some("sigtool") => sigtool(&args[1..]),
        Some("compile") => compile(&args[1..]),
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
    match engine.session_reach() {
        Ok(n) => println!("Sessions keep of a message: the part in flight and {n} bytes more"),
        Err(why) => println!("Sessions keep of a message: all of it ({why})"),
    }
    println!("Load time: {:.3} s", started.elapsed().as_secs_f64());
    0
}

fn compile(args: &[String]) -> u8 {
    let started = std::time::Instant::now();
    let mut builder = portcullis::Engine::builder();
    let mut output = None;
    let mut it = args.iter();
    while let Some(arg) = it.next() {
        let step = match arg.as_str() {
            "--database" | "-d" => match it.next() {
                Some(path) => builder.load_path(path).map_err(Some),
                None => Err(None),
            },
            "--default-db" => Ok(builder.with_default_database(true)),
            "--output" | "-o" => {
                output = it.next().cloned();
                Ok(builder)
            }
            other => {
                eprintln!("portcullis compile: unknown option {other}");
                return 2;
            }
        };
        builder = match step {
            Ok(b) => b,
            Err(e) => {
                match e {
                    Some(e) => eprintln!("ERROR: {e}"),
                    None => eprintln!("portcullis compile: --database needs a value"),
                }
                return 2;
            }
        };
    }
    let Some(output) = output else {
        eprintln!("portcullis compile: --output FILE is required");
        return 2;
    };
    let engine = match builder.build() {
        Ok(e) => e,
        Err(e) => {
            eprintln!("ERROR: {e}");
            return 2;
        }
    };
    let loaded = started.elapsed().as_secs_f64();
    if let Err(e) = engine.save_compiled(&output) {
        eprintln!("ERROR: {e}");
        return 2;
    }
    let size = std::fs::metadata(&output).map(|m| m.len()).unwrap_or(0);
    println!(
        "{output}: {} signatures, {:.1} MiB, parsed and compiled in {loaded:.3} s, written in {:.3} s",
        engine.signature_count(),
        size as f64 / (1 << 20) as f64,
        started.elapsed().as_secs_f64() - loaded
    );
    0
}
