//! The coordinators' JSON API under `/api/v1/`.
//!
//! Authentication: a coordinator asks for a challenge naming its collective and public
//! signing key, signs [`panah_core::auth::login_message`] with its keyring, and gets a
//! short-lived bearer token bound to that coordinator and collective. No passwords exist on
//! the hub; tokens are stored only as SHA-256 hashes.

pub(crate) mod inbox;
pub(crate) mod ledger;
pub(crate) mod login;
pub(crate) mod records;
pub(crate) mod team;

use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use panah_core::{Slug, Timestamp};
use serde::de::DeserializeOwned;
use sha2::{Digest, Sha256};

use crate::AppState;

/// Largest API request body for the endpoints in this issue (JSON of a few fields).
pub(crate) const MAX_BODY: usize = 16 * 1024;

/// Prefix of bearer tokens, so a leaked one is recognisable in a scanner.
pub(crate) const TOKEN_PREFIX: &str = "panah_t1_";

/// An API failure: a status and a sentence for the coordinator.
#[derive(Debug)]
pub(crate) struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
        }
    }
    pub fn bad_request(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, message)
    }
    pub fn unauthorized(message: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, message)
    }
    pub fn forbidden(message: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, message)
    }
    pub fn status(&self) -> StatusCode {
        self.status
    }
    /// The disk is full.
    pub fn no_space() -> Self {
        ApiError::new(
            StatusCode::INSUFFICIENT_STORAGE,
            "the hub is out of storage space, so nothing was stored; try again once its operator has made room",
        )
    }
    pub fn message(&self) -> &str {
        &self.message
    }
    /// The same refusal, its sentence prefixed (which item of a batch it is about).
    pub fn prefixed(mut self, prefix: &str) -> Self {
        self.message.insert_str(0, prefix);
        self
    }
}

impl From<panah_store::StoreError> for ApiError {
    fn from(e: panah_store::StoreError) -> Self {
        tracing::error!(error = %e, "store error in the API");
        if e.is_out_of_space() {
            return ApiError::no_space();
        }
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "the hub's database is not answering; try again in a minute",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut res = (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            res.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                header::HeaderValue::from_static("Bearer"),
            );
        }
        res.headers_mut().insert(
            header::CACHE_CONTROL,
            header::HeaderValue::from_static("no-store"),
        );
        res
    }
}

/// `Json<T>` whose refusals are our JSON errors with a sentence, not axum's plain text.
pub(crate) struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(ApiJson(v)),
            Err(rejection) => Err(match rejection {
                JsonRejection::MissingJsonContentType(_) => ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    "send the request body as JSON with Content-Type: application/json",
                ),
                JsonRejection::JsonSyntaxError(e) => {
                    ApiError::bad_request(format!("the body is not valid JSON: {}", e.body_text()))
                }
                JsonRejection::JsonDataError(e) => {
                    ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, format!("the JSON does not fit: {}", e.body_text()))
                }
                JsonRejection::BytesRejection(_) => ApiError::new(
                    StatusCode::PAYLOAD_TOO_LARGE,
                    format!(
                        "the body is too large or was cut off; API bodies are at most {MAX_BODY} bytes, ledger batches at most {}, a record at most {}, a batch of records at most {}",
                        ledger::MAX_LEDGER_BODY,
                        records::MAX_RECORD_REQUEST,
                        records::MAX_BATCH_REQUEST
                    ),
                ),
                other => ApiError::bad_request(other.body_text()),
            }),
        }
    }
}

/// `Path<T>` whose refusals are our JSON errors: an id that is not a number, a segment
/// that is not UTF-8.
pub(crate) struct ApiPath<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for ApiPath<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        axum::extract::Path::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Path(v)| ApiPath(v))
            .map_err(|e| {
                ApiError::bad_request(format!(
                    "this address is not valid ({}); ids are whole numbers",
                    e.body_text()
                ))
            })
    }
}

pub(crate) fn hash_token(token: &str) -> Vec<u8> {
    Sha256::digest(token.as_bytes()).to_vec()
}

/// A request made by a logged-in coordinator. Checks the bearer token is known, unexpired
/// and its coordinator not removed. Which collective it may act on is checked by
/// [`Caller::for_collective`].
#[derive(Debug)]
pub(crate) struct Caller {
    pub coordinator_id: i64,
    pub collective_id: i64,
    pub collective: Slug,
    pub token_hash: Vec<u8>,
}

impl Caller {
    /// Refuses a token issued for another collective.
    pub fn for_collective(&self, slug: &str) -> Result<(), ApiError> {
        if self.collective.as_str() == slug {
            Ok(())
        } else {
            Err(ApiError::forbidden(format!(
                "this token was issued for the collective {:?}, not {:?}; log in to that collective",
                self.collective.as_str(),
                slug.chars().take(60).collect::<String>()
            )))
        }
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let value = parts.headers.get(header::AUTHORIZATION).ok_or_else(|| {
            ApiError::unauthorized(
                "log in first: this request needs an Authorization: Bearer token",
            )
        })?;
        let token = value
            .to_str()
            .ok()
            .and_then(|v| v.strip_prefix("Bearer "))
            .map(str::trim)
            .filter(|t| t.starts_with(TOKEN_PREFIX))
            .ok_or_else(|| {
                ApiError::unauthorized("the Authorization header must be `Bearer panah_t1_…`")
            })?;
        let token_hash = hash_token(token);
        let owner = state
            .store()
            .token_owner(&token_hash)
            .await?
            .ok_or_else(|| {
                ApiError::unauthorized("this token is unknown or was revoked; log in again")
            })?;
        if owner.expires_at <= Timestamp::now() {
            state.store().delete_token(&token_hash).await?;
            return Err(ApiError::unauthorized(
                "this token has expired; log in again",
            ));
        }
        if owner.removed {
            return Err(ApiError::forbidden(
                "this key was removed from the collective",
            ));
        }
        Ok(Caller {
            coordinator_id: owner.coordinator_id,
            collective_id: owner.collective_id,
            collective: owner.collective,
            token_hash,
        })
    }
}

pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("there is no such API endpoint; see /api/v1/ in ARCHITECTURE.md")
}
