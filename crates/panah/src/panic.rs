//! `panah panic`: erase everything of Panah on this device at once, before a phone or a
//! laptop is searched. No passphrase, no network: the keyring(s), the tracker's caches,
//! the saved hub settings, and what Panah remembers of logs and re-encryptions.
//!
//! Each file is overwritten with zeros, synced, renamed to a meaningless name and removed,
//! then its folder. On flash storage (phones, SSDs) the old blocks may survive an
//! overwrite; the keyring and the caches are encrypted, so what survives is ciphertext
//! under a passphrase and a key that no longer exist here. Full-disk encryption is what
//! makes even that unreadable.

use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::bail;
use clap::Args;

use crate::id::KeyringArgs;
use crate::tracker::Words;

#[derive(Args, Debug)]
pub struct PanicArgs {
    /// Erase without asking (for a shortcut you can run in a hurry).
    #[arg(long)]
    pub yes: bool,
    #[command(flatten)]
    pub keyring: KeyringArgs,
    /// The language of what is printed: fa, ps or en [default: from LANG].
    #[arg(long, env = "PANAH_LANG")]
    pub lang: Option<String>,
}

/// Every place Panah keeps something of a coordinator's on this device.
fn targets(args: &PanicArgs) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(p) = args.keyring.path() {
        out.push(p);
    }
    // Keyrings named in saved profiles, and the profiles themselves.
    if let Ok(profiles) = crate::profile::load_all() {
        out.extend(profiles.into_values().filter_map(|p| p.keyring));
    }
    if let Ok(p) = crate::profile::path() {
        out.push(p);
    }
    if let Ok(d) = panah_client::records::cache_dir() {
        out.push(d);
    }
    if let Ok(d) = panah_client::verify::state_dir() {
        out.push(d);
    }
    out.sort();
    out.dedup();
    out
}

/// Overwrites a file with zeros, syncs it, renames it to a meaningless name and removes it.
fn shred_file(path: &Path) -> std::io::Result<()> {
    let len = std::fs::symlink_metadata(path)?.len();
    if std::fs::symlink_metadata(path)?.file_type().is_file() {
        if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(path) {
            let zeros = vec![0u8; 64 * 1024];
            let mut left = len;
            while left > 0 {
                let n = left.min(zeros.len() as u64) as usize;
                f.write_all(&zeros[..n])?;
                left -= n as u64;
            }
            f.sync_all()?;
        }
    }
    let hidden = path.with_file_name(format!(".{:016x}", rand::random::<u64>()));
    let target = match std::fs::rename(path, &hidden) {
        Ok(()) => hidden,
        Err(_) => path.to_path_buf(),
    };
    std::fs::remove_file(&target)
}

/// Shreds a file, or every file below a folder and then the folder. Returns what it erased.
fn shred(path: &Path, erased: &mut Vec<PathBuf>) -> std::io::Result<()> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    if meta.is_dir() {
        // Only what Panah writes there: a folder set by mistake to somewhere broader
        // (PANAH_CACHE_DIR=$HOME) loses nothing else.
        for entry in std::fs::read_dir(path)? {
            let p = entry?.path();
            if is_ours(&p) {
                shred(&p, erased)?;
            }
        }
        if std::fs::remove_dir(path).is_err() {
            return Ok(());
        }
    } else {
        shred_file(path)?;
    }
    erased.push(path.to_path_buf());
    Ok(())
}

/// Whether a file in one of Panah's folders is one Panah writes.
fn is_ours(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    [".age", ".state", ".progress", ".migrated"]
        .iter()
        .any(|ext| name.ends_with(ext))
        || name.contains(".tmp-")
}

pub fn run(args: PanicArgs) -> anyhow::Result<()> {
    let words = Words::new(args.lang.as_deref())?;
    if !args.yes {
        if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            bail!("{}", words.t("cli-panic-needs-yes"));
        }
        eprint!("{} ", words.t("cli-panic-confirm"));
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        let a = answer.trim().to_lowercase();
        if !["yes", "بلی", "هو", "بله", "y"].contains(&a.as_str()) {
            println!("{}", words.t("cli-panic-cancelled"));
            return Ok(());
        }
    }
    let start = Instant::now();
    let mut erased = Vec::new();
    let mut failed = Vec::new();
    for target in targets(&args) {
        if let Err(e) = shred(&target, &mut erased) {
            failed.push((target, e));
        }
    }
    let ms = start.elapsed().as_millis();
    let top: Vec<&PathBuf> = erased
        .iter()
        .filter(|p| !erased.iter().any(|q| q != *p && p.starts_with(q)))
        .collect();
    for p in &top {
        println!(
            "{}",
            words.f(
                "cli-panic-removed",
                &[(
                    "path",
                    &panah_client::terminal::sanitize_line(&p.display().to_string())
                )]
            )
        );
    }
    for (p, e) in &failed {
        eprintln!(
            "{}",
            words.f(
                "cli-panic-failed",
                &[
                    (
                        "path",
                        &panah_client::terminal::sanitize_line(&p.display().to_string())
                    ),
                    ("why", &e.to_string())
                ]
            )
        );
    }
    if top.is_empty() && failed.is_empty() {
        println!("{}", words.t("cli-panic-nothing"));
    } else {
        println!(
            "{}",
            words.f("cli-panic-done", &[("ms", &words.l().integer(ms as i64))])
        );
        println!("{}", words.t("cli-panic-flash"));
    }
    if !failed.is_empty() {
        bail!("{}", words.t("cli-panic-incomplete"));
    }
    Ok(())
}
