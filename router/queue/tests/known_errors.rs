//! Corruption through raw sled access, then reopen (docs/queue.md §7): the store opens, the bad
//! value is quarantined, counted, reported to the observer, and treated as absent; a message
//! whose payload is bad goes to the dead letters instead of vanishing.

use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use uuid::Uuid;
use xoev_queue::*;

/// What the store reported: corrupt records (tree, key) and unreadable payloads.
#[derive(Default)]
struct Seen(Mutex<Vec<(String, Vec<u8>)>>, AtomicU64);

impl QueueObserver for Seen {
    fn corrupt_record(&self, tree: &str, key: &[u8]) {
        self.0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push((tree.to_owned(), key.to_vec()));
    }

    fn payload_unreadable(&self) {
        self.1.fetch_add(1, Ordering::Relaxed);
    }
}

impl Seen {
    fn trees(&self) -> Vec<String> {
        let mut v: Vec<String> = self
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(t, _)| t.clone())
            .collect();
        v.sort();
        v
    }
}

fn config(dir: &Path, observer: Arc<Seen>) -> SledConfig {
    let mut c = SledConfig::new(
        dir,
        Limits {
            min_free_disk_bytes: 0,
            max_pending_bytes_per_destination: u64::MAX,
        },
    );
    c.observer = observer;
    c
}

fn msg(n: u128) -> NewMessage {
    NewMessage {
        id: Uuid::from_u128(n),
        destination: "a".into(),
        payload: Bytes::from(format!("<m n=\"{n}\"/>")),
        digest: [n as u8; 32],
        meta: vec![],
        accepted_at: Timestamp(1_000),
    }
}

async fn seed(dir: &Path, n: u128) {
    let store = SledStore::open(config(dir, Arc::default())).unwrap_or_else(|e| panic!("{e}"));
    for i in 1..=n {
        match store.enqueue(msg(i)).await {
            Ok(Enqueued::Accepted { ticket, .. }) => {
                assert!(store.wait_durable(ticket).await.is_ok())
            }
            other => panic!("seed enqueue failed: {other:?}"),
        }
    }
    assert!(store.close().await.is_ok());
}

/// Changes one stored value with raw sled access while the store is closed.
fn tamper(dir: &Path, tree: &str, key: &[u8], f: impl Fn(&mut Vec<u8>)) {
    let db = sled::open(dir).unwrap_or_else(|e| panic!("raw open: {e}"));
    let t = db.open_tree(tree).unwrap_or_else(|e| panic!("{e}"));
    let mut v = t
        .get(key)
        .ok()
        .flatten()
        .map(|v| v.to_vec())
        .unwrap_or_else(|| panic!("no value under {key:?} in {tree}"));
    f(&mut v);
    assert!(t.insert(key, v).is_ok());
    assert!(db.flush().is_ok());
}

/// The ids a lease of up to `max` messages of destination "a" at `at` hands out, in order.
async fn leased_ids(store: &SledStore, at: u64, max: usize) -> Vec<u128> {
    let leased = store
        .lease("a", Timestamp(at), Duration::from_secs(30), max)
        .await
        .unwrap_or_default();
    leased.iter().map(|l| l.record.id.as_u128()).collect()
}

/// The path of the only segment file of the store in `dir`.
fn the_one_segment(dir: &Path) -> std::path::PathBuf {
    let files: Vec<_> = std::fs::read_dir(dir.join("segments"))
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    files[0].clone()
}

/// Both payloads `seed` writes share one segment; its last byte belongs to message 2.
/// Returns the segment's path.
fn damage_the_last_byte_of_the_one_segment(dir: &Path) -> std::path::PathBuf {
    let segment = the_one_segment(dir);
    let mut bytes = std::fs::read(&segment).unwrap_or_default();
    flip_last(&mut bytes);
    assert!(std::fs::write(&segment, &bytes).is_ok());
    segment
}

fn flip_last(v: &mut [u8]) {
    if let Some(b) = v.last_mut() {
        *b ^= 0x40;
    }
}

#[tokio::test]
async fn flipped_record_byte_is_quarantined_counted_and_reads_as_absent() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    seed(dir.path(), 3).await;
    let bad = Uuid::from_u128(2);
    tamper(dir.path(), "records", bad.as_bytes(), |v| flip_last(v));

    let seen = Arc::new(Seen::default());
    let store = SledStore::open(config(dir.path(), seen.clone()))
        .unwrap_or_else(|e| panic!("open must succeed with a corrupt record: {e}"));
    assert_eq!(store.get(bad).await.ok().flatten(), None);
    assert_eq!(store.stats().corrupt_records_total, 1);
    assert_eq!(seen.trees(), vec!["records".to_string()]);
    let q = store.quarantined().unwrap_or_default();
    let mut trees: Vec<_> = q.iter().map(|e| (e.tree.as_str(), e.key.clone())).collect();
    trees.sort();
    assert_eq!(
        trees,
        vec![
            ("payloads", bad.as_bytes().to_vec()),
            ("records", bad.as_bytes().to_vec())
        ]
    );
    // The healthy neighbours are still delivered in order; the dangling index entry of the
    // quarantined message is dropped on the way, and the counters follow.
    let ids = leased_ids(&store, 2_000, 10).await;
    assert_eq!(ids, vec![1, 3]);
    assert_eq!(
        store.depths().get("a").map(|d| (d.queued, d.delivering)),
        Some((0, 2))
    );
    let report = store.check_consistency().unwrap_or_default();
    assert_eq!(report.problems, Vec::<String>::new());
}

#[tokio::test]
async fn a_lease_that_meets_a_quarantined_first_candidate_still_gets_as_many_as_it_asked_for() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    seed(dir.path(), 3).await;
    tamper(dir.path(), "records", Uuid::from_u128(1).as_bytes(), |v| {
        flip_last(v)
    });
    let store = SledStore::open(config(dir.path(), Arc::default()))
        .unwrap_or_else(|e| panic!("open must succeed with a corrupt record: {e}"));
    // The two entries read first include the dangling one of message 1; the lease goes on
    // reading instead of answering with one message.
    let ids = leased_ids(&store, 2_000, 2).await;
    assert_eq!(ids, vec![2, 3]);
    let report = store.check_consistency().unwrap_or_default();
    assert_eq!(report.problems, Vec::<String>::new());
}

#[tokio::test]
async fn unknown_record_version_is_quarantined_like_a_bad_checksum() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    seed(dir.path(), 1).await;
    let id = Uuid::from_u128(1);
    tamper(dir.path(), "records", id.as_bytes(), |v| {
        if let Some(b) = v.first_mut() {
            *b = 2;
        }
    });
    let seen = Arc::new(Seen::default());
    let store = SledStore::open(config(dir.path(), seen.clone())).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(store.get(id).await.ok().flatten(), None);
    assert_eq!(seen.trees(), vec!["records".to_string()]);
    // The client's resubmission is accepted again: the message is not lost for good.
    assert!(matches!(
        store.enqueue(msg(1)).await,
        Ok(Enqueued::Accepted { .. })
    ));
}

/// Reopens the store seeded with two messages, one of which (`bad`) has a damaged payload:
/// a lease gets only `good`, `bad` is a dead letter with a quarantined payload, counted once,
/// and the consistency check finds nothing else. Returns the check's report.
async fn reopen_and_lease_around(dir: &Path, good: u128, bad: Uuid) -> ConsistencyReport {
    let seen = Arc::new(Seen::default());
    let store = SledStore::open(config(dir, seen.clone())).unwrap_or_else(|e| panic!("{e}"));
    let ids = leased_ids(&store, 2_000, 10).await;
    assert_eq!(ids, vec![good]);
    let dead = store.get(bad).await.ok().flatten();
    assert_eq!(
        dead.map(|r| (r.state, r.last_error)),
        Some((State::Dead, Some("payload missing or corrupt".into())))
    );
    assert_eq!(seen.trees(), vec!["payloads".to_string()]);
    assert_eq!(store.stats().corrupt_records_total, 1);
    let report = store.check_consistency().unwrap_or_default();
    // The dead letter has no payload any more: the check says so, nothing else is wrong.
    assert_eq!(
        report.problems,
        vec![format!("payload of {bad} is missing")]
    );
    report
}

#[tokio::test]
async fn corrupt_payload_sends_its_message_to_the_dead_letters_not_to_oblivion() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    seed(dir.path(), 2).await;
    let bad = Uuid::from_u128(1);
    tamper(dir.path(), "payloads", bad.as_bytes(), |v| flip_last(v));
    let report = reopen_and_lease_around(dir.path(), 2, bad).await;
    // The quarantined pointer keeps its segment counted.
    assert_eq!(report.quarantined_segment_pointers, 1);
}

#[tokio::test]
async fn damaged_segment_file_sends_its_message_to_the_dead_letters_and_stays_as_evidence() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    seed(dir.path(), 2).await;
    let _ = damage_the_last_byte_of_the_one_segment(dir.path());
    let report = reopen_and_lease_around(dir.path(), 1, Uuid::from_u128(2)).await;
    // The quarantined pointer keeps its segment counted: the file stays as evidence.
    assert_eq!(report.quarantined_segment_pointers, 1);
}

/// Quarantined segment pointers that keep their segment, and the consistency problems.
fn pinning_pointers_and_problems(store: &SledStore) -> (u64, Vec<String>) {
    let report = store.check_consistency().unwrap_or_default();
    (report.quarantined_segment_pointers, report.problems)
}

async fn forget(store: &SledStore, id: Uuid) -> Option<bool> {
    store
        .forget_quarantined("payloads", id.as_bytes())
        .await
        .ok()
}

#[tokio::test]
async fn forgetting_a_quarantined_segment_pointer_lets_its_segment_go() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    seed(dir.path(), 2).await;
    let segment = damage_the_last_byte_of_the_one_segment(dir.path());
    let store =
        SledStore::open(config(dir.path(), Arc::default())).unwrap_or_else(|e| panic!("{e}"));
    let bad = Uuid::from_u128(2);
    // Message 1 is delivered and its payload purged; message 2 is a dead letter whose
    // quarantined pointer alone keeps the segment.
    let leased = store
        .lease("a", Timestamp(2_000), Duration::from_secs(30), 10)
        .await
        .unwrap_or_default();
    assert_eq!(leased.len(), 1);
    let done = Completion::Delivered {
        detail: "ok".into(),
    };
    assert!(
        store
            .complete(&leased[0].lease, done, Timestamp(2_001))
            .await
            .is_ok()
    );
    assert!(store.purge(bad).await.is_ok());
    let purge = |at| store.purge_finished(Timestamp(at), Duration::ZERO, Duration::from_secs(3600));
    assert!(purge(3_000).await.is_ok());
    assert!(
        segment.exists(),
        "the quarantined pointer keeps its segment"
    );
    assert_eq!(pinning_pointers_and_problems(&store), (1, vec![]));

    assert_eq!(forget(&store, bad).await, Some(true));
    assert!(purge(3_001).await.is_ok());
    assert!(
        !segment.exists(),
        "nothing points into the segment any more"
    );
    assert_eq!(store.quarantined().map(|q| q.len()).ok(), Some(0));
    assert_eq!(pinning_pointers_and_problems(&store), (0, vec![]));
    assert_eq!(forget(&store, bad).await, Some(false), "forgotten once");
    assert!(store.close().await.is_ok());
}

#[tokio::test]
async fn a_payload_read_failing_with_an_io_error_leaves_its_message_queued_and_counted() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    seed(dir.path(), 2).await;
    // Both payloads are in one segment. A directory in its place makes every read of it fail
    // with an I/O error (EISDIR), as a bad sector would with EIO: not corruption.
    let segment = the_one_segment(dir.path());
    let bytes = std::fs::read(&segment).unwrap_or_default();
    assert!(std::fs::remove_file(&segment).is_ok());
    assert!(std::fs::create_dir(&segment).is_ok());

    let seen = Arc::new(Seen::default());
    let store = SledStore::open(config(dir.path(), seen.clone())).unwrap_or_else(|e| panic!("{e}"));
    let ids = leased_ids(&store, 2_000, 10).await;
    assert!(ids.is_empty(), "nothing readable to hand out");
    assert_eq!(
        seen.1.load(Ordering::Relaxed),
        2,
        "each failed read reported"
    );
    assert_eq!(
        store
            .depths()
            .get("a")
            .map(|d| (d.queued, d.delivering, d.dead)),
        Some((2, 0, 0)),
        "both wait, neither is given up"
    );
    assert!(matches!(
        store.payload(Uuid::from_u128(1)).await,
        Err(StoreError::Storage(_))
    ));
    assert_eq!(seen.1.load(Ordering::Relaxed), 3);
    assert_eq!(seen.trees(), Vec::<String>::new(), "nothing quarantined");
    assert!(store.close().await.is_ok());
    drop(store);

    // The disk is readable again: both are delivered, in order.
    assert!(std::fs::remove_dir(&segment).is_ok());
    assert!(std::fs::write(&segment, &bytes).is_ok());
    let store = SledStore::open(config(dir.path(), seen.clone())).unwrap_or_else(|e| panic!("{e}"));
    let ids = leased_ids(&store, 3_000, 10).await;
    assert_eq!(ids, vec![1, 2]);
    assert_eq!(seen.1.load(Ordering::Relaxed), 3);
}

#[tokio::test]
async fn corrupt_payload_makes_lease_one_fail_as_payload_lost() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    seed(dir.path(), 1).await;
    let bad = Uuid::from_u128(1);
    tamper(dir.path(), "payloads", bad.as_bytes(), |v| v.truncate(3));
    let store =
        SledStore::open(config(dir.path(), Arc::default())).unwrap_or_else(|e| panic!("{e}"));
    let r = store
        .lease_one(bad, Timestamp(2_000), Duration::from_secs(1))
        .await;
    assert!(matches!(r, Err(StoreError::PayloadLost(id)) if id == bad));
    assert_eq!(store.payload(bad).await.ok().flatten(), None);
}

#[tokio::test]
async fn truncated_index_value_is_quarantined_when_read_and_the_message_still_delivers() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    seed(dir.path(), 2).await;
    // The `pending` entry of message 1 (the first key: dest "a", lowest seq).
    let key = {
        let db = sled::open(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let t = db.open_tree("pending").unwrap_or_else(|e| panic!("{e}"));
        let first = t
            .iter()
            .next()
            .and_then(|r| r.ok())
            .map(|(k, _)| k.to_vec());
        first.unwrap_or_default()
    };
    tamper(dir.path(), "pending", &key, |v| v.truncate(10));
    let seen = Arc::new(Seen::default());
    let store = SledStore::open(config(dir.path(), seen.clone())).unwrap_or_else(|e| panic!("{e}"));
    let listed = store.list_pending("a", None, 10).await.unwrap_or_default();
    assert_eq!(
        listed.iter().map(|r| r.id.as_u128()).collect::<Vec<_>>(),
        vec![2]
    );
    assert_eq!(seen.trees(), vec!["pending".to_string()]);
    // Its record and `ready` entry are intact: it is still delivered, first.
    let ids = leased_ids(&store, 2_000, 1).await;
    assert_eq!(ids.first().copied(), Some(1));
}

#[tokio::test]
async fn corrupt_depth_counter_is_rebuilt_from_the_indexes_at_next_open() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    seed(dir.path(), 3).await;
    {
        let store =
            SledStore::open(config(dir.path(), Arc::default())).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            !store.open_report().depths_rebuilt,
            "counters should be trusted"
        );
        assert!(store.close().await.is_ok());
    }
    tamper(dir.path(), "counters", b"a", |v| v.truncate(7));
    let seen = Arc::new(Seen::default());
    let store = SledStore::open(config(dir.path(), seen.clone())).unwrap_or_else(|e| panic!("{e}"));
    assert!(store.open_report().depths_rebuilt);
    assert_eq!(seen.trees(), vec!["counters".to_string()]);
    assert_eq!(store.stats().corrupt_records_total, 1);
    assert_eq!(
        store
            .depths()
            .get("a")
            .map(|d| (d.queued, d.delivering, d.pending_bytes)),
        Some((3, 0, 3 * 10))
    );
    let report = store.check_consistency().unwrap_or_default();
    assert_eq!(report.problems, Vec::<String>::new());
}

#[tokio::test]
async fn reopening_after_corruption_does_not_report_it_twice() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    seed(dir.path(), 1).await;
    let id = Uuid::from_u128(1);
    tamper(dir.path(), "records", id.as_bytes(), |v| flip_last(v));
    for expected in [1, 0] {
        let store =
            SledStore::open(config(dir.path(), Arc::default())).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(store.get(id).await.ok().flatten(), None);
        assert_eq!(store.stats().corrupt_records_total, expected);
        assert!(store.close().await.is_ok());
    }
}
