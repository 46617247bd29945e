//! The encrypted needs and case tracker from a coordinator's side.
//!
//! Records live in clear only here: in memory, and in a local [`Cache`] encrypted to the
//! coordinator's own key, so the tools work offline. The hub keeps, per record, an opaque
//! id, a version, a day and two age files ([`seal`]): the record's data key (a fresh age
//! identity for every version) wrapped to every coordinator of the verified team, and the
//! signed version ([`panah_core::records::Signed`]), padded, encrypted to that data key.
//!
//! [`sync`] pulls what changed since the cache's cursor and checks every version (its
//! signature, its author a coordinator at the team-log size it names and not removed
//! since, unless this device accepted that very version before), re-wraps what a removed
//! coordinator could read, deletes closed records past their time, and pushes local edits
//! with the version they were made from. A version that lost a race is never dropped: it
//! becomes a [`Conflict`] the coordinator resolves. Every change goes into the audit trail,
//! itself records of the same kind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use age::secrecy::ExposeSecret;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use panah_api::{RecordBatch, RecordChange, RecordPage, RecordResults};
use panah_core::records::doc::{Action, Audit, Deleted, Event, Kind, MAX_AUDIT_EVENTS};
use panah_core::records::version::MAX_PLAINTEXT;
use panah_core::records::{Day, Doc, Membership, RecordError, RecordId, Signed, Unsigned};
use panah_core::{age_file, Timestamp};
use panah_keyring::Keyring;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{ClientError, Result};
use crate::hub::Session;
use crate::team::VerifiedTeam;

/// Largest cache this client reads (about 100,000 records).
const MAX_CACHE: u64 = 1024 * 1024 * 1024;
/// Days a closed record is kept before it is deleted, unless the collective says otherwise.
pub const DEFAULT_KEEP_CLOSED_DAYS: i64 = 180;

/// An accepted version of a record, as this device holds it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Held {
    pub version: i64,
    /// SHA-256 of the signed version: what "this device accepted it" refers to.
    pub hash: String,
    /// SHA-256 of the content's ciphertext as the site keeps it: the same version coming
    /// back is known without opening it.
    pub body_hash: String,
    /// The author's fingerprint.
    pub by: String,
    pub date: Timestamp,
    pub team_size: u64,
    pub doc: Doc,
}

/// What is left here of a record a coordinator deleted: its last version, so that no
/// older one is taken back.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gone {
    pub version: i64,
    pub hash: String,
    pub body_hash: String,
    /// The team-log size the deletion was wrapped for (it is wrapped anew, like a record,
    /// when the team changes, so a new coordinator can read it too).
    #[serde(default)]
    pub team_size: u64,
}

/// A change made here and not yet on the hub.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The version it was made from (`None`: a new record).
    pub base: Option<i64>,
    /// The new content (`None`: delete the record).
    pub doc: Option<Doc>,
    pub action: Action,
    pub at: Timestamp,
}

/// A change made here that lost a race with another coordinator's: both are kept until
/// the coordinator chooses or merges.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Conflict {
    /// What this coordinator wrote (`None`: they deleted it).
    pub mine: Option<Doc>,
    /// The version both edits were made from, and its content if this device held it
    /// (what a three-way merge compares against).
    pub base: Option<i64>,
    #[serde(default)]
    pub original: Option<Doc>,
    pub at: Timestamp,
}

impl Cache {
    /// Turns a pending change that lost a race into a conflict (before the winning
    /// version replaces the one it was made from here).
    fn lost(&mut self, id: RecordId, p: Pending) -> bool {
        if p.doc.is_none() && p.base.is_some() && !self.records.contains_key(&id) {
            // A deletion of something deleted meanwhile: nothing to choose.
            return false;
        }
        let original = self
            .records
            .get(&id)
            .filter(|h| Some(h.version) == p.base)
            .map(|h| h.doc.clone());
        self.conflicts.insert(
            id,
            Conflict {
                mine: p.doc,
                base: p.base,
                original,
                at: p.at,
            },
        );
        true
    }
}

/// How a conflict is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Choice {
    Mine,
    Theirs,
    /// Field by field against the version both started from (`merge::merge`).
    Merged,
}

/// Everything this device knows of the tracker of one collective, for one coordinator.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Cache {
    pub format: u32,
    /// The team log's origin: which collective on which hub.
    pub origin: String,
    /// The last change number pulled.
    pub cursor: i64,
    pub records: BTreeMap<RecordId, Held>,
    pub pending: BTreeMap<RecordId, Pending>,
    pub conflicts: BTreeMap<RecordId, Conflict>,
    /// Audit events not yet written to the hub.
    pub audit: Vec<Event>,
    /// Records this device cannot open (wrapped before this coordinator joined, not yet
    /// re-wrapped): id and version.
    pub unreadable: BTreeMap<RecordId, i64>,
    /// Deleted records: no older version of them is taken back.
    #[serde(default)]
    pub gone: BTreeMap<RecordId, Gone>,
    /// Versions written by a coordinator removed since, never accepted here: shown, not
    /// trusted; the record is put back to the version accepted before.
    #[serde(default)]
    pub set_aside: BTreeMap<RecordId, Held>,
    /// The team's labels by fingerprint, as last verified (to show names, not digits).
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// The team log's size at the last re-encryption of the inbox (see [`sync`]).
    pub inbox_reencrypted_at: u64,
    /// How many messages of each conversation this coordinator has seen (the desk's unread
    /// marks): conversation id to count. Numbers the hub gave, nothing it did not.
    #[serde(default)]
    pub inbox_seen: BTreeMap<i64, usize>,
    pub last_sync: Option<Timestamp>,
    pub keep_closed_days: Option<i64>,
}

/// Why a reference did not name exactly one record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FindError {
    #[error("{0:?} is not a record reference: give the first digits of its id, as the list shows them (at least 4)")]
    NotAReference(String),
    #[error("nothing here starts with {0} (run `panah sync` to fetch the latest)")]
    NotFound(String),
    #[error("more than one record starts with {0}: give more digits")]
    Ambiguous(String),
    #[error("the record {0} was deleted by a coordinator")]
    Deleted(String),
}

/// Where a coordinator's cache for a collective lives: a name that says nothing of the hub
/// or the collective (a hash of them and the coordinator's key), in `dir`.
pub fn cache_path(dir: &Path, session_base: &str, collective: &str, fingerprint: &str) -> PathBuf {
    let mut h = Sha256::new();
    h.update(b"panah-cache 1\n");
    h.update(session_base.as_bytes());
    h.update(b"\n");
    h.update(collective.as_bytes());
    h.update(b"\n");
    h.update(fingerprint.as_bytes());
    let name = panah_core::hex(&h.finalize()[..16]);
    dir.join(format!("{name}.age"))
}

/// The default folder of caches: `PANAH_CACHE_DIR`, else `panah/cache` in the data folder.
pub fn cache_dir() -> Result<PathBuf> {
    match std::env::var_os("PANAH_CACHE_DIR") {
        Some(d) => Ok(PathBuf::from(d)),
        None => dirs::data_dir()
            .map(|d| d.join("panah").join("cache"))
            .ok_or_else(|| {
                ClientError::Invalid("cannot find your data folder; set PANAH_CACHE_DIR".into())
            }),
    }
}

impl Cache {
    /// An empty cache, as a device starts.
    pub fn empty() -> Cache {
        Cache {
            format: 1,
            ..Cache::default()
        }
    }

    /// Opens the cache at `path` (an empty one if there is none yet).
    pub fn load(path: &Path, keyring: &Keyring) -> Result<Cache> {
        let bytes = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Cache::empty()),
            Err(e) => return Err(ClientError::file("read", path, e)),
        };
        let plain = age_file::decrypt(&bytes, keyring.identity(), MAX_CACHE).map_err(|e| {
            ClientError::Invalid(format!(
                "cannot open the tracker's cache {}: {e}",
                path.display()
            ))
        })?;
        let cache: Cache = serde_json::from_slice(&plain).map_err(|e| {
            ClientError::Invalid(format!(
                "the tracker's cache {} is damaged ({e}); move it away and sync again",
                path.display()
            ))
        })?;
        if cache.format != 1 {
            return Err(ClientError::Invalid(format!(
                "the tracker's cache {} is from another version of Panah",
                path.display()
            )));
        }
        Ok(cache)
    }

    /// Writes the cache encrypted to the coordinator's own key, all at once.
    pub fn save(&self, path: &Path, keyring: &Keyring) -> Result<()> {
        if let Some(dir) = path.parent() {
            crate::files::create_private_dir(dir)?;
        }
        let plain = zeroize::Zeroizing::new(
            serde_json::to_vec(self).map_err(|e| ClientError::Invalid(e.to_string()))?,
        );
        if plain.len() as u64 > MAX_CACHE {
            return Err(ClientError::Invalid(
                "the tracker's cache would be larger than this device opens (1 GiB); nothing was written".into(),
            ));
        }
        let sealed = age_file::encrypt(&[keyring.identity().to_public()], &plain)
            .map_err(|e| ClientError::Invalid(format!("cannot encrypt the cache: {e}")))?;
        crate::files::write_atomic(path, &sealed)
    }

    /// The record as it stands here: a pending change, else the accepted version.
    pub fn current(&self, id: &RecordId) -> Option<&Doc> {
        match self.pending.get(id) {
            Some(p) => p.doc.as_ref(),
            None => self.records.get(id).map(|h| &h.doc),
        }
    }

    /// Every need and case as it stands here (pending changes applied, deletions gone).
    pub fn docs(&self) -> impl Iterator<Item = (&RecordId, &Doc)> {
        let held = self
            .records
            .iter()
            .filter(|(id, _)| !self.pending.contains_key(id))
            .map(|(id, h)| (id, &h.doc));
        let pending = self
            .pending
            .iter()
            .filter_map(|(id, p)| p.doc.as_ref().map(|d| (id, d)));
        held.chain(pending).filter(|(_, d)| d.kind().is_some())
    }

    /// The record of `kind` (any kind if `None`) whose id starts with `prefix`, if exactly
    /// one. The prefix may come as copied from a right-to-left line: direction marks,
    /// surrounding punctuation and Persian or Arabic-Indic digits are taken in stride.
    pub fn find(
        &self,
        prefix: &str,
        kind: Option<Kind>,
    ) -> std::result::Result<RecordId, FindError> {
        let prefix: String = panah_core::digits::to_latin(prefix)
            .chars()
            .filter(|c| {
                !c.is_whitespace()
                    && !matches!(c, '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}')
            })
            .collect::<String>()
            .trim_matches(|c: char| matches!(c, '،' | ',' | '.' | ';' | ':' | '#'))
            .to_ascii_lowercase();
        if prefix.len() < 4 || prefix.len() > 32 || !prefix.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(FindError::NotAReference(prefix.chars().take(40).collect()));
        }
        let mut found: Vec<RecordId> = self
            .docs()
            .filter(|(_, d)| kind.is_none() || d.kind() == kind)
            .map(|(id, _)| *id)
            .chain(
                self.set_aside
                    .iter()
                    .filter_map(|(id, h)| (kind.is_none() || h.doc.kind() == kind).then_some(*id)),
            )
            .chain(self.conflicts.iter().filter_map(|(id, c)| {
                let k = c
                    .mine
                    .as_ref()
                    .or(self.records.get(id).map(|h| &h.doc))
                    .and_then(Doc::kind);
                (kind.is_none() || k == kind).then_some(*id)
            }))
            .filter(|id| id.to_string().starts_with(&prefix))
            .collect();
        found.sort();
        found.dedup();
        match found.as_slice() {
            [one] => Ok(*one),
            [] if self
                .gone
                .keys()
                .any(|id| id.to_string().starts_with(&prefix)) =>
            {
                Err(FindError::Deleted(prefix))
            }
            [] => Err(FindError::NotFound(prefix)),
            _ => Err(FindError::Ambiguous(prefix)),
        }
    }

    /// Adds a new need or case; it goes to the hub at the next sync.
    pub fn add(&mut self, doc: Doc) -> Result<RecordId> {
        check_tracked(&doc)?;
        let id = RecordId::random();
        self.pending.insert(
            id,
            Pending {
                base: None,
                doc: Some(doc),
                action: Action::Created,
                at: Timestamp::now(),
            },
        );
        Ok(id)
    }

    /// Replaces a record's content; it goes to the hub at the next sync.
    pub fn update(&mut self, id: &RecordId, doc: Doc) -> Result<()> {
        check_tracked(&doc)?;
        let before = self
            .current(id)
            .ok_or_else(|| ClientError::Invalid(format!("there is no record {}", id.short())))?;
        if before.kind() != doc.kind() {
            return Err(ClientError::Invalid(
                "a need stays a need and a case a case".into(),
            ));
        }
        let action = if doc.closed().is_some() && before.closed().is_none() {
            Action::Closed
        } else {
            Action::Changed
        };
        let (base, first) = match self.pending.get(id) {
            Some(p) => (p.base, p.action),
            None => (self.records.get(id).map(|h| h.version), action),
        };
        // A record created here and changed before it reached the hub is still a creation.
        let action = if first == Action::Created {
            Action::Created
        } else {
            action
        };
        self.pending.insert(
            *id,
            Pending {
                base,
                doc: Some(doc),
                action,
                at: Timestamp::now(),
            },
        );
        Ok(())
    }

    /// Deletes a record: at the next sync, on the hub and then from every device.
    pub fn delete(&mut self, id: &RecordId, action: Action) -> Result<()> {
        match (self.pending.get(id), self.records.get(id)) {
            (Some(p), None) if p.base.is_none() => {
                // Never left this device.
                self.pending.remove(id);
            }
            (_, Some(h)) => {
                let base = self
                    .pending
                    .get(id)
                    .and_then(|p| p.base)
                    .unwrap_or(h.version);
                self.pending.insert(
                    *id,
                    Pending {
                        base: Some(base),
                        doc: None,
                        action,
                        at: Timestamp::now(),
                    },
                );
            }
            // Only set aside (written by a coordinator removed since, never confirmed): a
            // deletion signed here supersedes it.
            (None, None) if self.set_aside.contains_key(id) => {
                let base = self.set_aside.get(id).map(|h| h.version);
                self.pending.insert(
                    *id,
                    Pending {
                        base,
                        doc: None,
                        action,
                        at: Timestamp::now(),
                    },
                );
            }
            _ => {
                return Err(ClientError::Invalid(format!(
                    "there is no record {}",
                    id.short()
                )))
            }
        }
        Ok(())
    }

    /// Settles a conflict: keep this device's version, the other coordinator's, or both
    /// merged field by field (notes and links added on either side kept, taken out on
    /// either side left out). A merge where both changed the same field is refused with
    /// the fields named.
    pub fn resolve(&mut self, id: &RecordId, choice: Choice) -> Result<()> {
        let conflict = self.conflicts.get(id).cloned().ok_or_else(|| {
            ClientError::Invalid(format!("record {} has no conflict", id.short()))
        })?;
        let theirs = self.records.get(id).map(|h| h.doc.clone());
        let chosen = match choice {
            Choice::Mine => conflict.mine.clone(),
            Choice::Theirs => theirs.clone(),
            Choice::Merged => match (&conflict.original, &conflict.mine, &theirs) {
                (Some(base), Some(mine), Some(theirs)) => Some(
                    panah_core::records::merge::merge(base, mine, theirs)
                        .map_err(ClientError::MergeClash)?,
                ),
                _ => {
                    return Err(ClientError::Invalid(
                        "these versions cannot be merged (one side deleted it, or this device did not hold the version both started from): keep mine or theirs".into(),
                    ))
                }
            },
        };
        self.conflicts.remove(id);
        match (chosen, self.records.get(id)) {
            // Theirs as it is: nothing to send.
            (Some(doc), Some(_)) if Some(&doc) == theirs.as_ref() => {}
            (Some(doc), Some(h)) => {
                let base = Some(h.version);
                self.pending.insert(
                    *id,
                    Pending {
                        base,
                        doc: Some(doc),
                        action: Action::Changed,
                        at: Timestamp::now(),
                    },
                );
            }
            // The other coordinator deleted it, and this one keeps theirs: a new record.
            (Some(doc), None) => {
                self.add(doc)?;
            }
            (None, Some(h)) => {
                let version = h.version;
                self.pending.insert(
                    *id,
                    Pending {
                        base: Some(version),
                        doc: None,
                        action: Action::Deleted,
                        at: Timestamp::now(),
                    },
                );
            }
            (None, None) => {}
        }
        Ok(())
    }

    /// The audit trail held here, oldest first.
    pub fn audit_trail(&self) -> Vec<Event> {
        let mut all: Vec<Event> = self
            .records
            .values()
            .filter_map(|h| match &h.doc {
                Doc::Audit(a) => Some(a.events.iter().cloned()),
                _ => None,
            })
            .flatten()
            .chain(self.audit.iter().cloned())
            .collect();
        all.sort_by(|a, b| a.at.cmp(&b.at).then(a.record.cmp(&b.record)));
        all
    }

    /// Who last signed a record and when, for `show`.
    pub fn held(&self, id: &RecordId) -> Option<&Held> {
        self.records.get(id)
    }
}

fn check_tracked(doc: &Doc) -> Result<()> {
    if doc.kind().is_none() {
        return Err(ClientError::Invalid(
            "the audit trail is written by the tools, not by hand".into(),
        ));
    }
    doc.check().map_err(ClientError::Invalid)
}

/// The two age files the hub keeps of a version: its data key wrapped to `team`, and the
/// signed version, padded, encrypted to that data key.
pub fn seal(signed: &Signed, team: &[age::x25519::Recipient]) -> Result<(Vec<u8>, Vec<u8>)> {
    let data = age::x25519::Identity::generate();
    let body = age_file::encrypt(&[data.to_public()], &signed.to_plaintext())
        .map_err(|e| ClientError::Invalid(format!("cannot encrypt the record: {e}")))?;
    let secret = data.to_string();
    let wrapped = age_file::encrypt(team, secret.expose_secret().as_bytes())
        .map_err(|e| ClientError::Invalid(format!("cannot wrap the record's key: {e}")))?;
    Ok((wrapped, body))
}

/// Why a stored record could not be taken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unopened {
    /// Not wrapped to this coordinator's key.
    NotForMe,
    /// Opened but refused: what is wrong with it.
    Refused(String),
}

/// Opens the two age files with the coordinator's key and parses the signed version.
pub fn open(
    wrapped: &[u8],
    body: &[u8],
    keyring: &Keyring,
) -> std::result::Result<Signed, Unopened> {
    let key = age_file::decrypt(wrapped, keyring.identity(), 256).map_err(|e| match e {
        age_file::AgeError::NotForThisKey => Unopened::NotForMe,
        other => Unopened::Refused(format!("its wrapped key: {other}")),
    })?;
    let key = zeroize::Zeroizing::new(key);
    let identity: age::x25519::Identity = std::str::from_utf8(&key)
        .ok()
        .and_then(|k| k.trim().parse().ok())
        .ok_or_else(|| Unopened::Refused("its wrapped key is not an age identity".into()))?;
    let plain = age_file::decrypt(body, &identity, MAX_PLAINTEXT)
        .map_err(|e| Unopened::Refused(format!("its content: {e}")))?;
    Signed::parse(&plain).map_err(|e| Unopened::Refused(e.to_string()))
}

/// What a sync did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Synced {
    /// Records received from the hub and accepted (new or changed).
    pub received: usize,
    /// Records dropped here because a coordinator deleted them.
    pub dropped: usize,
    /// Changes made here and written to the hub.
    pub sent: usize,
    /// Records wrapped anew for the team as it is now (after a coordinator joined or left).
    pub rewrapped: usize,
    /// Closed records deleted because their time was up.
    pub expired: usize,
    /// Changes that lost a race: both versions are kept until resolved.
    pub conflicts: Vec<RecordId>,
    /// Records refused, with the reason (a hub or a removed coordinator trying something).
    pub refused: Vec<(String, String)>,
    /// Edits by a coordinator removed since, set aside (the record was put back to the
    /// version this device had accepted, signed anew here).
    pub set_aside: Vec<RecordId>,
    /// Records not encrypted to this coordinator (from before they joined).
    pub unreadable: usize,
    /// Bytes of records received.
    pub bytes: u64,
}

/// What a sync may do besides pulling and pushing.
#[derive(Debug, Clone, Copy)]
pub struct SyncOptions {
    /// Delete closed records this many days after closing (0: at the next sync).
    pub keep_closed_days: i64,
    pub today: Day,
}

/// A stage of a sync and how far it is, for a progress bar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Pulling { received: usize },
    Rewrapping { done: usize, total: usize },
    Pushing { done: usize, total: usize },
}

/// Most pages one pull reads (500 records each): a hub that always says "more" cannot
/// keep a sync going for ever.
const MAX_PAGES: usize = 1000;

/// A stored record to open and check.
struct Job {
    id: RecordId,
    version: i64,
    wrapped: Vec<u8>,
    body: Vec<u8>,
    body_hash: String,
    /// The version this device holds of it (version and hash), if any.
    held: Option<(i64, String)>,
}

enum Verdict {
    NotForMe,
    Refused(String),
    /// Signed by a coordinator on the team then, removed since, never accepted here.
    SetAside(Held),
    /// Signed against a team log this device has not verified yet: look again later.
    Later,
    Accepted(Held),
}

fn sha256_hex(bytes: &[u8]) -> String {
    panah_core::hex(&Sha256::digest(bytes))
}

/// Opens a record and checks it: its signature, its author on the team at the size it
/// names and not removed since (unless this device held that very version), the version
/// the hub lists, its parent (a direct successor of the version held here must name it),
/// and the document's rules.
fn judge(job: &Job, keyring: &Keyring, membership: &Membership, origin: &str) -> Verdict {
    let signed = match open(&job.wrapped, &job.body, keyring) {
        Ok(s) => s,
        Err(Unopened::NotForMe) => return Verdict::NotForMe,
        Err(Unopened::Refused(why)) => return Verdict::Refused(why),
    };
    let hash = panah_core::hex(&signed.hash());
    let seen_before = job.held.as_ref().is_some_and(|(_, h)| *h == hash);
    if signed.body.version != job.version as u64 {
        return Verdict::Refused(format!(
            "the site lists version {} but the signed content is version {}",
            job.version, signed.body.version
        ));
    }
    if let Some((held_version, held_hash)) = &job.held {
        let parent = signed.body.parent.map(|p| panah_core::hex(&p));
        if job.version == *held_version + 1 && parent.as_deref() != Some(held_hash.as_str()) {
            return Verdict::Refused(format!(
                "version {} was not made from the version {held_version} this device holds: someone rewrote the record's history on the site",
                job.version
            ));
        }
    }
    let doc = match Doc::from_bytes(&signed.body.doc) {
        Ok(d) => d,
        Err(why) => return Verdict::Refused(why),
    };
    let by = panah_core::Fingerprint::of(&signed.body.by).to_string();
    if !doc.signed_rightly_by(&by) {
        return Verdict::Refused("an audit record tells of another coordinator's actions".into());
    }
    let held = Held {
        version: job.version,
        hash,
        body_hash: job.body_hash.clone(),
        by,
        date: signed.body.date,
        team_size: signed.body.team_size,
        doc,
    };
    match membership.check(origin, &job.id, &signed, seen_before) {
        Ok(()) => Verdict::Accepted(held),
        Err(RecordError::Removed { .. }) => Verdict::SetAside(held),
        Err(RecordError::FutureTeam { .. }) => Verdict::Later,
        Err(e) => Verdict::Refused(e.to_string()),
    }
}

/// [`judge`] over every job, on every core.
fn judge_all(
    jobs: &[Job],
    keyring: &Keyring,
    membership: &Membership,
    origin: &str,
) -> Vec<Verdict> {
    let threads = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    let chunk = jobs.len().div_ceil(threads).max(16);
    std::thread::scope(|scope| {
        let handles: Vec<_> = jobs
            .chunks(chunk)
            .map(|part| {
                let handle = scope.spawn(move || {
                    part.iter()
                        .map(|j| judge(j, keyring, membership, origin))
                        .collect::<Vec<_>>()
                });
                (part.len(), handle)
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|(n, h)| {
                h.join().unwrap_or_else(|_| {
                    (0..n)
                        .map(|_| Verdict::Refused("it could not be checked".into()))
                        .collect()
                })
            })
            .collect()
    })
}

/// Pulls every change since the cache's cursor into it.
async fn pull(
    session: &Session,
    keyring: &Keyring,
    team: &VerifiedTeam,
    membership: &Membership,
    cache: &mut Cache,
    out: &mut Synced,
    progress: &mut impl FnMut(Stage),
) -> Result<()> {
    let mut retry_from: Option<i64> = None;
    for _ in 0..MAX_PAGES {
        let page: RecordPage = session
            .get(&session.api(&format!("/records?since={}", cache.cursor)))
            .await?;
        if page.next < cache.cursor
            || (page.records.is_empty() && page.more)
            || page
                .records
                .iter()
                .any(|r| r.seq <= cache.cursor || r.seq > page.next)
        {
            return Err(ClientError::BadAnswer(
                "the site's list of changes goes backwards".into(),
            ));
        }
        // First what needs opening; then every record opened and checked on all cores
        // (two X25519 and one Ed25519 operation each); then the cache changed in order.
        let mut jobs = Vec::new();
        let mut steps = Vec::with_capacity(page.records.len());
        for item in &page.records {
            let id = RecordId::parse(&item.id).map_err(ClientError::BadAnswer)?;
            let (w, b) = (&item.wrapped, &item.body);
            let decode = |s: &str| {
                STANDARD
                    .decode(s)
                    .map_err(|_| ClientError::BadAnswer("a record is not base64".into()))
            };
            let (w, b) = (decode(w)?, decode(b)?);
            out.bytes += (w.len() + b.len()) as u64;
            let body_hash = sha256_hex(&b);
            let mark = cache
                .records
                .get(&id)
                .map(|h| (h.version, h.hash.clone(), h.body_hash == body_hash))
                .or_else(|| {
                    cache
                        .gone
                        .get(&id)
                        .map(|g| (g.version, g.hash.clone(), g.body_hash == body_hash))
                });
            match &mark {
                // This very version, ours echoed back or seen before.
                Some((v, _, true)) if *v == item.version => continue,
                Some((v, _, _)) if *v > item.version => {
                    out.refused.push((
                        id.short(),
                        format!("the site offers version {} but this device holds version {v}: it is not taken back", item.version),
                    ));
                    continue;
                }
                Some((v, _, _)) if *v == item.version => {
                    out.refused.push((
                        id.short(),
                        format!("the site shows another version {v} than the one this device holds: someone rewrote the record's history on the site"),
                    ));
                    continue;
                }
                _ => {}
            }
            steps.push((id, item.version, item.seq, jobs.len()));
            jobs.push(Job {
                id,
                version: item.version,
                wrapped: w,
                body: b,
                body_hash,
                held: mark.map(|(v, h, _)| (v, h)),
            });
        }
        let verdicts = judge_all(&jobs, keyring, membership, &team.origin);
        for (id, version, seq, job) in steps {
            match &verdicts[job] {
                Verdict::NotForMe => {
                    if cache.unreadable.len() < 200_000 {
                        cache.unreadable.insert(id, version);
                    }
                }
                Verdict::Refused(why) => out.refused.push((id.short(), why.clone())),
                Verdict::Later => {
                    retry_from = Some(retry_from.map_or(seq, |r| r.min(seq)));
                }
                Verdict::SetAside(held) => {
                    cache.set_aside.insert(id, held.clone());
                    out.set_aside.push(id);
                }
                Verdict::Accepted(held) if cache.gone.contains_key(&id) => {
                    if !matches!(held.doc, Doc::Deleted(_)) {
                        out.refused
                            .push((id.short(), "a deleted record cannot come back".into()));
                    }
                }
                Verdict::Accepted(held) => {
                    let raced = cache
                        .pending
                        .get(&id)
                        .is_some_and(|p| p.base != Some(version));
                    if raced {
                        // Someone else changed it since this device's edit began.
                        if let Some(p) = cache.pending.remove(&id) {
                            if cache.lost(id, p) {
                                out.conflicts.push(id);
                            }
                        }
                    }
                    cache.unreadable.remove(&id);
                    cache.set_aside.remove(&id);
                    if matches!(held.doc, Doc::Deleted(_)) {
                        // Deleted by a coordinator: gone from here too, and no older
                        // version is taken back. An edit made here meanwhile stays a
                        // conflict, so nothing typed is lost without a choice.
                        if let Some(p) = cache.pending.remove(&id) {
                            if p.doc.is_some() && cache.lost(id, p) {
                                out.conflicts.push(id);
                            }
                        }
                        if cache.records.remove(&id).is_some() {
                            out.dropped += 1;
                        }
                        cache.gone.insert(
                            id,
                            Gone {
                                version,
                                hash: held.hash.clone(),
                                body_hash: held.body_hash.clone(),
                                team_size: held.team_size,
                            },
                        );
                    } else {
                        cache.records.insert(id, held.clone());
                        out.received += 1;
                    }
                }
            }
        }
        cache.cursor = page.next;
        progress(Stage::Pulling {
            received: out.received,
        });
        if !page.more {
            break;
        }
    }
    // Versions signed against a team this device has not verified yet are read again
    // next time, once it has.
    if let Some(seq) = retry_from {
        cache.cursor = cache.cursor.min(seq - 1);
    }
    Ok(())
}

/// Signs and seals `doc` as version `version` of `id` for the verified team, made from the
/// version whose hash is `parent`.
fn version_of(
    keyring: &Keyring,
    team: &VerifiedTeam,
    id: RecordId,
    version: i64,
    parent: Option<[u8; 32]>,
    doc: &Doc,
) -> Result<(Signed, Vec<u8>, Vec<u8>)> {
    let body = Unsigned {
        origin: team.origin.clone(),
        id,
        version: version as u64,
        parent,
        team_size: team.team.tree.size(),
        by: keyring.public().signing().to_owned(),
        date: Timestamp::now(),
        doc: doc.to_bytes(),
    };
    if body.doc.len() > panah_core::records::version::MAX_DOC {
        return Err(ClientError::Invalid(
            "this record is too long to store; shorten its notes".into(),
        ));
    }
    let sig = keyring.sign(&body.message());
    let signed = body.signed(sig);
    let (wrapped, sealed) = seal(&signed, &team.recipients())?;
    Ok((signed, wrapped, sealed))
}

/// One change to write: a record's new content (a deletion is [`Doc::Deleted`]) against
/// the version it was made from.
struct Write {
    id: RecordId,
    base: Option<i64>,
    doc: Doc,
}

/// Most changes per batch (the hub takes 200) and about how many bytes (small enough for
/// a slow link to carry within a request's time).
const BATCH: usize = 200;
const BATCH_BYTES: usize = 1024 * 1024;

/// The hash of version `base` of `id` as this device knows it (the parent of a new one).
fn parent_of(cache: &Cache, id: &RecordId, base: Option<i64>) -> Option<[u8; 32]> {
    let base = base?;
    let held = |h: &Held| (h.version == base).then(|| h.hash.clone());
    let hex = (cache.records.get(id).and_then(held))
        .or_else(|| cache.set_aside.get(id).and_then(held))
        .or_else(|| {
            cache
                .gone
                .get(id)
                .filter(|g| g.version == base)
                .map(|g| g.hash.clone())
        })?;
    panah_core::unhex(&hex)
}

/// Writes in batches (each one transaction on the hub), updating the cache for every
/// change stored. Per write: `Some(true)` stored, `Some(false)` lost a race, `None` not
/// tried because the hub refused something else first (that refusal comes back too).
async fn write_all(
    session: &Session,
    keyring: &Keyring,
    team: &VerifiedTeam,
    cache: &mut Cache,
    writes: Vec<Write>,
    mut step: impl FnMut(usize),
) -> (Vec<Option<bool>>, Option<ClientError>) {
    let total = writes.len();
    let mut out: Vec<Option<bool>> = Vec::with_capacity(total);
    let mut writes = writes.into_iter().peekable();
    while writes.peek().is_some() {
        let mut changes = Vec::new();
        let mut made: Vec<(Write, Signed, String)> = Vec::new();
        let mut bytes = 0;
        while changes.len() < BATCH && bytes < BATCH_BYTES {
            let Some(w) = writes.next() else { break };
            let version = w.base.unwrap_or(0) + 1;
            let parent = parent_of(cache, &w.id, w.base);
            let (signed, wrapped, body) =
                match version_of(keyring, team, w.id, version, parent, &w.doc) {
                    Ok(x) => x,
                    Err(e) => {
                        out.resize(total, None);
                        return (out, Some(e));
                    }
                };
            bytes += wrapped.len() + body.len();
            let body_hash = sha256_hex(&body);
            changes.push(RecordChange {
                id: w.id.to_string(),
                base: w.base,
                version,
                wrapped: Some(STANDARD.encode(wrapped)),
                body: Some(STANDARD.encode(body)),
            });
            made.push((w, signed, body_hash));
        }
        let sent = changes.len();
        let answer: Result<RecordResults> = session
            .send_json(
                reqwest::Method::POST,
                &session.api("/records/batch"),
                &RecordBatch { changes },
            )
            .await;
        let answer = match answer {
            Ok(a) if a.results.len() == sent => a,
            Ok(_) => {
                out.resize(total, None);
                return (
                    out,
                    Some(ClientError::BadAnswer(
                        "the site answered a batch with the wrong number of results".into(),
                    )),
                );
            }
            Err(e) => {
                out.resize(total, None);
                return (out, Some(e));
            }
        };
        let mut refusal = None;
        for ((w, signed, body_hash), result) in made.into_iter().zip(answer.results) {
            match result.status {
                200 => {
                    let version = w.base.unwrap_or(0) + 1;
                    let hash = panah_core::hex(&signed.hash());
                    if matches!(w.doc, Doc::Deleted(_)) {
                        cache.set_aside.remove(&w.id);
                        cache.records.remove(&w.id);
                        cache.gone.insert(
                            w.id,
                            Gone {
                                version,
                                hash,
                                body_hash,
                                team_size: signed.body.team_size,
                            },
                        );
                    } else {
                        cache.records.insert(
                            w.id,
                            Held {
                                version,
                                hash,
                                body_hash,
                                by: panah_core::Fingerprint::of(&signed.body.by).to_string(),
                                date: signed.body.date,
                                team_size: signed.body.team_size,
                                doc: w.doc,
                            },
                        );
                    }
                    out.push(Some(true));
                }
                412 => out.push(Some(false)),
                status => {
                    out.push(None);
                    refusal.get_or_insert(ClientError::Refused {
                        status,
                        message: result.error.unwrap_or_default().chars().take(300).collect(),
                    });
                }
            }
        }
        step(out.len());
        if refusal.is_some() {
            out.resize(total, None);
            return (out, refusal);
        }
    }
    (out, None)
}

fn event(keyring: &Keyring, action: Action, id: RecordId, kind: Kind, version: i64) -> Event {
    Event {
        at: Timestamp::now(),
        by: keyring.public().fingerprint().to_string(),
        action,
        record: id,
        kind,
        version: version.max(0) as u64,
    }
}

/// Brings the cache and the hub together: pull, re-wrap what was wrapped for another
/// team (and put back records a removed coordinator edited), expire closed records, push
/// local changes (each against the version it was made from), write the audit trail,
/// pull again. Saves the cache after each step (`save`), so an interrupted sync resumes
/// where it stopped.
pub async fn sync(
    session: &Session,
    keyring: &Keyring,
    team: &VerifiedTeam,
    cache: &mut Cache,
    options: SyncOptions,
    mut save: impl FnMut(&Cache) -> Result<()>,
    mut progress: impl FnMut(Stage),
) -> Result<Synced> {
    if cache.origin.is_empty() {
        cache.origin = team.origin.clone();
    } else if cache.origin != team.origin {
        return Err(ClientError::Invalid(format!(
            "this cache belongs to {}, not {}; it was not touched",
            cache.origin, team.origin
        )));
    }
    let me = keyring.public().fingerprint().to_string();
    cache.labels = team
        .members()
        .iter()
        .map(|m| (m.key.fingerprint().to_string(), m.label.clone()))
        .collect();
    let membership = Membership::from_entries(&team.team.entries);
    let mut out = Synced::default();
    pull(
        session,
        keyring,
        team,
        &membership,
        cache,
        &mut out,
        &mut progress,
    )
    .await?;
    save(cache)?;

    // Re-wrap what was wrapped to another team than today's (a coordinator removed since
    // could read it; one added since could not), and put back the last accepted version
    // of a record a removed coordinator changed since: a new version with a fresh data
    // key, wrapped to the team as it is now and signed here.
    let stale: Vec<(RecordId, i64)> = cache
        .records
        .iter()
        .filter(|(id, _)| !cache.pending.contains_key(id) && !cache.conflicts.contains_key(id))
        .filter_map(|(id, h)| match cache.set_aside.get(id) {
            // Still the removed coordinator's version on the site: put ours back.
            Some(aside) if aside.version >= h.version => Some((*id, aside.version)),
            _ => (!membership.same_team(h.team_size)).then_some((*id, h.version)),
        })
        // Deletions too: a coordinator who joined since must be able to read them.
        .chain(
            cache
                .gone
                .iter()
                .filter(|(_, g)| !membership.same_team(g.team_size))
                .map(|(id, g)| (*id, g.version)),
        )
        .collect();
    let total = stale.len();
    if total > 0 {
        let writes: Vec<Write> = stale
            .iter()
            .filter_map(|(id, base)| match cache.records.get(id) {
                Some(h) => Some(Write {
                    id: *id,
                    base: Some(*base),
                    doc: h.doc.clone(),
                }),
                None => cache.gone.get(id).map(|_| Write {
                    id: *id,
                    base: Some(*base),
                    doc: Doc::Deleted(Deleted {}),
                }),
            })
            .collect();
        progress(Stage::Rewrapping { done: 0, total });
        let (written, error) = write_all(session, keyring, team, cache, writes, |done| {
            progress(Stage::Rewrapping { done, total })
        })
        .await;
        for ((id, _), ok) in stale.iter().zip(written) {
            if ok != Some(true) {
                continue;
            }
            out.rewrapped += 1;
            if let Some(h) = cache.records.get(id) {
                if let Some(kind) = h.doc.kind() {
                    cache
                        .audit
                        .push(event(keyring, Action::Rewrapped, *id, kind, h.version));
                }
            }
        }
        save(cache)?;
        if let Some(e) = error {
            return Err(e);
        }
    }

    // Closed records past their time.
    let keep = time::Duration::days(options.keep_closed_days.max(0));
    let expired: Vec<RecordId> = cache
        .docs()
        .filter(|(id, d)| {
            !cache.pending.contains_key(id)
                && d.closed()
                    .is_some_and(|c| c.0.saturating_add(keep) <= options.today.0)
        })
        .map(|(id, _)| *id)
        .collect();
    for id in expired {
        cache.delete(&id, Action::Expired)?;
        out.expired += 1;
    }

    // Local changes, each against the version it was made from.
    let pending: Vec<(RecordId, Pending)> =
        cache.pending.iter().map(|(k, v)| (*k, v.clone())).collect();
    let total = pending.len();
    let kinds: Vec<Kind> = pending
        .iter()
        .map(|(id, p)| {
            p.doc
                .as_ref()
                .or(cache.records.get(id).map(|h| &h.doc))
                .or(cache.set_aside.get(id).map(|h| &h.doc))
                .and_then(Doc::kind)
                .unwrap_or(Kind::Need)
        })
        .collect();
    let writes: Vec<Write> = pending
        .iter()
        .filter(|(_, p)| p.doc.is_some() || p.base.is_some())
        .map(|(id, p)| Write {
            id: *id,
            base: p.base,
            doc: p.doc.clone().unwrap_or(Doc::Deleted(Deleted {})),
        })
        .collect();
    progress(Stage::Pushing { done: 0, total });
    let (written, error) = write_all(session, keyring, team, cache, writes, |done| {
        progress(Stage::Pushing { done, total })
    })
    .await;
    let mut written = written.into_iter();
    for ((id, p), kind) in pending.into_iter().zip(kinds) {
        if p.doc.is_none() && p.base.is_none() {
            cache.pending.remove(&id);
            continue;
        }
        match written.next().flatten() {
            Some(true) => {
                cache.pending.remove(&id);
                out.sent += 1;
                let version = cache
                    .records
                    .get(&id)
                    .map(|h| h.version)
                    .or(cache.gone.get(&id).map(|g| g.version))
                    .unwrap_or(0);
                cache
                    .audit
                    .push(event(keyring, p.action, id, kind, version));
            }
            Some(false) => {
                cache.pending.remove(&id);
                if cache.lost(id, p) {
                    out.conflicts.push(id);
                }
            }
            // Not tried: it stays pending for the next sync.
            None => {}
        }
    }
    save(cache)?;
    if let Some(e) = error {
        return Err(e);
    }

    // The audit trail: the events of this sync, as new records of the same kind.
    while !cache.audit.is_empty() {
        let n = cache.audit.len().min(MAX_AUDIT_EVENTS);
        let events: Vec<Event> = cache.audit[..n]
            .iter()
            .filter(|e| e.by == me)
            .cloned()
            .collect();
        let write = Write {
            id: RecordId::random(),
            base: None,
            doc: Doc::Audit(Audit { events }),
        };
        let (written, error) = write_all(session, keyring, team, cache, vec![write], |_| {}).await;
        if written.first().copied().flatten() == Some(true) {
            cache.audit.drain(..n);
        }
        save(cache)?;
        if let Some(e) = error {
            return Err(e);
        }
        if written.first().copied().flatten() != Some(true) {
            break; // a fresh id lost a race: keep the events for the next sync
        }
    }

    // What others did meanwhile, and theirs for every conflict.
    pull(
        session,
        keyring,
        team,
        &membership,
        cache,
        &mut out,
        &mut progress,
    )
    .await?;
    out.conflicts.sort();
    out.conflicts.dedup();
    out.set_aside.sort();
    out.set_aside.dedup();
    out.unreadable = cache.unreadable.len();
    cache.last_sync = Some(Timestamp::now());
    save(cache)?;
    Ok(out)
}

/// One record as an age file encrypted to the coordinator's own key, which the stock
/// `rage -d -i IDENTITY` opens: its JSON, pretty-printed, with who last signed it.
pub fn export(cache: &Cache, id: &RecordId, keyring: &Keyring) -> Result<Vec<u8>> {
    let doc = cache
        .current(id)
        .ok_or_else(|| ClientError::Invalid(format!("there is no record {}", id.short())))?;
    let held = cache.records.get(id);
    let value = serde_json::json!({
        "id": id.to_string(),
        "version": held.map(|h| h.version),
        "signed_by": held.map(|h| h.by.clone()),
        "signed_at": held.map(|h| h.date.to_string()),
        "record": doc,
    });
    let text = zeroize::Zeroizing::new(
        serde_json::to_vec_pretty(&value).map_err(|e| ClientError::Invalid(e.to_string()))?,
    );
    age_file::encrypt(&[keyring.identity().to_public()], &text)
        .map_err(|e| ClientError::Invalid(format!("cannot encrypt the export: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use panah_core::records::doc::{Money, Need, NeedStatus, Urgency};

    fn need() -> Doc {
        Doc::Need(Need {
            pseudonym: "Lale-7".into(),
            category: panah_core::ledger::Category::Food,
            urgency: Urgency::Urgent,
            status: NeedStatus::Open,
            money: Some(Money {
                currency: "AFN".into(),
                asked: 100_000,
                funded: 0,
            }),
            notes: "flour".into(),
            ledger: vec![],
            opened: Day::parse("2021-08-20").unwrap(),
            closed: None,
        })
    }

    #[test]
    fn sealed_records_open_only_for_the_team() {
        let me = Keyring::generate();
        let other = Keyring::generate();
        let stranger = Keyring::generate();
        let body = Unsigned {
            origin: "hub.example/c/roshanai/team".into(),
            id: RecordId::random(),
            version: 1,
            parent: None,
            team_size: 2,
            by: me.public().signing().to_owned(),
            date: Timestamp::now(),
            doc: need().to_bytes(),
        };
        let sig = me.sign(&body.message());
        let signed = body.signed(sig);
        let (wrapped, sealed) = seal(
            &signed,
            &[me.identity().to_public(), other.identity().to_public()],
        )
        .unwrap();
        assert_eq!(open(&wrapped, &sealed, &other).unwrap(), signed);
        assert_eq!(open(&wrapped, &sealed, &stranger), Err(Unopened::NotForMe));
        // Anything cut from a wrapped key is refused, not read.
        assert!(matches!(
            open(&wrapped[..wrapped.len() - 1], &sealed, &me),
            Err(Unopened::Refused(_))
        ));
    }

    #[test]
    fn the_cache_is_sealed_to_its_owner_and_keeps_everything() {
        let dir = tempfile::tempdir().unwrap();
        let me = Keyring::generate();
        let path = cache_path(dir.path(), "https://hub.example", "roshanai", "fp");
        assert!(!path.display().to_string().contains("roshanai"));
        let mut cache = Cache::load(&path, &me).unwrap();
        let id = cache.add(need()).unwrap();
        cache.save(&path, &me).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert!(!bytes.windows(6).any(|w| w == b"Lale-7"));
        let back = Cache::load(&path, &me).unwrap();
        assert_eq!(back.current(&id), Some(&need()));
        assert!(Cache::load(&path, &Keyring::generate()).is_err());
        assert_eq!(back.find(&id.short(), None).unwrap(), id);
        assert_eq!(back.find(&id.short(), Some(Kind::Need)).unwrap(), id);
        assert!(matches!(
            back.find(&id.short(), Some(Kind::Case)),
            Err(FindError::NotFound(_))
        ));
        assert!(matches!(
            back.find("zz", None),
            Err(FindError::NotAReference(_))
        ));
        // As copied from a right-to-left line, in Persian digits where it has digits.
        let copied = format!("\u{2068}{}\u{2069}،", id.short());
        assert_eq!(back.find(&copied, None).unwrap(), id);
    }

    #[test]
    fn deleting_what_never_left_forgets_it() {
        let mut cache = Cache::default();
        let id = cache.add(need()).unwrap();
        cache.delete(&id, Action::Deleted).unwrap();
        assert!(cache.pending.is_empty());
        assert!(cache.delete(&id, Action::Deleted).is_err());
    }
}
