//! The hub's data folder is private to the account that runs it: the folder is created
//! 0700, the SQLite files are made 0600, and `serve` refuses to start when the folder or
//! the database can be read by others (unless the operator says `--allow-loose-permissions`,
//! and then it warns). The database holds the codename secret and lookup keys; the blobs
//! are ciphertext, but their number and sizes are still nobody else's business.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use panah_store::Location;

/// Creates `data` (and any missing parents) 0700 if it does not exist.
pub fn create_folder(data: &Path) -> anyhow::Result<()> {
    if data.exists() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(data)
        .with_context(|| format!("cannot create the data folder {}", data.display()))
}

/// The SQLite database and its journal files, where they exist.
fn database_files(location: &Location) -> Vec<PathBuf> {
    match location {
        Location::Sqlite { path, .. } => ["", "-wal", "-shm", "-journal"]
            .iter()
            .map(|suffix| {
                let mut p = path.clone().into_os_string();
                p.push(suffix);
                PathBuf::from(p)
            })
            .filter(|p| p.exists())
            .collect(),
        Location::Postgres { .. } => Vec::new(),
    }
}

/// Takes away every permission of group and others on the database files (tightening
/// what the account owns is always safe).
pub fn tighten(location: &Location) -> anyhow::Result<()> {
    #[cfg(unix)]
    for file in database_files(location) {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&file)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(mode & 0o700))
                .with_context(|| format!("cannot make {} private", file.display()))?;
        }
    }
    Ok(())
}

/// What is readable or writable by others than the hub's own account: the data folder,
/// its blob folder and the database files.
pub fn loose(data: &Path, location: &Location) -> Vec<String> {
    let mut found = Vec::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mut paths = vec![data.to_owned(), data.join("blobs")];
        paths.extend(database_files(location));
        for path in paths {
            if let Ok(meta) = std::fs::metadata(&path) {
                let mode = meta.permissions().mode() & 0o777;
                if mode & 0o077 != 0 {
                    found.push(format!("{} is {mode:o}", path.display()));
                }
            }
        }
    }
    found
}

/// Refuses (or, when `allow` is set, warns) if anything [`loose`] finds.
pub fn check(data: &Path, location: &Location, allow: bool) -> anyhow::Result<()> {
    let found = loose(data, location);
    if found.is_empty() {
        return Ok(());
    }
    let list = found.join(", ");
    if allow {
        tracing::warn!(
            "others on this machine can read the hub's files ({list}); \
             --allow-loose-permissions was given, so the hub starts anyway"
        );
        return Ok(());
    }
    bail!(
        "others on this machine could read the hub's files: {list}. Make them private to this \
         account (chmod 700 on folders, 600 on files, e.g. `chmod -R go-rwx {}`), or start \
         with --allow-loose-permissions if something else keeps them private",
        data.display()
    )
}

#[cfg(all(test, unix))]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(p: &Path) -> u32 {
        std::fs::metadata(p).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn a_new_folder_is_private_and_a_loose_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("a/b/data");
        create_folder(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
        let db = data.join("panah.db");
        std::fs::write(&db, b"x").unwrap();
        std::fs::set_permissions(&db, std::fs::Permissions::from_mode(0o644)).unwrap();
        let location = Location::Sqlite {
            path: db.clone(),
            create: true,
        };
        let found = loose(&data, &location);
        assert_eq!(found.len(), 1, "{found:?}");
        let refusal = check(&data, &location, false).unwrap_err().to_string();
        assert!(refusal.contains("panah.db is 644"), "{refusal}");
        check(&data, &location, true).unwrap();
        tighten(&location).unwrap();
        assert_eq!(mode(&db), 0o600);
        check(&data, &location, false).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        let refusal = check(&data, &location, false).unwrap_err().to_string();
        assert!(refusal.contains("data is 755"), "{refusal}");
    }
}
