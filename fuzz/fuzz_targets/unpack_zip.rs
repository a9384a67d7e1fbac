//! The zip reader: central directory, local headers, every method, under a budget.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = portcullis::fuzzing::unpack("zip", data);
});
