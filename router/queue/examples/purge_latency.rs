//! What a retention purge does to the latency of new messages: enqueue + `wait_durable` at a
//! fixed rate (latency from each message's scheduled time, so a stall is not hidden), with
//! delivery completing them as they come, first alone and then while `purge_finished`
//! removes N delivered messages that are past their retention.
//!
//! ```sh
//! cargo run --release -p xoev-queue --example purge_latency -- 200000 1000 10
//! ```
//!
//! Arguments: finished messages to purge (200,000), rate per second (1,000), seconds per
//! phase (10).
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use xoev_queue::{Completion, Limits, MessageStore, NewMessage, SledConfig, SledStore, Timestamp};

const DAY_MS: u64 = 86_400_000;

fn message(i: u64) -> NewMessage {
    NewMessage {
        id: uuid::Uuid::new_v4(),
        destination: format!("d{}", i % 16),
        payload: Bytes::from(vec![b'x'; 4096]),
        digest: [0; 32],
        meta: vec![0; 400],
        accepted_at: Timestamp::now(),
    }
}

/// Leases and completes everything of `dest` until `stop` is set and nothing is left.
async fn deliver(store: Arc<SledStore>, dest: String, stop: Arc<std::sync::atomic::AtomicBool>) {
    loop {
        let leased = store
            .lease(&dest, Timestamp::now(), Duration::from_secs(60), 32)
            .await
            .expect("lease");
        if leased.is_empty() {
            if stop.load(std::sync::atomic::Ordering::Relaxed) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
            continue;
        }
        for l in leased {
            let how = Completion::Delivered {
                detail: String::new(),
            };
            store
                .complete(&l.lease, how, Timestamp::now())
                .await
                .expect("complete");
        }
    }
}

/// Enqueues at `rate` for `secs` (delivery running); latencies in ms, from schedule.
async fn phase(store: &Arc<SledStore>, rate: u64, secs: u64) -> Vec<f64> {
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let workers: Vec<_> = (0..16)
        .map(|d| tokio::spawn(deliver(store.clone(), format!("d{d}"), stop.clone())))
        .collect();
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for i in 0..rate * secs {
        let due = start + Duration::from_micros(i * 1_000_000 / rate);
        tokio::time::sleep_until(due.into()).await;
        let store = store.clone();
        tasks.spawn(async move {
            match store.enqueue(message(i)).await.expect("enqueue") {
                xoev_queue::Enqueued::Accepted { ticket, .. } => {
                    store.wait_durable(ticket).await.expect("durable")
                }
                other => panic!("{other:?}"),
            }
            due.elapsed().as_secs_f64() * 1000.0
        });
    }
    let mut lat = Vec::new();
    while let Some(r) = tasks.join_next().await {
        lat.push(r.expect("join"));
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    for w in workers {
        w.await.expect("worker");
    }
    lat.sort_by(f64::total_cmp);
    lat
}

fn summary(lat: &[f64]) -> String {
    let q = |p: f64| lat[((lat.len() - 1) as f64 * p) as usize];
    format!(
        "{} messages, p50 {:.2} p99 {:.2} p99.9 {:.2} max {:.2} ms",
        lat.len(),
        q(0.5),
        q(0.99),
        q(0.999),
        q(1.0)
    )
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let a: Vec<u64> = std::env::args()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let (n, rate, secs) = (
        a.first().copied().unwrap_or(200_000),
        a.get(1).copied().unwrap_or(1_000),
        a.get(2).copied().unwrap_or(10),
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cfg = SledConfig::new(
        dir.path().join("q"),
        Limits {
            min_free_disk_bytes: 0,
            max_pending_bytes_per_destination: u64::MAX,
        },
    );
    cfg.cache_capacity_bytes = 32 << 20;
    let store = Arc::new(SledStore::open(cfg).expect("open"));

    // N delivered messages, all to be past their retention at the purge.
    let sem = Arc::new(tokio::sync::Semaphore::new(128));
    let mut fill = tokio::task::JoinSet::new();
    for i in 0..n {
        while fill.try_join_next().is_some() {}
        let (store, permit) = (store.clone(), sem.clone().acquire_owned().await);
        fill.spawn(async move {
            let _permit = permit;
            store.enqueue(message(i)).await.expect("enqueue");
        });
    }
    while fill.join_next().await.is_some() {}
    let stop = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let drains: Vec<_> = (0..16)
        .map(|d| tokio::spawn(deliver(store.clone(), format!("d{d}"), stop.clone())))
        .collect();
    for d in drains {
        d.await.expect("drain");
    }
    println!("filled and delivered {n}");

    let alone = phase(&store, rate, secs).await;
    println!("alone:          {}", summary(&alone));

    // Thirty-one days later, with 30-day retentions: all N (and the first phase's) go.
    let later = Timestamp(Timestamp::now().0 + 31 * DAY_MS);
    let purger = {
        let store = store.clone();
        tokio::spawn(async move {
            let started = Instant::now();
            let month = Duration::from_millis(30 * DAY_MS);
            let r = store.purge_finished(later, month, month).await;
            (r.expect("purge"), started.elapsed())
        })
    };
    let during = phase(&store, rate, secs).await;
    println!("during a purge: {}", summary(&during));
    let (report, took) = purger.await.expect("purger");
    println!(
        "the purge removed {} records in {:.1} s",
        report.records,
        took.as_secs_f64()
    );
    store.close().await.expect("close");
}
