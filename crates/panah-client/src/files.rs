//! Files a coordinator's tools write: secrets and decrypted content, so readable by the
//! owner only, and never over an existing file.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::Path;

use crate::error::ClientError;

/// Creates `path` (it must not exist yet) with mode 0600 and writes `bytes` to it, synced.
pub fn write_private(path: &Path, bytes: &[u8]) -> Result<(), ClientError> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f: File = options
        .open(path)
        .map_err(|e| ClientError::file("create (it must not exist yet)", path, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| ClientError::file("write", path, e))
}

/// Replaces `path` with `bytes` all at once: written to a temporary file beside it, synced,
/// then renamed over it, so a crash leaves the old file or the new one, never half of one.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), ClientError> {
    let name = path
        .file_name()
        .ok_or_else(|| ClientError::Invalid(format!("{} is not a file path", path.display())))?;
    let tmp = path.with_file_name(format!(
        ".{}.tmp-{}",
        name.to_string_lossy(),
        std::process::id()
    ));
    let mut options = OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut f = options
        .open(&tmp)
        .map_err(|e| ClientError::file("write", &tmp, e))?;
    f.write_all(bytes)
        .and_then(|()| f.sync_all())
        .map_err(|e| ClientError::file("write", &tmp, e))?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| ClientError::file("replace", path, e))?;
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        if let Ok(d) = File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Creates `dir` and its parents if missing, readable by the owner only.
pub fn create_private_dir(dir: &Path) -> Result<(), ClientError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|e| ClientError::file("create the folder", dir, e))
}
