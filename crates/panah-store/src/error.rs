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
        let e = StoreError::Database(e);
        if e.is_out_of_space() {
            note_out_of_space();
        }
        e
    }
}

/// When a write last failed for want of space, in milliseconds since the epoch (0: never).
static OUT_OF_SPACE_AT: std::sync::atomic::AtomicI64 = std::sync::atomic::AtomicI64::new(0);

fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn note_out_of_space() {
    OUT_OF_SPACE_AT.store(now_ms(), std::sync::atomic::Ordering::Relaxed);
}

/// Whether a write failed for want of space in the last few seconds. SQLite may roll a
/// transaction back by itself when the disk fills, and the driver then fails to end it
/// and keeps the connection's write lock: every later writer waited on it until the hub
/// was restarted (found by filling a disk under a hub). Connections handed back to the
/// pool in that window end any transaction they are still in.
pub(crate) fn out_of_space_lately() -> bool {
    let at = OUT_OF_SPACE_AT.load(std::sync::atomic::Ordering::Relaxed);
    at != 0 && now_ms() - at < 5_000
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
