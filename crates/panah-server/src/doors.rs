//! The contact drop's door: what a submission must know before it reads a byte — the
//! collective, and the age recipients of its current coordinators — asked of the database
//! at most once a second per collective and process. A crowd of senders then costs the
//! database one query a second, not two a message.
//!
//! A second of staleness weakens nothing that already held: a submission is encrypted to
//! the team it read when it began, and an upload can take minutes. A team change made
//! through this process forgets every door at once; one made through another process (or
//! `panah admin`) is seen within [`TTL`].
//!
//! A door also keeps its coordinators' keys prepared for encryption (a table of multiples
//! of each key, 30 KB, built on the first message: `panah_core::age_file::Recipient`), and
//! hands them on to the door read after it while the keys are the same. Whenever a door is
//! kept, every door not opened for [`IDLE`] is dropped with its tables: tables are held
//! for collectives that received messages lately (once all traffic stops, until the next
//! door is kept), and there is at most one door per collective.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

// Tokio's clock, so that a test can move time on instead of sleeping.
use tokio::time::Instant;

use panah_core::age_file::Recipient;
use panah_core::Slug;
use panah_store::{Collective, Store, StoreError};

/// How long a door is reused.
pub(crate) const TTL: Duration = Duration::from_secs(1);
/// How long a door that is not opened is kept at all.
pub(crate) const IDLE: Duration = Duration::from_secs(10 * 60);

/// A collective as the contact drop opens it.
#[derive(Debug, Clone)]
pub(crate) struct Door {
    pub collective: Collective,
    /// Its current coordinators, as age recipients: what a submission is encrypted to.
    pub recipients: Arc<[Recipient]>,
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
        let (forgotten, prepared) = match self.entries.read() {
            Ok(entries) => match entries.doors.get(slug) {
                Some((born, door)) if born.elapsed() < TTL => return Ok(Some(door.clone())),
                Some((_, door)) => (entries.forgotten, Some(door.recipients.clone())),
                None => (entries.forgotten, None),
            },
            Err(_) => (u64::MAX, None),
        };
        let Some(collective) = store.collective(slug).await? else {
            return Ok(None);
        };
        let team = store.coordinators(collective.id, false).await?;
        let recipients = team
            .iter()
            .map(|m| {
                let key = Recipient::new(&m.key.recipient());
                // The same key, already prepared by the last door.
                prepared
                    .iter()
                    .flat_map(|p| p.iter())
                    .find(|p| p.key_bytes() == key.key_bytes())
                    .cloned()
                    .unwrap_or(key)
            })
            .collect();
        let door = Door {
            recipients,
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
                entries.doors.retain(|_, (born, _)| born.elapsed() < IDLE);
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

    /// A door read again hands on the keys it had prepared (their tables are built once,
    /// not every second); a new coordinator's key is new; a door left unopened for
    /// [`IDLE`] is dropped, tables and all.
    #[tokio::test]
    async fn prepared_keys_are_handed_on_and_idle_doors_are_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&panah_store::testing::sqlite_location(dir.path()))
            .await
            .unwrap();
        let mut ids = Vec::new();
        for name in ["roshanai", "other"] {
            let c = store
                .create_collective(&NewCollective {
                    slug: Slug::parse(name).unwrap(),
                    default_lang: Lang::Dari,
                    names: ["a".into(), "b".into(), "c".into()],
                })
                .await
                .unwrap();
            store.add_coordinator(c.id, &key(), "").await.unwrap();
            ids.push(c.id);
        }
        let (slug, other) = (
            Slug::parse("roshanai").unwrap(),
            Slug::parse("other").unwrap(),
        );
        store.add_coordinator(ids[0], &key(), "").await.unwrap();
        let doors = Doors::default();
        let open = |slug: &Slug| {
            let (doors, store, slug) = (&doors, &store, slug.clone());
            async move { doors.get(store, &slug).await.unwrap().unwrap().recipients }
        };
        let same = |a: &Recipient, b: &Recipient| std::ptr::eq(a.key_bytes(), b.key_bytes());
        // Moves tokio's clock on (kept running in between: the database pool has timeouts).
        async fn later(by: Duration) {
            tokio::time::pause();
            tokio::time::advance(by).await;
            tokio::time::resume();
        }

        let first = open(&slug).await;
        assert_eq!(first.len(), 2);
        later(TTL).await;
        let again = open(&slug).await;
        assert!(first.iter().zip(again.iter()).all(|(a, b)| same(a, b)));

        store.add_coordinator(ids[0], &key(), "").await.unwrap();
        later(TTL).await;
        let grown = open(&slug).await;
        assert_eq!(grown.len(), 3);
        let handed_on = grown
            .iter()
            .filter(|g| first.iter().any(|f| same(f, g)))
            .count();
        assert_eq!(
            handed_on, 2,
            "the new coordinator's key is the one not handed on"
        );

        open(&other).await;
        later(IDLE).await;
        open(&other).await; // read again, and the idle door is swept
        let kept: Vec<Slug> = doors
            .entries
            .read()
            .unwrap()
            .doors
            .keys()
            .cloned()
            .collect();
        assert_eq!(kept, vec![other]);
        let fresh = open(&slug).await;
        assert!(!fresh.iter().any(|f| grown.iter().any(|g| same(f, g))));
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
