//! Conversations of the contact drop on the hub, as a coordinator deletes them (the API)
//! and as retention expires them: rows first, then their ciphertext blobs.

use panah_store::{BlobStore, Store, StoreError};

/// Deletes a conversation's rows, then its blobs. Returns false if there was none.
pub async fn delete_conversation(
    store: &Store,
    blobs: &BlobStore,
    collective_id: i64,
    id: i64,
) -> Result<bool, StoreError> {
    let keys = store.delete_conversation(collective_id, id).await?;
    Ok(delete_blobs(blobs, keys).await)
}

/// Deletes the blobs of conversation rows already deleted; false if there were none.
pub(crate) async fn delete_blobs(blobs: &BlobStore, keys: Option<Vec<String>>) -> bool {
    let Some(keys) = keys else {
        return false;
    };
    for key in keys {
        if let Err(e) = blobs.delete(&key).await {
            // The row is gone, so the blob is unreachable ciphertext; say so and go on.
            tracing::warn!(error = %e, "could not delete a blob");
        }
    }
    true
}
