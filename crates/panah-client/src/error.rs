//! What can go wrong on the coordinator's side, as values a front end can tell apart: a
//! hub that cannot be reached is not a hub that refused, and neither is a ledger that does
//! not verify.

use std::path::PathBuf;

use crate::verify::VerifyError;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The hub could not be reached, or the connection broke.
    #[error("cannot reach {url}: {detail}")]
    Unreachable { url: String, detail: String },
    /// The hub answered with an error; `message` is its own words (untrusted text).
    #[error("the hub refused (HTTP {status}): {message}")]
    Refused { status: u16, message: String },
    /// The hub answered something this client cannot use: treat the hub as suspect.
    #[error("{0}")]
    BadAnswer(String),
    /// What the coordinator asked for cannot be done as asked.
    #[error("{0}")]
    Invalid(String),
    /// The hub's tree for new entries is not the one computed here: nothing was signed.
    #[error("refused to sign: the hub says these entries make a tree of {hub_size} entries with root {hub_root}, but here they make {size} with root {root}")]
    Disagrees {
        hub_size: u64,
        hub_root: String,
        size: u64,
        root: String,
    },
    /// Memos that look like they name someone; given back so a person can decide.
    #[error("the ledger is public and permanent: nothing in it may identify a person. Reword the memo, or add it anyway if you are sure")]
    MemoWarnings(Vec<String>),
    #[error(transparent)]
    Verify(#[from] VerifyError),
    /// The published ledger did not verify before signing.
    #[error("the hub's ledger does not verify; nothing was signed: {0}")]
    Unverified(VerifyError),
    #[error(transparent)]
    Keyring(#[from] panah_keyring::KeyringError),
    /// Both versions of a record changed these fields: a merge would have to choose.
    #[error("both versions changed {}: keep one (mine or theirs), then change it again", .0.join(", "))]
    MergeClash(Vec<String>),
    /// The collective's team log was not started yet.
    #[error("this collective's team log was not started yet: its founding coordinator starts it with `panah team init`")]
    NoTeam,
    /// The verified team does not include this coordinator.
    #[error("your key {0} is not on the team as its signed log shows it: a coordinator must add you with `panah team add` (the hub letting you in is not enough)")]
    NotOnTeam(String),
    #[error("cannot {what} {}: {source}", path.display())]
    File {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}

impl ClientError {
    pub(crate) fn file(what: &'static str, path: &std::path::Path, source: std::io::Error) -> Self {
        ClientError::File {
            what,
            path: path.to_path_buf(),
            source,
        }
    }
}

pub type Result<T, E = ClientError> = std::result::Result<T, E>;
