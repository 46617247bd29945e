//! The ledger's append protocol, hub side. The hub holds no signing key: a coordinator sends
//! entries, the hub checks each one and says which root they make ([`prepare`]); the
//! coordinator compares that root with the one it computed itself, signs a checkpoint, and
//! sends entries and checkpoint again ([`commit`]). The hub stores them only if the
//! checkpoint is signed by that coordinator's key and names exactly the tree the entries
//! make — in one transaction, so the public tree never has unsigned entries.
//!
//! The hub never loads the whole tree: [`with_nodes`] runs a computation from
//! `panah_core::tlog::tiles` and fetches just the stored hashes it asks for.

use std::collections::{BTreeMap, HashMap};

use panah_core::ledger::entry::{check_against, WithBatch};
use panah_core::ledger::DatePrecision;
use panah_core::ledger::Entry;
use panah_core::tlog::tiles::{extend, Extension, Node, SparseError};
use panah_core::tlog::tree::{verifier_key, verify_checkpoint};
use panah_core::CoordinatorKey;
use panah_store::{Append, Ledger, LogId, NewEntry, SignedOn, Store, StoreError};

/// Most entries in one append.
pub const MAX_BATCH: usize = 1000;
pub use panah_core::ledger::entry::MAX_LEAF;

/// Why an append was refused; every one is the coordinator's to fix.
#[derive(Debug, thiserror::Error)]
pub enum AppendRefusal {
    #[error("{0}")]
    Invalid(String),
    /// The ledger moved on, or the hub's tree is not what the checkpoint signs.
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Runs `op` with the stored hashes it needs, fetching them from the store in at most a few
/// rounds.
pub async fn with_nodes<T>(
    store: &Store,
    log_id: LogId,
    op: impl Fn(&HashMap<Node, [u8; 32]>) -> Result<T, SparseError>,
) -> Result<T, StoreError> {
    let mut known = HashMap::new();
    for _ in 0..4 {
        match op(&known) {
            Ok(v) => return Ok(v),
            Err(SparseError::Needed(nodes)) => {
                let found = store.log_nodes(log_id, &nodes).await?;
                if found.len() != nodes.len() {
                    return Err(StoreError::Corrupt(format!(
                        "{} stored hashes of the log are missing",
                        nodes.len() - found.len()
                    )));
                }
                known.extend(found);
            }
            Err(SparseError::Log(e)) => return Err(StoreError::Corrupt(e.to_string())),
        }
    }
    Err(StoreError::Corrupt("the log's hashes do not settle".into()))
}

/// A checked batch and the tree it makes.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub base_size: u64,
    pub entries: Vec<Entry>,
    pub leaves: Vec<Vec<u8>>,
    pub extension: Extension,
}

/// Checks a batch of entries from `coordinator` for appending at `base_size`, and computes
/// the tree they make.
pub async fn prepare(
    store: &Store,
    ledger: &Ledger,
    coordinator: &CoordinatorKey,
    base_size: u64,
    leaves: Vec<Vec<u8>>,
) -> Result<Prepared, AppendRefusal> {
    if base_size != ledger.log.size {
        return Err(AppendRefusal::Conflict(format!(
            "the ledger has {} entries, not {base_size}: someone else added entries first; fetch it again",
            ledger.log.size
        )));
    }
    if leaves.is_empty() || leaves.len() > MAX_BATCH {
        return Err(AppendRefusal::Invalid(format!(
            "send between 1 and {MAX_BATCH} entries at a time, not {}",
            leaves.len()
        )));
    }
    let fingerprint = coordinator.fingerprint().to_string();
    let today = time::OffsetDateTime::now_utc().date();
    let mut entries: Vec<Entry> = Vec::with_capacity(leaves.len());
    let mut stored: BTreeMap<u64, (Option<Entry>, bool)> = BTreeMap::new();
    for (i, leaf) in leaves.iter().enumerate() {
        let index = base_size + i as u64;
        let refuse = |why: String| AppendRefusal::Invalid(format!("entry {index}: {why}"));
        if leaf.len() > MAX_LEAF {
            return Err(refuse(format!(
                "it has {} bytes; the most is {MAX_LEAF}",
                leaf.len()
            )));
        }
        let entry = Entry::from_leaf(leaf).map_err(|e| refuse(e.to_string()))?;
        entry
            .validate(ledger.base_currency)
            .map_err(|e| refuse(e.to_string()))?;
        if entry.coordinator != fingerprint {
            return Err(refuse(format!(
                "it names coordinator {} but you are {fingerprint}",
                entry.coordinator
            )));
        }
        entry.check_date(today).map_err(|e| refuse(e.to_string()))?;
        // Reversals of stored entries: the target and whether it is reversed, from the
        // database (once per target); reversals within the batch: from the batch.
        if let Some(target) = entry.reverses.filter(|t| *t < base_size) {
            if let std::collections::btree_map::Entry::Vacant(slot) = stored.entry(target) {
                let (leaf, reversed) = store.ledger_reversal_target(ledger.log.id, target).await?;
                let target_entry = leaf
                    .map(|l| Entry::from_leaf(&l))
                    .transpose()
                    .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                slot.insert((target_entry, reversed));
            }
        }
        let earlier = WithBatch {
            before: &stored,
            base: base_size,
            batch: &entries,
        };
        check_against(&earlier, &entry).map_err(|e| refuse(e.to_string()))?;
        entries.push(entry);
    }
    let refs: Vec<&[u8]> = leaves.iter().map(Vec::as_slice).collect();
    let extension = with_nodes(store, ledger.log.id, |known| {
        extend(base_size, &refs, known)
    })
    .await?;
    Ok(Prepared {
        base_size,
        entries,
        leaves,
        extension,
    })
}

/// Stores a prepared batch under the checkpoint the coordinator signed for it.
pub async fn commit(
    store: &Store,
    ledger: &Ledger,
    coordinator_id: i64,
    coordinator: &CoordinatorKey,
    prepared: &Prepared,
    checkpoint: &str,
) -> Result<(), AppendRefusal> {
    check_signed_by(
        &ledger.log.origin,
        coordinator,
        checkpoint,
        prepared.extension.size,
        &prepared.extension.root,
    )?;
    let entries: Vec<NewEntry> = prepared
        .entries
        .iter()
        .zip(&prepared.leaves)
        .map(|(e, leaf)| NewEntry {
            leaf,
            receipt: e.receipt.as_ref(),
            reverses: e.reverses,
        })
        .collect();
    let append = Append {
        base_size: prepared.base_size,
        entries: &entries,
        hashes: &prepared.extension.hashes,
        checkpoint,
        coordinator_id,
        // The signing date is kept no more exactly than the batch's least exact entry.
        signed: signed_on(
            prepared
                .entries
                .iter()
                .map(|e| e.precision)
                .max()
                .unwrap_or(DatePrecision::Day),
            time::OffsetDateTime::now_utc().date(),
        ),
    };
    store
        .append_log(ledger.log.id, &append)
        .await
        .map_err(|e| match e {
            StoreError::Stale(m) => AppendRefusal::Conflict(m),
            StoreError::Conflict(what) => AppendRefusal::Conflict(format!(
                "{what} is already in the ledger: an entry can be reversed once, and a receipt code used once"
            )),
            other => AppendRefusal::Store(other),
        })
}

/// Today, kept no more exactly than `precision`: when a checkpoint was signed is as much a
/// clue as the dates of the entries it adds (the day a relocation expense was added tells
/// as much as its date), so it is coarsened the same way.
pub fn signed_on(precision: DatePrecision, today: time::Date) -> SignedOn {
    SignedOn {
        on: panah_core::Timestamp::from_date(precision.coarsen(today)),
        precision,
    }
}

/// Checks that `note` is a checkpoint for this ledger, signed by `coordinator`, for exactly
/// the tree (`size`, `root`).
pub fn check_signed_by(
    origin: &str,
    coordinator: &CoordinatorKey,
    note: &str,
    size: u64,
    root: &[u8; 32],
) -> Result<(), AppendRefusal> {
    if note.len() > 4096 {
        return Err(AppendRefusal::Invalid(
            "the checkpoint is longer than 4096 bytes".into(),
        ));
    }
    let key = verifier_key(origin, coordinator.signing());
    let signed = verify_checkpoint(note.as_bytes(), &[key], origin).map_err(|e| {
        AppendRefusal::Invalid(format!(
            "the checkpoint does not check against your key for {}: {e}",
            origin
        ))
    })?;
    if signed.size != size || signed.root != *root {
        return Err(AppendRefusal::Conflict(format!(
            "the checkpoint signs {} entries with root {}, but with your entries the hub's tree has {size} entries with root {}",
            signed.size,
            panah_core::tlog::check::b64(&signed.root),
            panah_core::tlog::check::b64(root),
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    #[test]
    fn a_signing_date_is_kept_no_more_exactly_than_its_entries() {
        // Thursday 26 August 2021; the week starts on Monday the 23rd.
        let thursday = date!(2021 - 08 - 26);
        for (precision, kept) in [
            (DatePrecision::Day, "2021-08-26T00:00:00Z"),
            (DatePrecision::Week, "2021-08-23T00:00:00Z"),
            (DatePrecision::Month, "2021-08-01T00:00:00Z"),
        ] {
            let signed = signed_on(precision, thursday);
            assert_eq!(
                (signed.on.to_string().as_str(), signed.precision),
                (kept, precision)
            );
        }
        // Every day of a week is kept as that week's Monday.
        for day in 23..=29 {
            let d = time::Date::from_calendar_date(2021, time::Month::August, day).unwrap();
            assert_eq!(
                signed_on(DatePrecision::Week, d).on.to_string(),
                "2021-08-23T00:00:00Z"
            );
        }
    }
}
