//! The desk's needs and cases: lists with filters, a board of cases by stage with what is
//! due and overdue, adding and editing (each change saved in the encrypted cache and sent at
//! once), conflicts shown side by side, the summary and the audit trail. The cache is
//! the same one the `needs` and `cases` commands use.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use panah_client::records::{self, Cache, Choice as Keep, SyncOptions};
use panah_core::records::doc::{Action, Case, Kind, Need, NeedStatus, Stage, Urgency};
use panah_core::records::{Day, Doc, RecordId, Summary};

use super::frame::{choices, Choice};
use super::{need_unlocked, Desk, Frame, Unlocked};
use crate::tracker::{self as cli, CaseFields, NeedFields, Words};

pub(super) fn routes() -> Router<Arc<Desk>> {
    Router::new()
        .route("/needs", get(needs).post(add_need))
        .route("/needs/{reference}", get(show_need).post(edit_need))
        .route("/cases", get(cases).post(add_case))
        .route("/cases/{reference}", get(show_case).post(edit_case))
        .route("/records/{reference}/resolve", post(resolve))
        .route(
            "/records/{reference}/delete",
            get(confirm_delete).post(delete),
        )
        .route("/summary", get(summary))
        .route("/audit", get(audit))
        .route("/sync", post(sync))
}

fn need_categories(w: &Words) -> Vec<Choice> {
    cli::need_categories()
        .into_iter()
        .map(|(c, word)| Choice {
            value: word,
            label: cli::category_word(w, c),
        })
        .collect()
}

/// Sends what waits and takes in what teammates changed; the lines say what happened.
/// A failure to reach the hub leaves changes waiting, and says so.
pub(super) async fn send(desk: &Desk, u: &Unlocked, w: &Words, cache: &mut Cache) -> Vec<String> {
    let keep = cache
        .keep_closed_days
        .unwrap_or(records::DEFAULT_KEEP_CLOSED_DAYS);
    let done = async {
        let session = u.hub(desk).await?;
        let team = desk.team(&session, &u.keyring).await?;
        let path = u.cache_path.clone();
        let keyring = &u.keyring;
        let synced = records::sync(
            &session,
            keyring,
            &team,
            cache,
            SyncOptions {
                keep_closed_days: keep,
                today: Day::today(),
            },
            |c| c.save(&path, keyring),
            |_| {},
        )
        .await?;
        let (said, problems) = cli::sync_report(w, &synced, cache, keep);
        // The command line's conflict line names a command; the desk says where to look.
        let mut said: Vec<String> = said
            .into_iter()
            .filter(|l| !synced.conflicts.iter().any(|id| l.contains(&id.short())))
            .collect();
        for id in &synced.conflicts {
            said.push(w.f("desk-sync-conflict", &[("ref", &id.short())]));
        }
        said.extend(problems);
        if cli::reencrypt_needed(&team, cache) {
            let r = cli::reencrypt_inbox(&session, keyring, &team, cache).await?;
            said.push(cli::reencrypted_line(w, &r));
        }
        anyhow::Ok(said)
    }
    .await;
    match done {
        Ok(said) => said,
        Err(e) => {
            let why = match e.downcast_ref::<panah_client::ClientError>() {
                Some(panah_client::ClientError::Unreachable { .. }) => w.t("cli-error-offline"),
                _ => crate::error_text(&e, w),
            };
            vec![w.f("desk-saved-offline", &[("why", &why)])]
        }
    }
}

/// After a change in the cache: saved (encrypted), then sent.
async fn changed(
    desk: &Desk,
    u: &Unlocked,
    w: &Words,
    cache: &mut Cache,
) -> anyhow::Result<Vec<String>> {
    u.save(cache)?;
    let said = send(desk, u, w, cache).await;
    u.save(cache)?;
    Ok(said)
}

/// The sync's lines, kept for the next page (a redirect follows every change).
fn remember(desk: &Desk, said: Vec<String>) {
    *desk.said.lock().unwrap_or_else(|e| e.into_inner()) = said;
}

fn said(desk: &Desk) -> Vec<String> {
    std::mem::take(&mut *desk.said.lock().unwrap_or_else(|e| e.into_inner()))
}

/// The most rows a list shows at once: a page stays light on a cheap laptop; the filters
/// narrow the rest.
const MAX_ROWS: usize = 300;

struct Row {
    reference: String,
    href: String,
    line: String,
    conflict: bool,
    overdue: bool,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct NeedFilter {
    status: String,
    category: String,
    urgency: String,
}

/// The need form as typed (every field present; the desk's forms send them all).
#[derive(serde::Deserialize, Default, Clone)]
#[serde(default)]
struct NeedForm {
    pseudonym: String,
    category: String,
    urgency: String,
    status: String,
    asked: String,
    funded: String,
    currency: String,
    notes: String,
    ledger: String,
    anyway: Option<String>,
}

impl NeedForm {
    fn fields(&self) -> anyhow::Result<NeedFields> {
        let some = |s: &str| Some(s.trim().to_owned()).filter(|s| !s.is_empty());
        let ledger = self
            .ledger
            .split([',', ' ', '،'])
            .filter(|s| !s.trim().is_empty())
            .map(|s| {
                panah_core::digits::to_latin(s.trim())
                    .parse::<u64>()
                    .map_err(|_| anyhow::anyhow!("{:?}", s.chars().take(20).collect::<String>()))
            })
            .collect::<anyhow::Result<Vec<u64>>>()?;
        Ok(NeedFields {
            pseudonym: Some(cli::clean_input(&self.pseudonym)),
            category: some(&self.category),
            urgency: some(&self.urgency),
            status: some(&self.status),
            asked: some(&self.asked),
            funded: some(&self.funded),
            currency: some(&self.currency),
            notes: Some(cli::clean_input(&self.notes)),
            ledger,
            anyway: self.anyway.is_some(),
        })
    }

    fn of(n: &Need) -> NeedForm {
        let money = |m: i64, c: &str| {
            panah_core::ledger::money::Currency::parse(c)
                .map(|c| panah_core::ledger::money::decimal(m, c))
                .unwrap_or_default()
        };
        NeedForm {
            pseudonym: n.pseudonym.clone(),
            category: n.category.word().to_owned(),
            urgency: n.urgency.word().to_owned(),
            status: n.status.word().to_owned(),
            asked: n
                .money
                .as_ref()
                .map(|m| money(m.asked, &m.currency))
                .unwrap_or_default(),
            funded: n
                .money
                .as_ref()
                .map(|m| money(m.funded, &m.currency))
                .unwrap_or_default(),
            currency: n
                .money
                .as_ref()
                .map(|m| m.currency.clone())
                .unwrap_or_else(|| "AFN".into()),
            notes: n.notes.clone(),
            ledger: n
                .ledger
                .iter()
                .map(|i| i.to_string())
                .collect::<Vec<_>>()
                .join(" "),
            anyway: None,
        }
    }
}

#[derive(askama::Template)]
#[template(path = "desk/needs.html")]
struct NeedsPage<'a> {
    f: Frame<'a>,
    rows: Vec<Row>,
    /// How many more match than are shown.
    more: Option<String>,
    filter: NeedFilter,
    statuses: Vec<Choice>,
    categories: Vec<Choice>,
    urgencies: Vec<Choice>,
    form: NeedForm,
    warnings: Vec<String>,
    error: Option<String>,
    said: Vec<String>,
    status_line: Vec<String>,
}

/// The cache's state in a few lines: last sync, what waits, conflicts.
fn status_lines(w: &Words, cache: &Cache) -> Vec<String> {
    let mut out = vec![match cache.last_sync {
        Some(t) => w.f("cli-last-sync", &[("date", &w.l().date(t))]),
        None => w.t("desk-never-synced"),
    }];
    if !cache.pending.is_empty() {
        out.push(w.f("desk-pending", &[("count", &w.n(cache.pending.len()))]));
    }
    if !cache.conflicts.is_empty() {
        out.push(w.f(
            "desk-conflicts-waiting",
            &[("count", &w.n(cache.conflicts.len()))],
        ));
    }
    out
}

async fn needs(State(desk): State<Arc<Desk>>, Query(filter): Query<NeedFilter>) -> Response {
    need_list(&desk, filter, NeedForm::default(), Vec::new(), None).await
}

async fn need_list(
    desk: &Desk,
    filter: NeedFilter,
    form: NeedForm,
    warnings: Vec<String>,
    error: Option<String>,
) -> Response {
    let u = match need_unlocked(desk) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let w = desk.words();
    let f = Frame::new(desk, &w, Some("needs"), "/needs");
    let cache = u.cache.lock().await;
    let mut rows: Vec<(Urgency, Row)> = cache
        .docs()
        .filter_map(|(id, d)| match d {
            Doc::Need(n) => Some((id, n)),
            _ => None,
        })
        .filter(|(_, n)| {
            (filter.status.is_empty() && !n.status.is_closed()
                || filter.status == "all"
                || n.status.word() == filter.status)
                && (filter.category.is_empty() || n.category.word() == filter.category)
                && (filter.urgency.is_empty() || n.urgency.word() == filter.urgency)
        })
        .map(|(id, n)| {
            let conflict = cache.conflicts.contains_key(id);
            (
                n.urgency,
                Row {
                    reference: id.short(),
                    href: format!("/needs/{}", id.short()),
                    line: cli::need_line(&w, id, n, conflict),
                    conflict,
                    overdue: false,
                },
            )
        })
        .collect();
    rows.sort_by_key(|(u, r)| {
        (
            Urgency::ALL.iter().position(|x| x == u),
            r.reference.clone(),
        )
    });
    let more = rows.len().saturating_sub(MAX_ROWS);
    rows.truncate(MAX_ROWS);
    let status = if error.is_some() || !warnings.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let status_line = status_lines(&w, &cache);
    drop(cache);
    let form = if form.urgency.is_empty() {
        NeedForm {
            urgency: "soon".into(),
            status: "open".into(),
            currency: "AFN".into(),
            ..form
        }
    } else {
        form
    };
    f.render(
        status,
        NeedsPage {
            f: f.clone(),
            rows: rows.into_iter().map(|(_, r)| r).collect(),
            more: (more > 0).then(|| w.f("desk-more", &[("count", &w.n(more))])),
            filter,
            statuses: choices(&w, NeedStatus::ALL, NeedStatus::word, "cli-status"),
            categories: need_categories(&w),
            urgencies: choices(&w, Urgency::ALL, Urgency::word, "cli-urgency"),
            form,
            warnings,
            error,
            said: said(desk),
            status_line,
        },
    )
}

/// Checks a need's fields and applies them to `n`; warnings about identifying text come
/// back to be shown (unless the form said to save anyway).
fn apply_need(
    w: &Words,
    form: &NeedForm,
    n: &mut Need,
) -> Result<(), (Vec<String>, Option<String>)> {
    let fields = form.fields().map_err(|e| {
        (
            Vec::new(),
            Some(w.f("desk-error-ledger-numbers", &[("got", &e.to_string())])),
        )
    })?;
    let warnings = cli::identifying(w, &fields.texts());
    if !warnings.is_empty() && !fields.anyway {
        return Err((warnings, None));
    }
    fields
        .apply(n, w, Day::today())
        .map_err(|e| (Vec::new(), Some(crate::error_text(&e, w))))?;
    n.check()
        .map_err(|e| (Vec::new(), Some(crate::error_text(&anyhow::anyhow!(e), w))))
}

async fn add_need(State(desk): State<Arc<Desk>>, Form(form): Form<NeedForm>) -> Response {
    let u = match need_unlocked(&desk) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let w = desk.words();
    let mut n = cli::new_need(Day::today());
    if let Err((warnings, error)) = apply_need(&w, &form, &mut n) {
        return need_list(&desk, NeedFilter::default(), form, warnings, error).await;
    }
    let mut cache = u.cache.lock().await;
    let id = match cache.add(Doc::Need(n)) {
        Ok(id) => id,
        Err(e) => {
            drop(cache);
            let error = Some(crate::error_text(&e.into(), &w));
            return need_list(&desk, NeedFilter::default(), form, Vec::new(), error).await;
        }
    };
    let mut lines = vec![w.f("cli-saved", &[("ref", &id.short())])];
    match changed(&desk, &u, &w, &mut cache).await {
        Ok(said) => lines.extend(said),
        Err(e) => return Frame::new(&desk, &w, None, "/needs").failure(&e),
    }
    remember(&desk, lines);
    Redirect::to(&desk.at(&format!("/needs/{}", id.short()))).into_response()
}

/// Both sides of a conflict, field by field.
struct Sides {
    theirs: Vec<(String, String)>,
    mine: Vec<(String, String)>,
    /// Whether both changes can be kept (they touch different fields).
    can_merge: bool,
}

#[derive(askama::Template)]
#[template(path = "desk/record.html")]
struct RecordPage<'a> {
    f: Frame<'a>,
    reference: String,
    title: String,
    fields: Vec<(String, String)>,
    history: Vec<(String, String, String)>,
    conflict: Option<Sides>,
    said: Vec<String>,
    warnings: Vec<String>,
    error: Option<String>,
    need: Option<NeedForm>,
    case: Option<CaseForm>,
    statuses: Vec<Choice>,
    categories: Vec<Choice>,
    urgencies: Vec<Choice>,
    stages: Vec<Choice>,
}

fn fields_of(
    w: &Words,
    d: Option<&Doc>,
    labels: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    match d {
        Some(d) => cli::doc_fields(w, d, Day::today(), labels).0,
        None => vec![(String::new(), w.t("cli-conflict-deleted"))],
    }
}

/// The page of one need or case, with an edit form filled in from what is current (or
/// with what was typed, after a refusal).
async fn record_page(
    desk: &Desk,
    kind: Kind,
    reference: &str,
    typed: Option<(Option<NeedForm>, Option<CaseForm>)>,
    warnings: Vec<String>,
    error: Option<String>,
) -> Response {
    let u = match need_unlocked(desk) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let w = desk.words();
    let section = if kind == Kind::Need { "needs" } else { "cases" };
    let path = format!("/{section}/{reference}");
    let f = Frame::new(desk, &w, Some(section), &path);
    let cache = u.cache.lock().await;
    let id = match cli::find(&cache, &w, reference, kind) {
        Ok(id) => id,
        Err(e) => return f.message(StatusCode::NOT_FOUND, &e.to_string()),
    };
    let Some(doc) = cache.current(&id).cloned() else {
        return f.message(
            StatusCode::NOT_FOUND,
            &w.f("cli-error-deleted", &[("got", &id.short())]),
        );
    };
    let (fields, history) = cli::doc_fields(&w, &doc, Day::today(), &cache.labels);
    let conflict = cache.conflicts.get(&id).map(|c| {
        let theirs = cache.records.get(&id).map(|h| &h.doc);
        Sides {
            theirs: fields_of(&w, theirs, &cache.labels),
            mine: fields_of(&w, c.mine.as_ref(), &cache.labels),
            can_merge: matches!(
                (&c.original, &c.mine, theirs),
                (Some(base), Some(mine), Some(theirs))
                    if panah_core::records::merge::merge(base, mine, theirs).is_ok()
            ),
        }
    });
    drop(cache);
    let (title, need, case) = match (&doc, typed) {
        (Doc::Need(n), typed) => (
            w.f("desk-need-title", &[("ref", &id.short())]),
            Some(typed.and_then(|t| t.0).unwrap_or_else(|| NeedForm::of(n))),
            None,
        ),
        (Doc::Case(c), typed) => (
            w.f("desk-case-title", &[("ref", &id.short())]),
            None,
            Some(
                typed
                    .and_then(|t| t.1)
                    .unwrap_or_else(|| CaseForm::of(c, &w)),
            ),
        ),
        _ => {
            return f.message(
                StatusCode::NOT_FOUND,
                &w.f("cli-error-deleted", &[("got", &id.short())]),
            )
        }
    };
    let status = if error.is_some() || !warnings.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    f.render(
        status,
        RecordPage {
            f: f.clone(),
            reference: id.short(),
            title,
            fields,
            history,
            conflict,
            said: said(desk),
            warnings,
            error,
            need,
            case,
            statuses: choices(&w, NeedStatus::ALL, NeedStatus::word, "cli-status"),
            categories: need_categories(&w),
            urgencies: choices(&w, Urgency::ALL, Urgency::word, "cli-urgency"),
            stages: choices(&w, Stage::ALL, Stage::word, "cli-stage"),
        },
    )
}

async fn show_need(State(desk): State<Arc<Desk>>, Path(reference): Path<String>) -> Response {
    record_page(&desk, Kind::Need, &reference, None, Vec::new(), None).await
}

async fn edit_need(
    State(desk): State<Arc<Desk>>,
    Path(reference): Path<String>,
    Form(form): Form<NeedForm>,
) -> Response {
    let u = match need_unlocked(&desk) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let w = desk.words();
    let mut cache = u.cache.lock().await;
    let found =
        cli::find(&cache, &w, &reference, Kind::Need).and_then(|id| match cache.current(&id) {
            Some(Doc::Need(n)) => Ok((id, n.clone())),
            _ => Err(anyhow::anyhow!(
                w.f("cli-error-no-need", &[("got", &id.short())])
            )),
        });
    let (id, before) = match found {
        Ok(x) => x,
        Err(e) => {
            return Frame::new(&desk, &w, Some("needs"), "/needs")
                .message(StatusCode::NOT_FOUND, &e.to_string())
        }
    };
    let mut after = before.clone();
    if let Err((warnings, error)) = apply_need(&w, &form, &mut after) {
        drop(cache);
        return record_page(
            &desk,
            Kind::Need,
            &reference,
            Some((Some(form), None)),
            warnings,
            error,
        )
        .await;
    }
    save_change(
        &desk,
        &u,
        &w,
        &mut cache,
        id,
        Doc::Need(before),
        Doc::Need(after),
        "needs",
    )
    .await
}

/// Saves an edit (if anything changed), sends it, and shows the record again.
#[allow(clippy::too_many_arguments)]
async fn save_change(
    desk: &Desk,
    u: &Unlocked,
    w: &Words,
    cache: &mut Cache,
    id: RecordId,
    before: Doc,
    after: Doc,
    section: &str,
) -> Response {
    let back = format!("/{section}/{}", id.short());
    if before == after {
        remember(desk, vec![w.t("cli-nothing-changed")]);
        return Redirect::to(&desk.at(&back)).into_response();
    }
    if let Err(e) = cache.update(&id, after) {
        return Frame::new(desk, w, None, &back).failure(&e.into());
    }
    let mut lines = vec![w.f("cli-saved", &[("ref", &id.short())])];
    match changed(desk, u, w, cache).await {
        Ok(said) => lines.extend(said),
        Err(e) => return Frame::new(desk, w, None, &back).failure(&e),
    }
    remember(desk, lines);
    Redirect::to(&desk.at(&back)).into_response()
}

#[derive(serde::Deserialize, Default, Clone)]
#[serde(default)]
struct CaseForm {
    pseudonym: String,
    stage: String,
    pathway: String,
    next_action: String,
    due: String,
    note: String,
    needs: String,
    anyway: Option<String>,
    /// Only the stage is being moved (the board's and the page's quick form).
    only_stage: Option<String>,
}

impl CaseForm {
    fn of(c: &Case, w: &Words) -> CaseForm {
        CaseForm {
            pseudonym: c.pseudonym.clone(),
            stage: c.stage.word().to_owned(),
            pathway: if panah_core::records::doc::PATHWAYS.contains(&c.pathway.as_str()) {
                w.pathway(&c.pathway)
            } else {
                c.pathway.clone()
            },
            next_action: c.next_action.clone(),
            due: c
                .due
                .map(|d| w.l().digits(&d.to_string()))
                .unwrap_or_default(),
            note: String::new(),
            needs: c
                .needs
                .iter()
                .map(|n| n.short())
                .collect::<Vec<_>>()
                .join(" "),
            anyway: None,
            only_stage: None,
        }
    }

    fn fields(&self) -> CaseFields {
        if self.only_stage.is_some() {
            return CaseFields {
                stage: Some(self.stage.clone()),
                ..CaseFields::default()
            };
        }
        let some = |s: &str| Some(cli::clean_input(s)).filter(|s| !s.trim().is_empty());
        CaseFields {
            pseudonym: Some(cli::clean_input(&self.pseudonym)),
            stage: some(&self.stage),
            pathway: Some(cli::clean_input(&self.pathway)),
            next_action: Some(cli::clean_input(&self.next_action)),
            due: Some(some(&self.due).unwrap_or_else(|| "none".into())),
            note: some(&self.note),
            needs: self
                .needs
                .split([',', ' ', '،'])
                .filter(|s| !s.trim().is_empty())
                .map(|s| s.trim().to_owned())
                .collect(),
            anyway: self.anyway.is_some(),
        }
    }
}

fn apply_case(
    w: &Words,
    form: &CaseForm,
    cache: &Cache,
    by: &str,
    c: &mut Case,
) -> Result<(), (Vec<String>, Option<String>)> {
    let fields = form.fields();
    let warnings = cli::identifying(w, &fields.texts());
    if !warnings.is_empty() && !fields.anyway {
        return Err((warnings, None));
    }
    fields
        .apply_with(c, w, Day::today(), by, &|r| {
            cli::find(cache, w, r, Kind::Need)
        })
        .map_err(|e| (Vec::new(), Some(crate::error_text(&e, w))))?;
    c.check()
        .map_err(|e| (Vec::new(), Some(crate::error_text(&anyhow::anyhow!(e), w))))
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct CaseFilter {
    due: String,
    closed: String,
}

struct Column {
    stage: String,
    count: String,
    rows: Vec<Row>,
    more: Option<String>,
}

#[derive(askama::Template)]
#[template(path = "desk/cases.html")]
struct CasesPage<'a> {
    f: Frame<'a>,
    columns: Vec<Column>,
    stages: Vec<Choice>,
    form: CaseForm,
    warnings: Vec<String>,
    error: Option<String>,
    said: Vec<String>,
    status_line: Vec<String>,
}

async fn cases(State(desk): State<Arc<Desk>>, Query(filter): Query<CaseFilter>) -> Response {
    case_list(&desk, filter, CaseForm::default(), Vec::new(), None).await
}

async fn case_list(
    desk: &Desk,
    filter: CaseFilter,
    form: CaseForm,
    warnings: Vec<String>,
    error: Option<String>,
) -> Response {
    let u = match need_unlocked(desk) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let w = desk.words();
    let f = Frame::new(desk, &w, Some("cases"), "/cases");
    let today = Day::today();
    let week = Day(today.0 + time::Duration::days(7));
    let cache = u.cache.lock().await;
    let mut columns: Vec<Column> = Stage::ALL
        .iter()
        .filter(|s| filter.closed == "yes" || !s.is_closed())
        .map(|s| Column {
            stage: w.t(&format!("cli-stage-{}", s.word())),
            count: String::new(),
            rows: Vec::new(),
            more: None,
        })
        .collect();
    let shown: Vec<Stage> = Stage::ALL
        .iter()
        .copied()
        .filter(|s| filter.closed == "yes" || !s.is_closed())
        .collect();
    let mut cases: Vec<(&RecordId, &Case)> = cache
        .docs()
        .filter_map(|(id, d)| match d {
            Doc::Case(c) => Some((id, c)),
            _ => None,
        })
        .filter(|(_, c)| match filter.due.as_str() {
            "overdue" => c.due.is_some_and(|d| d < today) && !c.stage.is_closed(),
            "week" => c.due.is_some_and(|d| d <= week) && !c.stage.is_closed(),
            _ => true,
        })
        .collect();
    cases.sort_by_key(|(id, c)| (c.due.map(|d| d.0), id.short()));
    for (id, c) in cases {
        if let Some(col) = shown.iter().position(|s| *s == c.stage) {
            let conflict = cache.conflicts.contains_key(id);
            columns[col].rows.push(Row {
                reference: id.short(),
                href: format!("/cases/{}", id.short()),
                line: cli::case_line(&w, id, c, today, conflict),
                conflict,
                overdue: c.due.is_some_and(|d| d < today) && !c.stage.is_closed(),
            });
        }
    }
    for col in &mut columns {
        col.count = w.n(col.rows.len());
        let more = col.rows.len().saturating_sub(MAX_ROWS / 4);
        col.rows.truncate(MAX_ROWS / 4);
        col.more = (more > 0).then(|| w.f("desk-more", &[("count", &w.n(more))]));
    }
    let status_line = status_lines(&w, &cache);
    drop(cache);
    let status = if error.is_some() || !warnings.is_empty() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    let form = if form.stage.is_empty() {
        CaseForm {
            stage: "registered".into(),
            ..form
        }
    } else {
        form
    };
    f.render(
        status,
        CasesPage {
            f: f.clone(),
            columns,
            stages: choices(&w, Stage::ALL, Stage::word, "cli-stage"),
            form,
            warnings,
            error,
            said: said(desk),
            status_line,
        },
    )
}

async fn add_case(State(desk): State<Arc<Desk>>, Form(form): Form<CaseForm>) -> Response {
    let u = match need_unlocked(&desk) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let w = desk.words();
    let by = u.keyring.public().fingerprint().to_string();
    let mut cache = u.cache.lock().await;
    let mut c = cli::new_case(Day::today());
    if let Err((warnings, error)) = apply_case(&w, &form, &cache, &by, &mut c) {
        drop(cache);
        return case_list(&desk, CaseFilter::default(), form, warnings, error).await;
    }
    let id = match cache.add(Doc::Case(c)) {
        Ok(id) => id,
        Err(e) => return Frame::new(&desk, &w, None, "/cases").failure(&e.into()),
    };
    let mut lines = vec![w.f("cli-saved", &[("ref", &id.short())])];
    match changed(&desk, &u, &w, &mut cache).await {
        Ok(said) => lines.extend(said),
        Err(e) => return Frame::new(&desk, &w, None, "/cases").failure(&e),
    }
    remember(&desk, lines);
    Redirect::to(&desk.at(&format!("/cases/{}", id.short()))).into_response()
}

async fn show_case(State(desk): State<Arc<Desk>>, Path(reference): Path<String>) -> Response {
    record_page(&desk, Kind::Case, &reference, None, Vec::new(), None).await
}

async fn edit_case(
    State(desk): State<Arc<Desk>>,
    Path(reference): Path<String>,
    Form(form): Form<CaseForm>,
) -> Response {
    let u = match need_unlocked(&desk) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let w = desk.words();
    let by = u.keyring.public().fingerprint().to_string();
    let mut cache = u.cache.lock().await;
    let found =
        cli::find(&cache, &w, &reference, Kind::Case).and_then(|id| match cache.current(&id) {
            Some(Doc::Case(c)) => Ok((id, c.clone())),
            _ => Err(anyhow::anyhow!(
                w.f("cli-error-no-case", &[("got", &id.short())])
            )),
        });
    let (id, before) = match found {
        Ok(x) => x,
        Err(e) => {
            return Frame::new(&desk, &w, Some("cases"), "/cases")
                .message(StatusCode::NOT_FOUND, &e.to_string())
        }
    };
    let mut after = before.clone();
    if let Err((warnings, error)) = apply_case(&w, &form, &cache, &by, &mut after) {
        drop(cache);
        return record_page(
            &desk,
            Kind::Case,
            &reference,
            Some((None, Some(form))),
            warnings,
            error,
        )
        .await;
    }
    save_change(
        &desk,
        &u,
        &w,
        &mut cache,
        id,
        Doc::Case(before),
        Doc::Case(after),
        "cases",
    )
    .await
}

/// The need or case `reference` names, and the section it belongs to; or what to say.
fn find_any(cache: &Cache, w: &Words, reference: &str) -> Result<(RecordId, &'static str), String> {
    let id = cli::find(cache, w, reference, Kind::Need)
        .or_else(|_| cli::find(cache, w, reference, Kind::Case))
        .map_err(|_| {
            w.f(
                "cli-error-reference",
                &[("got", &panah_client::terminal::sanitize_line(reference))],
            )
        })?;
    let section = match cache.current(&id).and_then(Doc::kind) {
        Some(Kind::Case) => "cases",
        _ => "needs",
    };
    Ok((id, section))
}

#[derive(serde::Deserialize)]
struct ResolveForm {
    keep: String,
}

async fn resolve(
    State(desk): State<Arc<Desk>>,
    Path(reference): Path<String>,
    Form(form): Form<ResolveForm>,
) -> Response {
    let u = match need_unlocked(&desk) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let w = desk.words();
    let mut cache = u.cache.lock().await;
    let f = Frame::new(&desk, &w, None, "/needs");
    let (id, section) = match find_any(&cache, &w, &reference) {
        Ok(found) => found,
        Err(message) => return f.message(StatusCode::NOT_FOUND, &message),
    };
    let choice = match form.keep.as_str() {
        "mine" => Keep::Mine,
        "theirs" => Keep::Theirs,
        _ => Keep::Merged,
    };
    if let Err(e) = cache.resolve(&id, choice) {
        drop(cache);
        let kind = if section == "cases" {
            Kind::Case
        } else {
            Kind::Need
        };
        let error = Some(crate::error_text(&e.into(), &w));
        return record_page(&desk, kind, &id.short(), None, Vec::new(), error).await;
    }
    let mut lines = vec![w.t("desk-resolved")];
    match changed(&desk, &u, &w, &mut cache).await {
        Ok(said) => lines.extend(said),
        Err(e) => return f.failure(&e),
    }
    remember(&desk, lines);
    Redirect::to(&desk.at(&format!("/{section}/{}", id.short()))).into_response()
}

async fn confirm_delete(State(desk): State<Arc<Desk>>, Path(reference): Path<String>) -> Response {
    if let Err(r) = need_unlocked(&desk) {
        return r.into_response();
    }
    let w = desk.words();
    let reference: String = reference
        .chars()
        .filter(char::is_ascii_hexdigit)
        .take(32)
        .collect();
    let path = format!("/records/{reference}/delete");
    let f = Frame::new(&desk, &w, None, &path);
    f.confirm(
        w.f("desk-record-delete-title", &[("ref", &reference)]),
        w.t("desk-record-delete-explain"),
        path.clone(),
        w.t("desk-delete"),
        "/needs".into(),
    )
}

async fn delete(State(desk): State<Arc<Desk>>, Path(reference): Path<String>) -> Response {
    let u = match need_unlocked(&desk) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let w = desk.words();
    let f = Frame::new(&desk, &w, None, "/needs");
    let mut cache = u.cache.lock().await;
    let (id, section) = match find_any(&cache, &w, &reference) {
        Ok(found) => found,
        Err(message) => return f.message(StatusCode::NOT_FOUND, &message),
    };
    if let Err(e) = cache.delete(&id, Action::Deleted) {
        return f.failure(&e.into());
    }
    let mut lines = vec![w.f("cli-deleted", &[("ref", &id.short())])];
    match changed(&desk, &u, &w, &mut cache).await {
        Ok(said) => lines.extend(said),
        Err(e) => return f.failure(&e),
    }
    remember(&desk, lines);
    Redirect::to(&desk.at(&format!("/{section}"))).into_response()
}

#[derive(askama::Template)]
#[template(path = "desk/summary.html")]
struct SummaryPage<'a> {
    f: Frame<'a>,
    groups: Vec<(String, Vec<String>)>,
    said: Vec<String>,
    status_line: Vec<String>,
}

async fn summary(State(desk): State<Arc<Desk>>) -> Response {
    let u = match need_unlocked(&desk) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let w = desk.words();
    let f = Frame::new(&desk, &w, Some("summary"), "/summary");
    let cache = u.cache.lock().await;
    let today = Day::today();
    let s = Summary::of(cache.docs(), today);
    let groups = cli::summary_groups(&w, &s)
        .into_iter()
        .map(|(title, mut lines)| {
            let more = lines.len().saturating_sub(MAX_ROWS / 3);
            lines.truncate(MAX_ROWS / 3);
            if more > 0 {
                lines.push(w.f("desk-more-plain", &[("count", &w.n(more))]));
            }
            (title, lines)
        })
        .collect();
    let status_line = status_lines(&w, &cache);
    drop(cache);
    f.render(
        StatusCode::OK,
        SummaryPage {
            f: f.clone(),
            groups,
            said: said(&desk),
            status_line,
        },
    )
}

#[derive(askama::Template)]
#[template(path = "desk/audit.html")]
struct AuditPage<'a> {
    f: Frame<'a>,
    events: Vec<String>,
}

async fn audit(State(desk): State<Arc<Desk>>) -> Response {
    let u = match need_unlocked(&desk) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let w = desk.words();
    let f = Frame::new(&desk, &w, Some("cases"), "/audit");
    let cache = u.cache.lock().await;
    let events = cli::audit_lines(&w, &cache);
    drop(cache);
    f.render(
        StatusCode::OK,
        AuditPage {
            f: f.clone(),
            events,
        },
    )
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct SyncForm {
    back: String,
}

async fn sync(State(desk): State<Arc<Desk>>, Form(form): Form<SyncForm>) -> Response {
    let u = match need_unlocked(&desk) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let w = desk.words();
    let mut cache = u.cache.lock().await;
    let said = send(&desk, &u, &w, &mut cache).await;
    if let Err(e) = u.save(&cache) {
        return Frame::new(&desk, &w, None, "/needs").failure(&e);
    }
    remember(&desk, said);
    let back = match form.back.as_str() {
        "/cases" | "/summary" | "/needs" => form.back.as_str(),
        _ => "/needs",
    };
    Redirect::to(&desk.at(back)).into_response()
}
