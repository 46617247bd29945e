//! Uploads must keep moving. A phone on a poor link may take many minutes over a large
//! file, but a client that sends nothing for `upload_idle_secs`, or, once that long has
//! passed, less on average than `min_upload_bytes_per_sec` or than it needs to finish what
//! it announced within the upload deadline (30 minutes), is holding an upload slot open on
//! purpose: its body is cut off (the handler sees a broken upload and keeps nothing).
//! Headers have their own deadline in the connection loop (`crate::serve`).

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use futures_util::StreamExt;

use crate::AppState;

#[derive(Debug, thiserror::Error)]
enum Slow {
    #[error("the upload sent nothing for {0} seconds")]
    Stalled(u64),
    #[error("the upload is slower than {0} bytes a second")]
    TooSlow(u64),
}

/// The middleware: the request's body, cut off when it stops moving.
pub(crate) async fn min_progress(
    State(state): State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    let settings = &state.inner.settings;
    let idle = settings.upload_idle_secs.max(1);
    // An upload must also be on course to end within the upload deadline: a client that
    // announces 50 MB and sends a trickle is not a slow phone but a held slot.
    let announced = req
        .headers()
        .get(axum::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    let rate = settings
        .min_upload_bytes_per_sec
        .max(announced / crate::UPLOAD_DEADLINE.as_secs().max(1));
    let (parts, body) = req.into_parts();
    let started = tokio::time::Instant::now();
    let stream = futures_util::stream::unfold(
        (body.into_data_stream(), 0u64, false),
        move |(mut inner, got, done)| async move {
            if done {
                return None;
            }
            let cut =
                |why: Slow| Some((Err(axum::BoxError::from(why)), (inner_dummy(), got, true)));
            let next = tokio::time::timeout(Duration::from_secs(idle), inner.next()).await;
            match next {
                Err(_) => cut(Slow::Stalled(idle)),
                Ok(None) => None,
                Ok(Some(Err(e))) => Some((Err(axum::BoxError::from(e)), (inner, got, true))),
                Ok(Some(Ok(bytes))) => {
                    let got = got + bytes.len() as u64;
                    let elapsed = started.elapsed().as_secs();
                    if elapsed >= idle && got < rate.saturating_mul(elapsed) {
                        return cut(Slow::TooSlow(rate));
                    }
                    Some((Ok::<Bytes, axum::BoxError>(bytes), (inner, got, false)))
                }
            }
        },
    );
    next.run(Request::from_parts(parts, Body::from_stream(stream)))
        .await
}

/// An empty stream to leave behind once a body was cut off (the real one is dropped,
/// which lets its connection go).
fn inner_dummy() -> axum::body::BodyDataStream {
    Body::empty().into_data_stream()
}
