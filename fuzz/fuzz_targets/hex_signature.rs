//! The hex signature parser and the matcher's verification: the first line is a signature, the
//! rest a haystack.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == b'\n').unwrap_or(data.len());
    let Ok(sig) = std::str::from_utf8(&data[..split]) else { return };
    let haystack = data.get(split + 1..).unwrap_or(&[]);
    let _ = portcullis::fuzzing::hex_signature(sig, haystack);
});
