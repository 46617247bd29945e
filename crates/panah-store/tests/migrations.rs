//! Every schema migration, from every earlier version, with data in it, on both stores: a
//! hub that stopped at schema N, holding what hubs of versions 1..=N wrote, is opened by
//! this Panah, and everything it held reads back through today's store. A backup made by
//! an older Panah is restored the same way (opening migrates it).

#![allow(clippy::unwrap_used)]

use ed25519_dalek::SigningKey;
use panah_core::ledger::{Category, Rail};
use panah_core::tlog::check::all_tiles;
use panah_core::tlog::LogKind;
use panah_core::{CoordinatorKey, Lang, Slug};
use panah_store::testing::{fresh_postgres_database, postgres_admin_url, sqlite_location};
use panah_store::{Location, Store};
use sqlx::{AnyConnection, Connection};

/// The newest schema version this Panah knows.
const LATEST: i64 = 9;

fn key(seed: u8) -> CoordinatorKey {
    let age = age::x25519::Identity::generate();
    CoordinatorKey::new(
        &age.to_public(),
        SigningKey::from_bytes(&[seed; 32]).verifying_key(),
    )
}

fn url(location: &Location) -> String {
    match location {
        Location::Sqlite { path, .. } => format!("sqlite://{}?mode=rw", path.display()),
        Location::Postgres { url } => url.clone(),
    }
}

async fn sql(conn: &mut AnyConnection, query: &str, binds: &[Bind<'_>]) {
    let mut q = sqlx::query(query);
    for b in binds {
        q = match b {
            Bind::I(v) => q.bind(*v),
            Bind::T(v) => q.bind(*v),
            Bind::B(v) => q.bind(v.to_vec()),
        };
    }
    q.execute(&mut *conn)
        .await
        .unwrap_or_else(|e| panic!("{query}: {e}"));
}

enum Bind<'a> {
    I(i64),
    T(&'a str),
    B(&'a [u8]),
}
use Bind::{B, I, T};

const LEDGER_LEAVES: [&[u8]; 2] = [b"old ledger leaf 0\n", b"old ledger leaf 1\n"];
const TEAM_LEAF: &[u8] = b"old team leaf 0\n";

/// Writes, into a hub at schema `version`, what a hub of that version writes: rows only
/// that version's tables have, as that version laid them out.
async fn seed(location: &Location, version: i64) {
    let mut conn = AnyConnection::connect(&url(location)).await.unwrap();
    let c = &mut conn;
    match version {
        1 => {
            sql(c, "INSERT INTO collectives (slug, default_lang, created_at) VALUES ('roshanai', 'fa', '2021-08-15T00:00:00Z')", &[]).await;
            for (lang, name, tagline) in [
                ("fa", "روشنایی", "روشنی در تاریکی"),
                ("ps", "رڼا", "په تیاره کې رڼا"),
                ("en", "Roshanai", "Light in the dark"),
            ] {
                sql(c, "INSERT INTO appeals (collective_id, lang, name, tagline, story, needs, give, updated_at) VALUES (1, $1, $2, $3, 'We teach girls.', 'Flour', 'Ask us', '2021-08-15T00:00:00Z')", &[T(lang), T(name), T(tagline)]).await;
            }
            for (seed, label, removed) in
                [(1, "alice", None), (2, "bob", Some("2021-08-16T00:00:00Z"))]
            {
                let k = key(seed);
                let q = match removed {
                    Some(_) => "INSERT INTO coordinators (collective_id, recipient, signing_key, label, added_at, removed_at) VALUES (1, $1, $2, $3, '2021-08-15T00:00:00Z', $4)",
                    None => "INSERT INTO coordinators (collective_id, recipient, signing_key, label, added_at) VALUES (1, $1, $2, $3, '2021-08-15T00:00:00Z')",
                };
                let (recipient, signing) = (k.recipient_str(), k.signing_str());
                let mut binds = vec![T(recipient), T(&signing), T(label)];
                if let Some(at) = removed {
                    binds.push(T(at));
                }
                sql(c, q, &binds).await;
            }
        }
        2 => {
            sql(c, "INSERT INTO hub_secrets (name, secret, created_at) VALUES ('codenames', $1, '2021-08-15T00:00:00Z')", &[B(&[42; 32])]).await;
            sql(c, "INSERT INTO conversations (collective_id, lookup, reply_recipient, created_on, last_on, expires_on) VALUES (1, $1, 'age1reply', '2021-08-16T00:00:00Z', '2021-08-17T00:00:00Z', '2099-01-01T00:00:00Z')", &[B(&[7; 32])]).await;
            sql(c, "INSERT INTO messages (conversation_id, author, blob, size, created_on) VALUES (1, 'sender', '0123456789abcdef0123456789abcdef', 1024, '2021-08-16T00:00:00Z')", &[]).await;
            sql(c, "INSERT INTO message_files (message_id, position, blob, size) VALUES (1, 0, 'fedcba9876543210fedcba9876543210', 4096)", &[]).await;
        }
        3 => {
            let leaves: Vec<Vec<u8>> = LEDGER_LEAVES.iter().map(|l| l.to_vec()).collect();
            let (tree, _) = all_tiles(&leaves).unwrap();
            sql(c, "INSERT INTO ledgers (collective_id, origin, base_currency, size, target, created_at) VALUES (1, 'hub.example/c/roshanai/ledger', 'AFN', 2, 900000, '2021-08-18T00:00:00Z')", &[]).await;
            sql(c, "INSERT INTO ledger_budgets (collective_id, category, amount) VALUES (1, 'food', 500000)", &[]).await;
            for (i, leaf) in leaves.iter().enumerate() {
                sql(c, "INSERT INTO ledger_entries (collective_id, idx, leaf, receipt, reverses) VALUES (1, $1, $2, $3, NULL)", &[I(i as i64), B(leaf), B(&[i as u8 + 1; 32])]).await;
            }
            for level in 0..=1u8 {
                for n in 0.. {
                    let Some(hash) = tree.node(level, n) else {
                        break;
                    };
                    sql(c, "INSERT INTO ledger_hashes (collective_id, level, n, hash) VALUES (1, $1, $2, $3)", &[I(i64::from(level)), I(n as i64), B(&hash)]).await;
                }
            }
            sql(c, "INSERT INTO ledger_checkpoints (collective_id, size, note, coordinator_id, signed_on, signed_precision) VALUES (1, 2, 'old note', 1, '2021-08-16T00:00:00Z', 'day')", &[]).await;
        }
        4 => {
            sql(
                c,
                "UPDATE collectives SET hidden_rails = 'crypto' WHERE id = 1",
                &[],
            )
            .await;
        }
        5 => {
            sql(c, "INSERT INTO logs (collective_id, kind, origin, size, created_at) VALUES (1, 'team', 'hub.example/c/roshanai/team', 1, '2021-08-19T00:00:00Z')", &[]).await;
            sql(c, "INSERT INTO log_entries (log_id, idx, leaf) SELECT id, 0, $1 FROM logs WHERE kind = 'team'", &[B(TEAM_LEAF)]).await;
            sql(c, "INSERT INTO log_checkpoints (log_id, size, note, coordinator_id, signed_on, signed_precision) SELECT id, 1, 'team note', 1, '2021-08-19T00:00:00Z', 'day' FROM logs WHERE kind = 'team'", &[]).await;
        }
        6 => {
            // A follow-up, as hubs with the blob index wrote it.
            sql(c, "INSERT INTO messages (conversation_id, author, blob, size, created_on) VALUES (1, 'sender', 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 2048, '2021-08-20T00:00:00Z')", &[]).await;
        }
        7 => {
            let k = key(3);
            sql(c, "INSERT INTO team_invitations (collective_id, recipient, signing_key, label, invited_at) VALUES (1, $1, $2, 'carol', '2021-08-21T00:00:00Z')", &[T(k.recipient_str()), T(&k.signing_str())]).await;
        }
        8 => {
            sql(c, "INSERT INTO records (collective_id, record, version, seq, changed_on, wrapped, body) VALUES (1, '0123456789abcdef0123456789abcdef', 1, 1, '2021-08-22T00:00:00Z', $1, $2)", &[B(b"wrapped key"), B(b"sealed body")]).await;
            sql(
                c,
                "INSERT INTO record_clock (collective_id, seq, live, bytes) VALUES (1, 1, 1, 22)",
                &[],
            )
            .await;
        }
        9 => {
            // A follow-up whose envelope is kept with its row.
            sql(c, "INSERT INTO messages (conversation_id, author, blob, size, created_on) VALUES (1, 'sender', 'bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 1024, '2021-08-23T00:00:00Z')", &[]).await;
            sql(c, "INSERT INTO blob_data (blob_key, seq, data, day) VALUES ('bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb', 0, $1, '2021-08-23T00:00:00Z')", &[B(b"inline envelope")]).await;
        }
        _ => unreachable!(),
    }
    let _ = conn.close().await;
}

/// Everything a hub that stopped at schema `stopped` held reads back through today's store.
async fn check(store: &Store, stopped: i64, engine: &str) {
    let what = format!("{engine}, from schema {stopped}");
    let c = store
        .collective(&Slug::parse("roshanai").unwrap())
        .await
        .unwrap()
        .unwrap();
    let (appeal, _) = store.appeal(c.id, Lang::English).await.unwrap().unwrap();
    assert_eq!(appeal.tagline, "Light in the dark", "{what}");
    let all = store.coordinators(c.id, true).await.unwrap();
    assert_eq!(all.len(), 2, "{what}");
    assert!(all[1].removed_at.is_some(), "{what}");
    assert_eq!(store.coordinators(c.id, false).await.unwrap().len(), 1);
    if stopped >= 2 {
        assert_eq!(store.hub_secret("codenames").await.unwrap(), vec![42; 32]);
        let conv = store
            .conversation_by_lookup(c.id, &[7; 32])
            .await
            .unwrap()
            .unwrap();
        let summary = store.conversation(c.id, conv.id).await.unwrap().unwrap();
        let expected = 1 + usize::from(stopped >= 6) + usize::from(stopped >= 9);
        assert_eq!(summary.messages.len(), expected, "{what}");
        assert_eq!(summary.messages[0].files.len(), 1, "{what}");
        let mut keys = store.external_blob_keys().await.unwrap();
        keys.sort();
        assert!(keys.contains(&"fedcba9876543210fedcba9876543210".to_owned()));
    }
    if stopped >= 3 {
        let ledger = store.ledger(c.id).await.unwrap().unwrap();
        assert_eq!(ledger.target, Some(900_000), "{what}");
        assert_eq!(ledger.budgets.get(&Category::Food), Some(&500_000));
        assert_eq!(ledger.log.size, 2);
        let leaves = store.log_leaves(ledger.log.id, 0, 2).await.unwrap();
        assert_eq!(
            leaves.iter().map(|(_, l)| l.as_slice()).collect::<Vec<_>>(),
            LEDGER_LEAVES.to_vec(),
            "{what}"
        );
        let cp = store
            .latest_checkpoint(ledger.log.id)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(cp.note, "old note", "{what}");
        assert_eq!(
            store
                .ledger_entry_by_receipt(ledger.log.id, &[2; 32])
                .await
                .unwrap(),
            Some((1, LEDGER_LEAVES[1].to_vec())),
            "{what}"
        );
    }
    if stopped >= 4 {
        assert_eq!(c.hidden_rails, vec![Rail::Crypto], "{what}");
    } else {
        assert!(c.hidden_rails.is_empty(), "{what}");
    }
    if stopped >= 5 {
        let team = store.log(c.id, LogKind::Team).await.unwrap().unwrap();
        let leaves = store.log_leaves(team.id, 0, 1).await.unwrap();
        assert_eq!(leaves[0].1, TEAM_LEAF, "{what}");
    }
    let invitations = store.invitations(c.id).await.unwrap();
    assert_eq!(invitations.len(), usize::from(stopped >= 7), "{what}");
    let (records, _) = store.records_since(c.id, 0, 100, 1 << 20).await.unwrap();
    assert_eq!(records.len(), usize::from(stopped >= 8), "{what}");
    if stopped >= 8 {
        assert_eq!(records[0].body, b"sealed body");
        assert_eq!(store.records_seq(c.id).await.unwrap(), 1);
    }
    if stopped >= 9 {
        assert_eq!(
            store
                .blob_chunk("bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb", 0)
                .await
                .unwrap()
                .as_deref(),
            Some(&b"inline envelope"[..]),
            "{what}"
        );
        assert!(!store
            .external_blob_keys()
            .await
            .unwrap()
            .contains(&"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb".to_owned()));
    }
    assert_eq!(store.schema_version().await.unwrap(), LATEST);
}

#[tokio::test]
async fn every_migration_from_every_earlier_version_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let admin = postgres_admin_url();
    for stopped in 1..=LATEST {
        let mut locations = vec![(
            "sqlite",
            sqlite_location(&dir.path().join(stopped.to_string())),
        )];
        std::fs::create_dir_all(dir.path().join(stopped.to_string())).unwrap();
        if let Some(admin) = &admin {
            locations.push(("postgres", fresh_postgres_database(admin).await));
        }
        for (engine, location) in locations {
            for version in 1..=stopped {
                // Each version's hub opened the database (migrating it to itself), then wrote.
                Store::open_at_migration(&location, version)
                    .await
                    .unwrap()
                    .close()
                    .await;
                seed(&location, version).await;
            }
            let store = Store::open(&location).await.unwrap();
            check(&store, stopped, engine).await;
            store.close().await;
        }
    }
}

/// The list of migrations and [`LATEST`] agree, so a new migration cannot be added without
/// this test learning what it writes.
#[tokio::test]
async fn the_test_knows_the_newest_migration() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&sqlite_location(dir.path())).await.unwrap();
    assert_eq!(
        store.schema_version().await.unwrap(),
        LATEST,
        "a new migration: add what its version writes to seed() and check()"
    );
}

/// A backup carries every table but the ones it leaves out on purpose: a table added by a
/// new migration must be named in one list or the other, or this fails.
#[tokio::test]
async fn backups_know_every_table() {
    let dir = tempfile::tempdir().unwrap();
    let mut locations = vec![sqlite_location(dir.path())];
    if let Some(admin) = postgres_admin_url() {
        locations.push(fresh_postgres_database(&admin).await);
    }
    for location in locations {
        let store = Store::open(&location).await.unwrap();
        let mut known: Vec<String> = panah_store::COPIED
            .iter()
            .map(|(t, _)| (*t).to_owned())
            .chain(panah_store::LEFT_OUT.iter().map(|t| (*t).to_owned()))
            .collect();
        known.sort();
        assert_eq!(store.table_names().await.unwrap(), known);
        store.close().await;
    }
}
