//! tar: v7, ustar, GNU (long names, base-256 sizes) and pax (`path=`) headers.

use super::{Budget, Unpacked, copy_limited};

const BLOCK: usize = 512;

/// One file in a tar archive; its data is a slice of the archive.
pub(crate) struct Entry<'a> {
    pub(crate) name: String,
    /// Where the data starts in the archive.
    pub(crate) start: usize,
    pub(crate) data: &'a [u8],
}

/// The files of a tar archive and the damage seen; lists without copying.
pub(crate) struct Listing<'a> {
    pub(crate) entries: Vec<Entry<'a>>,
    pub(crate) damage: Vec<String>,
}

fn octal(field: &[u8]) -> Option<u64> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        // GNU base-256: big-endian, the first byte's top bit is the marker.
        let mut v: u64 = (field[0] & 0x7f) as u64;
        for &b in &field[1..] {
            v = v.checked_mul(256)?.checked_add(b as u64)?;
        }
        return Some(v);
    }
    let text: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|b| *b == b' ')
        .take_while(|b| (b'0'..=b'7').contains(b))
        .collect();
    if text.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(std::str::from_utf8(&text).ok()?, 8).ok()
}

fn cstr(field: &[u8]) -> String {
    let end = memchr::memchr(0, field).unwrap_or(field.len());
    String::from_utf8_lossy(&field[..end]).into_owned()
}

/// Whether a 512-byte block is a tar header with a valid checksum.
pub(crate) fn is_header(block: &[u8]) -> bool {
    if block.len() < BLOCK || block.iter().all(|&b| b == 0) {
        return false;
    }
    let Some(stored) = octal(&block[148..156]) else {
        return false;
    };
    let sum: u64 = block[..BLOCK]
        .iter()
        .enumerate()
        .map(|(i, &b)| {
            if (148..156).contains(&i) {
                b' ' as u64
            } else {
                b as u64
            }
        })
        .sum();
    sum == stored
}

/// Lists a tar archive.
pub(crate) fn list(data: &[u8]) -> Listing<'_> {
    let mut listing = Listing {
        entries: Vec::new(),
        damage: Vec::new(),
    };
    let mut at = 0usize;
    let mut long_name: Option<String> = None;
    while let Some(block) = data.get(at..at + BLOCK) {
        if block.iter().all(|&b| b == 0) {
            break;
        }
        if !is_header(block) {
            listing
                .damage
                .push(format!("bad header checksum at offset {at}"));
            break;
        }
        let Some(size) = octal(&block[124..136]) else {
            listing
                .damage
                .push(format!("bad size field at offset {at}"));
            break;
        };
        let start = at + BLOCK;
        let available = data.len().saturating_sub(start) as u64;
        let end = start + size.min(available) as usize;
        let body = &data[start..end];
        if size > available {
            listing
                .damage
                .push(format!("entry at offset {at} is truncated"));
        }
        let typeflag = block[156];
        let mut name = cstr(&block[0..100]);
        if &block[257..262] == b"ustar" {
            let prefix = cstr(&block[345..500]);
            if !prefix.is_empty() {
                name = format!("{prefix}/{name}");
            }
        }
        match typeflag {
            b'L' => long_name = Some(cstr(body)),
            b'x' => {
                let text = String::from_utf8_lossy(body);
                for record in text.lines() {
                    if let Some((_, kv)) = record.split_once(' ')
                        && let Some(path) = kv.strip_prefix("path=")
                    {
                        long_name = Some(path.to_string());
                    }
                }
            }
            b'0' | 0 | b'7' => listing.entries.push(Entry {
                name: long_name.take().unwrap_or(name),
                start,
                data: body,
            }),
            _ => long_name = None,
        }
        // The next header follows the data, rounded up to a whole block.
        let padded = size.div_ceil(BLOCK as u64).saturating_mul(BLOCK as u64);
        match usize::try_from(padded)
            .ok()
            .and_then(|p| start.checked_add(p))
        {
            Some(next) => at = next,
            None => break,
        }
    }
    listing
}

/// Lists a tar archive as extractable entries (ranges of the archive).
pub(crate) fn entries(data: &[u8]) -> super::Listing {
    let listing = list(data);
    let truncated = listing.entries.len() > super::zip::MAX_LISTED;
    super::Listing {
        truncated,
        entries: listing
            .entries
            .into_iter()
            .take(super::zip::MAX_LISTED)
            .map(|e| super::Entry {
                name: e.name,
                range: e.start..e.start + e.data.len(),
                method: 0,
                flags: 0,
                size: e.data.len() as u64,
            })
            .collect(),
        unscanned: Vec::new(),
        damage: listing.damage,
    }
}

pub(crate) fn unpack(data: &[u8], budget: &mut Budget, out: &mut Unpacked) {
    let listing = list(data);
    out.damage.extend(listing.damage);
    for entry in listing.entries {
        if !out.admit(budget, &entry.name) {
            return;
        }
        let copied = copy_limited(entry.data, budget);
        out.push(entry.name, copied);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(name: &str, size: usize, typeflag: u8) -> Vec<u8> {
        let mut h = vec![0u8; BLOCK];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[124..135].copy_from_slice(format!("{size:011o}").as_bytes());
        h[156] = typeflag;
        h[257..263].copy_from_slice(b"ustar\0");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| b as u32).sum();
        h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
        h
    }

    fn archive(files: &[(&str, &[u8], u8)]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, data, t) in files {
            out.extend(header(name, data.len(), *t));
            out.extend_from_slice(data);
            out.resize(out.len().div_ceil(BLOCK) * BLOCK, 0);
        }
        out.extend([0u8; 1024]);
        out
    }

    #[test]
    fn lists_files_and_long_names() {
        let long = "d/".repeat(80) + "file.txt";
        let tar = archive(&[
            ("a.txt", b"hello", b'0'),
            ("dir/", b"", b'5'),
            ("././@LongLink", format!("{long}\0").as_bytes(), b'L'),
            ("short", b"world", b'0'),
        ]);
        let l = list(&tar);
        assert!(l.damage.is_empty(), "{:?}", l.damage);
        let names: Vec<&str> = l.entries.iter().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["a.txt", long.as_str()]);
        assert_eq!(l.entries[1].data, b"world");
    }

    #[test]
    fn truncated_and_corrupt_archives_are_damage() {
        let mut tar = archive(&[("a.txt", &[7u8; 2000], b'0')]);
        tar.truncate(1000);
        let l = list(&tar);
        assert_eq!(l.entries[0].data.len(), 1000 - BLOCK);
        assert!(l.damage[0].contains("truncated"));
        let mut bad = archive(&[("a.txt", b"x", b'0')]);
        bad[0] ^= 1;
        assert!(list(&bad).damage[0].contains("checksum"));
    }
}
