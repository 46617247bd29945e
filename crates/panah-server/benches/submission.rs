//! The CPU cost of one contact submission, split into its parts, and the whole of it
//! through the router: a 1 KB message encrypted to three coordinators, stored in SQLite.
//!
//!     cargo bench -p panah-server --bench submission

#![allow(clippy::unwrap_used, missing_docs)]

use axum::body::Body;
use axum::http::Request;
use criterion::{criterion_group, criterion_main, Criterion};
use panah_core::age_file::Recipient;
use panah_core::envelope::{Author, Envelope};
use panah_core::{Codename, CoordinatorKey, Lang, Slug, Timestamp};
use panah_server::seal::Sealer;
use panah_server::{app, AppState, Settings};
use panah_store::{BlobStore, Location, NewCollective, NewMessage, Side, Store};
use tower::ServiceExt;

const MESSAGE: &str = "We are a family of six in Kabul. Since the summer my father has no work and we cannot buy flour. \
My sister worked for an NGO and is afraid to leave the house. Can you help us with food, and tell us whether \
there is a lawful way for her to apply for protection? We can be reached through this page only.";

fn recipients() -> Vec<age::x25519::Recipient> {
    (0..3)
        .map(|_| age::x25519::Identity::generate().to_public())
        .collect()
}

fn envelope() -> Vec<u8> {
    let body = MESSAGE.repeat(1024 / MESSAGE.len() + 1)[..1024].to_owned();
    Envelope {
        from: Author::Sender,
        sent: Timestamp::now(),
        files: vec![],
        body,
    }
    .to_bytes()
}

fn parts(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let store = rt
        .block_on(Store::open(&Location::Sqlite {
            path: dir.path().join("bench.db"),
            create: true,
        }))
        .unwrap();
    let collective = rt
        .block_on(store.create_collective(&NewCollective {
            slug: Slug::parse("roshanai").unwrap(),
            default_lang: Lang::Dari,
            names: ["a".into(), "b".into(), "c".into()],
        }))
        .unwrap();
    let blobs = BlobStore::folder(&dir.path().join("blobs"), &store).unwrap();
    let secret = [7u8; 32];
    let check = panah_core::CheckKey::derive(&secret);
    let slug = Slug::parse("roshanai").unwrap();
    let ages = recipients();
    let team: Vec<_> = ages.iter().map(Recipient::new).collect();
    let plain = envelope();
    let padded = Envelope::parse(&plain).unwrap().to_padded_bytes();

    c.bench_function(
        "submission/1 codename: generate + derive lookup and reply keys",
        |b| {
            b.iter(|| {
                Codename::generate(&check)
                    .derive(&secret, &slug)
                    .reply
                    .to_public()
            })
        },
    );
    c.bench_function(
        "submission/2 encrypt 1 KB to 3 coordinators (age, padded, in memory)",
        |b| b.iter(|| panah_core::age_file::encrypt(&team, &padded).unwrap()),
    );
    c.bench_function(
        "submission/2 (the same with age's own X25519 recipient type)",
        |b| b.iter(|| panah_core::age_file::encrypt(&ages, &padded).unwrap()),
    );
    c.bench_function(
        "submission/3 seal a file into a blob file (encrypt + write + fsync + rename; files only)",
        |b| {
            b.iter(|| {
                let _guard = rt.enter();
                let mut sealer = Sealer::new(&blobs, &team).unwrap();
                sealer.write(&plain).unwrap();
                sealer.finish().unwrap()
            })
        },
    );
    let mut n = 0u64;
    c.bench_function(
        "submission/4 store the message row with its envelope (SQLite, synchronous=FULL)",
        |b| {
            b.iter(|| {
                n += 1;
                let mut lookup = [0u8; 32];
                lookup[..8].copy_from_slice(&n.to_le_bytes());
                let msg = NewMessage {
                    author: Side::Sender,
                    blob: format!("{n:032x}"),
                    size: 1200,
                    files: vec![],
                    inline: Some(vec![0x5a; 1200]),
                };
                rt.block_on(store.add_message(collective.id, &lookup, "age1x", &msg, 90))
                    .unwrap()
            })
        },
    );

    // The whole request through the router: multipart parsing, all of the above, the page.
    for (i, r) in ages.iter().enumerate() {
        let signing = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        let key =
            CoordinatorKey::parse_line(&format!("{r} ed25519:{}", base64_key(&signing))).unwrap();
        rt.block_on(store.add_coordinator(collective.id, &key, &format!("c{i}")))
            .unwrap();
    }
    let settings = Settings {
        submissions_per_minute: u32::MAX / 2,
        hub_submissions_per_minute: u32::MAX / 2,
        ..Settings::default()
    };
    let router = rt
        .block_on(AppState::new(store.clone(), blobs.clone(), settings))
        .map(app)
        .unwrap();
    let boundary = "bench-boundary";
    let body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\n{}\r\n--{boundary}\r\nContent-Disposition: form-data; name=\"website\"\r\n\r\n\r\n--{boundary}--\r\n",
        &MESSAGE.repeat(4)[..1024]
    );
    c.bench_function(
        "submission/5 whole request: 1 KB message, 3 coordinators, SQLite",
        |b| {
            b.iter(|| {
                let req = Request::post("/c/roshanai/contact?lang=fa")
                    .header(
                        "content-type",
                        format!("multipart/form-data; boundary={boundary}"),
                    )
                    .body(Body::from(body.clone()))
                    .unwrap();
                let res = rt.block_on(router.clone().oneshot(req)).unwrap();
                assert_eq!(res.status(), 200);
            })
        },
    );
}

fn base64_key(k: &ed25519_dalek::SigningKey) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(k.verifying_key().as_bytes())
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30).measurement_time(std::time::Duration::from_secs(3));
    targets = parts
}
criterion_main!(benches);
