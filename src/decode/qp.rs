//! Quoted-printable (RFC 2045), leniently: `=XX` in either case, soft line breaks with trailing blanks, and
//! a stray `=` kept as it is.

pub(crate) fn decode(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    decode_into(input, &mut out);
    out
}

/// [`decode`], appending to `out`. Decoding whole lines one piece at a time gives what decoding them at once
/// does: nothing it reads spans a line end.
pub(crate) fn decode_into(input: &[u8], out: &mut Vec<u8>) {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut i = 0;
    while i < input.len() {
        // The bytes up to the next '=' are copied as they are, in one piece.
        let plain = memchr::memchr(b'=', &input[i..]).unwrap_or(input.len() - i);
        out.extend_from_slice(&input[i..i + plain]);
        i += plain;
        if i == input.len() {
            break;
        }
        if let (Some(h), Some(l)) = (
            input.get(i + 1).copied().and_then(hex),
            input.get(i + 2).copied().and_then(hex),
        ) {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        // A soft line break: '=' then optional blanks then the line end.
        let mut j = i + 1;
        while j < input.len() && matches!(input[j], b' ' | b'\t') {
            j += 1;
        }
        match input.get(j) {
            Some(b'\n') => i = j + 1,
            Some(b'\r') if input.get(j + 1) == Some(&b'\n') => i = j + 2,
            Some(b'\r') => i = j + 1,
            None => i = j,
            _ => {
                out.push(b'=');
                i += 1;
            }
        }
    }
}

/// How much of `piece`, a stretch of a line (no line break in it, and more of the line to come), decodes
/// apart from what follows it: all of it but from a `=` that the bytes after it may still make an escape
/// or a soft line break (fewer than two bytes after it, or only blanks), the last one and, once cut there,
/// the one before.
pub(crate) fn cut_within_line(piece: &[u8]) -> usize {
    let mut end = piece.len();
    while let Some(at) = memchr::memrchr(b'=', &piece[..end]) {
        let tail = &piece[at + 1..end];
        if tail.len() >= 2 && !tail.iter().all(|b| matches!(b, b' ' | b'\t' | b'\r')) {
            break;
        }
        end = at;
    }
    end
}

/// Whether a body is plausibly quoted-printable though not declared so: soft line breaks, or several
/// `=XX` escapes.
pub(crate) fn looks_like(body: &[u8]) -> bool {
    let soft = memchr::memmem::find_iter(body, b"=\n").count();
    let escapes = memchr::memchr_iter(b'=', body)
        .filter(|&i| {
            body.get(i + 1..i + 3).is_some_and(|h| {
                h.iter()
                    .all(|c| c.is_ascii_digit() || (b'A'..=b'F').contains(c))
            })
        })
        .count();
    soft >= 1 || escapes >= 3
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lenient_qp_table() {
        let table: &[(&str, &[u8])] = &[
            ("plain", b"plain"),
            ("a=3Db", b"a=b"),
            ("a=3db", b"a=b"),
            ("soft=\r\nbreak", b"softbreak"),
            ("soft=  \r\nbreak", b"softbreak"),
            ("soft=\nbreak", b"softbreak"),
            ("stray = sign", b"stray = sign"),
            ("bad=ZZ", b"bad=ZZ"),
            ("end=", b"end"),
            ("caf=C3=A9", "café".as_bytes()),
        ];
        for (input, want) in table {
            assert_eq!(decode(input.as_bytes()), *want, "{input}");
        }
        // Whole lines decoded one at a time (how a session decodes a body as it arrives) decode as the text
        // does at once, and so do pieces of several lines.
        let text: String = table
            .iter()
            .map(|(i, _)| format!("{i}=\r\n{i}\r\n"))
            .collect();
        let lines: Vec<&str> = text.split_inclusive('\n').collect();
        for per in 1..=3 {
            let mut out = Vec::new();
            for piece in lines.chunks(per) {
                decode_into(piece.concat().as_bytes(), &mut out);
            }
            assert_eq!(out, decode(text.as_bytes()), "{per} lines a piece");
        }
    }

    proptest::proptest! {
        #[test]
        fn a_line_cut_where_it_may_be_decodes_as_it_does_whole(
            line in "[a-c=0-9A-F \t\r]{0,40}",
            rest in "[a-c=0-9A-F \t\r]{0,10}(\r?\n)?",
            at in 0usize..40,
        ) {
            // A stretch of a line (no line break in it), cut where `cut_within_line` says: what it decodes
            // to, then what the rest does, is what the whole decodes to.
            let whole = format!("{line}{rest}");
            let piece = &line.as_bytes()[..at.min(line.len())];
            let cut = cut_within_line(piece);
            let mut out = decode(&piece[..cut]);
            decode_into(&whole.as_bytes()[cut..], &mut out);
            proptest::prop_assert_eq!(out, decode(whole.as_bytes()));
        }
    }
}
