//! The team of coordinators as this coordinator verified it from the signed team log
//! (`panah_core::team`), never as the hub lists it.
//!
//! [`verified`] downloads the team log, checks every tile against its checkpoint, replays
//! every change (each signed by a coordinator on the team before it), checks that a
//! current coordinator signed the checkpoint and that the log extends what this machine
//! saw before, and remembers it by its address. What changed since the last look comes
//! back as `news`, for the front end to show. Everything that encrypts to the team or
//! trusts its keys (replies, the ledger, the case tracker) takes a [`VerifiedTeam`].

use panah_api::{Batch, Team as HubTeam, TreeHead};
use panah_core::team::{replay, Change, Member, Team, TeamEntry};
use panah_core::tlog::check::check_tiles;
use panah_core::tlog::tiles::tiles_for;
use panah_core::tlog::tree::{unverified_checkpoint, verifier_key, verify_checkpoint};
use panah_core::tlog::{check_extends, LogKind};
use panah_core::{CoordinatorKey, Timestamp};
use panah_keyring::Keyring;

use crate::error::{ClientError, Result};
use crate::hub::Session;
use crate::verify::{default_state_path, Source, State, VerifyError};

/// The most entries a team log may have before this client refuses to download it.
pub const MAX_TEAM_LOG: u64 = panah_core::team::MAX_LOG;

/// The team, verified.
#[derive(Debug, Clone)]
pub struct VerifiedTeam {
    pub origin: String,
    pub team: Team,
    /// Changes this machine had not seen before (every one on first use).
    pub news: Vec<TeamEntry>,
    pub first_use: bool,
    /// The ledger's origin as the hub gives it (pinned by the ledger's own check).
    pub ledger_origin: String,
    /// Keys the operator proposed, as the hub lists them: nothing until signed.
    pub invitations: Vec<(CoordinatorKey, String)>,
    state_path: std::path::PathBuf,
}

impl VerifiedTeam {
    pub fn members(&self) -> &[Member] {
        &self.team.members
    }

    /// Every coordinator's age recipient: whom replies and records are encrypted to.
    pub fn recipients(&self) -> Vec<age::x25519::Recipient> {
        self.team
            .members
            .iter()
            .map(|m| m.key.recipient())
            .collect()
    }

    /// The verifier keys of the current team for the log `origin` (the ledger's).
    pub fn verifier_keys(&self, origin: &str) -> Vec<String> {
        self.team
            .members
            .iter()
            .map(|m| verifier_key(origin, m.key.signing()))
            .collect()
    }

    /// A member by the fingerprint or the public line a person typed.
    pub fn find(&self, who: &str) -> Option<&Member> {
        let who = who.trim();
        let by_line = CoordinatorKey::parse_line(who).ok();
        self.team
            .members
            .iter()
            .find(|m| by_line.as_ref() == Some(&m.key) || m.key.fingerprint().to_string() == who)
    }

    /// The fingerprint a change was signed by, its member's label if known.
    pub fn who(&self, key: &ed25519_dalek::VerifyingKey) -> String {
        let fp = panah_core::Fingerprint::of(key).to_string();
        let label = self.team.entries.iter().find_map(|e| match &e.body.change {
            Change::Add { key: k, label } if k.signing() == key && !label.is_empty() => {
                Some(label.clone())
            }
            _ => None,
        });
        match label {
            Some(l) => format!("{fp} ({l})"),
            None => fp,
        }
    }
}

fn bad(e: impl std::fmt::Display) -> ClientError {
    ClientError::BadAnswer(e.to_string())
}

/// The team log's address on the hub the session is logged in to.
fn address(session: &Session) -> String {
    format!("{}/c/{}/team", session.base(), session.collective)
}

/// The origin a collective's log of `kind` must have: the hub names it, and it must end in
/// this collective's own path (so no collective's log can pose as another's).
pub(crate) fn check_own_origin(session: &Session, kind: LogKind, origin: &str) -> Result<()> {
    let tail = format!("/c/{}/{}", session.collective, kind.word());
    if !origin.ends_with(&tail) || origin.len() == tail.len() {
        return Err(bad(format!(
            "the hub names the collective's {} {origin:?}, which is not under {tail}",
            kind.word()
        )));
    }
    Ok(())
}

/// A team log as checked at one source (not yet remembered).
#[derive(Debug, Clone)]
pub struct CheckedTeam {
    pub origin: String,
    pub team: Team,
    /// Entries this device had seen at that address before (0 on first use).
    pub seen: u64,
    pub first_use: bool,
    /// The current team's verifier keys for the team log.
    pub keys: Vec<String>,
    state_path: std::path::PathBuf,
}

impl CheckedTeam {
    /// Remembers what was checked, at its address and under its origin.
    pub fn remember(&self) -> Result<()> {
        State {
            origin: self.origin.clone(),
            keys: self.keys.clone(),
            size: self.team.tree.size(),
            root: self.team.tree.root(),
            checked: Timestamp::now(),
        }
        .save(&self.state_path)?;
        Ok(())
    }
}

/// Downloads and checks the team log at `source`: `expect` judges the origin its
/// checkpoint names before anything else is downloaded; then every tile, every change
/// (signed by a coordinator on the team before it), a checkpoint signed by a current
/// coordinator, and a history that extends what this device saw there and under that
/// origin anywhere. Used by the coordinators' tools and by supporters' `verify`.
pub async fn check_team_log(
    source: &Source,
    expect: impl FnOnce(&str) -> Result<()>,
) -> Result<CheckedTeam> {
    let note = source.checkpoint().await?;
    let at = source.to_string();
    let (origin, size, root) = unverified_checkpoint(&note).map_err(|why| {
        ClientError::Verify(VerifyError::NotACheckpoint {
            at: at.clone(),
            why,
        })
    })?;
    let state_path = default_state_path(&source.identity(), &origin)?;
    let state = State::load(&state_path)?;
    if let Some(s) = state.as_ref().filter(|s| s.origin != origin) {
        return Err(VerifyError::OriginChanged {
            remembered: s.origin.clone(),
            at,
            served: origin,
        }
        .into());
    }
    expect(&origin)?;
    if size > MAX_TEAM_LOG {
        return Err(bad(format!(
            "the team log claims {size} entries; a team log has at most {MAX_TEAM_LOG}"
        )));
    }
    let tiles = source.tiles(&tiles_for(size)).await?;
    let leaves = check_tiles(size, &root, tiles).map_err(|why| {
        bad(format!(
            "the team log of {at} does not match its signed checkpoint: {why}"
        ))
    })?;
    let team = replay(&origin, leaves.leaves.iter())
        .map_err(|e| bad(format!("the team log of {at} does not verify: {e}")))?;
    let keys: Vec<String> = team
        .members
        .iter()
        .map(|m| verifier_key(&origin, m.key.signing()))
        .collect();
    verify_checkpoint(&note, &keys, &origin).map_err(|e| {
        bad(format!(
            "the team log's checkpoint is not signed by a coordinator on the team it shows: {e}"
        ))
    })?;
    if let Some(s) = &state {
        check_extends(&leaves.tree, s.size, &s.root).map_err(|why| {
            bad(format!(
                "the team log of {at} is not the one you saw before (it does not extend the {} entries you checked): {why}. Someone may have rewritten the team's history; nothing was done",
                s.size
            ))
        })?;
    }
    // Also against what this device saw of this origin at any address (another spelling
    // of the hub's address, its onion address): a forked team is caught there too.
    crate::verify::check_and_remember_origin(&at, &origin, &keys, &leaves.tree)?;
    Ok(CheckedTeam {
        origin,
        team,
        seen: state.as_ref().map_or(0, |s| s.size),
        first_use: state.is_none(),
        keys,
        state_path,
    })
}

/// Downloads, verifies and remembers the team log. Fails if the team log was not started
/// ([`ClientError::NoTeam`]), if anything in it does not verify, if it does not extend what
/// this machine saw, or if this coordinator is not on the team it shows.
pub async fn verified(session: &Session) -> Result<VerifiedTeam> {
    let info: HubTeam = session.team().await?;
    if info.team_size == 0 {
        refuse_if_seen(session)?;
        return Err(ClientError::NoTeam);
    }
    let source = Source::parse(&address(session), LogKind::Team)?;
    let checked = check_team_log(&source, |origin| {
        check_own_origin(session, LogKind::Team, origin)?;
        if origin != info.team_origin {
            return Err(bad(format!(
                "the hub's team log is signed for {origin:?} but the hub names it {:?}",
                info.team_origin
            )));
        }
        Ok(())
    })
    .await?;
    if !checked
        .team
        .members
        .iter()
        .any(|m| m.key.fingerprint().to_string() == session.fingerprint)
    {
        return Err(ClientError::NotOnTeam(session.fingerprint.clone()));
    }
    checked.remember()?;
    let news = checked
        .team
        .entries
        .get(checked.seen as usize..)
        .unwrap_or_default()
        .to_vec();
    let invitations = info
        .invitations
        .iter()
        .filter_map(|m| {
            CoordinatorKey::from_parts(&m.recipient, &m.signing_key)
                .ok()
                .map(|k| (k, m.label.clone()))
        })
        .collect();
    Ok(VerifiedTeam {
        origin: checked.origin,
        team: checked.team,
        news,
        first_use: checked.first_use,
        ledger_origin: info.ledger_origin,
        invitations,
        state_path: checked.state_path,
    })
}

fn remember(v: &VerifiedTeam, keys: Vec<String>) -> Result<()> {
    State {
        origin: v.origin.clone(),
        keys: keys.clone(),
        size: v.team.tree.size(),
        root: v.team.tree.root(),
        checked: Timestamp::now(),
    }
    .save(&v.state_path)?;
    crate::verify::check_and_remember_origin(&v.origin, &v.origin, &keys, &v.team.tree)?;
    Ok(())
}

/// Signs `changes` on top of `team` and sends them with the checkpoint; on success `team`
/// is the team after them, remembered as seen.
pub async fn change(
    session: &Session,
    keyring: &Keyring,
    team: &mut VerifiedTeam,
    changes: Vec<Change>,
) -> Result<()> {
    let mut next = team.team.clone();
    let base_size = next.tree.size();
    let texts = sign_changes(keyring, &team.origin, &mut next, changes)?;
    send(session, keyring, &team.origin, base_size, &next, texts).await?;
    team.team = next;
    team.news.clear();
    let keys = team.verifier_keys(&team.origin.clone());
    remember(team, keys)
}

fn sign_changes(
    keyring: &Keyring,
    origin: &str,
    team: &mut Team,
    changes: Vec<Change>,
) -> Result<Vec<String>> {
    let me = *keyring.public().signing();
    let today = time::OffsetDateTime::now_utc().date();
    let mut texts = Vec::new();
    for change in changes {
        let body = team.next(me, today, change);
        let sig = keyring.sign(&body.message(origin));
        let entry = body.signed(sig);
        let leaf = entry.to_leaf();
        team.apply(origin, entry)
            .map_err(|e| ClientError::Invalid(e.to_string()))?;
        // Entries are built from checked keys, labels and ASCII: always UTF-8.
        texts.push(String::from_utf8_lossy(&leaf).into_owned());
    }
    Ok(texts)
}

async fn send(
    session: &Session,
    keyring: &Keyring,
    origin: &str,
    base_size: u64,
    team: &Team,
    entries: Vec<String>,
) -> Result<()> {
    let note = keyring.sign_checkpoint(origin, origin, team.tree.size(), &team.tree.root())?;
    let head: TreeHead = session
        .send_json(
            reqwest::Method::POST,
            &session.api("/team"),
            &Batch {
                base_size,
                entries,
                checkpoint: Some(String::from_utf8_lossy(&note).into_owned()),
            },
        )
        .await?;
    if head.size != team.tree.size() {
        return Err(bad(format!(
            "the hub says the team log now has {} entries, not {}",
            head.size,
            team.tree.size()
        )));
    }
    Ok(())
}

/// One coordinator the founding would add: the key as parsed here (its fingerprint is
/// computed from it, never taken from the hub) and the hub's label for it.
#[derive(Debug, Clone)]
pub struct Founding {
    pub key: CoordinatorKey,
    pub label: String,
}

/// Who would be on the team if the founder started it now: themselves first, then every
/// other coordinator the hub lets in today (for a collective that had coordinators before
/// team logs existed). The founder must check this list before signing it: show each
/// key's own fingerprint and line.
pub async fn founding_list(
    session: &Session,
    keyring: &Keyring,
) -> Result<(HubTeam, Vec<Founding>)> {
    let info: HubTeam = session.team().await?;
    if info.team_size != 0 {
        return Err(ClientError::Invalid(
            "the team log was started already; see it with `panah team`".into(),
        ));
    }
    refuse_if_seen(session)?;
    let me = keyring.public();
    let mut members = vec![Founding {
        key: me.clone(),
        label: String::new(),
    }];
    let mut listed_me = false;
    for m in &info.coordinators {
        let key = CoordinatorKey::from_parts(&m.recipient, &m.signing_key).map_err(|e| {
            bad(format!(
                "the hub lists a coordinator key that does not parse: {e}"
            ))
        })?;
        let label = m.label.trim().to_owned();
        panah_core::team::check_label(&label)
            .map_err(|e| bad(format!("the hub lists a coordinator label that {e}")))?;
        if key == me {
            listed_me = true;
            members[0].label = label;
        } else if !members.iter().any(|f| f.key == key) {
            members.push(Founding { key, label });
        }
    }
    if !listed_me {
        return Err(ClientError::Invalid(
            "the hub does not list your key as a coordinator of this collective".into(),
        ));
    }
    Ok((info, members))
}

/// The address's remembered state, if this device ever verified a team log there: then a
/// hub that says there is none is rolling it back, and nothing is founded anew.
fn refuse_if_seen(session: &Session) -> Result<()> {
    let source = Source::parse(&address(session), LogKind::Team)?;
    let path = crate::verify::address_state_path(&source.identity())?;
    if let Some(s) = State::load(&path)? {
        return Err(bad(format!(
            "the hub says this collective has no team log, but this device verified one there \
             ({} entries, {}): someone may be rolling the team back; nothing was signed",
            s.size, s.origin
        )));
    }
    Ok(())
}

/// Starts the team log: this coordinator adds themselves, then `members` (from
/// [`founding_list`], which the person checked), and signs it.
pub async fn found(
    session: &Session,
    keyring: &Keyring,
    info: &HubTeam,
    members: &[Founding],
) -> Result<VerifiedTeam> {
    let origin = info.team_origin.clone();
    check_own_origin(session, LogKind::Team, &origin)?;
    let changes = members
        .iter()
        .map(|f| Change::Add {
            key: f.key.clone(),
            label: f.label.clone(),
        })
        .collect();
    let mut team = Team::new();
    let texts = sign_changes(keyring, &origin, &mut team, changes)?;
    send(session, keyring, &origin, 0, &team, texts).await?;
    verified(session).await
}
