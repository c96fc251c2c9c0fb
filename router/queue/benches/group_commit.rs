//! Durable enqueue throughput: N concurrent enqueuers of 4 KiB messages, each awaiting
//! `wait_durable`, with group commit vs. one flush + fsync per message, in one run.
//! `cargo bench -p xoev-queue --bench group_commit` (env: XOEV_BENCH_SECS, default 4).

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use uuid::Uuid;
use xoev_queue::*;

struct Case {
    name: &'static str,
    tasks: usize,
    group_commit: bool,
    /// false: only apply the writes (what the CPU side costs without any flush).
    wait: bool,
}

fn run(case: &Case, secs: u64) {
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut cfg = common::unlimited(tmp.path().join("q"));
    cfg.group_commit = case.group_commit;
    let rt = common::runtime();
    rt.block_on(async {
        let store = SledStore::open(cfg).unwrap_or_else(|e| panic!("{e}"));
        let payload = Bytes::from(vec![b'x'; 4096]);
        let start = Instant::now();
        let deadline = start + Duration::from_secs(secs);
        let flushes_before = store.stats().flushes_total;
        let mut handles = Vec::new();
        for t in 0..case.tasks {
            let s = store.clone();
            let p = payload.clone();
            let wait = case.wait;
            handles.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let t0 = Instant::now();
                    let m = NewMessage {
                        id: Uuid::new_v4(),
                        destination: format!("dest-{}", t % 8),
                        payload: p.clone(),
                        digest: [0; 32],
                        meta: vec![0; 64],
                        accepted_at: Timestamp::now(),
                    };
                    match s.enqueue(m).await {
                        Ok(Enqueued::Accepted { ticket, .. }) => {
                            if wait && s.wait_durable(ticket).await.is_err() {
                                panic!("wait_durable failed");
                            }
                        }
                        other => panic!("enqueue: {other:?}"),
                    }
                    lat.push(t0.elapsed());
                    n += 1;
                }
                (n, lat)
            }));
        }
        let mut total = 0;
        let mut lat = Vec::new();
        for h in handles {
            let (n, l) = h.await.unwrap_or_default();
            total += n;
            lat.extend(l);
        }
        let elapsed = start.elapsed().as_secs_f64();
        let stats = store.stats();
        let flushes = stats.flushes_total - flushes_before;
        lat.sort();
        let pct = |p: f64| {
            lat.get(((lat.len() as f64 * p) as usize).min(lat.len().saturating_sub(1)))
                .map(|d| d.as_secs_f64() * 1e3)
                .unwrap_or(0.0)
        };
        println!(
            "{:<44} {:>7.0} msgs/s {:>6} flushes {:>5.1} msgs/flush (avg {:.2} ms) p50 {:>6.2} ms p99 {:>6.2} ms",
            case.name,
            total as f64 / elapsed,
            flushes,
            total as f64 / flushes.max(1) as f64,
            stats.flush_seconds_total * 1e3 / stats.flushes_total.max(1) as f64,
            pct(0.50),
            pct(0.99),
        );
        let _ = store.close().await;
    });
}

fn main() {
    // `cargo bench` passes `--bench`; nothing to parse.
    let secs = common::env_or("XOEV_BENCH_SECS", 4);
    println!("4 KiB messages, enqueue + wait_durable, {secs} s per case, 2 tokio workers");
    let only = std::env::var("XOEV_BENCH_CASE").ok();
    let case = |name, tasks, group_commit, wait| Case {
        name,
        tasks,
        group_commit,
        wait,
    };
    for case in [
        case("1 enqueuer (one flush+fsync per message)", 1, true, true),
        case("64 enqueuers, one flush+fsync per message", 64, false, true),
        case("64 enqueuers, group commit", 64, true, true),
        case("256 enqueuers, group commit", 256, true, true),
        case("64 enqueuers, no wait (apply only)", 64, true, false),
    ] {
        if only.as_deref().is_some_and(|o| !case.name.contains(o)) {
            continue;
        }
        run(&case, secs);
    }
}
