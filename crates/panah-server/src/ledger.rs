//! The ledger's append protocol, hub side. The hub holds no signing key: a coordinator sends
//! entries, the hub checks each one and says which root they make ([`prepare`]); the
//! coordinator compares that root with the one it computed itself, signs a checkpoint, and
//! sends entries and checkpoint again ([`commit`]). The hub stores them only if the
//! checkpoint is signed by that coordinator's key and names exactly the tree the entries
//! make — in one transaction, so the public tree never has unsigned entries.
//!
//! The hub never loads the whole tree: [`with_nodes`] runs a computation from
//! `panah_core::ledger::tiles` and fetches just the stored hashes it asks for.

use std::collections::HashMap;

use panah_core::ledger::{entry::check_reversal, Entry, Kind};
use panah_core::tlog::tiles::{extend, Extension, Node, SparseError};
use panah_core::tlog::tree::{verifier_key, verify_checkpoint};
use panah_core::CoordinatorKey;
use panah_store::{Append, Ledger, NewEntry, Store, StoreError};

/// Most entries in one append.
pub const MAX_ENTRIES: usize = 1000;
pub use panah_core::ledger::entry::MAX_LEAF;

/// Why an append was refused; every one is the coordinator's to fix.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
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
    collective_id: i64,
    op: impl Fn(&HashMap<Node, [u8; 32]>) -> Result<T, SparseError>,
) -> Result<T, StoreError> {
    let mut known = HashMap::new();
    for _ in 0..4 {
        match op(&known) {
            Ok(v) => return Ok(v),
            Err(SparseError::Needed(nodes)) => {
                let found = store.ledger_nodes(collective_id, &nodes).await?;
                if found.len() != nodes.len() {
                    return Err(StoreError::Corrupt(format!(
                        "{} stored hashes of the ledger are missing",
                        nodes.len() - found.len()
                    )));
                }
                known.extend(found);
            }
            Err(SparseError::Log(e)) => return Err(StoreError::Corrupt(e.to_string())),
        }
    }
    Err(StoreError::Corrupt(
        "the ledger's hashes do not settle".into(),
    ))
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
) -> Result<Prepared, Refusal> {
    if base_size != ledger.size {
        return Err(Refusal::Conflict(format!(
            "the ledger has {} entries, not {base_size}: someone else added entries first; fetch it again",
            ledger.size
        )));
    }
    if leaves.is_empty() || leaves.len() > MAX_ENTRIES {
        return Err(Refusal::Invalid(format!(
            "send between 1 and {MAX_ENTRIES} entries at a time, not {}",
            leaves.len()
        )));
    }
    let fingerprint = coordinator.fingerprint().to_string();
    // A treasurer a few time zones east may already be in tomorrow.
    let today = time::OffsetDateTime::now_utc().date();
    let tomorrow = today.next_day().unwrap_or(today);
    let mut entries: Vec<Entry> = Vec::with_capacity(leaves.len());
    for (i, leaf) in leaves.iter().enumerate() {
        let index = base_size + i as u64;
        let refuse = |why: String| Refusal::Invalid(format!("entry {index}: {why}"));
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
        if entry.date > tomorrow || entry.date.year() < 2000 {
            return Err(refuse(format!(
                "its date {} is in the future or before 2000",
                entry.date
            )));
        }
        if let (Kind::Reversal, Some(target)) = (entry.kind, entry.reverses) {
            let in_batch = target
                .checked_sub(base_size)
                .and_then(|k| usize::try_from(k).ok())
                .filter(|&k| k < i);
            let reversed_in_batch = entries.iter().any(|e| e.reverses == Some(target));
            let result = match in_batch {
                Some(k) => check_reversal(&entry, target, entries.get(k), reversed_in_batch),
                None if target >= base_size => {
                    check_reversal(&entry, target, None, reversed_in_batch)
                }
                None => {
                    let (leaf, reversed) = store
                        .ledger_reversal_target(ledger.collective_id, target)
                        .await?;
                    let target_entry = leaf
                        .map(|l| Entry::from_leaf(&l))
                        .transpose()
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?;
                    check_reversal(
                        &entry,
                        target,
                        target_entry.as_ref(),
                        reversed || reversed_in_batch,
                    )
                }
            };
            result.map_err(|e| refuse(e.to_string()))?;
        }
        entries.push(entry);
    }
    let refs: Vec<&[u8]> = leaves.iter().map(Vec::as_slice).collect();
    let extension = with_nodes(store, ledger.collective_id, |known| {
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
) -> Result<(), Refusal> {
    check_signed_by(
        ledger,
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
        date_precision: prepared
            .entries
            .iter()
            .map(|e| e.precision)
            .max()
            .unwrap_or(panah_core::ledger::DatePrecision::Day),
    };
    store
        .append_ledger(ledger.collective_id, &append)
        .await
        .map_err(|e| match e {
            StoreError::Stale(m) => Refusal::Conflict(m),
            StoreError::Conflict(what) => Refusal::Conflict(format!(
                "{what} is already in the ledger: an entry can be reversed once, and a receipt code used once"
            )),
            other => Refusal::Store(other),
        })
}

/// Checks that `note` is a checkpoint for this ledger, signed by `coordinator`, for exactly
/// the tree (`size`, `root`).
pub fn check_signed_by(
    ledger: &Ledger,
    coordinator: &CoordinatorKey,
    note: &str,
    size: u64,
    root: &[u8; 32],
) -> Result<(), Refusal> {
    if note.len() > 4096 {
        return Err(Refusal::Invalid(
            "the checkpoint is longer than 4096 bytes".into(),
        ));
    }
    let key = verifier_key(&ledger.origin, coordinator.signing());
    let signed = verify_checkpoint(note.as_bytes(), &[key], &ledger.origin).map_err(|e| {
        Refusal::Invalid(format!(
            "the checkpoint does not check against your key for {}: {e}",
            ledger.origin
        ))
    })?;
    if signed.size != size || signed.root != *root {
        return Err(Refusal::Conflict(format!(
            "the checkpoint signs {} entries with root {}, but with your entries the hub's tree has {size} entries with root {}",
            signed.size,
            panah_core::tlog::check::b64(&signed.root),
            panah_core::tlog::check::b64(root),
        )));
    }
    Ok(())
}
