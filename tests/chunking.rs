//! The session property: any chunking of `feed` gives the same verdict as `scan_bytes`, whether or not the
//! session scans completed parts early (here after every chunk, so that every split is tried).

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use portcullis::{Engine, Limits};
use proptest::prelude::*;
use support::corpusgen;

fn feed_in_chunks(engine: &Engine, bytes: &[u8], cuts: &[usize]) -> portcullis::Verdict {
    // Letting go of scanned parts as soon as possible too, at a step that depends on the split.
    let step = 1 + cuts.first().copied().unwrap_or(0) % 512;
    let session = engine.session().with_prescan_step(1).with_let_go_step(step);
    feed_split(session, bytes, cuts).finish().unwrap()
}

/// Feeds `bytes` split at the points `cuts` gives (each taken modulo the length, in order).
fn feed_split(
    mut session: portcullis::ScanSession,
    bytes: &[u8],
    cuts: &[usize],
) -> portcullis::ScanSession {
    let mut points: Vec<usize> = cuts.iter().map(|c| c % (bytes.len() + 1)).collect();
    points.sort_unstable();
    let mut from = 0;
    for p in points {
        session.feed(&bytes[from..p]).unwrap();
        from = p;
    }
    session.feed(&bytes[from..]).unwrap();
    session
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
    fn early_part_scans_respect_the_limits(case in 0usize..100, cuts in proptest::collection::vec(any::<usize>(), 0..20), files in 1u64..12, scan in 1u64..200_000, file in 1u64..100_000, parts in 1u64..8) {
        // Tight budgets make the limits fall anywhere, inside or between parts scanned early: each part is
        // counted when it is scanned, after the parts before it, whatever the chunking.
        let cases = corpusgen::cases();
        let case = &cases[case % cases.len()];
        let limits = Limits::default().max_files(files).max_scan_size(scan).max_file_size(file).max_parts(parts);
        let engine = Engine::builder().limits(limits).build().unwrap();
        let whole = engine.scan_bytes(&case.bytes).unwrap();
        prop_assert_eq!(whole, feed_in_chunks(&engine, &case.bytes, &cuts), "{}", case.file);
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

#[test]
fn a_signature_in_a_completed_part_is_known_before_the_end() {
    let engine = Engine::builder()
        .load_str("t.ndb", "Test.Early:0:*:6561726c792d6d61726b6572\n")
        .unwrap()
        .build()
        .unwrap();
    let head = "Subject: x\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n";
    let first = "--b\r\nContent-Type: text/plain\r\n\r\nan early-marker here\r\n";
    let second = "--b\r\nContent-Type: text/plain\r\n\r\nstill arriving";
    let mut session = engine.session().with_prescan_step(1);
    session.feed(head.as_bytes()).unwrap();
    session.feed(first.as_bytes()).unwrap();
    // The first part is not complete until the next one starts.
    assert!(session.decided().is_none());
    session.feed(second.as_bytes()).unwrap();
    assert_eq!(session.decided().map(|d| d.name()), Some("Test.Early"));
    session.feed(b"\r\n--b--\r\n").unwrap();
    let verdict = session.finish().unwrap();
    assert!(verdict.is_infected());
    let whole = format!("{head}{first}{second}\r\n--b--\r\n");
    assert_eq!(verdict, engine.scan_bytes(whole.as_bytes()).unwrap());
}

#[test]
fn default_sessions_scan_parts_early_too() {
    // Large enough to pass the default 64 KiB step: the same verdict as a whole scan, infected.
    let engine = Engine::builder().build().unwrap();
    let eicar = corpusgen::eicar();
    let mut msg =
        String::from("Subject: big\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n");
    for i in 0..40 {
        msg += &format!(
            "--b\r\nContent-Type: text/plain\r\n\r\n{}\r\n",
            "filler text ".repeat(800 + i)
        );
    }
    msg += &format!(
        "--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n{}\r\n",
        corpusgen::base64(&eicar)
    );
    for _ in 0..10 {
        msg += &format!(
            "--b\r\nContent-Type: text/plain\r\n\r\n{}\r\n",
            "more text ".repeat(1000)
        );
    }
    msg += "--b--\r\n";
    let mut session = engine.session();
    let mut decided_early = false;
    for chunk in msg.as_bytes().chunks(16 << 10) {
        session.feed(chunk).unwrap();
        decided_early |= session.decided().is_some();
    }
    assert!(decided_early);
    assert_eq!(
        session.finish().unwrap(),
        engine.scan_bytes(msg.as_bytes()).unwrap()
    );
}

#[test]
fn a_long_line_fed_in_small_chunks_is_searched_once() {
    // Searching the message so far again with every chunk would make this take minutes (8,192 chunks of
    // a line growing to 8 MiB); searching only the new bytes, it takes milliseconds.
    let engine = Engine::builder().build().unwrap();
    let mut msg =
        b"Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n".to_vec();
    msg.extend(std::iter::repeat_n(b'a', 8 << 20));
    msg.extend_from_slice(b"\r\n--b--\r\n");
    let (session, _) = feed_watching(engine.session(), &msg, 1024);
    assert_eq!(session.finish().unwrap(), engine.scan_bytes(&msg).unwrap());
}

#[test]
fn a_part_cut_by_a_limit_scans_the_same_early_and_whole() {
    // Found by `early_part_scans_respect_the_limits` when parts were replayed: the part is longer than
    // max_file_size and is cut when admitted, early or not.
    let cases = corpusgen::cases();
    let case = cases
        .iter()
        .find(|c| c.file == "infected-17-hash-signature.eml")
        .unwrap();
    let limits = Limits::default()
        .max_files(3)
        .max_scan_size(6614)
        .max_file_size(2920);
    let engine = Engine::builder().limits(limits).build().unwrap();
    assert_eq!(
        feed_in_chunks(&engine, &case.bytes, &[]),
        engine.scan_bytes(&case.bytes).unwrap()
    );
}

#[test]
fn a_header_block_that_never_ends_is_searched_once() {
    // As above, for the search for the end of the header block: 8,192 chunks of headers with no blank line.
    let engine = Engine::builder().build().unwrap();
    let mut msg = b"Content-Type: multipart/mixed; boundary=b\r\n".to_vec();
    for i in 0..(8 << 20) / 16 {
        msg.extend_from_slice(format!("X-H: {i:09}\r\n").as_bytes());
    }
    let (session, _) = feed_watching(engine.session(), &msg, 1024);
    assert_eq!(session.finish().unwrap(), engine.scan_bytes(&msg).unwrap());
}

/// Feeds `msg` in chunks of `chunk` bytes; returns the session and the most memory it held meanwhile.
fn feed_watching(
    mut session: portcullis::ScanSession,
    msg: &[u8],
    chunk: usize,
) -> (portcullis::ScanSession, usize) {
    let mut most = 0;
    for c in msg.chunks(chunk) {
        session.feed(c).unwrap();
        most = most.max(session.memory_usage());
    }
    (session, most)
}

/// A multipart message of `parts` parts of `size` bytes of base64 text each, the last one holding `last`.
fn many_parts(parts: usize, size: usize, last: &[u8]) -> Vec<u8> {
    let mut msg =
        b"Subject: many\r\nContent-Type: multipart/mixed; boundary=\"sep\"\r\n\r\npreamble\r\n"
            .to_vec();
    let line = "QUJDREVGR0hJSktMTU5PUFFSU1RVVldYWVphYmNkZWZnaGlqa2xtbm9wcXJzdHV2d3h5ejAxMjM0\r\n";
    for i in 0..parts {
        msg.extend_from_slice(
            format!(
                "--sep\r\nContent-Type: application/octet-stream; name=\"p{i}.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
            )
            .as_bytes(),
        );
        for _ in 0..size / line.len() {
            msg.extend_from_slice(line.as_bytes());
        }
    }
    msg.extend_from_slice(b"--sep\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    msg.extend_from_slice(corpusgen::base64(last).as_bytes());
    msg.extend_from_slice(b"\r\n--sep--\r\n");
    msg
}

#[test]
fn a_session_lets_go_of_the_parts_it_has_scanned() {
    // 24 MiB in 120 parts, fed in 64 KiB chunks: the session holds the part in flight and what the end
    // needs, never the message; the verdict is the one of the whole message (EICAR in the last part).
    let engine = Engine::builder().session_buffers(0).build().unwrap();
    let msg = many_parts(120, 200 << 10, &corpusgen::eicar());
    let (session, most) = feed_watching(engine.session(), &msg, 64 << 10);
    assert!(
        most < 2 << 20,
        "held {most} bytes of a {} byte message",
        msg.len()
    );
    assert!(session.let_go_bytes() > msg.len() - (1 << 20));
    let verdict = session.finish().unwrap();
    assert!(verdict.is_infected(), "{verdict:?}");
    assert_eq!(verdict, engine.scan_bytes(&msg).unwrap());
}

#[test]
fn letting_go_keeps_what_the_message_itself_is_matched_on() {
    // Signatures over the raw message: one in a part let go of (its atom hit verified before the bytes
    // went), one across a delimiter, one anchored at the start and one at the end, a hash of the whole
    // message, and the same message on the allow-list: every verdict as the whole message's.
    let msg = many_parts(12, 20 << 10, b"the last part");
    let md5 = hex(&md5_of(&msg));
    let hex = |s: &str| hex(s.as_bytes());
    let ndb = format!(
        "Raw.Middle:4:*:{}\nRaw.Across:0:*:{}\nRaw.Start:0:0:{}\nRaw.End:0:EOF-11:{}\nRaw.Gap:0:*:{}{{10-40}}{}\n",
        hex("p5.bin"),
        hex("\r\n--sep\r\nContent-Type: application/octet-stream; name=\"p7"),
        hex("Subject: many"),
        hex("\r\n--sep--\r\n"),
        hex("name=\"p9.bin\""),
        hex("base64"),
    );
    let hdb = format!("{md5}:{}:Raw.Hash\n", msg.len());
    let engines = [
        Engine::builder().load_str("raw.ndb", &ndb).unwrap(),
        Engine::builder()
            .load_str("raw.ndb", &ndb)
            .unwrap()
            .load_str("raw.hdb", &hdb)
            .unwrap(),
        Engine::builder()
            .load_str("raw.ndb", &ndb)
            .unwrap()
            .load_str("raw.fp", &hdb)
            .unwrap(),
    ];
    for (i, builder) in engines.into_iter().enumerate() {
        let engine = builder.build().unwrap();
        let whole = engine.scan_bytes(&msg).unwrap();
        match i {
            0 | 1 => {
                let names: Vec<&str> = whole.detections().iter().map(|d| d.name()).collect();
                let mut want = vec![
                    "Raw.Across",
                    "Raw.End",
                    "Raw.Gap",
                    "Raw.Middle",
                    "Raw.Start",
                ];
                if i == 1 {
                    want.insert(3, "Raw.Hash");
                }
                assert_eq!(names, want, "{whole:?}");
            }
            _ => assert!(whole.is_clean(), "{whole:?}"),
        }
        for chunk in [1000, 4096, 65536] {
            for step in [1, 5000] {
                let mut session = engine.session().with_let_go_step(step);
                for c in msg.chunks(chunk) {
                    session.feed(c).unwrap();
                }
                assert!(session.memory_usage() < msg.len(), "{chunk} {step}");
                assert_eq!(session.finish().unwrap(), whole, "{i} {chunk} {step}");
            }
        }
    }
}

fn md5_of(data: &[u8]) -> [u8; 16] {
    use md5::{Digest, Md5};
    Md5::digest(data).into()
}

/// Lower-case hex, as signature files write bytes.
fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// What [`attachment_signatures`] over an attachment holding EICAR find, with the built-in database, in
/// the order a verdict lists them.
const ATTACHMENT_FOUND: [&str; 5] = [
    "Att.End",
    "Att.Hash",
    "Att.Middle",
    "Att.Start",
    "Eicar-Test-Signature",
];

/// Every signature form over an attachment `data`: `.ndb` lines for its first and last 16 bytes, anchored,
/// and for the 12 bytes at `middle` anywhere; an `.hdb` line for its MD5.
fn attachment_signatures(data: &[u8], middle: usize) -> (String, String) {
    let ndb = format!(
        "Att.Start:0:0:{}\nAtt.End:0:EOF-16:{}\nAtt.Middle:0:*:{}\n",
        hex(&data[..16]),
        hex(&data[data.len() - 16..]),
        hex(&data[middle..middle + 12]),
    );
    (
        ndb,
        format!("{}:{}:Att.Hash\n", hex(&md5_of(data)), data.len()),
    )
}

/// The built-in database and the logical signatures of `ldb`.
fn ldb_engine(ldb: &str) -> Engine {
    Engine::builder()
        .load_str("re.ldb", ldb)
        .unwrap()
        .build()
        .unwrap()
}

/// The built-in database with `ndb` and `hdb` added, keeping no buffers for later sessions (so that what a
/// session says it holds is its own).
fn signed_engine(ndb: &str, hdb: &str) -> Engine {
    Engine::builder()
        .with_default_database(true)
        .load_str("att.ndb", ndb)
        .unwrap()
        .load_str("att.hdb", hdb)
        .unwrap()
        .session_buffers(0)
        .build()
        .unwrap()
}

/// That a session fed a message of `len` bytes held under 256 KiB at most (`most`) and let go of more than
/// half of it.
fn assert_streamed(session: &portcullis::ScanSession, most: usize, len: usize, what: &str) {
    assert!(most < 256 << 10, "{what}: held {most} bytes");
    let let_go = session.let_go_bytes();
    assert!(let_go > len / 2, "{what}: let go of {let_go}");
}

/// Where `verdict` found something inside the message (not in the message itself), each place once, in
/// order.
fn found_inside(verdict: &portcullis::Verdict) -> Vec<String> {
    let places: std::collections::BTreeSet<String> = verdict
        .detections()
        .iter()
        .map(|d| d.location().to_string())
        .filter(|l| l != "message")
        .collect();
    places.into_iter().collect()
}

/// That every detection of `verdict` is at `at` or inside it.
fn assert_all_under(verdict: &portcullis::Verdict, at: &str) {
    assert!(
        verdict
            .detections()
            .iter()
            .all(|d| d.location().to_string().starts_with(at)),
        "{at}: {verdict:?}"
    );
}

/// That `msg` fed in chunks of 4 and 64 KiB is held under 256 KiB and let go of, gives `whole`, and, when
/// `early`, is decided (a signature found) before its last 100 bytes arrive.
fn streams_alike(
    engine: &Engine,
    msg: &[u8],
    whole: &portcullis::Verdict,
    early: bool,
    what: &str,
) {
    for chunk in [4096, 65536] {
        let (session, most, decided_at) = feed_deciding(engine, msg, chunk);
        assert_streamed(&session, most, msg.len(), &format!("{what} {chunk}"));
        assert!(
            !early || decided_at.is_some_and(|at| at < msg.len() - 100),
            "{what} {chunk}: decided at {decided_at:?}"
        );
        assert_eq!(session.finish().unwrap(), *whole, "{what} {chunk}");
    }
}

/// The verdict of `msg` fed in two chunks, split at `at`, letting go in steps of `step` bytes.
fn split_in_two(engine: &Engine, msg: &[u8], at: usize, step: usize) -> portcullis::Verdict {
    let mut session = engine.session().with_let_go_step(step);
    session.feed(&msg[..at]).unwrap();
    session.feed(&msg[at..]).unwrap();
    session.finish().unwrap()
}

/// Feeds `msg` in chunks of `chunk` bytes: the session, the most memory it held meanwhile, and how many
/// bytes had been fed before the chunk after which it said the verdict was decided, if it did.
fn feed_deciding(
    engine: &Engine,
    msg: &[u8],
    chunk: usize,
) -> (portcullis::ScanSession, usize, Option<usize>) {
    let mut session = engine.session();
    let (mut most, mut decided_at) = (0, None);
    for (i, c) in msg.chunks(chunk).enumerate() {
        session.feed(c).unwrap();
        most = most.max(session.memory_usage());
        if decided_at.is_none() && session.decided().is_some() {
            decided_at = Some(i * chunk);
        }
    }
    (session, most, decided_at)
}

/// Signatures over a small alphabet, so that they hit often: every hex form (gaps, nibbles, alternatives,
/// classes, several parts), anchored offsets at both ends, and logical signatures that count matches.
const DENSE_SIGNATURES: &str = "\
Dense.Gap:0:*:6162{2-5}6361
Dense.Nibble:0:*:61?2??62
Dense.Alt:0:*:(6161|6262)63{-3}20
Dense.Multi:0:*:616263*636261{3-}202061
Dense.Class:0:*:(B)616263(B)
Dense.Line:0:*:(L)6363(L)
Dense.Start:0:0,40:6261
Dense.End:0:EOF-30,20:636320
Dense.Mail:4:*:0d0a2d2d710d0a0d0a6162
";

const DENSE_LOGICAL: &str = "\
Dense.Counted;Target:0;0>20&1<30;6162;2020
Dense.Word;Target:4;0|1;616263::f;636261::fi
Dense.Chain;Target:0;0>1&1;616263*6362{2-}2020*6161;0/c[ab]{2,6}c/
Dense.Re;Target:0;0>3&1>2;6261;0/a[bc]+ c/
Dense.InMail;Target:0,Container:CL_TYPE_MAIL;0>2&1>1;6162;0/a[bc]{1,3} /
Dense.Small;Target:0,FileSize:0-100000;0&1;6162;0/c[ab]+c/
";

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn letting_go_of_parts_never_changes_a_verdict(
        parts in proptest::collection::vec(proptest::collection::vec(0u8..6, 0..1500), 1..25),
        cuts in proptest::collection::vec(any::<usize>(), 0..60),
        step in 1usize..3000,
        prefix_line in proptest::option::of(0usize..25),
    ) {
        let alphabet = b"abc \r\n";
        let mut msg = b"Subject: dense\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\nabc\r\n".to_vec();
        for (i, p) in parts.iter().enumerate() {
            msg.extend_from_slice(b"--q\r\n\r\n");
            msg.extend(p.iter().map(|&i| alphabet[i as usize]));
            // A line that is a delimiter by prefix only: from there on the message reads two ways, and the
            // session must keep what the second reading needs.
            if prefix_line == Some(i) {
                msg.extend_from_slice(b"\r\n--qz\r\nabc ab");
            }
            msg.extend_from_slice(b"\r\n");
        }
        msg.extend_from_slice(b"--q--\r\nab cc \r\n");
        let engine = Engine::builder()
            .load_str("dense.ndb", DENSE_SIGNATURES)
            .unwrap()
            .load_str("dense.ldb", DENSE_LOGICAL)
            .unwrap()
            .build()
            .unwrap();
        // What the regular expressions' searches hold: a block and their reach.
        let reach = engine.session_reach().unwrap();
        let whole = engine.scan_bytes(&msg).unwrap();
        let session = engine.session().with_prescan_step(1).with_let_go_step(step);
        let session = feed_split(session, &msg, &cuts);
        if msg.len() > 12_000 + reach && step < 1000 && prefix_line.is_none() {
            prop_assert!(session.let_go_bytes() > 0);
        }
        prop_assert_eq!(session.finish().unwrap(), whole);
    }
}

#[test]
fn hits_everywhere_do_not_pile_up() {
    // A signature whose atom is everywhere in 10 MB: the hits verified are let go of with their bytes, but
    // for the few that still decide something (the first of a plain signature, the first distinct starts of
    // a counted one). In a multipart message, and in a message that is not multipart, whose text body is
    // held whole (its hits are verified as they arrive all the same: 16 bytes a hit was 6 times the body).
    let engine = Engine::builder()
        .load_str("dense.ndb", "Dense.Plain:0:*:616220\n")
        .unwrap()
        .load_str("dense.ldb", "Dense.Many;Target:0;0>500;62206162\n")
        .unwrap()
        .session_buffers(0)
        .build()
        .unwrap();
    let mut text = Vec::new();
    for _ in 0..1000 {
        text.extend_from_slice("ab ".repeat(33).as_bytes());
        text.extend_from_slice(b"\r\n");
    }
    let mut multipart =
        b"Subject: dense\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n".to_vec();
    for _ in 0..100 {
        multipart.extend_from_slice(b"--q\r\n\r\n");
        multipart.extend_from_slice(&text);
    }
    multipart.extend_from_slice(b"--q--\r\n");
    let mut plain = b"Subject: dense\r\n\r\n".to_vec();
    for _ in 0..30 {
        plain.extend_from_slice(&text);
    }
    // The plain message is held whole: 3 MB, grown by half at a time.
    for (msg, most_allowed) in [(multipart, 4 << 20), (plain, 6 << 20)] {
        let (session, most) = feed_watching(engine.session(), &msg, 64 << 10);
        assert!(
            most < most_allowed,
            "held {most} bytes of a {} byte message",
            msg.len()
        );
        let verdict = session.finish().unwrap();
        let names: Vec<&str> = verdict.detections().iter().map(|d| d.name()).collect();
        assert!(
            names.contains(&"Dense.Plain") && names.contains(&"Dense.Many"),
            "{names:?}"
        );
        assert_eq!(verdict, engine.scan_bytes(&msg).unwrap());
    }
}

#[test]
fn regular_expressions_run_as_the_message_arrives() {
    // A logical signature for any file with a regular expression runs only when its trigger holds, which
    // is known at the end; so the session searches for the expression as the bytes arrive, before they
    // go, and leaves the searches of the bytes it still holds at the end to the signatures whose trigger
    // holds. Here the expression matches in the first part and its trigger is in the last, or the other
    // way round: in the message as sent, and in an attachment decoded as it arrives. An unbounded
    // expression's match and one of a bounded length each straddle a let-go step somewhere in the sweep of
    // offsets.
    let ldb = "Re.Any;Target:0;0&1;6e6565646c65;0/abc[0-9]+xyz/\n\
               Re.Bounded;Target:0;0&1;6e6565646c65;0/def[0-9]{2,40}uvw/i\n";
    let engine = ldb_engine(ldb);
    let reach = engine.session_reach().unwrap();
    assert!(reach < 64 << 10, "{reach}");
    let matches = &b"\r\nabc12345xyz DEF12345uvw\r\n"[..];
    let trigger = &b"a needle\r\n"[..];
    for (shift, late) in [0usize, 5000, 16 << 10, 40_000]
        .into_iter()
        .flat_map(|s| [(s, false), (s, true)])
    {
        let mut msg = many_parts(30, 20 << 10, b"the last part");
        let (early, last) = if late {
            (trigger, matches)
        } else {
            (matches, trigger)
        };
        let at = msg.windows(4).position(|w| w == b"--se").unwrap() + 200 + shift;
        msg.splice(at..at, early.iter().copied());
        let end = msg.len() - b"--sep--\r\n".len();
        msg.splice(end..end, last.iter().copied());
        let whole = engine.scan_bytes(&msg).unwrap();
        let names: Vec<&str> = whole.detections().iter().map(|d| d.name()).collect();
        assert!(
            names.contains(&"Re.Any") && names.contains(&"Re.Bounded"),
            "{whole:?}"
        );
        for chunk in [4096, 64 << 10] {
            let (session, most) = feed_watching(engine.session(), &msg, chunk);
            assert!(session.let_go_bytes() > msg.len() / 2);
            assert!(most < 512 << 10, "held {most}");
            assert_eq!(
                session.finish().unwrap(),
                whole,
                "shift {shift}, late {late}, chunk {chunk}"
            );
        }
    }
    // The same in an attachment of 3 MiB decoded as it arrives: the match early and the trigger late, or
    // the match in the last bytes.
    for plants in [
        [
            (100_000, &b"abc77xyz"[..]),
            (50_000, b"def1234uvw"),
            (3_000_000, b"needle"),
        ],
        [
            (50_000, b"needle"),
            ((3 << 20) - 30, b"abc77xyz"),
            ((3 << 20) - 12, b"def1234uvw"),
        ],
    ] {
        let mut payload = noise(3 << 20, 3);
        for (at, bytes) in plants {
            payload[at..at + bytes.len()].copy_from_slice(bytes);
        }
        // The message as sent holds the payload in base64 only: what matches is the attachment.
        let msg = one_attachment("big.bin", &payload, false);
        let whole = engine.scan_bytes(&msg).unwrap();
        let names: Vec<&str> = whole.detections().iter().map(|d| d.name()).collect();
        assert_eq!(names, ["Re.Any", "Re.Bounded"], "{whole:?}");
        for chunk in [4096, 64 << 10] {
            let (session, most) = feed_watching(engine.session(), &msg, chunk);
            assert!(most < 512 << 10, "held {most}");
            assert_eq!(session.finish().unwrap(), whole);
        }
    }
}

#[test]
fn the_engine_counts_the_plans_its_sessions_make() {
    // The plan of the searches for the regular expressions of a type of part is made when a session first
    // streams such a part (a binary attachment here: the engine makes the message's, a text part's and an
    // HTML part's when it is built), and shared by the sessions after it. The engine's memory counts it.
    let ldb = "Re.Any;Target:0;0&1;6e6565646c65;0/abc[0-9]+xyz/\n";
    let engine = ldb_engine(ldb);
    let plain = Engine::builder().build().unwrap();
    let before = engine.memory_usage();
    assert!(before > plain.memory_usage());
    let msg = one_attachment("big.bin", &noise(1 << 20, 9), false);
    for _ in 0..2 {
        let (session, _) = feed_watching(engine.session(), &msg, 65536);
        assert!(session.finish().unwrap().is_clean());
    }
    let after = engine.memory_usage();
    assert!(after > before, "{before} then {after}");
    let (session, _) = feed_watching(engine.session(), &msg, 4096);
    session.finish().unwrap();
    assert_eq!(engine.memory_usage(), after);
}

#[test]
fn an_attachment_whose_first_bytes_shut_a_trigger_reads_as_the_whole_message() {
    // Most of the official database's regular expressions for a part of a message run only when the part
    // starts as a zip or a RAR archive. A session stops searching for them once an attachment's first bytes
    // say it does not; either way the verdict is the whole message's.
    let ldb = "Re.Gated;Container:CL_TYPE_MAIL,Target:0;2;0:504B;0:526172211a07;0|1/Fatura-N[0-9]{10,32}\\.exe/\n\
               Re.Half;Container:CL_TYPE_MAIL,Target:0;2;0,2:7171::i;6e6565646c65;0&1/invoice[0-9]+\\.scr/\n";
    let engine = ldb_engine(ldb);
    // (the attachment's first bytes, the signatures that match)
    let table: &[(&[u8], &[&str])] = &[
        (b"PK\x03\x04", &["Re.Gated"]),
        (b"Rar!\x1a\x07\x00", &["Re.Gated"]),
        (b"xPK\x03\x04", &[]),
        (b"Rar!\x1a\x08", &[]),
        (b"xQq", &["Re.Half"]),
        (b"xyzqq", &[]),
    ];
    for &(start, want) in table {
        let mut payload = noise(1 << 20, 5);
        payload[..start.len()].copy_from_slice(start);
        for (at, bytes) in [
            (200_000, &b" Fatura-N12345678901.exe "[..]),
            (400_000, b" invoice77.scr "),
            (900_000, b" needle "),
        ] {
            payload[at..at + bytes.len()].copy_from_slice(bytes);
        }
        let msg = one_attachment("big.bin", &payload, false);
        let whole = engine.scan_bytes(&msg).unwrap();
        let names: Vec<&str> = whole.detections().iter().map(|d| d.name()).collect();
        assert_eq!(names, want, "{start:?}: {whole:?}");
        for chunk in [4096, 64 << 10] {
            let (session, most) = feed_watching(engine.session(), &msg, chunk);
            // A zip is held until it ends, to be opened; the others are decoded and let go of.
            assert!(start.starts_with(b"PK") || most < 512 << 10, "held {most}");
            assert_eq!(session.finish().unwrap(), whole, "{start:?}, chunk {chunk}");
        }
    }
}

#[test]
fn what_needs_the_whole_message_keeps_it() {
    // A regular expression whose offset is far from the end needs every start of a match kept until the
    // end, so the session keeps the message (and the engine says why); so does a message that reads two
    // ways. Either way the verdict is the whole message's: here the regular expression matches in the
    // first part and its trigger in the last.
    let ldb = "Re.Far;Target:0;0&1;6e6565646c65;EOF-500000,400000:0/abc[0-9]+xyz/\n";
    let engine = ldb_engine(ldb);
    assert!(
        engine
            .session_reach()
            .is_err_and(|why| why.contains("regular expression")),
    );
    let mut msg = many_parts(30, 20 << 10, b"the last part");
    // Between 100,000 and 500,000 bytes before the end.
    let at = msg.len() / 3;
    let at = at + msg[at..].windows(2).position(|w| w == b"\r\n").unwrap();
    msg.splice(at..at, b"\r\nabc12345xyz\r\n".iter().copied());
    let end = msg.len() - b"--sep--\r\n".len();
    msg.splice(end..end, b"a needle\r\n".iter().copied());
    let whole = engine.scan_bytes(&msg).unwrap();
    assert_eq!(whole.detections()[0].name(), "Re.Far", "{whole:?}");
    let two_ways = String::from_utf8(msg.clone())
        .unwrap()
        .replacen(
            "boundary=\"sep\"",
            "boundary=\"sep\"; boundary=\"other\"",
            1,
        )
        .into_bytes();
    let plain = Engine::builder().build().unwrap();
    for (engine, msg) in [(&engine, &msg), (&plain, &two_ways)] {
        let (session, most) = feed_watching(engine.session().with_let_go_step(1), msg, 4096);
        assert_eq!(session.let_go_bytes(), 0);
        assert!(most >= msg.len());
        assert_eq!(session.finish().unwrap(), engine.scan_bytes(msg).unwrap());
    }
}

/// Random bytes (xorshift).
fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut state = seed | 1;
    (0..n)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 24) as u8
        })
        .collect()
}

/// A message whose one attachment is `data` (base64), followed by a short text part when `after`.
fn one_attachment(name: &str, data: &[u8], after: bool) -> Vec<u8> {
    let mut msg = format!(
        "Subject: one\r\nContent-Type: multipart/mixed; boundary=\"sep\"\r\n\r\n--sep\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n--sep\r\nContent-Type: application/octet-stream; name=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n"
    )
    .into_bytes();
    msg.extend_from_slice(corpusgen::base64(data).as_bytes());
    if after {
        msg.extend_from_slice(b"\r\n--sep\r\nContent-Type: text/plain\r\n\r\nbye\r\n");
    }
    msg.extend_from_slice(b"\r\n--sep--\r\n");
    msg
}

#[test]
fn an_occurrence_two_hits_find_counts_once_however_it_arrives() {
    // `a`, then `xyzz` twice within the gap the signature allows: both hits of `xyzz` (its atom) verify
    // the one occurrence that starts at `a`, so it counts once; early in 1 MiB, its start is folded into a
    // count long before the end when the attachment is matched as it arrives.
    let ldb =
        "Counted.Once;Target:0;0=1;61{0-20}78797a7a\nCounted.Twice;Target:0;0>1;61{0-20}78797a7a\n";
    let engine = Engine::builder()
        .load_str("counted.ldb", ldb)
        .unwrap()
        .build()
        .unwrap();
    let mut data = noise(1 << 20, 5);
    data[1000..1011].copy_from_slice(b"a xyzz xyzz");
    let msg = one_attachment("a.bin", &data, false);
    let whole = engine.scan_bytes(&msg).unwrap();
    let names: Vec<&str> = whole.detections().iter().map(|d| d.name()).collect();
    assert_eq!(names, ["Counted.Once"]);
    for chunk in [4096, 64 << 10] {
        let mut session = engine.session();
        for c in msg.chunks(chunk) {
            session.feed(c).unwrap();
        }
        assert!(session.let_go_bytes() > msg.len() / 2);
        assert_eq!(session.finish().unwrap(), whole, "{chunk}");
    }
}

#[test]
fn what_a_message_that_is_its_attachment_holds_is_counted() {
    // Not multipart, its body a zip in base64: the message as sent is let go of as it is decoded, and the
    // zip is held decoded until the end (archives are opened whole). What the session says it holds counts
    // the zip: a caller budgets by it.
    let zip = corpusgen::zip(&[("noise.bin", &noise(1 << 20, 3), corpusgen::Method::Stored)]);
    let mut msg = b"Subject: one\r\nContent-Type: application/zip; name=\"n.zip\"\r\n\
        Content-Transfer-Encoding: base64\r\n\r\n"
        .to_vec();
    msg.extend_from_slice(corpusgen::base64(&zip).as_bytes());
    let engine = Engine::builder().session_buffers(0).build().unwrap();
    let whole = engine.scan_bytes(&msg).unwrap();
    let (session, most) = feed_watching(engine.session(), &msg, 4096);
    assert!(
        session.let_go_bytes() > msg.len() / 2,
        "let go of {}",
        session.let_go_bytes()
    );
    assert!(
        most >= zip.len(),
        "said it held {most} bytes, holds a zip of {}",
        zip.len()
    );
    assert_eq!(session.finish().unwrap(), whole);
}

#[test]
fn an_attachment_is_decoded_and_matched_as_it_arrives() {
    // 6 MiB of binary with EICAR in the middle: the session holds neither the part as sent nor what it
    // decodes to, and every signature form over the attachment gives the whole message's verdict: a body
    // signature in bytes let go of, anchored at both ends of the attachment, its hash, and the same hash
    // on the allow-list; and the same as a PDF whose JavaScript the heuristics see.
    let mut data = noise(3 << 20, 7);
    data.extend_from_slice(&corpusgen::eicar());
    data.extend_from_slice(&noise(3 << 20, 8));
    let mut pdf = b"%PDF-1.7\n".to_vec();
    pdf.extend_from_slice(&data);
    let at = pdf.len() / 3;
    pdf.splice(at..at, b"/OpenAction /J#61vaScript".iter().copied());
    for (name, data, after) in [
        ("big.bin", &data, Some(false)),
        ("big.bin", &data, Some(true)),
        ("big.pdf", &pdf, Some(false)),
        // The message is the attachment: not multipart, its body declared base64.
        ("big.pdf", &pdf, None),
    ] {
        let (ndb, hdb) = attachment_signatures(data, 4 << 20);
        let msg = match after {
            Some(after) => one_attachment(name, data, after),
            None => {
                let mut msg = format!("Subject: one\r\nContent-Type: application/pdf; name=\"{name}\"\r\nContent-Transfer-Encoding: base64\r\n\r\n").into_bytes();
                msg.extend_from_slice(corpusgen::base64(data).as_bytes());
                msg
            }
        };
        let builders = [
            Engine::builder(),
            Engine::builder()
                .with_default_database(true)
                .load_str("att.ndb", &ndb)
                .unwrap()
                .load_str("att.hdb", &hdb)
                .unwrap(),
            Engine::builder()
                .with_default_database(true)
                .load_str("att.fp", &hdb)
                .unwrap(),
        ];
        for (i, builder) in builders.into_iter().enumerate() {
            let engine = builder.session_buffers(0).build().unwrap();
            let whole = engine.scan_bytes(&msg).unwrap();
            let names: Vec<&str> = whole.detections().iter().map(|d| d.name()).collect();
            let want: &[&str] = match i {
                0 => &["Eicar-Test-Signature"],
                1 => &ATTACHMENT_FOUND,
                _ => &[],
            };
            assert_eq!(names, want, "{i}: {whole:?}");
            if name == "big.pdf" && i < 2 {
                let rules: Vec<&str> = whole.findings().iter().map(|f| f.rule()).collect();
                assert!(rules.contains(&"Heuristics.PDF.JavaScript"), "{rules:?}");
            }
            for chunk in [4096, 65536] {
                let (session, most) = feed_watching(engine.session(), &msg, chunk);
                assert!(most < 256 << 10, "{i} {chunk}: held {most} bytes");
                assert_eq!(session.finish().unwrap(), whole, "{i} {chunk}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(96))]

    #[test]
    fn decoding_attachments_as_they_arrive_never_changes_a_verdict(
        attachments in proptest::collection::vec(
            (0u8..6, 0usize..160_000, proptest::option::of((0usize..4000, 0u8..3)), any::<u64>()),
            1..4,
        ),
        cuts in proptest::collection::vec(any::<usize>(), 0..40),
        step in 1usize..100_000,
        limits in proptest::option::of((1u64..400_000, 1u64..300_000)),
        hashed in any::<bool>(),
        unterminated in any::<bool>(),
        single in any::<bool>(),
        nested in 0u8..4,
        tight in proptest::option::of((1u64..6, 1u64..5, 0u32..4)),
    ) {
        // Attachments of every kind a session treats apart: text and binary (matched as they arrive), an
        // archive and an executable whose type needs more than the first bytes (held decoded); with a line
        // that is not base64 somewhere (plain text, a delimiter only by prefix, a uuencoded block), under
        // tight limits or none, hashed by a signature or not, the message ended inside the last part or
        // not; signatures that hit everywhere; and all of it inside a nested multipart (closed, or not), or
        // two deep.
        let mut msg = b"Subject: att\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n\r\nab c\r\n".to_vec();
        let b = if nested > 0 && !single {
            msg.extend_from_slice(b"--q\r\nContent-Type: multipart/related; boundary=r\r\n\r\npre\r\n");
            if nested == 3 {
                msg.extend_from_slice(b"--r\r\n\r\nfirst\r\n--r\r\nContent-Type: multipart/alternative; boundary=s\r\n\r\n");
                "s"
            } else {
                "r"
            }
        } else {
            "q"
        };
        let mut hdb = String::new();
        for (i, &(kind, len, odd, seed)) in attachments.iter().enumerate() {
            let alphabet: &[u8] = if kind == 1 { b"abc \0\xff" } else { b"abc \r\n" };
            let mut data: Vec<u8> = noise(len, seed).iter().map(|b| alphabet[*b as usize % alphabet.len()]).collect();
            let magic: &[u8] = match kind {
                2 => b"PK\x03\x04",
                // A PDF and an OLE2 document: matched as they arrive, their heuristics' search done on the way.
                4 => b"%PDF-1.4 /J#61vaScript ",
                5 => b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",
                3 => b"MZ\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\xff\xff\xff\x7f",
                _ => b"",
            };
            data.splice(0..0, magic.iter().copied());
            if kind >= 4 && data.len() > 70_000 {
                // Names the heuristics look for, late in the document (an escape split anywhere).
                let late: &[u8] = if kind == 4 { b"/Op#65nAction /Launch" } else { b"_\0V\0B\0A\0_\0P\0R\0O\0J\0E\0C\0T\0 Auto_Open" };
                let at = data.len() - 1000;
                data.splice(at..at, late.iter().copied());
            }
            if hashed && i == 0 {
                hdb = format!("{}:{}:Att.Hash\n", hex(&md5_of(&data)), data.len());
            }
            let mut text = corpusgen::base64(&data);
            if let Some((line, what)) = odd {
                let at = (line * 78).min(text.len());
                let at = text[..at].rfind('\n').map_or(0, |n| n + 1);
                let insert = match what {
                    0 => "not base64, plain text!\r\n".to_string(),
                    1 => format!("--{b}z not a delimiter\r\n"),
                    _ => corpusgen::uuencode("u.txt", b"abc abc ab"),
                };
                text.insert_str(at, &insert);
            }
            if single {
                // The message is the attachment: not multipart, its body declared base64.
                msg = format!("Subject: att\r\nContent-Type: application/octet-stream; name=\"a{i}.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{text}").into_bytes();
                break;
            }
            msg.extend_from_slice(
                format!("--{b}\r\nContent-Type: application/octet-stream; name=\"a{i}.bin\"\r\nContent-Transfer-Encoding: base64\r\n\r\n{text}\r\n").as_bytes(),
            );
        }
        if nested == 1 && !single {
            msg.extend_from_slice(b"--r--\r\n");
        }
        if nested == 3 && !single {
            // The innermost closed, the middle one not.
            msg.extend_from_slice(b"--s--\r\n--r\r\n\r\nafter\r\n");
        }
        if !unterminated && !single {
            msg.extend_from_slice(b"--q--\r\n");
        }
        let mut builder = Engine::builder()
            .load_str("dense.ndb", DENSE_SIGNATURES)
            .unwrap()
            .load_str("dense.ldb", DENSE_LOGICAL)
            .unwrap();
        if !hdb.is_empty() {
            builder = builder.load_str("att.hdb", &hdb).unwrap();
        }
        let mut l = Limits::default();
        if let Some((scan, file)) = limits {
            l = l.max_scan_size(scan).max_file_size(file);
        }
        // Few files, parts or levels allowed: a nested part is followed only when the scan will walk it.
        if let Some((files, parts, recursion)) = tight {
            l = l.max_files(files).max_parts(parts).max_recursion(recursion);
        }
        let engine = builder.limits(l).build().unwrap();
        let whole = engine.scan_bytes(&msg).unwrap();
        let session = feed_split(engine.session().with_let_go_step(step), &msg, &cuts);
        // Attachments matched as they arrive are not held: neither as sent nor decoded.
        let streamable = attachments.iter().all(|a| (a.0 < 2 || a.0 >= 4) && a.2.is_none());
        if streamable && limits.is_none() && tight.is_none() && step < 30_000 && msg.len() > 400_000 && cuts.len() > 20 {
            prop_assert!(session.memory_usage() < msg.len() / 2, "{} of {}", session.memory_usage(), msg.len());
        }
        prop_assert_eq!(session.finish().unwrap(), whole);
    }
}

#[test]
fn parts_a_session_cannot_decode_as_they_arrive_are_held_and_read_alike() {
    // A header block too long to wait for, disagreeing transfer encodings, base64 inside a nested
    // multipart, a URL-safe line in the middle, a message that ends inside a line: each is held or decoded
    // as the whole message's walk reads it, and the verdict is the whole message's.
    let eicar = corpusgen::eicar();
    let mut data = noise(300_000, 3);
    data.extend_from_slice(&eicar);
    let b64 = corpusgen::base64(&data);
    let long_field = format!("X-Long: {}\r\n", "a".repeat(100_000));
    let mut url_safe = b64.clone();
    let at = url_safe.len() / 2;
    let at = url_safe[..at].rfind('\n').unwrap() + 1;
    url_safe.insert_str(at, "-_-_\r\n");
    let parts = [
        format!("{long_field}Content-Transfer-Encoding: base64\r\n\r\n{b64}"),
        format!(
            "Content-Transfer-Encoding: base64\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{b64}"
        ),
        format!(
            "Content-Type: multipart/mixed; boundary=inner\r\n\r\n--inner\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\r\n--inner--\r\n"
        ),
        format!("Content-Transfer-Encoding: base64\r\n\r\n{url_safe}"),
    ];
    let engine = Engine::builder().build().unwrap();
    for (i, part) in parts.iter().enumerate() {
        for end in ["\r\n--sep--\r\n", ""] {
            let msg = format!(
                "Subject: odd\r\nContent-Type: multipart/mixed; boundary=sep\r\n\r\n--sep\r\n\r\nhello\r\n--sep\r\n{part}{end}"
            );
            let msg = msg.as_bytes();
            // Ending inside a line of the last part, too.
            let msg = if end.is_empty() {
                &msg[..msg.len() - 30]
            } else {
                msg
            };
            let whole = engine.scan_bytes(msg).unwrap();
            // (Cut, the message loses its EICAR.)
            assert_eq!(whole.is_infected(), !end.is_empty(), "{i}: {whole:?}");
            for chunk in [1000, 4096] {
                let mut session = engine.session().with_let_go_step(1);
                for c in msg.chunks(chunk) {
                    session.feed(c).unwrap();
                }
                assert_eq!(session.finish().unwrap(), whole, "{i} {end:?} {chunk}");
            }
        }
    }
}

#[test]
fn what_the_walk_of_the_message_notes_comes_after_its_parts_however_it_arrived() {
    // Ambiguous MIME noted by the message's own walk and by its last, unterminated part (found by the
    // fuzzer): the first note is the one reported, so the last part is scanned ahead of the message's walk
    // whether or not a session decoded it as it arrived.
    let engine = Engine::builder().build().unwrap();
    for last in [
        "Content-Type: text/plain\r\nContent-Type: text/html\r\n\r\nhello",
        "Content-Type: text/plain\r\nContent-Type: text/html\r\nContent-Transfer-Encoding: base64\r\n\r\naGVsbG8gd29ybGQ=\r\n",
    ] {
        let msg = format!(
            "Subject: x\r\nContent-Type: multipart/mixed; boundary=b\r\nContent-Type: text/plain\r\n\r\n--b\r\n\r\nfirst\r\n--b\r\n{last}"
        );
        let whole = engine.scan_bytes(msg.as_bytes()).unwrap();
        let broken: Vec<String> = whole
            .findings()
            .iter()
            .filter(|f| f.rule() == "Heuristics.Broken.MIME")
            .map(|f| f.location().to_string())
            .collect();
        assert_eq!(broken, ["message/part[2]"], "{whole:?}");
        for step in [1, usize::MAX] {
            for chunk in [1, 7, 64] {
                let mut session = engine.session().with_let_go_step(step);
                for c in msg.as_bytes().chunks(chunk) {
                    session.feed(c).unwrap();
                }
                assert_eq!(session.finish().unwrap(), whole, "{step} {chunk}");
            }
        }
    }
}

#[test]
fn a_capped_message_that_reads_two_ways_is_kept_for_both() {
    // With few parts allowed, the strict and the prefix readings are each cut at the cap; a line that is a
    // delimiter only by prefix among the parts kept makes them differ, and the session must keep what the
    // second reading needs (found by the fuzzer).
    let mut msg = b"Subject: x\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n".to_vec();
    for i in 0..6 {
        msg.extend_from_slice(format!("--q\r\n\r\npart {i}\r\n").as_bytes());
        if i == 1 {
            msg.extend_from_slice(b"--qz not strict\r\nhidden\r\n");
        }
    }
    msg.extend_from_slice(b"--q--\r\n");
    for parts in 1..6 {
        let engine = Engine::builder()
            .limits(Limits::default().max_parts(parts))
            .build()
            .unwrap();
        let whole = engine.scan_bytes(&msg).unwrap();
        // One search may meet more delimiters than the cap: whole, in halves, and a byte at a time.
        for chunk in [msg.len(), msg.len() / 2 + 1, 1] {
            let mut session = engine.session().with_let_go_step(1);
            for c in msg.chunks(chunk) {
                session.feed(c).unwrap();
            }
            assert_eq!(session.finish().unwrap(), whole, "{parts} {chunk}");
        }
    }
}

/// A message whose attachment sits inside a nested multipart, as Apple Mail and Outlook send them: a text
/// part, then `multipart/alternative` (`inner`) holding a text part, an HTML part and the attachment
/// (`data`, base64), then perhaps a text part after it.
fn nested_attachment(data: &[u8], name: Option<&str>, after: bool, close_inner: bool) -> Vec<u8> {
    let inner_name = name.map_or(String::new(), |n| format!("; name=\"{n}\""));
    let mut msg = format!(
        "Subject: nested\r\nContent-Type: multipart/mixed; boundary=\"outer\"\r\n\r\n--outer\r\n\
         Content-Type: text/plain\r\n\r\nsee below\r\n--outer\r\n\
         Content-Type: multipart/alternative; boundary=\"inner\"{inner_name}\r\n\r\ninner preamble\r\n\
         --inner\r\nContent-Type: text/plain\r\n\r\nplain text\r\n--inner\r\nContent-Type: text/html\r\n\r\n\
         <html><body>hi</body></html>\r\n--inner\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\n\
         Content-Transfer-Encoding: base64\r\n\r\n"
    )
    .into_bytes();
    msg.extend_from_slice(corpusgen::base64(data).as_bytes());
    if close_inner {
        msg.extend_from_slice(b"\r\n--inner--\r\ninner epilogue\r\n");
    } else {
        msg.extend_from_slice(b"\r\n");
    }
    if after {
        msg.extend_from_slice(b"--outer\r\nContent-Type: text/plain\r\n\r\nbye\r\n");
    }
    msg.extend_from_slice(b"--outer--\r\n");
    msg
}

/// [`nested_attachment`] one level deeper: the attachment inside `multipart/related` inside
/// `multipart/alternative`, as Apple Mail sends an HTML message with inline images.
fn two_deep(data: &[u8]) -> Vec<u8> {
    let inner = String::from_utf8(nested_attachment(data, None, false, true)).unwrap();
    let inner = inner
        .split_once("--outer\r\nContent-Type: multipart/alternative")
        .map(|(_, rest)| format!("Content-Type: multipart/alternative{rest}"))
        .unwrap()
        .replace("--outer--\r\n", "");
    format!(
        "Subject: two deep\r\nContent-Type: multipart/mixed; boundary=\"top\"\r\n\r\n--top\r\n\r\nhello\r\n\
         --top\r\nContent-Type: multipart/related; boundary=\"rel\"\r\n\r\n--rel\r\n\r\nfirst\r\n--rel\r\n\
         {inner}--rel--\r\n--top\r\n\r\nbye\r\n--top--\r\n"
    )
    .into_bytes()
}

#[test]
fn an_attachment_inside_a_nested_multipart_is_decoded_as_it_arrives() {
    // 4 MiB of binary with EICAR in the middle, inside multipart/alternative: the nested part's own parts
    // are scanned as they complete and its attachment decoded and matched as it arrives, so the session
    // holds neither; EICAR is known before the message ends; and the verdict is the whole message's, with
    // every signature form over the attachment and however the nested part ends.
    let mut data = noise(2 << 20, 11);
    data.extend_from_slice(&corpusgen::eicar());
    data.extend_from_slice(&noise(2 << 20, 12));
    let (ndb, hdb) = attachment_signatures(&data, 3 << 20);
    let engine = signed_engine(&ndb, &hdb);
    for (name, after, close_inner, two) in [
        (None, true, true, false),
        (Some("alt.txt"), false, true, false),
        (None, true, false, false),
        (None, false, false, false),
        // Two deep.
        (None, true, true, true),
    ] {
        let msg = match two {
            false => nested_attachment(&data, name, after, close_inner),
            true => two_deep(&data),
        };
        let whole = engine.scan_bytes(&msg).unwrap();
        let names: Vec<&str> = whole.detections().iter().map(|d| d.name()).collect();
        assert_eq!(names, ATTACHMENT_FOUND, "{whole:?}");
        let suffix = name.map_or(String::new(), |n| format!(" \"{n}\""));
        let at = match two {
            false => format!("message/part[2]{suffix}/part[3]"),
            true => "message/part[2]/part[2]/part[3]".to_string(),
        };
        assert_all_under(&whole, &at);
        // Known once the nested part's attachment is complete: at its delimiter, or at the end.
        streams_alike(&engine, &msg, &whole, close_inner, &format!("{name:?}"));
    }
}

#[test]
fn a_nested_multipart_past_the_parts_allowed_is_followed_only_if_it_is_a_part() {
    // The part after the last delimiter allowed is a part only if the message ends in it: another
    // delimiter and the walk splits off nothing more (found by the property test). Its own parts must not be
    // scanned ahead of that.
    let inner = "Content-Type: multipart/related; boundary=r\r\n\r\n--r\r\nContent-Type: text/plain\r\n\r\nin\r\n--r\r\n\r\nmore\r\n--r--\r\n";
    for (before, after) in [
        (0, "--q--\r\n"),
        (1, "--q--\r\n"),
        (1, "--q\r\n\r\nlast\r\n--q--\r\n"),
        (2, ""),
        (2, "--q\r\n\r\nlast\r\n"),
    ] {
        let mut msg = b"Subject: x\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n".to_vec();
        for i in 0..before {
            msg.extend_from_slice(format!("--q\r\n\r\npart {i}\r\n").as_bytes());
        }
        msg.extend_from_slice(format!("--q\r\n{inner}{after}").as_bytes());
        for (parts, recursion) in [(1, 1), (1, 17), (2, 17), (3, 17), (3, 1)] {
            let limits = Limits::default().max_parts(parts).max_recursion(recursion);
            let engine = Engine::builder().limits(limits).build().unwrap();
            let whole = engine.scan_bytes(&msg).unwrap();
            for chunk in [1, 16, msg.len()] {
                let session = engine.session().with_let_go_step(1);
                let (session, _) = feed_watching(session, &msg, chunk);
                assert_eq!(
                    session.finish().unwrap(),
                    whole,
                    "{before} {after:?} {parts} {recursion} {chunk}"
                );
            }
        }
    }
}

#[test]
fn a_nested_multipart_split_anywhere_and_let_go_of_at_any_step_reads_alike() {
    // Every split point in two, and every let-go step up to past the message: the session may let go of
    // the message anywhere past the nested part's start once its header block is copied, inside the copy
    // too (found by the corpus property test).
    let eicar = corpusgen::eicar();
    let cases = corpusgen::cases();
    let corpus = cases
        .iter()
        .find(|c| c.file.starts_with("infected-26"))
        .unwrap();
    // Past its parts allowed, too: a nested part of six parts, two allowed, EICAR in the fourth (found by
    // the message's own signatures) and a part of the message after it.
    let mut capped =
        b"Subject: c\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n\r\nhi\r\n\
        --q\r\nContent-Type: multipart/related; boundary=in\r\n\r\n"
            .to_vec();
    for i in 0..6 {
        capped.extend_from_slice(format!("--in\r\n\r\npart {i}\r\n").as_bytes());
        if i == 3 {
            capped.extend_from_slice(&eicar);
            capped.extend_from_slice(b"\r\n");
        }
    }
    capped.extend_from_slice(b"--in--\r\n--q\r\n\r\nbye\r\n--q--\r\n");
    let default = Engine::builder().build().unwrap();
    let two = Engine::builder()
        .limits(Limits::default().max_parts(2))
        .build()
        .unwrap();
    for (engine, msg) in [
        (&default, corpus.bytes.clone()),
        (
            &default,
            nested_attachment(&eicar, Some("n.txt"), true, true),
        ),
        (&default, nested_attachment(&eicar, None, false, false)),
        (&default, two_deep(&eicar)),
        (&two, capped),
    ] {
        let whole = engine.scan_bytes(&msg).unwrap();
        assert!(whole.is_infected(), "{whole:?}");
        for step in (1..40).chain([64, 128, 290, 512]) {
            for at in 0..=msg.len() {
                assert_eq!(
                    split_in_two(engine, &msg, at, step),
                    whole,
                    "step {step}, split at {at}"
                );
            }
        }
    }
}

#[test]
fn past_the_parts_allowed_a_session_lets_go_of_the_rest() {
    // Past the parts allowed the walk of the message splits off nothing more and reads no further, so the
    // session keeps only what the matching of the message itself reads: 4 MB of parts past the cap, with
    // EICAR among them in plain text, are not held, and the verdict is the whole message's (MaxParts, and
    // EICAR found by the message's own body signatures). The same inside a nested multipart: the session
    // keeps what the message's search for the delimiter that ends it reads.
    let eicar = corpusgen::eicar();
    let mut msg = b"Subject: many\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n".to_vec();
    for i in 0..2000 {
        msg.extend_from_slice(format!("--q\r\n\r\npart {i} ").as_bytes());
        msg.extend_from_slice(
            &noise(2000, i)
                .iter()
                .map(|b| b'a' + b % 26)
                .collect::<Vec<u8>>(),
        );
        if i == 1500 {
            msg.extend_from_slice(&eicar);
        }
        msg.extend_from_slice(b"\r\n");
    }
    msg.extend_from_slice(b"--q--\r\n");
    // One reading ends with a closing delimiter within the cap: its epilogue is read, and kept.
    let mut closed = msg.clone();
    closed.splice(
        100..100,
        b"--q\r\n\r\nfirst\r\n--q--\r\nepilogue\r\n".iter().copied(),
    );
    // The same parts inside a nested multipart, between two parts of the message.
    let body = &msg[msg.windows(5).position(|w| w == b"--q\r\n").unwrap()..];
    let inner = String::from_utf8_lossy(body).replace("--q", "--in");
    let nested = format!(
        "Subject: many\r\nContent-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n\r\nfirst\r\n--q\r\n\
         Content-Type: multipart/related; boundary=in\r\n\r\n{inner}--q\r\n\r\nlast\r\n--q--\r\n"
    )
    .into_bytes();
    for (msg, lets_go) in [(&msg, true), (&closed, false), (&nested, true)] {
        for parts in [2, 5, 100] {
            let engine = Engine::builder()
                .limits(Limits::default().max_parts(parts))
                .session_buffers(0)
                .build()
                .unwrap();
            let whole = engine.scan_bytes(msg).unwrap();
            let names: Vec<&str> = whole.detections().iter().map(|d| d.name()).collect();
            assert!(
                names.contains(&"Heuristics.Limits.Exceeded.MaxParts")
                    && names.contains(&"Eicar-Test-Signature"),
                "{names:?}"
            );
            for chunk in [4096, 65536] {
                let (session, most) = feed_watching(engine.session(), msg, chunk);
                if lets_go {
                    assert!(most < 256 << 10, "{parts} {chunk}: held {most}");
                }
                assert_eq!(session.finish().unwrap(), whole, "{parts} {chunk}");
            }
        }
    }
}

#[test]
fn multiparts_nested_deeper_than_followed_read_alike() {
    // Following a nested multipart as it arrives is recursive, so it stops at a fixed depth (32) whatever
    // the recursion limit: with the limit raised, 200 nested multiparts (no boundary the prefix of another)
    // are followed down to there and held below, and the message reads as the whole one does.
    let depth = 200;
    let mut msg = b"Subject: deep\r\nContent-Type: multipart/mixed; boundary=b0z\r\n\r\n".to_vec();
    for i in 1..=depth {
        msg.extend_from_slice(
            format!(
                "--b{}z\r\nContent-Type: multipart/mixed; boundary=b{i}z\r\n\r\n",
                i - 1
            )
            .as_bytes(),
        );
    }
    msg.extend_from_slice(
        format!("--b{depth}z\r\nContent-Transfer-Encoding: base64\r\n\r\n").as_bytes(),
    );
    msg.extend_from_slice(corpusgen::base64(&corpusgen::eicar()).as_bytes());
    msg.extend_from_slice(b"\r\n");
    for i in (0..=depth).rev() {
        msg.extend_from_slice(format!("--b{i}z--\r\n").as_bytes());
    }
    let engine = Engine::builder()
        .limits(Limits::default().max_recursion(1000))
        .build()
        .unwrap();
    let whole = engine.scan_bytes(&msg).unwrap();
    assert!(whole.is_infected(), "{whole:?}");
    for chunk in [1, 4096, 1 << 20] {
        let (session, _) = feed_watching(engine.session().with_let_go_step(1), &msg, chunk);
        assert_eq!(session.finish().unwrap(), whole, "{chunk}");
    }
}

/// Lines of prose of about `len` bytes, numbered so that no two are alike.
fn prose(len: usize) -> String {
    let mut out = String::new();
    let mut i = 0;
    while out.len() < len {
        out += &format!("Line {i} of a long letter, with nothing in it to decode.\r\n");
        i += 1;
    }
    out
}

#[test]
fn a_long_body_not_declared_base64_is_read_every_way_as_it_arrives() {
    // A body sent as is or as quoted-printable is read as declared, as base64 or quoted-printable when its
    // first 64 KiB look so, and as the uuencoded blocks it holds. A session decodes each reading as the body
    // arrives and lets go of the body; each row's test file is only in the reading named, past the first
    // 64 KiB, so only that reading finds it. Then the same body as a part of a multipart message.
    let eicar = corpusgen::eicar();
    let far = prose(300_000);
    let mut in_base64 = far.clone().into_bytes();
    in_base64.extend_from_slice(&eicar);
    in_base64.extend_from_slice(prose(100_000).as_bytes());
    let escapes = "Caf=C3=A9 =3D d=C3=A9j=C3=A0 vu\r\n";
    // 1.5 MB of binary with the test file in the middle: uuencoded, 2 MB held until the end before.
    let mut big = noise(750_000, 31);
    big.extend_from_slice(&eicar);
    big.extend_from_slice(&noise(750_000, 32));
    // The test file as is, and in quoted-printable after escapes that make the first 64 KiB look so.
    let plain = format!(
        "{far}{}\r\n{}",
        String::from_utf8_lossy(&eicar),
        prose(100_000)
    );
    let quoted = format!(
        "{escapes}{far}{}{}",
        corpusgen::quoted_printable(&eicar, 20),
        prose(100_000)
    );
    // (name, Content-Transfer-Encoding, body, where the test file is found if it is)
    let table: Vec<(&str, &str, String, Option<&str>)> = vec![
        ("as sent", "", plain.clone(), Some("")),
        (
            "as base64, not declared",
            "",
            format!("Hello Bob,\r\n{}", corpusgen::base64(&in_base64)),
            Some(" (as base64)"),
        ),
        (
            "as quoted-printable, not declared",
            "7bit",
            quoted.clone(),
            Some(" (as quoted-printable)"),
        ),
        (
            "declared quoted-printable",
            "quoted-printable",
            quoted.clone(),
            Some(""),
        ),
        (
            "declared quoted-printable, with nothing to decode",
            "quoted-printable",
            plain.clone(),
            Some(""),
        ),
        (
            "uuencoded far in",
            "",
            format!(
                "{far}{}{}",
                corpusgen::uuencode("t.com", &eicar),
                prose(100_000)
            ),
            Some(" (uuencoded \"t.com\")"),
        ),
        (
            "the same block twice, read once",
            "",
            format!(
                "{far}{}{}{}",
                corpusgen::uuencode("t.com", &eicar),
                prose(1000),
                corpusgen::uuencode("t.com", &eicar)
            ),
            Some(" (uuencoded \"t.com\")"),
        ),
        (
            "a large file uuencoded far in, decoded as it arrives",
            "",
            format!(
                "{far}{}{}",
                corpusgen::uuencode("big.bin", &big),
                prose(100_000)
            ),
            Some(" (uuencoded \"big.bin\")"),
        ),
        (
            "quoted-printable only past the first 64 KiB: not a reading",
            "",
            format!(
                "{far}{escapes}{}{}",
                corpusgen::quoted_printable(&eicar, 20),
                prose(100_000)
            ),
            None,
        ),
    ];
    let engine = Engine::builder().build().unwrap();
    for (name, cte, body, suffix) in &table {
        let cte = match cte.is_empty() {
            true => String::new(),
            false => format!("Content-Transfer-Encoding: {cte}\r\n"),
        };
        let alone = format!("Subject: t\r\nContent-Type: text/plain\r\n{cte}\r\n{body}");
        let part = format!(
            "Subject: t\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n{cte}\r\n{body}\r\n--b\r\nContent-Type: text/plain\r\n\r\nbye\r\n--b--\r\n"
        );
        for (msg, at) in [(alone, "message/body"), (part, "message/part[1]")] {
            let msg = msg.into_bytes();
            let whole = engine.scan_bytes(&msg).unwrap();
            let found = found_inside(&whole);
            let want: Vec<String> = suffix.iter().map(|s| format!("{at}{s}")).collect();
            assert_eq!(found, want, "{name}: {whole:?}");
            for chunk in [1000, 4096, 65536] {
                let (session, most) = feed_watching(engine.session(), &msg, chunk);
                assert_streamed(&session, most, msg.len(), &format!("{name} {at} {chunk}"));
                assert_eq!(session.finish().unwrap(), whole, "{name} {at} {chunk}");
            }
        }
    }
}

#[test]
fn a_long_file_sent_alone_is_scanned_as_a_file_not_read_as_a_body() {
    // A file with no header block (a 7z archive's first bytes, then bytes with a line end here and there)
    // is not a message: it is scanned as one file, held whole, never read as a message's body and let go of.
    let engine = Engine::builder().build().unwrap();
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let mut noise = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    };
    let mut file = b"7z\xbc\xaf\x27\x1c\x00\x04".to_vec();
    file.extend(noise(200_000));
    file.extend(corpusgen::eicar());
    file.extend(noise(200_000));
    let whole = engine.scan_bytes(&file).unwrap();
    assert_eq!(whole.bytes_scanned(), file.len() as u64);
    for chunk in [1000, 4096] {
        let session = engine.session().with_prescan_step(1).with_let_go_step(1);
        let (session, _) = feed_watching(session, &file, chunk);
        assert_eq!(session.finish().unwrap(), whole, "{chunk}");
    }
}

#[test]
fn a_long_body_whose_readings_the_limits_may_cut_is_held() {
    // What a reading may keep depends on the length of those before it (`max_scan_size` is shared), known
    // only at the end: under limits that could cut one, a body not declared base64 is held until it ends,
    // and read whole. Here the body as sent takes most of `max_scan_size`, so its base64 reading is cut
    // short of the test file.
    let mut data = prose(300_000).into_bytes();
    data.extend_from_slice(&corpusgen::eicar());
    data.extend_from_slice(prose(100_000).as_bytes());
    let msg = format!(
        "Subject: t\r\nContent-Type: text/plain\r\n\r\nHello Bob,\r\n{}",
        corpusgen::base64(&data)
    );
    let engine = Engine::builder()
        .limits(Limits::default().max_scan_size(700_000))
        .build()
        .unwrap();
    let whole = engine.scan_bytes(msg.as_bytes()).unwrap();
    assert!(
        whole
            .detections()
            .iter()
            .any(|d| d.name() == "Heuristics.Limits.Exceeded.MaxScanSize"),
        "{whole:?}"
    );
    for chunk in [1000, 4096, 65536] {
        let (session, most) = feed_watching(engine.session(), msg.as_bytes(), chunk);
        assert!(most > msg.len(), "{chunk}: held {most}");
        assert_eq!(session.finish().unwrap(), whole, "{chunk}");
    }
}

#[test]
fn a_long_body_declared_quoted_printable_that_decodes_to_nothing_is_read_as_sent() {
    // Soft line breaks and nothing else: the decoding is empty, so the walk reads the body as sent. A
    // session holds such a body until it has decoded a byte.
    let engine = Engine::builder().build().unwrap();
    for tail in ["", "and then words\r\n"] {
        let msg = format!(
            "Subject: t\r\nContent-Type: text/plain\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n{}{tail}",
            "=  \r\n".repeat(30_000)
        );
        let whole = engine.scan_bytes(msg.as_bytes()).unwrap();
        assert_eq!(whole.objects_scanned(), 2, "{whole:?}");
        for chunk in [1000, 4096] {
            let (session, _) = feed_watching(engine.session(), msg.as_bytes(), chunk);
            assert_eq!(session.finish().unwrap(), whole, "{tail:?} {chunk}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn reading_long_bodies_as_they_arrive_never_changes_a_verdict(
        lead in 0usize..100_000,
        segments in proptest::collection::vec((0u8..8, 1usize..500, any::<u64>()), 1..8),
        cte in 0usize..4,
        as_part in any::<bool>(),
        cuts in proptest::collection::vec(any::<usize>(), 0..30),
        step in 1usize..50_000,
    ) {
        // Bodies sent as is or declared quoted-printable, long enough (mostly) for a session to choose their
        // readings from the first 64 KiB and let go of the rest: text, quoted-printable escapes and soft
        // line breaks, base64 lines, uuencoded blocks (alike or not), lines that only start like one, and the
        // test file split by soft line breaks; signatures that hit everywhere.
        let mut body: Vec<u8> = noise(lead, 7).iter().map(|b| b"abc \r\n"[*b as usize % 6]).collect();
        for &(kind, n, seed) in &segments {
            let piece = match kind {
                0 => noise(n * 40, seed).iter().map(|b| b"abc \r\n"[*b as usize % 6]).collect(),
                1 => "a=3Db=3dc =41 d\r\n".repeat(n).into_bytes(),
                2 => "abc ab=\r\ncd=  \r\n".repeat(n).into_bytes(),
                3 => corpusgen::base64(&noise(n * 57, seed)).into_bytes(),
                4 => corpusgen::uuencode("u.txt", &noise(n % 40, seed % 2)).into_bytes(),
                5 => "begin here\r\nbegin 644\r\n".repeat(n).into_bytes(),
                6 => corpusgen::quoted_printable(&corpusgen::eicar(), 20).into_bytes(),
                _ => corpusgen::eicar(),
            };
            body.extend_from_slice(&piece);
        }
        let cte = ["", "7bit", "quoted-printable", "8bit"][cte];
        let head = format!("Content-Type: text/plain\r\nContent-Transfer-Encoding: {cte}\r\n\r\n");
        let mut msg = b"Subject: long\r\n".to_vec();
        if as_part {
            msg.extend_from_slice(b"Content-Type: multipart/mixed; boundary=q\r\n\r\n--q\r\n");
        }
        msg.extend_from_slice(head.as_bytes());
        msg.extend_from_slice(&body);
        if as_part {
            msg.extend_from_slice(b"\r\n--q\r\n\r\nlast\r\n--q--\r\n");
        }
        let engine = Engine::builder()
            .load_str("dense.ndb", DENSE_SIGNATURES)
            .unwrap()
            .load_str("dense.ldb", DENSE_LOGICAL)
            .unwrap()
            .with_default_database(true)
            .build()
            .unwrap();
        let whole = engine.scan_bytes(&msg).unwrap();
        let session = feed_split(engine.session().with_let_go_step(step), &msg, &cuts);
        prop_assert_eq!(session.finish().unwrap(), whole);
    }
}

/// A message that forwards `inner` as an attachment (`message/rfc822`), after a text part and followed by
/// one when `after`, the forwarded part named `f.eml` when `named`; `depth` times over (a forwarded message
/// that forwards the one before): what the `forwarded_session` fuzz target makes. The forwarded part's body
/// is `inner` exactly.
fn forwarding(inner: &[u8], named: bool, after: bool, depth: u8) -> Vec<u8> {
    let shape = (depth - 1) | if after { 4 } else { 0 } | if named { 8 } else { 0 };
    portcullis::fuzzing::forwarded_message(&[&[shape], inner].concat())
}

/// A message that is its own attachment: its body `data` in base64.
fn attachment_alone(data: &[u8]) -> Vec<u8> {
    let mut msg = b"Subject: alone\r\nContent-Type: application/octet-stream; name=\"a.bin\"\r\n\
        Content-Transfer-Encoding: base64\r\n\r\n"
        .to_vec();
    msg.extend_from_slice(corpusgen::base64(data).as_bytes());
    msg
}

#[test]
fn a_forwarded_message_is_matched_and_taken_apart_as_it_arrives() {
    // 4 MiB of binary with EICAR in the middle, attached to a message that is forwarded as an attachment:
    // the forwarded message is matched as mail as it arrives (a signature at its end, its hash), its parts
    // scanned as they complete and its attachment decoded and matched as it arrives, so the session holds
    // none of them; EICAR is known before the end; the verdict is the whole message's. The same with the
    // forwarded message's own body the attachment, named, at the end of the message, and two deep.
    let mut data = noise(2 << 20, 21);
    data.extend_from_slice(&corpusgen::eicar());
    data.extend_from_slice(&noise(2 << 20, 22));
    let multipart = one_attachment("big.bin", &data, true);
    let leaf = attachment_alone(&data);
    for (inner, name, after, depth) in [
        (&multipart, None, true, 1),
        (&multipart, Some("f.eml"), false, 1),
        (&leaf, None, true, 1),
        (&leaf, None, false, 2),
        (&multipart, None, true, 2),
    ] {
        // And over the forwarded message, matched as mail: its end and its hash.
        let (mut ndb, mut hdb) = attachment_signatures(&data, 3 << 20);
        ndb += &format!("Fwd.End:4:EOF-16:{}\n", hex(&inner[inner.len() - 16..]));
        hdb += &format!("{}:{}:Fwd.Hash\n", hex(&md5_of(inner)), inner.len());
        let engine = signed_engine(&ndb, &hdb);
        let msg = forwarding(inner, name.is_some(), after, depth);
        let case = format!("{name:?} after {after} depth {depth}");
        let whole = engine.scan_bytes(&msg).unwrap();
        let names: Vec<&str> = whole.detections().iter().map(|d| d.name()).collect();
        let want = [&ATTACHMENT_FOUND[..], &["Fwd.End", "Fwd.Hash"]].concat();
        assert_eq!(names, want, "{case}: {whole:?}");
        let suffix = name.map_or(String::new(), |n| format!(" \"{n}\""));
        let at = format!(
            "message{}",
            format!("/part[2]{suffix}/message").repeat(usize::from(depth))
        );
        assert_all_under(&whole, &at);
        streams_alike(&engine, &msg, &whole, inner == &multipart, &case);
    }
}

#[test]
fn a_forwarded_message_split_anywhere_and_let_go_of_at_any_step_reads_alike() {
    // Every split point in two and every let-go step: the session follows a forwarded message once the
    // line after its header block is the part's, admits it then, and lets go of it anywhere after. Small
    // messages of each shape, EICAR in base64 inside (found only when decoded), with the limits falling on
    // the forwarded message or inside it, and the forwarded message on the allow-list.
    let eicar = corpusgen::eicar();
    let b64 = corpusgen::base64(&eicar);
    let multipart = one_attachment("e.bin", &eicar, true);
    let leaf = attachment_alone(&eicar);
    let alternative = format!(
        "Subject: alt\r\nContent-Type: multipart/alternative; boundary=a\r\n\r\n--a\r\n\r\nplain\r\n\
         --a\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\
         --a--\r\n"
    )
    .into_bytes();
    let md5 = |b: &[u8]| hex(&md5_of(b));
    let default = Engine::builder().build().unwrap();
    let allowing = |inner: &[u8]| {
        Engine::builder()
            .load_str(
                "fwd.fp",
                &format!("{}:{}:Fwd.Allowed\n", md5(inner), inner.len()),
            )
            .unwrap()
            .build()
            .unwrap()
    };
    let limited = |limits: Limits| Engine::builder().limits(limits).build().unwrap();
    let mut cases: Vec<(String, Engine, Vec<u8>)> = Vec::new();
    for (what, inner) in [
        ("multipart", &multipart),
        ("leaf", &leaf),
        ("alternative", &alternative),
    ] {
        for depth in [1, 2] {
            cases.push((
                format!("{what} {depth}"),
                default.clone(),
                forwarding(inner, false, depth == 1, depth),
            ));
        }
        cases.push((
            format!("{what} allowed"),
            allowing(inner),
            forwarding(inner, true, true, 1),
        ));
        for (limit, limits) in [
            ("recursion 2", Limits::default().max_recursion(2)),
            ("recursion 3", Limits::default().max_recursion(3)),
            ("files 3", Limits::default().max_files(3)),
            ("files 4", Limits::default().max_files(4)),
            ("scan 60", Limits::default().max_scan_size(60)),
        ] {
            cases.push((
                format!("{what} {limit}"),
                limited(limits),
                forwarding(inner, false, true, 2),
            ));
        }
    }
    // A forwarded message whose header block ends where the part does (its blank line is the line break
    // before the delimiter), one without a blank line, one empty, one with one line of body; EICAR after.
    for body in ["Subject: x\r\n", "Subject: x", "", "Subject: x\r\n\r\nhi"] {
        let msg = format!(
            "Subject: fwd\r\nContent-Type: multipart/mixed; boundary=f0\r\n\r\n--f0\r\n\
             Content-Type: message/rfc822\r\n\r\n{body}\r\n--f0\r\n\
             Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n{b64}\
             --f0--\r\n"
        );
        cases.push((format!("{body:?}"), default.clone(), msg.into_bytes()));
    }
    for (case, engine, msg) in &cases {
        let whole = engine.scan_bytes(msg).unwrap();
        let limited = whole.detections().iter().any(|d| d.limit().is_some());
        let allowed = case.ends_with("allowed");
        assert!(
            allowed || limited || whole.is_infected(),
            "{case}: {whole:?}"
        );
        assert!(
            !allowed || whole.detections().is_empty(),
            "{case}: {whole:?}"
        );
        for step in (1..24).chain([64, 290]) {
            for at in 0..=msg.len() {
                assert_eq!(
                    split_in_two(engine, msg, at, step),
                    whole,
                    "{case}: step {step}, split at {at}"
                );
            }
        }
    }
}

#[test]
fn a_forwarded_header_block_that_never_ends_is_read_a_few_times() {
    // A forwarded message whose header block never ends (8 MB of fields) in 1 KiB chunks: the session reads
    // it for its end only when a blank line arrives or what it knows of it doubles, not with every chunk.
    let engine = Engine::builder().build().unwrap();
    let mut msg = b"Subject: f\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
        Content-Type: message/rfc822\r\n\r\n"
        .to_vec();
    for i in 0..(8 << 20) / 16 {
        msg.extend_from_slice(format!("X-H: {i:09}\r\n").as_bytes());
    }
    let (session, _) = feed_watching(engine.session(), &msg, 1024);
    assert_eq!(session.finish().unwrap(), engine.scan_bytes(&msg).unwrap());
}

#[test]
fn many_uuencoded_blocks_in_a_long_body_read_alike_whatever_their_number() {
    // Past the blocks matched as they arrive (four), the others are held decoded; a block like one before
    // it is read once, an empty one not at all, one cut by the end of the body to its end; the test file is
    // in the sixth, in the last, or in none. The verdict is the whole message's, and the session never holds
    // the message as sent.
    let eicar = corpusgen::eicar();
    let block = |seed: u64, with: bool| {
        let mut data = noise(120_000, seed);
        if with {
            data.extend_from_slice(&eicar);
        }
        data
    };
    let engine = Engine::builder().build().unwrap();
    for (case, last_open) in [(5, false), (7, true), (99, false)] {
        let mut body = prose(80_000);
        for i in 0..7u64 {
            body += &corpusgen::uuencode(&format!("b{i}.bin"), &block(i, i == case));
            body += &prose(2_000);
            if i == 2 {
                // The second again, and an empty block.
                body += &corpusgen::uuencode("b1.bin", &block(1, false));
                body += "begin 644 empty.bin\r\n`\r\nend\r\n";
            }
        }
        if last_open {
            let open = corpusgen::uuencode("open.bin", &block(50, true));
            body += open
                .trim_end()
                .trim_end_matches("end")
                .trim_end_matches("`\r\n");
        }
        let msg = format!("Subject: t\r\nContent-Type: text/plain\r\n\r\n{body}").into_bytes();
        let whole = engine.scan_bytes(&msg).unwrap();
        assert_eq!(
            whole.is_infected(),
            case != 99 || last_open,
            "{case}: {whole:?}"
        );
        for chunk in [4096, 65536] {
            let (session, most) = feed_watching(engine.session(), &msg, chunk);
            assert!(most < msg.len(), "{case} {chunk}: held {most}");
            assert_eq!(session.finish().unwrap(), whole, "{case} {chunk}");
        }
    }
}

#[test]
fn an_attachment_in_base64_on_one_unbroken_line_is_decoded_as_it_arrives() {
    // 3 MB of binary with EICAR in the middle, in base64 on one line of 4 MB (as some senders send it): a
    // session decodes the line stretch by stretch and lets go of it, as a part, as the message's own body,
    // inside a nested multipart and inside a forwarded message; with every signature form over the
    // attachment. A line that is not base64 far in is read as sent from the stretch that shows it (and held
    // from there), and so is a line that starts with "--" (no delimiter: the boundary does not follow, but
    // no base64 either). The verdict is the whole message's however it arrives.
    let mut data = noise(1_500_000, 41);
    data.extend_from_slice(&corpusgen::eicar());
    data.extend_from_slice(&noise(1_500_000, 42));
    let line = corpusgen::base64(&data).replace("\r\n", "");
    let (ndb, hdb) = attachment_signatures(&data, 2_000_000);
    let engine = signed_engine(&ndb, &hdb);
    let attachment = |body: &str| {
        format!(
            "Content-Type: application/octet-stream; name=\"a.bin\"\r\n\
             Content-Transfer-Encoding: base64\r\n\r\n{body}\r\n"
        )
    };
    let in_part = |body: &str| {
        format!(
            "Subject: one line\r\nContent-Type: multipart/mixed; boundary=\"b\"\r\n\r\n--b\r\n\r\nhi\r\n\
             --b\r\n{}--b\r\n\r\nbye\r\n--b--\r\n",
            attachment(body)
        )
    };
    // Text far in the line: the line is read as sent from that stretch on too.
    let mut odd = line.clone();
    odd.insert_str(3_000_000, " and some text");
    for (what, msg, bounded) in [
        ("a part", in_part(&line), true),
        (
            "the message's body",
            format!("Subject: alone\r\n{}", attachment(&line)),
            true,
        ),
        (
            "in a nested multipart",
            format!(
                "Subject: nested\r\nContent-Type: multipart/mixed; boundary=\"o\"\r\n\r\n--o\r\n\
                 Content-Type: multipart/related; boundary=\"b\"\r\n\r\n--b\r\n\r\nhi\r\n--b\r\n{}--b--\r\n\
                 --o--\r\n",
                attachment(&line)
            ),
            true,
        ),
        (
            "in a forwarded message",
            format!(
                "Subject: fwd\r\nContent-Type: multipart/mixed; boundary=\"o\"\r\n\r\n--o\r\n\
                 Content-Type: message/rfc822\r\n\r\n{}\r\n--o--\r\n",
                in_part(&line)
            ),
            true,
        ),
        // What follows the stretch that is not base64 is held as sent, for its other readings.
        ("text far in the line", in_part(&odd), false),
        (
            "a line that starts with --",
            in_part(&format!("--{line}")),
            false,
        ),
    ] {
        let msg = msg.into_bytes();
        let whole = engine.scan_bytes(&msg).unwrap();
        // The text far in decodes to more bytes: the attachment's hash and end no longer match.
        let names: Vec<&str> = whole.detections().iter().map(|d| d.name()).collect();
        let want: &[&str] = match what {
            "a line that starts with --" => &[],
            "text far in the line" => &["Att.Start", "Eicar-Test-Signature"],
            _ => &["Att.End", "Att.Hash", "Att.Middle", "Eicar-Test-Signature"],
        };
        assert!(want.iter().all(|w| names.contains(w)), "{what}: {whole:?}");
        for chunk in [4096, 65536] {
            let (session, most) = feed_watching(engine.session(), &msg, chunk);
            if bounded {
                assert!(most < 256 << 10, "{what} {chunk}: held {most}");
            }
            assert_eq!(session.finish().unwrap(), whole, "{what} {chunk}");
        }
        // Letting go at any step, the line split anywhere near a stretch's end.
        for step in [1, 290] {
            for at in [65_530, 65_536 + 200, 131_072 + 61] {
                assert_eq!(
                    split_in_two(&engine, &msg, at, step),
                    whole,
                    "{what} step {step} at {at}"
                );
            }
        }
    }
}

#[test]
fn a_long_line_full_of_boundaries_holds_no_delimiter() {
    // A line longer than a stretch that does not start with "--" is no delimiter line: the search for
    // delimiters passes over it as it arrives, and must not take a boundary inside it for the start of a
    // line wherever the search resumes, even one that ends the line as a delimiter would (split there).
    let engine = Engine::builder().build().unwrap();
    for line in [
        format!("x{}", "--b".repeat(100_000)),
        format!("x{}--b", "y".repeat(200_000)),
    ] {
        let msg = format!(
            "Subject: t\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n{line}\r\n--b\r\n\r\nlast\r\n--b--\r\n"
        );
        let msg = msg.as_bytes();
        let whole = engine.scan_bytes(msg).unwrap();
        assert!(whole.damage().is_empty(), "{whole:?}");
        // Chunks of several sizes, so that the search resumes at every place of the boundary's pattern,
        // and a split right at the last boundary of the line.
        let last = msg.len() - "--b\r\n--b\r\n\r\nlast\r\n--b--\r\n".len();
        for step in [1, 8192] {
            for chunk in (4090..4096).chain([1000, 65537]) {
                let session = engine.session().with_let_go_step(step);
                let (session, _) = feed_watching(session, msg, chunk);
                assert_eq!(session.finish().unwrap(), whole, "{chunk} {step}");
            }
            for at in last - 2..last + 3 {
                assert_eq!(
                    split_in_two(&engine, msg, at, step),
                    whole,
                    "split at {at}, step {step}"
                );
            }
        }
    }
}

#[test]
fn a_header_block_with_a_long_field_ends_at_its_blank_line() {
    // A field longer than a stretch in a part's header block, before the field that says the part is
    // base64: the header block is not taken as ended before its blank line, however the part arrives.
    let eicar = corpusgen::eicar();
    let mut data = noise(200_000, 51);
    data.extend_from_slice(&eicar);
    let msg = format!(
        "Subject: t\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\
         Content-Type: application/octet-stream\r\nX-Long: {}\r\nContent-Transfer-Encoding: base64\r\n\r\n\
         {}\r\n--b--\r\n",
        "z".repeat(100_000),
        corpusgen::base64(&data)
    );
    let msg = msg.as_bytes();
    let engine = Engine::builder().build().unwrap();
    let whole = engine.scan_bytes(msg).unwrap();
    assert!(whole.is_infected(), "{whole:?}");
    for chunk in [1000, 4096, 65536] {
        let (session, _) = feed_watching(engine.session(), msg, chunk);
        assert_eq!(session.finish().unwrap(), whole, "{chunk}");
    }
}

#[test]
fn a_long_text_body_on_one_line_is_read_as_it_arrives() {
    // A text body sent as one line of megabytes (minified HTML, a log): each reading takes the line's
    // stretches as they arrive, a quoted-printable one never inside an escape or soft line break, so the
    // session holds no more of it than of a body of short lines; the test file is where the row says. A
    // line that starts with "--" is no delimiter unless the boundary follows: outside a multipart, or in
    // one whose boundary it does not start with, it is read as it arrives too.
    let eicar = corpusgen::eicar();
    let words = "lorem ipsum dolor sit amet ".repeat(60_000);
    let escaped = "caf=C3=A9 =3D tr=E8s = bien ".repeat(60_000);
    let mut with_base64 = noise(1_000_000, 61);
    with_base64.extend_from_slice(&eicar);
    with_base64.extend_from_slice(&noise(500_000, 62));
    let b64 = corpusgen::base64(&with_base64).replace("\r\n", "");
    let eicar_text = String::from_utf8_lossy(&eicar).into_owned();
    // (name, Content-Transfer-Encoding, the line, where the test file is found)
    let table: Vec<(&str, &str, String, &str)> = vec![
        ("as sent", "", format!("{words}{eicar_text}{words}"), ""),
        (
            "as sent, starting with --",
            "",
            format!("-- {words}{eicar_text}{words}"),
            "",
        ),
        (
            "quoted-printable",
            "quoted-printable",
            format!(
                "{escaped}{}{escaped}",
                corpusgen::quoted_printable(&eicar, 1000).replace("=\r\n", "")
            ),
            "",
        ),
        ("base64, not declared", "", b64, " (as base64)"),
    ];
    let engine = Engine::builder().build().unwrap();
    for (name, cte, line, suffix) in &table {
        let cte = match cte.is_empty() {
            true => String::new(),
            false => format!("Content-Transfer-Encoding: {cte}\r\n"),
        };
        for (msg, at) in [
            (
                format!("Subject: t\r\nContent-Type: text/plain\r\n{cte}\r\n{line}\r\n"),
                "message/body",
            ),
            (
                format!(
                    "Subject: t\r\nContent-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n{cte}\r\n{line}\r\n--b\r\n\r\nbye\r\n--b--\r\n"
                ),
                "message/part[1]",
            ),
        ] {
            let msg = msg.into_bytes();
            let whole = engine.scan_bytes(&msg).unwrap();
            let found = found_inside(&whole);
            assert_eq!(found, [format!("{at}{suffix}")], "{name}: {whole:?}");
            for chunk in [1000, 4096, 65536] {
                let (session, most) = feed_watching(engine.session(), &msg, chunk);
                assert!(most < 256 << 10, "{name} {at} {chunk}: held {most}");
                assert_eq!(session.finish().unwrap(), whole, "{name} {at} {chunk}");
            }
            // Split at every place around the line's first stretches' ends, letting go at once.
            let start = msg
                .windows(64)
                .position(|w| w == &line.as_bytes()[..64])
                .unwrap();
            for k in [1, 2, 5] {
                for d in 0..6 {
                    let split = start + k * (64 << 10) + d - 3;
                    assert_eq!(
                        split_in_two(&engine, &msg, split, 1),
                        whole,
                        "{name} {at} split {split}"
                    );
                }
            }
        }
    }
}
