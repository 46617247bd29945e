//! The disk fills up under a hub: on a small tmpfs the test mounts (root only, as in CI),
//! senders keep sending photos until there is no room. The hub refuses with a clear
//! answer, never a 500; it loses nothing it had acknowledged; and once there is room
//! again it takes messages again, without a restart.

#![allow(clippy::unwrap_used)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::Mutex;

use support::curl_contact;
use support::load::{self, setup, Acked};

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs(PathBuf);

impl Tmpfs {
    fn mount(at: &Path, size: &str) -> Option<Tmpfs> {
        std::fs::create_dir_all(at).unwrap();
        let ok = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(at)
            .status()
            .is_ok_and(|s| s.success());
        if !ok {
            assert!(
                std::env::var_os("PANAH_REQUIRE_TOOLS").is_none(),
                "cannot mount a tmpfs (the disk-full test needs root, as CI has)"
            );
            eprintln!("cannot mount a tmpfs (not root?): skipping the disk-full test");
            return None;
        }
        let fs = Tmpfs(at.to_owned());
        assert!(
            fs.is_mounted(),
            "the tmpfs at {} is not there",
            at.display()
        );
        Some(fs)
    }

    /// Whether the folder is (still) this test's tmpfs: nothing is filled up anywhere else.
    fn is_mounted(&self) -> bool {
        let at = self.0.canonicalize().unwrap();
        std::fs::read_to_string("/proc/self/mounts")
            .unwrap()
            .lines()
            .any(|l| {
                let mut parts = l.split(' ');
                parts.next() == Some("tmpfs") && parts.next() == at.to_str()
            })
    }

    fn resize(&self, size: &str) {
        assert!(Command::new("mount")
            .args(["-o", &format!("remount,size={size}")])
            .arg(&self.0)
            .status()
            .unwrap()
            .success());
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

#[test]
fn a_full_disk_refuses_clearly_loses_nothing_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("hub");
    let Some(disk) = Tmpfs::mount(&data, "6m") else {
        return;
    };
    let store = vec!["--data".to_owned(), data.display().to_string()];
    let (hub, crew) = setup(dir.path(), &store);

    // A little of everything first, acknowledged while there is room.
    let acked = Mutex::new(Acked::default());
    let stop = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| load::run(&hub, &crew, &acked, &stop, "d"));
        load::random_pause(1_500..1_600);
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let mut acked = acked.into_inner().unwrap();

    // Room the test takes back later, to leave exactly a few kilobytes free.
    let reserve = data.join("reserve");
    std::fs::write(&reserve, vec![0u8; 256 * 1024]).unwrap();

    // Then photos (incompressible bytes) until the disk is full.
    let photo = dir.path().join("photo.bin");
    let noise: Vec<u8> = (0..400_000u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(&photo, noise).unwrap();
    let mut refused = None;
    for i in 0..40 {
        let text = format!("FULLDISK-{i} a photo of the list");
        let (status, page) = curl_contact(
            &hub.url,
            "roshanai",
            &[
                &format!("message={text}"),
                &format!("file=@{}", photo.display()),
            ],
        );
        if status == 200 {
            acked.codenames.push(support::codename_in(&page));
            acked.messages.push(text);
            continue;
        }
        refused = Some((status, page));
        break;
    }
    let (refused_with, page) = refused.expect("the disk never filled up");
    assert_eq!(refused_with, 507, "a full disk is not a 500: {page}");
    assert!(
        page.contains("run out of storage space")
            && page.contains("nothing was stored")
            && page.contains("files you chose were not kept"),
        "the sender is told what happened: {page}"
    );
    // The sender's words are kept on the page to send again.
    assert!(page.contains("FULLDISK-"), "{page}");
    // Then not a byte left, so that the database cannot grow either: a coordinator's
    // write is refused as clearly.
    let filler = data.join("filler");
    // Never more than the tmpfs can hold, wherever the folder turns out to be.
    let fill = || {
        use std::io::Write;
        assert!(disk.is_mounted());
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&filler)
            .unwrap();
        for size in [65_536, 512, 1] {
            let chunk = vec![0u8; size];
            while f.metadata().unwrap().len() < 8 << 20 && f.write_all(&chunk).is_ok() {}
        }
        assert!(
            f.metadata().unwrap().len() < 8 << 20,
            "filled more than the tmpfs holds"
        );
    };
    fill();
    let memo = support::expense("diesel");
    let out = support::panah()
        .args(support::coordinator_args(
            "ledger",
            &hub,
            &crew.founder,
            &memo,
        ))
        .output()
        .unwrap();
    let said = String::from_utf8_lossy(&out.stderr).into_owned();
    let ledger = if out.status.success() {
        acked.entries.push("diesel".to_owned());
        "signed and appended (the database still had room)".to_owned()
    } else {
        assert!(said.contains("out of storage space"), "{said}");
        format!("refused: {}", said.trim())
    };
    assert!(support::http_get(&hub.url, "/healthz").0 == 200);
    // A text alone, with not a byte left: refused the same way.
    let (status, page) = curl_contact(&hub.url, "roshanai", &["message=FULLDISK-text alone"]);
    assert_eq!(status, 507, "{page}");
    // A few kilobytes free: the blob may fit and the database not (SQLite cannot grow its
    // log); whatever happens is a 200 or a 507, and a 200 is kept.
    std::fs::remove_file(&reserve).unwrap();
    fill();
    let full = std::fs::metadata(&filler).unwrap().len();
    assert!(full > 64 * 1024);
    for free in [4_096u64, 8_192, 16_384, 32_768] {
        std::fs::OpenOptions::new()
            .write(true)
            .open(&filler)
            .unwrap()
            .set_len(full - free)
            .unwrap();
        let text = format!("FULLDISK-squeezed {free}");
        let (status, page) = curl_contact(&hub.url, "roshanai", &[&format!("message={text}")]);
        match status {
            200 => {
                acked.codenames.push(support::codename_in(&page));
                acked.messages.push(text);
            }
            507 => {}
            other => panic!(
                "{other} with {free} bytes free: {page}\nhub log:\n{}",
                std::fs::read_to_string(&hub.log).unwrap_or_default()
            ),
        }
    }

    // Room again: the same hub, not restarted, takes messages again, and has everything.
    std::fs::remove_file(&filler).unwrap();
    disk.resize("64m");
    for i in 0..5 {
        let text = format!("FULLDISK-after room again {i}");
        let started = std::time::Instant::now();
        let (status, page) = curl_contact(&hub.url, "roshanai", &[&format!("message={text}")]);
        assert_eq!(status, 200, "{page}");
        assert!(
            started.elapsed() < std::time::Duration::from_secs(3),
            "the hub waited on a lock left by the full disk"
        );
        acked.messages.push(text);
    }
    let found = load::check(&hub, &crew, &acked);
    assert_eq!(found, acked.count());
    println!(
        "disk full: {} writes acknowledged before and after, all found; a sender refused with {refused_with}; a ledger entry {ledger}",
        acked.count()
    );
    assert!(hub.stop().success());
}
