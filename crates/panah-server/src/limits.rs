//! Budgets for the doors a stranger can knock on: contact submissions, codename lookups,
//! receipt lookups and coordinators' logins.
//!
//! A door's budget is a token bucket per key (a collective, or a coordinator's key), one
//! per key and source where sources are told apart (see [`crate::sources`]), and one for
//! the whole hub. A request takes a token from each of them or from none, so a refusal
//! never spends anyone's share. Handlers ask only once a request is known to be valid:
//! malformed codenames, honeypot-filled forms and unknown collectives or keys never spend
//! the budget of real ones.

use std::collections::HashMap;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Instant;

use crate::sources::Source;

/// A token bucket: `per_minute` tokens a minute, up to a quarter of that (plus one) at once.
#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    last: Instant,
    per_second: f64,
    burst: f64,
}

impl Bucket {
    fn per_minute(per_minute: u32, now: Instant) -> Bucket {
        let burst = f64::from(per_minute.max(1) / 4 + 1);
        Bucket {
            tokens: burst,
            last: now,
            per_second: f64::from(per_minute.max(1)) / 60.0,
            burst,
        }
    }

    fn refill(&mut self, now: Instant) {
        self.tokens = (self.tokens
            + now.saturating_duration_since(self.last).as_secs_f64() * self.per_second)
            .min(self.burst);
        self.last = now;
    }

    fn full(&self) -> bool {
        self.tokens >= self.burst
    }
}

#[derive(Debug)]
struct Buckets<K> {
    keys: HashMap<K, Bucket>,
    sources: HashMap<(K, Source), Bucket>,
    /// Each source's share of the whole hub's budget, across every key: one source cannot
    /// drain the hub through many collectives.
    hub_sources: HashMap<Source, Bucket>,
    /// Each source's attempts at a key, spent or refused: what tells a flood (always
    /// knocking) from a person (trying now and then).
    attempts: HashMap<(K, Source), Bucket>,
    hub: Bucket,
}

/// One door's budget; see the module documentation.
#[derive(Debug)]
pub struct Budget<K> {
    per_key: u32,
    per_source: u32,
    per_source_hub: u32,
    buckets: Mutex<Buckets<K>>,
}

/// Buckets kept before full ones (which hold no information) are dropped.
const PRUNE_AT: usize = 4096;

impl<K: Hash + Eq + Copy> Budget<K> {
    /// `per_key` a minute for each key, a quarter of that (at least 2) for each source of
    /// a key, and `hub` a minute for everything together.
    pub fn new(per_key: u32, hub: u32) -> Self {
        Self::with_share(per_key, (per_key / 4).max(2), hub)
    }

    /// `per_key` a minute for each key, `per_source` for each source of a key, `hub` in all.
    pub fn with_share(per_key: u32, per_source: u32, hub: u32) -> Self {
        Budget {
            per_key,
            per_source,
            per_source_hub: (hub / 4).max(per_source),
            buckets: Mutex::new(Buckets {
                keys: HashMap::new(),
                sources: HashMap::new(),
                hub_sources: HashMap::new(),
                attempts: HashMap::new(),
                hub: Bucket::per_minute(hub, Instant::now()),
            }),
        }
    }

    /// Takes one token for `key` (from `source`, if sources are told apart) from every
    /// bucket involved, or none if any of them is empty.
    pub fn try_acquire(&self, key: K, source: Option<Source>) -> bool {
        let now = Instant::now();
        let mut guard = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let b = &mut *guard;
        if [
            b.keys.len(),
            b.sources.len(),
            b.hub_sources.len(),
            b.attempts.len(),
        ]
        .iter()
        .any(|&n| n > PRUNE_AT)
        {
            prune(&mut b.keys, now);
            prune(&mut b.sources, now);
            prune(&mut b.hub_sources, now);
            prune(&mut b.attempts, now);
        }
        // "Lately": more than half its burst of attempts used, spent or refused, as a flood
        // does and a person trying again does not. Such a source cannot take the last
        // quarter of a key's bucket: several addresses flooding together drain it only down
        // to there, and a person trying now and then still gets in. (Without sources,
        // behind Tor, no reserve can be kept.)
        let heavy = source.is_some_and(|s| {
            let a = fresh(&mut b.attempts, (key, s), self.per_source, now);
            let heavy = a.tokens < a.burst / 2.0;
            a.tokens = (a.tokens - 1.0).max(0.0);
            heavy
        });
        let reserve = (f64::from(self.per_key.max(1) / 4 + 1) / 4.0).floor();
        let key_needs = if heavy { 1.0 + reserve } else { 1.0 };
        b.hub.refill(now);
        let all_have = b.hub.tokens >= 1.0
            && fresh(&mut b.keys, key, self.per_key, now).tokens >= key_needs
            && source.is_none_or(|s| {
                fresh(&mut b.sources, (key, s), self.per_source, now).tokens >= 1.0
            })
            && source.is_none_or(|s| {
                fresh(&mut b.hub_sources, s, self.per_source_hub, now).tokens >= 1.0
            });
        if !all_have {
            return false;
        }
        // Every bucket taken from was made (and brought up to now) just above.
        b.hub.tokens -= 1.0;
        let taken = [
            b.keys.get_mut(&key),
            source.and_then(|s| b.sources.get_mut(&(key, s))),
            source.and_then(|s| b.hub_sources.get_mut(&s)),
        ];
        for bucket in taken.into_iter().flatten() {
            bucket.tokens -= 1.0;
        }
        true
    }
}

/// The bucket for `k`, made with `per_minute` if new, brought up to `now`.
fn fresh<Q: Hash + Eq>(
    map: &mut HashMap<Q, Bucket>,
    k: Q,
    per_minute: u32,
    now: Instant,
) -> &mut Bucket {
    let bucket = map
        .entry(k)
        .or_insert_with(|| Bucket::per_minute(per_minute, now));
    bucket.refill(now);
    bucket
}

/// Drops the buckets that are full again: they hold nothing worth remembering.
fn prune<Q>(map: &mut HashMap<Q, Bucket>, now: Instant) {
    map.retain(|_, bucket| {
        bucket.refill(now);
        !bucket.full()
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::{Caps, Fairness, Sources};

    fn two_sources() -> (Option<Source>, Option<Source>) {
        let s = Sources::new(
            Fairness::On,
            Caps {
                connections: 1,
                uploads: 1,
            },
        );
        (
            s.source("203.0.113.7".parse().unwrap_or_else(|_| unreachable!())),
            s.source("198.51.100.1".parse().unwrap_or_else(|_| unreachable!())),
        )
    }

    #[test]
    fn one_collective_cannot_exhaust_another() {
        let limits = Budget::new(4, 1000);
        let granted = (0..10).filter(|_| limits.try_acquire(1, None)).count();
        assert_eq!(
            granted, 2,
            "burst is a quarter of the minute's rate plus one"
        );
        assert!(limits.try_acquire(2, None));
    }

    #[test]
    fn one_source_cannot_exhaust_a_collective_and_refusals_cost_nothing() {
        let (flooder, sender) = two_sources();
        let limits = Budget::new(60, 1000);
        let flooded = (0..100).filter(|_| limits.try_acquire(1, flooder)).count();
        assert!(flooded < 16, "{flooded}");
        // The collective's own bucket still has most of its burst for everyone else: the
        // sender gets their whole share.
        assert!((0..4).all(|_| limits.try_acquire(1, sender)));
    }

    #[test]
    fn several_sources_together_leave_a_reserve_for_a_quiet_one() {
        let s = Sources::new(
            Fairness::On,
            Caps {
                connections: 1,
                uploads: 1,
            },
        );
        let flooders: Vec<_> = (1..=8)
            .map(|i| {
                s.source(
                    format!("203.0.113.{i}")
                        .parse()
                        .unwrap_or_else(|_| unreachable!()),
                )
            })
            .collect();
        let limits = Budget::new(60, 10_000);
        for _ in 0..20 {
            for f in &flooders {
                limits.try_acquire(1, *f);
            }
        }
        // Eight addresses together drained the collective; while they keep knocking, the
        // reserve it refills (a quarter of its burst) is not theirs…
        std::thread::sleep(std::time::Duration::from_millis(4500));
        assert!(flooders.iter().all(|f| !limits.try_acquire(1, *f)));
        // …which a person who has not tried lately still gets.
        let person = s.source("198.51.100.1".parse().unwrap_or_else(|_| unreachable!()));
        assert!(limits.try_acquire(1, person));
    }

    #[test]
    fn one_source_cannot_drain_the_hub_through_many_collectives() {
        let (flooder, reader) = two_sources();
        let limits = Budget::new(60, 600);
        // A quarter of the hub's burst of 151 is the source's: 37 across every collective.
        let spent = (0..1000)
            .filter(|i| limits.try_acquire(i % 45, flooder))
            .count();
        assert!(spent <= 38, "{spent}");
        assert!(
            limits.try_acquire(99, reader),
            "another source still gets in"
        );
    }

    #[test]
    fn an_empty_hub_bucket_spends_no_collective_token() {
        let limits = Budget::new(60, 1);
        assert!(limits.try_acquire(1, None));
        assert!(!limits.try_acquire(1, None), "the hub's burst is 1");
        // The refusal above took nothing from collective 1: with the hub bucket refilled
        // by hand, its burst of 16 (minus the one used) is all there.
        {
            let mut b = limits.buckets.lock().unwrap_or_else(|p| p.into_inner());
            b.hub.tokens = 100.0;
            b.hub.burst = 100.0;
        }
        assert_eq!((0..100).filter(|_| limits.try_acquire(1, None)).count(), 15);
    }
}
