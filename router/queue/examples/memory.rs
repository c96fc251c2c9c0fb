//! Peak memory of the store under large messages: enqueues N payloads of SIZE bytes from
//! C concurrent tasks, then leases and completes them (one task per destination), printing
//! VmRSS/VmHWM as it goes.
//!
//! ```sh
//! cargo run --release -p xoev-queue --example memory -- 400 1048576 64
//! ```
//!
//! Environment: `CACHE_MIB` (sled's cache, default 64), `REOPEN` (close and reopen the store
//! between fill and drain, as a restarted router does), `KEEP_DIR=path` (use and keep this
//! store directory), `OPEN_ONLY` (with `KEEP_DIR`: only open the store there and report the
//! time and memory it took, as a restarted router; e.g. with the finished messages a run
//! left behind; with `PURGE=payloads` also remove the finished messages' payloads, as once
//! their retention has passed, with `PURGE=all` their records too), `EXIT_OPEN` (exit without closing, so
//! that heaptrack reports what is still allocated as "leaked").
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use xoev_queue::{Completion, Limits, MessageStore, NewMessage, SledConfig, SledStore, Timestamp};

fn rss() -> String {
    let s = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    s.lines()
        .filter(|l| l.starts_with("VmRSS") || l.starts_with("VmHWM"))
        .map(|l| l.split_whitespace().skip(1).collect::<Vec<_>>().join(" "))
        .collect::<Vec<_>>()
        .join(" / ")
}

/// User and system CPU time of this process so far (`/proc/self/stat`, in clock ticks of
/// 1/100 s).
fn cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let f: Vec<&str> = s[s.rfind(')').map_or(0, |i| i + 1)..]
        .split_whitespace()
        .collect();
    let tick = |n: usize| {
        f.get(n - 3)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (tick(14) + tick(15)) / 100.0
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a: Vec<usize> = std::env::args()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let (n, size, conc) = (
        a.first().copied().unwrap_or(400),
        a.get(1).copied().unwrap_or(1 << 20),
        a.get(2).copied().unwrap_or(64),
    );
    let cache: u64 = std::env::var("CACHE_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = std::env::var_os("KEEP_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| dir.path().join("q"));
    let mut cfg = SledConfig::new(
        path,
        Limits {
            min_free_disk_bytes: 0,
            max_pending_bytes_per_destination: u64::MAX,
        },
    );
    cfg.cache_capacity_bytes = cache << 20;
    let started = std::time::Instant::now();
    let mut store = Arc::new(SledStore::open(cfg.clone()).expect("open"));
    println!(
        "opened in {:.2} s: peak/rss {}",
        started.elapsed().as_secs_f64(),
        rss()
    );
    if std::env::var_os("OPEN_ONLY").is_some() {
        let depths: u64 = store.depths().values().map(|d| d.queued + d.dead).sum();
        println!("queued or dead: {depths}");
        if let Ok(what) = std::env::var("PURGE") {
            // As once the retention has passed: `payloads` removes the finished messages'
            // payloads (records stay), `all` their records too.
            let records = match what.as_str() {
                "payloads" => Duration::from_secs(1 << 30),
                "all" => Duration::ZERO,
                other => panic!("PURGE={other}: payloads or all"),
            };
            let (started, cpu) = (std::time::Instant::now(), cpu_seconds());
            let r = store
                .purge_finished(Timestamp::now(), Duration::ZERO, records)
                .await
                .expect("purge");
            println!(
                "purge took {:.1} s, {:.1} s of CPU",
                started.elapsed().as_secs_f64(),
                cpu_seconds() - cpu
            );
            println!("purged {} payloads and {} records", r.payloads, r.records);
        }
        store.close().await.expect("close");
        return;
    }
    let payload = Bytes::from(vec![b'x'; size]);
    let sem = Arc::new(tokio::sync::Semaphore::new(conc));
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..n {
        // Reap finished tasks as we go: a JoinSet keeps every finished task until joined,
        // which would show up here as the store's memory.
        while let Some(r) = tasks.try_join_next() {
            r.expect("join");
        }
        let (store, payload, permit) = (
            store.clone(),
            payload.clone(),
            sem.clone().acquire_owned().await.expect("sem"),
        );
        tasks.spawn(async move {
            let r = store
                .enqueue(NewMessage {
                    id: uuid::Uuid::new_v4(),
                    destination: format!("d{}", i % 16),
                    payload,
                    digest: [0; 32],
                    meta: vec![0; 400],
                    accepted_at: Timestamp::now(),
                })
                .await
                .expect("enqueue");
            if let xoev_queue::Enqueued::Accepted { ticket, .. } = r {
                store.wait_durable(ticket).await.expect("durable");
            }
            drop(permit);
        });
    }
    while tasks.join_next().await.is_some() {}
    println!("after {n} enqueues of {size} B: peak/rss {}", rss());
    if std::env::var_os("REOPEN").is_some() {
        // As the router after a restart: drain a store that was opened on the backlog.
        store.close().await.expect("close");
        drop(store);
        store = Arc::new(SledStore::open(cfg.clone()).expect("reopen"));
        println!("reopened: peak/rss {}", rss());
    }
    // Drain as the delivery workers do: one task per destination, leasing batches and
    // completing them concurrently.
    let mut drains = tokio::task::JoinSet::new();
    for d in 0..16 {
        let store = store.clone();
        drains.spawn(async move {
            let dest = format!("d{d}");
            loop {
                let leased = store
                    .lease(&dest, Timestamp::now(), Duration::from_secs(60), 32)
                    .await
                    .expect("lease");
                if leased.is_empty() {
                    return;
                }
                let mut done = tokio::task::JoinSet::new();
                for l in leased {
                    let store = store.clone();
                    done.spawn(async move {
                        let how = Completion::Delivered {
                            detail: String::new(),
                        };
                        store.complete(&l.lease, how, Timestamp::now()).await
                    });
                }
                while let Some(r) = done.join_next().await {
                    r.expect("join").expect("complete");
                }
            }
        });
    }
    let mut ticks = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            r = drains.join_next() => if r.is_none() { break },
            _ = ticks.tick() => println!("draining: peak/rss {}", rss()),
        }
    }
    println!("after delivering all: peak/rss {}", rss());
    if std::env::var_os("EXIT_OPEN").is_some() {
        // For heaptrack: what is still allocated now shows up as "leaked".
        std::process::exit(0);
    }
    store.close().await.expect("close");
}
