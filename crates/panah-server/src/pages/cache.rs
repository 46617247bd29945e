//! A short-lived cache of rendered public pages.
//!
//! The public pages that are the same for every visitor who asks in the same language —
//! home, appeal, the blank contact and replies forms, the ledger page and its CSV and JSON
//! exports — are what a crowd (or a flood) requests. Each rendered page is kept, with a
//! gzip copy, for a few seconds. Expiry is by time alone, so several hub processes sharing
//! one database, and operator changes made with `panah admin`, show up within the TTL.
//! Only successful pages are kept: unknown paths cannot fill it.

use std::collections::HashMap;
use std::io::Write;
use std::sync::RwLock;
use std::time::Duration;

// Tokio's clock, so that a test can move time on instead of sleeping.
use tokio::time::Instant;

use axum::body::{to_bytes, Body, Bytes};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use panah_core::Lang;

/// Pages are small; anything larger than this is not cached.
const MAX_PAGE: usize = 256 * 1024;
/// Exports (the ledger as CSV or JSON) are cached up to this size; a larger one is sent
/// as rendered.
pub(crate) const MAX_EXPORT: usize = 16 * 1024 * 1024;
/// More distinct pages than this and the cache starts over.
const MAX_CACHED_PAGES: usize = 4096;

/// The best gzip of `bytes` (kept, so compressed once).
fn gzip(bytes: &[u8]) -> Bytes {
    let mut gz = flate2::write::GzEncoder::new(
        Vec::with_capacity(bytes.len() / 2),
        flate2::Compression::best(),
    );
    gz.write_all(bytes)
        .and_then(|()| gz.finish())
        .map(Bytes::from)
        .unwrap_or_default()
}

/// What a visitor's request says about the language, plus the path: all a public page
/// depends on.
pub(crate) type Key = (String, Option<Lang>, Option<Lang>);

struct CachedPage {
    born: Instant,
    content_type: HeaderValue,
    html: Bytes,
    gzip: Bytes,
}

pub(crate) struct PageCache {
    ttl: Duration,
    entries: RwLock<HashMap<Key, CachedPage>>,
    /// One render at a time per stripe: when a popular page expires, the requests that
    /// arrive meanwhile wait for the one render instead of each rendering it again.
    renders: [tokio::sync::Mutex<()>; STRIPES],
}

const STRIPES: usize = 16;

impl std::fmt::Debug for PageCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PageCache")
            .field("ttl", &self.ttl)
            .finish_non_exhaustive()
    }
}

fn accepts_gzip(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT_ENCODING)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .any(|e| e.trim().split(';').next() == Some("gzip"))
        })
}

fn respond(entry: &CachedPage, headers: &HeaderMap) -> Response {
    let mut res = if accepts_gzip(headers) {
        let mut r = Body::from(entry.gzip.clone()).into_response();
        r.headers_mut()
            .insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        r
    } else {
        Body::from(entry.html.clone()).into_response()
    };
    let h = res.headers_mut();
    h.insert(header::CONTENT_TYPE, entry.content_type.clone());
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    h.insert(
        header::VARY,
        HeaderValue::from_static("Accept-Language, Accept-Encoding"),
    );
    res
}

impl PageCache {
    pub fn new(ttl: Duration) -> Self {
        PageCache {
            ttl,
            entries: RwLock::new(HashMap::new()),
            renders: std::array::from_fn(|_| tokio::sync::Mutex::new(())),
        }
    }

    fn fresh(&self, key: &Key, headers: &HeaderMap) -> Option<Response> {
        let entries = self.entries.read().ok()?;
        let e = entries.get(key).filter(|e| e.born.elapsed() < self.ttl)?;
        Some(respond(e, headers))
    }

    /// Serves `key` from the cache, or renders it with `render` and keeps a successful
    /// result. A zero TTL turns the cache off.
    pub async fn serve<F>(&self, key: Key, headers: &HeaderMap, render: F) -> Response
    where
        F: std::future::Future<Output = Response>,
    {
        self.serve_up_to(key, headers, MAX_PAGE, render).await
    }

    /// [`PageCache::serve`] for responses up to `max` bytes; a larger one is sent as it
    /// was rendered, uncached.
    pub async fn serve_up_to<F>(
        &self,
        key: Key,
        headers: &HeaderMap,
        max: usize,
        render: F,
    ) -> Response
    where
        F: std::future::Future<Output = Response>,
    {
        if self.ttl.is_zero() {
            return render.await;
        }
        if let Some(res) = self.fresh(&key, headers) {
            return res;
        }
        let stripe = {
            use std::hash::{BuildHasher, RandomState};
            static SEED: std::sync::OnceLock<RandomState> = std::sync::OnceLock::new();
            let hash = SEED.get_or_init(RandomState::new).hash_one(&key);
            usize::try_from(hash % STRIPES as u64).unwrap_or(0)
        };
        let _rendering = self.renders[stripe].lock().await;
        if let Some(res) = self.fresh(&key, headers) {
            return res;
        }
        let res = render.await;
        let too_big = axum::body::HttpBody::size_hint(res.body())
            .upper()
            .is_none_or(|n| n > max as u64);
        if res.status() != StatusCode::OK || too_big {
            return res;
        }
        let content_type = res
            .headers()
            .get(header::CONTENT_TYPE)
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static("text/html; charset=utf-8"));
        let Ok(html) = to_bytes(res.into_body(), max).await else {
            return (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The hub could not answer.",
            )
                .into_response();
        };
        // A page compresses in well under a millisecond; an export of a long ledger can take
        // many, so it is compressed on the blocking pool.
        let gzip = if html.len() <= 64 * 1024 {
            gzip(&html)
        } else {
            let html = html.clone();
            tokio::task::spawn_blocking(move || gzip(&html))
                .await
                .unwrap_or_default()
        };
        let entry = CachedPage {
            born: Instant::now(),
            content_type,
            html,
            gzip,
        };
        let res = respond(&entry, headers);
        if let Ok(mut entries) = self.entries.write() {
            if entries.len() >= MAX_CACHED_PAGES {
                entries.clear();
            }
            entries.insert(key, entry);
        }
        res
    }
}
