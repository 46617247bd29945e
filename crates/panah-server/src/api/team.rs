//! The team of coordinators:
//!
//! - `GET  /api/v1/c/{slug}/coordinators` — who the hub lets in, the logs' origins, the
//!   team log's size and the operator's invitations. Coordinators' tools use only the
//!   origins from this; the team they act on is the one they verify from the log.
//! - `POST /api/v1/c/{slug}/team` — signed team changes (see `panah_core::team`) and the
//!   checkpoint that signs the log with them. The hub replays the whole log with them and
//!   refuses anything the rules refuse; then it lets in exactly the team that results.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use panah_core::team::{replay, Team as SignedTeam, TeamEntry};
use panah_core::tlog::check::b64;
use panah_core::tlog::tiles::extend;
use panah_core::tlog::LogKind;

use super::{ApiError, ApiJson, ApiPath, Caller};
use crate::ledger::{self, AppendRefusal};
use crate::AppState;
use panah_api::{Batch, Member, Team, TreeHead};
use panah_store::{Append, NewEntry};

/// Changes in one request: a founding with the whole existing team fits.
const MAX_CHANGES: usize = panah_core::team::MAX_MEMBERS;

fn member(key: &panah_core::CoordinatorKey, label: String, added_at: String) -> Member {
    Member {
        fingerprint: key.fingerprint().to_string(),
        recipient: key.recipient_str().to_owned(),
        signing_key: key.signing_str(),
        label,
        added_at,
    }
}

/// The origin of the collective's log of `kind`: as stored if it was started, else the
/// one the hub gives it now.
async fn origin_of(state: &AppState, caller: &Caller, kind: LogKind) -> Result<String, ApiError> {
    Ok(match state.store().log(caller.collective_id, kind).await? {
        Some(log) => log.origin,
        None => state.inner.settings.log_origin(&caller.collective, kind),
    })
}

pub(crate) async fn coordinators(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    caller: Caller,
) -> Result<Json<Team>, ApiError> {
    caller.for_collective(&slug)?;
    let members = state
        .store()
        .coordinators(caller.collective_id, false)
        .await?;
    let you = members
        .iter()
        .find(|m| m.id == caller.coordinator_id)
        .map(|m| m.key.fingerprint().to_string())
        .unwrap_or_default();
    let team_size = state
        .store()
        .log(caller.collective_id, LogKind::Team)
        .await?
        .map_or(0, |l| l.size);
    let invitations = state
        .store()
        .invitations(caller.collective_id)
        .await?
        .into_iter()
        .map(|i| member(&i.key, i.label, i.invited_at.to_string()))
        .collect();
    Ok(Json(Team {
        collective: caller.collective.to_string(),
        you,
        coordinators: members
            .into_iter()
            .map(|m| member(&m.key, m.label, m.added_at.to_string()))
            .collect(),
        ledger_origin: origin_of(&state, &caller, LogKind::Ledger).await?,
        team_origin: origin_of(&state, &caller, LogKind::Team).await?,
        team_size,
        invitations,
    }))
}

/// The team as the stored log says, replayed (`None` before the founding). A replay checks
/// every signature (up to 10,000 changes): it runs on the blocking pool and is kept per
/// collective until the log grows, so the public `/keys` files cost a stranger's request
/// one query, not a replay.
pub(crate) async fn signed_team(
    state: &AppState,
    collective_id: i64,
) -> Result<Option<std::sync::Arc<SignedTeam>>, panah_store::StoreError> {
    let store = state.store();
    let Some(log) = store.log(collective_id, LogKind::Team).await? else {
        return Ok(None);
    };
    if let Some(team) = state.inner.teams.get(collective_id, log.id, log.size) {
        return Ok(Some(team));
    }
    let leaves: Vec<Vec<u8>> = store
        .log_leaves(log.id, 0, log.size)
        .await?
        .into_iter()
        .map(|(_, leaf)| leaf)
        .collect();
    let origin = log.origin.clone();
    let team = tokio::task::spawn_blocking(move || replay(&origin, &leaves))
        .await
        .map_err(|e| panah_store::StoreError::Corrupt(format!("the team replay stopped: {e}")))?
        .map_err(|e| {
            panah_store::StoreError::Corrupt(format!("the stored team log does not replay: {e}"))
        })?;
    let team = std::sync::Arc::new(team);
    state
        .inner
        .teams
        .put(collective_id, log.id, log.size, team.clone());
    Ok(Some(team))
}

/// A team replayed from a log (its id) at a size.
type Replayed = (panah_store::LogId, u64, std::sync::Arc<SignedTeam>);

/// Replayed teams by collective, with the log and size they were replayed at.
#[derive(Debug, Default)]
pub(crate) struct Teams(std::sync::Mutex<std::collections::HashMap<i64, Replayed>>);

impl Teams {
    fn get(
        &self,
        collective_id: i64,
        log: panah_store::LogId,
        size: u64,
    ) -> Option<std::sync::Arc<SignedTeam>> {
        let map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.get(&collective_id)
            .filter(|(l, s, _)| *l == log && *s == size)
            .map(|(_, _, t)| t.clone())
    }

    fn put(
        &self,
        collective_id: i64,
        log: panah_store::LogId,
        size: u64,
        team: std::sync::Arc<SignedTeam>,
    ) {
        let mut map = self.0.lock().unwrap_or_else(|p| p.into_inner());
        map.insert(collective_id, (log, size, team));
    }
}

pub(crate) async fn append(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    caller: Caller,
    ApiJson(body): ApiJson<Batch>,
) -> Result<(StatusCode, Json<TreeHead>), ApiError> {
    caller.for_collective(&slug)?;
    let invalid = |m: String| ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m);
    let you = state
        .store()
        .coordinator_by_id(caller.coordinator_id)
        .await?
        .filter(|(c, _)| c.removed_at.is_none())
        .map(|(c, _)| c.key)
        .ok_or_else(|| ApiError::forbidden("this key was removed from the collective"))?;
    let checkpoint = body.checkpoint.as_deref().ok_or_else(|| {
        ApiError::bad_request("send the checkpoint that signs the team log with these changes")
    })?;
    if body.entries.is_empty() || body.entries.len() > MAX_CHANGES {
        return Err(invalid(format!(
            "send between 1 and {MAX_CHANGES} team changes at a time, not {}",
            body.entries.len()
        )));
    }
    let origin = origin_of(&state, &caller, LogKind::Team).await?;
    let mut team: SignedTeam = signed_team(&state, caller.collective_id)
        .await?
        .map(|t| (*t).clone())
        .unwrap_or_default();
    let size = team.tree.size();
    if size + body.entries.len() as u64 > panah_core::team::MAX_LOG {
        return Err(invalid(format!(
            "a team log holds at most {} changes",
            panah_core::team::MAX_LOG
        )));
    }
    if body.base_size != size {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            format!(
                "the team log has {size} entries, not {}: someone else changed the team first; fetch it again",
                body.base_size
            ),
        ));
    }
    if size == 0 {
        // The founding: by a coordinator the operator registered, who signs it.
        let founder = body
            .entries
            .first()
            .and_then(|e| TeamEntry::parse(0, e.as_bytes()).ok())
            .map(|e| e.body.by);
        if founder != Some(*you.signing()) {
            return Err(invalid(
                "the team log is started by a coordinator of this collective adding themselves first"
                    .into(),
            ));
        }
    }
    let today = time::OffsetDateTime::now_utc().date();
    let (yesterday, tomorrow) = (
        today.previous_day().unwrap_or(today),
        today.next_day().unwrap_or(today),
    );
    for (i, text) in body.entries.iter().enumerate() {
        let index = size + i as u64;
        let entry = TeamEntry::parse(index, text.as_bytes()).map_err(|e| invalid(e.to_string()))?;
        if entry.body.date < yesterday || entry.body.date > tomorrow {
            return Err(invalid(format!(
                "team entry {index} is dated {}; changes are dated the day they are signed",
                entry.body.date
            )));
        }
        if entry.body.by != *you.signing() {
            return Err(invalid(format!(
                "team entry {index} is signed by {}, not by you",
                panah_core::Fingerprint::of(&entry.body.by)
            )));
        }
        team.apply(&origin, entry)
            .map_err(|e| invalid(e.to_string()))?;
    }
    if team.member(you.signing()).is_none() {
        return Err(invalid(
            "you cannot take yourself off the team: ask another coordinator to remove you".into(),
        ));
    }
    let leaves: Vec<&[u8]> = body.entries.iter().map(|e| e.as_bytes()).collect();
    let extension = if size == 0 {
        extend(0, &leaves, &Default::default())
            .map_err(|e| panah_store::StoreError::Corrupt(format!("{e:?}")))?
    } else {
        let log = state
            .store()
            .log(caller.collective_id, LogKind::Team)
            .await?
            .ok_or_else(|| {
                ApiError::new(StatusCode::CONFLICT, "the team log changed; fetch it again")
            })?;
        ledger::with_nodes(state.store(), log.id, |known| extend(size, &leaves, known)).await?
    };
    ledger::check_signed_by(&origin, &you, checkpoint, extension.size, &extension.root)
        .map_err(ApiError::from)?;
    let entries: Vec<NewEntry> = leaves.iter().map(|l| NewEntry::plain(l)).collect();
    let members: Vec<(panah_core::CoordinatorKey, String)> = team
        .members
        .iter()
        .map(|m| (m.key.clone(), m.label.clone()))
        .collect();
    state
        .store()
        .append_team(
            caller.collective_id,
            &origin,
            &Append {
                base_size: size,
                entries: &entries,
                hashes: &extension.hashes,
                checkpoint,
                coordinator_id: caller.coordinator_id,
                signed: ledger::signed_on(panah_core::ledger::DatePrecision::Day, today),
            },
            &members,
        )
        .await
        .map_err(|e| match e {
            panah_store::StoreError::Stale(m) | panah_store::StoreError::Conflict(m) => {
                ApiError::new(StatusCode::CONFLICT, format!("{m}; fetch the team again"))
            }
            other => other.into(),
        })?;
    state.inner.doors.forget();
    state.appended().notify_one();
    Ok((
        StatusCode::CREATED,
        Json(TreeHead {
            size: extension.size,
            root: b64(&extension.root),
        }),
    ))
}

impl From<AppendRefusal> for ApiError {
    fn from(r: AppendRefusal) -> Self {
        match r {
            AppendRefusal::Invalid(m) => ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, m),
            AppendRefusal::Conflict(m) => ApiError::new(StatusCode::CONFLICT, m),
            AppendRefusal::Store(e) => e.into(),
        }
    }
}
