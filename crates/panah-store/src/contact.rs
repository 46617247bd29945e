//! Conversations of the contact drop: rows that point at ciphertext blobs.

use sqlx::any::AnyRow;

use crate::{get, Store, StoreError};
use panah_core::Timestamp;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    Sender,
    Coordinator,
}

impl Author {
    fn as_str(self) -> &'static str {
        match self {
            Author::Sender => "sender",
            Author::Coordinator => "coordinator",
        }
    }
    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "sender" => Ok(Author::Sender),
            "coordinator" => Ok(Author::Coordinator),
            other => Err(StoreError::Corrupt(format!("message author {other:?}"))),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conversation {
    pub id: i64,
    pub collective_id: i64,
    pub reply_recipient: String,
    pub created_on: Timestamp,
    pub last_on: Timestamp,
    pub expires_on: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileRow {
    pub id: i64,
    pub blob: String,
    pub size: i64,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageRow {
    pub id: i64,
    pub author: Author,
    pub blob: String,
    pub size: i64,
    pub created_on: Timestamp,
    pub files: Vec<FileRow>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConversationSummary {
    pub conversation: Conversation,
    pub messages: Vec<MessageRow>,
}

/// A message whose blobs are already written and synced.
#[derive(Debug, Clone)]
pub struct NewMessage {
    pub author: Author,
    pub blob: String,
    pub size: i64,
    /// (blob key, stored size) per file, in order.
    pub files: Vec<(String, i64)>,
}

fn corrupt(e: impl ToString) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn ts(row: &AnyRow, column: &str) -> Result<Timestamp, StoreError> {
    let text: String = get(row, column)?;
    Timestamp::parse(&text).map_err(corrupt)
}

const CONVERSATION: &str = "id, collective_id, reply_recipient, created_on, last_on, expires_on";

fn conversation_from_row(row: &AnyRow) -> Result<Conversation, StoreError> {
    Ok(Conversation {
        id: get(row, "id")?,
        collective_id: get(row, "collective_id")?,
        reply_recipient: get(row, "reply_recipient")?,
        created_on: ts(row, "created_on")?,
        last_on: ts(row, "last_on")?,
        expires_on: ts(row, "expires_on")?,
    })
}

/// Midnight UTC of the day of `t`: stored dates say which day, never the hour.
pub fn day_of(t: Timestamp) -> Timestamp {
    Timestamp::from_unix(t.unix() - t.unix().rem_euclid(86_400))
}

impl Store {
    /// The named hub secret, created (32 random bytes) the first time it is asked for.
    /// Several hub processes racing here all end up with the same secret.
    pub async fn hub_secret(&self, name: &str) -> Result<Vec<u8>, StoreError> {
        use rand::RngCore;
        let mut fresh = vec![0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut fresh);
        sqlx::query("INSERT INTO hub_secrets (name, secret, created_at) VALUES ($1, $2, $3) ON CONFLICT (name) DO NOTHING")
            .bind(name)
            .bind(fresh)
            .bind(Timestamp::now().to_string())
            .execute(self.pool())
            .await?;
        let row = sqlx::query("SELECT secret FROM hub_secrets WHERE name = $1")
            .bind(name)
            .fetch_one(self.pool())
            .await?;
        get(&row, "secret")
    }

    pub async fn conversation_by_lookup(
        &self,
        collective_id: i64,
        lookup: &[u8],
    ) -> Result<Option<Conversation>, StoreError> {
        sqlx::query(&format!(
            "SELECT {CONVERSATION} FROM conversations WHERE lookup = $1 AND collective_id = $2"
        ))
        .bind(lookup.to_vec())
        .bind(collective_id)
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(conversation_from_row)
        .transpose()
    }

    /// Adds a message to the conversation with this lookup key, creating the conversation
    /// if needed, and pushes its expiry `retention_days` past today. One transaction: when
    /// this returns, the message is durable.
    pub async fn add_message(
        &self,
        collective_id: i64,
        lookup: &[u8],
        reply_recipient: &str,
        message: &NewMessage,
        retention_days: i64,
    ) -> Result<(i64, i64), StoreError> {
        let today = day_of(Timestamp::now());
        let expires = today.plus_seconds(retention_days.max(0) * 86_400);
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO conversations (collective_id, lookup, reply_recipient, created_on, last_on, expires_on)
             VALUES ($1, $2, $3, $4, $4, $5) ON CONFLICT (lookup) DO NOTHING",
        )
        .bind(collective_id)
        .bind(lookup.to_vec())
        .bind(reply_recipient)
        .bind(today.to_string())
        .bind(expires.to_string())
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(
            "UPDATE conversations SET last_on = $1, expires_on = $2
             WHERE lookup = $3 AND collective_id = $4 RETURNING id",
        )
        .bind(today.to_string())
        .bind(expires.to_string())
        .bind(lookup.to_vec())
        .bind(collective_id)
        .fetch_optional(&mut *tx)
        .await?
        .ok_or_else(|| {
            StoreError::Conflict("a conversation with this key in another collective".into())
        })?;
        let conversation_id: i64 = get(&row, "id")?;
        let message_id = self
            .insert_message(&mut tx, conversation_id, message, today)
            .await?;
        tx.commit().await?;
        Ok((conversation_id, message_id))
    }

    async fn insert_message(
        &self,
        tx: &mut sqlx::Transaction<'_, sqlx::Any>,
        conversation_id: i64,
        message: &NewMessage,
        today: Timestamp,
    ) -> Result<i64, StoreError> {
        let row = sqlx::query(
            "INSERT INTO messages (conversation_id, author, blob, size, created_on)
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(conversation_id)
        .bind(message.author.as_str())
        .bind(message.blob.as_str())
        .bind(message.size)
        .bind(today.to_string())
        .fetch_one(&mut **tx)
        .await?;
        let message_id: i64 = get(&row, "id")?;
        for (position, (blob, size)) in message.files.iter().enumerate() {
            sqlx::query("INSERT INTO message_files (message_id, position, blob, size) VALUES ($1, $2, $3, $4)")
                .bind(message_id)
                .bind(position as i64)
                .bind(blob.as_str())
                .bind(*size)
                .execute(&mut **tx)
                .await?;
        }
        Ok(message_id)
    }

    /// A coordinator's reply into an existing conversation of their collective.
    pub async fn add_reply(
        &self,
        collective_id: i64,
        conversation_id: i64,
        message: &NewMessage,
    ) -> Result<i64, StoreError> {
        let today = day_of(Timestamp::now());
        let mut tx = self.pool().begin().await?;
        let found = sqlx::query("UPDATE conversations SET last_on = $1 WHERE id = $2 AND collective_id = $3 RETURNING id")
            .bind(today.to_string())
            .bind(conversation_id)
            .bind(collective_id)
            .fetch_optional(&mut *tx)
            .await?;
        if found.is_none() {
            return Err(StoreError::NotFound(format!(
                "conversation {conversation_id}"
            )));
        }
        let id = self
            .insert_message(&mut tx, conversation_id, message, today)
            .await?;
        tx.commit().await?;
        Ok(id)
    }

    async fn messages_of(&self, conversation_id: i64) -> Result<Vec<MessageRow>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, author, blob, size, created_on FROM messages WHERE conversation_id = $1 ORDER BY id",
        )
        .bind(conversation_id)
        .fetch_all(self.pool())
        .await?;
        let files = sqlx::query(
            "SELECT f.id, f.message_id, f.blob, f.size FROM message_files f
             JOIN messages m ON m.id = f.message_id
             WHERE m.conversation_id = $1 ORDER BY f.message_id, f.position",
        )
        .bind(conversation_id)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let id: i64 = get(row, "id")?;
            let author: String = get(row, "author")?;
            let mut message_files = Vec::new();
            for f in &files {
                let owner: i64 = get(f, "message_id")?;
                if owner == id {
                    message_files.push(FileRow {
                        id: get(f, "id")?,
                        blob: get(f, "blob")?,
                        size: get(f, "size")?,
                    });
                }
            }
            out.push(MessageRow {
                id,
                author: Author::parse(&author)?,
                blob: get(row, "blob")?,
                size: get(row, "size")?,
                created_on: ts(row, "created_on")?,
                files: message_files,
            });
        }
        Ok(out)
    }

    /// The messages of one conversation, for the sender's reply page.
    pub async fn conversation_messages(
        &self,
        conversation_id: i64,
    ) -> Result<Vec<MessageRow>, StoreError> {
        self.messages_of(conversation_id).await
    }

    /// Every conversation of a collective with its messages, newest activity first.
    pub async fn conversations(
        &self,
        collective_id: i64,
    ) -> Result<Vec<ConversationSummary>, StoreError> {
        let rows = sqlx::query(&format!(
            "SELECT {CONVERSATION} FROM conversations WHERE collective_id = $1 ORDER BY last_on DESC, id DESC"
        ))
        .bind(collective_id)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            let conversation = conversation_from_row(row)?;
            let messages = self.messages_of(conversation.id).await?;
            out.push(ConversationSummary {
                conversation,
                messages,
            });
        }
        Ok(out)
    }

    pub async fn conversation(
        &self,
        collective_id: i64,
        id: i64,
    ) -> Result<Option<ConversationSummary>, StoreError> {
        let row = sqlx::query(&format!(
            "SELECT {CONVERSATION} FROM conversations WHERE id = $1 AND collective_id = $2"
        ))
        .bind(id)
        .bind(collective_id)
        .fetch_optional(self.pool())
        .await?;
        let Some(row) = row else { return Ok(None) };
        let conversation = conversation_from_row(&row)?;
        let messages = self.messages_of(conversation.id).await?;
        Ok(Some(ConversationSummary {
            conversation,
            messages,
        }))
    }

    /// The blob key of a message or file of this collective, by id.
    pub async fn blob_of(
        &self,
        collective_id: i64,
        kind: BlobKind,
        id: i64,
    ) -> Result<Option<String>, StoreError> {
        let sql = match kind {
            BlobKind::Message => {
                "SELECT m.blob FROM messages m JOIN conversations c ON c.id = m.conversation_id
                 WHERE m.id = $1 AND c.collective_id = $2"
            }
            BlobKind::File => {
                "SELECT f.blob FROM message_files f JOIN messages m ON m.id = f.message_id
                 JOIN conversations c ON c.id = m.conversation_id WHERE f.id = $1 AND c.collective_id = $2"
            }
        };
        let row = sqlx::query(sql)
            .bind(id)
            .bind(collective_id)
            .fetch_optional(self.pool())
            .await?;
        row.map(|r| get(&r, "blob")).transpose()
    }

    /// Deletes a conversation and returns the blob keys the caller must delete.
    pub async fn delete_conversation(
        &self,
        collective_id: i64,
        id: i64,
    ) -> Result<Option<Vec<String>>, StoreError> {
        let Some(summary) = self.conversation(collective_id, id).await? else {
            return Ok(None);
        };
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "DELETE FROM message_files WHERE message_id IN (SELECT id FROM messages WHERE conversation_id = $1)",
        )
        .bind(id)
        .execute(&mut *tx)
        .await?;
        sqlx::query("DELETE FROM messages WHERE conversation_id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        sqlx::query("DELETE FROM conversations WHERE id = $1")
            .bind(id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        let mut blobs = Vec::new();
        for m in summary.messages {
            blobs.push(m.blob);
            blobs.extend(m.files.into_iter().map(|f| f.blob));
        }
        Ok(Some(blobs))
    }

    /// Conversations past their expiry, as (collective, conversation) ids.
    pub async fn expired_conversations(
        &self,
        now: Timestamp,
    ) -> Result<Vec<(i64, i64)>, StoreError> {
        sqlx::query("SELECT collective_id, id FROM conversations WHERE expires_on <= $1 ORDER BY id LIMIT 1000")
            .bind(now.to_string())
            .fetch_all(self.pool())
            .await?
            .iter()
            .map(|r| Ok((get(r, "collective_id")?, get(r, "id")?)))
            .collect()
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobKind {
    Message,
    File,
}
