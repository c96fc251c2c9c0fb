//! What `open` does after sled recovered its log (docs/queue.md §6).

use std::collections::HashMap;

use super::Inner;
use super::keys;
use super::tx::{Index, storage};
use crate::api::{Depth, StoreError, Timestamp};

impl Inner {
    /// No worker of the previous process can complete its lease: every lease returns to
    /// Queued as a retry due `now` (invariant 9). These are the only records decoded at open.
    pub(crate) fn return_leases_at_open(&self, now: Timestamp) -> Result<usize, StoreError> {
        let n = self.expire_leases_up_to(
            now,
            u64::MAX,
            "returned at open: the previous process ended",
        )?;
        if n > 0 {
            tracing::info!(
                message = "Leases of the previous process returned to the queue.",
                count = n
            );
        }
        Ok(n)
    }

    /// Rebuilds the depth counters from index keys and values only (invariant 13).
    pub(crate) fn rebuild_depths(&self) -> Result<(), StoreError> {
        let mut by_dest: HashMap<Vec<u8>, Depth> = HashMap::new();
        let mut bad = Vec::new();
        // `pending` is sorted by destination: count runs and touch the map once per run.
        let mut run: Option<(Vec<u8>, Depth)> = None;
        for item in self.trees.pending.iter() {
            let (k, v) = item.map_err(storage)?;
            let Some(((dest, _), (_, size))) = keys::split_dest(&k).zip(keys::parse_id_size(&v))
            else {
                bad.push((Index::Pending, k, v));
                continue;
            };
            let same = matches!(&run, Some((d, _)) if d.as_slice() == dest.as_bytes());
            if !same
                && let Some((d, depth)) = run.replace((dest.as_bytes().to_vec(), Depth::default()))
            {
                by_dest.insert(d, depth);
            }
            if let Some((_, depth)) = run.as_mut() {
                depth.queued += 1;
                depth.pending_bytes = depth.pending_bytes.saturating_add(size);
            }
        }
        if let Some((d, depth)) = run {
            by_dest.insert(d, depth);
        }
        for item in self.trees.leases.iter() {
            let (k, v) = item.map_err(storage)?;
            match keys::parse_id_dest(&v) {
                Some((_, dest)) => {
                    let d = by_dest.entry(dest.as_bytes().to_vec()).or_default();
                    d.queued = d.queued.saturating_sub(1);
                    d.delivering += 1;
                }
                None => bad.push((Index::Leases, k, v)),
            }
        }
        for item in self.trees.dead.iter() {
            let (k, v) = item.map_err(storage)?;
            match keys::parse_id_dest(&v) {
                Some((_, dest)) => by_dest.entry(dest.as_bytes().to_vec()).or_default().dead += 1,
                None => bad.push((Index::Dead, k, v)),
            }
        }
        for (index, k, v) in bad {
            self.commit(|tx| {
                tx.quarantine(index.name(), &k, &v, "index entry does not parse".into())
            })?;
        }
        let map = by_dest
            .into_iter()
            .map(|(k, d)| (String::from_utf8_lossy(&k).into_owned(), d))
            .collect();
        self.depths.replace_all(map);
        Ok(())
    }
}
