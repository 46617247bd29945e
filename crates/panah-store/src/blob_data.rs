//! Ciphertext kept in the database (`blob_data`, migration 9): envelopes written with their
//! message's row, and every blob of a hub whose blob store is the database. A blob is its
//! chunks of at most [`CHUNK`] bytes, numbered from 0; it exists once its chunk 0 does, and
//! all its chunks are written in one transaction.

use crate::{get, Store, StoreError};
use panah_core::Timestamp;

/// The most bytes in one row of `blob_data`.
pub const CHUNK: usize = 1024 * 1024;

impl Store {
    /// Writes a blob's chunks in one transaction; `next` gives them in order (`None` ends
    /// the blob; an empty blob is one empty chunk). Returns the bytes written. A blob of
    /// that key already there is a `Conflict`, never overwritten.
    pub async fn put_blob_data(
        &self,
        key: &str,
        mut next: impl FnMut() -> std::io::Result<Option<Vec<u8>>> + Send,
    ) -> Result<u64, StoreError> {
        let day = crate::day_of(Timestamp::now()).to_string();
        let mut tx = self.pool().begin().await?;
        let mut seq = 0i64;
        let mut written = 0u64;
        loop {
            let chunk = match next().map_err(|e| StoreError::from(sqlx::Error::Io(e)))? {
                Some(c) => c,
                None if seq == 0 => Vec::new(),
                None => break,
            };
            written += chunk.len() as u64;
            let inserted = sqlx::query(
                "INSERT INTO blob_data (blob_key, seq, data, day) VALUES ($1, $2, $3, $4) \
                 ON CONFLICT (blob_key, seq) DO NOTHING",
            )
            .bind(key)
            .bind(seq)
            .bind(chunk)
            .bind(day.as_str())
            .execute(&mut *tx)
            .await?
            .rows_affected();
            if inserted == 0 {
                return Err(StoreError::Conflict(format!(
                    "a blob {key} is already stored"
                )));
            }
            seq += 1;
            if written == 0 {
                break;
            }
        }
        tx.commit().await?;
        Ok(written)
    }

    /// Chunk `seq` of a blob kept in the database, if there is one.
    pub async fn blob_chunk(&self, key: &str, seq: i64) -> Result<Option<Vec<u8>>, StoreError> {
        sqlx::query("SELECT data FROM blob_data WHERE blob_key = $1 AND seq = $2")
            .bind(key)
            .bind(seq)
            .fetch_optional(self.pool())
            .await?
            .map(|r| get(&r, "data"))
            .transpose()
    }

    /// Whether the database keeps a blob of this key.
    pub async fn blob_chunk_exists(&self, key: &str) -> Result<bool, StoreError> {
        Ok(
            sqlx::query("SELECT 1 AS one FROM blob_data WHERE blob_key = $1 AND seq = 0")
                .bind(key)
                .fetch_optional(self.pool())
                .await?
                .is_some(),
        )
    }

    /// Deletes a blob kept in the database; whether there was one.
    pub async fn delete_blob_data(&self, key: &str) -> Result<bool, StoreError> {
        let n = sqlx::query("DELETE FROM blob_data WHERE blob_key = $1")
            .bind(key)
            .execute(self.pool())
            .await?
            .rows_affected();
        Ok(n > 0)
    }

    /// Up to `limit` blobs kept in the database, written on or before `day`, that no
    /// message or file refers to: left by a crash between a blob's write and its row's.
    pub async fn unreferenced_blob_data(
        &self,
        day: Timestamp,
        limit: i64,
    ) -> Result<Vec<String>, StoreError> {
        let rows = sqlx::query(
            "SELECT d.blob_key FROM blob_data d WHERE d.seq = 0 AND d.day <= $1 \
             AND NOT EXISTS (SELECT 1 FROM messages m WHERE m.blob = d.blob_key) \
             AND NOT EXISTS (SELECT 1 FROM message_files f WHERE f.blob = d.blob_key) \
             ORDER BY d.blob_key LIMIT $2",
        )
        .bind(day.to_string())
        .bind(limit)
        .fetch_all(self.pool())
        .await?;
        rows.iter().map(|r| get(r, "blob_key")).collect()
    }

    /// How many blobs, and bytes, the database keeps: for tests and `panah backup`.
    pub async fn blob_data_totals(&self) -> Result<(u64, u64), StoreError> {
        let row = sqlx::query(
            "SELECT COUNT(DISTINCT blob_key) AS n, COALESCE(SUM(LENGTH(data)), 0) AS bytes \
             FROM blob_data",
        )
        .fetch_one(self.pool())
        .await?;
        let n: i64 = get(&row, "n")?;
        let bytes: i64 = get(&row, "bytes")?;
        Ok((n.max(0) as u64, bytes.max(0) as u64))
    }
}
