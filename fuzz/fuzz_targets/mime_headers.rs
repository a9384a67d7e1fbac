//! Header blocks, structured values, RFC 2231 parameters and RFC 2047 words.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = portcullis::fuzzing::mime_headers(data);
});
