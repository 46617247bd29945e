//! A log: an RFC 6962/9162 Merkle tree over entry leaves, with inclusion and
//! consistency proofs, and C2SP checkpoints signed as C2SP signed notes.
//!
//! The Merkle arithmetic is `tlog_tiles` (a port of Go's `sumdb/tlog`), the note format is
//! `signed_note`; this module puts them together for Panah and keeps the hub out of it: the
//! hub stores hashes, coordinators sign, anyone verifies.

use ed25519_dalek::VerifyingKey;
use signed_note::{Note, StandardVerifier, Verifier, VerifierList};
use tlog_tiles::{
    check_record, check_tree, node_hash, prove_record, prove_tree, record_hash, stored_hash_index,
    tree_hash, Checkpoint, Hash, HashReader,
};

use super::tiles::TileRef;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogError {
    #[error("the proof does not check: {0}")]
    BadProof(&'static str),
    #[error("index {index} is outside a tree of size {size}")]
    OutOfRange { index: u64, size: u64 },
    #[error("the checkpoint is malformed (C2SP tlog-checkpoint: origin, size, base64 root, each on its own line)")]
    MalformedCheckpoint,
    #[error("the signed note is malformed: {0}")]
    MalformedNote(String),
    #[error("no signature on the checkpoint is from a trusted key")]
    Untrusted,
    #[error("a verifier key is malformed: {0}")]
    BadVerifierKey(String),
    #[error("{0:?} is not a tile path (C2SP tlog-tiles: tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>])")]
    BadTilePath(String),
    #[error("{0:?} is not a usable log origin: one word of printable ASCII without '+', like hub.example/c/roshanai/ledger")]
    BadOrigin(String),
    #[error("the checkpoint is for {found:?}, not {expected:?}")]
    WrongOrigin { expected: String, found: String },
}

/// An in-memory tree: every stored hash of the log, as `tlog` lays them out. Enough for the
/// coordinator's CLI to recompute a root from the leaves it trusts, and for tests.
#[derive(Debug, Clone, Default)]
pub struct Tree {
    /// Plain arrays rather than `Hash`: a large tree's are allocated zeroed, not written.
    stored: Vec<[u8; 32]>,
    size: u64,
}

impl HashReader for Tree {
    fn read_hashes(&self, indexes: &[u64]) -> Result<Vec<Hash>, tlog_tiles::Error> {
        indexes
            .iter()
            .map(|&i| {
                usize::try_from(i)
                    .ok()
                    .and_then(|i| self.stored.get(i).copied())
                    .map(Hash)
                    .ok_or(tlog_tiles::Error::InvalidProof)
            })
            .collect()
    }
}

/// Levels of a subtree of 256 leaves (a tile's width).
const BLOCK_LEVELS: u8 = 8;

/// Writes, from `stored[at]` on, the subtrees completed by node `n` of `level` (whose hash
/// is `hash`): for each trailing 1 bit of `n`, the hash of its left neighbour (stored
/// before) and what is complete so far. What `tlog` stores after a node.
fn complete_at(stored: &mut [[u8; 32]], mut at: usize, hash: [u8; 32], level: u8, n: u64) {
    let (mut current, mut level, mut n) = (hash, level, n);
    while n & 1 == 1 {
        let left = usize::try_from(stored_hash_index(level, n - 1))
            .ok()
            .and_then(|i| stored.get(i))
            .copied();
        // Every left neighbour was stored before: a tree is only built by appending.
        debug_assert!(left.is_some(), "node {level}/{} missing", n - 1);
        current = node_hash(Hash(left.unwrap_or([0; 32])), Hash(current)).0;
        if let Some(slot) = stored.get_mut(at) {
            *slot = current;
        }
        at += 1;
        n >>= 1;
        level += 1;
    }
}

/// The RFC 6962 leaf hash of an entry's bytes: SHA-256(0x00 || leaf).
pub fn leaf_hash(leaf: &[u8]) -> [u8; 32] {
    record_hash(leaf).0
}

impl Tree {
    pub fn new() -> Self {
        Tree::default()
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Appends one leaf (an entry's canonical bytes).
    pub fn push(&mut self, leaf: &[u8]) {
        self.push_hash(leaf_hash(leaf));
    }

    /// Appends one leaf by its hash, and the hash of every subtree it completes (what
    /// `tlog` stores after a record: for each trailing 1 bit of the leaf's index, its left
    /// neighbour at that level and what is complete so far).
    pub fn push_hash(&mut self, hash: [u8; 32]) {
        self.stored.push(hash);
        self.complete(hash, 0, self.size);
        self.size += 1;
    }

    /// Stores the subtrees completed by node `n` of `level` (just stored, `hash`): for
    /// each trailing 1 bit of `n`, the hash of its left neighbour and what is complete.
    fn complete(&mut self, hash: [u8; 32], level: u8, n: u64) {
        let at = self.stored.len();
        self.stored.resize(at + n.trailing_ones() as usize, [0; 32]);
        complete_at(&mut self.stored, at, hash, level, n);
    }

    /// The tree of these leaf hashes, the subtrees of each 256 leaves hashed on every core.
    pub fn from_leaf_hashes(hashes: &[[u8; 32]]) -> Self {
        Tree::from_leaf_hash_bytes(&[hashes.as_flattened()])
    }

    /// [`Tree::from_leaf_hashes`] of the 32-byte hashes in `pieces`, one after another (a
    /// log's level-0 hash tiles, read where they lie). Bytes after a piece's last whole
    /// hash are not read.
    pub fn from_leaf_hash_bytes(pieces: &[&[u8]]) -> Self {
        const BLOCK: usize = 1 << BLOCK_LEVELS;
        const BLOCK_BYTES: usize = 32 * BLOCK;
        let hash = |h: &[u8]| <[u8; 32]>::try_from(h).unwrap_or([0; 32]);
        let Some((last, whole)) = pieces.split_last() else {
            return Tree::new();
        };
        if whole.iter().any(|p| p.len() % BLOCK_BYTES != 0) {
            // Blocks that straddle pieces: put together first.
            let together: Vec<u8> = pieces
                .iter()
                .flat_map(|p| &p[..p.len() - p.len() % 32])
                .copied()
                .collect();
            return Tree::from_leaf_hash_bytes(&[&together]);
        }
        // Within a block of 256 leaves (starting at a multiple of 256), what is stored is
        // the same whatever came before: each leaf and the subtrees it completes up to the
        // block's own root, 511 hashes in a row. Each block's are written in place, on
        // every core; then the subtrees above the blocks, in order.
        let blocks = pieces.iter().map(|p| p.len() / BLOCK_BYTES).sum::<usize>();
        let stored_at = |k: usize| {
            usize::try_from(stored_hash_index(0, (k * BLOCK) as u64)).unwrap_or(usize::MAX)
        };
        let mut stored = vec![[0; 32]; stored_at(blocks)];
        let mut parts = Vec::with_capacity(blocks);
        let mut left = &mut stored[..];
        let all_blocks = pieces.iter().flat_map(|p| p.chunks_exact(BLOCK_BYTES));
        for (k, block) in all_blocks.enumerate() {
            // The block's own hashes, then those of the subtrees it completes above.
            let above = k.trailing_ones() as usize;
            let (own, rest) = std::mem::take(&mut left).split_at_mut(2 * BLOCK - 1);
            left = &mut rest[above..];
            parts.push((block, own));
        }
        crate::par::for_each(parts, |(block, own): (&[u8], &mut [[u8; 32]])| {
            let mut lefts = [Hash([0; 32]); BLOCK_LEVELS as usize + 1];
            let mut out = own.iter_mut();
            let mut put = |h: Hash| {
                if let Some(slot) = out.next() {
                    *slot = h.0;
                }
            };
            for (j, h) in block.chunks_exact(32).enumerate() {
                let mut current = Hash(hash(h));
                put(current);
                let (mut m, mut level) = (j, 0);
                while m & 1 == 1 {
                    current = node_hash(lefts[level], current);
                    put(current);
                    m >>= 1;
                    level += 1;
                }
                lefts[level] = current;
            }
        });
        for k in 0..blocks {
            let root = stored_at(k) + 2 * BLOCK - 2;
            let hash = stored[root];
            complete_at(&mut stored, root + 1, hash, BLOCK_LEVELS, k as u64);
        }
        let mut tree = Tree {
            stored,
            size: (blocks * BLOCK) as u64,
        };
        for h in last.chunks_exact(BLOCK_BYTES).remainder().chunks_exact(32) {
            tree.push_hash(hash(h));
        }
        tree
    }

    /// The hash of node `n` at tree level `level`, if the tree has it.
    pub fn node(&self, level: u8, n: u64) -> Option<[u8; 32]> {
        usize::try_from(stored_hash_index(level, n))
            .ok()
            .and_then(|i| self.stored.get(i))
            .filter(|_| (n + 1) << level <= self.size)
            .copied()
    }

    /// The bytes of a hash tile of this tree, or `None` if the tree does not reach it.
    pub fn tile_data(&self, tile: &TileRef) -> Option<Vec<u8>> {
        let level = tile.tree_level();
        let mut out = Vec::with_capacity(usize::from(tile.width) * 32);
        for i in 0..u64::from(tile.width) {
            out.extend_from_slice(&self.node(level, tile.first() + i)?);
        }
        Some(out)
    }

    /// Whether `data` is exactly the hash tile `tile` of this tree (compared in place,
    /// as a verifier does for every tile of a log).
    pub fn has_tile(&self, tile: &TileRef, data: &[u8]) -> bool {
        let level = tile.tree_level();
        data.len() == usize::from(tile.width) * 32
            && data
                .chunks_exact(32)
                .zip(tile.first()..)
                .all(|(want, n)| self.node(level, n).is_some_and(|h| h == want))
    }

    /// The root hash (RFC 6962 MTH) of the first `size` leaves.
    pub fn root_at(&self, size: u64) -> Result<[u8; 32], LogError> {
        if size > self.size {
            return Err(LogError::OutOfRange {
                index: size,
                size: self.size,
            });
        }
        tree_hash(size, self)
            .map(|h| h.0)
            .map_err(|_| LogError::BadProof("cannot compute root"))
    }

    pub fn root(&self) -> [u8; 32] {
        self.root_at(self.size).unwrap_or(tlog_tiles::EMPTY_HASH.0)
    }

    /// Proof that leaf `index` is in the tree of size `size`.
    pub fn inclusion_proof(&self, index: u64, size: u64) -> Result<Vec<[u8; 32]>, LogError> {
        if index >= size || size > self.size {
            return Err(LogError::OutOfRange { index, size });
        }
        prove_record(size, index, self)
            .map(|p| p.into_iter().map(|h| h.0).collect())
            .map_err(|_| LogError::BadProof("cannot build the inclusion proof"))
    }

    /// Proof that the tree of size `old` is a prefix of the tree of size `new`.
    pub fn consistency_proof(&self, old: u64, new: u64) -> Result<Vec<[u8; 32]>, LogError> {
        if old > new || new > self.size {
            return Err(LogError::OutOfRange {
                index: old,
                size: new,
            });
        }
        prove_tree(new, old, self)
            .map(|p| p.into_iter().map(|h| h.0).collect())
            .map_err(|_| LogError::BadProof("cannot build the consistency proof"))
    }
}

/// Checks that `leaf` is entry `index` of the tree of `size` with root `root`.
pub fn check_inclusion(
    proof: &[[u8; 32]],
    size: u64,
    root: &[u8; 32],
    index: u64,
    leaf: &[u8],
) -> Result<(), LogError> {
    let proof: Vec<Hash> = proof.iter().map(|h| Hash(*h)).collect();
    check_record(&proof, size, Hash(*root), index, record_hash(leaf))
        .map_err(|_| LogError::BadProof("the entry is not in the tree under this root"))
}

/// Checks that the tree (`old_size`, `old_root`) is a prefix of (`new_size`, `new_root`):
/// no past entry was rewritten or dropped.
pub fn check_consistency(
    proof: &[[u8; 32]],
    old_size: u64,
    old_root: &[u8; 32],
    new_size: u64,
    new_root: &[u8; 32],
) -> Result<(), LogError> {
    let proof: Vec<Hash> = proof.iter().map(|h| Hash(*h)).collect();
    check_tree(&proof, new_size, Hash(*new_root), old_size, Hash(*old_root)).map_err(|_| {
        LogError::BadProof("the newer tree does not extend the older one: history was rewritten")
    })
}

/// The body of a C2SP tlog-checkpoint: `origin\nsize\nbase64(root)\n`.
pub fn checkpoint_body(origin: &str, size: u64, root: &[u8; 32]) -> Result<Vec<u8>, LogError> {
    Checkpoint::new(origin, size, Hash(*root), "")
        .map(|c| c.to_bytes())
        .map_err(|_| LogError::MalformedCheckpoint)
}

/// Longest log origin, in bytes.
pub const MAX_ORIGIN: usize = 200;

/// Checks a log origin: it names the log in every checkpoint and is the coordinators' key
/// name, so it is one word of printable ASCII (a schema-less URL such as
/// `hub.example/c/roshanai/ledger`), without `+`.
pub fn check_origin(origin: &str) -> Result<(), LogError> {
    let ok = !origin.is_empty()
        && origin.len() <= MAX_ORIGIN
        && origin.bytes().all(|b| b.is_ascii_graphic() && b != b'+')
        && signed_note::is_key_name_valid(origin);
    if ok {
        Ok(())
    } else {
        Err(LogError::BadOrigin(origin.chars().take(60).collect()))
    }
}

/// Reads the checkpoint inside a signed note without checking any signature: for a hub
/// showing what it stores, never for a verifier.
pub fn unverified_checkpoint(note: &[u8]) -> Result<(String, u64, [u8; 32]), LogError> {
    let note = Note::from_bytes(note).map_err(|e| LogError::MalformedNote(format!("{e:?}")))?;
    let c = Checkpoint::from_bytes(note.text()).map_err(|_| LogError::MalformedCheckpoint)?;
    Ok((c.origin().to_owned(), c.size(), c.hash().0))
}

/// A coordinator's C2SP signed-note verifier key: `name+keyhash+base64(0x01 || key)`.
pub fn verifier_key(name: &str, key: &VerifyingKey) -> String {
    signed_note::new_ed25519_verifier_key(name, key)
}

/// What a verified checkpoint says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCheckpoint {
    pub origin: String,
    pub size: u64,
    pub root: [u8; 32],
    /// Names of the trusted keys whose signatures checked.
    pub signers: Vec<String>,
}

/// Verifies a signed checkpoint against trusted verifier keys and the expected origin.
pub fn verify_checkpoint(
    note: &[u8],
    trusted: &[String],
    origin: &str,
) -> Result<VerifiedCheckpoint, LogError> {
    let mut verifiers: Vec<Box<dyn Verifier>> = Vec::with_capacity(trusted.len());
    for key in trusted {
        let v = StandardVerifier::new(key)
            .map_err(|e| LogError::BadVerifierKey(format!("{key}: {e:?}")))?;
        verifiers.push(Box::new(v));
    }
    let note = Note::from_bytes(note).map_err(|e| LogError::MalformedNote(format!("{e:?}")))?;
    let (verified, _unknown) = note
        .verify(&VerifierList::new(verifiers))
        .map_err(|_| LogError::Untrusted)?;
    if verified.is_empty() {
        return Err(LogError::Untrusted);
    }
    let checkpoint =
        Checkpoint::from_bytes(note.text()).map_err(|_| LogError::MalformedCheckpoint)?;
    if checkpoint.origin() != origin {
        return Err(LogError::WrongOrigin {
            expected: origin.to_owned(),
            found: checkpoint.origin().to_owned(),
        });
    }
    Ok(VerifiedCheckpoint {
        origin: checkpoint.origin().to_owned(),
        size: checkpoint.size(),
        root: checkpoint.hash().0,
        signers: verified.iter().map(|s| s.name().to_owned()).collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// RFC 6962 test vectors (as published with certificate-transparency's merkle tree tests).
    const LEAVES: [&str; 8] = [
        "",
        "00",
        "10",
        "2021",
        "3031",
        "40414243",
        "5051525354555657",
        "606162636465666768696a6b6c6d6e6f",
    ];
    const ROOTS: [&str; 8] = [
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    fn unhex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    use crate::hex;

    #[test]
    fn rfc6962_roots() {
        let mut tree = Tree::new();
        assert_eq!(
            hex(&tree.root()),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        for (leaf, root) in LEAVES.iter().zip(ROOTS) {
            tree.push(&unhex(leaf));
            assert_eq!(hex(&tree.root()), root, "size {}", tree.size());
        }
        for (n, root) in ROOTS.iter().enumerate() {
            assert_eq!(hex(&tree.root_at(n as u64 + 1).unwrap()), *root);
        }
    }

    fn tree_of(n: u64) -> (Tree, Vec<Vec<u8>>) {
        let mut t = Tree::new();
        let leaves: Vec<Vec<u8>> = (0..n).map(|i| format!("entry {i}").into_bytes()).collect();
        for l in &leaves {
            t.push(l);
        }
        (t, leaves)
    }

    /// The hashes stored are those of Go's `tlog` (as ported by `tlog_tiles`), whether the
    /// leaves come one by one or all at once, spread over the cores.
    #[test]
    fn stored_hashes_are_tlogs() {
        for n in [
            0u64,
            1,
            2,
            3,
            255,
            256,
            257,
            511,
            512,
            513,
            1024,
            3 * 256 + 5,
            7 * 256 + 255,
            20 * 256,
            65_537,
        ] {
            let hashes: Vec<[u8; 32]> = (0..n).map(|i| leaf_hash(&i.to_be_bytes())).collect();
            let mut oracle = Tree::new();
            for (i, h) in hashes.iter().enumerate() {
                let new =
                    tlog_tiles::stored_hashes_for_record_hash(i as u64, Hash(*h), &oracle).unwrap();
                oracle.stored.extend(new.iter().map(|h| h.0));
                oracle.size += 1;
            }
            let mut pushed = Tree::new();
            for h in &hashes {
                pushed.push_hash(*h);
            }
            let at_once = Tree::from_leaf_hashes(&hashes);
            // In pieces of whole tiles, or of any length.
            for piece in [256, 512, 100] {
                let pieces: Vec<&[u8]> = hashes.chunks(piece).map(|p| p.as_flattened()).collect();
                assert_eq!(
                    Tree::from_leaf_hash_bytes(&pieces).stored,
                    oracle.stored,
                    "{n} in {piece}s"
                );
            }
            assert_eq!(pushed.stored, oracle.stored, "{n}");
            assert_eq!(at_once.stored, oracle.stored, "{n}");
            assert_eq!((pushed.size, at_once.size), (n, n));
            assert_eq!(at_once.root(), oracle.root());
            // Built at once, then grown one by one: still the same.
            let half = hashes.len() / 2;
            let mut mixed = Tree::from_leaf_hashes(&hashes[..half]);
            for h in &hashes[half..] {
                mixed.push_hash(*h);
            }
            assert_eq!(mixed.stored, oracle.stored, "{n}");
            assert_eq!(oracle.stored.len() as u64, tlog_tiles::stored_hash_count(n));
        }
    }

    proptest! {
        #[test]
        fn inclusion_proofs_check_and_tampering_never_does(size in 1u64..200, seed in any::<u64>(), flip in any::<usize>()) {
            let (t, leaves) = tree_of(size);
            let index = seed % size;
            let root = t.root();
            let proof = t.inclusion_proof(index, size).unwrap();
            prop_assert!(check_inclusion(&proof, size, &root, index, &leaves[index as usize]).is_ok());
            prop_assert!(check_inclusion(&proof, size, &root, index, b"forged entry").is_err());
            if !proof.is_empty() {
                let mut bad = proof.clone();
                let i = flip % bad.len();
                bad[i][flip % 32] ^= 1;
                prop_assert!(check_inclusion(&bad, size, &root, index, &leaves[index as usize]).is_err());
            }
            if size > 1 {
                prop_assert!(check_inclusion(&proof, size, &root, (index + 1) % size, &leaves[index as usize]).is_err());
            }
        }

        #[test]
        fn consistency_proofs_check_and_forks_never_do(new in 1u64..200, old_seed in any::<u64>()) {
            let (t, _) = tree_of(new);
            let old = 1 + old_seed % new;
            let proof = t.consistency_proof(old, new).unwrap();
            let (old_root, new_root) = (t.root_at(old).unwrap(), t.root());
            prop_assert!(check_consistency(&proof, old, &old_root, new, &new_root).is_ok());
            // A fork: the same size, one rewritten entry.
            let mut forked = Tree::new();
            for i in 0..new {
                forked.push(if i == old - 1 { b"rewritten".to_vec() } else { format!("entry {i}").into_bytes() }.as_slice());
            }
            let fork_proof = forked.consistency_proof(old, new).unwrap();
            prop_assert!(check_consistency(&fork_proof, old, &old_root, new, &forked.root()).is_err());
        }
    }

    #[test]
    fn checkpoints_are_c2sp_bytes_and_verify_only_with_trusted_keys() {
        use base64::Engine;
        let (t, _) = tree_of(8);
        let body = checkpoint_body("hub.example/c/roshanai/ledger", 8, &t.root()).unwrap();
        // C2SP tlog-checkpoint, checked against the text of the spec, not this code.
        let expected = format!(
            "hub.example/c/roshanai/ledger\n8\n{}\n",
            base64::engine::general_purpose::STANDARD.encode(t.root())
        );
        assert_eq!(String::from_utf8(body.clone()).unwrap(), expected);

        let (skey, vkey) = signed_note::generate_key(&mut rand::rngs::OsRng, "roshanai-treasurer");
        let signer = signed_note::StandardSigner::new(&skey).unwrap();
        let mut note = Note::new(&body, &[]).unwrap();
        note.add_sigs(&[&signer]).unwrap();
        let signed = note.to_bytes();
        // Signed note: text, a blank line, then "— name base64(keyhash || sig)".
        let text = String::from_utf8(signed.clone()).unwrap();
        assert!(text.starts_with(&expected));
        assert!(
            text[expected.len()..].starts_with("\n\u{2014} roshanai-treasurer "),
            "{text}"
        );

        let ok = verify_checkpoint(
            &signed,
            std::slice::from_ref(&vkey),
            "hub.example/c/roshanai/ledger",
        )
        .unwrap();
        assert_eq!(
            (ok.size, ok.root, ok.signers.clone()),
            (8, t.root(), vec!["roshanai-treasurer".to_owned()])
        );
        let (_, stranger) = signed_note::generate_key(&mut rand::rngs::OsRng, "roshanai-treasurer");
        assert_eq!(
            verify_checkpoint(&signed, &[stranger], "hub.example/c/roshanai/ledger"),
            Err(LogError::Untrusted)
        );
        assert!(matches!(
            verify_checkpoint(&signed, std::slice::from_ref(&vkey), "other/ledger"),
            Err(LogError::WrongOrigin { .. })
        ));
        let mut tampered = signed.clone();
        tampered[expected.len() - 3] ^= 1;
        assert!(verify_checkpoint(&tampered, &[vkey], "hub.example/c/roshanai/ledger").is_err());
    }

    #[test]
    fn verifier_keys_have_the_c2sp_shape() {
        let sk = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        let key = verifier_key("roshanai-treasurer", &sk.verifying_key());
        use base64::Engine;
        // The base64 part may itself contain '+', so split at the first two only.
        let parts: Vec<&str> = key.splitn(3, '+').collect();
        assert_eq!(parts.len(), 3, "{key}");
        assert_eq!(parts[0], "roshanai-treasurer");
        assert_eq!(parts[1].len(), 8, "key hash is 4 bytes in hex");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(parts[2])
            .unwrap();
        assert_eq!(raw.len(), 33);
        assert_eq!(raw[0], 0x01, "algorithm byte for Ed25519");
        assert_eq!(&raw[1..], sk.verifying_key().as_bytes());
    }
}
