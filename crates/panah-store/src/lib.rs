//! Panah's storage: SQLite (the embedded default) and PostgreSQL (for hubs that outgrow
//! one machine) behind one set of portable queries.
//!
//! Every query is written once, with `$N` placeholders, integer, text and blob columns,
//! `RETURNING` and `ON CONFLICT`, and runs on both engines through sqlx's `Any` driver.
//! [`Dialect`] holds the few real differences (column types for ids and blobs, SQLite
//! PRAGMAs, PostgreSQL advisory locks). Handlers never see SQL: they call methods on
//! [`Store`].
//!
//! The store keeps public data (appeals, coordinators' public keys) in clear and secrets
//! only as hashes (API tokens). It must never receive an IP address, a message's content or
//! a codename in clear; those are encrypted or derived before they get here.

#![forbid(unsafe_code)]

mod blob_data;
pub mod blobs;
pub use object_store;
mod collectives;
mod contact;
mod coordinators;
mod copy;
mod dialect;
mod error;
mod ledger;
mod lock;
mod logins;
mod logs;
mod messages;
mod migrate;
mod records;
mod team;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use std::path::{Path, PathBuf};
use std::time::Duration;

use sqlx::any::{AnyPoolOptions, AnyRow};
use sqlx::{AnyPool, Executor};

pub use blobs::{
    BlobConfig, BlobError, BlobStore, BlobStream, BlobWriter, InFlight, PendingBlobs, S3Config,
};
pub use collectives::{Appeal, Collective, NewCollective};
pub use contact::{
    day_of, BlobKind, Conversation, ConversationSummary, FileRow, MessageRow, NewMessage, Side,
};
pub use coordinators::Coordinator;
pub use copy::{Copied, COPIED, LEFT_OUT};
pub use dialect::Dialect;
pub use error::{io_out_of_space, StoreError};
pub use ledger::Ledger;
pub use lock::StoreLock;
pub use logins::{Challenge, TokenOwner};
pub use logs::{Append, Log, LogId, NewEntry, SignedOn, StoredCheckpoint};
pub use records::{RecordRefusal, RecordWrite, StoredRecord};
pub use team::Invitation;

/// Where the database is, as the operator wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    /// An SQLite file. `create` allows creating it when missing: true for the default
    /// database in the hub's data folder, false for a URL the operator typed, so that a
    /// typo is an error instead of a new, empty hub.
    Sqlite { path: PathBuf, create: bool },
    /// A PostgreSQL URL (`postgres://…` or `postgresql://…`).
    Postgres { url: String },
}

impl Location {
    /// Reads a database URL. `sqlite:PATH`, `sqlite://PATH` (add `?mode=rwc` to allow
    /// creating a new file), or `postgres://…`.
    pub fn parse(url: &str) -> Result<Self, StoreError> {
        let url = url.trim();
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            return Ok(Location::Postgres {
                url: url.to_owned(),
            });
        }
        if let Some(rest) = url.strip_prefix("sqlite:") {
            let rest = rest.strip_prefix("//").unwrap_or(rest);
            let (path, query) = rest.split_once('?').unwrap_or((rest, ""));
            let mut create = false;
            for pair in query.split('&').filter(|p| !p.is_empty()) {
                match pair {
                    "mode=rwc" => create = true,
                    "mode=rw" => create = false,
                    other => {
                        return Err(StoreError::BadUrl(format!(
                            "unknown SQLite option {other:?}; the only option is mode=rwc (create if missing)"
                        )))
                    }
                }
            }
            if path.is_empty() || path == ":memory:" {
                return Err(StoreError::BadUrl(
                    "an SQLite URL needs a file path, like sqlite:/var/lib/panah/panah.db".into(),
                ));
            }
            return Ok(Location::Sqlite {
                path: PathBuf::from(path),
                create,
            });
        }
        Err(StoreError::BadUrl(format!(
            "unsupported database URL {:?}: use sqlite:PATH or postgres://USER@HOST/DB",
            redact(url)
        )))
    }

    /// The default: `panah.db` inside the hub's data folder, created on first start.
    pub fn default_in(data_dir: &Path) -> Self {
        Location::Sqlite {
            path: data_dir.join("panah.db"),
            create: true,
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Location::Sqlite { .. } => Dialect::Sqlite,
            Location::Postgres { .. } => Dialect::Postgres,
        }
    }
}

/// A URL without its password, safe to print.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme_end), Some(at)) if at > scheme_end => {
            let userinfo = &url[scheme_end + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}://{}:***{}", &url[..scheme_end], user, &url[at..])
        }
        _ => url.to_owned(),
    }
}

/// The hub's database.
#[derive(Debug, Clone)]
pub struct Store {
    pool: AnyPool,
    dialect: Dialect,
    /// Messages waiting for the next group commit (see [`messages`]).
    queue: std::sync::Arc<messages::Queue>,
}

impl Store {
    /// Connects and applies any pending migrations.
    pub async fn open(location: &Location) -> Result<Store, StoreError> {
        let store = Self::connect(location).await?;
        migrate::run(&store).await?;
        Ok(store)
    }

    async fn connect(location: &Location) -> Result<Store, StoreError> {
        sqlx::any::install_default_drivers();
        let dialect = location.dialect();
        let url = match location {
            Location::Sqlite { path, create } => {
                if !*create && !path.exists() {
                    return Err(StoreError::Missing(path.clone()));
                }
                let mode = if *create { "rwc" } else { "rw" };
                format!("sqlite://{}?mode={mode}", path.display())
            }
            Location::Postgres { url } => url.clone(),
        };
        let (max, timeout) = match dialect {
            // SQLite serialises writers; a few connections are enough for readers.
            Dialect::Sqlite => (4, Duration::from_secs(10)),
            Dialect::Postgres => (8, Duration::from_secs(10)),
        };
        let pool = AnyPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(timeout)
            // An SQLite connection is a file handle on its own thread: it cannot go stale,
            // and pinging it before each use cost every query two thread hand-offs. (A
            // PostgreSQL connection can: a restarted server. It is still tested.)
            .test_before_acquire(dialect == Dialect::Postgres)
            // A connection that saw the disk fill up may hold a transaction the driver
            // failed to end: end it here. (Closing the connection instead fails worse: a
            // new one cannot open while the disk is still full.)
            .after_release(|conn, _meta| {
                Box::pin(async move {
                    if error::out_of_space_lately() {
                        let _ = conn.execute("ROLLBACK").await;
                    }
                    Ok(true)
                })
            })
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    conn.execute(dialect.session_setup()).await?;
                    Ok(())
                })
            })
            .connect(&url)
            .await
            .map_err(|e| StoreError::Connect(connect_hint(location, &e)))?;
        Ok(Store {
            pool,
            dialect,
            queue: Default::default(),
        })
    }

    /// Connects and migrates only up to migration `last`: for tests of a later migration.
    #[cfg(any(test, feature = "testing"))]
    pub async fn open_at_migration(location: &Location, last: i64) -> Result<Store, StoreError> {
        let store = Self::connect(location).await?;
        migrate::run_until(&store, last).await?;
        Ok(store)
    }

    pub fn dialect(&self) -> Dialect {
        self.dialect
    }

    /// A cheap round trip, for `/healthz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }

    pub(crate) fn pool(&self) -> &AnyPool {
        &self.pool
    }
}

fn connect_hint(location: &Location, e: &sqlx::Error) -> String {
    match location {
        Location::Sqlite { path, .. } => {
            format!("cannot open the SQLite database {}: {e}", path.display())
        }
        Location::Postgres { url } => {
            format!("cannot connect to PostgreSQL at {}: {e}", redact(url))
        }
    }
}

pub(crate) fn get<'r, T>(row: &'r AnyRow, column: &str) -> Result<T, StoreError>
where
    T: sqlx::Decode<'r, sqlx::Any> + sqlx::Type<sqlx::Any>,
{
    use sqlx::Row;
    row.try_get(column).map_err(StoreError::from)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            Location::parse("sqlite:/tmp/x.db").unwrap(),
            Location::Sqlite {
                path: "/tmp/x.db".into(),
                create: false
            }
        );
        assert_eq!(
            Location::parse("sqlite:///tmp/x.db?mode=rwc").unwrap(),
            Location::Sqlite {
                path: "/tmp/x.db".into(),
                create: true
            }
        );
        assert!(matches!(
            Location::parse("sqlite:"),
            Err(StoreError::BadUrl(_))
        ));
        assert!(matches!(
            Location::parse("sqlite:x.db?cache=shared"),
            Err(StoreError::BadUrl(_))
        ));
        assert!(matches!(
            Location::parse("mysql://a@b/c"),
            Err(StoreError::BadUrl(_))
        ));
        assert!(matches!(
            Location::parse("postgres://u:p@h/d"),
            Ok(Location::Postgres { .. })
        ));
        assert_eq!(
            redact("postgres://u:secret@h:5/d"),
            "postgres://u:***@h:5/d"
        );
        let err = Location::parse("postgress://u:secret@h/d")
            .unwrap_err()
            .to_string();
        assert!(!err.contains("secret"), "{err}");
    }
}
