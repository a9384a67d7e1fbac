//! uuencode blocks (`begin 644 name` ... `end`), found anywhere in a body, decoded leniently: short lines
//! are padded, a missing `end` ends the block at the first line that is not uuencode, and `begin-base64`
//! blocks are decoded as base64.

/// One uuencoded file.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Block {
    pub(crate) name: String,
    pub(crate) data: Vec<u8>,
}

fn is_begin(line: &[u8]) -> Option<(bool, String)> {
    let (rest, base64) = if let Some(r) = line.strip_prefix(b"begin-base64 ") {
        (r, true)
    } else if let Some(r) = line.strip_prefix(b"begin ") {
        (r, false)
    } else {
        return None;
    };
    let text = String::from_utf8_lossy(rest);
    let mut fields = text.trim().splitn(2, ' ');
    let mode = fields.next()?;
    if mode.is_empty() || mode.len() > 4 || !mode.bytes().all(|b| (b'0'..=b'7').contains(&b)) {
        return None;
    }
    Some((base64, fields.next().unwrap_or("").trim().to_string()))
}

fn decode_line(line: &[u8], out: &mut Vec<u8>) -> bool {
    let Some(&first) = line.first() else {
        return false;
    };
    let len = ((first.wrapping_sub(b' ')) & 0x3f) as usize;
    if len == 0 {
        return false;
    }
    let chars = &line[1..];
    let mut produced = 0;
    for group in 0..len.div_ceil(3) {
        let get = |k: usize| {
            chars
                .get(group * 4 + k)
                .map_or(0, |c| (c.wrapping_sub(b' ')) & 0x3f) as u32
        };
        let v = get(0) << 18 | get(1) << 12 | get(2) << 6 | get(3);
        for b in [(v >> 16) as u8, (v >> 8) as u8, v as u8] {
            if produced < len {
                out.push(b);
                produced += 1;
            }
        }
    }
    true
}

/// Whether a body holds a uuencode block.
pub(crate) fn looks_like(body: &[u8]) -> bool {
    first_block(body).is_some()
}

/// Where the first line that opens a block starts.
pub(crate) fn first_block(body: &[u8]) -> Option<usize> {
    // Only lines that start with "begin" can open a block: find those with a vectorised search instead of
    // splitting every line of every body.
    memchr::memmem::find_iter(body, b"begin").find(|&at| {
        if at > 0 && body[at - 1] != b'\n' {
            return false;
        }
        let end = memchr::memchr(b'\n', &body[at..]).map_or(body.len(), |n| at + n);
        let line = &body[at..end];
        is_begin(line.strip_suffix(b"\r").unwrap_or(line)).is_some()
    })
}

/// Every uuencode block in a body.
pub(crate) fn decode_all(body: &[u8]) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut lines = body
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    while let Some(line) = lines.next() {
        let Some((base64, name)) = is_begin(line) else {
            continue;
        };
        let mut data = Vec::new();
        if base64 {
            let mut text = Vec::new();
            for l in lines.by_ref() {
                if l == b"====" {
                    break;
                }
                text.extend_from_slice(l);
            }
            data = super::base64::decode(&text).data;
        } else {
            for l in lines.by_ref() {
                if l == b"end" || !decode_line(l, &mut data) {
                    break;
                }
            }
        }
        blocks.push(Block { name, data });
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uudecode_table() {
        // "Cat" and "hello world\n" as produced by uuencode(1).
        let table: &[(&str, &[u8])] = &[
            ("begin 644 cat.txt\n#0V%T\n`\nend\n", b"Cat"),
            (
                "begin 644 h.txt\r\n,:&5L;&\\@=V]R;&0*\r\n`\r\nend\r\n",
                b"hello world\n",
            ),
            (
                "text before\nbegin 644 h.txt\n,:&5L;&\\@=V]R;&0*\n",
                b"hello world\n",
            ),
            ("begin 644 cat.txt\n#0V%\nend\n", b"Ca@"),
            ("begin-base64 644 b.txt\naGVsbG8=\n====\n", b"hello"),
        ];
        for (input, want) in table {
            let blocks = decode_all(input.as_bytes());
            assert_eq!(blocks.len(), 1, "{input}");
            assert_eq!(blocks[0].data, *want, "{input}");
        }
        assert!(decode_all(b"begin the beguine\nnothing here\n").is_empty());
        assert!(looks_like(b"x\nbegin 600 a\n"));
    }
}
