//! Share-based ranking for round-robin and random: each candidate owns a
//! stretch of a ring in proportion to its weight; a position on the ring
//! picks the candidate, and the others follow in ring order.

use super::Candidate;

/// Weight quanta per unit of weight: shares are exact to 1/64.
const QUANTA: f64 = 64.0;

/// A weight in quanta, at least one. (`+ 0.5` and a truncating cast round
/// without a libm call.)
#[inline]
pub(crate) fn quanta(weight: f64) -> u64 {
    ((weight * QUANTA + 0.5) as u64).max(1)
}

const fn gcd(mut a: u64, mut b: u64) -> u64 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

/// A weight ring over the candidates.
#[derive(Debug, Clone, Copy)]
pub(super) struct Ring {
    /// Slots in the ring.
    pub(super) total: u64,
    /// Every candidate owns one slot (equal weights).
    pub(super) unit: bool,
}

/// Lays out the ring: each candidate's stretch is its quanta divided by
/// the common divisor. The stretch lengths are left in `cost` for
/// [`rank_from`], which overwrites them.
pub(super) fn ring(candidates: &mut [Candidate]) -> Ring {
    let mut divisor = 0;
    let mut first = None;
    let mut equal = true;
    for c in candidates.iter_mut() {
        let q = quanta(c.weight);
        c.cost = q as f64;
        equal &= *first.get_or_insert(q) == q;
        if divisor != 1 {
            divisor = gcd(divisor, q);
        }
    }
    if equal {
        return Ring { total: candidates.len() as u64, unit: true };
    }
    let mut total = 0;
    for c in candidates.iter_mut() {
        let len = c.cost as u64 / divisor;
        c.cost = len as f64;
        total += len;
    }
    Ring { total, unit: false }
}

/// Costs by ring distance from `position` (in `0..total`): the owner of the
/// position costs 0, the others the distance to the start of their stretch.
pub(super) fn rank_from(candidates: &mut [Candidate], ring: Ring, position: u64) {
    let total = ring.total;
    let mut start = 0;
    for c in candidates {
        let len = if ring.unit { 1 } else { c.cost as u64 };
        let distance = if (start..start + len).contains(&position) {
            0
        } else if start >= position {
            start - position
        } else {
            start + total - position
        };
        c.cost = distance as f64;
        start += len;
    }
}

/// A step for visiting every slot of a ring once per `total` turns, well
/// spread: near `total / φ` and coprime with it. A unit ring (equal
/// weights) steps by 1, which is plain round-robin order.
pub(super) fn stride(ring: Ring) -> u64 {
    if ring.unit { 1 } else { coprime_step(ring.total) }
}

/// A step near `total / φ` and coprime with `total` (1 for `total ≤ 2`):
/// stepping by it visits every residue of `0..total` once per `total`
/// steps, consecutive ones far apart.
pub(crate) fn coprime_step(total: u64) -> u64 {
    if total <= 2 {
        return 1;
    }
    let mut step = ((total as f64) * 0.618_033_988_749_895) as u64;
    while gcd(step, total) != 1 {
        step += 1;
    }
    step
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strides_are_coprime() {
        for total in 1..500 {
            let s = stride(Ring { total, unit: false });
            assert_eq!(gcd(s, total), 1, "{total}");
        }
        assert_eq!(stride(Ring { total: 10, unit: true }), 1);
    }

    #[test]
    fn quanta_round_to_nearest() {
        assert_eq!(quanta(1.0), 64);
        assert_eq!(quanta(1.0 / 1.5), 43);
        assert_eq!(quanta(0.0), 1);
    }
}
