//! C2SP tlog-tiles: where the log's hashes and entries are published, and how a party that
//! holds only some of the stored hashes (the hub, reading them from its database) computes
//! roots, appends and proofs.
//!
//! Paths are relative to the log's prefix (`/c/{slug}/ledger/` for the fund ledger): hash tiles at
//! `tile/<L>/<N>[.p/<W>]` and entry bundles at `tile/entries/<N>[.p/<W>]`, with `N` written
//! in three-digit groups (`x001/x234/067`) and tiles of height 8 (256 hashes or entries).

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap};
use std::ops::Range;

use tlog_tiles::{
    prove_record, split_stored_hash_index, stored_hash_count, stored_hash_index,
    stored_hashes_for_record_hash, tree_hash, Hash, HashReader,
};

use super::tree::{leaf_hash, LogError};

/// Tree levels per tile level.
pub const HEIGHT: u8 = 8;
/// Hashes (or entries) in a full tile.
pub const WIDTH: u64 = 1 << HEIGHT;
/// Tile indexes stop here: a tile's first position must fit in 64 bits.
pub const MAX_INDEX: u64 = 1 << (64 - HEIGHT);
/// The longest entry an entry bundle can carry (a 16-bit length prefix).
pub const MAX_ENTRY: usize = u16::MAX as usize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum TileKind {
    /// Hashes of tree level `8 × level`.
    Hashes { level: u8 },
    /// The entries themselves.
    Entries,
}

/// One tile of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TileRef {
    pub kind: TileKind,
    pub index: u64,
    /// 1..=256; 256 is a full tile.
    pub width: u16,
}

impl TileRef {
    /// Parses a path such as `tile/0/x001/234`, `tile/1/000.p/7` or `tile/entries/002`.
    pub fn parse(path: &str) -> Result<Self, LogError> {
        let bad = || LogError::BadTilePath(path.chars().take(80).collect());
        if path.len() > 80 {
            return Err(bad());
        }
        let rest = path.strip_prefix("tile/").ok_or_else(bad)?;
        let (kind_part, rest) = rest.split_once('/').ok_or_else(bad)?;
        let kind = if kind_part == "entries" {
            TileKind::Entries
        } else {
            let level: u8 = kind_part.parse().map_err(|_| bad())?;
            if level > 7 || kind_part != level.to_string() {
                return Err(bad());
            }
            TileKind::Hashes { level }
        };
        let (index_part, width) = match rest.split_once(".p/") {
            Some((i, w)) => {
                let width: u16 = w.parse().map_err(|_| bad())?;
                if width == 0 || u64::from(width) >= WIDTH || w != width.to_string() {
                    return Err(bad());
                }
                (i, width)
            }
            None => (rest, WIDTH as u16),
        };
        let mut index: u64 = 0;
        let groups: Vec<&str> = index_part.split('/').collect();
        for (i, group) in groups.iter().enumerate() {
            let last = i + 1 == groups.len();
            let digits = if last {
                *group
            } else {
                group.strip_prefix('x').ok_or_else(bad)?
            };
            if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            let value: u64 = digits.parse().map_err(|_| bad())?;
            index = index
                .checked_mul(1000)
                .and_then(|i| i.checked_add(value))
                .ok_or_else(bad)?;
        }
        // Tiles past 2^56 would cover positions beyond 2^64.
        if index >= MAX_INDEX {
            return Err(bad());
        }
        let tile = TileRef { kind, index, width };
        if tile.path() != path {
            return Err(bad());
        }
        Ok(tile)
    }

    pub fn path(&self) -> String {
        let mut n = self.index;
        let mut digits = format!("{:03}", n % 1000);
        while n >= 1000 {
            n /= 1000;
            digits = format!("x{:03}/{digits}", n % 1000);
        }
        let kind = match self.kind {
            TileKind::Hashes { level } => level.to_string(),
            TileKind::Entries => "entries".to_owned(),
        };
        let partial = if u64::from(self.width) == WIDTH {
            String::new()
        } else {
            format!(".p/{}", self.width)
        };
        format!("tile/{kind}/{digits}{partial}")
    }

    pub fn is_full(&self) -> bool {
        u64::from(self.width) == WIDTH
    }

    /// The first position this tile covers at its own level (an entry index for bundles
    /// and level-0 tiles).
    pub fn first(&self) -> u64 {
        self.index.saturating_mul(WIDTH)
    }

    /// The tree level whose hashes a hash tile holds.
    pub fn tree_level(&self) -> u8 {
        match self.kind {
            TileKind::Hashes { level } => level * HEIGHT,
            TileKind::Entries => 0,
        }
    }

    /// How wide this tile may be in a tree of `size`: `None` if the tree does not reach it.
    pub fn available_width(&self, size: u64) -> Option<u16> {
        let count = size >> self.tree_level();
        let first = self.first();
        if count <= first {
            return None;
        }
        Some(u16::try_from((count - first).min(WIDTH)).unwrap_or(WIDTH as u16))
    }
}

/// Every tile of a tree of `size`: the hash tiles of every level, then the entry bundles.
pub fn tiles_for(size: u64) -> Vec<TileRef> {
    let mut tiles = Vec::new();
    let push_level = |tiles: &mut Vec<TileRef>, kind: TileKind, count: u64| {
        for index in 0..count.div_ceil(WIDTH) {
            let width = (count - index * WIDTH).min(WIDTH) as u16;
            tiles.push(TileRef { kind, index, width });
        }
    };
    for level in 0..8u8 {
        let count = size >> (level * HEIGHT);
        if count == 0 {
            break;
        }
        push_level(&mut tiles, TileKind::Hashes { level }, count);
    }
    push_level(&mut tiles, TileKind::Entries, size);
    tiles
}

/// An entry bundle: each entry as a big-endian 16-bit length and its bytes. An entry longer
/// than [`MAX_ENTRY`] cannot be written (a valid ledger entry is far shorter); its position
/// in `entries` is the error.
pub fn encode_bundle<'a>(entries: impl IntoIterator<Item = &'a [u8]>) -> Result<Vec<u8>, usize> {
    let mut out = Vec::new();
    for (i, e) in entries.into_iter().enumerate() {
        let len = u16::try_from(e.len()).map_err(|_| i)?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(e);
    }
    Ok(out)
}

/// Reads an entry bundle. A bundle that ends inside an entry is refused; the number of
/// entries is for the caller to check against the tile's width.
pub fn decode_bundle(bytes: &[u8]) -> Result<Vec<Vec<u8>>, String> {
    Ok(bundle_entries(bytes)?
        .into_iter()
        .map(<[u8]>::to_vec)
        .collect())
}

/// [`decode_bundle`] without copying: the entries as they lie in the bundle.
pub fn bundle_entries(bytes: &[u8]) -> Result<Vec<&[u8]>, String> {
    bundle_ranges(bytes).map(|r| r.map(|r| &bytes[r])).collect()
}

/// Where each entry of a bundle lies in it, in order, up to an error if the bundle ends
/// inside an entry or its length.
pub fn bundle_ranges(bytes: &[u8]) -> impl Iterator<Item = Result<Range<usize>, String>> + '_ {
    let (mut at, mut n, mut failed) = (0, 0, false);
    std::iter::from_fn(move || {
        if failed || at == bytes.len() {
            return None;
        }
        let Some(&[a, b]) = bytes.get(at..at + 2) else {
            failed = true;
            return Some(Err(format!(
                "it ends inside the length of entry {n} of the bundle"
            )));
        };
        let len = usize::from(u16::from_be_bytes([a, b]));
        let left = bytes.len() - at - 2;
        if left < len {
            failed = true;
            return Some(Err(format!(
                "entry {n} of the bundle should have {len} bytes but only {left} are left"
            )));
        }
        let range = at + 2..at + 2 + len;
        at = range.end;
        n += 1;
        Some(Ok(range))
    })
}

/// The entries of a log, where they lie: in a verifier, the entry bundles as downloaded
/// (a million entries are a few thousand buffers, not copied again).
#[derive(Debug, Clone, Default)]
pub struct LeafList {
    buffers: Vec<Vec<u8>>,
    /// Each entry's buffer, and where it starts and ends in it.
    at: Vec<Span>,
}

/// Where an entry of a [`LeafList`] lies.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Span {
    pub(crate) buffer: u32,
    pub(crate) start: u32,
    pub(crate) end: u32,
}

impl LeafList {
    /// The entries at `at` in `buffers`: refused (`None`) if a span is outside its buffer.
    pub(crate) fn of(buffers: Vec<Vec<u8>>, at: Vec<Span>) -> Option<Self> {
        let list = LeafList { buffers, at };
        (0..list.len())
            .all(|i| list.get(i).is_some())
            .then_some(list)
    }

    pub fn push(&mut self, leaf: &[u8]) {
        // A buffer is indexed by u32: a new one long before that fills up.
        let fits = |b: &Vec<u8>| b.len() + leaf.len() <= (u32::MAX / 2) as usize;
        if !self.buffers.last().is_some_and(fits) {
            self.buffers.push(Vec::new());
        }
        let buffer = self.buffers.len() - 1;
        let last = &mut self.buffers[buffer];
        let start = last.len();
        last.extend_from_slice(leaf);
        self.at.push(Span {
            buffer: buffer as u32,
            start: start as u32,
            end: last.len() as u32,
        });
    }

    pub fn len(&self) -> usize {
        self.at.len()
    }

    pub fn is_empty(&self) -> bool {
        self.at.is_empty()
    }

    /// Entry `i`'s bytes.
    pub fn get(&self, i: usize) -> Option<&[u8]> {
        let span = self.at.get(i)?;
        self.buffers
            .get(span.buffer as usize)?
            .get(span.start as usize..span.end as usize)
    }

    pub fn iter(&self) -> impl ExactSizeIterator<Item = &[u8]> + '_ {
        (0..self.len()).map(|i| self.get(i).unwrap_or_default())
    }
}

/// The same entries, wherever they lie.
impl PartialEq for LeafList {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().eq(other.iter())
    }
}

impl Eq for LeafList {}

impl std::ops::Index<usize> for LeafList {
    type Output = [u8];

    fn index(&self, i: usize) -> &[u8] {
        self.get(i)
            .unwrap_or_else(|| panic!("entry {i} of a list of {}", self.len()))
    }
}

impl<'a> FromIterator<&'a [u8]> for LeafList {
    fn from_iter<I: IntoIterator<Item = &'a [u8]>>(leaves: I) -> Self {
        let mut list = LeafList::default();
        for leaf in leaves {
            list.push(leaf);
        }
        list
    }
}

/// A node of the tree: (tree level, index within level).
pub type Node = (u8, u64);

/// Some stored hashes of a log, by node. Reading one that is missing is remembered, so a
/// caller can fetch exactly what an operation needs and run it again.
#[derive(Debug, Default)]
pub struct Sparse {
    known: HashMap<u64, Hash>,
    missing: RefCell<BTreeSet<u64>>,
}

impl HashReader for Sparse {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        Ok(indexes
            .iter()
            .map(|i| {
                self.known.get(i).copied().unwrap_or_else(|| {
                    self.missing.borrow_mut().insert(*i);
                    Hash([0; 32])
                })
            })
            .collect())
    }
}

/// Why a sparse computation could not finish.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SparseError {
    /// Fetch these nodes and try again.
    #[error("{} stored hashes are needed", .0.len())]
    Needed(Vec<Node>),
    #[error(transparent)]
    Log(#[from] LogError),
}

impl Sparse {
    pub fn new(known: &HashMap<Node, [u8; 32]>) -> Self {
        Sparse {
            known: known
                .iter()
                .map(|(&(level, n), h)| (stored_hash_index(level, n), Hash(*h)))
                .collect(),
            missing: RefCell::default(),
        }
    }

    fn needed(&self) -> Result<(), SparseError> {
        let missing = self.missing.borrow();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(SparseError::Needed(
                missing
                    .iter()
                    .map(|&i| split_stored_hash_index(i))
                    .collect(),
            ))
        }
    }
}

/// What appending leaves to a log produces: the new stored hashes and the new root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Extension {
    pub hashes: Vec<(Node, [u8; 32])>,
    pub size: u64,
    pub root: [u8; 32],
}

/// Appends `leaves` to a log of `size` of which the hashes in `known` are at hand.
pub fn extend(
    size: u64,
    leaves: &[&[u8]],
    known: &HashMap<Node, [u8; 32]>,
) -> Result<Extension, SparseError> {
    let mut sparse = Sparse::new(known);
    let mut hashes = Vec::new();
    for (i, leaf) in leaves.iter().enumerate() {
        let n = size + i as u64;
        let new = stored_hashes_for_record_hash(n, Hash(leaf_hash(leaf)), &sparse)
            .map_err(|_| LogError::BadProof("cannot append"))?;
        let first = stored_hash_count(n);
        for (k, h) in new.into_iter().enumerate() {
            let index = first + k as u64;
            sparse.known.insert(index, h);
            hashes.push((split_stored_hash_index(index), h.0));
        }
    }
    let new_size = size + leaves.len() as u64;
    let root =
        tree_hash(new_size, &sparse).map_err(|_| LogError::BadProof("cannot compute root"))?;
    sparse.needed()?;
    Ok(Extension {
        hashes,
        size: new_size,
        root: root.0,
    })
}

/// The root of a tree of `size`, from the stored hashes at hand.
pub fn root(size: u64, known: &HashMap<Node, [u8; 32]>) -> Result<[u8; 32], SparseError> {
    let sparse = Sparse::new(known);
    let root = tree_hash(size, &sparse).map_err(|_| LogError::BadProof("cannot compute root"))?;
    sparse.needed()?;
    Ok(root.0)
}

/// The inclusion proof of entry `index` in the tree of `size`, from the stored hashes at hand.
pub fn inclusion_proof(
    index: u64,
    size: u64,
    known: &HashMap<Node, [u8; 32]>,
) -> Result<Vec<[u8; 32]>, SparseError> {
    if index >= size {
        return Err(LogError::OutOfRange { index, size }.into());
    }
    let sparse = Sparse::new(known);
    let proof = prove_record(size, index, &sparse)
        .map_err(|_| LogError::BadProof("cannot build the inclusion proof"))?;
    sparse.needed()?;
    Ok(proof.into_iter().map(|h| h.0).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tlog::tree::{check_inclusion, Tree};
    use proptest::prelude::*;

    /// Runs a sparse computation against a full tree, fetching what it asks for, and
    /// counts the rounds.
    fn run<T>(
        tree: &Tree,
        op: impl Fn(&HashMap<Node, [u8; 32]>) -> Result<T, SparseError>,
    ) -> (T, usize) {
        let mut known = HashMap::new();
        for round in 1..5 {
            match op(&known) {
                Ok(v) => return (v, round),
                Err(SparseError::Needed(nodes)) => {
                    for node in nodes {
                        known.insert(node, tree.node(node.0, node.1).unwrap());
                    }
                }
                Err(e) => panic!("{e}"),
            }
        }
        panic!("no answer after 4 rounds");
    }

    #[test]
    fn paths_are_c2sp() {
        let t = |kind, index, width| TileRef { kind, index, width };
        let cases = [
            (t(TileKind::Hashes { level: 0 }, 0, 256), "tile/0/000"),
            (t(TileKind::Hashes { level: 1 }, 3, 7), "tile/1/003.p/7"),
            (
                t(TileKind::Hashes { level: 0 }, 1_234_067, 256),
                "tile/0/x001/x234/067",
            ),
            (
                t(TileKind::Entries, 1_000, 255),
                "tile/entries/x001/000.p/255",
            ),
        ];
        for (tile, path) in cases {
            assert_eq!(tile.path(), path);
            assert_eq!(TileRef::parse(path), Ok(tile));
        }
        for bad in [
            "tile/0/0",
            "tile/0/1000",
            "tile/0/001/002",
            "tile/8/000",
            "tile/00/000",
            "tile/0/000.p/0",
            "tile/0/000.p/256",
            "tile/0/000.p/07",
            "tile/data/000",
            "tile/0/x000/001",
            "tile/entries/",
            "tiles/0/000",
            "tile/0/x99999999999999999999/000",
            "tile/0/x072/x057/x594/x037/x927/936",
        ] {
            assert!(TileRef::parse(bad).is_err(), "{bad} was accepted");
        }
    }

    #[test]
    fn tiles_for_a_tree() {
        let paths: Vec<String> = tiles_for(70_000).iter().map(TileRef::path).collect();
        assert_eq!(paths[0], "tile/0/000");
        assert!(paths.contains(&"tile/0/273.p/112".to_owned()));
        // 70,000 >> 8 = 273 level-1 hashes; 70,000 >> 16 = 1 level-2 hash.
        assert!(paths.contains(&"tile/1/000".to_owned()));
        assert!(paths.contains(&"tile/1/001.p/17".to_owned()));
        assert!(paths.contains(&"tile/2/000.p/1".to_owned()));
        assert!(!paths.iter().any(|p| p.starts_with("tile/3/")));
        assert_eq!(paths.last().unwrap(), "tile/entries/273.p/112");
        assert_eq!(paths.len(), 274 + 2 + 1 + 274);
        assert!(tiles_for(0).is_empty());
    }

    #[test]
    fn bundles_round_trip_and_truncation_is_caught() {
        let entries: Vec<&[u8]> = vec![b"one", b"", b"three"];
        let bytes = encode_bundle(entries.iter().copied()).unwrap();
        assert_eq!(&bytes[..5], b"\x00\x03one");
        let huge = vec![b'x'; MAX_ENTRY + 1];
        assert_eq!(
            encode_bundle([b"ok".as_slice(), &huge]),
            Err(1),
            "never cut short"
        );
        assert_eq!(decode_bundle(&bytes).unwrap(), entries);
        for cut in 1..bytes.len() {
            let decoded = decode_bundle(&bytes[..cut]);
            assert!(
                decoded.is_err() || decoded.as_ref().unwrap().len() < 3,
                "cut at {cut}"
            );
        }
        assert!(decode_bundle(&bytes[..bytes.len() - 1]).is_err());
    }

    proptest! {
        #[test]
        fn sparse_append_and_proofs_match_the_full_tree(
            size in 0u64..600, add in 1usize..20, at in any::<u64>()
        ) {
            let mut tree = Tree::new();
            for i in 0..size {
                tree.push(format!("leaf {i}").as_bytes());
            }
            let leaves: Vec<Vec<u8>> = (0..add).map(|i| format!("new {i}").into_bytes()).collect();
            let refs: Vec<&[u8]> = leaves.iter().map(Vec::as_slice).collect();
            let (ext, rounds) = run(&tree, |known| extend(size, &refs, known));
            prop_assert!(rounds <= 2);
            for leaf in &leaves {
                tree.push(leaf);
            }
            prop_assert_eq!(ext.root, tree.root());
            prop_assert_eq!(ext.size, tree.size());
            for ((level, n), hash) in &ext.hashes {
                prop_assert_eq!(tree.node(*level, *n), Some(*hash));
            }
            let (r, _) = run(&tree, |known| root(tree.size(), known));
            prop_assert_eq!(r, tree.root());
            let index = at % tree.size();
            let (proof, _) = run(&tree, |known| inclusion_proof(index, tree.size(), known));
            prop_assert_eq!(&proof, &tree.inclusion_proof(index, tree.size()).unwrap());
            let leaf = if index < size { format!("leaf {index}").into_bytes() } else { leaves[(index - size) as usize].clone() };
            prop_assert!(check_inclusion(&proof, tree.size(), &tree.root(), index, &leaf).is_ok());
        }

        #[test]
        fn tile_paths_round_trip(level in 0u8..8, index in 0..MAX_INDEX, width in 1u16..=256, entries in any::<bool>()) {
            let kind = if entries { TileKind::Entries } else { TileKind::Hashes { level } };
            let tile = TileRef { kind, index, width };
            prop_assert_eq!(TileRef::parse(&tile.path()), Ok(tile));
        }

        #[test]
        // Paths shaped like tile paths, canonical or nearly (leading zeros, wrong group
        // widths, a zero or full width, a level past 7), so that many of them parse: whatever
        // parses must be exactly the path it was read from.
        fn any_path_parses_only_to_itself(
            path in "tile/(entries|[0-9]{1,2})/(x[0-9]{2,4}/){0,2}[0-9]{2,4}(\\.p/[0-9]{1,3})?"
        ) {
            if let Ok(tile) = TileRef::parse(&path) {
                prop_assert_eq!(tile.path(), path);
            }
        }
    }
}
