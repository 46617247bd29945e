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
    match blobs.sweep_partials(LEFT_BY_A_CRASH) {
        Ok(0) => {}
        Ok(n) => tracing::info!(removed = n, "partial uploads from a crash removed"),
        Err(e) => tracing::warn!(error = %e, "cannot sweep partial uploads"),
    }
    let orphans = sweep_orphans(store, blobs).await?;
    if orphans > 0 {
        tracing::info!(removed = orphans, "blobs whose row never landed removed");
    }
    Ok(deleted)
}

/// Older than the longest an upload may take (30 minutes), with room to spare: a blob this
/// old that no row refers to was left by a crash.
const LEFT_BY_A_CRASH: Duration = Duration::from_secs(2 * 3600);

/// Deletes committed blobs no row refers to, older than [`LEFT_BY_A_CRASH`]: a crash after
/// a blob was committed and before its message's row was. Returns how many.
pub async fn sweep_orphans(store: &Store, blobs: &BlobStore) -> Result<usize, StoreError> {
    let candidates = {
        let blobs = blobs.clone();
        tokio::task::spawn_blocking(move || blobs.committed_older_than(LEFT_BY_A_CRASH, 100_000))
            .await
            .map_err(|e| StoreError::Corrupt(format!("the blob sweep stopped: {e}")))?
    };
    let candidates = match candidates {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(error = %e, "cannot list blobs to sweep");
            return Ok(0);
        }
    };
    let referenced = store.referenced_blobs(&candidates).await?;
    let mut removed = 0;
    for key in candidates.iter().filter(|k| !referenced.contains(*k)) {
        match blobs.delete(key) {
            Ok(()) => removed += 1,
            Err(e) => tracing::warn!(error = %e, "could not delete a blob"),
        }
    }
    Ok(removed)
}

/// Runs [`sweep`] now and then every hour, for as long as the hub runs.
pub fn spawn(state: &AppState) -> tokio::task::JoinHandle<()> {
    let store = state.store().clone();
    let blobs = state.blobs().clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs(3600));
        loop {
            tick.tick().await;
            if let Err(e) = sweep(&store, &blobs, Timestamp::now()).await {
                tracing::error!(error = %e, "retention sweep failed; will retry in an hour");
            }
        }
    })
}
