//! The public logs as static files: every collective's ledger and team log, laid out as the
//! hub serves them (`c/{slug}/{log}/checkpoint`, `keys`, `tile/…`), written to a bucket or
//! a folder that a CDN or any static host serves. Supporters can then check and mirror the
//! ledger while the hub is down or blocked: `panah verify` reads such a copy as it reads
//! the hub, and trusts it no more.
//!
//! Tiles go first, then the keys, then the checkpoint, so a reader never finds a
//! checkpoint whose tiles are not there yet. Tiles never change once written (a partial
//! tile is a new file at each width). One hub process publishes at a time (a lock in the
//! database): a slower process could otherwise put back an older checkpoint after a newer
//! one, which every verifier would take for a rolled-back log.

use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use panah_core::tlog::tiles::{tiles_for, TileRef};
use panah_core::tlog::LogKind;
use panah_store::object_store::{self, ObjectStore, PutPayload};
use panah_store::{Collective, Log, S3Config, StoreError, StoreLock};

use crate::AppState;

/// An arbitrary constant naming the publishing lock.
const PUBLISH_LOCK: i64 = 0x7061_6e61_6802;
/// How often logs appended through other hub processes are looked for.
const EVERY: Duration = Duration::from_secs(15);
/// The most bytes of a published checkpoint read back.
const MAX_CHECKPOINT: u64 = 64 * 1024;

/// Where the static copy goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PublishTo {
    Folder(PathBuf),
    S3(S3Config),
}

impl PublishTo {
    /// `s3://BUCKET/PREFIX`, or a folder.
    pub fn parse(text: &str) -> Result<PublishTo, String> {
        let text = text.trim();
        if text.starts_with("s3://") {
            return Ok(PublishTo::S3(S3Config::parse_url(text)?));
        }
        if text.is_empty() || text.contains("://") {
            return Err(format!(
                "{text:?} is neither s3://BUCKET/PREFIX nor a folder"
            ));
        }
        Ok(PublishTo::Folder(PathBuf::from(text)))
    }
}

#[derive(Debug, thiserror::Error)]
pub enum PublishError {
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("cannot write the static copy: {0}")]
    Target(String),
}

fn target_err(e: object_store::Error) -> PublishError {
    PublishError::Target(panah_store::blobs::object_words(&e))
}

/// A place the static copy is written to.
#[derive(Clone)]
pub struct Publisher {
    client: Arc<dyn ObjectStore>,
    prefix: String,
    /// S3 keeps a Cache-Control per object; a folder leaves it to the web server.
    headers: bool,
    /// Whether a write is durable once acknowledged (S3; a folder is not synced).
    durable: bool,
    describe: String,
}

impl std::fmt::Debug for Publisher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Publisher({})", self.describe)
    }
}

/// What a publishing pass wrote.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Published {
    pub logs: usize,
    pub files: usize,
}

impl Publisher {
    pub fn open(to: &PublishTo) -> Result<Publisher, PublishError> {
        match to {
            PublishTo::Folder(path) => {
                std::fs::create_dir_all(path).map_err(|e| {
                    PublishError::Target(format!("cannot create {}: {e}", path.display()))
                })?;
                let fs = object_store::local::LocalFileSystem::new_with_prefix(path)
                    .map_err(target_err)?;
                Ok(Publisher {
                    client: Arc::new(fs),
                    prefix: String::new(),
                    headers: false,
                    durable: false,
                    describe: path.display().to_string(),
                })
            }
            PublishTo::S3(s3) => Ok(Publisher {
                client: s3
                    .client()
                    .map_err(|e| PublishError::Target(e.to_string()))?,
                prefix: s3.prefix.clone(),
                headers: true,
                durable: true,
                describe: s3.describe(),
            }),
        }
    }

    pub fn describe(&self) -> &str {
        &self.describe
    }

    fn path(&self, rest: &str) -> object_store::path::Path {
        object_store::path::Path::from(format!("{}{rest}", self.prefix))
    }

    async fn put(&self, rest: &str, body: Vec<u8>, cache: &str) -> Result<(), PublishError> {
        let mut opts = object_store::PutOptions::default();
        if self.headers {
            let ty = if rest.ends_with("/checkpoint") || rest.ends_with("/keys") {
                "text/plain; charset=utf-8"
            } else {
                "application/octet-stream"
            };
            opts.attributes.insert(
                object_store::Attribute::CacheControl,
                cache.to_owned().into(),
            );
            opts.attributes
                .insert(object_store::Attribute::ContentType, ty.into());
        }
        self.client
            .put_opts(&self.path(rest), PutPayload::from(body), opts)
            .await
            .map_err(target_err)?;
        Ok(())
    }

    /// A small published file, if it is there.
    async fn get_small(&self, rest: &str) -> Result<Option<Vec<u8>>, PublishError> {
        match self.client.get(&self.path(rest)).await {
            Ok(got) if got.meta.size > MAX_CHECKPOINT => Ok(None),
            Ok(got) => Ok(Some(got.bytes().await.map_err(target_err)?.to_vec())),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(target_err(e)),
        }
    }

    /// Brings the static copy of every log up to date; nothing if another hub process is
    /// publishing now. `known` remembers what this process last found published, so a pass
    /// with nothing new reads nothing back.
    pub async fn publish_all(
        &self,
        state: &AppState,
        known: &mut HashMap<i64, (u64, String)>,
    ) -> Result<Published, PublishError> {
        let Some(mut lock) = state.store().try_lock(PUBLISH_LOCK).await? else {
            return Ok(Published::default());
        };
        let mut done = Published::default();
        let result = async {
            for c in state.store().collectives().await? {
                for kind in LogKind::ALL {
                    let Some(log) = state.store().log(c.id, kind).await? else {
                        continue;
                    };
                    let files = self.publish_log(state, &c, &log, known, &mut lock).await?;
                    if files > 0 {
                        done.logs += 1;
                        done.files += files;
                    }
                }
            }
            Ok::<_, PublishError>(())
        }
        .await;
        lock.release().await?;
        result.map(|()| done)
    }

    /// One log: new tiles, the keys if they changed, then the checkpoint. Returns how many
    /// files were written.
    async fn publish_log(
        &self,
        state: &AppState,
        c: &Collective,
        log: &Log,
        known: &mut HashMap<i64, (u64, String)>,
        lock: &mut StoreLock,
    ) -> Result<usize, PublishError> {
        let Some(cp) = state.store().latest_checkpoint(log.id).await? else {
            return Ok(0);
        };
        let keys = crate::logs::keys_text(state, c, &log.origin).await?;
        if known
            .get(&log.id.0)
            .is_some_and(|(size, k)| *size == cp.size && *k == keys)
        {
            return Ok(0);
        }
        let base = format!("c/{}/{}/", c.slug, log.kind.word());
        let published = self.get_small(&format!("{base}checkpoint")).await?;
        let published_size = published
            .as_deref()
            .and_then(|b| std::str::from_utf8(b).ok())
            .and_then(|text| text.lines().nth(1))
            .and_then(|line| line.parse::<u64>().ok());
        // Never backwards: every verifier would take a smaller checkpoint for a rolled-back
        // log. (The hub's own log is smaller only after a restore from an older backup; the
        // operator then decides, and removes the copy by hand to publish it anew.)
        if published_size.is_some_and(|n| n > cp.size) {
            if !known.contains_key(&log.id.0) {
                tracing::error!(
                    published = published_size,
                    hub = cp.size,
                    "the static copy of a log is ahead of the hub's (restored from an older backup?): not published backwards"
                );
            }
            known.insert(log.id.0, (cp.size, keys));
            return Ok(0);
        }
        let mut files = 0;
        // What is published at a smaller size is there already. A folder is not synced by
        // the writer, so after this process starts its tiles are written again once (a
        // power cut may have kept a checkpoint and lost tiles).
        let trusted = self.durable || known.contains_key(&log.id.0);
        let there: HashSet<TileRef> = match published_size {
            Some(n) if trusted => tiles_for(n).into_iter().collect(),
            _ => HashSet::new(),
        };
        for tile in tiles_for(cp.size) {
            if there.contains(&tile) {
                continue;
            }
            let body = crate::logs::tile_bytes(state.store(), log, &tile).await?;
            self.put(
                &format!("{base}{}", tile.path()),
                body,
                "public, max-age=31536000, immutable",
            )
            .await?;
            files += 1;
        }
        if self.get_small(&format!("{base}keys")).await?.as_deref() != Some(keys.as_bytes()) {
            self.put(
                &format!("{base}keys"),
                keys.clone().into_bytes(),
                "no-cache",
            )
            .await?;
            files += 1;
        }
        if published.as_deref() != Some(cp.note.as_bytes()) {
            // Another process may have taken the lock since (this one's database session
            // ended): then it publishes, and this one must not write an older checkpoint
            // after its newer one.
            if !lock.still_held().await? {
                return Err(PublishError::Target(
                    "the publishing lock was lost; another hub process publishes".into(),
                ));
            }
            self.put(
                &format!("{base}checkpoint"),
                cp.note.clone().into_bytes(),
                "no-cache",
            )
            .await?;
            files += 1;
        }
        known.insert(log.id.0, (cp.size, keys));
        Ok(files)
    }
}

/// Publishes at the start, after every append this process takes, and every few seconds
/// for appends other processes took, for as long as the hub runs.
pub fn spawn(state: &AppState, publisher: Publisher) -> tokio::task::JoinHandle<()> {
    let state = state.clone();
    tokio::spawn(async move {
        let mut known = HashMap::new();
        let mut failing = false;
        loop {
            match publisher.publish_all(&state, &mut known).await {
                Ok(done) => {
                    if done.files > 0 {
                        tracing::info!(
                            logs = done.logs,
                            files = done.files,
                            "static copy of the logs updated"
                        );
                    }
                    failing = false;
                }
                Err(e) => {
                    // Said once while it lasts, not every pass.
                    if !failing {
                        tracing::error!(error = %e, "cannot publish the logs' static copy; retrying");
                    }
                    failing = true;
                    known.clear();
                }
            }
            tokio::select! {
                _ = state.appended().notified() => {}
                _ = tokio::time::sleep(EVERY) => {}
            }
        }
    })
}
