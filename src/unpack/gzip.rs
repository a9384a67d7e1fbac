//! gzip (RFC 1952), every member of a multi-member file, as one output.

use super::{Budget, Unpacked, read_limited};

/// Unpacks a gzip file. The member is named from the header's FNAME field, or `gunzip`.
pub(crate) fn unpack(data: &[u8], budget: &mut Budget, out: &mut Unpacked) {
    let name = header_name(data).unwrap_or_else(|| "gunzip".to_string());
    // Test builds only: a way to make a dependency-like parser panic, to prove the panic is contained.
    #[cfg(test)]
    if name == "portcullis-panic-test" {
        panic!("test panic inside an unpacker");
    }
    if !out.admit(budget, &name) {
        return;
    }
    let decoder = flate2::read::MultiGzDecoder::new(data);
    let inflated = read_limited(decoder, data.len() as u64, budget);
    out.push(name, inflated);
}

/// The FNAME field of the first member's header, if present.
fn header_name(data: &[u8]) -> Option<String> {
    const FEXTRA: u8 = 4;
    const FNAME: u8 = 8;
    let flags = *data.get(3)?;
    if flags & FNAME == 0 {
        return None;
    }
    let mut at = 10;
    if flags & FEXTRA != 0 {
        let xlen = u16::from_le_bytes([*data.get(10)?, *data.get(11)?]) as usize;
        at = 12 + xlen;
    }
    let rest = data.get(at..)?;
    let end = memchr::memchr(0, rest)?;
    let name = String::from_utf8_lossy(&rest[..end.min(1024)]).into_owned();
    (!name.is_empty()).then_some(name)
}
