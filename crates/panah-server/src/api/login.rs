//! `POST /api/v1/login/challenge`, `POST /api/v1/login`, `POST /api/v1/logout`.

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use panah_core::auth::{self, CHALLENGE_LEN};
use panah_core::coordinator::parse_verifying_key;
use panah_core::{Slug, Timestamp};
use panah_store::Challenge;
use rand::RngCore;

use super::{hash_token, ApiError, ApiJson, Caller, TOKEN_PREFIX};
use crate::sources::SourceOf;
use crate::AppState;
use panah_api::{ChallengeRequest, LoggedIn, LoginRequest};

fn random<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes
}

fn busy() -> ApiError {
    ApiError::new(
        StatusCode::TOO_MANY_REQUESTS,
        "too many logins on this hub right now; wait a few seconds and try again",
    )
}

/// A request for a key or collective the hub does not know: held to a hub-wide budget of
/// its own, so it never spends a real coordinator's.
fn stranger(state: &AppState, source: SourceOf) -> Result<(), ApiError> {
    if state.inner.stranger_logins.try_acquire((), source.0) {
        Ok(())
    } else {
        Err(busy())
    }
}

const UNKNOWN_CHALLENGE: &str = "this challenge is unknown, was already used, or was given for a key that is not a coordinator of this collective: check --collective and your keyring, then ask for a new one";

pub(crate) async fn challenge(
    State(state): State<AppState>,
    source: SourceOf,
    ApiJson(req): ApiJson<ChallengeRequest>,
) -> Result<Json<panah_api::Challenge>, ApiError> {
    let slug = Slug::parse(&req.collective).map_err(|e| ApiError::bad_request(e.to_string()))?;
    let key_b64 = req.key.strip_prefix("ed25519:").ok_or_else(|| {
        ApiError::bad_request("key must be `ed25519:BASE64`, as `panah id show` prints it")
    })?;
    let key = parse_verifying_key(key_b64)
        .map_err(|e| ApiError::bad_request(format!("the signing key is not valid: {e}")))?;
    let store = state.store();
    let Some(collective) = store.collective(&slug).await? else {
        stranger(&state, source)?;
        // Collectives are public (the hub's home page lists them): saying so tells nothing.
        return Err(ApiError::not_found(format!(
            "there is no collective {:?} on this hub",
            slug.as_str()
        )));
    };
    let now = Timestamp::now();
    let expires_at = now.plus_seconds(state.inner.settings.challenge_ttl_secs);
    let id = URL_SAFE_NO_PAD.encode(random::<16>());
    let challenge = random::<CHALLENGE_LEN>().to_vec();
    let Some(coordinator) = store
        .active_coordinator_by_signing_key(collective.id, &req.key)
        .await?
    else {
        // Whether a key is on a collective's team is not told to whoever asks: a key that
        // is not gets a challenge like any other, which no answer can pass, even when the
        // strangers' budget is spent (a 429 here would tell the keys apart).
        let _ = state.inner.stranger_logins.try_acquire((), source.0);
        return Ok(Json(panah_api::Challenge {
            challenge_id: id,
            challenge: STANDARD.encode(challenge),
            expires_at: expires_at.to_string(),
        }));
    };
    if !state.inner.logins.try_acquire(key.to_bytes(), source.0) {
        return Err(busy());
    }
    store
        .put_challenge(
            &id,
            &Challenge {
                coordinator_id: coordinator.id,
                challenge: challenge.clone(),
                expires_at,
            },
            now,
        )
        .await?;
    Ok(Json(panah_api::Challenge {
        challenge_id: id,
        challenge: STANDARD.encode(challenge),
        expires_at: expires_at.to_string(),
    }))
}

pub(crate) async fn login(
    State(state): State<AppState>,
    source: SourceOf,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoggedIn>, ApiError> {
    let signature =
        auth::parse_signature(&req.signature).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if req.challenge_id.len() > 64 {
        return Err(ApiError::bad_request("challenge_id is too long"));
    }
    let store = state.store();
    // Taken before checking, so each challenge gets exactly one answer, right or wrong.
    let Some(challenge) = store.take_challenge(&req.challenge_id).await? else {
        stranger(&state, source)?;
        return Err(ApiError::unauthorized(UNKNOWN_CHALLENGE));
    };
    let now = Timestamp::now();
    if challenge.expires_at <= now {
        return Err(ApiError::unauthorized(
            "this challenge has expired; ask for a new one",
        ));
    }
    let (coordinator, slug) = store
        .coordinator_by_id(challenge.coordinator_id)
        .await?
        .ok_or_else(|| ApiError::unauthorized("this challenge is unknown; ask for a new one"))?;
    if coordinator.removed_at.is_some() {
        return Err(ApiError::forbidden(
            "this key was removed from the collective",
        ));
    }
    auth::verify_login(
        &slug,
        coordinator.key.signing(),
        &challenge.challenge,
        &signature,
    )
    .map_err(|e| ApiError::unauthorized(e.to_string()))?;
    let token = format!("{TOKEN_PREFIX}{}", URL_SAFE_NO_PAD.encode(random::<32>()));
    let expires_at = now.plus_seconds(state.inner.settings.token_ttl_secs);
    store
        .put_token(&hash_token(&token), coordinator.id, expires_at, now)
        .await?;
    state.activity().login();
    tracing::debug!("coordinator logged in");
    Ok(Json(LoggedIn {
        token,
        expires_at: expires_at.to_string(),
        collective: slug.to_string(),
        fingerprint: coordinator.key.fingerprint().to_string(),
    }))
}

pub(crate) async fn logout(
    State(state): State<AppState>,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    state.store().delete_token(&caller.token_hash).await?;
    Ok(StatusCode::NO_CONTENT)
}
