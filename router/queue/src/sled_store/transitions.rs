//! The state machine as pure functions on records (docs/queue.md §1). Each returns the new
//! record; the caller writes old → new in one transaction. Keeping them pure keeps the rules in
//! one place and lets the model test and the store agree on them.

use std::time::Duration;

use crate::api::{Event, EventKind, MessageRecord, NewMessage, State, Timestamp};

use super::record::Stored;

/// Bounds applied to history and texts (config knobs).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Bounds {
    pub(crate) max_history_events: usize,
    pub(crate) max_detail_bytes: usize,
}

/// `s` cut to at most `max` bytes on a character boundary.
pub(crate) fn cut(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_owned();
    }
    let mut end = max;
    while end > 0 && !s.is_char_boundary(end) {
        end -= 1;
    }
    s.get(..end).unwrap_or_default().to_owned()
}

fn push_event(r: &mut MessageRecord, b: Bounds, at: Timestamp, kind: EventKind, detail: &str) {
    r.history.push(Event {
        at,
        kind,
        detail: cut(detail, b.max_detail_bytes),
    });
    // Keep the first event (Accepted) and the most recent ones.
    let max = b.max_history_events.max(2);
    if r.history.len() > max {
        let excess = r.history.len() - max;
        r.history.drain(1..1 + excess);
    }
    r.updated_at = at;
}

/// A freshly accepted message.
pub(crate) fn accepted(msg: &NewMessage, seq: u64, b: Bounds) -> Stored {
    let mut rec = MessageRecord {
        id: msg.id,
        destination: msg.destination.clone(),
        seq,
        state: State::Queued,
        attempts: 0,
        not_before: None,
        lease_expires_at: None,
        accepted_at: msg.accepted_at,
        updated_at: msg.accepted_at,
        size: msg.payload.len() as u64,
        digest: msg.digest,
        meta: msg.meta.clone(),
        history: Vec::new(),
        last_error: None,
        outcome: None,
        payload_present: true,
    };
    push_event(&mut rec, b, msg.accepted_at, EventKind::Accepted, "");
    Stored {
        rec,
        lease_counter: 0,
        finished_at: None,
    }
}

/// Queued → Delivering: one more attempt, a new lease token.
pub(crate) fn leased(s: &Stored, now: Timestamp, lease_for: Duration, b: Bounds) -> Stored {
    let mut n = s.clone();
    n.rec.state = State::Delivering;
    n.rec.attempts = n.rec.attempts.saturating_add(1);
    n.lease_counter = n.lease_counter.saturating_add(1);
    n.rec.not_before = None;
    n.rec.lease_expires_at = Some(now.plus(lease_for));
    let detail = format!("attempt {}", n.rec.attempts);
    push_event(&mut n.rec, b, now, EventKind::AttemptStarted, &detail);
    n
}

/// Delivering → Queued as a retry due `now`; the attempt stays counted.
pub(crate) fn lease_expired(s: &Stored, now: Timestamp, detail: &str, b: Bounds) -> Stored {
    let mut n = s.clone();
    n.rec.state = State::Queued;
    n.rec.lease_expires_at = None;
    n.rec.not_before = Some(now);
    push_event(&mut n.rec, b, now, EventKind::LeaseExpired, detail);
    n
}

/// Delivering → Queued; the attempt is given back. A first attempt is a first attempt again.
pub(crate) fn released(s: &Stored, now: Timestamp, b: Bounds) -> Stored {
    let mut n = s.clone();
    n.rec.state = State::Queued;
    n.rec.lease_expires_at = None;
    n.rec.attempts = n.rec.attempts.saturating_sub(1);
    n.rec.not_before = if n.rec.attempts == 0 { None } else { Some(now) };
    push_event(&mut n.rec, b, now, EventKind::Released, "");
    n
}

/// Delivering → Queued, due at `not_before`.
pub(crate) fn retry_later(
    s: &Stored,
    error: &str,
    not_before: Timestamp,
    now: Timestamp,
    b: Bounds,
) -> Stored {
    let mut n = s.clone();
    n.rec.state = State::Queued;
    n.rec.lease_expires_at = None;
    n.rec.not_before = Some(not_before);
    n.rec.last_error = Some(cut(error, b.max_detail_bytes));
    push_event(&mut n.rec, b, now, EventKind::AttemptFailed, error);
    n
}

/// Any pending state → Dead.
pub(crate) fn dead(s: &Stored, reason: &str, now: Timestamp, b: Bounds) -> Stored {
    let mut n = s.clone();
    n.rec.state = State::Dead;
    n.rec.lease_expires_at = None;
    n.rec.not_before = None;
    n.rec.last_error = Some(cut(reason, b.max_detail_bytes));
    push_event(&mut n.rec, b, now, EventKind::Dead, reason);
    n
}

/// Delivering → Delivered or Forwarded.
pub(crate) fn finished(
    s: &Stored,
    state: State,
    detail: &str,
    outcome: Option<Vec<u8>>,
    now: Timestamp,
    b: Bounds,
) -> Stored {
    let mut n = s.clone();
    n.rec.state = state;
    n.rec.lease_expires_at = None;
    n.rec.not_before = None;
    n.rec.outcome = outcome;
    n.finished_at = Some(now);
    let kind = if state == State::Forwarded {
        EventKind::Forwarded
    } else {
        EventKind::Delivered
    };
    push_event(&mut n.rec, b, now, kind, detail);
    n
}

/// Dead → Queued first attempt, attempts restart at zero, history kept.
pub(crate) fn replayed(s: &Stored, now: Timestamp, b: Bounds) -> Stored {
    let mut n = s.clone();
    n.rec.state = State::Queued;
    n.rec.attempts = 0;
    n.rec.not_before = None;
    n.rec.lease_expires_at = None;
    push_event(&mut n.rec, b, now, EventKind::Replayed, "");
    n
}

/// A history entry without a state change.
pub(crate) fn noted(
    s: &Stored,
    kind: EventKind,
    detail: &str,
    now: Timestamp,
    b: Bounds,
) -> Stored {
    let mut n = s.clone();
    push_event(&mut n.rec, b, now, kind, detail);
    n
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use uuid::Uuid;

    const B: Bounds = Bounds {
        max_history_events: 4,
        max_detail_bytes: 5,
    };

    fn msg() -> NewMessage {
        NewMessage {
            id: Uuid::from_u128(1),
            destination: "d".into(),
            payload: Bytes::from_static(b"abc"),
            digest: [0; 32],
            meta: vec![],
            accepted_at: Timestamp(10),
        }
    }

    #[test]
    fn cut_never_splits_a_character() {
        assert_eq!(cut("ääää", 3), "ä");
        assert_eq!(cut("abc", 5), "abc");
    }

    #[test]
    fn history_keeps_accepted_and_the_most_recent_events() {
        let mut s = accepted(&msg(), 1, B);
        for i in 0..10 {
            s = noted(&s, EventKind::Note, &format!("n{i}"), Timestamp(20 + i), B);
        }
        let details: Vec<_> = s.rec.history.iter().map(|e| e.detail.as_str()).collect();
        assert_eq!(details, vec!["", "n7", "n8", "n9"]);
        assert_eq!(
            s.rec.history.first().map(|e| e.kind),
            Some(EventKind::Accepted)
        );
    }

    #[test]
    fn releasing_a_first_attempt_makes_it_a_first_attempt_again() {
        let s = accepted(&msg(), 1, B);
        let l = leased(&s, Timestamp(11), Duration::from_secs(1), B);
        let r = released(&l, Timestamp(12), B);
        assert_eq!((r.rec.attempts, r.rec.not_before), (0, None));
        assert_eq!(r.lease_counter, 1);
    }

    #[test]
    fn expired_lease_keeps_the_attempt_and_becomes_a_due_retry() {
        let s = accepted(&msg(), 1, B);
        let l = leased(&s, Timestamp(11), Duration::from_millis(5), B);
        assert_eq!(l.rec.lease_expires_at, Some(Timestamp(16)));
        let e = lease_expired(&l, Timestamp(20), "x", B);
        assert_eq!(
            (e.rec.state, e.rec.attempts, e.rec.not_before),
            (State::Queued, 1, Some(Timestamp(20)))
        );
    }
}
