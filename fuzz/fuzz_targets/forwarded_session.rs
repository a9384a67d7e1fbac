//! A session fed a forwarded message in chunks whose sizes come from the input: the input's rest, made
//! by `portcullis::fuzzing::forwarded_message` into a message forwarded one to three times as an attachment
//! (`message/rfc822`), is followed as it arrives (matched as mail, its parts scanned as they complete). The
//! verdict must equal `scan_bytes`, with tight limits too.
#![no_main]

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let limits = portcullis::Limits::default()
        .max_recursion(u.int_in_range(1u32..=20).unwrap_or(17))
        .max_files(u.int_in_range(1u64..=200).unwrap_or(200))
        .max_scan_size(u.int_in_range(0u64..=1 << 20).unwrap_or(1 << 20))
        .max_parts(u.int_in_range(1u64..=64).unwrap_or(64));
    let splits: Vec<u16> = (0..u.int_in_range(0usize..=32).unwrap_or(0))
        .map(|_| u.arbitrary::<u16>().unwrap_or(0))
        .collect();
    let step = u.int_in_range(1usize..=4096).unwrap_or(1);
    let message = portcullis::fuzzing::forwarded_message(u.take_rest());
    let engine = portcullis::fuzzing::session_engine(limits).unwrap();
    let session = engine.session().with_let_go_step(step);
    let fed = portcullis::fuzzing::feed_in_splits(session, &message, splits.iter().map(|&s| s as usize));
    assert_eq!(fed.unwrap(), engine.scan_bytes(&message).unwrap());
});
