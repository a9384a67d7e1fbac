//! Signature database parsers: a clear error or a loaded engine, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

const NAMES: &[&str] = &["f.ndb", "f.hdb", "f.hsb", "f.fp", "f.ign2", "f.cvd", "f.cld", "f.ldb", "f.ndb.gz"];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let name = NAMES[selector as usize % NAMES.len()];
    if let Ok(builder) = portcullis::Engine::builder().load_bytes(name, rest) {
        let engine = builder.build().unwrap();
        let _ = engine.scan_bytes(b"Subject: x\r\n\r\nbody\r\n");
    }
});
