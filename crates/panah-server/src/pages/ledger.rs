//! The public ledger: the page (`/c/{slug}/ledger`), its exports (`ledger.csv`,
//! `ledger.json`) and the donor receipt check (`/c/{slug}/ledger/receipt`). The C2SP files
//! anyone can verify and mirror (`checkpoint`, `keys`, `tile/…`) are served for every log
//! alike by `crate::logs`; the receipt lookup and its proof are `crate::ledger`'s.
//!
//! Everything here is public and the same for every visitor; nothing is personal.

use std::borrow::Cow;

use askama::Template;
use axum::extract::{Form, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use panah_core::ledger::receipt::ReceiptCode;
use panah_core::ledger::totals::Totals;
use panah_core::ledger::{Category, DatePrecision, Entry, Rail};
use panah_core::tlog::LogKind;
use panah_core::{Lang, Timestamp};
use panah_i18n::Localizer;
use panah_store::{Collective, Ledger, StoredCheckpoint};
use serde::{Deserialize, Serialize};

use super::{cached, collective_page, html, html_no_store, internal, Page, PageError, SlugParam};
use crate::logs::{collective_for_file, file_error, keys_text, not_started, plain, unreadable};
use crate::AppState;

/// A collective's ledger as the pages see it.
pub(crate) struct View {
    pub ledger: Ledger,
    pub summary: std::sync::Arc<crate::ledger::summary::Summary>,
    pub checkpoint: StoredCheckpoint,
    pub signer: String,
}

impl View {
    pub fn totals(&self) -> &Totals {
        &self.summary.totals
    }
}

impl AppState {
    /// The ledger's latest checkpoint, totals and latest entries, or `None` if the
    /// collective has not started one. Only entries added since the last call are read.
    pub(crate) async fn ledger_view(&self, c: &Collective) -> Result<Option<View>, PageError> {
        let store = self.store();
        let Some(ledger) = store.ledger(c.id).await.map_err(internal)? else {
            return Ok(None);
        };
        let Some(checkpoint) = store
            .latest_checkpoint(ledger.log.id)
            .await
            .map_err(internal)?
        else {
            return Ok(None);
        };
        // The checkpoint says which size this view is for (the ledger's row, read before
        // it, may be older).
        let summary = self
            .inner
            .summaries
            .get(store, ledger.log.id, checkpoint.size)
            .await
            .map_err(internal)?;
        let signer = store
            .coordinator_by_id(checkpoint.coordinator_id)
            .await
            .map_err(internal)?
            .map(|(c, _)| c.key.fingerprint().to_string())
            .unwrap_or_default();
        Ok(Some(View {
            ledger,
            summary,
            checkpoint,
            signer,
        }))
    }
}

/// One entry as a table row.
pub(crate) struct Row {
    index: String,
    date: String,
    kind: String,
    category: String,
    amount: String,
    base: String,
    rail: String,
    memo: String,
    note: String,
}

/// A public date at its precision: the day, or the week or month as a range of days (in
/// the reader's calendar, where a Gregorian month does not line up with a solar one).
fn public_date(l: &Localizer<'_>, start: Timestamp, precision: DatePrecision) -> String {
    let days = match precision {
        DatePrecision::Day => return l.date(start),
        DatePrecision::Week => 6,
        DatePrecision::Month => {
            let (y, m, _) = start.date();
            let month = time::Month::try_from(m).unwrap_or(time::Month::January);
            i64::from(month.length(y)) - 1
        }
    };
    let end = Timestamp::from_unix(start.unix() + days * 86_400);
    l.t2(
        "ledger-date-range",
        ("from", &l.date(start)),
        ("to", &l.date(end)),
    )
}

/// An entry as the pages show it. A rail the collective hides is not named.
fn row(l: &Localizer<'_>, index: u64, e: &Entry, totals: &Totals, hidden: &[Rail]) -> Row {
    let mut note = String::new();
    if let Some(target) = e.reverses {
        note = l.t1("ledger-reverses", "index", &l.integer(target as i64));
    } else if totals.reversed.contains(&index) {
        note = l.t("ledger-reversed");
    }
    if let Some(c) = e.counter {
        let other = l.t1(
            "ledger-received",
            "amount",
            &l.money(c.minor(), c.currency()),
        );
        note = if note.is_empty() {
            other
        } else {
            format!("{note}{}{other}", l.sep())
        };
    }
    if e.receipt.is_some() {
        let r = l.t("ledger-has-receipt");
        note = if note.is_empty() {
            r
        } else {
            format!("{note}{}{r}", l.sep())
        };
    }
    Row {
        index: l.integer(index as i64),
        date: public_date(l, Timestamp::from_date(e.date), e.precision),
        kind: l.t(&format!("ledger-kind-{}", e.kind.word())),
        category: l.t(&format!("category-{}", e.category.word())),
        amount: l.money(e.amount.minor(), e.amount.currency()),
        // The base-currency value only where it says something new.
        base: if e.base.currency() == e.amount.currency() {
            String::new()
        } else {
            l.money(e.base.minor(), e.base.currency())
        },
        rail: if hidden.contains(&e.rail) {
            String::new()
        } else {
            l.t(&format!("rail-{}", e.rail.word()))
        },
        memo: e.memo_for(l.lang()).to_owned(),
        note,
    }
}

/// A goal or a total with its progress, for a `<progress>` bar (no script, no image).
pub(crate) struct Bar {
    pub label: String,
    pub text: String,
    pub value: i64,
    pub max: i64,
}

/// The appeal's goals: the overall target against what was raised, and each category's
/// budget against what was spent on it.
pub(crate) fn goal_bars(l: &Localizer<'_>, view: &View) -> Vec<Bar> {
    let base = view.ledger.base_currency;
    let mut bars = Vec::new();
    if let Some(target) = view.ledger.target {
        bars.push(Bar {
            label: l.t("goal-overall"),
            text: l.t2(
                "goal-raised-of",
                ("raised", &l.money(view.totals().raised, base)),
                ("goal", &l.money(target, base)),
            ),
            value: view.totals().raised.clamp(0, target),
            max: target,
        });
    }
    for (category, budget) in &view.ledger.budgets {
        let spent = view
            .totals()
            .spent_by_category
            .get(category)
            .copied()
            .unwrap_or(0);
        bars.push(Bar {
            label: l.t(&format!("category-{}", category.word())),
            text: l.t2(
                "goal-spent-of",
                ("spent", &l.money(spent, base)),
                ("goal", &l.money(*budget, base)),
            ),
            value: spent.clamp(0, *budget),
            max: *budget,
        });
    }
    bars
}

#[derive(Template)]
#[template(path = "ledger.html")]
struct LedgerPage<'a> {
    page: Page<'a>,
    slug: String,
    name: String,
    started: bool,
    summary: Vec<(String, String)>,
    /// How the summary adds up, in a sentence.
    reconcile: String,
    balances: Vec<String>,
    categories: Vec<(String, String)>,
    goals: Vec<Bar>,
    rows: Vec<Row>,
    shown: String,
    signed: String,
    checkpoint: String,
    keys: String,
    address: String,
}

pub(crate) async fn page(
    State(state): State<AppState>,
    SlugParam(slug): SlugParam,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let render = async {
        let (c, lang) = match collective_page(&state, &slug, query.as_deref(), &headers).await {
            Ok(x) => x,
            Err(r) => return r,
        };
        match page_inner(&state, &c, lang).await {
            Ok(r) => r,
            Err(e) => state.error_page(lang, e),
        }
    };
    cached(
        &state,
        format!("/c/{slug}/ledger"),
        query.as_deref(),
        &headers,
        render,
    )
    .await
}

async fn page_inner(state: &AppState, c: &Collective, lang: Lang) -> Result<Response, PageError> {
    let l = state.inner.catalog.localizer(lang);
    let name = state.collective_name(c, lang).await;
    let view = state.ledger_view(c).await?;
    let mut page = LedgerPage {
        page: state.page(lang, format!("/c/{}/ledger", c.slug)),
        slug: c.slug.to_string(),
        name,
        started: view.is_some(),
        summary: Vec::new(),
        reconcile: String::new(),
        balances: Vec::new(),
        categories: Vec::new(),
        goals: Vec::new(),
        rows: Vec::new(),
        shown: String::new(),
        signed: String::new(),
        checkpoint: String::new(),
        keys: String::new(),
        address: String::new(),
    };
    if let Some(view) = view {
        let base = view.ledger.base_currency;
        let t = view.totals();
        let exchange = if t.exchange_costs < 0 {
            (
                l.t("ledger-exchange-gains"),
                l.money(t.exchange_costs.saturating_neg(), base),
            )
        } else {
            (
                l.t("ledger-exchange-costs"),
                l.money(t.exchange_costs, base),
            )
        };
        page.summary = vec![
            (l.t("ledger-raised"), l.money(t.raised, base)),
            (l.t("ledger-spent"), l.money(t.spent, base)),
            exchange,
            (l.t("ledger-balance"), l.money(t.balance(), base)),
        ];
        page.reconcile = l.t("ledger-reconcile");
        page.balances = t
            .balances
            .iter()
            .filter(|(_, v)| **v != 0)
            .map(|(c, v)| {
                let amount = l.money(*v, *c);
                if *c == base {
                    return amount;
                }
                let value = l.money(t.book.get(c).copied().unwrap_or(0), base);
                l.t2(
                    "ledger-held-foreign",
                    ("amount", &amount),
                    ("value", &value),
                )
            })
            .collect();
        page.categories = Category::ALL
            .iter()
            .filter_map(|c| {
                let v = t.spent_by_category.get(c).copied().unwrap_or(0);
                (v != 0).then(|| (l.t(&format!("category-{}", c.word())), l.money(v, base)))
            })
            .collect();
        page.goals = goal_bars(&l, &view);
        let n = view.summary.size();
        page.rows = view
            .summary
            .latest
            .iter()
            .rev()
            .map(|(i, e)| row(&l, *i, e, t, &c.hidden_rails))
            .collect();
        page.shown = l.t2(
            "ledger-latest",
            ("shown", &l.integer(page.rows.len() as i64)),
            ("total", &l.integer(n as i64)),
        );
        page.signed = state.inner.catalog.format(
            lang,
            "ledger-signed",
            &[
                ("size", &l.integer(view.checkpoint.size as i64)),
                ("signer", &l.isolate(&view.signer)),
                (
                    "date",
                    &public_date(
                        &l,
                        view.checkpoint.signed_on,
                        view.checkpoint.signed_precision,
                    ),
                ),
            ],
        );
        page.checkpoint = view.checkpoint.note.clone();
        page.keys = keys_text(state, c, &view.ledger.log.origin)
            .await
            .map_err(internal)?;
        page.address = view.ledger.log.origin.clone();
    }
    Ok(html(StatusCode::OK, page.render()))
}

/// The current coordinators' C2SP verifier keys for the log `origin`, one a line.
#[derive(Serialize)]
struct ExportEntry<'a> {
    index: u64,
    kind: &'static str,
    date: String,
    precision: &'static str,
    category: &'static str,
    amount: String,
    currency: &'static str,
    base_amount: String,
    base_currency: &'static str,
    counter_amount: Option<String>,
    counter_currency: Option<&'static str>,
    reverses: Option<u64>,
    reversed: bool,
    rail: &'static str,
    memo: Cow<'a, str>,
    receipt_sha256: Option<String>,
    coordinator: &'a str,
    /// The memo in Dari, Pashto and English, where the treasurer wrote one.
    memo_fa: Option<Cow<'a, str>>,
    memo_ps: Option<Cow<'a, str>>,
    memo_en: Option<Cow<'a, str>>,
}

impl ExportEntry<'_> {
    /// For a spreadsheet: a text that starts like a formula gets a leading `'`, so that
    /// opening the CSV never runs a memo.
    fn defused(mut self) -> Self {
        fn defuse(text: &mut Cow<'_, str>) {
            if text.starts_with(['=', '+', '-', '@']) {
                *text = Cow::Owned(format!("'{text}"));
            }
        }
        defuse(&mut self.memo);
        for t in [&mut self.memo_fa, &mut self.memo_ps, &mut self.memo_en]
            .into_iter()
            .flatten()
        {
            defuse(t);
        }
        self
    }
}

fn translation(e: &Entry, lang: Lang) -> Option<Cow<'_, str>> {
    e.translations.get(&lang).map(|t| Cow::Borrowed(t.as_str()))
}

/// The whole ledger, for the exports.
struct Export {
    view: View,
    entries: Vec<Entry>,
}

fn export_entries(x: &Export) -> impl Iterator<Item = ExportEntry<'_>> + '_ {
    let view = &x.view;
    x.entries.iter().enumerate().map(move |(i, e)| ExportEntry {
        index: i as u64,
        kind: e.kind.word(),
        date: e.date.to_string(),
        precision: e.precision.word(),
        category: e.category.word(),
        amount: e.amount.decimal(),
        currency: e.amount.currency().code(),
        base_amount: e.base.decimal(),
        base_currency: e.base.currency().code(),
        counter_amount: e.counter.map(|c| c.decimal()),
        counter_currency: e.counter.map(|c| c.currency().code()),
        reverses: e.reverses,
        reversed: view.totals().reversed.contains(&(i as u64)),
        rail: e.rail.word(),
        memo: Cow::Borrowed(&e.memo),
        receipt_sha256: e.receipt.map(|r| panah_core::hex(&r)),
        coordinator: &e.coordinator,
        memo_fa: translation(e, Lang::Dari),
        memo_ps: translation(e, Lang::Pashto),
        memo_en: translation(e, Lang::English),
    })
}

async fn export_view(state: &AppState, slug: &str) -> Result<Export, Response> {
    let c = collective_for_file(state, slug).await?;
    let view = match state.ledger_view(&c).await {
        Ok(Some(v)) => v,
        Ok(None) => return Err(not_started(LogKind::Ledger)),
        // Already logged by `ledger_view`.
        Err(_) => return Err(unreadable()),
    };
    let leaves = state
        .store()
        .log_leaves(view.ledger.log.id, 0, view.summary.size())
        .await
        .map_err(|e| file_error(&e))?;
    // Parsing a long ledger takes a while: on the blocking pool.
    let entries = tokio::task::spawn_blocking(move || {
        leaves
            .iter()
            .map(|(_, leaf)| Entry::from_leaf(leaf))
            .collect::<Result<Vec<_>, _>>()
    })
    .await
    .map_err(|e| file_error(&format!("the export stopped: {e}")))?
    .map_err(|e| file_error(&format!("a stored ledger entry does not parse: {e}")))?;
    Ok(Export { view, entries })
}

/// Exports are the same for everyone until the ledger grows: kept in the page cache.
async fn cached_export(
    state: &AppState,
    path: String,
    headers: &HeaderMap,
    render: impl std::future::Future<Output = Response>,
) -> Response {
    let max = super::cache::MAX_EXPORT;
    state
        .inner
        .pages
        .serve_up_to((path, None, None), headers, max, render)
        .await
}

/// `/c/{slug}/ledger.csv`: every entry, one a row. A memo that a spreadsheet would run as
/// a formula (starting with `=`, `+`, `-` or `@`) gets a leading `'`; the tiles keep it as
/// written.
pub(crate) async fn csv(
    State(state): State<AppState>,
    SlugParam(slug): SlugParam,
    headers: HeaderMap,
) -> Response {
    let render = csv_inner(&state, &slug);
    cached_export(&state, format!("/c/{slug}/ledger.csv"), &headers, render).await
}

async fn csv_inner(state: &AppState, slug: &str) -> Response {
    let view = match export_view(state, slug).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    // RFC 4180 §2: records end with CRLF.
    let mut w = ::csv::WriterBuilder::new()
        .terminator(::csv::Terminator::CRLF)
        .from_writer(Vec::new());
    for e in export_entries(&view) {
        if let Err(err) = w.serialize(e.defused()) {
            return file_error(&format!("cannot write the CSV export: {err}"));
        }
    }
    match w.into_inner() {
        Ok(body) => plain(StatusCode::OK, "no-cache", "text/csv; charset=utf-8", body),
        Err(err) => file_error(&format!("cannot write the CSV export: {err}")),
    }
}

#[derive(Serialize)]
struct ExportJson<'a> {
    origin: &'a str,
    base_currency: &'static str,
    size: u64,
    checkpoint: &'a str,
    raised: String,
    spent: String,
    /// Lost in currency exchanges and rate changes (negative: gained).
    exchange_costs: String,
    /// raised − spent − exchange_costs: the book value of everything held.
    held: String,
    balances: std::collections::BTreeMap<&'static str, String>,
    /// What each currency's holding counts for in the base currency; they add up to `held`.
    book_values: std::collections::BTreeMap<&'static str, String>,
    entries: Vec<ExportEntry<'a>>,
}

/// `/c/{slug}/ledger.json`: the totals and every entry.
pub(crate) async fn json(
    State(state): State<AppState>,
    SlugParam(slug): SlugParam,
    headers: HeaderMap,
) -> Response {
    let render = json_inner(&state, &slug);
    cached_export(&state, format!("/c/{slug}/ledger.json"), &headers, render).await
}

async fn json_inner(state: &AppState, slug: &str) -> Response {
    let export = match export_view(state, slug).await {
        Ok(v) => v,
        Err(r) => return r,
    };
    let view = &export.view;
    let base = view.ledger.base_currency;
    let decimal = panah_core::ledger::money::decimal;
    let body = ExportJson {
        origin: &view.ledger.log.origin,
        base_currency: base.code(),
        size: view.summary.size(),
        checkpoint: &view.checkpoint.note,
        raised: decimal(view.totals().raised, base),
        spent: decimal(view.totals().spent, base),
        exchange_costs: decimal(view.totals().exchange_costs, base),
        held: decimal(view.totals().balance(), base),
        balances: view
            .totals()
            .balances
            .iter()
            .map(|(c, v)| (c.code(), decimal(*v, *c)))
            .collect(),
        book_values: view
            .totals()
            .book
            .iter()
            .map(|(c, v)| (c.code(), decimal(*v, base)))
            .collect(),
        entries: export_entries(&export).collect(),
    };
    match serde_json::to_vec_pretty(&body) {
        Ok(body) => plain(StatusCode::OK, "no-cache", "application/json", body),
        Err(err) => file_error(&format!("cannot write the JSON export: {err}")),
    }
}

#[derive(Template)]
#[template(path = "receipt.html")]
struct ReceiptPage<'a> {
    page: Page<'a>,
    slug: String,
    name: String,
    error: Option<String>,
    found: Option<Found>,
    /// What the donor typed, given back after a refusal so that it can be mended.
    typed: String,
}

struct Found {
    row: Row,
    statement: String,
    proof: String,
    command: String,
}

#[derive(Deserialize)]
pub(crate) struct ReceiptForm {
    #[serde(default)]
    code: String,
}

pub(crate) async fn receipt_form(
    State(state): State<AppState>,
    SlugParam(slug): SlugParam,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
) -> Response {
    let (c, lang) = match collective_page(&state, &slug, query.as_deref(), &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    receipt_page(&state, &c, lang, StatusCode::OK, None, None, String::new()).await
}

async fn receipt_page(
    state: &AppState,
    c: &Collective,
    lang: Lang,
    status: StatusCode,
    error: Option<String>,
    found: Option<Found>,
    typed: String,
) -> Response {
    let page = ReceiptPage {
        page: state.page(lang, format!("/c/{}/ledger/receipt", c.slug)),
        slug: c.slug.to_string(),
        name: state.collective_name(c, lang).await,
        error,
        found,
        typed,
    };
    html_no_store(status, page.render())
}

pub(crate) async fn receipt_check(
    State(state): State<AppState>,
    SlugParam(slug): SlugParam,
    RawQuery(query): RawQuery,
    headers: HeaderMap,
    source: crate::sources::SourceOf,
    form: Result<Form<ReceiptForm>, axum::extract::rejection::FormRejection>,
) -> Response {
    let (c, lang) = match collective_page(&state, &slug, query.as_deref(), &headers).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let l = state.inner.catalog.localizer(lang);
    let typed = form
        .as_ref()
        .map(|Form(f)| panah_core::digits::typed_back(&f.code))
        .unwrap_or_default();
    let refuse = |status, id: &str| {
        receipt_page(&state, &c, lang, status, Some(l.t(id)), None, typed.clone())
    };
    let Ok(Form(form)) = form else {
        return refuse(StatusCode::BAD_REQUEST, "receipt-bad-code").await;
    };
    // A mistyped code (its check digits) is refused before any budget is spent.
    let Ok(code) = ReceiptCode::parse(&form.code) else {
        return refuse(StatusCode::BAD_REQUEST, "receipt-bad-code").await;
    };
    if !state.inner.receipt_lookups.try_acquire(c.id, source.0) {
        return refuse(StatusCode::TOO_MANY_REQUESTS, "receipt-busy").await;
    }
    match find_receipt(&state, &c, &code, &l).await {
        Ok(Some(found)) => {
            receipt_page(
                &state,
                &c,
                lang,
                StatusCode::OK,
                None,
                Some(found),
                String::new(),
            )
            .await
        }
        Ok(None) => refuse(StatusCode::NOT_FOUND, "receipt-not-found").await,
        Err(e) => state.error_page(lang, e),
    }
}

async fn find_receipt(
    state: &AppState,
    c: &Collective,
    code: &ReceiptCode,
    l: &Localizer<'_>,
) -> Result<Option<Found>, PageError> {
    let Some(found) = crate::ledger::find_receipt(state.store(), c.id, code)
        .await
        .map_err(internal)?
    else {
        return Ok(None);
    };
    let (index, size) = (found.index, found.size);
    let mut totals = Totals::default();
    if found.reversed {
        totals.reversed.insert(index);
    }
    let statement = state.inner.catalog.format(
        l.lang(),
        "receipt-found",
        &[
            ("index", &l.integer(index as i64)),
            ("size", &l.integer(size as i64)),
            (
                "date",
                &public_date(
                    l,
                    found.checkpoint.signed_on,
                    found.checkpoint.signed_precision,
                ),
            ),
        ],
    );
    Ok(Some(Found {
        row: row(l, index, &found.entry, &totals, &c.hidden_rails),
        statement,
        proof: l.t1(
            "receipt-proof",
            "hashes",
            &l.integer(found.proof.len() as i64),
        ),
        // Quoted, so that it works when pasted into a terminal as it is.
        command: format!(
            "panah verify receipt {} \"{}\"",
            found.origin,
            code.grouped()
        ),
    }))
}
