//! The case tracker's API through the router, on SQLite and PostgreSQL: a blind store that
//! checks who writes, that ids and versions follow each other and that what it keeps is
//! age ciphertext; every refusal a coordinator (or a stolen token) can cause; and that a
//! deleted record's bytes are gone from the database files.

#![allow(clippy::unwrap_used)]

mod common;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use common::{coordinator, get, router, seed, send, token};
use panah_server::Settings;
use panah_store::testing::every_engine;
use serde_json::{json, Value};

/// An age file of `n` random-looking bytes to one throwaway recipient (the hub cannot
/// tell it from a real record).
fn age_file(n: usize) -> Vec<u8> {
    let r = age::x25519::Identity::generate().to_public();
    let plain: Vec<u8> = (0..n).map(|i| (i * 7 % 251) as u8).collect();
    panah_core::age_file::encrypt(&[r], &plain).unwrap()
}

async fn call(
    app: &Router,
    method: &str,
    uri: &str,
    body: Option<Value>,
    token: Option<&str>,
) -> common::Response {
    let mut req = Request::builder().method(method).uri(uri);
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    let body = match body {
        Some(b) => {
            req = req.header(header::CONTENT_TYPE, "application/json");
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    send(app, req.body(body).unwrap()).await
}

fn put_body(base: Option<i64>, version: i64, wrapped: &[u8], body: &[u8]) -> Value {
    json!({"base": base, "version": version, "wrapped": STANDARD.encode(wrapped), "body": STANDARD.encode(body)})
}

/// The first file directly in `dir` holding `needle`.
fn found_in(dir: &std::path::Path, needle: &[u8]) -> Option<std::path::PathBuf> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|f| f.unwrap().path())
        .find(|p| {
            p.is_file()
                && std::fs::read(p)
                    .unwrap()
                    .windows(needle.len())
                    .any(|w| w == needle)
        })
}

const ID: &str = "0123456789abcdef0123456789abcdef";

#[tokio::test]
async fn records_are_stored_blind_and_compare_and_set() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        let cid = seed(&store, "roshanai").await;
        let other = seed(&store, "other").await;
        let (a, b, o) = (coordinator(), coordinator(), coordinator());
        store.add_coordinator(cid, &a.key, "").await.unwrap();
        store.add_coordinator(cid, &b.key, "").await.unwrap();
        store.add_coordinator(other, &o.key, "").await.unwrap();
        let app = router(store.clone(), Settings::default()).await;
        let ta = token(&app, "roshanai", &a).await;
        let tb = token(&app, "roshanai", &b).await;
        let to = token(&app, "other", &o).await;
        let url = format!("/api/v1/c/roshanai/records/{ID}");
        let (w1, b1) = (age_file(200), age_file(1024));

        // Nobody without a token; no token of another collective.
        let res = call(
            &app,
            "GET",
            "/api/v1/c/roshanai/records?since=0",
            None,
            None,
        )
        .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{engine}");
        let res = call(
            &app,
            "GET",
            "/api/v1/c/roshanai/records?since=0",
            None,
            Some(&to),
        )
        .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{engine}");
        let res = call(
            &app,
            "PUT",
            &url,
            Some(put_body(None, 1, &w1, &b1)),
            Some(&to),
        )
        .await;
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{engine}");

        // A new record, then a second creation of it refused.
        let res = call(
            &app,
            "PUT",
            &url,
            Some(put_body(None, 1, &w1, &b1)),
            Some(&ta),
        )
        .await;
        assert_eq!(res.status, StatusCode::OK, "{engine}: {}", res.text());
        assert_eq!(res.json()["seq"], 1);
        let res = call(
            &app,
            "PUT",
            &url,
            Some(put_body(None, 1, &w1, &b1)),
            Some(&tb),
        )
        .await;
        assert_eq!(res.status, StatusCode::PRECONDITION_FAILED, "{engine}");
        assert!(
            res.json()["error"].as_str().unwrap().contains("version 1"),
            "{}",
            res.text()
        );

        // Two edits of version 1: the second loses, told which version is current.
        let (w2, b2) = (age_file(200), age_file(2000));
        let res = call(
            &app,
            "PUT",
            &url,
            Some(put_body(Some(1), 2, &w2, &b2)),
            Some(&tb),
        )
        .await;
        assert_eq!(res.status, StatusCode::OK, "{engine}: {}", res.text());
        let res = call(
            &app,
            "PUT",
            &url,
            Some(put_body(Some(1), 2, &w1, &b1)),
            Some(&ta),
        )
        .await;
        assert_eq!(res.status, StatusCode::PRECONDITION_FAILED, "{engine}");
        assert!(res.json()["error"].as_str().unwrap().contains("version 2"));

        // What anyone may not send, each with its own words.
        let bad: Vec<(&str, Value, StatusCode, &str)> = vec![
            (
                "version skips",
                put_body(Some(2), 4, &w1, &b1),
                StatusCode::UNPROCESSABLE_ENTITY,
                "plus one",
            ),
            (
                "version zero",
                put_body(None, 0, &w1, &b1),
                StatusCode::UNPROCESSABLE_ENTITY,
                "plus one",
            ),
            (
                "negative base",
                put_body(Some(-1), 0, &w1, &b1),
                StatusCode::UNPROCESSABLE_ENTITY,
                "plus one",
            ),
            (
                "not age",
                put_body(Some(2), 3, b"plain text about Lale-7", &b1),
                StatusCode::UNPROCESSABLE_ENTITY,
                "not an age file",
            ),
            (
                "body not age",
                put_body(Some(2), 3, &w1, b"{\"kind\":\"need\"}"),
                StatusCode::UNPROCESSABLE_ENTITY,
                "not an age file",
            ),
            (
                "not base64",
                json!({"version": 1, "wrapped": "%%%", "body": "%%%"}),
                StatusCode::BAD_REQUEST,
                "base64",
            ),
            (
                "unknown field",
                json!({"version": 1, "wrapped": "", "body": "", "name": "x"}),
                StatusCode::UNPROCESSABLE_ENTITY,
                "unknown field",
            ),
            (
                "wrapped too large",
                put_body(Some(2), 3, &age_file(20_000), &b1),
                StatusCode::PAYLOAD_TOO_LARGE,
                "larger than",
            ),
        ];
        for (what, body, status, words) in bad {
            let res = call(&app, "PUT", &url, Some(body), Some(&ta)).await;
            assert_eq!(res.status, status, "{engine}: {what}: {}", res.text());
            assert!(
                res.json()["error"].as_str().unwrap().contains(words),
                "{what}: {}",
                res.text()
            );
        }
        let res = call(
            &app,
            "PUT",
            &url,
            Some(put_body(Some(2), 3, &w1, &age_file(800 * 1024))),
            Some(&ta),
        )
        .await;
        assert_eq!(
            res.status,
            StatusCode::PAYLOAD_TOO_LARGE,
            "{engine}: a record over the limit"
        );
        for id in [
            "../../etc/passwd",
            "0123",
            "0123456789ABCDEF0123456789ABCDEF",
            "zz23456789abcdef0123456789abcdef",
        ] {
            let res = call(
                &app,
                "PUT",
                &format!("/api/v1/c/roshanai/records/{id}"),
                Some(put_body(None, 1, &w1, &b1)),
                Some(&ta),
            )
            .await;
            assert!(
                res.status == StatusCode::BAD_REQUEST || res.status == StatusCode::NOT_FOUND,
                "{engine}: {id}: {}",
                res.status
            );
        }
        for q in ["since=-1", "since=x", "since=1&more=2"] {
            let res = call(
                &app,
                "GET",
                &format!("/api/v1/c/roshanai/records?{q}"),
                None,
                Some(&ta),
            )
            .await;
            assert_eq!(res.status, StatusCode::BAD_REQUEST, "{engine}: {q}");
        }

        // Listed in change order; exactly what was stored, opaque.
        let res = get(
            &app,
            "/api/v1/c/roshanai/records?since=0",
            &[("authorization", &format!("Bearer {tb}"))],
        )
        .await;
        assert_eq!(res.status, StatusCode::OK);
        let page = res.json();
        assert_eq!(page["records"].as_array().unwrap().len(), 1, "{engine}");
        let item = &page["records"][0];
        assert_eq!(item["id"], ID);
        assert_eq!(item["version"], 2);
        assert_eq!(STANDARD.decode(item["body"].as_str().unwrap()).unwrap(), b2);
        assert_eq!(page["more"], false);
        let next = page["next"].as_i64().unwrap();
        let res = call(
            &app,
            "GET",
            &format!("/api/v1/c/roshanai/records?since={next}"),
            None,
            Some(&ta),
        )
        .await;
        assert_eq!(res.json()["records"].as_array().unwrap().len(), 0);
        // The other collective sees nothing of it.
        let res = call(
            &app,
            "GET",
            "/api/v1/c/other/records?since=0",
            None,
            Some(&to),
        )
        .await;
        assert_eq!(
            res.json()["records"].as_array().unwrap().len(),
            0,
            "{engine}"
        );

        if engine == "sqlite" {
            assert!(
                found_in(dir.path(), &b2[b2.len() - 64..]).is_some(),
                "the scan finds a stored record"
            );
        }
        // A new version (a deletion is one too, signed on the device) replaces the old
        // content entirely; there is no unsigned way to delete.
        let res = call(&app, "DELETE", &format!("{url}?version=2"), None, Some(&ta)).await;
        assert_eq!(res.status, StatusCode::METHOD_NOT_ALLOWED, "{engine}");
        let (w3, b3) = (age_file(200), age_file(1024));
        let res = call(
            &app,
            "PUT",
            &url,
            Some(put_body(Some(2), 3, &w3, &b3)),
            Some(&tb),
        )
        .await;
        assert_eq!(res.status, StatusCode::OK, "{engine}: {}", res.text());
        let res = call(
            &app,
            "GET",
            &format!("/api/v1/c/roshanai/records?since={next}"),
            None,
            Some(&tb),
        )
        .await;
        let item = &res.json()["records"][0];
        assert_eq!(
            (item["id"].as_str(), item["version"].as_i64()),
            (Some(ID), Some(3))
        );

        // The replaced version's bytes are in no file of the SQLite database any more
        // (they were before: the scan finds what it looks for).
        if engine == "sqlite" {
            let needle = &b2[b2.len() - 64..];
            assert!(
                found_in(dir.path(), needle).is_none(),
                "a replaced record's ciphertext is still in {:?}",
                found_in(dir.path(), needle)
            );
            // Nor is the first version's, overwritten by the second.
            assert!(found_in(dir.path(), &b1[b1.len() - 64..]).is_none());
        }
    }
}

#[tokio::test]
async fn a_batch_is_one_transaction_of_separate_compare_and_sets() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        let cid = seed(&store, "roshanai").await;
        let a = coordinator();
        store.add_coordinator(cid, &a.key, "").await.unwrap();
        let app = router(store.clone(), Settings::default()).await;
        let ta = token(&app, "roshanai", &a).await;
        let url = "/api/v1/c/roshanai/records/batch";
        let (w, b) = (
            STANDARD.encode(age_file(100)),
            STANDARD.encode(age_file(1000)),
        );
        let id = |n: u8| format!("{:032x}", n);
        let change = |n: u8, base: Option<i64>, content: bool| {
            let mut c = json!({"id": id(n), "base": base, "version": base.unwrap_or(0) + 1});
            if content {
                c["wrapped"] = json!(w);
                c["body"] = json!(b);
            }
            c
        };
        let res = call(&app, "POST", url, Some(json!({"changes": [change(1, None, true), change(2, None, true), change(3, None, true)]})), Some(&ta)).await;
        assert_eq!(res.status, StatusCode::OK, "{engine}: {}", res.text());
        let results = res.json()["results"].clone();
        assert_eq!(
            results
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["seq"].as_i64().unwrap())
                .collect::<Vec<_>>(),
            [1, 2, 3]
        );

        // One stale change is refused alone; the others in the batch go through.
        let res = call(&app, "POST", url, Some(json!({"changes": [change(1, Some(1), true), change(2, Some(7), true), change(3, Some(1), true)]})), Some(&ta)).await;
        assert_eq!(res.status, StatusCode::OK, "{engine}: {}", res.text());
        let r = res.json()["results"].clone();
        assert_eq!(
            (
                r[0]["status"].as_u64(),
                r[1]["status"].as_u64(),
                r[2]["status"].as_u64()
            ),
            (Some(200), Some(412), Some(200)),
            "{engine}: {r}"
        );
        assert!(r[1]["error"].as_str().unwrap().contains("version 1"));

        // A malformed change refuses the whole batch, naming it; nothing is written.
        let before = store.records_seq(cid).await.unwrap();
        let res = call(&app, "POST", url, Some(json!({"changes": [change(4, None, true), {"id": "x", "version": 1, "wrapped": w, "body": b}]})), Some(&ta)).await;
        assert_eq!(
            res.status,
            StatusCode::BAD_REQUEST,
            "{engine}: {}",
            res.text()
        );
        assert!(
            res.json()["error"]
                .as_str()
                .unwrap()
                .starts_with("change 1: "),
            "{}",
            res.text()
        );
        for (what, body, words) in [
            (
                "twice",
                json!({"changes": [change(5, None, true), change(5, None, true)]}),
                "another change in the batch",
            ),
            (
                "half",
                json!({"changes": [{"id": id(6), "version": 1, "wrapped": w}]}),
                "carries both its wrapped key",
            ),
            (
                "without content",
                json!({"changes": [change(7, Some(1), false)]}),
                "carries both its wrapped key",
            ),
            ("empty", json!({"changes": []}), "1 to 200"),
            (
                "too many",
                json!({"changes": (0..201).map(|i| change((i % 250) as u8, None, false)).collect::<Vec<_>>()}),
                "1 to 200",
            ),
        ] {
            let res = call(&app, "POST", url, Some(body), Some(&ta)).await;
            assert_eq!(
                res.status,
                StatusCode::UNPROCESSABLE_ENTITY,
                "{engine}: {what}: {}",
                res.text()
            );
            assert!(
                res.json()["error"].as_str().unwrap().contains(words),
                "{what}: {}",
                res.text()
            );
        }
        assert_eq!(store.records_seq(cid).await.unwrap(), before, "{engine}");
        let res = call(
            &app,
            "POST",
            url,
            Some(json!({"changes": [change(8, None, true)]})),
            None,
        )
        .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }
}
