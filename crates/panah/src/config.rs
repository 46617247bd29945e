//! Where the hub keeps its data and how it listens: flags, then `PANAH_*` environment
//! variables, then a TOML file, then defaults.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::Args;
use panah_server::Settings;
use panah_store::{BlobConfig, Location};
use serde::Deserialize;

pub const DEFAULT_DATA: &str = "panah-data";
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8080";

/// Options shared by every command that opens the hub's database.
#[derive(Args, Debug, Clone, Default)]
pub struct StoreArgs {
    /// A TOML file with any of: data, listen, database, token_ttl_secs, logins_per_second,
    /// retention_days, max_files, max_upload_mb, submissions_per_minute,
    /// hub_submissions_per_minute, lookups_per_minute, hub_lookups_per_minute, public_url,
    /// onion_url (see panah.example.toml).
    #[arg(long, env = "PANAH_CONFIG", value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The hub's data folder [default: ./panah-data].
    #[arg(long, env = "PANAH_DATA", value_name = "DIR")]
    pub data: Option<PathBuf>,
    /// sqlite:PATH or postgres://… [default: SQLite in the data folder].
    #[arg(long, env = "PANAH_DATABASE", value_name = "URL")]
    pub database: Option<String>,
    /// Where blobs (ciphertext) are kept: folder (blobs/ in the data folder), database, or
    /// s3://BUCKET/PREFIX (credentials from AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)
    /// [default: folder].
    #[arg(long, env = "PANAH_BLOBS", value_name = "WHERE")]
    pub blobs: Option<String>,
    /// Also write every collective's public logs (ledger and team) as static files, to
    /// s3://BUCKET/PREFIX or a folder, for a CDN or any static host to serve while the hub
    /// is down or blocked.
    #[arg(long, env = "PANAH_PUBLISH_TO", value_name = "WHERE")]
    pub publish_to: Option<String>,
}

#[derive(Args, Debug, Clone)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on; port 0 picks a free port [default: 127.0.0.1:8080].
    #[arg(long, env = "PANAH_LISTEN", value_name = "ADDR")]
    pub listen: Option<String>,
    /// Log format.
    #[arg(long, env = "PANAH_LOG_FORMAT", default_value = "text", value_parser = ["text", "json"])]
    pub log_format: String,
    /// Start even if others on this machine can read the data folder or the database
    /// (by default the hub refuses; it warns instead with this).
    #[arg(long)]
    pub allow_loose_permissions: bool,
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data: Option<PathBuf>,
    listen: Option<String>,
    database: Option<String>,
    /// `folder`, `database` or `s3://BUCKET/PREFIX`.
    blobs: Option<String>,
    /// `s3://BUCKET/PREFIX` or a folder: the public logs as static files.
    publish_to: Option<String>,
    /// The S3-compatible server, for a bucket not at AWS: `https://s3.example`.
    s3_endpoint: Option<String>,
    s3_region: Option<String>,
    token_ttl_secs: Option<i64>,
    logins_per_second: Option<u32>,
    retention_days: Option<i64>,
    max_files: Option<usize>,
    max_upload_mb: Option<u64>,
    submissions_per_minute: Option<u32>,
    hub_submissions_per_minute: Option<u32>,
    /// Codename logins on the replies page and receipt checks on the ledger, per minute.
    lookups_per_minute: Option<u32>,
    hub_lookups_per_minute: Option<u32>,
    /// `https://hub.example`: turns on Strict-Transport-Security.
    public_url: Option<String>,
    /// `http://….onion`: sent as Onion-Location on pages reached another way.
    onion_url: Option<String>,
    /// `auto`, `on` or `off`: share connections, uploads and budgets out per source.
    fairness: Option<String>,
    max_connections: Option<usize>,
    connections_per_source: Option<u32>,
    uploads_per_source: Option<u32>,
    header_read_secs: Option<u64>,
    upload_idle_secs: Option<u64>,
    min_upload_bytes_per_sec: Option<u64>,
}

/// Everything `serve` needs, resolved.
#[derive(Debug)]
pub struct HubConfig {
    /// The data folder: the SQLite database (by default) and the blob folder.
    pub data: PathBuf,
    pub location: Location,
    pub blobs: BlobConfig,
    /// Where the public logs' static copy goes, if anywhere.
    pub publish_to: Option<panah_server::publish::PublishTo>,
    pub listen: SocketAddr,
    pub settings: Settings,
}

impl HubConfig {
    /// Whether the hub's database is there. A PostgreSQL database always counts: its
    /// server answers for it, and a wrong URL fails to connect.
    pub fn exists(&self) -> bool {
        match &self.location {
            Location::Sqlite { path, .. } => path.is_file(),
            Location::Postgres { .. } => true,
        }
    }

    /// Where the hub's database is, for messages (a PostgreSQL password is hidden).
    pub fn describe(&self) -> String {
        match &self.location {
            Location::Sqlite { path, .. } => path.display().to_string(),
            Location::Postgres { url } => panah_store::redact(url),
        }
    }
}

fn read_file(path: Option<&Path>) -> anyhow::Result<FileConfig> {
    let Some(path) = path else {
        return Ok(FileConfig::default());
    };
    let text = std::fs::read_to_string(path)
        .with_context(|| format!("cannot read the config file {}", path.display()))?;
    toml::from_str(&text)
        .with_context(|| format!("the config file {} is not valid", path.display()))
}

impl StoreArgs {
    pub fn resolve(&self, listen: Option<&str>) -> anyhow::Result<HubConfig> {
        let file = read_file(self.config.as_deref())?;
        let data = self
            .data
            .clone()
            .or(file.data)
            .unwrap_or_else(|| PathBuf::from(DEFAULT_DATA));
        let location = match self.database.clone().or(file.database) {
            Some(url) => Location::parse(&url)?,
            None => Location::default_in(&data),
        };
        let mut blobs = match self.blobs.clone().or(file.blobs) {
            Some(text) => BlobConfig::parse(&text).map_err(|e| anyhow::anyhow!("blobs: {e}"))?,
            None => BlobConfig::Folder,
        };
        let mut publish_to = match self.publish_to.clone().or(file.publish_to) {
            Some(text) => Some(
                panah_server::publish::PublishTo::parse(&text)
                    .map_err(|e| anyhow::anyhow!("publish_to: {e}"))?,
            ),
            None => None,
        };
        let endpoint = match file.s3_endpoint {
            Some(endpoint) => {
                let endpoint = endpoint.trim().trim_end_matches('/').to_owned();
                if !(endpoint.starts_with("https://") || endpoint.starts_with("http://")) {
                    bail!("s3_endpoint must be an http(s):// address, not {endpoint:?}");
                }
                Some(endpoint)
            }
            None => None,
        };
        let mut s3_used = false;
        for s3 in [
            match &mut blobs {
                BlobConfig::S3(s3) => Some(s3),
                _ => None,
            },
            match &mut publish_to {
                Some(panah_server::publish::PublishTo::S3(s3)) => Some(s3),
                _ => None,
            },
        ]
        .into_iter()
        .flatten()
        {
            s3.endpoint = endpoint.clone();
            s3.region = file.s3_region.clone();
            s3_used = true;
        }
        if !s3_used && (endpoint.is_some() || file.s3_region.is_some()) {
            bail!("s3_endpoint and s3_region apply only to an s3:// blobs or publish_to");
        }
        let listen_text = listen
            .map(str::to_owned)
            .or(file.listen)
            .unwrap_or_else(|| DEFAULT_LISTEN.to_owned());
        let listen: SocketAddr = listen_text.parse().with_context(|| {
            format!("--listen {listen_text:?} is not an address like 127.0.0.1:8080 or [::1]:8080")
        })?;
        let mut settings = Settings::default();
        let s = &mut settings;
        set(
            &mut s.token_ttl_secs,
            file.token_ttl_secs,
            "token_ttl_secs",
            60..=86_400,
        )?;
        set(
            &mut s.logins_per_second,
            file.logins_per_second,
            "logins_per_second",
            1..=10_000,
        )?;
        set(
            &mut s.retention_days,
            file.retention_days,
            "retention_days",
            1..=3650,
        )?;
        set(&mut s.max_files, file.max_files, "max_files", 1..=50)?;
        let mut upload_mb = s.max_upload_bytes / (1024 * 1024);
        set(
            &mut upload_mb,
            file.max_upload_mb,
            "max_upload_mb",
            1..=2048,
        )?;
        s.max_upload_bytes = upload_mb * 1024 * 1024;
        set(
            &mut s.submissions_per_minute,
            file.submissions_per_minute,
            "submissions_per_minute",
            1..=100_000,
        )?;
        set(
            &mut s.hub_submissions_per_minute,
            file.hub_submissions_per_minute,
            "hub_submissions_per_minute",
            1..=1_000_000,
        )?;
        set(
            &mut s.lookups_per_minute,
            file.lookups_per_minute,
            "lookups_per_minute",
            1..=10_000_000,
        )?;
        set(
            &mut s.hub_lookups_per_minute,
            file.hub_lookups_per_minute,
            "hub_lookups_per_minute",
            1..=10_000_000,
        )?;
        if let Some(word) = &file.fairness {
            s.fairness = panah_server::sources::Fairness::parse(word)
                .with_context(|| format!("fairness must be auto, on or off, not {word:?}"))?;
        }
        set(
            &mut s.max_connections,
            file.max_connections,
            "max_connections",
            16..=1_000_000,
        )?;
        set(
            &mut s.connections_per_source,
            file.connections_per_source,
            "connections_per_source",
            1..=1_000_000,
        )?;
        set(
            &mut s.uploads_per_source,
            file.uploads_per_source,
            "uploads_per_source",
            1..=10_000,
        )?;
        set(
            &mut s.header_read_secs,
            file.header_read_secs,
            "header_read_secs",
            1..=300,
        )?;
        set(
            &mut s.upload_idle_secs,
            file.upload_idle_secs,
            "upload_idle_secs",
            5..=600,
        )?;
        set(
            &mut s.min_upload_bytes_per_sec,
            file.min_upload_bytes_per_sec,
            "min_upload_bytes_per_sec",
            0..=1_000_000,
        )?;
        s.public_url = file
            .public_url
            .map(|u| site_address(&u, "public_url", false))
            .transpose()?;
        s.onion_url = file
            .onion_url
            .map(|u| site_address(&u, "onion_url", true))
            .transpose()?;
        Ok(HubConfig {
            data,
            location,
            blobs,
            publish_to,
            listen,
            settings,
        })
    }

    /// Opens an existing hub's database and never creates one: an operator who forgot
    /// --data, --database or --config gets an error, not a second, empty hub.
    pub async fn open_existing(&self) -> anyhow::Result<(HubConfig, panah_store::Store)> {
        let config = self.resolve(None)?;
        if !config.exists() {
            bail!(
                "there is no hub in {}. Pass the --data, --database or --config that \
                 `panah serve` uses for your hub (or set PANAH_DATA, PANAH_DATABASE or \
                 PANAH_CONFIG), or create a new hub with `panah admin init --data DIR`.",
                config.describe()
            );
        }
        let store = panah_store::Store::open(&config.location).await?;
        Ok((config, store))
    }
}

/// A site's address as the config gives it: `http(s)://host[:port]`, nothing after the
/// host (pages add their own paths); for `onion`, a `.onion` host over http or https.
fn site_address(url: &str, name: &str, onion: bool) -> anyhow::Result<String> {
    let url = url.trim().trim_end_matches('/');
    let host = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"))
        .with_context(|| format!("{name} must start with https:// or http://, not {url:?}"))?;
    let name_part = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let allowed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']');
    if host.is_empty() || !host.chars().all(allowed) {
        bail!("{name} must be just a scheme and a host, like https://hub.example, not {url:?}");
    }
    if onion != name_part.ends_with(".onion") {
        bail!(
            "{name} {} a .onion address: {url:?}",
            if onion { "must be" } else { "must not be" }
        );
    }
    Ok(url.to_owned())
}

/// Takes a setting from the config file if it is there and within its range.
fn set<T>(
    target: &mut T,
    value: Option<T>,
    name: &str,
    range: std::ops::RangeInclusive<T>,
) -> anyhow::Result<()>
where
    T: PartialOrd + std::fmt::Display + Copy,
{
    if let Some(v) = value {
        if !range.contains(&v) {
            bail!(
                "{name} must be between {} and {}, not {v}",
                range.start(),
                range.end()
            );
        }
        *target = v;
    }
    Ok(())
}

pub async fn open_store(config: &HubConfig) -> anyhow::Result<panah_store::Store> {
    if let Location::Sqlite { create: true, path } = &config.location {
        if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            crate::private::create_folder(dir)?;
        }
    }
    let store = panah_store::Store::open(&config.location).await?;
    crate::private::tighten(&config.location)?;
    Ok(store)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example the README points to is a valid configuration.
    #[test]
    fn the_example_config_is_valid() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("panah.toml");
        let example = include_str!("../../../examples/panah.toml");
        let with_addresses = example
            .replace("# public_url", "public_url")
            .replace("# publish_to", "publish_to")
            .replace("# s3_endpoint", "s3_endpoint")
            .replace("…56 characters…", &"a".repeat(56));
        for text in [
            example.to_owned(),
            with_addresses.replace("# onion_url", "onion_url"),
        ] {
            std::fs::write(&path, &text).unwrap();
            let args = StoreArgs {
                config: Some(path.clone()),
                ..StoreArgs::default()
            };
            let config = args.resolve(None).expect("the example config is valid");
            assert_eq!(config.data, PathBuf::from("/var/lib/panah"));
            assert_eq!(config.settings.retention_days, 90);
            assert_eq!(config.blobs, BlobConfig::Folder);
        }
    }

    #[test]
    fn site_addresses_are_a_scheme_and_a_host() {
        assert_eq!(
            site_address("https://hub.example/", "public_url", false).unwrap(),
            "https://hub.example"
        );
        let onion = "http://abcdefghijklmnopqrstuvwxyz234567abcdefghijklmnopqrstuv.onion";
        assert_eq!(site_address(onion, "onion_url", true).unwrap(), onion);
        for (url, onion) in [
            ("hub.example", false),
            ("https://hub.example/c/x", false),
            ("https://hub.example?x=1", false),
            ("https://evil\r\nX: y", false),
            (onion, false),
            ("https://hub.example", true),
            ("ftp://x.onion", true),
        ] {
            assert!(site_address(url, "x", onion).is_err(), "{url}");
        }
    }
}
