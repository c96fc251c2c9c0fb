//! Small payloads in segment files (docs/queue.md §16): a segment file goes once nothing
//! points into it, a dead letter does not keep its segment, and what a crash leaves behind is
//! cleaned at open without touching a live payload.

use std::path::{Path, PathBuf};
use std::time::Duration;

use bytes::Bytes;
use uuid::Uuid;
use xoev_queue::{
    Completion, Enqueued, Limits, MessageStore, NewMessage, SledConfig, SledStore, Timestamp,
};

const DAY: Duration = Duration::from_secs(86_400);

fn open(dir: &Path) -> SledStore {
    let mut cfg = SledConfig::new(
        dir.join("q"),
        Limits {
            min_free_disk_bytes: 0,
            max_pending_bytes_per_destination: u64::MAX,
        },
    );
    cfg.segment_bytes = 1; // every append batch starts a new segment
    SledStore::open(cfg).expect("open")
}

fn msg(n: u128) -> NewMessage {
    let payload = format!("<m n='{n}'>{}</m>", "x".repeat(100 + n as usize));
    NewMessage {
        id: Uuid::from_u128(n),
        destination: "d".into(),
        digest: [n as u8; 32],
        payload: Bytes::from(payload),
        meta: vec![],
        accepted_at: Timestamp(1_000),
    }
}

fn segment_files(dir: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir.join("q/segments"))
        .map(|d| d.flatten().map(|e| e.path()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

async fn enqueue_durably(store: &SledStore, n: u128) {
    match store.enqueue(msg(n)).await {
        Ok(Enqueued::Accepted { ticket, .. }) => store.wait_durable(ticket).await.expect("durable"),
        other => panic!("enqueue {n}: {other:?}"),
    }
}

fn assert_consistent(store: &SledStore) {
    let report = store.check_consistency().expect("check");
    assert_eq!(report.problems, Vec::<String>::new());
    assert_eq!(report.quarantined_segment_pointers, 0);
}

#[tokio::test]
async fn delivered_payloads_past_retention_take_their_segment_files_with_them() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = open(tmp.path());
    for n in 1..=3 {
        enqueue_durably(&store, n).await;
    }
    let files = segment_files(tmp.path());
    assert_eq!(files.len(), 3, "one segment per append: {files:?}");
    let leased = store
        .lease("d", Timestamp(2_000), Duration::from_secs(30), 10)
        .await
        .expect("lease");
    assert_eq!(leased.len(), 3);
    for l in &leased {
        let done = Completion::Delivered {
            detail: "ok".into(),
        };
        store
            .complete(&l.lease, done, Timestamp(2_000))
            .await
            .expect("complete");
    }
    let report = store
        .purge_finished(Timestamp(3_000), Duration::ZERO, DAY)
        .await
        .expect("purge");
    assert_eq!(report.payloads, 3);
    // The two older segments are gone; the active one stays for the next append.
    assert_eq!(segment_files(tmp.path()), files[2..].to_vec());
    assert_consistent(&store);
}

#[tokio::test]
async fn a_dead_letter_moves_to_a_spill_file_and_frees_its_segment() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = open(tmp.path());
    enqueue_durably(&store, 1).await;
    enqueue_durably(&store, 2).await;
    let files = segment_files(tmp.path());
    assert_eq!(files.len(), 2);
    let dead = Uuid::from_u128(1);
    let l = store
        .lease_one(dead, Timestamp(2_000), Duration::from_secs(30))
        .await
        .expect("lease");
    store
        .kill(&l.lease, "400 Bad Request", Timestamp(2_000))
        .await
        .expect("kill");
    store
        .purge_finished(Timestamp(3_000), DAY, DAY)
        .await
        .expect("maintenance");
    assert_eq!(segment_files(tmp.path()), files[1..].to_vec());
    let spill = tmp
        .path()
        .join("q/spill")
        .join(dead.hyphenated().to_string());
    assert!(spill.exists(), "the dead letter's payload is in {spill:?}");
    assert_eq!(
        store.payload(dead).await.expect("payload"),
        Some(msg(1).payload)
    );
    assert_consistent(&store);

    // It survives a restart and is delivered byte-identical after a replay.
    store.close().await.expect("close");
    drop(store);
    let store = open(tmp.path());
    assert!(spill.exists());
    store.replay(dead, Timestamp(4_000)).await.expect("replay");
    let l = store
        .lease_one(dead, Timestamp(4_000), Duration::from_secs(30))
        .await
        .expect("lease after replay");
    assert_eq!(l.payload, msg(1).payload);
    assert_consistent(&store);
}

#[tokio::test]
async fn open_removes_what_a_crash_left_and_keeps_every_live_payload() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = open(tmp.path());
    enqueue_durably(&store, 1).await;
    store.close().await.expect("close");
    drop(store);
    let live = segment_files(tmp.path());
    // A segment whose enqueue never committed, and a relocation copy whose pointer swap
    // never committed.
    let stray_segment = tmp.path().join("q/segments/00000000000000ff.seg");
    std::fs::write(&stray_segment, b"XQS1 torn").expect("write");
    let id = Uuid::from_u128(1);
    let stray_copy = tmp.path().join("q/spill").join(id.hyphenated().to_string());
    std::fs::write(&stray_copy, b"half a copy").expect("write");
    let store = open(tmp.path());
    assert!(!stray_segment.exists() && !stray_copy.exists());
    assert_eq!(segment_files(tmp.path())[..1], live[..]);
    assert_eq!(
        store.payload(id).await.expect("payload"),
        Some(msg(1).payload)
    );
    // New segments continue above every id seen, the removed one included.
    enqueue_durably(&store, 2).await;
    let newest = segment_files(tmp.path()).pop().expect("a segment");
    assert!(newest.file_name() > stray_segment.file_name(), "{newest:?}");
    assert_consistent(&store);
}

#[tokio::test]
async fn an_unreadable_segment_count_makes_open_keep_every_segment_file() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = open(tmp.path());
    enqueue_durably(&store, 1).await;
    store.close().await.expect("close");
    drop(store);
    // Wait for sled to free the directory lock, then damage the counts with raw access.
    std::thread::sleep(Duration::from_millis(200));
    {
        let db = sled::open(tmp.path().join("q")).expect("raw open");
        let counts = db.open_tree("segments").expect("tree");
        counts.insert(b"bad", b"x".as_slice()).expect("insert");
        db.flush().expect("flush");
    }
    let stray = tmp.path().join("q/segments/00000000000000ff.seg");
    std::fs::write(&stray, b"XQS1 unknown").expect("write");
    let store = open(tmp.path());
    assert!(stray.exists(), "not sure what is live: nothing is removed");
    assert_eq!(
        store.payload(Uuid::from_u128(1)).await.expect("payload"),
        Some(msg(1).payload)
    );
    let report = store.check_consistency().expect("check");
    assert_eq!(
        report.problems,
        vec!["segments entry does not parse".to_string()]
    );
}

#[tokio::test]
async fn an_unreadable_segment_count_pins_its_segment() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let store = open(tmp.path());
    enqueue_durably(&store, 1).await;
    let l = store
        .lease("d", Timestamp(2_000), Duration::from_secs(30), 1)
        .await
        .expect("lease");
    let done = Completion::Delivered {
        detail: "ok".into(),
    };
    store
        .complete(&l[0].lease, done, Timestamp(2_000))
        .await
        .expect("complete");
    store.close().await.expect("close");
    drop(store);
    let files = segment_files(tmp.path());
    std::thread::sleep(Duration::from_millis(200));
    {
        let db = sled::open(tmp.path().join("q")).expect("raw open");
        let counts = db.open_tree("segments").expect("tree");
        let keys: Vec<_> = counts.iter().keys().flatten().collect();
        assert_eq!(keys.len(), 1);
        counts.insert(&keys[0], b"x".as_slice()).expect("insert");
        db.flush().expect("flush");
    }
    let store = open(tmp.path());
    // Retention removes the only pointer; with the count unknown, the file must stay.
    store
        .purge_finished(Timestamp(3_000), Duration::ZERO, DAY)
        .await
        .expect("purge");
    assert!(files.iter().all(|f| f.exists()), "{files:?}");
    assert_eq!(store.stats().corrupt_records_total, 1);
    let report = store.check_consistency().expect("check");
    assert_eq!(report.problems, Vec::<String>::new());
    assert_eq!(report.quarantined_segment_pointers, 0);
}

#[tokio::test]
async fn a_refused_message_writes_nothing_and_a_full_queue_still_answers_resubmissions() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let mut cfg = SledConfig::new(
        tmp.path().join("q"),
        Limits {
            min_free_disk_bytes: 0,
            max_pending_bytes_per_destination: 150,
        },
    );
    cfg.segment_bytes = 1;
    let store = SledStore::open(cfg).expect("open");
    enqueue_durably(&store, 1).await; // 116 bytes: fits
    let written = |dir: &Path| -> u64 {
        segment_files(dir)
            .iter()
            .map(|f| std::fs::metadata(f).map(|m| m.len()).unwrap_or(0))
            .sum()
    };
    let before = written(tmp.path());
    assert!(matches!(
        store.enqueue(msg(2)).await,
        Err(xoev_queue::StoreError::DestinationFull { .. })
    ));
    assert!(matches!(
        store.enqueue(msg(1)).await,
        Ok(Enqueued::Duplicate { .. })
    ));
    assert_eq!(
        written(tmp.path()),
        before,
        "refusals write nothing (invariant 11)"
    );
}

/// Sweeps run after every commit and read sled; leases read segments inside sled
/// transactions. Neither may wait for the other (a sweep once held the segment lock across a
/// sled read while a lease transaction waited for that lock). The load runs on its own
/// runtime and thread, so a deadlock fails the test after a minute instead of hanging it.
#[test]
fn leases_retention_and_sweeps_running_together_never_deadlock() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let dir = tmp.path().to_path_buf();
    let (done, finished) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(run_concurrently(&dir));
        let _ = done.send(());
    });
    finished
        .recv_timeout(Duration::from_secs(60))
        .expect("leases, retention and sweeps finished without a deadlock");
}

async fn run_concurrently(dir: &Path) {
    let store = open(dir);
    let deadline = std::time::Instant::now() + Duration::from_secs(3);
    let mut tasks = Vec::new();
    for p in 0..4u128 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            let mut n = 0u128;
            while std::time::Instant::now() < deadline {
                n += 1;
                let mut m = msg(1 + (n % 50));
                m.id = Uuid::from_u128((p << 64) | n);
                let _ = s.enqueue(m).await;
            }
        }));
    }
    let s = store.clone();
    tasks.push(tokio::spawn(async move {
        while std::time::Instant::now() < deadline {
            let now = Timestamp::now();
            for l in s
                .lease("d", now, Duration::from_secs(30), 16)
                .await
                .unwrap_or_default()
            {
                let done = Completion::Delivered {
                    detail: "ok".into(),
                };
                let _ = s.complete(&l.lease, done, now).await;
            }
        }
    }));
    let s = store.clone();
    tasks.push(tokio::spawn(async move {
        while std::time::Instant::now() < deadline {
            let _ = s
                .purge_finished(Timestamp::now().plus(DAY), Duration::ZERO, DAY * 30)
                .await;
        }
    }));
    for t in tasks {
        t.await.expect("task");
    }
    assert_consistent(&store);
}
