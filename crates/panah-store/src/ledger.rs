//! The fund ledger as one kind of log: its settings (base currency, goals) and the lookups
//! its entries need (by receipt, by reversal target). Its entries, hashes and checkpoints
//! are the log's (see `logs`).

use std::collections::BTreeMap;

use crate::logs::{
    corrupt, create_log, int, log_from_row, uint, Log, LogId, SignedOn, LOG_COLUMNS,
};
use crate::{get, Store, StoreError};
use panah_core::ledger::{Category, Currency};
use panah_core::tlog::LogKind;

/// A collective's ledger: its log and what only a ledger has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ledger {
    pub log: Log,
    pub base_currency: Currency,
    /// Overall goal, base-currency minor units.
    pub target: Option<i64>,
    /// Per-category budgets, base-currency minor units.
    pub budgets: BTreeMap<Category, i64>,
}

impl Store {
    /// The collective's ledger, if it has one.
    pub async fn ledger(&self, collective_id: i64) -> Result<Option<Ledger>, StoreError> {
        let Some(row) = sqlx::query(&format!(
            "SELECT {LOG_COLUMNS}, s.base_currency, s.target
             FROM logs l JOIN ledger_settings s ON s.log_id = l.id
             WHERE l.collective_id = $1 AND l.kind = $2"
        ))
        .bind(collective_id)
        .bind(LogKind::Ledger.word())
        .fetch_optional(self.pool())
        .await?
        else {
            return Ok(None);
        };
        let log = log_from_row(&row)?;
        let base: String = get(&row, "base_currency")?;
        let mut budgets = BTreeMap::new();
        for b in sqlx::query("SELECT category, amount FROM ledger_goals WHERE log_id = $1")
            .bind(log.id.0)
            .fetch_all(self.pool())
            .await?
        {
            let word: String = get(&b, "category")?;
            let category = Category::parse(&word).ok_or_else(|| corrupt(&word))?;
            budgets.insert(category, get(&b, "amount")?);
        }
        Ok(Some(Ledger {
            log,
            base_currency: Currency::parse(&base).map_err(corrupt)?,
            target: get(&row, "target")?,
            budgets,
        }))
    }

    /// Starts a collective's ledger with its first (empty) signed checkpoint. Returns the
    /// log's id.
    pub async fn create_ledger(
        &self,
        collective_id: i64,
        origin: &str,
        base_currency: Currency,
        checkpoint: &str,
        coordinator_id: i64,
        signed: SignedOn,
    ) -> Result<LogId, StoreError> {
        let mut tx = self.pool().begin().await?;
        let log_id = create_log(
            &mut tx,
            collective_id,
            LogKind::Ledger,
            origin,
            checkpoint,
            coordinator_id,
            signed,
        )
        .await?;
        sqlx::query("INSERT INTO ledger_settings (log_id, base_currency) VALUES ($1, $2)")
            .bind(log_id.0)
            .bind(base_currency.code())
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(log_id)
    }

    /// Replaces the goals: an overall target and per-category budgets.
    pub async fn set_ledger_goals(
        &self,
        log_id: LogId,
        target: Option<i64>,
        budgets: &BTreeMap<Category, i64>,
    ) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        let found = sqlx::query("UPDATE ledger_settings SET target = $1 WHERE log_id = $2")
            .bind(target)
            .bind(log_id.0)
            .execute(&mut *tx)
            .await?;
        if found.rows_affected() == 0 {
            return Err(StoreError::NotFound("the collective's ledger".into()));
        }
        sqlx::query("DELETE FROM ledger_goals WHERE log_id = $1")
            .bind(log_id.0)
            .execute(&mut *tx)
            .await?;
        for (category, amount) in budgets {
            sqlx::query("INSERT INTO ledger_goals (log_id, category, amount) VALUES ($1, $2, $3)")
                .bind(log_id.0)
                .bind(category.word())
                .bind(*amount)
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// An entry's leaf, and whether another entry already reverses it.
    pub async fn ledger_reversal_target(
        &self,
        log_id: LogId,
        index: u64,
    ) -> Result<(Option<Vec<u8>>, bool), StoreError> {
        let row = sqlx::query(
            "SELECT e.leaf, (SELECT COUNT(*) FROM ledger_index r
                             WHERE r.log_id = e.log_id AND r.reverses = e.idx) AS reversed
             FROM log_entries e WHERE e.log_id = $1 AND e.idx = $2",
        )
        .bind(log_id.0)
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
        log_id: LogId,
        receipt: &[u8; 32],
    ) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
        sqlx::query(
            "SELECT e.idx, e.leaf FROM ledger_index i
             JOIN log_entries e ON e.log_id = i.log_id AND e.idx = i.idx
             WHERE i.log_id = $1 AND i.receipt = $2",
        )
        .bind(log_id.0)
        .bind(receipt.to_vec())
        .fetch_optional(self.pool())
        .await?
        .map(|row| Ok((uint(&row, "idx")?, get(&row, "leaf")?)))
        .transpose()
    }
}
