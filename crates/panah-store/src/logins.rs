//! Coordinator logins: single-use challenges and short-lived API tokens.
//!
//! Tokens are stored only as hashes, chosen by the caller (the server hashes the token
//! it hands out). Expired rows are swept whenever new ones are written.

use crate::{get, Store, StoreError};
use panah_core::{Slug, Timestamp};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub coordinator_id: i64,
    pub challenge: Vec<u8>,
    pub expires_at: Timestamp,
}

/// Who a token belongs to, as of now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenOwner {
    pub coordinator_id: i64,
    pub collective_id: i64,
    pub collective: Slug,
    pub expires_at: Timestamp,
    /// Set if the coordinator was removed after the token was issued.
    pub removed: bool,
}

fn corrupt(e: impl ToString) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

impl Store {
    pub async fn put_challenge(
        &self,
        id: &str,
        challenge: &Challenge,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM login_challenges WHERE expires_at < $1")
            .bind(now.to_string())
            .execute(self.pool())
            .await?;
        sqlx::query(
            "INSERT INTO login_challenges (id, coordinator_id, challenge, expires_at) VALUES ($1, $2, $3, $4)",
        )
        .bind(id)
        .bind(challenge.coordinator_id)
        .bind(challenge.challenge.clone())
        .bind(challenge.expires_at.to_string())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Takes a challenge: returns it and deletes it in one statement, so two requests
    /// racing with the same answer cannot both succeed.
    pub async fn take_challenge(&self, id: &str) -> Result<Option<Challenge>, StoreError> {
        let row = sqlx::query(
            "DELETE FROM login_challenges WHERE id = $1 RETURNING coordinator_id, challenge, expires_at",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let expires: String = get(&row, "expires_at")?;
        Ok(Some(Challenge {
            coordinator_id: get(&row, "coordinator_id")?,
            challenge: get(&row, "challenge")?,
            expires_at: Timestamp::parse(&expires).map_err(corrupt)?,
        }))
    }

    pub async fn put_token(
        &self,
        token_hash: &[u8],
        coordinator_id: i64,
        expires_at: Timestamp,
        now: Timestamp,
    ) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM api_tokens WHERE expires_at < $1")
            .bind(now.to_string())
            .execute(self.pool())
            .await?;
        sqlx::query(
            "INSERT INTO api_tokens (token_hash, coordinator_id, expires_at) VALUES ($1, $2, $3)",
        )
        .bind(token_hash.to_vec())
        .bind(coordinator_id)
        .bind(expires_at.to_string())
        .execute(self.pool())
        .await?;
        Ok(())
    }

    pub async fn token_owner(&self, token_hash: &[u8]) -> Result<Option<TokenOwner>, StoreError> {
        let row = sqlx::query(
            "SELECT t.coordinator_id, c.collective_id, k.slug, t.expires_at,
                    CASE WHEN c.removed_at IS NULL THEN 0 ELSE 1 END AS removed
             FROM api_tokens t
             JOIN coordinators c ON c.id = t.coordinator_id
             JOIN collectives k ON k.id = c.collective_id
             WHERE t.token_hash = $1",
        )
        .bind(token_hash.to_vec())
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let slug: String = get(&row, "slug")?;
        let expires: String = get(&row, "expires_at")?;
        let removed: i32 = get(&row, "removed")?;
        Ok(Some(TokenOwner {
            coordinator_id: get(&row, "coordinator_id")?,
            collective_id: get(&row, "collective_id")?,
            collective: Slug::parse(&slug).map_err(corrupt)?,
            expires_at: Timestamp::parse(&expires).map_err(corrupt)?,
            removed: removed != 0,
        }))
    }

    pub async fn delete_token(&self, token_hash: &[u8]) -> Result<(), StoreError> {
        sqlx::query("DELETE FROM api_tokens WHERE token_hash = $1")
            .bind(token_hash.to_vec())
            .execute(self.pool())
            .await?;
        Ok(())
    }
}
