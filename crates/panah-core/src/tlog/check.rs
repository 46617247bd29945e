//! Checking a downloaded log against its signed checkpoint, whatever its entries are, with
//! a precise answer when it does not check: which entry was rewritten or dropped, which tile
//! is damaged, whether history was rolled back or forked. It does no I/O; each kind of log
//! checks its records on the leaves this returns.

use std::collections::HashMap;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;

use super::tiles::{
    bundle_ranges, encode_bundle, tiles_for, LeafList, Span, TileKind, TileRef, WIDTH,
};
use super::tree::{leaf_hash, Tree};
use sha2::{Digest, Sha256};

/// The largest log this verifier checks in one go (entries are held in memory: about 2 GB
/// of ledger entries at this size). A signed checkpoint claiming more is refused before any
/// download.
pub const MAX_CHECKED_SIZE: u64 = 10_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    #[error("the checkpoint claims {0} entries; this verifier checks at most {MAX_CHECKED_SIZE}")]
    TooLarge(u64),
    #[error("{path} is missing")]
    MissingTile { path: String },
    #[error("the entry bundle {path} is damaged: {why}")]
    BadBundle { path: String, why: String },
    #[error(
        "the hash tile {path} has {found} bytes instead of {expected}: it is truncated or padded"
    )]
    TileLength {
        path: String,
        found: usize,
        expected: usize,
    },
    #[error("entry {index} was changed after it was signed: its bytes no longer match leaf {index} of the signed tree")]
    Rewritten { index: u64 },
    #[error("entry {index} was dropped: the signed tree has it, the published entries skip it")]
    Dropped { index: u64 },
    #[error("the entry bundle {path} has {found} entries but the signed tree has {expected} there: entries were inserted")]
    Inserted {
        path: String,
        found: usize,
        expected: usize,
    },
    #[error("the published entries and hashes do not add up to the signed root {signed}: the log was changed after it was signed")]
    RootMismatch { signed: String },
    #[error("the hash tile {path} does not match the signed entries")]
    TileMismatch { path: String },
    #[error(
        "the log shrank from {old} entries (when you last checked) to {new}: entries were removed"
    )]
    RolledBack { old: u64, new: u64 },
    #[error("the log's history was rewritten: when you last checked, its first {size} entries had root {old_root}; the newly signed tree has {new_root} for them")]
    Forked {
        size: u64,
        old_root: String,
        new_root: String,
    },
}

/// A log whose tiles checked: its entries' bytes in order and the tree they make.
#[derive(Debug, Clone)]
pub struct Leaves {
    pub leaves: LeafList,
    pub tree: Tree,
}

/// What [`check_tiles_with`] keeps of its entries, by index, in order.
pub type Kept<T, E> = Vec<(u64, Result<T, E>)>;

/// What is found in a bundle: how many entries it has (or why it does not read), and what
/// the caller kept of them.
type Found<T, E> = (Result<usize, String>, Kept<T, E>);

/// A hash in base64, as checkpoints write it.
pub fn b64(hash: &[u8; 32]) -> String {
    STANDARD.encode(hash)
}

/// Checks every tile of a tree of `size` (as listed by [`tiles_for`]) against the signed
/// `root`: the entries and the hashes at every level. What the entries say is for the
/// caller, who gets them where they lie: the entry bundles are kept, not copied.
pub fn check_tiles(
    size: u64,
    root: &[u8; 32],
    files: HashMap<TileRef, Vec<u8>>,
) -> Result<Leaves, CheckError> {
    let nothing = |_, _: &[u8]| Ok::<Option<()>, ()>(None);
    check_tiles_with(size, root, files, nothing).map(|(leaves, _)| leaves)
}

/// [`check_tiles`], running `each` on every entry (its index and bytes) as it is hashed:
/// on every core, while the entry is in the cache. What `each` keeps, by index, in order:
/// in each bundle, what it keeps up to its first error, and that error (a hub that serves
/// a million bad entries does not make the verifier keep a million reasons).
pub fn check_tiles_with<T: Send, E: Send>(
    size: u64,
    root: &[u8; 32],
    mut files: HashMap<TileRef, Vec<u8>>,
    each: impl Fn(u64, &[u8]) -> Result<Option<T>, E> + Sync,
) -> Result<(Leaves, Kept<T, E>), CheckError> {
    if size > MAX_CHECKED_SIZE {
        return Err(CheckError::TooLarge(size));
    }
    let tiles = tiles_for(size);
    let get = |tile: &TileRef| {
        files
            .get(tile)
            .ok_or_else(|| CheckError::MissingTile { path: tile.path() })
    };
    let hash_tile = |tile: &TileRef| -> Result<&Vec<u8>, CheckError> {
        let data = get(tile)?;
        let expected = usize::from(tile.width) * 32;
        if data.len() != expected {
            return Err(CheckError::TileLength {
                path: tile.path(),
                found: data.len(),
                expected,
            });
        }
        Ok(data)
    };

    // What the hashes say each leaf is, and whether those hashes make the signed root.
    let level0: Vec<&[u8]> = tiles
        .iter()
        .filter(|t| t.kind == TileKind::Hashes { level: 0 })
        .map(|tile| Ok(hash_tile(tile)?.as_slice()))
        .collect::<Result<_, CheckError>>()?;
    let claimed = Tree::from_leaf_hash_bytes(&level0);
    drop(level0);
    let claimed_ok = claimed.size() == size && claimed.root() == *root;

    // The entries, bundle by bundle, read where they lie and hashed, on every core. Each
    // bundle has the places of its tile's width: the hash and place of each entry up to
    // that width, and how many entries it has.
    let bundles: Vec<(&TileRef, &Vec<u8>)> = tiles
        .iter()
        .filter(|t| t.kind == TileKind::Entries)
        .map(|tile| Ok((tile, get(tile)?)))
        .collect::<Result<_, CheckError>>()?;
    let mut hashes = vec![[0; 32]; bundles.iter().map(|(t, _)| usize::from(t.width)).sum()];
    let mut spans = vec![Span::default(); hashes.len()];
    // For each bundle: how many entries it has (or why it does not read), and what `each`
    // kept of them.
    let mut found: Vec<Found<T, E>> = (0..bundles.len()).map(|_| (Ok(0), Vec::new())).collect();
    let mut parts = Vec::with_capacity(bundles.len());
    let (mut hashes_left, mut spans_left) = (&mut hashes[..], &mut spans[..]);
    for (k, (&(tile, bytes), found)) in bundles.iter().zip(&mut found).enumerate() {
        let width = usize::from(tile.width);
        let (h, rest) = std::mem::take(&mut hashes_left).split_at_mut(width);
        hashes_left = rest;
        let (s, rest) = std::mem::take(&mut spans_left).split_at_mut(width);
        spans_left = rest;
        parts.push((k as u32, tile.first(), bytes, h, s, found));
    }
    crate::par::for_each(parts, |(k, first, bytes, hashes, spans, (count, kept))| {
        let mut places = hashes.iter_mut().zip(spans);
        let (mut n, mut failed) = (0, false);
        for range in bundle_ranges(bytes) {
            let range = match range {
                Ok(range) => range,
                Err(why) => {
                    *count = Err(why);
                    return;
                }
            };
            if let Some((hash, span)) = places.next() {
                let leaf = &bytes[range.clone()];
                *hash = leaf_hash(leaf);
                // At most 256 entries of at most 65,537 bytes each have a place: the
                // offsets fit.
                *span = Span {
                    buffer: k,
                    start: range.start as u32,
                    end: range.end as u32,
                };
                let index = first + n as u64;
                if !failed {
                    match each(index, leaf) {
                        Ok(t) => kept.extend(t.map(|t| (index, Ok(t)))),
                        Err(e) => {
                            kept.push((index, Err(e)));
                            failed = true;
                        }
                    }
                }
            }
            n += 1;
        }
        *count = Ok(n);
    });
    let mut first = 0;
    let mut counts = Vec::with_capacity(bundles.len());
    let mut kept = Vec::new();
    for (&(tile, _), (count, some)) in bundles.iter().zip(found) {
        let len = count.map_err(|why| CheckError::BadBundle {
            path: tile.path(),
            why,
        })?;
        counts.push((tile, first, len));
        kept.extend(some);
        first += usize::from(tile.width);
    }
    // Each bundle's hashes: those of its entries, up to its tile's width.
    let got = |&(tile, first, len): &(&TileRef, usize, usize)| {
        &hashes[first..first + len.min(usize::from(tile.width))]
    };
    for bundle in &counts {
        let (tile, len) = (bundle.0, bundle.2);
        let width = usize::from(tile.width);
        let got = got(bundle);
        if claimed_ok {
            // Nearly always the entries are those of the hash tile, byte for byte.
            let level0 = TileRef {
                kind: TileKind::Hashes { level: 0 },
                ..*tile
            };
            if len == width && files.get(&level0).map(Vec::as_slice) == Some(got.as_flattened()) {
                continue;
            }
            let first = tile.first();
            let hash_at = |j: usize| claimed.node(0, first + j as u64);
            let mismatch = (0..width).find(|&j| got.get(j).copied() != hash_at(j));
            if let Some(j) = mismatch {
                let index = first + j as u64;
                let shifted = len < width && (j == len || Some(got[j]) == hash_at(j + 1));
                return Err(if shifted {
                    CheckError::Dropped { index }
                } else {
                    CheckError::Rewritten { index }
                });
            }
            if len > width {
                return Err(CheckError::Inserted {
                    path: tile.path(),
                    found: len,
                    expected: width,
                });
            }
        }
    }

    let tree = if claimed_ok {
        claimed
    } else {
        // The tree the entries make, each bundle cut to its tile's width.
        let cut: Vec<[u8; 32]> = counts.iter().flat_map(got).copied().collect();
        let tree = Tree::from_leaf_hashes(&cut);
        if tree.size() != size || tree.root() != *root {
            return Err(CheckError::RootMismatch { signed: b64(root) });
        }
        tree
    };

    // Every hash tile must be exactly what the entries make (those of level 0 already are
    // if the tree was made of them).
    for tile in tiles.iter().filter(|t| match t.kind {
        TileKind::Hashes { level: 0 } => !claimed_ok,
        TileKind::Hashes { .. } => true,
        TileKind::Entries => false,
    }) {
        if !tree.has_tile(tile, hash_tile(tile)?) {
            return Err(CheckError::TileMismatch { path: tile.path() });
        }
    }
    // The entries are kept where they lie, in their bundles. Every bundle has its tile's
    // width of them: one with more or fewer was refused above, as inserted or dropped, or
    // by a hash tile that cannot make the signed tree (a sum checked here).
    if counts
        .iter()
        .any(|&(tile, _, len)| len != usize::from(tile.width))
    {
        return Err(CheckError::RootMismatch { signed: b64(root) });
    }
    let buffers = tiles
        .iter()
        .filter(|t| t.kind == TileKind::Entries)
        .map(|tile| files.remove(tile).unwrap_or_default())
        .collect();
    let leaves =
        LeafList::of(buffers, spans).ok_or(CheckError::RootMismatch { signed: b64(root) })?;
    Ok((Leaves { leaves, tree }, kept))
}

/// Checks that `tree` extends the tree of `old_size` with `old_root` seen before.
pub fn check_extends(tree: &Tree, old_size: u64, old_root: &[u8; 32]) -> Result<(), CheckError> {
    if tree.size() < old_size {
        return Err(CheckError::RolledBack {
            old: old_size,
            new: tree.size(),
        });
    }
    let now = tree.root_at(old_size).unwrap_or([0; 32]);
    if now != *old_root {
        return Err(CheckError::Forked {
            size: old_size,
            old_root: b64(old_root),
            new_root: b64(&now),
        });
    }
    Ok(())
}

/// Builds every tile of a tree of `leaves.len()` entries: what a hub serves and a mirror
/// writes. For tests, benchmarks and mirrors. Refused (with its index) if an entry is too
/// long for an entry bundle.
pub fn all_tiles(leaves: &[Vec<u8>]) -> Result<(Tree, HashMap<TileRef, Vec<u8>>), u64> {
    let mut tree = Tree::new();
    for leaf in leaves {
        tree.push(leaf);
    }
    let mut files = HashMap::new();
    for tile in tiles_for(tree.size()) {
        let data = match tile.kind {
            TileKind::Entries => {
                let first = usize::try_from(tile.first()).unwrap_or(usize::MAX);
                let bundle = leaves[first..first + usize::from(tile.width)].iter();
                encode_bundle(bundle.map(Vec::as_slice)).map_err(|i| tile.first() + i as u64)?
            }
            TileKind::Hashes { .. } => tree.tile_data(&tile).unwrap_or_default(),
        };
        files.insert(tile, data);
    }
    Ok((tree, files))
}

/// The hash tiles of levels 1 and up of a tree of `size`, from the roots of its full
/// level-0 tiles (the nodes of height 8, in order): what a mirror that streamed the entries
/// writes, in memory of 32 bytes per 256 entries.
pub fn upper_tiles(size: u64, height8: &[[u8; 32]]) -> Vec<(TileRef, Vec<u8>)> {
    let node = |l: &[u8; 32], r: &[u8; 32]| -> [u8; 32] {
        Sha256::new()
            .chain_update([1u8])
            .chain_update(l)
            .chain_update(r)
            .finalize()
            .into()
    };
    let subtree = |hashes: &[[u8; 32]]| -> [u8; 32] {
        let mut level = hashes.to_vec();
        while level.len() > 1 {
            level = level.chunks(2).map(|p| node(&p[0], &p[1])).collect();
        }
        level[0]
    };
    // levels[k - 1]: the complete nodes of height 8k.
    let mut levels: Vec<Vec<[u8; 32]>> = vec![height8.to_vec()];
    while let Some(last) = levels.last() {
        if last.len() < WIDTH as usize {
            break;
        }
        let next: Vec<[u8; 32]> = last.chunks_exact(WIDTH as usize).map(subtree).collect();
        levels.push(next);
    }
    tiles_for(size)
        .into_iter()
        .filter_map(|tile| {
            let TileKind::Hashes { level } = tile.kind else {
                return None;
            };
            let nodes = levels.get(usize::from(level).checked_sub(1)?)?;
            let first = usize::try_from(tile.index * WIDTH).ok()?;
            let slice = nodes.get(first..first + usize::from(tile.width))?;
            Some((tile, slice.iter().flatten().copied().collect()))
        })
        .collect()
}

/// Logs made for tests, whatever their entries.
#[cfg(test)]
pub(crate) mod testing {
    use super::*;

    /// A log of `n` entries made by `leaf`: the leaves, their tree and every tile.
    pub(crate) fn log_of(
        n: u64,
        leaf: fn(u64) -> Vec<u8>,
    ) -> (Vec<Vec<u8>>, Tree, HashMap<TileRef, Vec<u8>>) {
        let leaves: Vec<Vec<u8>> = (0..n).map(leaf).collect();
        let (tree, files) = all_tiles(&leaves).unwrap_or_else(|i| panic!("entry {i} too long"));
        (leaves, tree, files)
    }

    /// `files` with entry `index` of `leaves` changed by `change` in its bundle (the hash
    /// tiles untouched): what a host rewriting history after signing serves.
    pub(crate) fn rewrite_entry(
        leaves: &[Vec<u8>],
        files: &mut HashMap<TileRef, Vec<u8>>,
        index: u64,
        change: impl FnOnce(&mut Vec<u8>),
    ) {
        let tile = bundle_of(files, index);
        let first = usize::try_from(tile.first()).unwrap_or(0);
        let mut bundle: Vec<Vec<u8>> = leaves[first..first + usize::from(tile.width)].to_vec();
        change(&mut bundle[usize::try_from(index).unwrap_or(0) - first]);
        let bytes = encode_bundle(bundle.iter().map(Vec::as_slice))
            .unwrap_or_else(|i| panic!("entry {i} too long"));
        files.insert(tile, bytes);
    }

    /// Replaces `from` by `to` in an entry's text.
    pub(crate) fn replace(from: &str, to: &str) -> impl FnOnce(&mut Vec<u8>) {
        let (from, to) = (from.to_owned(), to.to_owned());
        move |leaf| {
            let text = String::from_utf8_lossy(leaf).replace(&from, &to);
            *leaf = text.into_bytes();
        }
    }

    /// The entry bundle that holds entry `index`.
    pub(crate) fn bundle_of(files: &HashMap<TileRef, Vec<u8>>, index: u64) -> TileRef {
        files
            .keys()
            .find(|t| {
                t.kind == TileKind::Entries
                    && t.first() <= index
                    && index < t.first() + u64::from(t.width)
            })
            .copied()
            .unwrap_or_else(|| panic!("no bundle holds entry {index}"))
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{bundle_of, log_of, replace, rewrite_entry};
    use super::*;

    /// Any bytes make a log; these read like a record with an amount in it.
    fn leaf(i: u64) -> Vec<u8> {
        format!("record {i}\namount {} AFN\n", 100 + i).into_bytes()
    }

    fn log(n: u64) -> (Vec<Vec<u8>>, Tree, HashMap<TileRef, Vec<u8>>) {
        log_of(n, leaf)
    }

    #[test]
    fn an_untouched_log_checks() {
        for n in [0, 1, 255, 256, 257, 600] {
            let (leaves, tree, files) = log(n);
            let checked = check_tiles(n, &tree.root(), files.clone()).unwrap();
            assert_eq!(checked.leaves, leaves.iter().map(Vec::as_slice).collect());
            assert_eq!(checked.tree.root(), tree.root());
        }
    }

    /// What the caller's check keeps: in each bundle, up to its first error.
    #[test]
    fn only_the_first_error_of_a_bundle_is_kept() {
        let (_, tree, files) = log(600);
        let each = |i: u64, _: &[u8]| match i % 256 {
            7 | 9 => Ok(Some(i)),
            n if n >= 100 => Err(i),
            _ => Ok(None),
        };
        let (leaves, kept) = check_tiles_with(600, &tree.root(), files, each).unwrap();
        assert_eq!(leaves.leaves.len(), 600);
        let expected: Kept<u64, u64> = [0, 256, 512]
            .into_iter()
            .flat_map(|b| {
                [
                    (b + 7, Ok(b + 7)),
                    (b + 9, Ok(b + 9)),
                    (b + 100, Err(b + 100)),
                ]
            })
            .filter(|(i, _)| *i < 600)
            .collect();
        assert_eq!(kept, expected);
    }

    #[test]
    fn a_rewritten_entry_is_named() {
        let (leaves, tree, mut files) = log(300);
        rewrite_entry(
            &leaves,
            &mut files,
            270,
            replace("amount 370 AFN", "amount 970 AFN"),
        );
        assert_eq!(
            check_tiles(300, &tree.root(), files.clone()).unwrap_err(),
            CheckError::Rewritten { index: 270 }
        );
    }

    #[test]
    fn a_dropped_entry_is_named() {
        let (leaves, tree, mut files) = log(40);
        let mut bundle = leaves.clone();
        bundle.remove(17);
        files.insert(
            bundle_of(&files, 17),
            encode_bundle(bundle.iter().map(Vec::as_slice)).unwrap(),
        );
        assert_eq!(
            check_tiles(40, &tree.root(), files.clone()).unwrap_err(),
            CheckError::Dropped { index: 17 }
        );
        let mut bundle = leaves.clone();
        bundle.pop();
        files.insert(
            bundle_of(&files, 39),
            encode_bundle(bundle.iter().map(Vec::as_slice)).unwrap(),
        );
        assert_eq!(
            check_tiles(40, &tree.root(), files.clone()).unwrap_err(),
            CheckError::Dropped { index: 39 }
        );
    }

    #[test]
    fn damaged_tiles_and_a_changed_log_are_named() {
        let (leaves, tree, files) = log(300);
        let mut cut = files.clone();
        let tile0 = TileRef::parse("tile/0/001.p/44").unwrap();
        cut.get_mut(&tile0).unwrap().truncate(100);
        assert!(matches!(
            check_tiles(300, &tree.root(), cut.clone()).unwrap_err(),
            CheckError::TileLength {
                found: 100,
                expected: 1408,
                ..
            }
        ));
        let mut cut = files.clone();
        let bundle = bundle_of(&files, 0);
        let len = cut[&bundle].len();
        cut.get_mut(&bundle).unwrap().truncate(len - 3);
        assert!(matches!(
            check_tiles(300, &tree.root(), cut.clone()).unwrap_err(),
            CheckError::BadBundle { .. }
        ));
        let mut gone = files.clone();
        gone.remove(&TileRef::parse("tile/1/000.p/1").unwrap());
        assert_eq!(
            check_tiles(300, &tree.root(), gone.clone()).unwrap_err(),
            CheckError::MissingTile {
                path: "tile/1/000.p/1".into()
            }
        );
        let mut wrong = files.clone();
        wrong
            .get_mut(&TileRef::parse("tile/1/000.p/1").unwrap())
            .unwrap()[0] ^= 1;
        assert_eq!(
            check_tiles(300, &tree.root(), wrong.clone()).unwrap_err(),
            CheckError::TileMismatch {
                path: "tile/1/000.p/1".into()
            }
        );
        // Entries and hashes rewritten together, under the old signed root.
        let mut other: Vec<Vec<u8>> = leaves.clone();
        other[5] = leaf(9_999);
        let (_, forged) = all_tiles(&other).unwrap();
        assert!(matches!(
            check_tiles(300, &tree.root(), forged.clone()).unwrap_err(),
            CheckError::RootMismatch { .. }
        ));
        // Level-0 hashes damaged but entries intact: the tile is blamed, not the entries.
        let mut bad_hash = files.clone();
        bad_hash.get_mut(&tile0).unwrap()[40] ^= 1;
        assert_eq!(
            check_tiles(300, &tree.root(), bad_hash.clone()).unwrap_err(),
            CheckError::TileMismatch {
                path: "tile/0/001.p/44".into()
            }
        );
    }

    #[test]
    fn an_absurd_size_is_refused_before_anything_is_read() {
        let (_, tree, files) = log(3);
        assert_eq!(
            check_tiles(u64::MAX, &tree.root(), files.clone()).unwrap_err(),
            CheckError::TooLarge(u64::MAX)
        );
    }

    #[test]
    fn rollbacks_and_forks_are_caught() {
        let (_, tree, _) = log(50);
        let (_, old, _) = log(30);
        assert_eq!(check_extends(&tree, 30, &old.root()), Ok(()));
        assert_eq!(check_extends(&tree, 50, &tree.root()), Ok(()));
        assert_eq!(
            check_extends(&old, 50, &tree.root()),
            Err(CheckError::RolledBack { old: 50, new: 30 })
        );
        let mut fork = Tree::new();
        for i in 0..50 {
            fork.push(&leaf(if i == 3 { 77 } else { i }));
        }
        assert!(matches!(
            check_extends(&fork, 30, &old.root()),
            Err(CheckError::Forked { size: 30, .. })
        ));
    }

    /// The upper tiles computed from the height-8 nodes alone are those of the whole tree.
    #[test]
    fn upper_tiles_match_the_whole_tree() {
        for n in [0u64, 255, 256, 300, 65_535, 65_536, 70_000] {
            let (_, tree, files) = super::testing::log_of(n, |i| i.to_be_bytes().to_vec());
            let height8: Vec<[u8; 32]> = (0..n / WIDTH)
                .map(|i| tree.node(8, i).unwrap_or_else(|| panic!("node {i}")))
                .collect();
            let upper = upper_tiles(n, &height8);
            let expected: Vec<_> = files
                .iter()
                .filter(|(t, _)| matches!(t.kind, TileKind::Hashes { level } if level >= 1))
                .collect();
            assert_eq!(upper.len(), expected.len(), "{n}");
            for (tile, data) in &upper {
                assert_eq!(&files[tile], data, "{n} {}", tile.path());
            }
        }
    }
}
