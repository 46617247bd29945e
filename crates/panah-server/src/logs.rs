//! The public files of every log a collective keeps (the fund ledger now, the team next),
//! the same for each: `/c/{slug}/{log}/checkpoint` (the latest C2SP signed checkpoint),
//! `/keys` (the verifier keys that may sign it) and `/tile/…` (C2SP tlog-tiles). `panah
//! verify` and `panah mirror` read these, and any static host can serve a copy.
//!
//! Everything here is public and the same for every visitor. Answers are plain text or
//! bytes with CORS open, so that a verifier in a browser can read them too.

use axum::extract::{Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use panah_core::tlog::tiles::{encode_bundle, TileKind, TileRef};
use panah_core::tlog::tree::verifier_key;
use panah_core::tlog::LogKind;
use panah_store::{Collective, Log, Store, StoreError};

use crate::pages::SlugParam;
use crate::AppState;

/// The same three routes for each kind of log.
pub(crate) fn routes() -> Router<AppState> {
    let mut router = Router::new();
    for kind in LogKind::ALL {
        let base = format!("/c/{{slug}}/{}", kind.word());
        router = router
            .route(
                &format!("{base}/checkpoint"),
                get(
                    move |State(s): State<AppState>, SlugParam(slug): SlugParam| {
                        checkpoint(s, slug, kind)
                    },
                ),
            )
            .route(
                &format!("{base}/keys"),
                get(
                    move |State(s): State<AppState>, SlugParam(slug): SlugParam| {
                        keys(s, slug, kind)
                    },
                ),
            )
            .route(
                &format!("{base}/tile/{{*rest}}"),
                get(
                    move |State(s): State<AppState>, Path((slug, rest)): Path<(String, String)>| {
                        tile(s, slug, rest, kind)
                    },
                ),
            );
    }
    router
}

pub(crate) async fn keys_text(
    state: &AppState,
    c: &Collective,
    origin: &str,
) -> Result<String, StoreError> {
    // The signed team, once it has a log: never a key only the hub's table holds.
    let keys: Vec<panah_core::CoordinatorKey> =
        match crate::api::team::signed_team(state, c.id).await? {
            Some(team) => team.members.iter().map(|m| m.key.clone()).collect(),
            None => state
                .store()
                .coordinators(c.id, false)
                .await?
                .into_iter()
                .map(|m| m.key)
                .collect(),
        };
    Ok(keys
        .iter()
        .map(|k| verifier_key(origin, k.signing()) + "\n")
        .collect())
}

pub(crate) fn plain(
    status: StatusCode,
    cache: &'static str,
    content_type: &'static str,
    body: Vec<u8>,
) -> Response {
    (
        status,
        [
            (header::CONTENT_TYPE, HeaderValue::from_static(content_type)),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            (
                header::ACCESS_CONTROL_ALLOW_ORIGIN,
                HeaderValue::from_static("*"),
            ),
        ],
        body,
    )
        .into_response()
}

pub(crate) fn not_here(message: &str) -> Response {
    plain(
        StatusCode::NOT_FOUND,
        "no-cache",
        "text/plain; charset=utf-8",
        format!("{message}\n").into_bytes(),
    )
}

/// The collective a file under `/c/{slug}/{log}/` belongs to, or a plain 404.
pub(crate) async fn collective_for_file(
    state: &AppState,
    slug: &str,
) -> Result<Collective, Response> {
    let collective = match panah_core::Slug::parse(slug) {
        Ok(s) => state.store().collective(&s).await,
        Err(_) => Ok(None),
    };
    match collective {
        Ok(Some(c)) => Ok(c),
        Ok(None) => Err(not_here("there is no such collective on this hub")),
        Err(e) => Err(file_error(&e)),
    }
}

/// The collective and its log of this kind, or a plain 404.
async fn log_for_file(
    state: &AppState,
    slug: &str,
    kind: LogKind,
) -> Result<(Collective, Log), Response> {
    let c = collective_for_file(state, slug).await?;
    match state.store().log(c.id, kind).await {
        Ok(Some(log)) => Ok((c, log)),
        Ok(None) => Err(not_started(kind)),
        Err(e) => Err(file_error(&e)),
    }
}

pub(crate) fn not_started(kind: LogKind) -> Response {
    not_here(match kind {
        LogKind::Ledger => "this collective has not started its ledger",
        LogKind::Team => "this collective's founding coordinator has not started its team log",
    })
}

/// A 500 for a log's file, with the reason in the hub's log (never in the answer).
pub(crate) fn file_error(why: &dyn std::fmt::Display) -> Response {
    tracing::error!(error = %why, "cannot serve a log file");
    unreadable()
}

/// The 500 answer itself, for failures already logged where they happened.
pub(crate) fn unreadable() -> Response {
    plain(
        StatusCode::INTERNAL_SERVER_ERROR,
        "no-store",
        "text/plain; charset=utf-8",
        b"the hub could not read this log\n".to_vec(),
    )
}

/// The bytes of one tile of a log (within its signed tree): what the hub serves and what
/// it publishes.
pub(crate) async fn tile_bytes(
    store: &Store,
    log: &Log,
    tile: &TileRef,
) -> Result<Vec<u8>, StoreError> {
    let from = tile.first();
    let to = from + u64::from(tile.width);
    match tile.kind {
        TileKind::Entries => {
            let leaves = store.log_leaves(log.id, from, to).await?;
            encode_bundle(leaves.iter().map(|(_, l)| l.as_slice())).map_err(|i| {
                StoreError::Corrupt(format!(
                    "{} entry {} is too long for an entry bundle",
                    log.kind.word(),
                    from + i as u64
                ))
            })
        }
        TileKind::Hashes { .. } => Ok(store
            .log_level(log.id, tile.tree_level(), from, to)
            .await?
            .iter()
            .flat_map(|(_, h)| *h)
            .collect()),
    }
}

/// `/c/{slug}/{log}/checkpoint`: the latest signed checkpoint (C2SP tlog-checkpoint).
async fn checkpoint(state: AppState, slug: String, kind: LogKind) -> Response {
    let (_, log) = match log_for_file(&state, &slug, kind).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match state.store().latest_checkpoint(log.id).await {
        Ok(Some(cp)) => plain(
            StatusCode::OK,
            "no-cache",
            "text/plain; charset=utf-8",
            cp.note.into_bytes(),
        ),
        Ok(None) => not_started(kind),
        Err(e) => file_error(&e),
    }
}

/// `/c/{slug}/{log}/keys`: the coordinators' verifier keys for the log, one a line.
async fn keys(state: AppState, slug: String, kind: LogKind) -> Response {
    let (c, log) = match log_for_file(&state, &slug, kind).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match keys_text(&state, &c, &log.origin).await {
        Ok(text) => plain(
            StatusCode::OK,
            "no-cache",
            "text/plain; charset=utf-8",
            text.into_bytes(),
        ),
        Err(e) => file_error(&e),
    }
}

/// `/c/{slug}/{log}/tile/…`: hash tiles and entry bundles (C2SP tlog-tiles).
async fn tile(state: AppState, slug: String, rest: String, kind: LogKind) -> Response {
    let Ok(tile) = TileRef::parse(&format!("tile/{rest}")) else {
        return not_here("this is not a tile path (C2SP tlog-tiles: tile/<L>/<N>[.p/<W>] or tile/entries/<N>[.p/<W>])");
    };
    let (_, log) = match log_for_file(&state, &slug, kind).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    match tile.available_width(log.size) {
        Some(w) if w >= tile.width => {}
        _ => return not_here("the signed tree does not reach this tile"),
    }
    // A full tile never changes; a partial one is replaced by a wider one later, but a
    // given width never changes either.
    match tile_bytes(state.store(), &log, &tile).await {
        Ok(body) => plain(
            StatusCode::OK,
            "public, max-age=31536000, immutable",
            "application/octet-stream",
            body,
        ),
        Err(e) => file_error(&e),
    }
}
