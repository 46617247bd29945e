//! A lock one hub process holds at a time among all those sharing the database: for work
//! that must not run in two processes at once (publishing the logs' static copy, where a
//! slower process could otherwise put back an older checkpoint after a newer one).
//!
//! On PostgreSQL it is a session advisory lock on a connection set aside while it is held;
//! dropping the lock without [`StoreLock::release`] closes that connection, which ends the
//! lock too. On SQLite one process serves a database: the lock is always granted.

use sqlx::pool::PoolConnection;
use sqlx::Any;

use crate::{Dialect, Store, StoreError};

/// A held lock; see [`Store::try_lock`].
#[derive(Debug)]
pub struct StoreLock {
    held: Option<(PoolConnection<Any>, i64)>,
}

impl Store {
    /// Takes the lock named `name` if no other process holds it; `None` if one does.
    pub async fn try_lock(&self, name: i64) -> Result<Option<StoreLock>, StoreError> {
        if self.dialect() != Dialect::Postgres {
            return Ok(Some(StoreLock { held: None }));
        }
        let mut conn = self.pool().acquire().await?;
        let row = sqlx::query("SELECT pg_try_advisory_lock($1) AS got")
            .bind(name)
            .fetch_one(&mut *conn)
            .await?;
        let got: bool = crate::get(&row, "got")?;
        Ok(got.then_some(StoreLock {
            held: Some((conn, name)),
        }))
    }
}

impl StoreLock {
    /// Whether the lock is still held: a session that ended (a restart of the database, a
    /// network cut, an administrator) took the lock with it, and another process may hold
    /// it now. Ask before each step that must not be taken by two.
    pub async fn still_held(&mut self) -> Result<bool, StoreError> {
        let Some((conn, name)) = self.held.as_mut() else {
            return Ok(true);
        };
        // A bigint advisory lock shows in pg_locks as its high and low 32 bits.
        let row = sqlx::query(
            "SELECT COUNT(*) AS n FROM pg_locks WHERE locktype = 'advisory' AND granted \
             AND pid = pg_backend_pid() AND classid::bigint = $1 AND objid::bigint = $2 \
             AND objsubid = 1",
        )
        .bind(*name >> 32)
        .bind(*name & 0xffff_ffff)
        .fetch_one(&mut **conn)
        .await;
        match row {
            Ok(row) => Ok(crate::get::<i64>(&row, "n")? == 1),
            // The connection is gone, and the lock with it.
            Err(_) => Ok(false),
        }
    }

    /// Lets the lock go and gives the connection back. If that fails, the connection is
    /// closed instead (never handed back still holding the lock).
    pub async fn release(mut self) -> Result<(), StoreError> {
        if let Some((mut conn, name)) = self.held.take() {
            let released = sqlx::query("SELECT pg_advisory_unlock($1)")
                .bind(name)
                .execute(&mut *conn)
                .await;
            if let Err(e) = released {
                drop(conn.detach());
                return Err(e.into());
            }
        }
        Ok(())
    }
}

impl Drop for StoreLock {
    fn drop(&mut self) {
        // Not released (an error or a panic on the way): the connection is closed rather
        // than handed back still holding the lock.
        if let Some((conn, _)) = self.held.take() {
            drop(conn.detach());
        }
    }
}
