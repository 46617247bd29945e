//! Helpers shared by the server's integration tests.

#![allow(dead_code, clippy::unwrap_used)]

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use axum::Router;
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::Signer;
use ed25519_dalek::SigningKey;
use http_body_util::BodyExt;
use panah_core::{auth, CoordinatorKey, Lang, Slug};
use panah_server::{app, AppState, Settings};
use panah_store::{Appeal, BlobStore, NewCollective, Store};
use serde_json::json;
use serde_json::Value;
use tower::ServiceExt;

pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

impl Response {
    pub fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| panic!("not JSON: {}", self.text()))
    }
}

pub async fn send(app: &Router, req: Request<Body>) -> Response {
    let res = app.clone().oneshot(req).await.expect("infallible");
    let status = res.status();
    let headers = res.headers().clone();
    let body = res
        .into_body()
        .collect()
        .await
        .expect("body")
        .to_bytes()
        .to_vec();
    Response {
        status,
        headers,
        body,
    }
}

pub async fn get(app: &Router, uri: &str, headers: &[(&str, &str)]) -> Response {
    let mut req = Request::get(uri);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    send(app, req.body(Body::empty()).unwrap()).await
}

pub async fn post_json(app: &Router, uri: &str, body: Value, token: Option<&str>) -> Response {
    let mut req = Request::post(uri).header(header::CONTENT_TYPE, "application/json");
    if let Some(t) = token {
        req = req.header(header::AUTHORIZATION, format!("Bearer {t}"));
    }
    send(app, req.body(Body::from(body.to_string())).unwrap()).await
}

pub struct Coordinator {
    pub signing: SigningKey,
    pub key: CoordinatorKey,
}

pub fn coordinator() -> Coordinator {
    let signing = SigningKey::generate(&mut rand::rngs::OsRng);
    let key = CoordinatorKey::new(
        &age::x25519::Identity::generate().to_public(),
        signing.verifying_key(),
    );
    Coordinator { signing, key }
}

pub async fn seed(store: &Store, slug: &str) -> i64 {
    let c = store
        .create_collective(&NewCollective {
            slug: Slug::parse(slug).unwrap(),
            default_lang: Lang::Dari,
            names: ["روشنایی".into(), "رڼا".into(), "Roshanai".into()],
        })
        .await
        .unwrap();
    store
        .set_appeal(
            c.id,
            Lang::English,
            &Appeal {
                name: "Roshanai <b>Collective</b>".into(),
                tagline: "Light".into(),
                story: "We teach.\n\n<script>alert(1)</script>".into(),
                needs: "Flour & oil".into(),
                give: "Ask us".into(),
            },
        )
        .await
        .unwrap();
    c.id
}

pub async fn router(store: Store, settings: Settings) -> Router {
    let dir = std::env::temp_dir().join(format!("panah-test-blobs-{}", std::process::id()));
    let blobs = BlobStore::folder(&dir, &store).unwrap();
    router_with_blobs(store, blobs, settings).await
}

pub async fn router_with_blobs(store: Store, blobs: BlobStore, settings: Settings) -> Router {
    app(AppState::new(store, blobs, settings).await.unwrap())
}

pub fn assert_security_headers(res: &Response, what: &str) {
    let csp = res.headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap();
    assert!(csp.starts_with("default-src 'none'"), "{what}: {csp}");
    assert!(
        !csp.contains("script-src"),
        "{what}: no scripts allowed at all: {csp}"
    );
    assert!(csp.contains("frame-ancestors 'none'"), "{what}");
    assert_eq!(
        res.headers[header::REFERRER_POLICY],
        "no-referrer",
        "{what}"
    );
    assert_eq!(
        res.headers[header::X_CONTENT_TYPE_OPTIONS],
        "nosniff",
        "{what}"
    );
    assert!(
        res.headers.get(header::SET_COOKIE).is_none(),
        "{what}: no cookies"
    );
}

/// Logs in by the book and returns the token.
pub async fn login(app: &Router, slug: &str, who: &Coordinator) -> Response {
    let ch = post_json(
        app,
        "/api/v1/login/challenge",
        json!({"collective": slug, "key": who.key.signing_str()}),
        None,
    )
    .await;
    assert_eq!(ch.status, StatusCode::OK, "{}", ch.text());
    let ch = ch.json();
    let challenge = STANDARD.decode(ch["challenge"].as_str().unwrap()).unwrap();
    let msg = auth::login_message(&Slug::parse(slug).unwrap(), who.key.signing(), &challenge);
    let sig = STANDARD.encode(who.signing.sign(&msg).to_bytes());
    post_json(
        app,
        "/api/v1/login",
        json!({"challenge_id": ch["challenge_id"], "signature": sig}),
        None,
    )
    .await
}

/// Logs in by the book and returns the bearer token.
pub async fn token(app: &Router, slug: &str, who: &Coordinator) -> String {
    login(app, slug, who).await.json()["token"]
        .as_str()
        .unwrap()
        .to_owned()
}
