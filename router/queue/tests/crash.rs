//! Crash test at the store level (docs/queue.md invariant 1): the test re-executes its own
//! binary as a child that enqueues messages from many tasks (while a worker leases and
//! completes, retries, kills or releases them) and prints each id after `wait_durable`
//! returned. The parent kills it with SIGKILL at a random moment, reopens the store and checks
//! that every printed id is there with its exact payload and that the store is consistent.
//! Rounds: 10 by default, `XOEV_QUEUE_CRASH_ROUNDS` for more. The same directory is reused, so
//! later rounds also crash during recovery of earlier ones. Segments are small and delivered
//! payloads are purged at once, so segment files rotate and are removed while the child is
//! killed (docs/queue.md §16): a live payload whose segment was removed fails the check.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use bytes::Bytes;
use rand::Rng;
use uuid::Uuid;
use xoev_queue::*;

const CHILD_DIR_ENV: &str = "XOEV_QUEUE_CRASH_CHILD_DIR";
const ROUNDS_ENV: &str = "XOEV_QUEUE_CRASH_ROUNDS";
const TEST_NAME: &str = "acknowledged_messages_survive_sigkill_at_random_moments";
const DEST: &str = "crash";

/// The payload of a message is a function of its id, so the parent can check it byte for byte.
/// One in 16 is 200 KB, above the spill threshold, so spill files are exercised too.
fn payload_for(id: Uuid) -> Vec<u8> {
    let mut x = (id.as_u128() as u64) | 1;
    let len = if x.is_multiple_of(16) {
        200_000 + x % 1000
    } else {
        64 + x % 4096
    };
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn digest_of(p: &[u8]) -> [u8; 32] {
    let mut d = [0u8; 32];
    for (i, b) in p.iter().enumerate() {
        if let Some(s) = d.get_mut(i % 32) {
            *s = s.rotate_left(3) ^ *b;
        }
    }
    d
}

fn config(dir: &Path) -> SledConfig {
    let mut c = SledConfig::new(
        dir,
        Limits {
            min_free_disk_bytes: 0,
            max_pending_bytes_per_destination: u64::MAX,
        },
    );
    c.segment_bytes = 32 * 1024;
    c
}

/// The child: runs until killed (or 30 s, so an orphan cannot run forever).
fn child(dir: &str) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    rt.block_on(async {
        let store = SledStore::open(config(Path::new(dir))).unwrap_or_else(|e| panic!("{e}"));
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut tasks = Vec::new();
        for _ in 0..16 {
            let s = store.clone();
            tasks.push(tokio::spawn(async move {
                while Instant::now() < deadline {
                    let id = Uuid::new_v4();
                    let payload = payload_for(id);
                    let m = NewMessage {
                        id,
                        destination: DEST.into(),
                        digest: digest_of(&payload),
                        payload: Bytes::from(payload),
                        meta: vec![],
                        accepted_at: Timestamp::now(),
                    };
                    if let Ok(Enqueued::Accepted { ticket, .. }) = s.enqueue(m).await
                        && s.wait_durable(ticket).await.is_ok()
                    {
                        // Written straight to the fd (not captured by the test harness).
                        let mut out = std::io::stdout().lock();
                        let _ = writeln!(out, "ACK {id}");
                        let _ = out.flush();
                    }
                }
            }));
        }
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                let now = Timestamp::now();
                let leased = s
                    .lease(DEST, now, Duration::from_secs(5), 8)
                    .await
                    .unwrap_or_default();
                for l in leased {
                    let pick = rand::rng().random_range(0..4);
                    let _ = match pick {
                        0 => s
                            .complete(
                                &l.lease,
                                Completion::Delivered {
                                    detail: "ok".into(),
                                },
                                now,
                            )
                            .await
                            .map(|_| ()),
                        1 => s
                            .retry_later(&l.lease, "503", now.plus(Duration::from_millis(5)), now)
                            .await
                            .map(|_| ()),
                        2 => s.kill(&l.lease, "400", now).await.map(|_| ()),
                        _ => s.release(&l.lease, now).await,
                    };
                }
                tokio::time::sleep(Duration::from_millis(2)).await;
            }
        }));
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            while Instant::now() < deadline {
                tokio::time::sleep(Duration::from_millis(20)).await;
                let _ = s
                    .purge_finished(
                        Timestamp::now().plus(Duration::from_secs(1)),
                        Duration::ZERO,
                        Duration::from_secs(86_400),
                    )
                    .await;
                // Dead letters pin their segments; an operator purging them frees them.
                for r in s.list_dead(None, 64).await.unwrap_or_default() {
                    // Announced before the purge: a purge that is durable is always announced.
                    {
                        let mut out = std::io::stdout().lock();
                        let _ = writeln!(out, "PURGING {}", r.id);
                        let _ = out.flush();
                    }
                    let _ = s.purge(r.id).await;
                }
            }
        }));
        for t in tasks {
            let _ = t.await;
        }
    });
}

/// Ids acknowledged and ids announced for purging in one round.
fn run_round(dir: &Path, rng: &mut impl Rng) -> (Vec<Uuid>, Vec<Uuid>) {
    let exe = std::env::current_exe().unwrap_or_else(|e| panic!("current_exe: {e}"));
    let mut cmd = Command::new(exe);
    cmd.args([TEST_NAME, "--exact", "--nocapture", "--test-threads=1"])
        .env(CHILD_DIR_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    let mut child = cmd.spawn().unwrap_or_else(|e| panic!("spawn child: {e}"));
    let stdout = child
        .stdout
        .take()
        .unwrap_or_else(|| panic!("no child stdout"));
    let reader = std::thread::spawn(move || {
        let (mut ids, mut purging) = (Vec::new(), Vec::new());
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if let Some(id) = line
                .strip_prefix("ACK ")
                .and_then(|s| Uuid::parse_str(s).ok())
            {
                ids.push(id);
            } else if let Some(id) = line
                .strip_prefix("PURGING ")
                .and_then(|s| Uuid::parse_str(s).ok())
            {
                purging.push(id);
            }
        }
        (ids, purging)
    });
    std::thread::sleep(Duration::from_millis(rng.random_range(50..600)));
    // Child::kill sends SIGKILL on Unix.
    let _ = child.kill();
    let _ = child.wait();
    // `lines()` drops a last line without newline: only whole "ACK" lines count.
    reader.join().unwrap_or_default()
}

fn verify(dir: &Path, acked: &HashSet<Uuid>, purging: &HashSet<Uuid>) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap_or_else(|e| panic!("runtime: {e}"));
    rt.block_on(async {
        let store = SledStore::open(config(dir)).unwrap_or_else(|e| panic!("reopen failed: {e}"));
        for id in acked {
            let rec = store
                .get(*id)
                .await
                .unwrap_or_else(|e| panic!("get {id}: {e}"));
            let Some(rec) = rec else {
                assert!(purging.contains(id), "acknowledged message {id} is missing");
                continue;
            };
            let payload = store
                .payload(*id)
                .await
                .unwrap_or_else(|e| panic!("payload {id}: {e}"));
            if rec.payload_present {
                assert!(
                    payload.as_deref() == Some(payload_for(*id).as_slice()),
                    "payload of acknowledged message {id} differs: {:?} {} attempts, {:?}, payload {:?} bytes, want {}; history {:?}",
                    rec.state,
                    rec.attempts,
                    rec.last_error,
                    payload.as_ref().map(|p| p.len()),
                    payload_for(*id).len(),
                    rec.history.iter().map(|e| (e.kind, e.detail.as_str())).collect::<Vec<_>>()
                );
            } else {
                // Purged by retention, which only a delivered message reaches here.
                assert_eq!((rec.state, payload), (State::Delivered, None), "{id}");
            }
        }
        let report = store
            .check_consistency()
            .unwrap_or_else(|e| panic!("check: {e}"));
        assert_eq!(report.problems, Vec::<String>::new());
        assert_eq!(report.quarantined_segment_pointers, 0);
        assert_eq!(store.stats().corrupt_records_total, 0);
        assert!(store.close().await.is_ok());
    });
}

#[test]
fn acknowledged_messages_survive_sigkill_at_random_moments() {
    if let Ok(dir) = std::env::var(CHILD_DIR_ENV) {
        child(&dir);
        return;
    }
    let rounds: usize = std::env::var(ROUNDS_ENV)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let tmp = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let dir = tmp.path().join("q");
    let mut rng = rand::rng();
    let mut acked = HashSet::new();
    let mut purging = HashSet::new();
    let mut rounds_with_acks = 0;
    for _ in 0..rounds {
        let (ids, purged) = run_round(&dir, &mut rng);
        purging.extend(purged);
        if !ids.is_empty() {
            rounds_with_acks += 1;
        }
        acked.extend(ids);
        verify(&dir, &acked, &purging);
    }
    // Segment ids only grow: the highest name says how many were created.
    let segments: Vec<u64> = std::fs::read_dir(dir.join("segments"))
        .map(|d| {
            d.flatten()
                .filter_map(|e| {
                    let name = e.file_name().to_string_lossy().into_owned();
                    u64::from_str_radix(name.strip_suffix(".seg")?, 16).ok()
                })
                .collect()
        })
        .unwrap_or_default();
    let created = segments.iter().max().copied().unwrap_or(0);
    eprintln!(
        "crash test: {rounds} SIGKILLs, {} acknowledged messages verified; {} of {created} segments left",
        acked.len(),
        segments.len()
    );
    assert!(
        (segments.len() as u64) < created,
        "no segment was ever removed ({created} created)"
    );
    // The test must have exercised something: most rounds acknowledged messages.
    assert!(
        rounds_with_acks * 2 >= rounds,
        "only {rounds_with_acks} of {rounds} rounds acknowledged anything"
    );
}
