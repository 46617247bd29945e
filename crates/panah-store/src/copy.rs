//! Copying a whole hub from one store to another: what `panah backup` and `panah restore`
//! are made of. A backup is a copy of the hub into a new SQLite file; a restore is a copy
//! of that file into the new hub's store, SQLite or PostgreSQL. One piece does both.
//!
//! The source is read in one snapshot (a read transaction on SQLite's write-ahead log, a
//! `REPEATABLE READ` transaction on PostgreSQL) while the hub goes on serving, so the copy
//! is the hub as it was at one instant: no message without its conversation, no ledger
//! entry without the checkpoint that covers it. The destination is written in one
//! transaction: a copy that fails leaves nothing half-written behind.

use sqlx::pool::PoolConnection;
use sqlx::{Any, Executor, Row};

use crate::{get, BlobKind, Dialect, Store, StoreError};

/// The tables a copy carries, each after the tables it refers to, and whether it has an
/// `{id}` column (whose PostgreSQL sequence must move past the copied ids).
pub const COPIED: &[(&str, bool)] = &[
    ("collectives", true),
    ("appeals", false),
    ("coordinators", true),
    ("hub_secrets", false),
    ("conversations", true),
    ("messages", true),
    ("message_files", true),
    ("blob_data", false),
    ("logs", true),
    ("log_entries", false),
    ("log_hashes", false),
    ("log_checkpoints", false),
    ("ledger_settings", false),
    ("ledger_goals", false),
    ("ledger_index", false),
    ("team_invitations", true),
    ("records", true),
    ("record_clock", false),
];

/// The tables a copy leaves out: single-use login challenges and API sessions (the
/// coordinators log in again on the restored hub), and the migrations' bookkeeping, which
/// the destination writes for itself.
pub const LEFT_OUT: &[&str] = &["login_challenges", "api_tokens", "panah_migrations"];

/// How many rows of each table a copy carried.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Copied {
    pub rows: Vec<(String, u64)>,
}

impl Copied {
    pub fn total(&self) -> u64 {
        self.rows.iter().map(|(_, n)| n).sum()
    }

    pub fn of(&self, table: &str) -> u64 {
        self.rows
            .iter()
            .find(|(t, _)| t == table)
            .map_or(0, |(_, n)| *n)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Text,
    Blob,
}

/// One value of a row being copied.
enum Value {
    Int(Option<i64>),
    Text(Option<String>),
    Blob(Option<Vec<u8>>),
}

impl Store {
    /// The schema version this database is at.
    pub async fn schema_version(&self) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM panah_migrations")
            .fetch_one(self.pool())
            .await?;
        get(&row, "v")
    }

    /// The names of every table in this database, sorted.
    pub async fn table_names(&self) -> Result<Vec<String>, StoreError> {
        let sql = match self.dialect() {
            Dialect::Sqlite => {
                "SELECT name FROM sqlite_master WHERE type = 'table' \
                 AND name NOT LIKE 'sqlite_%' ORDER BY name"
            }
            Dialect::Postgres => {
                "SELECT table_name::TEXT AS name FROM information_schema.tables \
                 WHERE table_schema = current_schema() AND table_type = 'BASE TABLE' \
                 ORDER BY name"
            }
        };
        let mut names = Vec::new();
        for row in sqlx::query(sql).fetch_all(self.pool()).await? {
            names.push(get::<String>(&row, "name")?);
        }
        Ok(names)
    }

    /// Copies every row of the tables in [`COPIED`] into `dest`, a store at the same schema
    /// version with none of them holding a row (but blobs: a restore puts the blobs first,
    /// under random keys a copied row cannot share). Reads one snapshot of this store while
    /// it serves; writes `dest` in one transaction.
    pub async fn copy_into(&self, dest: &Store) -> Result<Copied, StoreError> {
        let (from, to) = (self.schema_version().await?, dest.schema_version().await?);
        if from != to {
            return Err(StoreError::Conflict(format!(
                "a copy between schema versions {from} and {to}: open both with this Panah first"
            )));
        }
        for &(table, _) in COPIED.iter().filter(|(t, _)| *t != "blob_data") {
            let row = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table}"))
                .fetch_one(dest.pool())
                .await?;
            if get::<i64>(&row, "n")? > 0 {
                return Err(StoreError::Conflict(format!(
                    "the destination is not empty (its table {table} has rows); \
                     restore only into a new hub"
                )));
            }
        }
        let mut src = self.pool().acquire().await?;
        let begin = match self.dialect() {
            // Deferred: the first read takes the snapshot, which every later read of the
            // transaction sees, while writers go on in the write-ahead log.
            Dialect::Sqlite => "BEGIN",
            Dialect::Postgres => "BEGIN ISOLATION LEVEL REPEATABLE READ, READ ONLY",
        };
        src.execute(begin).await?;
        if self.dialect() == Dialect::Postgres {
            // A large hub's tables take longer to stream than any page may.
            src.execute("SET LOCAL statement_timeout = 0").await?;
        }
        let mut copied = Copied::default();
        let result = async {
            let mut dst = dest.pool().begin().await?;
            for &(table, _) in COPIED {
                let columns = dest.columns(table).await?;
                let n = copy_table(&mut src, &mut dst, table, &columns).await?;
                copied.rows.push((table.to_owned(), n));
            }
            if dest.dialect() == Dialect::Postgres {
                for &(table, _) in COPIED.iter().filter(|(_, has_id)| *has_id) {
                    sqlx::query(&format!(
                        "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                         (SELECT COALESCE(MAX(id), 0) + 1 FROM {table}), false)"
                    ))
                    .execute(&mut *dst)
                    .await?;
                }
            }
            dst.commit().await?;
            Ok::<_, StoreError>(())
        }
        .await;
        end_snapshot(src).await;
        result.map(|()| copied)
    }

    /// A table's columns in order, with the kind of value each holds.
    async fn columns(&self, table: &str) -> Result<Vec<(String, Kind)>, StoreError> {
        let sql = match self.dialect() {
            Dialect::Sqlite => "SELECT name, type FROM pragma_table_info($1) ORDER BY cid",
            Dialect::Postgres => {
                "SELECT column_name::TEXT AS name, data_type::TEXT AS type \
                 FROM information_schema.columns \
                 WHERE table_schema = current_schema() AND table_name = $1 \
                 ORDER BY ordinal_position"
            }
        };
        let mut columns = Vec::new();
        for row in sqlx::query(sql).bind(table).fetch_all(self.pool()).await? {
            let name: String = get(&row, "name")?;
            let declared: String = get(&row, "type")?;
            let upper = declared.to_ascii_uppercase();
            let kind = if upper.contains("INT") {
                Kind::Int
            } else if upper.contains("TEXT") || upper.contains("CHAR") {
                Kind::Text
            } else if upper.contains("BLOB") || upper.contains("BYTEA") {
                Kind::Blob
            } else {
                return Err(StoreError::Corrupt(format!(
                    "column {table}.{name} has a type a copy does not know: {declared}"
                )));
            };
            columns.push((name, kind));
        }
        if columns.is_empty() {
            return Err(StoreError::Corrupt(format!("no table {table}")));
        }
        Ok(columns)
    }

    /// How many rows each table in [`COPIED`] holds.
    pub async fn row_counts(&self) -> Result<Copied, StoreError> {
        let mut counts = Copied::default();
        for &(table, _) in COPIED {
            let row = sqlx::query(&format!("SELECT COUNT(*) AS n FROM {table}"))
                .fetch_one(self.pool())
                .await?;
            let n: i64 = get(&row, "n")?;
            counts
                .rows
                .push((table.to_owned(), u64::try_from(n).unwrap_or(0)));
        }
        Ok(counts)
    }

    /// Refuses an SQLite database that holds anything Panah's migrations never make: a
    /// view or a trigger (a view can make a "table" endless), or a table of another name.
    /// For a backup's database before it is read.
    pub async fn check_plain_tables(&self) -> Result<(), StoreError> {
        if self.dialect() != Dialect::Sqlite {
            return Ok(());
        }
        let rows = sqlx::query(
            "SELECT type, name FROM sqlite_master WHERE type IN ('view', 'trigger') \
             OR (type = 'table' AND name NOT LIKE 'sqlite_%')",
        )
        .fetch_all(self.pool())
        .await?;
        for row in rows {
            let kind: String = get(&row, "type")?;
            let name: String = get(&row, "name")?;
            let known = kind == "table"
                && (COPIED.iter().any(|(t, _)| *t == name) || LEFT_OUT.contains(&name.as_str()));
            if !known {
                return Err(StoreError::Corrupt(format!(
                    "an unexpected {kind} {:?}",
                    name.chars().take(60).collect::<String>()
                )));
            }
        }
        Ok(())
    }

    /// Every blob key a row refers to whose ciphertext is kept outside the database (in
    /// the blob store; what `blob_data` holds travels with the rows).
    pub async fn external_blob_keys(&self) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT blob FROM messages WHERE blob NOT IN (SELECT blob_key FROM blob_data) \
             UNION SELECT blob FROM message_files WHERE blob NOT IN (SELECT blob_key FROM blob_data) \
             ORDER BY blob",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| get(r, "blob")).collect()
    }

    /// The messages and files that name blob `key`: (collective, which, id).
    pub async fn rows_naming_blob(
        &self,
        key: &str,
    ) -> Result<Vec<(i64, BlobKind, i64)>, StoreError> {
        let mut out = Vec::new();
        for (kind, sql) in [
            (
                BlobKind::Message,
                "SELECT c.collective_id, m.id FROM messages m \
                 JOIN conversations c ON c.id = m.conversation_id WHERE m.blob = $1",
            ),
            (
                BlobKind::File,
                "SELECT c.collective_id, f.id FROM message_files f \
                 JOIN messages m ON m.id = f.message_id \
                 JOIN conversations c ON c.id = m.conversation_id WHERE f.blob = $1",
            ),
        ] {
            for row in sqlx::query(sql).bind(key).fetch_all(self.pool()).await? {
                out.push((get(&row, "collective_id")?, kind, get(&row, "id")?));
            }
        }
        Ok(out)
    }

    /// Removes the messages that refer to `key` (as their envelope or one of their files),
    /// and the conversations that then hold no message: for a backup that found a blob
    /// gone because the hub deleted its conversation after the snapshot was taken.
    /// Returns how many messages went.
    pub async fn forget_blob(&self, key: &str) -> Result<u64, StoreError> {
        let mut tx = self.pool().begin().await?;
        let conversations: Vec<i64> = sqlx::query(
            "SELECT DISTINCT conversation_id FROM messages WHERE blob = $1 \
             OR id IN (SELECT message_id FROM message_files WHERE blob = $1)",
        )
        .bind(key)
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|r| get(r, "conversation_id"))
        .collect::<Result<_, _>>()?;
        let gone = sqlx::query(
            "DELETE FROM messages WHERE blob = $1 \
             OR id IN (SELECT message_id FROM message_files WHERE blob = $1)",
        )
        .bind(key)
        .execute(&mut *tx)
        .await?
        .rows_affected();
        for id in conversations {
            sqlx::query(
                "DELETE FROM conversations WHERE id = $1 \
                 AND NOT EXISTS (SELECT 1 FROM messages WHERE conversation_id = $1)",
            )
            .bind(id)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(gone)
    }

    /// Writes everything to the main database file and empties SQLite's write-ahead log,
    /// so the file alone is the whole database (a backup is then one file). Nothing to do
    /// on PostgreSQL.
    pub async fn checkpoint(&self) -> Result<(), StoreError> {
        if self.dialect() == Dialect::Sqlite {
            sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
                .execute(self.pool())
                .await?;
        }
        Ok(())
    }
}

/// Copies one table, in batches of rows per statement.
async fn copy_table(
    src: &mut PoolConnection<Any>,
    dst: &mut sqlx::Transaction<'_, Any>,
    table: &str,
    columns: &[(String, Kind)],
) -> Result<u64, StoreError> {
    use futures_util::TryStreamExt;

    let names = columns
        .iter()
        .map(|(n, _)| n.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    // Fewer parameters per statement than either engine's limit.
    let per_batch = (2_000 / columns.len()).max(1);
    let select = format!("SELECT {names} FROM {table} ORDER BY 1");
    let mut rows = sqlx::query(&select).fetch(&mut **src);
    let mut batch: Vec<Vec<Value>> = Vec::with_capacity(per_batch.min(64));
    let mut n = 0u64;
    // And few bytes: a row of `blob_data` is up to 1 MiB (and a crafted backup's rows may be
    // larger), so a batch is also sent once it holds 8 MiB.
    let mut bytes = 0usize;
    while let Some(row) = rows.try_next().await? {
        let mut values = Vec::with_capacity(columns.len());
        for (i, (name, kind)) in columns.iter().enumerate() {
            let bad = |e: sqlx::Error| StoreError::Corrupt(format!("{table}.{name}: {e}"));
            values.push(match kind {
                Kind::Int => Value::Int(row.try_get(i).map_err(bad)?),
                Kind::Text => Value::Text(row.try_get(i).map_err(bad)?),
                Kind::Blob => Value::Blob(row.try_get(i).map_err(bad)?),
            });
        }
        bytes += values
            .iter()
            .map(|v| match v {
                Value::Text(Some(t)) => t.len(),
                Value::Blob(Some(b)) => b.len(),
                _ => 8,
            })
            .sum::<usize>();
        batch.push(values);
        if batch.len() == per_batch || bytes >= 8 * 1024 * 1024 {
            bytes = 0;
            n += insert(dst, table, &names, columns.len(), &mut batch).await?;
        }
    }
    drop(rows);
    n += insert(dst, table, &names, columns.len(), &mut batch).await?;
    Ok(n)
}

async fn insert(
    dst: &mut sqlx::Transaction<'_, Any>,
    table: &str,
    names: &str,
    width: usize,
    batch: &mut Vec<Vec<Value>>,
) -> Result<u64, StoreError> {
    if batch.is_empty() {
        return Ok(0);
    }
    let mut sql = format!("INSERT INTO {table} ({names}) VALUES ");
    let mut p = 0;
    for r in 0..batch.len() {
        sql.push_str(if r == 0 { "(" } else { ", (" });
        for c in 0..width {
            p += 1;
            sql.push_str(&format!("{}${p}", if c == 0 { "" } else { ", " }));
        }
        sql.push(')');
    }
    let mut q = sqlx::query(&sql);
    for value in batch.drain(..).flatten() {
        q = match value {
            Value::Int(v) => q.bind(v),
            Value::Text(v) => q.bind(v),
            Value::Blob(v) => q.bind(v),
        };
    }
    Ok(q.execute(&mut **dst).await?.rows_affected())
}

/// Ends the read snapshot; a connection whose state is unknown is not handed back.
async fn end_snapshot(mut src: PoolConnection<Any>) {
    if src.execute("ROLLBACK").await.is_err() {
        src.detach();
    }
}
