//! Headers every response carries, and the answer to a panic.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{HeaderName, HeaderValue};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::AppState;

pub(crate) async fn headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let onion_location = onion_location(&state, &req);
    let mut res = next.run(req).await;
    // Only pages are offered on the onion address; files and the API are not.
    let is_page = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(b"text/html"));
    let h = res.headers_mut();
    let settings = &state.inner.settings;
    if settings
        .public_url
        .as_deref()
        .is_some_and(|u| u.starts_with("https://"))
    {
        h.insert(
            header::STRICT_TRANSPORT_SECURITY,
            HeaderValue::from_static("max-age=63072000"),
        );
    }
    if let Some(v) = onion_location.filter(|_| is_page) {
        h.insert(HeaderName::from_static("onion-location"), v);
    }
    h.insert(header::CONTENT_SECURITY_POLICY, state.inner.csp.clone());
    let fixed: [(HeaderName, &str); 6] = [
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::X_FRAME_OPTIONS, "DENY"),
        (
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        ),
        (
            HeaderName::from_static("cross-origin-resource-policy"),
            "same-origin",
        ),
        (
            HeaderName::from_static("permissions-policy"),
            "camera=(), microphone=(), geolocation=(), interest-cohort=()",
        ),
    ];
    for (name, value) in fixed {
        h.insert(name, HeaderValue::from_static(value));
    }
    res
}

/// `Onion-Location` for a page reached other than through the onion address: the onion
/// address with the same path and query. Nothing for a request that came through it.
fn onion_location(state: &AppState, req: &Request) -> Option<HeaderValue> {
    let onion = state.inner.settings.onion_url.as_deref()?;
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let onion_host = host
        .get(host.len().saturating_sub(6)..)
        .is_some_and(|end| end.eq_ignore_ascii_case(".onion"));
    if onion_host {
        return None;
    }
    let path = req
        .uri()
        .path_and_query()
        .map_or("/", axum::http::uri::PathAndQuery::as_str);
    HeaderValue::from_str(&format!("{}{path}", onion.trim_end_matches('/'))).ok()
}

/// A panic is a bug; the visitor gets a plain 500 and the log gets no details of the
/// request (which might hold something confidential).
pub(crate) fn panic_response(_: Box<dyn std::any::Any + Send + 'static>) -> Response {
    tracing::error!("a request handler panicked");
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        Body::from("The hub could not answer. Please try again in a minute.\n"),
    )
        .into_response()
}
