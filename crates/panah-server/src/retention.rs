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
            if crate::conversations::delete_blobs(blobs, keys).await {
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
    match blobs.sweep_partials(LEFT_BY_A_CRASH).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(removed = n, "partial uploads from a crash removed"),
        Err(e) => tracing::warn!(error = %e, "cannot sweep partial uploads"),
    }
    match sweep_orphans(blobs).await {
        Ok(0) => {}
        Ok(n) => tracing::info!(removed = n, "blobs whose row never landed removed"),
        Err(e) => tracing::warn!(error = %e, "cannot sweep blobs whose row never landed"),
    }
    Ok(deleted)
}

/// Far older than the longest an upload may take (30 minutes): a blob this old that no row
/// refers to was left by a crash. A day, so that a wall clock set forward by hours, or
/// hosts with skewed clocks sharing one blob store, cannot make a blob whose row is on its
/// way look abandoned. Two days on the files' clock: blob files (and blobs kept in the
/// database) show only the day they were written, so a blob is at least a whole day old
/// when it is swept.
const LEFT_BY_A_CRASH: Duration = Duration::from_secs(48 * 3600);

/// Deletes stored blobs no row refers to, older than [`LEFT_BY_A_CRASH`]: a crash after a
/// blob was stored and before its message's row was, or a request cancelled while its row
/// was being stored. Returns how many.
pub async fn sweep_orphans(blobs: &BlobStore) -> Result<usize, panah_store::BlobError> {
    blobs.sweep_orphans(LEFT_BY_A_CRASH).await
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
