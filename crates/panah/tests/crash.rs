//! kill -9 under a mixed load, on SQLite and on PostgreSQL: after every restart, every
//! write the hub acknowledged is there and decrypts, the ledger verifies and extends what
//! was verified before the kill, no row names a missing blob, and what a crash left behind
//! (blobs whose row never landed, partial uploads) is counted for the sweep.
//!
//! The suite kills each hub a few times (`PANAH_KILLS`, 3 by default);
//! `scripts/crash.sh` runs the full 20 per store and prints the figures.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use panah_store::{BlobStore, Location, Store};
use support::load::{self, hub_args, setup, Acked};
use support::Hub;

fn kills() -> usize {
    std::env::var("PANAH_KILLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(3)
}

/// What one store's run found.
#[derive(Debug, Default)]
struct Figures {
    kills: usize,
    acknowledged: usize,
    found: usize,
    orphan_blobs: usize,
    partial_uploads: usize,
}

/// Kills the hub `kills()` times under load and checks after each restart.
async fn kill_run(engine: &str, dir: &Path, location: Location, store_args: Vec<String>) {
    let (mut hub, crew) = setup(dir, &store_args);
    let listen = hub.url.trim_start_matches("http://").to_owned();
    let s: Vec<&str> = store_args.iter().map(String::as_str).collect();
    let acked = Mutex::new(Acked::default());
    let mut figures = Figures::default();
    for round in 0..kills() {
        let stop = AtomicBool::new(false);
        std::thread::scope(|scope| {
            let load = scope.spawn(|| load::run(&hub, &crew, &acked, &stop, &format!("{round}")));
            // Long enough for writes of every kind to be in flight, at a random moment.
            load::random_pause(800..3_000);
            let pid = hub.child.id().to_string();
            assert!(std::process::Command::new("kill")
                .args(["-KILL", &pid])
                .status()
                .unwrap()
                .success());
            stop.store(true, Ordering::SeqCst);
            load.join().unwrap();
        });
        let _ = hub.child.wait();
        figures.kills += 1;
        hub = Hub::start_on(
            &listen,
            &hub_args(dir, &s),
            &dir.join(format!("hub-{}.log", round + 1)),
        );
        let a = acked.lock().unwrap().clone();
        figures.acknowledged = a.count();
        figures.found = load::check(&hub, &crew, &a);
        assert_eq!(figures.found, figures.acknowledged, "{engine}");

        // No row names a blob that is not there; what the crash left is counted.
        let store = Store::open(&location).await.unwrap();
        let blobs = BlobStore::folder(&dir.join("hub").join("blobs"), &store).unwrap();
        let keys = store.external_blob_keys().await.unwrap();
        let mut missing = Vec::new();
        for key in &keys {
            if !blobs.exists(key).await.unwrap() {
                missing.push(key);
            }
        }
        assert!(
            missing.is_empty(),
            "{engine}: rows name missing blobs {missing:?}"
        );
        let on_disk = support::files_below(blobs.folder_root().unwrap());
        let partial = on_disk
            .iter()
            .filter(|p| p.parent().is_some_and(|d| d.ends_with("tmp")))
            .count();
        figures.orphan_blobs = on_disk.len() - partial - keys.len();
        figures.partial_uploads = partial;
        store.close().await;
    }
    let a = acked.lock().unwrap().clone();
    assert!(
        !a.messages.is_empty() && !a.entries.is_empty() && !a.needs.is_empty(),
        "{engine}: the load wrote too little to prove anything: {a:?}"
    );
    // What a crash leaves, the sweep takes: here, with no age limit.
    let store = Store::open(&location).await.unwrap();
    let blobs = BlobStore::folder(&dir.join("hub").join("blobs"), &store).unwrap();
    let swept = blobs
        .sweep_orphans(std::time::Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(swept, figures.orphan_blobs, "{engine}");
    store.close().await;
    println!(
        "kill -9 on {engine}: {} kills, {} writes acknowledged, {} found ({} messages, {} files, {} replies, {} entries, {} needs, {} teammates); {} blobs whose row never landed (swept), {} partial uploads",
        figures.kills,
        figures.acknowledged,
        figures.found,
        a.messages.len(),
        a.files.len(),
        a.replies.len(),
        a.entries.len(),
        a.needs.len(),
        a.team.len(),
        figures.orphan_blobs,
        figures.partial_uploads,
    );
    assert!(hub.stop().success());
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_under_load_loses_nothing_acknowledged_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let location = Location::default_in(&data);
    let args = vec!["--data".to_owned(), data.display().to_string()];
    kill_run("sqlite", dir.path(), location, args).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn kill_9_under_load_loses_nothing_acknowledged_on_postgres() {
    let Some(admin) = panah_store::testing::postgres_admin_url() else {
        return;
    };
    let location = panah_store::testing::fresh_postgres_database(&admin).await;
    let Location::Postgres { url } = &location else {
        unreachable!()
    };
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let args = vec![
        "--database".to_owned(),
        url.clone(),
        "--data".to_owned(),
        data.display().to_string(),
    ];
    kill_run("postgres", dir.path(), location, args).await;
}
