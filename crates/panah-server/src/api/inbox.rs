//! The coordinators' inbox: list conversations, fetch ciphertext, reply, delete, and put
//! back ciphertext encrypted anew (after the team changed).
//!
//! The hub hands out ciphertext only; coordinators decrypt on their own machines. A reply is
//! encrypted by the coordinator's tool to the sender's reply key and to every coordinator;
//! the hub checks only that it is an age file and stores it.

use axum::body::{Body, Bytes};
use axum::extract::rejection::BytesRejection;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use panah_store::{BlobKind, NewMessage, PendingBlobs, Side};

use super::{ApiError, ApiPath, Caller};
use crate::AppState;
use panah_api::{Conversation, Created, File, Message};

/// Largest reply a coordinator may upload (text only, padded).
pub(crate) const MAX_REPLY: usize = 1024 * 1024;

fn to_json(s: panah_store::ConversationSummary) -> Conversation {
    Conversation {
        id: s.conversation.id,
        created_on: s.conversation.created_on.to_string(),
        last_on: s.conversation.last_on.to_string(),
        expires_on: s.conversation.expires_on.to_string(),
        reply_recipient: s.conversation.reply_recipient,
        messages: s
            .messages
            .into_iter()
            .map(|m| Message {
                id: m.id,
                author: match m.author {
                    Side::Sender => "sender",
                    Side::Coordinator => "coordinator",
                }
                .to_owned(),
                created_on: m.created_on.to_string(),
                size: m.size,
                files: m
                    .files
                    .into_iter()
                    .map(|f| File {
                        id: f.id,
                        size: f.size,
                    })
                    .collect(),
            })
            .collect(),
    }
}

pub(crate) async fn list(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    caller: Caller,
) -> Result<Json<Vec<Conversation>>, ApiError> {
    caller.for_collective(&slug)?;
    let all = state.store().conversations(caller.collective_id).await?;
    Ok(Json(all.into_iter().map(to_json).collect()))
}

pub(crate) async fn one(
    State(state): State<AppState>,
    ApiPath((slug, id)): ApiPath<(String, i64)>,
    caller: Caller,
) -> Result<Json<Conversation>, ApiError> {
    caller.for_collective(&slug)?;
    let found = state
        .store()
        .conversation(caller.collective_id, id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "there is no conversation {id} (it may have expired or been deleted)"
            ))
        })?;
    Ok(Json(to_json(found)))
}

async fn blob(
    state: &AppState,
    caller: &Caller,
    kind: BlobKind,
    id: i64,
) -> Result<Response, ApiError> {
    let key = state
        .store()
        .blob_of(caller.collective_id, kind, id)
        .await?
        .ok_or_else(|| {
            ApiError::not_found(format!("there is no such item {id} in this collective"))
        })?;
    let stream = state.blobs().stream(&key).await.map_err(|e| {
        if e.is_missing() {
            tracing::error!(error = %e, "a stored blob is missing");
            ApiError::new(
                StatusCode::GONE,
                "the ciphertext of this item is missing on the hub",
            )
        } else {
            blob_error(e)
        }
    })?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/octet-stream".to_owned()),
            (header::CACHE_CONTROL, "no-store".to_owned()),
            // Which stored ciphertext this is: what a re-encryption must name (If-Match).
            (header::ETAG, format!("\"{key}\"")),
        ],
        Body::from_stream(stream),
    )
        .into_response())
}

/// Largest message envelope a coordinator may put back (what the inbox reads at most).
pub(crate) const MAX_ENVELOPE: usize = 4 * 1024 * 1024;

/// `PUT …/messages/{id}/ciphertext` and `…/files/{id}/ciphertext` with `If-Match` naming
/// the ciphertext it replaces: the same item encrypted anew by a coordinator's tool (to
/// the team as it now is). The hub checks that it is an age file of a plausible size,
/// stores it, points the item at it if it still points at the old one, and deletes the old
/// one; anything else and the new blob goes.
async fn replace(
    state: &AppState,
    caller: &Caller,
    kind: BlobKind,
    id: i64,
    headers: &axum::http::HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    let limit = match kind {
        BlobKind::Message => MAX_ENVELOPE,
        BlobKind::File => {
            usize::try_from(state.inner.settings.max_upload_bytes).unwrap_or(usize::MAX) + 64 * 1024
        }
    };
    let body = body.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("this item is at most {limit} bytes of age ciphertext"),
        )
    })?;
    if body.len() > limit {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("this item is at most {limit} bytes of age ciphertext"),
        ));
    }
    if !body.starts_with(b"age-encryption.org/v1\n") {
        return Err(ApiError::bad_request(
            "the body must be an age file (binary, not armored)",
        ));
    }
    let old = headers
        .get(header::IF_MATCH)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().trim_matches('"').to_owned())
        .filter(|v| v.len() == 32 && v.bytes().all(|b| b.is_ascii_hexdigit()))
        .ok_or_else(|| {
            ApiError::new(
                StatusCode::PRECONDITION_REQUIRED,
                "say which ciphertext this replaces: If-Match with the ETag it was downloaded with",
            )
        })?;
    let blobs = state.blobs().clone();
    let (key, size) = tokio::task::spawn_blocking(move || blobs.write_blob(&body))
        .await
        .map_err(|e| {
            blob_error(panah_store::BlobError::Io {
                path: "the blob store".into(),
                source: std::io::Error::other(e.to_string()),
            })
        })?
        .map_err(blob_error)?;
    let mut pending = PendingBlobs::new(state.blobs());
    pending.push(key.clone());
    let in_flight = pending.in_flight();
    match state
        .store()
        .replace_blob(caller.collective_id, kind, id, &old, &key, size as i64)
        .await
    {
        Ok(true) => {
            drop(in_flight);
            if let Err(e) = state.blobs().delete(&old).await {
                tracing::warn!(error = %e, "could not delete a replaced blob");
            }
            Ok(StatusCode::NO_CONTENT)
        }
        Ok(false) => {
            in_flight.refused();
            Err(ApiError::new(
                StatusCode::PRECONDITION_FAILED,
                format!(
                    "item {id} is not the ciphertext you downloaded any more (it was re-encrypted or deleted meanwhile); fetch it again"
                ),
            ))
        }
        Err(other) => {
            drop(in_flight);
            Err(other.into())
        }
    }
}

pub(crate) async fn replace_message(
    State(state): State<AppState>,
    ApiPath((slug, id)): ApiPath<(String, i64)>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    caller.for_collective(&slug)?;
    replace(&state, &caller, BlobKind::Message, id, &headers, body).await
}

pub(crate) async fn replace_file(
    State(state): State<AppState>,
    ApiPath((slug, id)): ApiPath<(String, i64)>,
    caller: Caller,
    headers: axum::http::HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<StatusCode, ApiError> {
    caller.for_collective(&slug)?;
    replace(&state, &caller, BlobKind::File, id, &headers, body).await
}

pub(crate) async fn message_blob(
    State(state): State<AppState>,
    ApiPath((slug, id)): ApiPath<(String, i64)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.for_collective(&slug)?;
    blob(&state, &caller, BlobKind::Message, id).await
}

pub(crate) async fn file_blob(
    State(state): State<AppState>,
    ApiPath((slug, id)): ApiPath<(String, i64)>,
    caller: Caller,
) -> Result<Response, ApiError> {
    caller.for_collective(&slug)?;
    blob(&state, &caller, BlobKind::File, id).await
}

pub(crate) async fn reply(
    State(state): State<AppState>,
    ApiPath((slug, id)): ApiPath<(String, i64)>,
    caller: Caller,
    body: Result<Bytes, BytesRejection>,
) -> Result<(StatusCode, Json<Created>), ApiError> {
    caller.for_collective(&slug)?;
    let body = body.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("a reply is at most {MAX_REPLY} bytes of age ciphertext"),
        )
    })?;
    if !body.starts_with(b"age-encryption.org/v1\n") {
        return Err(ApiError::bad_request(
            "the body must be an age file (binary, not armored), encrypted by `panah inbox reply`",
        ));
    }
    // A reply is small (at most 1 MiB): kept with its row, in one transaction, so there
    // is no blob to clean up if the row is refused.
    let message = NewMessage {
        author: Side::Coordinator,
        blob: panah_store::blobs::new_key(),
        size: body.len() as i64,
        files: Vec::new(),
        inline: Some(body.to_vec()),
    };
    match state
        .store()
        .add_reply(caller.collective_id, id, &message)
        .await
    {
        Ok(message_id) => {
            state.activity().reply();
            tracing::debug!("reply stored");
            Ok((StatusCode::CREATED, Json(Created { id: message_id })))
        }
        Err(panah_store::StoreError::NotFound(_)) => Err(ApiError::not_found(format!(
            "there is no conversation {id} (it may have expired or been deleted)"
        ))),
        Err(other) => Err(other.into()),
    }
}

fn blob_error(e: panah_store::BlobError) -> ApiError {
    tracing::error!(error = %e, "blob storage failed");
    if e.is_out_of_space() {
        return ApiError::no_space();
    }
    ApiError::new(
        StatusCode::SERVICE_UNAVAILABLE,
        "the hub cannot store files right now; try again later",
    )
}

pub(crate) async fn delete(
    State(state): State<AppState>,
    ApiPath((slug, id)): ApiPath<(String, i64)>,
    caller: Caller,
) -> Result<StatusCode, ApiError> {
    caller.for_collective(&slug)?;
    if crate::conversations::delete_conversation(
        state.store(),
        state.blobs(),
        caller.collective_id,
        id,
    )
    .await?
    {
        state.activity().deletion();
        tracing::debug!("conversation deleted");
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::not_found(format!(
            "there is no conversation {id}"
        )))
    }
}
