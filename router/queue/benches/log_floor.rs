//! Yardstick for the storage redesign (docs/benchmarks.md, "The store alone"), not a store:
//! the CPU floor of an append-only log with group commit and in-memory indexes, on the same
//! workload as the `lifecycle` bench. One writer thread appends a CRC-framed entry per state
//! change (enqueue with its payload, lease, complete), writes each batch with one `write` and
//! one `fdatasync`, then answers the batch. Missing on purpose, so read it as a lower bound:
//! recovery, segment cleaning, retention, dedup, record history.
//! `cargo bench -p xoev-queue --bench log_floor` (env: XOEV_BENCH_SECS, default 5).

mod common;

use std::collections::{HashMap, VecDeque};
use std::io::Write;
use std::path::PathBuf;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use tokio::sync::oneshot;
use uuid::Uuid;

const DESTINATIONS: usize = 8;
const PRODUCERS: usize = 64;
const LEASE_BATCH: usize = 32;
const MAX_BATCH: usize = 256;

type Leases = Vec<(Uuid, Vec<u8>)>;

enum Op {
    Enqueue(Uuid, usize, Vec<u8>, oneshot::Sender<()>),
    Lease(usize, oneshot::Sender<Leases>),
    Complete(Uuid, oneshot::Sender<()>),
}

/// `len:u32 ‖ crc32:u32 ‖ kind:u8 ‖ id ‖ body`, little-endian.
fn frame(out: &mut Vec<u8>, kind: u8, id: &Uuid, body: &[u8]) {
    let start = out.len();
    out.extend_from_slice(&[0; 8]);
    out.push(kind);
    out.extend_from_slice(id.as_bytes());
    out.extend_from_slice(body);
    let len = (out.len() - start - 8) as u32;
    let crc = crc32fast::hash(&out[start + 8..]);
    out[start..start + 4].copy_from_slice(&len.to_le_bytes());
    out[start + 4..start + 8].copy_from_slice(&crc.to_le_bytes());
}

fn writer(rx: &mpsc::Receiver<Op>, path: PathBuf) {
    let mut file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .unwrap_or_else(|e| panic!("open log: {e}"));
    let mut ready: Vec<VecDeque<Uuid>> = vec![VecDeque::new(); DESTINATIONS];
    let mut payloads: HashMap<Uuid, Vec<u8>> = HashMap::new();
    let mut buf = Vec::with_capacity(1 << 20);
    while let Ok(first) = rx.recv() {
        let mut ops = vec![first];
        while ops.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(op) => ops.push(op),
                Err(_) => break,
            }
        }
        buf.clear();
        let mut acks = Vec::new();
        let mut leases = Vec::new();
        for op in ops {
            match op {
                Op::Enqueue(id, dest, payload, ack) => {
                    frame(&mut buf, 1, &id, &payload);
                    ready[dest].push_back(id);
                    payloads.insert(id, payload);
                    acks.push(ack);
                }
                Op::Lease(dest, reply) => {
                    let mut got = Vec::new();
                    while got.len() < LEASE_BATCH {
                        let Some(id) = ready[dest].pop_front() else {
                            break;
                        };
                        frame(&mut buf, 2, &id, &[0; 24]); // expiry, lease counter, attempts
                        got.push((id, payloads.get(&id).cloned().unwrap_or_default()));
                    }
                    leases.push((reply, got));
                }
                Op::Complete(id, ack) => {
                    frame(&mut buf, 3, &id, &[0; 24]); // finished_at, outcome
                    payloads.remove(&id);
                    acks.push(ack);
                }
            }
        }
        file.write_all(&buf)
            .and_then(|()| file.sync_data())
            .unwrap_or_else(|e| panic!("append: {e}"));
        for ack in acks {
            let _ = ack.send(());
        }
        for (reply, got) in leases {
            let _ = reply.send(got);
        }
    }
}

/// CPU seconds used by this process so far (Linux /proc, USER_HZ = 100).
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let Some(close) = stat.rfind(')') else {
        return 0.0;
    };
    let fields: Vec<&str> = stat[close + 2..].split(' ').collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    (ticks(11).unwrap_or(0.0) + ticks(12).unwrap_or(0.0)) / 100.0
}

fn main() {
    let secs: u64 = common::env_or("XOEV_BENCH_SECS", 5);
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let path = tmp.path().join("log");
    let (tx, rx) = mpsc::channel();
    let log = std::thread::spawn(move || writer(&rx, path));
    let rt = common::runtime();
    rt.block_on(async {
        let cpu_before = cpu_seconds();
        let start = Instant::now();
        let deadline = start + Duration::from_secs(secs);
        let mut producers = Vec::new();
        for p in 0..PRODUCERS {
            let tx = tx.clone();
            producers.push(tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let (ack, durable) = oneshot::channel();
                    let op = Op::Enqueue(Uuid::new_v4(), p % DESTINATIONS, vec![b'x'; 4096], ack);
                    if tx.send(op).is_err() || durable.await.is_err() {
                        panic!("log writer stopped");
                    }
                    n += 1;
                }
                n
            }));
        }
        let mut consumers = Vec::new();
        for d in 0..DESTINATIONS {
            let tx = tx.clone();
            consumers.push(tokio::spawn(async move {
                let mut n = 0u64;
                while Instant::now() < deadline {
                    let (reply, leased) = oneshot::channel();
                    if tx.send(Op::Lease(d, reply)).is_err() {
                        panic!("log writer stopped");
                    }
                    let leased = leased.await.unwrap_or_default();
                    if leased.is_empty() {
                        tokio::time::sleep(Duration::from_millis(2)).await;
                        continue;
                    }
                    let mut acks = Vec::new();
                    for (id, _payload) in leased {
                        let (ack, done) = oneshot::channel();
                        if tx.send(Op::Complete(id, ack)).is_err() {
                            panic!("log writer stopped");
                        }
                        acks.push(done);
                    }
                    for done in acks {
                        if done.await.is_ok() {
                            n += 1;
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
        let used = cpu_seconds() - cpu_before;
        println!(
            "append-only log (floor): 4096 B, {PRODUCERS} producers, {DESTINATIONS} consumers, {secs} s"
        );
        println!(
            "accepted {:>7.0}/s  completed {:>7.0}/s  {:.2} cores  {:.1} µs/msg",
            accepted as f64 / elapsed,
            completed as f64 / elapsed,
            used / elapsed,
            used * 1e6 / accepted.max(1) as f64
        );
    });
    drop(tx);
    let _ = log.join();
}
