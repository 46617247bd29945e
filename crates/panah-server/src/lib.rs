//! Panah's HTTP face: the public pages (no JavaScript, no third-party requests, no cookies)
//! and the coordinators' JSON API, authenticated by Ed25519 signatures.
//!
//! Direction of data: request → handler → [`panah_store::Store`]. Handlers never see SQL;
//! translations come from [`panah_i18n`]; formats and validation from [`panah_core`].
//!
//! Invariants:
//! - This crate never holds or loads a coordinator's private key; it does not depend on
//!   `panah-keyring`. It verifies signatures, it never makes them.
//! - Logs never contain an IP address, a request body, a query string or a token. The
//!   peer address is read only to count connections and uploads per source, as a keyed
//!   hash held in memory (see [`sources`]).
//! - Every error a stranger can cause is a 4xx with a message a person understands.

#![forbid(unsafe_code)]

pub mod activity;
mod api;
mod conn;
pub mod conversations;
mod doors;
pub mod intake;
pub mod ledger;
mod limits;
mod logs;
mod pages;
pub mod publish;
pub mod retention;
pub mod seal;
mod security;
mod slow;
pub mod sources;
mod state;
#[cfg(any(test, feature = "testing"))]
pub mod testing;

use std::future::Future;
use std::time::Duration;

use axum::extract::MatchedPath;
use axum::http::Request;
use axum::routing::{get, post};
use axum::Router;
use tokio::net::TcpListener;
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::compression::CompressionLayer;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

pub use state::{AppState, Settings, StateError, STYLESHEET};

/// Room for multipart headers and the message text around the files.
const UPLOAD_OVERHEAD: usize = 512 * 1024;

/// The longest an upload may take (slow phones on slow links).
pub(crate) const UPLOAD_DEADLINE: Duration = Duration::from_secs(30 * 60);

/// The whole router. Tests call it directly with `tower::ServiceExt::oneshot`.
pub fn app(state: AppState) -> Router {
    // The coordinators' API, nested so that its own fallback (a JSON 404) answers every
    // unknown path under /api/v1, and the pages' fallback never sees them.
    let api_replies = Router::new()
        .route(
            "/c/{slug}/conversations/{id}/replies",
            post(api::inbox::reply),
        )
        .layer(axum::extract::DefaultBodyLimit::max(api::inbox::MAX_REPLY));
    let api_ledger = Router::new()
        .route(
            "/c/{slug}/ledger",
            get(api::ledger::show).post(api::ledger::create),
        )
        .route("/c/{slug}/ledger/prepare", post(api::ledger::prepare))
        .route("/c/{slug}/ledger/append", post(api::ledger::append))
        .route("/c/{slug}/team", post(api::team::append))
        .layer(axum::extract::DefaultBodyLimit::max(
            api::ledger::MAX_LEDGER_BODY,
        ));
    let api_records = Router::new()
        .route("/c/{slug}/records", get(api::records::list))
        .route(
            "/c/{slug}/records/{id}",
            axum::routing::put(api::records::put),
        )
        .layer(axum::extract::DefaultBodyLimit::max(
            api::records::MAX_RECORD_REQUEST,
        ))
        .route(
            "/c/{slug}/records/batch",
            post(api::records::batch).layer(axum::extract::DefaultBodyLimit::max(
                api::records::MAX_BATCH_REQUEST,
            )),
        );
    let max_file_body = usize::try_from(state.inner.settings.max_upload_bytes)
        .unwrap_or(usize::MAX)
        .saturating_add(64 * 1024);
    let api = Router::new()
        .route("/login/challenge", post(api::login::challenge))
        .route("/login", post(api::login::login))
        .route("/logout", post(api::login::logout))
        .route("/c/{slug}/coordinators", get(api::team::coordinators))
        .route("/c/{slug}/conversations", get(api::inbox::list))
        .route(
            "/c/{slug}/conversations/{id}",
            get(api::inbox::one).delete(api::inbox::delete),
        )
        .route(
            "/c/{slug}/messages/{id}/ciphertext",
            get(api::inbox::message_blob)
                .put(api::inbox::replace_message)
                .layer(axum::extract::DefaultBodyLimit::max(
                    api::inbox::MAX_ENVELOPE,
                )),
        )
        .route(
            "/c/{slug}/files/{id}/ciphertext",
            get(api::inbox::file_blob)
                .put(api::inbox::replace_file)
                .layer(axum::extract::DefaultBodyLimit::max(max_file_body)),
        )
        .route(
            "/c/{slug}/ledger/goals",
            axum::routing::put(api::ledger::goals),
        )
        .layer(axum::extract::DefaultBodyLimit::max(api::MAX_BODY))
        .merge(api_replies)
        .merge(api_ledger)
        .merge(api_records)
        .fallback(api::not_found);

    // Uploads from a phone on a slow link may take many minutes; everything else gets 30 s.
    let max_upload = usize::try_from(state.inner.settings.max_upload_bytes).unwrap_or(usize::MAX);
    let uploads = Router::new()
        .route("/c/{slug}/contact", post(pages::contact::contact_submit))
        .layer(axum::extract::DefaultBodyLimit::max(
            max_upload.saturating_add(UPLOAD_OVERHEAD),
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            slow::min_progress,
        ))
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            UPLOAD_DEADLINE,
        ));

    let quick = Router::new()
        .route("/", get(pages::home))
        .route("/c/{slug}", get(pages::appeal))
        .route("/c/{slug}/contact", get(pages::contact::contact_form))
        .route(
            "/c/{slug}/replies",
            get(pages::contact::replies_form).post(pages::contact::replies_open),
        )
        .route("/c/{slug}/ledger", get(pages::ledger::page))
        .route("/c/{slug}/ledger.csv", get(pages::ledger::csv))
        .route("/c/{slug}/ledger.json", get(pages::ledger::json))
        .route(
            "/c/{slug}/ledger/receipt",
            get(pages::ledger::receipt_form).post(pages::ledger::receipt_check),
        )
        .route("/healthz", get(pages::healthz))
        .merge(logs::routes())
        .layer(axum::extract::DefaultBodyLimit::max(api::MAX_BODY))
        // A body announced larger than any page form takes is refused before it is read,
        // rather than waited for.
        .layer(tower_http::limit::RequestBodyLimitLayer::new(api::MAX_BODY))
        .nest("/api/v1", api)
        .layer(TimeoutLayer::with_status_code(
            axum::http::StatusCode::REQUEST_TIMEOUT,
            Duration::from_secs(30),
        ));

    quick
        .merge(uploads)
        .fallback(pages::not_found)
        .layer(
            tower::ServiceBuilder::new()
                .layer(CatchPanicLayer::custom(security::panic_response))
                .layer(trace_layer())
                .layer(axum::middleware::from_fn_with_state(
                    state.clone(),
                    security::headers,
                ))
                .layer(CompressionLayer::new()),
        )
        .with_state(state)
}

/// Request logs: method, route template (never the raw path or query), status, time.
fn trace_layer() -> TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    impl Fn(&Request<axum::body::Body>) -> tracing::Span + Clone,
> {
    TraceLayer::new_for_http().make_span_with(|req: &Request<axum::body::Body>| {
        let route = req
            .extensions()
            .get::<MatchedPath>()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_else(|| "(unmatched)".to_owned());
        tracing::info_span!("request", method = %req.method(), route = %route)
    })
}

/// Serves until `shutdown` completes, then finishes the requests in flight (for at most
/// 30 seconds).
///
/// Connections are accepted here rather than by `axum::serve`, so that no stranger can
/// hold the hub open: headers must arrive within `header_read_secs` (an idle kept-alive
/// connection is closed after as long), an answer nobody reads is dropped after 20 s and
/// a connection is kept alive for at most a minute (see [`conn`]); at most
/// `max_connections` are served at once and at most `connections_per_source` from one
/// source (see [`sources`]); a connection over either is answered with a short "busy" in
/// the three languages and closed, so the hub keeps file descriptors for its database and
/// `/healthz`.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    use hyper_util::rt::{TokioIo, TokioTimer};
    use tower::ServiceExt;

    let app = app(state.clone());
    let settings = &state.inner.settings;
    let slots = std::sync::Arc::new(tokio::sync::Semaphore::new(settings.max_connections.max(1)));
    let busy = std::sync::Arc::new(busy_answer(&state.inner.catalog));
    let (stopping_tx, stopping) = tokio::sync::watch::channel(false);
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(Duration::from_secs(settings.header_read_secs.max(1)))
        .keep_alive(true);
    tokio::pin!(shutdown);
    loop {
        let (stream, peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors, or a connection reset before it was taken:
                    // wait a moment rather than spin.
                    tracing::debug!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        let source = state.sources().source(peer.ip());
        let held = state.sources().connection(source);
        let slot = slots.clone().try_acquire_owned().ok();
        let (Some(held), Some(slot)) = (held, slot) else {
            tokio::spawn(refuse_busy(stream, busy.clone()));
            continue;
        };
        let _ = stream.set_nodelay(true);
        let service = app
            .clone()
            .map_request(move |mut req: Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(sources::SourceOf(source));
                req
            });
        let (stream, progress) = conn::Watched::new(stream);
        let conn = http.serve_connection(
            TokioIo::new(stream),
            hyper_util::service::TowerToHyperService::new(service),
        );
        let mut stopping = stopping.clone();
        tokio::spawn(async move {
            let mut conn = std::pin::pin!(conn);
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            let (born, mut draining) = (tokio::time::Instant::now(), false);
            loop {
                tokio::select! {
                    _ = conn.as_mut() => break,
                    _ = tick.tick() => {
                        // An answer nobody reads: drop the connection.
                        if progress.stalled() {
                            break;
                        }
                        if !draining && born.elapsed() > conn::MAX_AGE {
                            conn.as_mut().graceful_shutdown();
                            draining = true;
                        }
                    }
                    _ = stopping.changed(), if !draining => {
                        conn.as_mut().graceful_shutdown();
                        draining = true;
                    }
                }
            }
            drop((held, slot));
        });
    }
    drop(listener);
    let _ = stopping_tx.send(true);
    // Every connection gives its slot back when it is done: wait for all of them.
    let all = u32::try_from(settings.max_connections.max(1)).unwrap_or(u32::MAX);
    tokio::select! {
        _ = slots.acquire_many(all) => {},
        () = tokio::time::sleep(Duration::from_secs(30)) => {
            tracing::warn!("requests still running after 30 s were cut off at shutdown");
        },
    }
    Ok(())
}

/// The whole answer to a connection the hub has no room for.
fn busy_answer(catalog: &panah_i18n::Catalog) -> Vec<u8> {
    let body: String = panah_core::Lang::ALL
        .iter()
        .map(|&lang| catalog.raw(lang, "connection-busy") + "\n")
        .collect();
    format!(
        "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\n\
         Retry-After: 60\r\nCache-Control: no-store\r\nContent-Length: {}\r\n\
         Connection: close\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

async fn refuse_busy(mut stream: tokio::net::TcpStream, answer: std::sync::Arc<Vec<u8>>) {
    use tokio::io::AsyncWriteExt;
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        stream.write_all(&answer).await?;
        stream.shutdown().await
    })
    .await;
}
