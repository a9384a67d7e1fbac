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
    let mut blocks: Vec<Block> = Vec::new();
    let mut decoder = LineDecoder::default();
    let mut data = Vec::new();
    for line in body.split(|&b| b == b'\n') {
        match decoder.line(line, &mut data) {
            Line::Begin(name) => blocks.push(Block {
                name,
                data: Vec::new(),
            }),
            Line::Outside => {}
            Line::Inside | Line::End => {
                if let Some(block) = blocks.last_mut() {
                    block.data.append(&mut data);
                }
            }
        }
    }
    decoder.finish(&mut data);
    if let Some(block) = blocks.last_mut() {
        block.data.append(&mut data);
    }
    blocks
}

/// [`decode_all`] a line at a time, for a body read as it arrives: its lines are given in order, and the
/// blocks are decoded as they go by. A block opens at a `begin` line and ends at `end` (or `====` for
/// `begin-base64`), at the first line that is not uuencode, or with the body.
#[derive(Debug, Default)]
pub(crate) struct LineDecoder {
    open: Option<Open>,
}

#[derive(Debug)]
enum Open {
    Uu,
    /// A `begin-base64` block: its lines, joined, are base64.
    Base64(super::base64::Decoder),
}

/// What a line is to the blocks.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    /// Outside any block.
    Outside,
    /// It opens a block, of this name.
    Begin(String),
    /// Inside the block open.
    Inside,
    /// It ends the block open.
    End,
}

impl LineDecoder {
    /// Takes the next line of the body (without its `\n`; a `\r` before it is dropped here): what it is to
    /// the blocks. What it decodes to (for a `begin-base64` block, what its end completes) is appended to
    /// `out`.
    pub(crate) fn line(&mut self, line: &[u8], out: &mut Vec<u8>) -> Line {
        let line = line.strip_suffix(b"\r").unwrap_or(line);
        match &mut self.open {
            None => match is_begin(line) {
                Some((base64, name)) => {
                    self.open = Some(match base64 {
                        true => Open::Base64(super::base64::Decoder::default()),
                        false => Open::Uu,
                    });
                    Line::Begin(name)
                }
                None => Line::Outside,
            },
            // A line that is not uuencode (empty, or of no length) ends the block, as `end` does.
            Some(Open::Uu) if line == b"end" || !decode_line(line, out) => {
                self.open = None;
                Line::End
            }
            Some(Open::Uu) => Line::Inside,
            Some(Open::Base64(_)) if line == b"====" => {
                self.finish(out);
                Line::End
            }
            Some(Open::Base64(decoder)) => {
                decoder.feed(line, out);
                Line::Inside
            }
        }
    }

    /// Whether a block is open: then every line counts.
    pub(crate) fn is_open(&self) -> bool {
        self.open.is_some()
    }

    /// The body has ended: a block still open ends with it (what it still holds is appended to `out`).
    /// Returns whether one was open.
    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) -> bool {
        match self.open.take() {
            Some(Open::Base64(decoder)) => {
                decoder.finish(out);
                true
            }
            Some(Open::Uu) => true,
            None => false,
        }
    }
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

    /// The blocks of a whole body, found by reading it all at once: what [`LineDecoder`] must match line by
    /// line.
    fn whole_body(body: &[u8]) -> Vec<Block> {
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
                data = crate::decode::base64::decode(&text).data;
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

    proptest::proptest! {
        #[test]
        fn line_by_line_finds_what_the_whole_body_holds(
            lines in proptest::collection::vec(
                proptest::prop_oneof![
                    proptest::strategy::Just("begin 644 a.bin".to_string()),
                    proptest::strategy::Just("begin-base64 600 b.txt".to_string()),
                    proptest::strategy::Just("begin 9 not".to_string()),
                    proptest::strategy::Just("end".to_string()),
                    proptest::strategy::Just("====".to_string()),
                    proptest::strategy::Just("`".to_string()),
                    proptest::strategy::Just(String::new()),
                    "[ -`]{1,61}",
                    "[A-Za-z0-9+/=]{1,20}",
                    "[a-z ]{0,12}",
                ],
                0..40,
            ),
            crlf in proptest::bool::ANY,
        ) {
            let body = lines.join(if crlf { "\r\n" } else { "\n" });
            proptest::prop_assert_eq!(decode_all(body.as_bytes()), whole_body(body.as_bytes()));
        }
    }
}
