//! The case tracker's figures (BENCHMARKS.md): a real hub (`panah serve`, SQLite on disk,
//! loopback) and three coordinators driven through `panah_client::records`.
//!
//! - one coordinator creates N records (default 10,000) and sends them;
//! - a second syncs them from an empty cache: time and bytes on the wire;
//! - the first changes 10 of them; the second syncs the 10 changes: time and bytes;
//! - the third coordinator is removed; the first re-wraps every record for the team left;
//! - the summary over N records, and the cache's size, load and save times.
//!
//! `cargo bench -p panah --bench tracker [-- N]`

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use panah_client::records::{self, Cache, Stage, SyncOptions, Synced};
use panah_client::team::{self, VerifiedTeam};
use panah_client::Session;
use panah_core::ledger::Category;
use panah_core::records::doc::{Case, Money, Need, NeedStatus, Note, Stage as CaseStage, Urgency};
use panah_core::records::{Day, Doc, Summary};
use panah_core::team::Change;
use panah_core::Slug;
use panah_keyring::Keyring;

const BIN: &str = env!("CARGO_BIN_EXE_panah");

fn panah(args: &[&str], data: &Path) {
    let out = Command::new(BIN)
        .args(args)
        .arg("--data")
        .arg(data)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn doc(i: usize) -> Doc {
    let day = Day::parse("2021-08-20").unwrap();
    if i % 3 == 0 {
        Doc::Case(Case {
            pseudonym: format!("Sparrow-{i}"),
            stage: CaseStage::ALL[i % 7],
            pathway: "humanitarian visa".into(),
            next_action: "book the interview at the embassy and gather the letters".into(),
            due: Some(Day(day
                .0
                .saturating_add(time::Duration::days((i % 90) as i64)))),
            history: (0..3)
                .map(|k| Note {
                    date: day,
                    by: "f81f-d1a1-6aed-50b1".into(),
                    text: format!("note {k}: called the family, documents on the way"),
                })
                .collect(),
            needs: vec![],
            opened: day,
            closed: None,
        })
    } else {
        Doc::Need(Need {
            pseudonym: format!("Lale-{i}"),
            category: [
                Category::Food,
                Category::Power,
                Category::Medical,
                Category::Shelter,
            ][i % 4],
            urgency: Urgency::ALL[i % 3],
            status: NeedStatus::Open,
            money: Some(Money {
                currency: "AFN".into(),
                asked: 450_000 + i as i64,
                funded: (i as i64 % 5) * 10_000,
            }),
            notes: "flour, oil and rice for a family of six for two weeks".into(),
            ledger: vec![i as u64 % 50],
            opened: day,
            closed: None,
        })
    }
}

async fn sync(
    session: &Session,
    keyring: &Keyring,
    team: &VerifiedTeam,
    cache: &mut Cache,
) -> (Synced, Duration) {
    let start = Instant::now();
    let synced = records::sync(
        session,
        keyring,
        team,
        cache,
        SyncOptions {
            keep_closed_days: 180,
            today: Day::today(),
        },
        |_| Ok(()),
        |_: Stage| {},
    )
    .await
    .unwrap();
    (synced, start.elapsed())
}

/// Bytes of the JSON pages a sync from `since` downloads.
async fn wire_bytes(session: &Session, mut since: i64) -> usize {
    let mut total = 0;
    loop {
        let bytes = session
            .get_bytes(&session.api(&format!("/records?since={since}")), 64 << 20)
            .await
            .unwrap();
        total += bytes.len();
        let page: panah_api::RecordPage = serde_json::from_slice(&bytes).unwrap();
        since = page.next;
        if !page.more {
            return total;
        }
    }
}

fn mb(n: usize) -> String {
    format!("{:.1} MB", n as f64 / 1e6)
}

#[tokio::main]
async fn main() {
    let n: usize = std::env::args()
        .skip(1)
        .find_map(|a| a.parse().ok())
        .unwrap_or(10_000);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let state = dir.path().join("state");
    std::env::set_var("PANAH_LEDGER_STATE_DIR", &state);
    let [a, b, c] = [
        Keyring::generate(),
        Keyring::generate(),
        Keyring::generate(),
    ];
    panah(&["admin", "init"], &data);
    panah(
        &[
            "admin",
            "create-collective",
            "roshanai",
            "--name-fa",
            "ر",
            "--name-ps",
            "ر",
            "--name-en",
            "R",
        ],
        &data,
    );
    panah(
        &[
            "admin",
            "add-coordinator",
            "roshanai",
            &a.public().to_string(),
        ],
        &data,
    );
    let mut hub = Command::new(BIN)
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(&data)
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
    let slug = Slug::parse("roshanai").unwrap();

    let sa = Session::login(&url, slug.clone(), &a).await.unwrap();
    let (info, founding) = team::founding_list(&sa, &a).await.unwrap();
    let mut ta = team::found(&sa, &a, &info, &founding).await.unwrap();
    team::change(
        &sa,
        &a,
        &mut ta,
        vec![
            Change::Add {
                key: b.public(),
                label: "b".into(),
            },
            Change::Add {
                key: c.public(),
                label: "c".into(),
            },
        ],
    )
    .await
    .unwrap();
    let ta = team::verified(&sa).await.unwrap();

    println!("case tracker, {n} records (a third cases, two thirds needs), SQLite, loopback");
    let mut ca = Cache::empty();
    for i in 0..n {
        ca.add(doc(i)).unwrap();
    }
    let (s, t) = sync(&sa, &a, &ta, &mut ca).await;
    assert_eq!(s.sent, n);
    println!(
        "send {n} new records: {:.1} s ({:.0} records/s)",
        t.as_secs_f64(),
        n as f64 / t.as_secs_f64()
    );

    let sb = Session::login(&url, slug.clone(), &b).await.unwrap();
    let tb = team::verified(&sb).await.unwrap();
    let mut cb = Cache::empty();
    let (s, t) = sync(&sb, &b, &tb, &mut cb).await;
    let wire = wire_bytes(&sb, 0).await;
    assert!(s.received >= n && s.refused.is_empty(), "{:?}", s.refused);
    println!(
        "sync from empty: {:.2} s, {} on the wire ({} of ciphertext), {} records accepted",
        t.as_secs_f64(),
        mb(wire),
        mb(s.bytes as usize),
        s.received
    );

    let since = cb.cursor;
    let ids: Vec<_> = ca.docs().map(|(id, _)| *id).take(10).collect();
    for id in &ids {
        let mut d = ca.current(id).unwrap().clone();
        if let Doc::Need(need) = &mut d {
            need.notes.push_str(" (changed)");
        }
        if let Doc::Case(case) = &mut d {
            case.next_action.push_str(" (changed)");
        }
        ca.update(id, d).unwrap();
    }
    sync(&sa, &a, &ta, &mut ca).await;
    let wire = wire_bytes(&sb, since).await;
    let (s, t) = sync(&sb, &b, &tb, &mut cb).await;
    println!(
        "sync of 10 changes among {n}: {:.3} s, {} bytes on the wire, {} records received (the changes and their audit entry)",
        t.as_secs_f64(),
        wire,
        s.received
    );

    let cache_path = dir.path().join("cache.age");
    let start = Instant::now();
    cb.save(&cache_path, &b).unwrap();
    let saved = start.elapsed();
    let start = Instant::now();
    let loaded = Cache::load(&cache_path, &b).unwrap();
    let load = start.elapsed();
    let start = Instant::now();
    let summary = Summary::of(loaded.docs(), Day::today());
    let sum = start.elapsed();
    println!(
        "cache of {n} records: {} encrypted; saved in {:.0} ms, opened in {:.0} ms; summary in {:.1} ms ({} needs, {} cases)",
        mb(std::fs::metadata(&cache_path).unwrap().len() as usize),
        saved.as_secs_f64() * 1e3,
        load.as_secs_f64() * 1e3,
        sum.as_secs_f64() * 1e3,
        summary.needs_total,
        summary.cases_total
    );

    let mut ta = ta;
    team::change(
        &sa,
        &a,
        &mut ta,
        vec![Change::Remove {
            signing: *c.public().signing(),
        }],
    )
    .await
    .unwrap();
    let ta = team::verified(&sa).await.unwrap();
    let (s, t) = sync(&sa, &a, &ta, &mut ca).await;
    println!(
        "re-wrap after a removal: {} records in {:.1} s ({:.0} records/s)",
        s.rewrapped,
        t.as_secs_f64(),
        s.rewrapped as f64 / t.as_secs_f64()
    );
    sa.logout().await;
    sb.logout().await;
    let _ = hub.kill();
    let _ = hub.wait();
}
