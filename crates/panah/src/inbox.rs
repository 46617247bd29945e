//! `panah inbox …`: the coordinators' side of the contact drop. Everything is decrypted
//! here, on the coordinator's machine, with the keyring; the hub only ever sends ciphertext.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};
use clap::{Args, Subcommand};
use panah_api::{Conversation, Created};
use panah_core::envelope::{Author, Envelope};
use panah_core::{age_file, Timestamp};
use panah_keyring::Keyring;
use sha2::{Digest, Sha256};

use crate::client::{HubArgs, Session};

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
    /// Write the conversation and its files as a tar archive inside an age file encrypted
    /// to your own key: `rage -d -i IDENTITY FILE | tar x` opens it without Panah.
    Export {
        id: i64,
        #[arg(short, long, value_name = "FILE")]
        output: PathBuf,
    },
}

/// Most the CLI will download for one item (the hub's upload limit is far below).
const MAX_DOWNLOAD: u64 = 4 * 1024 * 1024 * 1024;

fn decrypt(ciphertext: &[u8], keyring: &Keyring) -> anyhow::Result<Vec<u8>> {
    age_file::decrypt(ciphertext, keyring.identity(), MAX_DOWNLOAD)
        .context("cannot decrypt what the hub sent")
}

struct Opened {
    id: i64,
    envelope: Envelope,
    file_ids: Vec<i64>,
}

async fn open_conversation(
    session: &Session,
    keyring: &Keyring,
    id: i64,
) -> anyhow::Result<(Conversation, Vec<Opened>)> {
    let c = session.collective.as_str();
    let conv: Conversation = session
        .get(&format!("/api/v1/c/{c}/conversations/{id}"))
        .await?;
    let mut opened = Vec::new();
    for m in &conv.messages {
        let blob = session
            .get_bytes(
                &format!("/api/v1/c/{c}/messages/{}/ciphertext", m.id),
                MAX_DOWNLOAD,
            )
            .await?;
        let envelope = Envelope::parse(&decrypt(&blob, keyring)?)
            .with_context(|| format!("message {} is damaged", m.id))?;
        opened.push(Opened {
            id: m.id,
            envelope,
            file_ids: m.files.iter().map(|f| f.id).collect(),
        });
    }
    Ok((conv, opened))
}

fn who(author: &Author) -> String {
    match author {
        Author::Sender => "sender".to_owned(),
        Author::Coordinator(fp) => format!("coordinator {fp}"),
    }
}

fn transcript(conv: &Conversation, opened: &[Opened]) -> String {
    let mut out = format!(
        "conversation {} (started {}, last {}, expires {})\n",
        conv.id,
        &conv.created_on[..10],
        &conv.last_on[..10],
        &conv.expires_on[..10]
    );
    for o in opened {
        out.push_str(&format!(
            "\n--- message {} from {}, {}\n",
            o.id,
            who(&o.envelope.from),
            o.envelope.sent
        ));
        for f in &o.envelope.files {
            let state = if f.scrubbed {
                "metadata removed"
            } else {
                "as sent"
            };
            out.push_str(&format!(
                "[file: {} ({} bytes, {}, {state})]\n",
                f.name, f.size, f.content_type
            ));
        }
        out.push_str(&o.envelope.body);
        out.push('\n');
    }
    out
}

/// Downloads and decrypts one attachment, checking its size and hash against the envelope.
async fn fetch_file(
    session: &Session,
    keyring: &Keyring,
    file_id: i64,
    entry: &panah_core::envelope::FileEntry,
) -> anyhow::Result<Vec<u8>> {
    let c = session.collective.as_str();
    let blob = session
        .get_bytes(
            &format!("/api/v1/c/{c}/files/{file_id}/ciphertext"),
            MAX_DOWNLOAD,
        )
        .await?;
    let mut plain = decrypt(&blob, keyring)?;
    let size = usize::try_from(entry.size).context("file too large for this machine")?;
    if plain.len() < size {
        bail!("{} is shorter than its record says", entry.name);
    }
    plain.truncate(size); // drop the padding
    let hash = panah_core::hex(&Sha256::digest(&plain));
    if hash != entry.sha256 {
        bail!(
            "{} does not match its recorded hash; it was damaged or tampered with",
            entry.name
        );
    }
    Ok(plain)
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
    let c = session.collective.as_str().to_owned();
    match command {
        InboxCommand::List => {
            let all: Vec<Conversation> =
                session.get(&format!("/api/v1/c/{c}/conversations")).await?;
            if all.is_empty() {
                println!("no conversations");
            }
            for conv in all {
                let files: usize = conv.messages.iter().map(|m| m.files.len()).sum();
                let latest = conv.messages.iter().rev().find(|m| m.author == "sender");
                let preview = match latest {
                    Some(m) => {
                        let blob = session
                            .get_bytes(
                                &format!("/api/v1/c/{c}/messages/{}/ciphertext", m.id),
                                MAX_DOWNLOAD,
                            )
                            .await?;
                        match decrypt(&blob, keyring)
                            .ok()
                            .and_then(|p| Envelope::parse(&p).ok())
                        {
                            Some(e) => e
                                .body
                                .lines()
                                .next()
                                .unwrap_or_default()
                                .chars()
                                .take(60)
                                .collect::<String>(),
                            None => "(cannot decrypt: not encrypted to your key)".to_owned(),
                        }
                    }
                    None => String::new(),
                };
                println!(
                    "#{}\t{} messages, {files} files\tlast {}\texpires {}\t{preview}",
                    conv.id,
                    conv.messages.len(),
                    &conv.last_on[..10],
                    &conv.expires_on[..10]
                );
            }
        }
        InboxCommand::Read { id, out } => {
            let (conv, opened) = open_conversation(session, keyring, id).await?;
            print!("{}", transcript(&conv, &opened));
            let any_files = opened.iter().any(|o| !o.file_ids.is_empty());
            match out {
                Some(dir) if any_files => {
                    std::fs::create_dir_all(&dir)
                        .with_context(|| format!("cannot create {}", dir.display()))?;
                    for o in &opened {
                        for (file_id, entry) in o.file_ids.iter().zip(&o.envelope.files) {
                            let bytes = fetch_file(session, keyring, *file_id, entry).await?;
                            let path = free_path(
                                &dir,
                                &o.id.to_string(),
                                &panah_core::envelope::clean_file_name(&entry.name),
                            );
                            crate::files::write_private(&path, &bytes)?;
                            eprintln!("saved {}", path.display());
                        }
                    }
                }
                None if any_files => eprintln!("(add --out DIR to save the files)"),
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
            let text = text.trim().to_owned();
            if text.is_empty() {
                bail!("the reply is empty");
            }
            let conv: Conversation = session
                .get(&format!("/api/v1/c/{c}/conversations/{id}"))
                .await?;
            let team = session.team().await?;
            let mut recipients: Vec<age::x25519::Recipient> = Vec::new();
            let sender: age::x25519::Recipient = conv
                .reply_recipient
                .parse()
                .map_err(|e| anyhow::anyhow!("the sender's reply key is damaged: {e}"))?;
            recipients.push(sender);
            for m in &team.coordinators {
                recipients.push(
                    m.recipient
                        .parse()
                        .map_err(|e| anyhow::anyhow!("a coordinator's key is damaged: {e}"))?,
                );
            }
            let envelope = Envelope {
                from: Author::Coordinator(session.fingerprint.clone()),
                sent: Timestamp::now(),
                files: Vec::new(),
                body: text,
            };
            let ciphertext = age_file::encrypt(&recipients, &envelope.to_padded_bytes())?;
            let created: Created = session
                .post_bytes(
                    &format!("/api/v1/c/{c}/conversations/{id}/replies"),
                    ciphertext,
                )
                .await?;
            println!(
                "reply {} sent to conversation #{id}, readable by the sender and {} coordinator(s)",
                created.id,
                team.coordinators.len()
            );
        }
        InboxCommand::Delete { id } => {
            session
                .delete(&format!("/api/v1/c/{c}/conversations/{id}"))
                .await?;
            println!("deleted conversation #{id} and its files from the hub");
        }
        InboxCommand::Export { id, output } => {
            let (conv, opened) = open_conversation(session, keyring, id).await?;
            let mut archive = tar::Builder::new(Vec::new());
            let text = transcript(&conv, &opened);
            append(&mut archive, "conversation.txt", text.as_bytes())?;
            for o in &opened {
                for (file_id, entry) in o.file_ids.iter().zip(&o.envelope.files) {
                    let bytes = fetch_file(session, keyring, *file_id, entry).await?;
                    let name = format!(
                        "files/{}-{}",
                        o.id,
                        panah_core::envelope::clean_file_name(&entry.name)
                    );
                    append(&mut archive, &name, &bytes)?;
                }
            }
            let tar = archive.into_inner()?;
            let ciphertext = age_file::encrypt(&[keyring.identity().to_public()], &tar)?;
            crate::files::write_private(&output, &ciphertext)?;
            println!(
                "wrote {}: open it with `rage -d -i IDENTITY {} | tar x`",
                output.display(),
                output.display()
            );
        }
    }
    Ok(())
}

fn append(archive: &mut tar::Builder<Vec<u8>>, name: &str, bytes: &[u8]) -> anyhow::Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o600);
    header.set_mtime(0);
    archive.append_data(&mut header, name, bytes)?;
    Ok(())
}
