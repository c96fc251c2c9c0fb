//! The JSON result of one generator run, and its one-paragraph human summary.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use xoev_mock_authority::Histogram;

use crate::client::Proto;
use crate::pki::KeyKind;

/// Latency quantiles in milliseconds.
#[derive(Clone, Debug, Default, Serialize, Deserialize, PartialEq)]
pub struct Latency {
    /// Samples.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Largest sample.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl Latency {
    /// Quantiles of a µs histogram, in ms.
    pub fn of(h: &Histogram) -> Latency {
        let ms = |us: u64| us as f64 / 1000.0;
        Latency {
            count: h.count(),
            p50: ms(h.quantile(0.5)),
            p90: ms(h.quantile(0.9)),
            p99: ms(h.quantile(0.99)),
            p999: ms(h.quantile(0.999)),
            max: ms(h.max()),
            mean: h.mean() / 1000.0,
        }
    }
}

/// The corpus a run used.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct CorpusInfo {
    /// Key type.
    pub key: KeyKind,
    /// Bytes per message.
    pub message_len: usize,
    /// Messages available.
    pub count: usize,
}

/// One second of the run.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct Second {
    /// Seconds since start.
    pub t: usize,
    /// Accepted in this second.
    pub accepted: u64,
    /// Rejected or failed in this second.
    pub errors: u64,
    /// p99 latency of this second's accepted requests (ms).
    pub p99_ms: f64,
}

/// Result of one generator run (written as JSON with `--json`).
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub struct RunReport {
    /// Free-form label (scenario name).
    pub label: String,
    /// HTTP version.
    pub proto: Proto,
    /// TCP/TLS connections.
    pub connections: usize,
    /// Requests in flight per connection (1 for HTTP/1.1).
    pub streams: usize,
    /// Fixed rate (messages/s), or `None` for flat out.
    pub rate: Option<f64>,
    /// Warm-up excluded from the totals (s).
    pub warmup_s: f64,
    /// Length of the measuring window (s); shorter than asked if the corpus ran out.
    pub window_s: f64,
    /// The corpus.
    pub corpus: CorpusInfo,
    /// New messages accepted (202) in the window.
    pub accepted: u64,
    /// Duplicate answers in the window.
    pub duplicate: u64,
    /// Rejections by `"<status> <problem type>"` in the window.
    pub rejected: BTreeMap<String, u64>,
    /// Transport failures by kind in the window.
    pub failed: BTreeMap<String, u64>,
    /// Accepted per second over the window.
    pub accepted_per_s: f64,
    /// Accepted payload MiB per second over the window.
    pub mib_per_s: f64,
    /// Accept latency; at a fixed rate measured from the intended send time, which corrects
    /// for coordinated omission.
    pub latency: Latency,
    /// Service time (actual send to answer), not corrected.
    pub service: Latency,
    /// How late requests were sent relative to the schedule (fixed rate only).
    pub schedule_lag: Latency,
    /// All messages of the corpus were used before the end.
    pub corpus_exhausted: bool,
    /// Requests sent in total (warm-up and tail included).
    pub sent: u64,
    /// Fixed rate only: requests due before the end that were never sent because the router
    /// (or the connection pool) was too slow. Non-zero means the rate was not sustained and
    /// the latency quantiles are a lower bound.
    pub unsent_due: u64,
    /// Per-second timeline (warm-up included).
    pub timeline: Vec<Second>,
}

impl RunReport {
    /// A short human summary.
    pub fn summary(&self) -> String {
        let mode = match self.rate {
            Some(r) => format!("fixed {r:.0}/s"),
            None => "flat out".into(),
        };
        let mut s = format!(
            "{}: {} {}×{} B, {:?} {}×{} {}, window {:.1} s: {:.0} accepted/s ({:.1} MiB/s), \
             latency p50 {:.2} p90 {:.2} p99 {:.2} p99.9 {:.2} max {:.2} ms",
            self.label,
            self.corpus.key.name(),
            self.corpus.message_len,
            self.corpus.count,
            self.proto,
            self.connections,
            self.streams,
            mode,
            self.window_s,
            self.accepted_per_s,
            self.mib_per_s,
            self.latency.p50,
            self.latency.p90,
            self.latency.p99,
            self.latency.p999,
            self.latency.max,
        );
        if self.rate.is_some() {
            s.push_str(&format!(
                " (service p99 {:.2} ms, schedule lag p99 {:.2} ms)",
                self.service.p99, self.schedule_lag.p99
            ));
        }
        if self.duplicate > 0 {
            s.push_str(&format!("; {} duplicate answers", self.duplicate));
        }
        for (k, v) in self.rejected.iter().chain(&self.failed) {
            s.push_str(&format!("; {v}× {k}"));
        }
        if self.unsent_due > 0 {
            s.push_str(&format!(
                "; {} due requests never sent (rate not sustained)",
                self.unsent_due
            ));
        }
        if self.corpus_exhausted {
            s.push_str("; corpus exhausted before the end");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn latency_summary_converts_microseconds_to_milliseconds() {
        let mut h = Histogram::new();
        for v in [1_000, 2_000, 3_000, 40_000] {
            h.record(v);
        }
        let l = Latency::of(&h);
        assert_eq!(l.count, 4);
        assert!((l.p50 - 2.0).abs() < 0.07, "{l:?}");
        assert!((l.max - 40.0).abs() < 1e-9, "{l:?}");
        assert!((l.mean - 11.5).abs() < 1e-9, "{l:?}");
    }
}
