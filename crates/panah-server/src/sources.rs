//! Fairness between sources, where the hub can tell them apart.
//!
//! On the clearnet each connection comes from an address; one address must not be able to
//! take every connection, every upload slot or a door's whole budget. The address itself
//! is never kept: it is reduced at once to a keyed hash (SHA-256 under a random secret that
//! lives only in memory and is replaced every hour), counted in memory, and forgotten when
//! its count is back to zero. Nothing of it is logged or stored.
//!
//! Behind Tor every connection comes from the local tor daemon (a loopback address), and
//! behind a reverse proxy from the proxy: the hub cannot tell people apart there, so with
//! the default setting (`auto`) loopback sources are not told apart at all, and the
//! onion service's own defences (proof of work, stream limits; see `examples/torrc`)
//! carry that load.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rand::RngCore;
use sha2::{Digest, Sha256};

/// How the hub tells sources apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fairness {
    /// Per source, except loopback (tor, or a proxy on the same machine).
    Auto,
    /// Per source, loopback included (tests, or a hub directly on the clearnet).
    On,
    /// Never.
    Off,
}

impl Fairness {
    pub fn parse(word: &str) -> Option<Fairness> {
        match word {
            "auto" => Some(Fairness::Auto),
            "on" => Some(Fairness::On),
            "off" => Some(Fairness::Off),
            _ => None,
        }
    }
}

/// A source as the hub counts it: a keyed hash, never the address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Source([u8; 16]);

/// The source a request came from, if the hub tells sources apart for it. Put in each
/// request's extensions by the connection loop; read by the doors.
#[derive(Debug, Clone, Copy, Default)]
pub struct SourceOf(pub Option<Source>);

/// What one source may hold at once.
#[derive(Debug, Clone, Copy)]
pub struct Caps {
    pub connections: u32,
    pub uploads: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum What {
    Connection,
    Upload,
}

#[derive(Debug)]
struct Inner {
    secret: [u8; 32],
    since: Instant,
    held: HashMap<(What, Source), u32>,
}

/// The counts, shared by the connection loop and the handlers.
#[derive(Debug, Clone)]
pub struct Sources {
    fairness: Fairness,
    caps: Caps,
    inner: Arc<Mutex<Inner>>,
}

const ROTATE: Duration = Duration::from_secs(3600);

fn fresh_secret() -> [u8; 32] {
    let mut s = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut s);
    s
}

impl Sources {
    pub fn new(fairness: Fairness, caps: Caps) -> Sources {
        Sources {
            fairness,
            caps,
            inner: Arc::new(Mutex::new(Inner {
                secret: fresh_secret(),
                since: Instant::now(),
                held: HashMap::new(),
            })),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A panic while holding this lock leaves only counts behind: keep going.
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The source for a peer address, or `None` where sources are not told apart.
    pub fn source(&self, ip: IpAddr) -> Option<Source> {
        let ip = match ip {
            IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
            v4 => v4,
        };
        match self.fairness {
            Fairness::Off => return None,
            Fairness::Auto if ip.is_loopback() => return None,
            _ => {}
        }
        let mut inner = self.lock();
        if inner.since.elapsed() >= ROTATE {
            inner.secret = fresh_secret();
            inner.since = Instant::now();
        }
        let text = match ip {
            // One IPv6 user usually has a whole /64: count the /64.
            IpAddr::V6(v6) => {
                let mut seg = v6.segments();
                seg[4..].fill(0);
                std::net::Ipv6Addr::from(seg).to_string()
            }
            v4 => v4.to_string(),
        };
        let digest = Sha256::new()
            .chain_update(inner.secret)
            .chain_update(text.as_bytes())
            .finalize();
        let mut key = [0u8; 16];
        key.copy_from_slice(&digest[..16]);
        Some(Source(key))
    }

    fn take(&self, what: What, source: Option<Source>, cap: u32) -> Option<Held> {
        let Some(source) = source else {
            return Some(Held {
                sources: None,
                key: None,
            });
        };
        let mut inner = self.lock();
        let n = inner.held.entry((what, source)).or_insert(0);
        if *n >= cap {
            return None;
        }
        *n += 1;
        Some(Held {
            sources: Some(self.clone()),
            key: Some((what, source)),
        })
    }

    /// A connection from `source`, or `None` if it holds its share already.
    pub fn connection(&self, source: Option<Source>) -> Option<Held> {
        self.take(What::Connection, source, self.caps.connections)
    }

    /// An upload from `source`, or `None` if it has its share in flight already.
    pub fn upload(&self, source: Option<Source>) -> Option<Held> {
        self.take(What::Upload, source, self.caps.uploads)
    }

    /// How many sources hold anything (for tests: nothing is kept after they leave).
    pub fn tracked(&self) -> usize {
        self.lock().held.len()
    }
}

/// One connection or upload counted against its source until dropped.
#[derive(Debug)]
pub struct Held {
    sources: Option<Sources>,
    key: Option<(What, Source)>,
}

impl Drop for Held {
    fn drop(&mut self) {
        if let (Some(sources), Some(key)) = (&self.sources, self.key) {
            let mut inner = sources.lock();
            if let Some(n) = inner.held.get_mut(&key) {
                *n = n.saturating_sub(1);
                if *n == 0 {
                    inner.held.remove(&key);
                }
            }
        }
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for SourceOf {
    type Rejection = std::convert::Infallible;

    /// The source the connection loop recorded; none for requests made another way
    /// (tests calling the router directly).
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _state: &S,
    ) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<SourceOf>()
            .copied()
            .unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_source_gets_its_share_and_is_forgotten() {
        let s = Sources::new(
            Fairness::Auto,
            Caps {
                connections: 2,
                uploads: 1,
            },
        );
        let a = s.source("203.0.113.7".parse().unwrap());
        let b = s.source("198.51.100.1".parse().unwrap());
        assert!(a.is_some() && a != b);
        // The same /64 is one source; tor (loopback) is none under `auto`.
        assert_eq!(
            s.source("2001:db8::1".parse().unwrap()),
            s.source("2001:db8::ffff".parse().unwrap())
        );
        assert_eq!(s.source("127.0.0.1".parse().unwrap()), None);
        assert_eq!(s.source("::ffff:127.0.0.1".parse().unwrap()), None);
        let first = s.connection(a).unwrap();
        let second = s.connection(a).unwrap();
        assert!(s.connection(a).is_none(), "a's share is two");
        assert!(s.connection(b).is_some(), "b is not held back by a");
        assert!(
            s.connection(None).is_some(),
            "uncounted sources always pass"
        );
        let up = s.upload(a).unwrap();
        assert!(s.upload(a).is_none());
        drop((first, second, up));
        assert_eq!(s.tracked(), 0, "nothing is kept once a source has left");
        assert!(s.connection(a).is_some());
    }
}
