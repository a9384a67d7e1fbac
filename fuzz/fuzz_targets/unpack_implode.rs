//! zip's implode decompressor, with flags and declared size from the input.
#![no_main]

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let flags = u.arbitrary::<u16>().unwrap_or(0);
    let size = u.int_in_range(0u64..=1 << 22).unwrap_or(0);
    let _ = portcullis::fuzzing::explode(u.take_rest(), flags, size);
});
