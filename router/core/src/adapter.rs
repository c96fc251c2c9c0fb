//! The contract between the router and its delivery adapters.
//!
//! An adapter only delivers and says whether a failure is worth retrying. The router owns
//! everything around it: leases, timeouts (it drops the future, so adapters must be cancel-safe),
//! retries with backoff, circuit breaking, dead letters and acknowledgement.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use bytes::Bytes;
use uuid::Uuid;

/// One delivery attempt of one message.
#[derive(Debug, Clone)]
pub struct Delivery {
    pub id: Uuid,
    pub nachrichtentyp: String,
    pub leser: String,
    pub autor: String,
    /// The original signed bytes. Adapters send them unchanged.
    pub payload: Bytes,
    /// 1 for the first attempt.
    pub attempt: u32,
    /// This router's identity (sent as a header; peers add it to their trace).
    pub router_id: String,
    /// Router identities the message already passed, oldest first (federation loop guard).
    pub trace: Vec<String>,
}

/// A successful attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Delivered {
    /// The destination confirmed reception (HTTP 2xx, file renamed into place, ...).
    Delivered { detail: String },
    /// A peer router accepted the message; its receipt is kept as proof.
    Forwarded { detail: String, receipt: Vec<u8> },
}

/// Whether the router should try again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Retry {
    /// Transient: try again, not before `after` if the destination said so (`Retry-After`).
    Retryable { after: Option<Duration> },
    /// The destination refused the message itself; retrying cannot help.
    Permanent,
}

/// Where an attempt failed; bounded set, used as a metric label.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailureKind {
    Connect,
    Timeout,
    Tls,
    /// The destination answered with this HTTP status.
    Status(u16),
    Io,
    /// The destination answered something the adapter cannot interpret.
    Protocol,
    /// The adapter's configuration cannot work (e.g. a missing directory).
    Config,
}

impl FailureKind {
    pub fn label(self) -> &'static str {
        match self {
            FailureKind::Connect => "connect",
            FailureKind::Timeout => "timeout",
            FailureKind::Tls => "tls",
            FailureKind::Status(s) if s >= 500 => "status_5xx",
            FailureKind::Status(429) => "status_429",
            FailureKind::Status(_) => "status_4xx",
            FailureKind::Io => "io",
            FailureKind::Protocol => "protocol",
            FailureKind::Config => "config",
        }
    }
}

/// A failed attempt: what happened, whose fault, and whether to retry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{} ({}): {detail}", kind.label(), if matches!(retry, Retry::Permanent) { "permanent" } else { "retryable" })]
pub struct DeliveryError {
    pub kind: FailureKind,
    pub retry: Retry,
    pub detail: String,
}

impl DeliveryError {
    pub fn retryable(kind: FailureKind, detail: impl Into<String>) -> Self {
        DeliveryError {
            kind,
            retry: Retry::Retryable { after: None },
            detail: detail.into(),
        }
    }

    pub fn permanent(kind: FailureKind, detail: impl Into<String>) -> Self {
        DeliveryError {
            kind,
            retry: Retry::Permanent,
            detail: detail.into(),
        }
    }

    /// Classifies an HTTP status the way every HTTP-speaking adapter must: 408, 429 and 5xx are
    /// transient, every other 4xx is the destination refusing the message.
    pub fn from_status(
        status: u16,
        retry_after: Option<Duration>,
        detail: impl Into<String>,
    ) -> Self {
        let retry = if status == 408 || status == 429 || status >= 500 {
            Retry::Retryable { after: retry_after }
        } else {
            Retry::Permanent
        };
        DeliveryError {
            kind: FailureKind::Status(status),
            retry,
            detail: detail.into(),
        }
    }
}

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// A way to hand a message to a destination.
pub trait Adapter: Send + Sync + 'static {
    /// A short name for logs and metrics (`http`, `file`, `peer`).
    fn kind(&self) -> &'static str;

    /// Delivers one message. Must be idempotent per message id (the router retries after
    /// timeouts and crashes) and cancel-safe (the router drops the future on timeout).
    fn deliver<'a>(
        &'a self,
        delivery: &'a Delivery,
    ) -> BoxFuture<'a, Result<Delivered, DeliveryError>>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_408_429_and_5xx_as_retryable_and_other_4xx_as_permanent() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(
                matches!(
                    DeliveryError::from_status(s, None, "").retry,
                    Retry::Retryable { .. }
                ),
                "{s}"
            );
        }
        for s in [400, 401, 403, 404, 409, 413, 415, 422] {
            assert_eq!(
                DeliveryError::from_status(s, None, "").retry,
                Retry::Permanent,
                "{s}"
            );
        }
    }

    #[test]
    fn keeps_retry_after_of_a_429() {
        let e = DeliveryError::from_status(429, Some(Duration::from_secs(7)), "slow down");
        assert_eq!(
            e.retry,
            Retry::Retryable {
                after: Some(Duration::from_secs(7))
            }
        );
    }
}
