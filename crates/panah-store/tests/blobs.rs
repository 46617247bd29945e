//! The blob store's contract, run against each place blobs can be kept: a folder, the
//! database (SQLite and PostgreSQL), and an S3-compatible bucket (the throwaway server
//! `scripts/s3.sh` starts).

#![allow(clippy::unwrap_used)]

use std::io::Write;
use std::time::Duration;

use futures_util::StreamExt;
use panah_store::testing::{every_engine, s3_config};
use panah_store::{BlobConfig, BlobStore, NewCollective, NewMessage, Side, Store};

/// Every place, each with its own store: (name, store, blobs).
async fn every_place(dir: &std::path::Path) -> Vec<(String, Store, BlobStore)> {
    let mut places = Vec::new();
    for (engine, store) in every_engine(dir).await {
        let data = dir.join(format!("data-{engine}"));
        std::fs::create_dir_all(&data).unwrap();
        let mut configs = vec![BlobConfig::Database];
        if engine == "sqlite" {
            configs.push(BlobConfig::Folder);
            if let Some(s3) = s3_config() {
                configs.push(BlobConfig::S3(s3));
            }
        }
        for config in configs {
            let blobs = BlobStore::open(&config, &data, &store).await.unwrap();
            places.push((
                format!("{engine}/{}", blobs.describe()),
                store.clone(),
                blobs,
            ));
        }
    }
    places
}

fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len)
        .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
        .collect()
}

async fn write(blobs: &BlobStore, bytes: Vec<u8>) -> (String, u64) {
    let mut w = blobs.create().unwrap();
    // Fed in pieces, as the encryptor does.
    for piece in bytes.chunks(100_000) {
        w.write_all(piece).unwrap();
    }
    w.commit().await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_place_keeps_blobs_whole_and_lets_them_go() {
    let dir = tempfile::tempdir().unwrap();
    let places = every_place(dir.path()).await;
    eprintln!(
        "places: {:?}",
        places.iter().map(|p| &p.0).collect::<Vec<_>>()
    );
    for (place, store, blobs) in places {
        // Small (in memory), past the memory spool, and past one part of an upload.
        for (len, seed) in [(0usize, 1u8), (1_000, 2), (1_500_000, 3), (9_000_000, 4)] {
            let bytes = pattern(len, seed);
            let (key, size) = write(&blobs, bytes.clone()).await;
            assert_eq!(size, len as u64, "{place}");
            assert!(blobs.exists(&key).await.unwrap(), "{place}: {len}");
            let back = blobs.read(&key).await.unwrap();
            assert!(back == bytes, "{place}: {len} bytes read back whole");
            assert!(blobs.read_at_most(&key, len).await.unwrap() == bytes);
            if len > 0 {
                assert!(
                    blobs.read_at_most(&key, len - 1).await.is_err(),
                    "{place}: a limit on what is read into memory"
                );
            }
            let mut streamed = Vec::new();
            let mut stream = blobs.stream(&key).await.unwrap();
            while let Some(piece) = stream.next().await {
                streamed.extend_from_slice(&piece.unwrap());
            }
            assert!(streamed == bytes, "{place}: {len} bytes streamed whole");
            blobs.delete(&key).await.unwrap();
            blobs.delete(&key).await.unwrap();
            assert!(!blobs.exists(&key).await.unwrap(), "{place}");
            let err = blobs.read(&key).await.unwrap_err();
            assert!(err.is_missing(), "{place}: {err}");
        }

        // A blob put back under its key (a restore) is never written over.
        let key = "00112233445566778899aabbccddeeff";
        let n = blobs
            .put(key, std::io::Cursor::new(b"first".to_vec()))
            .await
            .unwrap();
        assert_eq!(n, 5);
        assert!(blobs
            .put(key, std::io::Cursor::new(b"second".to_vec()))
            .await
            .is_err());
        assert_eq!(blobs.read(key).await.unwrap(), b"first", "{place}");

        // Keys are ours: nothing else names a place.
        for bad in [
            "../../etc/passwd",
            "0011",
            "00112233445566778899AABBCCDDEEFF",
        ] {
            assert!(blobs.read(bad).await.is_err(), "{place}: {bad}");
            assert!(blobs.delete(bad).await.is_err(), "{place}: {bad}");
        }

        // An abandoned blob leaves nothing, in memory or spooled.
        for len in [10, 2_000_000] {
            let mut w = blobs.create().unwrap();
            w.write_all(&pattern(len, 9)).unwrap();
            drop(w);
        }
        assert_eq!(
            blobs.sweep_partials(Duration::ZERO).await.unwrap(),
            0,
            "{place}: no partial blob left behind"
        );

        // An envelope kept with its row is read like any blob, and deleted like one.
        let c = store
            .create_collective(&NewCollective {
                slug: panah_core::Slug::parse(&format!("c{}", rand_suffix())).unwrap(),
                default_lang: panah_core::Lang::Dari,
                names: ["a".into(), "b".into(), "c".into()],
            })
            .await
            .unwrap();
        let envelope_key = panah_store::blobs::new_key();
        let (file_key, file_size) = write(&blobs, pattern(3_000, 5)).await;
        let orphan = write(&blobs, pattern(2_000, 6)).await.0;
        let message = NewMessage {
            author: Side::Sender,
            blob: envelope_key.clone(),
            size: 1_000,
            files: vec![(file_key.clone(), file_size as i64)],
            inline: Some(pattern(1_000, 7)),
        };
        let mut lookup = [0u8; 32];
        lookup[..8].copy_from_slice(&c.id.to_le_bytes());
        store
            .add_message(c.id, &lookup, "age1reply", &message, 90)
            .await
            .unwrap();
        assert_eq!(
            blobs.read(&envelope_key).await.unwrap(),
            pattern(1_000, 7),
            "{place}"
        );
        // The sweep takes what no row names, and only that.
        let swept = blobs.sweep_orphans(Duration::ZERO).await.unwrap();
        assert_eq!(swept, 2, "{place}: the orphan and the blob put back");
        assert!(!blobs.exists(&orphan).await.unwrap(), "{place}");
        assert!(!blobs.exists(key).await.unwrap(), "{place}");
        assert!(blobs.exists(&file_key).await.unwrap(), "{place}");
        assert!(blobs.exists(&envelope_key).await.unwrap(), "{place}");
        // Young blobs are left alone.
        let young = write(&blobs, pattern(10, 8)).await.0;
        assert_eq!(
            blobs
                .sweep_orphans(Duration::from_secs(3 * 86_400))
                .await
                .unwrap(),
            0,
            "{place}"
        );
        assert!(blobs.exists(&young).await.unwrap(), "{place}");
        for key in [&envelope_key, &file_key, &young] {
            blobs.delete(key).await.unwrap();
            assert!(!blobs.exists(key).await.unwrap(), "{place}");
        }
    }
}

fn rand_suffix() -> u32 {
    use rand::Rng;
    rand::thread_rng().gen_range(100_000..999_999)
}

/// A bucket that is not there, or a server that does not answer, stops the hub at its
/// start with a sentence, in bounded time.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wrong_bucket_is_an_error_at_the_start() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&panah_store::testing::sqlite_location(dir.path()))
        .await
        .unwrap();
    let Some(mut s3) = s3_config() else { return };
    s3.bucket = "no-such-bucket-here".into();
    let err = BlobStore::open(&BlobConfig::S3(s3.clone()), dir.path(), &store)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("cannot reach the bucket s3://no-such-bucket-here/"),
        "{err}"
    );
    // Nothing listens here.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    s3.endpoint = Some(format!("http://127.0.0.1:{port}"));
    let started = std::time::Instant::now();
    assert!(BlobStore::open(&BlobConfig::S3(s3), dir.path(), &store)
        .await
        .is_err());
    assert!(started.elapsed() < Duration::from_secs(60));
}
