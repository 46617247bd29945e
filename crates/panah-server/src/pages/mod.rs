//! Public pages: server-rendered, auto-escaped (askama), every word from Fluent.

pub(crate) mod cache;
pub(crate) mod contact;
pub(crate) mod ledger;

use askama::Template;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use panah_core::{Lang, Slug};
use panah_i18n::Localizer;
use panah_store::Appeal;

use crate::AppState;

/// The `{slug}` of a page's path. Never rejects: a slug that is not even valid UTF-8 after
/// percent-decoding is just a collective that does not exist, answered with the translated
/// 404 page like any other.
pub(crate) struct SlugParam(pub String);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for SlugParam {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        state: &S,
    ) -> Result<Self, Self::Rejection> {
        match Path::<String>::from_request_parts(parts, state).await {
            Ok(Path(slug)) => Ok(SlugParam(slug)),
            // `/c/{slug}…`: show the segment as it was sent.
            Err(_) => Ok(SlugParam(
                parts
                    .uri
                    .path()
                    .split('/')
                    .nth(2)
                    .unwrap_or_default()
                    .to_owned(),
            )),
        }
    }
}

/// What every page's frame needs.
pub(crate) struct Page<'a> {
    pub lang: Lang,
    pub l: Localizer<'a>,
    pub css: &'a str,
    /// This page's path, for the language switcher.
    pub path: String,
}

impl Page<'_> {
    pub fn langs(&self) -> &'static [Lang] {
        &Lang::ALL
    }
}

#[derive(Template)]
#[template(path = "home.html")]
struct HomePage<'a> {
    page: Page<'a>,
    collectives: Vec<Listed>,
}

struct Listed {
    slug: Slug,
    name: String,
    tagline: String,
}

#[derive(Template)]
#[template(path = "appeal.html")]
struct AppealPage<'a> {
    page: Page<'a>,
    appeal: Appeal,
    missing: bool,
    story: Vec<String>,
    needs: Vec<String>,
    give: Vec<String>,
    updated: String,
    goals: Vec<ledger::Bar>,
    /// "Raised so far" under the goals, when there is a ledger.
    raised: Option<String>,
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    page: Page<'a>,
    message: String,
}

/// A page-level failure, rendered as a translated HTML error page.
pub(crate) enum PageError {
    /// An unknown `?lang=`. What it said is not shown back (see `NoCollective`).
    BadLang,
    /// No collective at this address. The address is never echoed: a trusted page must not
    /// show `/c/call-this-number-for-help` back as if the site said it.
    NoCollective,
    NotFound,
    Internal,
}

/// `?lang=` first, then `Accept-Language`, then the collective's (or hub's) default.
/// An unknown `?lang=` is an error: a link that asks for a language we do not have should
/// say so rather than silently show another.
fn choose_lang(query: Option<&str>, headers: &HeaderMap, default: Lang) -> Result<Lang, PageError> {
    if let Some(code) = query.and_then(query_lang) {
        return Lang::from_code(&code).map_err(|_| PageError::BadLang);
    }
    Ok(header_lang(headers).unwrap_or(default))
}

/// What Tor Browser sends whatever its user reads (it hides the real choice so that all
/// its users look alike). It says nothing about the reader, so the default applies.
const TOR_BROWSER_ACCEPT_LANGUAGE: &str = "en-US,en;q=0.5";

fn header_lang(headers: &HeaderMap) -> Option<Lang> {
    headers
        .get(header::ACCEPT_LANGUAGE)
        .and_then(|v| v.to_str().ok())
        .filter(|v| v.trim() != TOR_BROWSER_ACCEPT_LANGUAGE)
        .and_then(Lang::negotiate)
}

/// The value of `lang` in a raw query string. Language codes are plain ASCII, so no
/// percent-decoding is needed; anything else is reported back as it was written.
fn query_lang(query: &str) -> Option<String> {
    query
        .split('&')
        .filter_map(|pair| pair.split_once('=').or(Some((pair, ""))))
        .find(|(k, _)| *k == "lang")
        .map(|(_, v)| v.chars().take(32).collect())
}

pub(crate) fn paragraphs(text: &str) -> Vec<String> {
    text.replace("\r\n", "\n")
        .split("\n\n")
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(str::to_owned)
        .collect()
}

fn html(status: StatusCode, body: Result<String, askama::Error>) -> Response {
    match body {
        Ok(body) => (
            status,
            [
                (header::CACHE_CONTROL, "no-cache"),
                (header::VARY, "Accept-Language, Accept-Encoding"),
            ],
            Html(body),
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "a page template failed");
            (
                StatusCode::INTERNAL_SERVER_ERROR,
                "The hub could not answer.",
            )
                .into_response()
        }
    }
}

impl AppState {
    /// A collective's name in `lang`, for page headings (the slug if none was written).
    pub(crate) async fn collective_name(&self, c: &panah_store::Collective, lang: Lang) -> String {
        match self.store().appeal(c.id, lang).await {
            Ok(Some((appeal, _))) => appeal.display_name(&c.slug),
            _ => c.slug.to_string(),
        }
    }
}

/// Pages that carry a codename, a draft or a reply must never be cached anywhere.
pub(crate) fn html_no_store(status: StatusCode, body: Result<String, askama::Error>) -> Response {
    let mut res = html(status, body);
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    res
}

/// Finds the collective a page is about and the language to show it in, or the error
/// page to answer with instead.
pub(crate) async fn collective_page(
    state: &AppState,
    slug: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<(panah_store::Collective, Lang), Response> {
    let found = match Slug::parse(slug) {
        Ok(s) => state.store().collective(&s).await,
        Err(_) => Ok(None),
    };
    in_its_language(state, found, |c| c, query, headers)
}

/// [`collective_page`] for the contact drop's form: the collective with its coordinators'
/// keys, from [`crate::doors`].
pub(crate) async fn door_page(
    state: &AppState,
    slug: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<(crate::doors::Door, Lang), Response> {
    let found = match Slug::parse(slug) {
        Ok(s) => state.inner.doors.get(state.store(), &s).await,
        Err(_) => Ok(None),
    };
    in_its_language(state, found, |d| &d.collective, query, headers)
}

/// What was found of a collective, with the language to show it in; or the error page.
// The error is the answer itself, made once per request: not worth a box.
#[allow(clippy::result_large_err)]
fn in_its_language<T>(
    state: &AppState,
    found: Result<Option<T>, panah_store::StoreError>,
    collective: impl Fn(&T) -> &panah_store::Collective,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Result<(T, Lang), Response> {
    let fallback = header_lang(headers).unwrap_or(HUB_DEFAULT);
    let found = match found {
        Ok(Some(c)) => c,
        Ok(None) => {
            let lang = choose_lang(query, headers, fallback).unwrap_or(fallback);
            return Err(state.error_page(lang, PageError::NoCollective));
        }
        Err(e) => return Err(state.error_page(fallback, internal(e))),
    };
    let default = collective(&found).default_lang;
    match choose_lang(query, headers, default) {
        Ok(lang) => Ok((found, lang)),
        Err(e) => Err(state.error_page(header_lang(headers).unwrap_or(default), e)),
    }
}

impl AppState {
    pub(crate) fn page(&self, lang: Lang, path: String) -> Page<'_> {
        Page {
            lang,
            l: self.inner.catalog.localizer(lang),
            css: self.inner.css,
            path,
        }
    }

    pub(crate) fn error_page(&self, lang: Lang, error: PageError) -> Response {
        let l = self.inner.catalog.localizer(lang);
        let (status, message) = match error {
            PageError::BadLang => (StatusCode::BAD_REQUEST, l.t("error-bad-lang")),
            PageError::NoCollective => (StatusCode::NOT_FOUND, l.t("error-no-collective")),
            PageError::NotFound => (StatusCode::NOT_FOUND, l.t("error-not-found")),
            PageError::Internal => (StatusCode::INTERNAL_SERVER_ERROR, l.t("error-internal")),
        };
        let page = ErrorPage {
            page: self.page(lang, "/".to_owned()),
            message,
        };
        html(status, page.render())
    }
}

/// The hub's own default language when no collective is involved.
const HUB_DEFAULT: Lang = Lang::Dari;

pub(crate) async fn home(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let lang = match choose_lang(query.as_deref(), &headers, HUB_DEFAULT) {
        Ok(lang) => lang,
        Err(e) => return state.error_page(header_lang(&headers).unwrap_or(HUB_DEFAULT), e),
    };
    let key = ("/".to_owned(), Some(lang), None);
    let render = async {
        match home_inner(&state, lang).await {
            Ok(r) => r,
            Err(e) => state.error_page(lang, e),
        }
    };
    state.inner.pages.serve(key, &headers, render).await
}

async fn home_inner(state: &AppState, lang: Lang) -> Result<Response, PageError> {
    let store = state.store();
    let mut collectives = Vec::new();
    for c in store.collectives().await.map_err(internal)? {
        let appeal = store
            .appeal(c.id, lang)
            .await
            .map_err(internal)?
            .map(|(appeal, _)| appeal)
            .unwrap_or_default();
        collectives.push(Listed {
            name: appeal.display_name(&c.slug),
            tagline: appeal.tagline,
            slug: c.slug,
        });
    }
    let page = HomePage {
        page: state.page(lang, "/".to_owned()),
        collectives,
    };
    Ok(html(StatusCode::OK, page.render()))
}

pub(crate) async fn appeal(
    State(state): State<AppState>,
    SlugParam(slug): SlugParam,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let render = appeal_page(&state, &slug, query.as_deref(), &headers);
    cached(
        &state,
        format!("/c/{slug}"),
        query.as_deref(),
        &headers,
        render,
    )
    .await
}

/// Serves a page that is the same for every visitor asking in the same language from the
/// short-lived page cache. An unknown `?lang=` is answered (with an error page) but never
/// cached.
pub(crate) async fn cached(
    state: &AppState,
    path: String,
    query: Option<&str>,
    headers: &HeaderMap,
    render: impl std::future::Future<Output = Response>,
) -> Response {
    let asked = query.and_then(query_lang);
    let Ok(asked) = asked.as_deref().map(Lang::from_code).transpose() else {
        return render.await;
    };
    let key = (path, asked, header_lang(headers));
    state.inner.pages.serve(key, headers, render).await
}

async fn appeal_page(
    state: &AppState,
    slug: &str,
    query: Option<&str>,
    headers: &HeaderMap,
) -> Response {
    let (collective, lang) = match collective_page(state, slug, query, headers).await {
        Ok(x) => x,
        Err(response) => return response,
    };
    let found = match state.store().appeal(collective.id, lang).await {
        Ok(found) => found,
        Err(e) => return state.error_page(lang, internal(e)),
    };
    let (appeal, updated) = found.unwrap_or_else(|| (Appeal::default(), collective.created_at));
    let l = state.inner.catalog.localizer(lang);
    let view = match state.ledger_view(&collective).await {
        Ok(v) => v,
        Err(e) => return state.error_page(lang, e),
    };
    let goals = view
        .as_ref()
        .map(|v| ledger::goal_bars(&l, v))
        .unwrap_or_default();
    let raised = view.as_ref().map(|v| {
        l.t2(
            "goal-summary",
            (
                "raised",
                &l.money(v.totals().raised, v.ledger.base_currency),
            ),
            ("spent", &l.money(v.totals().spent, v.ledger.base_currency)),
        )
    });
    let missing = appeal.story.trim().is_empty() && appeal.needs.trim().is_empty();
    let page = AppealPage {
        page: state.page(lang, format!("/c/{}", collective.slug)),
        story: paragraphs(&appeal.story),
        needs: paragraphs(&appeal.needs),
        give: paragraphs(&appeal.give),
        missing,
        updated: l.t1("appeal-updated", "date", &l.date(updated)),
        goals,
        raised,
        appeal: Appeal {
            name: appeal.display_name(&collective.slug),
            ..appeal
        },
    };
    html(StatusCode::OK, page.render())
}

pub(crate) async fn not_found(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let lang = choose_lang(query.as_deref(), &headers, HUB_DEFAULT).unwrap_or(HUB_DEFAULT);
    state.error_page(lang, PageError::NotFound)
}

pub(crate) async fn healthz(State(state): State<AppState>) -> Response {
    match state.store().ping().await {
        Ok(()) => (
            StatusCode::OK,
            [(header::CACHE_CONTROL, "no-store")],
            "ok\n",
        )
            .into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unreachable\n").into_response()
        }
    }
}

fn internal(e: panah_store::StoreError) -> PageError {
    tracing::error!(error = %e, "store error while rendering a page");
    PageError::Internal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lang_from_query() {
        assert_eq!(query_lang("lang=ps"), Some("ps".into()));
        assert_eq!(query_lang("x=1&lang=en&lang=fa"), Some("en".into()));
        assert_eq!(query_lang("language=en"), None);
        assert_eq!(query_lang("lang"), Some(String::new()));
    }

    #[test]
    fn paragraphs_split_on_blank_lines() {
        assert_eq!(
            paragraphs("a\nb\r\n\r\nc\n\n\n"),
            vec!["a\nb".to_owned(), "c".to_owned()]
        );
    }
}
