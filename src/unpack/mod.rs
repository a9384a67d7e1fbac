//! Container unpackers, one file per format, all working under a [`Budget`].
//!
//! An unpacker gets a container's bytes and returns its members as new objects; it never allocates from a
//! size a header claims: every output grows in chunks and is checked against the budget as it grows.
//! Nesting is not handled here: the scanner puts members back on its work list.

pub(crate) mod bzip2;
pub(crate) mod gzip;
pub(crate) mod implode;
pub(crate) mod tar;
pub(crate) mod zip;

use std::io::Read;

use crate::limits::{LimitName, RATIO_FLOOR};
use crate::verdict::UnscannedReason;

/// What an unpacker may still produce.
#[derive(Clone, Debug)]
pub(crate) struct Budget {
    /// Bytes that may still be produced by all decoders and unpackers together (MaxScanSize).
    pub(crate) remaining_bytes: u64,
    /// The largest single output (MaxFileSize).
    pub(crate) max_file: u64,
    /// The largest output / input ratio of one member (MaxCompressionRatio).
    pub(crate) max_ratio: u64,
    /// How many more objects may be created (MaxFiles).
    pub(crate) remaining_objects: u64,
}

/// One member of a container, listed but not yet extracted: extraction waits until the scanner is ready for
/// it, so that only one member per container is in memory at a time.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub(crate) name: String,
    /// Where its (compressed) data lies in the container.
    pub(crate) range: std::ops::Range<usize>,
    /// The zip compression method (0 for stored, and for tar).
    pub(crate) method: u16,
    /// The zip general-purpose flags.
    pub(crate) flags: u16,
    /// The declared uncompressed size (a hint only: never used to allocate).
    pub(crate) size: u64,
}

/// What listing a container found: its members, those that cannot be extracted, the damage seen.
#[derive(Debug, Default)]
pub(crate) struct Listing {
    pub(crate) entries: Vec<Entry>,
    pub(crate) unscanned: Vec<(String, UnscannedReason)>,
    pub(crate) damage: Vec<String>,
    /// More members than [`zip::MAX_LISTED`]: the rest were not listed.
    pub(crate) truncated: bool,
}

/// One member taken out of a container.
#[derive(Debug)]
pub(crate) struct Member {
    pub(crate) name: String,
    pub(crate) data: Vec<u8>,
}

/// Everything an unpacker found.
#[derive(Debug, Default)]
pub(crate) struct Unpacked {
    pub(crate) members: Vec<Member>,
    /// Members that could not be extracted, by name.
    pub(crate) unscanned: Vec<(String, UnscannedReason)>,
    /// Damage seen in the container's structure.
    pub(crate) damage: Vec<String>,
    /// Limits crossed while unpacking, with the member's name.
    pub(crate) limits: Vec<(String, LimitName)>,
}

impl Unpacked {
    /// Takes a member if an object slot is left; records MaxFiles otherwise. Returns false when full.
    pub(crate) fn admit(&mut self, budget: &mut Budget, name: &str) -> bool {
        if budget.remaining_objects == 0 {
            self.limits.push((name.to_string(), LimitName::MaxFiles));
            return false;
        }
        budget.remaining_objects -= 1;
        true
    }

    /// Stores the result of one decompression: the member, its limit, its error.
    pub(crate) fn push(&mut self, name: String, inflated: Inflated) {
        if let Some(limit) = inflated.limit {
            self.limits.push((name.clone(), limit));
        }
        if let Some(err) = inflated.error {
            self.damage.push(format!("{name}: {err}"));
        }
        self.members.push(Member {
            name,
            data: inflated.data,
        });
    }
}

/// The result of one budgeted decompression: what came out before the end, a limit or an error.
#[derive(Debug, Default)]
pub(crate) struct Inflated {
    pub(crate) data: Vec<u8>,
    pub(crate) limit: Option<LimitName>,
    pub(crate) error: Option<String>,
}

/// Reads a decompressor to its end within the budget. `compressed` is the input size, for the ratio check.
pub(crate) fn read_limited<R: Read>(
    mut reader: R,
    compressed: u64,
    budget: &mut Budget,
) -> Inflated {
    let mut out = Inflated::default();
    let cap = budget.max_file.min(budget.remaining_bytes);
    let ratio_cap = compressed
        .max(1)
        .saturating_mul(budget.max_ratio)
        .max(RATIO_FLOOR);
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => {
                out.error = Some(format!("decompression failed: {e}"));
                break;
            }
        };
        let room = cap.saturating_sub(out.data.len() as u64) as usize;
        out.data.extend_from_slice(&buf[..n.min(room)]);
        if n > room {
            out.limit = Some(if budget.max_file <= budget.remaining_bytes {
                LimitName::MaxFileSize
            } else {
                LimitName::MaxScanSize
            });
            break;
        }
        if out.data.len() as u64 > ratio_cap {
            out.limit = Some(LimitName::MaxCompressionRatio);
            break;
        }
    }
    budget.remaining_bytes = budget.remaining_bytes.saturating_sub(out.data.len() as u64);
    out
}

/// Copies stored bytes within the budget.
pub(crate) fn copy_limited(data: &[u8], budget: &mut Budget) -> Inflated {
    read_limited(data, data.len() as u64, budget)
}
