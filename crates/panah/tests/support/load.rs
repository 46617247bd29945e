//! A mixed load against a real hub that remembers what the hub acknowledged, and the check
//! that everything acknowledged is there: for the kill -9 runs, the disk-full test and the
//! backup taken under load.
//!
//! Senders post new messages (with a file, every other one) and follow-ups; a coordinator
//! signs ledger entries, adds needs, replies and adds teammates, all through the real
//! binary and the real pages. A write counts as acknowledged only when the hub said so:
//! a 200 page with a codename or "added", a command that exited 0 (and, for a need, did
//! not say it was kept on the device to send later).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use super::{codename_in, coordinator_args, curl_contact, panah, Hub};

/// What the hub acknowledged.
#[derive(Debug, Default, Clone)]
pub struct Acked {
    /// Codenames of acknowledged new conversations.
    pub codenames: Vec<String>,
    /// Text of every acknowledged message (new or follow-up), each unique.
    pub messages: Vec<String>,
    /// Content of every acknowledged file, each unique.
    pub files: Vec<String>,
    pub replies: Vec<String>,
    /// Memo of every acknowledged ledger entry.
    pub entries: Vec<String>,
    /// Pseudonym of every acknowledged need.
    pub needs: Vec<String>,
    /// Fingerprint of every acknowledged teammate.
    pub team: Vec<String>,
}

impl Acked {
    pub fn count(&self) -> usize {
        self.messages.len()
            + self.replies.len()
            + self.entries.len()
            + self.needs.len()
            + self.team.len()
    }
}

/// The collective's coordinators for the load: `founder` writes, `reader` checks from a
/// device of its own, `spare` are keyrings not yet on the team (added one by one).
pub struct Crew {
    pub dir: PathBuf,
    pub founder: String,
    pub reader: String,
    pub spare: Mutex<Vec<(String, String)>>,
    /// Where the reader's device keeps what it verified and its cache; `None`: shared
    /// with the founder's, as on one machine. A restore check reads as a new device.
    pub reader_device: Option<PathBuf>,
}

impl Crew {
    /// `n_spare` keyrings made in `dir` for teammates to add later.
    pub fn new(dir: &Path, founder: &str, reader: &str, n_spare: usize) -> Crew {
        let mut spare = Vec::new();
        for i in 0..n_spare {
            let k = dir.join(format!("spare-{i}.keyring")).display().to_string();
            let line = super::ok(&["id", "new", "--keyring", &k]);
            spare.push((k, line.trim().to_owned()));
        }
        Crew {
            dir: dir.to_owned(),
            founder: founder.to_owned(),
            reader: reader.to_owned(),
            spare: Mutex::new(spare),
            reader_device: None,
        }
    }
}

/// A hub on `store_args` (`--data DIR`, plus `--database URL` for PostgreSQL) with a
/// collective, a founder and a reader on its team, and a ledger.
pub fn setup(dir: &Path, store_args: &[String]) -> (Hub, Crew) {
    let s: Vec<&str> = store_args.iter().map(String::as_str).collect();
    super::create_collective_in(&s, "roshanai");
    let hub = Hub::start(&hub_args(dir, &s), &dir.join("hub-0.log"));
    let crew = enlist(dir, &s, &hub);
    (hub, crew)
}

/// The crew of an existing collective `roshanai` on `hub`: a founder who starts the team
/// and the ledger, a reader on the team, and spare keys to add.
pub fn enlist(dir: &Path, s: &[&str], hub: &Hub) -> Crew {
    let admin = |args: &[&str]| {
        let mut all = vec!["admin", args[0]];
        all.extend_from_slice(s);
        all.extend_from_slice(&args[1..]);
        super::ok(&all)
    };
    let founder = dir.join("founder.keyring").display().to_string();
    let reader = dir.join("reader.keyring").display().to_string();
    let founder_line = super::ok(&["id", "new", "--keyring", &founder]);
    let reader_line = super::ok(&["id", "new", "--keyring", &reader]);
    admin(&["add-coordinator", "roshanai", founder_line.trim()]);
    let crew = Crew::new(dir, &founder, &reader, 4);
    let c =
        |k: &str, command: &str, args: &[&str]| super::ok(&coordinator_args(command, hub, k, args));
    c(&founder, "team", &[]);
    c(&founder, "team", &["add", reader_line.trim()]);
    c(&founder, "ledger", &["init", "--base", "AFN"]);
    // The reader pins the team and the ledger as they are before any kill.
    c(&reader, "team", &[]);
    c(&reader, "ledger", &["list"]);
    crew
}

/// `panah serve`'s arguments: the store's, and a config that lets the check's many
/// coordinator logins through (each command logs in anew).
pub fn hub_args<'a>(dir: &Path, store_args: &[&'a str]) -> Vec<&'a str> {
    let config = dir.join("hub.toml");
    std::fs::write(
        &config,
        "logins_per_second = 1000\nsubmissions_per_minute = 100000\nhub_submissions_per_minute = 1000000\nlookups_per_minute = 100000\n",
    )
    .unwrap();
    let config: &'static str = Box::leak(config.display().to_string().into_boxed_str());
    let mut all = store_args.to_vec();
    all.extend_from_slice(&["--config", config]);
    all
}

/// Runs a coordinator's command; `None` when it failed (the hub may be down).
fn coordinator(hub: &Hub, keyring: &str, command: &str, args: &[&str]) -> Option<String> {
    try_coordinator(hub, keyring, command, args).ok()
}

/// Runs a coordinator's command: its output, or what it said when it failed.
fn try_coordinator(
    hub: &Hub,
    keyring: &str,
    command: &str,
    args: &[&str],
) -> Result<String, String> {
    try_on_device(hub, keyring, None, command, args)
}

/// [`try_coordinator`] with the device's own state folder.
fn try_on_device(
    hub: &Hub,
    keyring: &str,
    device: Option<&Path>,
    command: &str,
    args: &[&str],
) -> Result<String, String> {
    let mut cmd = panah();
    if let Some(device) = device {
        cmd.env("PANAH_LEDGER_STATE_DIR", device.join("ledgers"))
            .env("PANAH_CACHE_DIR", device.join("cache"));
    }
    let out = cmd
        .args(coordinator_args(command, hub, keyring, args))
        .output()
        .map_err(|e| e.to_string())?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() && !stderr.contains("Not sent yet") {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(stderr.into_owned())
    }
}

/// Sends writes until `stop` is set or the hub stops answering, recording what the hub
/// acknowledged. Two threads: the senders and a coordinator. `tag` makes every text unique.
pub fn run(hub: &Hub, crew: &Crew, acked: &Mutex<Acked>, stop: &AtomicBool, tag: &str) {
    std::thread::scope(|s| {
        s.spawn(|| senders(hub, crew, acked, stop, tag));
        s.spawn(|| coordinators(hub, crew, acked, stop, tag));
    });
}

fn senders(hub: &Hub, crew: &Crew, acked: &Mutex<Acked>, stop: &AtomicBool, tag: &str) {
    for i in 0.. {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        let text = format!("LOADMSG-{tag}-{i} we need flour and medicine");
        let earlier = acked.lock().unwrap().codenames.last().cloned();
        let followup = i % 3 == 2 && earlier.is_some();
        let content = format!("LOADFILE-{tag}-{i} the list of names stays with us");
        let file = crew.dir.join(format!("note-{tag}-{i}.txt"));
        std::fs::write(&file, &content).unwrap();
        let mut fields = vec![format!("message={text}")];
        if i % 2 == 0 {
            fields.push(format!("file=@{}", file.display()));
        }
        if followup {
            fields.push(format!("codename={}", earlier.clone().unwrap_or_default()));
        }
        let fields: Vec<&str> = fields.iter().map(String::as_str).collect();
        let (status, html) = curl_contact(&hub.url, "roshanai", &fields);
        if status != 200 {
            return;
        }
        let mut a = acked.lock().unwrap();
        if followup {
            assert!(
                html.contains("Your new message was added"),
                "a follow-up answered 200 without saying it was added: {html}"
            );
        } else {
            a.codenames.push(codename_in(&html));
        }
        a.messages.push(text);
        if i % 2 == 0 {
            a.files.push(content);
        }
    }
}

fn coordinators(hub: &Hub, crew: &Crew, acked: &Mutex<Acked>, stop: &AtomicBool, tag: &str) {
    let k = crew.founder.as_str();
    for i in 0.. {
        if stop.load(Ordering::SeqCst) {
            return;
        }
        match i % 4 {
            0 | 3 => {
                // Every fourth write adds a teammate while spare keyrings last.
                let spare = (i % 4 == 3)
                    .then(|| crew.spare.lock().unwrap().pop())
                    .flatten();
                if let Some((keyring, line)) = spare {
                    let Some(out) = coordinator(hub, k, "team", &["add", &line]) else {
                        crew.spare.lock().unwrap().push((keyring, line));
                        return;
                    };
                    let fp = out
                        .split("added coordinator ")
                        .nth(1)
                        .and_then(|r| r.split(';').next())
                        .unwrap_or_else(|| panic!("no fingerprint in: {out}"))
                        .to_owned();
                    acked.lock().unwrap().team.push(fp);
                    continue;
                }
                let memo = format!("LOADENTRY-{tag}-{i} flour");
                if coordinator(hub, k, "ledger", &super::expense(&memo)).is_none() {
                    return;
                }
                acked.lock().unwrap().entries.push(memo);
            }
            1 => {
                // Ends in a letter, so that no pseudonym is found inside a longer one.
                let pseudonym = format!("Lale-{tag}-{i}-z");
                let args = [
                    "add",
                    "--for",
                    &pseudonym,
                    "--category",
                    "power",
                    "--urgency",
                    "urgent",
                ];
                if coordinator(hub, k, "needs", &args).is_none() {
                    return;
                }
                acked.lock().unwrap().needs.push(pseudonym);
            }
            _ => {
                if acked.lock().unwrap().codenames.is_empty() {
                    continue;
                }
                let reply = format!("LOADREPLY-{tag}-{i} help is coming");
                if coordinator(hub, k, "inbox", &["reply", "1", "-m", &reply]).is_none() {
                    return;
                }
                acked.lock().unwrap().replies.push(reply);
            }
        }
    }
}

/// Everything `acked` lists is on the hub, readable: every message, file and reply
/// decrypts in the reader's inbox, every entry is in the verified ledger (which extends
/// what the reader's device verified before), every need reaches the reader's device, every
/// teammate is on the verified team. Returns how many writes were found.
pub fn check(hub: &Hub, crew: &Crew, acked: &Acked) -> usize {
    let k = crew.reader.as_str();
    let must = |command: &str, args: &[&str]| {
        try_on_device(hub, k, crew.reader_device.as_deref(), command, args)
            .unwrap_or_else(|e| panic!("`{command} {args:?}` failed on the restarted hub: {e}"))
    };
    let ledger = must("ledger", &["list", "--last", "1000000"]);
    assert!(ledger.contains("verified"), "{ledger}");
    let mut found = 0;
    for memo in &acked.entries {
        assert!(
            ledger.contains(memo.as_str()),
            "entry {memo} lost:\n{ledger}"
        );
        found += 1;
    }
    // The inbox through the client library, one login for all: a command per
    // conversation would spend the key's login budget.
    let (read, saved) = read_inbox(&hub.url, k);
    for text in acked.messages.iter().chain(&acked.replies) {
        assert!(read.contains(text.as_str()), "{text} lost");
        found += 1;
    }
    for content in &acked.files {
        assert!(saved.contains(content.as_str()), "file {content} lost");
    }
    must("sync", &[]);
    let needs = must("needs", &["list", "--all"]);
    for pseudonym in &acked.needs {
        assert!(
            needs.contains(pseudonym.as_str()),
            "need {pseudonym} lost:\n{needs}"
        );
        found += 1;
    }
    let team = must("team", &[]);
    for fp in &acked.team {
        assert!(team.contains(fp.as_str()), "teammate {fp} lost:\n{team}");
        found += 1;
    }
    found
}

/// Sleeps a random time in `range` (milliseconds).
pub fn random_pause(range: std::ops::Range<u64>) {
    use rand::Rng;
    std::thread::sleep(Duration::from_millis(rand::thread_rng().gen_range(range)));
}

/// Every message of every conversation and every file, decrypted with `keyring`: (the
/// texts, the files' contents).
fn read_inbox(url: &str, keyring: &str) -> (String, String) {
    let (url, keyring) = (url.to_owned(), keyring.to_owned());
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(async {
            use panah_client::inbox;
            let keyring = panah_keyring::Keyring::load(
                Path::new(&keyring),
                &age::secrecy::SecretString::from(super::PASS.to_owned()),
            )
            .unwrap();
            let slug = panah_core::Slug::parse("roshanai").unwrap();
            let session = panah_client::Session::login(&url, slug, &keyring)
                .await
                .unwrap();
            let (mut texts, mut files) = (String::new(), String::new());
            for listed in inbox::list(&session, &keyring).await.unwrap() {
                let id = listed.conversation.id;
                let (_, opened) = inbox::open(&session, &keyring, id)
                    .await
                    .unwrap_or_else(|e| panic!("conversation {id} does not decrypt: {e}"));
                for o in opened {
                    texts.push_str(&o.envelope.body);
                    texts.push('\n');
                    for (file_id, entry) in o.file_ids.iter().zip(&o.envelope.files) {
                        let plain = inbox::fetch_file(&session, &keyring, *file_id, entry)
                            .await
                            .unwrap_or_else(|e| panic!("file {file_id} does not decrypt: {e}"));
                        files.push_str(&String::from_utf8_lossy(&plain));
                        files.push('\n');
                    }
                }
            }
            session.logout().await;
            (texts, files)
        })
    })
    .join()
    .unwrap()
}
