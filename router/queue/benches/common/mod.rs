//! Scaffolding shared by the queue's measurement binaries (each bench is its own crate and
//! uses the parts it needs).
#![allow(dead_code)]

use std::path::Path;
use std::str::FromStr;

use xoev_queue::{Limits, SledConfig};

/// `name` from the environment, parsed, or `default`.
pub fn env_or<T: FromStr>(name: &str, default: T) -> T {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The router's runtime shape on this machine: two tokio workers.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("{e}"))
}

/// A store at `dir` without back-pressure limits (benches measure, they do not refuse).
/// `XOEV_BENCH_INLINE=1` keeps small payloads inside sled instead of segment files, for a
/// before/after of docs/queue.md §16 in one build.
pub fn unlimited(dir: impl AsRef<Path>) -> SledConfig {
    let mut c = SledConfig::new(
        dir.as_ref(),
        Limits {
            min_free_disk_bytes: 0,
            max_pending_bytes_per_destination: u64::MAX,
        },
    );
    c.segment_payloads = env_or::<u8>("XOEV_BENCH_INLINE", 0) == 0;
    c
}
