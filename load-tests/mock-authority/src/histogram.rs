//! A small log-linear latency histogram (HDR-style), shared by the mock authority (end-to-end
//! latency) and the load generator (accept latency).
//!
//! Invariants: values are microseconds; every value lands in exactly one bucket; a bucket's
//! width is at most 1/32 of its lower bound (values below 64 µs are exact), so a reported
//! quantile is at most ~3 % above the true sample. Quantiles report the bucket's upper bound
//! (never optimistic). Memory is fixed (1,920 counters) whatever the number of samples.

/// Values below this are counted exactly, one bucket each.
const LINEAR: u64 = 64;
/// Buckets per power of two above `LINEAR`.
const SUB: u64 = 32;
/// Bucket count covering all of `u64`: 64 exact + 58 octaves (2^6 … 2^63) × 32.
const BUCKETS: usize = 64 + 58 * 32;

/// Latency histogram in microseconds.
#[derive(Clone, Debug)]
pub struct Histogram {
    counts: Vec<u64>,
    total: u64,
    sum: u128,
    min: u64,
    max: u64,
}

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    /// An empty histogram.
    pub fn new() -> Self {
        Histogram {
            counts: vec![0; BUCKETS],
            total: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    /// Records one value (µs).
    pub fn record(&mut self, micros: u64) {
        if let Some(c) = self.counts.get_mut(index(micros)) {
            *c += 1;
        }
        self.total += 1;
        self.sum += u128::from(micros);
        self.min = self.min.min(micros);
        self.max = self.max.max(micros);
    }

    /// Records a duration.
    pub fn record_duration(&mut self, d: std::time::Duration) {
        self.record(u64::try_from(d.as_micros()).unwrap_or(u64::MAX));
    }

    /// Adds every sample of `other`.
    pub fn merge(&mut self, other: &Histogram) {
        for (a, b) in self.counts.iter_mut().zip(&other.counts) {
            *a += b;
        }
        self.total += other.total;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Samples recorded.
    pub fn count(&self) -> u64 {
        self.total
    }

    /// Largest sample (0 when empty).
    pub fn max(&self) -> u64 {
        self.max
    }

    /// Smallest sample (0 when empty).
    pub fn min(&self) -> u64 {
        if self.total == 0 { 0 } else { self.min }
    }

    /// Arithmetic mean (0 when empty).
    pub fn mean(&self) -> f64 {
        if self.total == 0 {
            0.0
        } else {
            self.sum as f64 / self.total as f64
        }
    }

    /// The value at quantile `q` (0.0–1.0): the upper bound of the bucket holding the
    /// ⌈q·n⌉-th smallest sample, capped at the true maximum. 0 when empty.
    pub fn quantile(&self, q: f64) -> u64 {
        if self.total == 0 {
            return 0;
        }
        let rank = ((q.clamp(0.0, 1.0) * self.total as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, &c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return upper_bound(i).min(self.max);
            }
        }
        self.max
    }
}

/// The bucket of `v`.
fn index(v: u64) -> usize {
    if v < LINEAR {
        return v as usize;
    }
    let msb = u64::from(63 - v.leading_zeros()); // ≥ 6
    let shift = msb - 5;
    let top = v >> shift; // 32..=63
    (LINEAR + (msb - 6) * SUB + (top - SUB)) as usize
}

/// The largest value that lands in bucket `i`.
fn upper_bound(i: usize) -> u64 {
    let i = i as u64;
    if i < LINEAR {
        return i;
    }
    let octave = (i - LINEAR) / SUB;
    let top = SUB + (i - LINEAR) % SUB;
    let shift = octave + 1;
    // u128: the last bucket's bound is 2^64 - 1.
    let bound = (u128::from(top + 1) << shift) - 1;
    u64::try_from(bound).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_values_are_exact() {
        let mut h = Histogram::new();
        for v in 0..64 {
            h.record(v);
        }
        assert_eq!(h.quantile(0.5), 31);
        assert_eq!(h.quantile(1.0), 63);
        assert_eq!(h.min(), 0);
    }

    #[test]
    fn every_value_lies_within_its_bucket_and_the_bucket_is_narrow() {
        for v in (0..22).flat_map(|s| {
            let b = 1u64 << (s * 3);
            [b, b + 1, b + b / 2, b + (b - 1)]
        }) {
            let i = index(v);
            let hi = upper_bound(i);
            assert!(hi >= v, "value {v} above its bucket bound {hi}");
            assert!(
                hi - v <= v / 32 + 1,
                "bucket of {v} too wide: upper bound {hi}"
            );
            if i > 0 {
                assert!(
                    upper_bound(i - 1) < v,
                    "value {v} also fits bucket {}",
                    i - 1
                );
            }
        }
        assert!(index(u64::MAX) < BUCKETS);
    }

    #[test]
    fn quantiles_of_a_uniform_spread_are_within_three_percent() {
        let mut h = Histogram::new();
        for v in 1..=100_000 {
            h.record(v);
        }
        for (q, want) in [(0.5, 50_000.0), (0.9, 90_000.0), (0.99, 99_000.0)] {
            let got = h.quantile(q) as f64;
            assert!(
                got >= want && got <= want * 1.03,
                "p{q}: got {got}, want {want}"
            );
        }
        assert_eq!(h.quantile(0.999_999), 100_000);
        assert_eq!(h.count(), 100_000);
    }

    #[test]
    fn merge_adds_counts_and_keeps_extremes() {
        let mut a = Histogram::new();
        let mut b = Histogram::new();
        a.record(10);
        b.record(5_000);
        b.record(7);
        a.merge(&b);
        assert_eq!(a.count(), 3);
        assert_eq!(a.min(), 7);
        assert_eq!(a.max(), 5_000);
        assert_eq!(a.quantile(0.5), 10);
    }

    #[test]
    fn empty_histogram_reports_zero() {
        let h = Histogram::new();
        assert_eq!(h.quantile(0.99), 0);
        assert_eq!(h.min(), 0);
        assert_eq!(h.mean(), 0.0);
    }
}
