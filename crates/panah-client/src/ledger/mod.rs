//! The fund ledger from a coordinator's side: sync (verify what the hub publishes), then
//! add, reverse or import entries and sign them.
//!
//! Appending: first the published ledger is verified here (the hub's checkpoint against
//! the team's keys, every tile, consistency with what this machine saw before); the new
//! entries are added to that tree; the hub is asked which root it gets, and nothing is
//! signed if it disagrees; then the checkpoint is signed and entries and signature are sent
//! together.

pub mod draft;

use std::collections::BTreeMap;
use std::path::PathBuf;

use panah_api::{Batch, CreateLedger, Goals, LedgerInfo, TreeHead};
use panah_core::ledger::entry::{check_against, WithBatch};
use panah_core::ledger::receipt::ReceiptCode;
use panah_core::ledger::{Amount, Category, Currency, DatePrecision, Entry, Kind};
use panah_core::tlog::check::b64;
use panah_core::tlog::tree::{unverified_checkpoint, verifier_key, Tree};
use panah_core::tlog::LogKind;
use panah_keyring::Keyring;

use crate::error::{ClientError, Result};
use crate::hub::Session;
use crate::team::{check_own_origin, VerifiedTeam};
use crate::verify::{self, merge_keys, Source, State, VerifyError};
use draft::Draft;

/// The published ledger as this coordinator verified it, ready to extend.
#[derive(Debug)]
pub struct Synced {
    pub origin: String,
    pub base: Currency,
    pub tree: Tree,
    pub entries: Vec<Entry>,
    /// The goals the hub shows on the appeal (not signed: the operator's settings), in
    /// base-currency minor units: the overall target and the budget per category word.
    pub target: Option<i64>,
    pub budgets: std::collections::BTreeMap<String, i64>,
    keys: Vec<String>,
    state_path: PathBuf,
}

fn invalid(e: impl std::fmt::Display) -> ClientError {
    ClientError::Invalid(e.to_string())
}

/// Downloads and verifies the collective's ledger: signed by a coordinator of the
/// verified `team` (or, unchanged since this machine verified it, by whoever signed it
/// then), every tile checked, extending what was seen before at the same address, under
/// the origin pinned there.
pub async fn sync(session: &Session, team: &VerifiedTeam) -> Result<Synced> {
    let info: LedgerInfo = session.get(&session.api("/ledger")).await?;
    let base = Currency::parse(&info.base_currency)
        .map_err(|e| ClientError::BadAnswer(format!("the hub's base currency: {e}")))?;
    let mut source = Source::parse(
        &format!("{}/c/{}/ledger", session.base(), session.collective),
        LogKind::Ledger,
    )?;
    // The signers are the verified team, so the size a checkpoint claims is the team's
    // word, not a stranger's: the collective's own ledger is checked whatever its size.
    source.max_entries = panah_core::tlog::check::MAX_CHECKED_SIZE;
    let note = source.checkpoint().await?;
    let (origin, size, root) =
        unverified_checkpoint(&note).map_err(|why| VerifyError::NotACheckpoint {
            at: source.to_string(),
            why,
        })?;
    let state_path = verify::default_state_path(&source.identity(), &origin)?;
    let state = State::load(&state_path)?;
    if let Some(s) = state.as_ref().filter(|s| s.origin != origin) {
        return Err(VerifyError::OriginChanged {
            remembered: s.origin.clone(),
            at: source.to_string(),
            served: origin,
        }
        .into());
    }
    // Checked every time, not only on first use: a remembered state says which log this
    // device saw, not that it is this collective's.
    check_own_origin(session, LogKind::Ledger, &origin)?;
    if origin != team.ledger_origin {
        return Err(ClientError::BadAnswer(format!(
            "the ledger's checkpoint names {origin:?}, but the hub names the collective's ledger {:?}",
            team.ledger_origin
        )));
    }
    if info.origin != origin {
        return Err(ClientError::BadAnswer(format!(
            "the hub's API names the ledger {:?} but its checkpoint names {origin:?}",
            info.origin
        )));
    }
    let mut keys = team.verifier_keys(&origin);
    if let Some(s) = state.as_ref().filter(|s| s.size == size && s.root == root) {
        // Verified here before: still good though its signer has since left the team.
        merge_keys(&mut keys, s.keys.iter().cloned());
    }
    let v = verify::check(
        &source,
        &origin,
        note,
        &keys,
        state.map(|s| (s.size, s.root)),
    )
    .await
    .map_err(|e| match e {
        // For a coordinator the signers are the verified team, not keys to pass by hand.
        VerifyError::Untrusted { at, .. } => ClientError::Invalid(format!(
            "the latest checkpoint of {at} is not signed by anyone on the collective's verified team ({} coordinator(s)): a removed coordinator's signature, or someone else's. Nothing was signed; ask a current coordinator to check the ledger",
            team.members().len()
        )),
        other => ClientError::Unverified(other),
    })?;
    // Also against what this machine saw of the same origin anywhere (another hub showing
    // a forked history under this ledger's name).
    verify::check_and_remember_origin(&source.to_string(), &origin, &keys, v.log.tree())
        .map_err(ClientError::Unverified)?;
    if v.checkpoint.size != info.size {
        return Err(ClientError::Invalid(
            "the ledger changed while it was being checked; run the command again".into(),
        ));
    }
    let entries = v.log.entries();
    Ok(Synced {
        origin,
        base,
        tree: v.log.into_tree(),
        entries,
        keys: team.verifier_keys(&info.origin),
        target: info.target,
        budgets: info.budgets,
        state_path,
    })
}

/// Appends `entries` in batches: for each, the hub's root must equal ours before we sign.
pub async fn publish(
    session: &Session,
    keyring: &Keyring,
    synced: &mut Synced,
    entries: &[Entry],
    batch: usize,
) -> Result<()> {
    for chunk in entries.chunks(batch.max(1)) {
        let base_size = synced.tree.size();
        let mut tree = synced.tree.clone();
        let texts: Vec<String> = chunk
            .iter()
            .map(|e| {
                let leaf = e.to_leaf();
                tree.push(&leaf);
                // Leaves are built from `String` fields and ASCII, so always UTF-8.
                String::from_utf8_lossy(&leaf).into_owned()
            })
            .collect();
        let ours = (tree.size(), tree.root());
        let hub: TreeHead = session
            .send_json(
                reqwest::Method::POST,
                &session.api("/ledger/prepare"),
                &Batch {
                    base_size,
                    entries: texts.clone(),
                    checkpoint: None,
                },
            )
            .await?;
        if (hub.size, hub.root.as_str()) != (ours.0, b64(&ours.1).as_str()) {
            return Err(ClientError::Disagrees {
                hub_size: hub.size,
                hub_root: shown_root(hub.root),
                size: ours.0,
                root: b64(&ours.1),
            });
        }
        let note = keyring.sign_checkpoint(&synced.origin, &synced.origin, ours.0, &ours.1)?;
        let note = String::from_utf8(note).map_err(invalid)?;
        let _: TreeHead = session
            .send_json(
                reqwest::Method::POST,
                &session.api("/ledger/append"),
                &Batch {
                    base_size,
                    entries: texts,
                    checkpoint: Some(note),
                },
            )
            .await?;
        synced.tree = tree;
        synced.entries.extend(chunk.iter().cloned());
        State {
            origin: synced.origin.clone(),
            keys: synced.keys.clone(),
            size: ours.0,
            root: ours.1,
            checked: panah_core::Timestamp::now(),
        }
        .save(&synced.state_path)?;
        verify::check_and_remember_origin(
            session.base(),
            &synced.origin,
            &synced.keys,
            &synced.tree,
        )?;
    }
    Ok(())
}

/// The hub's root as it may be shown in a message: only if it is one (base64 of 32 bytes),
/// so a hostile answer cannot put megabytes or anything else in front of the coordinator.
fn shown_root(root: String) -> String {
    use base64::Engine;
    let decoded = base64::engine::general_purpose::STANDARD.decode(root.as_bytes());
    if root.len() == 44 && decoded.is_ok_and(|b| b.len() == 32) {
        root
    } else {
        "(not a hash)".into()
    }
}

/// An amount as typed: `12.50` in `default`, or `12.50 USD`.
pub fn money(text: &str, default: Currency) -> Result<Amount> {
    let text = text.trim();
    let (number, currency) = match text.rsplit_once(' ') {
        Some((n, c)) if c.chars().all(|c| c.is_ascii_alphabetic()) => {
            (n, Currency::parse(c).map_err(invalid)?)
        }
        _ => (text, default),
    };
    Amount::parse(number, currency).map_err(invalid)
}

fn today() -> time::Date {
    time::OffsetDateTime::now_utc().date()
}

/// The memo warnings of a batch: refused (as [`ClientError::MemoWarnings`]) unless
/// `anyway`, in which case they are returned for the front end to show.
pub fn check_memos(entries: &[(Entry, Option<ReceiptCode>)], anyway: bool) -> Result<Vec<String>> {
    let warnings = draft::warnings(entries, 1);
    if warnings.is_empty() || anyway {
        Ok(warnings)
    } else {
        Err(ClientError::MemoWarnings(warnings))
    }
}

/// A ledger started.
#[derive(Debug, Clone)]
pub struct Started {
    pub origin: String,
    /// The coordinator's verifier key for this ledger, to give to supporters.
    pub verifier_key: String,
}

/// Starts the collective's ledger (once) in `base` currency, under the origin the hub
/// names it (which must be this collective's own path).
pub async fn init(
    session: &Session,
    keyring: &Keyring,
    team: &VerifiedTeam,
    base: Currency,
) -> Result<Started> {
    let origin = team.ledger_origin.clone();
    check_own_origin(session, LogKind::Ledger, &origin)?;
    let note = keyring.sign_checkpoint(&origin, &origin, 0, &Tree::new().root())?;
    let note = String::from_utf8(note).map_err(invalid)?;
    let _: LedgerInfo = session
        .send_json(
            reqwest::Method::POST,
            &session.api("/ledger"),
            &CreateLedger {
                origin: origin.clone(),
                base_currency: base.code().to_owned(),
                checkpoint: note,
            },
        )
        .await?;
    Ok(Started {
        verifier_key: verifier_key(&origin, keyring.public().signing()),
        origin,
    })
}

/// Entries added and signed.
#[derive(Debug, Clone)]
pub struct Added {
    /// The index of the first new entry.
    pub first: u64,
    /// The ledger's size after them.
    pub size: u64,
    /// Signed checkpoints made (one per batch).
    pub checkpoints: usize,
    /// The new entries with the receipt code of each gift that asked for one. The codes
    /// are stored nowhere: show them once.
    pub entries: Vec<(Entry, Option<ReceiptCode>)>,
    /// Memo warnings passed over with `anyway`.
    pub warnings: Vec<String>,
}

impl Added {
    /// Whether a new entry's date is kept less exactly than the day: the hub coarsens the
    /// checkpoint's date too, but anyone watching sees the day the ledger changed.
    pub fn timing_visible(&self) -> bool {
        self.entries
            .iter()
            .any(|(e, _)| e.precision != DatePrecision::Day)
    }
}

/// Adds entries made from `drafts` (checked against the ledger and each other), in
/// batches of `batch` per signed checkpoint.
pub async fn add(
    session: &Session,
    keyring: &Keyring,
    drafts: &[Draft],
    team: &VerifiedTeam,
    batch: usize,
    anyway: bool,
) -> Result<Added> {
    let mut synced = sync(session, team).await?;
    let mut entries: Vec<Entry> = Vec::with_capacity(drafts.len());
    let mut codes = Vec::with_capacity(drafts.len());
    for (i, d) in drafts.iter().enumerate() {
        let row = |e: ClientError| {
            if drafts.len() == 1 {
                e
            } else {
                ClientError::Invalid(format!("row {}: {e}", i + 2))
            }
        };
        let (e, code) = d
            .to_entry(synced.base, &session.fingerprint, today())
            .map_err(row)?;
        // Checked against the verified ledger and the rows before it.
        let earlier = WithBatch {
            before: synced.entries.as_slice(),
            base: synced.tree.size(),
            batch: &entries,
        };
        check_against(&earlier, &e).map_err(|e| row(invalid(e)))?;
        entries.push(e);
        codes.push(code);
    }
    let made: Vec<(Entry, Option<ReceiptCode>)> = entries.iter().cloned().zip(codes).collect();
    let warnings = check_memos(&made, anyway)?;
    let first = synced.tree.size();
    publish(session, keyring, &mut synced, &entries, batch).await?;
    Ok(Added {
        first,
        size: synced.tree.size(),
        checkpoints: entries.len().div_ceil(batch.max(1)),
        entries: made,
        warnings,
    })
}

/// Cancels entry `index` with a reversal dated `date` (today by default).
pub async fn reverse(
    session: &Session,
    keyring: &Keyring,
    team: &VerifiedTeam,
    index: u64,
    memo: String,
    date: Option<time::Date>,
) -> Result<Added> {
    let mut synced = sync(session, team).await?;
    let target = usize::try_from(index)
        .ok()
        .and_then(|i| synced.entries.get(i))
        .ok_or_else(|| {
            ClientError::Invalid(format!(
                "there is no entry {index}; the ledger has {}",
                synced.entries.len()
            ))
        })?
        .clone();
    let reversal = Entry {
        kind: Kind::Reversal,
        date: target.precision.coarsen(date.unwrap_or_else(today)),
        reverses: Some(index),
        memo,
        translations: Default::default(),
        receipt: None,
        coordinator: session.fingerprint.clone(),
        ..target
    };
    reversal.validate(synced.base).map_err(invalid)?;
    reversal.check_date(today()).map_err(invalid)?;
    check_against(&synced.entries, &reversal).map_err(invalid)?;
    let made = vec![(reversal.clone(), None)];
    let warnings = check_memos(&made, false)?;
    let first = synced.tree.size();
    publish(
        session,
        keyring,
        &mut synced,
        std::slice::from_ref(&reversal),
        1,
    )
    .await?;
    Ok(Added {
        first,
        size: synced.tree.size(),
        checkpoints: 1,
        entries: made,
        warnings,
    })
}

/// Replaces the goals: an overall target and `CATEGORY=AMOUNT` budgets, in the base
/// currency.
pub async fn set_goals(session: &Session, target: Option<&str>, budgets: &[String]) -> Result<()> {
    let info: LedgerInfo = session.get(&session.api("/ledger")).await?;
    let base = Currency::parse(&info.base_currency)
        .map_err(|e| ClientError::BadAnswer(format!("the hub's base currency: {e}")))?;
    let target = target
        .map(|t| Amount::parse(t, base).map_err(invalid))
        .transpose()?
        .map(Amount::minor);
    let mut map = BTreeMap::new();
    for b in budgets {
        let (c, v) = b
            .split_once('=')
            .ok_or_else(|| ClientError::Invalid(format!("{b:?} is not CATEGORY=AMOUNT")))?;
        let category = Category::parse(c.trim())
            .ok_or_else(|| ClientError::Invalid(format!("{c:?} is not a category")))?;
        map.insert(
            category.word().to_owned(),
            Amount::parse(v, base).map_err(invalid)?.minor(),
        );
    }
    let _: LedgerInfo = session
        .send_json(
            reqwest::Method::PUT,
            &session.api("/ledger/goals"),
            &Goals {
                target,
                budgets: map,
            },
        )
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_hash_is_shown_as_the_hubs_root() {
        let root = b64(&[7; 32]);
        assert_eq!(shown_root(root.clone()), root);
        for bad in [
            String::new(),
            "\u{1b}]52;c;aGk=\u{7}".to_owned(),
            "A".repeat(1 << 20),
            root[..40].to_owned(),
        ] {
            assert_eq!(shown_root(bad), "(not a hash)");
        }
    }
}
