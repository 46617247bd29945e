//! `panah inbox …`: the coordinators' side of the contact drop (`panah_client::inbox`) on
//! the command line. Everything is decrypted here, on the coordinator's machine, with the
//! keyring; the hub only ever sends ciphertext. What a sender or the hub wrote is shown
//! with control characters made visible.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::{Args, Subcommand};
use panah_client::files::write_private;
use panah_client::inbox::{self, day};
use panah_client::terminal::{sanitize, sanitize_line};
use panah_client::Session;
use panah_core::envelope::clean_file_name;
use panah_keyring::Keyring;

use crate::client::HubArgs;
use crate::tracker::Words;

#[derive(Args, Debug)]
pub struct InboxArgs {
    #[command(flatten)]
    hub: HubArgs,
    #[command(subcommand)]
    command: InboxCommand,
}

#[derive(Subcommand, Debug)]
enum InboxCommand {
    /// List conversations, newest first, with the start of their latest message.
    List,
    /// Show a conversation; with --out, save its files (decrypted) into a folder.
    Read {
        id: i64,
        /// Folder to save attachments in (created if missing; files are never overwritten).
        #[arg(long, value_name = "DIR")]
        out: Option<PathBuf>,
    },
    /// Reply: encrypted here to the sender's reply key and to every coordinator.
    Reply {
        id: i64,
        /// The reply text; read from standard input when absent.
        #[arg(long, short)]
        message: Option<String>,
    },
    /// Delete a conversation and its files from the hub now.
    Delete { id: i64 },
    /// Encrypt every stored message and file anew to the team as its signed log now shows
    /// it (after a coordinator was removed: what the hub keeps is then unreadable with
    /// their key). Resumable: run it again after an interruption.
    Reencrypt,
    /// Write the conversation and its files as a tar archive inside an age file encrypted
    /// to your own key: `rage -d -i IDENTITY FILE | tar x` opens it without Panah.
    Export {
        id: i64,
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
}

/// A path in `dir` for `name` that does not exist yet.
fn free_path(dir: &Path, prefix: &str, name: &str) -> PathBuf {
    let mut candidate = dir.join(format!("{prefix}-{name}"));
    let mut n = 2;
    while candidate.exists() {
        candidate = dir.join(format!("{prefix}-{n}-{name}"));
        n += 1;
    }
    candidate
}

/// A date the hub sent (untrusted text): in the reader's calendar if it is one, else shown
/// as sent, made safe.
fn hub_day(w: &Words, text: &str) -> String {
    match panah_core::records::Day::parse(day(text)) {
        Ok(d) => w.l().date(panah_core::Timestamp::from_date(d.0)),
        Err(_) => sanitize_line(day(text)),
    }
}

/// A conversation as `inbox read` prints it, in the reader's language; what the sender
/// wrote is made safe for the terminal.
fn transcript(
    w: &Words,
    conv: &panah_api::Conversation,
    opened: &[panah_client::inbox::Opened],
) -> String {
    use panah_core::envelope::Author;
    let mut out = w.f(
        "cli-inbox-conversation",
        &[
            ("id", &conv.id.to_string()),
            ("started", &hub_day(w, &conv.created_on)),
            ("last", &hub_day(w, &conv.last_on)),
            ("expires", &hub_day(w, &conv.expires_on)),
        ],
    );
    out.push('\n');
    for o in opened {
        let date = w.l().date(o.envelope.sent);
        let head = match &o.envelope.from {
            Author::Sender => w.f(
                "cli-inbox-from-sender",
                &[("id", &o.id.to_string()), ("date", &date)],
            ),
            Author::Coordinator(fp) => w.f(
                "cli-inbox-from-coordinator",
                &[
                    ("id", &o.id.to_string()),
                    ("who", &sanitize_line(fp)),
                    ("date", &date),
                ],
            ),
        };
        out.push_str(&format!("\n--- {head}\n"));
        for f in &o.envelope.files {
            let id = if f.scrubbed {
                "cli-inbox-file-scrubbed"
            } else {
                "cli-inbox-file"
            };
            out.push_str(&w.f(
                id,
                &[
                    ("name", &sanitize_line(&f.name)),
                    (
                        "size",
                        &w.l().integer(i64::try_from(f.size).unwrap_or(i64::MAX)),
                    ),
                    ("type", &sanitize_line(&f.content_type)),
                ],
            ));
            out.push('\n');
        }
        out.push_str(&sanitize(&o.envelope.body));
        out.push('\n');
    }
    out
}

pub async fn run(args: InboxArgs) -> anyhow::Result<()> {
    let (session, keyring) = args.hub.login_keeping_keyring().await?;
    let result = command(&session, &keyring, args.command).await;
    session.logout().await;
    result
}

async fn command(
    session: &Session,
    keyring: &Keyring,
    command: InboxCommand,
) -> anyhow::Result<()> {
    let w = Words::new(None)?;
    match command {
        InboxCommand::List => {
            let all = inbox::list(session, keyring).await?;
            if all.is_empty() {
                println!("{}", w.t("cli-inbox-none"));
            }
            for listed in all {
                let conv = &listed.conversation;
                let preview = match listed.preview.as_deref() {
                    Some(p) => sanitize_line(p),
                    None => w.t("cli-inbox-not-for-you"),
                };
                println!(
                    "{}",
                    w.f(
                        "cli-inbox-line",
                        &[
                            ("id", &conv.id.to_string()),
                            ("messages", &w.l().integer(listed.messages() as i64)),
                            ("files", &w.l().integer(listed.files as i64)),
                            ("last", &hub_day(&w, &conv.last_on)),
                            ("expires", &hub_day(&w, &conv.expires_on)),
                            ("preview", &preview),
                        ]
                    )
                );
            }
        }
        InboxCommand::Read { id, out } => {
            let (conv, opened) = inbox::open(session, keyring, id).await?;
            print!("{}", transcript(&w, &conv, &opened));
            let any_files = opened.iter().any(|o| !o.file_ids.is_empty());
            match out {
                Some(dir) if any_files => {
                    std::fs::create_dir_all(&dir)
                        .with_context(|| format!("cannot create {}", dir.display()))?;
                    for o in &opened {
                        for (file_id, entry) in o.file_ids.iter().zip(&o.envelope.files) {
                            let bytes =
                                inbox::fetch_file(session, keyring, *file_id, entry).await?;
                            let path =
                                free_path(&dir, &o.id.to_string(), &clean_file_name(&entry.name));
                            write_private(&path, &bytes)?;
                            eprintln!(
                                "{}",
                                w.f(
                                    "cli-inbox-saved",
                                    &[("file", &sanitize_line(&path.display().to_string()))]
                                )
                            );
                        }
                    }
                }
                None if any_files => eprintln!("{}", w.t("cli-inbox-add-out")),
                _ => {}
            }
        }
        InboxCommand::Reply { id, message } => {
            let text = match message {
                Some(m) => m,
                None => {
                    let mut s = String::new();
                    std::io::stdin()
                        .take(1024 * 1024)
                        .read_to_string(&mut s)
                        .context("cannot read the reply from standard input")?;
                    s
                }
            };
            let team = crate::team::verified_in(session, keyring, &w).await?;
            let sent = inbox::reply(session, &team, id, &text).await?;
            println!(
                "{}",
                w.f(
                    "cli-inbox-replied",
                    &[
                        ("reply", &sent.id.to_string()),
                        ("id", &id.to_string()),
                        ("count", &w.l().integer(sent.coordinators as i64)),
                    ]
                )
            );
        }
        InboxCommand::Delete { id } => {
            inbox::delete(session, id).await?;
            println!("{}", w.f("cli-inbox-deleted", &[("id", &id.to_string())]));
        }
        InboxCommand::Reencrypt => {
            let team = crate::team::verified_in(session, keyring, &w).await?;
            let r = reencrypt_all(session, keyring, &team).await?;
            let n = |v: usize| w.l().integer(v as i64);
            println!(
                "{}",
                w.f(
                    "cli-inbox-reencrypted",
                    &[
                        ("done", &n(r.done)),
                        ("count", &n(team.members().len())),
                        ("earlier", &n(r.earlier)),
                        ("gone", &n(r.gone)),
                    ]
                )
            );
            if r.unreadable > 0 {
                println!(
                    "{}",
                    w.f("cli-inbox-unreadable", &[("count", &n(r.unreadable))])
                );
            }
        }
        InboxCommand::Export { id, output } => {
            let ciphertext = inbox::export(session, keyring, id).await?;
            write_private(&output, &ciphertext)?;
            println!(
                "wrote {}: open it with `rage -d -i IDENTITY {} | tar x`",
                output.display(),
                output.display()
            );
        }
    }
    Ok(())
}

/// Encrypts every conversation anew to the verified team, with a progress line and a
/// progress file named by the team log's size and root (so a second run for the same team
/// resumes, and a run after another change starts over). `inbox reencrypt` and `panah
/// sync` after a removal both go through here.
pub async fn reencrypt_all(
    session: &Session,
    keyring: &Keyring,
    team: &panah_client::team::VerifiedTeam,
) -> anyhow::Result<inbox::Reencrypted> {
    let root = panah_core::tlog::check::b64(&team.team.tree.root());
    let name: String = format!("{}-{}-{root}", session.collective, team.team.tree.size())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let progress = panah_client::verify::state_dir()?.join(format!("reencrypt-{name}.progress"));
    if let Some(dir) = progress.parent() {
        std::fs::create_dir_all(dir)?;
    }
    let interactive = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let r = inbox::reencrypt(session, keyring, team, &progress, |done, total| {
        if interactive {
            eprint!("\rre-encrypting: {done}/{total}");
        }
    })
    .await?;
    if interactive {
        eprintln!();
    }
    Ok(r)
}
