//! `GET /api/v1/c/{slug}/coordinators`: who is on the team, with their public keys.
//!
//! Coordinators' tools need every current recipient to encrypt records to all of them.

use axum::extract::State;
use axum::Json;

use super::{ApiError, ApiPath, Caller};
use crate::AppState;
use panah_api::{Member, Team};

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
    Ok(Json(Team {
        collective: caller.collective.to_string(),
        you,
        coordinators: members
            .into_iter()
            .map(|m| Member {
                fingerprint: m.key.fingerprint().to_string(),
                recipient: m.key.recipient_str().to_owned(),
                signing_key: m.key.signing_str(),
                label: m.label,
                added_at: m.added_at.to_string(),
            })
            .collect(),
    }))
}
