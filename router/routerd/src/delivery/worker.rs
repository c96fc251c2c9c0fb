//! One worker per pushed destination: lease due messages, run attempts concurrently, settle
//! each attempt exactly once (complete, retry later, or dead letter).
//!
//! The worker owns retries and timeouts; the adapter only delivers. A slow or dead destination
//! only ever occupies its own worker, so other destinations keep flowing.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::{Notify, OwnedSemaphorePermit, Semaphore, watch};
use tokio::task::JoinSet;
use uuid::Uuid;
use xoev_core::{Adapter, Delivered, Delivery, DeliveryError, FailureKind, Retry};
use xoev_queue::{Completion, LeaseToken, Leased, MessageStore, StoreError, Timestamp};

use super::breaker::{Admit, Breaker};
use super::retry::{self, Decision};
use crate::app::Store;
use crate::config::RetryConfig;
use crate::metrics::Metrics;
use crate::status::MessageMeta;

/// How often an idle worker looks for retries that became due.
const IDLE_POLL: Duration = Duration::from_millis(200);
/// A poll leases without looking at the depth counters at least this often, so a counter that
/// were ever wrong could delay a retry by this much at most, never stall it.
const FULL_POLL: Duration = Duration::from_secs(5);

/// Least time between two leases of a busy worker.
const LEASE_PACE: Duration = Duration::from_millis(5);

/// Attempts a worker keeps at most, per slot: those whose answer came but whose result the
/// store has not recorded yet hold a lease but no slot; this bounds them when the store is slow.
const UNSETTLED_PER_SLOT: usize = 4;

/// Messages a worker holds leased per slot before their request starts or ends: the next
/// batch is leased while the current one is being delivered, so a slot that frees never
/// waits for a round trip through the store.
const LEASED_AHEAD_PER_SLOT: usize = 2;

pub struct WorkerCtx {
    pub destination: String,
    pub router_id: String,
    pub adapter: Arc<dyn Adapter>,
    pub store: Arc<Store>,
    pub metrics: Arc<Metrics>,
    pub retry: RetryConfig,
    pub breaker: Breaker,
    pub timeout: Duration,
    pub concurrency: usize,
    pub drain_timeout: Duration,
    pub notify: Arc<Notify>,
}

type InFlight = Arc<Mutex<HashMap<Uuid, LeaseToken>>>;

pub async fn run(ctx: Arc<WorkerCtx>, mut shutdown: watch::Receiver<bool>) {
    let mut attempts: JoinSet<()> = JoinSet::new();
    let inflight: InFlight = Arc::default();
    // A slot is a request at the destination (`concurrency`). It is given back when the
    // destination has answered, before the store records the result: under load that takes a
    // writer round, and holding the slot through it capped a destination at `concurrency`
    // per round trip through the store (about 590/s at 8 in round 15's flat-out runs).
    let slots = Arc::new(Semaphore::new(ctx.concurrency));
    let slot_freed = Arc::new(Notify::new());
    let max_tasks = ctx.concurrency * UNSETTLED_PER_SLOT;
    let max_assigned = ctx.concurrency * LEASED_AHEAD_PER_SLOT;
    // Messages leased ahead, in lease order (first attempts in acceptance order), each with
    // whether it is the breaker's probe. Started here, in this order, as slots free up.
    let mut ahead: VecDeque<(Leased, bool)> = VecDeque::new();
    // Leases outlive the attempt deadline, so an expired lease really means a dead worker. A
    // message leased ahead may first wait up to one deadline for its slot: the ones before it
    // are at most `concurrency`, and a slot frees within one deadline.
    let lease_for = ctx.timeout * 2 + Duration::from_secs(30);
    // Whether the last lease got every message it asked for: then a backlog is waiting and
    // pacing would only slow the drain.
    let mut backlog = false;
    // Whether a lease may find something. An enqueue's notification, the poll timer (due
    // retries, expired leases, a breaker ready to probe) and a lease that got all it asked
    // for set it; a lease that got less clears it. A finished attempt alone brings no new
    // message, so it does not send the worker to lease: an empty lease still costs a round
    // of the queue's writer and two index scans.
    let mut maybe_work = true;
    let mut next_poll = Instant::now() + IDLE_POLL;
    // Not spread out on purpose: a thousand idle destinations' full polls at the same instant
    // share the queue writer's rounds (measured: spreading them cost more CPU).
    let mut next_full_poll = Instant::now() + FULL_POLL;
    // Looked up once: the label lookup was a measurable share of an idle router's wake-ups.
    let circuit_open = ctx
        .metrics
        .delivery_circuit_open
        .with_label_values(&[&ctx.destination]);
    loop {
        while attempts.try_join_next().is_some() {}
        if *shutdown.borrow() {
            break;
        }
        start_leased_ahead(
            &ctx,
            &mut ahead,
            &slots,
            &slot_freed,
            &inflight,
            &mut attempts,
        );
        // Lease in batches: waiting until room for half the slots' worth (or nothing is
        // assigned) lets one lease transaction carry several messages instead of one per
        // finished attempt.
        let assigned = ahead.len() + ctx.concurrency - slots.available_permits();
        let room = max_assigned
            .saturating_sub(assigned)
            .min(max_tasks.saturating_sub(attempts.len()));
        let free = match room {
            f if assigned == 0 || f * 2 >= ctx.concurrency => f,
            _ => 0,
        };
        // Ask the breaker only when a lease will follow: a probe it hands out must be used or
        // given back, or the breaker stays half-open for good.
        let (allowed, probe) = if maybe_work {
            admission(&ctx.breaker, free, Instant::now())
        } else {
            (0, false)
        };
        circuit_open.set(i64::from(ctx.breaker.is_open()));
        if allowed > 0 {
            next_poll = Instant::now() + IDLE_POLL;
            match ctx
                .store
                .lease(&ctx.destination, Timestamp::now(), lease_for, allowed)
                .await
            {
                Ok(batch) if !batch.is_empty() => {
                    count_lease(&ctx, "taken");
                    backlog = batch.len() >= allowed;
                    maybe_work = backlog;
                    for leased in batch {
                        lock(&inflight).insert(leased.lease.id, leased.lease.clone());
                        ahead.push_back((leased, probe));
                    }
                    continue;
                }
                Ok(_) => {
                    count_lease(&ctx, "empty");
                    backlog = false;
                    maybe_work = false;
                    if probe {
                        ctx.breaker.on_abandoned();
                    }
                }
                Err(e) => {
                    if probe {
                        ctx.breaker.on_abandoned();
                    }
                    tracing::error!(destination = %ctx.destination, error = %e, "lease failed");
                    tokio::time::sleep(Duration::from_secs(1)).await;
                }
            }
        }
        tokio::select! {
            _ = ctx.notify.notified() => maybe_work = true,
            Some(_) = attempts.join_next(), if !attempts.is_empty() => {}
            _ = slot_freed.notified() => {}
            _ = tokio::time::sleep_until(next_poll.into()) => {
                // Due retries, expired leases and a breaker's probe all need a message queued
                // or delivering here; the in-memory counters say so without a lease, which
                // would cost a round of the queue's writer per idle destination and poll.
                let now = Instant::now();
                let full = now >= next_full_poll;
                if full {
                    next_full_poll = now + FULL_POLL;
                }
                maybe_work = full || {
                    let depth = ctx.store.depth(&ctx.destination);
                    depth.queued + depth.delivering > 0
                };
                next_poll = now + IDLE_POLL;
            }
            _ = shutdown.changed() => {}
        }
        // While attempts are running and the queue has caught up, lease at most every
        // LEASE_PACE: under load one lease then takes what accumulated instead of one message
        // per accepted message. With a backlog, lease as soon as slots are free.
        if maybe_work && slots.available_permits() < ctx.concurrency && !backlog {
            tokio::select! {
                _ = tokio::time::sleep(LEASE_PACE) => {}
                _ = shutdown.changed() => {}
            }
        }
    }
    // Shutdown: let attempts finish within the drain time, then give the rest back (the
    // messages leased ahead among them: they are in `inflight`).
    if ahead.iter().any(|(_, probe)| *probe) {
        ctx.breaker.on_abandoned();
    }
    ahead.clear();
    let drained = tokio::time::timeout(ctx.drain_timeout, async {
        while attempts.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        attempts.abort_all();
        while attempts.join_next().await.is_some() {}
    }
    let left: Vec<LeaseToken> = lock(&inflight).drain().map(|(_, t)| t).collect();
    for token in left {
        if let Err(e) = ctx.store.release(&token, Timestamp::now()).await {
            tracing::warn!(id = %token.id, error = %e, "could not release lease at shutdown; it expires instead");
        }
        ctx.metrics
            .delivery_attempts
            .with_label_values(&[&ctx.destination, "released"])
            .inc();
    }
}

/// How many messages may be leased with room for `free`, and whether the one is a probe.
/// The breaker is consulted only when there is room: a probe it hands out must be used or
/// given back, or the breaker stays half-open for good.
fn admission(breaker: &Breaker, free: usize, now: Instant) -> (usize, bool) {
    if free == 0 {
        return (0, false);
    }
    match breaker.admit(now) {
        Admit::All => (free, false),
        Admit::Probe => (1, true),
        Admit::Wait(_) => (0, false),
    }
}

/// Starts messages leased ahead, oldest first, while slots are free. One whose destination's
/// circuit opened while it waited (the breaker hears each verdict before the slot frees) goes
/// back to the queue without counting an attempt; the breaker's probe always starts.
fn start_leased_ahead(
    ctx: &Arc<WorkerCtx>,
    ahead: &mut VecDeque<(Leased, bool)>,
    slots: &Arc<Semaphore>,
    slot_freed: &Arc<Notify>,
    inflight: &InFlight,
    attempts: &mut JoinSet<()>,
) {
    while !ahead.is_empty() {
        if ctx.breaker.is_open() {
            let probe_at = ahead.iter().position(|(_, probe)| *probe);
            for (i, (leased, _)) in std::mem::take(ahead).into_iter().enumerate() {
                if Some(i) == probe_at {
                    ahead.push_back((leased, true));
                } else {
                    let (ctx, inflight) = (ctx.clone(), inflight.clone());
                    attempts.spawn(async move { give_back(&ctx, &leased.lease, &inflight).await });
                }
            }
            if ahead.is_empty() {
                return;
            }
        }
        let Ok(permit) = slots.clone().try_acquire_owned() else {
            return;
        };
        let (leased, probe) = ahead.pop_front().expect("not empty");
        let slot = Slot {
            permit: Some(permit),
            freed: slot_freed.clone(),
        };
        attempts.spawn(attempt(ctx.clone(), leased, inflight.clone(), probe, slot));
    }
}

/// A request slot at the destination; `release` (or drop) gives it back and wakes the worker.
struct Slot {
    permit: Option<OwnedSemaphorePermit>,
    freed: Arc<Notify>,
}

impl Slot {
    fn release(&mut self) {
        if self.permit.take().is_some() {
            self.freed.notify_one();
        }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.release();
    }
}

/// Returns a leased message to the queue unattempted.
async fn give_back(ctx: &WorkerCtx, lease: &LeaseToken, inflight: &InFlight) {
    // Removed from `inflight` only afterwards: if shutdown aborts this task first, the
    // worker's own release at the end still gives the lease back.
    if let Err(e) = ctx.store.release(lease, Timestamp::now()).await {
        tracing::warn!(id = %lease.id, error = %e, "could not give a lease back; it expires instead");
    }
    lock(inflight).remove(&lease.id);
    ctx.metrics
        .delivery_attempts
        .with_label_values(&[&ctx.destination, "released"])
        .inc();
}

fn count_lease(ctx: &WorkerCtx, outcome: &str) {
    ctx.metrics
        .delivery_leases
        .with_label_values(&[&ctx.destination, outcome])
        .inc();
}

fn lock(m: &InFlight) -> std::sync::MutexGuard<'_, HashMap<Uuid, LeaseToken>> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// One attempt. `probe`: the breaker is half-open and this attempt tests whether the
/// destination is back.
async fn attempt(
    ctx: Arc<WorkerCtx>,
    leased: Leased,
    inflight: InFlight,
    probe: bool,
    mut slot: Slot,
) {
    let Leased {
        lease,
        record,
        payload,
    } = leased;
    let meta = MessageMeta::decode(&record.meta);
    let delivery = Delivery {
        id: record.id,
        nachrichtentyp: meta
            .as_ref()
            .map(|m| m.header.nachrichtentyp.clone())
            .unwrap_or_default(),
        leser: meta
            .as_ref()
            .map(|m| m.header.leser.clone())
            .unwrap_or_default(),
        autor: meta
            .as_ref()
            .map(|m| m.header.autor.clone())
            .unwrap_or_default(),
        payload,
        attempt: record.attempts,
        router_id: ctx.router_id.clone(),
        trace: meta.map(|m| m.trace).unwrap_or_default(),
    };
    let started = Instant::now();
    let result = match tokio::time::timeout(ctx.timeout, ctx.adapter.deliver(&delivery)).await {
        Ok(r) => r,
        Err(_) => Err(DeliveryError::retryable(
            FailureKind::Timeout,
            format!("no answer within {} ms", ctx.timeout.as_millis()),
        )),
    };
    // The breaker hears the verdict before the slot frees, so a message waiting for the slot
    // sees a circuit this attempt opened.
    match &result {
        Ok(_) => ctx.breaker.on_success(),
        Err(e) if matches!(e.retry, Retry::Permanent) => ctx.breaker.on_success(),
        Err(_) => ctx.breaker.on_failure(Instant::now()),
    }
    // The destination is done with this message: its slot may take the next one while the
    // store records the result.
    slot.release();
    drop(delivery);
    let dest = ctx.destination.as_str();
    ctx.metrics
        .delivery_duration
        .with_label_values(&[dest])
        .observe(started.elapsed().as_secs_f64());
    let now = Timestamp::now();
    let settled = match result {
        Ok(done) => {
            let (completion, outcome) = match done {
                Delivered::Delivered { detail } => (Completion::Delivered { detail }, "delivered"),
                Delivered::Forwarded { detail, receipt } => {
                    (Completion::Forwarded { detail, receipt }, "forwarded")
                }
            };
            ctx.metrics
                .delivery_attempts
                .with_label_values(&[dest, outcome])
                .inc();
            let e2e = now.0.saturating_sub(record.accepted_at.0) as f64 / 1000.0;
            ctx.metrics
                .delivery_end_to_end
                .with_label_values(&[dest])
                .observe(e2e);
            ctx.store
                .complete(&lease, completion, now)
                .await
                .map(|_| ())
        }
        Err(err) => {
            ctx.metrics
                .delivery_failures
                .with_label_values(&[dest, err.kind.label()])
                .inc();
            match err.retry {
                Retry::Permanent => {
                    tracing::warn!(id = %record.id, destination = dest, error = %err, "permanent delivery failure");
                    ctx.metrics
                        .delivery_attempts
                        .with_label_values(&[dest, "dead"])
                        .inc();
                    ctx.store
                        .kill(&lease, &err.to_string(), now)
                        .await
                        .map(|_| ())
                }
                Retry::Retryable { after } => {
                    let decision = retry::decide(
                        &ctx.retry,
                        record.attempts,
                        retry::counts_against_max_attempts(probe, err.kind),
                        record.accepted_at,
                        now,
                        after,
                        &mut rand::rng(),
                    );
                    match decision {
                        Decision::RetryAt(at) => {
                            tracing::info!(id = %record.id, destination = dest, attempt = record.attempts, error = %err, "delivery failed; retry scheduled");
                            ctx.metrics
                                .delivery_attempts
                                .with_label_values(&[dest, "retry"])
                                .inc();
                            ctx.store
                                .retry_later(&lease, &err.to_string(), at, now)
                                .await
                                .map(|_| ())
                        }
                        Decision::GiveUp(why) => {
                            tracing::warn!(id = %record.id, destination = dest, error = %err, "{why}");
                            ctx.metrics
                                .delivery_attempts
                                .with_label_values(&[dest, "dead"])
                                .inc();
                            ctx.store
                                .kill(&lease, &format!("{err}; {why}"), now)
                                .await
                                .map(|_| ())
                        }
                    }
                }
            }
        }
    };
    lock(&inflight).remove(&lease.id);
    match settled {
        Ok(()) => {}
        Err(StoreError::LeaseLost(id)) => {
            tracing::warn!(%id, destination = dest, "attempt finished after its lease was lost; a newer attempt owns the message");
        }
        Err(e) => {
            tracing::error!(id = %record.id, destination = dest, error = %e, "could not record the attempt's result")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::BreakerConfig;

    #[test]
    fn a_full_worker_does_not_take_the_probe_so_the_breaker_can_still_close() {
        let b = Breaker::new(BreakerConfig {
            failure_threshold: 1,
            open_for: Duration::from_millis(10),
            max_open_for: Duration::from_millis(10),
        });
        let t = Instant::now();
        b.on_failure(t);
        let later = t + Duration::from_millis(20);
        // Every slot busy when the open period ends: no probe may be taken.
        assert_eq!(admission(&b, 0, later), (0, false));
        // A slot frees up: the probe is still there, and its success closes the breaker.
        assert_eq!(admission(&b, 3, later), (1, true));
        b.on_success();
        assert_eq!(admission(&b, 3, later), (3, false));
    }
}
