//! Whole-message scanning: a verdict for any bytes, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static ENGINE: OnceLock<portcullis::Engine> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let engine = ENGINE.get_or_init(|| {
        portcullis::Engine::builder()
            .limits(portcullis::Limits::default().max_scan_size(16 << 20).max_file_size(8 << 20))
            .build()
            .unwrap()
    });
    let _ = engine.scan_bytes(data);
});
