//! A session fed a long text body in chunks whose sizes come from the input: the body, made from the
//! input's rest by `portcullis::fuzzing::long_body_message`, is long enough for the session to choose its
//! readings from its first 64 KiB and decode the rest as it arrives. The verdict must equal `scan_bytes`.
#![no_main]

use libfuzzer_sys::arbitrary::Unstructured;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let splits: Vec<u32> = (0..u.int_in_range(0usize..=32).unwrap_or(0))
        .map(|_| u.int_in_range(0u32..=300_000).unwrap_or(0))
        .collect();
    let step = u.int_in_range(1usize..=65536).unwrap_or(1);
    let message = portcullis::fuzzing::long_body_message(u.take_rest());
    let engine = portcullis::fuzzing::session_engine(portcullis::Limits::default()).unwrap();
    let session = engine.session().with_let_go_step(step);
    let fed = portcullis::fuzzing::feed_in_splits(session, &message, splits.iter().map(|&s| s as usize));
    assert_eq!(fed.unwrap(), engine.scan_bytes(&message).unwrap());
});
