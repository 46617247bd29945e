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

/// What is erased where: a keyring file, or a folder of Panah's own files.
enum Target {
    Keyring(PathBuf),
    File(PathBuf),
    /// A folder and which of its files are Panah's.
    Folder(PathBuf, fn(&str) -> bool),
}

/// The tracker's caches: 32 hex digits and `.age` (or its temporary file).
fn is_cache_file(name: &str) -> bool {
    let stem = name.strip_prefix('.').unwrap_or(name);
    let hex = stem.get(..32).unwrap_or_default();
    hex.len() == 32
        && hex.bytes().all(|b| b.is_ascii_hexdigit())
        && (&stem[32..] == ".age" || stem[32..].starts_with(".age.tmp-"))
}

/// What the verifier and the coordinators' tools remember of logs.
fn is_state_file(name: &str) -> bool {
    let base = name.strip_prefix('.').unwrap_or(name);
    let base = base.split(".tmp-").next().unwrap_or_default();
    ((base.starts_with("at-") || base.starts_with("origin-"))
        && (base.ends_with(".state") || base.ends_with(".state.migrated")))
        || (base.starts_with("reencrypt-") && base.ends_with(".progress"))
}

/// Whether a file begins as an age file (binary or armored), as every keyring does.
fn looks_like_age(path: &Path) -> bool {
    use std::io::Read;
    let mut head = [0u8; 34];
    let Ok(mut f) = std::fs::File::open(path) else {
        return false;
    };
    let n = f.read(&mut head).unwrap_or(0);
    let head = &head[..n];
    head.starts_with(b"age-encryption.org/v1")
        || head.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----")
}

/// Every place Panah keeps something of a coordinator's on this device.
fn targets(keyring: &KeyringArgs) -> Vec<Target> {
    let mut out = Vec::new();
    let mut keyrings = Vec::new();
    if let Ok(p) = keyring.path() {
        keyrings.push(p);
    }
    // Keyrings named in saved profiles, and the profiles themselves.
    if let Ok(profiles) = crate::profile::load_all() {
        keyrings.extend(profiles.into_values().filter_map(|p| p.keyring));
    }
    keyrings.sort();
    keyrings.dedup();
    out.extend(keyrings.into_iter().map(Target::Keyring));
    if let Ok(p) = crate::profile::path() {
        out.push(Target::File(p));
    }
    if let Ok(d) = panah_client::records::cache_dir() {
        out.push(Target::Folder(d, is_cache_file));
    }
    if let Ok(d) = panah_client::verify::state_dir() {
        out.push(Target::Folder(d, is_state_file));
    }
    out
}

/// Overwrites a file with zeros, syncs it, renames it to a meaningless name and removes it.
fn shred_file(path: &Path) -> std::io::Result<()> {
    let meta = std::fs::symlink_metadata(path)?;
    if meta.file_type().is_file() {
        if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(path) {
            let zeros = vec![0u8; 64 * 1024];
            let mut left = meta.len();
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

/// Shreds a target; returns what it erased.
fn shred(target: &Target, erased: &mut Vec<PathBuf>) -> std::io::Result<()> {
    match target {
        // A keyring setting that names another file (a photo, a document) must not cost
        // the person that file: only an age file is erased as a keyring.
        Target::Keyring(p) if !looks_like_age(p) => {}
        Target::Keyring(p) | Target::File(p) => match std::fs::symlink_metadata(p) {
            Ok(m) if m.is_file() => {
                shred_file(p)?;
                erased.push(p.clone());
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        },
        Target::Folder(dir, ours) => {
            // A folder kept on another volume through a link: what it points to.
            let real = match std::fs::canonicalize(dir) {
                Ok(r) => r,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                Err(e) => return Err(e),
            };
            let mut any = false;
            for entry in std::fs::read_dir(&real)? {
                let entry = entry?;
                let name = entry.file_name().to_string_lossy().into_owned();
                if entry.file_type()?.is_file() && ours(&name) {
                    shred_file(&entry.path())?;
                    any = true;
                }
            }
            // Only Panah's files were there: the folder goes too (and a link to it).
            if std::fs::remove_dir(&real).is_ok() && real != *dir {
                let _ = std::fs::remove_file(dir);
            }
            if any {
                erased.push(dir.clone());
            }
        }
    }
    Ok(())
}

/// Asks `prompt` on the terminal; yes in any of the three languages.
pub fn confirmed(prompt: &str) -> anyhow::Result<bool> {
    eprint!("{prompt} ");
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    let a = answer.trim().to_lowercase();
    Ok(["yes", "y", "بلی", "بله", "هو", "ho", "bale"].contains(&a.as_str()))
}

/// What an erasure did.
#[derive(Debug)]
pub struct Erased {
    pub erased: Vec<PathBuf>,
    pub failed: Vec<(PathBuf, std::io::Error)>,
    pub keyring_gone: bool,
    /// The keyring that was looked for.
    pub keyring: String,
    pub ms: u128,
}

/// Erases every place Panah keeps something of a coordinator's on this device (the
/// command and the desk's Panic button both come here).
pub fn erase(keyring: &KeyringArgs) -> Erased {
    let start = Instant::now();
    let mut erased = Vec::new();
    let mut failed = Vec::new();
    let mut keyring_gone = false;
    for target in &targets(keyring) {
        let before = erased.len();
        if let Err(e) = shred(target, &mut erased) {
            let path = match target {
                Target::Keyring(p) | Target::File(p) | Target::Folder(p, _) => p.clone(),
            };
            failed.push((path, e));
        }
        if matches!(target, Target::Keyring(_)) && erased.len() > before {
            keyring_gone = true;
        }
    }
    Erased {
        erased,
        failed,
        keyring_gone,
        keyring: keyring
            .path()
            .map(|p| p.display().to_string())
            .unwrap_or_default(),
        ms: start.elapsed().as_millis(),
    }
}

/// What was erased, in the reader's words, one line each; failures first.
pub fn report(e: &Erased, words: &Words) -> Vec<String> {
    let safe = |p: &Path| panah_client::terminal::sanitize_line(&p.display().to_string());
    let mut lines = Vec::new();
    for (p, why) in &e.failed {
        lines.push(words.f(
            "cli-panic-failed",
            &[("path", &safe(p)), ("why", &why.to_string())],
        ));
    }
    for p in &e.erased {
        lines.push(words.f("cli-panic-removed", &[("path", &safe(p))]));
    }
    if !e.keyring_gone {
        let path = panah_client::terminal::sanitize_line(&e.keyring);
        lines.push(words.f("cli-panic-no-keyring", &[("path", &path)]));
    }
    if e.erased.is_empty() && e.failed.is_empty() {
        lines.push(words.t("cli-panic-nothing"));
    } else {
        lines.push(words.f("cli-panic-done", &[("ms", &words.l().integer(e.ms as i64))]));
        if e.keyring_gone {
            lines.push(words.t("cli-panic-flash"));
        }
        lines.push(words.t("cli-panic-exports"));
    }
    lines
}

pub fn run(args: PanicArgs) -> anyhow::Result<()> {
    let words = Words::new(args.lang.as_deref())?;
    if !args.yes {
        if !std::io::IsTerminal::is_terminal(&std::io::stdin()) {
            bail!("{}", words.t("cli-panic-needs-yes"));
        }
        if !confirmed(&words.t("cli-panic-confirm"))? {
            println!("{}", words.t("cli-panic-cancelled"));
            return Ok(());
        }
    }
    let e = erase(&args.keyring);
    let failed = e.failed.len();
    for (i, line) in report(&e, &words).into_iter().enumerate() {
        if i < failed {
            eprintln!("{line}");
        } else {
            println!("{line}");
        }
    }
    if failed > 0 {
        bail!("{}", words.t("cli-panic-incomplete"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_panahs_own_file_names_are_taken() {
        assert!(is_cache_file("0123456789abcdef0123456789abcdef.age"));
        assert!(is_cache_file(
            ".0123456789abcdef0123456789abcdef.age.tmp-42"
        ));
        assert!(!is_cache_file("backup.age"));
        assert!(!is_cache_file("0123456789abcdef0123456789abcdef.age.bak"));
        assert!(is_state_file("at-http%3A%2F%2Fhub.state"));
        assert!(is_state_file("origin-hub%2Fc%2Fx%2Fteam.state.migrated"));
        assert!(is_state_file("reencrypt-roshanai-3-abc.progress"));
        assert!(!is_state_file("notes.state"));
        assert!(!is_state_file("holiday.jpg"));
    }
}
