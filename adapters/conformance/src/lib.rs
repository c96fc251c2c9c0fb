//! The conformance suite of push adapters: every adapter's tests call [`run`] with a harness
//! that can observe and steer its destination.
//!
//! What every adapter must do (the router relies on it):
//! 1. deliver the payload byte-identical, whatever it contains;
//! 2. be idempotent under retry: delivering the same message again succeeds and leaves the
//!    destination with the same bytes for that message id;
//! 3. classify failures: a refusal of the message is `Permanent`, a destination that is down or
//!    overloaded is `Retryable`;
//! 4. be cancel-safe: when the router drops the future (timeout), nothing partial is left
//!    visible and the next attempt succeeds.
#![forbid(unsafe_code)]

use std::future::Future;
use std::time::Duration;

use bytes::Bytes;
use uuid::Uuid;
use xoev_core::{Adapter, Delivered, Delivery, DeliveryError, FailureKind, Retry};

pub mod mock;

/// How the destination behaves for the next attempts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    Accept,
    /// Refuses the message itself (e.g. HTTP 422): must be classified `Permanent`.
    Refuse,
    /// Temporarily unable (e.g. HTTP 503): must be `Retryable`.
    Overloaded,
    /// Not reachable at all (connection refused, missing directory): must be `Retryable`.
    Unreachable,
    /// Takes forever to answer (for cancellation).
    Hang,
}

/// What the suite needs from a destination.
pub trait Harness: Send + Sync {
    fn adapter(&self) -> &dyn Adapter;
    /// Every copy of message `id` the destination holds or received, oldest first.
    fn received(&self, id: Uuid) -> impl Future<Output = Vec<Bytes>> + Send;
    /// Makes the destination behave so from now on. Returns false if it cannot (the check
    /// that needs it is then reported as not applicable, never as passed silently).
    fn set(&self, b: Behaviour) -> impl Future<Output = bool> + Send;
    /// Whether anything partial (temporary files, half-written data) is visible.
    fn partial_leftovers(&self) -> impl Future<Output = usize> + Send {
        async { 0 }
    }
}

pub fn delivery(payload: Bytes) -> Delivery {
    Delivery {
        id: Uuid::new_v4(),
        nachrichtentyp: "2030".into(),
        leser: "ags:08111000".into(),
        autor: "psw:01003110".into(),
        payload,
        attempt: 1,
        router_id: "conformance.test".into(),
        trace: vec![],
    }
}

/// A payload that exercises byte-exactness: an XML prolog, umlauts and ß, CRLF, a NUL-free
/// binary-ish tail and `size` bytes in total.
pub fn tricky_payload(size: usize) -> Bytes {
    let mut v = b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\r\n<m>Gr\xc3\xbc\xc3\x9fe \xc3\xa4\xc3\xb6\xc3\xbc\r\n".to_vec();
    let mut i = 0u32;
    while v.len() + 4 < size {
        v.push(b'a' + (i % 26) as u8);
        i = i.wrapping_mul(1_103_515_245).wrapping_add(12_345);
    }
    v.extend_from_slice(b"</m>");
    Bytes::from(v)
}

/// Runs every check; panics with the failed property. Returns the names of checks the harness
/// could not steer (not applicable), so callers can assert what they expect to be covered.
/// Bounds one step of the suite: an adapter or harness that never answers fails the check that
/// waited, by name, instead of hanging the test run.
async fn step<T>(name: &str, f: impl Future<Output = T>) -> T {
    let limit = Duration::from_secs(STEP_LIMIT_SECS);
    match tokio::time::timeout(limit, f).await {
        Ok(v) => v,
        Err(_) => panic!("conformance step '{name}' did not finish within {STEP_LIMIT_SECS} s"),
    }
}

const STEP_LIMIT_SECS: u64 = 30;

/// One delivery attempt as the router makes it: bounded by the attempt timeout, and a timeout
/// is a retryable failure (`delivery/worker.rs`). The failure checks use it because a
/// destination that goes down can leave a pooled connection that is never answered (seen with
/// hyper's client about once in 60 runs); the router then retries after its timeout, so that
/// is the behaviour the checks pin: a refusal must still be answered (permanent), anything
/// else must not be permanent.
async fn attempt(a: &dyn Adapter, d: &Delivery) -> Result<Delivered, DeliveryError> {
    const ATTEMPT_LIMIT: Duration = Duration::from_secs(5);
    match tokio::time::timeout(ATTEMPT_LIMIT, a.deliver(d)).await {
        Ok(r) => r,
        Err(_) => {
            eprintln!(
                "conformance: {} gave no answer within {} ms; counted as retryable, as the router does",
                a.kind(),
                ATTEMPT_LIMIT.as_millis()
            );
            Err(DeliveryError::retryable(
                FailureKind::Timeout,
                format!("no answer within {} ms", ATTEMPT_LIMIT.as_millis()),
            ))
        }
    }
}

pub async fn run<H: Harness>(h: &H) -> Vec<&'static str> {
    let mut not_applicable = Vec::new();
    let a = h.adapter();

    // 1. Byte-identical, small and large.
    assert!(
        step("set accept", h.set(Behaviour::Accept)).await,
        "every harness can accept"
    );
    for size in [200, 1 << 20] {
        let d = delivery(tricky_payload(size));
        let r = step("deliver", a.deliver(&d)).await;
        assert!(
            matches!(
                r,
                Ok(Delivered::Delivered { .. } | Delivered::Forwarded { .. })
            ),
            "{} delivers: {r:?}",
            a.kind()
        );
        let got = step("received", h.received(d.id)).await;
        assert_eq!(got.len(), 1, "{}: one copy after one delivery", a.kind());
        assert_eq!(
            got[0],
            d.payload,
            "{}: byte-identical ({size} bytes)",
            a.kind()
        );
    }

    // 2. Idempotent under retry.
    let d = delivery(tricky_payload(4096));
    step("first delivery", a.deliver(&d))
        .await
        .expect("first delivery");
    let mut again = d.clone();
    again.attempt = 2;
    step("repeated delivery", a.deliver(&again))
        .await
        .expect("a repeated delivery succeeds");
    let copies = step("received", h.received(d.id)).await;
    assert!(
        !copies.is_empty() && copies.iter().all(|c| *c == d.payload),
        "{}: every copy identical",
        a.kind()
    );

    // 3. Failure classification.
    for (b, want_permanent, name) in [
        (Behaviour::Refuse, true, "refusal is permanent"),
        (Behaviour::Overloaded, false, "overload is retryable"),
        (Behaviour::Unreachable, false, "unreachable is retryable"),
    ] {
        if !step("set behaviour", h.set(b)).await {
            not_applicable.push(name);
            continue;
        }
        let d = delivery(tricky_payload(300));
        let e = attempt(a, &d).await.expect_err(name);
        assert_eq!(
            e.retry == Retry::Permanent,
            want_permanent,
            "{}: {name}: {e}",
            a.kind()
        );
        assert!(
            !e.detail.is_empty(),
            "{}: failures say what happened",
            a.kind()
        );
        assert!(
            step("received", h.received(d.id)).await.is_empty(),
            "{}: a failed attempt delivered nothing",
            a.kind()
        );
    }

    // 4. Cancel-safe: the router drops the future on timeout.
    let d = delivery(tricky_payload(2 << 20));
    let hung = step("set hang", h.set(Behaviour::Hang)).await;
    if !hung {
        not_applicable.push("cancellation while the destination hangs");
        assert!(step("set accept", h.set(Behaviour::Accept)).await);
    }
    let cancelled = tokio::time::timeout(
        Duration::from_millis(if hung { 200 } else { 0 }),
        a.deliver(&d),
    )
    .await;
    assert!(
        !hung || cancelled.is_err(),
        "{}: a hanging destination times out",
        a.kind()
    );
    assert!(step("set accept after hang", h.set(Behaviour::Accept)).await);
    // Give a blocking task the drop could not stop time to finish or clean up.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        step("partial leftovers", h.partial_leftovers()).await,
        0,
        "{}: nothing partial is visible after cancellation",
        a.kind()
    );
    step("delivery after cancellation", a.deliver(&d))
        .await
        .expect("the attempt after a cancellation succeeds");
    let copies = step("received", h.received(d.id)).await;
    assert!(
        !copies.is_empty() && copies.iter().all(|c| *c == d.payload),
        "{}: complete after retry",
        a.kind()
    );
    not_applicable
}
