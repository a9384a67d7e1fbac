//! zip: central directory and local headers both, zip64, data descriptors, stored / deflate / deflate64 /
//! bzip2 / implode members, encrypted members reported.
//!
//! The central directory is read when there is one; the archive is then also searched for local headers
//! that the directory does not name (a hidden member, or a directory that was cut off), so that both the
//! reading of a tool that trusts the directory and that of one that walks local headers are scanned.

use super::{Budget, Entry, Inflated, Listing, Unpacked, copy_limited, read_limited};
use crate::verdict::UnscannedReason;

const LOCAL_SIG: &[u8; 4] = b"PK\x03\x04";
const CENTRAL_SIG: &[u8; 4] = b"PK\x01\x02";
const EOCD_SIG: &[u8; 4] = b"PK\x05\x06";
const EOCD64_LOCATOR_SIG: &[u8; 4] = b"PK\x06\x07";
const EOCD64_SIG: &[u8; 4] = b"PK\x06\x06";
const DESCRIPTOR_SIG: &[u8; 4] = b"PK\x07\x08";

fn u16_at(d: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_le_bytes(d.get(at..at + 2)?.try_into().ok()?))
}
fn u32_at(d: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(d.get(at..at + 4)?.try_into().ok()?))
}
fn u64_at(d: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(d.get(at..at + 8)?.try_into().ok()?))
}

/// What the central directory says of one member.
#[derive(Clone, Debug)]
struct CentralEntry {
    name: String,
    flags: u16,
    method: u16,
    compressed: u64,
    uncompressed: u64,
    local_offset: u64,
}

/// Reads the zip64 extra field (id 1): the 64-bit values of the fields that hold 0xFFFFFFFF, in order.
fn zip64_extra(extra: &[u8], want: &mut [&mut u64]) {
    let mut at = 0;
    while at + 4 <= extra.len() {
        let (Some(id), Some(len)) = (u16_at(extra, at), u16_at(extra, at + 2)) else {
            return;
        };
        let body = &extra[(at + 4).min(extra.len())..(at + 4 + len as usize).min(extra.len())];
        if id == 1 {
            let mut k = 0;
            for field in want.iter_mut() {
                if **field == u32::MAX as u64 {
                    match u64_at(body, k) {
                        Some(v) => **field = v,
                        None => return,
                    }
                    k += 8;
                }
            }
            return;
        }
        at += 4 + len as usize;
    }
}

fn name_of(raw: &[u8]) -> String {
    String::from_utf8_lossy(raw).into_owned()
}

/// Finds the end-of-central-directory record and reads the directory's entries.
fn central_directory(data: &[u8], damage: &mut Vec<String>) -> Option<(Vec<CentralEntry>, i64)> {
    let search_from = data.len().saturating_sub(22 + 65_535);
    let eocd = memchr::memmem::rfind(&data[search_from..], EOCD_SIG)? + search_from;
    let mut cd_size = u32_at(data, eocd + 12)? as u64;
    let mut cd_offset = u32_at(data, eocd + 16)? as u64;
    if eocd >= 20
        && data.get(eocd - 20..eocd - 16) == Some(EOCD64_LOCATOR_SIG)
        && let Some(rec) = u64_at(data, eocd - 12).and_then(|o| usize::try_from(o).ok())
        && data.get(rec..rec + 4) == Some(EOCD64_SIG)
    {
        cd_size = u64_at(data, rec + 40).unwrap_or(cd_size);
        cd_offset = u64_at(data, rec + 48).unwrap_or(cd_offset);
    }
    // Data prepended to the archive (a self-extractor stub, a mail header) shifts every offset.
    let cd_end_claimed = cd_offset.saturating_add(cd_size);
    let delta = (eocd as i64).saturating_sub(cd_end_claimed as i64).max(0);
    let mut at = usize::try_from(cd_offset.saturating_add(delta as u64)).ok()?;
    if data.get(at..at + 4) != Some(CENTRAL_SIG) {
        // A wrong offset: look for the first directory record instead.
        match memchr::memmem::find(data, CENTRAL_SIG) {
            Some(p) => {
                damage.push("central directory offset is wrong".to_string());
                at = p;
            }
            None => return None,
        }
    }
    let mut entries = Vec::new();
    while data.get(at..at + 4) == Some(CENTRAL_SIG) {
        let (
            Some(flags),
            Some(method),
            Some(csize),
            Some(usize_),
            Some(nlen),
            Some(xlen),
            Some(clen),
            Some(off),
        ) = (
            u16_at(data, at + 8),
            u16_at(data, at + 10),
            u32_at(data, at + 20),
            u32_at(data, at + 24),
            u16_at(data, at + 28),
            u16_at(data, at + 30),
            u16_at(data, at + 32),
            u32_at(data, at + 42),
        )
        else {
            damage.push("central directory is truncated".to_string());
            break;
        };
        let name_start = at + 46;
        let name_end = name_start + nlen as usize;
        let extra_end = name_end + xlen as usize;
        let Some(name) = data.get(name_start..name_end) else {
            damage.push("central directory is truncated".to_string());
            break;
        };
        let extra = data.get(name_end..extra_end).unwrap_or(&[]);
        let (mut compressed, mut uncompressed, mut local) =
            (csize as u64, usize_ as u64, off as u64);
        zip64_extra(extra, &mut [&mut uncompressed, &mut compressed, &mut local]);
        entries.push(CentralEntry {
            name: name_of(name),
            flags,
            method,
            compressed,
            uncompressed,
            local_offset: local.saturating_add(delta as u64),
        });
        at = extra_end + clen as usize;
    }
    Some((entries, delta))
}

/// What a local header says, and where its data starts.
struct Local {
    name: String,
    flags: u16,
    method: u16,
    compressed: u64,
    uncompressed: u64,
    data_start: usize,
}

fn local_header(data: &[u8], at: usize) -> Option<Local> {
    if data.get(at..at + 4) != Some(LOCAL_SIG) {
        return None;
    }
    let flags = u16_at(data, at + 6)?;
    let method = u16_at(data, at + 8)?;
    let mut compressed = u32_at(data, at + 18)? as u64;
    let mut uncompressed = u32_at(data, at + 22)? as u64;
    let nlen = u16_at(data, at + 26)? as usize;
    let xlen = u16_at(data, at + 28)? as usize;
    let name = data.get(at + 30..at + 30 + nlen)?;
    let extra = data
        .get(at + 30 + nlen..at + 30 + nlen + xlen)
        .unwrap_or(&[]);
    zip64_extra(extra, &mut [&mut uncompressed, &mut compressed]);
    Some(Local {
        name: name_of(name),
        flags,
        method,
        compressed,
        uncompressed,
        data_start: at + 30 + nlen + xlen,
    })
}

/// Positions of every signature that can end a stored member, found once per archive, so that finding
/// where each member ends costs a binary search, not a scan of the rest of the archive.
struct Markers {
    descriptors: Vec<usize>,
    headers: Vec<usize>,
}

impl Markers {
    fn new(data: &[u8]) -> Markers {
        let descriptors: Vec<usize> = memchr::memmem::find_iter(data, DESCRIPTOR_SIG).collect();
        let mut headers: Vec<usize> = memchr::memmem::find_iter(data, LOCAL_SIG)
            .chain(memchr::memmem::find_iter(data, CENTRAL_SIG))
            .chain(descriptors.iter().copied())
            .collect();
        headers.sort_unstable();
        Markers {
            descriptors,
            headers,
        }
    }

    /// For a stored member whose sizes are in a trailing data descriptor: where its data ends. The first
    /// descriptors after it are tried (one whose compressed size fits is the end); failing that, the next
    /// header of any kind.
    fn stored_end(&self, data: &[u8], start: usize) -> usize {
        let first = self.descriptors.partition_point(|&p| p < start);
        for &p in self.descriptors[first..].iter().take(64) {
            if u32_at(data, p + 8).is_some_and(|c| c as usize == p - start) {
                return p;
            }
        }
        let next = self.headers.partition_point(|&p| p < start);
        self.headers.get(next).copied().unwrap_or(data.len())
    }
}

/// Most members listed from one archive: past this the listing stops and the scanner reports MaxFiles.
pub(crate) const MAX_LISTED: usize = 1 << 16;

fn method_name(method: u16) -> String {
    match method {
        1 => "shrink".into(),
        2..=5 => "reduce".into(),
        6 => "implode".into(),
        14 => "lzma".into(),
        19 => "lz77".into(),
        93 => "zstd".into(),
        95 => "xz".into(),
        96 => "jpeg".into(),
        97 => "wavpack".into(),
        98 => "ppmd".into(),
        m => format!("method {m}"),
    }
}

fn inflate(
    method: u16,
    flags: u16,
    size: u64,
    input: &[u8],
    budget: &mut Budget,
) -> Option<Inflated> {
    let n = input.len() as u64;
    Some(match method {
        6 => super::implode::explode(input, flags, size, budget),
        0 => copy_limited(input, budget),
        8 => read_limited(flate2::read::DeflateDecoder::new(input), n, budget),
        9 => read_limited(deflate64::Deflate64Decoder::new(input), n, budget),
        12 => read_limited(::bzip2::read::BzDecoder::new(input), n, budget),
        _ => return None,
    })
}

/// Unpacks a zip archive.
pub(crate) fn list(data: &[u8]) -> Listing {
    let mut out = Listing::default();
    let markers = Markers::new(data);
    let central = central_directory(data, &mut out.damage);
    // Every member to extract: (local header offset, what the directory says of it, if anything).
    let mut todo: Vec<(usize, Option<CentralEntry>)> = Vec::new();
    if let Some((entries, _)) = &central {
        for e in entries {
            if let Ok(off) = usize::try_from(e.local_offset) {
                todo.push((off, Some(e.clone())));
            }
        }
    } else {
        out.damage.push("no central directory".to_string());
    }
    // Local headers the directory does not name, outside the data of the members it does name. The
    // spans covered by known members are kept sorted by start, with the furthest end so far, so that each
    // candidate is checked in logarithmic time.
    let known: std::collections::HashSet<usize> = todo.iter().map(|(o, _)| *o).collect();
    let mut spans: Vec<(usize, usize)> = todo
        .iter()
        .filter_map(|(off, e)| {
            let l = local_header(data, *off)?;
            let len = e.as_ref().map_or(l.compressed, |e| e.compressed);
            Some((
                *off,
                l.data_start
                    .saturating_add(usize::try_from(len).unwrap_or(usize::MAX)),
            ))
        })
        .collect();
    spans.sort_unstable();
    let mut reach = Vec::with_capacity(spans.len());
    let mut furthest = 0;
    for &(_, end) in &spans {
        furthest = furthest.max(end);
        reach.push(furthest);
    }
    let inside_known = |p: usize| {
        // The spans starting before p, and the furthest any of them reaches.
        let i = spans.partition_point(|&(s, _)| s < p);
        i > 0 && reach[i - 1] > p
    };
    let mut hidden = 0usize;
    let mut walked_to = 0usize;
    for p in memchr::memmem::find_iter(data, LOCAL_SIG) {
        if known.contains(&p) || p < walked_to || inside_known(p) {
            continue;
        }
        let Some(l) = local_header(data, p) else {
            continue;
        };
        walked_to = l
            .data_start
            .saturating_add(usize::try_from(l.compressed).unwrap_or(usize::MAX));
        if central.is_some() {
            hidden += 1;
        }
        todo.push((p, None));
    }
    if hidden > 0 {
        out.damage.push(format!(
            "{hidden} local entries not in the central directory"
        ));
    }
    if todo.len() > MAX_LISTED {
        todo.truncate(MAX_LISTED);
        out.truncated = true;
    }
    for (off, entry) in todo {
        let Some(local) = local_header(data, off) else {
            if let Some(e) = entry {
                out.damage
                    .push(format!("{}: local header missing at offset {off}", e.name));
            }
            continue;
        };
        let (name, flags, method, compressed, uncompressed) = match &entry {
            Some(e) => (
                e.name.clone(),
                e.flags | local.flags,
                e.method,
                e.compressed,
                e.uncompressed,
            ),
            None => (
                local.name.clone(),
                local.flags,
                local.method,
                local.compressed,
                local.uncompressed,
            ),
        };
        let is_dir = name.ends_with('/') || name.ends_with('\\');
        if is_dir && compressed == 0 {
            continue;
        }
        if flags & 1 != 0 || method == 99 {
            out.unscanned.push((name, UnscannedReason::Encrypted));
            continue;
        }
        let start = local.data_start.min(data.len());
        let end = if compressed == 0 && flags & 8 != 0 {
            // Sizes follow in a data descriptor: compressed streams end by themselves.
            if method == 0 {
                markers.stored_end(data, start)
            } else {
                data.len()
            }
        } else {
            let claimed = start.saturating_add(usize::try_from(compressed).unwrap_or(usize::MAX));
            if claimed > data.len() {
                out.damage.push(format!("{name}: data is truncated"));
            }
            claimed.min(data.len())
        };
        if inflate_supported(method) {
            out.entries.push(Entry {
                name,
                range: start..end,
                method,
                flags,
                size: uncompressed,
            });
        } else {
            out.unscanned.push((
                name,
                UnscannedReason::UnsupportedCompression(method_name(method)),
            ));
        }
    }
    out
}

fn inflate_supported(method: u16) -> bool {
    matches!(method, 0 | 6 | 8 | 9 | 12)
}

/// Unpacks every member at once (the scanner extracts one at a time through [`list`] and [`extract`]).
pub(crate) fn unpack(data: &[u8], budget: &mut Budget, out: &mut Unpacked) {
    let listing = list(data);
    out.damage.extend(listing.damage);
    out.unscanned.extend(listing.unscanned);
    for entry in listing.entries {
        if !out.admit(budget, &entry.name) {
            return;
        }
        if let Some(inflated) = extract(data, &entry, budget) {
            out.push(entry.name, inflated);
        }
    }
}

/// Extracts one listed member within the budget.
pub(crate) fn extract(data: &[u8], entry: &Entry, budget: &mut Budget) -> Option<Inflated> {
    let input = data.get(entry.range.clone())?;
    inflate(entry.method, entry.flags, entry.size, input, budget)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    pub(crate) fn budget() -> Budget {
        Budget {
            remaining_bytes: 1 << 30,
            max_file: 1 << 30,
            max_ratio: 1000,
            remaining_objects: 1000,
        }
    }

    /// A minimal zip writer: (name, data, method, flags).
    fn build(members: &[(&str, &[u8], u16, u16)], with_directory: bool) -> Vec<u8> {
        let mut out = Vec::new();
        let mut central = Vec::new();
        for (name, data, method, flags) in members {
            let payload = if *method == 8 {
                let mut e =
                    flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
                e.write_all(data).unwrap();
                e.finish().unwrap()
            } else {
                data.to_vec()
            };
            let crc = crc32fast::hash(data);
            let off = out.len() as u32;
            out.extend(LOCAL_SIG);
            out.extend([20, 0]);
            out.extend(flags.to_le_bytes());
            out.extend(method.to_le_bytes());
            out.extend([0, 0, 0, 0]);
            out.extend(crc.to_le_bytes());
            out.extend((payload.len() as u32).to_le_bytes());
            out.extend((data.len() as u32).to_le_bytes());
            out.extend((name.len() as u16).to_le_bytes());
            out.extend([0, 0]);
            out.extend(name.as_bytes());
            out.extend(&payload);
            central.extend(CENTRAL_SIG);
            central.extend([20, 0, 20, 0]);
            central.extend(flags.to_le_bytes());
            central.extend(method.to_le_bytes());
            central.extend([0, 0, 0, 0]);
            central.extend(crc.to_le_bytes());
            central.extend((payload.len() as u32).to_le_bytes());
            central.extend((data.len() as u32).to_le_bytes());
            central.extend((name.len() as u16).to_le_bytes());
            central.extend([0u8; 12]);
            central.extend(off.to_le_bytes());
            central.extend(name.as_bytes());
        }
        if with_directory {
            let cd_off = out.len() as u32;
            out.extend(&central);
            out.extend(EOCD_SIG);
            out.extend([0, 0, 0, 0]);
            out.extend((members.len() as u16).to_le_bytes());
            out.extend((members.len() as u16).to_le_bytes());
            out.extend((central.len() as u32).to_le_bytes());
            out.extend(cd_off.to_le_bytes());
            out.extend([0, 0]);
        }
        out
    }

    fn run(zip: &[u8]) -> Unpacked {
        let mut out = Unpacked::default();
        unpack(zip, &mut budget(), &mut out);
        out
    }

    #[test]
    fn stored_and_deflated_members() {
        let zip = build(
            &[
                ("a.txt", b"alpha", 0, 0),
                ("b/c.txt", b"gamma gamma gamma", 8, 0),
            ],
            true,
        );
        let out = run(&zip);
        let got: Vec<(&str, &[u8])> = out
            .members
            .iter()
            .map(|m| (m.name.as_str(), &m.data[..]))
            .collect();
        assert_eq!(
            got,
            [
                ("a.txt", &b"alpha"[..]),
                ("b/c.txt", &b"gamma gamma gamma"[..])
            ]
        );
        assert!(out.damage.is_empty(), "{:?}", out.damage);
    }

    #[test]
    fn without_directory_local_headers_are_walked() {
        let zip = build(&[("a.txt", b"alpha", 8, 0)], false);
        let out = run(&zip);
        assert_eq!(out.members.len(), 1);
        assert_eq!(out.members[0].data, b"alpha");
        assert!(
            out.damage
                .iter()
                .any(|d| d.contains("no central directory"))
        );
    }

    #[test]
    fn encrypted_and_unsupported_members_are_reported() {
        let zip = build(
            &[("secret.exe", b"xxxx", 0, 1), ("odd.bin", b"yyyy", 14, 0)],
            true,
        );
        let out = run(&zip);
        assert!(out.members.is_empty());
        assert_eq!(
            out.unscanned[0],
            ("secret.exe".to_string(), UnscannedReason::Encrypted)
        );
        assert_eq!(
            out.unscanned[1],
            (
                "odd.bin".to_string(),
                UnscannedReason::UnsupportedCompression("lzma".into())
            )
        );
    }

    #[test]
    fn hidden_local_entry_is_found() {
        let mut zip = build(&[("hidden.txt", b"hidden data", 8, 0)], false);
        let visible = build(&[("visible.txt", b"visible", 0, 0)], true);
        let shift = zip.len() as u32;
        // Append a complete archive; its directory offsets are relative to its own start.
        let mut v = visible.clone();
        let eocd = v.len() - 22;
        let cd_off = u32::from_le_bytes(v[eocd + 16..eocd + 20].try_into().unwrap());
        v[eocd + 16..eocd + 20].copy_from_slice(&(cd_off + shift).to_le_bytes());
        let cd = cd_off as usize;
        let lo = u32::from_le_bytes(v[cd + 42..cd + 46].try_into().unwrap());
        v[cd + 42..cd + 46].copy_from_slice(&(lo + shift).to_le_bytes());
        zip.extend(v);
        let out = run(&zip);
        let names: Vec<&str> = out.members.iter().map(|m| m.name.as_str()).collect();
        assert_eq!(names, ["visible.txt", "hidden.txt"]);
    }

    #[test]
    fn truncated_archive_is_damage_not_panic() {
        let zip = build(&[("a.txt", &[b'a'; 5000], 0, 0)], true);
        for cut in [10, 40, 100, 3000, zip.len() - 30, zip.len() - 1] {
            let _ = run(&zip[..cut]);
        }
        let out = run(&zip[..3000]);
        assert!(
            out.damage.iter().any(|d| d.contains("truncated")),
            "{:?}",
            out.damage
        );
    }

    #[test]
    fn ratio_limit_stops_a_bomb() {
        let zeros = vec![0u8; 8 << 20];
        let zip = build(&[("zeros.bin", &zeros, 8, 0)], true);
        let mut b = budget();
        b.max_ratio = 100;
        let mut out = Unpacked::default();
        unpack(&zip, &mut b, &mut out);
        assert_eq!(
            out.limits,
            [(
                "zeros.bin".to_string(),
                crate::limits::LimitName::MaxCompressionRatio
            )]
        );
        assert!(out.members[0].data.len() < zeros.len());
    }
}
