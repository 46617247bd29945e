//! `panah backup` and `panah restore`: a consistent copy of a running hub, and a new hub
//! made from one.
//!
//! A backup is a folder (or one `.tar` file holding the same):
//!
//! - `hub.db`: every table of the hub but the login sessions, as one SQLite file at the
//!   hub's schema version, whatever the hub's own store (SQLite or PostgreSQL). It is read
//!   in one snapshot while the hub serves ([`panah_store::Store::copy_into`]).
//! - `blobs/ab/KEY`: the ciphertext of every message and file those rows name.
//! - `SHA256SUMS`: the hash of every file above, in the format `sha256sum -c` reads.
//! - `panah-backup.toml`: what the backup holds, written last: a folder without it is an
//!   unfinished backup, and `restore` refuses it.
//!
//! It holds only what the hub holds: ciphertext, public data (appeals, ledgers, the team
//! log), public keys, keyed hashes, and the hub's own secret under which codenames are
//! turned into lookup keys. Anyone with the backup and a sender's codename could find that
//! sender's conversation, as on the hub itself; so a backup is kept as privately as the
//! hub's data folder. No coordinator's key is in it: no backup opens a message.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;
use panah_store::{BlobStore, Location, Store};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::config::StoreArgs;

const MANIFEST: &str = "panah-backup.toml";
const SUMS: &str = "SHA256SUMS";
const DATABASE: &str = "hub.db";
const FORMAT: u32 = 1;

#[derive(Args, Debug)]
pub struct BackupArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Where to write the backup: a new folder, or a file ending in .tar.
    pub to: PathBuf,
}

#[derive(Args, Debug)]
pub struct RestoreArgs {
    /// The backup: its folder, or its .tar file.
    pub from: PathBuf,
    /// The new hub (--data, --database or --config as `panah serve` will use them). Its
    /// database must not exist yet (SQLite) or be empty (PostgreSQL).
    #[command(flatten)]
    pub store: StoreArgs,
}

/// What a backup holds, written into it last.
#[derive(Serialize, Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct Manifest {
    /// The backup format (this file's layout), not the database's schema.
    format: u32,
    /// The database schema version of `hub.db`.
    schema: i64,
    /// The day it was made (never the hour).
    made_on: String,
    /// The store the hub ran on: sqlite or postgres.
    from_store: String,
    blobs: u64,
    blob_bytes: u64,
    /// Messages the hub deleted while the backup ran (their blobs were gone before they
    /// could be copied), left out of the backup.
    left_out_messages: u64,
    rows: BTreeMap<String, u64>,
}

pub async fn backup(args: BackupArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let (config, hub) = args.store.open_existing().await?;
    let blobs = BlobStore::open(&config.blobs, &config.data, &hub).await?;
    let tar = is_tar(&args.to);
    if args.to.exists() && !(args.to.is_dir() && fs::read_dir(&args.to)?.next().is_none()) {
        bail!(
            "{} already exists; a backup is written only to a new folder or file",
            args.to.display()
        );
    }
    // A .tar is made in a folder beside it, then packed.
    let folder = if tar {
        let mut name = args.to.clone().into_os_string();
        name.push(".partial");
        PathBuf::from(name)
    } else {
        args.to.clone()
    };
    if tar && folder.exists() {
        bail!(
            "{} is left from a backup that did not finish; remove it first",
            folder.display()
        );
    }
    crate::private::create_folder(&folder)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(&folder, fs::Permissions::from_mode(0o700))?;
    }
    let made = write_backup(&hub, &config.location, &blobs, &folder).await;
    hub.close().await;
    let manifest = match made {
        Ok(m) => m,
        Err(e) => {
            let _ = fs::remove_dir_all(&folder);
            return Err(e);
        }
    };
    if tar {
        pack(&folder, &args.to)?;
        fs::remove_dir_all(&folder)?;
    }
    let size = size_of(&args.to)?;
    println!(
        "backed up {} rows and {} blobs ({} MB) to {} in {:.1} s",
        manifest.rows.values().sum::<u64>(),
        manifest.blobs,
        size / 1_000_000,
        args.to.display(),
        started.elapsed().as_secs_f64()
    );
    if manifest.left_out_messages > 0 {
        println!(
            "{} messages deleted on the hub while the backup ran are not in it",
            manifest.left_out_messages
        );
    }
    println!(
        "It holds ciphertext, public data and the hub's codename secret: keep it as private as the hub's data folder."
    );
    Ok(())
}

async fn write_backup(
    hub: &Store,
    location: &Location,
    blobs: &BlobStore,
    folder: &Path,
) -> anyhow::Result<Manifest> {
    let db_path = folder.join(DATABASE);
    // Created private before SQLite opens it (its log files take the same mode): it holds
    // the hub's codename secret.
    drop(private_file(&db_path)?);
    let copy = Store::open(&Location::Sqlite {
        path: db_path.clone(),
        create: true,
    })
    .await?;
    hub.copy_into(&copy)
        .await
        .context("cannot copy the hub's database")?;
    let kept = BlobStore::folder(&folder.join("blobs"), &copy)?;
    let BlobsCopied {
        count,
        bytes,
        left_out,
        mut sums,
    } = copy_blobs(hub, &copy, blobs, &kept).await?;
    let copy_counts = copy.row_counts().await?;
    let schema = copy.schema_version().await?;
    copy.checkpoint().await?;
    copy.close().await;
    crate::private::tighten(&Location::Sqlite {
        path: db_path.clone(),
        create: false,
    })?;
    for suffix in ["-wal", "-shm"] {
        let mut p = db_path.clone().into_os_string();
        p.push(suffix);
        let _ = fs::remove_file(PathBuf::from(p));
    }
    let _ = fs::remove_dir(folder.join("blobs").join("tmp"));
    sums.insert(DATABASE.to_owned(), hash_file(&db_path)?);
    let mut text = String::new();
    for (path, hash) in &sums {
        text.push_str(&format!("{hash}  {path}\n"));
    }
    write_durably(&folder.join(SUMS), text.as_bytes())?;
    let manifest = Manifest {
        format: FORMAT,
        schema,
        made_on: panah_core::Timestamp::now().to_string()[..10].to_owned(),
        from_store: match location {
            Location::Sqlite { .. } => "sqlite",
            Location::Postgres { .. } => "postgres",
        }
        .to_owned(),
        blobs: count,
        blob_bytes: bytes,
        left_out_messages: left_out,
        // Counted again: messages deleted on the hub during the backup are not in it.
        rows: copy_counts.rows.into_iter().collect(),
    };
    // Last: its presence says the backup is whole.
    write_durably(
        &folder.join(MANIFEST),
        toml::to_string(&manifest)?.as_bytes(),
    )?;
    File::open(folder)?.sync_all()?;
    Ok(manifest)
}

/// The blobs a backup's rows name, copied from the hub.
#[derive(Debug, Default)]
struct BlobsCopied {
    count: u64,
    bytes: u64,
    /// Messages left out: the hub deleted them after the snapshot was read.
    left_out: u64,
    /// `blobs/ab/KEY` → SHA-256.
    sums: BTreeMap<String, String>,
}

/// Copies into `kept` every blob that `copy`'s rows name, from the hub's `blobs`.
async fn copy_blobs(
    hub: &Store,
    copy: &Store,
    blobs: &BlobStore,
    kept: &BlobStore,
) -> anyhow::Result<BlobsCopied> {
    let mut out = BlobsCopied::default();
    for key in copy.external_blob_keys().await? {
        if copy_blob(blobs, kept, &key, &mut out).await? {
            continue;
        }
        // Gone since the snapshot was read. Encrypted anew (after a coordinator left), the
        // row now names another blob: the backup takes that one. Deleted: its rows go too.
        let mut moved = false;
        for (collective, kind, id) in copy.rows_naming_blob(&key).await? {
            let Some(now) = hub.blob_of(collective, kind, id).await? else {
                continue;
            };
            let before = out.bytes;
            if now != key && copy_blob(blobs, kept, &now, &mut out).await? {
                let size = i64::try_from(out.bytes - before).unwrap_or(i64::MAX);
                copy.replace_blob(collective, kind, id, &key, &now, size)
                    .await?;
                moved = true;
            }
        }
        if !moved {
            out.left_out += copy.forget_blob(&key).await?;
        }
    }
    Ok(out)
}

/// Copies one blob from the hub into the backup's folder with its checksum; false if the
/// hub no longer has it.
async fn copy_blob(
    blobs: &BlobStore,
    kept: &BlobStore,
    key: &str,
    out: &mut BlobsCopied,
) -> anyhow::Result<bool> {
    let mut from = match blobs.stream(key).await {
        Ok(s) => s,
        Err(e) if e.is_missing() => return Ok(false),
        Err(e) => return Err(e.into()),
    };
    let mut writer = kept.create_named(key.to_owned())?;
    let mut hash = Sha256::new();
    while let Some(chunk) = futures_util::StreamExt::next(&mut from).await {
        let chunk = match chunk {
            Ok(c) => c,
            // Deleted while it was being read.
            Err(e) if e.is_missing() => return Ok(false),
            Err(e) => return Err(e.into()),
        };
        hash.update(&chunk);
        writer.write_all(&chunk)?;
    }
    let (_, size) = writer.commit().await?;
    out.sums.insert(
        format!("blobs/{}/{key}", &key[..2]),
        panah_core::hex(&hash.finalize()),
    );
    out.count += 1;
    out.bytes += size;
    Ok(true)
}
pub async fn restore(args: RestoreArgs) -> anyhow::Result<()> {
    let started = Instant::now();
    let config = args.store.resolve(None)?;
    if config.exists() && matches!(config.location, Location::Sqlite { .. }) {
        bail!(
            "{} already exists: restore makes a new hub, it never writes over one",
            config.describe()
        );
    }
    crate::private::create_folder(&config.data)?;
    // A .tar is unpacked into the new hub's folder first, and removed after.
    let unpacked = if is_tar(&args.from) {
        let dir = config.data.join("restore.partial");
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        unpack(&args.from, &dir)?;
        Some(dir)
    } else {
        None
    };
    let folder = unpacked.clone().unwrap_or_else(|| args.from.clone());
    let result = restore_from(&folder, &config).await;
    if let Some(dir) = unpacked {
        let _ = fs::remove_dir_all(dir);
    }
    let manifest = match result {
        Ok(m) => m,
        Err(e) => {
            // Nothing half-restored stays behind to be mistaken for a hub.
            if let Location::Sqlite { path, .. } = &config.location {
                for suffix in ["", "-wal", "-shm"] {
                    let mut p = path.clone().into_os_string();
                    p.push(suffix);
                    let _ = fs::remove_file(PathBuf::from(p));
                }
            }
            return Err(e);
        }
    };
    crate::private::tighten(&config.location)?;
    println!(
        "restored {} rows and {} blobs into {} in {:.1} s (backup of {}, schema {})",
        manifest.rows.values().sum::<u64>(),
        manifest.blobs,
        config.describe(),
        started.elapsed().as_secs_f64(),
        manifest.made_on,
        manifest.schema
    );
    println!("Coordinators log in again on the restored hub; their sessions are not in backups.");
    Ok(())
}

async fn restore_from(
    folder: &Path,
    config: &crate::config::HubConfig,
) -> anyhow::Result<Manifest> {
    let manifest_text = read_small(&folder.join(MANIFEST), 1 << 20).with_context(|| {
        format!(
            "{} is not a finished Panah backup (it has no readable {MANIFEST})",
            folder.display()
        )
    })?;
    let manifest: Manifest = toml::from_str(&manifest_text)
        .with_context(|| format!("the backup's {MANIFEST} cannot be read"))?;
    if manifest.format != FORMAT {
        bail!(
            "this backup is in format {}, which this Panah does not read (it reads {FORMAT})",
            manifest.format
        );
    }
    let sums = check_sums(folder)?;
    let blob_files: Vec<&String> = sums.keys().filter(|p| p.starts_with("blobs/")).collect();
    if blob_files.len() as u64 != manifest.blobs {
        bail!(
            "the backup lists {} blobs but its manifest says {}",
            blob_files.len(),
            manifest.blobs
        );
    }
    // The backup's database is opened from a copy, so the backup itself stays as it was
    // (opening migrates an older backup to this Panah's schema).
    let work = config.data.join("restore-from.db");
    let _ = fs::remove_file(&work);
    fs::copy(folder.join(DATABASE), &work)?;
    let blobs_folder = config.data.join("blobs");
    let blobs_existed = blobs_folder.exists();
    let hub_existed = config.exists();
    let result = async {
        let from = Store::open(&Location::Sqlite {
            path: work.clone(),
            create: false,
        })
        .await
        .context("cannot open the backup's database")?;
        // Everything is checked before anything is written to the new hub.
        let checked = async {
            from.check_plain_tables()
                .await
                .context("the backup's database is not one Panah wrote")?;
            let counts = from.row_counts().await?;
            if counts.rows.len() != manifest.rows.len() {
                bail!("the backup's manifest does not list every table");
            }
            for (table, n) in &manifest.rows {
                if counts.of(table) != *n {
                    bail!(
                        "the backup's table {table} has {} rows, its manifest says {n}",
                        counts.of(table)
                    );
                }
            }
            let listed: std::collections::BTreeSet<&str> = blob_files
                .iter()
                .filter_map(|p| p.rsplit('/').next())
                .collect();
            let missing = from
                .external_blob_keys()
                .await?
                .into_iter()
                .filter(|k| !listed.contains(k.as_str()))
                .count();
            if missing > 0 {
                bail!("{missing} blobs the backup's rows name are not in it");
            }
            check_teams(&from).await
        }
        .await;
        if let Err(e) = checked {
            from.close().await;
            return Err(e);
        }
        // The blobs first, then the rows in one transaction: a hub whose rows are there has
        // its blobs. (A failure leaves blobs no row names, which the hub's sweep removes,
        // and, on SQLite, no database: see below.)
        let to = Store::open(&config.location).await?;
        let blobs = match BlobStore::open(&config.blobs, &config.data, &to).await {
            Ok(b) => b,
            Err(e) => {
                from.close().await;
                to.close().await;
                return Err(e.into());
            }
        };
        for path in &blob_files {
            let key = path.rsplit('/').next().unwrap_or_default();
            if let Err(e) = blobs.put(key, regular_file(&folder.join(path))?).await {
                from.close().await;
                to.close().await;
                return Err(e.into());
            }
        }
        let copied = from
            .copy_into(&to)
            .await
            .context("cannot copy the backup into the new hub");
        from.close().await;
        to.close().await;
        copied.map(|_| ())
    }
    .await;
    if result.is_err() && !blobs_existed {
        let _ = fs::remove_dir_all(&blobs_folder);
    }
    if result.is_err() && !hub_existed {
        if let Location::Sqlite { path, .. } = &config.location {
            for suffix in ["", "-wal", "-shm"] {
                let mut p = path.clone().into_os_string();
                p.push(suffix);
                let _ = fs::remove_file(PathBuf::from(p));
            }
        }
    }
    for suffix in ["", "-wal", "-shm"] {
        let mut p = work.clone().into_os_string();
        p.push(suffix);
        let _ = fs::remove_file(PathBuf::from(p));
    }
    result.map(|()| manifest)
}

/// The coordinators a restored hub would encrypt new messages to must be exactly the team
/// its signed team log shows: a backup is not signed, and a key slipped into its
/// coordinators table would read every message sent after the restore. (A forged team log
/// needs coordinators' signatures, and their devices would see the log replaced.)
async fn check_teams(from: &Store) -> anyhow::Result<()> {
    use panah_core::tlog::LogKind;
    for c in from.collectives().await? {
        let slug = c.slug.as_str().to_owned();
        let mut active: Vec<String> = from
            .coordinators(c.id, false)
            .await?
            .iter()
            .map(|k| k.key.signing_str())
            .collect();
        active.sort();
        let Some(log) = from.log(c.id, LogKind::Team).await? else {
            // Before the founder's first `panah team`, the operator's one registration.
            if active.len() > 1 {
                bail!(
                    "collective {slug}: the backup names {} coordinators but has no team log",
                    active.len()
                );
            }
            continue;
        };
        let leaves: Vec<Vec<u8>> = from
            .log_leaves(log.id, 0, log.size)
            .await?
            .into_iter()
            .map(|(_, leaf)| leaf)
            .collect();
        let team = panah_core::team::replay(&log.origin, &leaves).map_err(|e| {
            anyhow::anyhow!("collective {slug}: the backup's team log does not verify: {e}")
        })?;
        let mut signed: Vec<String> = team.members.iter().map(|m| m.key.signing_str()).collect();
        signed.sort();
        if active != signed {
            bail!(
                "collective {slug}: the backup's coordinators are not the team its signed log shows; \
                 it may have been changed"
            );
        }
    }
    Ok(())
}

/// Checks every file `SHA256SUMS` lists (each a plain file); files it does not list are
/// never read.
fn check_sums(folder: &Path) -> anyhow::Result<BTreeMap<String, String>> {
    let text = read_small(&folder.join(SUMS), 256 << 20)
        .with_context(|| format!("the backup has no readable {SUMS}"))?;
    let mut sums = BTreeMap::new();
    for line in text.lines() {
        let (hash, path) = line
            .split_once("  ")
            .with_context(|| format!("a line of {SUMS} is not `HASH  PATH`: {line:?}"))?;
        let safe = path == DATABASE
            || path
                .strip_prefix("blobs/")
                .and_then(|rest| rest.split_once('/'))
                .is_some_and(|(fan, key)| {
                    key.len() == 32
                        && key.starts_with(fan)
                        && key.bytes().all(|b| b.is_ascii_hexdigit())
                });
        if !safe {
            bail!("{SUMS} names a file a backup does not have: {path:?}");
        }
        let found = hash_file(&folder.join(path))
            .with_context(|| format!("the backup is missing {path}"))?;
        if found != hash {
            bail!("{path} is damaged: its SHA-256 is not the one {SUMS} gives");
        }
        sums.insert(path.to_owned(), hash.to_owned());
    }
    if !sums.contains_key(DATABASE) {
        bail!("{SUMS} does not list {DATABASE}");
    }
    Ok(sums)
}

/// A regular file of the backup, opened without following a link: a backup holds files,
/// never a link to one elsewhere, a pipe or a device.
fn regular_file(path: &Path) -> anyhow::Result<File> {
    let meta = fs::symlink_metadata(path)
        .with_context(|| format!("the backup is missing {}", path.display()))?;
    if !meta.file_type().is_file() {
        bail!("{} in the backup is not a plain file", path.display());
    }
    let mut options = fs::OpenOptions::new();
    options.read(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        // O_NOFOLLOW | O_NONBLOCK (Linux): no link swapped in after the check, no pipe to
        // wait on.
        options.custom_flags(0o400_000 | 0o4_000);
    }
    Ok(options.open(path)?)
}

/// A small text file of the backup, refused beyond `limit` bytes.
fn read_small(path: &Path, limit: u64) -> anyhow::Result<String> {
    let mut text = String::new();
    regular_file(path)?
        .take(limit + 1)
        .read_to_string(&mut text)
        .with_context(|| format!("{} is not text", path.display()))?;
    if text.len() as u64 > limit {
        bail!("{} is larger than a backup's", path.display());
    }
    Ok(text)
}

fn is_tar(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "tar")
}

fn pack(folder: &Path, to: &Path) -> anyhow::Result<()> {
    let file = private_file(to)?;
    let mut builder = tar::Builder::new(io::BufWriter::new(file));
    builder.mode(tar::HeaderMode::Deterministic);
    builder.follow_symlinks(false);
    // The manifest last here too.
    for entry in [DATABASE, "blobs", SUMS] {
        let path = folder.join(entry);
        if path.is_dir() {
            builder.append_dir_all(entry, &path)?;
        } else {
            builder.append_path_with_name(&path, entry)?;
        }
    }
    builder.append_path_with_name(folder.join(MANIFEST), MANIFEST)?;
    let file = builder
        .into_inner()?
        .into_inner()
        .map_err(|e| e.into_error())?;
    file.sync_all()?;
    Ok(())
}

fn unpack(from: &Path, to: &Path) -> anyhow::Result<()> {
    crate::private::create_folder(to)?;
    let file =
        File::open(from).with_context(|| format!("cannot open the backup {}", from.display()))?;
    let mut archive = tar::Archive::new(io::BufReader::new(file));
    archive.set_preserve_permissions(false);
    for entry in archive.entries()? {
        let mut entry = entry?;
        let kind = entry.header().entry_type();
        if !(kind.is_file() || kind.is_dir()) {
            bail!("the backup holds something other than files and folders");
        }
        // unpack_in refuses paths that would land outside `to`.
        if !entry.unpack_in(to)? {
            bail!("the backup holds a path outside itself");
        }
    }
    Ok(())
}

/// A file only this account can read, new.
fn private_file(path: &Path) -> anyhow::Result<File> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
        .open(path)
        .with_context(|| format!("cannot create {}", path.display()))
}

fn write_durably(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let mut file = private_file(path)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    Ok(())
}

fn hash_file(path: &Path) -> anyhow::Result<String> {
    let mut file = regular_file(path)?;
    let mut hashing = Hashing::new(&mut file);
    io::copy(&mut hashing, &mut io::sink())?;
    Ok(hashing.finish())
}

fn size_of(path: &Path) -> io::Result<u64> {
    if path.is_file() {
        return Ok(fs::metadata(path)?.len());
    }
    let mut total = 0;
    for entry in fs::read_dir(path)? {
        let entry = entry?;
        total += if entry.file_type()?.is_dir() {
            size_of(&entry.path())?
        } else {
            entry.metadata()?.len()
        };
    }
    Ok(total)
}

/// A reader that hashes what passes through it.
struct Hashing<'a, R> {
    inner: &'a mut R,
    hash: Sha256,
}

impl<'a, R: Read> Hashing<'a, R> {
    fn new(inner: &'a mut R) -> Self {
        Hashing {
            inner,
            hash: Sha256::new(),
        }
    }

    fn finish(self) -> String {
        panah_core::hex(&self.hash.finalize())
    }
}

impl<R: Read> Read for Hashing<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.hash.update(&buf[..n]);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use panah_core::{Lang, Slug};
    use panah_store::{BlobKind, NewCollective, NewMessage, Side};

    /// Between the snapshot and the copy of the blobs, one conversation is encrypted anew
    /// (its row now names a new blob, the old one deleted) and another is deleted: the
    /// backup takes the new blob for the first and leaves the second out, and every row it
    /// keeps names a blob it holds.
    #[tokio::test]
    async fn blobs_moved_or_deleted_during_a_backup() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("hub")).unwrap();
        let hub = Store::open(&Location::default_in(&dir.path().join("hub")))
            .await
            .unwrap();
        let blobs = BlobStore::folder(&dir.path().join("hub/blobs"), &hub).unwrap();
        let c = hub
            .create_collective(&NewCollective {
                slug: Slug::parse("roshanai").unwrap(),
                default_lang: Lang::Dari,
                names: ["روشنایی".into(), "رڼا".into(), "Roshanai".into()],
            })
            .await
            .unwrap();
        let mut messages = Vec::new();
        for lookup in [[1u8; 32], [2u8; 32]] {
            let (key, size) = blobs.write_blob(b"ciphertext, first sealing").unwrap();
            let message = NewMessage {
                author: Side::Sender,
                blob: key.clone(),
                size: size as i64,
                files: Vec::new(),
                inline: None,
            };
            let (conversation, id) = hub
                .add_message(c.id, &lookup, "age1reply", &message, 90)
                .await
                .unwrap();
            messages.push((conversation, id, key));
        }
        let folder = dir.path().join("backup");
        crate::private::create_folder(&folder).unwrap();
        let copy = Store::open(&Location::Sqlite {
            path: folder.join(DATABASE),
            create: true,
        })
        .await
        .unwrap();
        hub.copy_into(&copy).await.unwrap();

        // After the snapshot: the first sealed anew, the second deleted.
        let (_, first, old) = &messages[0];
        let (new, size) = blobs.write_blob(b"ciphertext, sealed anew").unwrap();
        assert!(hub
            .replace_blob(c.id, BlobKind::Message, *first, old, &new, size as i64)
            .await
            .unwrap());
        blobs.delete(old).await.unwrap();
        let (second_conversation, _, _) = &messages[1];
        for key in hub
            .delete_conversation(c.id, *second_conversation)
            .await
            .unwrap()
            .unwrap()
        {
            blobs.delete(&key).await.unwrap();
        }

        let kept = BlobStore::folder(&folder.join("blobs"), &copy).unwrap();
        let copied = copy_blobs(&hub, &copy, &blobs, &kept).await.unwrap();
        assert_eq!((copied.count, copied.left_out), (1, 1));
        assert_eq!(
            copy.external_blob_keys().await.unwrap(),
            vec![new.to_owned()]
        );
        assert_eq!(kept.read(&new).await.unwrap(), b"ciphertext, sealed anew");
        assert_eq!(
            copy.blob_of(c.id, BlobKind::Message, *first).await.unwrap(),
            Some(new)
        );
        assert!(copy
            .conversation(c.id, *second_conversation)
            .await
            .unwrap()
            .is_none());
    }
}
