//! Checking a ledger tile by tile, in memory that does not grow with the ledger.
//!
//! [`crate::ledger::audit::check_log`] holds every entry at once: simple, and about 1.1 GB
//! for a million entries. A supporter's `panah verify` instead feeds the entry bundles to a
//! [`Stream`] in order, with their level-0 hash tiles. It keeps:
//! - the right edge of the Merkle tree (one hash per level: RFC 6962's tree of the first
//!   `n` leaves is those hashes folded from the right), so the root of the whole tree and
//!   of any earlier size asked for come out at the end;
//! - the root of each full tile of 256 entries (32 bytes per 256 entries), so an earlier
//!   tile read again, for a reversal that names an entry in it, is checked to be the same;
//! - the set of reversed entries, the totals, and a few earlier tiles read again.
//!
//! The rules are the ledger's: each entry parses and is valid in the ledger's base currency
//! (the first entry's), and a reversal names an earlier, unreversed, non-reversal entry with
//! the same amounts.

use std::collections::BTreeSet;

use sha2::{Digest, Sha256};

use super::audit::AuditError;
use super::entry::{check_reversal, Entry};
use super::totals::Totals;
use super::{Currency, Kind};
use crate::par;
use crate::tlog::check::{b64, CheckError};
use crate::tlog::tiles::{TileKind, TileRef, WIDTH};
use crate::tlog::tree::leaf_hash;

/// Earlier tiles kept after being read again for reversals.
const CACHE: usize = 8;

fn node(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    Sha256::new()
        .chain_update([1u8])
        .chain_update(left)
        .chain_update(right)
        .finalize()
        .into()
}

/// What an earlier tile must be read again for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fed {
    /// The tile was checked and counted.
    Done,
    /// Reversals in it name entries in these earlier tiles: read them again, give them
    /// with [`Stream::provide`], and feed the same tile again.
    Need(Vec<u64>),
}

/// The result of a whole ledger streamed.
#[derive(Debug, Clone)]
pub struct Streamed {
    pub size: u64,
    pub root: [u8; 32],
    pub totals: Totals,
    pub base: Option<Currency>,
    /// Roots of the earlier sizes asked for, in the order asked.
    pub prefix_roots: Vec<(u64, [u8; 32])>,
    /// Tiles read a second time for reversals.
    pub reread: u64,
    /// The root of each full tile of 256 entries (the tree's nodes of height 8): what the
    /// upper hash tiles are made of (`tlog::check::upper_tiles`).
    pub tile_roots: Vec<[u8; 32]>,
}

/// See the module documentation.
#[derive(Debug)]
pub struct Stream {
    size: u64,
    root: [u8; 32],
    next: u64,
    /// Subtrees along the right edge: (height, hash), heights decreasing.
    frontier: Vec<(u32, [u8; 32])>,
    tile_roots: Vec<[u8; 32]>,
    prefixes: Vec<(u64, Option<[u8; 32]>)>,
    reversed: BTreeSet<u64>,
    base: Option<Currency>,
    totals: Totals,
    cache: Vec<(u64, Vec<Entry>)>,
    reread: u64,
}

impl Stream {
    /// A check of a signed tree of `size` entries with `root`; `prefixes` are earlier sizes
    /// whose roots are wanted (what this device remembered), each at most `size`.
    pub fn new(size: u64, root: [u8; 32], prefixes: &[u64]) -> Result<Stream, AuditError> {
        for &p in prefixes {
            if p > size {
                return Err(AuditError::Log(CheckError::RolledBack {
                    old: p,
                    new: size,
                }));
            }
        }
        Ok(Stream {
            size,
            root,
            next: 0,
            frontier: Vec::new(),
            tile_roots: Vec::new(),
            prefixes: prefixes.iter().map(|&p| (p, None)).collect(),
            reversed: BTreeSet::new(),
            base: None,
            totals: Totals::default(),
            cache: Vec::new(),
            reread: 0,
        })
    }

    /// How many entry bundles (tiles of up to 256 entries) the ledger has.
    pub fn tiles(&self) -> u64 {
        self.size.div_ceil(WIDTH)
    }

    /// How many entries tile `n` holds.
    pub fn width(&self, n: u64) -> u16 {
        let left = self.size.saturating_sub(n * WIDTH);
        // At most 256, so it fits.
        u16::try_from(left.min(WIDTH)).unwrap_or(u16::MAX)
    }

    fn push(&mut self, hash: [u8; 32]) {
        let mut item = (0u32, hash);
        while let Some(&(height, left)) = self.frontier.last() {
            if height != item.0 {
                break;
            }
            self.frontier.pop();
            item = (height + 1, node(&left, &item.1));
        }
        self.frontier.push(item);
        self.next += 1;
        let (next, root) = (self.next, self.current_root());
        for (p, r) in &mut self.prefixes {
            if *p == next {
                *r = Some(root);
            }
        }
    }

    fn current_root(&self) -> [u8; 32] {
        let mut it = self.frontier.iter().rev();
        let Some(&(_, mut acc)) = it.next() else {
            // The empty tree: SHA-256 of nothing.
            return Sha256::digest([]).into();
        };
        for (_, left) in it {
            acc = node(left, &acc);
        }
        acc
    }

    fn tile_root(hashes: &[[u8; 32]]) -> [u8; 32] {
        let mut level: Vec<[u8; 32]> = hashes.to_vec();
        while level.len() > 1 {
            level = level.chunks(2).map(|p| node(&p[0], &p[1])).collect();
        }
        level.first().copied().unwrap_or_default()
    }

    fn parse(first: u64, leaves: &[Vec<u8>]) -> Result<Vec<Entry>, AuditError> {
        par::map(leaves, |leaf| Entry::from_leaf(leaf))
            .into_iter()
            .enumerate()
            .map(|(i, e)| {
                e.map_err(|e| AuditError::NotAnEntry {
                    index: first + i as u64,
                    why: e.to_string(),
                })
            })
            .collect()
    }

    /// An earlier, full tile read again: it must hash to the root recorded for it.
    pub fn provide(&mut self, n: u64, leaves: &[Vec<u8>]) -> Result<(), AuditError> {
        let path = TileRef {
            kind: TileKind::Entries,
            index: n,
            width: WIDTH as u16,
        }
        .path();
        let Some(expected) = self.tile_roots.get(n as usize) else {
            return Err(AuditError::Log(CheckError::MissingTile { path }));
        };
        let hashes: Vec<[u8; 32]> = leaves.iter().map(|l| leaf_hash(l)).collect();
        if leaves.len() as u64 != WIDTH || Stream::tile_root(&hashes) != *expected {
            return Err(AuditError::Log(CheckError::TileMismatch { path }));
        }
        let entries = Stream::parse(n * WIDTH, leaves)?;
        if self.cache.len() >= CACHE {
            self.cache.remove(0);
        }
        self.cache.push((n, entries));
        self.reread += 1;
        Ok(())
    }

    /// Feeds tile `n` (the next one): its leaves, and its level-0 hash tile if the source
    /// has one (then an entry that does not match it is named).
    pub fn feed(
        &mut self,
        n: u64,
        leaves: &[Vec<u8>],
        hashes: Option<&[u8]>,
    ) -> Result<Fed, AuditError> {
        let first = n * WIDTH;
        let width16 = self.width(n);
        let width = usize::from(width16);
        let path = TileRef {
            kind: TileKind::Entries,
            index: n,
            width: width16,
        }
        .path();
        if first != self.next || n >= self.tiles() {
            return Err(AuditError::Log(CheckError::MissingTile { path }));
        }
        if leaves.len() > width {
            return Err(AuditError::Log(CheckError::Inserted {
                path,
                found: leaves.len(),
                expected: width,
            }));
        }
        let leaf_hashes: Vec<[u8; 32]> = leaves.iter().map(|l| leaf_hash(l)).collect();
        if leaves.len() < width {
            // With the hash tile, the first leaf that does not match is the one missing.
            let missing = hashes
                .and_then(|tile| {
                    leaf_hashes
                        .iter()
                        .zip(tile.chunks(32))
                        .position(|(h, t)| h.as_slice() != t)
                })
                .unwrap_or(leaves.len());
            return Err(AuditError::Log(CheckError::Dropped {
                index: first + missing as u64,
            }));
        }
        if let Some(tile) = hashes {
            if tile.len() != width * 32 {
                return Err(AuditError::Log(CheckError::TileLength {
                    path: TileRef {
                        kind: TileKind::Hashes { level: 0 },
                        index: n,
                        width: width16,
                    }
                    .path(),
                    found: tile.len(),
                    expected: width * 32,
                }));
            }
            if let Some(i) = leaf_hashes
                .iter()
                .zip(tile.chunks(32))
                .position(|(h, t)| h.as_slice() != t)
            {
                return Err(AuditError::Log(CheckError::Rewritten {
                    index: first + i as u64,
                }));
            }
        }
        let entries = Stream::parse(first, leaves)?;
        let needed: BTreeSet<u64> = entries
            .iter()
            .filter_map(|e| e.reverses)
            .filter(|&t| t < first)
            .map(|t| t / WIDTH)
            .filter(|tile| !self.cache.iter().any(|(c, _)| c == tile))
            .collect();
        if !needed.is_empty() {
            return Ok(Fed::Need(needed.into_iter().collect()));
        }
        for (i, entry) in entries.iter().enumerate() {
            let index = first + i as u64;
            let rule = |e: super::entry::EntryError| AuditError::BadRule {
                index,
                why: e.to_string(),
            };
            let base = *self.base.get_or_insert(entry.base.currency());
            entry.validate(base).map_err(rule)?;
            let mut target_kind: Option<Kind> = None;
            if let Some(t) = entry.reverses {
                let target = if t >= first {
                    usize::try_from(t - first)
                        .ok()
                        .filter(|&j| j < i)
                        .and_then(|j| entries.get(j))
                } else {
                    self.cache
                        .iter()
                        .find(|(c, _)| *c == t / WIDTH)
                        .and_then(|(_, es)| es.get((t % WIDTH) as usize))
                };
                check_reversal(entry, t, target, self.reversed.contains(&t)).map_err(rule)?;
                target_kind = target.map(|e| e.kind);
                self.reversed.insert(t);
            }
            self.totals.add(entry, target_kind);
        }
        for h in &leaf_hashes {
            self.push(*h);
        }
        if leaf_hashes.len() as u64 == WIDTH {
            self.tile_roots.push(Stream::tile_root(&leaf_hashes));
        }
        Ok(Fed::Done)
    }

    /// Every tile was fed: the entries must make the signed root.
    pub fn finish(self) -> Result<Streamed, AuditError> {
        if self.next != self.size {
            return Err(AuditError::Log(CheckError::Dropped { index: self.next }));
        }
        let root = self.current_root();
        if root != self.root {
            return Err(AuditError::Log(CheckError::RootMismatch {
                signed: b64(&self.root),
            }));
        }
        let mut prefix_roots = Vec::new();
        for (p, r) in self.prefixes {
            // Size 0 is the empty tree; every other size was reached on the way.
            let r = match (p, r) {
                (_, Some(r)) => r,
                (0, None) => Sha256::digest([]).into(),
                (_, None) => return Err(AuditError::Log(CheckError::Dropped { index: p })),
            };
            prefix_roots.push((p, r));
        }
        Ok(Streamed {
            size: self.size,
            root,
            totals: self.totals,
            base: self.base,
            prefix_roots,
            reread: self.reread,
            tile_roots: self.tile_roots,
        })
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::ledger::audit::check_log;
    use crate::tlog::all_tiles;
    use crate::tlog::tiles::{decode_bundle, TileKind, TileRef};
    use crate::tlog::Tree;

    fn gift(i: u64) -> Entry {
        let kind = if i % 3 == 0 {
            Kind::Income
        } else {
            Kind::Expense
        };
        crate::ledger::testing::entry(i, kind)
    }

    type Ledger = (u64, [u8; 32], HashMap<TileRef, Vec<u8>>, Tree, Vec<Entry>);

    /// `n` entries; `(at, target)` makes entry `at` a reversal of entry `target`.
    fn ledger(n: u64, reversals: &[(u64, u64)]) -> Ledger {
        let mut entries: Vec<Entry> = (0..n).map(gift).collect();
        for &(at, target) in reversals {
            let t = entries[target as usize].clone();
            entries[at as usize] = Entry {
                kind: Kind::Reversal,
                reverses: Some(target),
                memo: "correction".into(),
                ..t
            };
        }
        let leaves: Vec<Vec<u8>> = entries.iter().map(Entry::to_leaf).collect();
        let (tree, files) = all_tiles(&leaves).unwrap();
        (n, tree.root(), files, tree, entries)
    }

    fn bundle(files: &HashMap<TileRef, Vec<u8>>, n: u64, width: u16) -> Vec<Vec<u8>> {
        decode_bundle(
            &files[&TileRef {
                kind: TileKind::Entries,
                index: n,
                width,
            }],
        )
        .unwrap()
    }

    fn hashes(files: &HashMap<TileRef, Vec<u8>>, n: u64, width: u16) -> Vec<u8> {
        files[&TileRef {
            kind: TileKind::Hashes { level: 0 },
            index: n,
            width,
        }]
            .clone()
    }

    /// A ledger with reversals across tiles checks the same streamed as all at once, in
    /// a handful of re-reads, and its earlier roots are those of its prefixes.
    #[test]
    fn streaming_agrees_with_checking_all_at_once() {
        let (size, root, files, tree, _) = ledger(700, &[(300, 5), (650, 40), (699, 600)]);
        let whole = check_log(size, &root, files.clone()).unwrap();
        let mut s = Stream::new(size, root, &[0, 256, 300, 700]).unwrap();
        for n in 0..s.tiles() {
            let w = s.width(n);
            let (leaves, tile) = (bundle(&files, n, w), hashes(&files, n, w));
            loop {
                match s.feed(n, &leaves, Some(&tile)).unwrap() {
                    Fed::Done => break,
                    Fed::Need(tiles) => {
                        for t in tiles {
                            s.provide(t, &bundle(&files, t, 256)).unwrap();
                        }
                    }
                }
            }
        }
        let done = s.finish().unwrap();
        assert_eq!(done.root, root);
        assert_eq!(done.totals, Totals::of(&whole.entries()));
        assert_eq!(done.reread, 1, "tile 0 was read again (once, then kept)");
        for (p, r) in done.prefix_roots {
            assert_eq!(r, tree.root_at(p).unwrap(), "root at {p}");
        }
    }

    #[test]
    fn broken_rules_and_changed_entries_are_named() {
        // A second reversal of the same entry, in another tile.
        let (size, root, files, _, _) = ledger(600, &[(10, 3), (300, 3)]);
        let mut s = Stream::new(size, root, &[]).unwrap();
        s.feed(0, &bundle(&files, 0, 256), None).unwrap();
        assert_eq!(
            s.feed(1, &bundle(&files, 1, 256), None).unwrap(),
            Fed::Need(vec![0])
        );
        // A tile read again must be the one first checked.
        let mut other = bundle(&files, 0, 256);
        other.swap(1, 2);
        assert!(s.provide(0, &other).is_err());
        s.provide(0, &bundle(&files, 0, 256)).unwrap();
        assert!(matches!(
            s.feed(1, &bundle(&files, 1, 256), None),
            Err(AuditError::BadRule { index: 300, .. })
        ));

        let (size, root, files, _, _) = ledger(300, &[]);
        let mut changed = bundle(&files, 0, 256);
        changed[7] = gift(99).to_leaf();
        let mut s = Stream::new(size, root, &[]).unwrap();
        assert!(matches!(
            s.feed(0, &changed, Some(&hashes(&files, 0, 256))),
            Err(AuditError::Log(CheckError::Rewritten { index: 7 }))
        ));
        // Without hash tiles the root catches it.
        let mut s = Stream::new(size, root, &[]).unwrap();
        s.feed(0, &changed, None).unwrap();
        s.feed(1, &bundle(&files, 1, 44), None).unwrap();
        assert!(matches!(
            s.finish(),
            Err(AuditError::Log(CheckError::RootMismatch { .. }))
        ));
        let mut s = Stream::new(size, root, &[]).unwrap();
        let short = bundle(&files, 0, 256)[..255].to_vec();
        assert!(matches!(
            s.feed(0, &short, None),
            Err(AuditError::Log(CheckError::Dropped { index: 255 }))
        ));
        assert!(Stream::new(size, root, &[301]).is_err(), "a rollback");
    }
}
