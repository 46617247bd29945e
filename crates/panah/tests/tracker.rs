//! The needs and case tracker end to end, with the real binary and a real hub: what a
//! coordinator writes is in no file or log line of the hub in clear; a second coordinator
//! reads it; a removed coordinator's key opens nothing after the re-wrap, nor anything
//! written since; records signed by a stranger or by a removed coordinator are refused;
//! two offline edits both survive as a conflict; a deletion leaves the hub and every cache;
//! `panah panic` leaves nothing readable; and the stock `rage` opens an export and a stored
//! record.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};
use std::time::Instant;

use panah_client::records::{self, Cache, Unopened};
use panah_core::records::{Doc, RecordId, Unsigned};
use panah_keyring::Keyring;
use panah_store::{Location, Store};
use support::*;

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn tool_ok(hub: &Hub, keyring: &str, command: &str, args: &[&str]) -> String {
    ok(&coordinator_args(command, hub, keyring, args))
}

fn tool_fails(hub: &Hub, keyring: &str, command: &str, args: &[&str]) -> String {
    fails(&coordinator_args(command, hub, keyring, args))
}

/// The reference (first column) of the list line that mentions `what`.
fn reference(list: &str, what: &str) -> String {
    list.lines()
        .find(|l| l.contains(what))
        .unwrap_or_else(|| panic!("{what} not in:\n{list}"))
        .split(' ')
        .next()
        .unwrap()
        .to_owned()
}

fn keyring(path: &str) -> Keyring {
    Keyring::load(Path::new(path), &PASS.to_owned().into()).unwrap()
}

/// Every record the hub holds, straight from its database.
async fn stored(data: &str) -> Vec<panah_store::StoredRecord> {
    let store = Store::open(&Location::Sqlite {
        path: Path::new(data).join("panah.db"),
        create: false,
    })
    .await
    .unwrap();
    let c = store
        .collective(&panah_core::Slug::parse("roshanai").unwrap())
        .await
        .unwrap()
        .unwrap();
    let (rows, _) = store
        .records_since(c.id, 0, 100_000, i64::MAX)
        .await
        .unwrap();
    store.close().await;
    rows
}

fn scan(files: &[PathBuf], needles: &[&str], when: &str) {
    for f in files {
        let bytes = std::fs::read(f).unwrap();
        for n in needles {
            assert!(
                !bytes.windows(n.len()).any(|w| w == n.as_bytes()),
                "{when}: {n:?} found in clear in {}",
                f.display()
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn only_the_team_reads_records_and_a_removed_coordinator_reads_nothing_after() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, data, keys) = hub_with_team(dir.path(), 3, &[]);
    let (a, b, c) = (&keys[0], &keys[1], &keys[2]);

    tool_ok(
        &hub,
        a,
        "needs",
        &[
            "add",
            "--for",
            "Lale-7",
            "--category",
            "power",
            "--urgency",
            "urgent",
            "--asked",
            "45000",
            "--notes",
            "CANARYNEED generator for the clinic fridge",
        ],
    );
    tool_ok(
        &hub,
        a,
        "cases",
        &[
            "add",
            "--for",
            "Sparrow-3",
            "--pathway",
            "humanitarian visa",
            "--next",
            "book the interview",
            "--due",
            "2021-09-05",
            "--note",
            "CANARYCASE documents collected",
        ],
    );

    // A second coordinator reads both (so the canaries really went in).
    let synced = tool_ok(&hub, b, "sync", &[]);
    assert!(
        synced.contains("4 received"),
        "two records and their audit: {synced}"
    );
    let needs = tool_ok(&hub, b, "needs", &["list"]);
    let need = reference(&needs, "Lale-7");
    let shown = tool_ok(&hub, b, "needs", &["show", &need]);
    assert!(shown.contains("CANARYNEED generator"), "{shown}");
    let cases = tool_ok(&hub, b, "cases", &["list", "--all"]);
    let case = reference(&cases, "Sparrow-3");
    let shown = tool_ok(&hub, b, "cases", &["show", &case]);
    assert!(shown.contains("CANARYCASE documents collected"), "{shown}");
    assert!(shown.contains("overdue"), "{shown}");

    // Nowhere in clear: not in the hub's files (WAL included), its log, or a cache.
    let needles = [
        "CANARYNEED",
        "CANARYCASE",
        "Lale-7",
        "Sparrow-3",
        "humanitarian visa",
    ];
    let mut files = files_below(Path::new(&data));
    files.push(hub.log.clone());
    assert!(files.len() > 3);
    scan(&files, &needles, "hub");
    let caches =
        files_below(&std::env::temp_dir().join(format!("panah-test-cache-{}", std::process::id())));
    assert!(!caches.is_empty());
    scan(&caches, &needles, "caches");
    // Every record on the hub is one bucket of padding: a need and a case look alike.
    let rows = stored(&data).await;
    assert_eq!(rows.len(), 4);
    let ka = keyring(a);
    let sizes: std::collections::BTreeSet<usize> = rows
        .iter()
        .map(|r| {
            records::open(&r.wrapped, &r.body, &ka)
                .unwrap()
                .to_plaintext()
                .len()
        })
        .collect();
    assert_eq!(sizes, [1024].into(), "every plaintext is one size bucket");

    // C has everything; then C is removed. A's next sync wraps every record anew.
    tool_ok(&hub, c, "sync", &[]);
    let c_fp = keyring(c).public().fingerprint().to_string();
    tool_ok(&hub, a, "team", &["remove", &c_fp]);
    let rewrap = tool_ok(&hub, a, "sync", &[]);
    assert!(
        rewrap.contains("encrypted anew for the team as it is now: 4"),
        "{rewrap}"
    );
    tool_ok(
        &hub,
        a,
        "needs",
        &[
            "add",
            "--for",
            "Omid-2",
            "--category",
            "food",
            "--notes",
            "flour after removal",
        ],
    );
    let (kb, kc) = (keyring(b), keyring(c));
    let rows = stored(&data).await;
    assert!(rows.len() >= 6, "{}", rows.len());
    for r in &rows {
        let (w, body) = (&r.wrapped, &r.body);
        assert_eq!(
            records::open(w, body, &kc).unwrap_err(),
            Unopened::NotForMe,
            "{}",
            r.record
        );
        records::open(w, body, &ka).unwrap();
        records::open(w, body, &kb).unwrap();
    }
    // C cannot log in either.
    tool_fails(&hub, c, "sync", &[]);

    // A record signed by a stranger, and one by C dated back to when C was a member, put on
    // the hub by a logged-in coordinator (as a hostile hub could): refused by everyone.
    let session =
        panah_client::Session::login(&hub.url, panah_core::Slug::parse("roshanai").unwrap(), &ka)
            .await
            .unwrap();
    let team = panah_client::team::verified(&session).await.unwrap();
    let stranger = Keyring::generate();
    let forged = Doc::from_bytes(br#"{"kind":"need","pseudonym":"FORGED-1","category":"food","urgency":"urgent","status":"open","opened":"2021-08-20"}"#).unwrap();
    for (signer, team_size) in [(&stranger, team.team.tree.size()), (&kc, 3)] {
        let id = RecordId::random();
        let v = Unsigned {
            origin: team.origin.clone(),
            id,
            version: 1,
            parent: None,
            team_size,
            by: *signer.public().signing(),
            date: panah_core::Timestamp::now(),
            doc: forged.to_bytes(),
        };
        let sig = signer.sign(&v.message());
        let (wrapped, body) = records::seal(&v.signed(sig), &team.recipients()).unwrap();
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let _: panah_api::RecordStored = session
            .send_json(
                reqwest::Method::PUT,
                &session.api(&format!("/records/{id}")),
                &panah_api::RecordPut {
                    base: None,
                    version: 1,
                    wrapped: b64.encode(wrapped),
                    body: b64.encode(body),
                },
            )
            .await
            .unwrap();
    }
    session.logout().await;
    for k in [a, b] {
        let out = run(&coordinator_args("sync", &hub, k, &[]));
        let err = String::from_utf8_lossy(&out.stderr);
        let said = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{err}");
        assert!(err.contains("was not a coordinator"), "{err}");
        assert!(said.contains("has since been removed"), "{said}");
        let list = tool_ok(&hub, k, "needs", &["list", "--all"]);
        assert!(!list.contains("FORGED"), "{list}");
        assert!(list.contains("Omid-2"), "{list}");
    }

    // The audit trail names who did what, for coordinators only.
    let audit = tool_ok(&hub, b, "cases", &["audit"]);
    let a_fp = ka.public().fingerprint().to_string();
    assert!(audit.contains(&format!("{a_fp} created need")), "{audit}");
    assert!(audit.contains(&format!("{a_fp} encrypted anew")), "{audit}");
    drop(hub);
}

#[test]
fn two_offline_edits_both_survive_until_someone_chooses() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _data, keys) = hub_with_team(dir.path(), 2, &[]);
    let (a, b) = (&keys[0], &keys[1]);
    tool_ok(
        &hub,
        a,
        "needs",
        &[
            "add",
            "--for",
            "Lale-7",
            "--category",
            "power",
            "--asked",
            "45000",
            "--notes",
            "generator",
        ],
    );
    tool_ok(&hub, b, "sync", &[]);
    let need = reference(&tool_ok(&hub, b, "needs", &["list"]), "Lale-7");

    // Different fields, offline on both sides: a merge keeps both.
    tool_ok(
        &hub,
        a,
        "needs",
        &[
            "--offline",
            "update",
            &need,
            "--funded",
            "20000",
            "--status",
            "funded",
        ],
    );
    tool_ok(
        &hub,
        b,
        "needs",
        &[
            "--offline",
            "update",
            &need,
            "--notes",
            "generator bought; fuel still needed",
        ],
    );
    tool_ok(&hub, a, "sync", &[]);
    let out = tool_ok(&hub, b, "sync", &[]);
    assert!(
        out.contains(&format!("Record {need} was changed by another coordinator")),
        "{out}"
    );
    let shown = tool_ok(&hub, b, "needs", &["show", &need]);
    assert!(
        shown.contains("The version on the site:") && shown.contains("Your version (not sent):"),
        "{shown}"
    );
    assert!(
        shown.contains("20,000") && shown.contains("fuel still needed"),
        "both are shown: {shown}"
    );
    assert!(tool_ok(&hub, b, "needs", &["list"]).contains("two versions"));
    tool_ok(&hub, b, "needs", &["resolve", &need, "--keep", "merged"]);
    tool_ok(&hub, a, "sync", &[]);
    let merged = tool_ok(&hub, a, "needs", &["show", &need]);
    assert!(
        merged.contains("Funded: 20,000") && merged.contains("fuel still needed"),
        "{merged}"
    );

    // The same field on both sides: no silent merge; the person keeps one.
    tool_ok(
        &hub,
        a,
        "needs",
        &["--offline", "update", &need, "--notes", "A's words"],
    );
    tool_ok(
        &hub,
        b,
        "needs",
        &["--offline", "update", &need, "--notes", "B's words"],
    );
    tool_ok(&hub, a, "sync", &[]);
    tool_ok(&hub, b, "sync", &[]);
    let err = tool_fails(&hub, b, "needs", &["resolve", &need, "--keep", "merged"]);
    assert!(err.contains("Both versions changed notes"), "{err}");
    tool_ok(&hub, b, "needs", &["resolve", &need, "--keep", "mine"]);
    tool_ok(&hub, a, "sync", &[]);
    assert!(tool_ok(&hub, a, "needs", &["show", &need]).contains("B's words"));

    // A case's history keeps the notes of both, whichever side is kept.
    tool_ok(
        &hub,
        a,
        "cases",
        &["add", "--for", "Sparrow-3", "--pathway", "family reunion"],
    );
    tool_ok(&hub, b, "sync", &[]);
    let case = reference(&tool_ok(&hub, b, "cases", &["list"]), "Sparrow-3");
    tool_ok(
        &hub,
        a,
        "cases",
        &[
            "--offline",
            "update",
            &case,
            "--note",
            "embassy called back",
            "--stage",
            "lodged",
        ],
    );
    tool_ok(
        &hub,
        b,
        "cases",
        &["--offline", "update", &case, "--note", "fee paid"],
    );
    tool_ok(&hub, a, "sync", &[]);
    tool_ok(&hub, b, "sync", &[]);
    // Merged, both notes stay, and the stage only one side changed.
    tool_ok(&hub, b, "cases", &["resolve", &case, "--keep", "merged"]);
    tool_ok(&hub, a, "sync", &[]);
    let shown = tool_ok(&hub, a, "cases", &["show", &case]);
    assert!(
        shown.contains("embassy called back") && shown.contains("fee paid"),
        "{shown}"
    );
    assert!(shown.contains("application lodged"), "{shown}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_record_leaves_the_hub_and_every_cache() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, data, keys) = hub_with_team(dir.path(), 2, &[]);
    let (a, b) = (&keys[0], &keys[1]);
    tool_ok(
        &hub,
        a,
        "needs",
        &[
            "add",
            "--for",
            "Lale-7",
            "--category",
            "medical",
            "--notes",
            "insulin",
        ],
    );
    tool_ok(&hub, b, "sync", &[]);
    let need = reference(&tool_ok(&hub, b, "needs", &["list"]), "Lale-7");
    let before = stored(&data).await;
    let row = before
        .iter()
        .find(|r| r.record.starts_with(&need))
        .unwrap()
        .clone();
    let (wrapped, body) = (row.wrapped.clone(), row.body.clone());

    // Not without a yes: a deletion is for good.
    let err = tool_fails(&hub, a, "needs", &["delete", &need]);
    assert!(err.contains("--yes"), "{err}");
    let out = tool_ok(&hub, a, "needs", &["delete", &need, "--yes"]);
    assert!(out.contains("will be deleted"), "{out}");
    let after = stored(&data).await;
    let marker = after.iter().find(|r| r.record == row.record).unwrap();
    // What stays is a signed deletion, wrapped anew: nothing of the need.
    assert_eq!(marker.version, row.version + 1);
    let deletion = records::open(&marker.wrapped, &marker.body, &keyring(a)).unwrap();
    assert_eq!(deletion.body.doc, br#"{"kind":"deleted"}"#);
    // Neither the wrapped key nor the content is in any file of the hub any more.
    for f in files_below(Path::new(&data)) {
        let bytes = std::fs::read(&f).unwrap();
        for (what, needle) in [
            ("wrapped key", &wrapped[wrapped.len() - 48..]),
            ("content", &body[body.len() - 48..]),
        ] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "the deleted record's {what} is in {}",
                f.display()
            );
        }
    }

    // B's next sync drops it; it is in B's cache no more.
    let out = tool_ok(&hub, b, "sync", &[]);
    assert!(out.contains("1 removed here"), "{out}");
    let err = tool_fails(&hub, b, "needs", &["show", &need]);
    assert!(err.contains("was deleted by a coordinator"), "{err}");
    let kb = keyring(b);
    let cache_dir = std::env::temp_dir().join(format!("panah-test-cache-{}", std::process::id()));
    let path = records::cache_path(
        &cache_dir,
        &hub.url,
        "roshanai",
        &kb.public().fingerprint().to_string(),
    );
    let cache = Cache::load(&path, &kb).unwrap();
    let id = RecordId::parse(&row.record).unwrap();
    assert!(cache.current(&id).is_none() && cache.held(&id).is_none());

    // A closed record goes on its own once its time is up (here: at once).
    tool_ok(
        &hub,
        a,
        "needs",
        &["add", "--for", "Omid-2", "--category", "food"],
    );
    let omid = reference(&tool_ok(&hub, a, "needs", &["list"]), "Omid-2");
    tool_ok(&hub, a, "needs", &["close", &omid]);
    let out = tool_ok(&hub, a, "sync", &["--keep-closed-days", "0"]);
    assert!(
        out.contains("Closed records deleted because their time (0 days after closing) was up: 1"),
        "{out}"
    );
    assert!(tool_ok(&hub, a, "cases", &["audit"]).contains("deleted when its time was up"));
}

#[test]
fn text_that_identifies_someone_is_refused_unless_confirmed() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _data, keys) = hub_with_team(dir.path(), 1, &[]);
    let a = &keys[0];
    for (args, words) in [
        (
            vec![
                "needs",
                "add",
                "--for",
                "Lale-7",
                "--category",
                "documents",
                "--notes",
                "passport P01234567",
            ],
            "passport",
        ),
        (
            vec![
                "needs",
                "add",
                "--for",
                "Ahmad Karimi",
                "--category",
                "food",
            ],
            "a name?",
        ),
        (
            vec![
                "cases",
                "add",
                "--for",
                "Sparrow",
                "--note",
                "call +93 70 123 4567",
            ],
            "phone, tazkira or passport number",
        ),
    ] {
        let err = tool_fails(&hub, a, args[0], &args[1..]);
        assert!(err.contains(words) && err.contains("--anyway"), "{err}");
    }
    let list = tool_ok(&hub, a, "needs", &["list", "--all"]);
    assert!(list.contains("No needs match"), "nothing was saved: {list}");
    tool_ok(
        &hub,
        a,
        "needs",
        &[
            "add",
            "--for",
            "Lale-7",
            "--category",
            "documents",
            "--notes",
            "passport P01234567",
            "--anyway",
        ],
    );
    for (args, words) in [
        (
            vec!["needs", "add", "--for", "Lale-7", "--category", "fees"],
            "is not a category Panah knows",
        ),
        (
            vec!["needs", "add", "--for", "Lale-7", "--category", "weapons"],
            "is not a category Panah knows",
        ),
        (
            vec!["needs", "add", "--category", "food"],
            "--for PSEUDONYM",
        ),
        (
            vec![
                "needs",
                "add",
                "--for",
                "L\u{202e}7-elaL",
                "--category",
                "food",
            ],
            "control character",
        ),
        (vec!["needs", "show", "zz"], "is not a record's number"),
        (vec!["needs", "show", "ffff"], "No need on this device"),
        (
            vec!["cases", "add", "--for", "Sparrow", "--due", "2021-02-30"],
            "is not a date",
        ),
        (
            vec!["cases", "add", "--for", "Sparrow", "--due", "05-09-10"],
            "is not a date",
        ),
        (
            vec!["cases", "add", "--for", "Sparrow", "--stage", "smuggled"],
            "is not a stage Panah knows",
        ),
        (
            vec![
                "needs",
                "add",
                "--for",
                "Lale-7",
                "--category",
                "food",
                "--asked=-5",
            ],
            "not an amount",
        ),
    ] {
        let err = tool_fails(&hub, a, args[0], &args[1..]);
        assert!(err.contains(words), "{args:?}: {err}");
    }
}

#[test]
fn dari_and_pashto_readers_get_their_words_digits_and_calendar() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _data, keys) = hub_with_team(dir.path(), 1, &[]);
    let a = &keys[0];
    tool_ok(
        &hub,
        a,
        "needs",
        &[
            "add",
            "--for",
            "لاله-۷",
            "--category",
            "food",
            "--urgency",
            "urgent",
            "--asked",
            "۱۲۵۰۰",
        ],
    );
    tool_ok(
        &hub,
        a,
        "cases",
        &[
            "add",
            "--for",
            "Sparrow",
            "--due",
            "2021-08-20",
            "--next",
            "visa interview",
        ],
    );
    let fa = tool_ok(&hub, a, "summary", &["--lang", "fa"]);
    assert!(
        fa.contains("نیازمندی‌های باز") && fa.contains("۱۲٬۵۰۰\u{a0}افغانی"),
        "{fa}"
    );
    assert!(
        fa.contains("۲۹ اسد ۱۴۰۰"),
        "Solar Hijri with Afghan months: {fa}"
    );
    // The commonest failures are said in the reader's language too, details after.
    let out = run_env(
        &[
            ("LANG", "fa_AF.UTF-8"),
            ("PANAH_PASSPHRASE", "not the passphrase"),
        ],
        &coordinator_args("needs", &hub, a, &["list"]),
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("خطا: این پاسورد کلیدها را باز نمی‌کند"),
        "{err}"
    );
    // Typed as a Dari reader reads dates everywhere else: Solar Hijri, Persian digits.
    tool_ok(
        &hub,
        a,
        "cases",
        &[
            "add",
            "--for",
            "Gul-1",
            "--due",
            "۱۴۰۵-۰۹-۱۰",
            "--stage",
            "مصاحبه",
        ],
    );
    let listed = tool_ok(&hub, a, "cases", &["list", "--lang", "fa"]);
    assert!(
        listed.contains("۱۰ قوس ۱۴۰۵") && listed.contains("مصاحبه"),
        "{listed}"
    );
    assert!(
        listed
            .lines()
            .all(|l| l.starts_with('\u{200F}') || !l.contains("Gul-1")),
        "{listed}"
    );
    let json = tool_ok(&hub, a, "cases", &["list", "--json"]);
    assert!(json.contains("\"due\": \"2026-12-01\""), "{json}");
    let ps = tool_ok(&hub, a, "cases", &["list", "--lang", "ps"]);
    assert!(ps.contains("ثبت شوې") && ps.contains("زمری"), "{ps}");
    let json = tool_ok(&hub, a, "needs", &["list", "--json"]);
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    // Integer minor units of an ISO 4217 currency (the afghani has two minor digits).
    assert_eq!(v[0]["record"]["money"]["asked"], 1_250_000);
    assert_eq!(v[0]["record"]["money"]["currency"], "AFN");
    assert_eq!(v[0]["record"]["pseudonym"], "لاله-۷");
}

#[test]
fn panic_erases_the_keyring_and_the_cache_without_a_network() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _data, keys) = hub_with_team(dir.path(), 1, &[]);
    let home = dir.path().join("device");
    std::fs::create_dir_all(&home).unwrap();
    let keyring_path = home.join("keyring.age");
    std::fs::copy(&keys[0], &keyring_path).unwrap();
    let cache = home.join("cache");
    let state = home.join("state");
    let profiles = home.join("profiles.toml");
    let env = [
        ("PANAH_CACHE_DIR", s(&cache)),
        ("PANAH_LEDGER_STATE_DIR", s(&state)),
        ("PANAH_PROFILES", s(&profiles)),
        ("PANAH_KEYRING", s(&keyring_path)),
    ];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run_env(
        &env,
        &[
            "profile",
            "set",
            "--hub",
            &hub.url,
            "--collective",
            "roshanai",
        ],
    );
    assert!(out.status.success());
    let out = run_env(
        &env,
        &["needs", "add", "--for", "Lale-7", "--category", "food"],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mine = home.join("notes.txt");
    std::fs::write(&mine, "not Panah's").unwrap();
    std::fs::write(cache.join("holiday.jpg"), "not Panah's either").unwrap();
    assert!(!files_below(&cache).is_empty() && !files_below(&state).is_empty());

    // Without --yes and without a terminal to ask in, nothing goes.
    let out = run_env(&env, &["panic"]);
    assert!(!out.status.success());
    assert!(keyring_path.exists());

    drop(hub); // no network needed
    let start = Instant::now();
    let out = run_env(&env, &["panic", "--yes"]);
    let took = start.elapsed();
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{said}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    eprintln!("panah panic took {took:?} (process start included)");
    assert!(
        said.contains("Erased:") && said.contains("keyring.age"),
        "{said}"
    );
    assert!(!keyring_path.exists() && !profiles.exists() && !state.exists());
    let left: Vec<PathBuf> = files_below(&cache);
    assert_eq!(
        left,
        [cache.join("holiday.jpg")],
        "only what is not Panah's stays"
    );
    assert!(mine.exists());
    // Nothing named like a hidden leftover of a rename either.
    assert!(std::fs::read_dir(&home).unwrap().all(|e| !e
        .unwrap()
        .file_name()
        .to_string_lossy()
        .starts_with('.')));
    // A keyring setting that names someone's photo does not cost them the photo.
    let photo = home.join("photo.jpg");
    std::fs::write(&photo, "a family photo").unwrap();
    let out = run_env(&env, &["panic", "--yes", "--keyring", &s(&photo)]);
    assert!(out.status.success());
    assert!(photo.exists(), "only an age file is erased as a keyring");
    let again = run_env(&env, &["panic", "--yes"]);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("nothing of Panah"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_export_and_a_stored_record_open_with_stock_rage() {
    let Some(rage) = tool("rage") else { return };
    let dir = tempfile::tempdir().unwrap();
    let (hub, data, keys) = hub_with_team(dir.path(), 1, &[]);
    let a = &keys[0];
    tool_ok(
        &hub,
        a,
        "needs",
        &[
            "add",
            "--for",
            "Lale-7",
            "--category",
            "shelter",
            "--notes",
            "winter blankets",
        ],
    );
    let need = reference(&tool_ok(&hub, a, "needs", &["list"]), "Lale-7");
    let identity = dir.path().join("identity.txt");
    ok(&[
        "id",
        "export-age-identity",
        "--keyring",
        a,
        "-o",
        &s(&identity),
    ]);
    let export = dir.path().join("need.age");
    tool_ok(&hub, a, "needs", &["export", &need, "-o", &s(&export)]);
    let out = std::process::Command::new(&rage)
        .args(["-d", "-i", &s(&identity), &s(&export)])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["record"]["pseudonym"], "Lale-7");
    assert_eq!(v["record"]["notes"], "winter blankets");

    // What the hub keeps: the data key wrapped to the coordinator, then the content.
    let row = stored(&data)
        .await
        .into_iter()
        .find(|r| r.record.starts_with(&need))
        .unwrap();
    let (w, b) = (dir.path().join("wrapped.age"), dir.path().join("body.age"));
    std::fs::write(&w, &row.wrapped).unwrap();
    std::fs::write(&b, &row.body).unwrap();
    let key = std::process::Command::new(&rage)
        .args(["-d", "-i", &s(&identity), &s(&w)])
        .output()
        .unwrap();
    assert!(key.status.success());
    let data_key = dir.path().join("data-key.txt");
    std::fs::write(&data_key, key.stdout).unwrap();
    let plain = std::process::Command::new(&rage)
        .args(["-d", "-i", &s(&data_key), &s(&b)])
        .output()
        .unwrap();
    assert!(
        plain.status.success(),
        "{}",
        String::from_utf8_lossy(&plain.stderr)
    );
    assert!(
        plain.stdout.starts_with(b"panah-record 1\norigin "),
        "{:?}",
        String::from_utf8_lossy(&plain.stdout[..40])
    );
    assert!(String::from_utf8_lossy(&plain.stdout).contains("winter blankets"));
}

/// `pg_dump` from PATH or the machine's PostgreSQL binaries.
fn pg_dump() -> Option<PathBuf> {
    if let Some(p) = tool("pg_dump") {
        return Some(p);
    }
    std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path().join("bin/pg_dump")))
        .find(|p| p.exists())
}

#[tokio::test(flavor = "multi_thread")]
async fn on_postgresql_no_row_holds_a_record_in_clear() {
    let Some(admin) = panah_store::testing::postgres_admin_url() else {
        return;
    };
    let Location::Postgres { url } = panah_store::testing::fresh_postgres_database(&admin).await
    else {
        unreachable!()
    };
    let dump = pg_dump().expect("pg_dump comes with the PostgreSQL server binaries");
    let dir = tempfile::tempdir().unwrap();
    let data = s(&dir.path().join("hub"));
    let a = s(&dir.path().join("a.keyring"));
    let b = s(&dir.path().join("b.keyring"));
    let line_a = ok(&["id", "new", "--keyring", &a]);
    let line_b = ok(&["id", "new", "--keyring", &b]);
    let hub = Hub::start(
        &["--database", &url, "--data", &data],
        &dir.path().join("hub.log"),
    );
    ok(&[
        "admin",
        "create-collective",
        "--database",
        &url,
        "roshanai",
        "--name-fa",
        "روشنایی",
        "--name-ps",
        "رڼا",
        "--name-en",
        "Roshanai",
    ]);
    ok(&[
        "admin",
        "add-coordinator",
        "--database",
        &url,
        "roshanai",
        line_a.trim(),
    ]);
    tool_ok(&hub, &a, "team", &[]);
    tool_ok(&hub, &a, "team", &["add", line_b.trim()]);
    tool_ok(
        &hub,
        &a,
        "needs",
        &[
            "add",
            "--for",
            "Lale-7",
            "--category",
            "medical",
            "--notes",
            "CANARYPGNEED insulin",
        ],
    );
    tool_ok(
        &hub,
        &a,
        "cases",
        &[
            "add",
            "--for",
            "Sparrow-3",
            "--pathway",
            "family reunion",
            "--note",
            "CANARYPGCASE lawyer called",
        ],
    );
    tool_ok(&hub, &b, "sync", &[]);
    let need = reference(&tool_ok(&hub, &b, "needs", &["list"]), "Lale-7");
    assert!(tool_ok(&hub, &b, "needs", &["show", &need]).contains("CANARYPGNEED insulin"));
    // Deleted, then looked for: the dump holds neither the canaries nor the deleted blobs.
    let case = reference(&tool_ok(&hub, &a, "cases", &["list"]), "Sparrow-3");
    tool_ok(&hub, &a, "cases", &["delete", &case, "--yes"]);

    let out = std::process::Command::new(&dump)
        .args(["--data-only", "--dbname", &url])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("COPY public.records"),
        "the dump has the records table"
    );
    for needle in [
        "CANARYPGNEED",
        "CANARYPGCASE",
        "Lale-7",
        "Sparrow-3",
        "family reunion",
        "127.0.0.1",
    ] {
        assert!(!text.contains(needle), "{needle:?} in a PostgreSQL row");
    }
    let mut files = files_below(Path::new(&data));
    files.push(hub.log.clone());
    scan(
        &files,
        &["CANARYPGNEED", "CANARYPGCASE", "Lale-7", "Sparrow-3"],
        "hub folder and log",
    );
}

/// Runs a Python script against the hub's SQLite file (playing a hostile hub's operator).
fn hostile_sql(data: &str, script: &str) {
    let db = Path::new(data).join("panah.db");
    let out = std::process::Command::new("python3")
        .args(["-c", script, &db.display().to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn all_output(hub: &Hub, keyring: &str, command: &str, args: &[&str]) -> String {
    let out = run(&coordinator_args(command, hub, keyring, args));
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_removed_coordinators_last_edit_is_set_aside_and_the_record_freed() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, data, keys) = hub_with_team(dir.path(), 3, &[]);
    let (a, b, c) = (&keys[0], &keys[1], &keys[2]);
    tool_ok(
        &hub,
        a,
        "needs",
        &[
            "add",
            "--for",
            "Lale-7",
            "--category",
            "food",
            "--notes",
            "v1",
        ],
    );
    tool_ok(&hub, b, "sync", &[]);
    tool_ok(&hub, c, "sync", &[]);
    let need = reference(&tool_ok(&hub, c, "needs", &["list"]), "Lale-7");
    tool_ok(
        &hub,
        c,
        "needs",
        &["update", &need, "--notes", "C-LAST-EDIT"],
    );
    let c_fp = keyring(c).public().fingerprint().to_string();
    tool_ok(&hub, a, "team", &["remove", &c_fp]);

    // A's sync sets C's unconfirmed edit aside and puts back the version A had, signed
    // and wrapped for the team without C.
    let out = all_output(&hub, a, "sync", &[]);
    assert!(
        out.contains(&format!(
            "Record {need} was changed by a coordinator who has since been removed"
        )),
        "{out}"
    );
    let kc = keyring(c);
    let row = stored(&data)
        .await
        .into_iter()
        .find(|r| r.record.starts_with(&need))
        .unwrap();
    assert_eq!(
        records::open(&row.wrapped, &row.body, &kc).unwrap_err(),
        Unopened::NotForMe
    );
    let shown = tool_ok(&hub, a, "needs", &["show", &need]);
    assert!(
        shown.contains("Notes: v1") && shown.contains("Set aside") && shown.contains("C-LAST-EDIT"),
        "{shown}"
    );

    // A record C wrote alone and nobody saw before C's removal: set aside, and a current
    // coordinator can delete it for good (a deletion C's key cannot open).
    let out = all_output(&hub, a, "sync", &[]);
    assert!(!out.contains("has since been removed"), "told once: {out}");
    let row_before = stored(&data).await.len();
    let kc_session = panah_client::Session::login(
        &hub.url,
        panah_core::Slug::parse("roshanai").unwrap(),
        &keyring(a),
    )
    .await
    .unwrap();
    let team = panah_client::team::verified(&kc_session).await.unwrap();
    let lone = RecordId::random();
    let v = Unsigned {
        origin: team.origin.clone(),
        id: lone,
        version: 1,
        parent: None,
        team_size: 3,
        by: *kc.public().signing(),
        date: panah_core::Timestamp::now(),
        doc: Doc::from_bytes(br#"{"kind":"need","pseudonym":"Omid-2","category":"food","urgency":"soon","status":"open","opened":"2021-08-20"}"#)
            .unwrap()
            .to_bytes(),
    };
    let sig = kc.sign(&v.message());
    let (wrapped, body) = records::seal(
        &v.signed(sig),
        &[
            kc.identity().to_public(),
            keyring(a).identity().to_public(),
            keyring(b).identity().to_public(),
        ],
    )
    .unwrap();
    {
        use base64::Engine;
        let b64 = base64::engine::general_purpose::STANDARD;
        let _: panah_api::RecordStored = kc_session
            .send_json(
                reqwest::Method::PUT,
                &kc_session.api(&format!("/records/{lone}")),
                &panah_api::RecordPut {
                    base: None,
                    version: 1,
                    wrapped: b64.encode(wrapped),
                    body: b64.encode(body),
                },
            )
            .await
            .unwrap();
    }
    kc_session.logout().await;
    assert_eq!(stored(&data).await.len(), row_before + 1);
    let out = all_output(&hub, a, "sync", &[]);
    let short = lone.short();
    assert!(
        out.contains(&format!(
            "Record {short} was written by a coordinator who has since been removed"
        )),
        "{out}"
    );
    let shown = tool_ok(&hub, a, "needs", &["show", &short]);
    assert!(
        shown.contains("Set aside") && shown.contains("Omid-2"),
        "{shown}"
    );
    tool_ok(&hub, a, "needs", &["delete", &short, "--yes"]);
    let row = stored(&data)
        .await
        .into_iter()
        .find(|r| r.record == lone.to_string())
        .unwrap();
    assert_eq!(
        records::open(&row.wrapped, &row.body, &kc).unwrap_err(),
        Unopened::NotForMe
    );
    assert!(
        tool_fails(&hub, a, "needs", &["show", &short]).contains("was deleted by a coordinator")
    );

    // B is not stuck: an edit goes through, with no conflict.
    tool_ok(&hub, b, "sync", &[]);
    let out = all_output(&hub, b, "needs", &["update", &need, "--notes", "B-EDIT"]);
    assert!(!out.contains("changed by another"), "{out}");
    tool_ok(&hub, a, "sync", &[]);
    assert!(tool_ok(&hub, a, "needs", &["show", &need]).contains("Notes: B-EDIT"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hub_that_rolls_a_record_back_and_forks_it_is_caught() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, data, keys) = hub_with_team(dir.path(), 2, &[]);
    let (a, b) = (&keys[0], &keys[1]);
    tool_ok(
        &hub,
        a,
        "needs",
        &[
            "add",
            "--for",
            "Lale-7",
            "--category",
            "food",
            "--notes",
            "base",
        ],
    );
    tool_ok(&hub, b, "sync", &[]);
    let need = reference(&tool_ok(&hub, a, "needs", &["list"]), "Lale-7");
    let v1 = stored(&data)
        .await
        .into_iter()
        .find(|r| r.record.starts_with(&need))
        .unwrap();
    let (wp, bp) = (dir.path().join("w1"), dir.path().join("b1"));
    std::fs::write(&wp, &v1.wrapped).unwrap();
    std::fs::write(&bp, &v1.body).unwrap();
    tool_ok(&hub, a, "needs", &["update", &need, "--notes", "A-EDIT"]);
    // The hub's operator puts version 1 back; B, who never saw version 2, edits it.
    hostile_sql(
        &data,
        &format!(
            "import sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\n\
             w=open('{}','rb').read(); b=open('{}','rb').read()\n\
             c.execute(\"update records set version=1, wrapped=?, body=? where record like '{need}%'\",(w,b))\n\
             c.commit()",
            wp.display(),
            bp.display()
        ),
    );
    tool_ok(&hub, b, "needs", &["update", &need, "--notes", "B-EDIT"]);
    let out = all_output(&hub, a, "sync", &[]);
    assert!(
        out.contains("rewrote the record's history"),
        "A is told: {out}"
    );
    tool_ok(&hub, b, "needs", &["update", &need, "--notes", "B-EDIT-2"]);
    let out = all_output(&hub, a, "sync", &[]);
    assert!(
        out.contains("rewrote the record's history"),
        "and again for the next version: {out}"
    );
    assert!(
        tool_ok(&hub, a, "needs", &["show", &need]).contains("Notes: A-EDIT"),
        "A's edit is not overwritten"
    );

    // A hub that serves an older version to a device that saw a newer one is refused too.
    hostile_sql(
        &data,
        &format!(
            "import sqlite3,sys\nc=sqlite3.connect(sys.argv[1])\n\
             w=open('{}','rb').read(); b=open('{}','rb').read()\n\
             s=c.execute('select max(seq) from records').fetchone()[0]\n\
             c.execute(\"update records set version=1, seq=?, wrapped=?, body=? where record like '{need}%'\",(s+1000,w,b))\n\
             c.execute('update record_clock set seq=seq+1000')\n\
             c.commit()",
            wp.display(),
            bp.display()
        ),
    );
    let out = all_output(&hub, a, "sync", &[]);
    assert!(out.contains("it is not taken back"), "{out}");
    assert!(tool_ok(&hub, a, "needs", &["show", &need]).contains("Notes: A-EDIT"));
}

#[test]
fn a_coordinator_who_joins_later_reads_everything_after_the_next_sync() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _data, keys) = hub_with_team(dir.path(), 1, &[]);
    let a = &keys[0];
    tool_ok(
        &hub,
        a,
        "needs",
        &["add", "--for", "Lale-7", "--category", "food"],
    );
    tool_ok(
        &hub,
        a,
        "needs",
        &["add", "--for", "Omid-2", "--category", "power"],
    );
    let omid = reference(&tool_ok(&hub, a, "needs", &["list"]), "Omid-2");
    tool_ok(&hub, a, "needs", &["delete", &omid, "--yes"]);
    let d = s(&dir.path().join("late.keyring"));
    let line = ok(&["id", "new", "--keyring", &d]);
    tool_ok(&hub, a, "team", &["add", line.trim(), "--label", "late"]);
    // Before anyone on the team syncs, the newcomer can open nothing written before.
    let out = all_output(&hub, &d, "sync", &[]);
    assert!(
        out.contains("Records not encrypted to your key yet"),
        "{out}"
    );
    // The next sync of a coordinator who can read them wraps everything anew, deletions
    // and the audit trail included.
    let out = tool_ok(&hub, a, "sync", &[]);
    assert!(
        out.contains("Records encrypted anew for the team as it is now"),
        "{out}"
    );
    let out = all_output(&hub, &d, "sync", &[]);
    assert!(!out.contains("not encrypted to your key"), "{out}");
    assert!(tool_ok(&hub, &d, "needs", &["list"]).contains("Lale-7"));
    assert!(
        tool_fails(&hub, &d, "needs", &["show", &omid]).contains("was deleted by a coordinator")
    );
    assert!(tool_ok(&hub, &d, "cases", &["audit"]).contains("created need"));
}
