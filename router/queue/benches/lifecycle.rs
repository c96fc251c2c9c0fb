//! The store's whole cost per message, as the router pays it: producers enqueue messages
//! (4 KiB, or `XOEV_BENCH_PAYLOAD` bytes) and await `wait_durable`; one consumer per
//! destination leases batches and completes every lease. Reports accepted/s, completed/s and CPU per message by thread group (the writer,
//! sled's IO threads, the flusher, tokio), read from /proc, so a storage change shows up as a
//! ratio measured in one run.
//! `cargo bench -p xoev-queue --bench lifecycle` (env: XOEV_BENCH_SECS, default 5).

mod common;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use bytes::Bytes;
use uuid::Uuid;
use xoev_queue::*;

const DESTINATIONS: usize = 8;
const PRODUCERS: usize = 64;
const LEASE_BATCH: usize = 32;

/// CPU seconds consumed so far by each thread group of this process (Linux /proc).
fn cpu_by_group() -> BTreeMap<String, f64> {
    let tick = 100.0; // USER_HZ on Linux
    let mut out = BTreeMap::new();
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return out;
    };
    for t in tasks.flatten() {
        let Ok(stat) = std::fs::read_to_string(t.path().join("stat")) else {
            continue;
        };
        // comm is in parentheses and may contain spaces: split after the last ')'.
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
            continue;
        };
        let comm = &stat[open + 1..close];
        let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
        let (Some(u), Some(s)) = (fields.get(11), fields.get(12)) else {
            continue;
        };
        let secs = (u.parse::<f64>().unwrap_or(0.0) + s.parse::<f64>().unwrap_or(0.0)) / tick;
        let group = if comm.starts_with("sled-io") {
            "sled-io"
        } else if comm.starts_with("xoev-queue-writ") {
            "writer"
        } else if comm.starts_with("xoev-queue-flus") {
            "flusher"
        } else if comm.starts_with("xoev-queue-segm") {
            "segments"
        } else if comm.starts_with("tokio") {
            "tokio"
        } else {
            "other"
        };
        *out.entry(group.to_string()).or_insert(0.0) += secs;
    }
    out
}

fn main() {
    let secs: u64 = common::env_or("XOEV_BENCH_SECS", 5);
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let cfg = common::unlimited(tmp.path().join("q"));
    let rt = common::runtime();
    rt.block_on(async {
        let store = SledStore::open(cfg).unwrap_or_else(|e| panic!("{e}"));
        let size: usize = common::env_or("XOEV_BENCH_PAYLOAD", 4096);
        let payload = Bytes::from(vec![b'x'; size]);
        let cpu_before = cpu_by_group();
        let start = Instant::now();
        let deadline = start + Duration::from_secs(secs);
        let mut producers = Vec::new();
        for p in 0..PRODUCERS {
            let s = store.clone();
            let payload = payload.clone();
            producers.push(tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let m = NewMessage {
                        id: Uuid::new_v4(),
                        destination: format!("dest-{}", p % DESTINATIONS),
                        payload: payload.clone(),
                        digest: [0; 32],
                        meta: vec![0; 160],
                        accepted_at: Timestamp::now(),
                    };
                    match s.enqueue(m).await {
                        Ok(Enqueued::Accepted { ticket, .. }) => {
                            if let Err(e) = s.wait_durable(ticket).await {
                                panic!("wait_durable: {e}");
                            }
                        }
                        other => panic!("enqueue: {other:?}"),
                    }
                    n += 1;
                }
                n
            }));
        }
        let mut consumers = Vec::new();
        for d in 0..DESTINATIONS {
            let s = store.clone();
            consumers.push(tokio::spawn(async move {
                let dest = format!("dest-{d}");
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let leased = s
                        .lease(
                            &dest,
                            Timestamp::now(),
                            Duration::from_secs(60),
                            LEASE_BATCH,
                        )
                        .await
                        .unwrap_or_else(|e| panic!("lease: {e}"));
                    if leased.is_empty() {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        continue;
                    }
                    // Completed concurrently, as the delivery worker does.
                    let done: Vec<_> = leased
                        .into_iter()
                        .map(|l| {
                            let s = s.clone();
                            tokio::spawn(async move {
                                let done = Completion::Delivered {
                                    detail: "200 OK".into(),
                                };
                                s.complete(&l.lease, done, Timestamp::now()).await
                            })
                        })
                        .collect();
                    for h in done {
                        match h.await {
                            Ok(Ok(_)) => n += 1,
                            other => panic!("complete: {other:?}"),
                        }
                    }
                }
                n
            }));
        }
        let mut accepted = 0;
        for h in producers {
            accepted += h.await.unwrap_or_default();
        }
        let mut completed = 0;
        for h in consumers {
            completed += h.await.unwrap_or_default();
        }
        let elapsed = start.elapsed().as_secs_f64();
        let cpu_after = cpu_by_group();
        let stats = store.stats();
        println!(
            "{size} B payloads, {PRODUCERS} producers, {DESTINATIONS} consumers (lease {LEASE_BATCH}), {secs} s"
        );
        println!(
            "accepted {:>7.0}/s  completed {:>7.0}/s  flushes {} ({:.1} writes/flush)",
            accepted as f64 / elapsed,
            completed as f64 / elapsed,
            stats.flushes_total,
            (accepted + 2 * completed) as f64 / stats.flushes_total.max(1) as f64,
        );
        let mut total = 0.0;
        for (group, after) in &cpu_after {
            let used = after - cpu_before.get(group).copied().unwrap_or(0.0);
            total += used;
            println!(
                "  {group:<8} {:>5.2} cores  {:>6.1} µs/msg",
                used / elapsed,
                used * 1e6 / accepted.max(1) as f64
            );
        }
        println!(
            "  total    {:>5.2} cores  {:>6.1} µs/msg",
            total / elapsed,
            total * 1e6 / accepted.max(1) as f64
        );
        let _ = store.close().await;
    });
}
