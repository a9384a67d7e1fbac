//! Header fields: the header block, parameters (with RFC 2231 continuations and charsets) and RFC 2047
//! encoded words.

/// One header field, name in lower case, value unfolded.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Field {
    pub(crate) name: String,
    pub(crate) value: String,
}

/// Most header fields kept for one entity; more are counted as damage and ignored.
const MAX_FIELDS: usize = 1000;

fn is_field_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|&b| b > b' ' && b < 0x7f && b != b':')
}

/// If a line (without its line end) is a header field, the field name and where its colon is.
fn field_line(content: &[u8]) -> Option<(&[u8], usize)> {
    if content.first().is_none_or(|c| matches!(c, b' ' | b'\t')) {
        return None;
    }
    let colon = memchr::memchr(b':', content)?;
    let name = &content[..colon];
    let name = name.strip_suffix(b" ").unwrap_or(name);
    is_field_name(name).then_some((name, colon))
}

/// Where the header block starts: after a leading mbox `From ` line, if any.
fn block_start(bytes: &[u8]) -> usize {
    if bytes.starts_with(b"From ") {
        memchr::memchr(b'\n', bytes).map_or(bytes.len(), |p| p + 1)
    } else {
        0
    }
}

/// Whether an entity has a header block at all (what `parse_block` would find at least one field in),
/// without collecting its fields.
pub(crate) fn has_header(bytes: &[u8]) -> bool {
    let rest = &bytes[block_start(bytes)..];
    let line = &rest[..memchr::memchr(b'\n', rest).unwrap_or(rest.len())];
    field_line(line.strip_suffix(b"\r").unwrap_or(line)).is_some()
}

/// Splits an entity into its header fields and the offset where its body starts.
///
/// The header block ends at the first blank line; a line that is neither a field nor a continuation also
/// ends it (and starts the body), as mail clients do. A leading mbox `From ` line is skipped.
pub(crate) fn parse_block(bytes: &[u8]) -> (Vec<Field>, usize, bool) {
    let mut fields: Vec<Field> = Vec::new();
    let mut at = block_start(bytes);
    let mut truncated = false;
    while at < bytes.len() {
        let end = memchr::memchr(b'\n', &bytes[at..]).map_or(bytes.len(), |p| at + p + 1);
        let line = &bytes[at..end];
        let content = line.strip_suffix(b"\n").unwrap_or(line);
        let content = content.strip_suffix(b"\r").unwrap_or(content);
        if content.is_empty() {
            return (fields, end, truncated);
        }
        if matches!(content[0], b' ' | b'\t') {
            match fields.last_mut() {
                Some(f) => {
                    f.value.push(' ');
                    f.value.push_str(String::from_utf8_lossy(content).trim());
                }
                None => return (fields, at, truncated),
            }
        } else {
            let Some((name, colon)) = field_line(content) else {
                return (fields, at, truncated);
            };
            if fields.len() < MAX_FIELDS {
                fields.push(Field {
                    name: String::from_utf8_lossy(name).to_ascii_lowercase(),
                    value: String::from_utf8_lossy(&content[colon + 1..])
                        .trim()
                        .to_string(),
                });
            } else {
                truncated = true;
            }
        }
        at = end;
    }
    (fields, bytes.len(), truncated)
}

/// A structured value: `type/subtype; key=value; ...`, every parameter kept in order, duplicates too.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Structured {
    pub(crate) value: String,
    pub(crate) params: Vec<(String, String)>,
}

/// Splits on `;` outside quotes.
fn split_params(value: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quoted = false;
    let mut escaped = false;
    for c in value.chars() {
        if escaped {
            cur.push(c);
            escaped = false;
            continue;
        }
        match c {
            '\\' if quoted => escaped = true,
            '"' => {
                quoted = !quoted;
                cur.push(c);
            }
            ';' if !quoted => out.push(std::mem::take(&mut cur)),
            _ => cur.push(c),
        }
    }
    out.push(cur);
    out
}

pub(crate) fn parse_structured(value: &str) -> Structured {
    let mut pieces = split_params(value).into_iter();
    let main = pieces
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let mut params = Vec::new();
    for piece in pieces {
        let Some((k, v)) = piece.split_once('=') else {
            continue;
        };
        let key = k.trim().to_ascii_lowercase();
        let v = v.trim();
        let v = match v.strip_prefix('"') {
            Some(inner) => inner.strip_suffix('"').unwrap_or(inner),
            None => v,
        };
        params.push((key, v.to_string()));
    }
    Structured {
        value: main,
        params,
    }
}

impl Structured {
    /// Every value of a parameter, in order.
    pub(crate) fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.params
            .iter()
            .filter(move |(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// A parameter's value, joining RFC 2231 continuations (`key*0*`, `key*1`...) and decoding charsets and
    /// RFC 2047 encoded words.
    pub(crate) fn decoded(&self, key: &str) -> Option<String> {
        let mut pieces: Vec<(u32, bool, &str)> = Vec::new();
        for (k, v) in &self.params {
            if k == key {
                return Some(decode_words(v));
            }
            let Some(rest) = k.strip_prefix(key).and_then(|r| r.strip_prefix('*')) else {
                continue;
            };
            if rest.is_empty() {
                pieces.push((0, true, v));
            } else {
                let (num, ext) = match rest.strip_suffix('*') {
                    Some(n) => (n, true),
                    None => (rest, false),
                };
                if let Ok(n) = num.parse::<u32>() {
                    pieces.push((n, ext, v));
                }
            }
        }
        if pieces.is_empty() {
            return None;
        }
        pieces.sort_by_key(|p| p.0);
        let mut charset = String::new();
        let mut bytes = Vec::new();
        for (i, (_, ext, v)) in pieces.iter().enumerate() {
            let mut v: &str = v;
            if *ext && i == 0 {
                let mut parts = v.splitn(3, '\'');
                if let (Some(cs), Some(_lang), Some(rest)) =
                    (parts.next(), parts.next(), parts.next())
                {
                    charset = cs.to_ascii_lowercase();
                    v = rest;
                }
            }
            if *ext {
                bytes.extend(percent_decode(v));
            } else {
                bytes.extend_from_slice(v.as_bytes());
            }
        }
        Some(to_string(&charset, &bytes))
    }
}

fn percent_decode(s: &str) -> Vec<u8> {
    crate::decode::unescape_hex(s.as_bytes(), b'%').0
}

/// Converts bytes in a charset to text: UTF-8 and the Latin-1 family are decoded; others lossily as UTF-8.
fn to_string(charset: &str, bytes: &[u8]) -> String {
    match charset {
        "iso-8859-1" | "latin1" | "latin-1" | "windows-1252" | "cp1252" | "us-ascii" | "ascii" => {
            bytes.iter().map(|&b| b as char).collect()
        }
        _ => String::from_utf8_lossy(bytes).into_owned(),
    }
}

/// Decodes RFC 2047 encoded words (`=?charset?B?...?=`, `=?charset?Q?...?=`) in a header value; blanks
/// between two encoded words are dropped.
pub(crate) fn decode_words(value: &str) -> String {
    let mut out = String::new();
    let mut rest = value;
    let mut last_was_word = false;
    while let Some(start) = rest.find("=?") {
        let (before, candidate) = rest.split_at(start);
        let decoded = parse_word(candidate);
        match decoded {
            Some((text, used)) => {
                if !(last_was_word && before.trim().is_empty()) {
                    out.push_str(before);
                }
                out.push_str(&text);
                rest = &candidate[used..];
                last_was_word = true;
            }
            None => {
                out.push_str(before);
                out.push_str("=?");
                rest = &candidate[2..];
                last_was_word = false;
            }
        }
    }
    out.push_str(rest);
    out
}

fn parse_word(s: &str) -> Option<(String, usize)> {
    let inner = s.strip_prefix("=?")?;
    let q1 = inner.find('?')?;
    let charset = inner[..q1]
        .split('*')
        .next()
        .unwrap_or("")
        .to_ascii_lowercase();
    let enc = inner.get(q1 + 1..q1 + 2)?.to_ascii_lowercase();
    if inner.get(q1 + 2..q1 + 3) != Some("?") {
        return None;
    }
    let text_start = q1 + 3;
    let end = inner[text_start..].find("?=")? + text_start;
    let text = &inner[text_start..end];
    let bytes = match enc.as_str() {
        "b" => crate::decode::base64::decode(text.as_bytes()).data,
        "q" => crate::decode::qp::decode(text.replace('_', " ").as_bytes()),
        _ => return None,
    };
    Some((to_string(&charset, &bytes), 2 + end + 2))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_block() {
        let msg = b"From someone Mon\r\nSubject: hi\r\n there\r\nX-A: 1\r\n\r\nbody";
        let (fields, body, _) = parse_block(msg);
        assert_eq!(
            fields[0],
            Field {
                name: "subject".into(),
                value: "hi there".into()
            }
        );
        assert_eq!(fields.len(), 2);
        assert_eq!(&msg[body..], b"body");
        // No header at all: the whole input is body.
        let (fields, body, _) = parse_block(b"just text\nmore");
        assert!(fields.is_empty());
        assert_eq!(body, 0);
        // has_header agrees with parse_block.
        for input in [
            &msg[..],
            b"just text\nmore",
            b"Subject: x",
            b" folded: no",
            b"From x\r\nTo: y\r\n",
            b"",
        ] {
            assert_eq!(
                has_header(input),
                !parse_block(input).0.is_empty(),
                "{:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn parameters_table() {
        let s = parse_structured("Multipart/Mixed; boundary=\"a;b\"; boundary=second; charset=x");
        assert_eq!(s.value, "multipart/mixed");
        assert_eq!(s.all("boundary").collect::<Vec<_>>(), ["a;b", "second"]);
        let s = parse_structured("attachment; filename*=utf-8''%E2%82%AC%20rates.zip");
        assert_eq!(s.decoded("filename").unwrap(), "€ rates.zip");
        let s = parse_structured("attachment; filename*0*=iso-8859-1''caf%E9; filename*1=\".zip\"");
        assert_eq!(s.decoded("filename").unwrap(), "café.zip");
        let s = parse_structured("attachment; filename=\"=?UTF-8?B?w6lsw6h2ZS5leGU=?=\"");
        assert_eq!(s.decoded("filename").unwrap(), "élève.exe");
    }

    #[test]
    fn encoded_words_table() {
        let table = [
            ("=?utf-8?q?caf=C3=A9?=", "café"),
            ("=?ISO-8859-1?Q?a_b?= =?ISO-8859-1?Q?c?=", "a bc"),
            ("x =?utf-8?b?aGk=?= y", "x hi y"),
            ("=?broken", "=?broken"),
            ("=?utf-8?x?abc?=", "=?utf-8?x?abc?="),
        ];
        for (input, want) in table {
            assert_eq!(decode_words(input), want, "{input}");
        }
    }
}
