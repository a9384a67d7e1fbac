//! PKZIP 1.x "implode" (zip method 6): a sliding dictionary of 4 or 8 KiB and two or three Shannon-Fano
//! trees stored at the start of the data (APPNOTE.TXT section 5.3).
//!
//! The Shannon-Fano codes are canonical codes with every bit inverted, so each tree is decoded as a canonical
//! code from its bit lengths, reading inverted bits (the same trick zlib's `blast.c` uses for the related
//! PKWARE DCL format).

use super::{Budget, Inflated};
use crate::limits::{LimitName, RATIO_FLOOR};

const MAX_BITS: usize = 16;

struct Bits<'a> {
    data: &'a [u8],
    pos: usize,
    buf: u32,
    count: u32,
}

impl Bits<'_> {
    fn bits(&mut self, need: u32) -> Option<u32> {
        while self.count < need {
            let b = *self.data.get(self.pos)?;
            self.pos += 1;
            self.buf |= (b as u32) << self.count;
            self.count += 8;
        }
        let v = self.buf & ((1u32 << need) - 1);
        self.buf >>= need;
        self.count -= need;
        Some(v)
    }
}

/// A canonical decoding table: how many codes of each length, and the symbols in code order.
struct Tree {
    count: [u16; MAX_BITS + 1],
    symbols: Vec<u16>,
}

impl Tree {
    /// Reads a tree description of `n` symbols: a byte count, then (count - 1, length - 1) nibble pairs.
    fn read(bits: &mut Bits<'_>, n: usize) -> Option<Tree> {
        let bytes = bits.bits(8)? as usize + 1;
        let mut lengths = Vec::with_capacity(n);
        for _ in 0..bytes {
            let b = bits.bits(8)?;
            let len = (b & 15) as u8 + 1;
            let reps = (b >> 4) as usize + 1;
            for _ in 0..reps {
                lengths.push(len);
            }
        }
        if lengths.len() != n {
            return None;
        }
        let mut count = [0u16; MAX_BITS + 1];
        for &l in &lengths {
            count[l as usize] += 1;
        }
        // Over-subscribed trees cannot come from a real compressor.
        let mut left: i32 = 1;
        for c in count.iter().skip(1) {
            left = left * 2 - *c as i32;
            if left < 0 {
                return None;
            }
        }
        let mut symbols = Vec::with_capacity(n);
        for len in 1..=MAX_BITS {
            for (sym, &l) in lengths.iter().enumerate() {
                if l as usize == len {
                    symbols.push(sym as u16);
                }
            }
        }
        Some(Tree { count, symbols })
    }

    fn decode(&self, bits: &mut Bits<'_>) -> Option<u16> {
        let (mut code, mut first, mut index) = (0i32, 0i32, 0i32);
        for len in 1..=MAX_BITS {
            code |= (bits.bits(1)? ^ 1) as i32;
            let count = self.count[len] as i32;
            if code - first < count {
                return self.symbols.get((index + code - first) as usize).copied();
            }
            index += count;
            first = (first + count) << 1;
            code <<= 1;
        }
        None
    }
}

/// Explodes one member. `flags` is the zip general-purpose flag word; `size` the declared uncompressed size.
pub(crate) fn explode(input: &[u8], flags: u16, size: u64, budget: &mut Budget) -> Inflated {
    let mut out = Inflated::default();
    let large_window = flags & 2 != 0;
    let literal_tree = flags & 4 != 0;
    let cap = budget.max_file.min(budget.remaining_bytes);
    let ratio_cap = (input.len() as u64)
        .max(1)
        .saturating_mul(budget.max_ratio)
        .max(RATIO_FLOOR);
    let mut bits = Bits {
        data: input,
        pos: 0,
        buf: 0,
        count: 0,
    };
    let trees = (|| {
        let lit = if literal_tree {
            Some(Tree::read(&mut bits, 256)?)
        } else {
            None
        };
        let len = Tree::read(&mut bits, 64)?;
        let dist = Tree::read(&mut bits, 64)?;
        Some((lit, len, dist))
    })();
    let Some((lit, len_tree, dist_tree)) = trees else {
        out.error = Some("implode: bad Shannon-Fano trees".to_string());
        return out;
    };
    let min_match = if literal_tree { 3 } else { 2 };
    let data = &mut out.data;
    let error = loop {
        if data.len() as u64 >= size {
            break None;
        }
        if data.len() as u64 >= cap {
            out.limit = Some(if budget.max_file <= budget.remaining_bytes {
                LimitName::MaxFileSize
            } else {
                LimitName::MaxScanSize
            });
            break None;
        }
        if data.len() as u64 > ratio_cap {
            out.limit = Some(LimitName::MaxCompressionRatio);
            break None;
        }
        let step = (|| {
            if bits.bits(1)? == 1 {
                let b = match &lit {
                    Some(t) => t.decode(&mut bits)? as u8,
                    None => bits.bits(8)? as u8,
                };
                data.push(b);
                return Some(());
            }
            let low = bits.bits(if large_window { 7 } else { 6 })?;
            let high = dist_tree.decode(&mut bits)? as u32;
            let distance = (high << if large_window { 7 } else { 6 } | low) as usize + 1;
            let mut length = len_tree.decode(&mut bits)? as usize;
            if length == 63 {
                length += bits.bits(8)? as usize;
            }
            length += min_match;
            let room = (size as usize).saturating_sub(data.len()).min(length);
            for _ in 0..room {
                // Bytes before the start of the output read as zeros.
                let b = if distance > data.len() {
                    0
                } else {
                    data[data.len() - distance]
                };
                data.push(b);
            }
            Some(())
        })();
        if step.is_none() {
            break Some("implode: data ends early".to_string());
        }
    };
    out.error = error;
    out.data
        .truncate(usize::try_from(cap).unwrap_or(usize::MAX));
    budget.remaining_bytes = budget.remaining_bytes.saturating_sub(out.data.len() as u64);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_never_panics_and_respects_the_budget() {
        let mut seed = 0x2545_f491_4f6c_dd1du64;
        for round in 0..2000 {
            let len = round % 300;
            let input: Vec<u8> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    seed as u8
                })
                .collect();
            let mut budget = Budget {
                remaining_bytes: 10_000,
                max_file: 5_000,
                max_ratio: 1_000_000,
                remaining_objects: 10,
            };
            let out = explode(&input, (round % 8) as u16, 1 << 40, &mut budget);
            assert!(out.data.len() <= 5_000);
        }
    }
}
