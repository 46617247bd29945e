//! What every desk page shares: the words in the chosen language, the stylesheet, the
//! form token, the navigation; and rendering with askama (every value escaped).

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use panah_core::Lang;

use super::Desk;
use crate::tracker::Words;

#[derive(Clone)]
pub(crate) struct Frame<'a> {
    pub w: &'a Words,
    pub lang: Lang,
    pub css: &'a str,
    pub csrf: &'a str,
    /// The section this page belongs to, for the navigation (`inbox`, `books`, …).
    pub section: Option<&'static str>,
    /// This page's path, for the language links.
    pub path: String,
    pub unlocked: bool,
    pub collective: String,
    /// Where every desk address begins.
    pub root: &'a str,
}

impl<'a> Frame<'a> {
    pub fn new(desk: &'a Desk, w: &'a Words, section: Option<&'static str>, path: &str) -> Self {
        Frame {
            w,
            lang: w.lang,
            css: &desk.css,
            csrf: &desk.csrf,
            section,
            path: desk.at(path),
            unlocked: desk.unlocked().is_some(),
            collective: desk.collective.to_string(),
            root: &desk.root,
        }
    }

    /// The frame of a refusal: no navigation and no form token, whoever asked.
    pub fn bare(desk: &'a Desk, w: &'a Words) -> Self {
        Frame {
            csrf: "",
            unlocked: false,
            ..Frame::new(desk, w, None, "/unlock")
        }
    }

    /// The page the one-time address answers with: it moves on to `next` by itself.
    pub fn opening(&self, next: &str) -> Response {
        self.render(
            StatusCode::OK,
            OpeningPage {
                f: self.clone(),
                next: next.to_owned(),
            },
        )
    }

    pub fn t(&self, id: &str) -> String {
        self.w.t(id)
    }

    pub fn langs(&self) -> &'static [Lang] {
        &Lang::ALL
    }

    pub fn is(&self, section: &str) -> bool {
        self.section == Some(section)
    }

    /// The page, or a plain refusal if a template failed (a bug, caught by the tests).
    pub fn render(&self, status: StatusCode, page: impl Template) -> Response {
        match page.render() {
            Ok(body) => (status, Html(body)).into_response(),
            Err(e) => {
                eprintln!("a desk page failed to render: {e}");
                (StatusCode::INTERNAL_SERVER_ERROR, "A desk page failed.\n").into_response()
            }
        }
    }

    /// A page that only says `text` (a refusal, an error, a confirmation).
    pub fn message(&self, status: StatusCode, text: &str) -> Response {
        self.render(
            status,
            MessagePage {
                f: self.clone(),
                text: text.to_owned(),
                error: status.is_client_error() || status.is_server_error(),
            },
        )
    }

    /// A page that asks before something that cannot be undone: one button posts to
    /// `action`, a link goes `back`.
    pub fn confirm(
        &self,
        title: String,
        text: String,
        action: String,
        button: String,
        back: String,
    ) -> Response {
        self.render(
            StatusCode::OK,
            ConfirmPage {
                f: self.clone(),
                title,
                text,
                action: format!("{}{action}", self.root),
                button,
                back: format!("{}{back}", self.root),
            },
        )
    }

    /// An error from the hub or the keyring, in the reader's words where known.
    pub fn failure(&self, e: &anyhow::Error) -> Response {
        let status = match e
            .chain()
            .find_map(|c| c.downcast_ref::<panah_client::ClientError>())
        {
            Some(panah_client::ClientError::Unreachable { .. }) => StatusCode::BAD_GATEWAY,
            Some(panah_client::ClientError::Invalid(_)) => StatusCode::UNPROCESSABLE_ENTITY,
            Some(panah_client::ClientError::Refused { status, .. }) if *status < 500 => {
                StatusCode::from_u16(*status).unwrap_or(StatusCode::BAD_GATEWAY)
            }
            _ => StatusCode::BAD_GATEWAY,
        };
        self.message(status, &crate::error_text(e, self.w))
    }
}

#[derive(Template)]
#[template(path = "desk/message.html")]
struct MessagePage<'a> {
    f: Frame<'a>,
    text: String,
    error: bool,
}

#[derive(Template)]
#[template(path = "desk/confirm.html")]
struct ConfirmPage<'a> {
    f: Frame<'a>,
    title: String,
    text: String,
    action: String,
    button: String,
    back: String,
}

/// One option of a `<select>`: the word the form sends and what the reader sees.
pub(crate) struct Choice {
    pub value: &'static str,
    pub label: String,
}

/// The options for a fixed set of words, each labelled by the message `{prefix}-{word}`.
pub(crate) fn choices<T: Copy>(
    w: &Words,
    all: &[T],
    word: fn(T) -> &'static str,
    prefix: &str,
) -> Vec<Choice> {
    all.iter()
        .map(|v| Choice {
            value: word(*v),
            label: w.t(&format!("{prefix}-{}", word(*v))),
        })
        .collect()
}

#[derive(Template)]
#[template(path = "desk/opening.html")]
struct OpeningPage<'a> {
    f: Frame<'a>,
    next: String,
}
