//! What the hub did, counted per hour instead of logged per event.
//!
//! A log line per message, login or reply, with its time and its collective, would tell
//! whoever reads the logs (or seizes the disk they are on) when each sender wrote. At the
//! default level the hub logs only these counts, once an hour; the per-event lines are at
//! `debug`, for an operator chasing a bug on a test hub.

use std::sync::atomic::{AtomicU64, Ordering};

#[derive(Debug, Default)]
pub struct Activity {
    messages: AtomicU64,
    replies: AtomicU64,
    deletions: AtomicU64,
    logins: AtomicU64,
}

/// One hour's counts.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Counts {
    pub messages: u64,
    pub replies: u64,
    pub deletions: u64,
    pub logins: u64,
}

impl Activity {
    pub fn message(&self) {
        self.messages.fetch_add(1, Ordering::Relaxed);
    }
    pub fn reply(&self) {
        self.replies.fetch_add(1, Ordering::Relaxed);
    }
    pub fn deletion(&self) {
        self.deletions.fetch_add(1, Ordering::Relaxed);
    }
    pub fn login(&self) {
        self.logins.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts since the last call, and zero from here.
    pub fn take(&self) -> Counts {
        Counts {
            messages: self.messages.swap(0, Ordering::Relaxed),
            replies: self.replies.swap(0, Ordering::Relaxed),
            deletions: self.deletions.swap(0, Ordering::Relaxed),
            logins: self.logins.swap(0, Ordering::Relaxed),
        }
    }

    /// Logs the last hour's counts, if anything happened.
    pub fn log_hour(&self) {
        let c = self.take();
        if c != Counts::default() {
            tracing::info!(
                messages = c.messages,
                replies = c.replies,
                deletions = c.deletions,
                logins = c.logins,
                "in the last hour"
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_are_taken_once() {
        let a = Activity::default();
        a.message();
        a.message();
        a.login();
        assert_eq!(
            a.take(),
            Counts {
                messages: 2,
                logins: 1,
                ..Counts::default()
            }
        );
        assert_eq!(a.take(), Counts::default());
    }
}
