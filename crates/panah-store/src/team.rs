//! The team log's side of the database: appending signed team changes and bringing the
//! hub's table of coordinators (who may log in, whom submissions are sealed to) to the team
//! they result in, in the same transaction; and the operator's invitations.

use crate::coordinators::revoke;
use crate::logs::{append_in, insert_log, Append};
use crate::{get, LogId, Store, StoreError};
use panah_core::tlog::LogKind;
use panah_core::{CoordinatorKey, Timestamp};

/// A key the operator proposed; nothing until a coordinator signs it onto the team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invitation {
    pub key: CoordinatorKey,
    pub label: String,
    pub invited_at: Timestamp,
}

impl Store {
    /// Appends signed team changes (starting the team log if `append.base_size` is 0) and
    /// makes the active coordinators exactly `team`: missing ones added, others removed
    /// with their logins revoked. Invitations for keys now on the team go. One transaction.
    pub async fn append_team(
        &self,
        collective_id: i64,
        origin: &str,
        append: &Append<'_>,
        team: &[(CoordinatorKey, String)],
    ) -> Result<LogId, StoreError> {
        let mut tx = self.pool().begin().await?;
        let log_id = match self.log(collective_id, LogKind::Team).await? {
            Some(log) => log.id,
            None if append.base_size == 0 => {
                insert_log(&mut tx, collective_id, LogKind::Team, origin).await?
            }
            None => {
                return Err(StoreError::Stale(
                    "the team log was not started yet; fetch it again".into(),
                ))
            }
        };
        append_in(&mut tx, log_id, append).await?;
        let active = sqlx::query(
            "SELECT id, signing_key FROM coordinators
             WHERE collective_id = $1 AND removed_at IS NULL",
        )
        .bind(collective_id)
        .fetch_all(&mut *tx)
        .await?;
        let now = Timestamp::now().to_string();
        let mut present = Vec::new();
        for row in &active {
            let id: i64 = get(row, "id")?;
            let signing: String = get(row, "signing_key")?;
            if team.iter().any(|(k, _)| k.signing_str() == signing) {
                present.push(signing);
            } else {
                sqlx::query("UPDATE coordinators SET removed_at = $1 WHERE id = $2")
                    .bind(&now)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
                revoke(&mut tx, id).await?;
            }
        }
        for (key, label) in team {
            let signing = key.signing_str();
            if present.contains(&signing) {
                continue;
            }
            sqlx::query(
                "INSERT INTO coordinators (collective_id, recipient, signing_key, label, added_at)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(collective_id)
            .bind(key.recipient_str())
            .bind(&signing)
            .bind(label)
            .bind(&now)
            .execute(&mut *tx)
            .await?;
            sqlx::query(
                "DELETE FROM team_invitations WHERE collective_id = $1 AND signing_key = $2",
            )
            .bind(collective_id)
            .bind(&signing)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(log_id)
    }

    /// Records the operator's proposal of a key for a collective's team. Inviting a key
    /// twice keeps the first invitation.
    pub async fn invite_coordinator(
        &self,
        collective_id: i64,
        key: &CoordinatorKey,
        label: &str,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO team_invitations
                 (collective_id, recipient, signing_key, label, invited_at)
             VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(collective_id)
        .bind(key.recipient_str())
        .bind(key.signing_str())
        .bind(label)
        .bind(Timestamp::now().to_string())
        .execute(self.pool())
        .await
        .map_err(|e| {
            if StoreError::is_unique_violation(&e) {
                StoreError::Conflict(format!("an invitation for {}", key.fingerprint()))
            } else {
                e.into()
            }
        })?;
        Ok(())
    }

    /// The open invitations of a collective, oldest first.
    pub async fn invitations(&self, collective_id: i64) -> Result<Vec<Invitation>, StoreError> {
        let rows = sqlx::query(
            "SELECT recipient, signing_key, label, invited_at FROM team_invitations
             WHERE collective_id = $1 ORDER BY id",
        )
        .bind(collective_id)
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let recipient: String = get(row, "recipient")?;
                let signing: String = get(row, "signing_key")?;
                let at: String = get(row, "invited_at")?;
                Ok(Invitation {
                    key: CoordinatorKey::from_parts(&recipient, &signing)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                    label: get(row, "label")?,
                    invited_at: Timestamp::parse(&at)
                        .map_err(|e| StoreError::Corrupt(e.to_string()))?,
                })
            })
            .collect()
    }
}
