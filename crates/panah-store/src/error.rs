use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{0}")]
    BadUrl(String),
    #[error("there is no SQLite database at {0}; check the path, or add ?mode=rwc to the URL to create a new, empty one")]
    Missing(PathBuf),
    #[error("{0}")]
    Connect(String),
    #[error("{0} already exists")]
    Conflict(String),
    /// Someone else changed it first; the caller should look again.
    #[error("{0}")]
    Stale(String),
    #[error("{0} was not found")]
    NotFound(String),
    #[error("the database holds a value this version cannot read ({0}); is the database from a newer Panah?")]
    Corrupt(String),
    #[error("the database is at schema version {found}, newer than this Panah knows ({known}); upgrade Panah")]
    TooNew { found: i64, known: i64 },
    #[error("database error: {0}")]
    Database(sqlx::Error),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        StoreError::Database(e)
    }
}

impl StoreError {
    /// The disk, or the database server's, is full: nothing was stored, and retrying
    /// helps once someone has made room.
    pub fn is_out_of_space(&self) -> bool {
        match self {
            StoreError::Database(sqlx::Error::Database(d)) => {
                // SQLITE_FULL, PostgreSQL's disk_full.
                matches!(d.code().as_deref(), Some("13") | Some("53100"))
                    || d.message().contains("database or disk is full")
            }
            StoreError::Database(sqlx::Error::Io(e)) => io_out_of_space(e),
            _ => false,
        }
    }

    pub(crate) fn is_unique_violation(e: &sqlx::Error) -> bool {
        matches!(e, sqlx::Error::Database(d) if d.is_unique_violation())
    }
}

/// Whether an I/O error says the disk is full (or the account's quota is used up).
pub fn io_out_of_space(e: &std::io::Error) -> bool {
    // ENOSPC, EDQUOT.
    e.kind() == std::io::ErrorKind::StorageFull || matches!(e.raw_os_error(), Some(28 | 122))
}
