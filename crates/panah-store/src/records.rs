//! The case tracker's side of the database: records as opaque ciphertext with a version,
//! a change number and a day. Writes are compare-and-set on the version, so two
//! coordinators editing the same record cannot both win, and the loser is told which
//! version is current.

use crate::{get, Store, StoreError};

/// A record as the hub keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub record: String,
    pub version: i64,
    pub seq: i64,
    pub changed_on: String,
    /// The wrapped data key and the content.
    pub wrapped: Vec<u8>,
    pub body: Vec<u8>,
}

/// Why a write did not happen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RecordRefusal {
    /// The record is not at the version the writer started from: `current` is the version
    /// now (`None`: no such record).
    Changed { current: Option<i64> },
    /// The collective holds as many live records as the hub allows.
    Full,
}

/// A new version of a record, written only if the record is at `base`.
#[derive(Debug, Clone, Copy)]
pub struct RecordWrite<'a> {
    pub record: &'a str,
    /// The version the writer edited (`None`: a new record).
    pub base: Option<i64>,
    pub version: i64,
    pub wrapped: &'a [u8],
    pub body: &'a [u8],
    pub day: &'a str,
}

async fn current(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    collective_id: i64,
    record: &str,
) -> Result<RecordRefusal, StoreError> {
    let row = sqlx::query("SELECT version FROM records WHERE collective_id = $1 AND record = $2")
        .bind(collective_id)
        .bind(record)
        .fetch_optional(&mut **tx)
        .await?;
    Ok(match row {
        Some(row) => RecordRefusal::Changed {
            current: Some(get(&row, "version")?),
        },
        None => RecordRefusal::Changed { current: None },
    })
}

impl Store {
    /// Writes a batch of changes in one transaction, each a compare-and-set of its own:
    /// every change gets the collective's next change number, or a refusal that leaves
    /// the others standing. New records are refused once the collective holds `max_live`.
    /// A batch that changed nothing is rolled back (it uses no numbers); one that changed
    /// something leaves a gap where a change was refused.
    pub async fn write_records(
        &self,
        collective_id: i64,
        ops: &[RecordWrite<'_>],
        max_live: i64,
        max_bytes: i64,
    ) -> Result<Vec<Result<i64, RecordRefusal>>, StoreError> {
        if ops.is_empty() {
            return Ok(Vec::new());
        }
        let mut tx = self.pool().begin().await?;
        // Taking the numbers locks the collective's clock row until commit: numbers are
        // committed in order, so a reader at N never misses a change below N.
        sqlx::query(
            "INSERT INTO record_clock (collective_id, seq, live, bytes) VALUES ($1, 0, 0, 0)
             ON CONFLICT (collective_id) DO NOTHING",
        )
        .bind(collective_id)
        .execute(&mut *tx)
        .await?;
        let row = sqlx::query(
            "UPDATE record_clock SET seq = seq + $1 WHERE collective_id = $2 RETURNING seq, live, bytes",
        )
        .bind(ops.len() as i64)
        .bind(collective_id)
        .fetch_one(&mut *tx)
        .await?;
        let first = get::<i64>(&row, "seq")? - ops.len() as i64 + 1;
        // Kept beside the clock: counting the rows would read every record each time.
        let mut live: i64 = get(&row, "live")?;
        let mut bytes: i64 = get(&row, "bytes")?;
        let mut out = Vec::with_capacity(ops.len());
        let mut replaced = false;
        for (i, w) in ops.iter().enumerate() {
            let seq = first + i as i64;
            let size = (w.wrapped.len() + w.body.len()) as i64;
            let written = match w.base {
                None if live >= max_live || bytes + size > max_bytes => {
                    out.push(Err(RecordRefusal::Full));
                    continue;
                }
                None => {
                    let done = sqlx::query(
                        "INSERT INTO records (collective_id, record, version, seq, changed_on, wrapped, body)
                         VALUES ($1, $2, $3, $4, $5, $6, $7)
                         ON CONFLICT (collective_id, record) DO NOTHING",
                    )
                    .bind(collective_id)
                    .bind(w.record)
                    .bind(w.version)
                    .bind(seq)
                    .bind(w.day)
                    .bind(w.wrapped)
                    .bind(w.body)
                    .execute(&mut *tx)
                    .await?;
                    let ok = done.rows_affected() == 1;
                    if ok {
                        live += 1;
                        bytes += size;
                    }
                    ok
                }
                Some(base) => {
                    let old = sqlx::query(
                        "SELECT CAST(LENGTH(wrapped) + LENGTH(body) AS BIGINT) AS size FROM records
                         WHERE collective_id = $1 AND record = $2 AND version = $3",
                    )
                    .bind(collective_id)
                    .bind(w.record)
                    .bind(base)
                    .fetch_optional(&mut *tx)
                    .await?;
                    let old: Option<i64> = old.map(|r| get(&r, "size")).transpose()?;
                    match old {
                        Some(old) if bytes - old + size > max_bytes => {
                            out.push(Err(RecordRefusal::Full));
                            continue;
                        }
                        Some(old) => {
                            let done = sqlx::query(
                                "UPDATE records SET version = $1, seq = $2, changed_on = $3, wrapped = $4, body = $5
                                 WHERE collective_id = $6 AND record = $7 AND version = $8",
                            )
                            .bind(w.version)
                            .bind(seq)
                            .bind(w.day)
                            .bind(w.wrapped)
                            .bind(w.body)
                            .bind(collective_id)
                            .bind(w.record)
                            .bind(base)
                            .execute(&mut *tx)
                            .await?;
                            let ok = done.rows_affected() == 1;
                            if ok {
                                bytes += size - old;
                                replaced = true;
                            }
                            ok
                        }
                        None => false,
                    }
                }
            };
            out.push(if written {
                Ok(seq)
            } else {
                Err(current(&mut tx, collective_id, w.record).await?)
            });
        }
        if out.iter().all(Result::is_err) {
            tx.rollback().await?;
            return Ok(out);
        }
        sqlx::query("UPDATE record_clock SET live = $1, bytes = $2 WHERE collective_id = $3")
            .bind(live)
            .bind(bytes)
            .bind(collective_id)
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        // The versions replaced (a deletion, a re-wrap after a removal) must not linger in
        // the write-ahead log.
        if replaced {
            if let Some(sql) = self.dialect().after_shred() {
                let _ = sqlx::query(sql).execute(self.pool()).await;
            }
        }
        Ok(out)
    }

    /// Records changed after `since`, in change order: at most `max_rows`, and no more
    /// content than `max_bytes` (but always at least one record). The flag says whether
    /// more changes follow.
    pub async fn records_since(
        &self,
        collective_id: i64,
        since: i64,
        max_rows: i64,
        max_bytes: i64,
    ) -> Result<(Vec<StoredRecord>, bool), StoreError> {
        // First the sizes, to decide where the page ends without loading the content.
        let sizes = sqlx::query(
            "SELECT seq, CAST(LENGTH(wrapped) + LENGTH(body) AS BIGINT) AS bytes
             FROM records WHERE collective_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .bind(collective_id)
        .bind(since)
        .bind(max_rows + 1)
        .fetch_all(self.pool())
        .await?;
        let mut more = sizes.len() as i64 > max_rows;
        let mut last = since;
        let mut total = 0i64;
        for (i, row) in sizes.iter().take(max_rows as usize).enumerate() {
            let bytes: i64 = get(row, "bytes")?;
            if i > 0 && total + bytes > max_bytes {
                more = true;
                break;
            }
            total += bytes;
            last = get(row, "seq")?;
        }
        if last == since {
            return Ok((Vec::new(), false));
        }
        let rows = sqlx::query(
            "SELECT record, version, seq, changed_on, wrapped, body FROM records
             WHERE collective_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq",
        )
        .bind(collective_id)
        .bind(since)
        .bind(last)
        .fetch_all(self.pool())
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(StoredRecord {
                record: get(row, "record")?,
                version: get(row, "version")?,
                seq: get(row, "seq")?,
                changed_on: get(row, "changed_on")?,
                wrapped: get(row, "wrapped")?,
                body: get(row, "body")?,
            });
        }
        Ok((out, more))
    }

    /// The collective's latest change number (0 before any).
    pub async fn records_seq(&self, collective_id: i64) -> Result<i64, StoreError> {
        let row = sqlx::query("SELECT seq FROM record_clock WHERE collective_id = $1")
            .bind(collective_id)
            .fetch_optional(self.pool())
            .await?;
        row.map_or(Ok(0), |r| get(&r, "seq"))
    }
}
