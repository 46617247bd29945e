//! Schema migrations, written once for both engines.
//!
//! Several `panah serve` processes may start at once against one PostgreSQL database, so
//! the runner takes an advisory lock there; on SQLite it takes the write lock with
//! `BEGIN IMMEDIATE`. Each migration and its bookkeeping row commit together.

use sqlx::pool::PoolConnection;
use sqlx::{Any, Executor, Row};

use crate::{Dialect, Store, StoreError};
use panah_core::Timestamp;

const MIGRATIONS: &[(i64, &str, &str)] = &[
    (1, "hub", include_str!("../migrations/0001_hub.sql")),
    (2, "contact", include_str!("../migrations/0002_contact.sql")),
    (3, "ledger", include_str!("../migrations/0003_ledger.sql")),
    (
        4,
        "public rails",
        include_str!("../migrations/0004_public_rails.sql"),
    ),
    (5, "logs", include_str!("../migrations/0005_logs.sql")),
    (
        6,
        "blob index",
        include_str!("../migrations/0006_blob_index.sql"),
    ),
    (
        7,
        "team invitations",
        include_str!("../migrations/0007_team_invitations.sql"),
    ),
    (8, "records", include_str!("../migrations/0008_records.sql")),
    (
        9,
        "blob data",
        include_str!("../migrations/0009_blob_data.sql"),
    ),
];

/// An arbitrary constant naming Panah's migration lock.
const ADVISORY_LOCK: i64 = 0x7061_6e61_6801;

/// Applies every pending migration.
pub(crate) async fn run(store: &Store) -> Result<(), StoreError> {
    run_until(store, i64::MAX).await
}

/// Applies pending migrations up to and including `last` (tests of a migration start from
/// the schema before it).
pub(crate) async fn run_until(store: &Store, last: i64) -> Result<(), StoreError> {
    let mut conn = store.pool().acquire().await?;
    let dialect = store.dialect();
    conn.execute(dialect.migration_setup()).await?;
    if dialect == Dialect::Postgres {
        sqlx::query("SELECT pg_advisory_lock($1)")
            .bind(ADVISORY_LOCK)
            .execute(&mut *conn)
            .await?;
    }
    let result = apply_pending(&mut conn, dialect, last).await;
    if dialect == Dialect::Postgres {
        let _ = sqlx::query("SELECT pg_advisory_unlock($1)")
            .bind(ADVISORY_LOCK)
            .execute(&mut *conn)
            .await;
    }
    if result.is_err() {
        // Never hand a connection in an unknown transaction state back to the pool.
        conn.detach();
        return result;
    }
    // Back to the limits every pooled connection has.
    if conn.execute(dialect.session_setup()).await.is_err() {
        conn.detach();
    }
    result
}

async fn apply_pending(
    conn: &mut PoolConnection<Any>,
    dialect: Dialect,
    last: i64,
) -> Result<(), StoreError> {
    conn.execute(
        "CREATE TABLE IF NOT EXISTS panah_migrations (
            version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)",
    )
    .await?;
    let known = MIGRATIONS.last().map(|m| m.0).unwrap_or(0);
    let found: i64 = sqlx::query("SELECT COALESCE(MAX(version), 0) AS v FROM panah_migrations")
        .fetch_one(&mut **conn)
        .await?
        .try_get("v")?;
    if found > known {
        return Err(StoreError::TooNew { found, known });
    }
    for &(version, name, sql) in MIGRATIONS.iter().filter(|m| m.0 > found && m.0 <= last) {
        let begin = match dialect {
            Dialect::Sqlite => "BEGIN IMMEDIATE",
            Dialect::Postgres => "BEGIN",
        };
        conn.execute(begin).await?;
        // Re-check under the lock: another process may have just applied it.
        let done: i64 =
            sqlx::query("SELECT COUNT(*) AS n FROM panah_migrations WHERE version = $1")
                .bind(version)
                .fetch_one(&mut **conn)
                .await?
                .try_get("n")?;
        if done > 0 {
            conn.execute("COMMIT").await?;
            continue;
        }
        let applied = async {
            sqlx::raw_sql(&dialect.expand(sql))
                .execute(&mut **conn)
                .await?;
            sqlx::query(
                "INSERT INTO panah_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
            )
            .bind(version)
            .bind(name)
            .bind(Timestamp::now().to_string())
            .execute(&mut **conn)
            .await?;
            Ok::<_, sqlx::Error>(())
        }
        .await;
        match applied {
            Ok(()) => {
                conn.execute("COMMIT").await?;
                tracing::info!(version, name, "applied database migration");
            }
            Err(e) => {
                let _ = conn.execute("ROLLBACK").await;
                return Err(e.into());
            }
        }
    }
    Ok(())
}
