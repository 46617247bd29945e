//! The contact drop end to end with the real binary: nothing confidential on disk or in logs,
//! stored ciphertext that the stock `rage` opens, no acknowledged message lost to `kill -9`,
//! and bounded memory under a 1 GB upload.

#![allow(clippy::unwrap_used)]

mod support;

use std::io::{Read, Write};
use std::path::Path;

use support::*;

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn inbox(hub: &Hub, keyring: &str, args: &[&str]) -> String {
    ok(&coordinator_args("inbox", hub, keyring, args))
}

#[test]
fn canaries_never_reach_the_disk_or_the_logs_in_clear() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, data, keyrings) = hub_with_team(dir.path(), 2, &[]);
    let file = dir.path().join("CANARYNAME-evidence.txt");
    std::fs::write(&file, "CANARYFILE the checkpoint at the bridge").unwrap();
    let (status, html) = curl_contact(
        &hub.url,
        "roshanai",
        &[
            "message=CANARYMESSAGE my brother was taken",
            &format!("file=@{}", s(&file)),
        ],
    );
    assert_eq!(status, 200, "{html}");
    let codename = codename_in(&html);

    // The coordinators can read it (so the canary really went in)...
    for k in &keyrings {
        let out = dir.path().join(format!("out-{}", k.len()));
        let read = inbox(&hub, k, &["read", "1", "--out", &s(&out)]);
        assert!(
            read.contains("CANARYMESSAGE my brother was taken"),
            "{read}"
        );
        let saved = files_below(&out);
        assert_eq!(
            std::fs::read_to_string(&saved[0]).unwrap(),
            "CANARYFILE the checkpoint at the bridge"
        );
    }
    // ... and a reply is readable with the codename.
    inbox(
        &hub,
        &keyrings[0],
        &["reply", "1", "-m", "CANARYREPLY we are arranging help"],
    );
    let form = format!("codename={}", codename.replace(' ', "+"));
    let (status, page) = http(&hub.url, "POST", "/c/roshanai/replies?lang=en", Some(&form));
    assert_eq!(status, 200);
    assert!(page.contains("CANARYREPLY we are arranging help"));

    // Everything the hub wrote, while running (WAL included) and after stopping.
    let latin = codename.replace(' ', "");
    let needles = [
        "CANARYMESSAGE".to_owned(),
        "CANARYFILE".to_owned(),
        "CANARYNAME".to_owned(),
        "CANARYREPLY".to_owned(),
        codename.clone(),
        latin.clone(),
        panah_core_digits(&latin),
        "127.0.0.1".to_owned(),
    ];
    let scan = |when: &str| {
        let mut files = files_below(Path::new(&data));
        files.push(hub.log.clone());
        assert!(files.len() > 4, "{files:?}");
        for f in files {
            let bytes = std::fs::read(&f).unwrap();
            for n in &needles {
                let found = bytes.windows(n.len()).any(|w| w == n.as_bytes());
                assert!(!found, "{when}: {n:?} found in clear in {}", f.display());
            }
        }
    };
    scan("while running");
    let log = hub.log.clone();
    assert!(hub.stop().success());
    let _ = log;
    let hub_files = files_below(Path::new(&data));
    for f in hub_files {
        let bytes = std::fs::read(&f).unwrap();
        for n in &needles {
            assert!(
                !bytes.windows(n.len()).any(|w| w == n.as_bytes()),
                "after stop: {n:?} in {}",
                f.display()
            );
        }
    }
}

/// Persian digits of a Latin digit string.
fn panah_core_digits(s: &str) -> String {
    s.chars()
        .map(|c| {
            c.to_digit(10)
                .map_or(c, |d| char::from_u32(0x06F0 + d).unwrap())
        })
        .collect()
}

#[test]
fn stored_ciphertext_opens_with_stock_rage() {
    let Some(rage) = tool("rage") else { return };
    let dir = tempfile::tempdir().unwrap();
    let (hub, data, keyrings) = hub_with_team(dir.path(), 3, &[]);
    let file = dir.path().join("list.csv");
    std::fs::write(&file, "name,need\nfamily A,flour\n").unwrap();
    let (status, _) = curl_contact(
        &hub.url,
        "roshanai",
        &[
            "message=INTEROP message body",
            &format!("file=@{}", s(&file)),
        ],
    );
    assert_eq!(status, 200);
    let identity = s(&dir.path().join("identity.txt"));
    ok(&[
        "id",
        "export-age-identity",
        "--keyring",
        &keyrings[2],
        "-o",
        &identity,
    ]);

    // Each stored ciphertext (the file's blob on disk, the envelope kept with its row) is a
    // standard age file this coordinator can open.
    let blobs = support::stored_ciphertexts(Path::new(&data));
    assert_eq!(blobs.len(), 2, "{blobs:?}");
    assert_eq!(
        files_below(&Path::new(&data).join("blobs"))
            .iter()
            .filter(|p| !p.starts_with(Path::new(&data).join("blobs/tmp")))
            .count(),
        1,
        "the file is a blob file; the envelope is in the database"
    );
    let open_all = |identity: &str| {
        let mut outputs = Vec::new();
        for blob in &blobs {
            let out = std::process::Command::new(&rage)
                .args(["-d", "-i", identity, &s(blob)])
                .output()
                .unwrap();
            assert!(
                out.status.success(),
                "rage -d {}: {}",
                blob.display(),
                String::from_utf8_lossy(&out.stderr)
            );
            outputs.push(out.stdout);
        }
        outputs
    };
    let outputs = open_all(&identity);
    // Each of the three coordinators' stanzas opens, not only one of them.
    for keyring in &keyrings[..2] {
        let other = s(&dir.path().join("other-identity.txt"));
        ok(&[
            "id",
            "export-age-identity",
            "--keyring",
            keyring,
            "-o",
            &other,
        ]);
        assert_eq!(open_all(&other), outputs);
        std::fs::remove_file(&other).unwrap();
    }
    let message = outputs
        .iter()
        .find(|o| o.starts_with(b"panah-message: 1\n"))
        .expect("the message envelope");
    let text = String::from_utf8_lossy(message);
    assert!(text.contains("INTEROP message body"), "{text}");
    assert!(text.contains("list.csv"));
    assert!(
        message.iter().rev().take(100).all(|b| *b == 0),
        "padding is zeros after the text"
    );
    let csv = outputs
        .iter()
        .find(|o| !o.starts_with(b"panah-message"))
        .unwrap();
    assert!(
        csv.starts_with(b"name,need\nfamily A,flour\n"),
        "the file, then zero padding"
    );

    // `inbox export` is a tar inside an age file that rage opens without Panah.
    let export = s(&dir.path().join("conversation.age"));
    inbox(&hub, &keyrings[2], &["export", "1", "-o", &export]);
    let out = std::process::Command::new(&rage)
        .args(["-d", "-i", &identity, &export])
        .output()
        .unwrap();
    assert!(out.status.success());
    let mut archive = tar::Archive::new(out.stdout.as_slice());
    let mut names = Vec::new();
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().display().to_string();
        let mut body = String::new();
        entry.read_to_string(&mut body).unwrap();
        if name == "conversation.txt" {
            assert!(body.contains("INTEROP message body"));
        } else {
            assert_eq!(body, "name,need\nfamily A,flour\n", "{name}");
        }
        names.push(name);
    }
    assert_eq!(names, ["conversation.txt", "files/1-list.csv"]);
    assert!(hub.stop().success());
}

#[test]
fn kill_9_loses_no_acknowledged_submission() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("panah.toml");
    std::fs::write(&config, "submissions_per_minute = 100000\n").unwrap();
    let (hub, data, keyrings) = hub_with_team(dir.path(), 1, &["--config", &s(&config)]);
    let url = hub.url.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    let sender = std::thread::spawn(move || {
        for i in 0..400 {
            let (status, _) =
                curl_contact(&url, "roshanai", &[&format!("message=acknowledged-{i:03}")]);
            if status == 200 {
                tx.send(i).unwrap();
            } else {
                // The hub died mid-request (0) or refused; either way, stop sending.
                assert!(
                    status == 0 || status >= 500,
                    "submission {i} refused with {status}"
                );
                break;
            }
        }
    });
    let mut acknowledged = Vec::new();
    while acknowledged.len() < 25 {
        acknowledged.push(
            rx.recv_timeout(std::time::Duration::from_secs(60))
                .expect("submissions keep being acknowledged"),
        );
    }
    hub.crash();
    sender.join().unwrap();
    acknowledged.extend(rx.try_iter());
    let hub = Hub::start(&["--data", &data], &dir.path().join("after.log"));
    let list = inbox(&hub, &keyrings[0], &["list"]);
    for i in &acknowledged {
        assert!(
            list.contains(&format!("acknowledged-{i:03}")),
            "acknowledged message {i} was lost:\n{list}"
        );
    }
    assert!(hub.stop().success());
}

/// Peak resident memory of a process, in KiB.
fn peak_rss_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|n| n.parse().ok())
        .unwrap()
}

#[test]
fn a_one_gigabyte_upload_is_refused_with_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let (hub, data, _) = hub_with_team(dir.path(), 3, &[]);
    let addr = hub.url.trim_start_matches("http://").to_owned();
    let boundary = "XyZbOuNdArY";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\nbig\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"big.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
    );
    let total: u64 = 1 << 30;
    let mut stream = std::net::TcpStream::connect(&addr).unwrap();
    stream
        .set_write_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    stream
        .set_read_timeout(Some(std::time::Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "POST /c/roshanai/contact?lang=en HTTP/1.1\r\nHost: {addr}\r\nContent-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {}\r\n\r\n{head}",
        total
    )
    .unwrap();
    let chunk = vec![0x41u8; 256 * 1024];
    let mut sent: u64 = 0;
    while sent < total {
        if stream.write_all(&chunk).is_err() {
            break; // the hub stopped reading: refused
        }
        sent += chunk.len() as u64;
    }
    let mut response = Vec::new();
    let _ = stream.read_to_end(&mut response);
    let response = String::from_utf8_lossy(&response);
    assert!(sent < total, "the hub read the whole gigabyte");
    assert!(
        response.is_empty() || response.starts_with("HTTP/1.1 413"),
        "{}",
        &response[..response.len().min(300)]
    );
    let peak = peak_rss_kib(hub.child.id());
    assert!(peak < 120 * 1024, "peak memory {peak} KiB");
    eprintln!("refused after {} MiB; hub peak RSS {peak} KiB", sent >> 20);
    // Nothing of it stays: no committed blob, no partial file.
    assert!(files_below(&Path::new(&data).join("blobs")).is_empty());
    assert!(hub.stop().success());
}

/// After a coordinator is removed, `inbox reencrypt` leaves nothing on the hub their key
/// opens (checked with the stock `rage` on every blob file), while the team still reads
/// everything and the sender still reads the reply; a second run has nothing left to do.
#[test]
fn a_removed_coordinator_reads_nothing_after_reencryption() {
    let Some(rage) = tool("rage") else {
        panic!("the stock rage is needed for this test (scripts/test.sh installs it)");
    };
    let dir = tempfile::tempdir().unwrap();
    let (hub, data, keyrings) = hub_with_team(dir.path(), 2, &[]);
    let file = dir.path().join("evidence.txt");
    std::fs::write(&file, "SECRETFILE what we saw").unwrap();
    let (status, html) = curl_contact(
        &hub.url,
        "roshanai",
        &[
            "message=SECRETMESSAGE please help",
            &format!("file=@{}", s(&file)),
        ],
    );
    assert_eq!(status, 200, "{html}");
    let codename = codename_in(&html);
    inbox(
        &hub,
        &keyrings[0],
        &["reply", "1", "-m", "SECRETREPLY help is coming"],
    );

    // The coordinator who will be removed keeps their identity.
    let identity = s(&dir.path().join("removed.identity"));
    ok(&[
        "id",
        "export-age-identity",
        "--keyring",
        &keyrings[1],
        "-o",
        &identity,
    ]);
    let opens = |path: &Path| {
        std::process::Command::new(&rage)
            .args(["-d", "-i", &identity, &s(path)])
            .output()
            .unwrap()
            .status
            .success()
    };
    let blobs = |root: &Path| support::stored_ciphertexts(&root.join("hub"));
    let before = blobs(dir.path());
    assert_eq!(before.len(), 3, "message, file, reply: {before:?}");
    assert!(
        before.iter().all(|p| opens(p)),
        "their key opened all three"
    );

    let line = ok(&["id", "show", "--keyring", &keyrings[1]]);
    ok(&coordinator_args(
        "team",
        &hub,
        &keyrings[0],
        &["remove", line.trim()],
    ));
    let said = inbox(&hub, &keyrings[0], &["reencrypt"]);
    assert!(
        said.contains("re-encrypted 3 item(s) to the 1 coordinator(s)"),
        "{said}"
    );
    let after = blobs(dir.path());
    assert_eq!(after.len(), 3, "the old blobs are gone: {after:?}");
    assert!(after.iter().all(|p| !before.contains(p)));
    assert!(
        after.iter().all(|p| !opens(p)),
        "their key opens nothing now"
    );

    // The team reads everything, the sender reads the reply.
    let out = dir.path().join("out");
    let read = inbox(&hub, &keyrings[0], &["read", "1", "--out", &s(&out)]);
    assert!(
        read.contains("SECRETMESSAGE please help") && read.contains("SECRETREPLY"),
        "{read}"
    );
    assert_eq!(
        std::fs::read_to_string(&files_below(&out)[0]).unwrap(),
        "SECRETFILE what we saw"
    );
    let form = format!("codename={}", codename.replace(' ', "+"));
    let (status, page) = http(&hub.url, "POST", "/c/roshanai/replies?lang=en", Some(&form));
    assert_eq!(status, 200);
    assert!(page.contains("SECRETREPLY help is coming"), "{page}");
    // Run again: everything was done, nothing is redone.
    let again = inbox(&hub, &keyrings[0], &["reencrypt"]);
    assert!(
        again.contains("re-encrypted 0 item(s)") && again.contains("3 done before"),
        "{again}"
    );
    assert!(Path::new(&data).exists());
}
