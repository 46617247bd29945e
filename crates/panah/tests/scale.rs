//! Three `panah serve` processes on one PostgreSQL database, blobs in the database, behind
//! nginx (Debian's, started here): a mixed load through nginx loses nothing, two
//! coordinators appending at once through different processes never both win, every
//! process shows a new ledger entry within the page cache's time, retention run by several
//! processes at once deletes each expired conversation once, and the logs' static copy in
//! an S3-compatible bucket verifies while every hub is stopped.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use panah_store::testing::{fresh_postgres_database, postgres_admin_url, s3_config};
use panah_store::{BlobConfig, BlobStore, Location, Store};
use support::load::{self, Acked};
use support::{coordinator_args, http_body, Hub};

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// nginx in front of `upstreams`, on `port`, in the foreground, with everything it writes
/// in `dir`.
fn start_nginx(nginx: &Path, dir: &Path, port: u16, upstreams: &[String]) -> Hub {
    let servers: String = upstreams
        .iter()
        .map(|u| format!("        server {};\n", u.trim_start_matches("http://")))
        .collect();
    let d = dir.display();
    let conf = format!(
        "daemon off;\nworker_processes 1;\npid {d}/nginx.pid;\nerror_log {d}/nginx-error.log warn;\n\
         events {{ worker_connections 1024; }}\n\
         http {{\n    access_log off;\n    client_body_temp_path {d}/body;\n    proxy_temp_path {d}/proxy;\n\
         fastcgi_temp_path {d}/fastcgi;\n    uwsgi_temp_path {d}/uwsgi;\n    scgi_temp_path {d}/scgi;\n\
         client_max_body_size 60m;\n    proxy_request_buffering off;\n\
         upstream panah {{\n{servers}        keepalive 16;\n    }}\n\
         server {{\n        listen 127.0.0.1:{port};\n        location / {{\n\
         proxy_pass http://panah;\n            proxy_http_version 1.1;\n\
         proxy_set_header Connection \"\";\n            proxy_set_header Host $http_host;\n\
         proxy_read_timeout 120s;\n        }}\n    }}\n}}\n"
    );
    let path = dir.join("nginx.conf");
    std::fs::write(&path, conf).unwrap();
    let log = dir.join("nginx.out");
    let child = Command::new(nginx)
        .args([
            "-c",
            &path.display().to_string(),
            "-e",
            &format!("{d}/nginx-error.log"),
        ])
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let deadline = Instant::now() + Duration::from_secs(20);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
        || support::http_get(&url, "/healthz").0 != 200
    {
        assert!(
            Instant::now() < deadline,
            "nginx did not start: {}",
            std::fs::read_to_string(dir.join("nginx-error.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Hub { child, url, log }
}

#[test]
fn three_hubs_on_one_postgresql_behind_nginx() {
    let Some(admin) = postgres_admin_url() else {
        return;
    };
    let Some(nginx) = support::tool("nginx") else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let Location::Postgres { url } = runtime.block_on(fresh_postgres_database(&admin)) else {
        unreachable!()
    };
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let port = free_port();
    let front = format!("http://127.0.0.1:{port}");

    // One configuration for every process: the database, blobs in it, the public address
    // (so every process gives the logs the same origin), and the static copy.
    let s3 = s3_config();
    let mut toml = format!(
        "database = \"{url}\"\nblobs = \"database\"\npublic_url = \"{front}\"\n\
         logins_per_second = 1000\nsubmissions_per_minute = 100000\n\
         hub_submissions_per_minute = 1000000\nlookups_per_minute = 100000\n"
    );
    if let Some(s3) = &s3 {
        toml.push_str(&format!(
            "publish_to = \"s3://{}/{}public\"\ns3_endpoint = \"{}\"\n",
            s3.bucket,
            s3.prefix,
            s3.endpoint.as_deref().unwrap()
        ));
    }
    let config = dir.join("hub.toml");
    std::fs::write(&config, toml).unwrap();
    let config = config.display().to_string();
    let store_args = ["--config", config.as_str()];
    support::create_collective_in(&store_args, "roshanai");
    let hubs: Vec<Hub> = (0..3)
        .map(|i| {
            let data = dir.join(format!("hub{i}")).display().to_string();
            Hub::start(
                &["--config", &config, "--data", &data],
                &dir.join(format!("hub{i}.log")),
            )
        })
        .collect();
    let upstreams: Vec<String> = hubs.iter().map(|h| h.url.clone()).collect();
    let front_hub = start_nginx(&nginx, dir, port, &upstreams);
    let crew = load::enlist(dir, &store_args, &front_hub);

    // A mixed load through nginx, spread over the three: nothing acknowledged is lost.
    let acked = Mutex::new(Acked::default());
    let stop = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| load::run(&front_hub, &crew, &acked, &stop, "scale"));
        std::thread::sleep(Duration::from_secs(8));
        stop.store(true, Ordering::SeqCst);
    });
    let a = acked.lock().unwrap().clone();
    assert!(
        a.messages.len() >= 10 && !a.entries.is_empty(),
        "the load wrote too little to prove anything: {a:?}"
    );
    assert_eq!(load::check(&front_hub, &crew, &a), a.count());

    // Two coordinators append at once, each through another process: each append is
    // taken whole or refused, never both at the same size; the refused one tries again.
    let size_of = || -> u64 {
        let cp = http_body(&front_hub.url, "/c/roshanai/ledger/checkpoint");
        cp.lines().nth(1).unwrap().parse().unwrap()
    };
    let before = size_of();
    let mut wins = 0;
    for round in 0..4 {
        let results: Vec<bool> = std::thread::scope(|scope| {
            let handles: Vec<_> = [(&crew.founder, &hubs[0]), (&crew.reader, &hubs[1])]
                .into_iter()
                .enumerate()
                .map(|(who, (keyring, hub))| {
                    let memo = format!("RACE-{round}-{who}");
                    scope.spawn(move || {
                        support::run(&coordinator_args(
                            "ledger",
                            hub,
                            keyring,
                            &support::expense(&memo),
                        ))
                        .status
                        .success()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        wins += results.iter().filter(|ok| **ok).count() as u64;
    }
    assert!(wins >= 4, "at least one append a round is taken");
    assert_eq!(size_of(), before + wins, "every win is one entry, no more");
    support::ok(&coordinator_args(
        "ledger",
        &front_hub,
        &crew.reader,
        &["list"],
    ));

    // A new entry shows on every process's ledger page within the page cache's 5 s.
    support::ok(&coordinator_args(
        "ledger",
        &hubs[2],
        &crew.founder,
        &support::expense("SEEN-EVERYWHERE"),
    ));
    let added = Instant::now();
    for hub in &hubs {
        loop {
            if http_body(&hub.url, "/c/roshanai/ledger?lang=en").contains("SEEN-EVERYWHERE") {
                break;
            }
            assert!(
                added.elapsed() < Duration::from_secs(7),
                "{} did not show the entry within the cache time",
                hub.url
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    // The static copy catches up with the hub; with every hub stopped, what the bucket
    // holds verifies. (Read back with the bucket's credentials: a public bucket is the
    // operator's to open, through its policy or a CDN.)
    let hub_checkpoint = http_body(&front_hub.url, "/c/roshanai/ledger/checkpoint");
    let copy = s3.as_ref().map(|s3| {
        let client = s3.client().unwrap();
        let prefix = format!("{}public", s3.prefix);
        runtime.block_on(async {
            use futures_util::StreamExt;
            let checkpoint = panah_store::object_store::path::Path::from(format!(
                "{prefix}/c/roshanai/ledger/checkpoint"
            ));
            let deadline = Instant::now() + Duration::from_secs(40);
            loop {
                let got = match client.get(&checkpoint).await {
                    Ok(g) => g.bytes().await.unwrap().to_vec(),
                    Err(_) => Vec::new(),
                };
                if got == hub_checkpoint.as_bytes() {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "the static copy did not catch up"
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            let folder = dir.join("static");
            let mut listing = client.list(Some(&panah_store::object_store::path::Path::from(
                prefix.clone(),
            )));
            let mut files = 0;
            while let Some(meta) = listing.next().await {
                let meta = meta.unwrap();
                let rest = meta.location.as_ref()[prefix.len() + 1..].to_owned();
                let body = client
                    .get(&meta.location)
                    .await
                    .unwrap()
                    .bytes()
                    .await
                    .unwrap();
                let path = folder.join(rest);
                std::fs::create_dir_all(path.parent().unwrap()).unwrap();
                std::fs::write(path, body).unwrap();
                files += 1;
            }
            assert!(files > 3, "tiles, keys and checkpoint: {files}");
            folder
        })
    });
    assert!(front_hub.stop().success());
    for hub in hubs {
        assert!(hub.stop().success());
    }
    if let Some(folder) = &copy {
        let origin = format!("127.0.0.1:{port}/c/roshanai/ledger");
        let state = dir.join("verify-state.json").display().to_string();
        let base = folder.join("c/roshanai/ledger").display().to_string();
        let out = support::ok(&[
            "verify", "ledger", &base, "--origin", &origin, "--state", &state,
        ]);
        let size = hub_checkpoint.lines().nth(1).unwrap();
        assert!(
            out.starts_with(&format!("ok: {origin} — {size} entries")),
            "the copy verifies whole, to the hub's latest checkpoint: {out}"
        );
        assert!(
            out.contains("checked against the collective's signed team log"),
            "the copy's team log was read too: {out}"
        );
        assert!(
            folder.join("c/roshanai/team/checkpoint").is_file(),
            "the team log too"
        );
    }

    // Retention in several processes at once: each expired conversation is deleted once,
    // ciphertext included.
    runtime.block_on(async {
        let location = Location::Postgres { url: url.clone() };
        let mut sweepers = Vec::new();
        for i in 0..3 {
            let store = Store::open(&location).await.unwrap();
            let data = dir.join(format!("hub{i}"));
            let blobs = BlobStore::open(&BlobConfig::Database, &data, &store)
                .await
                .unwrap();
            sweepers.push((store, blobs));
        }
        let (store, _) = &sweepers[0];
        let c = store
            .collective(&panah_core::Slug::parse("roshanai").unwrap())
            .await
            .unwrap()
            .unwrap();
        let conversations = store.conversations(c.id).await.unwrap().len();
        assert!(conversations > 0);
        let later = panah_core::Timestamp::now().plus_seconds(400 * 86_400);
        let counts = futures_util::future::join_all(sweepers.iter().map(|(store, blobs)| {
            panah_server::retention::sweep(store, blobs, later)
        }))
        .await;
        let deleted: usize = counts.into_iter().map(Result::unwrap).sum();
        assert_eq!(deleted, conversations, "each deleted once, by one process");
        assert!(store.conversations(c.id).await.unwrap().is_empty());
        assert_eq!(store.blob_data_totals().await.unwrap(), (0, 0));
        println!(
            "three hubs behind nginx: {} writes acknowledged and found, {wins} of 8 racing appends won, {conversations} conversations expired once each",
            a.count()
        );
    });
}
