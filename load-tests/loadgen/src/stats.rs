//! What a run counts: outcomes by type, latency histograms, and a per-second timeline.
//!
//! Invariant: every finished request is counted exactly once in the timeline, in the second it
//! finished; the totals hold exactly those that finished inside the measuring window
//! (after the warm-up, before the end), so totals ÷ window length is a rate.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use xoev_mock_authority::Histogram;

/// How one request ended.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// 202 for a new message.
    Accepted,
    /// 202 with `"duplicate": true`.
    Duplicate,
    /// Any other status; the key is `"<status> <problem type>"`, e.g. `"400 signature-invalid"`.
    Rejected(String),
    /// No answer: `connect`, `tls`, `io`, `timeout`, ...
    Failed(String),
}

/// One finished request.
#[derive(Clone, Debug)]
pub struct Sample {
    /// When it finished.
    pub done: Instant,
    /// From the intended send time (fixed rate) or the send time (flat out) to the answer.
    pub latency: Duration,
    /// From the actual send time to the answer.
    pub service: Duration,
    /// Body bytes sent.
    pub bytes: u64,
    /// How it ended.
    pub outcome: Outcome,
}

/// Counts of one second (or of the whole run).
#[derive(Clone, Debug, Default)]
pub struct Counts {
    /// New messages accepted.
    pub accepted: u64,
    /// Duplicate answers.
    pub duplicate: u64,
    /// Rejections by `"<status> <type>"`.
    pub rejected: BTreeMap<String, u64>,
    /// Failures by kind.
    pub failed: BTreeMap<String, u64>,
    /// Body bytes of accepted messages.
    pub accepted_bytes: u64,
    /// Latency of accepted requests (µs), coordinated-omission corrected at a fixed rate.
    pub latency: Histogram,
    /// Service time of accepted requests (µs): send to answer.
    pub service: Histogram,
}

impl Counts {
    fn add(&mut self, s: &Sample) {
        match &s.outcome {
            Outcome::Accepted => {
                self.accepted += 1;
                self.accepted_bytes += s.bytes;
                self.latency.record_duration(s.latency);
                self.service.record_duration(s.service);
            }
            Outcome::Duplicate => self.duplicate += 1,
            Outcome::Rejected(k) => *self.rejected.entry(k.clone()).or_default() += 1,
            Outcome::Failed(k) => *self.failed.entry(k.clone()).or_default() += 1,
        }
    }

    /// Rejections plus failures.
    pub fn errors(&self) -> u64 {
        self.rejected.values().sum::<u64>() + self.failed.values().sum::<u64>()
    }
}

struct Inner {
    total: Counts,
    /// Index = whole seconds since start.
    seconds: Vec<Counts>,
}

/// Thread-safe collector for one run.
pub struct Recorder {
    start: Instant,
    measure_from: Instant,
    measure_until: Instant,
    inner: Mutex<Inner>,
}

impl Recorder {
    /// A recorder whose totals include requests finishing in
    /// `[start + warmup, start + warmup + measure]`.
    pub fn new(start: Instant, warmup: Duration, measure: Duration) -> Self {
        Recorder {
            start,
            measure_from: start + warmup,
            measure_until: start + warmup + measure,
            inner: Mutex::new(Inner {
                total: Counts::default(),
                seconds: Vec::new(),
            }),
        }
    }

    /// Start of the run.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// End of the warm-up.
    pub fn measure_from(&self) -> Instant {
        self.measure_from
    }

    /// End of the measuring window.
    pub fn measure_until(&self) -> Instant {
        self.measure_until
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts one finished request.
    pub fn record(&self, s: Sample) {
        let sec = s.done.saturating_duration_since(self.start).as_secs() as usize;
        let mut g = self.lock();
        if g.seconds.len() <= sec {
            g.seconds.resize_with(sec + 1, Counts::default);
        }
        if let Some(c) = g.seconds.get_mut(sec) {
            c.add(&s);
        }
        if s.done >= self.measure_from && s.done <= self.measure_until {
            g.total.add(&s);
        }
    }

    /// Counts of second `sec` (empty when nothing finished then).
    pub fn second(&self, sec: usize) -> Counts {
        self.lock().seconds.get(sec).cloned().unwrap_or_default()
    }

    /// Totals after warm-up, and the timeline.
    pub fn finish(&self) -> (Counts, Vec<Counts>) {
        let g = self.lock();
        (g.total.clone(), g.seconds.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(start: Instant, at_ms: u64, outcome: Outcome) -> Sample {
        Sample {
            done: start + Duration::from_millis(at_ms),
            latency: Duration::from_millis(3),
            service: Duration::from_millis(2),
            bytes: 4096,
            outcome,
        }
    }

    #[test]
    fn warmup_requests_appear_in_the_timeline_but_not_in_the_totals() {
        let start = Instant::now();
        let r = Recorder::new(start, Duration::from_secs(1), Duration::from_secs(1));
        r.record(sample(start, 500, Outcome::Accepted));
        r.record(sample(start, 1500, Outcome::Accepted));
        r.record(sample(start, 1600, Outcome::Duplicate));
        r.record(sample(start, 2500, Outcome::Accepted));
        let (total, seconds) = r.finish();
        assert_eq!(total.accepted, 1, "only the one inside the window");
        assert_eq!(total.duplicate, 1);
        assert_eq!(total.accepted_bytes, 4096);
        assert_eq!(seconds.len(), 3);
        assert_eq!(seconds[0].accepted, 1);
        assert_eq!(seconds[1].accepted, 1);
        assert_eq!(seconds[2].accepted, 1);
    }

    #[test]
    fn rejections_and_failures_are_counted_by_type() {
        let start = Instant::now();
        let r = Recorder::new(start, Duration::ZERO, Duration::from_secs(60));
        r.record(sample(
            start,
            1,
            Outcome::Rejected("400 signature-invalid".into()),
        ));
        r.record(sample(
            start,
            2,
            Outcome::Rejected("400 signature-invalid".into()),
        ));
        r.record(sample(start, 3, Outcome::Rejected("503 overloaded".into())));
        r.record(sample(start, 4, Outcome::Failed("timeout".into())));
        let (total, _) = r.finish();
        assert_eq!(total.rejected["400 signature-invalid"], 2);
        assert_eq!(total.rejected["503 overloaded"], 1);
        assert_eq!(total.failed["timeout"], 1);
        assert_eq!(total.errors(), 4);
        assert_eq!(
            total.latency.count(),
            0,
            "only accepted requests have latency"
        );
    }
}
