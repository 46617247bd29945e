//! The `panah` binary end to end: a real hub on a real port, driven by the CLI, with
//! the stock `rage` tool checking that keyrings are plain age files.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;

use support::*;

fn path_str(p: &Path) -> String {
    p.display().to_string()
}

#[test]
fn keyring_commands_and_rage_interop() {
    let dir = tempfile::tempdir().unwrap();
    let keyring = path_str(&dir.path().join("me.keyring"));

    let line = ok(&["id", "new", "--keyring", &keyring]);
    let line = line.trim();
    assert!(
        line.starts_with("age1") && line.contains(" ed25519:"),
        "{line}"
    );
    assert_eq!(ok(&["id", "show", "--keyring", &keyring]).trim(), line);

    // Refusals say what to do.
    let err = fails(&["id", "new", "--keyring", &keyring]);
    assert!(err.contains("refusing to overwrite"), "{err}");
    let out = panah()
        .env("PANAH_PASSPHRASE", "wrong passphrase!")
        .args(["id", "show", "--keyring", &keyring])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("passphrase does not open this keyring"));
    let err = fails(&["id", "show", "--keyring", "/nonexistent/k"]);
    assert!(err.contains("panah id new"), "{err}");
    let out = panah()
        .env("PANAH_PASSPHRASE", "short")
        .args(["id", "new", "--keyring", &format!("{keyring}.2")])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stderr).contains("too short"));

    let identity_file = path_str(&dir.path().join("identity.txt"));
    ok(&[
        "id",
        "export-age-identity",
        "--keyring",
        &keyring,
        "-o",
        &identity_file,
    ]);
    let identity = std::fs::read_to_string(&identity_file).unwrap();
    assert!(identity.contains("AGE-SECRET-KEY-1"));
    let recipient = line.split_whitespace().next().unwrap();

    let (Some(rage), Some(_)) = (tool("rage"), tool("python3")) else {
        return;
    };
    let rage = path_str(&rage);
    // The exported identity is what stock rage expects: it decrypts a file rage
    // encrypted to the public line's recipient.
    let secret = dir.path().join("note.age");
    let status = std::process::Command::new(&rage)
        .args(["-r", recipient, "-o", &path_str(&secret), "--armor"])
        .stdin(std::fs::File::open(&identity_file).unwrap())
        .status()
        .unwrap();
    assert!(status.success());
    let out = std::process::Command::new(&rage)
        .args(["-d", "-i", &identity_file, &path_str(&secret)])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout), identity);

    // The keyring itself opens with rage and the passphrase, if Panah is gone.
    let out = in_terminal(&[&rage, "-d", &keyring], PASS);
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "rage -d keyring: {text}");
    assert!(text.contains("panah-keyring: 1"), "{text}");
    assert!(
        text.contains(identity.lines().last().unwrap()),
        "the same age identity"
    );
}

#[test]
fn operator_and_coordinator_against_a_live_hub() {
    let dir = tempfile::tempdir().unwrap();
    let data = path_str(&dir.path().join("hub"));
    let alice = path_str(&dir.path().join("alice.keyring"));
    let bob = path_str(&dir.path().join("bob.keyring"));

    create_collective(&data, "roshanai");
    create_collective(&data, "other");
    let err = fails(&[
        "admin",
        "create-collective",
        "--data",
        &data,
        "roshanai",
        "--name-fa",
        "x",
        "--name-ps",
        "x",
        "--name-en",
        "x",
    ]);
    assert!(err.contains("already exists"), "{err}");
    set_appeal(
        &data,
        dir.path(),
        "roshanai",
        "[en]\nname = \"Roshanai Youth\"\nstory = \"We teach.\"\n",
    );

    let alice_line = ok(&["id", "new", "--keyring", &alice]);
    let bob_line = ok(&["id", "new", "--keyring", &bob]);
    ok(&[
        "admin",
        "add-coordinator",
        "--data",
        &data,
        "roshanai",
        alice_line.trim(),
        "--label",
        "coordinator 1",
    ]);
    ok(&[
        "admin",
        "add-coordinator",
        "--data",
        &data,
        "roshanai",
        bob_line.trim(),
    ]);
    let err = fails(&[
        "admin",
        "add-coordinator",
        "--data",
        &data,
        "roshanai",
        "age1nope ed25519:AAAA",
    ]);
    assert!(err.contains("age public key"), "{err}");
    let err = fails(&[
        "admin",
        "add-coordinator",
        "--data",
        &data,
        "nobody",
        alice_line.trim(),
    ]);
    assert!(err.contains("no collective \"nobody\""), "{err}");

    let hub = Hub::start(&["--data", &data], &dir.path().join("hub.log"));
    let (status, page) = http_get(&hub.url, "/c/roshanai?lang=en");
    assert_eq!(status, 200);
    assert!(page.contains("Roshanai Youth"));

    // The operator's second key is only an invitation: bob cannot log in yet.
    let bob_args = [
        "team",
        "--hub",
        &hub.url,
        "--collective",
        "roshanai",
        "--keyring",
        &bob,
    ];
    let err = fails(&bob_args);
    assert!(
        err.contains("HTTP 401") && err.contains("not a coordinator"),
        "{err}"
    );
    // The founder logs in, which starts the signed team log with them alone, and is told
    // of the invitation.
    let alice_args = [
        "team",
        "--hub",
        &hub.url,
        "--collective",
        "roshanai",
        "--keyring",
        &alice,
    ];
    let out = run(&alice_args);
    assert!(out.status.success());
    let (team, told) = (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    );
    assert!(
        told.contains("started the collective's signed team log"),
        "{told}"
    );
    assert!(told.contains("proposed 1 key"), "{told}");
    assert!(team.contains("(you)"), "{team}");
    assert!(team.contains("coordinator 1"), "{team}");
    assert_eq!(team.matches("ed25519:").count(), 1, "{team}");
    // She signs bob onto the team; bob now logs in and sees both, with the change.
    let added = ok(&[
        &alice_args[..],
        &["add", bob_line.trim(), "--label", "coordinator 2"],
    ]
    .concat());
    assert!(added.contains("the team has 2 coordinators"), "{added}");
    // (Bob's device remembers what it checked in its own place.)
    let bob_state = dir.path().join("bob-state").display().to_string();
    let out = run_env(&[("PANAH_LEDGER_STATE_DIR", &bob_state)], &bob_args);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let team = String::from_utf8_lossy(&out.stdout).into_owned();
    let told = String::from_utf8_lossy(&out.stderr).into_owned();
    assert_eq!(team.matches("ed25519:").count(), 2, "{team}");
    assert!(told.contains("first check"), "{told}");
    assert!(told.contains("(coordinator 2) was added by"), "{told}");
    // Alice sees the change she made as hers, and nothing new.
    let out = run(&alice_args);
    assert!(!String::from_utf8_lossy(&out.stderr).contains("changes since"));

    // Not a coordinator of `other`; unknown collective; wrong hub address.
    let err = fails(&[
        "team",
        "--hub",
        &hub.url,
        "--collective",
        "other",
        "--keyring",
        &alice,
    ]);
    assert!(
        err.contains("HTTP 401") && err.contains("not a coordinator"),
        "{err}"
    );
    let err = fails(&[
        "team",
        "--hub",
        &hub.url,
        "--collective",
        "nobody",
        "--keyring",
        &alice,
    ]);
    assert!(err.contains("HTTP 404"), "{err}");
    let err = fails(&[
        "team",
        "--hub",
        "ftp://x",
        "--collective",
        "roshanai",
        "--keyring",
        &alice,
    ]);
    assert!(err.contains("https://"), "{err}");

    // Removing a coordinator takes effect while the hub runs.
    let fingerprint = team
        .lines()
        .find(|l| l.contains("coordinator 2") && l.contains("since"))
        .unwrap()
        .split('\t')
        .next()
        .unwrap()
        .to_owned();
    ok(&[
        "admin",
        "remove-coordinator",
        "--data",
        &data,
        "roshanai",
        &fingerprint,
    ]);
    let err = fails(&[
        "team",
        "--hub",
        &hub.url,
        "--collective",
        "roshanai",
        "--keyring",
        &bob,
    ]);
    assert!(
        err.contains("HTTP 401") && err.contains("not a coordinator"),
        "{err}"
    );
    let listed = ok(&[
        "admin",
        "list-coordinators",
        "--data",
        &data,
        "roshanai",
        "--all",
    ]);
    assert!(listed.contains("removed"), "{listed}");
    // The operator's removal is the hub's word; the team log still lists bob until a
    // coordinator signs his removal.
    let team = ok(&alice_args);
    assert_eq!(team.matches("ed25519:").count(), 2, "{team}");
    let removed = ok(&[&alice_args[..], &["remove", &fingerprint]].concat());
    assert!(removed.contains("removed coordinator"), "{removed}");
    let team = ok(&alice_args);
    assert_eq!(team.matches("ed25519:").count(), 1, "{team}");
    let err = fails(&[&alice_args[..], &["remove", &fingerprint]].concat());
    assert!(err.contains("nobody on the verified team"), "{err}");

    assert!(hub.stop().success(), "graceful shutdown on SIGTERM");
}

#[test]
fn hub_logs_hold_no_address_token_or_query() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, _data, keyrings) = hub_with_team(dir.path(), 1, &[]);
    http_get(&hub.url, "/c/roshanai?lang=ps&canary=QUERYCANARY");
    http_get(&hub.url, "/c/CANARY-SLUG-404");
    ok(&coordinator_args("team", &hub, &keyrings[0], &[]));
    let log_path = hub.log.clone();
    assert!(hub.stop().success());
    let log = std::fs::read_to_string(log_path).unwrap();
    assert!(
        log.contains("route=/c/{slug}"),
        "requests are logged by route: {log}"
    );
    for needle in [
        "127.0.0.1",
        "QUERYCANARY",
        "CANARY-SLUG",
        "panah_t1_",
        "lang=ps",
        "ed25519:",
    ] {
        assert!(!log.contains(needle), "the log contains {needle:?}:\n{log}");
    }
}

/// Writes the hub acknowledged over HTTP (a ledger started, two entries signed and
/// appended, a reply stored) survive `kill -9` of the hub right after the last
/// acknowledgement: the hub had no chance to flush anything.
#[test]
fn acknowledged_writes_survive_kill_9() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, data, keyrings) = hub_with_team(dir.path(), 1, &[]);
    let k = &keyrings[0];
    let ledger = |hub: &Hub, args: &[&str]| ok(&coordinator_args("ledger", hub, k, args));
    ledger(&hub, &["init", "--base", "AFN"]);
    for memo in ["flour", "diesel"] {
        ledger(&hub, &expense(memo));
    }
    let (status, _) = curl_contact(&hub.url, "roshanai", &["message=we need medicine"]);
    assert_eq!(status, 200);
    ok(&coordinator_args(
        "inbox",
        &hub,
        k,
        &["reply", "1", "--message", "acknowledged reply"],
    ));
    hub.crash();

    let hub = Hub::start(&["--data", &data], &dir.path().join("hub2.log"));
    let listed = ledger(&hub, &["list"]);
    assert!(
        listed.contains("2 entries, verified") && listed.contains("diesel"),
        "{listed}"
    );
    let read = ok(&coordinator_args("inbox", &hub, k, &["read", "1"]));
    assert!(
        read.contains("we need medicine") && read.contains("acknowledged reply"),
        "{read}"
    );
    let team = ok(&coordinator_args("team", &hub, k, &[]));
    assert!(team.contains("(you)"));
    assert!(hub.stop().success());
}

#[test]
fn bad_configuration_is_an_error_not_a_guess() {
    let dir = tempfile::tempdir().unwrap();
    let typo = path_str(&dir.path().join("panha.db"));
    let err = fails(&[
        "serve",
        "--database",
        &format!("sqlite:{typo}"),
        "--listen",
        "127.0.0.1:0",
    ]);
    assert!(
        err.contains("no SQLite database") && err.contains("mode=rwc"),
        "{err}"
    );
    assert!(!Path::new(&typo).exists());

    let err = fails(&["serve", "--database", "mysql://root:hunter2@db/panah"]);
    assert!(
        err.contains("unsupported database URL") && !err.contains("hunter2"),
        "{err}"
    );

    let err = fails(&["serve", "--listen", "everywhere"]);
    assert!(err.contains("not an address"), "{err}");

    let config = dir.path().join("panah.toml");
    std::fs::write(&config, "listen = \"127.0.0.1:0\"\nlisen = 3\n").unwrap();
    let err = fails(&["serve", "--config", &path_str(&config)]);
    assert!(
        err.contains("unknown field") && err.contains("lisen"),
        "{err}"
    );
    std::fs::write(&config, "listen = [\n").unwrap();
    let err = fails(&["serve", "--config", &path_str(&config)]);
    assert!(err.contains("is not valid"), "{err}");
    std::fs::write(&config, "token_ttl_secs = 5\n").unwrap();
    let err = fails(&["serve", "--config", &path_str(&config)]);
    assert!(err.contains("between 60 and 86400"), "{err}");

    let err = fails(&[
        "admin",
        "create-collective",
        "--data",
        &path_str(dir.path()),
        "Bad_Slug",
        "--name-fa",
        "a",
        "--name-ps",
        "b",
        "--name-en",
        "c",
    ]);
    assert!(err.contains("a-z, 0-9"), "{err}");
    let err = fails(&[
        "admin",
        "create-collective",
        "--data",
        &path_str(dir.path()),
        "ok-slug",
        "--name-fa",
        "a",
        "--name-ps",
        "b",
        "--name-en",
        "c",
        "--default-lang",
        "de",
    ]);
    assert!(err.contains("unknown language"), "{err}");
}

/// An admin command without the hub's --data/--database/--config does not make a second,
/// empty hub: it says where it looked and how to point it at the real one.
#[test]
fn admin_commands_never_create_a_hub_by_accident() {
    let dir = tempfile::tempdir().unwrap();
    let data = path_str(&dir.path().join("nowhere"));
    let err = fails(&["admin", "list-collectives", "--data", &data]);
    assert!(
        err.contains("there is no hub in") && err.contains("panah admin init"),
        "{err}"
    );
    assert!(!dir.path().join("nowhere").exists(), "nothing was created");
    let made = ok(&["admin", "init", "--data", &data]);
    assert!(made.contains("created a new, empty hub"), "{made}");
    assert!(
        made.contains(&format!("panah serve --data {data}")),
        "{made}"
    );
    let again = ok(&["admin", "init", "--data", &data]);
    assert!(again.contains("already holds a hub"), "{again}");
    assert_eq!(ok(&["admin", "list-collectives", "--data", &data]), "");

    // Rails a collective keeps off its pages.
    create_collective(&data, "roshanai");
    let said = ok(&["admin", "hide-rails", "--data", &data, "roshanai", "crypto"]);
    assert!(
        said.contains("roshanai's pages name these rails: bank, cash, transfer-agent"),
        "{said}"
    );
    let err = fails(&[
        "admin",
        "hide-rails",
        "--data",
        &data,
        "roshanai",
        "bitcoin",
    ]);
    assert!(err.contains("\"bitcoin\" is not a rail"), "{err}");
    let said = ok(&["admin", "hide-rails", "--data", &data, "roshanai"]);
    assert!(
        said.contains("bank, crypto, cash, transfer-agent"),
        "{said}"
    );
}

#[test]
fn settings_come_from_a_config_file_and_the_environment() {
    let dir = tempfile::tempdir().unwrap();
    let data = path_str(&dir.path().join("from-file"));
    let config = dir.path().join("panah.toml");
    std::fs::write(
        &config,
        format!("data = {data:?}\nlisten = \"127.0.0.1:0\"\n"),
    )
    .unwrap();
    create_collective(&data, "filed");
    let log = dir.path().join("hub.log");
    let hub = Hub::start(&["--config", &path_str(&config)], &log);
    let (status, _) = http_get(&hub.url, "/c/filed");
    assert_eq!(
        status, 200,
        "the hub used the data folder from the config file"
    );
    assert!(hub.stop().success());

    // PANAH_DATA overrides the file.
    let other = path_str(&dir.path().join("from-env"));
    create_collective(&other, "envy");
    let mut child = panah()
        .args(["serve", "--config", &path_str(&config)])
        .env("PANAH_DATA", &other)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut first = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut first,
    )
    .unwrap();
    let url = first
        .trim()
        .strip_prefix("panah: listening on ")
        .unwrap()
        .to_owned();
    assert_eq!(http_get(&url, "/c/envy").0, 200);
    assert_eq!(http_get(&url, "/c/filed").0, 404);
    let _ = child.kill();
    let _ = child.wait();
}

#[test]
fn two_hubs_share_one_postgresql_database() {
    let Some(admin) = panah_store::testing::postgres_admin_url() else {
        return;
    };
    let location = tokio::runtime::Runtime::new()
        .unwrap()
        .block_on(panah_store::testing::fresh_postgres_database(&admin));
    let panah_store::Location::Postgres { url } = location else {
        unreachable!()
    };
    let dir = tempfile::tempdir().unwrap();
    let keyring = path_str(&dir.path().join("k"));
    let line = ok(&["id", "new", "--keyring", &keyring]);
    // Both hubs start (and migrate) at once, sharing one blob folder.
    let data = path_str(&dir.path().join("shared"));
    let a = Hub::start(
        &["--database", &url, "--data", &data],
        &dir.path().join("a.log"),
    );
    let b = Hub::start(
        &["--database", &url, "--data", &data],
        &dir.path().join("b.log"),
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
        line.trim(),
    ]);
    for hub in [&a, &b] {
        assert_eq!(http_get(&hub.url, "/c/roshanai").0, 200);
        let team = ok(&[
            "team",
            "--hub",
            &hub.url,
            "--collective",
            "roshanai",
            "--keyring",
            &keyring,
        ]);
        assert!(team.contains("(you)"), "{team}");
    }
    let fingerprint = ok(&["admin", "list-coordinators", "--database", &url, "roshanai"]);
    let fingerprint = fingerprint.split('\t').next().unwrap().to_owned();
    ok(&[
        "admin",
        "remove-coordinator",
        "--database",
        &url,
        "roshanai",
        &fingerprint,
    ]);
    for hub in [&a, &b] {
        let err = fails(&[
            "team",
            "--hub",
            &hub.url,
            "--collective",
            "roshanai",
            "--keyring",
            &keyring,
        ]);
        assert!(
            err.contains("HTTP 401") && err.contains("not a coordinator"),
            "{err}"
        );
    }
    assert!(a.stop().success());
    assert!(b.stop().success());
}
