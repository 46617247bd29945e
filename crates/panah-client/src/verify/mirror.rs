//! A copy of a log as plain static files, laid out at the same paths as on the hub
//! (`DIR/c/SLUG/ledger/checkpoint`, `…/keys`, `…/tile/…`), so any web server serving DIR is
//! a mirror that `panah verify` can check.
//!
//! Re-runnable: the mirror is its own memory. An update is written only if its checkpoint
//! is signed by a key the mirror trusts and its entries extend the ones already held; the
//! checkpoint is written last, so a mirror interrupted half-way still verifies.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use panah_core::ledger::audit::{check_log, Checked};
use panah_core::tlog::check::{all_tiles, check_extends, MAX_CHECKED_SIZE};
use panah_core::tlog::tiles::{tiles_for, TileRef};
use panah_core::tlog::tree::verify_checkpoint;
use panah_core::tlog::LogKind;

use super::{check, check_reusing, key_lines, read_checkpoint, VerifyError};
use crate::files::write_atomic;

/// The folder under DIR for a log origin: its path after the host (`c/roshanai/ledger`).
fn folder_for(origin: &str) -> Result<PathBuf, VerifyError> {
    let path = origin.split_once('/').map(|(_, p)| p).unwrap_or_default();
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let safe = |p: &&str| {
        *p != "."
            && *p != ".."
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    if parts.is_empty() || !parts.iter().all(safe) {
        return Err(VerifyError::Mirror(format!(
            "the log origin {origin:?} does not name a folder this mirror can use"
        )));
    }
    Ok(parts.iter().collect())
}

/// What a mirror already holds, checked.
struct Held {
    keys: Vec<String>,
    log: Checked,
    /// The full tiles, which stay the same however the log grows.
    full_tiles: HashMap<TileRef, Vec<u8>>,
}

/// What the mirror already holds, checked against its own checkpoint and keys.
fn held(dir: &Path, origin: &str, extra: &[String]) -> Result<Option<Held>, VerifyError> {
    let Ok(note) = std::fs::read(dir.join("checkpoint")) else {
        return Ok(None);
    };
    let mut keys = match std::fs::read(dir.join("keys")) {
        Ok(k) => key_lines(&k)?,
        Err(_) => Vec::new(),
    };
    keys.extend(extra.iter().cloned());
    let damaged = |why: String| VerifyError::Mirror(format!("the copy in {} {why}", dir.display()));
    let c = verify_checkpoint(&note, &keys, origin)
        .map_err(|e| damaged(format!("does not verify with its own keys: {e}")))?;
    if c.size > MAX_CHECKED_SIZE {
        return Err(damaged(format!(
            "claims {} entries; this Panah checks at most {MAX_CHECKED_SIZE}",
            c.size
        )));
    }
    let files: HashMap<TileRef, Vec<u8>> = tiles_for(c.size)
        .into_iter()
        .filter_map(|t| std::fs::read(dir.join(t.path())).ok().map(|d| (t, d)))
        .collect();
    let log =
        check_log(c.size, &c.root, &files).map_err(|e| damaged(format!("is damaged: {e}")))?;
    Ok(Some(Held {
        keys,
        log,
        full_tiles: files.into_iter().filter(|(t, _)| t.is_full()).collect(),
    }))
}

/// What a mirror run did.
#[derive(Debug, Clone)]
pub struct Mirrored {
    pub origin: String,
    /// Where the log's files are: `DIR/c/SLUG/ledger`.
    pub dir: PathBuf,
    pub size: u64,
    pub new_entries: u64,
    pub downloaded: usize,
    pub written: usize,
    /// On the first copy with no key given: the keys taken from the source itself.
    pub first_use_keys: Option<Vec<String>>,
}

/// Copies the log at `address` into `root`, checking it first; `extra_keys` are trusted
/// besides those the mirror already holds.
pub async fn mirror(
    address: &str,
    kind: LogKind,
    root: &Path,
    extra_keys: &[String],
    max_entries: Option<u64>,
) -> Result<Mirrored, VerifyError> {
    let (mut source, note, origin) = read_checkpoint(address, kind).await?;
    if let Some(n) = max_entries {
        source.max_entries = n;
    }
    let dir = root.join(folder_for(&origin)?);
    let old = held(&dir, &origin, extra_keys)?;
    let mut first_use_keys = None;
    let keys = match &old {
        Some(held) => held.keys.clone(),
        None if !extra_keys.is_empty() => extra_keys.to_vec(),
        None => {
            let published = source
                .keys()
                .await?
                .ok_or_else(|| VerifyError::NoKeys(source.to_string()))?;
            let keys = key_lines(&published)?;
            first_use_keys = Some(keys.clone());
            keys
        }
    };
    // Only what the mirror lacks is downloaded; if the source's tree does not fit the full
    // tiles held here, everything is fetched again so the difference can be named below.
    let reuse = old
        .as_ref()
        .map(|h| h.full_tiles.clone())
        .unwrap_or_default();
    let v = match check_reusing(&source, &origin, note.clone(), &keys, None, reuse).await {
        Ok(v) => v,
        Err(_) if old.is_some() => check(&source, &origin, note, &keys, None).await?,
        Err(e) => return Err(e),
    };
    let refused = |why: String| VerifyError::Mirror(format!("refused: {why}"));
    let mut new_entries = v.checkpoint.size;
    if let Some(Held { log: old_log, .. }) = &old {
        // What the copy holds was checked against its checkpoint when it was read.
        let (old_size, old_root) = (old_log.tree.size(), old_log.tree.root());
        if v.checkpoint.size < old_size {
            return Err(refused(format!(
                "{source} has {} entries but the copy in {} has {old_size}: entries were removed",
                v.checkpoint.size,
                dir.display()
            )));
        }
        if let Some(k) = old_log
            .leaves
            .iter()
            .zip(&v.log.leaves)
            .position(|(a, b)| a != b)
        {
            return Err(refused(format!(
                "entry {k} at {source} differs from the copy in {}: history was rewritten after it was published",
                dir.display()
            )));
        }
        check_extends(&v.log.tree, old_size, &old_root).map_err(|e| {
            refused(format!(
                "{source} does not extend the copy in {}: {e}",
                dir.display()
            ))
        })?;
        new_entries -= old_size;
    }

    // Tiles first, the checkpoint last.
    let (_, files) = all_tiles(&v.log.leaves)
        .map_err(|i| refused(format!("entry {i} is too long for an entry bundle")))?;
    let mut written = 0usize;
    for (tile, data) in &files {
        let path = dir.join(tile.path());
        if std::fs::read(&path).is_ok_and(|have| have == *data) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|source| VerifyError::File {
                what: "create",
                path: parent.to_path_buf(),
                source,
            })?;
        }
        write_atomic(&path, data)?;
        written += 1;
    }
    // The keys the mirror checked with, not whatever the source publishes now: a key is
    // added to a mirror only by its keeper (`--key`).
    let keys_text: String = keys.iter().map(|k| format!("{k}\n")).collect();
    write_atomic(&dir.join("keys"), keys_text.as_bytes())?;
    write_atomic(&dir.join("checkpoint"), &v.note)?;
    Ok(Mirrored {
        origin,
        dir,
        size: v.checkpoint.size,
        new_entries,
        downloaded: v.downloaded,
        written,
        first_use_keys,
    })
}
