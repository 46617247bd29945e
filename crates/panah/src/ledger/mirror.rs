//! `panah mirror ledger URL DIR`: a copy of a ledger as plain static files, laid out at the
//! same paths as on the hub (`DIR/c/SLUG/ledger/checkpoint`, `…/keys`, `…/tile/…`), so any
//! web server serving DIR is a mirror that `panah verify` can check.
//!
//! Re-runnable: the mirror is its own memory. An update is written only if its checkpoint
//! is signed by a key the mirror trusts and its entries extend the ones already held; the
//! checkpoint is written last, so a mirror interrupted half-way still verifies.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use panah_core::ledger::audit::{check_log, Checked};
use panah_core::tlog::check::check_extends;
use panah_core::tlog::LogKind;
use std::collections::HashMap;

use panah_core::tlog::tiles::{tiles_for, TileRef};
use panah_core::tlog::tree::{unverified_checkpoint, verify_checkpoint};

use super::check::{check, check_reusing, key_lines};
use super::source::Source;

#[derive(Args, Debug)]
pub struct MirrorArgs {
    /// The ledger to copy: https://hub.example/c/SLUG/ledger (or another mirror).
    pub address: String,
    /// The folder to keep the copy in (served as the web root of the mirror).
    pub dir: PathBuf,
    /// A coordinator's verifier key to trust besides those the mirror already holds.
    #[arg(long = "key", value_name = "KEY")]
    pub keys: Vec<String>,
}

/// The folder under DIR for a log origin: its path after the host (`c/roshanai/ledger`).
fn folder_for(origin: &str) -> anyhow::Result<PathBuf> {
    let path = origin.split_once('/').map(|(_, p)| p).unwrap_or_default();
    let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
    let safe = |p: &&str| {
        *p != "."
            && *p != ".."
            && p.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
    };
    if parts.is_empty() || !parts.iter().all(safe) {
        bail!("the log origin {origin:?} does not name a folder this mirror can use");
    }
    Ok(parts.iter().collect())
}

/// What a mirror already holds, checked.
struct Held {
    keys: Vec<String>,
    log: Checked,
    /// The full tiles, which stay the same however the ledger grows.
    full_tiles: HashMap<TileRef, Vec<u8>>,
}

/// What the mirror already holds, checked against its own checkpoint and keys.
fn held(dir: &Path, origin: &str, extra: &[String]) -> anyhow::Result<Option<Held>> {
    let Ok(note) = std::fs::read(dir.join("checkpoint")) else {
        return Ok(None);
    };
    let mut keys = match std::fs::read(dir.join("keys")) {
        Ok(k) => key_lines(&k)?,
        Err(_) => Vec::new(),
    };
    keys.extend(extra.iter().cloned());
    let c = verify_checkpoint(&note, &keys, origin).with_context(|| {
        format!(
            "the copy in {} does not verify with its own keys",
            dir.display()
        )
    })?;
    let files: HashMap<TileRef, Vec<u8>> = tiles_for(c.size)
        .into_iter()
        .filter_map(|t| std::fs::read(dir.join(t.path())).ok().map(|d| (t, d)))
        .collect();
    let log = check_log(c.size, &c.root, &files)
        .with_context(|| format!("the copy in {} is damaged", dir.display()))?;
    Ok(Some(Held {
        keys,
        log,
        full_tiles: files.into_iter().filter(|(t, _)| t.is_full()).collect(),
    }))
}

pub async fn run(args: MirrorArgs) -> anyhow::Result<()> {
    let source = Source::parse(&args.address, LogKind::Ledger)?;
    let note = source.checkpoint().await?;
    let (origin, _, _) = unverified_checkpoint(&note)
        .map_err(|e| anyhow::anyhow!("the checkpoint of {source} is not a C2SP checkpoint: {e}"))?;
    let dir = args.dir.join(folder_for(&origin)?);
    let old = held(&dir, &origin, &args.keys)?;
    let keys = match &old {
        Some(held) => held.keys.clone(),
        None if !args.keys.is_empty() => args.keys.clone(),
        None => {
            let published = source
                .keys()
                .await?
                .with_context(|| format!("{source} publishes no keys; pass them with --key"))?;
            let keys = key_lines(&published)?;
            eprintln!(
                "First copy of {origin}: trusting the {} key(s) it publishes. Compare them with keys the collective gave you another way:",
                keys.len()
            );
            for k in &keys {
                eprintln!("  {k}");
            }
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
    let mut new_entries = v.checkpoint.size;
    if let Some(Held { log: old_log, .. }) = &old {
        // What the copy holds was checked against its checkpoint when it was read.
        let (old_size, old_root) = (old_log.tree.size(), old_log.tree.root());
        if v.checkpoint.size < old_size {
            bail!(
                "refused: {source} has {} entries but the copy in {} has {old_size}: entries were removed",
                v.checkpoint.size,
                dir.display()
            );
        }
        if let Some(k) = old_log
            .leaves
            .iter()
            .zip(&v.log.leaves)
            .position(|(a, b)| a != b)
        {
            bail!(
                "refused: entry {k} at {source} differs from the copy in {}: history was rewritten after it was published",
                dir.display()
            );
        }
        check_extends(&v.log.tree, old_size, &old_root).with_context(|| {
            format!(
                "refused: {source} does not extend the copy in {}",
                dir.display()
            )
        })?;
        new_entries -= old_size;
    }

    // Tiles first, the checkpoint last.
    let (_, files) = panah_core::tlog::check::all_tiles(&v.log.leaves)
        .map_err(|i| anyhow::anyhow!("entry {i} is too long for an entry bundle"))?;
    let mut written = 0usize;
    for (tile, data) in &files {
        let path = dir.join(tile.path());
        if std::fs::read(&path).is_ok_and(|have| have == *data) {
            continue;
        }
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create {}", parent.display()))?;
        }
        crate::files::write_atomic(&path, data)?;
        written += 1;
    }
    // The keys the mirror checked with, not whatever the source publishes now: a key is
    // added to a mirror only by its keeper (`--key`).
    let keys_text: String = keys.iter().map(|k| format!("{k}\n")).collect();
    crate::files::write_atomic(&dir.join("keys"), keys_text.as_bytes())?;
    crate::files::write_atomic(&dir.join("checkpoint"), &v.note)?;
    println!(
        "ok: {} holds {origin} — {} entries ({new_entries} new), {} tiles downloaded, {written} files written, verified",
        dir.display(),
        v.checkpoint.size,
        v.downloaded
    );
    println!(
        "Serve {} with any web server; the ledger is at the same paths as on the hub.",
        args.dir.display()
    );
    Ok(())
}
