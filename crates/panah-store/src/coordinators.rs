//! Coordinators' public keys, per collective.

use sqlx::any::AnyRow;

use crate::{get, Store, StoreError};
use panah_core::{CoordinatorKey, Slug, Timestamp};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Coordinator {
    pub id: i64,
    pub collective_id: i64,
    pub key: CoordinatorKey,
    /// A label the operator chose. Stored in clear: a pseudonym, never a real name.
    pub label: String,
    pub added_at: Timestamp,
    pub removed_at: Option<Timestamp>,
}

const COLUMNS: &str = "id, collective_id, recipient, signing_key, label, added_at, removed_at";

fn corrupt(e: impl ToString) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn from_row(row: &AnyRow) -> Result<Coordinator, StoreError> {
    let recipient: String = get(row, "recipient")?;
    let signing: String = get(row, "signing_key")?;
    let added: String = get(row, "added_at")?;
    let removed: Option<String> = get(row, "removed_at")?;
    Ok(Coordinator {
        id: get(row, "id")?,
        collective_id: get(row, "collective_id")?,
        key: CoordinatorKey::from_parts(&recipient, &signing).map_err(corrupt)?,
        label: get(row, "label")?,
        added_at: Timestamp::parse(&added).map_err(corrupt)?,
        removed_at: removed
            .map(|r| Timestamp::parse(&r))
            .transpose()
            .map_err(corrupt)?,
    })
}

impl Store {
    /// Registers a coordinator's public key. A key can be active only once per
    /// collective; a removed key can be added again (a new row, the old one kept).
    pub async fn add_coordinator(
        &self,
        collective_id: i64,
        key: &CoordinatorKey,
        label: &str,
    ) -> Result<Coordinator, StoreError> {
        let row = sqlx::query(&format!(
            "INSERT INTO coordinators (collective_id, recipient, signing_key, label, added_at)
             VALUES ($1, $2, $3, $4, $5) RETURNING {COLUMNS}"
        ))
        .bind(collective_id)
        .bind(key.recipient_str())
        .bind(key.signing_str())
        .bind(label)
        .bind(Timestamp::now().to_string())
        .fetch_one(self.pool())
        .await
        .map_err(|e| match &e {
            _ if StoreError::is_unique_violation(&e) => {
                StoreError::Conflict(format!("coordinator {}", key.fingerprint()))
            }
            sqlx::Error::Database(d) if d.is_foreign_key_violation() => {
                StoreError::NotFound(format!("collective #{collective_id}"))
            }
            _ => e.into(),
        })?;
        from_row(&row)
    }

    /// Marks a coordinator removed. Their open API tokens are revoked at once.
    /// Returns false if no active coordinator had that key.
    pub async fn remove_coordinator(
        &self,
        collective_id: i64,
        key: &CoordinatorKey,
    ) -> Result<bool, StoreError> {
        let mut tx = self.pool().begin().await?;
        let removed = sqlx::query(
            "UPDATE coordinators SET removed_at = $1
             WHERE collective_id = $2 AND signing_key = $3 AND removed_at IS NULL RETURNING id",
        )
        .bind(Timestamp::now().to_string())
        .bind(collective_id)
        .bind(key.signing_str())
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = removed else {
            return Ok(false);
        };
        revoke(&mut tx, get(&row, "id")?).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Coordinators of a collective in the order they were added; removed ones only if
    /// asked for.
    pub async fn coordinators(
        &self,
        collective_id: i64,
        include_removed: bool,
    ) -> Result<Vec<Coordinator>, StoreError> {
        let filter = if include_removed {
            ""
        } else {
            "AND removed_at IS NULL"
        };
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM coordinators WHERE collective_id = $1 {filter} ORDER BY id"
        ))
        .bind(collective_id)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(from_row)
        .collect()
    }

    /// A coordinator (active or removed) by id, with its collective's slug.
    pub async fn coordinator_by_id(
        &self,
        id: i64,
    ) -> Result<Option<(Coordinator, Slug)>, StoreError> {
        let row = sqlx::query(
            "SELECT c.id, c.collective_id, c.recipient, c.signing_key, c.label, c.added_at,
                    c.removed_at, k.slug
             FROM coordinators c JOIN collectives k ON k.id = c.collective_id WHERE c.id = $1",
        )
        .bind(id)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let slug: String = get(&row, "slug")?;
        Ok(Some((
            from_row(&row)?,
            Slug::parse(&slug).map_err(corrupt)?,
        )))
    }

    /// The active coordinator holding this signing key in this collective.
    pub async fn active_coordinator(
        &self,
        collective_id: i64,
        key: &CoordinatorKey,
    ) -> Result<Option<Coordinator>, StoreError> {
        self.active_coordinator_by_signing_key(collective_id, &key.signing_str())
            .await
    }

    /// Like [`Store::active_coordinator`], by the `ed25519:…` form alone.
    pub async fn active_coordinator_by_signing_key(
        &self,
        collective_id: i64,
        signing_key: &str,
    ) -> Result<Option<Coordinator>, StoreError> {
        sqlx::query(&format!(
            "SELECT {COLUMNS} FROM coordinators
             WHERE collective_id = $1 AND signing_key = $2 AND removed_at IS NULL"
        ))
        .bind(collective_id)
        .bind(signing_key)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
    }
}

/// Ends every login of a coordinator (after they were marked removed).
pub(crate) async fn revoke(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    coordinator_id: i64,
) -> Result<(), StoreError> {
    sqlx::query("DELETE FROM api_tokens WHERE coordinator_id = $1")
        .bind(coordinator_id)
        .execute(&mut **tx)
        .await?;
    sqlx::query("DELETE FROM login_challenges WHERE coordinator_id = $1")
        .bind(coordinator_id)
        .execute(&mut **tx)
        .await?;
    Ok(())
}
