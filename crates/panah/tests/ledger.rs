//! The fund ledger with the real binary: a coordinator keeps it with `panah ledger`, anyone
//! checks it with `panah verify` and copies it with `panah mirror`, and tampering on the
//! hub's side — a changed amount, a dropped entry, a forked history, a foreign signature —
//! is caught by each with a message that says what and where.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use sha2::{Digest, Sha256};
use support::{coordinator_args, fails, http_body, hub_with_team, ok, run_env, Hub};

fn hub_args<'a>(hub: &'a Hub, keyring: &'a str) -> Vec<&'a str> {
    coordinator_args("ledger", hub, keyring, &[])
}

fn with<'a>(mut base: Vec<&'a str>, more: &[&'a str]) -> Vec<&'a str> {
    base.extend_from_slice(more);
    base
}

/// Runs a Python snippet against the hub's SQLite database (`db` is bound in it).
fn sqlite(db: &Path, script: &str) {
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            &format!(
                "import sqlite3\ndb = sqlite3.connect({:?})\n{script}\ndb.commit()\n",
                db.display().to_string()
            ),
        ])
        .output()
        .expect("python3");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `ledger add` of a small expense, for the cases where what matters is whether it is signed.
const SMALL_EXPENSE: [&str; 8] = [
    "add",
    "expense",
    "--amount",
    "5",
    "--category",
    "food",
    "--rail",
    "cash",
];

const ENTRIES: &str =
    "date,kind,category,amount,currency,base_amount,rail,memo,precision,receipt\n\
    2021-08-20,income,food,130500,AFN,,transfer-agent,gift for flour and oil,,\n\
    2021-08-22,expense,food,48000,AFN,,cash,flour for 20 families,,\n\
    2021-08-28,expense,power,62000,AFN,,cash,small generator,,\n\
    2021-09-02,expense,relocation,36000,AFN,,cash,bus tickets for a family,,\n\
    2021-09-05,income,other,500,USD,43500,crypto,gift in stablecoin,,yes\n";

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// C2SP signed note and verifier key, checked from the spec text, not with the crates the
/// code under test uses: the checkpoint the keyring signed verifies under the published key.
fn check_c2sp_independently(note: &str, key: &str, origin: &str, size: u64) {
    let mut parts = key.trim().splitn(3, '+');
    let (name, id_hex, raw) = (
        parts.next().unwrap(),
        parts.next().unwrap(),
        parts.next().unwrap(),
    );
    assert_eq!(name, origin);
    let raw = STANDARD.decode(raw).unwrap();
    assert_eq!(raw[0], 1, "Ed25519 verifier keys start with 0x01");
    let id = Sha256::new()
        .chain_update(name)
        .chain_update(b"\n")
        .chain_update(&raw)
        .finalize();
    assert_eq!(
        id_hex,
        id[..4]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    );
    let (body, sigs) = note.split_once("\n\n").unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 3, "origin, size, root: {body}");
    assert_eq!(lines[0], origin);
    assert_eq!(lines[1], size.to_string());
    assert_eq!(STANDARD.decode(lines[2]).unwrap().len(), 32);
    let line = sigs
        .lines()
        .find(|l| l.starts_with(&format!("\u{2014} {name} ")))
        .unwrap();
    let blob = STANDARD.decode(line.rsplit(' ').next().unwrap()).unwrap();
    assert_eq!(blob[..4], id[..4]);
    let vk = ed25519_dalek::VerifyingKey::from_bytes(raw[1..].try_into().unwrap()).unwrap();
    let sig = ed25519_dalek::Signature::from_slice(&blob[4..]).unwrap();
    vk.verify_strict(format!("{body}\n").as_bytes(), &sig)
        .unwrap();
}

#[test]
fn a_coordinator_keeps_the_ledger() {
    // The folder is bound, so it lives (and holds the hub and keyring) to the end.
    let Kept {
        dir: _dir,
        hub,
        keyrings,
        origin,
        said,
        ..
    } = kept_ledger();
    let h = hub_args(&hub, &keyrings[0]);
    assert!(said[0].contains(&origin), "{}", said[0]);
    let again = fails(&with(h.clone(), &["init", "--base", "AFN"]));
    assert!(again.contains("was started already"), "{again}");
    let import = &said[2];
    assert!(
        import.contains("5 entries added (3 checkpoints); the ledger has 6"),
        "{import}"
    );
    assert!(import.contains("receipt code for entry 5"), "{import}");
    let refused = fails(&with(
        h.clone(),
        &[
            "add",
            "expense",
            "--amount",
            "1000",
            "--category",
            "food",
            "--rail",
            "cash",
            "--memo",
            "paid to Ahmad Karimi",
        ],
    ));
    assert!(
        refused.contains("capitalised words") && refused.contains("identify a person"),
        "{refused}"
    );
    let refused = fails(&with(
        h.clone(),
        &[
            "add",
            "expense",
            "--amount",
            "0",
            "--category",
            "food",
            "--rail",
            "cash",
        ],
    ));
    assert!(refused.contains("more than zero"), "{refused}");
    let refused = fails(&with(
        h.clone(),
        &[
            "add",
            "expense",
            "--amount",
            "5 USD",
            "--category",
            "food",
            "--rail",
            "cash",
        ],
    ));
    assert!(refused.contains("base currency AFN"), "{refused}");
    assert!(fails(&with(h.clone(), &["reverse", "2"])).contains("already reversed"));
    let list = ok(&with(h.clone(), &["list", "--last", "3"]));
    assert!(list.contains("7 entries, verified"), "{list}");
    assert_eq!(list.lines().count(), 4, "{list}");
    assert!(
        list.contains("6\t")
            && list.contains("reversal food")
            && list.contains("\"entered twice\""),
        "{list}"
    );
    assert!(list.lines().any(|l| l.starts_with("4\t")), "{list}");
    assert!(fails(&with(h.clone(), &["reverse", "99"])).contains("there is no entry 99"));
    let appeal = http_body(&hub.url, "/c/roshanai?lang=en");
    assert!(
        appeal.contains("<progress max=\"100000000\" value=\"21400000\">"),
        "{appeal}"
    );

    // The relocation expense is published with the week, not the day.
    let json = http_body(&hub.url, "/c/roshanai/ledger.json");
    let json: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(json["entries"][4]["date"], "2021-08-30");
    assert_eq!(json["entries"][4]["precision"], "week");
}

/// A hub whose ledger a coordinator has kept: a gift with a receipt code, five imported
/// entries (one more receipt), a reversal and goals: 7 entries.
struct Kept {
    dir: tempfile::TempDir,
    hub: Hub,
    data: String,
    keyrings: Vec<String>,
    origin: String,
    /// The first gift's receipt code.
    code: String,
    /// What `init`, `add`, `import`, `reverse` and `goals` printed, in that order.
    said: Vec<String>,
}

fn kept_ledger() -> Kept {
    let dir = tempfile::tempdir().unwrap();
    let (hub, data, keyrings) = hub_with_team(dir.path(), 1, &[]);
    let h = hub_args(&hub, &keyrings[0]);
    let csv = write(dir.path(), "entries.csv", ENTRIES);
    let said: Vec<String> = [
        &["init", "--base", "AFN"][..],
        &[
            "add",
            "income",
            "--amount",
            "500 USD",
            "--base",
            "40000",
            "--category",
            "food",
            "--rail",
            "transfer-agent",
            "--memo",
            "gift for flour",
            "--receipt",
        ],
        &["import", &csv, "--batch", "2"],
        &["reverse", "2", "--memo", "entered twice"],
        &["goals", "--target", "1000000", "--budget", "food=500000"],
    ]
    .iter()
    .map(|args| ok(&with(h.clone(), args)))
    .collect();
    let code = said[1]
        .lines()
        .find_map(|l| l.strip_prefix("receipt code for entry 0 (500.00 USD): "))
        .unwrap_or_else(|| panic!("{}", said[1]))
        .to_owned();
    // A hub with no public address names its logs localhost:PORT/c/SLUG/….
    let origin = format!(
        "{}/c/roshanai/ledger",
        hub.url.replace("http://127.0.0.1", "localhost")
    );
    Kept {
        dir,
        hub,
        data,
        keyrings,
        origin,
        code,
        said,
    }
}

#[test]
fn anyone_verifies_the_ledger_and_a_donor_their_gift() {
    let Kept {
        dir,
        hub,
        data,
        origin,
        code,
        ..
    } = kept_ledger();
    // Anyone: verify, first use records the keys; a receipt checks on this machine.
    let state = dir.path().join("verify.state").display().to_string();
    let address = format!("{}/c/roshanai/ledger", hub.url);
    // A claimed size beyond what the supporter allows is refused before any download.
    let err = fails(&[
        "verify",
        "ledger",
        &address,
        "--state",
        &state,
        "--max-entries",
        "6",
    ]);
    assert!(
        err.contains("claims 7 entries; this check is limited to 6")
            && err.contains("--max-entries"),
        "{err}"
    );
    let first = support::run(&["verify", "ledger", &address, "--state", &state]);
    let out = String::from_utf8_lossy(&first.stdout).into_owned();
    let said = String::from_utf8_lossy(&first.stderr).into_owned();
    assert!(first.status.success(), "{out}{said}");
    assert!(
        said.contains("First check") && said.contains("trusting the 1 coordinator key"),
        "{said}"
    );
    assert!(
        out.contains("7 entries") && out.contains("first check"),
        "{out}"
    );
    assert!(out.contains("raised 214000.00 AFN"), "{out}");
    // First use recorded the published key; later runs check against it and say nothing
    // about trusting anew.
    let published = http_body(&hub.url, "/c/roshanai/ledger/keys");
    let remembered = std::fs::read_to_string(&state).unwrap();
    assert!(
        remembered.contains(&format!("key {}", published.trim())),
        "{remembered}"
    );
    let again = support::run(&["verify", "ledger", &origin, "--state", &state]);
    let (out, err) = (
        String::from_utf8_lossy(&again.stdout).into_owned(),
        String::from_utf8_lossy(&again.stderr).into_owned(),
    );
    assert!(again.status.success(), "{out}{err}");
    assert!(!err.contains("First check"), "{err}");
    assert!(out.contains("it extends the 7 entries"), "{out}");
    let out = ok(&["verify", "receipt", &address, &code, "--state", &state]);
    assert!(
        out.contains("your gift is entry 0") && out.contains("inclusion proof"),
        "{out}"
    );
    let err = fails(&[
        "verify",
        "receipt",
        &address,
        "0000 0000 0000 0000 0000",
        "--state",
        &state,
    ]);
    assert!(err.contains("no entry"), "{err}");
    assert!(fails(&["verify", "receipt", &address, "12", "--state", &state]).contains("20 digits"));

    // The donor's check on the hub's page: found, and the code is in no file the hub wrote
    // and not in its log (the entry holds only a hash of it).
    let (status, page) = support::http(
        &hub.url,
        "POST",
        "/c/roshanai/ledger/receipt?lang=en",
        Some(&format!("code={}", code.replace(' ', "+"))),
    );
    assert_eq!(status, 200, "{page}");
    assert!(page.contains("Your gift is in the ledger."), "{page}");
    let digits: String = code.chars().filter(char::is_ascii_digit).collect();
    let mut files = support::files_below(Path::new(&data));
    files.push(hub.log.clone());
    assert!(files.len() > 2, "{files:?}");
    for f in &files {
        let bytes = std::fs::read(f).unwrap_or_default();
        for needle in [digits.as_bytes(), code.as_bytes(), &digits.as_bytes()[..12]] {
            assert!(
                !bytes.windows(needle.len()).any(|w| w == needle),
                "{} holds the receipt code",
                f.display()
            );
        }
    }

    // The checkpoint the keyring signed, checked from the C2SP text.
    let note = http_body(&hub.url, "/c/roshanai/ledger/checkpoint");
    let keys = http_body(&hub.url, "/c/roshanai/ledger/keys");
    check_c2sp_independently(&note, keys.lines().next().unwrap(), &origin, 7);
}

#[test]
fn a_mirror_is_plain_files_that_verify_like_the_hub() {
    let Kept {
        dir, hub, keyrings, ..
    } = kept_ledger();
    let h = hub_args(&hub, &keyrings[0]);
    let address = format!("{}/c/roshanai/ledger", hub.url);
    let state = dir.path().join("verify.state").display().to_string();
    ok(&["verify", "ledger", &address, "--state", &state]);
    let note = http_body(&hub.url, "/c/roshanai/ledger/checkpoint");
    // A mirror is plain files at the same paths, and verifies like the hub.
    let mirror = dir.path().join("mirror");
    let out = ok(&["mirror", "ledger", &address, mirror.to_str().unwrap()]);
    assert!(out.contains("7 entries (7 new)"), "{out}");
    let copy = mirror.join("c/roshanai/ledger");
    assert_eq!(
        std::fs::read_to_string(copy.join("checkpoint")).unwrap(),
        note
    );
    let out = ok(&[
        "verify",
        "ledger",
        copy.to_str().unwrap(),
        "--state",
        &state,
    ]);
    assert!(out.contains("it extends the 7 entries"), "{out}");
    ok(&with(
        h.clone(),
        &[
            "add",
            "expense",
            "--amount",
            "2500",
            "--category",
            "food",
            "--rail",
            "cash",
            "--memo",
            "bread",
        ],
    ));
    let out = ok(&["mirror", "ledger", &address, mirror.to_str().unwrap()]);
    assert!(out.contains("8 entries (1 new)"), "{out}");

    // Re-runs download only what changed: the full tiles a mirror holds never change.
    let mut many = String::from("date,kind,category,amount,currency,base_amount,rail,memo\n");
    for i in 0..300 {
        many.push_str(&format!(
            "2021-10-01,expense,food,{},AFN,,cash,flour for group {i}\n",
            100 + i
        ));
    }
    let many = write(dir.path(), "many.csv", &many);
    ok(&with(h.clone(), &["import", &many, "--batch", "100"]));
    let out = ok(&["mirror", "ledger", &address, mirror.to_str().unwrap()]);
    assert!(
        out.contains("308 entries (300 new), 4 tiles downloaded"),
        "{out}"
    );
    ok(&with(
        h.clone(),
        &[
            "add",
            "expense",
            "--amount",
            "700",
            "--category",
            "power",
            "--rail",
            "cash",
            "--memo",
            "fuel",
        ],
    ));
    let out = ok(&["mirror", "ledger", &address, mirror.to_str().unwrap()]);
    assert!(
        out.contains("309 entries (1 new), 2 tiles downloaded"),
        "{out}"
    );
    let out = ok(&[
        "verify",
        "ledger",
        copy.to_str().unwrap(),
        "--state",
        &state,
    ]);
    assert!(out.contains("309 entries"), "{out}");

    // Served by a web server that knows nothing of Panah, the mirror checks the same.
    // Port 0: the server picks a free port itself and says which (no pick-then-drop race).
    let mut server = std::process::Command::new("python3")
        .args([
            "-u",
            "-m",
            "http.server",
            "0",
            "--bind",
            "127.0.0.1",
            "--directory",
        ])
        .arg(&mirror)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3 -m http.server");
    let port = {
        use std::io::BufRead;
        let stdout = server.stdout.take().expect("stdout");
        let mut line = String::new();
        std::io::BufReader::new(stdout)
            .read_line(&mut line)
            .expect("http.server says where it listens");
        // "Serving HTTP on 127.0.0.1 port 43117 (http://127.0.0.1:43117/) ..."
        line.split_whitespace()
            .skip_while(|w| *w != "port")
            .nth(1)
            .and_then(|p| p.parse::<u16>().ok())
            .unwrap_or_else(|| panic!("no port in {line:?}"))
    };
    let served = format!("http://127.0.0.1:{port}/c/roshanai/ledger");
    let out = support::run(&["verify", "ledger", &served, "--state", &state]);
    let _ = server.kill();
    let _ = server.wait();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("309 entries") && stdout.contains("it extends the 309 entries"),
        "{stdout}"
    );
    let err = fails(&[
        "verify",
        "ledger",
        &address,
        "--state",
        &state,
        "--origin",
        "other.example/c/x/ledger",
    ]);
    assert!(err.contains("not \"other.example/c/x/ledger\""), "{err}");
}

#[test]
fn verify_and_mirror_catch_tampering_and_forks() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, data, keyrings) = hub_with_team(dir.path(), 1, &[]);
    let h = hub_args(&hub, &keyrings[0]);
    ok(&with(h.clone(), &["init", "--base", "AFN"]));
    let csv = write(dir.path(), "entries.csv", ENTRIES);
    ok(&with(h.clone(), &["import", &csv, "--batch", "3"]));
    let address = format!("{}/c/roshanai/ledger", hub.url);
    let state = dir.path().join("verify.state").display().to_string();
    let mirror = dir.path().join("mirror").display().to_string();
    ok(&["verify", "ledger", &address, "--state", &state]);
    ok(&["mirror", "ledger", &address, &mirror]);
    let db = Path::new(&data).join("panah.db");

    // One stored amount changed in the database.
    sqlite(
        &db,
        "row = db.execute('SELECT leaf FROM log_entries WHERE idx = 2').fetchone()[0]\n\
                 new = row.replace(b'amount 6200000 AFN', b'amount 9200000 AFN')\n\
                 assert new != row\n\
                 db.execute('UPDATE log_entries SET leaf = ? WHERE idx = 2', (new,))",
    );
    let err = fails(&["verify", "ledger", &address, "--state", &state]);
    assert!(
        err.contains("entry 2 was changed after it was signed"),
        "{err}"
    );
    let err = fails(&["mirror", "ledger", &address, &mirror]);
    assert!(
        err.contains("entry 2 was changed after it was signed"),
        "{err}"
    );
    sqlite(&db, "row = db.execute('SELECT leaf FROM log_entries WHERE idx = 2').fetchone()[0]\n\
                 db.execute('UPDATE log_entries SET leaf = ? WHERE idx = 2', (row.replace(b'amount 9200000 AFN', b'amount 6200000 AFN'),))");
    ok(&["verify", "ledger", &address, "--state", &state]);

    // One entry dropped.
    sqlite(
        &db,
        "db.execute('CREATE TABLE saved AS SELECT * FROM log_entries WHERE idx = 3')\n\
                 db.execute('DELETE FROM log_entries WHERE idx = 3')",
    );
    let err = fails(&["verify", "ledger", &address, "--state", &state]);
    assert!(err.contains("entry 3 was dropped"), "{err}");
    let err = fails(&["mirror", "ledger", &address, &mirror]);
    assert!(err.contains("entry 3 was dropped"), "{err}");
    sqlite(
        &db,
        "db.execute('INSERT INTO log_entries SELECT * FROM saved')\ndb.execute('DROP TABLE saved')",
    );
    ok(&["verify", "ledger", &address, "--state", &state]);

    // A hub whose published tiles are right but whose tree is not: the node for the first
    // four entries (tree level 2, not part of any tile at this size) is corrupted, so the
    // root it answers for a new entry differs from the coordinator's. Nothing is signed.
    sqlite(
        &db,
        "db.execute('UPDATE log_hashes SET hash = zeroblob(32) WHERE level = 2 AND n = 0')",
    );
    ok(&["verify", "ledger", &address, "--state", &state]);
    let err = fails(&with(h.clone(), &SMALL_EXPENSE));
    assert!(
        err.contains(
            "refused to sign: the hub says these entries make a tree of 6 entries with root"
        ),
        "{err}"
    );
    assert!(
        http_body(&hub.url, "/c/roshanai/ledger/checkpoint").contains("\n5\n"),
        "nothing was appended"
    );

    // A mirror's file cut short is named when the mirror is verified.
    let copy = Path::new(&mirror).join("c/roshanai/ledger");
    let tile = copy.join("tile/0/000.p/5");
    let bytes = std::fs::read(&tile).unwrap();
    std::fs::write(&tile, &bytes[..100]).unwrap();
    let err = fails(&[
        "verify",
        "ledger",
        copy.to_str().unwrap(),
        "--state",
        &state,
    ]);
    assert!(
        err.contains("tile/0/000.p/5 has 100 bytes instead of 160: it is truncated"),
        "{err}"
    );
    std::fs::write(&tile, &bytes).unwrap();

    // A signature from a key the verifier was not given.
    let stranger = dir.path().join("stranger.keyring").display().to_string();
    ok(&["id", "new", "--keyring", &stranger]);
    let fresh = dir.path().join("fresh.state").display().to_string();
    let origin = format!(
        "{}/c/roshanai/ledger",
        hub.url.trim_start_matches("http://")
    );
    let other_key = {
        let line = ok(&["id", "show", "--keyring", &stranger]);
        let pk = STANDARD
            .decode(line.trim().rsplit("ed25519:").next().unwrap())
            .unwrap();
        let raw = [[1u8].as_slice(), &pk].concat();
        let id = Sha256::new()
            .chain_update(&origin)
            .chain_update(b"\n")
            .chain_update(&raw)
            .finalize();
        let hex: String = id[..4].iter().map(|b| format!("{b:02x}")).collect();
        format!("{origin}+{hex}+{}", STANDARD.encode(raw))
    };
    let err = fails(&[
        "verify", "ledger", &address, "--state", &fresh, "--key", &other_key,
    ]);
    assert!(err.contains("not signed by any key you trust"), "{err}");

    // A forked history: another hub shows a different ledger under the same name, signed by
    // the same coordinator (a stolen key, or one coerced at a checkpoint).
    let b_dir = dir.path().join("b2");
    std::fs::create_dir_all(&b_dir).unwrap();
    let b_data = b_dir.join("hub").display().to_string();
    support::create_collective(&b_data, "roshanai");
    support::add_coordinator(&b_data, &ok(&["id", "show", "--keyring", &keyrings[0]]));
    // Hub B claims A's public address, so it gives its ledger A's origin.
    let b_config = write(
        &b_dir,
        "panah.toml",
        &format!(
            "public_url = \"{}\"\n",
            hub.url.replace("127.0.0.1", "localhost")
        ),
    );
    let hub_b = Hub::start(
        &["--data", &b_data, "--config", &b_config],
        &b_dir.join("hub.log"),
    );
    let elsewhere = dir.path().join("coerced-machine").display().to_string();
    let env = [("PANAH_LEDGER_STATE_DIR", elsewhere.as_str())];
    let hb = hub_args(&hub_b, &keyrings[0]);
    let forged = ENTRIES.replace("gift for flour and oil", "gift for flour");
    let forged_csv = write(dir.path(), "forged.csv", &forged);
    for args in [
        with(hb.clone(), &["init", "--base", "AFN"]),
        with(hb.clone(), &["import", &forged_csv]),
    ] {
        let out = run_env(&env, &args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let address_b = format!("{}/c/roshanai/ledger", hub_b.url);
    let err = fails(&["verify", "ledger", &address_b, "--state", &state]);
    assert!(err.contains("history was rewritten"), "{err}");
    let err = fails(&["mirror", "ledger", &address_b, &mirror]);
    assert!(
        err.contains("entry 0 at") && err.contains("differs from the copy"),
        "{err}"
    );
    // The coordinator's own machine remembers the real ledger and will not sign on B.
    let err = fails(&with(hb.clone(), &SMALL_EXPENSE));
    assert!(
        err.contains("nothing was signed") && err.contains("history was rewritten"),
        "{err}"
    );
    // The real hub still verifies, and the mirror still holds the real ledger.
    ok(&["verify", "ledger", &address, "--state", &state]);
    let copy = Path::new(&mirror).join("c/roshanai/ledger/checkpoint");
    assert_eq!(
        std::fs::read_to_string(copy).unwrap(),
        http_body(&hub.url, "/c/roshanai/ledger/checkpoint")
    );
}

/// What a hostile server might do about names and teams: show another log (a look-alike
/// origin, signed by a new key) at an address already checked, or add a key to the team
/// without a coordinator's signature, or rewrite the team's history.
#[test]
fn trust_is_pinned_to_the_address_and_the_signed_team() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, data, keyrings) = hub_with_team(dir.path(), 1, &[]);
    let h = hub_args(&hub, &keyrings[0]);
    ok(&with(h.clone(), &["init", "--base", "AFN"]));
    ok(&with(h.clone(), &SMALL_EXPENSE));
    let state_dir = dir.path().join("supporter").display().to_string();
    let env = [("PANAH_LEDGER_STATE_DIR", state_dir.as_str())];
    let mirror = dir.path().join("mirror").display().to_string();
    let out = run_env(
        &env,
        &[
            "mirror",
            "ledger",
            &format!("{}/c/roshanai", hub.url),
            &mirror,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let copy = Path::new(&mirror).join("c/roshanai/ledger");
    let copy = copy.to_str().unwrap();
    let out = run_env(&env, &["verify", "ledger", copy]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The same folder now holds another log: a look-alike origin under a new key.
    let b_dir = dir.path().join("b");
    std::fs::create_dir_all(&b_dir).unwrap();
    let b_data = b_dir.join("hub").display().to_string();
    support::create_collective(&b_data, "roshanai");
    let intruder = dir.path().join("intruder.keyring").display().to_string();
    support::add_coordinator(&b_data, &ok(&["id", "new", "--keyring", &intruder]));
    let b_config = write(&b_dir, "panah.toml", "public_url = \"https://1ocalhost\"\n");
    let hub_b = Hub::start(
        &["--data", &b_data, "--config", &b_config],
        &b_dir.join("hub.log"),
    );
    let hb = hub_args(&hub_b, &intruder);
    let b_env = [("PANAH_LEDGER_STATE_DIR", b_dir.to_str().unwrap())];
    for args in [
        with(hb.clone(), &["init", "--base", "AFN"]),
        with(hb, &SMALL_EXPENSE),
    ] {
        let out = run_env(&b_env, &args);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let b_mirror = b_dir.join("mirror").display().to_string();
    let out = run_env(
        &b_env,
        &[
            "mirror",
            "ledger",
            &format!("{}/c/roshanai", hub_b.url),
            &b_mirror,
        ],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(copy).unwrap();
    std::fs::rename(Path::new(&b_mirror).join("c/roshanai/ledger"), copy).unwrap();
    let out = run_env(&env, &["verify", "ledger", copy]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("now serves another log, \"1ocalhost/c/roshanai/ledger\""),
        "{err}"
    );
    // Accepting the move on purpose still needs a key the supporter trusted.
    let out = run_env(
        &env,
        &[
            "verify",
            "ledger",
            copy,
            "--accept-origin",
            "1ocalhost/c/roshanai/ledger",
        ],
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(err.contains("not signed by any key you trust"), "{err}");

    // The operator adds a key of their own: an invitation, which the coordinators' tools
    // show and never trust.
    let operator = dir.path().join("operator.keyring").display().to_string();
    let line = ok(&["id", "new", "--keyring", &operator]);
    let said = ok(&[
        "admin",
        "add-coordinator",
        "--data",
        &data,
        "roshanai",
        line.trim(),
    ]);
    assert!(said.contains("invited"), "{said}");
    let err = fails(&coordinator_args("team", &hub, &operator, &[]));
    assert!(
        err.contains("HTTP 401") && err.contains("not a coordinator"),
        "{err}"
    );
    let out = run_env(&[], &coordinator_args("team", &hub, &keyrings[0], &[]));
    assert!(String::from_utf8_lossy(&out.stderr).contains("proposed 1 key"));
    assert_eq!(
        String::from_utf8_lossy(&out.stdout)
            .matches("ed25519:")
            .count(),
        1
    );

    // The operator rewrites the team's history in the database, putting their key in the
    // founding entry: the founder's tools refuse it (here the hub itself notices that its
    // stored hashes no longer match; the rules a rewritten log breaks are tested in
    // panah_core::team), and sign nothing.
    let db = Path::new(&data).join("panah.db");
    let founder_line = ok(&["id", "show", "--keyring", &keyrings[0]]);
    sqlite(
        &db,
        &format!(
            "db.execute(\"UPDATE log_entries SET leaf = replace(leaf, ?, ?) WHERE log_id = (SELECT id FROM logs WHERE kind = 'team')\", ({:?}.encode(), {:?}.encode()))",
            founder_line.trim(),
            line.trim()
        ),
    );
    let before = http_body(&hub.url, "/c/roshanai/ledger/checkpoint");
    let err = fails(&coordinator_args("team", &hub, &keyrings[0], &[]));
    assert!(err.contains("/c/roshanai/team/"), "{err}");
    let err = fails(&with(h, &SMALL_EXPENSE));
    assert!(err.contains("/c/roshanai/team/"), "{err}");
    assert_eq!(http_body(&hub.url, "/c/roshanai/ledger/checkpoint"), before);

    // The operator deletes the team log: a device that verified it refuses to found a
    // new one (which would let the hub start the team over).
    sqlite(
        &db,
        "for t in ('log_entries', 'log_hashes', 'log_checkpoints'):\n    db.execute(f\"DELETE FROM {t} WHERE log_id = (SELECT id FROM logs WHERE kind = 'team')\")\ndb.execute(\"DELETE FROM logs WHERE kind = 'team'\")",
    );
    let err = fails(&coordinator_args("team", &hub, &keyrings[0], &[]));
    assert!(err.contains("rolling the team back"), "{err}");
}

/// A supporter's `verify` trusts the collective's signed team, not keys remembered from a
/// first use: a coordinator the team removed cannot append anything a supporter accepts,
/// even if the operator lets them back in to the hub.
#[test]
fn a_removed_coordinator_signs_nothing_supporters_accept() {
    use panah_client::{hub::Session, ledger as client_ledger, team as client_team};
    let dir = tempfile::tempdir().unwrap();
    let (hub, data, keyrings) = hub_with_team(dir.path(), 2, &[]);
    let h = hub_args(&hub, &keyrings[0]);
    ok(&with(h.clone(), &["init", "--base", "AFN"]));
    ok(&with(h.clone(), &SMALL_EXPENSE));
    let supporter = dir.path().join("supporter").display().to_string();
    let env = [("PANAH_LEDGER_STATE_DIR", supporter.as_str())];
    let address = format!("{}/c/roshanai/ledger", hub.url);
    let out = run_env(&env, &["verify", "ledger", &address]);
    let said = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        said.contains("signed team log (2 coordinator(s) now)"),
        "{said}"
    );

    // The second coordinator's tools verify the team while still on it…
    let rt = tokio::runtime::Runtime::new().unwrap();
    let keyring = panah_keyring::Keyring::load(
        Path::new(&keyrings[1]),
        &age::secrecy::SecretString::from(support::PASS.to_owned()),
    )
    .unwrap();
    let slug = panah_core::Slug::parse("roshanai").unwrap();
    let stale = rt.block_on(async {
        let session = Session::login(&hub.url, slug.clone(), &keyring)
            .await
            .unwrap();
        client_team::verified(&session).await.unwrap()
    });
    // …the founder removes them, and the operator lets them back in to the hub.
    let fingerprint = keyring.public().fingerprint().to_string();
    ok(&coordinator_args(
        "team",
        &hub,
        &keyrings[0],
        &["remove", &fingerprint],
    ));
    sqlite(
        &Path::new(&data).join("panah.db"),
        "db.execute('UPDATE coordinators SET removed_at = NULL WHERE id = (SELECT MAX(id) FROM coordinators WHERE removed_at IS NOT NULL)')",
    );
    // With the team they verified before, they append and sign a large expense.
    let draft = panah_client::ledger::draft::Draft {
        kind: "expense".into(),
        category: "other".into(),
        amount: "999999".into(),
        rail: "cash".into(),
        memo: "not spent".into(),
        ..Default::default()
    };
    rt.block_on(async {
        let session = Session::login(&hub.url, slug, &keyring).await.unwrap();
        client_ledger::add(&session, &keyring, &[draft], &stale, 1, false)
            .await
            .unwrap();
    });
    // The supporter refuses it; so do the founder's tools.
    let out = run_env(&env, &["verify", "ledger", &address]);
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "accepted a removed coordinator's signature"
    );
    assert!(err.contains("not signed by any key you trust"), "{err}");
    let err = fails(&with(h, &["list"]));
    assert!(
        err.contains("not signed by anyone on the collective's verified team")
            && !err.contains("--key"),
        "{err}"
    );
}
