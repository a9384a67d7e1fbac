//! The MIME walker on one entity.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = portcullis::fuzzing::mime_walk(data);
});
