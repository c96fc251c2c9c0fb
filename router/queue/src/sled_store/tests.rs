//! Unit tests per operation and invariant. Every test ends with a consistency scan.

use std::time::Duration;

use bytes::Bytes;
use uuid::Uuid;

use super::{SledConfig, SledStore};
use crate::api::*;

const LEASE: Duration = Duration::from_secs(30);

fn limits() -> Limits {
    Limits {
        min_free_disk_bytes: 0,
        max_pending_bytes_per_destination: u64::MAX,
    }
}

fn open(dir: &tempfile::TempDir) -> SledStore {
    match SledStore::open(SledConfig::new(dir.path().join("q"), limits())) {
        Ok(s) => s,
        Err(e) => panic!("open failed: {e}"),
    }
}

fn digest_of(payload: &[u8]) -> [u8; 32] {
    // Any stable function of the bytes will do for the queue; the router uses SHA-256.
    let mut d = [0u8; 32];
    for (i, b) in payload.iter().enumerate() {
        if let Some(slot) = d.get_mut(i % 32) {
            *slot = slot.wrapping_mul(31).wrapping_add(*b);
        }
    }
    d
}

fn msg(n: u128, dest: &str, body: &str) -> NewMessage {
    let payload = Bytes::from(body.to_owned());
    NewMessage {
        id: Uuid::from_u128(n),
        destination: dest.into(),
        digest: digest_of(&payload),
        payload,
        meta: vec![n as u8],
        accepted_at: Timestamp(1_000),
    }
}

async fn accept(store: &SledStore, m: NewMessage) -> MessageRecord {
    match store.enqueue(m).await {
        Ok(Enqueued::Accepted { record, ticket }) => {
            assert!(store.wait_durable(ticket).await.is_ok());
            record
        }
        other => panic!("expected Accepted, got {other:?}"),
    }
}

fn ids(leased: &[Leased]) -> Vec<u128> {
    leased.iter().map(|l| l.record.id.as_u128()).collect()
}

async fn consistent(store: &SledStore) {
    let report = store.check_consistency();
    assert!(
        matches!(&report, Ok(r) if r.problems.is_empty()),
        "inconsistent: {report:?}"
    );
}

#[tokio::test]
async fn enqueued_message_is_queued_with_its_exact_payload_once_durable() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = open(&dir);
    let rec = accept(&store, msg(1, "d", "<a/>")).await;
    assert_eq!((rec.state, rec.attempts, rec.size), (State::Queued, 0, 4));
    assert_eq!(store.get(rec.id).await.ok().flatten(), Some(rec.clone()));
    assert_eq!(
        store.payload(rec.id).await.ok().flatten(),
        Some(Bytes::from_static(b"<a/>"))
    );
    assert_eq!(
        rec.history.iter().map(|e| e.kind).collect::<Vec<_>>(),
        vec![EventKind::Accepted]
    );
    consistent(&store).await;
}

#[tokio::test]
async fn resubmission_with_same_bytes_returns_the_original_record_as_duplicate() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = open(&dir);
    let original = accept(&store, msg(1, "d", "x")).await;
    let again = store.enqueue(msg(1, "d", "x")).await;
    match again {
        Ok(Enqueued::Duplicate { record, ticket }) => {
            assert_eq!(record, original);
            assert!(store.wait_durable(ticket).await.is_ok());
        }
        other => panic!("expected Duplicate, got {other:?}"),
    }
    consistent(&store).await;
}

#[tokio::test]
async fn resubmission_with_different_bytes_is_a_conflict_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = open(&dir);
    let original = accept(&store, msg(1, "d", "x")).await;
    let again = store.enqueue(msg(1, "d", "y")).await;
    assert!(matches!(again, Ok(Enqueued::Conflict { ref record }) if *record == original));
    assert_eq!(
        store.payload(original.id).await.ok().flatten(),
        Some(Bytes::from_static(b"x"))
    );
    consistent(&store).await;
}

#[tokio::test]
async fn lease_hands_out_first_attempts_in_acceptance_order_per_destination() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = open(&dir);
    for n in [5, 3, 9] {
        accept(&store, msg(n, "a", "x")).await;
    }
    accept(&store, msg(7, "b", "x")).await;
    let first = store
        .lease("a", Timestamp(2_000), LEASE, 2)
        .await
        .unwrap_or_default();
    assert_eq!(ids(&first), vec![5, 3]);
    assert_eq!(first.first().map(|l| l.record.attempts), Some(1));
    let rest = store
        .lease("a", Timestamp(2_000), LEASE, 10)
        .await
        .unwrap_or_default();
    assert_eq!(ids(&rest), vec![9]);
    consistent(&store).await;
}

#[tokio::test]
async fn due_retries_are_leased_before_first_attempts_and_future_ones_wait() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = open(&dir);
    for n in 1..=3 {
        accept(&store, msg(n, "a", "x")).await;
    }
    let l = store
        .lease("a", Timestamp(2_000), LEASE, 2)
        .await
        .unwrap_or_default();
    let (l1, l2) = match l.as_slice() {
        [a, b] => (a.lease.clone(), b.lease.clone()),
        other => panic!("expected two leases, got {}", other.len()),
    };
    // 1 is due at 3_000, 2 at 5_000.
    assert!(
        store
            .retry_later(&l1, "503", Timestamp(3_000), Timestamp(2_001))
            .await
            .is_ok()
    );
    assert!(
        store
            .retry_later(&l2, "503", Timestamp(5_000), Timestamp(2_001))
            .await
            .is_ok()
    );
    let at_4000 = store
        .lease("a", Timestamp(4_000), LEASE, 10)
        .await
        .unwrap_or_default();
    assert_eq!(ids(&at_4000), vec![1, 3]);
    assert_eq!(at_4000.first().map(|l| l.record.attempts), Some(2));
    let at_6000 = store
        .lease("a", Timestamp(6_000), LEASE, 10)
        .await
        .unwrap_or_default();
    assert_eq!(ids(&at_6000), vec![2]);
    consistent(&store).await;
}

#[tokio::test]
async fn a_lease_token_completes_at_most_once() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = open(&dir);
    accept(&store, msg(1, "a", "x")).await;
    let l = store
        .lease("a", Timestamp(2_000), LEASE, 1)
        .await
        .unwrap_or_default();
    let token = l.first().map(|l| l.lease.clone()).unwrap_or(LeaseToken {
        id: Uuid::nil(),
        token: 0,
    });
    let done = Completion::Delivered {
        detail: "200".into(),
    };
    let first = store.complete(&token, done.clone(), Timestamp(2_100)).await;
    assert!(matches!(first, Ok(ref r) if r.state == State::Delivered));
    let second = store.complete(&token, done, Timestamp(2_200)).await;
    assert!(matches!(second, Err(StoreError::LeaseLost(id)) if id == token.id));
    let late_fail = store.kill(&token, "too late", Timestamp(2_300)).await;
    assert!(matches!(late_fail, Err(StoreError::LeaseLost(_))));
    consistent(&store).await;
}

#[tokio::test]
async fn stale_token_after_expiry_and_relayse_fails_as_lease_lost() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = open(&dir);
    accept(&store, msg(1, "a", "x")).await;
    let first = store
        .lease("a", Timestamp(2_000), Duration::from_millis(100), 1)
        .await
        .unwrap_or_default();
    let stale = first
        .first()
        .map(|l| l.lease.clone())
        .unwrap_or(LeaseToken {
            id: Uuid::nil(),
            token: 0,
        });
    assert_eq!(store.expire_leases(Timestamp(2_100)).await.ok(), Some(1));
    let after = store.get(stale.id).await.ok().flatten();
    assert_eq!(
        after.as_ref().map(|r| (r.state, r.attempts, r.not_before)),
        Some((State::Queued, 1, Some(Timestamp(2_100))))
    );
    let second = store
        .lease("a", Timestamp(2_200), LEASE, 1)
        .await
        .unwrap_or_default();
    assert_eq!(second.first().map(|l| l.record.attempts), Some(2));
    let r = store
        .retry_later(&stale, "late", Timestamp(9_000), Timestamp(2_300))
        .await;
    assert!(matches!(r, Err(StoreError::LeaseLost(_))));
    consistent(&store).await;
}

#[tokio::test]
async fn release_gives_the_attempt_back_and_keeps_fifo_position() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = open(&dir);
    accept(&store, msg(1, "a", "x")).await;
    accept(&store, msg(2, "a", "x")).await;
    let l = store
        .lease("a", Timestamp(2_000), LEASE, 1)
        .await
        .unwrap_or_default();
    let token = l.first().map(|l| l.lease.clone()).unwrap_or(LeaseToken {
        id: Uuid::nil(),
        token: 0,
    });
    assert!(store.release(&token, Timestamp(2_001)).await.is_ok());
    let rec = store.get(token.id).await.ok().flatten();
    assert_eq!(rec.map(|r| (r.state, r.attempts)), Some((State::Queued, 0)));
    let again = store
        .lease("a", Timestamp(2_002), LEASE, 1)
        .await
        .unwrap_or_default();
    assert_eq!(ids(&again), vec![1]);
    consistent(&store).await;
}

#[tokio::test]
async fn kill_moves_to_dead_and_replay_requeues_with_zero_attempts() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = open(&dir);
    accept(&store, msg(1, "a", "x")).await;
    let l = store
        .lease("a", Timestamp(2_000), LEASE, 1)
        .await
        .unwrap_or_default();
    let token = l.first().map(|l| l.lease.clone()).unwrap_or(LeaseToken {
        id: Uuid::nil(),
        token: 0,
    });
    let dead = store.kill(&token, "400 schema", Timestamp(2_001)).await;
    assert!(
        matches!(dead, Ok(ref r) if r.state == State::Dead && r.last_error.as_deref() == Some("400 schema"))
    );
    let listed = store.list_dead(None, 10).await.unwrap_or_default();
    assert_eq!(
        listed.iter().map(|r| r.id).collect::<Vec<_>>(),
        vec![token.id]
    );
    assert_eq!(store.depths().get("a").map(|d| d.dead), Some(1));
    let replayed = store.replay(token.id, Timestamp(2_002)).await;
    assert!(matches!(replayed, Ok(ref r) if r.state == State::Queued && r.attempts == 0));
    assert_eq!(
        store.list_dead(None, 10).await.map(|v| v.len()).ok(),
        Some(0)
    );
    let again = store
        .lease("a", Timestamp(2_003), LEASE, 1)
        .await
        .unwrap_or_default();
    assert_eq!(again.first().map(|l| l.record.attempts), Some(1));
    consistent(&store).await;
}

#[tokio::test]
async fn purge_removes_a_dead_letter_and_refuses_a_pending_message() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = open(&dir);
    accept(&store, msg(1, "a", "x")).await;
    accept(&store, msg(2, "a", "x")).await;
    let refused = store.purge(Uuid::from_u128(1)).await;
    assert!(matches!(
        refused,
        Err(StoreError::WrongState {
            state: State::Queued,
            expected: "dead",
            ..
        })
    ));
    let l = store
        .lease("a", Timestamp(2_000), LEASE, 1)
        .await
        .unwrap_or_default();
    let token = l.first().map(|l| l.lease.clone()).unwrap_or(LeaseToken {
        id: Uuid::nil(),
        token: 0,
    });
    assert!(store.kill(&token, "bad", Timestamp(2_001)).await.is_ok());
    assert!(store.purge(token.id).await.is_ok());
    assert_eq!(store.get(token.id).await.ok().flatten(), None);
    assert_eq!(store.payload(token.id).await.ok().flatten(), None);
    assert!(matches!(
        store.purge(token.id).await,
        Err(StoreError::NotFound(_))
    ));
    consistent(&store).await;
}

#[tokio::test]
async fn purge_finished_removes_payloads_first_and_records_later() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = open(&dir);
    accept(&store, msg(1, "a", "x")).await;
    let l = store
        .lease("a", Timestamp(2_000), LEASE, 1)
        .await
        .unwrap_or_default();
    let token = l.first().map(|l| l.lease.clone()).unwrap_or(LeaseToken {
        id: Uuid::nil(),
        token: 0,
    });
    let fwd = Completion::Forwarded {
        detail: "peer".into(),
        receipt: vec![7],
    };
    assert!(store.complete(&token, fwd, Timestamp(10_000)).await.is_ok());
    let (p, r) = (Duration::from_secs(1), Duration::from_secs(5));
    let early = store.purge_finished(Timestamp(10_999), p, r).await.ok();
    assert_eq!(
        early,
        Some(PurgeReport {
            payloads: 0,
            records: 0
        })
    );
    let mid = store.purge_finished(Timestamp(11_000), p, r).await.ok();
    assert_eq!(
        mid,
        Some(PurgeReport {
            payloads: 1,
            records: 0
        })
    );
    let rec = store.get(token.id).await.ok().flatten();
    assert_eq!(
        rec.map(|r| (r.state, r.payload_present, r.outcome)),
        Some((State::Forwarded, false, Some(vec![7])))
    );
    assert_eq!(store.payload(token.id).await.ok().flatten(), None);
    consistent(&store).await;
    // Still deduplicated while the record exists.
    assert!(matches!(
        store.enqueue(msg(1, "a", "x")).await,
        Ok(Enqueued::Duplicate { .. })
    ));
    let late = store.purge_finished(Timestamp(15_000), p, r).await.ok();
    assert_eq!(
        late,
        Some(PurgeReport {
            payloads: 0,
            records: 1
        })
    );
    assert_eq!(store.get(token.id).await.ok().flatten(), None);
    consistent(&store).await;
    // After the record is gone the id is accepted as a new message.
    accept(&store, msg(1, "a", "x")).await;
    consistent(&store).await;
}

#[tokio::test]
async fn retention_purges_hundreds_of_messages_in_a_few_transactions_and_only_the_expired_ones() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = open(&dir);
    for n in 0..300 {
        accept(&store, msg(n, "a", "x")).await;
    }
    // 290 finish one millisecond apart from 10,000 on; 10 stay queued.
    let mut leased = Vec::new();
    while leased.len() < 290 {
        let want = 290 - leased.len();
        let more = store.lease("a", Timestamp(2_000), LEASE, want).await;
        let more = more.unwrap_or_else(|e| panic!("lease: {e}"));
        assert!(!more.is_empty(), "nothing more to lease");
        leased.extend(more);
    }
    for (i, l) in leased.iter().enumerate() {
        let done = Completion::Delivered {
            detail: String::new(),
        };
        let at = Timestamp(10_000 + i as u64);
        assert!(store.complete(&l.lease, done, at).await.is_ok());
    }
    let (p, r) = (Duration::from_secs(1), Duration::from_secs(5));
    let transactions = || store.stats().transactions_total;

    // Payloads that finished up to 10,149: the first 150.
    let before = transactions();
    let purged = store.purge_finished(Timestamp(11_149), p, r).await;
    let purged = purged.unwrap_or_else(|e| panic!("purge: {e}"));
    assert_eq!((purged.payloads, purged.records), (150, 0));
    // 16 to a transaction: 10 (one per removal: 150).
    assert!(transactions() - before <= 10, "{}", transactions() - before);
    assert_eq!(
        store.payload(leased[149].record.id).await.ok().flatten(),
        None
    );
    assert!(
        store
            .payload(leased[150].record.id)
            .await
            .ok()
            .flatten()
            .is_some()
    );
    consistent(&store).await;

    // Then all 290 records, the other 140 payloads with their records (no payload is counted:
    // none of their records stays).
    let before = transactions();
    let purged = store.purge_finished(Timestamp(15_289), p, r).await;
    let purged = purged.unwrap_or_else(|e| panic!("purge: {e}"));
    assert_eq!((purged.payloads, purged.records), (0, 290));
    assert!(transactions() - before <= 19, "{}", transactions() - before);
    for l in &leased {
        assert_eq!(store.get(l.record.id).await.ok().flatten(), None);
        assert_eq!(store.payload(l.record.id).await.ok().flatten(), None);
    }
    assert_eq!(store.depth("a").queued, 10);
    for n in 0..300u128 {
        let kept = store.get(Uuid::from_u128(n)).await.ok().flatten();
        if !leased.iter().any(|l| l.record.id.as_u128() == n) {
            assert_eq!(kept.map(|r| r.state), Some(State::Queued), "message {n}");
        }
    }
    consistent(&store).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_purge_running_when_the_store_closes_stops_at_its_next_transaction() {
    // A purge of a month of messages runs for minutes (it pauses between transactions); a
    // router that stops must not wait for it.
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = std::sync::Arc::new(open(&dir));
    let n = 3_000u128;
    for i in 0..n {
        accept(&store, msg(i, "a", "x")).await;
    }
    let mut last = None;
    loop {
        let leased = store.lease("a", Timestamp(2_000), LEASE, 256).await;
        let leased = leased.unwrap_or_else(|e| panic!("lease: {e}"));
        if leased.is_empty() {
            break;
        }
        for l in leased {
            let done = Completion::Delivered {
                detail: String::new(),
            };
            assert!(
                store
                    .complete(&l.lease, done, Timestamp(10_000))
                    .await
                    .is_ok()
            );
            last = Some(l.record.id);
        }
    }
    let last = last.unwrap_or_else(|| panic!("nothing delivered"));
    let purging = {
        let store = store.clone();
        tokio::spawn(async move {
            let day = Duration::from_secs(86_400);
            store.purge_finished(Timestamp(1 << 40), day, day).await
        })
    };
    tokio::time::sleep(Duration::from_millis(50)).await;
    assert!(store.close().await.is_ok());
    let stopped = tokio::time::timeout(Duration::from_secs(5), purging).await;
    let stopped = stopped.unwrap_or_else(|_| panic!("the purge went on after the close"));
    assert!(
        matches!(stopped, Ok(Err(StoreError::Closed))),
        "{stopped:?}"
    );
    drop(store);
    let store = open(&dir);
    assert!(store.get(last).await.ok().flatten().is_some());
    consistent(&store).await;
}

#[tokio::test]
async fn a_record_purged_while_its_id_is_resubmitted_is_not_replaced_by_a_pointer_to_no_file() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = open(&dir);
    // Above the spill threshold: the resubmission's payload is staged as a file, which the
    // writer drops because the id is still taken when it checks.
    let big = "x".repeat(100 * 1024);
    let id = accept(&store, msg(1, "a", &big)).await.id;
    let l = store.lease("a", Timestamp(2_000), LEASE, 1).await;
    let token = l.ok().and_then(|l| l.first().map(|l| l.lease.clone()));
    let token = token.unwrap_or_else(|| panic!("nothing leased"));
    let done = Completion::Delivered {
        detail: String::new(),
    };
    assert!(
        store
            .complete(&token, done, Timestamp(10_000))
            .await
            .is_ok()
    );
    let (p, r) = (Duration::from_secs(1), Duration::from_secs(5));
    let purged = store.purge_finished(Timestamp(11_000), p, r).await.ok();
    assert_eq!(purged.map(|p| (p.payloads, p.records)), Some((1, 0)));
    // Between that check and the transaction, the record's retention ends and the periodic
    // purge removes it.
    super::test_hooks::on_next_enqueue_commit(
        &store.inner,
        Box::new(move |inner| {
            let purged = inner.purge_finished(Timestamp(15_000), p, r).ok();
            assert_eq!(purged.map(|p| (p.payloads, p.records)), Some((0, 1)));
        }),
    );
    let answer = store.enqueue(msg(1, "a", &big)).await;
    assert!(
        matches!(&answer, Err(StoreError::Storage(m)) if m.ends_with("nothing was written, retry")),
        "{answer:?}"
    );
    assert_eq!(store.get(id).await.ok().flatten(), None);
    consistent(&store).await;
    // The client's retry is accepted, with its payload.
    accept(&store, msg(1, "a", &big)).await;
    let payload = store.payload(id).await.ok().flatten();
    assert_eq!(payload.map(|b| b.len()), Some(big.len()));
    consistent(&store).await;
}

#[tokio::test]
async fn leases_of_the_previous_process_return_to_queued_at_open() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let id = {
        let store = open(&dir);
        accept(&store, msg(1, "a", "x")).await;
        let l = store
            .lease("a", Timestamp(2_000), Duration::from_secs(3_600), 1)
            .await
            .unwrap_or_default();
        assert_eq!(l.len(), 1);
        assert!(store.close().await.is_ok());
        Uuid::from_u128(1)
    };
    let store = open(&dir);
    let rec = store.get(id).await.ok().flatten();
    assert_eq!(
        rec.as_ref().map(|r| (r.state, r.attempts)),
        Some((State::Queued, 1))
    );
    assert_eq!(
        rec.and_then(|r| r.history.last().map(|e| e.kind)),
        Some(EventKind::LeaseExpired)
    );
    assert_eq!(
        store.depths().get("a").map(|d| (d.queued, d.delivering)),
        Some((1, 0))
    );
    consistent(&store).await;
}

#[tokio::test]
async fn full_destination_refuses_writes_nothing_and_accepts_again_after_delivery() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = open(&dir);
    store.set_limits(Limits {
        min_free_disk_bytes: 0,
        max_pending_bytes_per_destination: 10,
    });
    accept(&store, msg(1, "a", "12345678")).await;
    let refused = store.enqueue(msg(2, "a", "123")).await;
    assert!(matches!(
        refused,
        Err(StoreError::DestinationFull { ref destination, pending_bytes: 8, limit: 10 }) if destination == "a"
    ));
    assert_eq!(store.get(Uuid::from_u128(2)).await.ok().flatten(), None);
    // Another destination is not affected, and a duplicate still gets its answer.
    accept(&store, msg(3, "b", "123")).await;
    assert!(matches!(
        store.enqueue(msg(1, "a", "12345678")).await,
        Ok(Enqueued::Duplicate { .. })
    ));
    let l = store
        .lease("a", Timestamp(2_000), LEASE, 1)
        .await
        .unwrap_or_default();
    let token = l.first().map(|l| l.lease.clone()).unwrap_or(LeaseToken {
        id: Uuid::nil(),
        token: 0,
    });
    assert!(
        store
            .complete(
                &token,
                Completion::Delivered {
                    detail: String::new()
                },
                Timestamp(2_001)
            )
            .await
            .is_ok()
    );
    accept(&store, msg(2, "a", "123")).await;
    consistent(&store).await;
}

#[tokio::test]
async fn free_disk_below_the_floor_refuses_with_disk_full_until_limits_allow() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = open(&dir);
    store.set_limits(Limits {
        min_free_disk_bytes: u64::MAX,
        max_pending_bytes_per_destination: u64::MAX,
    });
    let refused = store.enqueue(msg(1, "a", "x")).await;
    assert!(matches!(
        refused,
        Err(StoreError::DiskFull {
            floor: u64::MAX,
            ..
        })
    ));
    assert_eq!(store.get(Uuid::from_u128(1)).await.ok().flatten(), None);
    store.set_limits(limits());
    accept(&store, msg(1, "a", "x")).await;
    consistent(&store).await;
}

#[tokio::test]
async fn lease_one_takes_a_queued_message_and_refuses_a_delivered_one() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = open(&dir);
    accept(&store, msg(1, "mbox", "x")).await;
    let id = Uuid::from_u128(1);
    let l = store.lease_one(id, Timestamp(2_000), LEASE).await;
    let token = match l {
        Ok(l) => {
            assert_eq!(l.payload, Bytes::from_static(b"x"));
            l.lease
        }
        Err(e) => panic!("lease_one failed: {e}"),
    };
    // A live lease cannot be taken over.
    let busy = store.lease_one(id, Timestamp(2_001), LEASE).await;
    assert!(matches!(
        busy,
        Err(StoreError::WrongState {
            state: State::Delivering,
            ..
        })
    ));
    assert!(
        store
            .complete(
                &token,
                Completion::Delivered {
                    detail: "closed".into()
                },
                Timestamp(2_002)
            )
            .await
            .is_ok()
    );
    let done = store.lease_one(id, Timestamp(2_003), LEASE).await;
    assert!(matches!(
        done,
        Err(StoreError::WrongState {
            state: State::Delivered,
            ..
        })
    ));
    let missing = store
        .lease_one(Uuid::from_u128(99), Timestamp(2_003), LEASE)
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))));
    consistent(&store).await;
}

/// Completes `lease` as delivered, in a task of its own (so that it can wait in a round).
/// Leases the one queued message of `dest` and returns its token.
async fn lease_only(store: &SledStore, dest: &str) -> LeaseToken {
    match store.lease(dest, Timestamp(1_500), LEASE, 1).await {
        Ok(l) if l.len() == 1 => l[0].lease.clone(),
        other => panic!("lease of {dest} failed: {other:?}"),
    }
}

/// Enqueues `m` on a task of its own, so it can wait for the writer beside other callers.
fn spawn_enqueue(
    store: &SledStore,
    m: NewMessage,
) -> tokio::task::JoinHandle<Result<Enqueued, StoreError>> {
    let s = store.clone();
    tokio::spawn(async move { s.enqueue(m).await })
}

fn spawn_deliver(
    store: &SledStore,
    lease: LeaseToken,
) -> tokio::task::JoinHandle<Result<MessageRecord, StoreError>> {
    let s = store.clone();
    tokio::spawn(async move {
        let delivered = Completion::Delivered {
            detail: "ok".into(),
        };
        s.complete(&lease, delivered, Timestamp(2_000)).await
    })
}

/// The writer thread, kept busy by a job that waits until released: operations sent
/// meanwhile wait together and form one round.
struct Held {
    hold: std::sync::mpsc::Sender<()>,
    blocker: tokio::task::JoinHandle<Result<(), StoreError>>,
}

impl Held {
    fn writer(store: &SledStore) -> Held {
        let (hold, held) = std::sync::mpsc::channel::<()>();
        let s = store.clone();
        let blocker = tokio::spawn(async move {
            s.write(move |_| {
                let _ = held.recv();
                Ok(())
            })
            .await
        });
        Held { hold, blocker }
    }

    async fn release(self) {
        assert!(self.hold.send(()).is_ok());
        assert!(matches!(self.blocker.await, Ok(Ok(()))));
    }
}

#[tokio::test]
async fn a_round_gives_a_lease_back_before_a_takeover_that_arrived_earlier() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = open(&dir);
    accept(&store, msg(1, "mbox", "x")).await;
    let id = Uuid::from_u128(1);
    let token = match store.lease_one(id, Timestamp(2_000), LEASE).await {
        Ok(l) => l.lease,
        Err(e) => panic!("lease_one failed: {e}"),
    };
    // Hold the writer, so that the next two operations wait together and form one round.
    let held = Held::writer(&store);
    let pause = || tokio::time::sleep(Duration::from_millis(100));
    pause().await;
    let take = {
        let s = store.clone();
        tokio::spawn(async move { s.lease_one(id, Timestamp(2_001), LEASE).await })
    };
    pause().await;
    let give_back = {
        let (s, t) = (store.clone(), token.clone());
        tokio::spawn(async move { s.release(&t, Timestamp(2_001)).await })
    };
    pause().await;
    held.release().await;
    // In arrival order the takeover would meet a live lease (WrongState). The round applies
    // the lease ending first, so the message is queued again when the takeover runs.
    assert!(matches!(give_back.await, Ok(Ok(_))));
    match take.await {
        Ok(Ok(l)) => assert!(l.lease.id == id && l.lease.token > token.token),
        other => panic!("expected the takeover to lease the released message, got {other:?}"),
    }
    consistent(&store).await;
}

#[tokio::test]
async fn a_rounds_endings_and_leases_share_one_transaction_and_every_answer_is_as_if_alone() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = open(&dir);
    for (n, dest) in [
        (1, "a"),
        (2, "a"),
        (3, "a"),
        (4, "b"),
        (5, "b"),
        (6, "c"),
        (8, "e"),
    ] {
        accept(&store, msg(n, dest, "x")).await;
    }
    let delivering = lease_only(&store, "e").await;
    let before = store.stats().transactions_total;
    // Hold the writer, so that everything below waits together and forms one round.
    let held = Held::writer(&store);
    let pause = || tokio::time::sleep(Duration::from_millis(50));
    pause().await;
    let lease = |dest: &'static str, max: usize| {
        let s = store.clone();
        tokio::spawn(async move { s.lease(dest, Timestamp(2_000), LEASE, max).await })
    };
    let a = lease("a", 2);
    pause().await;
    let b = lease("b", 5);
    pause().await;
    let c = lease("c", 1);
    pause().await;
    // A second lease for a destination of the round runs on its own, after the first.
    let a_again = lease("a", 5);
    pause().await;
    let d = spawn_enqueue(&store, msg(7, "d", "y"));
    pause().await;
    let done = spawn_deliver(&store, delivering);
    pause().await;
    held.release().await;
    let got = |r: Result<Result<Vec<Leased>, StoreError>, tokio::task::JoinError>| match r {
        Ok(Ok(l)) => ids(&l),
        other => panic!("lease failed: {other:?}"),
    };
    // Each got what it would have got alone, in acceptance order.
    assert_eq!(got(a.await), vec![1, 2]);
    assert_eq!(got(b.await), vec![4, 5]);
    assert_eq!(got(c.await), vec![6]);
    assert_eq!(got(a_again.await), vec![3]);
    assert!(matches!(d.await, Ok(Ok(Enqueued::Accepted { .. }))));
    assert!(matches!(done.await, Ok(Ok(r)) if r.state == State::Delivered));
    // The completion and three leases in one transaction, the enqueue in a second, the
    // second lease of `a` in a third.
    assert_eq!(store.stats().transactions_total - before, 3);
    consistent(&store).await;
}

#[tokio::test]
async fn a_small_round_of_an_ending_a_lease_and_an_enqueue_is_one_transaction_as_if_leases_came_first()
 {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = open_lingering(&dir, Duration::from_millis(1));
    for (n, dest) in [(1, "a"), (2, "a"), (8, "e")] {
        accept(&store, msg(n, dest, "x")).await;
    }
    let delivering = lease_only(&store, "e").await;
    let before = store.stats().transactions_total;
    let held = Held::writer(&store);
    let pause = || tokio::time::sleep(Duration::from_millis(50));
    pause().await;
    let enqueue = spawn_enqueue(&store, msg(7, "a", "y"));
    pause().await;
    let lease = {
        let s = store.clone();
        tokio::spawn(async move { s.lease("a", Timestamp(2_000), LEASE, 5).await })
    };
    pause().await;
    let done = spawn_deliver(&store, delivering);
    pause().await;
    held.release().await;
    // The lease does not see the enqueue that arrived before it: in this round's serial order
    // the leases come first.
    match lease.await {
        Ok(Ok(l)) => assert_eq!(ids(&l), vec![1, 2]),
        other => panic!("lease failed: {other:?}"),
    }
    let ticket = match enqueue.await {
        Ok(Ok(Enqueued::Accepted { ticket, .. })) => ticket,
        other => panic!("expected Accepted, got {other:?}"),
    };
    assert!(matches!(done.await, Ok(Ok(r)) if r.state == State::Delivered));
    assert_eq!(store.stats().transactions_total - before, 1);
    assert!(store.wait_durable(ticket).await.is_ok());
    match store.lease("a", Timestamp(2_001), LEASE, 5).await {
        Ok(l) => assert_eq!(ids(&l), vec![7]),
        Err(e) => panic!("lease failed: {e}"),
    }
    consistent(&store).await;
}

/// Two leases that wait together make a round of two: the writer is busy afterwards. (A
/// lease goes to the writer as soon as it is asked for.)
async fn make_busy(store: &SledStore) {
    let held = Held::writer(store);
    tokio::time::sleep(Duration::from_millis(50)).await;
    let leases = ["nobody-1", "nobody-2"].map(|dest| {
        let s = store.clone();
        tokio::spawn(async move { s.lease(dest, Timestamp(2_000), LEASE, 1).await })
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    held.release().await;
    for l in leases {
        assert!(matches!(l.await, Ok(Ok(v)) if v.is_empty()));
    }
}

async fn deliver(store: &SledStore, lease: &LeaseToken) {
    let delivered = Completion::Delivered {
        detail: "ok".into(),
    };
    assert!(
        store
            .complete(lease, delivered, Timestamp(2_000))
            .await
            .is_ok()
    );
}

/// A store whose enqueues reach the writer at once: payloads inline, not first appended and
/// synced by the segment appender, whose timing a test cannot control.
fn open_lingering(dir: &tempfile::TempDir, linger: Duration) -> SledStore {
    let mut config = SledConfig::new(dir.path().join("q"), limits());
    config.round_linger = linger;
    config.segment_payloads = false;
    match SledStore::open(config) {
        Ok(s) => s,
        Err(e) => panic!("open failed: {e}"),
    }
}

#[tokio::test]
async fn a_lone_client_never_waits_for_a_round_to_fill() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let linger = Duration::from_secs(10);
    let store = open_lingering(&dir, linger);
    let started = std::time::Instant::now();
    for n in 1..=10 {
        accept(&store, msg(n, "a", "x")).await;
        let leased = lease_only(&store, "a").await;
        deliver(&store, &leased).await;
    }
    // One operation at a time never makes a round of two, so no round lingered: a single
    // lingering round would have taken the whole linger.
    assert!(started.elapsed() < linger, "took {:?}", started.elapsed());
    consistent(&store).await;
}

#[tokio::test]
async fn a_busy_writer_holds_a_small_round_open_for_an_operation_that_comes_within_the_linger() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let linger = Duration::from_millis(1_500);
    let store = open_lingering(&dir, linger);
    make_busy(&store).await;
    let before = store.stats().transactions_total;
    let started = std::time::Instant::now();
    let third = {
        let s = store.clone();
        tokio::spawn(async move { s.enqueue(msg(3, "a", "x")).await.map(|_| started.elapsed()) })
    };
    tokio::time::sleep(Duration::from_millis(200)).await;
    let fourth = store.enqueue(msg(4, "a", "x")).await;
    assert!(matches!(fourth, Ok(Enqueued::Accepted { .. })));
    let waited = match third.await {
        Ok(Ok(waited)) => waited,
        other => panic!("enqueue failed: {other:?}"),
    };
    // The third waited for the fourth (and then for the rest of the linger): one transaction.
    assert!(
        waited >= Duration::from_millis(200),
        "answered after {waited:?}"
    );
    assert_eq!(store.stats().transactions_total - before, 1);
    consistent(&store).await;
}

#[tokio::test]
async fn a_busy_writer_never_holds_open_a_round_without_an_enqueue() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let linger = Duration::from_secs(10);
    let store = open_lingering(&dir, linger);
    for n in [1, 2] {
        accept(&store, msg(n, "a", "x")).await;
    }
    make_busy(&store).await;
    // A delivery worker's lease and completion gate its next attempt: they never linger.
    let started = std::time::Instant::now();
    let leased = match store.lease("a", Timestamp(2_000), LEASE, 2).await {
        Ok(l) if l.len() == 2 => l,
        other => panic!("lease failed: {other:?}"),
    };
    for l in &leased {
        deliver(&store, &l.lease).await;
    }
    assert!(started.elapsed() < linger, "took {:?}", started.elapsed());
    consistent(&store).await;
}

#[tokio::test]
async fn lease_one_takes_over_an_expired_lease_and_counts_both_attempts() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = open(&dir);
    accept(&store, msg(1, "mbox", "x")).await;
    let id = Uuid::from_u128(1);
    let first = store
        .lease_one(id, Timestamp(2_000), Duration::from_millis(10))
        .await;
    let old = first
        .map(|l| l.lease)
        .unwrap_or(LeaseToken { id, token: 0 });
    let second = store.lease_one(id, Timestamp(2_010), LEASE).await;
    assert!(matches!(second, Ok(ref l) if l.record.attempts == 2 && l.lease.token != old.token));
    assert!(matches!(
        store.release(&old, Timestamp(2_011)).await,
        Err(StoreError::LeaseLost(_))
    ));
    consistent(&store).await;
}

#[tokio::test]
async fn list_pending_pages_in_acceptance_order_across_states() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = open(&dir);
    for n in 1..=4 {
        accept(&store, msg(n, "m", "x")).await;
    }
    accept(&store, msg(9, "other", "x")).await;
    let l = store
        .lease("m", Timestamp(2_000), LEASE, 1)
        .await
        .unwrap_or_default();
    assert_eq!(ids(&l), vec![1]);
    let page1 = store.list_pending("m", None, 3).await.unwrap_or_default();
    assert_eq!(
        page1.iter().map(|r| r.id.as_u128()).collect::<Vec<_>>(),
        vec![1, 2, 3]
    );
    assert_eq!(page1.first().map(|r| r.state), Some(State::Delivering));
    let cursor = page1.last().map(|r| r.seq);
    let page2 = store.list_pending("m", cursor, 3).await.unwrap_or_default();
    assert_eq!(
        page2.iter().map(|r| r.id.as_u128()).collect::<Vec<_>>(),
        vec![4]
    );
    consistent(&store).await;
}

#[tokio::test]
async fn depths_count_each_state_and_pending_bytes() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = open(&dir);
    accept(&store, msg(1, "a", "1234")).await;
    accept(&store, msg(2, "a", "12")).await;
    accept(&store, msg(3, "a", "1")).await;
    let l = store
        .lease("a", Timestamp(2_000), LEASE, 2)
        .await
        .unwrap_or_default();
    if let Some(l) = l.get(1) {
        assert!(store.kill(&l.lease, "x", Timestamp(2_001)).await.is_ok());
    }
    assert_eq!(
        store.depths().get("a").copied(),
        Some(Depth {
            queued: 1,
            delivering: 1,
            dead: 1,
            pending_bytes: 5
        })
    );
    consistent(&store).await;
}

#[tokio::test]
async fn record_event_appends_to_history_and_unknown_id_is_not_found() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = open(&dir);
    accept(&store, msg(1, "a", "x")).await;
    let id = Uuid::from_u128(1);
    assert!(
        store
            .record_event(id, EventKind::Note, "in mailbox", Timestamp(3_000))
            .await
            .is_ok()
    );
    let last = store
        .get(id)
        .await
        .ok()
        .flatten()
        .and_then(|r| r.history.last().cloned());
    assert_eq!(
        last,
        Some(Event {
            at: Timestamp(3_000),
            kind: EventKind::Note,
            detail: "in mailbox".into()
        })
    );
    let missing = store
        .record_event(Uuid::from_u128(2), EventKind::Note, "", Timestamp(1))
        .await;
    assert!(matches!(missing, Err(StoreError::NotFound(_))));
    consistent(&store).await;
}

#[tokio::test]
async fn empty_or_overlong_destination_is_refused_as_invalid_message() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = open(&dir);
    let empty = store.enqueue(msg(1, "", "x")).await;
    assert!(matches!(
        empty,
        Err(StoreError::InvalidMessage {
            reason: "destination id is empty"
        })
    ));
    let long = "d".repeat(1025);
    let overlong = store.enqueue(msg(2, &long, "x")).await;
    assert!(matches!(
        overlong,
        Err(StoreError::InvalidMessage {
            reason: "destination id is longer than 1024 bytes"
        })
    ));
    consistent(&store).await;
}

#[tokio::test]
async fn closed_store_refuses_every_operation_as_closed() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = open(&dir);
    let rec = accept(&store, msg(1, "a", "x")).await;
    assert!(store.close().await.is_ok());
    assert!(matches!(
        store.enqueue(msg(2, "a", "x")).await,
        Err(StoreError::Closed)
    ));
    assert!(matches!(store.get(rec.id).await, Err(StoreError::Closed)));
    assert!(matches!(
        store.lease("a", Timestamp(1), LEASE, 1).await,
        Err(StoreError::Closed)
    ));
    // Everything written before close was flushed by it.
    assert!(store.wait_durable(store.current_ticket()).await.is_ok());
}

#[tokio::test]
async fn concurrent_enqueues_share_flushes() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = open(&dir);
    let before = store.stats().flushes_total;
    let mut tasks = Vec::new();
    for n in 0..64u128 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            match s.enqueue(msg(n, "a", "payload")).await {
                Ok(Enqueued::Accepted { ticket, .. }) => s.wait_durable(ticket).await.is_ok(),
                _ => false,
            }
        }));
    }
    let mut ok = 0;
    for t in tasks {
        if t.await.unwrap_or(false) {
            ok += 1;
        }
    }
    assert_eq!(ok, 64);
    let flushes = store.stats().flushes_total - before;
    assert!(
        (1..64).contains(&flushes),
        "{flushes} flushes for 64 messages"
    );
    assert!(store.stats().flushed_writes_total >= 64);
    consistent(&store).await;
}

#[tokio::test]
async fn current_ticket_makes_a_state_change_durable() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let store = open(&dir);
    accept(&store, msg(1, "a", "x")).await;
    let before = store.current_ticket();
    let _ = store.lease("a", Timestamp(2_000), LEASE, 1).await;
    let after = store.current_ticket();
    assert!(after > before);
    assert!(store.wait_durable(after).await.is_ok());
    // A ticket never issued covers nothing and does not hang.
    assert!(store.wait_durable(DurableTicket(u64::MAX)).await.is_ok());
}

#[tokio::test]
async fn history_and_error_texts_are_bounded() {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let mut cfg = SledConfig::new(dir.path().join("q"), limits());
    cfg.max_history_events = 3;
    cfg.max_detail_bytes = 4;
    let store = SledStore::open(cfg).unwrap_or_else(|e| panic!("{e}"));
    accept(&store, msg(1, "a", "x")).await;
    for now in 2_000..2_005 {
        let l = store
            .lease("a", Timestamp(now), LEASE, 1)
            .await
            .unwrap_or_default();
        if let Some(l) = l.first() {
            assert!(
                store
                    .retry_later(
                        &l.lease,
                        "a long error text",
                        Timestamp(now),
                        Timestamp(now)
                    )
                    .await
                    .is_ok()
            );
        }
    }
    let rec = store.get(Uuid::from_u128(1)).await.ok().flatten();
    assert_eq!(rec.as_ref().map(|r| r.history.len()), Some(3));
    assert_eq!(
        rec.as_ref().and_then(|r| r.last_error.clone()),
        Some("a lo".into())
    );
    assert_eq!(rec.map(|r| r.attempts), Some(5));
}
