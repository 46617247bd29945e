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
    entries: RwLock<Kept>,
}

#[derive(Debug, Default)]
struct Kept {
    /// Only collectives that exist are kept, so strangers' made-up names cannot fill it.
    doors: HashMap<Slug, (Instant, Door)>,
    /// How many times the doors were forgotten: a door read from the database before the
    /// last forgetting is not kept (see [`Doors::keep`]).
    forgotten: u64,
}

impl Doors {
    /// The door of `slug`, or `None` if there is no such collective.
    pub async fn get(&self, store: &Store, slug: &Slug) -> Result<Option<Door>, StoreError> {
        let forgotten = match self.entries.read() {
            Ok(entries) => {
                if let Some((born, door)) = entries.doors.get(slug) {
                    if born.elapsed() < TTL {
                        return Ok(Some(door.clone()));
                    }
                }
                entries.forgotten
            }
            Err(_) => u64::MAX,
        };
        let Some(collective) = store.collective(slug).await? else {
            return Ok(None);
        };
        let team = store.coordinators(collective.id, false).await?;
        let door = Door {
            recipients: team.iter().map(|m| m.key.recipient()).collect(),
            collective,
        };
        self.keep(slug, &door, forgotten);
        Ok(Some(door))
    }

    /// Keeps `door`, read after the doors had been forgotten `forgotten` times, unless they
    /// have been forgotten since: a team change that committed while it was being read
    /// (a coordinator removed because their phone was taken) must not be hidden for a
    /// second by a door read just before it.
    fn keep(&self, slug: &Slug, door: &Door, forgotten: u64) {
        if let Ok(mut entries) = self.entries.write() {
            if entries.forgotten == forgotten {
                entries
                    .doors
                    .insert(slug.clone(), (Instant::now(), door.clone()));
            }
        }
    }

    /// Forgets every door: the team of a collective changed.
    pub fn forget(&self) {
        if let Ok(mut entries) = self.entries.write() {
            entries.doors.clear();
            entries.forgotten += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use panah_core::{CoordinatorKey, Lang};
    use panah_store::NewCollective;

    fn key() -> CoordinatorKey {
        let signing = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        CoordinatorKey::new(
            &age::x25519::Identity::generate().to_public(),
            signing.verifying_key(),
        )
    }

    #[tokio::test]
    async fn a_door_is_kept_until_forgotten_and_unknown_collectives_are_not_kept() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&panah_store::testing::sqlite_location(dir.path()))
            .await
            .unwrap();
        let slug = Slug::parse("roshanai").unwrap();
        let c = store
            .create_collective(&NewCollective {
                slug: slug.clone(),
                default_lang: Lang::Dari,
                names: ["a".into(), "b".into(), "c".into()],
            })
            .await
            .unwrap();
        store.add_coordinator(c.id, &key(), "").await.unwrap();
        let doors = Doors::default();
        let door = doors.get(&store, &slug).await.unwrap().unwrap();
        assert_eq!(door.collective.id, c.id);
        assert_eq!(door.recipients.len(), 1);

        // How many coordinators the door shows.
        async fn team(doors: &Doors, store: &Store, slug: &Slug) -> usize {
            doors
                .get(store, slug)
                .await
                .unwrap()
                .unwrap()
                .recipients
                .len()
        }

        // A change behind the door's back is not seen within the second...
        store.add_coordinator(c.id, &key(), "").await.unwrap();
        assert_eq!(team(&doors, &store, &slug).await, 1, "kept for a second");
        // ...but at once once the door is forgotten (a team change through the hub)...
        doors.forget();
        assert_eq!(team(&doors, &store, &slug).await, 2);

        // ...and by anyone once the second is over (a change by `panah admin` or another
        // hub process).
        store.add_coordinator(c.id, &key(), "").await.unwrap();
        assert_eq!(team(&doors, &store, &slug).await, 2);
        tokio::time::pause();
        tokio::time::advance(TTL).await;
        tokio::time::resume();
        assert_eq!(team(&doors, &store, &slug).await, 3);

        let nobody = Slug::parse("nobody").unwrap();
        assert!(doors.get(&store, &nobody).await.unwrap().is_none());
        assert_eq!(
            doors.entries.read().unwrap().doors.len(),
            1,
            "only what exists"
        );
    }

    /// A door read before a team change, and kept after it, would hide the change for a
    /// second: it is not kept.
    #[test]
    fn a_door_read_before_a_forgetting_is_not_kept() {
        let doors = Doors::default();
        let slug = Slug::parse("roshanai").unwrap();
        let door = Door {
            collective: Collective {
                id: 1,
                slug: slug.clone(),
                default_lang: Lang::Dari,
                created_at: panah_core::Timestamp::now(),
                hidden_rails: Vec::new(),
            },
            recipients: Vec::new().into(),
        };
        let forgotten = doors.entries.read().unwrap().forgotten;
        doors.forget(); // the team changed while the door was being read
        doors.keep(&slug, &door, forgotten);
        assert!(doors.entries.read().unwrap().doors.is_empty());
        doors.keep(&slug, &door, forgotten + 1);
        assert_eq!(doors.entries.read().unwrap().doors.len(), 1);
    }
}
