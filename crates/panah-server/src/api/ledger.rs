//! The coordinators' ledger API (see [`crate::ledger::append`] for the protocol):
//!
//! - `GET  /api/v1/c/{slug}/ledger` — origin, base currency, size (404 before `init`)
//! - `POST /api/v1/c/{slug}/ledger` — start the ledger with a signed empty checkpoint
//! - `PUT  /api/v1/c/{slug}/ledger/goals` — overall target and per-category budgets
//! - `POST /api/v1/c/{slug}/ledger/prepare` — check entries, answer the root they make
//! - `POST /api/v1/c/{slug}/ledger/append` — entries plus the checkpoint that signs them

use std::collections::BTreeMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use panah_core::ledger::{Category, Currency, DatePrecision};
use panah_core::tlog::check::b64;
use panah_core::CoordinatorKey;
use panah_store::Ledger;

use super::{ApiError, ApiJson, ApiPath, Caller};
use crate::ledger;
use crate::AppState;
use panah_api::{Batch, CreateLedger, Goals, LedgerInfo, TreeHead};

/// Largest ledger request: a thousand entries of up to 2 KiB, JSON-escaped.
pub(crate) const MAX_LEDGER_BODY: usize = 4 * 1024 * 1024;

fn to_json(l: Ledger) -> LedgerInfo {
    LedgerInfo {
        origin: l.log.origin,
        base_currency: l.base_currency.code().to_owned(),
        size: l.log.size,
        target: l.target,
        budgets: l
            .budgets
            .into_iter()
            .map(|(c, v)| (c.word().to_owned(), v))
            .collect(),
    }
}

async fn ledger_of(state: &AppState, caller: &Caller) -> Result<Ledger, ApiError> {
    state
        .store()
        .ledger(caller.collective_id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(
                "this collective has no ledger yet; start it with `panah ledger init`",
            )
        })
}

async fn key_of(state: &AppState, caller: &Caller) -> Result<CoordinatorKey, ApiError> {
    state
        .store()
        .coordinator_by_id(caller.coordinator_id)
        .await?
        .map(|(c, _)| c.key)
        .ok_or_else(|| ApiError::forbidden("this key was removed from the collective"))
}

pub(crate) async fn show(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    caller: Caller,
) -> Result<Json<LedgerInfo>, ApiError> {
    caller.for_collective(&slug)?;
    Ok(Json(to_json(ledger_of(&state, &caller).await?)))
}

pub(crate) async fn create(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    caller: Caller,
    ApiJson(body): ApiJson<CreateLedger>,
) -> Result<(StatusCode, Json<LedgerInfo>), ApiError> {
    caller.for_collective(&slug)?;
    // The hub names its logs; a coordinator cannot, so no ledger can claim another
    // collective's path (or a look-alike of its own).
    let origin = state
        .inner
        .settings
        .log_origin(&caller.collective, panah_core::tlog::LogKind::Ledger);
    if body.origin != origin {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "this hub names the collective's ledger {origin:?}, not {:?}: sign the empty checkpoint for that origin",
                body.origin
            ),
        ));
    }
    let base =
        Currency::parse(&body.base_currency).map_err(|e| ApiError::bad_request(e.to_string()))?;
    if state.store().ledger(caller.collective_id).await?.is_some() {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "this collective's ledger was started already; its origin and base currency never change",
        ));
    }
    let key = key_of(&state, &caller).await?;
    let empty = panah_core::tlog::tree::Tree::new().root();
    ledger::check_signed_by(&body.origin, &key, &body.checkpoint, 0, &empty)?;
    state
        .store()
        .create_ledger(
            caller.collective_id,
            &body.origin,
            base,
            &body.checkpoint,
            caller.coordinator_id,
            ledger::signed_on(DatePrecision::Day, time::OffsetDateTime::now_utc().date()),
        )
        .await
        .map_err(|e| match e {
            panah_store::StoreError::Conflict(_) => ApiError::new(
                StatusCode::CONFLICT,
                "a ledger with this origin exists already (origins name one log each); choose another",
            ),
            other => other.into(),
        })?;
    Ok((
        StatusCode::CREATED,
        Json(to_json(ledger_of(&state, &caller).await?)),
    ))
}

pub(crate) async fn goals(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    caller: Caller,
    ApiJson(body): ApiJson<Goals>,
) -> Result<Json<LedgerInfo>, ApiError> {
    caller.for_collective(&slug)?;
    let ledger = ledger_of(&state, &caller).await?;
    let positive = |what: &str, v: i64| {
        if v > 0 {
            Ok(v)
        } else {
            Err(ApiError::bad_request(format!(
                "{what} must be more than zero (in minor units of the base currency)"
            )))
        }
    };
    let target = body.target.map(|t| positive("the target", t)).transpose()?;
    let mut budgets = BTreeMap::new();
    for (word, amount) in body.budgets {
        let category = Category::parse(&word).ok_or_else(|| {
            ApiError::bad_request(format!(
                "{:?} is not a category; use one of {}",
                word.chars().take(30).collect::<String>(),
                Category::ALL
                    .iter()
                    .map(|c| c.word())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
        })?;
        budgets.insert(
            category,
            positive(&format!("the budget for {word}"), amount)?,
        );
    }
    state
        .store()
        .set_ledger_goals(ledger.log.id, target, &budgets)
        .await?;
    Ok(Json(to_json(ledger_of(&state, &caller).await?)))
}

async fn prepared(
    state: &AppState,
    caller: &Caller,
    body: Batch,
) -> Result<(Ledger, CoordinatorKey, ledger::Prepared, Option<String>), ApiError> {
    let ledger = ledger_of(state, caller).await?;
    let key = key_of(state, caller).await?;
    let leaves = body.entries.into_iter().map(String::into_bytes).collect();
    let prepared = ledger::prepare(state.store(), &ledger, &key, body.base_size, leaves).await?;
    Ok((ledger, key, prepared, body.checkpoint))
}

pub(crate) async fn prepare(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    caller: Caller,
    ApiJson(body): ApiJson<Batch>,
) -> Result<Json<TreeHead>, ApiError> {
    caller.for_collective(&slug)?;
    let (_, _, prepared, _) = prepared(&state, &caller, body).await?;
    Ok(tree_json(&prepared))
}

fn tree_json(p: &ledger::Prepared) -> Json<TreeHead> {
    Json(TreeHead {
        size: p.extension.size,
        root: b64(&p.extension.root),
    })
}

pub(crate) async fn append(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    caller: Caller,
    ApiJson(body): ApiJson<Batch>,
) -> Result<Json<TreeHead>, ApiError> {
    caller.for_collective(&slug)?;
    let (ledger, key, prepared, checkpoint) = prepared(&state, &caller, body).await?;
    let checkpoint = checkpoint.ok_or_else(|| {
        ApiError::bad_request("an append needs the signed checkpoint for the new tree")
    })?;
    ledger::commit(
        state.store(),
        &ledger,
        caller.coordinator_id,
        &key,
        &prepared,
        &checkpoint,
    )
    .await?;
    state.appended().notify_one();
    Ok(tree_json(&prepared))
}
