//! The collective's inbox from a coordinator's side: conversations listed, opened and
//! decrypted here, files checked against what their sender's envelope says, replies
//! encrypted here to the sender and the team. The hub only ever sees ciphertext.

use panah_api::{Conversation, Created};
use panah_core::envelope::{clean_file_name, Author, Envelope, FileEntry};
use panah_core::{age_file, Timestamp};
use panah_keyring::Keyring;
use sha2::{Digest, Sha256};

use crate::error::{ClientError, Result};
use crate::hub::Session;

/// Most bytes of a message's envelope, downloaded or decrypted: its text (20,000
/// characters at most), the file list, padding and age's overhead fit well inside.
const MAX_MESSAGE: u64 = 4 * 1024 * 1024;
/// Most bytes of one file, downloaded or decrypted (a hub's upload limit is 50 MB by
/// default; an operator may raise it, not past this).
const MAX_FILE: u64 = 1024 * 1024 * 1024;

fn decrypt(ciphertext: &[u8], keyring: &Keyring, limit: u64) -> Result<Vec<u8>> {
    age_file::decrypt(ciphertext, keyring.identity(), limit)
        .map_err(|e| ClientError::BadAnswer(format!("cannot decrypt what the hub sent: {e}")))
}

/// A conversation with its first lines, for a list.
#[derive(Debug, Clone)]
pub struct Listed {
    pub conversation: Conversation,
    pub files: usize,
    /// The first line of the sender's latest message (60 characters), or `None` if it is
    /// not encrypted to this coordinator's key.
    pub preview: Option<String>,
}

/// A message decrypted, with the ids of its files on the hub.
#[derive(Debug, Clone)]
pub struct Opened {
    pub id: i64,
    pub envelope: Envelope,
    pub file_ids: Vec<i64>,
}

/// The first `n` characters of a date-time the hub sent, or all of it if shorter: the hub
/// is not trusted to send well-formed text.
pub fn day(text: &str) -> &str {
    text.char_indices()
        .nth(10)
        .map_or(text, |(i, _)| &text[..i])
}

impl Listed {
    pub fn messages(&self) -> usize {
        self.conversation.messages.len()
    }
}

/// Every conversation, newest first as the hub lists them, with previews.
pub async fn list(session: &Session, keyring: &Keyring) -> Result<Vec<Listed>> {
    let all: Vec<Conversation> = session.get(&session.api("/conversations")).await?;
    let mut out = Vec::with_capacity(all.len());
    for conversation in all {
        let files = conversation.messages.iter().map(|m| m.files.len()).sum();
        let latest = conversation
            .messages
            .iter()
            .rev()
            .find(|m| m.author == "sender");
        let preview = match latest {
            Some(m) => {
                let blob = session
                    .get_bytes(
                        &session.api(&format!("/messages/{}/ciphertext", m.id)),
                        MAX_MESSAGE,
                    )
                    .await?;
                decrypt(&blob, keyring, MAX_MESSAGE)
                    .ok()
                    .and_then(|p| Envelope::parse(&p).ok())
                    .map(|e| {
                        e.body
                            .lines()
                            .next()
                            .unwrap_or_default()
                            .chars()
                            .take(60)
                            .collect()
                    })
            }
            None => Some(String::new()),
        };
        out.push(Listed {
            conversation,
            files,
            preview,
        });
    }
    Ok(out)
}

/// Opens conversation `id`: every message downloaded and decrypted.
pub async fn open(
    session: &Session,
    keyring: &Keyring,
    id: i64,
) -> Result<(Conversation, Vec<Opened>)> {
    let conv: Conversation = session
        .get(&session.api(&format!("/conversations/{id}")))
        .await?;
    let mut opened = Vec::new();
    for m in &conv.messages {
        let blob = session
            .get_bytes(
                &session.api(&format!("/messages/{}/ciphertext", m.id)),
                MAX_MESSAGE,
            )
            .await?;
        let envelope = Envelope::parse(&decrypt(&blob, keyring, MAX_MESSAGE)?)
            .map_err(|e| ClientError::BadAnswer(format!("message {} is damaged: {e}", m.id)))?;
        // Each file the envelope names must be one the hub lists, in order: a hub that
        // hides a file is caught here, not left to a shorter zip.
        if m.files.len() != envelope.files.len() {
            return Err(ClientError::BadAnswer(format!(
                "message {} names {} files but the hub lists {}",
                m.id,
                envelope.files.len(),
                m.files.len()
            )));
        }
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

/// A conversation as plain text: what `inbox read` shows and an export keeps. It holds the
/// sender's words as they wrote them; a terminal front end must neutralise control
/// characters before printing it.
pub fn transcript(conv: &Conversation, opened: &[Opened]) -> String {
    let mut out = format!(
        "conversation {} (started {}, last {}, expires {})\n",
        conv.id,
        day(&conv.created_on),
        day(&conv.last_on),
        day(&conv.expires_on)
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

/// Checks a decrypted file against what its sender's envelope says and drops the padding:
/// a hub that swaps, cuts or changes a file is caught here.
pub fn check_file(mut plain: Vec<u8>, entry: &FileEntry) -> Result<Vec<u8>> {
    let size = usize::try_from(entry.size)
        .map_err(|_| ClientError::Invalid("file too large for this machine".into()))?;
    if plain.len() < size {
        return Err(ClientError::BadAnswer(format!(
            "{} is shorter than its record says",
            entry.name
        )));
    }
    plain.truncate(size);
    let hash = panah_core::hex(&Sha256::digest(&plain));
    if hash != entry.sha256 {
        return Err(ClientError::BadAnswer(format!(
            "{} does not match its recorded hash; it was damaged or tampered with",
            entry.name
        )));
    }
    Ok(plain)
}

/// Downloads and decrypts one attachment, checked with [`check_file`].
pub async fn fetch_file(
    session: &Session,
    keyring: &Keyring,
    file_id: i64,
    entry: &FileEntry,
) -> Result<Vec<u8>> {
    let blob = session
        .get_bytes(
            &session.api(&format!("/files/{file_id}/ciphertext")),
            MAX_FILE,
        )
        .await?;
    check_file(decrypt(&blob, keyring, MAX_FILE)?, entry)
}

/// A reply sent.
#[derive(Debug, Clone, Copy)]
pub struct Replied {
    pub id: i64,
    /// Coordinators it was encrypted to, besides the sender.
    pub coordinators: usize,
}

/// Encrypts `text` to the sender of conversation `id` and to every coordinator of the
/// verified `team` (never to a key only the hub lists), and sends it.
pub async fn reply(
    session: &Session,
    team: &crate::team::VerifiedTeam,
    id: i64,
    text: &str,
) -> Result<Replied> {
    let text = text.trim();
    if text.is_empty() {
        return Err(ClientError::Invalid("the reply is empty".into()));
    }
    let conv: Conversation = session
        .get(&session.api(&format!("/conversations/{id}")))
        .await?;
    let mut recipients: Vec<age::x25519::Recipient> = Vec::new();
    let sender: age::x25519::Recipient = conv
        .reply_recipient
        .parse()
        .map_err(|e| ClientError::BadAnswer(format!("the sender's reply key is damaged: {e}")))?;
    recipients.push(sender);
    recipients.extend(team.recipients());
    let envelope = Envelope {
        from: Author::Coordinator(session.fingerprint.clone()),
        sent: Timestamp::now(),
        files: Vec::new(),
        body: text.to_owned(),
    };
    let ciphertext = age_file::encrypt(&recipients, &envelope.to_padded_bytes())
        .map_err(|e| ClientError::Invalid(format!("cannot encrypt the reply: {e}")))?;
    let created: Created = session
        .post_bytes(
            &session.api(&format!("/conversations/{id}/replies")),
            ciphertext,
        )
        .await?;
    Ok(Replied {
        id: created.id,
        coordinators: team.members().len(),
    })
}

/// Deletes conversation `id` and its files from the hub.
pub async fn delete(session: &Session, id: i64) -> Result<()> {
    session
        .delete(&session.api(&format!("/conversations/{id}")))
        .await
}

/// Conversation `id` as one age file, encrypted to this coordinator only: a tar of
/// `conversation.txt` and `files/…`, each file checked.
pub async fn export(session: &Session, keyring: &Keyring, id: i64) -> Result<Vec<u8>> {
    let (conv, opened) = open(session, keyring, id).await?;
    let mut archive = tar::Builder::new(Vec::new());
    let text = transcript(&conv, &opened);
    append(&mut archive, "conversation.txt", text.as_bytes())?;
    for o in &opened {
        for (file_id, entry) in o.file_ids.iter().zip(&o.envelope.files) {
            let bytes = fetch_file(session, keyring, *file_id, entry).await?;
            let name = format!("files/{}-{}", o.id, clean_file_name(&entry.name));
            append(&mut archive, &name, &bytes)?;
        }
    }
    let tar = archive
        .into_inner()
        .map_err(|e| ClientError::Invalid(e.to_string()))?;
    age_file::encrypt(&[keyring.identity().to_public()], &tar)
        .map_err(|e| ClientError::Invalid(format!("cannot encrypt the export: {e}")))
}

fn append(archive: &mut tar::Builder<Vec<u8>>, name: &str, bytes: &[u8]) -> Result<()> {
    let mut header = tar::Header::new_gnu();
    header.set_size(bytes.len() as u64);
    header.set_mode(0o600);
    header.set_mtime(0);
    archive
        .append_data(&mut header, name, bytes)
        .map_err(|e| ClientError::Invalid(format!("cannot add {name} to the export: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(plain: &[u8]) -> FileEntry {
        FileEntry {
            size: plain.len() as u64,
            sha256: panah_core::hex(&Sha256::digest(plain)),
            scrubbed: false,
            content_type: "application/pdf".into(),
            name: "visa.pdf".into(),
        }
    }

    /// The CLI's only defence against a hub that swaps files: each must match the size
    /// and SHA-256 its sender's envelope recorded.
    #[test]
    fn a_file_that_does_not_match_its_envelope_is_refused() {
        let real = b"%PDF the real letter".to_vec();
        let e = entry(&real);
        let mut padded = real.clone();
        padded.extend([0u8; 100]);
        assert_eq!(check_file(padded, &e).unwrap_or_default(), real);
        // Swapped for another file of the same size.
        let swapped = b"%PDF a forged letter".to_vec();
        assert_eq!(swapped.len(), real.len());
        let err = check_file(swapped, &e).map(|_| ()).unwrap_err().to_string();
        assert!(err.contains("does not match its recorded hash"), "{err}");
        // Cut short.
        let err = check_file(real[..5].to_vec(), &e)
            .map(|_| ())
            .unwrap_err()
            .to_string();
        assert!(err.contains("shorter than its record"), "{err}");
        // Changed in the last byte only.
        let mut changed = real.clone();
        if let Some(b) = changed.last_mut() {
            *b ^= 1;
        }
        assert!(check_file(changed, &e).is_err());
    }

    #[test]
    fn a_hub_date_is_cut_without_panicking() {
        assert_eq!(day("2021-08-15T06:30:00Z"), "2021-08-15");
        assert_eq!(day("short"), "short");
        assert_eq!(day("۲۰۲۱-۰۸-۱۵T۰۶"), "۲۰۲۱-۰۸-۱۵");
        assert_eq!(day(""), "");
    }
}

/// What re-encrypting the inbox did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reencrypted {
    /// Messages and files encrypted anew to the current team.
    pub done: usize,
    /// Items done by an earlier, interrupted run (skipped).
    pub earlier: usize,
    /// Items not encrypted to this coordinator (from before they joined): left as they are.
    pub unreadable: usize,
    /// Items deleted or re-encrypted by someone else meanwhile.
    pub gone: usize,
}

/// Encrypts every stored message and file anew to the verified `team` (and, for the
/// coordinators' replies, to the sender's reply key, as when they were sent), so that a
/// coordinator removed from the team, who kept their key, cannot read what the hub keeps
/// from now on. Resumable: what is done is written to `progress` (a file of item names)
/// as it goes, and skipped when run again. `step` is told (done so far, all items).
pub async fn reencrypt(
    session: &Session,
    keyring: &Keyring,
    team: &crate::team::VerifiedTeam,
    progress: &std::path::Path,
    mut step: impl FnMut(usize, usize),
) -> Result<Reencrypted> {
    let mut finished: std::collections::HashSet<String> = match std::fs::read_to_string(progress) {
        Ok(text) => text.lines().map(str::to_owned).collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Default::default(),
        Err(e) => return Err(ClientError::file("read", progress, e)),
    };
    let all: Vec<Conversation> = session.get(&session.api("/conversations")).await?;
    let mut items = Vec::new();
    for c in &all {
        let reply_to: age::x25519::Recipient = c
            .reply_recipient
            .parse()
            .map_err(|e| ClientError::BadAnswer(format!("a sender's reply key is damaged: {e}")))?;
        for m in &c.messages {
            let also = (m.author == "coordinator").then(|| reply_to.clone());
            items.push((
                format!("message {}", m.id),
                format!("/messages/{}/ciphertext", m.id),
                MAX_MESSAGE,
                also,
            ));
            for f in &m.files {
                items.push((
                    format!("file {}", f.id),
                    format!("/files/{}/ciphertext", f.id),
                    MAX_FILE,
                    None,
                ));
            }
        }
    }
    let mut out = Reencrypted::default();
    let total = items.len();
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(progress)
        .map_err(|e| ClientError::file("write", progress, e))?;
    for (i, (name, path, limit, also)) in items.into_iter().enumerate() {
        step(i, total);
        if finished.contains(&name) {
            out.earlier += 1;
            continue;
        }
        let (ciphertext, tag) = match session.get_tagged(&session.api(&path), limit).await {
            Ok(x) => x,
            Err(ClientError::Refused {
                status: 404 | 410, ..
            }) => {
                out.gone += 1;
                continue;
            }
            Err(e) => return Err(e),
        };
        let Ok(plain) = age_file::decrypt(&ciphertext, keyring.identity(), limit) else {
            out.unreadable += 1;
            continue;
        };
        let mut recipients = team.recipients();
        recipients.extend(also);
        let anew = age_file::encrypt(&recipients, &plain)
            .map_err(|e| ClientError::Invalid(format!("cannot encrypt {name}: {e}")))?;
        match session.put_bytes(&session.api(&path), anew, &tag).await {
            Ok(()) => out.done += 1,
            Err(ClientError::Refused {
                status: 404 | 412, ..
            }) => out.gone += 1,
            Err(e) => return Err(e),
        }
        use std::io::Write;
        writeln!(log, "{name}").map_err(|e| ClientError::file("write", progress, e))?;
        finished.insert(name);
    }
    step(total, total);
    Ok(out)
}
