use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use panah_i18n::Catalog;
use panah_store::{BlobStore, Store};
use sha2::{Digest, Sha256};

use crate::limits::Budget;
use crate::pages::cache::PageCache;

/// Tunables a hub operator may change.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long an API token lives.
    pub token_ttl_secs: i64,
    /// How long a login challenge may wait for its answer.
    pub challenge_ttl_secs: i64,
    /// Coordinator logins per second, hub-wide (bursts up to ten times that).
    pub logins_per_second: u32,
    /// Files in one contact submission.
    pub max_files: usize,
    /// Bytes of files in one contact submission.
    pub max_upload_bytes: u64,
    /// Characters in one message.
    pub max_message_chars: usize,
    /// Days a conversation is kept after its last message.
    pub retention_days: i64,
    /// Contact submissions a minute, per collective and for the whole hub.
    pub submissions_per_minute: u32,
    pub hub_submissions_per_minute: u32,
    /// Lookups a minute, per collective and for the whole hub, of each kind a stranger can
    /// try to guess: codenames on the replies page, and receipt codes on the ledger's
    /// receipt page (each kind has its own budget of this size). `lookups_per_minute` in the
    /// configuration file.
    pub lookups_per_minute: u32,
    pub hub_lookups_per_minute: u32,
    /// Uploads being received at once, hub-wide; more get "busy, try again".
    pub max_concurrent_uploads: usize,
    /// Seconds a rendered public page (home, appeal, the contact and replies forms, the
    /// ledger page and its exports) is reused; 0 turns the cache off.
    pub page_cache_secs: u64,
    /// The hub's public address (`https://hub.example`). With `https://`, every answer
    /// carries Strict-Transport-Security.
    pub public_url: Option<String>,
    /// The hub's onion address (`http://….onion`). Pages reached any other way carry
    /// Onion-Location, so that Tor Browser offers it.
    pub onion_url: Option<String>,
    /// The host that names the collectives' logs when neither address above is configured
    /// (a test or demo hub: `panah serve` sets `localhost:PORT`, never an IP address).
    pub fallback_host: Option<String>,
    /// Whether connections, uploads and the doors' budgets are shared out per source
    /// (see [`crate::sources`]).
    pub fairness: crate::sources::Fairness,
    /// Connections served at once, hub-wide (keep it well under the open-file limit).
    pub max_connections: usize,
    /// Connections and uploads one source may hold at once.
    pub connections_per_source: u32,
    pub uploads_per_source: u32,
    /// Seconds a client has to send a request's headers (and an idle kept-alive
    /// connection stays open).
    pub header_read_secs: u64,
    /// An upload that sends nothing for this many seconds, or less than
    /// `min_upload_bytes_per_sec` on average after as long, is cut off.
    pub upload_idle_secs: u64,
    pub min_upload_bytes_per_sec: u64,
}

impl Settings {
    /// The origin of a collective's log of `kind`, which the hub alone fixes: the host of
    /// its public address (else its onion address, else the fallback host), then
    /// `/c/{slug}/{kind}`. A coordinator cannot choose it, so no collective can start a log
    /// that names another's path, and clients pin it.
    pub fn log_origin(&self, slug: &panah_core::Slug, kind: panah_core::tlog::LogKind) -> String {
        let host = self
            .public_url
            .as_deref()
            .or(self.onion_url.as_deref())
            .and_then(|u| u.split_once("://").map(|(_, h)| h))
            .or(self.fallback_host.as_deref())
            .unwrap_or("localhost");
        format!("{host}/c/{slug}/{}", kind.word())
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            token_ttl_secs: 15 * 60,
            challenge_ttl_secs: 60,
            logins_per_second: 20,
            max_files: 5,
            max_upload_bytes: 50 * 1024 * 1024,
            max_message_chars: 20_000,
            retention_days: 90,
            submissions_per_minute: 60,
            hub_submissions_per_minute: 600,
            lookups_per_minute: 60,
            hub_lookups_per_minute: 600,
            max_concurrent_uploads: 64,
            page_cache_secs: 5,
            public_url: None,
            onion_url: None,
            fallback_host: None,
            fairness: crate::sources::Fairness::Auto,
            max_connections: 512,
            connections_per_source: 32,
            uploads_per_source: 4,
            header_read_secs: 10,
            upload_idle_secs: 30,
            min_upload_bytes_per_sec: 256,
        }
    }
}

/// What every handler can reach. Cheap to clone.
#[derive(Clone, Debug)]
pub struct AppState {
    pub(crate) inner: Arc<Inner>,
}

#[derive(Debug)]
pub(crate) struct Inner {
    pub store: Store,
    pub blobs: BlobStore,
    /// Told of every log append this process takes (the static copy's publisher waits on
    /// it).
    pub appended: tokio::sync::Notify,
    pub catalog: Catalog,
    pub settings: Settings,
    /// The key codenames are derived under (see `panah_core::codename`).
    pub codename_secret: panah_core::codename::HubSecret,
    /// The start digits of codenames' check digits, from the same secret.
    pub codename_check: panah_core::CheckKey,
    /// The stylesheet, inlined in every page so a page is one round trip.
    pub css: &'static str,
    /// The CSP value, with the stylesheet's hash.
    pub csp: axum::http::HeaderValue,
    /// Logins per coordinator key (and source), and hub-wide.
    pub logins: Budget<[u8; 32]>,
    /// Login challenges for keys or collectives the hub does not know, hub-wide: they
    /// never spend a real coordinator's budget, and cannot hammer the database unbounded.
    pub stranger_logins: Budget<()>,
    pub submissions: Budget<i64>,
    pub codename_lookups: Budget<i64>,
    /// Receipt-code lookups on the ledger's receipt page (a budget of the same size).
    pub receipt_lookups: Budget<i64>,
    pub pages: PageCache,
    /// Ledger totals and latest entries, brought up to date incrementally.
    pub summaries: crate::ledger::summary::Summaries,
    pub upload_slots: std::sync::Arc<tokio::sync::Semaphore>,
    /// Counts logged hourly instead of a line per event.
    pub activity: crate::activity::Activity,
    /// Connections and uploads per source (a keyed hash in memory).
    pub sources: crate::sources::Sources,
    /// Each collective's signed team, replayed once per size of its log.
    pub teams: crate::api::team::Teams,
    /// Collectives and their coordinators' keys, as the contact drop needs them.
    pub doors: crate::doors::Doors,
}

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error(transparent)]
    Catalog(#[from] panah_i18n::CatalogError),
    #[error(transparent)]
    Store(#[from] panah_store::StoreError),
}

/// The pages' stylesheet (inlined in every page; the coordinators' desk builds on it).
pub const STYLESHEET: &str = include_str!("../assets/panah.css");
const CSS: &str = STYLESHEET;

/// Logins a minute for one coordinator's key: far more than a person needs, so that a
/// stranger replaying someone's public key (it is in the team log) is held back by the
/// source share, not the key's.
const LOGINS_PER_KEY_PER_MINUTE: u32 = 120;

impl AppState {
    pub async fn new(
        store: Store,
        blobs: BlobStore,
        settings: Settings,
    ) -> Result<Self, StateError> {
        let catalog = Catalog::load()?;
        let sources = crate::sources::Sources::new(
            settings.fairness,
            crate::sources::Caps {
                connections: settings.connections_per_source.max(1),
                uploads: settings.uploads_per_source.max(1),
            },
        );
        let settings_cache = settings.page_cache_secs;
        let upload_slots = std::sync::Arc::new(tokio::sync::Semaphore::new(
            settings.max_concurrent_uploads.max(1),
        ));
        let codename_secret =
            panah_core::codename::HubSecret::new(store.hub_secret("codename").await?);
        let css = CSS.trim_end();
        let hash = STANDARD.encode(Sha256::digest(css.as_bytes()));
        let csp = axum::http::HeaderValue::from_str(&format!(
            "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self' data:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'"
        ))
        .map_err(|e| panah_store::StoreError::Corrupt(format!("the page policy: {e}")))?;
        // Every command a coordinator runs is a login: a source's share is a quarter of the
        // key's, but at least 30 a minute.
        let logins = Budget::with_share(
            LOGINS_PER_KEY_PER_MINUTE,
            30,
            settings.logins_per_second * 60,
        );
        let stranger_logins = Budget::new(settings.logins_per_second * 60, u32::MAX / 2);
        let submissions = Budget::new(
            settings.submissions_per_minute,
            settings.hub_submissions_per_minute,
        );
        let codename_lookups =
            Budget::new(settings.lookups_per_minute, settings.hub_lookups_per_minute);
        let receipt_lookups =
            Budget::new(settings.lookups_per_minute, settings.hub_lookups_per_minute);
        Ok(AppState {
            inner: Arc::new(Inner {
                receipt_lookups,
                store,
                blobs,
                appended: tokio::sync::Notify::new(),
                catalog,
                settings,
                codename_check: panah_core::CheckKey::derive(codename_secret.as_bytes()),
                codename_secret,
                css,
                csp,
                logins,
                stranger_logins,
                submissions,
                codename_lookups,
                upload_slots,
                summaries: Default::default(),
                activity: Default::default(),
                sources,
                teams: Default::default(),
                doors: Default::default(),
                pages: PageCache::new(std::time::Duration::from_secs(settings_cache)),
            }),
        })
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }

    /// Told of every log append this process takes.
    pub fn appended(&self) -> &tokio::sync::Notify {
        &self.inner.appended
    }

    pub fn blobs(&self) -> &BlobStore {
        &self.inner.blobs
    }

    pub fn sources(&self) -> &crate::sources::Sources {
        &self.inner.sources
    }

    pub fn activity(&self) -> &crate::activity::Activity {
        &self.inner.activity
    }
}
