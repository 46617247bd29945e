//! Blobs: the ciphertext of messages and attachments, one blob each, under a random key
//! that says nothing of the content or the sender. Only ciphertext is ever written.
//!
//! One interface, three places chosen by the operator ([`BlobConfig`]):
//! - **a folder** (the default): written to `tmp/`, synced, renamed into `ab/KEY`, the
//!   folder synced, so a blob exists whole or not at all and an acknowledged one survives
//!   a crash;
//! - **the database** (`blob_data`): several hub processes then share nothing but the
//!   database; a blob's chunks are written in one transaction;
//! - **S3-compatible object storage**, through `object_store`: a blob is one object under
//!   `PREFIX/blobs/ab/KEY`, acknowledged by the store only once it is stored.
//!
//! Whatever the place, small envelopes and replies are kept in the database with their
//! message's row ([`crate::NewMessage::inline`]), so reading a blob looks there first.
//!
//! Writing is synchronous (a [`BlobWriter`] is fed by the encryptor on the blocking pool):
//! for the database and object storage it spools to memory and, past 1 MiB, to a private
//! file, and [`BlobWriter::commit_blocking`] hands the blob over from the blocking thread.
//! Everything else is async.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use futures_util::stream::{BoxStream, StreamExt, TryStreamExt};
use object_store::ObjectStore;
use rand::RngCore;

use crate::{Store, StoreError};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob storage error at {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("not a blob key: {0:?}")]
    BadKey(String),
    #[error("blob {0} is not in the blob store")]
    Missing(String),
    #[error("blob storage in the database: {0}")]
    Database(#[from] StoreError),
    #[error("object storage: {0}")]
    Object(String),
    #[error("{0}")]
    Config(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BlobError + '_ {
    move |source| BlobError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn object_err(e: object_store::Error) -> BlobError {
    match e {
        object_store::Error::NotFound { path, .. } => {
            BlobError::Missing(path.rsplit('/').next().unwrap_or_default().to_owned())
        }
        other => BlobError::Object(object_words(&other)),
    }
}

/// An object store's error as a line fit for the hub's log: its first line, at most 300
/// characters, no control characters. (The error can carry the server's whole answer, and
/// the server may be hostile or broken.)
pub fn object_words(e: &object_store::Error) -> String {
    e.to_string()
        .lines()
        .next()
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(300)
        .collect()
}

impl BlobError {
    /// The disk is full: nothing was stored.
    pub fn is_out_of_space(&self) -> bool {
        match self {
            BlobError::Io { source, .. } => crate::io_out_of_space(source),
            BlobError::Database(e) => e.is_out_of_space(),
            _ => false,
        }
    }

    /// No blob has this key.
    pub fn is_missing(&self) -> bool {
        match self {
            BlobError::Missing(_) => true,
            BlobError::Io { source, .. } => source.kind() == io::ErrorKind::NotFound,
            _ => false,
        }
    }
}

/// Where blobs go, as the operator configured it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum BlobConfig {
    /// `blobs/` in the hub's data folder.
    #[default]
    Folder,
    /// The hub's database.
    Database,
    /// An S3-compatible bucket.
    S3(S3Config),
}

/// An S3-compatible bucket. Credentials come from the environment (`AWS_ACCESS_KEY_ID`,
/// `AWS_SECRET_ACCESS_KEY`, and `AWS_SESSION_TOKEN` where one is used), never from a file
/// the hub's configuration may be shared in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Config {
    pub bucket: String,
    /// Folder-like prefix inside the bucket, empty or ending in `/`.
    pub prefix: String,
    /// `https://s3.example` (or `http://127.0.0.1:9000` for a server on this machine);
    /// `None`: AWS itself, or `AWS_ENDPOINT` from the environment.
    pub endpoint: Option<String>,
    /// `None`: `AWS_REGION` from the environment, else `us-east-1`.
    pub region: Option<String>,
}

impl S3Config {
    /// Reads `s3://BUCKET` or `s3://BUCKET/PREFIX`.
    pub fn parse_url(url: &str) -> Result<S3Config, String> {
        let rest = url
            .strip_prefix("s3://")
            .ok_or_else(|| format!("{url:?} is not an s3://BUCKET/PREFIX address"))?;
        let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
        let bucket_ok = (3..=63).contains(&bucket.len())
            && bucket
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.');
        if !bucket_ok {
            return Err(format!(
                "{bucket:?} is not a bucket name (3 to 63 lower-case letters, digits, dots and hyphens)"
            ));
        }
        let prefix = prefix.trim_matches('/');
        if prefix
            .split('/')
            .any(|part| part == "." || part == ".." || (part.is_empty() && !prefix.is_empty()))
            || prefix.chars().any(|c| c.is_control())
        {
            return Err(format!("{prefix:?} is not a usable prefix in a bucket"));
        }
        Ok(S3Config {
            bucket: bucket.to_owned(),
            prefix: if prefix.is_empty() {
                String::new()
            } else {
                format!("{prefix}/")
            },
            endpoint: None,
            region: None,
        })
    }

    /// A client for this bucket with bounded time: 10 s to connect, 60 s a request, and a
    /// few retries within 30 s.
    pub fn client(&self) -> Result<Arc<dyn ObjectStore>, BlobError> {
        self.build(
            object_store::ClientOptions::new()
                .with_connect_timeout(Duration::from_secs(10))
                .with_timeout(Duration::from_secs(60)),
        )
    }

    /// A client for reading blobs out: no limit on a whole request (a coordinator on a slow
    /// link downloads a 50 MiB file for minutes), so the reader puts a limit on the wait
    /// for each piece instead ([`BlobStore::stream`]).
    fn reader(&self) -> Result<Arc<dyn ObjectStore>, BlobError> {
        self.build(
            object_store::ClientOptions::new()
                .with_connect_timeout(Duration::from_secs(10))
                .with_timeout_disabled(),
        )
    }

    fn build(
        &self,
        options: object_store::ClientOptions,
    ) -> Result<Arc<dyn ObjectStore>, BlobError> {
        use object_store::aws::AmazonS3Builder;
        let mut b = AmazonS3Builder::from_env()
            .with_bucket_name(&self.bucket)
            .with_virtual_hosted_style_request(false)
            .with_client_options(options)
            .with_retry(object_store::RetryConfig {
                max_retries: 3,
                retry_timeout: Duration::from_secs(30),
                ..Default::default()
            });
        if let Some(endpoint) = &self.endpoint {
            b = b
                .with_endpoint(endpoint)
                .with_allow_http(endpoint.starts_with("http://"));
        }
        match &self.region {
            Some(region) => b = b.with_region(region),
            None if std::env::var_os("AWS_REGION").is_none()
                && std::env::var_os("AWS_DEFAULT_REGION").is_none() =>
            {
                b = b.with_region("us-east-1")
            }
            None => {}
        }
        Ok(Arc::new(b.build().map_err(|e| {
            BlobError::Config(format!("the S3 settings are not usable: {e}"))
        })?))
    }

    pub fn describe(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.prefix)
    }
}

impl BlobConfig {
    /// `folder`, `database`, or `s3://BUCKET/PREFIX`.
    pub fn parse(text: &str) -> Result<BlobConfig, String> {
        match text.trim() {
            "folder" => Ok(BlobConfig::Folder),
            "database" => Ok(BlobConfig::Database),
            s if s.starts_with("s3://") => Ok(BlobConfig::S3(S3Config::parse_url(s)?)),
            other => Err(format!(
                "unknown blob store {other:?}: use folder, database or s3://BUCKET/PREFIX"
            )),
        }
    }
}

/// A blob's bytes as they come from where it is kept.
pub type BlobStream = BoxStream<'static, Result<Bytes, BlobError>>;

/// Where the blobs of one hub are.
#[derive(Debug, Clone)]
pub struct BlobStore {
    inner: Arc<Inner>,
}

#[derive(Debug)]
struct Inner {
    /// The hub's database: envelopes kept inline are there, whatever the backend.
    store: Store,
    backend: Backend,
    /// Where blobs being written wait: `tmp/` of the folder, or `spool/` of the data folder.
    spool: PathBuf,
    /// Commits to the database or object storage in progress (see [`COMMITS_AT_ONCE`]).
    commits: tokio::sync::Semaphore,
}

enum Backend {
    Folder(PathBuf),
    Database,
    Object {
        client: Arc<dyn ObjectStore>,
        /// For reads, without a whole-request timeout.
        reader: Arc<dyn ObjectStore>,
        prefix: String,
        describe: String,
    },
}

impl std::fmt::Debug for Backend {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Backend::Folder(root) => write!(f, "Folder({})", root.display()),
            Backend::Database => f.write_str("Database"),
            Backend::Object { describe, .. } => write!(f, "Object({describe})"),
        }
    }
}

/// A blob of this size or smaller is spooled in memory before it is handed over.
const SPOOL_IN_MEMORY: usize = 1024 * 1024;
/// Parts of an upload to object storage (S3 wants at least 5 MiB but for the last).
const PART: usize = 8 * 1024 * 1024;
/// The longest wait for each piece of a blob read from object storage.
const PIECE_WAIT: Duration = Duration::from_secs(60);
/// Blobs handed over to the database or object storage at once. A commit holds a database
/// connection (and on SQLite the write lock) or an upload part in memory: uploads beyond
/// this wait, rather than starving pages and texts of connections.
const COMMITS_AT_ONCE: usize = 2;
/// The longest one pass of the orphan sweep lists a bucket.
const LISTING_BUDGET: Duration = Duration::from_secs(600);

pub(crate) fn check_key(key: &str) -> Result<(), BlobError> {
    if key.len() != 32
        || !key
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
    {
        return Err(BlobError::BadKey(key.chars().take(40).collect()));
    }
    Ok(())
}

/// A new random blob key: 32 lower-case hex digits.
pub fn new_key() -> String {
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    panah_core::hex(&bytes)
}

impl BlobStore {
    /// The blob store a hub is configured with. `data` is the hub's data folder (the
    /// folder backend keeps blobs in `data/blobs`; the others spool there). Object storage
    /// is asked once for the bucket, so that a wrong setting stops the hub at its start
    /// rather than at its first message.
    pub async fn open(config: &BlobConfig, data: &Path, store: &Store) -> Result<Self, BlobError> {
        match config {
            BlobConfig::Folder => Self::folder(&data.join("blobs"), store),
            BlobConfig::Database => Self::with(Backend::Database, data, store),
            BlobConfig::S3(s3) => {
                let client = s3.client()?;
                let probe = object_store::path::Path::from(format!("{}blobs", s3.prefix));
                let mut listing = client.list(Some(&probe));
                if let Some(Err(e)) = listing.next().await {
                    return Err(BlobError::Config(format!(
                        "cannot reach the bucket {}: {}",
                        s3.describe(),
                        object_err(e)
                    )));
                }
                Self::with(
                    Backend::Object {
                        client,
                        reader: s3.reader()?,
                        prefix: s3.prefix.clone(),
                        describe: s3.describe(),
                    },
                    data,
                    store,
                )
            }
        }
    }

    /// A blob folder (the default place, and a backup's `blobs/`).
    pub fn folder(root: &Path, store: &Store) -> Result<Self, BlobError> {
        let spool = root.join("tmp");
        private_dir(&spool).map_err(io_err(root))?;
        Ok(BlobStore {
            inner: Arc::new(Inner {
                store: store.clone(),
                backend: Backend::Folder(root.to_owned()),
                spool,
                commits: tokio::sync::Semaphore::new(COMMITS_AT_ONCE),
            }),
        })
    }

    fn with(backend: Backend, data: &Path, store: &Store) -> Result<Self, BlobError> {
        let spool = data.join("spool");
        private_dir(&spool).map_err(io_err(&spool))?;
        Ok(BlobStore {
            inner: Arc::new(Inner {
                store: store.clone(),
                backend,
                spool,
                commits: tokio::sync::Semaphore::new(COMMITS_AT_ONCE),
            }),
        })
    }

    /// Where blobs are, for messages: a folder, `database`, or `s3://bucket/prefix`.
    pub fn describe(&self) -> String {
        match &self.inner.backend {
            Backend::Folder(root) => root.display().to_string(),
            Backend::Database => "database".to_owned(),
            Backend::Object { describe, .. } => describe.clone(),
        }
    }

    /// The blob folder, for a hub whose blobs are files.
    pub fn folder_root(&self) -> Option<&Path> {
        match &self.inner.backend {
            Backend::Folder(root) => Some(root),
            _ => None,
        }
    }

    fn file_path(root: &Path, key: &str) -> Result<PathBuf, BlobError> {
        check_key(key)?;
        Ok(root.join(&key[..2]).join(key))
    }

    fn object_path(prefix: &str, key: &str) -> object_store::path::Path {
        object_store::path::Path::from(format!("{prefix}blobs/{}/{key}", &key[..2]))
    }

    /// Starts a new blob. Drop the writer without committing it to abandon it.
    pub fn create(&self) -> Result<BlobWriter, BlobError> {
        self.create_named(new_key())
    }

    /// Starts a blob under a key chosen elsewhere (a backup keeps each blob under its
    /// key). Committing it where one of that key exists is an error.
    pub fn create_named(&self, key: String) -> Result<BlobWriter, BlobError> {
        check_key(&key)?;
        let sink = match &self.inner.backend {
            Backend::Folder(_) => {
                let (file, tmp) = spool_file(&self.inner.spool, &key)?;
                Sink::File { file, tmp }
            }
            _ => Sink::Memory(Vec::new()),
        };
        Ok(BlobWriter {
            blobs: self.clone(),
            sink,
            key,
            written: 0,
        })
    }

    /// Writes a blob under a key chosen elsewhere (a restore puts each blob back under the
    /// key its row names), as durably as any. An existing blob of that key is an error,
    /// never overwritten.
    pub async fn put(
        &self,
        key: &str,
        mut from: impl Read + Send + 'static,
    ) -> Result<u64, BlobError> {
        check_key(key)?;
        if self.exists(key).await? {
            return Err(BlobError::Io {
                path: key.to_owned(),
                source: io::Error::from(io::ErrorKind::AlreadyExists),
            });
        }
        let mut w = self.create_named(key.to_owned())?;
        blocking(move || {
            io::copy(&mut from, &mut w).map_err(|e| BlobError::Io {
                path: "a blob being written".into(),
                source: e,
            })?;
            Ok(w.commit_blocking()?.1)
        })
        .await
    }

    /// Writes a whole blob at once. Call it on the blocking pool.
    pub fn write_blob(&self, bytes: &[u8]) -> Result<(String, u64), BlobError> {
        let mut w = self.create()?;
        w.write_all(bytes).map_err(|e| BlobError::Io {
            path: "a blob being written".into(),
            source: e,
        })?;
        w.commit_blocking()
    }

    /// Whether a blob of this key is stored (in the database with its row, or where the
    /// backend keeps blobs).
    pub async fn exists(&self, key: &str) -> Result<bool, BlobError> {
        check_key(key)?;
        if self.inner.store.blob_chunk_exists(key).await? {
            return Ok(true);
        }
        match &self.inner.backend {
            Backend::Folder(root) => {
                let path = Self::file_path(root, key)?;
                blocking(move || Ok(path.exists())).await
            }
            Backend::Database => Ok(false),
            Backend::Object { client, prefix, .. } => {
                match client.head(&Self::object_path(prefix, key)).await {
                    Ok(_) => Ok(true),
                    Err(object_store::Error::NotFound { .. }) => Ok(false),
                    Err(e) => Err(object_err(e)),
                }
            }
        }
    }

    /// A blob's bytes as a stream, read a piece at a time; [`BlobError::Missing`] if there
    /// is no such blob.
    pub async fn stream(&self, key: &str) -> Result<BlobStream, BlobError> {
        check_key(key)?;
        let store = self.inner.store.clone();
        if let Some(first) = store.blob_chunk(key, 0).await? {
            let key = key.to_owned();
            let rest = futures_util::stream::try_unfold(1i64, move |seq| {
                let (store, key) = (store.clone(), key.clone());
                async move {
                    Ok::<_, BlobError>(
                        store
                            .blob_chunk(&key, seq)
                            .await?
                            .map(|chunk| (Bytes::from(chunk), seq + 1)),
                    )
                }
            });
            return Ok(
                futures_util::stream::once(async move { Ok(Bytes::from(first)) })
                    .chain(rest)
                    .boxed(),
            );
        }
        match &self.inner.backend {
            Backend::Folder(root) => {
                let path = Self::file_path(root, key)?;
                let file = tokio::fs::File::open(&path).await.map_err(io_err(&path))?;
                let shown = path.display().to_string();
                Ok(tokio_util_stream(file)
                    .map_err(move |source| BlobError::Io {
                        path: shown.clone(),
                        source,
                    })
                    .boxed())
            }
            Backend::Database => Err(BlobError::Missing(key.to_owned())),
            Backend::Object { reader, prefix, .. } => {
                let got =
                    tokio::time::timeout(PIECE_WAIT, reader.get(&Self::object_path(prefix, key)))
                        .await
                        .map_err(|_| BlobError::Object("the object store did not answer".into()))?
                        .map_err(object_err)?;
                // Each piece must come within the wait; a stalled store ends the stream.
                let pieces = got.into_stream();
                Ok(
                    futures_util::stream::try_unfold(pieces, |mut pieces| async move {
                        match tokio::time::timeout(PIECE_WAIT, pieces.next()).await {
                            Err(_) => {
                                Err(BlobError::Object("the object store stopped sending".into()))
                            }
                            Ok(None) => Ok(None),
                            Ok(Some(piece)) => Ok(Some((piece.map_err(object_err)?, pieces))),
                        }
                    })
                    .boxed(),
                )
            }
        }
    }

    /// A whole blob in memory.
    pub async fn read(&self, key: &str) -> Result<Vec<u8>, BlobError> {
        self.read_at_most(key, usize::MAX).await
    }

    /// A whole blob in memory, if it is at most `max` bytes (else an error, read no
    /// further).
    pub async fn read_at_most(&self, key: &str, max: usize) -> Result<Vec<u8>, BlobError> {
        let mut stream = self.stream(key).await?;
        let mut out = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk?;
            if out.len().saturating_add(chunk.len()) > max {
                return Err(BlobError::Object(format!(
                    "blob {key} is larger than {max} bytes"
                )));
            }
            out.extend_from_slice(&chunk);
        }
        Ok(out)
    }

    /// Deletes a blob; a missing one is not an error.
    pub async fn delete(&self, key: &str) -> Result<(), BlobError> {
        check_key(key)?;
        self.inner.store.delete_blob_data(key).await?;
        match &self.inner.backend {
            Backend::Folder(root) => {
                let path = Self::file_path(root, key)?;
                blocking(move || match fs::remove_file(&path) {
                    Ok(()) => Ok(()),
                    Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
                    Err(e) => Err(io_err(&path)(e)),
                })
                .await
            }
            Backend::Database => Ok(()),
            Backend::Object { client, prefix, .. } => {
                match client.delete(&Self::object_path(prefix, key)).await {
                    Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(object_err(e)),
                }
            }
        }
    }

    /// Deletes blobs in the background (from a destructor, which cannot wait): on the
    /// current runtime, or not at all without one (the orphan sweep then takes them).
    pub fn delete_soon(&self, keys: Vec<String>) {
        if keys.is_empty() {
            return;
        }
        // Files go at once (an unlink each); the others need the runtime.
        if let Backend::Folder(root) = &self.inner.backend {
            for key in keys {
                let gone =
                    Self::file_path(root, &key).and_then(|path| match fs::remove_file(&path) {
                        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(io_err(&path)(e)),
                        _ => Ok(()),
                    });
                if let Err(e) = gone {
                    tracing::warn!(error = %e, "could not delete a blob whose row was not stored");
                }
            }
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            tracing::warn!("blobs whose row was not stored are left to the sweep");
            return;
        };
        let blobs = self.clone();
        runtime.spawn(async move {
            for key in keys {
                if let Err(e) = blobs.delete(&key).await {
                    tracing::warn!(error = %e, "could not delete a blob whose row was not stored");
                }
            }
        });
    }

    /// Deletes partial blobs older than `age` (left by a crash mid-upload); returns how
    /// many. (An upload to object storage that never completed is the bucket's to expire:
    /// see the operator's guide.)
    pub async fn sweep_partials(&self, age: Duration) -> Result<usize, BlobError> {
        let spool = self.inner.spool.clone();
        blocking(move || {
            let mut removed = 0;
            for entry in fs::read_dir(&spool).map_err(io_err(&spool))?.flatten() {
                if older_than(&entry, age) && fs::remove_file(entry.path()).is_ok() {
                    removed += 1;
                }
            }
            Ok(removed)
        })
        .await
    }

    /// Deletes stored blobs no row refers to, older than `age`: left by a crash after a
    /// blob was stored and before its message's row was, or by a request cancelled while
    /// its row was being stored. A bounded batch at a time. Returns how many.
    pub async fn sweep_orphans(&self, age: Duration) -> Result<usize, BlobError> {
        let store = &self.inner.store;
        let mut removed = 0;
        // In the database: whole days, as the rows keep them.
        let days = age.as_secs().div_ceil(86_400) as i64;
        let cutoff = crate::day_of(panah_core::Timestamp::now()).plus_seconds(-days * 86_400);
        loop {
            let keys = store.unreferenced_blob_data(cutoff, 500).await?;
            for key in &keys {
                if store.delete_blob_data(key).await? {
                    removed += 1;
                }
            }
            if keys.len() < 500 {
                break;
            }
        }
        match &self.inner.backend {
            Backend::Database => {}
            Backend::Folder(root) => {
                let root = root.clone();
                let fanouts = blocking({
                    let root = root.clone();
                    move || fanouts(&root)
                })
                .await?;
                for fanout in fanouts {
                    let dir = root.join(&fanout);
                    let candidates =
                        blocking(move || committed_older_than(&dir, &fanout, age)).await?;
                    removed += self.delete_unreferenced(candidates).await?;
                }
            }
            Backend::Object { client, prefix, .. } => {
                let now = std::time::SystemTime::now();
                let started = tokio::time::Instant::now();
                let mut listing = client.list(Some(&object_store::path::Path::from(format!(
                    "{prefix}blobs"
                ))));
                let mut batch = Vec::new();
                // A pass lists for a bounded time: a bucket that lists forever (or very
                // slowly) must not hold up the retention sweep, which runs after this.
                while let Ok(Some(meta)) =
                    tokio::time::timeout_at(started + LISTING_BUDGET, listing.next()).await
                {
                    let meta = meta.map_err(object_err)?;
                    let Some(key) = meta.location.filename().map(str::to_owned) else {
                        continue;
                    };
                    // Only what the hub itself names so: never anything else in the bucket.
                    if check_key(&key).is_err() || meta.location != Self::object_path(prefix, &key)
                    {
                        continue;
                    }
                    let written: std::time::SystemTime = meta.last_modified.into();
                    if now.duration_since(written).is_ok_and(|d| d >= age) {
                        batch.push(key);
                    }
                    if batch.len() >= 200 {
                        removed += self.delete_unreferenced(std::mem::take(&mut batch)).await?;
                    }
                }
                removed += self.delete_unreferenced(batch).await?;
            }
        }
        Ok(removed)
    }

    async fn delete_unreferenced(&self, candidates: Vec<String>) -> Result<usize, BlobError> {
        if candidates.is_empty() {
            return Ok(0);
        }
        let referenced = self.inner.store.referenced_blobs(&candidates).await?;
        let mut removed = 0;
        for key in candidates.iter().filter(|k| !referenced.contains(*k)) {
            match self.delete(key).await {
                Ok(()) => removed += 1,
                Err(e) => tracing::warn!(error = %e, "could not delete a blob"),
            }
        }
        Ok(removed)
    }
}

/// Runs file work on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, BlobError> + Send + 'static,
) -> Result<T, BlobError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| BlobError::Io {
            path: "the blob store".into(),
            source: io::Error::other(e.to_string()),
        })?
}

/// A file read as a stream of pieces of 64 KiB.
fn tokio_util_stream(
    file: tokio::fs::File,
) -> impl futures_util::Stream<Item = io::Result<Bytes>> + Send + 'static {
    use tokio::io::AsyncReadExt;
    futures_util::stream::try_unfold(file, |mut file| async move {
        let mut buf = vec![0u8; 64 * 1024];
        let n = file.read(&mut buf).await?;
        if n == 0 {
            return Ok(None);
        }
        buf.truncate(n);
        Ok(Some((Bytes::from(buf), file)))
    })
}

/// A new private file in the spool folder for blob `key`.
fn spool_file(spool: &Path, key: &str) -> Result<(File, PathBuf), BlobError> {
    let tmp = spool.join(format!("{key}.part"));
    let mut options = OpenOptions::new();
    options.read(true).write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let file = options.open(&tmp).map_err(io_err(&tmp))?;
    Ok((file, tmp))
}

/// The fan-out folders of a blob folder (`00` … `ff`), as they are on disk.
fn fanouts(root: &Path) -> Result<Vec<String>, BlobError> {
    let mut out = Vec::new();
    for dir in fs::read_dir(root).map_err(io_err(root))?.flatten() {
        if let Some(name) = dir.file_name().to_str() {
            if name.len() == 2 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
                out.push(name.to_owned());
            }
        }
    }
    out.sort_unstable();
    Ok(out)
}

/// The keys of the committed blobs in one fan-out folder last written more than `age` ago.
fn committed_older_than(dir: &Path, fanout: &str, age: Duration) -> Result<Vec<String>, BlobError> {
    let mut keys = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))?.flatten() {
        let Some(key) = entry.file_name().to_str().map(str::to_owned) else {
            continue;
        };
        if key.starts_with(fanout) && older_than(&entry, age) && check_key(&key).is_ok() {
            keys.push(key);
        }
    }
    Ok(keys)
}

/// Midnight UTC of today, as a file time.
fn start_of_day() -> std::time::SystemTime {
    let now = std::time::SystemTime::now();
    let secs = now
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    std::time::UNIX_EPOCH + Duration::from_secs(secs - secs % 86_400)
}

/// Creates a folder (and its parents) that only this account can enter.
fn private_dir(path: &Path) -> io::Result<()> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}

/// Whether a file was last written more than `age` ago. Blob files show the day they
/// were written (see [`BlobWriter::commit_blocking`]), so this may say "older" up to a day
/// early.
fn older_than(entry: &fs::DirEntry, age: Duration) -> bool {
    entry
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|elapsed| elapsed >= age)
}

/// Blobs written for rows not yet written: dropping this deletes them, until
/// [`PendingBlobs::in_flight`] hands them to the row write. The one way a blob-then-row
/// write cleans up after itself when the row is refused or never written.
#[derive(Debug)]
pub struct PendingBlobs {
    blobs: BlobStore,
    keys: Vec<String>,
}

impl PendingBlobs {
    pub fn new(blobs: &BlobStore) -> Self {
        PendingBlobs {
            blobs: blobs.clone(),
            keys: Vec::new(),
        }
    }

    /// A blob committed for a row still to come.
    pub fn push(&mut self, key: String) {
        self.keys.push(key);
    }

    /// The rows are being written. From here a blob is deleted only when the write is
    /// known to have stored nothing ([`InFlight::refused`]): a request cancelled while the
    /// database commits, or an answer lost on the way, may still have stored its row, so
    /// its blobs are left to the sweep of blobs no row refers to.
    pub fn in_flight(mut self) -> InFlight {
        InFlight {
            blobs: self.blobs.clone(),
            keys: std::mem::take(&mut self.keys),
        }
    }
}

/// Blobs whose rows are being written; see [`PendingBlobs::in_flight`]. Dropping this
/// deletes nothing.
#[derive(Debug)]
#[must_use = "say whether the rows were refused, or drop it once they are stored"]
pub struct InFlight {
    blobs: BlobStore,
    keys: Vec<String>,
}

impl InFlight {
    /// The database refused the rows before storing anything: the blobs are nobody's.
    pub fn refused(self) {
        self.blobs.delete_soon(self.keys);
    }
}

impl Drop for PendingBlobs {
    fn drop(&mut self) {
        self.blobs.delete_soon(std::mem::take(&mut self.keys));
    }
}

/// Where a blob being written waits.
enum Sink {
    Memory(Vec<u8>),
    File { file: File, tmp: PathBuf },
    Done,
}

/// A blob being written.
pub struct BlobWriter {
    blobs: BlobStore,
    sink: Sink,
    key: String,
    written: u64,
}

impl std::fmt::Debug for BlobWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlobWriter")
            .field("written", &self.written)
            .finish_non_exhaustive()
    }
}

impl BlobWriter {
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Stores the blob durably where the hub keeps blobs; returns its key and size. Runs
    /// on a blocking thread (the encryptor's): for the database and object storage it
    /// waits there for the async write. Never call it from async code; use
    /// [`BlobWriter::commit`] there.
    pub fn commit_blocking(mut self) -> Result<(String, u64), BlobError> {
        let sink = std::mem::replace(&mut self.sink, Sink::Done);
        let key = std::mem::take(&mut self.key);
        let blobs = self.blobs.clone();
        match &blobs.inner.backend {
            Backend::Folder(root) => {
                let Sink::File { file, tmp } = sink else {
                    return Err(BlobError::BadKey(key));
                };
                let committed = commit_file(root, &key, file, &tmp);
                if committed.is_err() {
                    let _ = fs::remove_file(&tmp);
                }
                committed?;
            }
            Backend::Database => {
                let mut source = Spooled::from(sink)?;
                let runtime = runtime()?;
                let result = runtime.block_on(async {
                    let _turn = blobs.inner.commits.acquire().await;
                    blobs
                        .inner
                        .store
                        .put_blob_data(&key, || source.next_chunk(crate::blob_data::CHUNK))
                        .await
                });
                source.remove();
                result?;
            }
            Backend::Object { client, prefix, .. } => {
                let mut source = Spooled::from(sink)?;
                let path = BlobStore::object_path(prefix, &key);
                let runtime = runtime()?;
                let result = runtime.block_on(async {
                    let _turn = blobs.inner.commits.acquire().await;
                    put_object(client.as_ref(), &path, &mut source).await
                });
                source.remove();
                result?;
            }
        }
        Ok((key, self.written))
    }

    /// [`BlobWriter::commit_blocking`] from async code.
    pub async fn commit(self) -> Result<(String, u64), BlobError> {
        blocking(move || self.commit_blocking()).await
    }
}

fn runtime() -> Result<tokio::runtime::Handle, BlobError> {
    tokio::runtime::Handle::try_current().map_err(|_| {
        BlobError::Config("blobs can only be handed over from within the hub's runtime".into())
    })
}

/// Syncs a blob file, moves it into place and makes the move durable.
fn commit_file(root: &Path, key: &str, file: File, tmp: &Path) -> Result<(), BlobError> {
    let dest = BlobStore::file_path(root, key)?;
    file.sync_all().map_err(io_err(tmp))?;
    drop(file);
    let dir = dest.parent().map(Path::to_owned).unwrap_or_default();
    private_dir(&dir).map_err(io_err(&dir))?;
    if dest.exists() {
        return Err(io_err(&dest)(io::Error::from(io::ErrorKind::AlreadyExists)));
    }
    fs::rename(tmp, &dest).map_err(io_err(&dest))?;
    // A seized disk should tell no more than the design's coarse time: the blob, its
    // fan-out folder and the folder it was written in show the day, not the moment.
    // (The inode change time cannot be set by a program; see the threat model.)
    let day = start_of_day();
    for path in [&dest, &dir, &tmp.parent().unwrap_or(&dir).to_owned()] {
        File::open(path)
            .and_then(|f| f.set_times(fs::FileTimes::new().set_accessed(day).set_modified(day)))
            .map_err(io_err(path))?;
    }
    // The rename itself must be durable too.
    File::open(&dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(&dir))?;
    Ok(())
}

/// A spooled blob, read back a chunk at a time.
struct Spooled {
    /// The bytes and how far they were read.
    memory: Option<(Vec<u8>, usize)>,
    file: Option<(File, PathBuf)>,
}

impl Spooled {
    fn from(sink: Sink) -> Result<Spooled, BlobError> {
        Ok(match sink {
            Sink::Memory(bytes) => Spooled {
                memory: Some((bytes, 0)),
                file: None,
            },
            Sink::File { mut file, tmp } => {
                file.rewind().map_err(io_err(&tmp))?;
                Spooled {
                    memory: None,
                    file: Some((file, tmp)),
                }
            }
            Sink::Done => return Err(BlobError::BadKey("a blob already committed".into())),
        })
    }

    fn size(&self) -> Option<usize> {
        self.memory.as_ref().map(|(bytes, _)| bytes.len())
    }

    /// The next at most `max` bytes; `None` at the end.
    fn next_chunk(&mut self, max: usize) -> io::Result<Option<Vec<u8>>> {
        if let Some((bytes, at)) = self.memory.as_mut() {
            if *at >= bytes.len() {
                return Ok(None);
            }
            if *at == 0 && bytes.len() <= max {
                *at = bytes.len();
                return Ok(Some(std::mem::take(bytes)));
            }
            let end = (*at + max).min(bytes.len());
            let chunk = bytes[*at..end].to_vec();
            *at = end;
            return Ok(Some(chunk));
        }
        let Some((file, _)) = self.file.as_mut() else {
            return Ok(None);
        };
        let mut chunk = Vec::with_capacity(max);
        file.take(max as u64).read_to_end(&mut chunk)?;
        Ok((!chunk.is_empty()).then_some(chunk))
    }

    /// Removes the spool file, if there was one.
    fn remove(self) {
        if let Some((_, tmp)) = self.file {
            let _ = fs::remove_file(tmp);
        }
    }
}

/// Stores a spooled blob as one object: in one request if small, else in parts.
async fn put_object(
    client: &dyn ObjectStore,
    path: &object_store::path::Path,
    source: &mut Spooled,
) -> Result<(), BlobError> {
    let spool_err = |e: io::Error| BlobError::Io {
        path: "the spool".into(),
        source: e,
    };
    if source.size().is_some_and(|n| n <= PART) {
        let bytes = source
            .next_chunk(PART)
            .map_err(spool_err)?
            .unwrap_or_default();
        client.put(path, bytes.into()).await.map_err(object_err)?;
        return Ok(());
    }
    let mut upload = client.put_multipart(path).await.map_err(object_err)?;
    let uploaded: Result<(), BlobError> = async {
        while let Some(part) = source.next_chunk(PART).map_err(spool_err)? {
            upload.put_part(part.into()).await.map_err(object_err)?;
        }
        upload.complete().await.map_err(object_err)?;
        Ok(())
    }
    .await;
    if uploaded.is_err() {
        let _ = upload.abort().await;
    }
    uploaded
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Sink::Memory(bytes) = &mut self.sink {
            if bytes.len() + buf.len() > SPOOL_IN_MEMORY {
                // Past what is kept in memory: to a private spool file.
                let (mut file, tmp) =
                    spool_file(&self.blobs.inner.spool, &self.key).map_err(|e| match e {
                        BlobError::Io { source, .. } => source,
                        other => io::Error::other(other.to_string()),
                    })?;
                file.write_all(bytes)?;
                self.sink = Sink::File { file, tmp };
            }
        }
        let n = match &mut self.sink {
            Sink::Memory(bytes) => {
                bytes.extend_from_slice(buf);
                buf.len()
            }
            Sink::File { file, .. } => file.write(buf)?,
            Sink::Done => return Err(io::Error::other("blob already committed")),
        };
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.sink {
            Sink::File { file, .. } => file.flush(),
            _ => Ok(()),
        }
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if let Sink::File { tmp, .. } = std::mem::replace(&mut self.sink, Sink::Done) {
            let _ = fs::remove_file(&tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn folder(dir: &Path) -> (Store, BlobStore) {
        let store = Store::open(&crate::testing::sqlite_location(dir))
            .await
            .unwrap();
        let blobs = BlobStore::folder(&dir.join("blobs"), &store).unwrap();
        (store, blobs)
    }

    fn write(blobs: &BlobStore, bytes: &[u8]) -> String {
        let blobs = blobs.clone();
        let bytes = bytes.to_vec();
        std::thread::scope(|s| {
            s.spawn(move || blobs.write_blob(&bytes).unwrap().0)
                .join()
                .unwrap()
        })
    }

    /// A seized disk shows the day a blob came, not the moment, and only this account can
    /// enter the folders.
    #[tokio::test]
    async fn blobs_show_the_day_and_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let (_store, blobs) = folder(dir.path()).await;
        let root = dir.path().join("blobs");
        let key = write(&blobs, b"ciphertext");
        let day = start_of_day();
        let path = BlobStore::file_path(&root, &key).unwrap();
        for p in [&path, &path.parent().unwrap().to_owned(), &root.join("tmp")] {
            let meta = fs::metadata(p).unwrap();
            assert_eq!(meta.modified().unwrap(), day, "{}", p.display());
            assert_eq!(meta.accessed().unwrap(), day, "{}", p.display());
        }
        let since_midnight = std::time::SystemTime::now().duration_since(day).unwrap();
        assert!(since_midnight < Duration::from_secs(86_400));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            for p in [&root, &root.join("tmp"), &path.parent().unwrap().to_owned()] {
                let mode = fs::metadata(p).unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o700, "{}", p.display());
            }
            let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }

    /// What the guard promises: refused before the row write, blobs go; once the row is
    /// being written they stay (the row may hold them) unless the write is known to have
    /// stored nothing.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn pending_blobs_go_only_when_no_row_can_hold_them() {
        let dir = tempfile::tempdir().unwrap();
        let (_store, blobs) = folder(dir.path()).await;
        let gone = |key: String| {
            let blobs = blobs.clone();
            async move {
                for _ in 0..200 {
                    if !blobs.exists(&key).await.unwrap() {
                        return true;
                    }
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
                false
            }
        };

        let (a, b) = (write(&blobs, b"a"), write(&blobs, b"b"));
        let mut pending = PendingBlobs::new(&blobs);
        pending.push(a.clone());
        pending.push(b.clone());
        drop(pending);
        assert!(
            gone(a).await && gone(b).await,
            "refused before the row write"
        );

        let c = write(&blobs, b"c");
        let mut pending = PendingBlobs::new(&blobs);
        pending.push(c.clone());
        drop(pending.in_flight());
        tokio::time::sleep(Duration::from_millis(200)).await;
        assert!(
            blobs.exists(&c).await.unwrap(),
            "the row may be stored: left to the orphan sweep"
        );

        let d = write(&blobs, b"d");
        let mut pending = PendingBlobs::new(&blobs);
        pending.push(d.clone());
        pending.in_flight().refused();
        assert!(gone(d).await, "the database stored nothing");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn commit_abandon_delete() {
        let dir = tempfile::tempdir().unwrap();
        let (_store, blobs) = folder(dir.path()).await;
        let mut w = blobs.create().unwrap();
        w.write_all(b"ciphertext").unwrap();
        let (key, size) = w.commit().await.unwrap();
        assert_eq!(size, 10);
        assert_eq!(blobs.read(&key).await.unwrap(), b"ciphertext");
        let mut abandoned = blobs.create().unwrap();
        abandoned.write_all(b"half").unwrap();
        drop(abandoned);
        assert_eq!(
            fs::read_dir(dir.path().join("blobs/tmp")).unwrap().count(),
            0,
            "no leftovers"
        );
        blobs.delete(&key).await.unwrap();
        blobs.delete(&key).await.unwrap();
        assert!(blobs.read(&key).await.unwrap_err().is_missing());
        assert!(matches!(
            blobs.read("../../etc/passwd").await,
            Err(BlobError::BadKey(_))
        ));
    }

    #[test]
    fn blob_store_settings() {
        assert_eq!(BlobConfig::parse("folder"), Ok(BlobConfig::Folder));
        assert_eq!(BlobConfig::parse(" database "), Ok(BlobConfig::Database));
        let BlobConfig::S3(s3) = BlobConfig::parse("s3://panah-blobs/hub/one/").unwrap() else {
            panic!("not s3")
        };
        assert_eq!(
            (s3.bucket.as_str(), s3.prefix.as_str()),
            ("panah-blobs", "hub/one/")
        );
        let BlobConfig::S3(s3) = BlobConfig::parse("s3://panah-blobs").unwrap() else {
            panic!("not s3")
        };
        assert_eq!(s3.prefix, "");
        for bad in [
            "s3://",
            "s3://AB",
            "s3://x/../y",
            "s3://bucket/a//b",
            "files",
            "s3://b_b/x",
        ] {
            assert!(BlobConfig::parse(bad).is_err(), "{bad}");
        }
    }
}
