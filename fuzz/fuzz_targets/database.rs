//! Every signature database parser, chosen by the first byte: a clear error or a working engine.
#![no_main]

use libfuzzer_sys::fuzz_target;

const NAMES: &[&str] = &[
    "f.ndb", "f.hdb", "f.hsb", "f.fp", "f.sfp", "f.ign2", "f.ign", "f.cvd", "f.cld", "f.ldb", "f.ndb.gz", "f.cdb",
];

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else { return };
    let name = NAMES[selector as usize % NAMES.len()];
    if let Ok(builder) = portcullis::Engine::builder().load_bytes(name, rest) {
        let engine = builder.build().unwrap();
        let _ = engine.scan_bytes(b"Subject: x\r\n\r\nbody\r\n");
    }
});
