//! The desk's team page: the team as its signed log shows it (verified here), what changed
//! since this device last looked, the operator's proposals, and adding or removing a
//! coordinator, each signed here. After a removal the needs and cases are wrapped anew and
//! the contact drop encrypted anew at once, so the removed key opens nothing new.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use panah_client::team;
use panah_client::terminal::sanitize_line;
use panah_core::team::Change;
use panah_core::CoordinatorKey;

use super::{need_unlocked, Desk, Frame};

pub(super) fn routes() -> Router<Arc<Desk>> {
    Router::new()
        .route("/team", get(page))
        .route("/team/add", post(add))
        .route(
            "/team/remove/{fingerprint}",
            get(confirm_remove).post(remove),
        )
}

struct Shown {
    fingerprint: String,
    label: String,
    about: String,
    you: bool,
}

struct Proposed {
    line: String,
    fingerprint: String,
    label: String,
}

#[derive(askama::Template)]
#[template(path = "desk/team.html")]
struct TeamPage<'a> {
    f: Frame<'a>,
    origin: String,
    members: Vec<Shown>,
    news: Vec<String>,
    proposed: Vec<Proposed>,
    said: Vec<String>,
    error: Option<String>,
    line: String,
    label: String,
}

async fn page(State(desk): State<Arc<Desk>>) -> Response {
    show(&desk, StatusCode::OK, None, String::new(), String::new()).await
}

async fn show(
    desk: &Desk,
    status: StatusCode,
    error: Option<String>,
    line: String,
    label: String,
) -> Response {
    let u = match need_unlocked(desk) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let w = desk.words();
    let f = Frame::new(desk, &w, Some("team"), "/team");
    let got = async {
        let s = u.hub(desk).await?;
        anyhow::Ok((desk.team(&s, &u.keyring).await?, s.fingerprint.clone()))
    }
    .await;
    let (team, me) = match got {
        Ok(t) => t,
        Err(e) => return f.failure(&e),
    };
    let members = team
        .members()
        .iter()
        .map(|m| {
            let fingerprint = m.key.fingerprint().to_string();
            Shown {
                you: fingerprint == me,
                label: if m.label.is_empty() {
                    "–".into()
                } else {
                    w.line(&m.label)
                },
                about: w.f(
                    "desk-team-member",
                    &[
                        (
                            "date",
                            &w.l().date(panah_core::Timestamp::from_date(m.added_on)),
                        ),
                        ("by", &{
                            let by = m.added_by.to_string();
                            team.find(&by)
                                .filter(|x| !x.label.is_empty())
                                .map(|x| w.line(&x.label))
                                .unwrap_or(by)
                        }),
                    ],
                ),
                fingerprint,
            }
        })
        .collect();
    let proposed = team
        .invitations
        .iter()
        .map(|(key, label)| Proposed {
            line: key.to_string(),
            fingerprint: key.fingerprint().to_string(),
            label: sanitize_line(label),
        })
        .collect();
    let news = std::mem::take(&mut *desk.news.lock().unwrap_or_else(|e| e.into_inner()));
    let said = std::mem::take(&mut *desk.said.lock().unwrap_or_else(|e| e.into_inner()));
    f.render(
        status,
        TeamPage {
            f: f.clone(),
            origin: w.line(&team.origin),
            members,
            news,
            proposed,
            said,
            error,
            line,
            label,
        },
    )
}

#[derive(askama::Template)]
#[template(path = "desk/team_check.html")]
struct CheckPage<'a> {
    f: Frame<'a>,
    fingerprint: String,
    line: String,
    label: String,
}

#[derive(serde::Deserialize, Default)]
#[serde(default)]
struct AddForm {
    line: String,
    label: String,
    /// The box that says the fingerprint was checked with the person.
    checked: Option<String>,
}

async fn add(State(desk): State<Arc<Desk>>, Form(form): Form<AddForm>) -> Response {
    let u = match need_unlocked(&desk) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let w = desk.words();
    let refuse = |message: String| {
        let desk = desk.clone();
        let (line, label) = (form.line.clone(), form.label.clone());
        async move {
            show(
                &desk,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(message),
                line,
                label,
            )
            .await
        }
    };
    let key = match CoordinatorKey::parse_line(form.line.trim()) {
        Ok(k) => k,
        Err(e) => {
            return refuse(w.f(
                "desk-team-bad-line",
                &[("why", &sanitize_line(&e.to_string()))],
            ))
            .await
        }
    };
    if form.checked.is_none() {
        // First the fingerprint this line gives, to check with the person; then sign.
        let f = Frame::new(&desk, &w, Some("team"), "/team");
        return f.render(
            StatusCode::OK,
            CheckPage {
                f: f.clone(),
                fingerprint: key.fingerprint().to_string(),
                line: key.to_string(),
                label: crate::tracker::clean_input(form.label.trim()),
            },
        );
    }
    let label = crate::tracker::clean_input(form.label.trim());
    if let Err(e) = panah_core::team::check_label(&label) {
        return refuse(sanitize_line(&e)).await;
    }
    let done = async {
        let s = u.hub(&desk).await?;
        let mut t = desk.team(&s, &u.keyring).await?;
        if t.find(&key.to_string()).is_some() {
            anyhow::bail!(
                "{}",
                w.f(
                    "desk-team-already",
                    &[("fp", &key.fingerprint().to_string())]
                )
            );
        }
        team::change(
            &s,
            &u.keyring,
            &mut t,
            vec![Change::Add {
                key: key.clone(),
                label,
            }],
        )
        .await?;
        anyhow::Ok(t.members().len())
    }
    .await;
    match done {
        Ok(count) => {
            *desk.said.lock().unwrap_or_else(|e| e.into_inner()) = vec![w.f(
                "desk-team-added",
                &[
                    ("fp", &key.fingerprint().to_string()),
                    ("count", &w.n(count)),
                ],
            )];
            Redirect::to(&desk.at("/team")).into_response()
        }
        Err(e) => refuse(crate::error_text(&e, &w)).await,
    }
}

/// A fingerprint from the address, as only hex digits and dashes (it is shown back).
fn fingerprint_in(path: &str) -> String {
    path.chars()
        .filter(|c| c.is_ascii_hexdigit() || *c == '-')
        .take(80)
        .collect()
}

async fn confirm_remove(State(desk): State<Arc<Desk>>, Path(fp): Path<String>) -> Response {
    if let Err(r) = need_unlocked(&desk) {
        return r.into_response();
    }
    let w = desk.words();
    let fp = fingerprint_in(&fp);
    let path = format!("/team/remove/{fp}");
    let f = Frame::new(&desk, &w, Some("team"), &path);
    f.confirm(
        w.f("desk-team-remove-title", &[("fp", &fp)]),
        w.t("desk-team-remove-explain"),
        path.clone(),
        w.t("desk-team-remove"),
        "/team".into(),
    )
}

async fn remove(State(desk): State<Arc<Desk>>, Path(fp): Path<String>) -> Response {
    let u = match need_unlocked(&desk) {
        Ok(u) => u,
        Err(r) => return r.into_response(),
    };
    let w = desk.words();
    let fp = fingerprint_in(&fp);
    let done = async {
        let s = u.hub(&desk).await?;
        let mut t = desk.team(&s, &u.keyring).await?;
        let Some(member) = t.find(&fp).cloned() else {
            anyhow::bail!("{}", w.f("desk-team-no-such", &[("fp", &fp)]));
        };
        if member.key.fingerprint().to_string() == s.fingerprint {
            anyhow::bail!("{}", w.t("desk-team-not-yourself"));
        }
        team::change(
            &s,
            &u.keyring,
            &mut t,
            vec![Change::Remove {
                signing: *member.key.signing(),
            }],
        )
        .await?;
        anyhow::Ok(())
    }
    .await;
    match done {
        Ok(()) => {
            // At once: the records wrapped anew and the inbox encrypted anew to the team
            // without them.
            let mut lines = vec![w.f("desk-team-removed", &[("fp", &fp)])];
            let mut cache = u.cache.lock().await;
            lines.extend(super::tracker::send(&desk, &u, &w, &mut cache).await);
            if let Err(e) = u.save(&cache) {
                lines.push(crate::error_text(&e, &w));
            }
            *desk.said.lock().unwrap_or_else(|e| e.into_inner()) = lines;
            Redirect::to(&desk.at("/team")).into_response()
        }
        Err(e) => {
            show(
                &desk,
                StatusCode::UNPROCESSABLE_ENTITY,
                Some(crate::error_text(&e, &w)),
                String::new(),
                String::new(),
            )
            .await
        }
    }
}
