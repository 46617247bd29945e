use std::sync::Arc;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use panah_i18n::Catalog;
use panah_store::Store;
use sha2::{Digest, Sha256};

use crate::limits::RateLimiter;

/// Tunables a hub operator may change.
#[derive(Debug, Clone)]
pub struct Settings {
    /// How long an API token lives.
    pub token_ttl_secs: i64,
    /// How long a login challenge may wait for its answer.
    pub challenge_ttl_secs: i64,
    /// Login attempts per second, hub-wide (bursts up to ten times that).
    pub logins_per_second: u32,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            token_ttl_secs: 15 * 60,
            challenge_ttl_secs: 60,
            logins_per_second: 20,
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
    pub catalog: Catalog,
    pub settings: Settings,
    /// The stylesheet, inlined in every page so a page is one round trip.
    pub css: &'static str,
    /// The CSP value, with the stylesheet's hash.
    pub csp: String,
    pub login_limiter: RateLimiter,
}

const CSS: &str = include_str!("../assets/panah.css");

impl AppState {
    pub fn new(store: Store, settings: Settings) -> Result<Self, panah_i18n::CatalogError> {
        let catalog = Catalog::load()?;
        let css = CSS.trim_end();
        let hash = STANDARD.encode(Sha256::digest(css.as_bytes()));
        let csp = format!(
            "default-src 'none'; style-src 'sha256-{hash}'; img-src 'self' data:; form-action 'self'; \
             frame-ancestors 'none'; base-uri 'none'"
        );
        let login_limiter =
            RateLimiter::new(settings.logins_per_second, settings.logins_per_second * 10);
        Ok(AppState {
            inner: Arc::new(Inner {
                store,
                catalog,
                settings,
                css,
                csp,
                login_limiter,
            }),
        })
    }

    pub fn store(&self) -> &Store {
        &self.inner.store
    }
}
