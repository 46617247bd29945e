//! The contact drop's intake, without HTTP: the parts of a submission go in (file bytes as
//! they stream, then the text, the codename of a follow-up and the honeypot), and either a
//! stored message comes out or a refusal with the sender's text kept.
//!
//! Every file is scrubbed and encrypted to the current coordinators as it arrives; the
//! envelope (text, exact time, files' names and hashes) is sealed last. Sealing, blob
//! writes and their fsyncs run on the blocking pool, not on the async workers. Until the
//! message's row is committed every blob it wrote belongs to the intake, and dropping the
//! intake (a refusal, a broken upload, a client that went away) deletes them.

use panah_core::codename::{CheckKey, CodenameError, HubSecret};
use panah_core::envelope::{clean_file_name, Author, Envelope, FileEntry};
use panah_core::scrub::{Format, ScrubError, Scrubber};
use panah_core::{Codename, Slug, Timestamp};
use panah_store::{BlobStore, NewMessage, PendingBlobs, Store, StoreError};

use crate::seal::{SealError, Sealed, Sealer};
use crate::Settings;

/// Why a submission was refused. The pages turn each into a translated sentence and a 4xx.
#[derive(Debug)]
pub enum Refusal {
    Empty,
    TooManyFiles,
    TooLarge,
    MessageTooLong,
    NotText,
    Broken,
    Busy,
    /// The disk is full: nothing was stored.
    NoSpace,
    NoCoordinators,
    DamagedImage(String),
    BadCodename(CodenameError),
    /// A well-formed codename that matches no conversation.
    NoConversation,
    /// A follow-up whose codename matches no conversation: not sent, never opened anew.
    FollowupNowhere,
}

/// Scrubbed bytes handed to the blocking pool at a time.
const SEAL_BATCH: usize = 256 * 1024;

/// What a submission needs from the hub: where blobs and rows go, the limits, and the
/// codename keys.
#[derive(Debug, Clone, Copy)]
pub struct Hub<'s> {
    pub store: &'s Store,
    pub blobs: &'s BlobStore,
    pub settings: &'s Settings,
    pub check: &'s CheckKey,
    pub secret: &'s HubSecret,
    pub activity: &'s crate::activity::Activity,
}

/// One submission to a collective, in progress.
pub struct Intake<'s> {
    hub: Hub<'s>,
    collective: i64,
    slug: Slug,
    recipients: std::sync::Arc<[panah_core::age_file::Recipient]>,
    files: Vec<FileEntry>,
    /// (blob key, stored size) of each sealed file, in order.
    stored_files: Vec<(String, i64)>,
    /// Blobs written and not yet owned by a stored row: deleted if the intake is dropped
    /// before the message is stored.
    owned: PendingBlobs,
    file_bytes: u64,
}

impl std::fmt::Debug for Intake<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Intake")
            .field("collective", &self.collective)
            .field("files", &self.files.len())
            .finish_non_exhaustive()
    }
}

/// A file being received: scrubbed as it arrives, sealed in batches.
#[derive(Debug)]
pub struct IncomingFile {
    name: String,
    declared_type: String,
    scrubber: Scrubber,
    sealer: Option<Sealer>,
    pending: Vec<u8>,
}

/// A message stored.
#[derive(Debug)]
pub struct Accepted {
    /// The codename of a new conversation, to show the sender once; `None` for a follow-up.
    pub codename: Option<Codename>,
    /// The files as recorded in the envelope (names, whether scrubbed).
    pub files: Vec<FileEntry>,
}

/// A refused submission, with what the sender typed so the form can show it again.
#[derive(Debug)]
pub struct Rejected {
    pub refusal: Refusal,
    pub draft: String,
    /// The codename to keep on the form (a follow-up), if it may be kept.
    pub codename: Option<String>,
}

fn internal(e: SealError) -> Refusal {
    if e.is_out_of_space() {
        tracing::error!("the disk is full: a submission was refused");
        return Refusal::NoSpace;
    }
    tracing::error!(error = %e, "cannot seal a submission");
    Refusal::Broken
}

fn damaged(_: ScrubError, name: &str) -> Refusal {
    Refusal::DamagedImage(if name.is_empty() {
        "file".into()
    } else {
        name.to_owned()
    })
}

/// Runs blocking work (encryption, writes, fsyncs) on the blocking pool.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, SealError> + Send + 'static,
) -> Result<T, Refusal> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| internal(SealError::Io(std::io::Error::other(e.to_string()))))?
        .map_err(internal)
}

impl<'s> Intake<'s> {
    /// A submission to `collective`, encrypted to `recipients` (the current coordinators).
    pub fn new(
        hub: Hub<'s>,
        collective: i64,
        slug: Slug,
        recipients: std::sync::Arc<[panah_core::age_file::Recipient]>,
    ) -> Result<Self, Refusal> {
        if recipients.is_empty() {
            return Err(Refusal::NoCoordinators);
        }
        Ok(Intake {
            hub,
            collective,
            slug,
            recipients,
            files: Vec::new(),
            stored_files: Vec::new(),
            owned: PendingBlobs::new(hub.blobs),
            file_bytes: 0,
        })
    }

    /// A file part begins.
    pub fn file(&self, name: Option<&str>, declared_type: Option<&str>) -> IncomingFile {
        IncomingFile {
            name: name.map(clean_file_name).unwrap_or_default(),
            declared_type: declared_type
                .unwrap_or("application/octet-stream")
                .to_owned(),
            scrubber: Scrubber::new(),
            sealer: None,
            pending: Vec::new(),
        }
    }

    /// Bytes of a file part, as they arrive.
    pub async fn file_bytes(
        &mut self,
        file: &mut IncomingFile,
        chunk: &[u8],
    ) -> Result<(), Refusal> {
        if chunk.is_empty() {
            return Ok(());
        }
        let settings = self.hub.settings;
        self.file_bytes += chunk.len() as u64;
        if self.file_bytes > settings.max_upload_bytes {
            return Err(Refusal::TooLarge);
        }
        if file.sealer.is_none()
            && file.pending.is_empty()
            && self.files.len() >= settings.max_files
        {
            return Err(Refusal::TooManyFiles);
        }
        file.scrubber
            .feed(chunk, &mut file.pending)
            .map_err(|e| damaged(e, &file.name))?;
        if file.pending.len() >= SEAL_BATCH {
            self.seal_pending(file).await?;
        }
        Ok(())
    }

    /// Encrypts what is pending into the file's blob, on the blocking pool.
    async fn seal_pending(&mut self, file: &mut IncomingFile) -> Result<(), Refusal> {
        let pending = std::mem::take(&mut file.pending);
        let sealer = file.sealer.take();
        let (blobs, recipients) = (self.hub.blobs.clone(), self.recipients.clone());
        let (sealer, mut pending) = blocking(move || {
            let mut sealer = match sealer {
                Some(s) => s,
                None => Sealer::new(&blobs, &recipients)?,
            };
            sealer.write(&pending)?;
            Ok((sealer, pending))
        })
        .await?;
        file.sealer = Some(sealer);
        pending.clear();
        file.pending = pending;
        Ok(())
    }

    /// A file part ended: its last bytes sealed, its blob committed. An empty file input
    /// (the browser sends a part with no name and no bytes) leaves nothing.
    pub async fn end_file(&mut self, mut file: IncomingFile) -> Result<(), Refusal> {
        let kind = file
            .scrubber
            .finish(&mut file.pending)
            .map_err(|e| damaged(e, &file.name))?;
        if file.sealer.is_none() && file.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut file.pending);
        let sealer = file.sealer.take();
        let (blobs, recipients) = (self.hub.blobs.clone(), self.recipients.clone());
        let sealed: Sealed = blocking(move || {
            let mut sealer = match sealer {
                Some(s) => s,
                None => Sealer::new(&blobs, &recipients)?,
            };
            sealer.write(&pending)?;
            sealer.finish()
        })
        .await?;
        self.owned.push(sealed.key.clone());
        self.stored_files.push((
            sealed.key,
            i64::try_from(sealed.stored_size).unwrap_or(i64::MAX),
        ));
        let content_type = match kind {
            Format::Jpeg => "image/jpeg".to_owned(),
            Format::Png => "image/png".to_owned(),
            Format::Other => file.declared_type,
        };
        self.files.push(FileEntry {
            size: sealed.plain_size,
            sha256: sealed.sha256,
            scrubbed: kind != Format::Other,
            content_type,
            name: if file.name.is_empty() {
                "file".into()
            } else {
                file.name
            },
        });
        Ok(())
    }

    /// The rest of the submission: the text as sent, the codename of a follow-up (from the
    /// form's hidden field), and whether a bot filled the honeypot. Stores the message, or
    /// says why not with the text kept.
    pub async fn finish(
        mut self,
        text: Vec<u8>,
        followup: Option<String>,
        honeypot: bool,
        spend: impl FnOnce() -> bool,
    ) -> Result<Accepted, Rejected> {
        let reject = |refusal, draft, codename| Rejected {
            refusal,
            draft,
            codename,
        };
        let Ok(text) = String::from_utf8(text) else {
            return Err(reject(Refusal::NotText, String::new(), followup));
        };
        let text = text.replace("\r\n", "\n").trim().to_owned();
        if text.chars().count() > self.hub.settings.max_message_chars {
            return Err(reject(Refusal::MessageTooLong, text, followup));
        }
        if text.is_empty() && self.files.is_empty() {
            return Err(reject(Refusal::Empty, String::new(), followup));
        }
        let codename = match &followup {
            Some(raw) => match Codename::parse(raw, self.hub.check) {
                Ok(c) => c,
                // Only a tampered form gets here (the hub wrote the hidden field), but the
                // text is kept and nothing is opened anew all the same.
                Err(e) => return Err(reject(Refusal::BadCodename(e), text, None)),
            },
            None => Codename::generate(self.hub.check),
        };
        let new = followup.is_none().then(|| codename.clone());
        if honeypot {
            // A bot filled the hidden field: it gets what a person would, and nothing is
            // kept (the drop deletes the files' blobs).
            tracing::debug!("honeypot submission dropped");
            return Ok(Accepted {
                codename: new,
                files: std::mem::take(&mut self.files),
            });
        }
        // The door's budget, spent only now that the submission will be kept. A busy
        // refusal keeps the text (the files must be chosen again).
        if !spend() {
            return Err(reject(Refusal::Busy, text, followup));
        }
        let keys = codename.derive(self.hub.secret.as_bytes(), &self.slug);
        let envelope = Envelope {
            from: Author::Sender,
            sent: Timestamp::now(),
            files: std::mem::take(&mut self.files),
            body: text,
        };
        // The envelope is small (the text is limited): sealed in memory and kept with the
        // message's row, in the same transaction, so a text alone is one durable write.
        // Encrypting to a few coordinators takes a fraction of a millisecond: done here,
        // not handed to another thread.
        let ciphertext =
            match panah_core::age_file::encrypt(&self.recipients, &envelope.to_padded_bytes()) {
                Ok(c) => c,
                Err(e) => {
                    tracing::error!(error = %e, "cannot seal a submission");
                    return Err(reject(Refusal::Broken, envelope.body, followup));
                }
            };
        let message = NewMessage {
            author: panah_store::Side::Sender,
            blob: panah_store::blobs::new_key(),
            size: i64::try_from(ciphertext.len()).unwrap_or(i64::MAX),
            files: self.stored_files.clone(),
            inline: Some(ciphertext),
        };
        let retention = self.hub.settings.retention_days;
        let store = self.hub.store;
        // From here, a cancelled request or a lost answer must not delete blobs whose row
        // may have been stored: only a refusal that stored nothing does.
        let in_flight =
            std::mem::replace(&mut self.owned, PendingBlobs::new(self.hub.blobs)).in_flight();
        let stored = if followup.is_some() {
            store
                .add_followup(self.collective, &keys.lookup, &message, retention)
                .await
        } else {
            store
                .add_message(
                    self.collective,
                    &keys.lookup,
                    &keys.reply.to_public().to_string(),
                    &message,
                    retention,
                )
                .await
        };
        match stored {
            Ok(_) => {
                // The row owns the blobs now.
                drop(in_flight);
                self.hub.activity.message();
                tracing::debug!(files = message.files.len(), "message received");
                Ok(Accepted {
                    codename: new,
                    files: envelope.files,
                })
            }
            // The conversation expired or was deleted: the sender is told and keeps the
            // text, on the form that would open a new conversation (and says so).
            Err(StoreError::NotFound(_)) => {
                in_flight.refused();
                Err(reject(Refusal::FollowupNowhere, envelope.body, None))
            }
            // Perhaps stored, perhaps not: the sweep of blobs no row refers to decides.
            Err(e) => {
                // A full disk stored nothing (the commit could not be written): the blobs
                // go now instead of waiting a day for the sweep, on a disk that needs room.
                let refusal = if e.is_out_of_space() {
                    in_flight.refused();
                    Refusal::NoSpace
                } else {
                    drop(in_flight);
                    Refusal::Broken
                };
                tracing::error!(error = %e, "cannot store a message");
                Err(reject(refusal, envelope.body, followup))
            }
        }
    }
}
