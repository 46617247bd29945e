//! The coordinators' desk's figures (BENCHMARKS.md): a real hub (`panah serve`, SQLite on
//! disk, loopback) holding C conversations (default 1,000) and R tracker records (default
//! 10,000), and a real `panah desk` (release build, the keyring unlocked from its file with
//! age's default scrypt cost) in front of it.
//!
//! - time from starting `panah desk` to its address, and to the first page (the inbox,
//!   every conversation listed with its preview decrypted);
//! - time of each main page, and its weight;
//! - the desk's memory (resident and peak) with all of it open.
//!
//! `cargo bench -p panah --bench desk [-- CONVERSATIONS RECORDS]`

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use panah_client::records::{self, Cache, SyncOptions};
use panah_client::{team, Session};
use panah_core::ledger::Category;
use panah_core::records::doc::{Case, Need, NeedStatus, Stage, Urgency};
use panah_core::records::{Day, Doc};
use panah_core::Slug;
use panah_keyring::Keyring;

const BIN: &str = env!("CARGO_BIN_EXE_panah");
const PASS: &str = "benchmark passphrase, not a real one";

fn run(args: &[&str], env: &[(&str, &Path)]) -> String {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env("PANAH_PASSPHRASE", PASS);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn doc(i: usize) -> Doc {
    let day = Day::parse("2021-08-20").unwrap();
    if i % 3 == 0 {
        Doc::Case(Case {
            pseudonym: format!("sparrow-{i}"),
            stage: Stage::ALL[i % 7],
            pathway: "humanitarian visa".into(),
            next_action: "book the interview at the embassy and gather the letters".into(),
            due: Some(Day(day.0 + time::Duration::days((i % 90) as i64))),
            history: Vec::new(),
            needs: Vec::new(),
            opened: day,
            closed: None,
        })
    } else {
        Doc::Need(Need {
            pseudonym: format!("lale-{i}"),
            category: [Category::Food, Category::Power, Category::Medical][i % 3],
            urgency: Urgency::ALL[i % 3],
            status: NeedStatus::Open,
            money: None,
            notes: "flour, oil and fuel for the generator through the winter".into(),
            ledger: Vec::new(),
            opened: day,
            closed: None,
        })
    }
}

/// Kilobytes of the desk's resident and peak memory, from /proc.
fn memory(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[tokio::main]
async fn main() {
    let mut numbers = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse::<usize>().ok());
    let conversations = numbers.next().unwrap_or(1_000);
    let n_records = numbers.next().unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let state = dir.path().join("state");
    let cache_dir = dir.path().join("cache");
    let config = dir.path().join("panah.toml");
    std::fs::write(
        &config,
        "submissions_per_minute = 100000\nhub_submissions_per_minute = 100000\n",
    )
    .unwrap();
    let keyring_path = dir.path().join("coordinator.keyring");
    let env: Vec<(&str, &Path)> = vec![
        ("PANAH_LEDGER_STATE_DIR", &state),
        ("PANAH_CACHE_DIR", &cache_dir),
        ("PANAH_CONFIG", &config),
    ];
    std::env::set_var("PANAH_LEDGER_STATE_DIR", &state);
    let line = run(
        &["id", "new", "--keyring", keyring_path.to_str().unwrap()],
        &env,
    );
    let d = data.to_str().unwrap();
    run(&["admin", "init", "--data", d], &env);
    run(
        &[
            "admin",
            "create-collective",
            "--data",
            d,
            "roshanai",
            "--name-fa",
            "ر",
            "--name-ps",
            "ر",
            "--name-en",
            "R",
        ],
        &env,
    );
    run(
        &[
            "admin",
            "add-coordinator",
            "--data",
            d,
            "roshanai",
            line.trim(),
        ],
        &env,
    );
    let mut hub = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data", d])
        .env("PANAH_CONFIG", &config)
        .env("PANAH_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let url = BufReader::new(hub.stdout.take().unwrap())
        .lines()
        .map_while(Result::ok)
        .find_map(|l| l.strip_prefix("panah: listening on ").map(str::to_owned))
        .unwrap();

    // The conversations, sent as browsers send them.
    let started = Instant::now();
    let http = reqwest::Client::new();
    let boundary = "panahbenchboundary";
    let mut tasks = Vec::new();
    for worker in 0..4 {
        let (http, url) = (http.clone(), url.clone());
        tasks.push(tokio::spawn(async move {
            for i in (worker..conversations).step_by(4) {
                let text = format!("Message {i}: we need flour and a generator for the winter. ").repeat(8);
                let body = format!(
                    "--{boundary}\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\n{text}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"website\"\r\n\r\n\r\n--{boundary}--\r\n"
                );
                let res = http
                    .post(format!("{url}/c/roshanai/contact?lang=en"))
                    .header("content-type", format!("multipart/form-data; boundary={boundary}"))
                    .body(body)
                    .send()
                    .await
                    .unwrap();
                assert_eq!(res.status(), 200);
            }
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    eprintln!(
        "seeded {conversations} conversations in {:.1} s",
        started.elapsed().as_secs_f64()
    );

    // The records, written by the same coordinator from another device's cache (the desk's
    // own cache starts empty and syncs them).
    let keyring = Keyring::load(
        &keyring_path,
        &age::secrecy::SecretString::from(PASS.to_owned()),
    )
    .unwrap();
    let slug = Slug::parse("roshanai").unwrap();
    let session = Session::login(&url, slug, &keyring).await.unwrap();
    let (info, founding) = team::founding_list(&session, &keyring).await.unwrap();
    let t = team::found(&session, &keyring, &info, &founding)
        .await
        .unwrap();
    let mut cache = Cache::empty();
    for i in 0..n_records {
        cache.add(doc(i)).unwrap();
    }
    let opts = SyncOptions {
        keep_closed_days: records::DEFAULT_KEEP_CLOSED_DAYS,
        today: Day::today(),
    };
    records::sync(&session, &keyring, &t, &mut cache, opts, |_| Ok(()), |_| {})
        .await
        .unwrap();
    // The desk's own cache, as a coordinator who synced yesterday has it.
    let path = records::cache_path(
        &cache_dir,
        &url,
        "roshanai",
        &keyring.public().fingerprint().to_string(),
    );
    std::fs::create_dir_all(&cache_dir).unwrap();
    cache.save(&path, &keyring).unwrap();
    session.logout().await;

    println!(
        "coordinators' desk: {conversations} conversations, {n_records} records, SQLite, loopback, release build"
    );
    let started = Instant::now();
    let mut desk = Command::new(BIN)
        .args([
            "desk",
            "--hub",
            &url,
            "--collective",
            "roshanai",
            "--keyring",
            keyring_path.to_str().unwrap(),
            "--lang",
            "fa",
        ])
        .env("PANAH_PASSPHRASE", PASS)
        .env("PANAH_LEDGER_STATE_DIR", &state)
        .env("PANAH_CACHE_DIR", &cache_dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    // Read the address, then keep reading (a closed pipe would end the desk).
    let (tx, rx) = std::sync::mpsc::channel();
    let stdout = desk.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(at) = line.find("http://127.0.0.1:") {
                let _ = tx.send(line[at..].trim().to_owned());
            }
        }
    });
    let address = rx.recv_timeout(Duration::from_secs(120)).unwrap();
    let to_address = started.elapsed();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let res = http.get(&address).send().await.unwrap();
    let cookie = res.headers()["set-cookie"]
        .to_str()
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned();
    let base = address.split("/open/").next().unwrap().to_owned();
    let get = |path: &str| {
        let (http, cookie, url) = (http.clone(), cookie.clone(), format!("{base}{path}"));
        async move {
            let t = Instant::now();
            let res = http.get(url).header("cookie", cookie).send().await.unwrap();
            assert_eq!(res.status(), 200);
            let bytes = res.bytes().await.unwrap().len();
            (t.elapsed(), bytes)
        }
    };
    let (inbox, inbox_bytes) = get("/inbox").await;
    let to_first = started.elapsed();
    println!(
        "`panah desk` to its address (keyring unlocked with scrypt, cache of {n_records} records opened): {:.2} s",
        to_address.as_secs_f64()
    );
    println!(
        "`panah desk` to the first page (the inbox, {conversations} previews decrypted): {:.2} s (the inbox itself {:.2} s)",
        to_first.as_secs_f64(),
        inbox.as_secs_f64()
    );
    let mut pages = vec![("/inbox".to_owned(), inbox, inbox_bytes)];
    for path in [
        "/inbox/1",
        "/needs",
        "/needs?status=all",
        "/cases",
        "/summary",
        "/books",
        "/team",
    ] {
        let (t, bytes) = get(path).await;
        pages.push((path.to_owned(), t, bytes));
    }
    println!("| page | time | weight (uncompressed) |");
    println!("|---|---|---|");
    for (path, t, bytes) in &pages {
        println!(
            "| `{path}` | {:.0} ms | {:.1} KB |",
            t.as_secs_f64() * 1000.0,
            *bytes as f64 / 1024.0
        );
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    let (rss, peak) = memory(desk.id());
    println!(
        "desk memory with all of it open: {:.1} MB resident, {:.1} MB peak",
        rss as f64 / 1024.0,
        peak as f64 / 1024.0
    );
    let _ = desk.kill();
    let _ = desk.wait();
    let _ = hub.kill();
    let _ = hub.wait();
}
