//! Helpers the unit tests share.

/// Xorshift: a small deterministic generator, the same sequence for a seed on every machine.
pub(crate) struct XorShift(u64);

impl XorShift {
    /// A generator from `seed` (made odd: zero would stay zero).
    pub(crate) fn new(seed: u64) -> XorShift {
        XorShift(seed | 1)
    }

    /// The next number.
    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    /// `len` bytes, each drawn from `alphabet`.
    pub(crate) fn bytes(&mut self, len: usize, alphabet: &[u8]) -> Vec<u8> {
        (0..len)
            .map(|_| alphabet[(self.next_u64() % alphabet.len() as u64) as usize])
            .collect()
    }
}
