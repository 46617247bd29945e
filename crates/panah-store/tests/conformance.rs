//! The store conformance suite: every store operation, told as small stories, run against
//! SQLite and against a real PostgreSQL server (see `panah_store::testing`).

#![allow(clippy::unwrap_used)]

use ed25519_dalek::SigningKey;
use panah_core::{CoordinatorKey, Lang, Slug, Timestamp};
use panah_store::testing::{every_engine, fresh_postgres_database, postgres_admin_url};
use panah_store::{Appeal, Challenge, Location, NewCollective, Store, StoreError};
use std::collections::HashSet;

fn key() -> CoordinatorKey {
    let id = age::x25519::Identity::generate();
    let sk = SigningKey::generate(&mut rand_core());
    CoordinatorKey::new(&id.to_public(), sk.verifying_key())
}

fn rand_core() -> rand::rngs::OsRng {
    rand::rngs::OsRng
}

/// "roshanai" and "other": a collective, and another whose data it must never see.
async fn two_collectives(store: &Store) -> (panah_store::Collective, panah_store::Collective) {
    let c = store
        .create_collective(&new_collective("roshanai"))
        .await
        .unwrap();
    let other = store
        .create_collective(&new_collective("other"))
        .await
        .unwrap();
    (c, other)
}

fn new_collective(slug: &str) -> NewCollective {
    NewCollective {
        slug: Slug::parse(slug).unwrap(),
        default_lang: Lang::Dari,
        names: ["روشنایی".into(), "رڼا".into(), "Roshanai".into()],
    }
}

#[tokio::test]
async fn collectives_and_appeals() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        assert!(store.collectives().await.unwrap().is_empty(), "{engine}");
        let c = store
            .create_collective(&new_collective("roshanai"))
            .await
            .unwrap();
        assert_eq!(c.slug.as_str(), "roshanai");
        assert_eq!(c.default_lang, Lang::Dari);

        let again = store.create_collective(&new_collective("roshanai")).await;
        assert!(
            matches!(again, Err(StoreError::Conflict(_))),
            "{engine}: {again:?}"
        );

        store
            .create_collective(&new_collective("aaa-first"))
            .await
            .unwrap();
        let all = store.collectives().await.unwrap();
        assert_eq!(
            all.iter().map(|c| c.slug.as_str()).collect::<Vec<_>>(),
            ["aaa-first", "roshanai"],
            "{engine}: sorted by slug"
        );

        let found = store.collective(&c.slug).await.unwrap();
        assert_eq!(found.as_ref(), Some(&c), "{engine}");
        assert_eq!(
            store
                .collective(&Slug::parse("nobody").unwrap())
                .await
                .unwrap(),
            None
        );

        // Rails kept off the public pages: none at first, then as set, in a fixed order.
        use panah_core::ledger::Rail;
        assert!(c.hidden_rails.is_empty(), "{engine}");
        store
            .set_hidden_rails(c.id, &[Rail::Cash, Rail::Crypto])
            .await
            .unwrap();
        let hidden = store
            .collective(&c.slug)
            .await
            .unwrap()
            .unwrap()
            .hidden_rails;
        assert_eq!(hidden, vec![Rail::Crypto, Rail::Cash], "{engine}");
        store.set_hidden_rails(c.id, &[]).await.unwrap();
        assert!(store
            .collective(&c.slug)
            .await
            .unwrap()
            .unwrap()
            .hidden_rails
            .is_empty());
        assert!(matches!(
            store.set_hidden_rails(9_999, &[Rail::Bank]).await,
            Err(StoreError::NotFound(_))
        ));

        // Names are set at creation, the rest of the appeal is empty until written.
        let (appeal, _) = store.appeal(c.id, Lang::Pashto).await.unwrap().unwrap();
        assert_eq!(appeal.name, "رڼا");
        assert_eq!(appeal.story, "");

        let text = Appeal {
            name: "Roshanai Collective".into(),
            tagline: "Light in dark times".into(),
            story: "We are students.\n\nWe teach girls.".into(),
            needs: "Food, <generators>, & 'fuel'".into(),
            give: "Ask us.".into(),
        };
        store.set_appeal(c.id, Lang::English, &text).await.unwrap();
        let (stored, updated) = store.appeal(c.id, Lang::English).await.unwrap().unwrap();
        assert_eq!(stored, text, "{engine}: text kept byte for byte");
        assert!(updated <= Timestamp::now());
        // Other languages are untouched.
        assert_eq!(
            store
                .appeal(c.id, Lang::Dari)
                .await
                .unwrap()
                .unwrap()
                .0
                .name,
            "روشنایی"
        );

        let missing = store.set_appeal(9_999, Lang::English, &text).await;
        assert!(
            matches!(missing, Err(StoreError::NotFound(_))),
            "{engine}: {missing:?}"
        );
        assert_eq!(store.appeal(9_999, Lang::English).await.unwrap(), None);
        store.ping().await.unwrap();
    }
}

#[tokio::test]
async fn coordinators_join_and_leave() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        let (c, other) = two_collectives(&store).await;
        let (k1, k2) = (key(), key());

        let a = store
            .add_coordinator(c.id, &k1, "coordinator 1")
            .await
            .unwrap();
        assert_eq!(a.key, k1);
        assert_eq!(a.removed_at, None);
        let dup = store.add_coordinator(c.id, &k1, "again").await;
        assert!(
            matches!(dup, Err(StoreError::Conflict(_))),
            "{engine}: {dup:?}"
        );
        // The same person may coordinate two collectives with one key.
        store.add_coordinator(other.id, &k1, "").await.unwrap();
        store
            .add_coordinator(c.id, &k2, "coordinator 2")
            .await
            .unwrap();
        let missing = store.add_coordinator(9_999, &k2, "").await;
        assert!(
            matches!(missing, Err(StoreError::NotFound(_))),
            "{engine}: {missing:?}"
        );

        let team = store.coordinators(c.id, false).await.unwrap();
        assert_eq!(team.iter().map(|t| &t.key).collect::<Vec<_>>(), [&k1, &k2]);
        assert_eq!(
            store
                .active_coordinator(c.id, &k2)
                .await
                .unwrap()
                .map(|t| t.label),
            Some("coordinator 2".into())
        );

        // A token and a challenge, then removal revokes both.
        let now = Timestamp::now();
        store
            .put_token(b"hash-of-token", a.id, now.plus_seconds(600), now)
            .await
            .unwrap();
        let challenge = Challenge {
            coordinator_id: a.id,
            challenge: vec![1; 32],
            expires_at: now.plus_seconds(60),
        };
        store.put_challenge("ch1", &challenge, now).await.unwrap();
        assert!(store.remove_coordinator(c.id, &k1).await.unwrap());
        assert!(
            !store.remove_coordinator(c.id, &k1).await.unwrap(),
            "{engine}: second removal is a no-op"
        );
        assert_eq!(
            store.token_owner(b"hash-of-token").await.unwrap(),
            None,
            "{engine}"
        );
        assert_eq!(store.take_challenge("ch1").await.unwrap(), None, "{engine}");
        assert_eq!(store.active_coordinator(c.id, &k1).await.unwrap(), None);
        assert!(
            store
                .active_coordinator(other.id, &k1)
                .await
                .unwrap()
                .is_some(),
            "{engine}: other collective unaffected"
        );

        let all = store.coordinators(c.id, true).await.unwrap();
        assert_eq!(all.len(), 2);
        assert!(all[0].removed_at.is_some());
        assert_eq!(store.coordinators(c.id, false).await.unwrap().len(), 1);

        // Re-adding a removed key is a new membership; history keeps the old one.
        store.add_coordinator(c.id, &k1, "back").await.unwrap();
        assert_eq!(store.coordinators(c.id, true).await.unwrap().len(), 3);

        // By id, removed ones included, with the collective's slug; by the signing key's
        // text alone, active ones only.
        let (by_id, slug) = store.coordinator_by_id(a.id).await.unwrap().unwrap();
        assert_eq!(
            (by_id.key, by_id.removed_at.is_some(), slug.as_str()),
            (k1.clone(), true, "roshanai"),
            "{engine}"
        );
        assert_eq!(
            store.coordinator_by_id(9_999).await.unwrap(),
            None,
            "{engine}"
        );
        let active = store
            .active_coordinator_by_signing_key(c.id, &k2.signing_str())
            .await
            .unwrap()
            .map(|t| t.label);
        assert_eq!(active, Some("coordinator 2".into()), "{engine}");
        assert_eq!(
            store
                .active_coordinator_by_signing_key(other.id, &k2.signing_str())
                .await
                .unwrap(),
            None,
            "{engine}: another collective's team"
        );
    }
}

/// Team changes are appended with the hub's table of coordinators brought to the team
/// they make, in one transaction; invitations let nobody in and go when their key joins.
#[tokio::test]
async fn the_team_log_decides_who_is_let_in() {
    use panah_core::ledger::DatePrecision;
    use panah_core::tlog::tiles::extend;
    use panah_core::tlog::LogKind;
    use panah_store::{Append, NewEntry, SignedOn};
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        let c = store
            .create_collective(&new_collective("roshanai"))
            .await
            .unwrap();
        let (founder, invited, other) = (key(), key(), key());
        let f = store.add_coordinator(c.id, &founder, "f").await.unwrap();
        store.invite_coordinator(c.id, &invited, "i").await.unwrap();
        let again = store.invite_coordinator(c.id, &invited, "i").await;
        assert!(matches!(again, Err(StoreError::Conflict(_))), "{engine}");
        let invitations = store.invitations(c.id).await.unwrap();
        assert_eq!(invitations.len(), 1, "{engine}");
        assert_eq!(invitations[0].key, invited, "{engine}");
        assert_eq!(store.coordinators(c.id, false).await.unwrap().len(), 1);
        let token = [9u8; 32];
        store
            .put_token(
                &token,
                f.id,
                Timestamp::now().plus_seconds(600),
                Timestamp::now(),
            )
            .await
            .unwrap();
        let signed = SignedOn {
            on: Timestamp::now(),
            precision: DatePrecision::Day,
        };
        let append = |base: u64, leaves: Vec<Vec<u8>>, known| {
            let refs: Vec<&[u8]> = leaves.iter().map(Vec::as_slice).collect();
            let ext = extend(base, &refs, &known).unwrap();
            (leaves, ext)
        };
        // Founding: the founder and the invited key.
        let (leaves, ext) = append(0, vec![b"a".to_vec(), b"b".to_vec()], Default::default());
        let entries: Vec<NewEntry> = leaves.iter().map(|l| NewEntry::plain(l)).collect();
        let team = vec![
            (founder.clone(), "f".to_owned()),
            (invited.clone(), "i".to_owned()),
        ];
        let log = store
            .append_team(
                c.id,
                "hub.example/c/roshanai/team",
                &Append {
                    base_size: 0,
                    entries: &entries,
                    hashes: &ext.hashes,
                    checkpoint: "note",
                    coordinator_id: f.id,
                    signed,
                },
                &team,
            )
            .await
            .unwrap();
        let stored = store.log(c.id, LogKind::Team).await.unwrap().unwrap();
        assert_eq!((stored.id, stored.size), (log, 2), "{engine}");
        let active = store.coordinators(c.id, false).await.unwrap();
        assert_eq!(active.len(), 2, "{engine}");
        assert!(
            store.invitations(c.id).await.unwrap().is_empty(),
            "{engine}"
        );
        // A stale base changes nothing.
        let stale = store
            .append_team(
                c.id,
                "hub.example/c/roshanai/team",
                &Append {
                    base_size: 0,
                    entries: &entries,
                    hashes: &ext.hashes,
                    checkpoint: "note",
                    coordinator_id: f.id,
                    signed,
                },
                &[(other.clone(), String::new())],
            )
            .await;
        assert!(stale.is_err(), "{engine}");
        assert_eq!(store.coordinators(c.id, false).await.unwrap().len(), 2);
        // The founder leaves, another joins: the founder's login ends at once.
        let needed = match extend(2, &[b"c".as_slice()], &Default::default()) {
            Err(panah_core::tlog::tiles::SparseError::Needed(nodes)) => nodes,
            other => panic!("{engine}: {other:?}"),
        };
        let known = store.log_nodes(log, &needed).await.unwrap();
        let (leaves, ext) = append(2, vec![b"c".to_vec()], known);
        let entries: Vec<NewEntry> = leaves.iter().map(|l| NewEntry::plain(l)).collect();
        let result = store
            .append_team(
                c.id,
                "ignored once the log exists",
                &Append {
                    base_size: 2,
                    entries: &entries,
                    hashes: &ext.hashes,
                    checkpoint: "note 2",
                    coordinator_id: f.id,
                    signed,
                },
                &[
                    (invited.clone(), "i".into()),
                    (other.clone(), String::new()),
                ],
            )
            .await;
        assert!(result.is_ok(), "{engine}: {result:?}");
        let active: Vec<CoordinatorKey> = store
            .coordinators(c.id, false)
            .await
            .unwrap()
            .into_iter()
            .map(|m| m.key)
            .collect();
        assert_eq!(active, vec![invited.clone(), other.clone()], "{engine}");
        assert!(
            store.token_owner(&token).await.unwrap().is_none(),
            "{engine}"
        );
        assert_eq!(
            store.latest_checkpoint(log).await.unwrap().unwrap().note,
            "note 2",
            "{engine}"
        );
    }
}

#[tokio::test]
async fn challenges_are_single_use_and_tokens_know_their_owner() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        let c = store
            .create_collective(&new_collective("roshanai"))
            .await
            .unwrap();
        let k = key();
        let a = store.add_coordinator(c.id, &k, "").await.unwrap();
        let now = Timestamp::now();
        let challenge = Challenge {
            coordinator_id: a.id,
            challenge: vec![9; 32],
            expires_at: now.plus_seconds(60),
        };
        store.put_challenge("abc", &challenge, now).await.unwrap();
        assert_eq!(
            store.take_challenge("abc").await.unwrap(),
            Some(challenge.clone()),
            "{engine}"
        );
        assert_eq!(
            store.take_challenge("abc").await.unwrap(),
            None,
            "{engine}: replay"
        );

        // Expired challenges are swept when new ones arrive.
        let old = Challenge {
            expires_at: now.plus_seconds(-10),
            ..challenge.clone()
        };
        store.put_challenge("old", &old, now).await.unwrap();
        store.put_challenge("new", &challenge, now).await.unwrap();
        assert_eq!(
            store.take_challenge("old").await.unwrap(),
            None,
            "{engine}: swept"
        );

        store
            .put_token(&[7; 32], a.id, now.plus_seconds(900), now)
            .await
            .unwrap();
        let owner = store.token_owner(&[7; 32]).await.unwrap().unwrap();
        assert_eq!(owner.coordinator_id, a.id);
        assert_eq!(owner.collective, c.slug);
        assert!(!owner.removed);
        assert_eq!(store.token_owner(&[8; 32]).await.unwrap(), None);
        store.delete_token(&[7; 32]).await.unwrap();
        assert_eq!(store.token_owner(&[7; 32]).await.unwrap(), None, "{engine}");
    }
}

#[tokio::test]
async fn reopening_keeps_data_and_migrations_run_once() {
    let dir = tempfile::tempdir().unwrap();
    let mut locations = vec![panah_store::testing::sqlite_location(dir.path())];
    if let Some(admin) = postgres_admin_url() {
        locations.push(fresh_postgres_database(&admin).await);
    }
    for location in locations {
        // Several hub processes starting at once on one database.
        let (a, b, c) = tokio::join!(
            Store::open(&location),
            Store::open(&location),
            Store::open(&location)
        );
        let store = a.unwrap();
        b.unwrap();
        c.unwrap();
        store
            .create_collective(&new_collective("kept"))
            .await
            .unwrap();
        store.close().await;
        let again = Store::open(&location).await.unwrap();
        assert_eq!(again.collectives().await.unwrap().len(), 1, "{location:?}");
    }
}

#[tokio::test]
async fn mistyped_locations_are_errors_not_new_databases() {
    let dir = tempfile::tempdir().unwrap();
    let typo = dir.path().join("panha.db");
    let location = Location::parse(&format!("sqlite:{}", typo.display())).unwrap();
    let err = Store::open(&location).await.unwrap_err();
    assert!(matches!(err, StoreError::Missing(_)), "{err}");
    assert!(
        err.to_string().contains("mode=rwc"),
        "says how to create one: {err}"
    );
    assert!(!typo.exists(), "no file was created");

    let create = Location::parse(&format!("sqlite:{}?mode=rwc", typo.display())).unwrap();
    Store::open(&create).await.unwrap();
    assert!(typo.exists());

    if let Some(admin) = postgres_admin_url() {
        let base = admin.rsplit_once('/').unwrap().0;
        let url = format!("{base}/no_such_database");
        let err = Store::open(&Location::parse(&url).unwrap())
            .await
            .unwrap_err();
        assert!(matches!(err, StoreError::Connect(_)), "{err}");
        assert!(err.to_string().contains("no_such_database"), "{err}");
    }
}

/// A message goes in whole (its row, its files' rows, its ciphertext kept with the row, the
/// conversation's dates) or not at all: on PostgreSQL it is one statement, so a refused
/// one must leave nothing behind, not even ciphertext.
#[tokio::test]
async fn a_message_goes_in_whole_or_not_at_all() {
    use panah_store::{NewMessage, Side};
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        let (c, other) = two_collectives(&store).await;
        // Two chunks of ciphertext (a chunk is 1 MiB) and three files.
        const CHUNK: usize = 1024 * 1024;
        let big: Vec<u8> = (0..CHUNK + 5_000).map(|i| (i % 251) as u8).collect();
        let message = |blob: &str, inline: Vec<u8>, files: usize| NewMessage {
            author: Side::Sender,
            blob: blob.into(),
            size: inline.len() as i64,
            files: (0..files)
                .map(|i| (format!("{blob}-file{i}"), 100 + i as i64))
                .collect(),
            inline: Some(inline),
        };
        let (conv, id) = store
            .add_message(
                c.id,
                &[7; 32],
                "age1reply",
                &message("whole", big.clone(), 3),
                30,
            )
            .await
            .unwrap();
        assert_eq!(
            store.blob_chunk("whole", 0).await.unwrap().as_deref(),
            Some(&big[..CHUNK]),
            "{engine}"
        );
        assert_eq!(
            store.blob_chunk("whole", 1).await.unwrap().as_deref(),
            Some(&big[CHUNK..]),
            "{engine}"
        );
        let one = store.conversation(c.id, conv).await.unwrap().unwrap();
        assert_eq!(one.messages.len(), 1, "{engine}");
        assert_eq!(one.messages[0].id, id, "{engine}");
        let files: Vec<(&str, i64)> = one.messages[0]
            .files
            .iter()
            .map(|f| (f.blob.as_str(), f.size))
            .collect();
        assert_eq!(
            files,
            [
                ("whole-file0", 100),
                ("whole-file1", 101),
                ("whole-file2", 102)
            ],
            "{engine}: every file, in order"
        );
        let expires = one.conversation.expires_on;

        // The same lookup key from another collective: refused, and nothing of it kept.
        let before = store.blob_data_totals().await.unwrap();
        assert!(
            matches!(
                store
                    .add_message(
                        other.id,
                        &[7; 32],
                        "age1x",
                        &message("stray", b"x".to_vec(), 2),
                        30
                    )
                    .await,
                Err(StoreError::Conflict(_))
            ),
            "{engine}"
        );
        // A follow-up to no conversation, and a reply to another collective's.
        assert!(matches!(
            store
                .add_followup(c.id, &[8; 32], &message("lost", b"y".to_vec(), 1), 30)
                .await,
            Err(StoreError::NotFound(_))
        ));
        let reply = NewMessage {
            author: Side::Coordinator,
            ..message("misdirected", b"z".to_vec(), 0)
        };
        assert!(matches!(
            store.add_reply(other.id, conv, &reply).await,
            Err(StoreError::NotFound(_))
        ));
        assert_eq!(
            store.blob_data_totals().await.unwrap(),
            before,
            "{engine}: no ciphertext of a refused message"
        );
        for key in ["stray", "lost", "misdirected"] {
            assert!(!store.blob_chunk_exists(key).await.unwrap(), "{engine}");
        }
        let asked = ["stray-file0", "stray-file1", "lost-file0"].map(String::from);
        assert!(
            store.referenced_blobs(&asked).await.unwrap().is_empty(),
            "{engine}: no file row of a refused message"
        );
        assert_eq!(
            store
                .conversation_by_lookup(other.id, &[7; 32])
                .await
                .unwrap(),
            None,
            "{engine}"
        );
        let still = store.conversation(c.id, conv).await.unwrap().unwrap();
        assert_eq!(still.messages.len(), 1, "{engine}");
        assert_eq!(still.conversation.expires_on, expires, "{engine}");

        // A reply leaves the expiry alone; a follow-up pushes it to its own retention.
        let reply = NewMessage {
            author: Side::Coordinator,
            ..message("reply", b"r".to_vec(), 0)
        };
        store.add_reply(c.id, conv, &reply).await.unwrap();
        let after_reply = store.conversation(c.id, conv).await.unwrap().unwrap();
        assert_eq!(after_reply.conversation.expires_on, expires, "{engine}");
        assert_eq!(after_reply.messages.len(), 2, "{engine}");
        store
            .add_followup(c.id, &[7; 32], &message("later", b"l".to_vec(), 0), 60)
            .await
            .unwrap();
        let after = store.conversation(c.id, conv).await.unwrap().unwrap();
        assert_eq!(
            after.conversation.expires_on.unix() - expires.unix(),
            30 * 86_400,
            "{engine}"
        );
        assert_eq!(
            store.blob_chunk("later", 0).await.unwrap().as_deref(),
            Some(&b"l"[..]),
            "{engine}"
        );
    }
}

/// Messages that arrive together are written together (group commit), and each sender
/// still gets their own answer: their conversation, a conflict, a missing conversation, or
/// the error of their own bad write, which fails no one else's.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn messages_that_arrive_together_each_get_their_own_answer() {
    use panah_store::{NewMessage, Side};
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        let (c, other) = two_collectives(&store).await;
        let message = |blob: String, files: usize, author: Side| NewMessage {
            author,
            inline: Some(blob.as_bytes().repeat(50)),
            size: 50 * blob.len() as i64,
            files: (0..files)
                .map(|i| (format!("{blob}-f{i}"), 10 + i as i64))
                .collect(),
            blob,
        };
        let (busy, _) = store
            .add_message(
                c.id,
                &[1; 32],
                "age1busy",
                &message("first".into(), 0, Side::Sender),
                30,
            )
            .await
            .unwrap();
        store
            .add_message(
                other.id,
                &[2; 32],
                "age1other",
                &message("theirs".into(), 0, Side::Sender),
                30,
            )
            .await
            .unwrap();
        #[derive(Debug, PartialEq)]
        enum Said {
            Stored(i64),
            Conflict,
            NotFound,
            Failed,
        }
        let mut tasks = tokio::task::JoinSet::new();
        for i in 0..60u8 {
            let store = store.clone();
            let (cid, other_id) = (c.id, other.id);
            let blob = format!("m{i:02}");
            tasks.spawn(async move {
                let said = match i % 6 {
                    // New conversations, some with files.
                    0 | 1 => store
                        .add_message(
                            cid,
                            &[100 + i; 32],
                            "age1new",
                            &message(blob, usize::from(i % 3), Side::Sender),
                            30,
                        )
                        .await
                        .map(|(conv, _)| conv),
                    // Follow-ups and replies to one conversation, all at once.
                    2 => store
                        .add_followup(cid, &[1; 32], &message(blob, 1, Side::Sender), 30)
                        .await
                        .map(|(conv, _)| conv),
                    3 => store
                        .add_reply(cid, busy, &message(blob, 0, Side::Coordinator))
                        .await
                        .map(|_| busy),
                    // Another collective's key, and a conversation that is not there.
                    4 if i % 4 == 0 => store
                        .add_message(cid, &[2; 32], "age1x", &message(blob, 0, Side::Sender), 30)
                        .await
                        .map(|(conv, _)| conv),
                    4 => store
                        .add_followup(other_id, &[1; 32], &message(blob, 0, Side::Sender), 30)
                        .await
                        .map(|(conv, _)| conv),
                    // A blob key already stored: a bad write of its own.
                    _ => store
                        .add_message(
                            cid,
                            &[180 + i / 6; 32],
                            "age1dup",
                            &message("first".into(), 0, Side::Sender),
                            30,
                        )
                        .await
                        .map(|(conv, _)| conv),
                };
                let said = match said {
                    Ok(conv) => Said::Stored(conv),
                    Err(StoreError::Conflict(_)) => Said::Conflict,
                    Err(StoreError::NotFound(_)) => Said::NotFound,
                    Err(_) => Said::Failed,
                };
                (i, said)
            });
        }
        let mut new_conversations = HashSet::new();
        while let Some(done) = tasks.join_next().await {
            let (i, said) = done.unwrap();
            match i % 6 {
                0 | 1 => {
                    let Said::Stored(conv) = said else {
                        panic!("{engine}: message {i}: {said:?}")
                    };
                    assert!(new_conversations.insert(conv), "{engine}: {i}");
                }
                2 | 3 => assert_eq!(said, Said::Stored(busy), "{engine}: message {i}"),
                4 if i % 4 == 0 => assert_eq!(said, Said::Conflict, "{engine}: message {i}"),
                4 => assert_eq!(said, Said::NotFound, "{engine}: message {i}"),
                _ => assert_eq!(said, Said::Failed, "{engine}: message {i}"),
            }
        }
        assert_eq!(new_conversations.len(), 20, "{engine}");
        let one = store.conversation(c.id, busy).await.unwrap().unwrap();
        assert_eq!(one.messages.len(), 1 + 10 + 10, "{engine}");
        for m in &one.messages {
            let expected = m.blob.as_bytes().repeat(50);
            assert_eq!(
                store.blob_chunk(&m.blob, 0).await.unwrap(),
                Some(expected),
                "{engine}: {}",
                m.blob
            );
            if m.author == Side::Sender && m.blob != "first" {
                assert_eq!(m.files.len(), 1, "{engine}");
                assert_eq!(m.files[0].blob, format!("{}-f0", m.blob), "{engine}");
            }
        }
        for conv in &new_conversations {
            let one = store.conversation(c.id, *conv).await.unwrap().unwrap();
            assert_eq!(one.messages.len(), 1, "{engine}");
            let m = &one.messages[0];
            let i: usize = m.blob[1..].parse().unwrap();
            let files: Vec<String> = m.files.iter().map(|f| f.blob.clone()).collect();
            let expected: Vec<String> = (0..i % 3).map(|f| format!("{}-f{f}", m.blob)).collect();
            assert_eq!(files, expected, "{engine}: the files of {}", m.blob);
        }
        // Nothing of the refused: 20 new + 10 follow-ups + 10 replies + the two first.
        assert_eq!(store.blob_data_totals().await.unwrap().0, 42, "{engine}");
        assert_eq!(
            store.conversations(other.id).await.unwrap().len(),
            1,
            "{engine}"
        );
    }
}

#[tokio::test]
async fn conversations_messages_and_expiry() {
    use panah_store::{BlobKind, NewMessage, Side};
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        let secret = store.hub_secret("codename").await.unwrap();
        assert_eq!(secret.len(), 32);
        assert_eq!(
            store.hub_secret("codename").await.unwrap(),
            secret,
            "{engine}: stable"
        );

        let (c, other) = two_collectives(&store).await;
        let msg = |blob: &str, files: &[&str]| NewMessage {
            author: Side::Sender,
            blob: blob.into(),
            size: 1024,
            files: files.iter().map(|f| ((*f).to_owned(), 2048)).collect(),
            inline: None,
        };
        let (conv, m1) = store
            .add_message(c.id, &[1; 32], "age1reply", &msg("b1", &["f1", "f2"]), 90)
            .await
            .unwrap();
        let (same, m2) = store
            .add_message(c.id, &[1; 32], "age1reply", &msg("b2", &[]), 90)
            .await
            .unwrap();
        assert_eq!(conv, same, "{engine}: a follow-up joins the conversation");
        assert!(m2 > m1);
        let (second, _) = store
            .add_message(c.id, &[2; 32], "age1other", &msg("b3", &[]), 90)
            .await
            .unwrap();
        assert_ne!(second, conv);

        // A follow-up joins only a conversation that exists, in its own collective.
        let (joined, _) = store
            .add_followup(c.id, &[2; 32], &msg("b5", &[]), 90)
            .await
            .unwrap();
        assert_eq!(joined, second, "{engine}");
        for (collective, lookup) in [(c.id, [9u8; 32]), (other.id, [2u8; 32])] {
            assert!(
                matches!(
                    store
                        .add_followup(collective, &lookup, &msg("b6", &[]), 90)
                        .await,
                    Err(StoreError::NotFound(_))
                ),
                "{engine}: a follow-up never opens a conversation"
            );
        }
        assert_eq!(
            store.conversation_by_lookup(c.id, &[9; 32]).await.unwrap(),
            None,
            "{engine}: nothing was created"
        );
        assert_eq!(store.conversations(c.id).await.unwrap().len(), 2);

        // The sender's view: no conversation, or one with no replies yet.
        assert_eq!(
            store.replies_by_lookup(c.id, &[9; 32]).await.unwrap(),
            None,
            "{engine}"
        );
        let view = store
            .replies_by_lookup(c.id, &[2; 32])
            .await
            .unwrap()
            .unwrap();
        assert!(view.is_empty(), "{engine}");

        let found = store
            .conversation_by_lookup(c.id, &[1; 32])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.reply_recipient, "age1reply");
        assert_eq!(
            found.created_on.unix() % 86_400,
            0,
            "{engine}: dates are whole days"
        );
        assert_eq!(
            store
                .conversation_by_lookup(other.id, &[1; 32])
                .await
                .unwrap(),
            None,
            "{engine}: scoped"
        );

        let reply = NewMessage {
            author: Side::Coordinator,
            blob: "r1".into(),
            size: 1024,
            files: vec![],
            inline: None,
        };
        store.add_reply(c.id, conv, &reply).await.unwrap();
        let view = store
            .replies_by_lookup(c.id, &[1; 32])
            .await
            .unwrap()
            .unwrap();
        assert_eq!(view, vec![("r1".to_owned(), 1024)], "{engine}");
        // One conversation by id, scoped to its collective, with every message and file.
        let one = store.conversation(c.id, conv).await.unwrap().unwrap();
        assert_eq!(one.conversation.id, conv, "{engine}");
        let blobs: Vec<&str> = one.messages.iter().map(|m| m.blob.as_str()).collect();
        assert_eq!(blobs, ["b1", "b2", "r1"], "{engine}");
        assert_eq!(one.messages[0].files.len(), 2, "{engine}");
        assert!(
            store.conversation(other.id, conv).await.unwrap().is_none(),
            "{engine}"
        );
        // Which blob keys rows refer to: messages' and files' alike, nothing else.
        let asked: Vec<String> = ["b1", "f2", "r1", "orphan"].map(String::from).to_vec();
        let referenced = store.referenced_blobs(&asked).await.unwrap();
        let mut referenced: Vec<&str> = referenced.iter().map(String::as_str).collect();
        referenced.sort_unstable();
        assert_eq!(referenced, ["b1", "f2", "r1"], "{engine}");
        assert_eq!(
            store.replies_by_lookup(other.id, &[1; 32]).await.unwrap(),
            None,
            "{engine}: scoped"
        );
        assert!(
            matches!(
                store.add_reply(other.id, conv, &reply).await,
                Err(StoreError::NotFound(_))
            ),
            "{engine}"
        );

        let all = store.conversations(c.id).await.unwrap();
        assert_eq!(all.len(), 2);
        let first = all.iter().find(|s| s.conversation.id == conv).unwrap();
        assert_eq!(first.messages.len(), 3);
        assert_eq!(
            first.messages[0]
                .files
                .iter()
                .map(|f| f.blob.as_str())
                .collect::<Vec<_>>(),
            ["f1", "f2"]
        );
        assert_eq!(first.messages[2].author, Side::Coordinator);
        let file_id = first.messages[0].files[1].id;
        assert_eq!(
            store
                .blob_of(c.id, BlobKind::File, file_id)
                .await
                .unwrap()
                .as_deref(),
            Some("f2")
        );
        assert_eq!(
            store
                .blob_of(other.id, BlobKind::File, file_id)
                .await
                .unwrap(),
            None,
            "{engine}: scoped"
        );
        assert_eq!(
            store
                .blob_of(c.id, BlobKind::Message, m2)
                .await
                .unwrap()
                .as_deref(),
            Some("b2")
        );
        // Re-encryption: a compare-and-set on the blob, scoped to the collective.
        for (kind, id, old, new) in [
            (BlobKind::File, file_id, "f2", "f2b"),
            (BlobKind::Message, m2, "b2", "b2b"),
        ] {
            assert!(
                !store
                    .replace_blob(other.id, kind, id, old, new, 9)
                    .await
                    .unwrap(),
                "{engine}: scoped"
            );
            assert!(
                !store
                    .replace_blob(c.id, kind, id, "stale", new, 9)
                    .await
                    .unwrap(),
                "{engine}: only from the blob it had"
            );
            assert!(store
                .replace_blob(c.id, kind, id, old, new, 9)
                .await
                .unwrap());
            assert!(store
                .replace_blob(c.id, kind, id, new, old, 9)
                .await
                .unwrap());
        }

        let mut blobs = store
            .delete_conversation(c.id, conv)
            .await
            .unwrap()
            .unwrap();
        blobs.sort();
        assert_eq!(blobs, ["b1", "b2", "f1", "f2", "r1"]);
        assert_eq!(store.delete_conversation(c.id, conv).await.unwrap(), None);
        assert_eq!(store.conversations(c.id).await.unwrap().len(), 1);

        // Retention: a conversation kept for 0 days has expired by now.
        let (gone, _) = store
            .add_message(c.id, &[3; 32], "age1x", &msg("b4", &[]), 0)
            .await
            .unwrap();
        let expired = store.expired_conversations(Timestamp::now()).await.unwrap();
        assert_eq!(expired, vec![(c.id, gone)], "{engine}");
        // The sweep deletes only what has still expired: a conversation written to since
        // it was listed (here: one that is not expired) is kept.
        let (alive, _) = store
            .add_message(c.id, &[4; 32], "age1y", &msg("b8", &[]), 90)
            .await
            .unwrap();
        assert_eq!(
            store
                .delete_expired_conversation(c.id, alive, Timestamp::now())
                .await
                .unwrap(),
            None,
            "{engine}"
        );
        assert!(store
            .conversation_by_lookup(c.id, &[4; 32])
            .await
            .unwrap()
            .is_some());
        // A follow-up to it would be deleted unread by the next sweep: refused instead.
        assert!(
            matches!(
                store
                    .add_followup(c.id, &[3; 32], &msg("b7", &[]), 90)
                    .await,
                Err(StoreError::NotFound(_))
            ),
            "{engine}"
        );
    }
}

/// The ledger store: appends are all-or-nothing behind a compare-and-set on the size, the
/// database refuses a second reversal of one entry and a reused receipt, and what it reads
/// back (leaves, levels, nodes) is what was written.
#[tokio::test]
async fn ledger_appends_checkpoints_and_goals() {
    use panah_core::ledger::{Category, Currency};
    use panah_core::tlog::tiles::extend;
    use panah_core::tlog::LogKind;
    use panah_store::{Append, NewEntry, SignedOn};
    use std::collections::{BTreeMap, HashMap};

    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        let c = store
            .create_collective(&new_collective("roshanai"))
            .await
            .unwrap();
        let coordinator = store.add_coordinator(c.id, &key(), "").await.unwrap();
        assert_eq!(store.ledger(c.id).await.unwrap(), None, "{engine}");
        assert_eq!(store.log(c.id, LogKind::Ledger).await.unwrap(), None);
        let afn = Currency::parse("AFN").unwrap();
        // The append protocol decides how exactly a signing date is kept; the store keeps
        // exactly what it is given.
        let monday = SignedOn {
            on: Timestamp::parse("2021-08-30T00:00:00Z").unwrap(),
            precision: panah_core::ledger::DatePrecision::Week,
        };
        let log_id = store
            .create_ledger(
                c.id,
                "hub.example/c/roshanai/ledger",
                afn,
                "note 0\n",
                coordinator.id,
                monday,
            )
            .await
            .unwrap();
        let again = store
            .create_ledger(c.id, "other", afn, "note 0\n", coordinator.id, monday)
            .await;
        assert!(
            matches!(again, Err(StoreError::Conflict(_))),
            "{engine}: {again:?}"
        );
        let ledger = store.ledger(c.id).await.unwrap().unwrap();
        assert_eq!(
            (ledger.log.size, ledger.base_currency),
            (0, afn),
            "{engine}"
        );
        assert_eq!(
            (ledger.log.id, ledger.log.kind, ledger.log.collective_id),
            (log_id, LogKind::Ledger, c.id)
        );
        assert_eq!(
            store.log(c.id, LogKind::Ledger).await.unwrap().as_ref(),
            Some(&ledger.log)
        );
        assert_eq!(
            store.latest_checkpoint(log_id).await.unwrap().unwrap().note,
            "note 0\n"
        );

        // Three appends of 100 entries (so levels 0..8 all get hashes).
        let leaves: Vec<Vec<u8>> = (0..300)
            .map(|i| format!("leaf {i}\n").into_bytes())
            .collect();
        let receipt = [9u8; 32];
        let mut known = HashMap::new();
        for round in 0..3u64 {
            let base = round * 100;
            let batch = &leaves[base as usize..base as usize + 100];
            let refs: Vec<&[u8]> = batch.iter().map(Vec::as_slice).collect();
            let ext = extend(base, &refs, &known)
                .unwrap_or_else(|_| panic!("every hash is kept in `known` here"));
            known.extend(ext.hashes.iter().copied());
            let entries: Vec<NewEntry> = batch
                .iter()
                .enumerate()
                .map(|(i, leaf)| NewEntry {
                    leaf,
                    receipt: (round == 0 && i == 3).then_some(&receipt),
                    reverses: (round == 1 && i == 0).then_some(3),
                })
                .collect();
            let note = format!("note {}\n", ext.size);
            let append = Append {
                base_size: base,
                entries: &entries,
                hashes: &ext.hashes,
                checkpoint: &note,
                coordinator_id: coordinator.id,
                signed: monday,
            };
            store.append_log(log_id, &append).await.unwrap();
            // The same append again is stale: the ledger has moved on.
            let stale = store.append_log(log_id, &append).await;
            assert!(
                matches!(stale, Err(StoreError::Stale(_))),
                "{engine}: {stale:?}"
            );
        }
        let ledger = store.ledger(c.id).await.unwrap().unwrap();
        assert_eq!(ledger.log.size, 300, "{engine}");
        assert_eq!(
            ledger.log.origin, "hub.example/c/roshanai/ledger",
            "{engine}"
        );
        let latest = store.latest_checkpoint(log_id).await.unwrap().unwrap();
        assert_eq!((latest.size, latest.note.as_str()), (300, "note 300\n"));
        assert_eq!(
            (latest.signed_on, latest.signed_precision),
            (monday.on, monday.precision),
            "{engine}"
        );

        // A second reversal of entry 3 and a reused receipt roll back whole.
        for (receipt, reverses) in [(None, Some(3)), (Some(&receipt), None)] {
            let leaf = b"extra\n".to_vec();
            let ext = extend(300, &[leaf.as_slice()], &known).unwrap();
            let entries = [NewEntry {
                leaf: &leaf,
                receipt,
                reverses,
            }];
            let refused = store
                .append_log(
                    log_id,
                    &Append {
                        base_size: 300,
                        entries: &entries,
                        hashes: &ext.hashes,
                        checkpoint: "note 301\n",
                        coordinator_id: coordinator.id,
                        signed: monday,
                    },
                )
                .await;
            assert!(
                matches!(refused, Err(StoreError::Conflict(_))),
                "{engine}: {refused:?}"
            );
            assert_eq!(
                store.ledger(c.id).await.unwrap().unwrap().log.size,
                300,
                "{engine}"
            );
            assert_eq!(store.log_leaves(log_id, 300, 400).await.unwrap(), vec![]);
        }

        let got = store.log_leaves(log_id, 250, 400).await.unwrap();
        assert_eq!(got.len(), 50);
        assert_eq!(got[0], (250, leaves[250].clone()));
        let latest = store.log_latest(log_id, 2).await.unwrap();
        assert_eq!(latest.iter().map(|e| e.0).collect::<Vec<_>>(), [299, 298]);
        let level8 = store.log_level(log_id, 8, 0, 10).await.unwrap();
        assert_eq!(level8.len(), 1, "{engine}: one full 256-leaf subtree");
        assert_eq!(Some(&level8[0].1), known.get(&(8, 0)));
        let nodes = store
            .log_nodes(log_id, &[(0, 5), (3, 7), (9, 0)])
            .await
            .unwrap();
        assert_eq!(nodes.len(), 2, "{engine}: (9, 0) does not exist yet");
        assert_eq!(nodes.get(&(3, 7)), known.get(&(3, 7)));
        assert_eq!(
            store
                .ledger_entry_by_receipt(log_id, &receipt)
                .await
                .unwrap(),
            Some((3, leaves[3].clone()))
        );
        assert_eq!(
            store
                .ledger_entry_by_receipt(log_id, &[1; 32])
                .await
                .unwrap(),
            None
        );
        assert_eq!(
            store.ledger_reversal_target(log_id, 3).await.unwrap(),
            (Some(leaves[3].clone()), true)
        );
        assert_eq!(
            store.ledger_reversal_target(log_id, 4).await.unwrap(),
            (Some(leaves[4].clone()), false)
        );
        assert_eq!(
            store.ledger_reversal_target(log_id, 999).await.unwrap(),
            (None, false)
        );

        let budgets = BTreeMap::from([(Category::Food, 500_000), (Category::Power, 200_000)]);
        store
            .set_ledger_goals(log_id, Some(1_000_000), &budgets)
            .await
            .unwrap();
        store
            .set_ledger_goals(
                log_id,
                Some(2_000_000),
                &BTreeMap::from([(Category::Food, 7)]),
            )
            .await
            .unwrap();
        let ledger = store.ledger(c.id).await.unwrap().unwrap();
        assert_eq!(ledger.target, Some(2_000_000), "{engine}");
        assert_eq!(
            ledger.budgets,
            BTreeMap::from([(Category::Food, 7)]),
            "{engine}"
        );
        assert!(matches!(
            store
                .set_ledger_goals(panah_store::LogId(log_id.0 + 1000), None, &BTreeMap::new())
                .await,
            Err(StoreError::NotFound(_))
        ));
    }
}

/// Migration 5 moves every existing ledger into the log tables: each leaf, stored hash and
/// signed note as it was, so every published tile and checkpoint is the same byte for byte,
/// and the receipts, reversals and goals still answer.
#[tokio::test]
async fn the_logs_migration_keeps_every_ledger_byte_for_byte() {
    use panah_core::ledger::Category;
    use panah_core::tlog::check::all_tiles;
    use panah_core::tlog::tiles::{encode_bundle, tiles_for, TileKind};
    use panah_core::tlog::LogKind;
    use sqlx::Connection;
    use std::collections::BTreeMap;

    let dir = tempfile::tempdir().unwrap();
    let mut locations = vec![("sqlite", panah_store::testing::sqlite_location(dir.path()))];
    if let Some(admin) = postgres_admin_url() {
        locations.push(("postgres", fresh_postgres_database(&admin).await));
    }
    for (engine, location) in locations {
        let old = Store::open_at_migration(&location, 4).await.unwrap();
        // A collective without a ledger first, so that log ids and collective ids differ.
        old.create_collective(&new_collective("no-ledger"))
            .await
            .unwrap();
        let mut ledgers = Vec::new();
        for (slug, n) in [("roshanai", 300usize), ("other", 3)] {
            let c = old.create_collective(&new_collective(slug)).await.unwrap();
            let coordinator = old.add_coordinator(c.id, &key(), "").await.unwrap();
            let leaves: Vec<Vec<u8>> = (0..n)
                .map(|i| format!("{slug} leaf {i}\n").into_bytes())
                .collect();
            ledgers.push((c.id, coordinator.id, slug, leaves));
        }
        old.close().await;

        // Rows as a hub of schema 4 wrote them.
        let url = match &location {
            Location::Sqlite { path, .. } => format!("sqlite://{}?mode=rw", path.display()),
            Location::Postgres { url } => url.clone(),
        };
        let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
        for (cid, coordinator_id, slug, leaves) in &ledgers {
            let (tree, _) = all_tiles(leaves).unwrap();
            sqlx::query(
                "INSERT INTO ledgers (collective_id, origin, base_currency, size, target, created_at)
                 VALUES ($1, $2, 'AFN', $3, 900, '2021-08-20T10:00:00Z')",
            )
            .bind(cid)
            .bind(format!("hub.example/c/{slug}/ledger"))
            .bind(leaves.len() as i64)
            .execute(&mut conn)
            .await
            .unwrap();
            sqlx::query(
                "INSERT INTO ledger_budgets (collective_id, category, amount) VALUES ($1, 'food', 500)",
            )
            .bind(cid)
            .execute(&mut conn)
            .await
            .unwrap();
            for (i, leaf) in leaves.iter().enumerate() {
                sqlx::query(
                    "INSERT INTO ledger_entries (collective_id, idx, leaf, receipt, reverses)
                     VALUES ($1, $2, $3, $4, $5)",
                )
                .bind(cid)
                .bind(i as i64)
                .bind(leaf.clone())
                .bind((i == 1).then(|| vec![*cid as u8; 32]))
                .bind((i == 2).then_some(0i64))
                .execute(&mut conn)
                .await
                .unwrap();
            }
            for level in 0..=9u8 {
                for n in 0.. {
                    let Some(hash) = tree.node(level, n) else {
                        break;
                    };
                    sqlx::query(
                        "INSERT INTO ledger_hashes (collective_id, level, n, hash)
                         VALUES ($1, $2, $3, $4)",
                    )
                    .bind(cid)
                    .bind(i64::from(level))
                    .bind(n as i64)
                    .bind(hash.to_vec())
                    .execute(&mut conn)
                    .await
                    .unwrap();
                }
            }
            for (size, on) in [
                (0, "2021-08-20T00:00:00Z"),
                (leaves.len(), "2021-08-23T00:00:00Z"),
            ] {
                sqlx::query(
                    "INSERT INTO ledger_checkpoints
                         (collective_id, size, note, coordinator_id, signed_on, signed_precision)
                     VALUES ($1, $2, $3, $4, $5, 'week')",
                )
                .bind(cid)
                .bind(size as i64)
                .bind(format!("{slug} note {size}\n"))
                .bind(coordinator_id)
                .bind(on)
                .execute(&mut conn)
                .await
                .unwrap();
            }
        }
        let _ = conn.close().await;

        let store = Store::open(&location).await.unwrap();
        for (cid, coordinator_id, slug, leaves) in &ledgers {
            let ledger = store.ledger(*cid).await.unwrap().unwrap();
            let log = &ledger.log;
            assert_eq!(
                (
                    log.kind,
                    log.origin.as_str(),
                    log.size,
                    log.created_at.to_string()
                ),
                (
                    LogKind::Ledger,
                    format!("hub.example/c/{slug}/ledger").as_str(),
                    leaves.len() as u64,
                    "2021-08-20T10:00:00Z".to_owned()
                ),
                "{engine}"
            );
            assert_eq!(
                (ledger.base_currency.code(), ledger.target, &ledger.budgets),
                ("AFN", Some(900), &BTreeMap::from([(Category::Food, 500)])),
                "{engine}"
            );
            // Every tile a verifier downloads, byte for byte.
            let (_, expected) = all_tiles(leaves).unwrap();
            for tile in tiles_for(log.size) {
                let from = tile.first();
                let to = from + u64::from(tile.width);
                let got = match tile.kind {
                    TileKind::Entries => {
                        let rows = store.log_leaves(log.id, from, to).await.unwrap();
                        encode_bundle(rows.iter().map(|(_, l)| l.as_slice())).unwrap()
                    }
                    TileKind::Hashes { .. } => store
                        .log_level(log.id, tile.tree_level(), from, to)
                        .await
                        .unwrap()
                        .iter()
                        .flat_map(|(_, h)| *h)
                        .collect(),
                };
                assert_eq!(Some(&got), expected.get(&tile), "{engine}: {}", tile.path());
            }
            let latest = store.latest_checkpoint(log.id).await.unwrap().unwrap();
            assert_eq!(
                (
                    latest.note,
                    latest.size,
                    latest.coordinator_id,
                    latest.signed_on.to_string()
                ),
                (
                    format!("{slug} note {}\n", leaves.len()),
                    leaves.len() as u64,
                    *coordinator_id,
                    "2021-08-23T00:00:00Z".to_owned()
                ),
                "{engine}"
            );
            assert_eq!(
                store
                    .ledger_entry_by_receipt(log.id, &[*cid as u8; 32])
                    .await
                    .unwrap(),
                Some((1, leaves[1].clone())),
                "{engine}"
            );
            assert_eq!(
                store.ledger_reversal_target(log.id, 0).await.unwrap(),
                (Some(leaves[0].clone()), true),
                "{engine}"
            );
            assert_eq!(
                store.ledger_reversal_target(log.id, 1).await.unwrap(),
                (Some(leaves[1].clone()), false),
                "{engine}"
            );
        }
        // The migrated ledger takes appends, and its index still refuses a second reversal
        // of entry 0 and a reused receipt.
        {
            use panah_core::tlog::tiles::extend;
            use panah_store::{Append, NewEntry, SignedOn};
            let (cid, coordinator_id, _, leaves) = &ledgers[0];
            let ledger = store.ledger(*cid).await.unwrap().unwrap();
            assert_ne!(ledger.log.id.0, *cid, "{engine}: ids differ in this test");
            let (tree, _) = all_tiles(leaves).unwrap();
            let mut known = std::collections::HashMap::new();
            for level in 0..=9u8 {
                for n in 0.. {
                    let Some(hash) = tree.node(level, n) else {
                        break;
                    };
                    known.insert((level, n), hash);
                }
            }
            let size = leaves.len() as u64;
            let leaf = b"after the migration\n".to_vec();
            let ext = extend(size, &[leaf.as_slice()], &known).unwrap_or_else(|_| panic!("extend"));
            let signed = SignedOn {
                on: Timestamp::parse("2021-09-06T00:00:00Z").unwrap(),
                precision: panah_core::ledger::DatePrecision::Day,
            };
            let receipt = [*cid as u8; 32];
            for (receipt, reverses) in [(None, Some(0)), (Some(&receipt), None)] {
                let entries = [NewEntry {
                    leaf: &leaf,
                    receipt,
                    reverses,
                }];
                let refused = store
                    .append_log(
                        ledger.log.id,
                        &Append {
                            base_size: size,
                            entries: &entries,
                            hashes: &ext.hashes,
                            checkpoint: "note\n",
                            coordinator_id: *coordinator_id,
                            signed,
                        },
                    )
                    .await;
                assert!(
                    matches!(refused, Err(StoreError::Conflict(_))),
                    "{engine}: {refused:?}"
                );
            }
            store
                .append_log(
                    ledger.log.id,
                    &Append {
                        base_size: size,
                        entries: &[NewEntry::plain(&leaf)],
                        hashes: &ext.hashes,
                        checkpoint: "note\n",
                        coordinator_id: *coordinator_id,
                        signed,
                    },
                )
                .await
                .unwrap();
            assert_eq!(
                store
                    .log_leaves(ledger.log.id, size, size + 1)
                    .await
                    .unwrap(),
                vec![(size, leaf.clone())],
                "{engine}"
            );
        }

        // The old tables are gone: nothing can read or write them by mistake.
        let mut conn = sqlx::AnyConnection::connect(&url).await.unwrap();
        for table in [
            "ledgers",
            "ledger_entries",
            "ledger_hashes",
            "ledger_checkpoints",
            "ledger_budgets",
        ] {
            let gone = sqlx::query(&format!("SELECT COUNT(*) FROM {table}"))
                .fetch_one(&mut conn)
                .await;
            assert!(gone.is_err(), "{engine}: {table} is still there");
        }
        let _ = conn.close().await;
    }
}

#[tokio::test]
async fn records_are_compare_and_set_and_read_in_change_order() {
    use panah_store::{RecordRefusal, RecordWrite};
    fn write<'a>(record: &'a str, base: Option<i64>, body: &'static [u8]) -> RecordWrite<'a> {
        RecordWrite {
            record,
            base,
            version: base.unwrap_or(0) + 1,
            wrapped: b"wrapped-key",
            body,
            day: "2021-08-24",
        }
    }
    async fn one(
        store: &Store,
        c: i64,
        w: RecordWrite<'_>,
        max_bytes: i64,
    ) -> Result<i64, RecordRefusal> {
        store
            .write_records(c, &[w], 3, max_bytes)
            .await
            .unwrap()
            .remove(0)
    }
    const ROOM: i64 = 1 << 20;
    let dir = tempfile::tempdir().unwrap();
    let (a, b, cc, d, e) = (
        "a".repeat(32),
        "b".repeat(32),
        "c".repeat(32),
        "d".repeat(32),
        "e".repeat(32),
    );
    for (engine, store) in every_engine(dir.path()).await {
        let (c, other) = two_collectives(&store).await;
        assert_eq!(store.records_seq(c.id).await.unwrap(), 0, "{engine}");
        assert_eq!(one(&store, c.id, write(&a, None, b"a1"), ROOM).await, Ok(1));
        assert_eq!(one(&store, c.id, write(&b, None, b"b1"), ROOM).await, Ok(2));
        // The other collective has its own ids and its own clock.
        assert_eq!(
            one(&store, other.id, write(&a, None, b"x"), ROOM).await,
            Ok(1)
        );
        // A second creation of the same id, or an edit of a version that is not current.
        assert_eq!(
            one(&store, c.id, write(&a, None, b"again"), ROOM).await,
            Err(RecordRefusal::Changed { current: Some(1) }),
            "{engine}"
        );
        assert_eq!(
            one(&store, c.id, write(&a, Some(1), b"a2"), ROOM).await,
            Ok(3)
        );
        assert_eq!(
            one(&store, c.id, write(&a, Some(1), b"lost"), ROOM).await,
            Err(RecordRefusal::Changed { current: Some(2) }),
            "{engine}: the second of two edits of version 1 is refused"
        );
        assert_eq!(
            one(&store, c.id, write(&cc, Some(1), b"?"), ROOM).await,
            Err(RecordRefusal::Changed { current: None })
        );
        // In change order, from a cursor; a page ends by rows or by bytes.
        let (all, more) = store.records_since(c.id, 0, 100, 1 << 20).await.unwrap();
        assert!(!more);
        assert_eq!(
            all.iter()
                .map(|r| (r.record.as_str(), r.version, r.seq))
                .collect::<Vec<_>>(),
            [(b.as_str(), 1, 2), (a.as_str(), 2, 3)],
            "{engine}"
        );
        assert_eq!(
            (all[1].wrapped.as_slice(), all[1].body.as_slice()),
            (&b"wrapped-key"[..], &b"a2"[..])
        );
        assert_eq!(all[1].changed_on, "2021-08-24");
        let (page, more) = store.records_since(c.id, 0, 1, 1 << 20).await.unwrap();
        assert_eq!((page.len(), more), (1, true));
        let (page, more) = store.records_since(c.id, 0, 100, 10).await.unwrap();
        assert_eq!(
            (page.len(), more),
            (1, true),
            "{engine}: one record over the byte limit"
        );
        let (page, more) = store.records_since(c.id, 3, 100, 10).await.unwrap();
        assert_eq!((page.len(), more), (0, false));

        // At most max_live records, and at most max_bytes of them.
        assert!(one(&store, c.id, write(&cc, None, b"c"), ROOM)
            .await
            .is_ok());
        assert_eq!(
            one(&store, c.id, write(&d, None, b"d"), ROOM).await,
            Err(RecordRefusal::Full),
            "{engine}"
        );
        assert_eq!(
            store.records_seq(c.id).await.unwrap(),
            4,
            "{engine}: refusals use no number"
        );
        // 11 + 2 bytes each for a, b and c: 39 held. A bigger version of a needs room.
        assert_eq!(
            one(&store, c.id, write(&a, Some(2), b"a3 is much longer"), 40).await,
            Err(RecordRefusal::Full),
            "{engine}: over the collective's bytes"
        );
        assert_eq!(
            one(&store, c.id, write(&a, Some(2), b"a3"), 40).await,
            Ok(5),
            "{engine}: the same size fits"
        );

        // A batch: one transaction, each change its own compare-and-set; a refused change
        // leaves a gap in the numbers.
        let other_id = other.id;
        let results = store
            .write_records(
                c.id,
                &[
                    write(&cc, Some(1), b"c2"),
                    write(&b, Some(9), b"stale"),
                    write(&e, None, b"e"),
                ],
                4,
                ROOM,
            )
            .await
            .unwrap();
        assert_eq!(
            results,
            [
                Ok(6),
                Err(RecordRefusal::Changed { current: Some(1) }),
                Ok(8)
            ],
            "{engine}"
        );
        let (page, _) = store.records_since(c.id, 5, 100, 1 << 20).await.unwrap();
        assert_eq!(
            page.iter().map(|r| r.seq).collect::<Vec<_>>(),
            [6, 8],
            "{engine}"
        );
        assert!(store
            .write_records(c.id, &[], 3, ROOM)
            .await
            .unwrap()
            .is_empty());
        assert_eq!(store.records_seq(other_id).await.unwrap(), 1);
    }
}

/// A whole hub copied into another store (what backup and restore are made of), across
/// engines both ways: every row arrives, ids go on after the copied ones, a destination
/// with rows is refused, and the backup's own helpers (blob keys, the rows naming one,
/// forgetting a message whose blob is gone) work on the copy.
#[tokio::test]
async fn a_hub_copies_whole_into_another_store() {
    use panah_store::{BlobKind, NewMessage, Side};
    let dir = tempfile::tempdir().unwrap();
    let engines = every_engine(dir.path()).await;
    for (i, (engine, source)) in engines.iter().enumerate() {
        let c = source
            .create_collective(&new_collective(&format!("copy-{i}")))
            .await
            .unwrap();
        source.add_coordinator(c.id, &key(), "a").await.unwrap();
        assert_eq!(source.hub_secret("codenames").await.unwrap().len(), 32);
        let first = NewMessage {
            author: Side::Sender,
            blob: "0123456789abcdef0123456789abcdef".into(),
            size: 1024,
            files: vec![("fedcba9876543210fedcba9876543210".into(), 4096)],
            inline: None,
        };
        let second = NewMessage {
            author: Side::Sender,
            blob: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa".into(),
            size: 1024,
            files: Vec::new(),
            // An envelope kept with its row travels with the rows.
            inline: Some(b"an envelope kept with its row".to_vec()),
        };
        let (one, _) = source
            .add_message(c.id, &[1; 32], "age1reply", &first, 90)
            .await
            .unwrap();
        let (two, _) = source
            .add_message(c.id, &[2; 32], "age1reply", &second, 90)
            .await
            .unwrap();
        let mut tables = source.table_names().await.unwrap();
        tables.retain(|t| t == "records" || t == "conversations");
        assert_eq!(tables, ["conversations", "records"], "{engine}");

        // Into the other engine where there is one, else a second SQLite file.
        let sub = dir.path().join(format!("copy-{i}"));
        std::fs::create_dir_all(&sub).unwrap();
        let dest = match engines.iter().find(|(e, _)| e != engine) {
            Some(_) if *engine == "sqlite" => {
                Store::open(&fresh_postgres_database(&postgres_admin_url().unwrap()).await)
                    .await
                    .unwrap()
            }
            _ => Store::open(&panah_store::testing::sqlite_location(&sub))
                .await
                .unwrap(),
        };
        let copied = source.copy_into(&dest).await.unwrap();
        assert_eq!(copied, source.row_counts().await.unwrap(), "{engine}");
        assert_eq!(dest.row_counts().await.unwrap(), copied, "{engine}");
        assert_eq!(copied.of("conversations"), 2);
        assert_eq!(
            dest.schema_version().await.unwrap(),
            source.schema_version().await.unwrap()
        );
        dest.check_plain_tables().await.unwrap();
        assert!(matches!(
            source.copy_into(&dest).await,
            Err(StoreError::Conflict(_))
        ));
        // Ids go on after the copied ones.
        let more = dest
            .create_collective(&new_collective("after"))
            .await
            .unwrap();
        assert!(more.id > c.id, "{engine}");
        assert_eq!(
            dest.hub_secret("codenames").await.unwrap(),
            source.hub_secret("codenames").await.unwrap()
        );

        let mut keys = dest.external_blob_keys().await.unwrap();
        keys.sort();
        assert_eq!(
            keys.len(),
            2,
            "{engine}: the inline envelope is not a blob to copy"
        );
        assert_eq!(
            dest.blob_chunk("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 0)
                .await
                .unwrap()
                .as_deref(),
            Some(&b"an envelope kept with its row"[..])
        );
        let naming = dest
            .rows_naming_blob("fedcba9876543210fedcba9876543210")
            .await
            .unwrap();
        assert_eq!(naming.len(), 1);
        assert_eq!(naming[0].1, BlobKind::File);
        // The first conversation's file is gone: its message (and so the conversation) go.
        assert_eq!(
            dest.forget_blob("fedcba9876543210fedcba9876543210")
                .await
                .unwrap(),
            1
        );
        assert!(dest.conversation(c.id, one).await.unwrap().is_none());
        assert!(dest.conversation(c.id, two).await.unwrap().is_some());
        dest.checkpoint().await.unwrap();
        dest.close().await;
    }
}

/// This suite is the store's contract: every public method of the store appears in it, so
/// each runs on SQLite and on PostgreSQL. A method added without a test here fails this.
#[test]
fn every_store_method_is_exercised_here() {
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let suite = include_str!("conformance.rs");
    let mut methods = Vec::new();
    for entry in std::fs::read_dir(&src).unwrap() {
        let path = entry.unwrap().path();
        // The test helpers are not the contract.
        if path.file_name().is_some_and(|n| n == "testing.rs") {
            continue;
        }
        // The blob store has its own suite, run against every place blobs are kept.
        let suite = if path.file_name().is_some_and(|n| n == "blobs.rs") {
            include_str!("blobs.rs")
        } else {
            suite
        };
        let text = std::fs::read_to_string(&path).unwrap();
        for line in text.lines() {
            if let Some(rest) = line.trim_start().strip_prefix("pub async fn ") {
                let name: String = rest
                    .chars()
                    .take_while(|c| c.is_alphanumeric() || *c == '_')
                    .collect();
                methods.push((name, suite));
            }
        }
    }
    assert!(
        methods.len() > 30,
        "only {} methods were found",
        methods.len()
    );
    let missing: Vec<&String> = methods
        .iter()
        .filter(|(m, suite)| {
            !suite.contains(&format!(".{m}(")) && !suite.contains(&format!("::{m}("))
        })
        .map(|(m, _)| m)
        .collect();
    assert!(
        missing.is_empty(),
        "not exercised by the conformance suite: {missing:?}"
    );
}

/// Ciphertext kept in the database: in chunks, in one transaction, never overwritten, and
/// found by the sweep only when no row names it.
#[tokio::test]
async fn blobs_kept_in_the_database() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        let key = "0123456789abcdef0123456789abcdef";
        let big: Vec<u8> = (0..2_500_000u32).map(|i| (i % 251) as u8).collect();
        let mut chunks = big.chunks(1024 * 1024).map(<[u8]>::to_vec);
        let n = store
            .put_blob_data(key, || Ok(chunks.next()))
            .await
            .unwrap();
        assert_eq!(n, big.len() as u64, "{engine}");
        assert!(store.blob_chunk_exists(key).await.unwrap());
        let mut back = Vec::new();
        let mut seq = 0;
        while let Some(chunk) = store.blob_chunk(key, seq).await.unwrap() {
            back.extend(chunk);
            seq += 1;
        }
        assert_eq!(seq, 3, "{engine}");
        assert!(back == big, "{engine}: read back whole");
        assert_eq!(
            store.blob_data_totals().await.unwrap(),
            (1, big.len() as u64)
        );
        // Never overwritten, and a failed write leaves nothing of itself.
        let mut again = vec![b"other".to_vec()].into_iter();
        assert!(matches!(
            store.put_blob_data(key, || Ok(again.next())).await,
            Err(StoreError::Conflict(_))
        ));
        let other = "fedcba9876543210fedcba9876543210";
        let mut failing = vec![
            Ok(Some(vec![1u8; 10])),
            Err(std::io::Error::other("broken")),
        ]
        .into_iter();
        assert!(store
            .put_blob_data(other, || failing.next().unwrap_or(Ok(None)))
            .await
            .is_err());
        assert!(!store.blob_chunk_exists(other).await.unwrap(), "{engine}");
        // An empty blob is one empty chunk.
        let empty = "eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee";
        assert_eq!(store.put_blob_data(empty, || Ok(None)).await.unwrap(), 0);
        assert_eq!(store.blob_chunk(empty, 0).await.unwrap(), Some(Vec::new()));

        // No row names them: both are found by the sweep, today's only with today's cutoff.
        let today = panah_store::day_of(Timestamp::now());
        let yesterday = today.plus_seconds(-86_400);
        assert!(store
            .unreferenced_blob_data(yesterday, 10)
            .await
            .unwrap()
            .is_empty());
        let mut found = store.unreferenced_blob_data(today, 10).await.unwrap();
        found.sort();
        assert_eq!(found, [key, empty], "{engine}");
        // A message naming one takes it out of the sweep.
        let c = store
            .create_collective(&new_collective("blobs"))
            .await
            .unwrap();
        let message = panah_store::NewMessage {
            author: panah_store::Side::Sender,
            blob: key.into(),
            size: big.len() as i64,
            files: Vec::new(),
            inline: None,
        };
        store
            .add_message(c.id, &[9; 32], "age1reply", &message, 90)
            .await
            .unwrap();
        assert_eq!(
            store.unreferenced_blob_data(today, 10).await.unwrap(),
            [empty]
        );
        assert!(store.delete_blob_data(empty).await.unwrap());
        assert!(!store.delete_blob_data(empty).await.unwrap());
        assert!(
            store.external_blob_keys().await.unwrap().is_empty(),
            "{engine}"
        );
    }
}

/// One process at a time holds a lock among those sharing a PostgreSQL database; SQLite
/// has one process.
#[tokio::test]
async fn a_lock_is_held_by_one_at_a_time() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        let mut first = store.try_lock(77).await.unwrap();
        assert!(first.is_some(), "{engine}");
        assert!(first.as_mut().unwrap().still_held().await.unwrap());
        if engine == "postgres" {
            assert!(store.try_lock(77).await.unwrap().is_none(), "held");
            assert!(store.try_lock(78).await.unwrap().is_some(), "another name");
            first.unwrap().release().await.unwrap();
            let again = store.try_lock(77).await.unwrap();
            assert!(again.is_some(), "released");
            // Dropped without release: its connection closes, and the lock goes with it.
            drop(again);
            let mut retried = None;
            for _ in 0..50 {
                retried = store.try_lock(77).await.unwrap();
                if retried.is_some() {
                    break;
                }
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            assert!(retried.is_some(), "a dropped lock is let go");
            // A lock whose session was ended by someone else is known to be lost.
            let mut held = retried.unwrap();
            let big = (5i64 << 32) | 7;
            let mut big_lock = store.try_lock(big).await.unwrap().unwrap();
            assert!(big_lock.still_held().await.unwrap(), "high and low bits");
            big_lock.release().await.unwrap();
            assert!(held.still_held().await.unwrap());
            {
                use sqlx::Connection;
                let mut admin = sqlx::AnyConnection::connect(&postgres_admin_url().unwrap())
                    .await
                    .unwrap();
                sqlx::query(
                    "SELECT pg_terminate_backend(pid) FROM pg_locks \
                     WHERE locktype = 'advisory' AND classid = 0 AND objid = 77",
                )
                .execute(&mut admin)
                .await
                .unwrap();
            }
            assert!(!held.still_held().await.unwrap(), "the session was ended");
        }
    }
}
