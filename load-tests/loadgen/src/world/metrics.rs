//! What the router's Prometheus text says: queue depth and stage timings.

use serde::{Deserialize, Serialize};

/// Queue depth summed over destinations, from the router's metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Depth {
    /// `state="queued"`.
    pub queued: u64,
    /// `state="delivering"`.
    pub delivering: u64,
    /// `state="dead"`.
    pub dead: u64,
}

/// Sums `xoev_router_queue_depth_messages` by state from Prometheus text.
pub fn parse_depth(metrics: &str) -> Depth {
    let mut d = Depth::default();
    for line in metrics.lines() {
        let Some(rest) = line.strip_prefix("xoev_router_queue_depth_messages{") else {
            continue;
        };
        let Some((labels, value)) = rest.split_once('}') else {
            continue;
        };
        let Ok(v) = value.trim().parse::<f64>() else {
            continue;
        };
        let v = v.max(0.0) as u64;
        if labels.contains("state=\"queued\"") {
            d.queued += v;
        } else if labels.contains("state=\"delivering\"") {
            d.delivering += v;
        } else if labels.contains("state=\"dead\"") {
            d.dead += v;
        }
    }
    d
}

/// Sum of every series of metric `name` (exact name, any labels) in Prometheus text.
pub fn metric_sum(text: &str, name: &str) -> f64 {
    metric_sum_where(text, name, "")
}

/// Sum of the series of metric `name` whose labels contain `label` (e.g. `outcome="accepted"`).
pub fn metric_sum_where(text: &str, name: &str, label: &str) -> f64 {
    text.lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| {
            let rest = l.strip_prefix(name)?;
            let value = if let Some(labels) = rest.strip_prefix('{') {
                let (labels, value) = labels.split_once('}')?;
                if !labels.contains(label) {
                    return None;
                }
                value
            } else if rest.starts_with(' ') && label.is_empty() {
                rest
            } else {
                return None;
            };
            value.trim().parse::<f64>().ok()
        })
        .sum()
}

/// What the router's own metrics say about where a message's time went (cumulative since
/// start; warm-up included).
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Stages {
    /// Group-commit flushes.
    pub flushes: f64,
    /// Mean duration of one flush (flush + fsync), ms.
    pub flush_mean_ms: f64,
    /// Writes made durable per flush (the group-commit batch).
    pub writes_per_flush: f64,
    /// Mean parse + signature verification per message, µs.
    pub dsig_mean_us: f64,
    /// Mean schema validation per message, µs.
    pub schema_mean_us: f64,
    /// Mean request duration (head to answer, fsync wait included), ms.
    pub ingress_mean_ms: f64,
    /// Mean delivery attempt, ms.
    pub delivery_attempt_mean_ms: f64,
    /// Store transactions per accepted message (enqueue, lease and completion merged by the
    /// queue's writer; 3 without any merging).
    #[serde(default)]
    pub transactions_per_message: f64,
}

impl Stages {
    /// Reads the summary from Prometheus text.
    pub fn from_metrics(text: &str) -> Stages {
        let m = |n: &str| metric_sum(text, n);
        let mean = |base: &str, scale: f64| {
            let count = m(&format!("{base}_count"));
            if count > 0.0 {
                m(&format!("{base}_sum")) / count * scale
            } else {
                0.0
            }
        };
        let flushes = m("xoev_router_queue_flush_duration_seconds_count");
        Stages {
            flushes,
            flush_mean_ms: mean("xoev_router_queue_flush_duration_seconds", 1e3),
            writes_per_flush: if flushes > 0.0 {
                m("xoev_router_queue_flushed_writes_total") / flushes
            } else {
                0.0
            },
            dsig_mean_us: mean("xoev_router_dsig_verify_duration_seconds", 1e6),
            schema_mean_us: mean("xoev_router_schema_validation_duration_seconds", 1e6),
            ingress_mean_ms: mean("xoev_router_ingress_request_duration_seconds", 1e3),
            delivery_attempt_mean_ms: mean("xoev_router_delivery_attempt_duration_seconds", 1e3),
            transactions_per_message: {
                let accepted = metric_sum_where(
                    text,
                    "xoev_router_ingress_requests_total",
                    "outcome=\"accepted\"",
                );
                if accepted > 0.0 {
                    m("xoev_router_queue_transactions_total") / accepted
                } else {
                    0.0
                }
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stage_means_come_from_histogram_sums_and_counts() {
        let text = "# TYPE x histogram\n\
            xoev_router_queue_flush_duration_seconds_sum 0.5\n\
            xoev_router_queue_flush_duration_seconds_count 100\n\
            xoev_router_queue_flushed_writes_total 2500\n\
            xoev_router_dsig_verify_duration_seconds_sum 0.2\n\
            xoev_router_dsig_verify_duration_seconds_count 2000\n\
            xoev_router_ingress_request_duration_seconds_sum{outcome=\"accepted\"} 30\n\
            xoev_router_ingress_request_duration_seconds_sum{outcome=\"rejected\"} 10\n\
            xoev_router_ingress_request_duration_seconds_count{outcome=\"accepted\"} 1500\n\
            xoev_router_ingress_request_duration_seconds_count{outcome=\"rejected\"} 500\n\
            xoev_router_ingress_requests_total{outcome=\"accepted\",problem=\"\"} 1500\n\
            xoev_router_ingress_requests_total{outcome=\"rejected\",problem=\"malformed-xml\"} 500\n\
            xoev_router_queue_transactions_total 750\n";
        let s = Stages::from_metrics(text);
        assert_eq!(s.flushes, 100.0);
        assert!((s.flush_mean_ms - 5.0).abs() < 1e-9);
        assert!((s.writes_per_flush - 25.0).abs() < 1e-9);
        assert!((s.dsig_mean_us - 100.0).abs() < 1e-9);
        assert!((s.ingress_mean_ms - 20.0).abs() < 1e-9);
        assert_eq!(s.schema_mean_us, 0.0);
        assert!((s.transactions_per_message - 0.5).abs() < 1e-9);
    }

    #[test]
    fn metric_sum_matches_the_exact_name_only() {
        let text = "a_total 1\na_total_extra 5\na_total{x=\"1\"} 2\n# a_total 9\n";
        assert_eq!(metric_sum(text, "a_total"), 3.0);
        assert_eq!(metric_sum_where(text, "a_total", "x=\"1\""), 2.0);
        assert_eq!(metric_sum_where(text, "a_total", "x=\"2\""), 0.0);
    }

    #[test]
    fn queue_depth_is_summed_per_state_over_destinations() {
        let text = "# HELP xoev_router_queue_depth_messages depth\n\
            xoev_router_queue_depth_messages{destination=\"bw\",state=\"queued\"} 10\n\
            xoev_router_queue_depth_messages{destination=\"by\",state=\"queued\"} 5\n\
            xoev_router_queue_depth_messages{destination=\"by\",state=\"delivering\"} 3\n\
            xoev_router_queue_depth_messages{destination=\"by\",state=\"dead\"} 1\n\
            xoev_router_queue_pending_bytes{destination=\"by\"} 999\n";
        assert_eq!(
            parse_depth(text),
            Depth {
                queued: 15,
                delivering: 3,
                dead: 1
            }
        );
    }
}
