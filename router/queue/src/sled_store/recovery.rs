//! What `open` does after sled recovered its log (docs/queue.md §6).

use std::collections::HashMap;

use super::Inner;
use super::keys;
use super::tx::{Corruption, Index, decode_counters, encode_counters, quarantine_key, storage};

/// `meta` key: `[1]` while the `counters` tree matches the indexes.
const COUNTERS_VALID: &[u8] = b"counters_valid";
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

    /// Loads the depth counters from the `counters` tree, or rebuilds them from the indexes
    /// when they cannot be trusted (new store, a rebuild that a crash interrupted, or a counter
    /// value that was quarantined). Returns whether it rebuilt.
    pub(crate) fn load_depths(&self) -> Result<bool, StoreError> {
        let valid = self
            .trees
            .meta
            .get(COUNTERS_VALID)
            .map_err(storage)?
            .as_deref()
            == Some(&[1u8][..]);
        let quarantined = self
            .trees
            .quarantine
            .scan_prefix(quarantine_key("counters", b""))
            .next()
            .is_some();
        if valid && !quarantined {
            let mut map = HashMap::new();
            let mut ok = true;
            for item in self.trees.counters.iter() {
                let (k, v) = item.map_err(storage)?;
                match (std::str::from_utf8(&k), decode_counters(&v)) {
                    (Ok(dest), Some(d)) => {
                        map.insert(dest.to_owned(), d);
                    }
                    _ => {
                        ok = false;
                        self.report_corruption(Corruption {
                            tree: "counters",
                            key: k.to_vec(),
                            reason: "counter value does not parse; rebuilding".into(),
                        });
                    }
                }
            }
            if ok {
                self.depths.replace_all(map);
                return Ok(false);
            }
        }
        if self.trees.records.is_empty() {
            // A new store (or one without messages): nothing to count, nothing to warn about.
            tracing::debug!(message = "Initialising queue depth counters.");
        } else {
            tracing::warn!(message = "Rebuilding queue depth counters from the indexes.");
        }
        let map = self.rebuild_depths()?;
        // Flag off, rewrite, flag on: sled recovers a prefix of its log, so a crash in between
        // leaves the flag off and the next open rebuilds again.
        self.trees.meta.remove(COUNTERS_VALID).map_err(storage)?;
        self.trees.counters.clear().map_err(storage)?;
        for (dest, d) in &map {
            if *d != Depth::default() {
                self.trees
                    .counters
                    .insert(dest.as_bytes(), encode_counters(*d).as_slice())
                    .map_err(storage)?;
            }
        }
        for item in self
            .trees
            .quarantine
            .scan_prefix(quarantine_key("counters", b""))
        {
            let (k, _) = item.map_err(storage)?;
            self.trees.quarantine.remove(k).map_err(storage)?;
        }
        self.trees
            .meta
            .insert(COUNTERS_VALID, &[1u8])
            .map_err(storage)?;
        self.flusher.note_writes(1);
        self.depths.replace_all(map);
        Ok(true)
    }

    /// Computes the depth counters from index keys and values only (invariant 13).
    fn rebuild_depths(&self) -> Result<HashMap<String, Depth>, StoreError> {
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
        Ok(by_dest
            .into_iter()
            .map(|(k, d)| (String::from_utf8_lossy(&k).into_owned(), d))
            .collect())
    }
}
