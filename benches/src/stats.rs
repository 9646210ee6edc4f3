//! Percentiles and medians.

/// The `p`-th percentile (0 < p ≤ 100) of `sorted` by the nearest-rank method: the
/// smallest sample such that at least `p`% of the samples are less than or equal to it.
/// `None` for no samples.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> Option<f64> {
    if sorted.is_empty() || !(p > 0.0 && p <= 100.0) {
        return None;
    }
    let rank = (p / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Sorts samples in place (NaN last) so [`percentile`] can read them.
pub(crate) fn sort(samples: &mut [f64]) {
    samples.sort_by(f64::total_cmp);
}

/// The median of `values` (the mean of the two middle values for an even count).
pub(crate) fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    sort(&mut v);
    let mid = v.len() / 2;
    Some(if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    })
}

/// The median and the spread (min, max) of per-round values.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub(crate) struct Spread {
    /// The median over rounds.
    pub(crate) median: f64,
    /// The smallest round.
    pub(crate) min: f64,
    /// The largest round.
    pub(crate) max: f64,
    /// Every round, in the order measured.
    pub(crate) rounds: Vec<f64>,
}

impl Spread {
    pub(crate) fn of(rounds: Vec<f64>) -> Option<Spread> {
        let median = median(&rounds)?;
        let min = rounds.iter().copied().fold(f64::INFINITY, f64::min);
        let max = rounds.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        Some(Spread {
            median,
            min,
            max,
            rounds,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_percentiles() {
        let v: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&v, 50.0), Some(50.0));
        assert_eq!(percentile(&v, 99.0), Some(99.0));
        assert_eq!(percentile(&v, 99.5), Some(100.0));
        assert_eq!(percentile(&v, 100.0), Some(100.0));
        assert_eq!(percentile(&v, 0.1), Some(1.0));
        let ten: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(percentile(&ten, 50.0), Some(5.0));
        assert_eq!(percentile(&ten, 99.0), Some(10.0));
        assert_eq!(percentile(&ten, 91.0), Some(10.0));
        assert_eq!(percentile(&ten, 90.0), Some(9.0));
    }

    #[test]
    fn edge_cases_of_percentiles() {
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(percentile(&[7.0], 50.0), Some(7.0));
        assert_eq!(percentile(&[7.0], 99.0), Some(7.0));
        assert_eq!(percentile(&[1.0, 2.0], 0.0), None);
        assert_eq!(percentile(&[1.0, 2.0], 101.0), None);
        assert_eq!(percentile(&[1.0, 2.0], f64::NAN), None);
    }

    #[test]
    fn sorting_then_reading() {
        let mut v = vec![5.0, 1.0, 4.0, 2.0, 3.0];
        sort(&mut v);
        assert_eq!(v, [1.0, 2.0, 3.0, 4.0, 5.0]);
        assert_eq!(percentile(&v, 50.0), Some(3.0));
    }

    #[test]
    fn medians_and_spreads() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
        let s = Spread::of(vec![3.0, 9.0, 1.0]).unwrap();
        assert_eq!((s.median, s.min, s.max), (3.0, 1.0, 9.0));
        assert_eq!(s.rounds, [3.0, 9.0, 1.0]);
        assert!(Spread::of(vec![]).is_none());
    }
}
