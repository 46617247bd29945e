//! `panah team`: the team of coordinators as its signed log shows it, and changes to it.
//!
//! Every coordinator command that trusts the team (replies, the ledger) goes through
//! [`verified`], which also tells the person what changed since they last looked.

use std::io::BufRead;

use anyhow::bail;
use clap::{Args, Subcommand};
use panah_client::hub::Session;
use panah_client::team::{self, VerifiedTeam};
use panah_client::terminal::{sanitize, sanitize_line};
use panah_client::ClientError;
use panah_core::team::Change;
use panah_core::CoordinatorKey;
use panah_keyring::Keyring;

use crate::client::HubArgs;
use crate::tracker::Words;

#[derive(Args, Debug)]
pub struct TeamArgs {
    #[command(flatten)]
    pub hub: HubArgs,
    #[command(subcommand)]
    pub command: Option<TeamCommand>,
}

#[derive(Subcommand, Debug)]
pub enum TeamCommand {
    /// Show the team as its signed log shows it (the default).
    Show,
    /// Start the team log (the founding coordinator, once): you first, then every other
    /// coordinator the hub lets in today, which you must check.
    Init {
        /// Sign without asking (after checking the list another way).
        #[arg(long)]
        yes: bool,
    },
    /// Add a coordinator by the public line `panah id show` printed on their device.
    /// Check the line with them in person or on a call first: whoever you add can read
    /// every reply and record from then on.
    Add {
        /// `age1… ed25519:…`, quoted as one argument.
        line: String,
        /// A pseudonym to tell coordinators apart (public in the team log: never a name).
        #[arg(long, default_value = "")]
        label: String,
    },
    /// Remove a coordinator (by fingerprint or public line). They can no longer log in or
    /// sign; re-encrypt what they could read with `panah inbox` afterwards.
    Remove { who: String },
}

/// The verified team, with what changed since this machine last looked printed to
/// standard error. If the team log was not started and the hub lists only this
/// coordinator, starts it (the usual first run of a new collective's founder).
pub async fn verified(session: &Session, keyring: &Keyring) -> anyhow::Result<VerifiedTeam> {
    verified_in(session, keyring, &Words::new(None)?).await
}

/// [`verified`], telling the news in `words`' language.
pub async fn verified_in(
    session: &Session,
    keyring: &Keyring,
    words: &Words,
) -> anyhow::Result<VerifiedTeam> {
    let (team, founded) = verified_or_founded(session, keyring).await?;
    if founded {
        eprintln!(
            "{}",
            words.f(
                "cli-team-started",
                &[("origin", &sanitize_line(&team.origin))]
            )
        );
    }
    show_news(&team, words);
    Ok(team)
}

/// The verified team; if the team log was not started and the hub lists only this
/// coordinator, starts it first (then `true`: the founding is no news to the founder).
pub async fn verified_or_founded(
    session: &Session,
    keyring: &Keyring,
) -> anyhow::Result<(VerifiedTeam, bool)> {
    match team::verified(session).await {
        Err(ClientError::NoTeam) => {
            let (info, members) = team::founding_list(session, keyring).await?;
            if members.len() != 1 {
                bail!(
                    "this collective's team log was not started, and the hub lists {} coordinators: \
                     the founder checks them and starts it with `panah team init`",
                    members.len()
                );
            }
            let mut t = team::found(session, keyring, &info, &members).await?;
            t.first_use = false;
            t.news.clear();
            Ok((t, true))
        }
        other => Ok((other?, false)),
    }
}

/// What changed since this device last looked, in words (empty if nothing did).
pub fn news_lines(team: &VerifiedTeam, w: &Words) -> Vec<String> {
    let mut out = Vec::new();
    if team.first_use {
        out.push(w.t("cli-team-first-use"));
    } else if !team.news.is_empty() {
        out.push(w.t("cli-team-news"));
    }
    for e in &team.news {
        out.push(describe(team, e, w));
    }
    out
}

/// One change of the team log in words: who was added or removed, by whom, when.
pub fn describe(team: &VerifiedTeam, entry: &panah_core::team::TeamEntry, w: &Words) -> String {
    let b = &entry.body;
    let date = w.l().date(panah_core::Timestamp::from_date(b.date));
    let who = |k| sanitize_line(&team.who(k));
    match &b.change {
        Change::Add { key, .. } if b.index == 0 => w.f(
            "cli-team-founded",
            &[("who", &who(key.signing())), ("date", &date)],
        ),
        Change::Add { key, .. } => w.f(
            "cli-team-added",
            &[
                ("who", &who(key.signing())),
                ("by", &who(&b.by)),
                ("date", &date),
            ],
        ),
        Change::Remove { signing } => w.f(
            "cli-team-removed",
            &[("who", &who(signing)), ("by", &who(&b.by)), ("date", &date)],
        ),
    }
}

fn show_news(team: &VerifiedTeam, w: &Words) {
    for (i, line) in news_lines(team, w).iter().enumerate() {
        if i == 0 {
            eprintln!("{line}");
        } else {
            eprintln!("  {line}");
        }
    }
    if !team.invitations.is_empty() {
        eprintln!(
            "{}",
            w.f(
                "cli-team-invitations",
                &[("count", &w.l().integer(team.invitations.len() as i64))]
            )
        );
        for (key, label) in &team.invitations {
            eprintln!("  {} {}", key.fingerprint(), sanitize_line(label));
            eprintln!("    {}", key);
        }
    }
}

fn print_team(team: &VerifiedTeam, you: &str) {
    println!(
        "{} coordinator(s), verified from the signed team log {} ({} changes)",
        team.members().len(),
        sanitize(&team.origin),
        team.team.tree.size()
    );
    for m in team.members() {
        let fp = m.key.fingerprint().to_string();
        let label = if m.label.is_empty() { "-" } else { &m.label };
        let mark = if fp == you { " (you)" } else { "" };
        println!(
            "{fp}\t{}\tsince {}, added by {}{mark}",
            sanitize_line(label),
            m.added_on,
            m.added_by
        );
        println!("  {}", m.key);
    }
}

pub async fn run(args: TeamArgs) -> anyhow::Result<()> {
    let (session, keyring) = args.hub.login_keeping_keyring().await?;
    let result = run_logged_in(
        &session,
        &keyring,
        args.command.unwrap_or(TeamCommand::Show),
    )
    .await;
    session.logout().await;
    result
}

async fn run_logged_in(
    session: &Session,
    keyring: &Keyring,
    command: TeamCommand,
) -> anyhow::Result<()> {
    let w = Words::new(None)?;
    match command {
        TeamCommand::Show => {
            let team = verified_in(session, keyring, &w).await?;
            println!(
                "logged in to {} as {}",
                session.collective, session.fingerprint
            );
            print_team(&team, &session.fingerprint);
        }
        TeamCommand::Init { yes } => {
            let (info, members) = team::founding_list(session, keyring).await?;
            println!("The team log will start with these coordinators (fingerprints computed here from the keys that will be signed):");
            for m in &members {
                println!(
                    "  {}\t{}\n    {}",
                    m.key.fingerprint(),
                    sanitize_line(if m.label.is_empty() { "-" } else { &m.label }),
                    m.key
                );
            }
            if !yes
                && !confirm(
                    "Sign this list? Check every fingerprint with its coordinator first. [y/N] ",
                )?
            {
                bail!("nothing was signed");
            }
            let team = team::found(session, keyring, &info, &members).await?;
            println!("ok: started the team log {}", sanitize(&team.origin));
            print_team(&team, &session.fingerprint);
        }
        TeamCommand::Add { line, label } => {
            let key = CoordinatorKey::parse_line(&line)?;
            let label = label.trim().to_owned();
            panah_core::team::check_label(&label).map_err(anyhow::Error::msg)?;
            let mut team = verified_in(session, keyring, &w).await?;
            if team.find(&key.to_string()).is_some() {
                bail!("{} is on the team already", key.fingerprint());
            }
            team::change(
                session,
                keyring,
                &mut team,
                vec![Change::Add {
                    key: key.clone(),
                    label,
                }],
            )
            .await?;
            println!(
                "{}",
                w.f(
                    "cli-team-added-ok",
                    &[
                        ("fp", &key.fingerprint().to_string()),
                        ("count", &w.l().integer(team.members().len() as i64)),
                    ]
                )
            );
        }
        TeamCommand::Remove { who } => {
            let mut team = verified_in(session, keyring, &w).await?;
            let Some(member) = team.find(&who).cloned() else {
                bail!(
                    "nobody on the verified team has the fingerprint or key {:?}",
                    sanitize(&who)
                );
            };
            if member.key.fingerprint().to_string() == session.fingerprint {
                bail!("you cannot remove yourself; ask another coordinator to");
            }
            team::change(
                session,
                keyring,
                &mut team,
                vec![Change::Remove {
                    signing: *member.key.signing(),
                }],
            )
            .await?;
            println!(
                "{}",
                w.f(
                    "cli-team-removed-ok",
                    &[("fp", &member.key.fingerprint().to_string())]
                )
            );
        }
    }
    Ok(())
}

fn confirm(prompt: &str) -> anyhow::Result<bool> {
    eprint!("{prompt}");
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
