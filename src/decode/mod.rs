//! Transfer decoders, as lenient as real mail clients: each takes what it can from damaged input and
//! counts what it had to skip, never fails, and never produces more bytes than its input.

pub(crate) mod base64;
pub(crate) mod qp;
pub(crate) mod uu;

/// Replaces every `<marker>XX` (two hex digits) by its byte: `%20` in RFC 2231 values, `#20` in PDF names.
/// Returns the bytes and whether any escape was found; anything else is kept as it is.
pub(crate) fn unescape_hex(data: &[u8], marker: u8) -> (Vec<u8>, bool) {
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(data.len());
    let mut any = false;
    let mut i = 0;
    while i < data.len() {
        if data[i] == marker
            && let (Some(h), Some(l)) = (
                data.get(i + 1).copied().and_then(hex),
                data.get(i + 2).copied().and_then(hex),
            )
        {
            out.push(h << 4 | l);
            any = true;
            i += 3;
            continue;
        }
        out.push(data[i]);
        i += 1;
    }
    (out, any)
}
