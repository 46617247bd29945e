//! The fund ledger: entries, the stored hashes of their Merkle tree, signed checkpoints and
//! goals. An append writes its entries, their hashes and the checkpoint that signs them in
//! one transaction, guarded by a compare-and-set on the ledger's size, so the published
//! tree never has entries no coordinator signed.

use std::collections::{BTreeMap, HashMap};

use sqlx::any::AnyRow;
use sqlx::Row;

use crate::{get, Store, StoreError};
use panah_core::ledger::{Category, Currency, DatePrecision};
use panah_core::tlog::tiles::Node;
use panah_core::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ledger {
    pub collective_id: i64,
    /// The C2SP log origin its checkpoints name.
    pub origin: String,
    pub base_currency: Currency,
    /// Size of the latest signed checkpoint.
    pub size: u64,
    /// Overall goal, base-currency minor units.
    pub target: Option<i64>,
    /// Per-category budgets, base-currency minor units.
    pub budgets: BTreeMap<Category, i64>,
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

/// One entry to append: its leaf bytes and what the database indexes.
#[derive(Debug, Clone, Copy)]
pub struct NewEntry<'a> {
    pub leaf: &'a [u8],
    pub receipt: Option<&'a [u8; 32]>,
    pub reverses: Option<u64>,
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
    /// How exactly to keep the signing date: the coarsest precision of the entries added.
    pub date_precision: DatePrecision,
}

fn corrupt(e: impl ToString) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn int(v: u64) -> Result<i64, StoreError> {
    i64::try_from(v).map_err(|_| StoreError::Corrupt("a ledger index beyond 2^63".into()))
}

fn uint(row: &AnyRow, column: &str) -> Result<u64, StoreError> {
    let v: i64 = get(row, column)?;
    u64::try_from(v).map_err(corrupt)
}

fn hash32(bytes: Vec<u8>) -> Result<[u8; 32], StoreError> {
    <[u8; 32]>::try_from(bytes).map_err(|_| corrupt("a ledger hash that is not 32 bytes"))
}

impl Store {
    /// The collective's ledger, if it has one.
    pub async fn ledger(&self, collective_id: i64) -> Result<Option<Ledger>, StoreError> {
        let Some(row) = sqlx::query(
            "SELECT origin, base_currency, size, target, created_at FROM ledgers
             WHERE collective_id = $1",
        )
        .bind(collective_id)
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(None);
        };
        let base: String = get(&row, "base_currency")?;
        let created: String = get(&row, "created_at")?;
        let mut budgets = BTreeMap::new();
        for b in sqlx::query("SELECT category, amount FROM ledger_budgets WHERE collective_id = $1")
            .bind(collective_id)
            .fetch_all(self.pool())
            .await?
        {
            let word: String = get(&b, "category")?;
            let category = Category::parse(&word).ok_or_else(|| corrupt(&word))?;
            budgets.insert(category, get(&b, "amount")?);
        }
        Ok(Some(Ledger {
            collective_id,
            origin: get(&row, "origin")?,
            base_currency: Currency::parse(&base).map_err(corrupt)?,
            size: uint(&row, "size")?,
            target: get(&row, "target")?,
            budgets,
            created_at: Timestamp::parse(&created).map_err(corrupt)?,
        }))
    }

    /// The ledger's origin and size alone: what serving a tile or the keys needs.
    pub async fn ledger_head(
        &self,
        collective_id: i64,
    ) -> Result<Option<(String, u64)>, StoreError> {
        sqlx::query("SELECT origin, size FROM ledgers WHERE collective_id = $1")
            .bind(collective_id)
            .fetch_optional(self.pool())
            .await?
            .map(|row| Ok((get(&row, "origin")?, uint(&row, "size")?)))
            .transpose()
    }

    /// Starts a collective's ledger with its first (empty) signed checkpoint.
    pub async fn create_ledger(
        &self,
        collective_id: i64,
        origin: &str,
        base_currency: Currency,
        checkpoint: &str,
        coordinator_id: i64,
    ) -> Result<(), StoreError> {
        let now = Timestamp::now();
        let mut tx = self.pool().begin().await?;
        sqlx::query(
            "INSERT INTO ledgers (collective_id, origin, base_currency, size, created_at)
             VALUES ($1, $2, $3, 0, $4)",
        )
        .bind(collective_id)
        .bind(origin)
        .bind(base_currency.code())
        .bind(now.to_string())
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            if StoreError::is_unique_violation(&e) {
                StoreError::Conflict("a ledger for this collective or with this origin".into())
            } else {
                e.into()
            }
        })?;
        insert_checkpoint(
            &mut tx,
            collective_id,
            0,
            checkpoint,
            coordinator_id,
            DatePrecision::Day,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Replaces the goals: an overall target and per-category budgets.
    pub async fn set_ledger_goals(
        &self,
        collective_id: i64,
        target: Option<i64>,
        budgets: &BTreeMap<Category, i64>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        let found = sqlx::query("UPDATE ledgers SET target = $1 WHERE collective_id = $2")
            .bind(target)
            .bind(collective_id)
            .execute(&mut *tx)
            .await?;
        if found.rows_affected() == 0 {
            return Err(StoreError::NotFound("the collective's ledger".into()));
        }
        sqlx::query("DELETE FROM ledger_budgets WHERE collective_id = $1")
            .bind(collective_id)
            .execute(&mut *tx)
            .await?;
        for (category, amount) in budgets {
            sqlx::query(
                "INSERT INTO ledger_budgets (collective_id, category, amount) VALUES ($1, $2, $3)",
            )
            .bind(collective_id)
            .bind(category.word())
            .bind(*amount)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// The latest signed checkpoint.
    pub async fn latest_checkpoint(
        &self,
        collective_id: i64,
    ) -> Result<Option<StoredCheckpoint>, StoreError> {
        let row = sqlx::query(
            "SELECT c.size, c.note, c.coordinator_id, c.signed_on, c.signed_precision
             FROM ledger_checkpoints c
             JOIN ledgers l ON l.collective_id = c.collective_id AND l.size = c.size
             WHERE c.collective_id = $1",
        )
        .bind(collective_id)
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
    pub async fn ledger_leaves(
        &self,
        collective_id: i64,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        sqlx::query(
            "SELECT idx, leaf FROM ledger_entries
             WHERE collective_id = $1 AND idx >= $2 AND idx < $3 ORDER BY idx",
        )
        .bind(collective_id)
        .bind(int(from)?)
        .bind(int(to)?)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| Ok((uint(row, "idx")?, get(row, "leaf")?)))
        .collect()
    }

    /// The latest `count` entries, newest first.
    pub async fn ledger_latest(
        &self,
        collective_id: i64,
        count: u64,
    ) -> Result<Vec<(u64, Vec<u8>)>, StoreError> {
        sqlx::query(
            "SELECT idx, leaf FROM ledger_entries WHERE collective_id = $1
             ORDER BY idx DESC LIMIT $2",
        )
        .bind(collective_id)
        .bind(int(count)?)
        .fetch_all(self.pool())
        .await?
        .iter()
        .map(|row| Ok((uint(row, "idx")?, get(row, "leaf")?)))
        .collect()
    }

    /// Hashes of tree level `level` from index `from` up to (not including) `to`, in order.
    pub async fn ledger_level(
        &self,
        collective_id: i64,
        level: u8,
        from: u64,
        to: u64,
    ) -> Result<Vec<(u64, [u8; 32])>, StoreError> {
        sqlx::query(
            "SELECT n, hash FROM ledger_hashes
             WHERE collective_id = $1 AND level = $2 AND n >= $3 AND n < $4 ORDER BY n",
        )
        .bind(collective_id)
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
    pub async fn ledger_nodes(
        &self,
        collective_id: i64,
        nodes: &[Node],
    ) -> Result<HashMap<Node, [u8; 32]>, StoreError> {
        let mut out = HashMap::with_capacity(nodes.len());
        // A few dozen nodes at most per proof; in chunks to stay far below bind limits. One
        // primary-key lookup per node, joined with UNION ALL: SQLite's planner turns a long
        // OR of (level, n) pairs into a scan of the whole collective.
        for chunk in nodes.chunks(100) {
            let sql = (0..chunk.len())
                .map(|i| {
                    format!(
                        "SELECT level, n, hash FROM ledger_hashes
                         WHERE collective_id = $1 AND level = ${} AND n = ${}",
                        2 * i + 2,
                        2 * i + 3
                    )
                })
                .collect::<Vec<_>>()
                .join(" UNION ALL ");
            let mut q = sqlx::query(&sql).bind(collective_id);
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

    /// An entry's leaf, and whether another entry already reverses it.
    pub async fn ledger_reversal_target(
        &self,
        collective_id: i64,
        index: u64,
    ) -> Result<(Option<Vec<u8>>, bool), StoreError> {
        let row = sqlx::query(
            "SELECT e.leaf, (SELECT COUNT(*) FROM ledger_entries r
                             WHERE r.collective_id = e.collective_id AND r.reverses = e.idx) AS reversed
             FROM ledger_entries e WHERE e.collective_id = $1 AND e.idx = $2",
        )
        .bind(collective_id)
        .bind(int(index)?)
        .fetch_optional(self.pool())
        .await?;
        match row {
            Some(row) => {
                let reversed: i64 = get(&row, "reversed")?;
                Ok((Some(get(&row, "leaf")?), reversed > 0))
            }
            None => Ok((None, false)),
        }
    }

    /// The entry whose receipt commitment is `receipt`, as (index, leaf).
    pub async fn ledger_entry_by_receipt(
        &self,
        collective_id: i64,
        receipt: &[u8; 32],
    ) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        sqlx::query(
            "SELECT idx, leaf FROM ledger_entries WHERE collective_id = $1 AND receipt = $2",
        )
        .bind(collective_id)
        .bind(receipt.to_vec())
        .fetch_optional(self.pool())
        .await?
        .map(|row| Ok((uint(&row, "idx")?, get(&row, "leaf")?)))
        .transpose()
    }

    /// Appends entries and the checkpoint that signs them, all or nothing. Refused with
    /// [`StoreError::Stale`] if the ledger is no longer at `base_size`, and with
    /// [`StoreError::Conflict`] for a second reversal of an entry or a reused receipt.
    pub async fn append_ledger(
        &self,
        collective_id: i64,
        append: &Append<'_>,
    ) -> Result<(), StoreError> {
        let new_size = append.base_size + append.entries.len() as u64;
        let mut tx = self.pool().begin().await?;
        // The compare-and-set comes first, so it is also what takes the write lock.
        let moved =
            sqlx::query("UPDATE ledgers SET size = $1 WHERE collective_id = $2 AND size = $3")
                .bind(int(new_size)?)
                .bind(collective_id)
                .bind(int(append.base_size)?)
                .execute(&mut *tx)
                .await?;
        if moved.rows_affected() != 1 {
            return Err(StoreError::Stale(format!(
                "the ledger is no longer at {} entries: someone else added entries first; fetch it again",
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
            sqlx::query(
                "INSERT INTO ledger_entries (collective_id, idx, leaf, receipt, reverses)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(collective_id)
            .bind(int(append.base_size + i as u64)?)
            .bind(e.leaf.to_vec())
            .bind(e.receipt.map(|r| r.to_vec()))
            .bind(e.reverses.map(int).transpose()?)
            .execute(&mut *tx)
            .await
            .map_err(duplicate)?;
        }
        for &((level, n), hash) in append.hashes {
            sqlx::query(
                "INSERT INTO ledger_hashes (collective_id, level, n, hash) VALUES ($1, $2, $3, $4)",
            )
            .bind(collective_id)
            .bind(i64::from(level))
            .bind(int(n)?)
            .bind(hash.to_vec())
            .execute(&mut *tx)
            .await?;
        }
        insert_checkpoint(
            &mut tx,
            collective_id,
            new_size,
            append.checkpoint,
            append.coordinator_id,
            append.date_precision,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }
}

async fn insert_checkpoint(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    collective_id: i64,
    size: u64,
    note: &str,
    coordinator_id: i64,
    precision: DatePrecision,
) -> Result<(), StoreError> {
    let today = time::OffsetDateTime::now_utc().date();
    sqlx::query(
        "INSERT INTO ledger_checkpoints
             (collective_id, size, note, coordinator_id, signed_on, signed_precision)
         VALUES ($1, $2, $3, $4, $5, $6)",
    )
    .bind(collective_id)
    .bind(int(size)?)
    .bind(note)
    .bind(coordinator_id)
    .bind(Timestamp::from_date(precision.coarsen(today)).to_string())
    .bind(precision.word())
    .execute(&mut **tx)
    .await?;
    Ok(())
}
