//! What the pages show of a ledger — totals and the latest entries — kept per ledger
//! and brought up to date by reading only the entries added since: the ledger is
//! append-only, so a summary for size N stays right for the first N entries forever. Each
//! hub process keeps its own; several hubs on one database stay correct because each
//! summary says which size it is for.

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};

use panah_core::ledger::totals::Totals;
use panah_core::ledger::{Entry, Kind};
use panah_store::{LogId, Store, StoreError};

/// The latest entries a summary keeps (the ledger page shows them; the exports have all).
pub const LATEST: u64 = 50;

/// Entries read from the database at a time while catching up.
const CHUNK: u64 = 5_000;

#[derive(Debug, Clone, Default)]
pub(crate) struct Summary {
    pub totals: Totals,
    /// The kind of every entry, to undo the right thing when a later reversal points at it.
    kinds: Vec<Kind>,
    /// The latest entries with their indexes, oldest first.
    pub latest: VecDeque<(u64, Entry)>,
}

impl Summary {
    /// How many entries this summary covers.
    pub fn size(&self) -> u64 {
        self.kinds.len() as u64
    }

    /// This summary extended to the first `size` entries, reading only the new ones.
    async fn extended(
        &self,
        store: &Store,
        log_id: LogId,
        size: u64,
    ) -> Result<Summary, StoreError> {
        let mut next = self.clone();
        while next.size() < size {
            let to = size.min(next.size() + CHUNK);
            let leaves = store.log_leaves(log_id, next.size(), to).await?;
            for (index, leaf) in leaves {
                if index != next.size() {
                    return Err(StoreError::Corrupt(format!(
                        "ledger entry {} is missing",
                        next.size()
                    )));
                }
                let entry = Entry::from_leaf(&leaf)
                    .map_err(|e| StoreError::Corrupt(format!("ledger entry {index}: {e}")))?;
                let target_kind = entry
                    .reverses
                    .and_then(|t| usize::try_from(t).ok())
                    .and_then(|t| next.kinds.get(t).copied());
                next.totals.add(&entry, target_kind);
                next.kinds.push(entry.kind);
                next.latest.push_back((index, entry));
                if next.latest.len() > LATEST as usize {
                    next.latest.pop_front();
                }
            }
            if next.size() < to {
                return Err(StoreError::Corrupt(format!(
                    "ledger entry {} is missing",
                    next.size()
                )));
            }
        }
        Ok(next)
    }
}

/// The summaries of this hub process, by ledger log.
#[derive(Debug, Default)]
pub(crate) struct Summaries {
    by_log: Mutex<HashMap<LogId, Arc<Summary>>>,
}

impl Summaries {
    /// The summary of the first `size` entries of a ledger.
    pub async fn get(
        &self,
        store: &Store,
        log_id: LogId,
        size: u64,
    ) -> Result<Arc<Summary>, StoreError> {
        let known = self
            .by_log
            .lock()
            .ok()
            .and_then(|m| m.get(&log_id).cloned());
        let summary = match known {
            Some(s) if s.size() == size => return Ok(s),
            // A newer summary than this request's view: build this one from scratch.
            Some(s) if s.size() > size => Summary::default().extended(store, log_id, size).await?,
            Some(s) => s.extended(store, log_id, size).await?,
            None => Summary::default().extended(store, log_id, size).await?,
        };
        let summary = Arc::new(summary);
        if let Ok(mut m) = self.by_log.lock() {
            let newer = m.get(&log_id).is_some_and(|s| s.size() > summary.size());
            if !newer {
                m.insert(log_id, summary.clone());
            }
        }
        Ok(summary)
    }
}
