//! Prometheus metrics. Names follow `xoev_router_<area>_<name>_<unit>[_total]` (areas: ingress,
//! dsig, schema, queue, delivery, admin); label values come from bounded sets only (problem
//! slugs, configured destination ids, fixed outcome names). `docs/metrics.md` lists them.

mod process;

use std::time::Duration;

use prometheus::{
    Encoder, Gauge, Histogram, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, IntGauge,
    IntGaugeVec, Opts, Registry, TextEncoder,
};
use xoev_queue::QueueObserver;

/// Latency buckets from 100 µs to 60 s.
const LATENCY: &[f64] = &[
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5,
    5.0, 10.0, 30.0, 60.0,
];
/// End-to-end buckets from 1 ms to a day (retries after outages).
const END_TO_END: &[f64] = &[
    0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1.0, 5.0, 10.0, 60.0, 300.0, 1800.0, 3600.0, 21600.0,
    86400.0,
];

pub struct Metrics {
    registry: Registry,
    pub ingress_requests: IntCounterVec,
    pub ingress_duration: HistogramVec,
    pub ingress_bytes: IntCounter,
    pub dsig_verify_duration: Histogram,
    pub schema_duration: Histogram,
    pub queue_flush_duration: Histogram,
    pub queue_flushed_writes: IntCounter,
    pub queue_corrupt_records: IntCounter,
    pub queue_payload_read_errors: IntCounter,
    pub queue_transactions: IntCounter,
    pub queue_depth: IntGaugeVec,
    pub queue_pending_bytes: IntGaugeVec,
    pub queue_free_disk_bytes: IntGauge,
    pub queue_failed: IntGauge,
    pub queue_sync_running: Gauge,
    pub delivery_attempts: IntCounterVec,
    pub delivery_leases: IntCounterVec,
    pub delivery_failures: IntCounterVec,
    pub delivery_duration: HistogramVec,
    pub delivery_end_to_end: HistogramVec,
    pub delivery_circuit_open: IntGaugeVec,
    pub admin_requests: IntCounterVec,
}

fn counter_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntCounterVec {
    let m = IntCounterVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(m.clone())).expect("unique metric");
    m
}

fn counter(r: &Registry, name: &str, help: &str) -> IntCounter {
    let m = IntCounter::new(name, help).expect("valid metric");
    r.register(Box::new(m.clone())).expect("unique metric");
    m
}

fn gauge_vec(r: &Registry, name: &str, help: &str, labels: &[&str]) -> IntGaugeVec {
    let m = IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric");
    r.register(Box::new(m.clone())).expect("unique metric");
    m
}

fn histogram(r: &Registry, name: &str, help: &str, buckets: &[f64]) -> Histogram {
    let m = Histogram::with_opts(HistogramOpts::new(name, help).buckets(buckets.to_vec()))
        .expect("valid metric");
    r.register(Box::new(m.clone())).expect("unique metric");
    m
}

fn histogram_vec(
    r: &Registry,
    name: &str,
    help: &str,
    labels: &[&str],
    buckets: &[f64],
) -> HistogramVec {
    let m = HistogramVec::new(
        HistogramOpts::new(name, help).buckets(buckets.to_vec()),
        labels,
    )
    .expect("valid metric");
    r.register(Box::new(m.clone())).expect("unique metric");
    m
}

impl Metrics {
    pub fn new(router_id: &str) -> Metrics {
        let r = Registry::new();
        #[cfg(target_os = "linux")]
        r.register(Box::new(process::ProcessCollector::new()))
            .expect("unique metric");
        let build = IntGaugeVec::new(
            Opts::new(
                "xoev_router_build_info",
                "Version and identity of this router; always 1.",
            ),
            &["version", "router_id"],
        )
        .expect("valid metric");
        r.register(Box::new(build.clone())).expect("unique metric");
        build
            .with_label_values(&[env!("CARGO_PKG_VERSION"), router_id])
            .set(1);
        Metrics {
            ingress_requests: counter_vec(
                &r,
                "xoev_router_ingress_requests_total",
                "POST /v1/messages requests by outcome (accepted, duplicate, rejected) and problem type.",
                &["outcome", "problem"],
            ),
            ingress_duration: histogram_vec(
                &r,
                "xoev_router_ingress_request_duration_seconds",
                "Time from the request's head to the answer, by outcome.",
                &["outcome"],
                LATENCY,
            ),
            ingress_bytes: counter(
                &r,
                "xoev_router_ingress_received_bytes_total",
                "Message bytes accepted.",
            ),
            dsig_verify_duration: histogram(
                &r,
                "xoev_router_dsig_verify_duration_seconds",
                "Parse and signature verification time per message.",
                LATENCY,
            ),
            schema_duration: histogram(
                &r,
                "xoev_router_schema_validation_duration_seconds",
                "Schema validation time per message.",
                LATENCY,
            ),
            queue_flush_duration: histogram(
                &r,
                "xoev_router_queue_flush_duration_seconds",
                "Duration of one group-commit flush (flush + fsync).",
                LATENCY,
            ),
            queue_flushed_writes: counter(
                &r,
                "xoev_router_queue_flushed_writes_total",
                "Writes made durable by group-commit flushes.",
            ),
            queue_corrupt_records: counter(
                &r,
                "xoev_router_queue_corrupt_records_total",
                "Records that failed their checksum or version check and were moved aside.",
            ),
            queue_payload_read_errors: counter(
                &r,
                "xoev_router_queue_payload_read_errors_total",
                "Payload reads that failed with an I/O error; the message stays queued.",
            ),
            queue_transactions: counter(
                &r,
                "xoev_router_queue_transactions_total",
                "Store transactions committed; each is a write of its own to the store's log (÷ messages = how well the writer merges).",
            ),
            queue_depth: gauge_vec(
                &r,
                "xoev_router_queue_depth_messages",
                "Messages per destination and state (queued, delivering, dead).",
                &["destination", "state"],
            ),
            queue_pending_bytes: gauge_vec(
                &r,
                "xoev_router_queue_pending_bytes",
                "Payload bytes waiting for delivery per destination.",
                &["destination"],
            ),
            queue_free_disk_bytes: {
                let g = IntGauge::new(
                    "xoev_router_queue_free_disk_bytes",
                    "Free space on the file system of the queue.",
                )
                .expect("valid metric");
                r.register(Box::new(g.clone())).expect("unique metric");
                g
            },
            queue_failed: {
                let g = IntGauge::new(
                    "xoev_router_queue_failed",
                    "1 once a flush or sync of the queue failed: every message is refused until the router is restarted.",
                )
                .expect("valid metric");
                r.register(Box::new(g.clone())).expect("unique metric");
                g
            },
            queue_sync_running: {
                let g = Gauge::new(
                    "xoev_router_queue_sync_running_seconds",
                    "How long the oldest disk sync of the queue still running has been running; 0 when none is. Past queue.sync_timeout the router is not ready.",
                )
                .expect("valid metric");
                r.register(Box::new(g.clone())).expect("unique metric");
                g
            },
            delivery_attempts: counter_vec(
                &r,
                "xoev_router_delivery_attempts_total",
                "Finished delivery attempts by destination and outcome (delivered, forwarded, retry, dead, released).",
                &["destination", "outcome"],
            ),
            delivery_leases: counter_vec(
                &r,
                "xoev_router_delivery_leases_total",
                "Lease requests of the delivery workers by destination and outcome (taken: at least one message, empty).",
                &["destination", "outcome"],
            ),
            delivery_failures: counter_vec(
                &r,
                "xoev_router_delivery_failures_total",
                "Failed delivery attempts by destination and failure kind.",
                &["destination", "kind"],
            ),
            delivery_duration: histogram_vec(
                &r,
                "xoev_router_delivery_attempt_duration_seconds",
                "Duration of one delivery attempt.",
                &["destination"],
                LATENCY,
            ),
            delivery_end_to_end: histogram_vec(
                &r,
                "xoev_router_delivery_end_to_end_seconds",
                "Time from acceptance to confirmed delivery.",
                &["destination"],
                END_TO_END,
            ),
            delivery_circuit_open: gauge_vec(
                &r,
                "xoev_router_delivery_circuit_open",
                "1 while the destination's circuit breaker is open.",
                &["destination"],
            ),
            admin_requests: counter_vec(
                &r,
                "xoev_router_admin_requests_total",
                "Admin API requests by endpoint and status class.",
                &["endpoint", "status"],
            ),
            registry: r,
        }
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16 * 1024);
        let _ = TextEncoder::new().encode(&self.registry.gather(), &mut out);
        out
    }
}

impl QueueObserver for Metrics {
    fn flushed(&self, duration: Duration, writes: u64) {
        self.queue_flush_duration.observe(duration.as_secs_f64());
        self.queue_flushed_writes.inc_by(writes);
    }

    fn corrupt_record(&self, tree: &str, key: &[u8]) {
        self.queue_corrupt_records.inc();
        tracing::error!(tree, key = %crate::tls::hex(key), "corrupt queue record moved aside");
    }

    fn payload_unreadable(&self) {
        self.queue_payload_read_errors.inc();
    }
}
