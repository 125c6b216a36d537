//! One recorded distribution: an HDR histogram for quantiles plus exact fixed
//! buckets, sum and max for the Prometheus exposition.
//!
//! The two views answer different questions. Quantiles must be accurate for
//! any latency, so they come from an HDR histogram with two significant
//! digits (relative error under 1%, a few KiB per series). Prometheus buckets
//! must count `value <= le` exactly, including values that sit right on a
//! bound, so they are plain counters beside it rather than being read back
//! out of the HDR buckets.

use serde::Serialize;

/// Significant decimal digits the HDR histograms keep: quantiles are within
/// 1% (at most 1/128 above the true value), in about 20 KiB for the range
/// 1 µs .. 100 s. Three digits would be 0.1% at eight times the memory.
const SIGNIFICANT_DIGITS: u8 = 2;

/// Values are clamped here (in recorded units) so that the auto-resizing
/// HDR histogram never has to grow past what any `usize` can index. 2^50 µs
/// is 35 years.
const MAX_RECORDED: u64 = 1 << 50;

/// A distribution as the snapshot reports it: count, sum, mean, p50/p95/p99,
/// max and cumulative Prometheus buckets.
///
/// The unit is the one in the field's name (`latency_seconds`,
/// `tokens_per_second`). The statistics are `None` while `count` is 0.
/// Quantiles come from an HDR histogram: each is at or at most 1% above the
/// exact sample quantile (the sample at rank ⌈q·count⌉), and never above
/// `max`, which is exact, as is `count`; `sum` and `mean` are exact at the
/// recording resolution (1 µs for durations, 0.001 for token rates).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Distribution {
    /// Number of samples.
    pub count: u64,
    /// Sum of the samples.
    pub sum: f64,
    /// `sum / count`.
    pub mean: Option<f64>,
    /// Median.
    pub p50: Option<f64>,
    /// 95th percentile.
    pub p95: Option<f64>,
    /// 99th percentile.
    pub p99: Option<f64>,
    /// Largest sample.
    pub max: Option<f64>,
    /// Cumulative counts of samples `<= le` for each fixed bound, ascending;
    /// the implicit `+Inf` bucket is `count`.
    pub buckets: Vec<Bucket>,
}

/// One cumulative Prometheus bucket.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct Bucket {
    /// Upper bound, inclusive.
    pub le: f64,
    /// Samples less than or equal to `le`.
    pub count: u64,
}

/// A live distribution being recorded into.
#[derive(Debug, Clone)]
pub(crate) struct Histogram {
    /// Samples in recorded units (`value * scale`, rounded).
    hdr: hdrhistogram::Histogram<u64>,
    /// Upper bounds of the fixed buckets, in exported units.
    bounds: &'static [f64],
    /// Non-cumulative: `counts[i]` holds samples in `(bounds[i-1], bounds[i]]`,
    /// and the last slot those above every bound.
    counts: Box<[u64]>,
    /// Sum in recorded units: integer, so it is exact and prints without
    /// float noise (`36.29`, not `36.290000000000006`).
    sum: u64,
    max: f64,
    /// Recorded units per exported unit (1e6 records seconds as microseconds).
    scale: f64,
}

impl Histogram {
    /// An empty histogram with these bucket bounds, recording `value * scale`
    /// as integers in the HDR part.
    pub(crate) fn new(bounds: &'static [f64], scale: f64) -> Self {
        let hdr = hdrhistogram::Histogram::new(SIGNIFICANT_DIGITS)
            .expect("2 significant digits is within hdrhistogram's supported 0..=5");
        Self {
            hdr,
            bounds,
            counts: vec![0; bounds.len() + 1].into_boxed_slice(),
            sum: 0,
            max: 0.0,
            scale,
        }
    }

    /// Records one sample, in exported units. Negative, infinite and NaN
    /// samples are dropped: they can only come from a caller's arithmetic
    /// error and would poison the sum.
    pub(crate) fn record(&mut self, value: f64) {
        if !value.is_finite() || value < 0.0 {
            return;
        }
        // `as` saturates, and MAX_RECORDED keeps the HDR histogram small.
        let recorded = ((value * self.scale).round() as u64).min(MAX_RECORDED);
        self.hdr
            .record(recorded)
            .expect("an auto-resizing histogram records any value up to MAX_RECORDED");
        // `le` is inclusive: the first bound that is >= value.
        let slot = self.bounds.partition_point(|&bound| bound < value);
        self.counts[slot] += 1;
        self.sum = self.sum.saturating_add(recorded);
        self.max = self.max.max(value);
    }

    /// Adds every sample of `other` (same bounds and scale) to this one.
    pub(crate) fn merge(&mut self, other: &Self) {
        debug_assert!(std::ptr::eq(self.bounds, other.bounds), "merging different histogram kinds");
        self.hdr
            .add(&other.hdr)
            .expect("an auto-resizing histogram grows to hold any other's values");
        for (mine, theirs) in self.counts.iter_mut().zip(other.counts.iter()) {
            *mine += theirs;
        }
        self.sum = self.sum.saturating_add(other.sum);
        self.max = self.max.max(other.max);
    }

    /// Number of samples.
    pub(crate) fn count(&self) -> u64 {
        self.hdr.len()
    }

    /// The reported view of this distribution.
    pub(crate) fn distribution(&self) -> Distribution {
        let count = self.count();
        let sum = self.sum as f64 / self.scale;
        let mut cumulative = 0;
        let buckets = self
            .bounds
            .iter()
            .zip(self.counts.iter())
            .map(|(&le, &n)| {
                cumulative += n;
                Bucket { le, count: cumulative }
            })
            .collect();
        if count == 0 {
            return Distribution {
                count,
                sum: 0.0,
                mean: None,
                p50: None,
                p95: None,
                p99: None,
                max: None,
                buckets,
            };
        }
        // One pass over the HDR counts for all three quantiles. Each is the
        // highest value equivalent to the sample at that rank, so it may be
        // up to one HDR bucket above it; capping at the exact max keeps p99
        // of a handful of samples from exceeding the largest one.
        let mut quantiles = self
            .hdr
            .value_at_quantiles([0.5, 0.95, 0.99])
            .map(|recorded| (recorded as f64 / self.scale).min(self.max));
        let p50 = quantiles.next();
        let p95 = quantiles.next();
        let p99 = quantiles.next();
        Distribution {
            count,
            sum,
            mean: Some(sum / count as f64),
            p50,
            p95,
            p99,
            max: Some(self.max),
            buckets,
        }
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp, reason = "bounds and exact sums are compared exactly on purpose")]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::buckets::REQUEST_DURATION_SECONDS;

    fn seconds() -> Histogram {
        Histogram::new(REQUEST_DURATION_SECONDS, 1e6)
    }

    #[test]
    fn empty_has_no_statistics_and_zero_buckets() {
        let d = seconds().distribution();
        assert_eq!(d.count, 0);
        assert_eq!((d.mean, d.p50, d.p95, d.p99, d.max), (None, None, None, None, None));
        assert_eq!(d.buckets.len(), REQUEST_DURATION_SECONDS.len());
        assert!(d.buckets.iter().all(|b| b.count == 0));
    }

    #[test]
    fn bucket_bounds_are_inclusive() {
        let mut h = seconds();
        for value in [0.1, 0.100_001, 1.0, 500.0, 501.0, 0.0] {
            h.record(value);
        }
        let d = h.distribution();
        let at = |le: f64| d.buckets.iter().find(|b| b.le == le).map(|b| b.count);
        assert_eq!(at(0.01), Some(1), "0.0 is in the first bucket");
        assert_eq!(at(0.1), Some(2), "0.1 is <= 0.1");
        assert_eq!(at(0.25), Some(3));
        assert_eq!(at(1.0), Some(4));
        assert_eq!(at(500.0), Some(5), "501 is only in +Inf");
        assert_eq!(d.count, 6);
    }

    #[test]
    fn bad_samples_are_dropped() {
        let mut h = seconds();
        for value in [f64::NAN, f64::INFINITY, -1.0, f64::NEG_INFINITY] {
            h.record(value);
        }
        assert_eq!(h.count(), 0);
        assert_eq!(h.distribution().sum, 0.0);
    }

    #[test]
    fn sums_are_exact_at_recording_resolution() {
        let mut h = seconds();
        for value in [0.1, 0.2, 36.0 - 0.3] {
            h.record(value);
        }
        assert_eq!(h.distribution().sum, 36.0);
    }

    #[test]
    fn huge_samples_are_clamped_not_lost() {
        let mut h = seconds();
        h.record(1e12);
        let d = h.distribution();
        assert_eq!(d.count, 1);
        assert_eq!(d.max, Some(1e12));
        assert_eq!(d.buckets.last().map(|b| b.count), Some(0));
    }

    #[test]
    fn uniform_quantiles() {
        let mut h = seconds();
        // 1 ms .. 1000 ms.
        for ms in 1..=1000 {
            h.record(f64::from(ms) / 1000.0);
        }
        let d = h.distribution();
        let close = |got: Option<f64>, want: f64| {
            let got = got.unwrap();
            assert!(got >= want && got <= want * 1.01, "got {got}, want {want}");
        };
        close(d.p50, 0.5);
        close(d.p95, 0.95);
        close(d.p99, 0.99);
        assert_eq!(d.max, Some(1.0));
        assert!((d.mean.unwrap() - 0.5005).abs() < 1e-9);
    }

    #[test]
    fn merge_adds_everything() {
        let mut a = seconds();
        let mut b = seconds();
        a.record(0.2);
        b.record(3.0);
        b.record(3.0);
        a.merge(&b);
        let d = a.distribution();
        assert_eq!(d.count, 3);
        assert!((d.sum - 6.2).abs() < 1e-9);
        assert_eq!(d.max, Some(3.0));
        assert_eq!(d.buckets.iter().find(|x| x.le == 0.25).unwrap().count, 1);
        assert_eq!(d.buckets.iter().find(|x| x.le == 5.0).unwrap().count, 3);
    }

    proptest! {
        /// Every quantile is at or at most 1% above the exact sample at rank
        /// ⌈q·n⌉ (plus the 1 µs recording resolution), and buckets agree with
        /// a direct count.
        #[test]
        fn quantiles_and_buckets_match_exact(micros in prop::collection::vec(0_u64..200_000_000, 1..300)) {
            let mut h = seconds();
            let values: Vec<f64> = micros.iter().map(|&us| us as f64 / 1e6).collect();
            for &v in &values {
                h.record(v);
            }
            let d = h.distribution();
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            for (q, got) in [(0.5, d.p50), (0.95, d.p95), (0.99, d.p99)] {
                let rank = ((q * sorted.len() as f64).ceil() as usize).max(1);
                let exact = sorted[rank - 1];
                let got = got.unwrap();
                prop_assert!(got >= exact - 1e-6, "q{q}: {got} < {exact}");
                prop_assert!(got <= exact * 1.01 + 1e-6, "q{q}: {got} > {exact} + 1%");
            }
            prop_assert_eq!(d.count, values.len() as u64);
            prop_assert_eq!(d.max, sorted.last().copied());
            for bucket in &d.buckets {
                let want = values.iter().filter(|&&v| v <= bucket.le).count() as u64;
                prop_assert_eq!(bucket.count, want, "le={}", bucket.le);
            }
        }
    }
}
