//! In-memory depth counters per destination (invariant 13). Changed only by the delta a
//! committed transaction observed, plus byte reservations of enqueues in flight, so the
//! back-pressure check and the reservation happen under one lock.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use crate::api::{Depth, DestinationId, State};

/// Signed change of one destination's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct DepthDelta {
    pub(crate) queued: i64,
    pub(crate) delivering: i64,
    pub(crate) dead: i64,
    pub(crate) pending_bytes: i64,
}

impl DepthDelta {
    /// What one message in `state` with `size` payload bytes contributes.
    pub(crate) fn of(state: State, size: u64) -> Self {
        let size = i64::try_from(size).unwrap_or(i64::MAX);
        match state {
            State::Queued => DepthDelta {
                queued: 1,
                pending_bytes: size,
                ..Default::default()
            },
            State::Delivering => DepthDelta {
                delivering: 1,
                pending_bytes: size,
                ..Default::default()
            },
            State::Dead => DepthDelta {
                dead: 1,
                ..Default::default()
            },
            State::Delivered | State::Forwarded => DepthDelta::default(),
        }
    }

    /// `self - other`.
    pub(crate) fn minus(self, other: DepthDelta) -> Self {
        DepthDelta {
            queued: self.queued - other.queued,
            delivering: self.delivering - other.delivering,
            dead: self.dead - other.dead,
            pending_bytes: self.pending_bytes - other.pending_bytes,
        }
    }

    /// `self + other`.
    pub(crate) fn plus(self, other: DepthDelta) -> Self {
        DepthDelta {
            queued: self.queued + other.queued,
            delivering: self.delivering + other.delivering,
            dead: self.dead + other.dead,
            pending_bytes: self.pending_bytes + other.pending_bytes,
        }
    }

    /// `depth + self`, saturating at zero.
    pub(crate) fn applied_to(self, d: Depth) -> Depth {
        Depth {
            queued: apply(d.queued, self.queued),
            delivering: apply(d.delivering, self.delivering),
            dead: apply(d.dead, self.dead),
            pending_bytes: apply(d.pending_bytes, self.pending_bytes),
        }
    }

    pub(crate) fn is_zero(self) -> bool {
        self == DepthDelta::default()
    }
}

/// Counters are signed sums of committed deltas. Commits apply their deltas after the
/// transaction, so a lease's `queued -1` may be applied before the `queued +1` of the enqueue
/// that committed first; addition commutes, so the sum is right once both are applied.
/// Saturating at zero would lose the early decrement for good (a drift found by the
/// router-level crash and outage tests). Readers clamp transient negatives to zero.
#[derive(Debug, Default, Clone, Copy)]
struct Counters {
    depth: DepthDelta,
    /// Bytes of enqueues that passed the limit check and are being written.
    reserved: u64,
}

fn clamp(d: DepthDelta) -> Depth {
    let u = |v: i64| u64::try_from(v).unwrap_or(0);
    Depth {
        queued: u(d.queued),
        delivering: u(d.delivering),
        dead: u(d.dead),
        pending_bytes: u(d.pending_bytes),
    }
}

fn signed(d: Depth) -> DepthDelta {
    let s = |v: u64| i64::try_from(v).unwrap_or(i64::MAX);
    DepthDelta {
        queued: s(d.queued),
        delivering: s(d.delivering),
        dead: s(d.dead),
        pending_bytes: s(d.pending_bytes),
    }
}

/// Why a reservation was refused.
pub(crate) struct Refused {
    pub(crate) pending_bytes: u64,
}

/// The counters of all destinations.
#[derive(Debug, Default)]
pub(crate) struct Depths {
    inner: Mutex<HashMap<DestinationId, Counters>>,
}

fn apply(v: u64, d: i64) -> u64 {
    if d >= 0 {
        v.saturating_add(d.unsigned_abs())
    } else {
        v.saturating_sub(d.unsigned_abs())
    }
}

impl Depths {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<DestinationId, Counters>> {
        // A panic while holding this lock cannot leave the map half-updated in a way that
        // matters more than losing the counters, so a poisoned lock is simply reused.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a committed change.
    pub(crate) fn apply(&self, dest: &str, delta: DepthDelta) {
        if delta.is_zero() {
            return;
        }
        let mut map = self.lock();
        let c = map.entry(dest.to_owned()).or_default();
        c.depth = c.depth.plus(delta);
    }

    /// Reserves `size` bytes for an enqueue unless pending + reserved + size exceeds `limit`.
    pub(crate) fn reserve(&self, dest: &str, size: u64, limit: u64) -> Result<(), Refused> {
        let mut map = self.lock();
        let c = map.entry(dest.to_owned()).or_default();
        let pending = clamp(c.depth).pending_bytes.saturating_add(c.reserved);
        if pending.saturating_add(size) > limit {
            return Err(Refused {
                pending_bytes: pending,
            });
        }
        c.reserved = c.reserved.saturating_add(size);
        Ok(())
    }

    /// Gives a reservation back (the enqueue finished, whatever its result).
    pub(crate) fn unreserve(&self, dest: &str, size: u64) {
        let mut map = self.lock();
        if let Some(c) = map.get_mut(dest) {
            c.reserved = c.reserved.saturating_sub(size);
        }
    }

    /// Replaces every counter (rebuild at open); reservations start empty.
    pub(crate) fn replace_all(&self, map: HashMap<DestinationId, Depth>) {
        let mut m = self.lock();
        *m = map
            .into_iter()
            .map(|(d, depth)| {
                (
                    d,
                    Counters {
                        depth: signed(depth),
                        reserved: 0,
                    },
                )
            })
            .collect();
    }

    /// One destination's counters (zero if it has none).
    pub(crate) fn get(&self, dest: &str) -> Depth {
        self.lock()
            .get(dest)
            .map(|c| clamp(c.depth))
            .unwrap_or_default()
    }

    /// Destinations with anything pending or dead.
    pub(crate) fn snapshot(&self) -> BTreeMap<DestinationId, Depth> {
        self.lock()
            .iter()
            .map(|(d, c)| (d.clone(), clamp(c.depth)))
            .filter(|(_, depth)| *depth != Depth::default())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reservation_is_refused_when_it_would_exceed_the_limit() {
        let d = Depths::default();
        d.apply("a", DepthDelta::of(State::Queued, 60));
        assert!(d.reserve("a", 40, 100).is_ok());
        let refused = d.reserve("a", 1, 100).err().map(|r| r.pending_bytes);
        assert_eq!(refused, Some(100));
        d.unreserve("a", 40);
        assert!(d.reserve("a", 40, 100).is_ok());
    }

    #[test]
    fn deltas_applied_out_of_commit_order_still_sum_to_the_truth() {
        // Enqueue (+1 queued) commits first, but the lease's delta (-1 queued, +1 delivering)
        // is applied first: the early decrement must not be lost.
        let d = Depths::default();
        let enqueue = DepthDelta::of(State::Queued, 10);
        let lease = DepthDelta::of(State::Delivering, 10).minus(DepthDelta::of(State::Queued, 10));
        let complete = DepthDelta::default().minus(DepthDelta::of(State::Delivering, 10));
        d.apply("a", lease);
        d.apply("a", complete);
        assert_eq!(
            d.snapshot().get("a"),
            None,
            "transient negatives read as zero"
        );
        d.apply("a", enqueue);
        assert_eq!(
            d.snapshot().get("a"),
            None,
            "everything delivered: nothing pending"
        );
        assert!(d.reserve("a", 100, 100).is_ok(), "no leaked pending bytes");
    }

    #[test]
    fn moving_from_queued_to_dead_frees_pending_bytes() {
        let d = Depths::default();
        d.apply("a", DepthDelta::of(State::Queued, 10));
        d.apply(
            "a",
            DepthDelta::of(State::Dead, 10).minus(DepthDelta::of(State::Queued, 10)),
        );
        let snap = d.snapshot();
        assert_eq!(
            snap.get("a"),
            Some(&Depth {
                queued: 0,
                delivering: 0,
                dead: 1,
                pending_bytes: 0
            })
        );
    }
}
