//! `panah backup` while the hub serves a mixed load, `panah restore` into a new hub on the
//! other store, and everything acknowledged before the backup began is there and decrypts.
//! The backup holds no message, file, reply, record or codename in clear; a damaged or
//! unfinished backup, or a restore over an existing hub, is refused.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

use panah_store::Location;
use support::load::{self, hub_args, setup, Acked};
use support::{fails, files_below, ok, Hub};

fn s(p: &Path) -> String {
    p.display().to_string()
}

/// Backs up a hub on `from` under load, restores it on `to`, checks it.
fn backup_and_restore(dir: &Path, from: Vec<String>, to: Vec<String>, backup: &Path) {
    let from_args: Vec<&str> = from.iter().map(String::as_str).collect();
    let to_args: Vec<&str> = to.iter().map(String::as_str).collect();
    let (hub, mut crew) = setup(dir, &from);
    let listen = hub.url.trim_start_matches("http://").to_owned();
    let acked = Mutex::new(Acked::default());
    let stop = AtomicBool::new(false);
    let before = std::thread::scope(|scope| {
        let loading = scope.spawn(|| load::run(&hub, &crew, &acked, &stop, "b"));
        load::random_pause(1_500..2_500);
        // Everything acknowledged by now must be in the backup; the load goes on.
        let before = acked.lock().unwrap().clone();
        let mut args = vec!["backup"];
        args.extend_from_slice(&from_args);
        args.push(backup.to_str().unwrap());
        let said = ok(&args);
        assert!(said.contains("backed up"), "{said}");
        // Entries acknowledged from here on were surely signed after the snapshot.
        let entries_at_end = acked.lock().unwrap().entries.len();
        stop.store(true, Ordering::SeqCst);
        loading.join().unwrap();
        (before, entries_at_end)
    });
    let (before, entries_at_end) = before;
    assert!(
        !before.messages.is_empty() && !before.entries.is_empty(),
        "the load wrote too little before the backup: {before:?}"
    );

    // Only ciphertext and public data: no text, file, reply, record or codename in clear.
    let mut needles: Vec<String> = ["LOADMSG", "LOADFILE", "LOADREPLY", "Lale-"]
        .iter()
        .map(|n| (*n).to_owned())
        .collect();
    needles.extend(before.codenames.iter().cloned());
    needles.extend(before.codenames.iter().map(|c| c.replace(' ', "")));
    let files = if backup.is_dir() {
        files_below(backup)
    } else {
        vec![backup.to_owned()]
    };
    assert!(!files.is_empty());
    for f in &files {
        let bytes = std::fs::read(f).unwrap();
        for n in &needles {
            assert!(
                !bytes.windows(n.len()).any(|w| w == n.as_bytes()),
                "{n:?} in clear in the backup's {}",
                f.display()
            );
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o077;
            assert_eq!(mode, 0, "{} is readable by others", f.display());
        }
    }
    // The public ledger is in it, as on the hub.
    let public = files
        .iter()
        .any(|f| String::from_utf8_lossy(&std::fs::read(f).unwrap()).contains("LOADENTRY"));
    assert!(public, "the ledger's public entries are not in the backup");
    assert!(hub.stop().success());

    let mut args = vec!["restore", backup.to_str().unwrap()];
    args.extend_from_slice(&to_args);
    let said = ok(&args);
    assert!(said.contains("restored"), "{said}");
    // Never over an existing hub.
    let refused = fails(&args);
    assert!(
        refused.contains("already exists") || refused.contains("not empty"),
        "{refused}"
    );

    let hub = Hub::start_on(&listen, &hub_args(dir, &to_args), &dir.join("restored.log"));
    // A restore goes back to the moment of the backup. A device that verified a later
    // checkpoint sees the public log shrink, and says so: nobody can roll a ledger back
    // unseen, not even its own hub's operator.
    let after = acked.lock().unwrap().clone();
    if after.entries.len() > entries_at_end {
        let err = fails(&support::coordinator_args(
            "ledger",
            &hub,
            &crew.founder,
            &["list"],
        ));
        assert!(err.contains("shrank"), "{err}");
    }
    // Everything acknowledged before the backup, read from a new device.
    crew.reader_device = Some(dir.join("new-device"));
    let found = load::check(&hub, &crew, &before);
    assert_eq!(found, before.count());
    // A sender's codename still opens their replies: the hub's secret came along.
    let codename = before.codenames.first().unwrap();
    let form = format!("codename={}", codename.replace(' ', "+"));
    let (status, _) = support::http(&hub.url, "POST", "/c/roshanai/replies?lang=en", Some(&form));
    assert_eq!(status, 200);
    assert!(hub.stop().success());
}

fn sqlite_args(dir: &Path, name: &str) -> Vec<String> {
    vec!["--data".to_owned(), s(&dir.join(name))]
}

async fn postgres_args(dir: &Path, name: &str) -> Option<Vec<String>> {
    let admin = panah_store::testing::postgres_admin_url()?;
    let Location::Postgres { url } = panah_store::testing::fresh_postgres_database(&admin).await
    else {
        unreachable!()
    };
    Some(vec![
        "--database".to_owned(),
        url,
        "--data".to_owned(),
        s(&dir.join(name)),
    ])
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_of_sqlite_under_load_restores_on_postgres() {
    let dir = tempfile::tempdir().unwrap();
    let from = sqlite_args(dir.path(), "hub");
    let to = match postgres_args(dir.path(), "restored").await {
        Some(args) => args,
        None => sqlite_args(dir.path(), "restored"),
    };
    let backup = dir.path().join("backup");
    backup_and_restore(dir.path(), from, to, &backup);
    assert!(backup.join("SHA256SUMS").is_file());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_backup_of_postgres_under_load_restores_on_sqlite_from_one_file() {
    let dir = tempfile::tempdir().unwrap();
    let Some(from) = postgres_args(dir.path(), "hub").await else {
        return;
    };
    let to = sqlite_args(dir.path(), "restored");
    backup_and_restore(dir.path(), from, to, &dir.path().join("backup.tar"));
}

/// A damaged, unfinished or foreign backup is refused with what is wrong, and nothing of
/// it lands in the new hub.
#[test]
fn damaged_or_unfinished_backups_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, data, _) = support::hub_with_team(dir.path(), 1, &[]);
    let data = Path::new(&data).to_owned();
    // With a file: a text alone is kept with its row, in the database, and the backup's
    // blobs/ would be empty.
    let note = dir.path().join("note.txt");
    std::fs::write(&note, "LOADFILE the list stays with us").unwrap();
    let file = format!("file=@{}", note.display());
    let (status, _) =
        support::curl_contact(&hub.url, "roshanai", &["message=LOADMSG hello", &file]);
    assert_eq!(status, 200);
    let backup = dir.path().join("b");
    ok(&["backup", "--data", &s(&data), &s(&backup)]);
    assert!(hub.stop().success());
    let err = fails(&["backup", "--data", &s(&data), &s(&backup)]);
    assert!(err.contains("already exists"), "{err}");

    let restore = |name: &str, from: &Path| {
        fails(&["restore", &s(from), "--data", &s(&dir.path().join(name))])
    };
    // A blob changed by one byte.
    let damaged = dir.path().join("damaged");
    copy_dir(&backup, &damaged);
    let blob = files_below(&damaged.join("blobs"))
        .into_iter()
        .next()
        .unwrap();
    let mut bytes = std::fs::read(&blob).unwrap();
    bytes[100] ^= 1;
    std::fs::write(&blob, bytes).unwrap();
    let err = restore("r1", &damaged);
    assert!(err.contains("is damaged"), "{err}");
    // A blob missing.
    std::fs::remove_file(&blob).unwrap();
    let err = restore("r2", &damaged);
    assert!(err.contains("missing"), "{err}");
    // No manifest: a backup that never finished.
    let unfinished = dir.path().join("unfinished");
    copy_dir(&backup, &unfinished);
    std::fs::remove_file(unfinished.join("panah-backup.toml")).unwrap();
    let err = restore("r3", &unfinished);
    assert!(err.contains("not a finished Panah backup"), "{err}");
    // A checksum file naming a path outside the backup.
    let foreign = dir.path().join("foreign");
    copy_dir(&backup, &foreign);
    let sums = foreign.join("SHA256SUMS");
    let mut text = std::fs::read_to_string(&sums).unwrap();
    text.push_str(&format!("{}  ../../etc/passwd\n", "0".repeat(64)));
    std::fs::write(&sums, text).unwrap();
    let err = restore("r4", &foreign);
    assert!(err.contains("a file a backup does not have"), "{err}");
    // A manifest that lies about a table: refused before anything is written.
    let lying = dir.path().join("lying");
    copy_dir(&backup, &lying);
    let manifest = lying.join("panah-backup.toml");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let text = text.replace("conversations = 1\n", "conversations = 2\n");
    std::fs::write(&manifest, text).unwrap();
    let err = restore("r5", &lying);
    assert!(err.contains("its manifest says 2"), "{err}");
    // The checksum file as a link to something endless.
    let linked = dir.path().join("linked");
    copy_dir(&backup, &linked);
    std::fs::remove_file(linked.join("SHA256SUMS")).unwrap();
    std::os::unix::fs::symlink("/dev/zero", linked.join("SHA256SUMS")).unwrap();
    let err = restore("r6", &linked);
    assert!(err.contains("not a plain file"), "{err}");
    // A database made by hand: a table replaced by an endless view, the checksums made
    // to match. Refused before a row is read.
    let crafted = tampered(
        &backup,
        &dir.path().join("crafted"),
        "c.execute('DROP TABLE log_hashes'); \
         c.execute('CREATE VIEW log_hashes AS WITH RECURSIVE r(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM r) SELECT 1 AS log_id, 0 AS level, i AS n, x\\'00\\' AS hash FROM r')",
    );
    let started = std::time::Instant::now();
    let err = restore("r7", &crafted);
    assert!(err.contains("not one Panah wrote"), "{err}");
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    // A key slipped into the coordinators (whoever holds it would read every message sent
    // after the restore): refused, the signed team log says otherwise.
    let line = ok(&["id", "new", "--keyring", &s(&dir.path().join("intruder"))]);
    let (recipient, signing) = line.trim().split_once(' ').unwrap();
    let slipped = tampered(
        &backup,
        &dir.path().join("slipped"),
        &format!(
            "c.execute(\"INSERT INTO coordinators (collective_id, recipient, signing_key, label, added_at) \
             SELECT collective_id, '{recipient}', '{signing}', 'x', added_at FROM coordinators LIMIT 1\")"
        ),
    );
    let manifest = slipped.join("panah-backup.toml");
    let text = std::fs::read_to_string(&manifest)
        .unwrap()
        .replace("coordinators = 1\n", "coordinators = 2\n");
    std::fs::write(&manifest, text).unwrap();
    let err = restore("r9", &slipped);
    assert!(err.contains("not the team its signed log shows"), "{err}");
    for name in ["r1", "r2", "r3", "r4", "r5", "r6", "r7", "r9"] {
        let left = dir.path().join(name);
        assert!(
            !left.join("panah.db").exists() && !left.join("blobs").exists(),
            "{name}: a refused restore left a database or blobs"
        );
    }
    // The good one restores.
    let said = ok(&["restore", &s(&backup), "--data", &s(&dir.path().join("r8"))]);
    assert!(said.contains("restored"), "{said}");
}

fn copy_dir(from: &Path, to: &Path) {
    for f in files_below(from) {
        let dest = to.join(f.strip_prefix(from).unwrap());
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        std::fs::copy(&f, &dest).unwrap();
    }
}

/// A copy of `backup` in `to` whose database ran the Python statements `sql` (with `c` the
/// connection), its checksum made to match: what someone who can write to backups can do.
fn tampered(backup: &Path, to: &Path, sql: &str) -> std::path::PathBuf {
    copy_dir(backup, to);
    let db = to.join("hub.db");
    let made = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]); {sql}; c.commit()"
        ))
        .arg(&db)
        .status()
        .unwrap();
    assert!(made.success());
    let hash = {
        use sha2::Digest;
        panah_core::hex(&sha2::Sha256::digest(std::fs::read(&db).unwrap()))
    };
    let sums = to.join("SHA256SUMS");
    let text: String = std::fs::read_to_string(&sums)
        .unwrap()
        .lines()
        .map(|l| {
            if l.ends_with("  hub.db") {
                format!("{hash}  hub.db\n")
            } else {
                format!("{l}\n")
            }
        })
        .collect();
    std::fs::write(&sums, text).unwrap();
    to.to_owned()
}
