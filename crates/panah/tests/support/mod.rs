//! Helpers for tests that run the real `panah` binary.

#![allow(clippy::unwrap_used)]
#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub mod chromium;
pub mod load;

pub const PASS: &str = "correct horse battery staple";

pub fn panah() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_panah"));
    // Cheap scrypt for tests; real keyrings use age's default (about a second).
    cmd.env("PANAH_SCRYPT_WORK_FACTOR", "10")
        .env("PANAH_PASSPHRASE", PASS)
        .env_remove("PANAH_DATA")
        .env_remove("PANAH_DATABASE")
        .env_remove("PANAH_CONFIG")
        // Messages in English unless a test asks for another language.
        .env_remove("PANAH_LANG")
        .env_remove("LC_ALL")
        .env("LANG", "C.UTF-8")
        .env("PANAH_PROFILES", "/nonexistent/panah-test-profiles.toml")
        // What `panah verify` and `panah ledger` remember, kept out of the user's folders.
        .env(
            "PANAH_LEDGER_STATE_DIR",
            std::env::temp_dir().join(format!("panah-test-ledgers-{}", std::process::id())),
        )
        // The tracker's caches too (named per hub, collective and key, so tests sharing
        // it do not meet).
        .env(
            "PANAH_CACHE_DIR",
            std::env::temp_dir().join(format!("panah-test-cache-{}", std::process::id())),
        )
        .stdin(Stdio::null());
    cmd
}

/// Runs `panah ARGS` with extra environment, returning the output whatever the exit code.
pub fn run_env(env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut cmd = panah();
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.args(args).output().expect("run panah")
}

/// Runs `panah ARGS`, returning the output whatever the exit code.
pub fn run(args: &[&str]) -> Output {
    panah().args(args).output().expect("run panah")
}

/// Runs `panah ARGS` and insists it succeeds; returns stdout.
pub fn ok(args: &[&str]) -> String {
    let out = run(args);
    assert!(
        out.status.success(),
        "panah {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("UTF-8")
}

/// Runs `panah ARGS`, insists it fails, returns stderr.
pub fn fails(args: &[&str]) -> String {
    let out = run(args);
    assert!(!out.status.success(), "panah {args:?} should have failed");
    let err = String::from_utf8(out.stderr).expect("UTF-8");
    assert!(!err.contains("panicked"), "panah {args:?} panicked: {err}");
    err
}

/// A running `panah serve`, stopped when dropped.
pub struct Hub {
    pub child: Child,
    pub url: String,
    pub log: PathBuf,
}

impl Hub {
    /// Starts `panah serve` on a free port and waits for its readiness line.
    pub fn start(extra: &[&str], log: &Path) -> Hub {
        Self::start_on("127.0.0.1:0", extra, log)
    }

    /// [`Hub::start`] on a given address (a restarted hub keeps its address, so devices
    /// that pinned it know it again).
    pub fn start_on(listen: &str, extra: &[&str], log: &Path) -> Hub {
        let log_file = std::fs::File::create(log).expect("log file");
        let mut child = panah()
            .arg("serve")
            .args(["--listen", listen])
            .args(extra)
            .env("PANAH_LOG", "debug")
            .stdout(Stdio::piped())
            .stderr(log_file)
            .spawn()
            .expect("spawn panah serve");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("panah: listening on ") {
                    let _ = tx.send(url.to_owned());
                }
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(60))
            .unwrap_or_else(|_| {
                panic!(
                    "hub did not become ready; log:\n{}",
                    std::fs::read_to_string(log).unwrap_or_default()
                )
            });
        Hub {
            child,
            url,
            log: log.to_owned(),
        }
    }

    /// SIGTERM, then wait for a clean exit.
    pub fn stop(mut self) -> std::process::ExitStatus {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                return status;
            }
            assert!(Instant::now() < deadline, "hub did not stop on SIGTERM");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// kill -9: no chance to flush anything.
    pub fn crash(mut self) {
        self.child.kill().expect("kill -9");
        let _ = self.child.wait();
    }
}

impl Drop for Hub {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A tool the suite needs in CI (`PANAH_REQUIRE_TOOLS`), optional elsewhere.
pub fn tool(name: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|p| p.join(name))
            .find(|p| p.is_file())
    });
    if found.is_none() {
        assert!(
            std::env::var_os("PANAH_REQUIRE_TOOLS").is_none(),
            "{name} is required (PANAH_REQUIRE_TOOLS is set) but not on PATH"
        );
        eprintln!("{name} not found: skipping the parts of this test that need it");
    }
    found
}

/// Runs a command in a pseudo-terminal, typing `pass` at its passphrase prompt.
pub fn in_terminal(args: &[&str], pass: &str) -> Output {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/support/pty_run.py");
    Command::new("python3")
        .arg(script)
        .args(args)
        .env("PASS", pass)
        .stdin(Stdio::null())
        .output()
        .expect("python3")
}

/// Minimal blocking HTTP/1.1 request over loopback, returning (status, headers+body text).
pub fn http(url: &str, method: &str, path: &str, form: Option<&str>) -> (u16, String) {
    use std::io::{Read, Write};
    let addr = url.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(20)))
        .expect("timeout");
    let body = form.unwrap_or_default();
    let content_type = if form.is_some() {
        "Content-Type: application/x-www-form-urlencoded\r\n"
    } else {
        ""
    };
    write!(
        stream,
        "{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{content_type}Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .expect("write");
    let mut text = String::new();
    stream.read_to_string(&mut text).expect("read");
    let status = text
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (status, text)
}

pub fn http_get(url: &str, path: &str) -> (u16, String) {
    http(url, "GET", path, None)
}

/// Writes an appeal file and loads it with `panah admin set-appeal`.
pub fn set_appeal(data: &str, dir: &Path, slug: &str, toml: &str) {
    let file = dir.join(format!("{slug}-appeal.toml"));
    std::fs::write(&file, toml).expect("write appeal");
    ok(&[
        "admin",
        "set-appeal",
        "--data",
        data,
        slug,
        &file.display().to_string(),
    ]);
}

/// Creates the sample collective in `data` with the CLI (and the hub, if there is none).
pub fn create_collective(data: &str, slug: &str) {
    create_collective_in(&["--data", data], slug);
}

/// A new hub on `store` (`--data DIR`, and `--database URL` for PostgreSQL) with the
/// collective `slug`.
pub fn create_collective_in(store: &[&str], slug: &str) {
    let admin = |args: &[&str]| {
        let mut all = vec!["admin", args[0]];
        all.extend_from_slice(store);
        all.extend_from_slice(&args[1..]);
        ok(&all)
    };
    admin(&["init"]);
    admin(&[
        "create-collective",
        slug,
        "--name-fa",
        "روشنایی",
        "--name-ps",
        "رڼا",
        "--name-en",
        "Roshanai",
    ]);
}

/// `ledger add` of a 1,200 AFN cash expense for food with this memo.
pub fn expense(memo: &str) -> [&str; 10] {
    [
        "add",
        "expense",
        "--amount",
        "1200",
        "--category",
        "food",
        "--rail",
        "cash",
        "--memo",
        memo,
    ]
}

/// Sends a contact form with curl, as a browser would (multipart). Returns (status, body).
pub fn curl_contact(url: &str, slug: &str, fields: &[&str]) -> (u16, String) {
    let mut cmd = Command::new("curl");
    cmd.args(["-s", "-w", "\n%{http_code}", "--max-time", "60"]);
    for f in fields {
        cmd.args(["-F", f]);
    }
    cmd.arg(format!("{url}/c/{slug}/contact?lang=en"));
    let out = cmd.output().expect("curl");
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or((&text, "0"));
    (status.trim().parse().unwrap_or(0), body.to_owned())
}

/// The codename a "message received" page shows.
pub fn codename_in(html: &str) -> String {
    panah_server::testing::shown_codename(html).unwrap_or_else(|| panic!("no codename in: {html}"))
}

/// Every file below `dir`.
pub fn files_below(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for entry in entries.flatten() {
            let p = entry.path();
            if p.is_dir() {
                out.extend(files_below(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Registers a coordinator's public line with the collective roshanai on the hub in `data`.
pub fn add_coordinator(data: &str, line: &str) {
    ok(&[
        "admin",
        "add-coordinator",
        "--data",
        data,
        "roshanai",
        line.trim(),
    ]);
}

/// A hub with a collective and `n` coordinators, each with a keyring in `dir`: the first
/// is registered by the operator as the founder and starts the signed team log; the
/// founder then signs the others onto it (`panah team add`), as a real collective does.
pub fn hub_with_team(dir: &Path, n: usize, extra: &[&str]) -> (Hub, String, Vec<String>) {
    let data = dir.join("hub").display().to_string();
    create_collective(&data, "roshanai");
    let mut keyrings = Vec::new();
    let mut lines = Vec::new();
    for i in 0..n {
        let k = dir
            .join(format!("coordinator-{i}.keyring"))
            .display()
            .to_string();
        lines.push(ok(&["id", "new", "--keyring", &k]));
        keyrings.push(k);
    }
    if let Some(founder) = lines.first() {
        add_coordinator(&data, founder);
    }
    let mut args = vec!["--data", data.as_str()];
    args.extend_from_slice(extra);
    let hub = Hub::start(&args, &dir.join("hub.log"));
    if let Some(founder) = keyrings.first() {
        ok(&coordinator_args("team", &hub, founder, &[]));
        for line in &lines[1..] {
            ok(&coordinator_args(
                "team",
                &hub,
                founder,
                &["add", line.trim()],
            ));
        }
    }
    (hub, data, keyrings)
}

/// The body of a successful GET (headers dropped; the hub sends no chunked encoding to
/// HTTP/1.1 requests with `Connection: close` for these small responses).
pub fn http_body(url: &str, path: &str) -> String {
    let (status, text) = http_get(url, path);
    assert_eq!(status, 200, "GET {path}: {text}");
    text.split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}

/// `COMMAND --hub URL --collective roshanai --keyring KEYRING ARGS…`: a coordinator's
/// command against a test hub.
pub fn coordinator_args<'a>(
    command: &'a str,
    hub: &'a Hub,
    keyring: &'a str,
    args: &[&'a str],
) -> Vec<&'a str> {
    let mut all = vec![
        command,
        "--hub",
        &hub.url,
        "--collective",
        "roshanai",
        "--keyring",
        keyring,
    ];
    all.extend_from_slice(args);
    all
}

/// Every ciphertext the hub in `data` stores for a message, a file or a reply, as files:
/// blob files where they are, and what the database keeps (envelopes and replies are kept
/// with their rows) written out to `data/../extracted/KEY`. Paths are named by blob key.
pub fn stored_ciphertexts(data: &Path) -> Vec<PathBuf> {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    runtime.block_on(async {
        let store = panah_store::Store::open(&panah_store::Location::Sqlite {
            path: data.join("panah.db"),
            create: false,
        })
        .await
        .unwrap();
        let extracted = data.parent().unwrap().join("extracted");
        std::fs::create_dir_all(&extracted).unwrap();
        let mut out = Vec::new();
        for c in store.collectives().await.unwrap() {
            for summary in store.conversations(c.id).await.unwrap() {
                for m in summary.messages {
                    let keys = std::iter::once(m.blob).chain(m.files.into_iter().map(|f| f.blob));
                    for key in keys {
                        let mut bytes = Vec::new();
                        let mut seq = 0;
                        while let Some(chunk) = store.blob_chunk(&key, seq).await.unwrap() {
                            bytes.extend(chunk);
                            seq += 1;
                        }
                        if seq > 0 {
                            let path = extracted.join(&key);
                            std::fs::write(&path, bytes).unwrap();
                            out.push(path);
                        } else {
                            let path = data.join("blobs").join(&key[..2]).join(&key);
                            assert!(path.is_file(), "a row names a missing blob {key}");
                            out.push(path);
                        }
                    }
                }
            }
        }
        store.close().await;
        out.sort();
        out
    })
}
