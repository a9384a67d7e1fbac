//! A session fed in chunks whose sizes, the limits and how often completed parts are scanned early come
//! from the input: the verdict must equal `scan_bytes` on the same engine.
#![no_main]

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let limits = portcullis::Limits::default()
        .max_message_size(u.int_in_range(1u64..=1 << 20).unwrap_or(1 << 20))
        .max_recursion(u.int_in_range(0u32..=20).unwrap_or(17))
        .max_files(u.int_in_range(1u64..=200).unwrap_or(200))
        .max_scan_size(u.int_in_range(0u64..=8 << 20).unwrap_or(8 << 20))
        .max_file_size(u.int_in_range(0u64..=4 << 20).unwrap_or(4 << 20))
        .max_compression_ratio(u.int_in_range(1u64..=2000).unwrap_or(1000))
        .max_parts(u.int_in_range(1u64..=64).unwrap_or(64));
    let splits: Vec<u16> = (0..u.int_in_range(0usize..=32).unwrap_or(0))
        .map(|_| u.arbitrary::<u16>().unwrap_or(0))
        .collect();
    let step = u.int_in_range(1usize..=4096).unwrap_or(1);
    let message = u.take_rest();
    let engine = portcullis::fuzzing::session_engine(limits).unwrap();
    let session = engine
        .session()
        .with_prescan_step(step)
        .with_let_go_step(step);
    let fed = portcullis::fuzzing::feed_in_splits(session, message, splits.iter().map(|&s| s as usize));
    assert_eq!(fed.unwrap(), engine.scan_bytes(message).unwrap());
});
