//! The desk's books: the fund ledger verified here against what the hub publishes (the
//! result is shown, whatever it is), its totals, the latest entries, and adding income,
//! expenses and exchanges with the memo checks shown before anything is signed; reversals,
//! goals, and a CSV import with a preview. Receipt codes are shown once.

use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use panah_client::ledger::{self, draft::Draft};
use panah_client::terminal::sanitize_line;
use panah_client::ClientError;
use panah_core::ledger::entry::{Category, Entry, Kind, Rail};
use panah_core::ledger::totals::Totals;
use panah_core::Timestamp;

use super::frame::{choices, Choice};
use super::{need_unlocked, Desk, Frame, Unlocked};
use crate::tracker::Words;

pub(super) fn routes() -> Router<Arc<Desk>> {
    Router::new()
        .route("/books", get(books))
        .route("/books/add", post(add))
        .route("/books/reverse", post(reverse))
        .route("/books/goals", post(goals))
        .route("/books/import", post(import))
}

/// The form for one entry, as typed (also what an import's rows become).
#[derive(serde::Deserialize, Default, Clone)]
#[serde(default)]
struct EntryForm {
    kind: String,
    amount: String,
    currency: String,
    base: String,
    counter: String,
    counter_currency: String,
    category: String,
    rail: String,
    memo: String,
    date: String,
    precision: String,
    receipt: Option<String>,
    /// Set by "sign it anyway" after the memo warnings were shown.
    anyway: Option<String>,
}

impl EntryForm {
    fn draft(&self) -> Draft {
        Draft {
            date: self.date.trim().to_owned(),
            kind: self.kind.clone(),
            category: self.category.clone(),
            amount: self.amount.clone(),
            currency: self.currency.clone(),
            base_amount: self.base.clone(),
            precision: self.precision.clone(),
            counter_amount: self.counter.clone(),
            counter_currency: self.counter_currency.clone(),
            rail: self.rail.clone(),
            memo: self.memo.clone(),
            receipt: if self.receipt.is_some() {
                "yes".into()
            } else {
                String::new()
            },
            ..Draft::default()
        }
    }
}

struct ShownEntry {
    index: u64,
    number: String,
    line: String,
    memo: String,
    reversed: bool,
    can_reverse: bool,
}

#[derive(askama::Template)]
#[template(path = "desk/books.html")]
struct BooksPage<'a> {
    f: Frame<'a>,
    /// The verification's result in words, and whether it passed.
    verified: String,
    ok: bool,
    sums: Vec<(String, String)>,
    entries: Vec<ShownEntry>,
    form: EntryForm,
    kinds: Vec<Choice>,
    categories: Vec<Choice>,
    rails: Vec<Choice>,
    warnings: Vec<String>,
    error: Option<String>,
    done: Vec<String>,
    codes: Vec<(String, String)>,
    import_text: String,
    preview: Vec<String>,
    /// The goals as they are now, to change.
    target: String,
    budgets: String,
}

fn kind_word(w: &Words, k: Kind) -> String {
    w.t(&format!("ledger-kind-{}", k.word()))
}

fn entry_line(w: &Words, e: &Entry) -> String {
    let date = w.l().date(Timestamp::from_date(e.date));
    let mut parts = vec![
        date,
        kind_word(w, e.kind),
        w.t(&format!("category-{}", e.category.word())),
        w.l().money(e.amount.minor(), e.amount.currency()),
        w.t(&format!("rail-{}", e.rail.word())),
    ];
    if let Some(t) = e.reverses {
        parts.push(w.f(
            "ledger-reverses",
            &[("index", &w.n(usize::try_from(t).unwrap_or(usize::MAX)))],
        ));
    }
    w.l().list(&parts)
}

/// What the books page shows besides the form: verified here, or why not.
struct Checked {
    verified: String,
    ok: bool,
    sums: Vec<(String, String)>,
    entries: Vec<ShownEntry>,
    target: String,
    budgets: String,
}

async fn check(desk: &Desk, u: &Unlocked, w: &Words) -> Checked {
    let synced = async {
        let s = u.hub(desk).await?;
        let team = desk.team(&s, &u.keyring).await?;
        anyhow::Ok(ledger::sync(&s, &team).await?)
    }
    .await;
    let synced = match synced {
        Ok(s) => s,
        Err(e) => {
            return Checked {
                verified: w.f(
                    "desk-books-not-verified",
                    &[("why", &crate::error_text(&e, w))],
                ),
                ok: false,
                sums: Vec::new(),
                entries: Vec::new(),
                target: String::new(),
                budgets: String::new(),
            }
        }
    };
    let t = Totals::of(&synced.entries);
    let base = synced.base;
    let money = |m: i64| w.l().money(m, base);
    let mut sums = vec![
        (w.t("ledger-raised"), money(t.raised)),
        (w.t("ledger-spent"), money(t.spent)),
        (w.t("ledger-balance"), money(t.balance())),
    ];
    if t.exchange_costs != 0 {
        sums.push((w.t("ledger-exchange-costs"), money(t.exchange_costs)));
    }
    for (c, m) in &t.balances {
        if *c != base && *m != 0 {
            sums.push((w.t("ledger-held"), w.l().money(*m, *c)));
        }
    }
    let n = synced.entries.len();
    let entries = synced
        .entries
        .iter()
        .enumerate()
        .rev()
        .take(50)
        .map(|(i, e)| {
            let i = i as u64;
            ShownEntry {
                index: i,
                number: w.n(usize::try_from(i).unwrap_or(usize::MAX)),
                line: entry_line(w, e),
                memo: w.line(e.translations.get(&w.lang).unwrap_or(&e.memo)),
                reversed: t.reversed.contains(&i),
                can_reverse: e.kind != Kind::Reversal && !t.reversed.contains(&i),
            }
        })
        .collect();
    let in_base = |m: i64| panah_core::ledger::money::decimal(m, base);
    let target = synced.target.map(in_base).unwrap_or_default();
    let budgets = synced
        .budgets
        .iter()
        // The hub's words for the categories: shown back only as one plain line each.
        .map(|(c, m)| format!("{}={}", sanitize_line(c), in_base(*m)))
        .collect::<Vec<_>>()
        .join("\n");
    Checked {
        target,
        budgets,
        verified: w.f(
            "desk-books-verified",
            &[("count", &w.n(n)), ("origin", &w.line(&synced.origin))],
        ),
        ok: true,
        sums,
        entries,
    }
}

/// What the page shows after an action.
#[derive(Default)]
struct After {
    form: EntryForm,
    warnings: Vec<String>,
    error: Option<String>,
    done: Vec<String>,
    codes: Vec<(String, String)>,
    import_text: String,
    preview: Vec<String>,
}

/// The page after an action that did not sign anything: 422 if it was refused.
async fn page_after(desk: &Desk, after: After) -> Response {
    let status = if after.error.is_some() {
        StatusCode::UNPROCESSABLE_ENTITY
    } else {
        StatusCode::OK
    };
    page(desk, status, after).await
}

async fn page(desk: &Desk, status: StatusCode, after: After) -> Response {
    let u = match need_unlocked(desk) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let w = desk.words();
    let f = Frame::new(desk, &w, Some("books"), "/books");
    let c = check(desk, &u, &w).await;
    let kinds = [Kind::Income, Kind::Expense, Kind::Exchange]
        .iter()
        .map(|k| Choice {
            value: k.word(),
            label: kind_word(&w, *k),
        })
        .collect();
    f.render(
        status,
        BooksPage {
            f: f.clone(),
            verified: c.verified,
            ok: c.ok,
            sums: c.sums,
            entries: c.entries,
            kinds,
            categories: choices(&w, Category::ALL, Category::word, "category"),
            rails: choices(&w, Rail::ALL, Rail::word, "rail"),
            form: after.form,
            warnings: after.warnings,
            error: after.error,
            done: after.done,
            codes: after.codes,
            import_text: after.import_text,
            preview: after.preview,
            target: c.target,
            budgets: c.budgets,
        },
    )
}

async fn books(State(desk): State<Arc<Desk>>) -> Response {
    let done = std::mem::take(&mut *desk.said.lock().unwrap_or_else(|e| e.into_inner()));
    let codes = std::mem::take(&mut *desk.codes.lock().unwrap_or_else(|e| e.into_inner()));
    page(
        &desk,
        StatusCode::OK,
        After {
            form: EntryForm {
                kind: "expense".into(),
                ..EntryForm::default()
            },
            done,
            codes,
            ..After::default()
        },
    )
    .await
}

/// After a change was signed: what to say (and the receipt codes, once) is kept for the
/// next page, and the browser is sent there, so that reloading it signs nothing again.
fn signed(desk: &Desk, done: Vec<String>, codes: Vec<(String, String)>) -> Response {
    *desk.said.lock().unwrap_or_else(|e| e.into_inner()) = done;
    *desk.codes.lock().unwrap_or_else(|e| e.into_inner()) = codes;
    Redirect::to(&desk.at("/books")).into_response()
}

/// Signs and publishes `drafts`; memo warnings come back to be shown, unless `anyway`.
async fn sign(
    desk: &Desk,
    u: &Unlocked,
    w: &Words,
    drafts: &[Draft],
    anyway: bool,
) -> Result<ledger::Added, Result<Vec<String>, String>> {
    let done = async {
        let s = u
            .hub(desk)
            .await
            .map_err(|e| Err(crate::error_text(&e, w)))?;
        let team = desk
            .team(&s, &u.keyring)
            .await
            .map_err(|e| Err(crate::error_text(&e, w)))?;
        ledger::add(&s, &u.keyring, drafts, &team, 100, anyway)
            .await
            .map_err(|e| match e {
                ClientError::MemoWarnings(ws) => Ok(ws),
                e => Err(crate::error_text(&e.into(), w)),
            })
    }
    .await;
    done
}

fn added_lines(w: &Words, added: &ledger::Added) -> (Vec<String>, Vec<(String, String)>) {
    let mut done = vec![w.f(
        "desk-books-added",
        &[
            ("count", &w.n(added.entries.len())),
            (
                "size",
                &w.n(usize::try_from(added.size).unwrap_or(usize::MAX)),
            ),
        ],
    )];
    if added.timing_visible() {
        done.push(w.t("desk-books-timing"));
    }
    let codes = added
        .entries
        .iter()
        .enumerate()
        .filter_map(|(i, (e, code))| {
            code.as_ref().map(|c| {
                (
                    w.f(
                        "desk-books-receipt",
                        &[
                            (
                                "index",
                                &w.n(usize::try_from(added.first + i as u64).unwrap_or(usize::MAX)),
                            ),
                            (
                                "amount",
                                &w.l().money(e.amount.minor(), e.amount.currency()),
                            ),
                        ],
                    ),
                    c.grouped(),
                )
            })
        })
        .collect();
    (done, codes)
}

async fn add(State(desk): State<Arc<Desk>>, Form(form): Form<EntryForm>) -> Response {
    let u = match need_unlocked(&desk) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let w = desk.words();
    let anyway = form.anyway.is_some();
    match sign(&desk, &u, &w, &[form.draft()], anyway).await {
        Ok(added) => {
            let (done, codes) = added_lines(&w, &added);
            signed(&desk, done, codes)
        }
        Err(Ok(warnings)) => {
            let warnings = warnings.iter().map(|s| sanitize_line(s)).collect();
            page(
                &desk,
                StatusCode::UNPROCESSABLE_ENTITY,
                After {
                    form,
                    warnings,
                    ..After::default()
                },
            )
            .await
        }
        Err(Err(error)) => {
            page(
                &desk,
                StatusCode::UNPROCESSABLE_ENTITY,
                After {
                    form,
                    error: Some(error),
                    ..After::default()
                },
            )
            .await
        }
    }
}

#[derive(serde::Deserialize)]
struct ReverseForm {
    index: u64,
    #[serde(default)]
    memo: String,
}

async fn reverse(State(desk): State<Arc<Desk>>, Form(form): Form<ReverseForm>) -> Response {
    let u = match need_unlocked(&desk) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let w = desk.words();
    let memo = if form.memo.trim().is_empty() {
        "correction".to_owned()
    } else {
        form.memo
    };
    let done = async {
        let s = u.hub(&desk).await?;
        let team = desk.team(&s, &u.keyring).await?;
        anyhow::Ok(ledger::reverse(&s, &u.keyring, &team, form.index, memo, None).await?)
    }
    .await;
    let after = match done {
        Ok(added) => {
            return signed(
                &desk,
                vec![w.f(
                    "desk-books-reversed",
                    &[
                        (
                            "entry",
                            &w.n(usize::try_from(added.first).unwrap_or(usize::MAX)),
                        ),
                        (
                            "index",
                            &w.n(usize::try_from(form.index).unwrap_or(usize::MAX)),
                        ),
                    ],
                )],
                Vec::new(),
            )
        }
        Err(e) => After {
            error: Some(crate::error_text(&e, &w)),
            ..After::default()
        },
    };
    page_after(&desk, after).await
}

#[derive(serde::Deserialize)]
struct GoalsForm {
    #[serde(default)]
    target: String,
    /// `CATEGORY=AMOUNT`, one per line.
    #[serde(default)]
    budgets: String,
}

async fn goals(State(desk): State<Arc<Desk>>, Form(form): Form<GoalsForm>) -> Response {
    let u = match need_unlocked(&desk) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let w = desk.words();
    let target = Some(form.target.trim()).filter(|t| !t.is_empty());
    let budgets: Vec<String> = form
        .budgets
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    let done = async {
        let s = u.hub(&desk).await?;
        anyhow::Ok(ledger::set_goals(&s, target, &budgets).await?)
    }
    .await;
    let after = match done {
        Ok(()) => return signed(&desk, vec![w.t("desk-books-goals-set")], Vec::new()),
        Err(e) => After {
            error: Some(crate::error_text(&e, &w)),
            ..After::default()
        },
    };
    page_after(&desk, after).await
}

#[derive(serde::Deserialize)]
struct ImportForm {
    #[serde(default)]
    csv: String,
    /// Absent: show the preview; present: sign.
    confirm: Option<String>,
    anyway: Option<String>,
}

/// A CSV import pasted into the form: first a preview of every row as it will be signed,
/// with the memo warnings; then, confirmed, signed in batches of 100.
async fn import(State(desk): State<Arc<Desk>>, Form(form): Form<ImportForm>) -> Response {
    let u = match need_unlocked(&desk) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let w = desk.words();
    let drafts = match ledger::draft::read_csv(&form.csv) {
        Ok(d) if !d.is_empty() => d,
        Ok(_) => {
            return page(
                &desk,
                StatusCode::UNPROCESSABLE_ENTITY,
                After {
                    error: Some(w.t("desk-books-import-empty")),
                    import_text: form.csv,
                    ..After::default()
                },
            )
            .await
        }
        Err(e) => {
            return page(
                &desk,
                StatusCode::UNPROCESSABLE_ENTITY,
                After {
                    error: Some(crate::error_text(&e.into(), &w)),
                    import_text: form.csv,
                    ..After::default()
                },
            )
            .await
        }
    };
    if form.confirm.is_none() {
        // The preview: each row as the ledger would keep it, checked without signing.
        let fingerprint = u.keyring.public().fingerprint().to_string();
        let today = time::OffsetDateTime::now_utc().date();
        let mut preview = Vec::new();
        let mut made = Vec::new();
        let base = match async {
            let s = u.hub(&desk).await?;
            let info: panah_api::LedgerInfo = s.get(&s.api("/ledger")).await?;
            anyhow::Ok(panah_core::ledger::money::Currency::parse(
                &info.base_currency,
            )?)
        }
        .await
        {
            Ok(b) => b,
            Err(e) => {
                return page(
                    &desk,
                    StatusCode::BAD_GATEWAY,
                    After {
                        error: Some(crate::error_text(&e, &w)),
                        import_text: form.csv,
                        ..After::default()
                    },
                )
                .await
            }
        };
        let mut error = None;
        for (i, d) in drafts.iter().enumerate() {
            match d.to_entry(base, &fingerprint, today) {
                Ok((e, code)) => {
                    let mut line = w.f(
                        "desk-books-import-row",
                        &[("row", &w.n(i + 2)), ("why", &entry_line(&w, &e))],
                    );
                    if !e.memo.is_empty() {
                        line.push_str(w.l().sep());
                        line.push_str(&w.line(&e.memo));
                    }
                    preview.push(line);
                    made.push((e, code));
                }
                Err(e) => {
                    error = Some(w.f(
                        "desk-books-import-row",
                        &[
                            ("row", &w.n(i + 2)),
                            ("why", &sanitize_line(&e.to_string())),
                        ],
                    ));
                    break;
                }
            }
        }
        let warnings = ledger::draft::warnings(&made, 2)
            .iter()
            .map(|s| sanitize_line(s))
            .collect();
        let status = if error.is_some() {
            StatusCode::UNPROCESSABLE_ENTITY
        } else {
            StatusCode::OK
        };
        return page(
            &desk,
            status,
            After {
                preview: if error.is_some() { Vec::new() } else { preview },
                warnings,
                error,
                import_text: form.csv,
                ..After::default()
            },
        )
        .await;
    }
    match sign(&desk, &u, &w, &drafts, form.anyway.is_some()).await {
        Ok(added) => {
            let (done, codes) = added_lines(&w, &added);
            signed(&desk, done, codes)
        }
        Err(Ok(warnings)) => {
            page(
                &desk,
                StatusCode::UNPROCESSABLE_ENTITY,
                After {
                    warnings: warnings.iter().map(|s| sanitize_line(s)).collect(),
                    import_text: form.csv,
                    ..After::default()
                },
            )
            .await
        }
        Err(Err(error)) => {
            page(
                &desk,
                StatusCode::UNPROCESSABLE_ENTITY,
                After {
                    error: Some(error),
                    import_text: form.csv,
                    ..After::default()
                },
            )
            .await
        }
    }
}
