//! A donor's receipt code looked up: the gift it names and the proof that the gift is in
//! the signed ledger, checked here before any page shows it.

use panah_core::ledger::receipt::ReceiptCode;
use panah_core::ledger::{Entry, Kind};
use panah_core::tlog::tiles::inclusion_proof;
use panah_core::tlog::tree::{check_inclusion, unverified_checkpoint};
use panah_core::tlog::LogKind;
use panah_store::{Store, StoreError, StoredCheckpoint};

use super::append::with_nodes;

/// A gift found by its receipt code, with the proof that it is in the signed ledger.
#[derive(Debug, Clone)]
pub struct Receipt {
    pub index: u64,
    pub entry: Entry,
    /// The latest signed tree, which the proof is for.
    pub size: u64,
    pub origin: String,
    pub checkpoint: StoredCheckpoint,
    /// The RFC 6962 inclusion proof of entry `index` in the tree of `size`.
    pub proof: Vec<[u8; 32]>,
    /// Whether a later entry reverses this gift.
    pub reversed: bool,
}

/// Looks a donor's receipt code up: the gift it names (only a gift: the codes of other
/// entries are not for the public), with its inclusion proof in the latest signed tree. The
/// hub checks its own proof before giving it; the donor's `panah verify receipt` checks it
/// again on their machine.
pub async fn find_receipt(
    store: &Store,
    collective_id: i64,
    code: &ReceiptCode,
) -> Result<Option<Receipt>, StoreError> {
    // The log alone (one query): a receipt needs neither the base currency nor the goals.
    let Some(log) = store.log(collective_id, LogKind::Ledger).await? else {
        return Ok(None);
    };
    let log = log.id;
    let Some((index, leaf)) = store
        .ledger_entry_by_receipt(log, &code.commitment())
        .await?
    else {
        return Ok(None);
    };
    let checkpoint = store
        .latest_checkpoint(log)
        .await?
        .ok_or_else(|| StoreError::Corrupt("a ledger without a checkpoint".into()))?;
    let entry = Entry::from_leaf(&leaf)
        .map_err(|e| StoreError::Corrupt(format!("ledger entry {index}: {e}")))?;
    if entry.kind != Kind::Income {
        return Ok(None);
    }
    let (origin, size, root) = unverified_checkpoint(checkpoint.note.as_bytes())
        .map_err(|e| StoreError::Corrupt(format!("the latest checkpoint: {e}")))?;
    let proof = with_nodes(store, log, |known| inclusion_proof(index, size, known)).await?;
    if check_inclusion(&proof, size, &root, index, &leaf).is_err() {
        return Err(StoreError::Corrupt(
            "a receipt's inclusion proof does not check against the latest checkpoint".into(),
        ));
    }
    let (_, reversed) = store.ledger_reversal_target(log, index).await?;
    Ok(Some(Receipt {
        index,
        entry,
        size,
        origin,
        checkpoint,
        proof,
        reversed,
    }))
}
