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
pub use tiles::{LeafList, TileKind, TileRef};
pub use tree::{
    checkpoint_body, leaf_hash, verifier_key, verify_checkpoint, LogError, Tree, VerifiedCheckpoint,
};

/// Which of a collective's logs: each collective has at most one of each kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum LogKind {
    /// The fund ledger: one entry per gift, expense or exchange.
    Ledger,
    /// The team of coordinators: one entry per addition or removal (`crate::team`).
    Team,
}

impl LogKind {
    pub const ALL: [LogKind; 2] = [LogKind::Ledger, LogKind::Team];

    /// The word stored and used in addresses: `/c/{slug}/{word}/checkpoint`.
    pub fn word(self) -> &'static str {
        match self {
            LogKind::Ledger => "ledger",
            LogKind::Team => "team",
        }
    }

    pub fn parse(word: &str) -> Option<LogKind> {
        LogKind::ALL.into_iter().find(|k| k.word() == word)
    }

    /// The longest entry this kind of log has, in bytes: what bounds a download of its
    /// entry bundles.
    pub fn max_entry(self) -> usize {
        match self {
            LogKind::Ledger => crate::ledger::entry::MAX_LEAF,
            LogKind::Team => crate::team::MAX_ENTRY,
        }
    }
}
