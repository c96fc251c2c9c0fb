//! Test-only hooks that run code on the writer at a chosen point, to force interleavings
//! other threads can produce but a test cannot time (commits of `purge_finished` and of
//! quarantine happen off the writer).

use std::sync::{Mutex, MutexGuard};

use super::Inner;

type Hook = Box<dyn FnOnce(&Inner) + Send>;

/// Hooks by store (the address of its `Inner`), so tests running in parallel do not meet.
static BEFORE_ENQUEUE_COMMIT: Mutex<Vec<(usize, Hook)>> = Mutex::new(Vec::new());

fn hooks() -> MutexGuard<'static, Vec<(usize, Hook)>> {
    BEFORE_ENQUEUE_COMMIT
        .lock()
        .unwrap_or_else(|e| e.into_inner())
}

fn key(inner: &Inner) -> usize {
    std::ptr::from_ref(inner) as usize
}

/// Runs `hook` once, on the writer, between the checks of the next enqueue batch of this
/// store and its transaction.
pub(crate) fn on_next_enqueue_commit(inner: &Inner, hook: Hook) {
    hooks().push((key(inner), hook));
}

pub(crate) fn before_enqueue_commit(inner: &Inner) {
    let hook = {
        let mut all = hooks();
        let at = all.iter().position(|(k, _)| *k == key(inner));
        at.map(|i| all.remove(i).1)
    };
    if let Some(hook) = hook {
        hook(inner);
    }
}
