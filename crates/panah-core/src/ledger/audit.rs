//! Checking a downloaded ledger: the log's tiles against its signed checkpoint
//! ([`crate::tlog::check_tiles`]), then every entry's format and the ledger's rules between
//! entries. `panah verify`, `panah mirror` and the coordinator's CLI before it signs all run
//! this; it does no I/O.

use std::collections::{BTreeSet, HashMap};

use super::entry::{check_against, Earlier, Entry, EntryError};
use crate::par;
use crate::tlog::check::{check_tiles, CheckError, Leaves};
use crate::tlog::tiles::{LeafList, TileRef};
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
    pub leaves: LeafList,
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
    let entries = check_entries(&leaves.iter().collect::<Vec<_>>())?;
    Ok(Checked {
        leaves,
        entries,
        tree,
    })
}

/// Parses entries and checks the rules between them: one base currency, reversals that
/// point at an earlier, unreversed, non-reversal entry with the same amounts.
pub fn check_entries(leaves: &[impl AsRef<[u8]> + Sync]) -> Result<Vec<Entry>, AuditError> {
    // The base currency is the first entry's. Each entry is parsed and checked on its own
    // on every core; only the reversals need the entries before them.
    let base = leaves
        .first()
        .and_then(|leaf| Entry::from_leaf(leaf.as_ref()).ok())
        .map(|e| e.base.currency());
    let (entries, refused) = par::try_map(leaves, |leaf| {
        let entry = Entry::from_leaf(leaf.as_ref()).map_err(Refused::Format)?;
        entry
            .validate(base.unwrap_or(entry.base.currency()))
            .map_err(Refused::Rule)?;
        Ok(entry)
    });
    let rule = |index: usize, e: EntryError| AuditError::BadRule {
        index: index as u64,
        why: e.to_string(),
    };
    // The entries before the first refused one, in order: a reversal among them that
    // breaks a rule comes first.
    let mut reversed = BTreeSet::new();
    for (i, entry) in entries.iter().enumerate() {
        let before = Before {
            entries: &entries[..i],
            reversed: &reversed,
        };
        check_against(&before, entry).map_err(|e| rule(i, e))?;
        if let Some(target) = entry.reverses {
            reversed.insert(target);
        }
    }
    match refused {
        None => Ok(entries),
        Some((index, Refused::Rule(e))) => Err(rule(index, e)),
        Some((index, Refused::Format(e))) => Err(AuditError::NotAnEntry {
            index: index as u64,
            why: e.to_string(),
        }),
    }
}

/// Why an entry was refused on its own.
enum Refused {
    /// It is not a ledger entry.
    Format(EntryError),
    /// It is one, but breaks a rule.
    Rule(EntryError),
}

/// The entries before the one being checked, with the set of those reversed (so a long
/// ledger is not scanned again for each reversal).
struct Before<'a> {
    entries: &'a [Entry],
    reversed: &'a BTreeSet<u64>,
}

impl Earlier for Before<'_> {
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
    use crate::ledger::money::{Amount, Currency};
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
            assert_eq!(checked.leaves, leaves.iter().map(Vec::as_slice).collect());
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

    /// The first entry at fault is named, whether it is found by one core or the other,
    /// and whether it breaks a rule on its own, against the entries before it, or is no
    /// entry at all.
    #[test]
    fn the_first_fault_is_named_in_a_long_ledger() {
        let n = 10_000;
        let leaves: Vec<Vec<u8>> = (0..n).map(leaf).collect();
        assert_eq!(check_entries(&leaves).unwrap().len(), n as usize);
        let not_an_entry = b"panah-ledger-entry 1\nkind gift\n".to_vec();
        let mut in_usd = crate::ledger::testing::entry(0, Kind::Income);
        in_usd.base = Amount::new(5, Currency::parse("USD").unwrap()).unwrap();
        let mut bad_reversal = crate::ledger::testing::entry(0, Kind::Reversal);
        bad_reversal.reverses = Some(n + 5);
        let with = |faults: &[(u64, &Vec<u8>)]| {
            let mut leaves = leaves.clone();
            for (i, bytes) in faults {
                leaves[*i as usize] = (*bytes).clone();
            }
            check_entries(&leaves).unwrap_err()
        };
        let (usd, reversal) = (in_usd.to_leaf(), bad_reversal.to_leaf());
        for (faults, first) in [
            (vec![(9_000, &not_an_entry)], (9_000, false)),
            (vec![(1_000, &not_an_entry), (9_000, &usd)], (1_000, false)),
            (vec![(1_000, &usd), (9_000, &not_an_entry)], (1_000, true)),
            (
                vec![(8_000, &reversal), (9_000, &not_an_entry)],
                (8_000, true),
            ),
            (
                vec![(3_000, &reversal), (4_000, &not_an_entry)],
                (3_000, true),
            ),
            (
                vec![(6_000, &not_an_entry), (7_000, &reversal)],
                (6_000, false),
            ),
        ] {
            let found = match with(&faults) {
                AuditError::NotAnEntry { index, .. } => (index, false),
                AuditError::BadRule { index, .. } => (index, true),
                other => panic!("{other}"),
            };
            assert_eq!(found, first, "{faults:?}");
        }
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
