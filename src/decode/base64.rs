//! Base64 (RFC 2045), leniently: characters outside the alphabet are skipped and counted, padding may be
//! missing or appear mid-stream (concatenated blocks), and the URL-safe `-` `_` are accepted too.

/// The decoded bytes and how many characters had to be skipped.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Decoded {
    pub(crate) data: Vec<u8>,
    pub(crate) invalid: usize,
}

const INVALID: u8 = 0xFF;
const TABLE: [u8; 256] = {
    let mut t = [INVALID; 256];
    let mut i = 0;
    while i < 26 {
        t[b'A' as usize + i] = i as u8;
        t[b'a' as usize + i] = 26 + i as u8;
        i += 1;
    }
    let mut d = 0;
    while d < 10 {
        t[b'0' as usize + d] = 52 + d as u8;
        d += 1;
    }
    t[b'+' as usize] = 62;
    t[b'/' as usize] = 63;
    t[b'-' as usize] = 62;
    t[b'_' as usize] = 63;
    t
};

pub(crate) fn decode(input: &[u8]) -> Decoded {
    let mut data = Vec::with_capacity(input.len() / 4 * 3 + 3);
    let mut invalid = 0;
    let mut acc: u32 = 0;
    let mut n = 0;
    let flush = |acc: u32, n: usize, data: &mut Vec<u8>| match n {
        2 => data.push((acc >> 4) as u8),
        3 => {
            data.push((acc >> 10) as u8);
            data.push((acc >> 2) as u8);
        }
        _ => {}
    };
    for &c in input {
        let v = TABLE[c as usize];
        if v == INVALID {
            match c {
                b'=' => {
                    flush(acc, n, &mut data);
                    acc = 0;
                    n = 0;
                }
                b' ' | b'\t' | b'\r' | b'\n' => {}
                _ => invalid += 1,
            }
            continue;
        }
        acc = acc << 6 | v as u32;
        n += 1;
        if n == 4 {
            data.extend_from_slice(&[(acc >> 16) as u8, (acc >> 8) as u8, acc as u8]);
            acc = 0;
            n = 0;
        }
    }
    flush(acc, n, &mut data);
    if n == 1 {
        invalid += 1;
    }
    Decoded { data, invalid }
}

/// Whether a body is plausibly base64 even when not declared so: long enough, and nearly every
/// non-blank character in the alphabet, in lines without inner spaces.
pub(crate) fn looks_like(body: &[u8]) -> bool {
    let mut alphabet = 0usize;
    let mut other = 0usize;
    for &c in body {
        match c {
            b'\r' | b'\n' => {}
            b'=' => alphabet += 1,
            _ if TABLE[c as usize] != INVALID && c != b'-' && c != b'_' => alphabet += 1,
            _ => other += 1,
        }
    }
    alphabet >= 16 && other * 100 <= alphabet
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_base64_table() {
        let table: &[(&str, &[u8], usize)] = &[
            ("aGVsbG8=", b"hello", 0),
            ("aGVsbG8", b"hello", 0),
            ("aGVs\r\nbG8=\r\n", b"hello", 0),
            ("aGV*sb!G8=", b"hello", 2),
            ("aGk=aGk=", b"hihi", 0),
            ("aGk=\r\naGk", b"hihi", 0),
            ("YQ", b"a", 0),
            ("Y", b"", 1),
            ("", b"", 0),
            ("_-8=", &[0xff, 0xef], 0),
        ];
        for (input, want, invalid) in table {
            let d = decode(input.as_bytes());
            assert_eq!((&d.data[..], d.invalid), (*want, *invalid), "{input}");
        }
    }

    #[test]
    fn sniffing() {
        assert!(looks_like(
            b"TWFueSBoYW5kcyBtYWtlIGxpZ2h0IHdvcmsu\r\nTWFueSBoYW5kcw==\r\n"
        ));
        assert!(!looks_like(b"Hello there, this is a plain letter.\r\n"));
        assert!(!looks_like(b"abc"));
    }
}
