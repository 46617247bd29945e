//! The contact drop through the router, on SQLite and PostgreSQL: encryption on arrival to
//! every coordinator, metadata removal, codenames in any digits, replies, follow-ups, every
//! refusal, rate limits, retention, and the coordinators' inbox API.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Write;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use panah_core::envelope::{Author, Envelope};
use panah_core::{padding, CheckKey, Codename, CoordinatorKey, Slug, Timestamp};
use panah_server::Settings;
use panah_store::testing::every_engine;
use panah_store::{BlobStore, NewMessage, Store};

use common::*;

struct Part<'a> {
    name: &'a str,
    filename: Option<&'a str>,
    data: &'a [u8],
}

fn text(name: &'static str, data: &'static str) -> Part<'static> {
    Part {
        name,
        filename: None,
        data: data.as_bytes(),
    }
}

const BOUNDARY: &str = "panah-test-boundary-7MA4YWxkTrZu0gW";

fn multipart(parts: &[Part<'_>]) -> Vec<u8> {
    let mut body = Vec::new();
    for p in parts {
        write!(
            body,
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"{}\"",
            p.name
        )
        .unwrap();
        if let Some(f) = p.filename {
            write!(
                body,
                "; filename=\"{f}\"\r\nContent-Type: application/octet-stream"
            )
            .unwrap();
        }
        body.extend_from_slice(b"\r\n\r\n");
        body.extend_from_slice(p.data);
        body.extend_from_slice(b"\r\n");
    }
    write!(body, "--{BOUNDARY}--\r\n").unwrap();
    body
}

async fn post_raw(app: &Router, uri: &str, content_type: &str, body: Vec<u8>) -> Response {
    let req = Request::post(uri)
        .header(header::CONTENT_TYPE, content_type)
        .body(Body::from(body))
        .unwrap();
    send(app, req).await
}

async fn submit(app: &Router, slug: &str, parts: &[Part<'_>]) -> Response {
    let ct = format!("multipart/form-data; boundary={BOUNDARY}");
    post_raw(
        app,
        &format!("/c/{slug}/contact?lang=en"),
        &ct,
        multipart(parts),
    )
    .await
}

/// The codename the sent page shows, group by group in numbered lines, read back in order.
fn shown_codename(res: &Response) -> String {
    let html = res.text();
    let shown = panah_server::testing::shown_codename(&html)
        .unwrap_or_else(|| panic!("no codename shown: {html}"));
    assert_eq!(
        shown.split(' ').count(),
        panah_core::codename::GROUPS,
        "{shown}"
    );
    shown
}

struct Team {
    identities: Vec<age::x25519::Identity>,
    collective: i64,
}

async fn team(store: &Store, slug: &str, n: usize) -> Team {
    let collective = seed(store, slug).await;
    let mut identities = Vec::new();
    for i in 0..n {
        let id = age::x25519::Identity::generate();
        let signing = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        let key = CoordinatorKey::new(&id.to_public(), signing.verifying_key());
        store
            .add_coordinator(collective, &key, &format!("c{i}"))
            .await
            .unwrap();
        identities.push(id);
    }
    Team {
        identities,
        collective,
    }
}

fn decrypt(ciphertext: &[u8], identity: &age::x25519::Identity) -> Vec<u8> {
    panah_core::age_file::decrypt(ciphertext, identity, 1 << 30).unwrap()
}

/// A real 16×16 JPEG, then the same with an EXIF block carrying GPS coordinates.
fn photo_with_gps() -> (Vec<u8>, Vec<u8>) {
    let img = image::RgbImage::from_fn(16, 16, |x, y| {
        image::Rgb([(x * 16) as u8, (y * 16) as u8, 128])
    });
    let mut clean = Vec::new();
    image::codecs::jpeg::JpegEncoder::new_with_quality(&mut clean, 90)
        .encode_image(&img)
        .unwrap();
    let exif = b"Exif\0\0MM\0*\0\0\0\x08GPSLatitude 34.5553 GPSLongitude 69.2075 PHONE-CANARY";
    let mut with_gps = clean[..2].to_vec();
    with_gps.extend_from_slice(&[0xFF, 0xE1]);
    with_gps.extend_from_slice(&u16::try_from(exif.len() + 2).unwrap().to_be_bytes());
    with_gps.extend_from_slice(exif);
    with_gps.extend_from_slice(&clean[2..]);
    (clean, with_gps)
}

fn blobs_in(dir: &std::path::Path, store: &Store) -> BlobStore {
    BlobStore::folder(&dir.join("blobs"), store).unwrap()
}

#[tokio::test]
async fn a_message_and_files_arrive_encrypted_to_every_coordinator() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        let t = team(&store, "roshanai", 3).await;
        let blobs = blobs_in(&dir.path().join(engine), &store);
        let app = router_with_blobs(store.clone(), blobs.clone(), Settings::default()).await;
        let (clean_jpeg, gps_jpeg) = photo_with_gps();
        let res = submit(
            &app,
            "roshanai",
            &[
                text("message", "CANARY-MESSAGE: we need flour"),
                Part {
                    name: "file",
                    filename: Some("notes.txt"),
                    data: b"CANARY-FILE contents",
                },
                Part {
                    name: "file",
                    filename: Some("../../photo.jpg"),
                    data: &gps_jpeg,
                },
                Part {
                    name: "file",
                    filename: Some(""),
                    data: b"",
                },
                text("website", ""),
            ],
        )
        .await;
        assert_eq!(res.status, StatusCode::OK, "{engine}: {}", res.text());
        assert_eq!(res.headers[header::CACHE_CONTROL], "no-store");
        let codename = shown_codename(&res);
        let check = CheckKey::derive(&store.hub_secret("codename").await.unwrap());
        assert!(Codename::parse(&codename, &check).is_ok(), "{codename}");
        // File names are isolated so that a Latin name cannot reorder a Dari sentence.
        assert!(res.text().contains(
            "\u{2068}notes.txt\u{2069}: kept exactly as you sent it, with any hidden details it may carry"
        ));
        assert!(res.text().contains(
            "\u{2068}photo.jpg\u{2069}: hidden details (place, phone model, time) were removed."
        ));
        // How long the conversation is kept, from the hub's setting.
        assert!(res
            .text()
            .contains("kept for 90 days after your last message"));

        let all = store.conversations(t.collective).await.unwrap();
        assert_eq!(all.len(), 1, "{engine}");
        let m = &all[0].messages[0];
        assert_eq!(
            m.files.len(),
            2,
            "{engine}: the empty file input was ignored"
        );

        let ciphertext = blobs.read(&m.blob).await.unwrap();
        assert!(!String::from_utf8_lossy(&ciphertext).contains("CANARY"));
        for identity in &t.identities {
            let plain = decrypt(&ciphertext, identity);
            assert_eq!(
                plain.len() as u64,
                padding::bucket(plain.len() as u64),
                "{engine}: padded to a bucket"
            );
            let envelope = Envelope::parse(&plain).unwrap();
            assert_eq!(envelope.body, "CANARY-MESSAGE: we need flour");
            assert_eq!(envelope.from, Author::Sender);
            assert_eq!(envelope.files[0].name, "notes.txt");
            assert_eq!(envelope.files[1].name, "photo.jpg", "path stripped");
            assert!(envelope.files[1].scrubbed && !envelope.files[0].scrubbed);
        }
        let envelope = Envelope::parse(&decrypt(&ciphertext, &t.identities[0])).unwrap();
        let stored = [
            blobs.read(&m.files[0].blob).await.unwrap(),
            blobs.read(&m.files[1].blob).await.unwrap(),
        ];
        let file = |i: usize| {
            let blob = &stored[i];
            assert!(!String::from_utf8_lossy(blob).contains("CANARY"));
            let mut plain = decrypt(blob, &t.identities[2]);
            plain.truncate(usize::try_from(envelope.files[i].size).unwrap());
            plain
        };
        assert_eq!(file(0), b"CANARY-FILE contents");
        let photo = file(1);
        assert!(!photo.windows(4).any(|w| w == b"Exif"), "EXIF removed");
        assert!(
            !String::from_utf8_lossy(&photo).contains("GPS"),
            "GPS removed"
        );
        assert_eq!(
            photo, clean_jpeg,
            "{engine}: exactly the original image bytes, minus the metadata"
        );
        let decoded = image::load_from_memory(&photo).unwrap().to_rgb8();
        let original = image::load_from_memory(&gps_jpeg).unwrap().to_rgb8();
        assert_eq!(decoded, original, "pixels intact");
    }
}

async fn add_reply(
    store: &Store,
    blobs: &BlobStore,
    collective: i64,
    codename: &str,
    slug: &str,
    body: &str,
) {
    let secret = store.hub_secret("codename").await.unwrap();
    let keys = Codename::parse(codename, &CheckKey::derive(&secret))
        .unwrap()
        .derive(&secret, &Slug::parse(slug).unwrap());
    let conv = store
        .conversation_by_lookup(collective, &keys.lookup)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(conv.reply_recipient, keys.reply.to_public().to_string());
    let envelope = Envelope {
        from: Author::Coordinator("1a2b-3c4d-5e6f-7a8b".into()),
        sent: Timestamp::now(),
        files: vec![],
        body: body.into(),
    };
    let recipient: age::x25519::Recipient = conv.reply_recipient.parse().unwrap();
    let out = panah_core::age_file::encrypt(&[recipient], &envelope.to_padded_bytes()).unwrap();
    let (key, size) = blobs.write_blob(&out).unwrap();
    let msg = NewMessage {
        author: panah_store::Side::Coordinator,
        blob: key,
        size: size as i64,
        files: vec![],
        inline: None,
    };
    store.add_reply(collective, conv.id, &msg).await.unwrap();
}

async fn open_replies(app: &Router, slug: &str, codename: &str) -> Response {
    let body = format!("codename={}", codename.replace(' ', "+"));
    let encoded: String = body
        .chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_string()
            } else {
                c.to_string().bytes().map(|b| format!("%{b:02X}")).collect()
            }
        })
        .collect();
    post_raw(
        app,
        &format!("/c/{slug}/replies?lang=en"),
        "application/x-www-form-urlencoded",
        encoded.into_bytes(),
    )
    .await
}

#[tokio::test]
async fn senders_read_replies_with_their_codename_in_any_digits() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        let t = team(&store, "roshanai", 2).await;
        let blobs = blobs_in(&dir.path().join(engine), &store);
        let app = router_with_blobs(store.clone(), blobs.clone(), Settings::default()).await;
        let first = shown_codename(&submit(&app, "roshanai", &[text("message", "hello")]).await);
        let quiet = shown_codename(&submit(&app, "roshanai", &[text("message", "anyone?")]).await);
        add_reply(
            &store,
            &blobs,
            t.collective,
            &first,
            "roshanai",
            "We read you. Stay safe.",
        )
        .await;

        // Persian digits with dashes, Arabic-Indic digits: the same codename.
        let persian = panah_core::digits::to_persian(&first).replace(' ', "-");
        let res = open_replies(&app, "roshanai", &persian).await;
        assert_eq!(res.status, StatusCode::OK, "{engine}");
        assert!(
            res.text().contains("We read you. Stay safe."),
            "{engine}: {}",
            res.text()
        );
        assert_eq!(res.headers[header::CACHE_CONTROL], "no-store");

        // A conversation with no reply yet says so, with the form to write again and the
        // day it will be deleted.
        let a = open_replies(&app, "roshanai", &quiet).await;
        assert_eq!(a.status, StatusCode::OK, "{engine}");
        assert!(a.text().contains("There are no replies yet"));
        assert!(a
            .text()
            .contains("This conversation is kept for 90 days after your last message"));
        assert!(a.text().contains("name=\"message\""), "a follow-up form");
        assert!(
            a.text().contains("&amp;followup=1\""),
            "the follow-up form says it is one, before any field is read"
        );

        // A well-formed codename of no conversation: said plainly, and no form to write
        // in (a follow-up there could only start a stranger's conversation).
        let check = CheckKey::derive(&store.hub_secret("codename").await.unwrap());
        let unknown = Codename::generate(&check).grouped();
        let b = open_replies(&app, "roshanai", &unknown).await;
        assert_eq!(b.status, StatusCode::NOT_FOUND, "{engine}");
        assert!(b.text().contains("No conversation has this codename"));
        assert!(!b.text().contains("There are no replies yet"));
        assert!(!b.text().contains("name=\"message\""), "no follow-up form");
        assert!(
            b.text().contains(&format!("value=\"{unknown}\"")),
            "given back"
        );

        // One wrong digit in group 3: caught before any lookup, and the group named.
        let mut typo: Vec<char> = first.chars().collect();
        let at = 2 * 6 + 1; // group 3's second digit ("12345 12345 1[2]345 …")
        typo[at] = if typo[at] == '0' { '1' } else { '0' };
        let typo: String = typo.into_iter().collect();
        let res = open_replies(&app, "roshanai", &typo).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{engine}");
        assert!(
            res.text().contains("Group 3 of the codename has a typo"),
            "{}",
            res.text()
        );
        // The groups copied right to left: every group but the middle one is named.
        let mut groups: Vec<&str> = first.split(' ').collect();
        groups.reverse();
        let res = open_replies(&app, "roshanai", &groups.join(" ")).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{engine}");
        assert!(
            res.text()
                .contains("Groups 1, 2, 3, 5, 6 and 7 of the codename look wrong"),
            "{}",
            res.text()
        );
        // One digit left out of group 2, typed in groups: that group is named.
        let mut short: Vec<&str> = first.split(' ').collect();
        let cut = &short[1][..4];
        short[1] = cut;
        let res = open_replies(&app, "roshanai", &short.join(" ")).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{engine}");
        assert!(
            res.text()
                .contains("Group 2 of the codename should have 5 digits"),
            "{}",
            res.text()
        );
        let res = open_replies(&app, "roshanai", "۱۲۳۴").await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        assert!(res.text().contains("A codename has 35 digits"));

        // A codename given out before check digits (28 digits) still opens its replies.
        let legacy = "1234 5678 9012 3456 7890 1234 5678";
        let secret = store.hub_secret("codename").await.unwrap();
        let keys = Codename::parse(legacy, &check)
            .unwrap()
            .derive(&secret, &Slug::parse("roshanai").unwrap());
        let message = NewMessage {
            author: panah_store::Side::Sender,
            blob: blobs.write_blob(b"old").unwrap().0,
            size: 3,
            files: vec![],
            inline: None,
        };
        store
            .add_message(
                t.collective,
                &keys.lookup,
                &keys.reply.to_public().to_string(),
                &message,
                90,
            )
            .await
            .unwrap();
        add_reply(
            &store,
            &blobs,
            t.collective,
            legacy,
            "roshanai",
            "Still here.",
        )
        .await;
        let res = open_replies(&app, "roshanai", legacy).await;
        assert_eq!(res.status, StatusCode::OK, "{engine}");
        assert!(res.text().contains("Still here."), "{engine}");
        store
            .delete_conversation(
                t.collective,
                store
                    .conversation_by_lookup(t.collective, &keys.lookup)
                    .await
                    .unwrap()
                    .unwrap()
                    .id,
            )
            .await
            .unwrap();

        // A follow-up whose codename matches no conversation is refused with its text
        // kept, and opens nothing; its sealed blobs are removed.
        let before = walk(blobs.folder_root().unwrap()).len();
        let res = submit(
            &app,
            "roshanai",
            &[
                Part {
                    name: "codename",
                    filename: None,
                    data: unknown.as_bytes(),
                },
                text("message", "NOWHERE-DRAFT"),
                Part {
                    name: "file",
                    filename: Some("notes.txt"),
                    data: b"a file that was sealed before the codename was found wanting",
                },
            ],
        )
        .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.text());
        assert!(res.text().contains("Your message was not sent"));
        assert!(res.text().contains(">NOWHERE-DRAFT</textarea>"));
        assert!(
            !res.text().contains("name=\"codename\""),
            "sending again from there opens a new conversation, as the page says"
        );
        assert_eq!(store.conversations(t.collective).await.unwrap().len(), 2);
        assert_eq!(walk(blobs.folder_root().unwrap()).len(), before, "{engine}");

        // A follow-up joins the conversation and shows no new codename.
        let res = submit(
            &app,
            "roshanai",
            &[
                text("message", "thank you"),
                Part {
                    name: "codename",
                    filename: None,
                    data: persian.as_bytes(),
                },
            ],
        )
        .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        assert!(res
            .text()
            .contains("Your new message was added to the conversation."));
        assert!(!res.text().contains("class=\"codename\""));
        let all = store.conversations(t.collective).await.unwrap();
        assert_eq!(all.len(), 2, "{engine}");
        let convo = all
            .iter()
            .find(|c| c.messages.len() == 3)
            .expect("hello, reply, thank you");
        assert_eq!(convo.messages[2].author, panah_store::Side::Sender);
    }
}

#[tokio::test]
async fn bad_submissions_get_clear_refusals_and_leave_nothing() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        let t = team(&store, "roshanai", 1).await;
        seed(&store, "empty").await;
        let blobs = blobs_in(&dir.path().join(engine), &store);
        let settings = Settings {
            max_upload_bytes: 64 * 1024,
            max_message_chars: 50,
            ..Settings::default()
        };
        let app = router_with_blobs(store.clone(), blobs.clone(), settings).await;
        let big = vec![b'x'; 100 * 1024];
        let small = b"ok".to_vec();
        let bad_utf8 = [0xC3u8, 0x28, 0xFF];
        let damaged_jpeg = [0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x01, 0x00, 0x00, 0x00];
        let six: Vec<Part<'_>> = (0..6)
            .map(|_| Part {
                name: "file",
                filename: Some("a.txt"),
                data: &small,
            })
            .collect();
        let cases: Vec<(&str, Vec<Part<'_>>, StatusCode, &str)> = vec![
            (
                "too many files",
                six,
                StatusCode::PAYLOAD_TOO_LARGE,
                "at most 5 files",
            ),
            (
                "too large",
                vec![
                    text("message", "DRAFT-KEPT"),
                    Part {
                        name: "file",
                        filename: Some("big.bin"),
                        data: &big,
                    },
                ],
                StatusCode::PAYLOAD_TOO_LARGE,
                "too much to send at once",
            ),
            (
                "empty",
                vec![text("message", "   ")],
                StatusCode::BAD_REQUEST,
                "write a message or attach a file",
            ),
            (
                "not UTF-8",
                vec![Part {
                    name: "message",
                    filename: None,
                    data: &bad_utf8,
                }],
                StatusCode::UNPROCESSABLE_ENTITY,
                "could not be read as text",
            ),
            (
                "too long",
                vec![text(
                    "message",
                    "this message is longer than fifty characters, so it is refused",
                )],
                StatusCode::BAD_REQUEST,
                "at most 50 characters",
            ),
            (
                "damaged photo",
                vec![Part {
                    name: "file",
                    filename: Some("broken.jpg"),
                    data: &damaged_jpeg,
                }],
                StatusCode::UNPROCESSABLE_ENTITY,
                "“\u{2068}broken.jpg\u{2069}” looks like a photo but is damaged",
            ),
            (
                "bad codename",
                vec![text("message", "DRAFT-KEPT"), text("codename", "12-34")],
                StatusCode::BAD_REQUEST,
                "A codename has 35 digits",
            ),
        ];
        for (what, parts, status, needle) in cases {
            let res = submit(&app, "roshanai", &parts).await;
            assert_eq!(res.status, status, "{engine} {what}: {}", res.text());
            assert!(res.text().contains(needle), "{what}: {}", res.text());
            if parts.iter().any(|p| p.data == b"DRAFT-KEPT") {
                assert!(
                    res.text().contains(">DRAFT-KEPT</textarea>"),
                    "{what}: the draft is given back"
                );
            }
        }
        let ct = format!("multipart/form-data; boundary={BOUNDARY}");
        let mut cut = multipart(&[
            text("message", "hello"),
            Part {
                name: "file",
                filename: Some("a.bin"),
                data: &big[..1000],
            },
        ]);
        cut.truncate(cut.len() - 300);
        let res = post_raw(&app, "/c/roshanai/contact?lang=en", &ct, cut).await;
        assert_eq!(
            res.status,
            StatusCode::BAD_REQUEST,
            "truncated: {}",
            res.text()
        );
        assert!(res.text().contains("cut off or damaged"));
        let res = post_raw(
            &app,
            "/c/roshanai/contact?lang=en",
            "multipart/form-data",
            b"garbage".to_vec(),
        )
        .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "no boundary");
        let res = post_raw(
            &app,
            "/c/roshanai/contact?lang=en",
            "text/plain",
            b"message=hi".to_vec(),
        )
        .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "not multipart");
        let res = submit(&app, "empty", &[text("message", "hello?")]).await;
        assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(res.text().contains("cannot receive messages yet"));
        let res = submit(&app, "nobody", &[text("message", "hello?")]).await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);

        // A bot that fills the hidden field is answered like a person, and nothing is kept.
        let res = submit(
            &app,
            "roshanai",
            &[text("message", "buy pills"), text("website", "http://spam")],
        )
        .await;
        assert_eq!(res.status, StatusCode::OK);
        shown_codename(&res);

        assert!(
            store.conversations(t.collective).await.unwrap().is_empty(),
            "nothing was stored"
        );
        let leftovers: Vec<_> = walk(blobs.folder_root().unwrap()).into_iter().collect();
        assert!(
            leftovers.is_empty(),
            "no blob survived a refusal: {leftovers:?}"
        );
    }
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap().flatten() {
        let p = entry.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

#[tokio::test]
async fn submissions_are_rate_limited_per_collective() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        team(&store, "roshanai", 1).await;
        team(&store, "other", 1).await;
        let settings = Settings {
            submissions_per_minute: 4,
            ..Settings::default()
        };
        let app = router_with_blobs(
            store.clone(),
            blobs_in(&dir.path().join(engine), &store),
            settings,
        )
        .await;
        assert_eq!(
            submit(&app, "roshanai", &[text("message", "1")])
                .await
                .status,
            StatusCode::OK
        );
        assert_eq!(
            submit(&app, "roshanai", &[text("message", "2")])
                .await
                .status,
            StatusCode::OK
        );
        let third = submit(&app, "roshanai", &[text("message", "3")]).await;
        assert_eq!(third.status, StatusCode::TOO_MANY_REQUESTS);
        assert!(third.text().contains("wait a minute"));
        assert_eq!(
            submit(&app, "other", &[text("message", "1")]).await.status,
            StatusCode::OK,
            "other collectives unaffected"
        );
    }
}

/// The hub-wide budgets hold across collectives: a flood spread over many collectives is
/// still refused once the whole hub's share is used, for submissions and for codename
/// lookups alike, while each collective's own budget is far from used.
#[tokio::test]
async fn hub_wide_limits_hold_across_collectives() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        team(&store, "roshanai", 1).await;
        team(&store, "other", 1).await;
        // A bucket holds a quarter of its minute plus one: 3 submissions and 2 lookups
        // hub-wide, 26 per collective.
        let settings = Settings {
            submissions_per_minute: 100,
            hub_submissions_per_minute: 8,
            lookups_per_minute: 100,
            hub_lookups_per_minute: 4,
            ..Settings::default()
        };
        // Well-formed codenames of no conversation: lookups a person could make.
        let check = CheckKey::derive(&store.hub_secret("codename").await.unwrap());
        let app = router_with_blobs(
            store.clone(),
            blobs_in(&dir.path().join(engine), &store),
            settings,
        )
        .await;
        for slug in ["roshanai", "roshanai", "other"] {
            let res = submit(&app, slug, &[text("message", "hello")]).await;
            assert_eq!(res.status, StatusCode::OK, "{engine}: {slug}");
        }
        let refused = submit(&app, "other", &[text("message", "one too many")]).await;
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{engine}");
        assert!(refused.text().contains("wait a minute"), "{engine}");

        let lookup = |slug: &'static str| {
            let app = app.clone();
            let codename = Codename::generate(&check).grouped().replace(' ', "+");
            async move {
                let body = format!("codename={codename}");
                let uri = format!("/c/{slug}/replies?lang=en");
                post_raw(
                    &app,
                    &uri,
                    "application/x-www-form-urlencoded",
                    body.into_bytes(),
                )
                .await
            }
        };
        for slug in ["roshanai", "other"] {
            let res = lookup(slug).await;
            assert_ne!(
                res.status,
                StatusCode::TOO_MANY_REQUESTS,
                "{engine}: {slug}"
            );
        }
        let res = lookup("other").await;
        assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{engine}");
        assert!(res.text().contains("wait a minute"), "{engine}");
    }
}

/// A request that never finishes is cut off after 30 seconds with a 408, so a slow client
/// cannot hold a connection (and whatever it holds) for ever. Tokio's clock is moved on
/// instead of waiting.
#[tokio::test]
async fn a_request_that_never_finishes_is_cut_off() {
    let dir = tempfile::tempdir().unwrap();
    for (_, store) in every_engine(dir.path()).await {
        seed(&store, "roshanai").await;
        let app = router(store, Settings::default()).await;
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(1);
        let stream = futures_stream(rx);
        let slow = Request::post("/c/roshanai/replies?lang=en")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from_stream(stream))
            .unwrap();
        tokio::time::pause();
        let pending = tokio::spawn({
            let app = app.clone();
            async move { send(&app, slow).await }
        });
        tx.send(Ok("codename=1".into())).await.unwrap();
        tx.send(Ok("2".into())).await.unwrap(); // the first was taken: the hub is reading
        tokio::time::advance(std::time::Duration::from_secs(31)).await;
        let res = pending.await.unwrap();
        tokio::time::resume();
        assert_eq!(res.status, StatusCode::REQUEST_TIMEOUT);
        drop(tx);
    }
}

#[tokio::test]
async fn expired_conversations_are_deleted_with_their_blobs() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        let t = team(&store, "roshanai", 1).await;
        let blobs = blobs_in(&dir.path().join(engine), &store);
        let settings = Settings {
            retention_days: 0,
            ..Settings::default()
        };
        let app = router_with_blobs(store.clone(), blobs.clone(), settings).await;
        submit(
            &app,
            "roshanai",
            &[
                text("message", "x"),
                Part {
                    name: "file",
                    filename: Some("f"),
                    data: b"data",
                },
            ],
        )
        .await;
        // The file is a blob file; the envelope is kept with its row.
        assert_eq!(walk(blobs.folder_root().unwrap()).len(), 1);
        assert_eq!(store.blob_data_totals().await.unwrap().0, 1, "{engine}");
        let n = panah_server::retention::sweep(&store, &blobs, Timestamp::now())
            .await
            .unwrap();
        assert_eq!(n, 1, "{engine}");
        assert!(store.conversations(t.collective).await.unwrap().is_empty());
        assert!(
            walk(blobs.folder_root().unwrap()).is_empty(),
            "{engine}: ciphertext deleted too"
        );
        assert_eq!(store.blob_data_totals().await.unwrap(), (0, 0), "{engine}");
    }
}

/// A crash between committing a blob and committing its message's row leaves a blob no row
/// refers to. The sweep removes such blobs once they are older than any upload can take,
/// and never a blob a message refers to, nor a young one (its row may be on its way).
#[tokio::test]
async fn blobs_whose_row_never_landed_are_swept() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        let t = team(&store, "roshanai", 1).await;
        let blobs = blobs_in(&dir.path().join(engine), &store);
        let app = router_with_blobs(store.clone(), blobs.clone(), Settings::default()).await;
        let sent = submit(
            &app,
            "roshanai",
            &[
                text("message", "kept"),
                Part {
                    name: "file",
                    filename: Some("f"),
                    data: b"data",
                },
            ],
        )
        .await;
        assert_eq!(sent.status, StatusCode::OK, "{engine}");
        let (orphan, _) = blobs
            .write_blob(b"ciphertext of a message whose row never landed")
            .unwrap();
        let (young, _) = blobs.write_blob(b"a blob whose row is on its way").unwrap();
        // Everything is three days old, except the young blob (written today, and so
        // showing midnight: up to a day old on the files' clock, which must not be enough).
        let two_days_ago =
            std::time::SystemTime::now() - std::time::Duration::from_secs(3 * 24 * 3600);
        for path in walk(blobs.folder_root().unwrap()) {
            if !path.ends_with(&young) {
                std::fs::File::options()
                    .write(true)
                    .open(&path)
                    .unwrap()
                    .set_modified(two_days_ago)
                    .unwrap();
            }
        }
        // The message's file, the orphan and the young blob (the envelope is in the database).
        assert_eq!(walk(blobs.folder_root().unwrap()).len(), 3, "{engine}");
        let removed = panah_server::retention::sweep_orphans(&blobs)
            .await
            .unwrap();
        assert_eq!(removed, 1, "{engine}");
        let left = walk(blobs.folder_root().unwrap());
        assert_eq!(left.len(), 2, "{engine}: {left:?}");
        assert!(!left.iter().any(|p| p.ends_with(&orphan)), "{engine}");
        assert!(left.iter().any(|p| p.ends_with(&young)), "{engine}");
        // The message's own blobs were kept and still open.
        let conversations = store.conversations(t.collective).await.unwrap();
        assert_eq!(conversations.len(), 1, "{engine}");
        assert_eq!(
            panah_server::retention::sweep_orphans(&blobs)
                .await
                .unwrap(),
            0,
            "{engine}: nothing more"
        );
    }
}

#[tokio::test]
async fn coordinators_inbox_api() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        let roshanai = seed(&store, "roshanai").await;
        let other = seed(&store, "other").await;
        let alice = coordinator();
        let outsider = coordinator();
        store
            .add_coordinator(roshanai, &alice.key, "")
            .await
            .unwrap();
        store
            .add_coordinator(other, &outsider.key, "")
            .await
            .unwrap();
        let blobs = blobs_in(&dir.path().join(engine), &store);
        let app = router_with_blobs(store.clone(), blobs.clone(), Settings::default()).await;
        submit(
            &app,
            "roshanai",
            &[
                text("message", "hi"),
                Part {
                    name: "file",
                    filename: Some("f.txt"),
                    data: b"data",
                },
            ],
        )
        .await;
        let alice_token = token(&app, "roshanai", &alice).await;
        let auth = format!("Bearer {alice_token}");
        let list = get(
            &app,
            "/api/v1/c/roshanai/conversations",
            &[("authorization", &auth)],
        )
        .await;
        assert_eq!(list.status, StatusCode::OK, "{engine}: {}", list.text());
        let list = list.json();
        let conv = &list[0];
        let id = conv["id"].as_i64().unwrap();
        assert!(conv["reply_recipient"]
            .as_str()
            .unwrap()
            .starts_with("age1"));
        let msg = conv["messages"][0]["id"].as_i64().unwrap();
        let file = conv["messages"][0]["files"][0]["id"].as_i64().unwrap();
        let blob = get(
            &app,
            &format!("/api/v1/c/roshanai/messages/{msg}/ciphertext"),
            &[("authorization", &auth)],
        )
        .await;
        assert_eq!(blob.status, StatusCode::OK);
        assert!(blob.body.starts_with(b"age-encryption.org/v1\n"));
        let f = get(
            &app,
            &format!("/api/v1/c/roshanai/files/{file}/ciphertext"),
            &[("authorization", &auth)],
        )
        .await;
        assert_eq!(f.status, StatusCode::OK);

        // Another collective's coordinator cannot reach it, not even by id.
        let theirs = format!("Bearer {}", token(&app, "other", &outsider).await);
        let res = get(
            &app,
            "/api/v1/c/roshanai/conversations",
            &[("authorization", &theirs)],
        )
        .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN);
        let res = get(
            &app,
            &format!("/api/v1/c/other/messages/{msg}/ciphertext"),
            &[("authorization", &theirs)],
        )
        .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{engine}");

        // Putting ciphertext back (re-encryption): only in place of what was downloaded.
        let etag = f.headers["etag"].to_str().unwrap().to_owned();
        let file_uri = format!("/api/v1/c/roshanai/files/{file}/ciphertext");
        let put = |uri: String, tag: Option<String>, who: String, body: Vec<u8>| {
            let mut req = Request::put(uri)
                .header("authorization", who)
                .header("content-type", "application/octet-stream");
            if let Some(tag) = tag {
                req = req.header("if-match", tag);
            }
            send(&app, req.body(Body::from(body)).unwrap())
        };
        let age = b"age-encryption.org/v1\n-> X25519 anew\n".to_vec();
        let res = put(file_uri.clone(), None, auth.clone(), age.clone()).await;
        assert_eq!(
            res.status,
            StatusCode::PRECONDITION_REQUIRED,
            "{}",
            res.text()
        );
        let res = put(
            file_uri.clone(),
            Some(etag.clone()),
            auth.clone(),
            b"plain".to_vec(),
        )
        .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        let res = put(
            file_uri.clone(),
            Some(format!("\"{}\"", "0".repeat(32))),
            auth.clone(),
            age.clone(),
        )
        .await;
        assert_eq!(
            res.status,
            StatusCode::PRECONDITION_FAILED,
            "{}",
            res.text()
        );
        let res = put(
            format!("/api/v1/c/other/files/{file}/ciphertext"),
            Some(etag.clone()),
            theirs.clone(),
            age.clone(),
        )
        .await;
        assert_eq!(
            res.status,
            StatusCode::PRECONDITION_FAILED,
            "{engine}: not theirs"
        );
        let mut huge = b"age-encryption.org/v1\n".to_vec();
        huge.resize(5 * 1024 * 1024, b'x');
        let msg_uri = format!("/api/v1/c/roshanai/messages/{msg}/ciphertext");
        let res = put(msg_uri, Some(etag.clone()), auth.clone(), huge).await;
        assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", res.text());
        let res = put(
            file_uri.clone(),
            Some(etag.clone()),
            auth.clone(),
            age.clone(),
        )
        .await;
        assert_eq!(res.status, StatusCode::NO_CONTENT, "{}", res.text());
        let again = get(&app, &file_uri, &[("authorization", &auth)]).await;
        assert_eq!(again.body, age, "{engine}: the new ciphertext is served");
        assert_ne!(again.headers["etag"], etag.as_str());
        let res = put(file_uri.clone(), Some(etag), auth.clone(), age).await;
        assert_eq!(
            res.status,
            StatusCode::PRECONDITION_FAILED,
            "{engine}: only once"
        );

        let reply_uri = format!("/api/v1/c/roshanai/conversations/{id}/replies");
        let post = |body: Vec<u8>| {
            let req = Request::post(reply_uri.as_str())
                .header("authorization", auth.as_str())
                .header("content-type", "application/octet-stream")
                .body(Body::from(body))
                .unwrap();
            send(&app, req)
        };
        let res = post(b"not age".to_vec()).await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        assert!(res.json()["error"].as_str().unwrap().contains("age file"));
        let mut huge = b"age-encryption.org/v1\n".to_vec();
        huge.resize(2 * 1024 * 1024, b'x');
        assert_eq!(post(huge).await.status, StatusCode::PAYLOAD_TOO_LARGE);
        let res = post(b"age-encryption.org/v1\n-> X25519 stand-in\n".to_vec()).await;
        assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());

        let del = |uri: String| {
            let req = Request::delete(uri)
                .header("authorization", auth.as_str())
                .body(Body::empty())
                .unwrap();
            send(&app, req)
        };
        assert_eq!(
            del(format!("/api/v1/c/roshanai/conversations/{id}"))
                .await
                .status,
            StatusCode::NO_CONTENT
        );
        assert_eq!(
            del(format!("/api/v1/c/roshanai/conversations/{id}"))
                .await
                .status,
            StatusCode::NOT_FOUND
        );
        assert!(
            walk(blobs.folder_root().unwrap()).is_empty(),
            "{engine}: deleting removes the ciphertext at once"
        );
        let res = get(
            &app,
            "/api/v1/c/roshanai/conversations/abc",
            &[("authorization", &auth)],
        )
        .await;
        assert!(res.status.is_client_error());
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        assert!(
            res.json()["error"]
                .as_str()
                .unwrap()
                .contains("ids are whole numbers"),
            "{}",
            res.text()
        );
    }
}

#[tokio::test]
async fn messages_are_encrypted_to_the_team_of_the_moment() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        let t = team(&store, "roshanai", 2).await;
        let blobs = blobs_in(&dir.path().join(engine), &store);
        let app = router_with_blobs(store.clone(), blobs.clone(), Settings::default()).await;
        let can_read = |blob: &str, identity: &age::x25519::Identity| {
            let blobs = blobs.clone();
            let (blob, identity) = (blob.to_owned(), identity.clone());
            async move {
                panah_core::age_file::decrypt(&blobs.read(&blob).await.unwrap(), &identity, 1 << 20)
                    .is_ok()
            }
        };
        submit(&app, "roshanai", &[text("message", "before")]).await;

        // A new coordinator joins: they read what arrives from now on, not what came before.
        let newcomer = age::x25519::Identity::generate();
        let signing = ed25519_dalek::SigningKey::generate(&mut rand::rngs::OsRng);
        store
            .add_coordinator(
                t.collective,
                &CoordinatorKey::new(&newcomer.to_public(), signing.verifying_key()),
                "new",
            )
            .await
            .unwrap();
        // Changed behind the hub's back, as `panah admin` or another hub process changes
        // it: the contact drop sees it within a second (it keeps each team that long).
        let a_second = std::time::Duration::from_millis(1_100);
        tokio::time::sleep(a_second).await;
        submit(&app, "roshanai", &[text("message", "after joining")]).await;

        // The first coordinator leaves: nothing new is encrypted to them.
        let first = store
            .coordinators(t.collective, false)
            .await
            .unwrap()
            .remove(0);
        store
            .remove_coordinator(t.collective, &first.key)
            .await
            .unwrap();
        tokio::time::sleep(a_second).await;
        submit(&app, "roshanai", &[text("message", "after leaving")]).await;

        let mut all = store.conversations(t.collective).await.unwrap();
        all.sort_by_key(|c| c.conversation.id);
        let blob = |i: usize| all[i].messages[0].blob.clone();
        assert!(
            can_read(&blob(0), &t.identities[0]).await
                && can_read(&blob(0), &t.identities[1]).await
        );
        assert!(
            !can_read(&blob(0), &newcomer).await,
            "a newcomer cannot read the past"
        );
        assert!(can_read(&blob(1), &newcomer).await && can_read(&blob(1), &t.identities[0]).await);
        assert!(
            !can_read(&blob(2), &t.identities[0]).await,
            "a removed coordinator gets nothing new"
        );
        assert!(can_read(&blob(2), &t.identities[1]).await && can_read(&blob(2), &newcomer).await);
    }
}

#[tokio::test]
async fn uploads_beyond_the_concurrency_cap_are_told_to_wait() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        team(&store, "roshanai", 1).await;
        let settings = Settings {
            max_concurrent_uploads: 1,
            ..Settings::default()
        };
        let app = router_with_blobs(
            store.clone(),
            blobs_in(&dir.path().join(engine), &store),
            settings,
        )
        .await;
        // One upload whose body never finishes holds the only slot.
        let (tx, body_rx) =
            tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(1);
        let stream = futures_stream(body_rx);
        let slow = Request::post("/c/roshanai/contact?lang=en")
            .header(
                header::CONTENT_TYPE,
                format!("multipart/form-data; boundary={BOUNDARY}"),
            )
            .body(Body::from_stream(stream))
            .unwrap();
        let pending = tokio::spawn({
            let app = app.clone();
            async move { send(&app, slow).await }
        });
        tx.send(Ok(format!(
            "--{BOUNDARY}\r\nContent-Disposition: form-data; name=\"message\"\r\n\r\nslow\r\n\
             --{BOUNDARY}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a\"\r\n\r\nstart"
        )
        .into()))
            .await
            .unwrap();
        // The channel holds one chunk: this second send returns only once the hub has taken
        // the first, so the slow upload is reading its file and holds the only slot.
        tx.send(Ok(" and slower".into())).await.unwrap();
        let with_file = [
            text("message", "second, with its words kept"),
            Part {
                name: "file",
                filename: Some("f"),
                data: b"data",
            },
        ];
        let res = submit(&app, "roshanai", &with_file).await;
        assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.text());
        assert!(
            res.text().contains("second, with its words kept"),
            "the text is kept"
        );
        // A message of text alone needs no upload slot.
        let res = submit(&app, "roshanai", &[text("message", "words only")]).await;
        assert_eq!(res.status, StatusCode::OK, "{engine}: {}", res.text());
        drop(tx); // the slow sender gives up: its upload is cut off
        assert_eq!(pending.await.unwrap().status, StatusCode::BAD_REQUEST);
        assert_eq!(
            submit(&app, "roshanai", &[text("message", "third")])
                .await
                .status,
            StatusCode::OK,
            "the slot is free again"
        );
    }
}

fn futures_stream(
    rx: tokio::sync::mpsc::Receiver<Result<axum::body::Bytes, std::io::Error>>,
) -> impl futures_core::Stream<Item = Result<axum::body::Bytes, std::io::Error>> + Send {
    struct S(tokio::sync::mpsc::Receiver<Result<axum::body::Bytes, std::io::Error>>);
    impl futures_core::Stream for S {
        type Item = Result<axum::body::Bytes, std::io::Error>;
        fn poll_next(
            mut self: std::pin::Pin<&mut Self>,
            cx: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Self::Item>> {
            self.0.poll_recv(cx)
        }
    }
    S(rx)
}

/// A follow-up refused before any field is read (busy, no coordinators) cannot show the
/// write form again (the codename is not known yet, and a blank form would open a new
/// conversation): it sends the sender back to their conversation, where their text is.
#[tokio::test]
async fn a_follow_up_refused_early_never_lands_on_a_new_conversation_form() {
    let dir = tempfile::tempdir().unwrap();
    for (_engine, store) in every_engine(dir.path()).await {
        seed(&store, "nobody-home").await;
        let app = router(store, Settings::default()).await;
        let ct = format!("multipart/form-data; boundary={BOUNDARY}");
        let body = || multipart(&[text("codename", "1"), text("message", "hello")]);
        let res = post_raw(
            &app,
            "/c/nobody-home/contact?lang=en&followup=1",
            &ct,
            body(),
        )
        .await;
        assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(
            res.text().contains("cannot receive messages yet"),
            "{}",
            res.text()
        );
        assert!(
            res.text().contains("Go back to your conversation"),
            "{}",
            res.text()
        );
        assert!(!res.text().contains("name=\"message\""), "no write form");
        // The same refusal on the contact form keeps the contact form.
        let res = post_raw(&app, "/c/nobody-home/contact?lang=en", &ct, body()).await;
        assert_eq!(res.status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(res.text().contains("name=\"message\""));
        assert!(!res.text().contains("Go back to your conversation"));
    }
}
