//! The fund ledger through the router, on SQLite and PostgreSQL: the append protocol, every
//! refusal a coordinator can cause, the public C2SP files, the page, goals, exports and
//! receipts. Checkpoints here are signed and checked by code written from the C2SP and
//! RFC 6962 texts in this file, not by the crates the hub uses, so the two cross-check.

#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::{coordinator, get, post_json, router, seed, send, token, Coordinator};
use ed25519_dalek::Signer;
use panah_core::ledger::receipt::ReceiptCode;
use panah_server::Settings;
use panah_store::testing::every_engine;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

const ORIGIN: &str = "hub.example/c/roshanai/ledger";

/// The settings of a hub known as hub.example (which names its ledgers `ORIGIN`).
fn hub_settings() -> Settings {
    Settings {
        fallback_host: Some("hub.example".into()),
        ..Settings::default()
    }
}

fn sha256(parts: &[&[u8]]) -> [u8; 32] {
    let mut h = Sha256::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

/// RFC 6962 section 2.1 Merkle Tree Hash, straight from the text.
fn mth(leaves: &[Vec<u8>]) -> [u8; 32] {
    match leaves.len() {
        0 => sha256(&[]),
        1 => sha256(&[&[0], &leaves[0]]),
        n => {
            let k = 1 << (usize::BITS - 1 - (n - 1).leading_zeros());
            sha256(&[&[1], &mth(&leaves[..k]), &mth(&leaves[k..])])
        }
    }
}

/// C2SP signed-note: key ID is the first 4 bytes of SHA-256(name || 0x0A || 0x01 || key).
fn key_id(name: &str, who: &Coordinator) -> [u8; 4] {
    let h = sha256(&[name.as_bytes(), b"\n", &[1], who.key.signing().as_bytes()]);
    [h[0], h[1], h[2], h[3]]
}

/// A C2SP checkpoint signed as a C2SP signed note, written from the specs.
fn signed_checkpoint(who: &Coordinator, size: u64, root: &[u8; 32]) -> String {
    let body = format!("{ORIGIN}\n{size}\n{}\n", STANDARD.encode(root));
    let sig = who.signing.sign(body.as_bytes());
    let mut blob = key_id(ORIGIN, who).to_vec();
    blob.extend_from_slice(&sig.to_bytes());
    format!("{body}\n\u{2014} {ORIGIN} {}\n", STANDARD.encode(blob))
}

fn entry(who: &Coordinator, kind: &str, category: &str, minor: i64, memo: &str) -> String {
    format!(
        "panah-ledger-entry 1\nkind {kind}\ndate 2021-09-01 day\ncategory {category}\namount {minor} AFN\nbase {minor} AFN\nrail cash\ncoordinator {}\nmemo {memo}\n",
        who.key.fingerprint()
    )
}

async fn put_json(app: &Router, uri: &str, body: Value, token: &str) -> common::Response {
    let req = Request::put(uri)
        .header(header::CONTENT_TYPE, "application/json")
        .header(header::AUTHORIZATION, format!("Bearer {token}"))
        .body(Body::from(body.to_string()))
        .unwrap();
    send(app, req).await
}

/// Starts the ledger and returns (app, token, coordinator, collective id).
async fn started(store: panah_store::Store) -> (Router, String, Coordinator) {
    started_with(store, hub_settings()).await
}

async fn started_with(
    store: panah_store::Store,
    settings: Settings,
) -> (Router, String, Coordinator) {
    let (_, app, t, who) = started_state(store, settings).await;
    (app, t, who)
}

/// [`started_with`], and the hub's state.
async fn started_state(
    store: panah_store::Store,
    settings: Settings,
) -> (panah_server::AppState, Router, String, Coordinator) {
    let cid = seed(&store, "roshanai").await;
    let who = coordinator();
    store.add_coordinator(cid, &who.key, "").await.unwrap();
    let dir = std::env::temp_dir().join(format!("panah-test-blobs-{}", std::process::id()));
    let blobs = panah_store::BlobStore::folder(&dir, &store).unwrap();
    let state = panah_server::AppState::new(store, blobs, settings)
        .await
        .unwrap();
    let app = panah_server::app(state.clone());
    let t = token(&app, "roshanai", &who).await;
    let res = post_json(
        &app,
        "/api/v1/c/roshanai/ledger",
        json!({"origin": ORIGIN, "base_currency": "AFN", "checkpoint": signed_checkpoint(&who, 0, &mth(&[]))}),
        Some(&t),
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.text());
    (state, app, t, who)
}

/// Prepares and appends `entries` at `base`, checking the hub's root against our own.
async fn append(
    app: &Router,
    t: &str,
    who: &Coordinator,
    all: &mut Vec<Vec<u8>>,
    entries: &[String],
) {
    let base = all.len();
    let prep = post_json(
        app,
        "/api/v1/c/roshanai/ledger/prepare",
        json!({"base_size": base, "entries": entries}),
        Some(t),
    )
    .await;
    assert_eq!(prep.status, StatusCode::OK, "{}", prep.text());
    all.extend(entries.iter().map(|e| e.clone().into_bytes()));
    let root = mth(all);
    assert_eq!(prep.json()["root"], STANDARD.encode(root));
    assert_eq!(prep.json()["size"], all.len());
    let res = post_json(
        app,
        "/api/v1/c/roshanai/ledger/append",
        json!({"base_size": base, "entries": entries, "checkpoint": signed_checkpoint(who, all.len() as u64, &root)}),
        Some(t),
    )
    .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.text());
}

#[tokio::test]
async fn appends_publish_c2sp_files_that_check_independently() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        let (app, t, who) = started(store).await;
        let mut all = Vec::new();
        let batch: Vec<String> = (0..300)
            .map(|i| entry(&who, "expense", "food", 1_000 + i, &format!("flour {i}")))
            .collect();
        append(&app, &t, &who, &mut all, &batch[..1]).await;
        append(&app, &t, &who, &mut all, &batch[1..300]).await;

        // The checkpoint: the C2SP body, then a signature line our key made.
        let cp = get(&app, "/c/roshanai/ledger/checkpoint", &[]).await;
        assert_eq!(cp.status, StatusCode::OK, "{engine}");
        assert_eq!(
            cp.headers[header::CONTENT_TYPE],
            "text/plain; charset=utf-8"
        );
        let text = cp.text();
        let (body, sigs) = text.split_once("\n\n").unwrap();
        assert_eq!(
            body,
            format!("{ORIGIN}\n300\n{}", STANDARD.encode(mth(&all)))
        );
        let sig_line = sigs
            .strip_prefix("\u{2014} ")
            .unwrap()
            .strip_suffix('\n')
            .unwrap();
        let (name, blob) = sig_line.split_once(' ').unwrap();
        assert_eq!(name, ORIGIN);
        let blob = STANDARD.decode(blob).unwrap();
        assert_eq!(blob[..4], key_id(ORIGIN, &who));
        let sig = ed25519_dalek::Signature::from_slice(&blob[4..]).unwrap();
        who.key
            .signing()
            .verify_strict(format!("{body}\n").as_bytes(), &sig)
            .unwrap();

        // The keys: C2SP verifier keys, name+hex key ID+base64(0x01 || key).
        let keys = get(&app, "/c/roshanai/ledger/keys", &[]).await.text();
        let mut raw = vec![1u8];
        raw.extend_from_slice(who.key.signing().as_bytes());
        let expected = format!(
            "{ORIGIN}+{}+{}\n",
            key_id(ORIGIN, &who)
                .iter()
                .map(|b| format!("{b:02x}"))
                .collect::<String>(),
            STANDARD.encode(raw)
        );
        assert_eq!(keys, expected, "{engine}");

        // Tiles: level 0 holds leaf hashes, level 1 the hash of each full 256-leaf subtree,
        // entry bundles hold big-endian u16 lengths and the entries.
        let t0 = get(&app, "/c/roshanai/ledger/tile/0/000", &[]).await;
        assert_eq!(t0.status, StatusCode::OK);
        assert_eq!(t0.body.len(), 256 * 32);
        assert_eq!(t0.body[32..64], sha256(&[&[0], &all[1]]));
        let t0p = get(&app, "/c/roshanai/ledger/tile/0/001.p/44", &[]).await;
        assert_eq!(t0p.body.len(), 44 * 32);
        let t1 = get(&app, "/c/roshanai/ledger/tile/1/000.p/1", &[]).await;
        assert_eq!(t1.body, mth(&all[..256]));
        let b = get(&app, "/c/roshanai/ledger/tile/entries/001.p/44", &[]).await;
        let first_len = usize::from(u16::from_be_bytes([b.body[0], b.body[1]]));
        assert_eq!(b.body[2..2 + first_len], all[256][..]);
        // A narrower partial tile is a prefix; beyond the signed tree there is nothing.
        let narrow = get(&app, "/c/roshanai/ledger/tile/entries/001.p/3", &[]).await;
        assert!(b.body.starts_with(&narrow.body));
        for (path, why) in [
            ("/c/roshanai/ledger/tile/0/001.p/45", "beyond the tree"),
            ("/c/roshanai/ledger/tile/0/002", "beyond the tree"),
            ("/c/roshanai/ledger/tile/0/1", "not a tile path"),
            ("/c/roshanai/ledger/tile/9/000", "not a tile path"),
            ("/c/roshanai/ledger/tile/entries/000.p/0", "not a tile path"),
            ("/c/nobody/ledger/tile/0/000", "no collective"),
            (
                "/c/roshanai/ledger/tile/0/x072/x057/x594/x037/x927/936",
                "past 2^64 positions",
            ),
            (
                "/c/roshanai/ledger/tile/entries/x018/x446/x744/x073/x709/x551/615",
                "u64::MAX",
            ),
        ] {
            let res = get(&app, path, &[]).await;
            assert_eq!(
                res.status,
                StatusCode::NOT_FOUND,
                "{engine}: {path} ({why})"
            );
        }
    }
}

#[tokio::test]
async fn every_bad_entry_and_request_is_a_precise_refusal() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        let (app, t, who) = started(store).await;
        let mut all = Vec::new();
        let code = ReceiptCode::generate();
        let receipt_hex: String = code
            .commitment()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let gift = entry(&who, "income", "food", 500_000, "gift").replace(
            "rail cash\n",
            &format!("rail cash\nreceipt {receipt_hex}\n"),
        );
        let spend = entry(&who, "expense", "power", 90_000, "fuel");
        append(&app, &t, &who, &mut all, &[gift.clone(), spend.clone()]).await;
        let reversal = spend
            .replace("kind expense", "kind reversal")
            .replace("rail cash", "reverses 1\nrail cash");
        append(&app, &t, &who, &mut all, std::slice::from_ref(&reversal)).await;

        let other = coordinator();
        let mut far = entry(&who, "expense", "food", 5, "x");
        far = far.replace("2021-09-01", "2999-01-01");
        let cases: Vec<(String, StatusCode, &str)> = vec![
            (
                entry(&who, "expense", "food", 0, "x"),
                StatusCode::UNPROCESSABLE_ENTITY,
                "more than zero",
            ),
            (
                entry(&who, "expense", "food", 5, "x").replace("AFN", "XYZ"),
                StatusCode::UNPROCESSABLE_ENTITY,
                "not a currency",
            ),
            (
                entry(&who, "expense", "weapons", 5, "x"),
                StatusCode::UNPROCESSABLE_ENTITY,
                "category",
            ),
            (
                entry(&who, "expense", "food", 5, &"x".repeat(201)),
                StatusCode::UNPROCESSABLE_ENTITY,
                "the most is 200",
            ),
            (
                reversal.replace("reverses 1", "reverses 99"),
                StatusCode::UNPROCESSABLE_ENTITY,
                "no entry 99",
            ),
            (
                reversal.clone(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "already reversed",
            ),
            (
                reversal.replace("reverses 1", "reverses 2"),
                StatusCode::UNPROCESSABLE_ENTITY,
                "itself a reversal",
            ),
            (
                reversal.replace("reverses 1", "reverses 0"),
                StatusCode::UNPROCESSABLE_ENTITY,
                "repeats the category",
            ),
            (
                entry(&other, "expense", "food", 5, "x"),
                StatusCode::UNPROCESSABLE_ENTITY,
                "but you are",
            ),
            (far, StatusCode::UNPROCESSABLE_ENTITY, "in the future"),
            (
                entry(&who, "expense", "food", 5, "x").replace("amount 5 AFN", "amount 05 AFN"),
                StatusCode::UNPROCESSABLE_ENTITY,
                "canonical",
            ),
            (
                entry(&who, "exchange", "other", 5, "x"),
                StatusCode::UNPROCESSABLE_ENTITY,
                "other side",
            ),
            (
                entry(&who, "expense", "food", 5, "x")
                    .replace("date 2021-09-01 day", "date 2021-09-01 week"),
                StatusCode::UNPROCESSABLE_ENTITY,
                "coarsened",
            ),
            (
                "hello".into(),
                StatusCode::UNPROCESSABLE_ENTITY,
                "not a ledger entry",
            ),
            (
                entry(&who, "expense", "food", 5, "paid 500\u{202E}0001"),
                StatusCode::UNPROCESSABLE_ENTITY,
                "direction overrides",
            ),
        ];
        for (bad, status, says) in cases {
            for endpoint in ["prepare", "append"] {
                let res = post_json(
                    &app,
                    &format!("/api/v1/c/roshanai/ledger/{endpoint}"),
                    json!({"base_size": 3, "entries": [bad], "checkpoint": "x"}),
                    Some(&t),
                )
                .await;
                assert_eq!(
                    res.status,
                    status,
                    "{engine} {endpoint}: {bad:?}: {}",
                    res.text()
                );
                let msg = res.json()["error"].as_str().unwrap().to_owned();
                assert!(
                    msg.contains(says) && msg.starts_with("entry 3: "),
                    "{engine}: {msg:?} should say {says:?}"
                );
            }
        }

        // A receipt code can be used once; a batch can reverse an entry only once.
        let good = entry(&who, "expense", "food", 7, "bread");
        let again_gift = gift.replace("memo gift", "memo another gift");
        for (batch, status, says) in [
            (
                vec![again_gift],
                StatusCode::CONFLICT,
                "receipt code used once",
            ),
            (
                vec![good.clone(); 1001],
                StatusCode::UNPROCESSABLE_ENTITY,
                "between 1 and 1000",
            ),
            (
                vec![],
                StatusCode::UNPROCESSABLE_ENTITY,
                "between 1 and 1000",
            ),
        ] {
            let mut tree = all.clone();
            tree.extend(batch.iter().map(|e| e.clone().into_bytes()));
            let res = post_json(
                &app,
                "/api/v1/c/roshanai/ledger/append",
                json!({"base_size": 3, "entries": batch, "checkpoint": signed_checkpoint(&who, tree.len() as u64, &mth(&tree))}),
                Some(&t),
            )
            .await;
            assert_eq!(res.status, status, "{engine}: {}", res.text());
            assert!(res.text().contains(says), "{engine}: {}", res.text());
        }

        // Checkpoints that do not sign exactly this tree, by this coordinator, are refused.
        let mut tree = all.clone();
        tree.push(good.clone().into_bytes());
        let stranger = coordinator();
        for (note, base, status, says) in [
            (
                signed_checkpoint(&who, 4, &mth(&all)),
                3,
                StatusCode::CONFLICT,
                "the hub's tree has 4 entries",
            ),
            (
                signed_checkpoint(&who, 5, &mth(&tree)),
                3,
                StatusCode::CONFLICT,
                "signs 5 entries",
            ),
            (
                signed_checkpoint(&stranger, 4, &mth(&tree)),
                3,
                StatusCode::UNPROCESSABLE_ENTITY,
                "does not check against your key",
            ),
            (
                "not a note".into(),
                3,
                StatusCode::UNPROCESSABLE_ENTITY,
                "does not check",
            ),
            (
                signed_checkpoint(&who, 4, &mth(&tree)),
                2,
                StatusCode::CONFLICT,
                "the ledger has 3 entries, not 2",
            ),
        ] {
            let res = post_json(
                &app,
                "/api/v1/c/roshanai/ledger/append",
                json!({"base_size": base, "entries": [good], "checkpoint": note}),
                Some(&t),
            )
            .await;
            assert_eq!(res.status, status, "{engine}: {}", res.text());
            assert!(
                res.text().contains(says),
                "{engine}: {} should say {says}",
                res.text()
            );
        }
        let res = post_json(
            &app,
            "/api/v1/c/roshanai/ledger/append",
            json!({"base_size": 3, "entries": [good]}),
            Some(&t),
        )
        .await;
        assert_eq!(
            res.status,
            StatusCode::BAD_REQUEST,
            "{engine}: {}",
            res.text()
        );
        // Nothing of the refused appends is published.
        let cp = get(&app, "/c/roshanai/ledger/checkpoint", &[]).await.text();
        assert!(cp.starts_with(&format!("{ORIGIN}\n3\n")), "{engine}: {cp}");

        // Bad bodies, bad starts, bad goals.
        for (uri, body, status) in [
            (
                "/api/v1/c/roshanai/ledger/prepare",
                json!({"base_size": -1, "entries": []}),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "/api/v1/c/roshanai/ledger/prepare",
                json!({"entries": [], "extra": 1}),
                StatusCode::UNPROCESSABLE_ENTITY,
            ),
            (
                "/api/v1/c/roshanai/ledger",
                json!({"origin": ORIGIN, "base_currency": "AFN", "checkpoint": "x"}),
                StatusCode::CONFLICT,
            ),
            (
                "/api/v1/c/other/ledger",
                json!({"origin": "o", "base_currency": "AFN", "checkpoint": "x"}),
                StatusCode::FORBIDDEN,
            ),
        ] {
            let res = post_json(&app, uri, body, Some(&t)).await;
            assert_eq!(res.status, status, "{engine} {uri}: {}", res.text());
        }
        for (body, says) in [
            (json!({"target": 0}), "more than zero"),
            (json!({"budgets": {"weapons": 5}}), "not a category"),
            (json!({"budgets": {"food": -5}}), "more than zero"),
            (json!({"target": "lots"}), "does not fit"),
        ] {
            let res = put_json(&app, "/api/v1/c/roshanai/ledger/goals", body, &t).await;
            assert!(res.status.is_client_error(), "{engine}: {}", res.text());
            assert!(res.text().contains(says), "{engine}: {}", res.text());
        }
    }
}

#[tokio::test]
async fn starting_a_ledger_is_checked() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        let cid = seed(&store, "roshanai").await;
        let who = coordinator();
        store.add_coordinator(cid, &who.key, "").await.unwrap();
        let app = router(store, hub_settings()).await;
        let t = token(&app, "roshanai", &who).await;
        for (path, status) in [
            ("/c/roshanai/ledger/checkpoint", StatusCode::NOT_FOUND),
            ("/c/roshanai/ledger/keys", StatusCode::NOT_FOUND),
            ("/c/roshanai/ledger.csv", StatusCode::NOT_FOUND),
            ("/c/roshanai/ledger", StatusCode::OK),
        ] {
            assert_eq!(get(&app, path, &[]).await.status, status, "{engine} {path}");
        }
        let res = get(&app, "/c/roshanai/ledger?lang=en", &[]).await;
        assert!(
            res.text().contains("has not started its ledger"),
            "{engine}"
        );
        let empty = mth(&[]);
        let stranger = coordinator();
        for (origin, currency, note, status, says) in [
            (
                "has space",
                "AFN",
                signed_checkpoint(&who, 0, &empty),
                StatusCode::UNPROCESSABLE_ENTITY,
                "this hub names the collective's ledger",
            ),
            // Another collective's path, or a look-alike of its own: the hub names it.
            (
                "hub.example/c/other/ledger",
                "AFN",
                signed_checkpoint(&who, 0, &empty),
                StatusCode::UNPROCESSABLE_ENTITY,
                r#"hub.example/c/roshanai/ledger\", not"#,
            ),
            (
                "hub.example/c/roshanai/1edger",
                "AFN",
                signed_checkpoint(&who, 0, &empty),
                StatusCode::UNPROCESSABLE_ENTITY,
                "this hub names the collective's ledger",
            ),
            (
                ORIGIN,
                "ZZZ",
                signed_checkpoint(&who, 0, &empty),
                StatusCode::BAD_REQUEST,
                "not a currency",
            ),
            (
                ORIGIN,
                "AFN",
                signed_checkpoint(&stranger, 0, &empty),
                StatusCode::UNPROCESSABLE_ENTITY,
                "does not check",
            ),
            (
                ORIGIN,
                "AFN",
                signed_checkpoint(&who, 1, &empty),
                StatusCode::CONFLICT,
                "signs 1 entries",
            ),
        ] {
            let res = post_json(
                &app,
                "/api/v1/c/roshanai/ledger",
                json!({"origin": origin, "base_currency": currency, "checkpoint": note}),
                Some(&t),
            )
            .await;
            assert_eq!(res.status, status, "{engine}: {}", res.text());
            assert!(res.text().contains(says), "{engine}: {}", res.text());
        }
        let res = get(
            &app,
            "/api/v1/c/roshanai/ledger",
            &[("authorization", &format!("Bearer {t}"))],
        )
        .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND, "{engine}");
        assert!(res.text().contains("panah ledger init"));
    }
}

#[tokio::test]
async fn the_page_goals_exports_and_receipts() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        let (app, t, who) = started(store).await;
        let mut all = Vec::new();
        let code = ReceiptCode::generate();
        let hex: String = code
            .commitment()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        let mut batch = vec![
            entry(&who, "income", "food", 1_250_050, "=HYPERLINK(\"x\")")
                .replace("rail cash\n", &format!("rail cash\nreceipt {hex}\n")),
        ];
        batch.extend((1..59).map(|i| {
            entry(
                &who,
                "expense",
                "food",
                10_000 + i,
                &format!("flour and oil for family group {i}"),
            )
        }));
        // The newest: a memo per language, shown in the reader's language, else the memo.
        batch.push(
            entry(&who, "expense", "food", 10_000, "flour for 20 families")
                .replace("panah-ledger-entry 1\n", "panah-ledger-entry 2\n")
                .replace(
                    "memo flour for 20 families\n",
                    "memo flour for 20 families\nmemo-fa آرد برای ۲۰ خانواده\nmemo-en Flour, 20 families\n",
                ),
        );
        append(&app, &t, &who, &mut all, &batch).await;
        let res = put_json(
            &app,
            "/api/v1/c/roshanai/ledger/goals",
            json!({"target": 5_000_000, "budgets": {"food": 1_000_000, "power": 300_000}}),
            &t,
        )
        .await;
        assert_eq!(res.status, StatusCode::OK, "{engine}: {}", res.text());

        // The appeal shows the goals as <progress> bars, in Persian digits for Dari.
        let appeal = get(&app, "/c/roshanai?lang=fa", &[]).await.text();
        assert!(
            appeal.contains("<progress max=\"5000000\" value=\"1250050\">"),
            "{engine}: {appeal}"
        );
        assert!(
            appeal.contains("۱۲٬۵۰۰٫۵۰\u{a0}افغانی جمع‌آوری شده از ۵۰٬۰۰۰\u{a0}افغانی"),
            "{engine}"
        );
        assert!(
            appeal.contains("<progress max=\"300000\" value=\"0\">"),
            "{engine}"
        );

        // The ledger page: totals, the latest 50 of 60, the checkpoint; small and script-free.
        for (lang, says) in [
            ("fa", "۶۰"),
            ("ps", "وروستۍ"),
            ("en", "The latest 50 of 60 entries"),
        ] {
            let res = get(
                &app,
                &format!("/c/roshanai/ledger?lang={lang}"),
                &[("accept-encoding", "gzip")],
            )
            .await;
            assert_eq!(res.status, StatusCode::OK, "{engine} {lang}");
            common::assert_security_headers(&res, "ledger page");
            assert!(
                res.body.len() < 14 * 1024,
                "{engine} {lang}: {} bytes compressed",
                res.body.len()
            );
            let html = get(&app, &format!("/c/roshanai/ledger?lang={lang}"), &[])
                .await
                .text();
            assert!(html.contains(says), "{engine} {lang}");
            assert!(!html.contains("<script"), "{engine}");
            assert_eq!(
                html.matches("<tr><td class=\"a\">").count(),
                50,
                "{engine} {lang}"
            );
            assert!(html.contains("hub.example/c/roshanai/ledger"), "{engine}");
        }

        let fa = get(&app, "/c/roshanai/ledger?lang=fa", &[]).await.text();
        assert!(fa.contains("<bdi>آرد برای ۲۰ خانواده</bdi>"), "{engine}");
        let ps = get(&app, "/c/roshanai/ledger?lang=ps", &[]).await.text();
        assert!(ps.contains("<bdi>flour for 20 families</bdi>"), "{engine}");
        let en = get(&app, "/c/roshanai/ledger?lang=en", &[]).await.text();
        assert!(en.contains("<bdi>Flour, 20 families</bdi>"), "{engine}");

        // Exports: every entry; a memo a spreadsheet would run is defused in the CSV only.
        let csv = get(&app, "/c/roshanai/ledger.csv", &[]).await;
        assert_eq!(csv.headers[header::CONTENT_TYPE], "text/csv; charset=utf-8");
        let text = csv.text();
        assert_eq!(text.lines().count(), 61, "{engine}: header and 60 rows");
        assert_eq!(
            text.matches("\r\n").count(),
            61,
            "{engine}: RFC 4180 records end with CRLF"
        );
        assert!(
            text.starts_with("index,kind,date,precision,category,amount,currency,base_amount"),
            "{text}"
        );
        assert!(
            text.contains("\"'=HYPERLINK(\"\"x\"\")\""),
            "{engine}: {}",
            text.lines().nth(1).unwrap()
        );
        let json = get(&app, "/c/roshanai/ledger.json", &[]).await.json();
        assert_eq!(json["entries"].as_array().unwrap().len(), 60);
        assert_eq!(json["entries"][0]["memo"], "=HYPERLINK(\"x\")");
        assert_eq!(json["entries"][0]["amount"], "12500.50");
        assert_eq!(json["raised"], "12500.50");
        assert_eq!(json["entries"][0]["receipt_sha256"], hex);
        assert_eq!(json["entries"][59]["memo_fa"], "آرد برای ۲۰ خانواده");
        assert_eq!(json["entries"][59]["memo_ps"], serde_json::Value::Null);
        assert!(
            text.lines()
                .next()
                .unwrap()
                .ends_with(",memo_fa,memo_ps,memo_en"),
            "{engine}: {}",
            text.lines().next().unwrap()
        );

        // Receipts: found in any digits; unknown, malformed and missing codes say so.
        receipts(&app, &code, engine).await;
    }
}

/// The page's totals are kept up to date entry by entry (a reversal of an entry from an
/// earlier batch included) and equal what a hub that reads the ledger afresh shows.
#[tokio::test]
async fn totals_kept_up_to_date_equal_totals_from_scratch() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        let uncached = Settings {
            page_cache_secs: 0,
            ..hub_settings()
        };
        let (app, t, who) = started_with(store.clone(), uncached.clone()).await;
        let mut all = Vec::new();
        let gift = entry(&who, "income", "food", 1_000_000, "gift");
        append(
            &app,
            &t,
            &who,
            &mut all,
            &[
                gift.clone(),
                entry(&who, "expense", "power", 200_000, "fuel"),
            ],
        )
        .await;
        let before = get(&app, "/c/roshanai/ledger?lang=en", &[]).await.text();
        assert!(before.contains("10,000\u{a0}AFN"), "{engine}");
        let reversal = gift
            .replace("kind income", "kind reversal")
            .replace("rail cash", "reverses 0\nrail cash");
        let day_before = time::OffsetDateTime::now_utc().date();
        append(
            &app,
            &t,
            &who,
            &mut all,
            &[reversal, entry(&who, "expense", "food", 50_000, "bread")],
        )
        .await;
        let after = get(&app, "/c/roshanai/ledger?lang=en", &[]).await.text();
        let fresh = router(store.clone(), uncached.clone()).await;
        let from_scratch = get(&fresh, "/c/roshanai/ledger?lang=en", &[]).await.text();
        assert_eq!(after, from_scratch, "{engine}");
        assert!(
            after.contains("<dd>0\u{a0}AFN</dd>"),
            "{engine}: nothing raised once the gift is reversed"
        );
        assert!(after.contains("<dd>2,500\u{a0}AFN</dd>"), "{engine}: spent");
        assert!(after.contains("cancelled by a later entry"), "{engine}");
        let json = get(&app, "/c/roshanai/ledger.json", &[]).await.json();
        assert_eq!(json["raised"], "0.00", "{engine}");
        assert_eq!(json["entries"][0]["reversed"], true, "{engine}");
        assert!(
            signing_days(day_before)
                .iter()
                .any(|d| after.contains(&format!("dated {}.", english(*d)))),
            "{engine}: a batch of day-dated entries shows the day"
        );

        // Dollars in, two exchanges to afghanis at a loss, one of them reversed, kept up to
        // date batch by batch: the same page as a hub reading everything afresh, and the
        // exchange cost on its own line.
        let dollars = entry(&who, "income", "food", 100_000, "gift in dollars")
            .replace("amount 100000 AFN", "amount 100000 USD")
            .replace("base 100000 AFN", "base 8000000 AFN");
        let exchange = |usd: i64, base: i64, afn: i64| {
            entry(&who, "exchange", "other", usd, "changed")
                .replace(&format!("amount {usd} AFN"), &format!("amount {usd} USD"))
                .replace(
                    &format!("base {usd} AFN"),
                    &format!("base {base} AFN\ncounter {afn} AFN"),
                )
        };
        append(&app, &t, &who, &mut all, &[dollars]).await;
        append(
            &app,
            &t,
            &who,
            &mut all,
            &[
                exchange(50_000, 4_000_000, 3_950_000),
                exchange(25_000, 2_000_000, 1_990_000),
            ],
        )
        .await;
        let second = exchange(25_000, 2_000_000, 1_990_000)
            .replace("kind exchange", "kind reversal")
            .replace("rail cash", "reverses 6\nrail cash");
        append(&app, &t, &who, &mut all, &[second]).await;
        let after = get(&app, "/c/roshanai/ledger?lang=en", &[]).await.text();
        let fresh = router(store.clone(), uncached.clone()).await;
        let from_scratch = get(&fresh, "/c/roshanai/ledger?lang=en", &[]).await.text();
        assert_eq!(
            after, from_scratch,
            "{engine}: incremental = afresh, with exchanges"
        );
        assert!(
            after.contains("<dt>Lost in currency exchange</dt><dd>500\u{a0}AFN</dd>"),
            "{engine}: {after}"
        );
        let json = get(&app, "/c/roshanai/ledger.json", &[]).await.json();
        assert_eq!(json["exchange_costs"], "500.00", "{engine}");
        assert_eq!(json["book_values"]["USD"], "40000.00", "{engine}");

        // A batch with an entry dated to the week: the checkpoint's date is the week too.
        let trip = entry(&who, "expense", "relocation", 30_000, "bus tickets")
            .replace("date 2021-09-01 day", "date 2021-08-30 week");
        let day_before = time::OffsetDateTime::now_utc().date();
        append(&app, &t, &who, &mut all, &[trip]).await;
        let page = get(&app, "/c/roshanai/ledger?lang=en", &[]).await.text();
        let weeks: Vec<String> = signing_days(day_before)
            .iter()
            .map(|day| {
                let monday =
                    *day - time::Duration::days(i64::from(day.weekday().number_days_from_monday()));
                let sunday = monday + time::Duration::days(6);
                format!("dated {} to {}.", english(monday), english(sunday))
            })
            .collect();
        assert!(
            weeks.iter().any(|week| page.contains(week)),
            "{engine}: the signing date is kept to the week: {weeks:?}"
        );
        for day in signing_days(day_before) {
            assert!(
                !page.contains(&format!("dated {}.", english(day))),
                "{engine}: not the day itself"
            );
        }
    }
}

/// The UTC days a checkpoint signed since `before` may carry: that day, or the next if the
/// test ran across midnight.
fn signing_days(before: time::Date) -> Vec<time::Date> {
    let now = time::OffsetDateTime::now_utc().date();
    if now == before {
        vec![now]
    } else {
        vec![before, now]
    }
}

async fn receipts(app: &Router, code: &ReceiptCode, engine: &str) {
    let persian = panah_core::digits::to_persian(&code.grouped());
    let form = |code: &str| {
        Request::post("/c/roshanai/ledger/receipt?lang=en")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from(format!("code={}", urlencode(code))))
            .unwrap()
    };
    let found = send(app, form(&persian)).await;
    assert_eq!(found.status, StatusCode::OK, "{engine}: {}", found.text());
    let text = found.text();
    assert!(text.contains("Your gift is in the ledger."), "{engine}");
    assert!(
        text.contains("entry number 0 of the 60 entries"),
        "{engine}"
    );
    // The command to check it at home works when pasted: the code is one argument.
    assert!(
        text.contains(&format!("/c/roshanai/ledger &#34;{}&#34;", code.grouped()))
            || text.contains(&format!(
                "/c/roshanai/ledger &quot;{}&quot;",
                code.grouped()
            )),
        "{engine}: {text}"
    );
    assert!(text.contains("checks against the signed root"), "{engine}");
    assert_eq!(found.headers[header::CACHE_CONTROL], "no-store");
    for (code, status, says) in [
        (
            ReceiptCode::generate().grouped(),
            StatusCode::NOT_FOUND,
            "No gift in this ledger",
        ),
        ("1234".into(), StatusCode::BAD_REQUEST, "20 digits"),
        ("abcd efgh".into(), StatusCode::BAD_REQUEST, "20 digits"),
    ] {
        let res = send(app, form(&code)).await;
        assert_eq!(res.status, status, "{engine}: {code}");
        assert!(res.text().contains(says), "{engine}: {code}");
        assert!(
            res.text().contains(&format!("value=\"{code}\"")),
            "{engine}: what was typed is given back to mend"
        );
    }
    let res = send(
        app,
        Request::post("/c/roshanai/ledger/receipt")
            .header(header::CONTENT_TYPE, "text/plain")
            .body(Body::from("x"))
            .unwrap(),
    )
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{engine}");
}

/// A donor whose gift was later cancelled still finds it by its receipt code, and is told
/// it was cancelled, not left to think it was spent.
#[tokio::test]
async fn the_receipt_of_a_reversed_gift_says_it_was_cancelled() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        let (app, t, who) = started(store).await;
        let code = ReceiptCode::generate();
        let gift = entry(&who, "income", "food", 250_000, "gift").replace(
            "rail cash\n",
            &format!(
                "rail cash\nreceipt {}\n",
                panah_core::hex(&code.commitment())
            ),
        );
        let reversal = entry(&who, "reversal", "food", 250_000, "entered twice")
            .replace("rail cash", "reverses 0\nrail cash");
        let mut all = Vec::new();
        append(&app, &t, &who, &mut all, &[gift]).await;
        let before = send(&app, receipt_form(&code.grouped())).await;
        assert_eq!(before.status, StatusCode::OK, "{engine}: {}", before.text());
        assert!(
            !before.text().contains("cancelled by a later entry"),
            "{engine}"
        );
        append(&app, &t, &who, &mut all, &[reversal]).await;
        let after = send(&app, receipt_form(&code.grouped())).await;
        assert_eq!(after.status, StatusCode::OK, "{engine}: {}", after.text());
        let text = after.text();
        assert!(text.contains("Your gift is in the ledger."), "{engine}");
        assert!(
            text.contains("cancelled by a later entry"),
            "{engine}: {text}"
        );
        assert!(
            text.contains("entry number 0 of the 2 entries"),
            "{engine}: {text}"
        );
    }
}

fn receipt_form(code: &str) -> Request<Body> {
    Request::post("/c/roshanai/ledger/receipt?lang=en")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Body::from(format!("code={}", urlencode(code))))
        .unwrap()
}

/// A date as the English pages write it: `30 August 2021`.
fn english(d: time::Date) -> String {
    format!("{} {} {}", d.day(), d.month(), d.year())
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// A collective can keep a payment rail off its pages (naming crypto can be dangerous where
/// it is banned); the other rails are still named.
#[tokio::test]
async fn hidden_rails_are_not_named_on_the_pages() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        let uncached = Settings {
            page_cache_secs: 0,
            ..hub_settings()
        };
        let (app, t, who) = started_with(store.clone(), uncached).await;
        let mut all = Vec::new();
        let gift =
            entry(&who, "income", "food", 500_000, "gift").replace("rail cash", "rail crypto");
        append(
            &app,
            &t,
            &who,
            &mut all,
            &[gift, entry(&who, "expense", "food", 1_000, "bread")],
        )
        .await;
        let page = get(&app, "/c/roshanai/ledger?lang=en", &[]).await.text();
        assert!(page.contains("· cryptocurrency"), "{engine}");
        let c = store
            .collective(&panah_core::Slug::parse("roshanai").unwrap())
            .await
            .unwrap()
            .unwrap();
        store
            .set_hidden_rails(c.id, &[panah_core::ledger::Rail::Crypto])
            .await
            .unwrap();
        for lang in ["en", "fa", "ps"] {
            let page = get(&app, &format!("/c/roshanai/ledger?lang={lang}"), &[])
                .await
                .text();
            for word in ["cryptocurrency", "پول دیجیتال", "ډیجیټلي پیسې"] {
                assert!(!page.contains(word), "{engine} {lang}: {word}");
            }
            assert!(
                page.contains("· cash")
                    || page.contains("، پول نقد")
                    || page.contains("، نغدې پیسې"),
                "{engine} {lang}: other rails are still named"
            );
        }
    }
}

/// The static copy is the files the hub serves, byte for byte; it follows appends; and it
/// is never put back to an older checkpoint (which every verifier would take for a
/// rolled-back log), not even by a process that starts after a restore.
#[tokio::test]
async fn the_static_copy_is_what_the_hub_serves_and_never_goes_back() {
    use panah_server::publish::{PublishTo, Publisher};
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        let (state, app, t, who) = started_state(store, hub_settings()).await;
        let mut all = Vec::new();
        let batch: Vec<String> = (0..300)
            .map(|i| entry(&who, "expense", "food", 1_000 + i, &format!("flour {i}")))
            .collect();
        append(&app, &t, &who, &mut all, &batch).await;

        let folder = dir.path().join(format!("{engine}-static"));
        let publisher = Publisher::open(&PublishTo::Folder(folder.clone())).unwrap();
        let mut known = std::collections::HashMap::new();
        let done = publisher.publish_all(&state, &mut known).await.unwrap();
        assert!(done.files > 0, "{engine}");
        let same_as_hub = |size: u64| {
            let (app, folder) = (app.clone(), folder.clone());
            async move {
                let base = folder.join("c/roshanai/ledger");
                let mut paths = vec!["checkpoint".to_owned(), "keys".to_owned()];
                paths.extend(
                    panah_core::tlog::tiles::tiles_for(size)
                        .iter()
                        .map(|t| t.path()),
                );
                for path in paths {
                    let served = get(&app, &format!("/c/roshanai/ledger/{path}"), &[]).await;
                    let copied = std::fs::read(base.join(&path)).unwrap();
                    assert_eq!(served.body, copied, "{path}");
                }
            }
        };
        same_as_hub(300).await;
        // Nothing new: nothing written.
        assert_eq!(
            publisher
                .publish_all(&state, &mut known)
                .await
                .unwrap()
                .files,
            0
        );
        append(&app, &t, &who, &mut all, &batch[..10]).await;
        let done = publisher.publish_all(&state, &mut known).await.unwrap();
        assert!(
            done.files >= 3 && done.files < 10,
            "{engine}: only what changed, {done:?}"
        );
        same_as_hub(310).await;

        // A copy ahead of the hub (the hub restored from an older backup): a process that
        // starts now does not publish backwards.
        let checkpoint = folder.join("c/roshanai/ledger/checkpoint");
        let ahead = std::fs::read_to_string(&checkpoint)
            .unwrap()
            .replacen("\n310\n", "\n999\n", 1);
        std::fs::write(&checkpoint, &ahead).unwrap();
        let mut fresh = std::collections::HashMap::new();
        publisher.publish_all(&state, &mut fresh).await.unwrap();
        assert_eq!(
            std::fs::read_to_string(&checkpoint).unwrap(),
            ahead,
            "{engine}"
        );
    }
}
