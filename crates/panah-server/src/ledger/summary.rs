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

    /// Adds entries `self.size()..to`, read as (index, leaf): each must be the next.
    fn add_leaves(mut self, leaves: Vec<(u64, Vec<u8>)>, to: u64) -> Result<Summary, StoreError> {
        for (index, leaf) in leaves {
            if index != self.size() {
                return Err(StoreError::Corrupt(format!(
                    "ledger entry {} is missing",
                    self.size()
                )));
            }
            let entry = Entry::from_leaf(&leaf)
                .map_err(|e| StoreError::Corrupt(format!("ledger entry {index}: {e}")))?;
            let target_kind = entry
                .reverses
                .and_then(|t| usize::try_from(t).ok())
                .and_then(|t| self.kinds.get(t).copied());
            self.totals.add(&entry, target_kind);
            self.kinds.push(entry.kind);
            self.latest.push_back((index, entry));
            if self.latest.len() > LATEST as usize {
                self.latest.pop_front();
            }
        }
        if self.size() < to {
            return Err(StoreError::Corrupt(format!(
                "ledger entry {} is missing",
                self.size()
            )));
        }
        Ok(self)
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
            // Parsing and adding up thousands of entries: on the blocking pool.
            next = tokio::task::spawn_blocking(move || next.add_leaves(leaves, to))
                .await
                .map_err(|e| StoreError::Corrupt(format!("the summary stopped: {e}")))??;
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

#[cfg(test)]
mod tests {
    use super::*;
    use panah_core::ledger::{Currency, DatePrecision};
    use panah_core::tlog::tiles::extend;
    use panah_core::Timestamp;
    use panah_store::{Append, NewCollective, NewEntry, SignedOn};

    fn leaf(i: u64) -> Vec<u8> {
        let kind = if i % 3 == 2 { "expense" } else { "income" };
        format!(
            "panah-ledger-entry 1\nkind {kind}\ndate 2021-09-01 day\ncategory food\namount {} AFN\nbase {} AFN\nrail cash\ncoordinator 1a2b\nmemo entry {i}\n",
            100 + i,
            100 + i
        )
        .into_bytes()
    }

    /// A summary asked for an older size than the one kept (a page whose checkpoint was
    /// read before another process appended) is rebuilt from the first entry, and equals
    /// totals computed afresh; the newer one kept is not replaced by it.
    #[tokio::test]
    async fn an_older_view_is_rebuilt_from_scratch_and_matches() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for (engine, store) in panah_store::testing::every_engine(dir.path()).await {
            let c = store
                .create_collective(&NewCollective {
                    slug: panah_core::Slug::parse("roshanai").unwrap_or_else(|e| panic!("{e}")),
                    default_lang: panah_core::Lang::English,
                    names: ["روشنایی".into(), "رڼا".into(), "Roshanai".into()],
                })
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let id = age::x25519::Identity::generate();
            let signing = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
            let key = panah_core::CoordinatorKey::new(&id.to_public(), signing.verifying_key());
            let who = store
                .add_coordinator(c.id, &key, "")
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let signed = SignedOn {
                on: Timestamp::parse("2021-09-01T00:00:00Z").unwrap_or_else(|e| panic!("{e}")),
                precision: DatePrecision::Day,
            };
            let afn = Currency::parse("AFN").unwrap_or_else(|e| panic!("{e}"));
            let log = store
                .create_ledger(
                    c.id,
                    "hub.example/c/roshanai/ledger",
                    afn,
                    "note\n",
                    who.id,
                    signed,
                )
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let leaves: Vec<Vec<u8>> = (0..12).map(leaf).collect();
            let refs: Vec<&[u8]> = leaves.iter().map(Vec::as_slice).collect();
            let ext = extend(0, &refs, &Default::default()).unwrap_or_else(|_| panic!("extend"));
            let entries: Vec<NewEntry> = leaves.iter().map(|l| NewEntry::plain(l)).collect();
            store
                .append_log(
                    log,
                    &Append {
                        base_size: 0,
                        entries: &entries,
                        hashes: &ext.hashes,
                        checkpoint: "note 12\n",
                        coordinator_id: who.id,
                        signed,
                    },
                )
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            let parsed: Vec<Entry> = leaves
                .iter()
                .map(|l| Entry::from_leaf(l).unwrap_or_else(|e| panic!("{e}")))
                .collect();

            let summaries = Summaries::default();
            let newest = summaries
                .get(&store, log, 12)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(newest.totals, Totals::of(&parsed), "{engine}");
            let older = summaries
                .get(&store, log, 5)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert_eq!(older.size(), 5, "{engine}");
            assert_eq!(older.totals, Totals::of(&parsed[..5]), "{engine}");
            assert_eq!(
                older.latest.iter().map(|(i, _)| *i).collect::<Vec<_>>(),
                [0, 1, 2, 3, 4],
                "{engine}"
            );
            // The newer summary is still the one kept.
            let again = summaries
                .get(&store, log, 12)
                .await
                .unwrap_or_else(|e| panic!("{e}"));
            assert!(Arc::ptr_eq(&again, &newest), "{engine}");
            // A size the database does not have yet is an error, not a short summary.
            assert!(summaries.get(&store, log, 13).await.is_err(), "{engine}");
        }
    }
}
