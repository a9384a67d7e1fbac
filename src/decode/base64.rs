//! Base64 (RFC 2045), leniently: characters outside the alphabet are skipped and counted, padding may be
//! missing or appear mid-stream (concatenated blocks), and the URL-safe `-` `_` are accepted too.

/// The decoded bytes and how many characters had to be skipped.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Decoded {
    pub(crate) data: Vec<u8>,
    pub(crate) invalid: usize,
    /// What [`looks_like`] says of the input, counted on the way.
    pub(crate) shaped: bool,
    /// Where the input's first line that is not base64 starts (see `is_base64_line`), or its length; in a
    /// line longer than [`LONG_LINE`], where the stretch of it that makes it so starts.
    pub(crate) text_from: usize,
}

/// A line of base64 is judged in stretches of this many bytes from its start: a line that is not base64
/// is read as sent from the start of the stretch that shows it (for a line shorter than this, its start).
/// So a session need not hold a body sent as one unbroken line of base64 until that line ends.
pub(crate) const LONG_LINE: usize = 64 << 10;

/// Where the text read as sent starts when the byte at `at` makes the line that starts at `line_start` one
/// that is not base64: the start of its stretch ([`LONG_LINE`]).
fn stretch_start(line_start: usize, at: usize) -> usize {
    line_start + (at - line_start) / LONG_LINE * LONG_LINE
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
    let mut decoder = Decoder::default();
    decoder.feed(input, &mut data);
    let text_from = decoder.first_odd_line().unwrap_or(input.len());
    let (invalid, shaped) = decoder.finish(&mut data);
    Decoded {
        data,
        invalid,
        shaped,
        text_from,
    }
}

/// [`decode`] a piece at a time: the input may be split anywhere, and the output is the same as for the
/// whole (a session decodes a part of a message as it arrives).
#[derive(Clone, Debug, Default)]
pub(crate) struct Decoder {
    acc: u32,
    n: usize,
    invalid: usize,
    /// The counts of `looks_like`: the standard alphabet and '=', and everything but line ends.
    alphabet: usize,
    other: usize,
    /// Bytes fed so far, where the current line starts, whether it has had a blank that may be inner, and
    /// the first line that is not base64 (see `is_base64_line`).
    pos: usize,
    line_start: usize,
    blank: bool,
    odd_line: Option<usize>,
}

impl Decoder {
    /// Where the first line fed that is not base64 (see `is_base64_line`) starts, once one has had a byte
    /// that makes it so.
    pub(crate) fn first_odd_line(&self) -> Option<usize> {
        self.odd_line
    }

    /// Decodes the next piece of the input, appending to `data`.
    pub(crate) fn feed(&mut self, input: &[u8], data: &mut Vec<u8>) {
        let Decoder {
            mut acc,
            mut n,
            mut invalid,
            mut alphabet,
            mut other,
            pos,
            mut line_start,
            mut blank,
            mut odd_line,
        } = *self;
        // A blank run that reached the end of the last piece: what follows it on its line decides.
        if blank {
            blank = resolve_blank(input, pos, line_start, &mut odd_line).is_none();
        }
        // Blanks already known to be followed on their line by nothing but blanks, up to this index.
        let mut blanks_until = 0;
        let mut i = 0;
        while i < input.len() {
            // Fast path: a whole quantum of the standard alphabet at a quantum boundary (most of any real
            // body).
            if n == 0
                && let Some(&[a, b, c, d]) = input.get(i..i + 4)
            {
                let (a, b, c, d) = (
                    STRICT[a as usize],
                    STRICT[b as usize],
                    STRICT[c as usize],
                    STRICT[d as usize],
                );
                if (a | b | c | d) & 0xC0 == 0 {
                    alphabet += 4;
                    let v =
                        u32::from(a) << 18 | u32::from(b) << 12 | u32::from(c) << 6 | u32::from(d);
                    data.extend_from_slice(&[(v >> 16) as u8, (v >> 8) as u8, v as u8]);
                    i += 4;
                    continue;
                }
            }
            let c = input[i];
            i += 1;
            // Lines: a byte outside the alphabet, `=` and line ends, or anything but blanks after a blank,
            // makes the line one that is not base64. A blank looks ahead on its line (once per run of them),
            // so that the fast path above need not carry a state of its own.
            match c {
                b'\n' => line_start = pos + i,
                b' ' | b'\t' if odd_line.is_none() && i > blanks_until => {
                    match resolve_blank(&input[i..], pos + i, line_start, &mut odd_line) {
                        Some(end) => blanks_until = i + end,
                        None => {
                            blank = true;
                            blanks_until = input.len();
                        }
                    }
                }
                b' ' | b'\t' | b'\r' => {}
                _ if OTHER[c as usize] != 0 => {
                    odd_line = odd_line.or(Some(stretch_start(line_start, pos + i - 1)));
                }
                _ => {}
            }
            match OTHER[c as usize] {
                0 if c != b'\r' && c != b'\n' => alphabet += 1,
                0 => {}
                _ => other += 1,
            }
            let v = TABLE[c as usize];
            if v == INVALID {
                match c {
                    b'=' => {
                        flush(acc, n, data);
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
        *self = Decoder {
            acc,
            n,
            invalid,
            alphabet,
            other,
            pos: pos + input.len(),
            line_start,
            blank,
            odd_line,
        };
    }

    /// Ends the input: appends what its last quantum holds; returns how many characters were skipped,
    /// and whether the input looks like base64 ([`looks_like`]).
    pub(crate) fn finish(self, data: &mut Vec<u8>) -> (usize, bool) {
        flush(self.acc, self.n, data);
        let invalid = self.invalid + usize::from(self.n == 1);
        (invalid, shaped(self.alphabet, self.other))
    }
}

/// After a blank on the line that started at `line_start`: looks at `rest` (at `rest_pos` in the input),
/// what follows it, for the next byte that is not a blank; notes the line as odd if that byte is on the same
/// line (from that byte's stretch, see [`LONG_LINE`]). Returns where that byte is in `rest`, or `None` if
/// `rest` has only blanks (the next piece decides). Out of line: blanks are rare in base64.
#[cold]
#[inline(never)]
fn resolve_blank(
    rest: &[u8],
    rest_pos: usize,
    line_start: usize,
    odd_line: &mut Option<usize>,
) -> Option<usize> {
    let at = rest
        .iter()
        .position(|&b| !matches!(b, b' ' | b'\t' | b'\r'))?;
    if rest[at] != b'\n' {
        *odd_line = odd_line.or(Some(stretch_start(line_start, rest_pos + at)));
    }
    Some(at)
}

/// Appends what a partial quantum of `n` characters holds.
fn flush(acc: u32, n: usize, data: &mut Vec<u8>) {
    match n {
        2 => data.push((acc >> 4) as u8),
        3 => {
            data.push((acc >> 10) as u8);
            data.push((acc >> 2) as u8);
        }
        _ => {}
    }
}

/// Whether a line (without its line end) is base64 and nothing else: the standard alphabet and `=`, then
/// perhaps blanks. A body declared base64 is also read as sent from its first line that is not; the decoder
/// finds it on the way ([`Decoder::first_odd_line`]), and this is what it must agree with.
#[cfg(test)]
fn is_base64_line(line: &[u8]) -> bool {
    let end = line
        .iter()
        .rposition(|&b| !matches!(b, b' ' | b'\t' | b'\r'))
        .map_or(0, |p| p + 1);
    line[..end].iter().all(|&c| OTHER[c as usize] == 0)
}

fn shaped(alphabet: usize, other: usize) -> bool {
    alphabet >= 16 && other * 100 <= alphabet
}

/// The standard alphabet only (`-` and `_` left to the slow path, which counts them as `looks_like` does).
const STRICT: [u8; 256] = {
    let mut t = TABLE;
    t[b'-' as usize] = INVALID;
    t[b'_' as usize] = INVALID;
    t
};

/// Whether a body is plausibly base64 even when not declared so: long enough, and nearly every
/// non-blank character in the alphabet, in lines without inner spaces.
pub(crate) fn looks_like(body: &[u8]) -> bool {
    // Two branch-free passes (a table sum and a vectorised count) instead of a match per byte: every text
    // body of every message goes through here.
    let other: usize = body.iter().map(|&c| usize::from(OTHER[c as usize])).sum();
    let line_ends = body.iter().filter(|&&c| c == b'\r' || c == b'\n').count();
    shaped(body.len() - other - line_ends, other)
}

/// 1 for the bytes that are neither in the standard base64 alphabet, nor `=`, nor a line end.
const OTHER: [u8; 256] = {
    let mut t = [1u8; 256];
    let mut c = 0;
    while c < 256 {
        let b = c as u8;
        if b == b'\r' || b == b'\n' || b == b'=' || (TABLE[c] != INVALID && b != b'-' && b != b'_')
        {
            t[c] = 0;
        }
        c += 1;
    }
    t
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_base64_table() {
        let table: &[(&str, &[u8], usize)] = &[
            ("aGVsbG8=", b"hello", 0),
            ("aGVs-G8=", &[0x68, 0x65, 0x6c, 0xf8, 0x6f], 0),
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
            assert_eq!(d.shaped, looks_like(input.as_bytes()), "{input}");
        }
    }

    /// `len` pseudo-random bytes (xorshift on `state`), from `common` `odds.0` times in `odds.1`, else from
    /// `rare`.
    fn mixed(state: &mut u64, len: usize, common: &[u8], rare: &[u8], odds: (u64, u64)) -> Vec<u8> {
        (0..len)
            .map(|_| {
                *state ^= *state << 13;
                *state ^= *state >> 7;
                *state ^= *state << 17;
                let from = if *state % odds.1 < odds.0 {
                    common
                } else {
                    rare
                };
                from[(*state >> 8) as usize % from.len()]
            })
            .collect()
    }

    #[test]
    fn decoding_counts_what_sniffing_counts() {
        let mut state = 7u64;
        for len in 0..400 {
            // Mostly alphabet, sometimes anything from the list.
            let rare = b"ABCabc+/=-_ \t\r\n*%\x00\xff";
            let input = mixed(&mut state, len, b"QUJDREVGR0hJSktM", rare, (8, 10));
            assert_eq!(decode(&input).shaped, looks_like(&input), "{input:?}");
        }
    }

    /// Where the text read as sent starts, line by line: the first line that is not base64, from the stretch
    /// of it that holds the first byte that makes it so (a byte outside the alphabet, `=` and blanks, or
    /// one after a blank).
    fn text_from(input: &[u8]) -> usize {
        let mut start = 0;
        for line in input.split(|&b| b == b'\n') {
            if !is_base64_line(line) {
                let blank = |b: u8| matches!(b, b' ' | b'\t');
                let after_blank = line.iter().position(|&b| blank(b)).and_then(|first| {
                    (first..line.len()).find(|&k| !matches!(line[k], b' ' | b'\t' | b'\r'))
                });
                let other = line
                    .iter()
                    .position(|&b| OTHER[b as usize] != 0 && !blank(b));
                let at = [after_blank, other]
                    .into_iter()
                    .flatten()
                    .min()
                    .unwrap_or(0);
                return start + at / LONG_LINE * LONG_LINE;
            }
            start += line.len() + 1;
        }
        input.len()
    }

    #[test]
    fn an_odd_stretch_of_a_long_line_is_found_while_decoding() {
        // Lines of base64 longer than a stretch, with what makes them odd in their first stretch, at the
        // end of one, at the start of the next, after a blank that ends one: whole and in pieces.
        let long = |n: usize| "QUJD".repeat(n / 4);
        let cases = [
            format!("{}*{}\n", long(100), long(LONG_LINE)),
            format!("{}*\n", long(LONG_LINE - 4) + "QUJ"),
            format!("{}*{}", long(LONG_LINE), long(300)),
            format!("QUJD\n{}  x{}", long(LONG_LINE - 4), long(10)),
            format!(
                "{} \t\r\n{}\nQU JD",
                long(3 * LONG_LINE),
                long(LONG_LINE + 8)
            ),
        ];
        for input in cases {
            let input = input.as_bytes();
            let want = text_from(input);
            assert_eq!(decode(input).text_from, want, "{}", input.len());
            for piece in [1usize, 7, 4096, LONG_LINE - 1] {
                let mut d = Decoder::default();
                let mut out = Vec::new();
                for p in input.chunks(piece) {
                    d.feed(p, &mut out);
                }
                assert_eq!(d.first_odd_line().unwrap_or(input.len()), want, "{piece}");
            }
        }
    }

    #[test]
    fn the_first_odd_line_is_found_while_decoding() {
        let mut state = 11u64;
        for len in 0..600 {
            let rare = b"QUJDREVGR0hJSktM= \t\r\n*-";
            let input = mixed(&mut state, len, b"QUJDREVGR0hJSktM\n", rare, (17, 20));
            let want = text_from(&input);
            assert_eq!(
                decode(&input).text_from,
                want,
                "{:?}",
                String::from_utf8_lossy(&input)
            );
            // In pieces, the same.
            let mut d = Decoder::default();
            let mut out = Vec::new();
            for piece in input.chunks(7) {
                d.feed(piece, &mut out);
            }
            assert_eq!(d.first_odd_line().unwrap_or(input.len()), want);
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
