//! Conversations of the contact drop: rows that point at ciphertext blobs.

use std::collections::HashMap;

use sqlx::any::AnyRow;

use crate::messages::Target;
use crate::{get, Store, StoreError};
use panah_core::Timestamp;

/// Which side of a conversation wrote a message: the sender or a coordinator. (Who exactly,
/// and when, is inside the encrypted envelope.)
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Sender,
    Coordinator,
}

impl Side {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Side::Sender => "sender",
            Side::Coordinator => "coordinator",
        }
    }
    fn parse(s: &str) -> Result<Self, StoreError> {
        match s {
            "sender" => Ok(Side::Sender),
            "coordinator" => Ok(Side::Coordinator),
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
    pub author: Side,
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
    pub author: Side,
    pub blob: String,
    pub size: i64,
    /// (blob key, stored size) per file, in order.
    pub files: Vec<(String, i64)>,
    /// The ciphertext of `blob` itself, to be kept in the database with the row (one
    /// durable write): small envelopes and replies. `None`: the blob is already written to
    /// the blob store.
    pub inline: Option<Vec<u8>>,
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

/// Today, and the day a conversation written to today expires after `retention_days`.
fn kept_until(retention_days: i64) -> (Timestamp, Timestamp) {
    let today = day_of(Timestamp::now());
    (today, today.plus_seconds(retention_days.max(0) * 86_400))
}

/// Midnight UTC of the day of `t`: stored dates say which day, never the hour.
pub fn day_of(t: Timestamp) -> Timestamp {
    Timestamp::from_unix(t.unix() - t.unix().rem_euclid(86_400))
}

impl Store {
    /// Which of `keys` a message or file row refers to: a blob none refers to is left
    /// over from a crash between writing it and storing its row.
    pub async fn referenced_blobs(
        &self,
        keys: &[String],
    ) -> Result<std::collections::HashSet<String>, StoreError> {
        let mut found = std::collections::HashSet::new();
        for chunk in keys.chunks(200) {
            let list = (1..=chunk.len())
                .map(|i| format!("${i}"))
                .collect::<Vec<_>>()
                .join(", ");
            let sql = format!(
                "SELECT blob FROM messages WHERE blob IN ({list})
                 UNION SELECT blob FROM message_files WHERE blob IN ({list})"
            );
            let mut q = sqlx::query(&sql);
            for key in chunk {
                q = q.bind(key.as_str());
            }
            for row in q.fetch_all(self.pool()).await? {
                found.insert(get::<String>(&row, "blob")?);
            }
        }
        Ok(found)
    }

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
        let into = Target::New {
            lookup: lookup.to_vec(),
            reply_recipient: reply_recipient.to_owned(),
        };
        self.put_message(collective_id, into, message, kept_until(retention_days))
            .await?
            .ok_or_else(|| {
                StoreError::Conflict("a conversation with this key in another collective".into())
            })
    }

    /// Adds a sender's follow-up to the conversation with this lookup key, which must
    /// exist (`NotFound` otherwise: a follow-up never opens a new conversation), and pushes
    /// its expiry `retention_days` past today.
    pub async fn add_followup(
        &self,
        collective_id: i64,
        lookup: &[u8],
        message: &NewMessage,
        retention_days: i64,
    ) -> Result<(i64, i64), StoreError> {
        // A conversation already past its expiry is as good as gone: the next sweep deletes
        // it, so a follow-up added now would be deleted unread.
        let into = Target::Followup {
            lookup: lookup.to_vec(),
            alive_at: Timestamp::now(),
        };
        self.put_message(collective_id, into, message, kept_until(retention_days))
            .await?
            .ok_or_else(|| StoreError::NotFound("no conversation has this codename".into()))
    }

    /// A coordinator's reply into an existing conversation of their collective.
    pub async fn add_reply(
        &self,
        collective_id: i64,
        conversation_id: i64,
        message: &NewMessage,
    ) -> Result<i64, StoreError> {
        let today = day_of(Timestamp::now());
        let into = Target::Reply {
            id: conversation_id,
        };
        // The expiry is the sender's to push on, not a coordinator's: it is not touched.
        match self
            .put_message(collective_id, into, message, (today, today))
            .await?
        {
            Some((_, id)) => Ok(id),
            None => Err(StoreError::NotFound(format!(
                "conversation {conversation_id}"
            ))),
        }
    }

    /// Messages (with their files) of one conversation, or of every conversation of a
    /// collective, grouped by conversation. Two queries, whatever the number of messages.
    async fn messages_in(&self, scope: Scope) -> Result<HashMap<i64, Vec<MessageRow>>, StoreError> {
        let (filter, id) = match scope {
            Scope::Conversation(id) => ("m.conversation_id = $1", id),
            Scope::Collective(id) => ("c.collective_id = $1", id),
        };
        let rows = sqlx::query(&format!(
            "SELECT m.id, m.conversation_id, m.author, m.blob, m.size, m.created_on
             FROM messages m JOIN conversations c ON c.id = m.conversation_id
             WHERE {filter} ORDER BY m.id"
        ))
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        let file_rows = sqlx::query(&format!(
            "SELECT f.id, f.message_id, f.blob, f.size FROM message_files f
             JOIN messages m ON m.id = f.message_id JOIN conversations c ON c.id = m.conversation_id
             WHERE {filter} ORDER BY f.message_id, f.position"
        ))
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        let mut files: HashMap<i64, Vec<FileRow>> = HashMap::new();
        for f in &file_rows {
            files
                .entry(get(f, "message_id")?)
                .or_default()
                .push(FileRow {
                    id: get(f, "id")?,
                    blob: get(f, "blob")?,
                    size: get(f, "size")?,
                });
        }
        let mut out: HashMap<i64, Vec<MessageRow>> = HashMap::new();
        for row in &rows {
            let id: i64 = get(row, "id")?;
            let author: String = get(row, "author")?;
            out.entry(get(row, "conversation_id")?)
                .or_default()
                .push(MessageRow {
                    id,
                    author: Side::parse(&author)?,
                    blob: get(row, "blob")?,
                    size: get(row, "size")?,
                    created_on: ts(row, "created_on")?,
                    files: files.remove(&id).unwrap_or_default(),
                });
        }
        Ok(out)
    }

    /// The coordinators' replies in the conversation with this lookup key, oldest first,
    /// as (blob key, stored size); `None` if there is no such conversation. One query.
    pub async fn replies_by_lookup(
        &self,
        collective_id: i64,
        lookup: &[u8],
    ) -> Result<Option<Vec<(String, i64)>>, StoreError> {
        let rows = sqlx::query(
            "SELECT c.id, m.blob, m.size FROM conversations c
             LEFT JOIN messages m ON m.conversation_id = c.id AND m.author = 'coordinator'
             WHERE c.lookup = $1 AND c.collective_id = $2 ORDER BY m.id",
        )
        .bind(lookup.to_vec())
        .bind(collective_id)
        .fetch_all(self.pool())
        .await?;
        if rows.is_empty() {
            return Ok(None);
        }
        let mut replies = Vec::with_capacity(rows.len());
        for r in &rows {
            let blob: Option<String> = get(r, "blob")?;
            let size: Option<i64> = get(r, "size")?;
            if let (Some(blob), Some(size)) = (blob, size) {
                replies.push((blob, size));
            }
        }
        Ok(Some(replies))
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
        let mut messages = self.messages_in(Scope::Collective(collective_id)).await?;
        rows.iter()
            .map(|row| {
                let conversation = conversation_from_row(row)?;
                let messages = messages.remove(&conversation.id).unwrap_or_default();
                Ok(ConversationSummary {
                    conversation,
                    messages,
                })
            })
            .collect()
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
        let messages = self
            .messages_in(Scope::Conversation(conversation.id))
            .await?
            .remove(&conversation.id)
            .unwrap_or_default();
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

    /// Points a message or file of this collective at a new blob (its ciphertext encrypted
    /// anew, to the team as it now is), if it still points at `old`: a compare-and-set, so a
    /// conversation deleted or re-encrypted meanwhile is left alone. Returns whether it was
    /// replaced; the caller then deletes `old` (or, if not, the new blob).
    pub async fn replace_blob(
        &self,
        collective_id: i64,
        kind: BlobKind,
        id: i64,
        old: &str,
        new: &str,
        size: i64,
    ) -> Result<bool, StoreError> {
        let sql = match kind {
            BlobKind::Message => {
                "UPDATE messages SET blob = $1, size = $2 WHERE id = $3 AND blob = $4
                 AND conversation_id IN (SELECT id FROM conversations WHERE collective_id = $5)"
            }
            BlobKind::File => {
                "UPDATE message_files SET blob = $1, size = $2 WHERE id = $3 AND blob = $4
                 AND message_id IN (SELECT m.id FROM messages m JOIN conversations c
                                    ON c.id = m.conversation_id WHERE c.collective_id = $5)"
            }
        };
        let done = sqlx::query(sql)
            .bind(new)
            .bind(size)
            .bind(id)
            .bind(old)
            .bind(collective_id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes a conversation and returns the blob keys the caller must delete, or `None`
    /// if this collective has no such conversation. One transaction: every row removed gives
    /// back its blob key, even if a reply arrives at the same moment.
    pub async fn delete_conversation(
        &self,
        collective_id: i64,
        id: i64,
    ) -> Result<Option<Vec<String>>, StoreError> {
        self.delete_conversation_if(collective_id, id, None).await
    }

    /// Deletes a conversation only if it has still expired at `now`: a sender who wrote
    /// again after the sweep listed it has pushed its expiry on, and keeps it.
    pub async fn delete_expired_conversation(
        &self,
        collective_id: i64,
        id: i64,
        now: Timestamp,
    ) -> Result<Option<Vec<String>>, StoreError> {
        self.delete_conversation_if(collective_id, id, Some(now))
            .await
    }

    async fn delete_conversation_if(
        &self,
        collective_id: i64,
        id: i64,
        expired_at: Option<Timestamp>,
    ) -> Result<Option<Vec<String>>, StoreError> {
        // Children first (the schema cascades, which would drop the rows without telling
        // us their blobs), each scoped to the collective; the first statement is a write,
        // so SQLite takes the write lock at once.
        const OWNED: &str =
            "SELECT m.id FROM messages m JOIN conversations c ON c.id = m.conversation_id
                             WHERE c.id = $1 AND c.collective_id = $2";
        let mut tx = self.pool().begin().await?;
        let files = sqlx::query(&format!(
            "DELETE FROM message_files WHERE message_id IN ({OWNED}) RETURNING blob"
        ))
        .bind(id)
        .bind(collective_id)
        .fetch_all(&mut *tx)
        .await?;
        let messages = sqlx::query(&format!(
            "DELETE FROM messages WHERE id IN ({OWNED}) RETURNING blob"
        ))
        .bind(id)
        .bind(collective_id)
        .fetch_all(&mut *tx)
        .await?;
        // Without `expired_at`, a time after every stored one.
        let expired_at = expired_at.map_or_else(|| "9999".to_owned(), |t| t.to_string());
        let found = sqlx::query(
            "DELETE FROM conversations WHERE id = $1 AND collective_id = $2 AND expires_on <= $3
             RETURNING id",
        )
        .bind(id)
        .bind(collective_id)
        .bind(expired_at)
        .fetch_optional(&mut *tx)
        .await?;
        if found.is_none() {
            return Ok(None); // nothing was deleted; the transaction rolls back
        }
        tx.commit().await?;
        files
            .iter()
            .chain(&messages)
            .map(|r| get(r, "blob"))
            .collect::<Result<_, _>>()
            .map(Some)
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

#[derive(Debug, Clone, Copy)]
enum Scope {
    Conversation(i64),
    Collective(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlobKind {
    Message,
    File,
}
