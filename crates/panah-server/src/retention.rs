//! Data expires by default: conversations are deleted, rows and ciphertext blobs, a
//! configurable number of days after their last message. `panah serve` sweeps every hour.

use std::time::Duration;

use panah_core::Timestamp;
use panah_store::{BlobStore, Store, StoreError};

use crate::AppState;

/// Deletes every expired conversation; returns how many.
pub async fn sweep(store: &Store, blobs: &BlobStore, now: Timestamp) -> Result<usize, StoreError> {
    let mut deleted = 0;
    loop {
        let expired = store.expired_conversations(now).await?;
        if expired.is_empty() {
            break;
        }
        let before = deleted;
        for (collective, id) in expired {
            // Only if still expired: a follow-up since the listing keeps it.
            let keys = store
                .delete_expired_conversation(collective, id, now)
                .await?;
            if crate::conversations::delete_blobs(blobs, keys) {
                deleted += 1;
            }
        }
        if deleted == before {
            break; // another hub process took them; never spin
        }
    }
    if deleted > 0 {
        tracing::info!(deleted, "expired conversations deleted");
    }
    // Partial uploads older than the longest upload can take were left by a crash.
    let partials = {
        let blobs = blobs.clone();
        tokio::task::spawn_blocking(move || blobs.sweep_partials(LEFT_BY_A_CRASH)).await
    };
    match partials {
        Ok(Ok(0)) => {}
        Ok(Ok(n)) => tracing::info!(removed = n, "partial uploads from a crash removed"),
        Ok(Err(e)) => tracing::warn!(error = %e, "cannot sweep partial uploads"),
        Err(e) => tracing::warn!(error = %e, "the sweep of partial uploads stopped"),
    }
    let orphans = sweep_orphans(store, blobs).await?;
    if orphans > 0 {
        tracing::info!(removed = orphans, "blobs whose row never landed removed");
    }
    Ok(deleted)
}

/// Far older than the longest an upload may take (30 minutes): a blob this old that no row
/// refers to was left by a crash. A day, so that a wall clock set forward by hours, or
/// hosts with skewed clocks sharing one blob folder, cannot make a blob whose row is on its
/// way look abandoned. Two days on the files' clock: blob files show only the day they
/// were written (midnight UTC), so a blob is at least a whole day old when it is swept.
const LEFT_BY_A_CRASH: Duration = Duration::from_secs(48 * 3600);

/// Deletes committed blobs no row refers to, older than [`LEFT_BY_A_CRASH`]: a crash after
/// a blob was committed and before its message's row was, or a request cancelled while
/// its row was being stored. One fan-out folder at a time (a bounded batch each), file work
/// on the blocking pool. Returns how many.
pub async fn sweep_orphans(store: &Store, blobs: &BlobStore) -> Result<usize, StoreError> {
    sweep_orphans_older_than(store, blobs, LEFT_BY_A_CRASH).await
}

/// [`sweep_orphans`] with another age limit: tests of what a crash leaves sweep at once.
pub async fn sweep_orphans_older_than(
    store: &Store,
    blobs: &BlobStore,
    age: Duration,
) -> Result<usize, StoreError> {
    let stopped =
        |e: tokio::task::JoinError| StoreError::Corrupt(format!("the blob sweep stopped: {e}"));
    let fanouts = {
        let blobs = blobs.clone();
        tokio::task::spawn_blocking(move || blobs.fanouts())
            .await
            .map_err(stopped)?
    };
    let fanouts = match fanouts {
        Ok(f) => f,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list blobs to sweep");
            return Ok(0);
        }
    };
    let mut removed = 0;
    for fanout in fanouts {
        let candidates = {
            let blobs = blobs.clone();
            let fanout = fanout.clone();
            tokio::task::spawn_blocking(move || blobs.committed_older_than(&fanout, age))
                .await
                .map_err(stopped)?
        };
        let candidates = match candidates {
            Ok(c) if c.is_empty() => continue,
            Ok(c) => c,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list blobs to sweep");
                continue;
            }
        };
        let referenced = store.referenced_blobs(&candidates).await?;
        let orphans: Vec<String> = candidates
            .into_iter()
            .filter(|k| !referenced.contains(k))
            .collect();
        let blobs = blobs.clone();
        removed += tokio::task::spawn_blocking(move || {
            orphans
                .iter()
                .filter(|key| match blobs.delete(key) {
                    Ok(()) => true,
                    Err(e) => {
                        tracing::warn!(error = %e, "could not delete a blob");
                        false
                    }
                })
                .count()
        })
        .await
        .map_err(stopped)?;
    }
    Ok(removed)
}

/// Runs [`sweep`] now and then every hour, for as long as the hub runs.
pub fn spawn(state: &AppState) -> tokio::task::JoinHandle<()> {
    let store = state.store().clone();
    let blobs = state.blobs().clone();
    let state = state.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            state.activity().log_hour();
            if let Err(e) = sweep(&store, &blobs, Timestamp::now()).await {
                tracing::error!(error = %e, "retention sweep failed; will retry in an hour");
            }
        }
    })
}
