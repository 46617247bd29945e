//! The contact drop's door: what a submission must know before it reads a byte — the
//! collective, and the age recipients of its current coordinators — asked of the database
//! at most once a second per collective and process. A crowd of senders then costs the
//! database one query a second, not two a message.
//!
//! A second of staleness weakens nothing that already held: a submission is encrypted to
//! the team it read when it began, and an upload can take minutes. A team change made
//! through this process forgets every door at once; one made through another process (or
//! `panah admin`) is seen within [`TTL`].

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

// Tokio's clock, so that a test can move time on instead of sleeping.
use tokio::time::Instant;

use panah_core::Slug;
use panah_store::{Collective, Store, StoreError};

/// How long a door is reused.
pub(crate) const TTL: Duration = Duration::from_secs(1);

/// A collective as the contact drop opens it.
#[derive(Debug, Clone)]
pub(crate) struct Door {
    pub collective: Collective,
    /// Its current coordinators, as age recipients: what a submission is encrypted to.
    pub recipients: Arc<[age::x25519::Recipient]>,
}

#[derive(Debug, Default)]
pub(crate) struct Doors {
    /// Only collectives that exist are kept, so strangers' made-up names cannot fill it.
    entries: RwLock<HashMap<Slug, (Instant, Door)>>,
}

impl Doors {
    /// The door of `slug`, or `None` if there is no such collective.
    pub async fn get(&self, store: &Store, slug: &Slug) -> Result<Option<Door>, StoreError> {
        if let Ok(entries) = self.entries.read() {
            if let Some((born, door)) = entries.get(slug) {
                if born.elapsed() < TTL {
                    return Ok(Some(door.clone()));
                }
            }
        }
        let Some(collective) = store.collective(slug).await? else {
            return Ok(None);
        };
        let team = store.coordinators(collective.id, false).await?;
        let door = Door {
            recipients: team.iter().map(|m| m.key.recipient()).collect(),
            collective,
        };
        if let Ok(mut entries) = self.entries.write() {
            entries.insert(slug.clone(), (Instant::now(), door.clone()));
        }
        Ok(Some(door))
    }

    /// Forgets every door: the team of a collective changed.
    pub fn forget(&self) {
        if let Ok(mut entries) = self.entries.write() {
            entries.clear();
        }
    }
}
