//! Writes the corpus: `cargo run --example gen_corpus [DIR]` (default `corpus/`).
//!
//! Every message and its `.expected` verdict come from `tests/support/corpusgen.rs`; the test suite checks
//! that the files on disk are exactly what it produces.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../tests/support/corpusgen.rs"]
mod corpusgen;

fn main() -> std::io::Result<()> {
    let dir = std::path::PathBuf::from(
        std::env::args()
            .nth(1)
            .unwrap_or_else(|| "corpus".to_string()),
    );
    std::fs::create_dir_all(&dir)?;
    for case in corpusgen::cases() {
        std::fs::write(dir.join(case.file), &case.bytes)?;
        std::fs::write(
            dir.join(format!("{}.expected", case.file)),
            case.expected_text(),
        )?;
    }
    let (mbox, expected) = corpusgen::mbox();
    std::fs::write(dir.join("mailbox.mbox"), mbox)?;
    std::fs::write(
        dir.join("mailbox.mbox.expected"),
        expected.join("\n") + "\n",
    )?;
    println!("corpus written to {}", dir.display());
    Ok(())
}
