//! A session fed in chunks chosen by the input: the verdict must equal `scan_bytes`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;

static ENGINE: OnceLock<portcullis::Engine> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    if data.is_empty() {
        return;
    }
    let engine = ENGINE.get_or_init(|| {
        portcullis::Engine::builder()
            .limits(portcullis::Limits::default().max_scan_size(16 << 20).max_file_size(8 << 20))
            .build()
            .unwrap()
    });
    let (split, message) = data.split_at(1);
    let step = 1 + split[0] as usize * 7;
    let mut session = engine.session();
    for chunk in message.chunks(step) {
        session.feed(chunk).unwrap();
    }
    assert_eq!(session.finish().unwrap(), engine.scan_bytes(message).unwrap());
});
