//! The contact drop, sender's side: `/c/{slug}/contact` and `/c/{slug}/replies`.
//!
//! The pages only read the form and show the answer: everything a sender sends goes to
//! [`crate::intake`], which encrypts it as it streams in; what is stored is ciphertext,
//! padded sizes and whole-day dates. A follow-up from the replies page
//! is the same form with the codename in a hidden field, handled by the same code.

use askama::Template;
use axum::extract::multipart::{Field, MultipartError, MultipartRejection};
use axum::extract::rejection::FormRejection;
use axum::extract::{Form, Multipart, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use panah_core::codename::{self, CodenameError};
use panah_core::digits::typed_back;
use panah_core::envelope::Envelope;
use panah_core::{Codename, Lang};
use panah_store::Collective;
use serde::Deserialize;

use super::{html_no_store, Page, PageError, SlugParam};
use crate::intake::{Intake, Refusal};
use crate::AppState;

#[derive(Template)]
#[template(path = "contact.html")]
struct ContactPage<'a> {
    page: Page<'a>,
    name: String,
    error: Option<String>,
    form: WriteForm,
}

/// The form a sender writes in: on the contact page, and under the replies for a follow-up
/// (then with the codename in a hidden field). `templates/form.html`.
struct WriteForm {
    slug: String,
    codename: Option<String>,
    draft: String,
    files_note: String,
    max_chars: usize,
}

#[derive(Template)]
#[template(path = "sent.html")]
struct SentPage<'a> {
    page: Page<'a>,
    slug: String,
    /// A new conversation's codename, group by group.
    codename: Vec<CodeGroup>,
    /// "Write the groups in this order…"
    order: String,
    files: Vec<String>,
    kept: String,
}

/// One numbered group of a codename as the sent page shows it: in the reader's digits,
/// and in Latin digits beside them where the reader's are not Latin.
struct CodeGroup {
    number: String,
    digits: String,
    latin: Option<String>,
}

#[derive(Template)]
#[template(path = "replies.html")]
struct RepliesPage<'a> {
    page: Page<'a>,
    name: String,
    slug: String,
    error: Option<String>,
    /// What the sender typed, given back so that one wrong group can be mended.
    typed: String,
}

struct Reply {
    heading: String,
    paragraphs: Vec<String>,
}

#[derive(Template)]
#[template(path = "conversation.html")]
struct ConversationPage<'a> {
    page: Page<'a>,
    name: String,
    replies: Vec<Reply>,
    kept: String,
    form: WriteForm,
}

/// Each refusal of the intake as a 4xx and a translated sentence.
impl Refusal {
    fn status(&self) -> StatusCode {
        match self {
            Refusal::TooManyFiles | Refusal::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::Busy => StatusCode::TOO_MANY_REQUESTS,
            Refusal::NoSpace => StatusCode::INSUFFICIENT_STORAGE,
            Refusal::NoCoordinators => StatusCode::SERVICE_UNAVAILABLE,
            Refusal::DamagedImage(_) | Refusal::NotText => StatusCode::UNPROCESSABLE_ENTITY,
            Refusal::NoConversation | Refusal::FollowupNowhere => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_REQUEST,
        }
    }

    fn message(&self, state: &AppState, lang: Lang) -> String {
        let l = state.inner.catalog.localizer(lang);
        let s = &state.inner.settings;
        match self {
            Refusal::Empty => l.t("error-empty"),
            Refusal::TooManyFiles => l.t1(
                "error-too-many-files",
                "count",
                &l.integer(s.max_files as i64),
            ),
            Refusal::TooLarge => l.t1(
                "error-too-large",
                "size",
                &megabytes(&l, s.max_upload_bytes),
            ),
            Refusal::MessageTooLong => l.t1(
                "error-message-long",
                "count",
                &l.integer(s.max_message_chars as i64),
            ),
            Refusal::NotText => l.t("error-not-text"),
            Refusal::Broken => l.t("error-upload-broken"),
            Refusal::Busy => l.t("error-busy"),
            Refusal::NoSpace => l.t("error-no-space"),
            Refusal::NoCoordinators => l.t("error-no-coordinators"),
            Refusal::DamagedImage(name) => l.t1("error-damaged-image", "name", &l.isolate(name)),
            Refusal::BadCodename(e) => codename_refusal(&l, e),
            Refusal::NoConversation => l.t("error-no-conversation"),
            Refusal::FollowupNowhere => l.t("error-followup-nowhere"),
        }
    }
}

/// Why a typed codename was refused, naming the groups that look wrong.
fn codename_refusal(l: &panah_i18n::Localizer<'_>, e: &CodenameError) -> String {
    match e {
        CodenameError::Typo(groups) if groups.len() == 1 => l.t1(
            "error-codename-group",
            "group",
            &l.integer(groups[0] as i64),
        ),
        CodenameError::Typo(groups) => {
            let numbers: Vec<String> = groups.iter().map(|g| l.integer(*g as i64)).collect();
            l.t1("error-codename-groups", "groups", &l.list(&numbers))
        }
        CodenameError::GroupLength(group) => l.t2(
            "error-codename-group-length",
            ("group", &l.integer(*group as i64)),
            ("count", &l.integer(codename::GROUP as i64)),
        ),
        CodenameError::Length(_) | CodenameError::Character => l.t1(
            "error-codename",
            "count",
            &l.integer(codename::DIGITS as i64),
        ),
    }
}

/// How long the hub keeps a conversation after the sender's last message.
fn kept_note(state: &AppState, lang: Lang) -> String {
    let l = state.inner.catalog.localizer(lang);
    l.t1(
        "sent-kept",
        "days",
        &l.integer(state.inner.settings.retention_days),
    )
}

fn megabytes(l: &panah_i18n::Localizer<'_>, bytes: u64) -> String {
    l.t1("size-mb", "n", &l.integer((bytes / (1024 * 1024)) as i64))
}

fn multipart_refusal(e: &MultipartError) -> Refusal {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        Refusal::TooLarge
    } else {
        Refusal::Broken
    }
}

impl AppState {
    async fn collective_and_lang(
        &self,
        slug: &str,
        query: Option<&str>,
        headers: &HeaderMap,
    ) -> Result<(Collective, Lang, String), Response> {
        let (collective, lang) = super::collective_page(self, slug, query, headers).await?;
        let name = self.collective_name(&collective, lang).await;
        Ok((collective, lang, name))
    }

    fn write_form(
        &self,
        c: &Collective,
        lang: Lang,
        draft: String,
        codename: Option<String>,
    ) -> WriteForm {
        let l = self.inner.catalog.localizer(lang);
        let s = &self.inner.settings;
        let files_note = self.inner.catalog.format(
            lang,
            "contact-files",
            &[
                ("count", &l.integer(s.max_files as i64)),
                ("size", &megabytes(&l, s.max_upload_bytes)),
            ],
        );
        WriteForm {
            slug: c.slug.to_string(),
            codename,
            draft,
            files_note,
            max_chars: s.max_message_chars,
        }
    }

    fn contact_form(
        &self,
        c: &Collective,
        lang: Lang,
        name: String,
        error: Option<(StatusCode, String)>,
        draft: String,
        codename: Option<String>,
    ) -> Response {
        let status = error.as_ref().map_or(StatusCode::OK, |e| e.0);
        let page = ContactPage {
            page: self.page(lang, format!("/c/{}/contact", c.slug)),
            name,
            error: error.map(|e| e.1),
            form: self.write_form(c, lang, draft, codename),
        };
        html_no_store(status, page.render())
    }
}

/// The two forms that are the same for everyone, so cached: write, and read replies.
#[derive(Clone, Copy)]
enum BlankForm {
    Contact,
    Replies,
}

async fn blank_form(
    state: &AppState,
    slug: &str,
    query: Option<&str>,
    headers: &HeaderMap,
    form: BlankForm,
) -> Response {
    let path = match form {
        BlankForm::Contact => format!("/c/{slug}/contact"),
        BlankForm::Replies => format!("/c/{slug}/replies"),
    };
    let render = async {
        let (c, lang, name) = match state.collective_and_lang(slug, query, headers).await {
            Ok(x) => x,
            Err(r) => return r,
        };
        match form {
            BlankForm::Contact => state.contact_form(&c, lang, name, None, String::new(), None),
            BlankForm::Replies => replies_page(state, &c, lang, name, None, String::new()),
        }
    };
    super::cached(state, path, query, headers, render).await
}

pub(crate) async fn contact_form(
    State(state): State<AppState>,
    SlugParam(slug): SlugParam,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    blank_form(
        &state,
        &slug,
        query.as_deref(),
        &headers,
        BlankForm::Contact,
    )
    .await
}

pub(crate) async fn contact_submit(
    State(state): State<AppState>,
    SlugParam(slug): SlugParam,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    source: crate::sources::SourceOf,
    multipart: Result<Multipart, MultipartRejection>,
) -> Response {
    // The collective's name is looked up only if the form has to be shown again.
    let (door, lang) = match super::door_page(&state, &slug, query.as_deref(), &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let c = &door.collective;
    let form = RefusalForm {
        state: &state,
        c,
        lang,
        followup: query
            .as_deref()
            .is_some_and(|q| q.split('&').any(|p| p == "followup=1")),
    };
    let Ok(mut multipart) = multipart else {
        return form.refuse_unread(Refusal::Broken).await;
    };
    // An upload slot (hub-wide, and per source) is taken at the first file and held until
    // the response is built: it bounds the files open at once under a flood, and a message
    // of text alone never waits for one. Without a slot, the form comes back with the text.
    let mut upload: Option<(tokio::sync::OwnedSemaphorePermit, crate::sources::Held)> = None;
    let recipients = door.recipients.clone();
    if recipients.is_empty() {
        return form.refuse_unread(Refusal::NoCoordinators).await;
    }
    let hub = crate::intake::Hub {
        store: state.store(),
        blobs: state.blobs(),
        settings: &state.inner.settings,
        check: &state.inner.codename_check,
        secret: &state.inner.codename_secret,
        activity: state.activity(),
    };
    let mut intake = match Intake::new(hub, c.id, c.slug.clone(), recipients) {
        Ok(i) => i,
        Err(refusal) => return form.refuse_unread(refusal).await,
    };
    let (mut text, mut codename, mut honeypot) = (Vec::new(), None, false);
    let max_text = state.inner.settings.max_message_chars * 4;
    let read = async {
        loop {
            let mut field = match multipart.next_field().await {
                Ok(Some(f)) => f,
                Ok(None) => break Ok(()),
                Err(e) => break Err(multipart_refusal(&e)),
            };
            let step = match field.name().unwrap_or_default() {
                "message" => read_small(&mut field, max_text, &mut text).await,
                "file" => {
                    if upload.is_none() {
                        let slot = state.inner.upload_slots.clone().try_acquire_owned().ok();
                        match (slot, state.sources().upload(source.0)) {
                            (Some(slot), Some(held)) => upload = Some((slot, held)),
                            _ => break Err(Refusal::Busy),
                        }
                    }
                    read_file(&mut intake, &mut field).await
                }
                "codename" => {
                    let mut raw = Vec::new();
                    read_small(&mut field, 512, &mut raw)
                        .await
                        .map_err(|_| Refusal::BadCodename(CodenameError::Character))?;
                    codename = Some(String::from_utf8_lossy(&raw).into_owned());
                    Ok(())
                }
                "website" => {
                    let mut raw = Vec::new();
                    let r = read_small(&mut field, 1024, &mut raw).await;
                    honeypot |= r.is_err() || raw.iter().any(|b| !b.is_ascii_whitespace());
                    Ok(())
                }
                // Unknown fields are read and dropped (the body limit bounds them).
                _ => {
                    while let Ok(Some(_)) = field.chunk().await {}
                    Ok(())
                }
            };
            if let Err(r) = step {
                break Err(r);
            }
        }
    };
    if let Err(refusal) = read.await {
        let draft = String::from_utf8_lossy(&text).replace("\r\n", "\n");
        return form.refuse(refusal, draft, codename).await;
    }
    // The budget is spent only by a submission that is about to be kept: not by a broken
    // or honeypot-filled one, and one source cannot spend a collective's whole share.
    let spend = || state.inner.submissions.try_acquire(c.id, source.0);
    match intake.finish(text, codename, honeypot, spend).await {
        Ok(accepted) => {
            let l = state.inner.catalog.localizer(lang);
            let notes: Vec<String> = accepted
                .files
                .iter()
                .map(|f| {
                    l.t1(
                        if f.scrubbed {
                            "sent-file-scrubbed"
                        } else {
                            "sent-file-kept"
                        },
                        "name",
                        &l.isolate(&f.name),
                    )
                })
                .collect();
            sent_page(&state, c, lang, accepted.codename.as_ref(), notes)
        }
        Err(r) => form.refuse(r.refusal, r.draft, r.codename).await,
    }
}

/// A small text part, at most `limit` bytes.
async fn read_small(
    field: &mut Field<'_>,
    limit: usize,
    into: &mut Vec<u8>,
) -> Result<(), Refusal> {
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_refusal(&e))? {
        if into.len() + chunk.len() > limit {
            return Err(Refusal::MessageTooLong);
        }
        into.extend_from_slice(&chunk);
    }
    Ok(())
}

/// A file part, streamed into the intake.
async fn read_file(intake: &mut Intake<'_>, field: &mut Field<'_>) -> Result<(), Refusal> {
    let mut file = intake.file(field.file_name(), field.content_type());
    while let Some(chunk) = field.chunk().await.map_err(|e| multipart_refusal(&e))? {
        intake.file_bytes(&mut file, &chunk).await?;
    }
    intake.end_file(file).await
}

/// Shows the form again with a refusal, the draft and (for a follow-up) the codename.
struct RefusalForm<'a> {
    state: &'a AppState,
    c: &'a Collective,
    lang: Lang,
    /// The form was a follow-up (its address says so, before any field is read).
    followup: bool,
}

impl RefusalForm<'_> {
    /// A refusal before any field was read (busy, broken upload, no coordinators). For a
    /// follow-up the codename is not known yet, so the write form cannot be shown again:
    /// a blank one would open a new conversation. The sender is sent back instead, to the
    /// page where their text still is.
    async fn refuse_unread(&self, refusal: Refusal) -> Response {
        if !self.followup {
            return self.refuse(refusal, String::new(), None).await;
        }
        let name = self.state.collective_name(self.c, self.lang).await;
        let l = self.state.inner.catalog.localizer(self.lang);
        let message = format!(
            "{} {}",
            refusal.message(self.state, self.lang),
            l.t("error-followup-back")
        );
        replies_page(
            self.state,
            self.c,
            self.lang,
            name,
            Some((refusal.status(), message)),
            String::new(),
        )
    }

    async fn refuse(&self, refusal: Refusal, draft: String, codename: Option<String>) -> Response {
        let name = self.state.collective_name(self.c, self.lang).await;
        let message = refusal.message(self.state, self.lang);
        self.state.contact_form(
            self.c,
            self.lang,
            name,
            Some((refusal.status(), message)),
            draft,
            codename,
        )
    }
}

fn sent_page(
    state: &AppState,
    c: &Collective,
    lang: Lang,
    codename: Option<&Codename>,
    files: Vec<String>,
) -> Response {
    let l = state.inner.catalog.localizer(lang);
    let codename = codename.map(Codename::groups).unwrap_or_default();
    let page = SentPage {
        page: state.page(lang, format!("/c/{}/contact", c.slug)),
        slug: c.slug.to_string(),
        codename: codename
            .iter()
            .enumerate()
            .map(|(i, g)| CodeGroup {
                number: l.integer(i as i64 + 1),
                digits: l.digits(g),
                latin: lang.is_rtl().then(|| g.clone()),
            })
            .collect(),
        order: l.t1(
            "sent-codename-order",
            "count",
            &l.integer(codename::GROUPS as i64),
        ),
        files,
        kept: kept_note(state, lang),
    };
    html_no_store(StatusCode::OK, page.render())
}

pub(crate) async fn replies_form(
    State(state): State<AppState>,
    SlugParam(slug): SlugParam,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    blank_form(
        &state,
        &slug,
        query.as_deref(),
        &headers,
        BlankForm::Replies,
    )
    .await
}

fn replies_page(
    state: &AppState,
    c: &Collective,
    lang: Lang,
    name: String,
    error: Option<(StatusCode, String)>,
    typed: String,
) -> Response {
    let status = error.as_ref().map_or(StatusCode::OK, |e| e.0);
    let page = RepliesPage {
        page: state.page(lang, format!("/c/{}/replies", c.slug)),
        name,
        slug: c.slug.to_string(),
        error: error.map(|e| e.1),
        typed,
    };
    html_no_store(status, page.render())
}

#[derive(Deserialize)]
pub(crate) struct CodenameForm {
    codename: String,
}

/// Largest reply blob the page will decrypt.
const MAX_REPLY_BLOB: usize = 2 * 1024 * 1024;

pub(crate) async fn replies_open(
    State(state): State<AppState>,
    SlugParam(slug): SlugParam,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    source: crate::sources::SourceOf,
    form: Result<Form<CodenameForm>, FormRejection>,
) -> Response {
    let (c, lang, name) = match state
        .collective_and_lang(&slug, query.as_deref(), &headers)
        .await
    {
        Ok(x) => x,
        Err(r) => return r,
    };
    let typed = form
        .as_ref()
        .map(|Form(f)| typed_back(&f.codename))
        .unwrap_or_default();
    let error = |refusal: Refusal, typed: String| {
        let message = refusal.message(&state, lang);
        replies_page(
            &state,
            &c,
            lang,
            name.clone(),
            Some((refusal.status(), message)),
            typed,
        )
    };
    let Ok(Form(form)) = form else {
        return error(Refusal::BadCodename(CodenameError::Character), typed);
    };
    // A typo is caught here, before anything is looked up or any budget spent, and its
    // group named: a stranger's garbage costs the real senders nothing.
    let codename = match Codename::parse(&form.codename, &state.inner.codename_check) {
        Ok(c) => c,
        Err(e) => return error(Refusal::BadCodename(e), typed),
    };
    if !state.inner.codename_lookups.try_acquire(c.id, source.0) {
        return error(Refusal::Busy, typed);
    }
    // Derive, look up, then decrypt whatever replies there are. A well-formed codename of no
    // conversation is answered as such (404): the sender must know to check it.
    let keys = codename.derive(state.inner.codename_secret.as_bytes(), &c.slug);
    let view = match state.store().replies_by_lookup(c.id, &keys.lookup).await {
        Ok(view) => view,
        Err(e) => {
            tracing::error!(error = %e, "cannot look up replies");
            return state.error_page(lang, PageError::Internal);
        }
    };
    // A well-formed codename of no conversation: said plainly, with no form to write in
    // (a follow-up there could only start a stranger's conversation).
    let Some(found) = view else {
        return error(Refusal::NoConversation, typed);
    };
    let l = state.inner.catalog.localizer(lang);
    let mut replies = Vec::new();
    for (blob, size) in found {
        // Replies are at most 1 MiB (the API's limit); anything larger is not ours to read.
        if usize::try_from(size).map_or(true, |n| n > MAX_REPLY_BLOB) {
            continue;
        }
        let Ok(ciphertext) = state.blobs().read_at_most(&blob, MAX_REPLY_BLOB).await else {
            tracing::warn!("a reply's ciphertext is missing");
            continue;
        };
        let Some(envelope) = open_reply(&ciphertext, &keys.reply) else {
            tracing::warn!("a reply could not be decrypted with the sender's key");
            continue;
        };
        replies.push(Reply {
            heading: l.t1("replies-from", "date", &l.date(envelope.sent)),
            paragraphs: super::paragraphs(&envelope.body),
        });
    }
    // How long, not until when: the date would tell anyone holding the codename when the
    // sender last wrote.
    let kept = kept_note(&state, lang);
    let page = ConversationPage {
        page: state.page(lang, format!("/c/{}/replies", c.slug)),
        name,
        replies,
        kept,
        form: state.write_form(&c, lang, String::new(), Some(codename.grouped())),
    };
    html_no_store(StatusCode::OK, page.render())
}

fn open_reply(ciphertext: &[u8], identity: &age::x25519::Identity) -> Option<Envelope> {
    let plain = panah_core::age_file::decrypt(ciphertext, identity, MAX_REPLY_BLOB as u64).ok()?;
    Envelope::parse(&plain).ok()
}
