//! bzip2 streams (`BZh`), all streams of a multi-stream file, as one output.

use super::{Budget, Unpacked, read_limited};

pub(crate) fn unpack(data: &[u8], budget: &mut Budget, out: &mut Unpacked) {
    let name = "bunzip2".to_string();
    if !out.admit(budget, &name) {
        return;
    }
    let decoder = ::bzip2::read::MultiBzDecoder::new(data);
    let inflated = read_limited(decoder, data.len() as u64, budget);
    out.push(name, inflated);
}
