//! The case tracker's API: a blind store of records. The hub checks who is writing (a
//! coordinator of the collective, through the token), that a record's id and versions are
//! well formed and follow each other, and that what it is given is two age files of a
//! plausible size; it cannot read them, and it cannot tell a need from a case.
//!
//! - `GET c/{slug}/records?since=SEQ`: changes after a cursor, in the order they were
//!   committed, in pages of at most 500 records or 6 MiB.
//! - `PUT c/{slug}/records/{id}` (`RecordPut`): a version, written only if the record is
//!   at `base` (412 otherwise: the device shows both versions to its coordinator).
//! - `POST c/{slug}/records/batch` (`RecordBatch`): up to 200 changes in one transaction.
//!
//! A deletion is a version like any other (signed on the device, checked by every other
//! device): the hub replaces the record's content with it and cannot tell it from an edit.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::Json;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use panah_api::{
    RecordBatch, RecordItem, RecordPage, RecordPut, RecordResult, RecordResults, RecordStored,
};
use panah_core::records::RecordId;
use panah_core::Timestamp;
use panah_store::{RecordRefusal, RecordWrite};
use serde::Deserialize;

use super::{ApiError, ApiJson, ApiPath, Caller};
use crate::AppState;

/// Largest age file of a record's content (a document of at most 512 KiB, padded).
pub(crate) const MAX_RECORD_BODY: usize = 700 * 1024;
/// Largest age file of a wrapped data key (one stanza per coordinator, at most 50).
pub(crate) const MAX_WRAPPED: usize = 16 * 1024;
/// Largest request: both, in base64, and the JSON around them.
pub(crate) const MAX_RECORD_REQUEST: usize = (MAX_RECORD_BODY + MAX_WRAPPED) * 4 / 3 + 4096;
/// Most changes in one batch, and most bytes of its request.
pub(crate) const MAX_BATCH: usize = 200;
pub(crate) const MAX_BATCH_REQUEST: usize = 8 * 1024 * 1024;
/// Most live records one collective may keep.
pub(crate) const MAX_LIVE_RECORDS: i64 = 100_000;
const PAGE_ROWS: i64 = 500;
/// Most bytes of records one collective may keep.
pub(crate) const MAX_COLLECTIVE_BYTES: i64 = 2 * 1024 * 1024 * 1024;
/// A page small enough for a slow link (Tor from a phone) to carry within the time a
/// request has.
const PAGE_BYTES: i64 = 2 * 1024 * 1024;

const AGE_HEADER: &[u8] = b"age-encryption.org/v1\n";

fn record_id(id: &str) -> Result<RecordId, ApiError> {
    RecordId::parse(id).map_err(ApiError::bad_request)
}

fn age_file(what: &str, b64: &str, max: usize) -> Result<Vec<u8>, ApiError> {
    if b64.len() > max * 4 / 3 + 8 {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the {what} is larger than {max} bytes"),
        ));
    }
    let bytes = STANDARD
        .decode(b64)
        .map_err(|_| ApiError::bad_request(format!("the {what} is not base64")))?;
    if bytes.len() > max {
        return Err(ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("the {what} is larger than {max} bytes"),
        ));
    }
    if !bytes.starts_with(AGE_HEADER) {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!(
                "the {what} is not an age file: records are encrypted on the coordinator's device"
            ),
        ));
    }
    Ok(bytes)
}

fn refused(r: RecordRefusal) -> ApiError {
    match r {
        RecordRefusal::Full => ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            format!("the collective keeps as many records as this site allows ({MAX_LIVE_RECORDS} records, {} MiB); delete closed ones first", MAX_COLLECTIVE_BYTES >> 20),
        ),
        RecordRefusal::Changed { current: None } => {
            ApiError::new(StatusCode::PRECONDITION_FAILED, "there is no such record")
        }
        RecordRefusal::Changed { current: Some(v) } => ApiError::new(
            StatusCode::PRECONDITION_FAILED,
            format!("this record was changed meanwhile: it is now at version {v}; sync and look at both"),
        ),
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Since {
    #[serde(default)]
    since: i64,
}

pub(crate) async fn list(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    caller: Caller,
    query: Result<Query<Since>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<RecordPage>, ApiError> {
    caller.for_collective(&slug)?;
    let Query(Since { since }) = query.map_err(|_| {
        ApiError::bad_request("ask for changes with ?since=N, N a whole number (0 for all)")
    })?;
    if since < 0 {
        return Err(ApiError::bad_request("since is a whole number, 0 or more"));
    }
    let (rows, more) = state
        .store()
        .records_since(caller.collective_id, since, PAGE_ROWS, PAGE_BYTES)
        .await?;
    let next = rows.last().map_or(since, |r| r.seq);
    let records = rows
        .into_iter()
        .map(|r| RecordItem {
            id: r.record,
            version: r.version,
            seq: r.seq,
            day: r.changed_on,
            wrapped: STANDARD.encode(r.wrapped),
            body: STANDARD.encode(r.body),
        })
        .collect();
    Ok(Json(RecordPage {
        records,
        next,
        more,
    }))
}

/// A change as the store takes it, checked: the id, the version after `base`, and two
/// age files of plausible sizes.
struct Checked {
    id: String,
    base: Option<i64>,
    version: i64,
    wrapped: Vec<u8>,
    body: Vec<u8>,
}

fn check_change(
    id: &str,
    base: Option<i64>,
    version: i64,
    wrapped: Option<&str>,
    body: Option<&str>,
) -> Result<Checked, ApiError> {
    let id = record_id(id)?.to_string();
    let expected = base.unwrap_or(0).checked_add(1);
    if base.is_some_and(|b| b < 1) || Some(version) != expected {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "a record's version is the one it was edited from plus one (1 for a new record)",
        ));
    }
    let (Some(wrapped), Some(body)) = (wrapped, body) else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "a change carries both its wrapped key and its content (a deletion too: it is a signed version)",
        ));
    };
    Ok(Checked {
        id,
        base,
        version,
        wrapped: age_file("wrapped key", wrapped, MAX_WRAPPED)?,
        body: age_file("record", body, MAX_RECORD_BODY)?,
    })
}

/// Writes checked changes in one transaction.
async fn write(
    state: &AppState,
    caller: &Caller,
    changes: &[Checked],
) -> Result<Vec<Result<i64, RecordRefusal>>, ApiError> {
    let day = day_today();
    let writes: Vec<RecordWrite<'_>> = changes
        .iter()
        .map(|c| RecordWrite {
            record: &c.id,
            base: c.base,
            version: c.version,
            wrapped: &c.wrapped,
            body: &c.body,
            day: &day,
        })
        .collect();
    Ok(state
        .store()
        .write_records(
            caller.collective_id,
            &writes,
            MAX_LIVE_RECORDS,
            MAX_COLLECTIVE_BYTES,
        )
        .await?)
}

fn one(result: Vec<Result<i64, RecordRefusal>>) -> Result<Json<RecordStored>, ApiError> {
    match result.into_iter().next() {
        Some(Ok(seq)) => Ok(Json(RecordStored { seq })),
        Some(Err(r)) => Err(refused(r)),
        None => Err(ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "nothing was written",
        )),
    }
}

pub(crate) async fn put(
    State(state): State<AppState>,
    ApiPath((slug, id)): ApiPath<(String, String)>,
    caller: Caller,
    ApiJson(put): ApiJson<RecordPut>,
) -> Result<Json<RecordStored>, ApiError> {
    caller.for_collective(&slug)?;
    let change = check_change(
        &id,
        put.base,
        put.version,
        Some(&put.wrapped),
        Some(&put.body),
    )?;
    one(write(&state, &caller, &[change]).await?)
}

/// `POST c/{slug}/records/batch`: up to 200 changes in one transaction. A malformed change
/// refuses the whole batch (naming it); a change that lost a race is refused alone.
pub(crate) async fn batch(
    State(state): State<AppState>,
    ApiPath(slug): ApiPath<String>,
    caller: Caller,
    ApiJson(batch): ApiJson<RecordBatch>,
) -> Result<Json<RecordResults>, ApiError> {
    caller.for_collective(&slug)?;
    if batch.changes.is_empty() || batch.changes.len() > MAX_BATCH {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("a batch has 1 to {MAX_BATCH} changes"),
        ));
    }
    let mut seen = std::collections::HashSet::new();
    let mut checked = Vec::with_capacity(batch.changes.len());
    for (i, c) in batch.changes.iter().enumerate() {
        if !seen.insert(c.id.as_str()) {
            return Err(ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                format!("change {i} names a record another change in the batch names"),
            ));
        }
        let one = check_change(
            &c.id,
            c.base,
            c.version,
            c.wrapped.as_deref(),
            c.body.as_deref(),
        )
        .map_err(|e| e.prefixed(&format!("change {i}: ")))?;
        checked.push(one);
    }
    let results = write(&state, &caller, &checked).await?;
    Ok(Json(RecordResults {
        results: results
            .into_iter()
            .map(|r| match r {
                Ok(seq) => RecordResult {
                    status: 200,
                    seq: Some(seq),
                    error: None,
                },
                Err(r) => {
                    let e = refused(r);
                    RecordResult {
                        status: e.status().as_u16(),
                        seq: None,
                        error: Some(e.message().to_owned()),
                    }
                }
            })
            .collect(),
    }))
}

/// Today, as the day a change is kept under (the exact time would say more than needed).
fn day_today() -> String {
    let (y, m, d) = Timestamp::now().date();
    format!("{y:04}-{m:02}-{d:02}")
}
