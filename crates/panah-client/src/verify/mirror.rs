//! A copy of a log as plain static files, laid out at the same paths as on the hub
//! (`DIR/c/SLUG/ledger/checkpoint`, `…/keys`, `…/tile/…`), so any web server serving DIR is
//! a mirror that `panah verify` can check.
//!
//! Re-runnable: the mirror is its own memory. An update is written only if its checkpoint
//! is signed by a key the mirror trusts and its entries extend the ones already held; the
//! checkpoint is written last, so a mirror interrupted half-way still verifies.
//!
//! Streamed, like `verify ledger`: the copy and the source are read one tile at a time
//! (`panah_core::ledger::stream`), full tiles the copy holds are read from disk instead of
//! downloaded, new files are staged beside the copy until everything checked, and the
//! upper hash tiles are computed from the roots of the full tiles.

use std::path::{Path, PathBuf};

use panah_core::ledger::audit::AuditError;
use panah_core::ledger::stream::{Fed, Stream};
use panah_core::tlog::check::{upper_tiles, CheckError, MAX_CHECKED_SIZE};
use panah_core::tlog::tiles::{decode_bundle, TileKind, TileRef, WIDTH};
use panah_core::tlog::tree::verify_checkpoint;
use panah_core::tlog::LogKind;

use super::{key_lines, read_checkpoint, VerifyError};
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
    size: u64,
    root: [u8; 32],
}

/// The path of an entry bundle or level-0 hash tile.
fn tile(kind: TileKind, index: u64, width: u16) -> TileRef {
    TileRef { kind, index, width }
}

/// Reads a file of the copy, if it is there.
fn local(dir: &Path, t: &TileRef) -> Option<Vec<u8>> {
    std::fs::read(dir.join(t.path())).ok()
}

/// Feeds tile `n` (bundle `leaves`, level-0 hashes `hashes`) to the stream, reading earlier
/// tiles again from `earlier` when a reversal needs them.
fn feed(
    stream: &mut Stream,
    n: u64,
    leaves: &[Vec<u8>],
    hashes: Option<&[u8]>,
    mut earlier: impl FnMut(u64) -> Option<Vec<Vec<u8>>>,
) -> Result<(), AuditError> {
    loop {
        match stream.feed(n, leaves, hashes)? {
            Fed::Done => return Ok(()),
            Fed::Need(tiles) => {
                for t in tiles {
                    let path = tile(TileKind::Entries, t, WIDTH as u16).path();
                    let again =
                        earlier(t).ok_or(AuditError::Log(CheckError::MissingTile { path }))?;
                    stream.provide(t, &again)?;
                }
            }
        }
    }
}

fn bundle(bytes: &[u8], t: &TileRef) -> Result<Vec<Vec<u8>>, AuditError> {
    decode_bundle(bytes).map_err(|why| {
        AuditError::Log(CheckError::BadBundle {
            path: t.path(),
            why,
        })
    })
}

/// What the mirror already holds, checked against its own checkpoint and keys, tile by
/// tile (memory does not grow with the copy).
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
    let check = || -> Result<(), AuditError> {
        let mut stream = Stream::new(c.size, c.root, &[])?;
        for n in 0..stream.tiles() {
            let width = stream.width(n);
            let t = tile(TileKind::Entries, n, width);
            let bytes = local(dir, &t)
                .ok_or_else(|| AuditError::Log(CheckError::MissingTile { path: t.path() }))?;
            let hashes = local(dir, &tile(TileKind::Hashes { level: 0 }, n, width));
            let leaves = bundle(&bytes, &t)?;
            feed(&mut stream, n, &leaves, hashes.as_deref(), |e| {
                let t = tile(TileKind::Entries, e, WIDTH as u16);
                local(dir, &t).and_then(|b| decode_bundle(&b).ok())
            })?;
        }
        stream.finish().map(|_| ())
    };
    check().map_err(|e| damaged(format!("is damaged: {e}")))?;
    Ok(Some(Held {
        keys,
        size: c.size,
        root: c.root,
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
    // Streamed: memory does not grow with the claim; the limit bounds the download only.
    source.max_entries = max_entries.unwrap_or(MAX_CHECKED_SIZE);
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
    let checkpoint = super::signed_checkpoint(&source, &note, &keys, &origin)?;
    let refused = |why: String| VerifyError::Mirror(format!("refused: {why}"));
    let (old_size, old_root) = old.as_ref().map_or((0, [0; 32]), |h| (h.size, h.root));
    if checkpoint.size < old_size {
        return Err(refused(format!(
            "{source} has {} entries but the copy in {} has {old_size}: entries were removed",
            checkpoint.size,
            dir.display()
        )));
    }
    // New files are staged beside the copy and moved in only once everything checked.
    let staging = dir.join(".incoming");
    let at = |reuse| stream_pass(&source, &dir, &staging, &checkpoint, old_size, reuse);
    // Full tiles the copy holds never change: read from disk, not downloaded. If the source
    // does not fit them, everything is fetched again so that the difference can be named.
    let passed = match at(true).await {
        Err(_) if old_size >= WIDTH => at(false).await,
        other => other,
    };
    let (done, staged, downloaded) = match passed {
        Ok(x) => x,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    if old.is_some() && done.prefix_roots.first().map(|(_, r)| *r) != Some(old_root) {
        let _ = std::fs::remove_dir_all(&staging);
        // Name the first entry the source has changed in what the copy holds, if it can be.
        let why = match first_difference(&source, &dir, old_size).await? {
            Some(k) => format!(
                "entry {k} at {source} differs from the copy in {}: history was rewritten after it was published",
                dir.display()
            ),
            None => format!("{source} does not extend the copy in {}", dir.display()),
        };
        return Err(refused(why));
    }
    // Tiles first (the staged ones, then the upper hash tiles), the checkpoint last.
    let mut written = 0usize;
    let mut put = |file: &TileRef, data: &[u8]| -> Result<(), VerifyError> {
        let path = dir.join(file.path());
        if std::fs::read(&path).is_ok_and(|have| have == data) {
            return Ok(());
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
        Ok(())
    };
    for file in &staged {
        let data =
            std::fs::read(staging.join(file.path())).map_err(|source| VerifyError::File {
                what: "read",
                path: staging.join(file.path()),
                source,
            })?;
        put(file, &data)?;
    }
    for (file, data) in upper_tiles(done.size, &done.tile_roots) {
        put(&file, &data)?;
    }
    let _ = std::fs::remove_dir_all(&staging);
    let new_entries = checkpoint.size - old_size;
    // The keys the mirror checked with, not whatever the source publishes now: a key is
    // added to a mirror only by its keeper (`--key`).
    let keys_text: String = keys.iter().map(|k| format!("{k}\n")).collect();
    write_atomic(&dir.join("keys"), keys_text.as_bytes())?;
    write_atomic(&dir.join("checkpoint"), &note)?;
    Ok(Mirrored {
        origin,
        dir,
        size: checkpoint.size,
        new_entries,
        downloaded,
        written,
        first_use_keys,
    })
}

/// One pass over the source's tiles in order (full tiles below `old_size` read from the
/// copy when `reuse`), staging what is new. Gives the stream's result, the staged files and
/// how many files were downloaded.
async fn stream_pass(
    source: &super::Source,
    dir: &Path,
    staging: &Path,
    checkpoint: &panah_core::tlog::tree::VerifiedCheckpoint,
    old_size: u64,
    reuse: bool,
) -> Result<(panah_core::ledger::stream::Streamed, Vec<TileRef>, usize), VerifyError> {
    let _ = std::fs::remove_dir_all(staging);
    let audit = |why: AuditError| VerifyError::Audit {
        at: source.to_string(),
        size: checkpoint.size,
        why,
    };
    let mut stream = Stream::new(checkpoint.size, checkpoint.root, &[old_size]).map_err(audit)?;
    let reusable = if reuse { old_size / WIDTH } else { 0 };
    let (mut downloaded, mut staged) = (0usize, Vec::new());
    let tiles_n = stream.tiles();
    let mut n = 0;
    while n < tiles_n {
        let upto = (n + 64).min(tiles_n);
        let wanted: Vec<TileRef> = (n.max(reusable)..upto)
            .flat_map(|t| {
                let w = stream.width(t);
                [
                    tile(TileKind::Entries, t, w),
                    tile(TileKind::Hashes { level: 0 }, t, w),
                ]
            })
            .collect();
        downloaded += wanted.len();
        let mut got = source.tiles(&wanted).await?;
        for t in n..upto {
            let w = stream.width(t);
            let (e, h) = (
                tile(TileKind::Entries, t, w),
                tile(TileKind::Hashes { level: 0 }, t, w),
            );
            let (bytes, hashes) = if t < reusable {
                (local(dir, &e), local(dir, &h))
            } else {
                (got.remove(&e), got.remove(&h))
            };
            let bytes = bytes.ok_or_else(|| {
                audit(AuditError::Log(CheckError::MissingTile { path: e.path() }))
            })?;
            let leaves = bundle(&bytes, &e).map_err(audit)?;
            let reread = |x: u64| {
                let t = tile(TileKind::Entries, x, WIDTH as u16);
                std::fs::read(staging.join(t.path()))
                    .ok()
                    .or_else(|| if x < reusable { local(dir, &t) } else { None })
                    .and_then(|b| decode_bundle(&b).ok())
            };
            feed(&mut stream, t, &leaves, hashes.as_deref(), reread).map_err(audit)?;
            if t >= reusable {
                for (file, data) in [(e, Some(bytes)), (h, hashes)] {
                    if let Some(data) = data {
                        let path = staging.join(file.path());
                        if let Some(parent) = path.parent() {
                            std::fs::create_dir_all(parent).map_err(|source| {
                                VerifyError::File {
                                    what: "create",
                                    path: parent.to_path_buf(),
                                    source,
                                }
                            })?;
                        }
                        write_atomic(&path, &data)?;
                        staged.push(file);
                    }
                }
            }
        }
        n = upto;
    }
    let done = stream.finish().map_err(audit)?;
    Ok((done, staged, downloaded))
}

/// The first entry of the copy's `size` that the source serves differently, if any: read
/// one tile at a time from both.
async fn first_difference(
    source: &super::Source,
    dir: &Path,
    size: u64,
) -> Result<Option<u64>, VerifyError> {
    for n in 0..size.div_ceil(WIDTH) {
        let width = u16::try_from((size - n * WIDTH).min(WIDTH)).unwrap_or(WIDTH as u16);
        let t = tile(TileKind::Entries, n, width);
        let Some(ours) = local(dir, &t).and_then(|b| decode_bundle(&b).ok()) else {
            return Ok(None);
        };
        // The source's tile of the same entries: a full one if the source has grown past it.
        let full = tile(TileKind::Entries, n, WIDTH as u16);
        let mut got = source.tiles(&[t, full]).await?;
        let theirs = got
            .remove(&full)
            .or_else(|| got.remove(&t))
            .and_then(|b| decode_bundle(&b).ok())
            .unwrap_or_default();
        if let Some(i) = (0..ours.len()).find(|&i| theirs.get(i) != ours.get(i)) {
            return Ok(Some(n * WIDTH + i as u64));
        }
    }
    Ok(None)
}
