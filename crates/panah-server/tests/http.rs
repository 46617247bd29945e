//! The server through its router, on SQLite and PostgreSQL: pages, languages, security
//! headers, page weight, and every way a coordinator login can go wrong.

#![allow(clippy::unwrap_used)]

mod common;

use std::io::Read;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::Signer;
use panah_core::{auth, Lang, Slug};
use panah_server::Settings;
use panah_store::testing::every_engine;
use serde_json::json;
use sha2::{Digest, Sha256};

use common::*;
#[tokio::test]
async fn pages_in_three_languages() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        // The day the appeal was written, read on either side of it: a run across
        // midnight UTC must not fail.
        let before = panah_core::Timestamp::now();
        seed(&store, "roshanai").await;
        let app = router(store, Settings::default()).await;

        // The collective's default language is Dari: right to left, Persian digits,
        // Solar Hijri date with an Afghan month name.
        let fa = get(&app, "/c/roshanai", &[]).await;
        assert_eq!(fa.status, StatusCode::OK, "{engine}");
        let html = fa.text();
        assert!(
            html.contains(r#"<html lang="fa-AF" dir="rtl">"#),
            "{engine}"
        );
        assert!(html.contains("روشنایی"));
        let catalog = panah_i18n::Catalog::load().unwrap();
        let dari = catalog.localizer(Lang::Dari);
        let days = [before, panah_core::Timestamp::now()].map(|t| dari.date(t));
        assert!(
            days.iter()
                .any(|day| html.contains(&format!("آخرین تغییر: {day}"))),
            "Solar Hijri date in Persian digits: {html}"
        );
        assert!(
            days[0].starts_with(|c: char| ('۰'..='۹').contains(&c)),
            "{}",
            days[0]
        );
        assert_security_headers(&fa, "appeal");

        let ps = get(&app, "/c/roshanai?lang=ps", &[]).await;
        assert!(
            ps.text().contains(r#"<html lang="ps" dir="rtl">"#),
            "{engine}"
        );
        assert!(ps.text().contains("رڼا"));

        let en = get(
            &app,
            "/c/roshanai",
            &[("accept-language", "en-GB,en;q=0.9")],
        )
        .await;
        let html = en.text();
        assert!(html.contains(r#"<html lang="en" dir="ltr">"#), "{engine}");
        // Stored text is escaped, never markup.
        assert!(
            html.contains("Roshanai &#60;b&#62;Collective&#60;/b&#62;")
                || html.contains("Roshanai &lt;b&gt;Collective&lt;/b&gt;"),
            "{html}"
        );
        assert!(
            !html.contains("<script>"),
            "{engine}: no script element can appear"
        );
        assert!(html.contains("Flour &#38; oil") || html.contains("Flour &amp; oil"));
        // Tor Browser sends this whatever its user reads: the collective's default applies.
        let tor = get(
            &app,
            "/c/roshanai",
            &[("accept-language", "en-US,en;q=0.5")],
        )
        .await;
        assert!(
            tor.text().contains(r#"<html lang="fa-AF" dir="rtl">"#),
            "{engine}: Tor Browser users get the collective's language"
        );
        // Anything else that asks for English gets English.
        let us = get(
            &app,
            "/c/roshanai",
            &[("accept-language", "en-US,en;q=0.9")],
        )
        .await;
        assert!(
            us.text().contains(r#"<html lang="en" dir="ltr">"#),
            "{engine}"
        );
        // ?lang= beats Accept-Language.
        let forced = get(&app, "/c/roshanai?lang=fa", &[("accept-language", "en")]).await;
        assert!(forced.text().contains(r#"dir="rtl""#));
        // The language switcher is plain links.
        assert!(html.contains(r#"href="/c/roshanai?lang=ps""#));

        let home = get(&app, "/?lang=en", &[]).await;
        assert_eq!(home.status, StatusCode::OK);
        assert!(home.text().contains(r#"href="/c/roshanai?lang=en""#));
        assert_security_headers(&home, "home");
        assert_eq!(get(&app, "/healthz", &[]).await.status, StatusCode::OK);
    }
}

#[tokio::test]
async fn bad_page_requests_get_clear_translated_errors() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        seed(&store, "roshanai").await;
        let app = router(store, Settings::default()).await;

        let bad_lang = get(&app, "/c/roshanai?lang=de", &[("accept-language", "en")]).await;
        assert_eq!(bad_lang.status, StatusCode::BAD_REQUEST, "{engine}");
        assert!(
            bad_lang
                .text()
                .contains("This site does not offer the language that the address asks for"),
            "{}",
            bad_lang.text()
        );

        let missing = get(&app, "/c/nobody?lang=ps", &[]).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);
        assert!(missing.text().contains("په دې پته"), "{}", missing.text());
        assert!(missing.text().contains(r#"dir="rtl""#));

        // Whatever an address says is never shown back on a trusted page.
        for path in [
            "/c/call-whatsapp-0093700123456-for-help?lang=en",
            "/c/roshanai?lang=call-0093700123456",
        ] {
            let res = get(&app, path, &[]).await;
            assert!(res.status.is_client_error(), "{engine} {path}");
            assert!(
                !res.text().contains("0093700123456"),
                "{engine} {path} echoes the address: {}",
                res.text()
            );
        }

        for path in [
            "/c/NOT-A-SLUG",
            "/c/%2e%2e%2fetc",
            "/c/roshanai/../../x",
            "/nothing-here",
            "/c/",
            "/c/roshanai?lang=%ff%fe",
            "/c/roshanai?lang=&lang=",
            "/?lang=%3Cscript%3E",
        ] {
            let res = get(&app, path, &[]).await;
            assert!(
                res.status.is_client_error(),
                "{engine} {path}: {}",
                res.status
            );
            assert!(!res.text().contains("<script>"), "{path} reflected markup");
            assert_security_headers(&res, path);
        }
        // Not even UTF-8 after decoding: still the translated "no such collective" page.
        for path in [
            "/c/%ff?lang=en",
            "/c/%ff/contact?lang=en",
            "/c/%ff/replies?lang=en",
        ] {
            let res = get(&app, path, &[]).await;
            assert_eq!(res.status, StatusCode::NOT_FOUND, "{engine} {path}");
            assert!(
                res.text()
                    .contains("There is no collective at this address on this site."),
                "{path}: {}",
                res.text()
            );
        }
    }
}

fn gzip_len(body: &[u8]) -> usize {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(body)
        .read_to_end(&mut out)
        .expect("valid gzip");
    body.len()
}

#[tokio::test]
async fn every_public_page_fits_one_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (_, store) = every_engine(dir.path()).await.remove(0);
    seed(&store, "roshanai").await;
    let app = router(store, Settings::default()).await;
    for lang in Lang::ALL {
        for path in [
            "/",
            "/c/roshanai",
            "/c/nobody",
            "/c/roshanai/contact",
            "/c/roshanai/replies",
        ] {
            let uri = format!("{path}?lang={}", lang.code());
            let res = get(&app, &uri, &[("accept-encoding", "gzip")]).await;
            assert_eq!(res.headers[header::CONTENT_ENCODING], "gzip", "{uri}");
            let size = gzip_len(&res.body);
            assert!(size < 14 * 1024, "{uri}: {size} bytes compressed");
        }
    }
}

/// A page form's body announced far larger than any form is refused at once (413), not
/// waited for; the contact form's uploads keep their own, larger limit.
#[tokio::test]
async fn an_announced_huge_body_is_refused_before_it_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let (_, store) = every_engine(dir.path()).await.remove(0);
    seed(&store, "roshanai").await;
    let app = router(store, Settings::default()).await;
    for path in ["/c/roshanai/replies", "/c/roshanai/ledger/receipt"] {
        let (tx, rx) = tokio::sync::mpsc::channel::<Result<axum::body::Bytes, std::io::Error>>(1);
        let body = Body::from_stream(tokio_stream_of(rx));
        let req = Request::post(path)
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(header::CONTENT_LENGTH, "1000000000")
            .body(body)
            .unwrap();
        // The sender never sends a byte: the answer must not wait for one.
        let res = tokio::time::timeout(std::time::Duration::from_secs(5), send(&app, req))
            .await
            .expect("answered without reading the body");
        assert_eq!(res.status, StatusCode::PAYLOAD_TOO_LARGE, "{path}");
        drop(tx);
    }
}

fn tokio_stream_of(
    mut rx: tokio::sync::mpsc::Receiver<Result<axum::body::Bytes, std::io::Error>>,
) -> impl futures_util::Stream<Item = Result<axum::body::Bytes, std::io::Error>> {
    futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx))
}

#[tokio::test]
async fn inline_style_matches_the_csp_hash() {
    let dir = tempfile::tempdir().unwrap();
    let (_, store) = every_engine(dir.path()).await.remove(0);
    let app = router(store, Settings::default()).await;
    let res = get(&app, "/", &[]).await;
    let html = res.text();
    let css = html
        .split("<style>")
        .nth(1)
        .unwrap()
        .split("</style>")
        .next()
        .unwrap();
    let hash = STANDARD.encode(Sha256::digest(css.as_bytes()));
    let csp = res.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.contains(&format!("style-src 'sha256-{hash}'")), "{csp}");
}

#[tokio::test]
async fn coordinator_login_and_its_refusals() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        let roshanai = seed(&store, "roshanai").await;
        let other = seed(&store, "other").await;
        let (alice, bob, stranger) = (coordinator(), coordinator(), coordinator());
        store
            .add_coordinator(roshanai, &alice.key, "alice")
            .await
            .unwrap();
        store
            .add_coordinator(roshanai, &bob.key, "bob")
            .await
            .unwrap();
        store.add_coordinator(other, &bob.key, "bob").await.unwrap();
        let app = router(store.clone(), Settings::default()).await;

        // The happy path.
        let res = login(&app, "roshanai", &alice).await;
        assert_eq!(res.status, StatusCode::OK, "{engine}: {}", res.text());
        let token = res.json()["token"].as_str().unwrap().to_owned();
        assert!(token.starts_with("panah_t1_"));
        let team = get(
            &app,
            "/api/v1/c/roshanai/coordinators",
            &[("authorization", &format!("Bearer {token}"))],
        )
        .await;
        assert_eq!(team.status, StatusCode::OK, "{}", team.text());
        let team = team.json();
        assert_eq!(team["you"], alice.key.fingerprint().to_string());
        assert_eq!(team["coordinators"].as_array().unwrap().len(), 2);
        assert_eq!(
            team["coordinators"][1]["recipient"],
            bob.key.recipient_str()
        );

        // A token for one collective is refused for another.
        let foreign = get(
            &app,
            "/api/v1/c/other/coordinators",
            &[("authorization", &format!("Bearer {token}"))],
        )
        .await;
        assert_eq!(foreign.status, StatusCode::FORBIDDEN, "{engine}");
        assert!(foreign.json()["error"]
            .as_str()
            .unwrap()
            .contains("issued for the collective \"roshanai\""));

        // A challenge answers once.
        let ch = post_json(
            &app,
            "/api/v1/login/challenge",
            json!({"collective": "roshanai", "key": alice.key.signing_str()}),
            None,
        )
        .await
        .json();
        let challenge = STANDARD.decode(ch["challenge"].as_str().unwrap()).unwrap();
        let good = STANDARD.encode(
            alice
                .signing
                .sign(&auth::login_message(
                    &Slug::parse("roshanai").unwrap(),
                    alice.key.signing(),
                    &challenge,
                ))
                .to_bytes(),
        );
        let first = post_json(
            &app,
            "/api/v1/login",
            json!({"challenge_id": ch["challenge_id"], "signature": good}),
            None,
        )
        .await;
        assert_eq!(first.status, StatusCode::OK);
        let replay = post_json(
            &app,
            "/api/v1/login",
            json!({"challenge_id": ch["challenge_id"], "signature": good}),
            None,
        )
        .await;
        assert_eq!(replay.status, StatusCode::UNAUTHORIZED, "{engine}: replay");
        assert!(replay.json()["error"]
            .as_str()
            .unwrap()
            .contains("already used"));

        // A signature made for another collective does not log in here.
        let ch = post_json(
            &app,
            "/api/v1/login/challenge",
            json!({"collective": "roshanai", "key": bob.key.signing_str()}),
            None,
        )
        .await
        .json();
        let challenge = STANDARD.decode(ch["challenge"].as_str().unwrap()).unwrap();
        let wrong = STANDARD.encode(
            bob.signing
                .sign(&auth::login_message(
                    &Slug::parse("other").unwrap(),
                    bob.key.signing(),
                    &challenge,
                ))
                .to_bytes(),
        );
        let res = post_json(
            &app,
            "/api/v1/login",
            json!({"challenge_id": ch["challenge_id"], "signature": wrong}),
            None,
        )
        .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{engine}");
        assert!(res.json()["error"]
            .as_str()
            .unwrap()
            .contains("does not match"));

        // A truncated signature is a 400 that says why.
        let ch = post_json(
            &app,
            "/api/v1/login/challenge",
            json!({"collective": "roshanai", "key": bob.key.signing_str()}),
            None,
        )
        .await
        .json();
        let res = post_json(
            &app,
            "/api/v1/login",
            json!({"challenge_id": ch["challenge_id"], "signature": &good[..40]}),
            None,
        )
        .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST);
        assert!(
            res.json()["error"].as_str().unwrap().contains("64 bytes"),
            "{}",
            res.text()
        );

        // Someone who is not a coordinator gets a challenge like anyone (the hub does not
        // tell who is on a team), which no answer passes.
        let res = post_json(
            &app,
            "/api/v1/login/challenge",
            json!({"collective": "roshanai", "key": stranger.key.signing_str()}),
            None,
        )
        .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.text());
        let ch = res.json();
        let res = post_json(
            &app,
            "/api/v1/login",
            json!({
                "challenge_id": ch["challenge_id"],
                "signature": STANDARD.encode(
                    stranger
                        .signing
                        .sign(&auth::login_message(
                            &Slug::parse("roshanai").unwrap(),
                            stranger.key.signing(),
                            &STANDARD.decode(ch["challenge"].as_str().unwrap()).unwrap(),
                        ))
                        .to_bytes()
                ),
            }),
            None,
        )
        .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
        assert!(
            res.text().contains("not a coordinator of this collective"),
            "{}",
            res.text()
        );
        let res = post_json(
            &app,
            "/api/v1/login/challenge",
            json!({"collective": "nobody", "key": alice.key.signing_str()}),
            None,
        )
        .await;
        assert_eq!(res.status, StatusCode::NOT_FOUND);
        assert!(res.json()["error"]
            .as_str()
            .unwrap()
            .contains("no collective \"nobody\""));

        // Removing a coordinator ends their session at once.
        let bob_token = login(&app, "roshanai", &bob).await.json()["token"]
            .as_str()
            .unwrap()
            .to_owned();
        store.remove_coordinator(roshanai, &bob.key).await.unwrap();
        let res = get(
            &app,
            "/api/v1/c/roshanai/coordinators",
            &[("authorization", &format!("Bearer {bob_token}"))],
        )
        .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{engine}: revoked");
        // A removed key gets a challenge that leads nowhere, like any stranger's.
        let ch = post_json(
            &app,
            "/api/v1/login/challenge",
            json!({"collective": "roshanai", "key": bob.key.signing_str()}),
            None,
        )
        .await
        .json();
        let challenge = STANDARD.decode(ch["challenge"].as_str().unwrap()).unwrap();
        let signed = STANDARD.encode(
            bob.signing
                .sign(&auth::login_message(
                    &Slug::parse("roshanai").unwrap(),
                    bob.key.signing(),
                    &challenge,
                ))
                .to_bytes(),
        );
        let res = post_json(
            &app,
            "/api/v1/login",
            json!({"challenge_id": ch["challenge_id"], "signature": signed}),
            None,
        )
        .await;
        assert_eq!(
            res.status,
            StatusCode::UNAUTHORIZED,
            "{engine}: removed key does not log in"
        );

        // Logging out revokes the token.
        let res = post_json(&app, "/api/v1/logout", json!({}), Some(&token)).await;
        assert_eq!(res.status, StatusCode::NO_CONTENT);
        let res = get(
            &app,
            "/api/v1/c/roshanai/coordinators",
            &[("authorization", &format!("Bearer {token}"))],
        )
        .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    for (engine, store) in every_engine(dir.path()).await {
        let id = seed(&store, "roshanai").await;
        let alice = coordinator();
        store.add_coordinator(id, &alice.key, "").await.unwrap();
        let app = router(
            store,
            Settings {
                token_ttl_secs: 0,
                ..Settings::default()
            },
        )
        .await;
        let token = login(&app, "roshanai", &alice).await.json()["token"]
            .as_str()
            .unwrap()
            .to_owned();
        let res = get(
            &app,
            "/api/v1/c/roshanai/coordinators",
            &[("authorization", &format!("Bearer {token}"))],
        )
        .await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{engine}");
        assert!(res.json()["error"].as_str().unwrap().contains("expired"));
    }
}

#[tokio::test]
async fn malformed_api_requests_are_4xx_with_a_reason() {
    let dir = tempfile::tempdir().unwrap();
    let (_, store) = every_engine(dir.path()).await.remove(0);
    seed(&store, "roshanai").await;
    let app = router(store, Settings::default()).await;
    let cases: Vec<(Request<Body>, StatusCode, &str)> = vec![
        (
            Request::post("/api/v1/login/challenge")
                .header("content-type", "application/json")
                .body(Body::from("{not json"))
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "not valid JSON",
        ),
        (
            Request::post("/api/v1/login/challenge")
                .body(Body::from("{}"))
                .unwrap(),
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "application/json",
        ),
        (
            Request::post("/api/v1/login/challenge")
                .header("content-type", "application/json")
                .body(Body::from(r#"{"collective":"x","key":"k","extra":1}"#))
                .unwrap(),
            StatusCode::UNPROCESSABLE_ENTITY,
            "extra",
        ),
        (
            Request::post("/api/v1/login/challenge")
                .header("content-type", "application/json")
                .body(Body::from(format!(
                    r#"{{"collective":"{}","key":"k"}}"#,
                    "a".repeat(100_000)
                )))
                .unwrap(),
            StatusCode::PAYLOAD_TOO_LARGE,
            "at most",
        ),
        (
            Request::post("/api/v1/login/challenge")
                .header("content-type", "application/json")
                .body(Body::from(
                    r#"{"collective":"Bad Slug","key":"ed25519:AAAA"}"#,
                ))
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "short name",
        ),
        (
            Request::post("/api/v1/login/challenge")
                .header("content-type", "application/json")
                .body(Body::from(r#"{"collective":"roshanai","key":"AAAA"}"#))
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "ed25519:",
        ),
        (
            Request::post("/api/v1/login/challenge")
                .header("content-type", "application/json")
                .body(Body::from(
                    r#"{"collective":"roshanai","key":"ed25519:AAAA"}"#,
                ))
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "32 bytes",
        ),
        (
            Request::post("/api/v1/login")
                .header("content-type", "application/json")
                .body(Body::from(r#"{"challenge_id":"nope","signature":"!!!"}"#))
                .unwrap(),
            StatusCode::BAD_REQUEST,
            "base64",
        ),
        (
            Request::post("/api/v1/login")
                .header("content-type", "application/json")
                .body(Body::from(format!(
                    r#"{{"challenge_id":"nope","signature":"{}"}}"#,
                    STANDARD.encode([0u8; 64])
                )))
                .unwrap(),
            StatusCode::UNAUTHORIZED,
            "unknown",
        ),
        (
            Request::get("/api/v1/c/roshanai/coordinators")
                .body(Body::empty())
                .unwrap(),
            StatusCode::UNAUTHORIZED,
            "log in first",
        ),
        (
            Request::get("/api/v1/c/roshanai/coordinators")
                .header("authorization", "Basic abc")
                .body(Body::empty())
                .unwrap(),
            StatusCode::UNAUTHORIZED,
            "Bearer",
        ),
        (
            Request::get("/api/v1/c/roshanai/coordinators")
                .header("authorization", "Bearer panah_t1_forged")
                .body(Body::empty())
                .unwrap(),
            StatusCode::UNAUTHORIZED,
            "unknown",
        ),
        (
            Request::get("/api/v1/nothing").body(Body::empty()).unwrap(),
            StatusCode::NOT_FOUND,
            "no such API endpoint",
        ),
        (
            Request::get("/api/v1/login").body(Body::empty()).unwrap(),
            StatusCode::METHOD_NOT_ALLOWED,
            "",
        ),
    ];
    for (req, status, needle) in cases {
        let what = format!("{} {}", req.method(), req.uri());
        let res = send(&app, req).await;
        assert_eq!(res.status, status, "{what}: {}", res.text());
        if !needle.is_empty() {
            let error = res.json()["error"].as_str().unwrap_or_default().to_owned();
            assert!(error.contains(needle), "{what}: {error:?} lacks {needle:?}");
        }
        assert_security_headers(&res, &what);
    }
}

#[tokio::test]
async fn public_pages_are_cached_briefly_and_then_refreshed() {
    let dir = tempfile::tempdir().unwrap();
    let (_, store) = every_engine(dir.path()).await.remove(0);
    let id = seed(&store, "roshanai").await;
    let app = router(
        store.clone(),
        Settings {
            page_cache_secs: 1,
            ..Settings::default()
        },
    )
    .await;
    let first = get(&app, "/c/roshanai?lang=en", &[]).await;
    assert!(
        first.text().contains("Roshanai &#60;b&#62;")
            || first.text().contains("Roshanai &lt;b&gt;")
    );
    let (mut appeal, _) = store.appeal(id, Lang::English).await.unwrap().unwrap();
    appeal.name = "Renamed Collective".into();
    store.set_appeal(id, Lang::English, &appeal).await.unwrap();
    let cached = get(&app, "/c/roshanai?lang=en", &[("accept-encoding", "gzip")]).await;
    assert_eq!(cached.headers[header::CONTENT_ENCODING], "gzip");
    let mut html = String::new();
    flate2::read::GzDecoder::new(cached.body.as_slice())
        .read_to_string(&mut html)
        .unwrap();
    assert_eq!(html, first.text(), "served from the cache, compressed");
    // The cache keeps time by tokio's clock: move it past the entry's second instead of
    // sleeping through it.
    tokio::time::pause();
    tokio::time::advance(std::time::Duration::from_millis(1100)).await;
    tokio::time::resume();
    let fresh = get(&app, "/c/roshanai?lang=en", &[]).await;
    assert!(
        fresh.text().contains("Renamed Collective"),
        "the change shows once the entry expires"
    );
    // Errors are never cached.
    assert_eq!(
        get(&app, "/c/roshanai?lang=de", &[]).await.status,
        StatusCode::BAD_REQUEST
    );
    assert_eq!(
        get(&app, "/c/nobody", &[]).await.status,
        StatusCode::NOT_FOUND
    );
}

/// An https:// public address turns on HSTS; an onion address is offered (Onion-Location)
/// on pages reached any other way, and not on the onion itself.
#[tokio::test]
async fn transport_headers_follow_the_configured_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let (_, store) = every_engine(dir.path()).await.remove(0);
    seed(&store, "roshanai").await;
    let plain = router(store.clone(), Settings::default()).await;
    let res = get(&plain, "/c/roshanai?lang=en", &[]).await;
    assert!(res.headers.get("strict-transport-security").is_none());
    assert!(res.headers.get("onion-location").is_none());

    let onion = "http://panahexampleonionaddressxxxxxxxxxxxxxxxxxxxxxxxxxxx.onion";
    let app = router(
        store,
        Settings {
            public_url: Some("https://hub.example".into()),
            onion_url: Some(onion.into()),
            ..Settings::default()
        },
    )
    .await;
    let res = get(&app, "/c/roshanai?lang=en", &[("host", "hub.example")]).await;
    assert_eq!(res.headers["strict-transport-security"], "max-age=63072000");
    assert_eq!(
        res.headers["onion-location"],
        format!("{onion}/c/roshanai?lang=en").as_str()
    );
    let via_onion = get(
        &app,
        "/c/roshanai",
        &[(
            "host",
            "panahexampleonionaddressxxxxxxxxxxxxxxxxxxxxxxxxxxx.onion",
        )],
    )
    .await;
    assert!(via_onion.headers.get("onion-location").is_none());
    let shouting = get(
        &app,
        "/c/roshanai",
        &[(
            "host",
            "PANAHEXAMPLEONIONADDRESSXXXXXXXXXXXXXXXXXXXXXXXXXXX.ONION:80",
        )],
    )
    .await;
    assert!(shouting.headers.get("onion-location").is_none());
    // Pages only: not the health check, files or the API.
    let health = get(&app, "/healthz", &[("host", "hub.example")]).await;
    assert!(health.headers.get("onion-location").is_none());
    assert_eq!(
        health.headers["strict-transport-security"],
        "max-age=63072000"
    );
}

/// A hub's state may be printed with `{:?}` (a panic, a debug log): it must never show the
/// codename secret, from which every codename's lookup and reply keys derive.
#[tokio::test]
async fn the_state_debug_output_shows_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let store = panah_store::Store::open(&panah_store::testing::sqlite_location(dir.path()))
        .await
        .unwrap();
    let secret = store.hub_secret("codename").await.unwrap();
    let blobs = panah_store::BlobStore::folder(&dir.path().join("blobs"), &store).unwrap();
    let state = panah_server::AppState::new(store, blobs, Settings::default())
        .await
        .unwrap();
    let shown = format!("{state:?}");
    assert!(shown.contains("HubSecret(…)"), "{shown}");
    let hex = panah_core::hex(&secret);
    let decimal = format!("{:?}", secret);
    let inner = decimal.trim_start_matches('[').trim_end_matches(']');
    assert!(!shown.contains(&hex), "the secret in hex: {shown}");
    assert!(!shown.contains(inner), "the secret as bytes: {shown}");
}
