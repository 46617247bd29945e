//! Checking a downloaded ledger: the log's tiles against its signed checkpoint
//! ([`crate::tlog::check_tiles`]), then every entry's format and the ledger's rules between
//! entries. `panah verify`, `panah mirror` and the coordinator's CLI before it signs all run
//! this; it does no I/O.

use std::collections::{BTreeSet, HashMap};

use super::entry::{check_reversal, Entry, EntryError};
use super::money::Currency;
use crate::par;
use crate::tlog::check::{check_tiles_with, CheckError, Leaves};
use crate::tlog::tiles::{bundle_ranges, tiles_for, LeafList, TileKind, TileRef};
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

/// A ledger that checked: its leaves in order and the tree they make. Every leaf is a
/// canonical entry that follows the ledger's rules; [`Checked::entries`] reads them.
#[derive(Debug, Clone)]
pub struct Checked {
    leaves: LeafList,
    tree: Tree,
}

impl Checked {
    pub fn leaves(&self) -> &LeafList {
        &self.leaves
    }

    pub fn tree(&self) -> &Tree {
        &self.tree
    }

    pub fn into_tree(self) -> Tree {
        self.tree
    }

    /// The entries, in order. Checking proved each one and kept none (a million entries
    /// are 200 MB): they are read again here, on every core, for whoever shows them.
    pub fn entries(&self) -> Vec<Entry> {
        par::map(&self.leaves.iter().collect::<Vec<_>>(), |leaf| {
            Entry::from_leaf(leaf)
                .unwrap_or_else(|e| unreachable!("an entry that checked no longer reads: {e}"))
        })
    }
}

/// Checks every tile of a ledger of `size` against the signed `root`, every entry's format
/// and the ledger's rules. The entry bundles are kept in what it returns.
pub fn check_log(
    size: u64,
    root: &[u8; 32],
    files: HashMap<TileRef, Vec<u8>>,
) -> Result<Checked, AuditError> {
    // The base currency is the first entry's.
    let first = tiles_for(size)
        .into_iter()
        .find(|t| t.kind == TileKind::Entries)
        .and_then(|tile| files.get(&tile))
        .and_then(|bundle| Some(&bundle[bundle_ranges(bundle).next()?.ok()?]));
    let base = base_of(first);
    // Each entry is checked on its own as it is hashed; only where the reversals are, and
    // the first refusal in each bundle, are kept. A log whose tiles do not check is
    // refused for that first.
    let (Leaves { leaves, tree }, kept) = check_tiles_with(size, root, files, |_, leaf| {
        Ok(check_one(leaf, base)?.then_some(()))
    })?;
    let mut refused = None;
    let mut reversals = Vec::new();
    for (index, k) in kept {
        match k {
            Ok(()) => reversals.push(index as usize),
            Err(why) => {
                refused = Some((index as usize, why));
                break;
            }
        }
    }
    check_between(reversals, refused, |i| leaves.get(i))?;
    Ok(Checked { leaves, tree })
}

/// Parses entries and checks the rules between them: one base currency, reversals that
/// point at an earlier, unreversed, non-reversal entry with the same amounts.
pub fn check_entries(leaves: &[impl AsRef<[u8]> + Sync]) -> Result<(), AuditError> {
    // The base currency is the first entry's. Each entry is parsed and checked on its own
    // on every core, and where the reversals are is kept.
    let base = base_of(leaves.first().map(AsRef::as_ref));
    let (checked, refused) = par::try_map(leaves, |leaf| check_one(leaf.as_ref(), base));
    let reversals = checked
        .iter()
        .enumerate()
        .filter_map(|(i, &reversal)| reversal.then_some(i));
    check_between(reversals, refused, |i| Some(leaves.get(i)?.as_ref()))
}

/// The base currency of a ledger whose first entry is `first`.
fn base_of(first: Option<&[u8]>) -> Option<Currency> {
    Some(Entry::view_leaf(first?)?.base.currency())
}

/// Checks one entry on its own, in a ledger of `base` currency: whether it is a reversal
/// (to be checked against its target).
fn check_one(leaf: &[u8], base: Option<Currency>) -> Result<bool, Refused> {
    // Read in place; what is not a canonical entry is read again to say why.
    let owned;
    let entry = match Entry::view_leaf(leaf) {
        Some(view) => view,
        None => {
            owned = Entry::from_leaf(leaf).map_err(Refused::Format)?;
            owned.view()
        }
    };
    entry
        .validate_sized(base.unwrap_or(entry.base.currency()), leaf.len())
        .map_err(Refused::Rule)?;
    Ok(entry.reverses.is_some())
}

/// The rules between entries, given where the `reversals` are (in order) before the first
/// entry `refused` on its own: each reversal against its target, both read again from
/// `leaf` (reversals are few). The first entry at fault is named, whichever rule it breaks.
fn check_between<'a>(
    reversals: impl IntoIterator<Item = usize>,
    refused: Option<(usize, Refused)>,
    leaf: impl Fn(usize) -> Option<&'a [u8]>,
) -> Result<(), AuditError> {
    let rule = |index: usize, e: EntryError| AuditError::BadRule {
        index: index as u64,
        why: e.to_string(),
    };
    let read = |index: usize| leaf(index).and_then(|l| Entry::from_leaf(l).ok());
    let mut reversed = BTreeSet::new();
    for i in reversals {
        // Each was read and checked on its own already: it reads again the same.
        let Some((target, entry)) = read(i).and_then(|e| Some((e.reverses?, e))) else {
            return Err(AuditError::NotAnEntry {
                index: i as u64,
                why: "it does not read twice the same".into(),
            });
        };
        let earlier = usize::try_from(target)
            .ok()
            .filter(|&t| t < i)
            .and_then(read);
        check_reversal(&entry, target, earlier.as_ref(), reversed.contains(&target))
            .map_err(|e| rule(i, e))?;
        reversed.insert(target);
    }
    match refused {
        None => Ok(()),
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
            let checked = check_log(n, &tree.root(), files.clone()).unwrap();
            assert_eq!(checked.leaves, leaves.iter().map(Vec::as_slice).collect());
            let entries: Vec<Entry> = leaves
                .iter()
                .map(|l| Entry::from_leaf(l).unwrap())
                .collect();
            assert_eq!(checked.entries(), entries);
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
            check_log(300, &tree.root(), files.clone()).unwrap_err(),
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
        assert_eq!(check_entries(&leaves), Ok(()));
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

    /// Checked as the tiles are, the first entry at fault is named, in whichever bundle.
    #[test]
    fn the_first_fault_is_named_by_check_log() {
        let not_an_entry = b"panah-ledger-entry 1\nkind gift\n".to_vec();
        let mut bad_reversal = crate::ledger::testing::entry(0, Kind::Reversal);
        bad_reversal.reverses = Some(5);
        let mut good_reversal = crate::ledger::testing::entry(3, Kind::Reversal);
        good_reversal.reverses = Some(3);
        let check = |faults: &[(usize, &Vec<u8>)]| {
            let mut leaves: Vec<Vec<u8>> = (0..600).map(leaf).collect();
            leaves[200] = good_reversal.to_leaf();
            for (i, bytes) in faults {
                leaves[*i] = (*bytes).clone();
            }
            let (tree, files) = crate::tlog::check::all_tiles(&leaves).unwrap();
            check_log(600, &tree.root(), files).map(|c| c.entries().len())
        };
        assert_eq!(check(&[]), Ok(600));
        let reversal = bad_reversal.to_leaf();
        let found = |r: Result<usize, AuditError>| match r {
            Err(AuditError::NotAnEntry { index, .. }) => (index, false),
            Err(AuditError::BadRule { index, .. }) => (index, true),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            found(check(&[(300, &not_an_entry), (100, &reversal)])),
            (100, true)
        );
        assert_eq!(
            found(check(&[(50, &not_an_entry), (400, &reversal)])),
            (50, false)
        );
        assert_eq!(
            found(check(&[(301, &not_an_entry), (300, &not_an_entry)])),
            (300, false)
        );
        assert_eq!(
            found(check(&[(599, &reversal), (450, &not_an_entry)])),
            (450, false)
        );
    }

    /// Each reversal rule, checked against the entry named (read again from its leaf).
    #[test]
    fn reversals_are_checked_against_their_targets() {
        let reversal = |of: u64, amount_of: u64| {
            let mut e = crate::ledger::testing::entry(amount_of, Kind::Reversal);
            e.reverses = Some(of);
            e.to_leaf()
        };
        let ledger = |last: Vec<u8>| {
            let mut leaves: Vec<Vec<u8>> = (0..5).map(leaf).collect();
            leaves.push(reversal(1, 1));
            leaves.push(last);
            check_entries(&leaves)
        };
        let broken = |why: EntryError| {
            Err(AuditError::BadRule {
                index: 6,
                why: why.to_string(),
            })
        };
        assert_eq!(ledger(reversal(3, 3)), Ok(()));
        assert_eq!(
            ledger(reversal(1, 1)),
            broken(EntryError::AlreadyReversed(1))
        );
        assert_eq!(
            ledger(reversal(5, 1)),
            broken(EntryError::ReverseReversal(5))
        );
        assert_eq!(
            ledger(reversal(3, 4)),
            broken(EntryError::ReversalMismatch(3))
        );
        // Itself, or an entry after it.
        assert_eq!(ledger(reversal(6, 6)), broken(EntryError::NoSuchEntry(6)));
        assert_eq!(ledger(reversal(7, 6)), broken(EntryError::NoSuchEntry(7)));
    }
}
