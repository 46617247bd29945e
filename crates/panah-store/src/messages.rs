//! Writing the contact drop's messages, with group commit: the hot path of a crowd of
//! senders.
//!
//! A message is its row, its files' rows, its ciphertext kept with the row (an envelope, a
//! reply) and new dates on its conversation, all or nothing. The messages that arrive
//! while a write is under way are written together by the next one: on PostgreSQL as one
//! statement made of data-modifying `WITH` queries (one round trip, one commit for all of
//! them); on SQLite as one batch of statements in one transaction (one commit). Each
//! caller is answered only once the commit that holds its message is durable, so nothing
//! is weakened: sixteen senders at once cost the disk one flush instead of sixteen.
//!
//! The writes run in a task of their own, so a caller that goes away (a sender who closed
//! the page) cannot cut short a write that holds other senders' messages. If a batch fails
//! as a whole, each of its messages is written again on its own, so each caller gets its
//! own answer.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use sqlx::any::{AnyArguments, AnyRow};
use sqlx::query::Query;
use sqlx::Any;
use tokio::sync::oneshot;

use crate::contact::NewMessage;
use crate::{get, Dialect, Store, StoreError};
use panah_core::Timestamp;

/// The most messages written by one statement. PostgreSQL takes at most 65,535 parameters
/// a statement; a message has nine, one per 1 MiB of ciphertext and two per file.
const MAX_BATCH: usize = 32;

/// Which conversation a message goes into.
#[derive(Debug, Clone)]
pub(crate) enum Target {
    /// A sender's first message: the conversation is opened (or, for the same lookup key
    /// in the same collective, found again) and its expiry pushed on.
    New {
        lookup: Vec<u8>,
        reply_recipient: String,
    },
    /// A sender's follow-up: the conversation must be there, not expired at `alive_at`;
    /// its expiry is pushed on.
    Followup {
        lookup: Vec<u8>,
        alive_at: Timestamp,
    },
    /// A coordinator's reply: the conversation must be there. Its expiry is not touched.
    Reply { id: i64 },
}

/// (conversation id, message id), or `None`: no such conversation in the collective.
type Outcome = Result<Option<(i64, i64)>, StoreError>;

/// One message waiting to be written, and where its answer goes.
struct Pending {
    collective_id: i64,
    target: Target,
    message: NewMessage,
    /// Today, and the conversation's new expiry.
    dates: (Timestamp, Timestamp),
    answer: oneshot::Sender<Outcome>,
}

impl Pending {
    /// The lookup key of the conversation a sender's message goes into; `None` for a
    /// coordinator's reply, which names its conversation by id.
    fn lookup(&self) -> Option<&[u8]> {
        match &self.target {
            Target::New { lookup, .. } | Target::Followup { lookup, .. } => Some(lookup),
            Target::Reply { .. } => None,
        }
    }
}

/// The messages waiting, and whether a writer task is running.
#[derive(Default)]
pub(crate) struct Queue {
    state: Mutex<(Vec<Pending>, bool)>,
}

impl Queue {
    /// The queue, locked. Nothing panics while it is held, so a poisoned lock (a panic
    /// elsewhere in that thread) left it whole: it is taken as it is.
    fn lock(&self) -> std::sync::MutexGuard<'_, (Vec<Pending>, bool)> {
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl std::fmt::Debug for Queue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Queue").finish_non_exhaustive()
    }
}

/// If the writer ends other than by finding the queue empty (a panic, or its runtime shut
/// down under it), marks it stopped, so that the next message starts another, and drops
/// the messages waiting, whose callers then get an error instead of waiting for ever. A
/// writer that finds the queue empty marks itself stopped under the same lock, so no
/// message can slip in between.
struct Running {
    queue: Arc<Queue>,
    finished: bool,
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.finished {
            return;
        }
        let waiting = {
            let mut state = self.queue.lock();
            state.1 = false;
            std::mem::take(&mut state.0)
        };
        drop(waiting);
    }
}

impl Store {
    /// Stores a message in the conversation `target` names, touching its dates: durable
    /// when it returns.
    pub(crate) async fn put_message(
        &self,
        collective_id: i64,
        target: Target,
        message: &NewMessage,
        dates: (Timestamp, Timestamp),
    ) -> Outcome {
        let (answer, answered) = oneshot::channel();
        let start = {
            let mut state = self.queue.lock();
            state.0.push(Pending {
                collective_id,
                target,
                message: message.clone(),
                dates,
                answer,
            });
            !std::mem::replace(&mut state.1, true)
        };
        if start {
            let store = self.clone();
            tokio::spawn(async move { store.write_queued().await });
        }
        answered.await.map_err(|_| {
            StoreError::Database(sqlx::Error::Protocol(
                "the message writer stopped before it answered".into(),
            ))
        })?
    }

    /// Writes what is queued, batch by batch, until the queue is empty.
    async fn write_queued(&self) {
        let mut running = Running {
            queue: self.queue.clone(),
            finished: false,
        };
        loop {
            let batch = {
                let mut state = self.queue.lock();
                if state.0.is_empty() {
                    state.1 = false;
                    running.finished = true;
                    return;
                }
                // In arrival order, and at most one message per conversation: PostgreSQL
                // cannot change one row twice in one statement. A reply names its
                // conversation by id, not by lookup key, so it goes alone.
                let mut waiting = std::mem::take(&mut state.0).into_iter();
                let mut batch = Vec::new();
                let mut seen = HashSet::new();
                for p in waiting.by_ref() {
                    let fits = match (p.lookup(), batch.is_empty()) {
                        (None, true) => {
                            batch.push(p);
                            break;
                        }
                        (None, false) => false,
                        (Some(lookup), _) => seen.insert(lookup.to_vec()),
                    };
                    if fits {
                        batch.push(p);
                        if batch.len() == MAX_BATCH {
                            break;
                        }
                    } else {
                        state.0.push(p);
                    }
                }
                state.0.extend(waiting);
                batch
            };
            self.write_batch(batch).await;
        }
    }

    async fn write_batch(&self, batch: Vec<Pending>) {
        if batch.len() > 1 {
            match self.write_together(&batch).await {
                Ok(outcomes) => {
                    for (p, outcome) in batch.into_iter().zip(outcomes) {
                        let _ = p.answer.send(Ok(outcome));
                    }
                    return;
                }
                Err(e) => {
                    tracing::debug!(error = %e, "a batch of messages failed; writing them one by one");
                }
            }
        }
        for p in batch {
            let outcome = self
                .write_together(std::slice::from_ref(&p))
                .await
                .map(|mut o| o.pop().flatten());
            let _ = p.answer.send(outcome);
        }
    }

    /// Writes `batch` in one commit: each message's outcome, in order.
    async fn write_together(
        &self,
        batch: &[Pending],
    ) -> Result<Vec<Option<(i64, i64)>>, StoreError> {
        let dialect = self.dialect();
        let mut parts = Vec::with_capacity(batch.len());
        let mut first = 0;
        for (i, p) in batch.iter().enumerate() {
            let part = Part::new(i, first, p);
            first += part.width;
            parts.push(part);
        }
        let sql = match dialect {
            Dialect::Postgres => {
                let with: Vec<String> = parts.iter().map(|p| p.postgres_with()).collect();
                let select: Vec<String> = (0..parts.len())
                    .map(|i| format!("SELECT {i} AS item, id, conversation_id FROM m{i}"))
                    .collect();
                format!("WITH {} {}", with.join(", "), select.join(" UNION ALL "))
            }
            Dialect::Sqlite => parts.iter().map(|p| p.sqlite_statements()).collect(),
        };
        let mut q = sqlx::query(&sql);
        for (p, part) in batch.iter().zip(&parts) {
            q = bind_message(q, p, &part.chunks);
        }
        let mut outcomes = vec![None; batch.len()];
        let mut record = |rows: &[AnyRow]| -> Result<(), StoreError> {
            for row in rows {
                let item: i64 = get(row, "item")?;
                let slot = usize::try_from(item)
                    .ok()
                    .and_then(|i| outcomes.get_mut(i))
                    .ok_or_else(|| StoreError::Corrupt(format!("batch item {item}")))?;
                *slot = Some((get(row, "conversation_id")?, get(row, "id")?));
            }
            Ok(())
        };
        if dialect == Dialect::Postgres {
            // One statement: its own transaction.
            record(&q.fetch_all(self.pool()).await?)?;
            return Ok(outcomes);
        }
        let mut tx = self.pool().begin().await?;
        record(&q.fetch_all(&mut *tx).await?)?;
        // Files' rows need the message's id: one more statement for each message that has
        // files (a message with files has just written them to the blob store, so this is
        // not where its time goes).
        for (p, outcome) in batch.iter().zip(&outcomes) {
            let (Some((_, message_id)), Some(rows)) =
                (outcome, file_rows(p.message.files.len(), 2))
            else {
                continue;
            };
            let sql = format!(
                "INSERT INTO message_files (message_id, position, blob, size)
                 SELECT $1, v.position, v.blob, v.size FROM ({rows}) v"
            );
            bind_files(sqlx::query(&sql).bind(*message_id), &p.message.files)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(outcomes)
    }
}

/// One message's share of a batch's statement: its parameters are numbered from
/// `first + 1`, `width` of them.
struct Part<'a> {
    item: usize,
    first: usize,
    width: usize,
    pending: &'a Pending,
    chunks: Vec<&'a [u8]>,
}

// A message's parameters, before they are numbered from its `first`: $1 collective, $2 the
// conversation's lookup key or id, $3 the reply recipient of a new one, $4 today, $5 the
// new expiry, $6 the time it must not have expired by (the empty string sorts before
// every time), $7 author, $8 blob key, $9 size; then the ciphertext's chunks, then the
// files' (blob key, size).
const FIXED: usize = 9;

impl<'a> Part<'a> {
    fn new(item: usize, first: usize, pending: &'a Pending) -> Self {
        let chunks: Vec<&[u8]> = match &pending.message.inline {
            Some(bytes) if bytes.is_empty() => vec![&[]],
            Some(bytes) => bytes.chunks(crate::blob_data::CHUNK).collect(),
            None => Vec::new(),
        };
        Part {
            item,
            first,
            width: FIXED + chunks.len() + 2 * pending.message.files.len(),
            pending,
            chunks,
        }
    }

    /// The conversation's row touched, and the filter that finds it again.
    fn touch(&self) -> (&'static str, &'static str) {
        match self.pending.target {
            Target::New { .. } => (
                "INSERT INTO conversations (collective_id, lookup, reply_recipient, created_on, last_on, expires_on)
                 VALUES ($1, $2, $3, $4, $4, $5)
                 ON CONFLICT (lookup) DO UPDATE SET last_on = excluded.last_on, expires_on = excluded.expires_on
                 WHERE conversations.collective_id = excluded.collective_id",
                "lookup = $2",
            ),
            Target::Followup { .. } => (
                "UPDATE conversations SET last_on = $4, expires_on = $5
                 WHERE lookup = $2 AND collective_id = $1 AND expires_on > $6",
                "lookup = $2",
            ),
            Target::Reply { .. } => (
                "UPDATE conversations SET last_on = $4 WHERE id = $2 AND collective_id = $1",
                "id = $2",
            ),
        }
    }

    fn data_rows(&self) -> Option<String> {
        union_of_rows(self.chunks.len(), FIXED + 1, 1, |i, p| {
            format!("SELECT {i} AS seq, ${p} AS data")
        })
    }

    fn file_rows(&self) -> Option<String> {
        file_rows(
            self.pending.message.files.len(),
            FIXED + 1 + self.chunks.len(),
        )
    }

    /// PostgreSQL: the message's `WITH` queries, `c{item}`, `m{item}` (which returns the
    /// ids), `d{item}` and `f{item}`.
    fn postgres_with(&self) -> String {
        let i = self.item;
        let (touch, _) = self.touch();
        let mut sql = format!(
            "c{i} AS ({touch} RETURNING id),
             m{i} AS (INSERT INTO messages (conversation_id, author, blob, size, created_on)
                      SELECT id, $7, $8, $9, $4 FROM c{i} RETURNING id, conversation_id)"
        );
        if let Some(rows) = self.data_rows() {
            sql += &format!(
                ", d{i} AS (INSERT INTO blob_data (blob_key, seq, data, day)
                   SELECT $8, v.seq, v.data, $4 FROM m{i}, ({rows}) v)"
            );
        }
        if let Some(rows) = self.file_rows() {
            sql += &format!(
                ", f{i} AS (INSERT INTO message_files (message_id, position, blob, size)
                   SELECT m{i}.id, v.position, v.blob, v.size FROM m{i}, ({rows}) v)"
            );
        }
        renumber(&sql, self.first)
    }

    /// SQLite: the message's statements, the message's insert returning its ids.
    fn sqlite_statements(&self) -> String {
        let i = self.item;
        let (touch, find) = self.touch();
        let mut sql = format!(
            "{touch};
             INSERT INTO messages (conversation_id, author, blob, size, created_on)
             SELECT id, $7, $8, $9, $4 FROM conversations
             WHERE {find} AND collective_id = $1 AND expires_on > $6
             RETURNING {i} AS item, id, conversation_id;"
        );
        if let Some(rows) = self.data_rows() {
            // Only if the message's row went in: changes() counts the rows of the last
            // statement that finished, the insert just above.
            sql += &format!(
                "INSERT INTO blob_data (blob_key, seq, data, day)
                 SELECT $8, v.seq, v.data, $4 FROM ({rows}) v WHERE changes() = 1;"
            );
        }
        renumber(&sql, self.first)
    }
}

/// `sql` with every parameter `$n` written `$(n + by)`.
fn renumber(sql: &str, by: usize) -> String {
    if by == 0 {
        return sql.to_owned();
    }
    let mut out = String::with_capacity(sql.len() + 16);
    let mut rest = sql;
    while let Some(at) = rest.find('$') {
        out.push_str(&rest[..=at]);
        rest = &rest[at + 1..];
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        match rest[..digits].parse::<usize>() {
            Ok(n) => out.push_str(&(n + by).to_string()),
            Err(_) => out.push_str(&rest[..digits]),
        }
        rest = &rest[digits..];
    }
    out.push_str(rest);
    out
}

/// `SELECT … UNION ALL SELECT …`: `n` rows, the `i`th written by `row(i, p)` with its
/// `width` parameters numbered from `p`, the first row's from `first`; `None` for no row.
fn union_of_rows(
    n: usize,
    first: usize,
    width: usize,
    row: impl Fn(usize, usize) -> String,
) -> Option<String> {
    (n > 0).then(|| {
        (0..n)
            .map(|i| row(i, first + width * i))
            .collect::<Vec<_>>()
            .join(" UNION ALL ")
    })
}

/// The rows of `n` files, as (position, blob, size), their parameters from `first`.
fn file_rows(n: usize, first: usize) -> Option<String> {
    union_of_rows(n, first, 2, |i, p| {
        format!("SELECT {i} AS position, ${p} AS blob, ${} AS size", p + 1)
    })
}

/// Binds one message's parameters, in the order [`FIXED`] gives.
fn bind_message<'q>(
    q: Query<'q, Any, AnyArguments<'q>>,
    p: &'q Pending,
    chunks: &[&'q [u8]],
) -> Query<'q, Any, AnyArguments<'q>> {
    let (today, expires) = p.dates;
    let mut q = q.bind(p.collective_id);
    q = match &p.target {
        Target::New { lookup, .. } | Target::Followup { lookup, .. } => q.bind(lookup.as_slice()),
        Target::Reply { id } => q.bind(*id),
    };
    let (reply_recipient, alive_after) = match &p.target {
        Target::New {
            reply_recipient, ..
        } => (reply_recipient.clone(), String::new()),
        Target::Followup { alive_at, .. } => (String::new(), alive_at.to_string()),
        Target::Reply { .. } => (String::new(), String::new()),
    };
    q = q
        .bind(reply_recipient)
        .bind(today.to_string())
        .bind(expires.to_string())
        .bind(alive_after)
        .bind(p.message.author.as_str())
        .bind(p.message.blob.as_str())
        .bind(p.message.size);
    // Borrowed, not copied: the ciphertext is bound as it is.
    for chunk in chunks {
        q = q.bind(*chunk);
    }
    bind_files(q, &p.message.files)
}

/// Binds each file's (blob key, size), in order.
fn bind_files<'q>(
    mut q: Query<'q, Any, AnyArguments<'q>>,
    files: &'q [(String, i64)],
) -> Query<'q, Any, AnyArguments<'q>> {
    for (blob, size) in files {
        q = q.bind(blob.as_str()).bind(*size);
    }
    q
}

#[cfg(test)]
mod tests {
    use super::renumber;

    #[test]
    fn parameters_are_renumbered_and_nothing_else() {
        assert_eq!(
            renumber("a = $1 AND b > $10, '$x' $", 9),
            "a = $10 AND b > $19, '$x' $"
        );
        assert_eq!(renumber("$2$3", 0), "$2$3");
    }
}
