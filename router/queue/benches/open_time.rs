//! Open time with many queued messages: fills a store with N queued messages (default
//! 1,000,000; env XOEV_BENCH_OPEN_N; 512-byte payloads, env XOEV_BENCH_PAYLOAD, over 16
//! destinations), closes it, then times `SledStore::open` and the first `lease`.
//! `cargo bench -p xoev-queue --bench open_time`. Keeps the store under XOEV_BENCH_DIR if set
//! (to re-measure without refilling); otherwise a temporary directory.

mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use bytes::Bytes;
use uuid::Uuid;
use xoev_queue::*;

fn config(dir: &PathBuf) -> SledConfig {
    common::unlimited(dir)
}

fn main() {
    let n: u64 = common::env_or("XOEV_BENCH_OPEN_N", 1_000_000);
    let size: usize = common::env_or("XOEV_BENCH_PAYLOAD", 512);
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = std::env::var("XOEV_BENCH_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| tmp.path().join("q"));
    let rt = common::runtime();
    rt.block_on(async {
        let t0 = Instant::now();
        let store = SledStore::open(config(&dir)).unwrap_or_else(|e| panic!("{e}"));
        let first_open = t0.elapsed();
        let have: u64 = store.depths().values().map(|d| d.queued).sum();
        let r = store.open_report();
        println!(
            "first open (after the previous run ended, by close or crash): {:.2} s with {have} queued; sled {:.2} s, file syncs {:.2} s, {} leases returned, depth rebuild {:.2} s",
            first_open.as_secs_f64(),
            r.sled.as_secs_f64(),
            r.sync.as_secs_f64(),
            r.leases_returned,
            r.depths.as_secs_f64()
        );
        // XOEV_BENCH_CRASH_AFTER=k: enqueue k more messages, then abort without closing, so
        // the next run measures open after a crash (sled replays its log since the last
        // snapshot, which sled takes every 1,000,000 operations).
        let crash_after: u64 = common::env_or("XOEV_BENCH_CRASH_AFTER", 0);
        let n = if crash_after > 0 {
            have + crash_after
        } else {
            n
        };
        if have < n {
            let start = Instant::now();
            let tasks = 128u64;
            let per = (n - have).div_ceil(tasks);
            let mut hs = Vec::new();
            for t in 0..tasks {
                let s = store.clone();
                hs.push(tokio::spawn(async move {
                    let payload = Bytes::from(vec![b'x'; size]);
                    for _ in 0..per {
                        let m = NewMessage {
                            id: Uuid::new_v4(),
                            destination: format!("ags:08{:06}", t % 16),
                            payload: payload.clone(),
                            digest: [0; 32],
                            meta: vec![0; 64],
                            accepted_at: Timestamp::now(),
                        };
                        if let Ok(Enqueued::Accepted { ticket, .. }) = s.enqueue(m).await {
                            let _ = s.wait_durable(ticket).await;
                        }
                    }
                }));
            }
            for h in hs {
                let _ = h.await;
            }
            println!(
                "filled {} messages in {:.1} s",
                n - have,
                start.elapsed().as_secs_f64()
            );
        }
        if crash_after > 0 {
            println!("aborting without close (simulated crash)");
            std::process::abort();
        }
        let _ = store.close().await;
    });
    // Let sled free the closed database (its lock goes with epoch reclamation).
    std::thread::sleep(Duration::from_millis(200));
    for round in 1..=3 {
        let t0 = Instant::now();
        let store = SledStore::open(config(&dir)).unwrap_or_else(|e| panic!("{e}"));
        let open = t0.elapsed();
        let queued: u64 = store.depths().values().map(|d| d.queued).sum();
        let r = store.open_report();
        let t1 = Instant::now();
        let leased = rt.block_on(store.lease(
            "ags:08000003",
            Timestamp::now(),
            Duration::from_secs(60),
            10,
        ));
        let lease = t1.elapsed();
        let disk_mb = store.stats().disk_bytes / 1_000_000;
        let _ = rt.block_on(store.close());
        drop(store);
        std::thread::sleep(Duration::from_millis(500));
        // sled's own recovery, for comparison with the store's open (which adds the file syncs,
        // the lease return and the depth rebuild).
        let t_raw = Instant::now();
        let raw = sled::Config::new()
            .path(&dir)
            .flush_every_ms(None)
            .open()
            .unwrap_or_else(|e| panic!("raw sled open: {e}"));
        let raw_open = t_raw.elapsed();
        drop(raw);
        std::thread::sleep(Duration::from_millis(500));
        println!(
            "open #{round}: {:.2} s (sled alone: {:.2} s) with {queued} queued messages ({} MB on disk); first lease of {} took {:.1} ms",
            open.as_secs_f64(),
            raw_open.as_secs_f64(),
            disk_mb,
            leased.map(|v| v.len()).unwrap_or(0),
            lease.as_secs_f64() * 1e3
        );
        println!(
            "  steps: sled {:.2} s, file syncs {:.2} s, {} leases returned in {:.3} s, depth rebuild {:.2} s",
            r.sled.as_secs_f64(),
            r.sync.as_secs_f64(),
            r.leases_returned,
            r.leases.as_secs_f64(),
            r.depths.as_secs_f64()
        );
    }
}
