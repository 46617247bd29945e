//! Blob files: the ciphertext of messages and attachments, one file each.
//!
//! Written to `tmp/`, synced, then renamed into `ab/KEY`, so a blob either exists whole or
//! not at all, and an acknowledged one survives a crash. Keys are random hex chosen here;
//! nothing about the content or the sender is in a path. Only ciphertext is ever written.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use rand::RngCore;

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("blob storage error at {path}: {source}")]
    Io { path: String, source: io::Error },
    #[error("not a blob key: {0:?}")]
    BadKey(String),
}

fn io_err(path: &Path) -> impl FnOnce(io::Error) -> BlobError + '_ {
    move |source| BlobError::Io {
        path: path.display().to_string(),
        source,
    }
}

impl BlobError {
    /// The disk is full: nothing was stored.
    pub fn is_out_of_space(&self) -> bool {
        matches!(self, BlobError::Io { source, .. } if crate::io_out_of_space(source))
    }
}

/// A folder of blob files.
#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

impl BlobStore {
    pub fn open(root: &Path) -> Result<Self, BlobError> {
        private_dir(&root.join("tmp")).map_err(io_err(root))?;
        Ok(BlobStore {
            root: root.to_owned(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn path(&self, key: &str) -> Result<PathBuf, BlobError> {
        if key.len() != 32
            || !key
                .bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        {
            return Err(BlobError::BadKey(key.chars().take(40).collect()));
        }
        Ok(self.root.join(&key[..2]).join(key))
    }

    /// Starts a new blob. Drop the writer without [`BlobWriter::commit`] to abandon it.
    pub fn create(&self) -> Result<BlobWriter, BlobError> {
        let mut bytes = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut bytes);
        let key = panah_core::hex(&bytes);
        let tmp = self.root.join("tmp").join(format!("{key}.part"));
        let mut options = OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let file = options.open(&tmp).map_err(io_err(&tmp))?;
        Ok(BlobWriter {
            file: Some(file),
            tmp,
            dest: self.path(&key)?,
            key,
            written: 0,
        })
    }

    /// Writes a blob under a key chosen elsewhere (a restore puts each blob back under the
    /// key its row names), as durably as [`BlobStore::create`]. An existing blob of that key
    /// is an error, never overwritten.
    pub fn put(&self, key: &str, from: &mut impl io::Read) -> Result<u64, BlobError> {
        let dest = self.path(key)?;
        if dest.exists() {
            return Err(io_err(&dest)(io::Error::from(io::ErrorKind::AlreadyExists)));
        }
        let mut w = self.create()?;
        w.dest = dest;
        w.key = key.to_owned();
        io::copy(from, &mut w).map_err(io_err(&self.root))?;
        Ok(w.commit()?.1)
    }

    /// Writes a whole blob at once.
    pub fn write_blob(&self, bytes: &[u8]) -> Result<(String, u64), BlobError> {
        let mut w = self.create()?;
        w.write_all(bytes).map_err(io_err(&self.root))?;
        w.commit()
    }

    pub fn open_blob(&self, key: &str) -> Result<File, BlobError> {
        let path = self.path(key)?;
        File::open(&path).map_err(io_err(&path))
    }

    pub fn read(&self, key: &str) -> Result<Vec<u8>, BlobError> {
        let path = self.path(key)?;
        fs::read(&path).map_err(io_err(&path))
    }

    /// Deletes partial blobs older than `age` (left by a crash mid-upload); returns how many.
    pub fn sweep_partials(&self, age: std::time::Duration) -> Result<usize, BlobError> {
        let tmp = self.root.join("tmp");
        let mut removed = 0;
        for entry in fs::read_dir(&tmp).map_err(io_err(&tmp))?.flatten() {
            if older_than(&entry, age) && fs::remove_file(entry.path()).is_ok() {
                removed += 1;
            }
        }
        Ok(removed)
    }

    /// The fan-out folders blobs are kept in (`00` … `ff`), as they are on disk.
    pub fn fanouts(&self) -> Result<Vec<String>, BlobError> {
        let mut out = Vec::new();
        for dir in fs::read_dir(&self.root)
            .map_err(io_err(&self.root))?
            .flatten()
        {
            if let Some(name) = dir.file_name().to_str() {
                if name.len() == 2 && name.bytes().all(|b| b.is_ascii_hexdigit()) {
                    out.push(name.to_owned());
                }
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    /// The keys of the committed blobs in one fan-out folder last written more than `age`
    /// ago: candidates for the sweep of blobs whose row never landed (a crash between the
    /// blob's commit and the row's).
    pub fn committed_older_than(
        &self,
        fanout: &str,
        age: std::time::Duration,
    ) -> Result<Vec<String>, BlobError> {
        let dir = self.root.join(fanout);
        let mut keys = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io_err(&dir))?.flatten() {
            let Some(key) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if key.starts_with(fanout) && older_than(&entry, age) && self.path(&key).is_ok() {
                keys.push(key);
            }
        }
        Ok(keys)
    }

    /// Deletes a blob; a missing one is not an error.
    pub fn delete(&self, key: &str) -> Result<(), BlobError> {
        let path = self.path(key)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_err(&path)(e)),
        }
    }
}

/// Midnight UTC of today, as a file time.
fn start_of_day() -> std::time::SystemTime {
    let now = std::time::SystemTime::now();
    let secs = now
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs - secs % 86_400)
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
/// were written (see [`BlobWriter::commit`]), so this may say "older" up to a day early.
fn older_than(entry: &fs::DirEntry, age: std::time::Duration) -> bool {
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
        for key in &self.keys {
            if let Err(e) = self.blobs.delete(key) {
                tracing::warn!(error = %e, "could not delete a blob whose row was refused");
            }
        }
    }
}

impl Drop for PendingBlobs {
    fn drop(&mut self) {
        for key in &self.keys {
            if let Err(e) = self.blobs.delete(key) {
                tracing::warn!(error = %e, "could not delete a blob whose row was not stored");
            }
        }
    }
}

/// A blob being written.
#[derive(Debug)]
pub struct BlobWriter {
    file: Option<File>,
    tmp: PathBuf,
    dest: PathBuf,
    key: String,
    written: u64,
}

impl BlobWriter {
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Syncs the blob to disk and moves it into place; returns its key and size.
    pub fn commit(mut self) -> Result<(String, u64), BlobError> {
        let file = self
            .file
            .take()
            .ok_or_else(|| BlobError::BadKey(self.key.clone()))?;
        file.sync_all().map_err(io_err(&self.tmp))?;
        drop(file);
        let dir = self.dest.parent().map(Path::to_owned).unwrap_or_default();
        private_dir(&dir).map_err(io_err(&dir))?;
        fs::rename(&self.tmp, &self.dest).map_err(io_err(&self.dest))?;
        // A seized disk should tell no more than the design's coarse time: the blob, its
        // fan-out folder and the folder it was written in show the day, not the moment.
        // (The inode change time cannot be set by a program; see the threat model.)
        let day = start_of_day();
        for path in [&self.dest, &dir, self.tmp.parent().unwrap_or(&dir)] {
            File::open(path)
                .and_then(|f| f.set_times(fs::FileTimes::new().set_accessed(day).set_modified(day)))
                .map_err(io_err(path))?;
        }
        // The rename itself must be durable too.
        File::open(&dir)
            .and_then(|d| d.sync_all())
            .map_err(io_err(&dir))?;
        Ok((std::mem::take(&mut self.key), self.written))
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let file = self
            .file
            .as_mut()
            .ok_or_else(|| io::Error::other("blob already committed"))?;
        let n = file.write(buf)?;
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.as_mut().map_or(Ok(()), Write::flush)
    }
}

impl Drop for BlobWriter {
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A seized disk shows the day a blob came, not the moment, and only this account can
    /// enter the folders.
    #[test]
    fn blobs_show_the_day_and_are_private() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("blobs");
        let blobs = BlobStore::open(&root).unwrap();
        let (key, _) = blobs.write_blob(b"ciphertext").unwrap();
        let day = start_of_day();
        let path = blobs.path(&key).unwrap();
        for p in [&path, &path.parent().unwrap().to_owned(), &root.join("tmp")] {
            let meta = fs::metadata(p).unwrap();
            assert_eq!(meta.modified().unwrap(), day, "{}", p.display());
            assert_eq!(meta.accessed().unwrap(), day, "{}", p.display());
        }
        let since_midnight = std::time::SystemTime::now().duration_since(day).unwrap();
        assert!(since_midnight < std::time::Duration::from_secs(86_400));
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
    #[test]
    fn pending_blobs_go_only_when_no_row_can_hold_them() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(dir.path()).unwrap();
        let exists = |key: &str| blobs.read(key).is_ok();
        let write = || blobs.write_blob(b"ciphertext").unwrap().0;

        let (a, b) = (write(), write());
        let mut pending = PendingBlobs::new(&blobs);
        pending.push(a.clone());
        pending.push(b.clone());
        drop(pending);
        assert!(!exists(&a) && !exists(&b), "refused before the row write");

        let c = write();
        let mut pending = PendingBlobs::new(&blobs);
        pending.push(c.clone());
        drop(pending.in_flight());
        assert!(
            exists(&c),
            "the row may be stored: left to the orphan sweep"
        );

        let d = write();
        let mut pending = PendingBlobs::new(&blobs);
        pending.push(d.clone());
        pending.in_flight().refused();
        assert!(!exists(&d), "the database stored nothing");
    }

    #[test]
    fn commit_abandon_delete() {
        let dir = tempfile::tempdir().unwrap();
        let blobs = BlobStore::open(dir.path()).unwrap();
        let mut w = blobs.create().unwrap();
        w.write_all(b"ciphertext").unwrap();
        let (key, size) = w.commit().unwrap();
        assert_eq!(size, 10);
        assert_eq!(blobs.read(&key).unwrap(), b"ciphertext");
        let mut abandoned = blobs.create().unwrap();
        abandoned.write_all(b"half").unwrap();
        drop(abandoned);
        assert_eq!(
            fs::read_dir(dir.path().join("tmp")).unwrap().count(),
            0,
            "no leftovers"
        );
        blobs.delete(&key).unwrap();
        blobs.delete(&key).unwrap();
        assert!(blobs.read(&key).is_err());
        assert!(matches!(
            blobs.read("../../etc/passwd"),
            Err(BlobError::BadKey(_))
        ));
    }
}
