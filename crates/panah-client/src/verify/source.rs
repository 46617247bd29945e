//! Where a log (the ledger, or any other kind) is read from: a hub or a mirror over
//! HTTP(S), or a mirror folder on disk. Every download has a size limit and a timeout:
//! whoever serves the files may be hostile.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use panah_core::tlog::tiles::{TileKind, TileRef, WIDTH};
use panah_core::tlog::LogKind;
use tokio::task::JoinSet;

use super::VerifyError;
use crate::http::{read_bounded, BodyError};

/// The most bytes of a checkpoint or keys file.
const MAX_SMALL: u64 = 64 * 1024;
/// Downloads at once.
const PARALLEL: usize = 16;

/// The most entries a check downloads by default. Checking holds a log in memory (about
/// 1.1 GB for a million ledger entries, measured): a hostile server whose checkpoint claims
/// millions of entries must not be able to make a supporter's laptop swap. A collective's
/// ledger is far smaller; `--max-entries` raises it, up to `MAX_CHECKED_SIZE`.
pub const DEFAULT_MAX_ENTRIES: u64 = 500_000;

#[derive(Debug, Clone)]
pub struct Source {
    pub kind: LogKind,
    pub place: Place,
    /// The most entries a check of this source downloads.
    pub max_entries: u64,
}

#[derive(Debug, Clone)]
pub enum Place {
    /// The log's base URL, without a trailing slash: `https://hub.example/c/x/ledger`.
    Http { base: String, http: reqwest::Client },
    /// A folder holding `checkpoint`, `keys` and `tile/…`.
    Dir(PathBuf),
}

impl std::fmt::Display for Source {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.place {
            Place::Http { base, .. } => f.write_str(base),
            Place::Dir(p) => write!(f, "{}", p.display()),
        }
    }
}

impl Source {
    /// What the source is remembered by: the log's URL, or the folder's absolute path.
    pub fn identity(&self) -> String {
        match &self.place {
            Place::Http { base, .. } => base.clone(),
            Place::Dir(p) => std::fs::canonicalize(p)
                .unwrap_or_else(|_| p.clone())
                .display()
                .to_string(),
        }
    }

    /// Reads an address of a log of `kind` as people write it: a URL of the log or of the
    /// collective (`https://hub.example/c/roshanai`), an address without a scheme (the one
    /// the ledger page shows: `hub.example/c/roshanai/ledger`; https, or http for a local
    /// or .onion host), or a folder on disk.
    pub fn parse(address: &str, kind: LogKind) -> Result<Source, VerifyError> {
        let address = address.trim();
        let path = Path::new(address);
        let word = kind.word();
        if path.is_dir() {
            return Ok(Source {
                kind,
                place: Place::Dir(path.to_path_buf()),
                max_entries: DEFAULT_MAX_ENTRIES,
            });
        }
        let url = if address.starts_with("http://") || address.starts_with("https://") {
            address.to_owned()
        } else if address.contains("/c/") && !address.starts_with('/') && !address.starts_with('.')
        {
            let host = address.split('/').next().unwrap_or_default();
            let scheme = if crate::hub::is_local_or_onion(host) {
                "http"
            } else {
                "https"
            };
            format!("{scheme}://{address}")
        } else {
            return Err(VerifyError::Address(format!("{address:?} is neither a folder nor a {word} address like https://hub.example/c/roshanai/{word}")));
        };
        let mut base = url.trim_end_matches('/').to_owned();
        if base.contains('?') || base.contains('#') || base.contains(' ') {
            return Err(VerifyError::Address(format!(
                "{address:?} is not a {word} address: leave out ?, # and spaces"
            )));
        }
        let parts: Vec<&str> = base.split('/').collect();
        // scheme, "", host, "c", slug[, kind]
        match parts.as_slice() {
            [_, "", host, "c", slug] if !host.is_empty() && !slug.is_empty() => {
                base.push('/');
                base.push_str(word);
            }
            [_, "", host, "c", slug, last] if !host.is_empty() && !slug.is_empty() && *last == word => {}
            _ => return Err(VerifyError::Address(format!("{address:?} is not a {word} address; it should look like https://hub.example/c/roshanai/{word}"))),
        }
        let http = reqwest::Client::builder()
            .timeout(Duration::from_secs(60))
            .connect_timeout(Duration::from_secs(20))
            .user_agent("panah")
            // Entry bundles are text and shrink about 19x; limits apply after decoding.
            .gzip(true)
            // A redirect may move within the same origin (a mirror's layout), never to
            // another host, port or scheme: the address given is the one being checked.
            .redirect(reqwest::redirect::Policy::custom(|attempt| {
                // Same scheme, host and port: never to plain HTTP or another service.
                let same_origin = attempt
                    .previous()
                    .first()
                    .is_some_and(|first| first.origin() == attempt.url().origin());
                if same_origin && attempt.previous().len() < 5 {
                    attempt.follow()
                } else {
                    attempt.stop()
                }
            }))
            .build()
            .map_err(|e| VerifyError::Fetch(e.to_string()))?;
        Ok(Source {
            kind,
            place: Place::Http { base, http },
            max_entries: DEFAULT_MAX_ENTRIES,
        })
    }

    /// A file of the log by its relative path (`checkpoint`, `keys`, `tile/…`), or `None`
    /// if the source does not have it.
    pub async fn get(&self, rel: &str, limit: u64) -> Result<Option<Vec<u8>>, VerifyError> {
        let too_large = |what: &dyn std::fmt::Display| {
            VerifyError::Fetch(format!("{what} is larger than {limit} bytes"))
        };
        match &self.place {
            Place::Dir(dir) => {
                let path = dir.join(rel);
                let file_error = |source| VerifyError::File {
                    what: "read",
                    path: path.clone(),
                    source,
                };
                // Regular files only (a `checkpoint` that is `/dev/zero` or a pipe is not a
                // log's file), and never more than `limit` bytes read, whatever the size says.
                match std::fs::metadata(&path) {
                    Ok(m) if !m.is_file() => Err(VerifyError::Fetch(format!(
                        "{} is not a regular file",
                        path.display()
                    ))),
                    Ok(m) if m.len() > limit => Err(too_large(&path.display())),
                    Ok(_) => {
                        use std::io::Read;
                        let mut bytes = Vec::new();
                        std::fs::File::open(&path)
                            .and_then(|f| f.take(limit + 1).read_to_end(&mut bytes))
                            .map_err(file_error)?;
                        if bytes.len() as u64 > limit {
                            return Err(too_large(&path.display()));
                        }
                        Ok(Some(bytes))
                    }
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
                    Err(source) => Err(file_error(source)),
                }
            }
            Place::Http { base, http } => {
                let url = format!("{base}/{rel}");
                let res = http
                    .get(&url)
                    .send()
                    .await
                    .map_err(|e| VerifyError::Fetch(format!("cannot reach {url}: {e}")))?;
                if res.status() == reqwest::StatusCode::NOT_FOUND {
                    return Ok(None);
                }
                if !res.status().is_success() {
                    return Err(VerifyError::Fetch(format!(
                        "{url} answered HTTP {}",
                        res.status().as_u16()
                    )));
                }
                let body = read_bounded(res, limit).await.map_err(|e| match e {
                    BodyError::TooLarge => too_large(&url),
                    BodyError::CutOff(e) => {
                        VerifyError::Fetch(format!("the download of {url} was cut off: {e}"))
                    }
                })?;
                Ok(Some(body))
            }
        }
    }

    pub async fn checkpoint(&self) -> Result<Vec<u8>, VerifyError> {
        self.get("checkpoint", MAX_SMALL)
            .await?
            .ok_or_else(|| VerifyError::NoCheckpoint {
                at: self.to_string(),
                kind: self.kind.word(),
            })
    }

    pub async fn keys(&self) -> Result<Option<Vec<u8>>, VerifyError> {
        self.get("keys", MAX_SMALL).await
    }

    /// Downloads the given tiles, several at a time. A tile the source does not have is
    /// simply absent from the answer (the audit names it).
    pub async fn tiles(&self, tiles: &[TileRef]) -> Result<HashMap<TileRef, Vec<u8>>, VerifyError> {
        // A full entry bundle: 256 entries of at most `max_entry` bytes, with length prefixes.
        let max_bundle = WIDTH * (2 + self.kind.max_entry() as u64);
        let mut out = HashMap::with_capacity(tiles.len());
        for chunk in tiles.chunks(PARALLEL * 4) {
            let mut set = JoinSet::new();
            for slice in chunk.chunks(4) {
                let slice = slice.to_vec();
                let source = self.clone();
                set.spawn(async move {
                    let mut got = Vec::with_capacity(slice.len());
                    for tile in slice {
                        let limit = match tile.kind {
                            TileKind::Entries => max_bundle,
                            TileKind::Hashes { .. } => 32 * WIDTH,
                        };
                        if let Some(data) = source.get(&tile.path(), limit).await? {
                            got.push((tile, data));
                        }
                    }
                    Ok::<_, VerifyError>(got)
                });
            }
            while let Some(done) = set.join_next().await {
                out.extend(done.map_err(|e| VerifyError::Stopped(e.to_string()))??);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A mirror folder whose `checkpoint` is a device or a folder is refused, not read
    /// without end.
    #[tokio::test]
    async fn a_folder_serves_regular_files_only() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("keys"), b"key\n").unwrap_or_else(|e| panic!("{e}"));
        #[cfg(unix)]
        std::os::unix::fs::symlink("/dev/zero", dir.path().join("checkpoint"))
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir(dir.path().join("tile")).unwrap_or_else(|e| panic!("{e}"));
        let source = Source::parse(&dir.path().display().to_string(), LogKind::Ledger)
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(matches!(source.keys().await, Ok(Some(k)) if k == b"key\n"));
        #[cfg(unix)]
        assert!(source.checkpoint().await.is_err());
        assert!(source.get("tile", 10).await.is_err());
        assert!(matches!(source.get("nothing", 10).await, Ok(None)));
    }

    fn base(address: &str) -> String {
        match Source::parse(address, LogKind::Ledger).unwrap().place {
            Place::Http { base, .. } => base,
            Place::Dir(_) => panic!("not a folder"),
        }
    }

    #[test]
    fn addresses() {
        assert_eq!(
            base("https://hub.example/c/x/ledger/"),
            "https://hub.example/c/x/ledger"
        );
        assert_eq!(
            base("https://hub.example/c/x"),
            "https://hub.example/c/x/ledger"
        );
        assert_eq!(
            base("hub.example/c/x/ledger"),
            "https://hub.example/c/x/ledger"
        );
        assert_eq!(
            base("127.0.0.1:8080/c/x/ledger"),
            "http://127.0.0.1:8080/c/x/ledger"
        );
        assert_eq!(base("abc.onion/c/x/ledger"), "http://abc.onion/c/x/ledger");
        for bad in [
            "https://hub.example/",
            "https://hub.example/c/x/other",
            "ftp://x/c/y",
            "nowhere",
            "https://h/c/x/ledger?lang=fa",
        ] {
            assert!(Source::parse(bad, LogKind::Ledger).is_err(), "{bad}");
        }
    }
}
