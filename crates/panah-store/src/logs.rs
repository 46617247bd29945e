//! Every public log a collective keeps (the fund ledger now, the team next): entries, the
//! stored hashes of their Merkle tree and signed checkpoints, keyed by the log. An append
//! writes its entries, their hashes and the checkpoint that signs them in one transaction,
//! guarded by a compare-and-set on the log's size, so a published tree never has entries
//! no coordinator signed.

use std::collections::HashMap;

use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use crate::{get, Store, StoreError};
use panah_core::ledger::DatePrecision;
use panah_core::tlog::tiles::Node;
use panah_core::tlog::LogKind;
use panah_core::Timestamp;

/// A log's id in the database: its own type, so that it is never mixed up with a
/// collective's id (both are numbers).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LogId(pub i64);

/// One of a collective's logs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Log {
    pub id: LogId,
    pub collective_id: i64,
    pub kind: LogKind,
    /// The C2SP log origin its checkpoints name.
    pub origin: String,
    /// Size of the latest signed checkpoint.
    pub size: u64,
    pub created_at: Timestamp,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCheckpoint {
    pub size: u64,
    /// The signed note, exactly as the coordinator signed it.
    pub note: String,
    pub coordinator_id: i64,
    /// When it was signed, no more exactly than `signed_precision`: the day, or the first
    /// day of the week or month.
    pub signed_on: Timestamp,
    pub signed_precision: DatePrecision,
}

/// When a checkpoint was signed, as the append protocol coarsened it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SignedOn {
    pub on: Timestamp,
    pub precision: DatePrecision,
}

/// One entry to append: its leaf bytes and, for the ledger, what the database indexes.
#[derive(Debug, Clone, Copy)]
pub struct NewEntry<'a> {
    pub leaf: &'a [u8],
    pub receipt: Option<&'a [u8; 32]>,
    pub reverses: Option<u64>,
}

impl<'a> NewEntry<'a> {
    /// An entry nothing else refers to.
    pub fn plain(leaf: &'a [u8]) -> Self {
        NewEntry {
            leaf,
            receipt: None,
            reverses: None,
        }
    }
}

/// An append: entries at `base_size..`, their new stored hashes, and the checkpoint that
/// signs the tree of `base_size + entries.len()`.
#[derive(Debug, Clone)]
pub struct Append<'a> {
    pub base_size: u64,
    pub entries: &'a [NewEntry<'a>],
    pub hashes: &'a [(Node, [u8; 32])],
    pub checkpoint: &'a str,
    pub coordinator_id: i64,
    pub signed: SignedOn,
}

pub(crate) fn corrupt(e: impl ToString) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

pub(crate) fn int(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt("a log index beyond 2^63".into()))
}

pub(crate) fn uint(row: &AnyRow, column: &str) -> Result<u64, StoreError> {
    let v: i64 = get(row, column)?;
    u64::try_from(v).map_err(corrupt)
}

fn hash32(bytes: Vec<u8>) -> Result<[u8; 32], StoreError> {
    <[u8; 32]>::try_from(bytes).map_err(|_| corrupt("a log hash that is not 32 bytes"))
}

pub(crate) fn log_from_row(row: &AnyRow) -> Result<Log, StoreError> {
    let kind: String = get(row, "kind")?;
    let created: String = get(row, "created_at")?;
    Ok(Log {
        id: LogId(get(row, "id")?),
        collective_id: get(row, "collective_id")?,
        kind: LogKind::parse(&kind).ok_or_else(|| corrupt(format!("log kind {kind:?}")))?,
        origin: get(row, "origin")?,
        size: uint(row, "size")?,
        created_at: Timestamp::parse(&created).map_err(corrupt)?,
    })
}

/// The columns [`log_from_row`] reads, for queries that join `logs` as `l`.
pub(crate) const LOG_COLUMNS: &str =
    "l.id, l.collective_id, l.kind, l.origin, l.size, l.created_at";

impl Store {
    /// The collective's log of this kind, if it was started.
    pub async fn log(&self, collective_id: i64, kind: LogKind) -> Result<Option<Log>, StoreError> {
        sqlx::query(&format!(
            "SELECT {LOG_COLUMNS} FROM logs l WHERE l.collective_id = $1 AND l.kind = $2"
        ))
        .bind(collective_id)
        .bind(kind.word())
        .fetch_optional(self.pool())
        .await?
        .as_ref()
        .map(log_from_row)
        .transpose()
    }

    /// The latest signed checkpoint of a log.
    pub async fn latest_checkpoint(
        &self,
        log_id: LogId,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row = sqlx::query(
            "SELECT c.size, c.note, c.coordinator_id, c.signed_on, c.signed_precision
             FROM log_checkpoints c
             JOIN logs l ON l.id = c.log_id AND l.size = c.size
             WHERE c.log_id = $1",
        )
        .bind(log_id.0)
        .fetch_optional(self.pool())
        .await?;
        row.map(|row| {
            let on: String = get(&row, "signed_on")?;
            Ok(StoredCheckpoint {
                size: uint(&row, "size")?,
                note: get(&row, "note")?,
                coordinator_id: get(&row, "coordinator_id")?,
                signed_on: Timestamp::parse(&on).map_err(corrupt)?,
                signed_precision: {
                    let p: String = get(&row, "signed_precision")?;
                    DatePrecision::parse(&p).ok_or_else(|| corrupt(&p))?
                },
            })
        })
        .transpose()
    }

    /// Entries `from..to` in order, as (index, leaf). Missing rows are simply absent.
    pub async fn log_leaves(
        &self,
        log_id: LogId,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        sqlx::query(
            "SELECT idx, leaf FROM log_entries
             WHERE log_id = $1 AND idx >= $2 AND idx < $3 ORDER BY idx",
        )
        .bind(log_id.0)
        .bind(int(from)?)
        .bind(int(to)?)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| Ok((uint(row, "idx")?, get(row, "leaf")?)))
        .collect()
    }

    /// The latest `count` entries, newest first.
    pub async fn log_latest(
        &self,
        log_id: LogId,
        count: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        sqlx::query(
            "SELECT idx, leaf FROM log_entries WHERE log_id = $1 ORDER BY idx DESC LIMIT $2",
        )
        .bind(log_id.0)
        .bind(int(count)?)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| Ok((uint(row, "idx")?, get(row, "leaf")?)))
        .collect()
    }

    /// Hashes of tree level `level` from index `from` up to (not including) `to`, in order.
    pub async fn log_level(
        &self,
        log_id: LogId,
        level: u8,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, [u8; 32])>, StoreError> {
        sqlx::query(
            "SELECT n, hash FROM log_hashes
             WHERE log_id = $1 AND level = $2 AND n >= $3 AND n < $4 ORDER BY n",
        )
        .bind(log_id.0)
        .bind(i64::from(level))
        .bind(int(from)?)
        .bind(int(to)?)
        .fetch_all(self.pool())
        .await?
        .into_iter()
        .map(|row| Ok((uint(&row, "n")?, hash32(row.try_get("hash")?)?)))
        .collect()
    }

    /// The stored hashes of the given nodes (those that exist).
    pub async fn log_nodes(
        &self,
        log_id: LogId,
        nodes: &[Node],
    ) -> Result<HashMap<Node, [u8; 32]>, StoreError> {
        let mut out = HashMap::with_capacity(nodes.len());
        // A few dozen nodes at most per proof; in chunks to stay far below bind limits. One
        // primary-key lookup per node, joined with UNION ALL: SQLite's planner turns a long
        // OR of (level, n) pairs into a scan of the whole log.
        for chunk in nodes.chunks(100) {
            let sql = (0..chunk.len())
                .map(|i| {
                    format!(
                        "SELECT level, n, hash FROM log_hashes
                         WHERE log_id = $1 AND level = ${} AND n = ${}",
                        2 * i + 2,
                        2 * i + 3
                    )
                })
                .collect::<Vec<_>>()
                .join(" UNION ALL ");
            let mut q = sqlx::query(&sql).bind(log_id.0);
            for &(level, n) in chunk {
                q = q.bind(i64::from(level)).bind(int(n)?);
            }
            for row in q.fetch_all(self.pool()).await? {
                let level: i64 = get(&row, "level")?;
                let level = u8::try_from(level).map_err(corrupt)?;
                out.insert((level, uint(&row, "n")?), hash32(row.try_get("hash")?)?);
            }
        }
        Ok(out)
    }

    /// Appends entries and the checkpoint that signs them, all or nothing. Refused with
    /// [`StoreError::Stale`] if the log is no longer at `base_size`, and with
    /// [`StoreError::Conflict`] for a second reversal of an entry or a reused receipt.
    pub async fn append_log(&self, log_id: LogId, append: &Append<'_>) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        append_in(&mut tx, log_id, append).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// [`Store::append_log`] inside the caller's transaction.
pub(crate) async fn append_in(
    tx: &mut Transaction<'_, Any>,
    log_id: LogId,
    append: &Append<'_>,
) -> Result<(), StoreError> {
    {
        let new_size = append.base_size + append.entries.len() as u64;
        // The compare-and-set comes first, so it is also what takes the write lock.
        let moved = sqlx::query("UPDATE logs SET size = $1 WHERE id = $2 AND size = $3")
            .bind(int(new_size)?)
            .bind(log_id.0)
            .bind(int(append.base_size)?)
            .execute(&mut **tx)
            .await?;
        if moved.rows_affected() != 1 {
            return Err(StoreError::Stale(format!(
                "the log is no longer at {} entries: someone else added entries first; fetch it again",
                append.base_size
            )));
        }
        let duplicate = |e: sqlx::Error| {
            if StoreError::is_unique_violation(&e) {
                StoreError::Conflict(
                    "an entry reversing the same entry, or with the same receipt,".into(),
                )
            } else {
                e.into()
            }
        };
        for (i, e) in append.entries.iter().enumerate() {
            let idx = int(append.base_size + i as u64)?;
            sqlx::query("INSERT INTO log_entries (log_id, idx, leaf) VALUES ($1, $2, $3)")
                .bind(log_id.0)
                .bind(idx)
                .bind(e.leaf.to_vec())
                .execute(&mut **tx)
                .await?;
            if e.receipt.is_some() || e.reverses.is_some() {
                sqlx::query(
                    "INSERT INTO ledger_index (log_id, idx, receipt, reverses)
                     VALUES ($1, $2, $3, $4)",
                )
                .bind(log_id.0)
                .bind(idx)
                .bind(e.receipt.map(|r| r.to_vec()))
                .bind(e.reverses.map(int).transpose()?)
                .execute(&mut **tx)
                .await
                .map_err(duplicate)?;
            }
        }
        for &((level, n), hash) in append.hashes {
            sqlx::query("INSERT INTO log_hashes (log_id, level, n, hash) VALUES ($1, $2, $3, $4)")
                .bind(log_id.0)
                .bind(i64::from(level))
                .bind(int(n)?)
                .bind(hash.to_vec())
                .execute(&mut **tx)
                .await?;
        }
        insert_checkpoint(
            tx,
            log_id,
            new_size,
            append.checkpoint,
            append.coordinator_id,
            append.signed,
        )
        .await?;
        Ok(())
    }
}

/// Starts a log with its first (empty) signed checkpoint, inside the caller's transaction
/// (a log is started together with what its kind keeps beside it). Returns its id.
pub(crate) async fn create_log(
    tx: &mut Transaction<'_, Any>,
    collective_id: i64,
    kind: LogKind,
    origin: &str,
    checkpoint: &str,
    coordinator_id: i64,
    signed: SignedOn,
) -> Result<LogId, StoreError> {
    let id = insert_log(tx, collective_id, kind, origin).await?;
    insert_checkpoint(tx, id, 0, checkpoint, coordinator_id, signed).await?;
    Ok(id)
}

/// A new, empty log row with no checkpoint yet (its first append brings one).
pub(crate) async fn insert_log(
    tx: &mut Transaction<'_, Any>,
    collective_id: i64,
    kind: LogKind,
    origin: &str,
) -> Result<LogId, StoreError> {
    let row = sqlx::query(
        "INSERT INTO logs (collective_id, kind, origin, size, created_at)
         VALUES ($1, $2, $3, 0, $4) RETURNING id",
    )
    .bind(collective_id)
    .bind(kind.word())
    .bind(origin)
    .bind(Timestamp::now().to_string())
    .fetch_one(&mut **tx)
    .await
    .map_err(|e| {
        if StoreError::is_unique_violation(&e) {
            StoreError::Conflict(format!(
                "a {} for this collective or a log with this origin",
                kind.word()
            ))
        } else {
            e.into()
        }
    })?;
    Ok(LogId(get(&row, "id")?))
}

async fn insert_checkpoint(
    tx: &mut Transaction<'_, Any>,
    log_id: LogId,
    size: u64,
    note: &str,
    coordinator_id: i64,
    signed: SignedOn,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO log_checkpoints
             (log_id, size, note, coordinator_id, signed_on, signed_precision)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(log_id.0)
    .bind(int(size)?)
    .bind(note)
    .bind(coordinator_id)
    .bind(signed.on.to_string())
    .bind(signed.precision.word())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
