//! Encryption on arrival: a stream of plaintext goes in, a padded age file to every current
//! coordinator comes out into a blob, and no plaintext ever touches the disk.

use std::io::{self, Write};

use panah_core::padding;
use panah_store::{BlobError, BlobStore, BlobWriter};
use sha2::{Digest, Sha256};

/// A sealed blob's facts.
#[derive(Debug)]
pub struct Sealed {
    pub key: String,
    pub stored_size: u64,
    pub plain_size: u64,
    pub sha256: String,
}

#[derive(Debug, thiserror::Error)]
pub enum SealError {
    #[error("blob storage: {0}")]
    Blob(#[from] BlobError),
    #[error("encryption: {0}")]
    Io(#[from] io::Error),
    #[error("no recipients")]
    NoRecipients,
}

impl SealError {
    /// The disk is full: nothing was stored.
    pub fn is_out_of_space(&self) -> bool {
        match self {
            SealError::Blob(e) => e.is_out_of_space(),
            SealError::Io(e) => panah_store::io_out_of_space(e),
            SealError::NoRecipients => false,
        }
    }
}

/// Encrypts what is written to it into a new blob.
pub struct Sealer {
    /// Buffered, so that age's header goes out with the first chunk: age reports a failed
    /// header write as text, and a full disk must stay recognisable as one.
    writer: age::stream::StreamWriter<io::BufWriter<BlobWriter>>,
    plain: u64,
    hash: Sha256,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer")
            .field("plain", &self.plain)
            .finish_non_exhaustive()
    }
}

impl Sealer {
    pub fn new(
        blobs: &BlobStore,
        recipients: &[panah_core::age_file::Recipient],
    ) -> Result<Self, SealError> {
        if recipients.is_empty() {
            return Err(SealError::NoRecipients);
        }
        let encryptor =
            age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
                .map_err(|e| SealError::Io(io::Error::other(e.to_string())))?;
        let writer =
            encryptor.wrap_output(io::BufWriter::with_capacity(64 * 1024, blobs.create()?))?;
        Ok(Sealer {
            writer,
            plain: 0,
            hash: Sha256::new(),
        })
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<(), SealError> {
        self.writer.write_all(bytes)?;
        self.hash.update(bytes);
        self.plain += bytes.len() as u64;
        Ok(())
    }

    /// Pads to the size bucket with zeros, finishes the age stream, and syncs the blob.
    pub fn finish(mut self) -> Result<Sealed, SealError> {
        const ZEROS: [u8; 16 * 1024] = [0; 16 * 1024];
        let mut pad = padding::bucket(self.plain) - self.plain;
        while pad > 0 {
            let n = pad.min(ZEROS.len() as u64) as usize;
            self.writer.write_all(&ZEROS[..n])?;
            pad -= n as u64;
        }
        let blob = self
            .writer
            .finish()?
            .into_inner()
            .map_err(|e| SealError::Io(e.into_error()))?;
        let (key, stored_size) = blob.commit_blocking()?;
        Ok(Sealed {
            key,
            stored_size,
            plain_size: self.plain,
            sha256: panah_core::hex(&self.hash.finalize()),
        })
    }
}
