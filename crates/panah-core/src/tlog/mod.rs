//! One log primitive for every public, append-only log Panah keeps: the fund ledger today,
//! the team of coordinators next. A log is a sequence of opaque entries (leaf bytes) under
//! an RFC 6962/9162 Merkle tree, published as C2SP tlog-tiles and signed as C2SP
//! checkpoints in signed notes.
//!
//! Nothing here knows what an entry means: [`check::check_tiles`] turns a downloaded set
//! of tiles into the leaves and tree a signed checkpoint commits to, and each kind of log
//! (see `crate::ledger::audit`) checks its own records on top.

pub mod check;
pub mod tiles;
pub mod tree;

pub use check::{all_tiles, check_extends, check_tiles, CheckError, Leaves};
pub use tiles::{TileKind, TileRef};
pub use tree::{
    checkpoint_body, leaf_hash, verifier_key, verify_checkpoint, LogError, Tree, VerifiedCheckpoint,
};
