//! Verifying a public log from anywhere, with no key at all: `panah verify`, `panah
//! mirror`, and the check a coordinator's tools run before they sign anything.
//!
//! What a verifier remembers between runs (the state file, one per log origin): the keys it
//! trusts and the last checkpoint it checked. A new checkpoint must be signed by one of
//! those keys and its tree must extend the remembered one. Whoever serves the files may be
//! hostile: every download is bounded ([`Source`]), and the CPU-heavy checks run off the
//! async workers.

pub mod mirror;
pub mod source;
pub mod stream;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use panah_core::ledger::audit::{check_log, AuditError, Checked};
use panah_core::ledger::receipt::ReceiptCode;
use panah_core::ledger::Entry;
use panah_core::tlog::check::{b64, check_extends, CheckError, MAX_CHECKED_SIZE};
use panah_core::tlog::tiles::{tiles_for, TileRef};
use panah_core::tlog::tree::{
    check_inclusion, unverified_checkpoint, verifier_key as tlog_verifier_key, verify_checkpoint,
    LogError, VerifiedCheckpoint,
};
use panah_core::tlog::LogKind;
use panah_core::Timestamp;

pub use source::Source;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    #[error("{0}")]
    Address(String),
    #[error("{0}")]
    Fetch(String),
    #[error("{at} has no checkpoint: is this a Panah {kind}, and has it been started?")]
    NoCheckpoint { at: String, kind: &'static str },
    #[error("the checkpoint of {at} is not a C2SP checkpoint: {why}")]
    NotACheckpoint { at: String, why: LogError },
    #[error("{at} serves the log {found:?}, not {expected:?}")]
    WrongLog {
        at: String,
        found: String,
        expected: String,
    },
    #[error("{at} served the log {remembered:?} when you last checked it, and now serves another log, {served:?}: someone may be showing you a different history at the same address. If the collective told you (another way) that they moved their ledger, run again with --accept-origin {served:?}")]
    OriginChanged {
        remembered: String,
        at: String,
        served: String,
    },
    #[error("{} is not a Panah ledger state file", .0.display())]
    BadState(PathBuf),
    #[error("cannot find your data folder; pass --state FILE")]
    NoDataFolder,
    #[error("{0} publishes no keys; pass the coordinators' keys with --key")]
    NoKeys(String),
    #[error("the keys file is not text")]
    KeysNotText,
    #[error("the checkpoint of {at} is not signed by any key you trust ({keys} keys). If the collective added a coordinator, check the new key with them another way and pass it with --key")]
    Untrusted { at: String, keys: usize },
    #[error("the checkpoint of {at} does not verify: {why}")]
    BadCheckpoint { at: String, why: LogError },
    #[error("the checkpoint of {at} claims {size} entries; this check is limited to {limit} (checking holds the log in memory, about 1.1 GB a million entries): if you expect a ledger this large, pass --max-entries (at most {MAX_CHECKED_SIZE})")]
    TooLarge { at: String, size: u64, limit: u64 },
    #[error("{at} does not match its signed checkpoint ({size} entries): {why}")]
    Audit {
        at: String,
        size: u64,
        why: AuditError,
    },
    #[error("{at} is not consistent with what you checked before: {why}")]
    NotConsistent { at: String, why: CheckError },
    #[error("no entry of {origin} ({size} entries, verified) has this receipt code; check the digits, or ask the collective whether it was entered yet")]
    NoSuchReceipt { origin: String, size: u64 },
    #[error("{0}")]
    Mirror(String),
    #[error("cannot {what} {}: {source}", path.display())]
    File {
        what: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("a check was stopped: {0}")]
    Stopped(String),
}

impl From<crate::ClientError> for VerifyError {
    fn from(e: crate::ClientError) -> Self {
        match e {
            crate::ClientError::File { what, path, source } => {
                VerifyError::File { what, path, source }
            }
            crate::ClientError::Verify(v) => v,
            other => VerifyError::Fetch(other.to_string()),
        }
    }
}

/// What a verifier remembers about one log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct State {
    pub origin: String,
    pub keys: Vec<String>,
    pub size: u64,
    pub root: [u8; 32],
    pub checked: Timestamp,
}

impl State {
    pub fn load(path: &Path) -> Result<Option<State>, VerifyError> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(VerifyError::File {
                    what: "read",
                    path: path.to_path_buf(),
                    source,
                })
            }
        };
        let bad = || VerifyError::BadState(path.to_path_buf());
        let mut lines = text.lines();
        if lines.next() != Some("panah-ledger-state 1") {
            return Err(bad());
        }
        let (mut origin, mut keys, mut size, mut root, mut checked) =
            (None, Vec::new(), None, None, None);
        for line in lines {
            let (name, value) = line.split_once(' ').ok_or_else(bad)?;
            match name {
                "origin" => origin = Some(value.to_owned()),
                "key" => keys.push(value.to_owned()),
                "size" => size = Some(value.parse::<u64>().map_err(|_| bad())?),
                "root" => {
                    let bytes = STANDARD.decode(value).map_err(|_| bad())?;
                    root = Some(<[u8; 32]>::try_from(bytes).map_err(|_| bad())?);
                }
                "checked" => checked = Some(Timestamp::parse(value).map_err(|_| bad())?),
                _ => return Err(bad()),
            }
        }
        Ok(Some(State {
            origin: origin.ok_or_else(bad)?,
            keys,
            size: size.ok_or_else(bad)?,
            root: root.ok_or_else(bad)?,
            checked: checked.ok_or_else(bad)?,
        }))
    }

    pub fn save(&self, path: &Path) -> Result<(), VerifyError> {
        let mut text = format!("panah-ledger-state 1\norigin {}\n", self.origin);
        for k in &self.keys {
            text.push_str(&format!("key {k}\n"));
        }
        text.push_str(&format!(
            "size {}\nroot {}\nchecked {}\n",
            self.size,
            b64(&self.root),
            self.checked
        ));
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| VerifyError::File {
                what: "create",
                path: dir.to_path_buf(),
                source,
            })?;
        }
        crate::files::write_atomic(path, text.as_bytes()).map_err(VerifyError::from)
    }
}

/// The folder of remembered states: `PANAH_LEDGER_STATE_DIR`, else `panah/ledgers` in the
/// user's data folder.
pub fn state_dir() -> Result<PathBuf, VerifyError> {
    Ok(match std::env::var_os("PANAH_LEDGER_STATE_DIR") {
        Some(d) => PathBuf::from(d),
        None => dirs::data_dir()
            .ok_or(VerifyError::NoDataFolder)?
            .join("panah")
            .join("ledgers"),
    })
}

/// `text` as a file name: every byte but letters, digits, `.` and `-` written as `%XX`, so
/// two texts never share a name.
fn file_name(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b == b'.' || b == b'-' {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

/// Where the state for the log at `address` lives by default. A log is remembered by the
/// address it was checked at, never by the origin its (not yet verified) checkpoint names:
/// so a server that names another origin at the same address is caught, not treated as a
/// new log. A state this program kept under the log's origin (before it pinned addresses)
/// is taken over once for the address serving that origin.
pub fn default_state_path(address: &str, origin: &str) -> Result<PathBuf, VerifyError> {
    let dir = state_dir()?;
    let path = address_state_path(address)?;
    if !path.exists() {
        let earlier_name: String = origin
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                    c
                } else {
                    '_'
                }
            })
            .collect();
        for earlier in [
            dir.join(format!("{}.state", file_name(origin))),
            dir.join(format!("{earlier_name}.state")),
        ] {
            if let Ok(Some(state)) = State::load(&earlier) {
                if state.origin == origin {
                    state.save(&path)?;
                    // Taken over once, by one address: never again for another.
                    let _ = std::fs::rename(&earlier, earlier.with_extension("state.migrated"));
                    break;
                }
            }
        }
    }
    Ok(path)
}

/// Where what was checked at `address` is remembered (no migration; see
/// [`default_state_path`]).
pub fn address_state_path(address: &str) -> Result<PathBuf, VerifyError> {
    Ok(state_dir()?.join(format!("at-{}.state", file_name(address))))
}

/// Where what was checked of the log `origin` is also remembered, whatever address it was
/// read at: a second hub or mirror showing another history under the same origin (a fork)
/// is caught even at an address this machine never used.
pub fn origin_state_path(origin: &str) -> Result<PathBuf, VerifyError> {
    Ok(state_dir()?.join(format!("origin-{}.state", file_name(origin))))
}

/// Checks a verified tree against what was remembered for its origin (see
/// [`origin_state_path`]) and remembers it there.
pub fn check_and_remember_origin(
    at: &str,
    origin: &str,
    keys: &[String],
    tree: &panah_core::tlog::Tree,
) -> Result<(), VerifyError> {
    let path = origin_state_path(origin)?;
    let known = State::load(&path)?.filter(|s| s.origin == origin);
    if let Some(s) = &known {
        if tree.size() < s.size {
            // A smaller tree of the same log (a mirror behind the hub): whether it is a
            // prefix of the remembered one cannot be proven from the remembered head
            // alone, so it is neither trusted further nor remembered here. (At its own
            // address, the address's state still refuses any rollback.)
            return Ok(());
        }
        check_extends(tree, s.size, &s.root).map_err(|why| VerifyError::NotConsistent {
            at: at.to_owned(),
            why,
        })?;
    }
    State {
        origin: origin.to_owned(),
        keys: keys.to_vec(),
        size: tree.size(),
        root: tree.root(),
        checked: Timestamp::now(),
    }
    .save(&path)
}

/// Verifier-key lines from a keys file (blank lines and `#` comments skipped).
pub fn key_lines(text: &[u8]) -> Result<Vec<String>, VerifyError> {
    let text = std::str::from_utf8(text).map_err(|_| VerifyError::KeysNotText)?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

/// Adds `more` keys to `keys`, each once, keeping the order: the one way trusted keys from
/// different places (remembered, given, the team) are merged.
pub fn merge_keys(keys: &mut Vec<String>, more: impl IntoIterator<Item = String>) {
    for k in more {
        if !keys.contains(&k) {
            keys.push(k);
        }
    }
}

/// A ledger that verified.
#[derive(Debug)]
pub struct Verified {
    pub checkpoint: VerifiedCheckpoint,
    pub note: Vec<u8>,
    pub log: Checked,
    /// Tiles fetched from the source (the rest were reused).
    pub downloaded: usize,
}

/// Checks `note` against `trusted` keys, downloads every tile of its tree from `source`,
/// audits them, and checks the tree extends `previous` (size, root).
pub async fn check(
    source: &Source,
    origin: &str,
    note: Vec<u8>,
    trusted: &[String],
    previous: Option<(u64, [u8; 32])>,
) -> Result<Verified, VerifyError> {
    check_reusing(source, origin, note, trusted, previous, HashMap::new()).await
}

/// [`check`], downloading only the tiles not already in `have` (a mirror's full tiles:
/// a full tile never changes). Everything is checked against the new signed root, the
/// reused tiles included.
pub async fn check_reusing(
    source: &Source,
    origin: &str,
    note: Vec<u8>,
    trusted: &[String],
    previous: Option<(u64, [u8; 32])>,
    mut have: HashMap<TileRef, Vec<u8>>,
) -> Result<Verified, VerifyError> {
    let checkpoint = signed_checkpoint(source, &note, trusted, origin)?;
    let all = tiles_for(checkpoint.size);
    let wanted: Vec<TileRef> = all
        .iter()
        .filter(|t| !have.contains_key(t))
        .copied()
        .collect();
    let needed: HashSet<&TileRef> = all.iter().collect();
    have.retain(|t, _| needed.contains(t));
    let downloaded = wanted.len();
    have.extend(source.tiles(&wanted).await?);
    // Hashing and parsing a large log take seconds of CPU: not on an async worker. The
    // tiles are checked the same way for every kind of log (`tlog::check`); here the
    // records by the ledger's rules (the team log's are in `crate::team`).
    if source.kind != LogKind::Ledger {
        return Err(VerifyError::Address(format!(
            "{source} is a team log: `panah team` checks it"
        )));
    }
    let (size, root) = (checkpoint.size, checkpoint.root);
    let log = tokio::task::spawn_blocking(move || check_log(size, &root, have))
        .await
        .map_err(|e| VerifyError::Stopped(e.to_string()))?
        .map_err(|why| VerifyError::Audit {
            at: source.to_string(),
            size,
            why,
        })?;
    if let Some((size, root)) = previous {
        check_extends(log.tree(), size, &root).map_err(|why| VerifyError::NotConsistent {
            at: source.to_string(),
            why,
        })?;
    }
    Ok(Verified {
        checkpoint,
        note,
        log,
        downloaded,
    })
}

/// Checks a checkpoint `source` served against the `trusted` keys and `origin`, and the
/// size it claims against the source's limit (before anything else is downloaded).
pub fn signed_checkpoint(
    source: &Source,
    note: &[u8],
    trusted: &[String],
    origin: &str,
) -> Result<VerifiedCheckpoint, VerifyError> {
    let checkpoint = verify_checkpoint(note, trusted, origin).map_err(|e| match e {
        LogError::Untrusted => VerifyError::Untrusted {
            at: source.to_string(),
            keys: trusted.len(),
        },
        why => VerifyError::BadCheckpoint {
            at: source.to_string(),
            why,
        },
    })?;
    let limit = source.max_entries.min(MAX_CHECKED_SIZE);
    if checkpoint.size > limit {
        return Err(VerifyError::TooLarge {
            at: source.to_string(),
            size: checkpoint.size,
            limit,
        });
    }
    Ok(checkpoint)
}

/// The source at `address`, its signed checkpoint as served, and the origin that
/// checkpoint names (not yet verified: the caller decides which keys and origin to expect).
pub async fn read_checkpoint(
    address: &str,
    kind: LogKind,
) -> Result<(Source, Vec<u8>, String), VerifyError> {
    let source = Source::parse(address, kind)?;
    let note = source.checkpoint().await?;
    let (origin, _, _) =
        unverified_checkpoint(&note).map_err(|why| VerifyError::NotACheckpoint {
            at: source.to_string(),
            why,
        })?;
    Ok((source, note, origin))
}

/// Which keys to trust and where to remember what was checked.
#[derive(Debug, Clone, Default)]
pub struct Trust {
    /// Verifier keys (`name+hash+base64`) given by the collective another way.
    pub keys: Vec<String>,
    /// The state file; by default one per origin in the user's data folder.
    pub state: Option<PathBuf>,
    /// The log origin to expect.
    pub origin: Option<String>,
    /// A new origin to accept at an address that served another before (a move the
    /// collective confirmed another way).
    pub accept_origin: Option<String>,
    /// The most entries to download (default [`source::DEFAULT_MAX_ENTRIES`]).
    pub max_entries: Option<u64>,
}

/// The keys a check will use, and whether they were taken on first use from the source
/// itself (the front end must say so: real trust comes from keys given another way).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trusted {
    pub keys: Vec<String>,
    pub first_use: bool,
    /// Coordinators on the collective's signed team log, when the keys came from it.
    pub team: Option<usize>,
}

/// What `verify` and `mirror` share: the checkpoint read, the state remembered.
#[derive(Debug)]
pub struct Verifier {
    pub source: Source,
    pub origin: String,
    pub state_path: PathBuf,
    pub state: Option<State>,
    /// Whether the default state files are used (then also one per origin).
    pub(crate) by_origin: bool,
    /// The size and root the served checkpoint claims (not yet verified).
    served: (u64, [u8; 32]),
}

impl Verifier {
    /// Reads the checkpoint at `address` and the state remembered for its log.
    pub async fn open(
        address: &str,
        kind: LogKind,
        trust: &Trust,
    ) -> Result<(Verifier, Vec<u8>), VerifyError> {
        let (mut source, note, origin) = read_checkpoint(address, kind).await?;
        if let Some(n) = trust.max_entries {
            source.max_entries = n;
        }
        if let Some(expected) = &trust.origin {
            if *expected != origin {
                return Err(VerifyError::WrongLog {
                    at: source.to_string(),
                    found: origin,
                    expected: expected.clone(),
                });
            }
        }
        let state_path = match &trust.state {
            Some(p) => p.clone(),
            None => default_state_path(&source.identity(), &origin)?,
        };
        let mut state = State::load(&state_path)?;
        if let Some(s) = &mut state {
            if s.origin != origin {
                if trust.accept_origin.as_deref() != Some(origin.as_str()) {
                    return Err(VerifyError::OriginChanged {
                        remembered: s.origin.clone(),
                        at: source.to_string(),
                        served: origin,
                    });
                }
                // A move the person confirmed: the keys they trusted still must sign it;
                // the new log's history starts here.
                s.origin = origin.clone();
                s.size = 0;
                s.root = panah_core::tlog::Tree::new().root();
            }
        }
        Ok((
            Verifier {
                source,
                origin,
                state_path,
                state,
                by_origin: trust.state.is_none(),
                served: unverified_checkpoint(&note)
                    .map(|(_, size, root)| (size, root))
                    .unwrap_or((0, [0; 32])),
            },
            note,
        ))
    }

    /// The signed team log beside a ledger (`…/c/{slug}/team` on a hub or a static copy
    /// of it, or the `team` folder beside a `ledger` folder), verified and remembered, if
    /// there is one; its origin must be the ledger's with `team` for `ledger`.
    async fn ledger_team(&self) -> Result<Option<crate::team::CheckedTeam>, VerifyError> {
        let Some(expected) = self
            .origin
            .strip_suffix("/ledger")
            .map(|p| format!("{p}/team"))
        else {
            return Ok(None);
        };
        let team_source = match &self.source.place {
            source::Place::Http { base, .. } => match base.strip_suffix("/ledger") {
                Some(prefix) => Source::parse(&format!("{prefix}/team"), LogKind::Team)?,
                None => return Ok(None),
            },
            source::Place::Dir(dir) => {
                let team = dir.parent().map(|p| p.join("team"));
                match team {
                    Some(team)
                        if dir.file_name().is_some_and(|n| n == "ledger") && team.is_dir() =>
                    {
                        Source {
                            kind: LogKind::Team,
                            place: source::Place::Dir(team),
                            max_entries: self.source.max_entries,
                        }
                    }
                    _ => return Ok(None),
                }
            }
        };
        let checked = crate::team::check_team_log(&team_source, |origin| {
            if origin == expected {
                Ok(())
            } else {
                Err(crate::ClientError::BadAnswer(format!(
                    "the team log beside the ledger {:?} names itself {origin:?}, not {expected:?}",
                    self.origin
                )))
            }
        })
        .await;
        match checked {
            Ok(team) => {
                team.remember()?;
                Ok(Some(team))
            }
            Err(crate::ClientError::Verify(VerifyError::NoCheckpoint { .. })) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }

    /// The keys to check with. Where the hub publishes a signed team log beside the ledger
    /// (verified and pinned like any log): without keys given, its current coordinators;
    /// with keys given, those, and remembered keys only while their coordinator is still on
    /// the team. Either way a coordinator the team removed is trusted no more, except for a
    /// checkpoint this device already verified, unchanged. Without a team log: the
    /// remembered and given keys, or (first use) the published ones.
    pub async fn trusted(&self, given: &[String]) -> Result<Trusted, VerifyError> {
        if let Some(team) = self.ledger_team().await? {
            let members: Vec<String> = team
                .team
                .members
                .iter()
                .map(|m| tlog_verifier_key(&self.origin, m.key.signing()))
                .collect();
            let mut keys = if given.is_empty() {
                members.clone()
            } else {
                let mut keys = given.to_vec();
                let remembered = self.state.iter().flat_map(|s| s.keys.iter());
                merge_keys(
                    &mut keys,
                    remembered.filter(|k| members.contains(k)).cloned(),
                );
                keys
            };
            if let Some(s) = self
                .state
                .as_ref()
                .filter(|s| (s.size, s.root) == self.served)
            {
                merge_keys(&mut keys, s.keys.iter().cloned());
            }
            return Ok(Trusted {
                keys,
                first_use: self.state.is_none() && given.is_empty(),
                team: Some(team.team.members.len()),
            });
        }
        let mut keys: Vec<String> = self.state.iter().flat_map(|s| s.keys.clone()).collect();
        merge_keys(&mut keys, given.iter().cloned());
        if !keys.is_empty() {
            return Ok(Trusted {
                keys,
                first_use: false,
                team: None,
            });
        }
        let published = self
            .source
            .keys()
            .await?
            .ok_or_else(|| VerifyError::NoKeys(self.source.to_string()))?;
        Ok(Trusted {
            keys: key_lines(&published)?,
            first_use: true,
            team: None,
        })
    }

    /// Remembers a verified log at its address and (with the default state files) under
    /// its origin, refusing it if it does not extend what was seen of that origin before.
    pub fn remember(&self, keys: Vec<String>, v: &Verified) -> Result<(), VerifyError> {
        if self.by_origin {
            check_and_remember_origin(&self.source.to_string(), &self.origin, &keys, v.log.tree())?;
        }
        State {
            origin: self.origin.clone(),
            keys,
            size: v.checkpoint.size,
            root: v.checkpoint.root,
            checked: Timestamp::now(),
        }
        .save(&self.state_path)
    }

    pub fn previous(&self) -> Option<(u64, [u8; 32])> {
        self.state.as_ref().map(|s| (s.size, s.root))
    }
}

/// A verification done and remembered: what `panah verify ledger` reports.
#[derive(Debug)]
pub struct Verification {
    pub verifier: Verifier,
    pub verified: Verified,
    pub trusted: Trusted,
}

/// Opens the ledger at `address`, checks it with the keys to trust and against what was
/// seen before, and remembers the new checkpoint.
pub async fn verify_ledger(address: &str, trust: &Trust) -> Result<Verification, VerifyError> {
    let (verifier, note) = Verifier::open(address, LogKind::Ledger, trust).await?;
    let trusted = verifier.trusted(&trust.keys).await?;
    let verified = check(
        &verifier.source,
        &verifier.origin,
        note,
        &trusted.keys,
        verifier.previous(),
    )
    .await?;
    verifier.remember(trusted.keys.clone(), &verified)?;
    Ok(Verification {
        verifier,
        verified,
        trusted,
    })
}

/// A donor's gift found in a verified ledger, with its inclusion proof checked.
#[derive(Debug, Clone)]
pub struct ReceiptFound {
    pub index: u64,
    pub entry: Entry,
    pub proof_hashes: usize,
    /// A later entry reverses (cancels) this one.
    pub reversed: bool,
}

/// Finds the entry with the receipt `code` in a verified ledger and checks its inclusion
/// proof against the signed root: the donor's own check that their gift is in the ledger.
pub fn find_receipt(
    v: &Verified,
    origin: &str,
    code: &ReceiptCode,
) -> Result<ReceiptFound, VerifyError> {
    let commitment = code.commitment();
    let size = v.checkpoint.size;
    let not_found = || VerifyError::NoSuchReceipt {
        origin: origin.to_owned(),
        size,
    };
    let entries = v.log.entries();
    let position = entries
        .iter()
        .position(|e| e.receipt == Some(commitment))
        .ok_or_else(not_found)?;
    let index = position as u64;
    let bad_proof = |why: LogError| VerifyError::BadCheckpoint {
        at: origin.to_owned(),
        why,
    };
    let proof = v
        .log
        .tree()
        .inclusion_proof(index, size)
        .map_err(bad_proof)?;
    check_inclusion(
        &proof,
        size,
        &v.checkpoint.root,
        index,
        &v.log.leaves()[position],
    )
    .map_err(bad_proof)?;
    Ok(ReceiptFound {
        index,
        entry: entries[position].clone(),
        proof_hashes: proof.len(),
        reversed: entries.iter().any(|r| r.reverses == Some(index)),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logs_are_remembered_by_address() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::env::set_var("PANAH_LEDGER_STATE_DIR", dir.path());
        let here = "https://hub.example/c/x/ledger";
        let a =
            default_state_path(here, "hub.example/c/x/ledger").unwrap_or_else(|e| panic!("{e}"));
        // Another origin at the same address: the same state, so the change is caught.
        let b =
            default_state_path(here, "hub.example/c/x/1edger").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(a, b);
        assert_ne!(
            a,
            default_state_path("https://hub.example/c/x_ledger", "o")
                .unwrap_or_else(|e| panic!("{e}"))
        );
        // A state kept under its origin by an earlier version is taken over for the
        // address that serves that origin, and only for it.
        let old = State {
            origin: "old.example/c/y/ledger".into(),
            keys: vec!["k".into()],
            size: 3,
            root: [7; 32],
            checked: Timestamp::now(),
        };
        old.save(&dir.path().join("old.example_c_y_ledger.state"))
            .unwrap_or_else(|e| panic!("{e}"));
        let there = default_state_path("https://old.example/c/y/ledger", &old.origin)
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(State::load(&there).ok().flatten(), Some(old));
        let elsewhere = default_state_path("https://old.example/c/y/ledger", "other/origin")
            .unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(elsewhere, there, "same address, same file");
    }
}
