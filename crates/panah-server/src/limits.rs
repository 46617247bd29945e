//! Rate limits, per collective and hub-wide. Never per address: behind Tor every visitor is
//! one address, and the hub does not look at addresses at all.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// A token bucket: `per_minute` tokens a minute, up to `burst` at once.
#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    state: Mutex<(f64, Instant)>,
}

impl RateLimiter {
    pub fn per_minute(per_minute: u32, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        RateLimiter {
            per_second: f64::from(per_minute.max(1)) / 60.0,
            burst,
            state: Mutex::new((burst, Instant::now())),
        }
    }

    /// Takes one token if there is one.
    pub fn try_acquire(&self) -> bool {
        let mut guard = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let (tokens, last) = &mut *guard;
        let now = Instant::now();
        *tokens =
            (*tokens + now.duration_since(*last).as_secs_f64() * self.per_second).min(self.burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// One bucket per collective plus one for the whole hub; a request needs a token from both.
#[derive(Debug)]
pub struct CollectiveLimits {
    per_minute: u32,
    per_collective: Mutex<HashMap<i64, RateLimiter>>,
    hub: RateLimiter,
}

impl CollectiveLimits {
    pub fn new(per_collective_per_minute: u32, hub_per_minute: u32) -> Self {
        CollectiveLimits {
            per_minute: per_collective_per_minute,
            per_collective: Mutex::new(HashMap::new()),
            hub: RateLimiter::per_minute(hub_per_minute, hub_per_minute.max(1) / 4 + 1),
        }
    }

    pub fn try_acquire(&self, collective_id: i64) -> bool {
        let ok = {
            let mut map = self
                .per_collective
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            map.entry(collective_id)
                .or_insert_with(|| {
                    RateLimiter::per_minute(self.per_minute, self.per_minute.max(1) / 4 + 1)
                })
                .try_acquire()
        };
        ok && self.hub.try_acquire()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_empties_then_refuses() {
        let limiter = RateLimiter::per_minute(1, 3);
        assert!((0..3).all(|_| limiter.try_acquire()));
        assert!(!limiter.try_acquire());
    }

    #[test]
    fn one_collective_cannot_exhaust_another() {
        let limits = CollectiveLimits::new(4, 1000);
        let granted = (0..10).filter(|_| limits.try_acquire(1)).count();
        assert_eq!(
            granted, 2,
            "burst is a quarter of the minute's rate plus one"
        );
        assert!(limits.try_acquire(2));
    }
}
