//! Tells the mock authority which messages the router accepted (UUID, digest of the bytes
//! sent, time of the 202), in batches on its control listener, so the authority can check
//! byte identity and measure accepted → delivered latency.
//!
//! Invariant: after [`Announcer::finish`] returned `Ok`, every announced message reached the
//! authority's ledger.

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::mpsc;
use uuid::Uuid;
use xoev_mock_authority::Digest;
use xoev_mock_authority::ledger::format_announcement;

use crate::error::LoadgenError;
use crate::http_util::post_ok;

/// Most announcements per POST.
const BATCH: usize = 5_000;

/// Handle used by the generator's workers; cheap to clone.
#[derive(Clone)]
pub struct Announcer {
    tx: mpsc::UnboundedSender<(Uuid, Digest, u64)>,
}

/// The background task; await [`Announcer::finish`] through it.
pub struct AnnounceTask {
    task: tokio::task::JoinHandle<Result<u64, LoadgenError>>,
}

impl Announcer {
    /// Starts announcing to the control listener at `control`.
    pub fn start(control: SocketAddr) -> (Announcer, AnnounceTask) {
        let (tx, rx) = mpsc::unbounded_channel();
        let task = tokio::spawn(run(control, rx));
        (Announcer { tx }, AnnounceTask { task })
    }

    /// Queues one announcement (never blocks).
    pub fn accepted(&self, id: Uuid, digest: Digest, accepted_ns: u64) {
        let _ = self.tx.send((id, digest, accepted_ns));
    }
}

impl AnnounceTask {
    /// Waits until every queued announcement is delivered (all `Announcer` clones must be
    /// dropped first); returns how many were sent.
    pub async fn finish(self) -> Result<u64, LoadgenError> {
        self.task
            .await
            .map_err(|e| LoadgenError::Http(format!("announcer task: {e}")))?
    }
}

async fn run(
    control: SocketAddr,
    mut rx: mpsc::UnboundedReceiver<(Uuid, Digest, u64)>,
) -> Result<u64, LoadgenError> {
    let mut sent = 0u64;
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        // Wait for the first item, then take what else is queued (up to BATCH).
        let closed = match tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
            Ok(Some(item)) => {
                batch.push(item);
                while batch.len() < BATCH {
                    match rx.try_recv() {
                        Ok(item) => batch.push(item),
                        Err(_) => break,
                    }
                }
                false
            }
            Ok(None) => true,
            Err(_) => false,
        };
        if !batch.is_empty() {
            let mut body = String::with_capacity(batch.len() * 120);
            for (id, digest, at) in batch.drain(..) {
                body.push_str(&format_announcement(&id, &digest, at));
                body.push('\n');
            }
            let n = body.lines().count() as u64;
            post_ok(control, "/expect", Bytes::from(body)).await?;
            sent += n;
        }
        if closed {
            return Ok(sent);
        }
    }
}
