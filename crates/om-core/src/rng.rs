//! Seeded randomness without a `rand` dependency: splitmix64 and FNV-1a.
//!
//! The simulator's dice, the router's random strategy and exploration, and
//! the client's retry jitter all need reproducible numbers from a seed (tests
//! assert on them), not cryptographic ones. splitmix64 (Steele, Lea and Flood,
//! 2014) has one word of state and passes the `BigCrush` suite; FNV-1a is a hash whose
//! output is fixed forever, unlike `std`'s `DefaultHasher`, so seeds derived
//! from text stay the same across toolchains.

/// The splitmix64 increment (the golden ratio in 64 bits).
pub const GAMMA: u64 = 0x9e37_79b9_7f4a_7c15;

/// The splitmix64 output function: mixes one state word into 64 random bits.
/// Callers that keep their state elsewhere (an atomic, say) add [`GAMMA`] to
/// it for each draw and pass the new state here.
pub const fn mix(state: u64) -> u64 {
    let mut z = state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// A splitmix64 generator.
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    /// A generator starting from `seed`.
    pub const fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(GAMMA);
        mix(self.state)
    }

    /// A uniform float in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        // The top 53 bits fill a double's mantissa exactly.
        (self.next_u64() >> 11) as f64 / (1_u64 << 53) as f64
    }

    /// An index in `0..n`. `n` must be positive. The modulo bias is below
    /// 2^-40 for any `n` that indexes memory, irrelevant for our uses.
    pub fn below(&mut self, n: usize) -> usize {
        debug_assert!(n > 0, "below(0)");
        (self.next_u64() % n.max(1) as u64) as usize
    }

    /// True with probability `rate`: `1.0` is certain, `0.0` (or NaN) never.
    pub fn chance(&mut self, rate: f64) -> bool {
        if rate <= 0.0 || rate.is_nan() {
            return false;
        }
        self.next_f64() < rate
    }

    /// An element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }

    /// `len` characters from `[a-z0-9]`, as Ollama's tool-call ids use.
    pub fn alphanumeric(&mut self, len: usize) -> String {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        (0..len).map(|_| char::from(*self.pick(ALPHABET))).collect()
    }
}

/// The FNV-1a offset basis: the state to start [`fnv1a`] from.
pub const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;

/// FNV-1a over `bytes`, continuing from `state`.
pub fn fnv1a(state: u64, bytes: &[u8]) -> u64 {
    bytes.iter().fold(state, |h, b| (h ^ u64::from(*b)).wrapping_mul(0x0000_0100_0000_01b3))
}

/// FNV-1a of one string.
pub fn hash_str(text: &str) -> u64 {
    fnv1a(FNV_OFFSET, text.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_values() {
        assert_eq!(hash_str(""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash_str("a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(SplitMix64::new(0).next_u64(), 0xe220_a839_7b1d_cdaf);
    }

    #[test]
    fn same_seed_same_sequence_and_ranges() {
        let (mut a, mut b) = (SplitMix64::new(7), SplitMix64::new(7));
        for _ in 0..1000 {
            assert_eq!(a.next_u64(), b.next_u64());
            assert!(a.below(3) < 3);
            assert!((0.0..1.0).contains(&a.next_f64()));
            b.below(3);
            b.next_f64();
        }
        assert!(SplitMix64::new(1).chance(1.0));
        assert!(!SplitMix64::new(1).chance(0.0));
        let id = SplitMix64::new(3).alphanumeric(8);
        assert!(id.len() == 8 && id.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit()));
    }
}
