//! A queue disk that stopped answering (docs/queue.md §5.7). A sync that hangs fails nothing,
//! so without a bound every request would wait for it, and new ones would pile up in memory.
//! After `queue.sync_timeout` a request gets `503 storage-unavailable`, `/readyz` says not
//! ready, and new messages are refused up front until the sync returns.

use std::future::Future;

use xoev_core::{Problem, ProblemType};
use xoev_queue::{MessageStore, SyncInProgress};

use crate::app::App;

/// `Retry-After` of a refusal while the disk hangs: a stall that outlasted the timeout is
/// not a hiccup.
const RETRY_AFTER_SECS: u64 = 30;

/// The oldest sync, once it has run for `queue.sync_timeout` or longer and no other sync has
/// ended for as long: a disk that still ends syncs is slow (a large payload on a busy disk),
/// not hung, and a single slow write must not take the router out of rotation.
pub fn stalled_sync(app: &App) -> Option<SyncInProgress> {
    let limit = app.config.queue.sync_timeout;
    app.store
        .sync_in_progress()
        .filter(|s| s.running_for >= limit && s.last_ended_ago.is_none_or(|ago| ago >= limit))
}

/// One line for humans: "a sync of the queue log has been running for 12 s".
pub fn describe(s: &SyncInProgress) -> String {
    format!(
        "a sync of {} has been running for {} s",
        s.what,
        s.running_for.as_secs()
    )
}

/// Refuses new work while a sync hangs: it could not be acknowledged anyway, and waiting
/// requests would only hold memory.
fn refuse_while_stalled(app: &App) -> Result<(), Problem> {
    match stalled_sync(app) {
        Some(s) => Err(Problem::new(
            ProblemType::StorageUnavailable,
            format!(
                "the queue's disk is not answering ({}); nothing is acknowledged until it does",
                describe(&s)
            ),
        )
        .retry_after(RETRY_AFTER_SECS)),
        None => Ok(()),
    }
}

/// Runs a store step that waits for the disk, for at most `queue.sync_timeout`, and not at
/// all while the disk is hung. `unconfirmed` tells the client what the timeout means for it.
pub async fn bounded<T>(
    app: &App,
    unconfirmed: &str,
    step: impl Future<Output = Result<T, Problem>>,
) -> Result<T, Problem> {
    refuse_while_stalled(app)?;
    let limit = app.config.queue.sync_timeout;
    match tokio::time::timeout(limit, step).await {
        Ok(result) => result,
        Err(_) => Err(Problem::new(
            ProblemType::StorageUnavailable,
            format!(
                "the queue's disk did not confirm the write within {} ms: {unconfirmed}",
                limit.as_millis()
            ),
        )
        .retry_after(RETRY_AFTER_SECS)),
    }
}
