//! Once a second during a run: deliveries, queue depth and CPU time of every process and of
//! the router's thread groups.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::world::Depth;

/// Cores used (CPU seconds per second) by each process over the measuring window.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct Cores {
    /// The router.
    pub router: f64,
    /// The mock authority.
    pub authority: f64,
    /// The generator (this process).
    pub generator: f64,
}

/// One sample of the monitor.
#[derive(Clone, Debug, Serialize)]
pub(super) struct Tick {
    /// Seconds since the run started.
    pub(super) t: f64,
    /// Distinct deliveries so far.
    pub(super) delivered: u64,
    /// Router queue depth.
    pub(super) depth: Depth,
    /// CPU seconds so far: router, authority, generator.
    pub(super) cpu: [f64; 3],
    /// Router CPU ticks per thread group (threads that exited are missing).
    #[serde(skip)]
    pub(super) threads: std::collections::BTreeMap<String, u64>,
}

/// Polls ledger, queue depth and CPU times every second until stopped.
pub(super) fn monitor(
    authority: (SocketAddr, u32),
    admin: (SocketAddr, u32),
    start: Instant,
) -> (
    tokio::task::JoinHandle<Vec<Tick>>,
    tokio::sync::oneshot::Sender<()>,
) {
    let (tx, mut rx) = tokio::sync::oneshot::channel::<()>();
    let hz = crate::cpu::ticks_per_second();
    let cpu_of = move |pid: u32| crate::cpu::cpu_seconds(pid, hz).unwrap_or(0.0);
    let ((authority, authority_pid), (admin, router_pid)) = (authority, admin);
    let task = tokio::spawn(async move {
        let mut ticks = Vec::new();
        loop {
            let delivered = crate::http_util::get_ok(authority, "/stats")
                .await
                .ok()
                .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                .and_then(|v| v["ledger"]["delivered"].as_u64());
            let depth = crate::http_util::get_ok(admin, "/metrics")
                .await
                .ok()
                .map(|b| crate::world::parse_depth(&String::from_utf8_lossy(&b)));
            if let (Some(delivered), Some(depth)) = (delivered, depth) {
                ticks.push(Tick {
                    t: start.elapsed().as_secs_f64(),
                    delivered,
                    depth,
                    cpu: [
                        cpu_of(router_pid),
                        cpu_of(authority_pid),
                        cpu_of(std::process::id()),
                    ],
                    threads: crate::cpu::thread_ticks(router_pid),
                });
            }
            tokio::select! {
                _ = tokio::time::sleep(Duration::from_secs(1)) => {}
                _ = &mut rx => return ticks,
            }
        }
    });
    (task, tx)
}

/// The tick closest to time `t`.
pub(super) fn tick_at(ticks: &[Tick], t: f64) -> Option<&Tick> {
    ticks
        .iter()
        .min_by(|a, b| (a.t - t).abs().total_cmp(&(b.t - t).abs()))
}

/// Router cores per thread group between two ticks; CPU of threads that exited in between
/// (the process total minus the groups) is reported as `(exited threads)`.
pub(super) fn thread_cores(a: &Tick, b: &Tick, hz: f64) -> std::collections::BTreeMap<String, f64> {
    let span = (b.t - a.t).max(1e-3);
    let mut out = std::collections::BTreeMap::new();
    let mut attributed = 0.0;
    for (group, &end) in &b.threads {
        let start = a.threads.get(group).copied().unwrap_or(0);
        let cores = end.saturating_sub(start) as f64 / hz / span;
        attributed += cores;
        if cores >= 0.005 {
            out.insert(group.clone(), cores);
        }
    }
    let total = (b.cpu[0] - a.cpu[0]).max(0.0) / span;
    if total - attributed >= 0.005 {
        out.insert("(exited threads)".into(), total - attributed);
    }
    out
}
