//! Exponentially weighted moving averages of per-instance measurements.

/// An exponentially weighted moving average; the first sample sets it.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Ewma {
    value: Option<f64>,
}

impl Ewma {
    /// Folds `sample` in with weight `alpha`. Non-finite samples are ignored.
    pub(crate) fn observe(&mut self, sample: f64, alpha: f64) {
        if !sample.is_finite() {
            return;
        }
        self.value = Some(match self.value {
            None => sample,
            Some(v) => v + alpha * (sample - v),
        });
    }

    /// The average, `None` before the first sample.
    pub(crate) fn value(self) -> Option<f64> {
        self.value
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_sample_sets_then_moves_by_alpha() {
        let mut e = Ewma::default();
        assert_eq!(e.value(), None);
        e.observe(1.0, 0.25);
        assert_eq!(e.value(), Some(1.0));
        e.observe(5.0, 0.25);
        assert_eq!(e.value(), Some(2.0));
        e.observe(f64::NAN, 0.25);
        assert_eq!(e.value(), Some(2.0));
    }
}
