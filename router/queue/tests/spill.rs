//! Large payloads in spill files (docs/queue.md §15): the same guarantees as inline payloads.

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use uuid::Uuid;
use xoev_queue::{
    Completion, Enqueued, Limits, MessageStore, NewMessage, SledConfig, SledStore, State,
    StoreError, Timestamp,
};

fn open(dir: &Path) -> SledStore {
    let mut cfg = SledConfig::new(
        dir.join("q"),
        Limits {
            min_free_disk_bytes: 0,
            max_pending_bytes_per_destination: u64::MAX,
        },
    );
    cfg.spill_threshold = 16; // everything below is tiny: every payload here spills
    SledStore::open(cfg).expect("open")
}

fn digest(b: &[u8]) -> [u8; 32] {
    let mut d = [0u8; 32];
    for (i, x) in b.iter().enumerate() {
        d[i % 32] ^= x.wrapping_add(i as u8);
    }
    d[31] ^= b.len() as u8;
    d
}

fn msg(id: Uuid, payload: &'static [u8]) -> NewMessage {
    NewMessage {
        id,
        destination: "d".into(),
        payload: Bytes::from_static(payload),
        digest: digest(payload),
        meta: vec![],
        accepted_at: Timestamp::now(),
    }
}

fn spill_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("q/spill"))
        .map(|d| d.count())
        .unwrap_or(0)
}

async fn durable(store: &SledStore, e: Enqueued) {
    let t = match e {
        Enqueued::Accepted { ticket, .. } | Enqueued::Duplicate { ticket, .. } => ticket,
        Enqueued::Conflict { .. } => store.current_ticket(),
    };
    store.wait_durable(t).await.expect("durable");
}

/// Enqueues `payload` under a new id and waits until it is durable.
async fn stored(store: &SledStore, payload: &'static [u8]) -> Uuid {
    let id = Uuid::new_v4();
    let e = store.enqueue(msg(id, payload)).await.unwrap();
    durable(store, e).await;
    id
}

/// `lease_one` of a message whose file is gone or damaged answers `PayloadLost`.
async fn assert_lease_one_loses_payload(store: &SledStore, id: Uuid) {
    let err = store
        .lease_one(id, Timestamp::now(), Duration::from_secs(60))
        .await
        .unwrap_err();
    assert!(
        matches!(err, StoreError::PayloadLost(x) if x == id),
        "{err}"
    );
}

#[tokio::test]
async fn a_conflicting_resubmission_never_replaces_the_spilled_payload() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path());
    let id = Uuid::new_v4();
    let first = store
        .enqueue(msg(id, b"the original, acknowledged bytes"))
        .await
        .unwrap();
    durable(&store, first).await;
    let again = store
        .enqueue(msg(id, b"other bytes under the same message id"))
        .await
        .unwrap();
    assert!(matches!(again, Enqueued::Conflict { .. }), "{again:?}");
    let same = store
        .enqueue(msg(id, b"the original, acknowledged bytes"))
        .await
        .unwrap();
    assert!(matches!(same, Enqueued::Duplicate { .. }), "{same:?}");
    assert_eq!(
        store.payload(id).await.unwrap().unwrap(),
        Bytes::from_static(b"the original, acknowledged bytes")
    );
    assert_eq!(spill_files(tmp.path()), 1, "no temporary file left behind");
    store.close().await.unwrap();
    drop(store);
    let store = open(tmp.path());
    assert_eq!(
        store.payload(id).await.unwrap().unwrap(),
        Bytes::from_static(b"the original, acknowledged bytes")
    );
    assert!(store.check_consistency().unwrap().problems.is_empty());
}

#[tokio::test]
async fn a_conflict_within_one_merged_batch_keeps_the_first_payload() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path());
    let id = Uuid::new_v4();
    // Sent together, these may be merged into one transaction by the writer.
    let (a, b) = tokio::join!(
        store.enqueue(msg(id, b"first copy of the message body")),
        store.enqueue(msg(id, b"second, different message body")),
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let winner: &[u8] = match (&a, &b) {
        (Enqueued::Accepted { .. }, Enqueued::Conflict { .. }) => b"first copy of the message body",
        (Enqueued::Conflict { .. }, Enqueued::Accepted { .. }) => b"second, different message body",
        other => panic!("one accepted, one conflict: {other:?}"),
    };
    assert_eq!(
        store.payload(id).await.unwrap().unwrap(),
        Bytes::copy_from_slice(winner)
    );
    assert!(store.check_consistency().unwrap().problems.is_empty());
}

#[tokio::test]
async fn delivering_and_purging_a_spilled_message_removes_its_file() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path());
    let id = stored(&store, b"payload that will be delivered").await;
    let leased = store
        .lease("d", Timestamp::now(), Duration::from_secs(60), 8)
        .await
        .unwrap();
    assert_eq!(leased.len(), 1);
    assert_eq!(leased[0].record.id, id);
    assert_eq!(
        leased[0].payload,
        Bytes::from_static(b"payload that will be delivered")
    );
    store
        .complete(
            &leased[0].lease,
            Completion::Delivered {
                detail: String::new(),
            },
            Timestamp::now(),
        )
        .await
        .unwrap();
    assert_eq!(spill_files(tmp.path()), 1, "kept for the payload retention");
    let later = Timestamp(Timestamp::now().0 + 3_600_000);
    let report = store
        .purge_finished(later, Duration::from_secs(60), Duration::from_secs(86400))
        .await
        .unwrap();
    assert_eq!(report.payloads, 1);
    assert_eq!(spill_files(tmp.path()), 0, "the file goes with the payload");
    assert!(store.check_consistency().unwrap().problems.is_empty());
}

#[tokio::test]
async fn a_missing_spill_file_turns_the_message_into_a_dead_letter_not_a_crash() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path());
    let id = stored(&store, b"payload whose file will vanish").await;
    std::fs::remove_file(tmp.path().join("q/spill").join(id.to_string())).unwrap();
    assert_lease_one_loses_payload(&store, id).await;
    assert_eq!(store.get(id).await.unwrap().unwrap().state, State::Dead);
    assert!(
        store.stats().corrupt_records_total >= 1,
        "counted as corruption"
    );
}

#[tokio::test]
async fn orphans_and_temporary_files_are_removed_at_open() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path());
    let id = stored(&store, b"a payload that stays in the queue").await;
    store.close().await.unwrap();
    drop(store);
    let dir = tmp.path().join("q/spill");
    std::fs::write(
        dir.join(Uuid::new_v4().to_string()),
        b"orphan of a crash before commit",
    )
    .unwrap();
    std::fs::write(
        dir.join(format!("{}.0000000000000001.tmp", Uuid::new_v4())),
        b"half written",
    )
    .unwrap();
    let store = open(tmp.path());
    assert_eq!(spill_files(tmp.path()), 1, "only the referenced file stays");
    assert_eq!(
        store.payload(id).await.unwrap().unwrap(),
        Bytes::from_static(b"a payload that stays in the queue")
    );
}

#[tokio::test]
async fn a_damaged_spill_file_stays_as_evidence_after_its_pointer_is_quarantined() {
    let tmp = tempfile::tempdir().unwrap();
    let store = open(tmp.path());
    let id = stored(&store, b"payload whose file gets damaged").await;
    let file = tmp.path().join("q/spill").join(id.to_string());
    std::fs::write(&file, b"payload whose file gets DAMAGED").unwrap();
    assert_lease_one_loses_payload(&store, id).await;
    store.close().await.unwrap();
    drop(store);
    let store = open(tmp.path());
    assert!(file.exists(), "kept for the operator, across a restart");
    assert_eq!(store.get(id).await.unwrap().unwrap().state, State::Dead);
}
