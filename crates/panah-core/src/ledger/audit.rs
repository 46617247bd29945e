//! Checking a downloaded ledger: the log's tiles against its signed checkpoint
//! ([`crate::tlog::check_tiles`]), then every entry's format and the ledger's rules between
//! entries. `panah verify`, `panah mirror` and the coordinator's CLI before it signs all run
//! this; it does no I/O.

use std::collections::{BTreeSet, HashMap};

use super::entry::{check_against, Earlier, Entry, EntryError};
use crate::tlog::check::{check_tiles, par_map, CheckError, Leaves};
use crate::tlog::tiles::TileRef;
use crate::tlog::tree::Tree;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AuditError {
    /// The tiles do not make the signed tree.
    #[error(transparent)]
    Log(#[from] CheckError),
    #[error("entry {index} is not a valid ledger entry: {why}")]
    NotAnEntry { index: u64, why: String },
    #[error("entry {index} breaks the ledger's rules: {why}")]
    BadRule { index: u64, why: String },
}

/// A ledger that checked: its entries in order and the tree they make.
#[derive(Debug, Clone)]
pub struct Checked {
    pub leaves: Vec<Vec<u8>>,
    pub entries: Vec<Entry>,
    pub tree: Tree,
}

/// Checks every tile of a ledger of `size` against the signed `root`, then the entries'
/// format and the ledger's rules.
pub fn check_log(
    size: u64,
    root: &[u8; 32],
    files: &HashMap<TileRef, Vec<u8>>,
) -> Result<Checked, AuditError> {
    let Leaves { leaves, tree } = check_tiles(size, root, files)?;
    let entries = check_entries(&leaves)?;
    Ok(Checked {
        leaves,
        entries,
        tree,
    })
}

/// Parses entries and checks the rules between them: one base currency, reversals that
/// point at an earlier, unreversed, non-reversal entry with the same amounts.
pub fn check_entries(leaves: &[Vec<u8>]) -> Result<Vec<Entry>, AuditError> {
    let parsed = par_map(leaves, |leaf| Entry::from_leaf(leaf));
    let mut seen = Seen {
        entries: Vec::with_capacity(leaves.len()),
        reversed: BTreeSet::new(),
    };
    for (i, entry) in parsed.into_iter().enumerate() {
        let index = i as u64;
        let entry = entry.map_err(|e| AuditError::NotAnEntry {
            index,
            why: e.to_string(),
        })?;
        let base = seen
            .entries
            .first()
            .map_or(entry.base.currency(), |e| e.base.currency());
        let rule = |e: EntryError| AuditError::BadRule {
            index,
            why: e.to_string(),
        };
        entry.validate(base).map_err(rule)?;
        check_against(&seen, &entry).map_err(rule)?;
        if let Some(target) = entry.reverses {
            seen.reversed.insert(target);
        }
        seen.entries.push(entry);
    }
    Ok(seen.entries)
}

/// The entries checked so far, with the set of those reversed (so a long ledger is not
/// scanned again for each reversal).
struct Seen {
    entries: Vec<Entry>,
    reversed: BTreeSet<u64>,
}

impl Earlier for Seen {
    fn entry(&self, index: u64) -> Option<&Entry> {
        self.entries.entry(index)
    }

    fn reversed(&self, index: u64) -> bool {
        self.reversed.contains(&index)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::entry::Kind;
    use crate::tlog::check::testing::{log_of, replace, rewrite_entry};

    fn leaf(i: u64) -> Vec<u8> {
        crate::ledger::testing::entry(i, Kind::Income).to_leaf()
    }

    fn log(n: u64) -> (Vec<Vec<u8>>, Tree, HashMap<TileRef, Vec<u8>>) {
        log_of(n, leaf)
    }

    #[test]
    fn an_untouched_log_checks() {
        for n in [0, 1, 255, 256, 257, 600] {
            let (leaves, tree, files) = log(n);
            let checked = check_log(n, &tree.root(), &files).unwrap();
            assert_eq!(checked.leaves, leaves);
            assert_eq!(checked.entries.len() as u64, n);
        }
    }

    #[test]
    fn a_rewritten_entry_is_named_through_the_log_check() {
        let (leaves, tree, mut files) = log(300);
        rewrite_entry(
            &leaves,
            &mut files,
            270,
            replace("amount 370 AFN", "amount 970 AFN"),
        );
        assert_eq!(
            check_log(300, &tree.root(), &files).unwrap_err(),
            AuditError::Log(CheckError::Rewritten { index: 270 })
        );
    }

    #[test]
    fn broken_rules_are_named() {
        let mut leaves: Vec<Vec<u8>> = (0..3).map(leaf).collect();
        leaves.push(b"panah-ledger-entry 1\nkind gift\n".to_vec());
        assert!(matches!(
            check_entries(&leaves),
            Err(AuditError::NotAnEntry { index: 3, .. })
        ));
        let mut e = Entry::from_leaf(&leaf(0)).unwrap();
        e.kind = Kind::Reversal;
        e.reverses = Some(0);
        let mut leaves: Vec<Vec<u8>> = vec![leaf(0), e.to_leaf()];
        assert!(check_entries(&leaves).is_ok());
        leaves.push(e.to_leaf());
        assert!(matches!(
            check_entries(&leaves),
            Err(AuditError::BadRule { index: 2, .. })
        ));
    }
}
