//! The hub itself, in process, as a stranger reaches it: the contact form's multipart and
//! form bodies, the replies page, the receipt check, and the login API's bodies. Whatever
//! arrives, the answer is a page or a refusal, never a 500 or a panic.
#![no_main]

use std::sync::OnceLock;

use axum::body::Body;
use axum::http::Request;
use axum::Router;
use libfuzzer_sys::fuzz_target;
use panah_core::{CoordinatorKey, Lang, Slug};
use panah_server::{app, AppState, Settings};
use panah_store::{BlobStore, Location, NewCollective, Store};
use tower::ServiceExt;

const BOUNDARY: &str = "fuzz-boundary";

struct Hub {
    runtime: tokio::runtime::Runtime,
    app: Router,
}

fn hub() -> &'static Hub {
    static HUB: OnceLock<Hub> = OnceLock::new();
    HUB.get_or_init(|| {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("runtime");
        let dir = tempfile::tempdir().expect("temp dir").keep();
        let app = runtime.block_on(async {
            let store = Store::open(&Location::default_in(&dir)).await.expect("store");
            let c = store
                .create_collective(&NewCollective {
                    slug: Slug::parse("roshanai").expect("slug"),
                    default_lang: Lang::Dari,
                    names: ["روشنایی".into(), "رڼا".into(), "Roshanai".into()],
                })
                .await
                .expect("collective");
            let signing = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
            let key = CoordinatorKey::new(
                &age::x25519::Identity::generate().to_public(),
                signing.verifying_key(),
            );
            store.add_coordinator(c.id, &key, "").await.expect("coordinator");
            let blobs = BlobStore::folder(&dir.join("blobs"), &store).expect("blobs");
            let settings = Settings {
                submissions_per_minute: u32::MAX / 4,
                hub_submissions_per_minute: u32::MAX / 4,
                lookups_per_minute: u32::MAX / 4,
                hub_lookups_per_minute: u32::MAX / 4,
                logins_per_second: 10_000,
                ..Settings::default()
            };
            app(AppState::new(store, blobs, settings).await.expect("state"))
        });
        Hub { runtime, app }
    })
}

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else {
        return;
    };
    let (uri, content_type) = match which % 7 {
        0 | 1 => (
            "/c/roshanai/contact?lang=fa",
            format!("multipart/form-data; boundary={BOUNDARY}"),
        ),
        2 => (
            "/c/roshanai/contact",
            "application/x-www-form-urlencoded".to_owned(),
        ),
        3 => (
            "/c/roshanai/replies?lang=ps",
            "application/x-www-form-urlencoded".to_owned(),
        ),
        4 => (
            "/c/roshanai/ledger/receipt",
            "application/x-www-form-urlencoded".to_owned(),
        ),
        5 => ("/api/v1/login/challenge", "application/json".to_owned()),
        _ => ("/api/v1/login", "application/json".to_owned()),
    };
    let hub = hub();
    let request = Request::post(uri)
        .header("content-type", content_type)
        .header("host", "hub.example")
        .body(Body::from(body.to_vec()))
        .expect("request");
    let response = hub
        .runtime
        .block_on(hub.app.clone().oneshot(request))
        .expect("infallible");
    let status = response.status().as_u16();
    assert!(
        status != 500 && status < 600,
        "{uri} answered {status} to a stranger's body"
    );
});
