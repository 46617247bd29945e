//! The desk's inbox: conversations newest first with unread marks, a conversation with
//! its files (images shown from memory, other files saved as attachments), reply, delete
//! and export. Everything is decrypted in this process and written nowhere.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use panah_client::inbox::{self, day};
use panah_client::terminal::sanitize_line;
use panah_core::envelope::{clean_file_name, Author};

use super::{need_unlocked, Desk, Frame};
use crate::tracker::Words;

pub(super) fn routes() -> Router<Arc<Desk>> {
    Router::new()
        .route("/inbox", get(list))
        .route("/inbox/{id}", get(read))
        .route("/inbox/{id}/files/{file}", get(file))
        .route("/inbox/{id}/reply", post(reply))
        .route("/inbox/{id}/delete", get(confirm_delete).post(delete))
        .route("/inbox/{id}/export", post(export))
}

/// A date the hub sent (untrusted text), in the reader's calendar if it is one.
fn hub_day(w: &Words, text: &str) -> String {
    match panah_core::records::Day::parse(day(text)) {
        Ok(d) => w.day(d),
        Err(_) => sanitize_line(day(text)),
    }
}

struct Row {
    id: i64,
    unread: bool,
    summary: String,
    preview: String,
}

#[derive(askama::Template)]
#[template(path = "desk/inbox.html")]
struct ListPage<'a> {
    f: Frame<'a>,
    rows: Vec<Row>,
    more: Option<String>,
}

/// The most conversations the inbox lists (the newest): a page stays light.
const MAX_SHOWN: usize = 300;

async fn list(State(desk): State<Arc<Desk>>) -> Response {
    let u = match need_unlocked(&desk) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let w = desk.words();
    let f = Frame::new(&desk, &w, Some("inbox"), "/inbox");
    let listed = match u.hub(&desk).await {
        Ok(s) => inbox::list(&s, &u.keyring)
            .await
            .map_err(anyhow::Error::from),
        Err(e) => Err(e),
    };
    let listed = match listed {
        Ok(l) => l,
        Err(e) => return f.failure(&e),
    };
    let seen = u.cache.lock().await.inbox_seen.clone();
    let more = listed.len().saturating_sub(MAX_SHOWN);
    let rows = listed
        .iter()
        .take(MAX_SHOWN)
        .map(|l| {
            let c = &l.conversation;
            Row {
                id: c.id,
                unread: seen.get(&c.id).copied().unwrap_or(0) < l.messages(),
                summary: w.f(
                    "desk-inbox-row",
                    &[
                        ("messages", &w.n(l.messages())),
                        ("files", &w.n(l.files)),
                        ("last", &hub_day(&w, &c.last_on)),
                        ("expires", &hub_day(&w, &c.expires_on)),
                    ],
                ),
                preview: match &l.preview {
                    Some(p) => w.line(p),
                    None => w.t("cli-inbox-not-for-you"),
                },
            }
        })
        .collect();
    let more = (more > 0).then(|| w.f("desk-inbox-more", &[("count", &w.n(more))]));
    f.render(
        StatusCode::OK,
        ListPage {
            f: f.clone(),
            rows,
            more,
        },
    )
}

struct ShownFile {
    id: i64,
    name: String,
    about: String,
    image: bool,
}

struct ShownMessage {
    head: String,
    from_sender: bool,
    body: Vec<String>,
    files: Vec<ShownFile>,
}

#[derive(askama::Template)]
#[template(path = "desk/conversation.html")]
struct ConversationPage<'a> {
    f: Frame<'a>,
    id: i64,
    about: String,
    messages: Vec<ShownMessage>,
    sent: Option<String>,
    draft: String,
    error: Option<String>,
}

/// Whether the desk shows a file as a picture: a JPEG or PNG by its first bytes (the
/// sender's word for its type is not enough).
fn image_type(bytes: &[u8]) -> Option<&'static str> {
    if bytes.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Some("image/jpeg")
    } else if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some("image/png")
    } else {
        None
    }
}

#[derive(serde::Deserialize, Default)]
struct ReadQuery {
    sent: Option<usize>,
}

async fn read(
    State(desk): State<Arc<Desk>>,
    Path(id): Path<i64>,
    Query(q): Query<ReadQuery>,
) -> Response {
    conversation(&desk, id, q.sent, String::new(), None).await
}

async fn conversation(
    desk: &Desk,
    id: i64,
    sent: Option<usize>,
    draft: String,
    error: Option<String>,
) -> Response {
    let u = match need_unlocked(desk) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let w = desk.words();
    let path = format!("/inbox/{id}");
    let f = Frame::new(desk, &w, Some("inbox"), &path);
    let opened = match u.hub(desk).await {
        Ok(s) => inbox::open(&s, &u.keyring, id)
            .await
            .map_err(anyhow::Error::from),
        Err(e) => Err(e),
    };
    let (conv, opened) = match opened {
        Ok(o) => o,
        Err(e) => return f.failure(&e),
    };
    {
        let mut cache = u.cache.lock().await;
        if cache.inbox_seen.get(&id) != Some(&opened.len()) {
            cache.inbox_seen.insert(id, opened.len());
            if let Err(e) = u.save(&cache) {
                return f.failure(&e);
            }
        }
    }
    let labels = u.cache.lock().await.labels.clone();
    let messages = opened
        .iter()
        .map(|o| {
            let date = w.l().date(o.envelope.sent);
            let (head, from_sender) = match &o.envelope.from {
                Author::Sender => (w.f("desk-from-sender", &[("date", &date)]), true),
                Author::Coordinator(fp) => (
                    w.f(
                        "desk-from-coordinator",
                        &[("who", &w.who(fp, &labels)), ("date", &date)],
                    ),
                    false,
                ),
            };
            let files = o
                .file_ids
                .iter()
                .zip(&o.envelope.files)
                .map(|(fid, e)| ShownFile {
                    id: *fid,
                    name: w.line(&clean_file_name(&e.name)),
                    about: w.f(
                        if e.scrubbed {
                            "desk-file-scrubbed"
                        } else {
                            "desk-file"
                        },
                        &[
                            ("size", &w.n(usize::try_from(e.size).unwrap_or(usize::MAX))),
                            ("type", &sanitize_line(&e.content_type)),
                        ],
                    ),
                    image: e.scrubbed
                        && matches!(e.content_type.as_str(), "image/jpeg" | "image/png"),
                })
                .collect();
            ShownMessage {
                head,
                from_sender,
                body: crate::desk::paragraphs(&o.envelope.body),
                files,
            }
        })
        .collect();
    let about = w.f(
        "cli-inbox-conversation",
        &[
            ("id", &conv.id.to_string()),
            ("started", &hub_day(&w, &conv.created_on)),
            ("last", &hub_day(&w, &conv.last_on)),
            ("expires", &hub_day(&w, &conv.expires_on)),
        ],
    );
    let sent = sent.map(|count| w.f("desk-replied", &[("count", &w.n(count))]));
    let status = if error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    f.render(
        status,
        ConversationPage {
            f: f.clone(),
            id,
            about,
            messages,
            sent,
            draft,
            error,
        },
    )
}

#[derive(serde::Deserialize, Default)]
struct FileQuery {
    view: Option<String>,
}

/// One file, decrypted and checked against its sender's envelope: a picture shown by the
/// desk itself when asked to and it is one; anything else as an attachment to save.
async fn file(
    State(desk): State<Arc<Desk>>,
    Path((id, file_id)): Path<(i64, i64)>,
    Query(q): Query<FileQuery>,
) -> Response {
    let u = match need_unlocked(&desk) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let w = desk.words();
    let f = Frame::new(&desk, &w, Some("inbox"), &format!("/inbox/{id}"));
    let got = async {
        let _turn = desk.files.acquire().await?;
        let s = u.hub(&desk).await?;
        let (_, opened) = inbox::open(&s, &u.keyring, id).await?;
        let entry = opened
            .iter()
            .flat_map(|o| o.file_ids.iter().zip(&o.envelope.files))
            .find(|(fid, _)| **fid == file_id)
            .map(|(_, e)| e.clone());
        let Some(entry) = entry else {
            return Ok(None);
        };
        let bytes = inbox::fetch_file(&s, &u.keyring, file_id, &entry).await?;
        anyhow::Ok(Some((entry, bytes)))
    }
    .await;
    let (entry, bytes) = match got {
        Ok(Some(x)) => x,
        Ok(None) => return f.message(StatusCode::NOT_FOUND, &w.t("desk-no-such-file")),
        Err(e) => return f.failure(&e),
    };
    let mut res = match (q.view.is_some(), image_type(&bytes)) {
        (true, Some(kind)) => {
            let mut res = bytes.into_response();
            res.headers_mut()
                .insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
            res
        }
        _ => {
            let mut res = bytes.into_response();
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            if let Ok(v) = HeaderValue::from_str(&attachment(&clean_file_name(&entry.name))) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            res
        }
    };
    // Not a page: nothing in it may run or load anything, even opened on its own.
    res.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static("default-src 'none'; sandbox"),
    );
    res
}

/// `attachment` with the name as plain ASCII and, in full, as RFC 5987 UTF-8.
pub(crate) fn attachment(name: &str) -> String {
    let ascii: String = name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "._-".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = form_urlencoded::byte_serialize(name.as_bytes())
        .collect::<String>()
        .replace('+', "%20");
    format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

#[derive(serde::Deserialize)]
struct ReplyForm {
    text: String,
}

async fn reply(
    State(desk): State<Arc<Desk>>,
    Path(id): Path<i64>,
    Form(form): Form<ReplyForm>,
) -> Response {
    let u = match need_unlocked(&desk) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let w = desk.words();
    if form.text.trim().is_empty() {
        return conversation(&desk, id, None, form.text, Some(w.t("desk-reply-empty"))).await;
    }
    let sent = async {
        let s = u.hub(&desk).await?;
        let team = desk.team(&s, &u.keyring).await?;
        anyhow::Ok(inbox::reply(&s, &team, id, &form.text).await?)
    }
    .await;
    match sent {
        Ok(r) => {
            Redirect::to(&desk.at(&format!("/inbox/{id}?sent={}", r.coordinators))).into_response()
        }
        Err(e) => {
            let message = crate::error_text(&e, &w);
            conversation(&desk, id, None, form.text, Some(message)).await
        }
    }
}

async fn confirm_delete(State(desk): State<Arc<Desk>>, Path(id): Path<i64>) -> Response {
    if let Err(r) = need_unlocked(&desk) {
        return r.into_response();
    }
    let w = desk.words();
    let path = format!("/inbox/{id}/delete");
    let f = Frame::new(&desk, &w, Some("inbox"), &path);
    f.confirm(
        w.t("desk-delete-title"),
        w.t("desk-delete-explain"),
        path.clone(),
        w.t("desk-delete"),
        format!("/inbox/{id}"),
    )
}

async fn delete(State(desk): State<Arc<Desk>>, Path(id): Path<i64>) -> Response {
    let u = match need_unlocked(&desk) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let w = desk.words();
    let f = Frame::new(&desk, &w, Some("inbox"), "/inbox");
    let done = async {
        let s = u.hub(&desk).await?;
        anyhow::Ok(inbox::delete(&s, id).await?)
    }
    .await;
    match done {
        Ok(()) => {
            let mut cache = u.cache.lock().await;
            if cache.inbox_seen.remove(&id).is_some() {
                let _ = u.save(&cache);
            }
            f.message(
                StatusCode::OK,
                &w.f("cli-inbox-deleted", &[("id", &id.to_string())]),
            )
        }
        Err(e) => f.failure(&e),
    }
}

/// The conversation and its files as a tar inside an age file to this coordinator's own
/// key, downloaded: `rage -d -i IDENTITY FILE | tar x` opens it without Panah.
async fn export(State(desk): State<Arc<Desk>>, Path(id): Path<i64>) -> Response {
    let u = match need_unlocked(&desk) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let w = desk.words();
    let f = Frame::new(&desk, &w, Some("inbox"), &format!("/inbox/{id}"));
    let made = async {
        let s = u.hub(&desk).await?;
        anyhow::Ok(inbox::export(&s, &u.keyring, id).await?)
    }
    .await;
    match made {
        Ok(bytes) => {
            let mut res = bytes.into_response();
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/octet-stream"),
            );
            if let Ok(v) = HeaderValue::from_str(&attachment(&format!("conversation-{id}.age"))) {
                h.insert(header::CONTENT_DISPOSITION, v);
            }
            res
        }
        Err(e) => f.failure(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn files_are_named_safely_and_pictures_known_by_their_bytes() {
        assert_eq!(
            attachment("سند \"1\".pdf"),
            "attachment; filename=\"_____1_.pdf\"; filename*=UTF-8''%D8%B3%D9%86%D8%AF%20%221%22.pdf"
        );
        assert_eq!(image_type(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(image_type(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(image_type(b"<svg onload=alert(1)>"), None);
    }
}
