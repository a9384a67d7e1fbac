//! The parser of ClamAV's hex signature syntax, shared by `.ndb` and (later) `.ldb` subsignatures.
//!
//! | syntax | meaning |
//! |---|---|
//! | `4d5a` | exact bytes |
//! | `??` `a?` `?a` | any byte, high nibble, low nibble |
//! | `*` | any number of bytes |
//! | `{n}` `{-n}` `{n-}` `{n-m}` | exactly n, at most n, at least n, n to m bytes |
//! | `[n-m]` | n to m bytes, anchored to a single byte on one side |
//! | `(aa\|bbcc)` `!(aa\|bb)` | alternatives; a negated set matches anything of the same width but them |
//! | `(B)` `(L)` `(W)` | word boundary, line end, non-alphanumeric byte |

use crate::matcher::pattern::{Class, Elem, Part, Pattern};

/// The largest count accepted in `{}` and `[]`: beyond this a signature is refused as absurd.
const MAX_COUNT: u64 = 1 << 26;

/// Parses a hex signature into a pattern; the error says what is wrong and where.
pub(crate) fn parse(sig: &str) -> Result<Pattern, String> {
    let bytes = sig.as_bytes();
    let mut parts = Vec::new();
    let mut elems: Vec<Elem> = Vec::new();
    let mut gap_before = 0u32;
    let mut i = 0;
    let close_part = |elems: &mut Vec<Elem>, parts: &mut Vec<Part>, gap: u32, at: usize| {
        if !elems.iter().any(|e| !matches!(e, Elem::Gap { .. })) {
            return Err(format!("empty segment before position {at}"));
        }
        parts.push(Part::new(std::mem::take(elems), gap));
        Ok(())
    };
    while i < bytes.len() {
        match bytes[i] {
            b'*' => {
                close_part(&mut elems, &mut parts, gap_before, i)?;
                gap_before = 0;
                i += 1;
            }
            b'{' => {
                let end = find(bytes, i, b'}')?;
                let body = &sig[i + 1..end];
                match parse_range(body)? {
                    (min, Some(max)) => elems.push(Elem::Gap { min, max }),
                    (min, None) => {
                        close_part(&mut elems, &mut parts, gap_before, i)?;
                        gap_before = min;
                    }
                }
                i = end + 1;
            }
            b'[' => {
                let end = find(bytes, i, b']')?;
                let body = &sig[i + 1..end];
                match parse_range(body)? {
                    (min, Some(max)) if body.contains('-') => elems.push(Elem::Gap { min, max }),
                    _ => return Err(format!("[{body}] must be a range n-m")),
                }
                i = end + 1;
            }
            b'!' => {
                if bytes.get(i + 1) != Some(&b'(') {
                    return Err(format!("'!' at position {i} must be followed by '('"));
                }
                let end = find(bytes, i + 1, b')')?;
                elems.push(parse_alternatives(&sig[i + 2..end], true)?);
                i = end + 1;
            }
            b'(' => {
                let end = find(bytes, i, b')')?;
                let body = &sig[i + 1..end];
                elems.push(match body {
                    "B" => Elem::Class(Class::Boundary),
                    "L" => Elem::Class(Class::Line),
                    "W" => Elem::Class(Class::NonAlnum),
                    _ => parse_alternatives(body, false)?,
                });
                i = end + 1;
            }
            _ => {
                let pair = bytes
                    .get(i..i + 2)
                    .ok_or_else(|| format!("odd number of hex digits at position {i}"))?;
                elems.push(parse_byte(pair).ok_or_else(|| {
                    format!(
                        "invalid hex byte '{}' at position {i}",
                        String::from_utf8_lossy(pair)
                    )
                })?);
                i += 2;
            }
        }
    }
    close_part(&mut elems, &mut parts, gap_before, sig.len())?;
    Ok(Pattern { parts })
}

fn find(bytes: &[u8], from: usize, close: u8) -> Result<usize, String> {
    memchr::memchr(close, &bytes[from..])
        .map(|k| from + k)
        .ok_or_else(|| format!("unclosed '{}' at position {from}", bytes[from] as char))
}

fn hex_val(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|d| d as u8)
}

fn parse_byte(pair: &[u8]) -> Option<Elem> {
    let (hi, lo) = (pair[0], pair[1]);
    match (hi, lo) {
        (b'?', b'?') => Some(Elem::Byte { value: 0, mask: 0 }),
        (b'?', l) => Some(Elem::Byte {
            value: hex_val(l)?,
            mask: 0x0F,
        }),
        (h, b'?') => Some(Elem::Byte {
            value: hex_val(h)? << 4,
            mask: 0xF0,
        }),
        (h, l) => Some(Elem::Byte {
            value: hex_val(h)? << 4 | hex_val(l)?,
            mask: 0xFF,
        }),
    }
}

fn parse_count(s: &str) -> Result<u32, String> {
    let n: u64 = s
        .trim()
        .parse()
        .map_err(|_| format!("'{s}' is not a number"))?;
    if n > MAX_COUNT {
        return Err(format!("count {n} is larger than {MAX_COUNT}"));
    }
    Ok(n as u32)
}

/// `n`, `-n`, `n-`, `n-m`; `None` as the maximum means unbounded.
fn parse_range(body: &str) -> Result<(u32, Option<u32>), String> {
    let range = match body.split_once('-') {
        None => {
            let n = parse_count(body)?;
            (n, Some(n))
        }
        Some(("", max)) => (0, Some(parse_count(max)?)),
        Some((min, "")) => (parse_count(min)?, None),
        Some((min, max)) => (parse_count(min)?, Some(parse_count(max)?)),
    };
    if let (min, Some(max)) = range
        && min > max
    {
        return Err(format!(
            "range {{{body}}} has its minimum above its maximum"
        ));
    }
    Ok(range)
}

fn parse_alternatives(body: &str, negated: bool) -> Result<Elem, String> {
    let mut alts = Vec::new();
    for alt in body.split('|') {
        let b = alt.as_bytes();
        if b.is_empty() || b.len() % 2 != 0 {
            return Err(format!(
                "alternative '{alt}' is not a whole number of hex bytes"
            ));
        }
        let mut seq = Vec::with_capacity(b.len() / 2);
        for pair in b.chunks(2) {
            match parse_byte(pair) {
                Some(Elem::Byte { value, mask }) => seq.push((value, mask)),
                _ => return Err(format!("invalid hex in alternative '{alt}'")),
            }
        }
        alts.push(seq);
    }
    if negated && alts.iter().any(|a| a.len() != alts[0].len()) {
        return Err(format!(
            "negated alternatives !({body}) must all have the same width"
        ));
    }
    Ok(Elem::Alt { alts, negated })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matcher::pattern::Scratch;

    /// Does the pattern match anywhere in `data` (checked by brute force over every start)?
    fn matches(sig: &str, data: &[u8]) -> bool {
        let pattern = parse(sig).unwrap_or_else(|e| panic!("{sig}: {e}"));
        let mut scratch = Scratch::default();
        let mut from = 0usize;
        for (k, part) in pattern.parts.iter().enumerate() {
            let gap = if k == 0 {
                0
            } else {
                part.min_gap_before as usize
            };
            let mut best: Option<usize> = None;
            for start in from + gap..=data.len() {
                if let Some(end) = part.verify_from(data, start, &mut scratch) {
                    best = Some(best.map_or(end, |b: usize| b.min(end)));
                    break;
                }
            }
            match best {
                Some(end) => from = end,
                None => return false,
            }
        }
        true
    }

    #[test]
    fn hex_syntax_table() {
        let table: &[(&str, &[u8], bool)] = &[
            ("414243", b"xxABCxx", true),
            ("414243", b"xxABxCx", false),
            ("41??43", b"AzC", true),
            ("414?43", b"AOC", true),
            ("414?43", b"A_C", false),
            ("41?343", b"ABC", false),
            ("41?243", b"A\"C", true),
            ("4142*4344", b"AB.......CD", true),
            ("4142*4344", b"CD...AB", false),
            ("4142{2}4344", b"ABxxCD", true),
            ("4142{2}4344", b"ABxCD", false),
            ("4142{-2}4344", b"ABCD", true),
            ("4142{-2}4344", b"ABxxxCD", false),
            ("4142{2-}4344", b"ABxxxxxxCD", true),
            ("4142{2-}4344", b"ABxCD", false),
            ("4142{1-3}4344", b"ABxxCD", true),
            ("4142{1-3}4344", b"ABxxxxCD", false),
            ("414243[1-2]44", b"ABCxD", true),
            ("414243[1-2]44", b"ABCxxxD", false),
            ("41(42|4344)45", b"ACDE", true),
            ("41(42|4344)45", b"ABE", true),
            ("41(42|4344)45", b"ACE", false),
            ("41!(42|43)44", b"AXD", true),
            ("41!(42|43)44", b"ABD", false),
            ("(B)636174(B)", b"a cat!", true),
            ("(B)636174(B)", b"cat", true),
            ("(B)636174(B)", b"concat", false),
            ("616263(L)646566", b"abc\r\ndef", true),
            ("616263(L)646566", b"abc\ndef", true),
            ("616263(L)646566", b"abc def", false),
            ("6162(W)6364", b"ab.cd", true),
            ("6162(W)6364", b"abxcd", false),
            ("4142*4344*4546", b"AB CD EF", true),
            ("4142*4344*4546", b"AB EF CD", false),
            ("41{0-0}42", b"AB", true),
        ];
        for (sig, data, want) in table {
            assert_eq!(
                matches(sig, data),
                *want,
                "{sig} on {:?}",
                String::from_utf8_lossy(data)
            );
        }
    }

    #[test]
    fn malformed_hex_is_refused() {
        let table = [
            ("41424", "odd number"),
            ("41zz", "invalid hex"),
            ("41{2", "unclosed"),
            ("41{3-2}42", "minimum above"),
            ("41{x}42", "not a number"),
            ("*4142", "empty segment"),
            ("4142*", "empty segment"),
            ("41**42", "empty segment"),
            ("41!(42|4344)45", "same width"),
            ("41(4|42)", "whole number"),
            ("41{99999999999}42", "larger than"),
            ("41[3]42", "must be a range"),
            ("41!42", "followed by"),
            ("", "empty segment"),
        ];
        for (sig, want) in table {
            let err = parse(sig).expect_err(sig);
            assert!(err.contains(want), "{sig}: got '{err}', want '{want}'");
        }
    }

    #[test]
    fn unbounded_gaps_split_parts() {
        let p = parse("4142*4344{5-}4546").unwrap();
        assert_eq!(p.parts.len(), 3);
        assert_eq!(p.parts[1].min_gap_before, 0);
        assert_eq!(p.parts[2].min_gap_before, 5);
        assert_eq!(p.parts[0].min_width(), 2);
    }

    #[test]
    fn atoms_prefer_long_rare_runs() {
        let p = parse("00??41424344454647(11|22)0000").unwrap();
        assert_eq!(p.parts[0].atom_bytes().unwrap(), b"ABCDEFG".to_vec());
        let p = parse("??a?").unwrap();
        assert_eq!(p.parts[0].atom, None);
    }
}
