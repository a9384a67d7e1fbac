//! The session property: any chunking of `feed` gives the same verdict as `scan_bytes`.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use portcullis::{Engine, Limits};
use proptest::prelude::*;
use support::corpusgen;

fn feed_in_chunks(engine: &Engine, bytes: &[u8], cuts: &[usize]) -> portcullis::Verdict {
    let mut session = engine.session();
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    let mut from = 0;
    for p in points {
        session.feed(&bytes[from..p]).unwrap();
        from = p;
    }
    session.feed(&bytes[from..]).unwrap();
    session.finish().unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn any_chunking_gives_the_same_verdict(case in 0usize..100, cuts in proptest::collection::vec(any::<usize>(), 0..40)) {
        let cases = corpusgen::cases();
        let case = &cases[case % cases.len()];
        let engine = Engine::builder().build().unwrap();
        let whole = engine.scan_bytes(&case.bytes).unwrap();
        let chunked = feed_in_chunks(&engine, &case.bytes, &cuts);
        prop_assert_eq!(whole, chunked, "{}", case.file);
    }

    #[test]
    fn chunking_past_the_size_limit_gives_the_same_verdict(cuts in proptest::collection::vec(any::<usize>(), 0..20), max in 10u64..3000) {
        let case = &corpusgen::cases()[1];
        let engine = Engine::builder().limits(Limits::default().max_message_size(max)).build().unwrap();
        let whole = engine.scan_bytes(&case.bytes).unwrap();
        prop_assert_eq!(whole, feed_in_chunks(&engine, &case.bytes, &cuts));
    }
}

#[test]
fn byte_at_a_time_gives_the_same_verdict() {
    let engine = Engine::builder().build().unwrap();
    for case in corpusgen::cases()
        .iter()
        .filter(|c| c.bytes.len() < 200_000)
    {
        let mut session = engine.session();
        for b in &case.bytes {
            session.feed(std::slice::from_ref(b)).unwrap();
        }
        assert_eq!(
            session.finish().unwrap(),
            engine.scan_bytes(&case.bytes).unwrap(),
            "{}",
            case.file
        );
    }
}
