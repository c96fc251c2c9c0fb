//! The store against a simple in-memory model (docs/queue.md §1–2): random sequences of
//! enqueue (with duplicates, conflicts and back-pressure), lease, lease_one, complete, retry,
//! kill, release, lease expiry, replay, purge, retention, listings and restarts (close and
//! reopen). After every step the store's answer, its depth counters and a full consistency scan
//! must agree with the model. `PROPTEST_CASES` sets the number of sequences (default 32).

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use proptest::prelude::*;
use uuid::Uuid;
use xoev_queue::*;

const DESTS: [&str; 3] = ["ags:08111000", "ags:08*", "psw:01003110"];
const LIMIT: u64 = 60;
const IDS: u128 = 12;

#[derive(Debug, Clone)]
enum Op {
    Enqueue {
        id: u128,
        dest: usize,
        variant: u8,
    },
    Lease {
        dest: usize,
        max: usize,
        lease_ms: u64,
    },
    LeaseOne {
        id: u128,
        lease_ms: u64,
    },
    Complete {
        pick: usize,
        forwarded: bool,
    },
    Retry {
        pick: usize,
        delay_ms: u64,
    },
    Kill {
        pick: usize,
    },
    Release {
        pick: usize,
    },
    Advance {
        ms: u64,
    },
    Expire,
    Replay {
        id: u128,
    },
    Purge {
        id: u128,
    },
    PurgeFinished {
        payload_ms: u64,
        record_ms: u64,
    },
    ListPending {
        dest: usize,
    },
    ListDead,
    Get {
        id: u128,
    },
    Restart,
}

fn op() -> impl Strategy<Value = Op> {
    let id = 0..IDS;
    let dest = 0..DESTS.len();
    prop_oneof![
        6 => (id.clone(), dest.clone(), 0u8..3).prop_map(|(id, dest, variant)| Op::Enqueue { id, dest, variant }),
        4 => (dest.clone(), 1usize..4, 1u64..80).prop_map(|(dest, max, lease_ms)| Op::Lease { dest, max, lease_ms }),
        1 => (id.clone(), 1u64..80).prop_map(|(id, lease_ms)| Op::LeaseOne { id, lease_ms }),
        3 => (any::<usize>(), any::<bool>()).prop_map(|(pick, forwarded)| Op::Complete { pick, forwarded }),
        2 => (any::<usize>(), 0u64..100).prop_map(|(pick, delay_ms)| Op::Retry { pick, delay_ms }),
        1 => any::<usize>().prop_map(|pick| Op::Kill { pick }),
        1 => any::<usize>().prop_map(|pick| Op::Release { pick }),
        3 => (0u64..120).prop_map(|ms| Op::Advance { ms }),
        1 => Just(Op::Expire),
        1 => id.clone().prop_map(|id| Op::Replay { id }),
        1 => id.clone().prop_map(|id| Op::Purge { id }),
        1 => (0u64..300, 0u64..600).prop_map(|(payload_ms, record_ms)| Op::PurgeFinished { payload_ms, record_ms }),
        1 => dest.prop_map(|dest| Op::ListPending { dest }),
        1 => Just(Op::ListDead),
        1 => id.prop_map(|id| Op::Get { id }),
        1 => Just(Op::Restart),
    ]
}

#[derive(Debug, Clone, PartialEq)]
struct M {
    dest: usize,
    order: u64,
    variant: u8,
    size: u64,
    state: State,
    attempts: u32,
    not_before: Option<u64>,
    lease_exp: Option<u64>,
    counter: u64,
    finished_at: Option<u64>,
    payload_present: bool,
}

#[derive(Default)]
struct Model {
    msgs: BTreeMap<u128, M>,
    next_order: u64,
    now: u64,
}

fn payload(id: u128, variant: u8) -> Vec<u8> {
    format!("<m id='{id}' v='{variant}'>{}</m>", "x".repeat(id as usize)).into_bytes()
}

fn new_message(id: u128, dest: usize, variant: u8, now: u64) -> NewMessage {
    let p = payload(id, variant);
    NewMessage {
        id: Uuid::from_u128(id),
        destination: DESTS.get(dest).copied().unwrap_or("x").into(),
        payload: Bytes::from(p),
        digest: [variant; 32],
        meta: vec![],
        accepted_at: Timestamp(now),
    }
}

impl Model {
    fn pending_bytes(&self, dest: usize) -> u64 {
        self.msgs
            .values()
            .filter(|m| m.dest == dest && m.state.is_pending())
            .map(|m| m.size)
            .sum()
    }

    fn depths(&self) -> BTreeMap<String, Depth> {
        let mut out: BTreeMap<String, Depth> = BTreeMap::new();
        for m in self.msgs.values() {
            let d = out
                .entry(DESTS.get(m.dest).copied().unwrap_or("x").to_owned())
                .or_default();
            match m.state {
                State::Queued => {
                    d.queued += 1;
                    d.pending_bytes += m.size
                }
                State::Delivering => {
                    d.delivering += 1;
                    d.pending_bytes += m.size
                }
                State::Dead => d.dead += 1,
                _ => {}
            }
        }
        out.retain(|_, d| *d != Depth::default());
        out
    }

    fn lease_msg(&mut self, id: u128, lease_ms: u64) {
        let now = self.now;
        if let Some(m) = self.msgs.get_mut(&id) {
            m.state = State::Delivering;
            m.attempts += 1;
            m.counter += 1;
            m.not_before = None;
            m.lease_exp = Some(now + lease_ms);
        }
    }

    fn expire(m: &mut M, now: u64) {
        m.state = State::Queued;
        m.lease_exp = None;
        m.not_before = Some(now);
    }

    /// Ids `lease(dest)` must hand out, in order.
    fn due(&self, dest: usize, max: usize) -> Vec<u128> {
        let mut retries: Vec<_> = self
            .msgs
            .iter()
            .filter(|(_, m)| m.dest == dest && m.state == State::Queued)
            .filter_map(|(id, m)| {
                m.not_before
                    .filter(|nb| *nb <= self.now)
                    .map(|nb| (nb, m.order, *id))
            })
            .collect();
        retries.sort();
        let mut firsts: Vec<_> = self
            .msgs
            .iter()
            .filter(|(_, m)| m.dest == dest && m.state == State::Queued && m.not_before.is_none())
            .map(|(id, m)| (m.order, *id))
            .collect();
        firsts.sort();
        retries
            .into_iter()
            .map(|(_, _, id)| id)
            .chain(firsts.into_iter().map(|(_, id)| id))
            .take(max)
            .collect()
    }

    /// The expected result of ending a lease.
    fn check_lease(&self, t: &LeaseToken) -> Result<(), &'static str> {
        match self.msgs.get(&t.id.as_u128()) {
            None => Err("not-found"),
            Some(m) if m.state == State::Delivering && m.counter == t.token => Ok(()),
            Some(_) => Err("lease-lost"),
        }
    }
}

fn err_kind(e: &StoreError) -> &'static str {
    match e {
        StoreError::NotFound(_) => "not-found",
        StoreError::LeaseLost(_) => "lease-lost",
        StoreError::WrongState { .. } => "wrong-state",
        StoreError::DestinationFull { .. } => "full",
        _ => "other",
    }
}

fn open(dir: &Path, now: u64) -> SledStore {
    let mut c = SledConfig::new(
        dir,
        Limits {
            min_free_disk_bytes: 0,
            max_pending_bytes_per_destination: LIMIT,
        },
    );
    c.now_at_open = Some(Timestamp(now));
    // Small segments: rotation and removal happen within a case (docs/queue.md §16).
    c.segment_bytes = 512;
    SledStore::open(c).unwrap_or_else(|e| panic!("open: {e}"))
}

fn check_record(model: &Model, rec: &MessageRecord) -> Result<(), TestCaseError> {
    let m = model.msgs.get(&rec.id.as_u128());
    let m =
        m.ok_or_else(|| TestCaseError::fail(format!("store has {} the model lacks", rec.id)))?;
    prop_assert_eq!(
        (
            rec.state,
            rec.attempts,
            rec.not_before.map(|t| t.0),
            rec.lease_expires_at.map(|t| t.0),
            rec.payload_present
        ),
        (
            m.state,
            m.attempts,
            m.not_before,
            m.lease_exp,
            m.payload_present
        ),
        "record {}",
        rec.id
    );
    Ok(())
}

async fn step(
    store: &SledStore,
    model: &mut Model,
    tokens: &mut Vec<LeaseToken>,
    op: &Op,
) -> Result<(), TestCaseError> {
    let now = Timestamp(model.now);
    let pick = |tokens: &Vec<LeaseToken>, i: usize| tokens.get(i % tokens.len().max(1)).cloned();
    match op {
        Op::Enqueue { id, dest, variant } => {
            let got = store
                .enqueue(new_message(*id, *dest, *variant, model.now))
                .await;
            let size = payload(*id, *variant).len() as u64;
            match model.msgs.get(id) {
                Some(m) if m.variant == *variant => {
                    prop_assert!(matches!(got, Ok(Enqueued::Duplicate { .. })), "{got:?}")
                }
                Some(_) => prop_assert!(matches!(got, Ok(Enqueued::Conflict { .. })), "{got:?}"),
                None if model.pending_bytes(*dest) + size > LIMIT => {
                    prop_assert!(
                        matches!(got, Err(StoreError::DestinationFull { .. })),
                        "{got:?}"
                    )
                }
                None => {
                    let Ok(Enqueued::Accepted { ticket, record }) = got else {
                        return Err(TestCaseError::fail(format!(
                            "expected Accepted, got {got:?}"
                        )));
                    };
                    prop_assert!(store.wait_durable(ticket).await.is_ok());
                    model.msgs.insert(
                        *id,
                        M {
                            dest: *dest,
                            order: model.next_order,
                            variant: *variant,
                            size,
                            state: State::Queued,
                            attempts: 0,
                            not_before: None,
                            lease_exp: None,
                            counter: 0,
                            finished_at: None,
                            payload_present: true,
                        },
                    );
                    model.next_order += 1;
                    check_record(model, &record)?;
                }
            }
        }
        Op::Lease {
            dest,
            max,
            lease_ms,
        } => {
            let expected = model.due(*dest, *max);
            let got = store
                .lease(
                    DESTS.get(*dest).copied().unwrap_or("x"),
                    now,
                    Duration::from_millis(*lease_ms),
                    *max,
                )
                .await;
            let got = got.map_err(|e| TestCaseError::fail(format!("lease: {e}")))?;
            let ids: Vec<u128> = got.iter().map(|l| l.record.id.as_u128()).collect();
            prop_assert_eq!(&ids, &expected);
            for l in got {
                model.lease_msg(l.record.id.as_u128(), *lease_ms);
                check_record(model, &l.record)?;
                let variant = model
                    .msgs
                    .get(&l.record.id.as_u128())
                    .map(|m| m.variant)
                    .unwrap_or(0);
                let expected_payload = payload(l.record.id.as_u128(), variant);
                prop_assert_eq!(l.payload.as_ref(), expected_payload.as_slice());
                prop_assert_eq!(
                    Some(l.lease.token),
                    model.msgs.get(&l.record.id.as_u128()).map(|m| m.counter)
                );
                tokens.push(l.lease);
            }
        }
        Op::LeaseOne { id, lease_ms } => {
            let got = store
                .lease_one(Uuid::from_u128(*id), now, Duration::from_millis(*lease_ms))
                .await;
            let expected = match model.msgs.get(id) {
                None => Err("not-found"),
                Some(m) if m.state == State::Queued => Ok(()),
                Some(m)
                    if m.state == State::Delivering
                        && m.lease_exp.is_some_and(|e| e <= model.now) =>
                {
                    Ok(())
                }
                Some(_) => Err("wrong-state"),
            };
            match (expected, got) {
                (Ok(()), Ok(l)) => {
                    model.lease_msg(*id, *lease_ms);
                    check_record(model, &l.record)?;
                    tokens.push(l.lease);
                }
                (Err(k), Err(e)) => prop_assert_eq!(k, err_kind(&e)),
                (e, g) => {
                    return Err(TestCaseError::fail(format!(
                        "lease_one: model {e:?}, store {g:?}"
                    )));
                }
            }
        }
        Op::Complete { pick: i, forwarded } => {
            let Some(t) = pick(tokens, *i) else {
                return Ok(());
            };
            let c = if *forwarded {
                Completion::Forwarded {
                    detail: "peer".into(),
                    receipt: vec![1],
                }
            } else {
                Completion::Delivered {
                    detail: "200".into(),
                }
            };
            let got = store.complete(&t, c, now).await.map(|r| r.state);
            match model.check_lease(&t) {
                Ok(()) => {
                    let state = if *forwarded {
                        State::Forwarded
                    } else {
                        State::Delivered
                    };
                    prop_assert_eq!(got.ok(), Some(state));
                    if let Some(m) = model.msgs.get_mut(&t.id.as_u128()) {
                        m.state = state;
                        m.lease_exp = None;
                        m.finished_at = Some(model.now);
                    }
                }
                Err(k) => prop_assert_eq!(got.err().as_ref().map(err_kind), Some(k)),
            }
        }
        Op::Retry { pick: i, delay_ms } => {
            let Some(t) = pick(tokens, *i) else {
                return Ok(());
            };
            let nb = model.now + delay_ms;
            let got = store.retry_later(&t, "503", Timestamp(nb), now).await;
            match model.check_lease(&t) {
                Ok(()) => {
                    prop_assert!(got.is_ok(), "{got:?}");
                    if let Some(m) = model.msgs.get_mut(&t.id.as_u128()) {
                        m.state = State::Queued;
                        m.lease_exp = None;
                        m.not_before = Some(nb);
                    }
                }
                Err(k) => prop_assert_eq!(got.err().as_ref().map(err_kind), Some(k)),
            }
        }
        Op::Kill { pick: i } => {
            let Some(t) = pick(tokens, *i) else {
                return Ok(());
            };
            let got = store.kill(&t, "400", now).await;
            match model.check_lease(&t) {
                Ok(()) => {
                    prop_assert!(got.is_ok(), "{got:?}");
                    if let Some(m) = model.msgs.get_mut(&t.id.as_u128()) {
                        m.state = State::Dead;
                        m.lease_exp = None;
                    }
                }
                Err(k) => prop_assert_eq!(got.err().as_ref().map(err_kind), Some(k)),
            }
        }
        Op::Release { pick: i } => {
            let Some(t) = pick(tokens, *i) else {
                return Ok(());
            };
            let got = store.release(&t, now).await;
            match model.check_lease(&t) {
                Ok(()) => {
                    prop_assert!(got.is_ok(), "{got:?}");
                    if let Some(m) = model.msgs.get_mut(&t.id.as_u128()) {
                        m.state = State::Queued;
                        m.lease_exp = None;
                        m.attempts -= 1;
                        m.not_before = if m.attempts == 0 {
                            None
                        } else {
                            Some(model.now)
                        };
                    }
                }
                Err(k) => prop_assert_eq!(got.err().as_ref().map(err_kind), Some(k)),
            }
        }
        Op::Advance { ms } => model.now += ms,
        Op::Expire => {
            let got = store
                .expire_leases(now)
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let mut n = 0;
            for m in model.msgs.values_mut() {
                if m.state == State::Delivering && m.lease_exp.is_some_and(|e| e <= model.now) {
                    Model::expire(m, model.now);
                    n += 1;
                }
            }
            prop_assert_eq!(got, n);
        }
        Op::Replay { id } => {
            let got = store.replay(Uuid::from_u128(*id), now).await;
            match model.msgs.get_mut(id) {
                Some(m) if m.state == State::Dead => {
                    prop_assert!(got.is_ok(), "{got:?}");
                    m.state = State::Queued;
                    m.attempts = 0;
                    m.not_before = None;
                }
                Some(_) => prop_assert_eq!(got.err().as_ref().map(err_kind), Some("wrong-state")),
                None => prop_assert_eq!(got.err().as_ref().map(err_kind), Some("not-found")),
            }
        }
        Op::Purge { id } => {
            let got = store.purge(Uuid::from_u128(*id)).await;
            match model.msgs.get(id).map(|m| m.state) {
                Some(State::Dead) => {
                    prop_assert!(got.is_ok(), "{got:?}");
                    model.msgs.remove(id);
                }
                Some(_) => prop_assert_eq!(got.err().as_ref().map(err_kind), Some("wrong-state")),
                None => prop_assert_eq!(got.err().as_ref().map(err_kind), Some("not-found")),
            }
        }
        Op::PurgeFinished {
            payload_ms,
            record_ms,
        } => {
            let got = store
                .purge_finished(
                    now,
                    Duration::from_millis(*payload_ms),
                    Duration::from_millis(*record_ms),
                )
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            let pc = model.now.saturating_sub(*payload_ms);
            let rc = model.now.saturating_sub(*record_ms);
            let mut expected = PurgeReport::default();
            // Records past their retention go with their payload; `payloads` counts only
            // the payloads of records that stay.
            let before = model.msgs.len();
            model
                .msgs
                .retain(|_, m| m.finished_at.is_none_or(|f| f > rc));
            expected.records = (before - model.msgs.len()) as u64;
            for m in model.msgs.values_mut() {
                if m.payload_present && m.finished_at.is_some_and(|f| f <= pc) {
                    m.payload_present = false;
                    expected.payloads += 1;
                }
            }
            prop_assert_eq!(got, expected);
        }
        Op::ListPending { dest } => {
            let got = store
                .list_pending(DESTS.get(*dest).copied().unwrap_or("x"), None, 100)
                .await;
            let got: Vec<u128> = got
                .unwrap_or_default()
                .iter()
                .map(|r| r.id.as_u128())
                .collect();
            let mut expected: Vec<_> = model
                .msgs
                .iter()
                .filter(|(_, m)| m.dest == *dest && m.state.is_pending())
                .map(|(id, m)| (m.order, *id))
                .collect();
            expected.sort();
            prop_assert_eq!(
                got,
                expected.into_iter().map(|(_, id)| id).collect::<Vec<_>>()
            );
        }
        Op::ListDead => {
            let got = store.list_dead(None, 100).await;
            let got: Vec<u128> = got
                .unwrap_or_default()
                .iter()
                .map(|r| r.id.as_u128())
                .collect();
            let mut expected: Vec<_> = model
                .msgs
                .iter()
                .filter(|(_, m)| m.state == State::Dead)
                .map(|(id, m)| (m.order, *id))
                .collect();
            expected.sort();
            prop_assert_eq!(
                got,
                expected.into_iter().map(|(_, id)| id).collect::<Vec<_>>()
            );
        }
        Op::Get { id } => {
            let got = store
                .get(Uuid::from_u128(*id))
                .await
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            match got {
                Some(rec) => check_record(model, &rec)?,
                None => prop_assert!(!model.msgs.contains_key(id)),
            }
            let p = store.payload(Uuid::from_u128(*id)).await.ok().flatten();
            let expected = model
                .msgs
                .get(id)
                .filter(|m| m.payload_present)
                .map(|m| payload(*id, m.variant));
            prop_assert_eq!(p.map(|b| b.to_vec()), expected);
        }
        // Handled by `run`, which owns the store and must drop it before reopening.
        Op::Restart => {}
    }
    Ok(())
}

fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| TestCaseError::fail(e.to_string()))?;
    rt.block_on(async {
        let tmp = tempfile::tempdir().map_err(|e| TestCaseError::fail(e.to_string()))?;
        let dir = tmp.path().join("q");
        let mut model = Model {
            now: 1_000_000,
            ..Default::default()
        };
        let mut store = open(&dir, model.now);
        let mut tokens = Vec::new();
        for op in &ops {
            if let Op::Restart = op {
                prop_assert!(store.close().await.is_ok());
                drop(store);
                store = open(&dir, model.now);
                for m in model.msgs.values_mut() {
                    if m.state == State::Delivering {
                        Model::expire(m, model.now);
                    }
                }
            } else {
                step(&store, &mut model, &mut tokens, op).await?;
            }
            prop_assert_eq!(store.depths(), model.depths(), "depths after {:?}", op);
            let report = store
                .check_consistency()
                .map_err(|e| TestCaseError::fail(e.to_string()))?;
            prop_assert_eq!(report.problems, Vec::<String>::new(), "after {:?}", op);
            prop_assert_eq!(report.quarantined_segment_pointers, 0);
        }
        // Every record the model knows is in the store, exactly.
        for (id, m) in &model.msgs {
            let rec = store.get(Uuid::from_u128(*id)).await.ok().flatten();
            prop_assert!(rec.is_some(), "{} missing", id);
            if let Some(rec) = rec {
                check_record(&model, &rec)?;
                prop_assert_eq!(rec.digest, [m.variant; 32]);
            }
        }
        prop_assert!(store.close().await.is_ok());
        Ok(())
    })
}

fn cases() -> u32 {
    std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(32)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: cases(), ..ProptestConfig::default() })]

    #[test]
    fn store_behaves_like_the_model_across_restarts(ops in proptest::collection::vec(op(), 1..80)) {
        run(ops)?;
    }
}
