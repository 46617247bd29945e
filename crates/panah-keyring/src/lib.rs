//! A coordinator's keyring: the only place Panah holds secret keys.
//!
//! A keyring holds an age X25519 identity (to decrypt what the hub stored for the
//! collective) and an Ed25519 signing key (to log in to the API and to sign log entries and
//! checkpoints). On disk it is an ASCII-armored age file encrypted under a passphrase with
//! scrypt, so that the stock `rage -d` can open it if Panah is gone. Its plaintext is a few
//! `name: value` lines:
//!
//! ```text
//! # Panah coordinator keyring. Keep it secret: …
//! panah-keyring: 1
//! created: 2026-11-25T13:00:00Z
//! age-identity: AGE-SECRET-KEY-1…
//! ed25519-seed: BASE64
//! ```
//!
//! Architecture invariant: the server (`panah-server`) must never depend on this crate.
//! A test in the `panah` crate checks the dependency graph.

#![forbid(unsafe_code)]

use std::fs;
use std::io::{Read, Write};
use std::path::Path;
use std::str::FromStr;

use age::secrecy::{ExposeSecret, SecretString};
use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signature, Signer, SigningKey};
use panah_core::{auth, CoordinatorKey, Slug, Timestamp};
use zeroize::Zeroizing;

/// Largest keyring file we will read; a real one is under 1 KiB.
const MAX_FILE: u64 = 64 * 1024;
/// Shortest passphrase accepted for a new keyring.
pub const MIN_PASSPHRASE_CHARS: usize = 10;

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error("the passphrase does not open this keyring")]
    WrongPassphrase,
    #[error("this file is not a Panah keyring: {0}")]
    NotAKeyring(String),
    #[error("the passphrase is too short: use at least {MIN_PASSPHRASE_CHARS} characters (several words are easiest to remember)")]
    WeakPassphrase,
    #[error("{0} already exists; refusing to overwrite a keyring (move it away first)")]
    Exists(String),
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("encryption failed: {0}")]
    Crypto(String),
}

/// A coordinator's secret keys, in memory only while needed.
pub struct Keyring {
    identity: age::x25519::Identity,
    signing: SigningKey,
    created: Timestamp,
}

impl std::fmt::Debug for Keyring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Keyring({})", self.public().fingerprint())
    }
}

impl Keyring {
    pub fn generate() -> Self {
        Keyring {
            identity: age::x25519::Identity::generate(),
            signing: SigningKey::generate(&mut rand::rngs::OsRng),
            created: Timestamp::now(),
        }
    }

    /// The public line an operator registers: `age1… ed25519:…`.
    pub fn public(&self) -> CoordinatorKey {
        CoordinatorKey::new(&self.identity.to_public(), self.signing.verifying_key())
    }

    pub fn created(&self) -> Timestamp {
        self.created
    }

    /// The age identity (`AGE-SECRET-KEY-1…`), for `rage -d -i`.
    pub fn age_identity(&self) -> SecretString {
        self.identity.to_string()
    }

    /// For decrypting what was encrypted to this coordinator.
    pub fn identity(&self) -> &age::x25519::Identity {
        &self.identity
    }

    pub fn sign(&self, message: &[u8]) -> Signature {
        self.signing.sign(message)
    }

    /// Answers a hub's login challenge for one collective.
    pub fn sign_login(&self, collective: &Slug, challenge: &[u8]) -> Signature {
        self.sign(&auth::login_message(
            collective,
            &self.signing.verifying_key(),
            challenge,
        ))
    }

    /// A signer for C2SP signed notes under key name `name` (for ledger checkpoints).
    pub fn note_signer(&self, name: &str) -> Result<NoteSigner<'_>, KeyringError> {
        if !signed_note::is_key_name_valid(name) {
            return Err(KeyringError::Crypto(format!(
                "{name:?} is not a valid signed-note key name (no spaces or '+')"
            )));
        }
        let mut encoded = vec![0x01];
        encoded.extend_from_slice(self.signing.verifying_key().as_bytes());
        Ok(NoteSigner {
            name: name.to_owned(),
            key_id: signed_note::key_id(name, &encoded),
            keyring: self,
        })
    }

    /// Signs a C2SP checkpoint for the ledger log `origin` at `size` with root `root`,
    /// returning the signed note's bytes.
    pub fn sign_checkpoint(
        &self,
        key_name: &str,
        origin: &str,
        size: u64,
        root: &[u8; 32],
    ) -> Result<Vec<u8>, KeyringError> {
        let body = panah_core::tlog::tree::checkpoint_body(origin, size, root)
            .map_err(|e| KeyringError::Crypto(e.to_string()))?;
        let mut note = signed_note::Note::new(&body, &[])
            .map_err(|e| KeyringError::Crypto(format!("{e:?}")))?;
        let signer = self.note_signer(key_name)?;
        note.add_sigs(&[&signer])
            .map_err(|e| KeyringError::Crypto(format!("{e:?}")))?;
        Ok(note.to_bytes())
    }

    fn plaintext(&self) -> Zeroizing<String> {
        let seed = Zeroizing::new(STANDARD.encode(self.signing.to_bytes()));
        let identity = self.identity.to_string();
        Zeroizing::new(format!(
            "# Panah coordinator keyring. Keep it secret: it reads your collective's messages\n\
             # and signs in your name. Public line: {}\n\
             panah-keyring: 1\ncreated: {}\nage-identity: {}\ned25519-seed: {}\n",
            self.public(),
            self.created,
            identity.expose_secret(),
            seed.as_str(),
        ))
    }

    fn from_plaintext(text: &str) -> Result<Self, KeyringError> {
        let bad = |why: &str| KeyringError::NotAKeyring(why.to_owned());
        let mut version = None;
        let mut created = None;
        let mut identity = None;
        let mut seed = None;
        for line in text.lines().map(str::trim) {
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, value) = line
                .split_once(':')
                .ok_or_else(|| bad("a line has no ':'"))?;
            let value = value.trim();
            match name.trim() {
                "panah-keyring" => version = Some(value.to_owned()),
                "created" => {
                    created = Some(Timestamp::parse(value).map_err(|_| bad("bad created date"))?)
                }
                "age-identity" => {
                    identity = Some(
                        age::x25519::Identity::from_str(value)
                            .map_err(|_| bad("the age identity is damaged"))?,
                    )
                }
                "ed25519-seed" => {
                    let bytes = Zeroizing::new(
                        STANDARD
                            .decode(value)
                            .map_err(|_| bad("the signing key is damaged"))?,
                    );
                    let bytes: &[u8; 32] = bytes
                        .as_slice()
                        .try_into()
                        .map_err(|_| bad("the signing key has the wrong length"))?;
                    seed = Some(SigningKey::from_bytes(bytes));
                }
                _ => {} // Unknown fields from a newer version are kept out, not fatal.
            }
        }
        match version.as_deref() {
            Some("1") => {}
            Some(v) => {
                return Err(bad(&format!(
                    "format {v} is newer than this Panah understands"
                )))
            }
            None => return Err(bad("the panah-keyring line is missing")),
        }
        Ok(Keyring {
            identity: identity.ok_or_else(|| bad("the age identity is missing"))?,
            signing: seed.ok_or_else(|| bad("the signing key is missing"))?,
            created: created.unwrap_or_else(Timestamp::now),
        })
    }

    /// Encrypts the keyring under a passphrase. `work_factor` is scrypt's log2(N);
    /// `None` lets age pick one that takes about a second on this machine.
    pub fn seal(
        &self,
        passphrase: &SecretString,
        work_factor: Option<u8>,
    ) -> Result<Vec<u8>, KeyringError> {
        if passphrase.expose_secret().chars().count() < MIN_PASSPHRASE_CHARS {
            return Err(KeyringError::WeakPassphrase);
        }
        let mut recipient = age::scrypt::Recipient::new(passphrase.clone());
        if let Some(log_n) = work_factor {
            recipient.set_work_factor(log_n);
        }
        let encryptor =
            age::Encryptor::with_recipients(std::iter::once(&recipient as &dyn age::Recipient))
                .map_err(|e| KeyringError::Crypto(e.to_string()))?;
        let mut out = Vec::new();
        let armor =
            age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
                .map_err(|e| KeyringError::Crypto(e.to_string()))?;
        let mut writer = encryptor
            .wrap_output(armor)
            .map_err(|e| KeyringError::Crypto(e.to_string()))?;
        writer
            .write_all(self.plaintext().as_bytes())
            .and_then(|()| writer.finish())
            .and_then(|armor| armor.finish())
            .map_err(|e| KeyringError::Crypto(e.to_string()))?;
        Ok(out)
    }

    /// Opens a sealed keyring.
    pub fn unseal(sealed: &[u8], passphrase: &SecretString) -> Result<Self, KeyringError> {
        let reader = age::armor::ArmoredReader::new(sealed);
        let decryptor = age::Decryptor::new(reader)
            .map_err(|e| KeyringError::NotAKeyring(format!("not an age file ({e})")))?;
        if !decryptor.is_scrypt() {
            return Err(KeyringError::NotAKeyring(
                "it is an age file encrypted to keys, not to a passphrase".into(),
            ));
        }
        let identity = age::scrypt::Identity::new(passphrase.clone());
        let mut reader = decryptor
            .decrypt(std::iter::once(&identity as &dyn age::Identity))
            .map_err(|e| match e {
                age::DecryptError::DecryptionFailed | age::DecryptError::NoMatchingKeys => {
                    KeyringError::WrongPassphrase
                }
                other => KeyringError::NotAKeyring(other.to_string()),
            })?;
        let mut text = Zeroizing::new(String::new());
        reader
            .by_ref()
            .take(MAX_FILE)
            .read_to_string(&mut text)
            .map_err(|e| KeyringError::NotAKeyring(e.to_string()))?;
        Self::from_plaintext(&text)
    }

    /// Writes a new keyring file, readable only by its owner. Never overwrites.
    pub fn save(
        &self,
        path: &Path,
        passphrase: &SecretString,
        work_factor: Option<u8>,
    ) -> Result<(), KeyringError> {
        let sealed = self.seal(passphrase, work_factor)?;
        let io = |source| KeyringError::Io {
            path: path.display().to_string(),
            source,
        };
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            fs::create_dir_all(parent).map_err(io)?;
        }
        let mut options = fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        let mut file = options.open(path).map_err(|e| {
            if e.kind() == std::io::ErrorKind::AlreadyExists {
                KeyringError::Exists(path.display().to_string())
            } else {
                io(e)
            }
        })?;
        file.write_all(&sealed)
            .and_then(|()| file.sync_all())
            .map_err(io)
    }

    pub fn load(path: &Path, passphrase: &SecretString) -> Result<Self, KeyringError> {
        let io = |source| KeyringError::Io {
            path: path.display().to_string(),
            source,
        };
        let file = fs::File::open(path).map_err(io)?;
        let mut sealed = Vec::new();
        file.take(MAX_FILE).read_to_end(&mut sealed).map_err(io)?;
        Self::unseal(&sealed, passphrase)
    }
}

/// Signs signed notes with a keyring's Ed25519 key.
pub struct NoteSigner<'a> {
    name: String,
    key_id: u32,
    keyring: &'a Keyring,
}

impl std::fmt::Debug for NoteSigner<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "NoteSigner({}, {:08x})", self.name, self.key_id)
    }
}

impl signed_note::Signer for NoteSigner<'_> {
    fn name(&self) -> &str {
        &self.name
    }

    fn key_id(&self) -> u32 {
        self.key_id
    }

    fn sign(&self, msg: &[u8]) -> Result<Vec<u8>, ed25519_dalek::SignatureError> {
        Ok(self.keyring.sign(msg).to_bytes().to_vec())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pass(s: &str) -> SecretString {
        SecretString::from(s.to_owned())
    }

    #[test]
    fn seal_and_unseal() {
        let k = Keyring::generate();
        let sealed = k.seal(&pass("correct horse battery"), Some(10)).unwrap();
        assert!(sealed.starts_with(b"-----BEGIN AGE ENCRYPTED FILE-----"));
        let back = Keyring::unseal(&sealed, &pass("correct horse battery")).unwrap();
        assert_eq!(back.public(), k.public());
        assert_eq!(
            back.age_identity().expose_secret(),
            k.age_identity().expose_secret()
        );
        assert!(matches!(
            Keyring::unseal(&sealed, &pass("wrong horse battery")),
            Err(KeyringError::WrongPassphrase)
        ));
        assert!(matches!(
            Keyring::unseal(b"hello", &pass("x")),
            Err(KeyringError::NotAKeyring(_))
        ));
        assert!(matches!(
            k.seal(&pass("short"), Some(10)),
            Err(KeyringError::WeakPassphrase)
        ));
    }

    #[test]
    fn login_signature_verifies_with_public_line() {
        let k = Keyring::generate();
        let slug = Slug::parse("roshanai").unwrap();
        let sig = k.sign_login(&slug, &[3; 32]);
        assert!(auth::verify_login(&slug, k.public().signing(), &[3; 32], &sig).is_ok());
    }

    #[test]
    fn checkpoints_signed_here_verify_with_the_published_verifier_key() {
        use panah_core::tlog::tree::{verifier_key, verify_checkpoint};
        let k = Keyring::generate();
        let origin = "hub.example/c/roshanai/ledger";
        let note = k
            .sign_checkpoint("roshanai-treasurer", origin, 3, &[9; 32])
            .unwrap();
        let vkey = verifier_key("roshanai-treasurer", k.public().signing());
        let checked = verify_checkpoint(&note, &[vkey], origin).unwrap();
        assert_eq!((checked.size, checked.root), (3, [9; 32]));
        assert!(k.note_signer("has space").is_err());
    }

    #[test]
    fn never_overwrites_and_is_private() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("me.keyring");
        let k = Keyring::generate();
        k.save(&path, &pass("a long passphrase"), Some(10)).unwrap();
        assert!(matches!(
            Keyring::generate().save(&path, &pass("a long passphrase"), Some(10)),
            Err(KeyringError::Exists(_))
        ));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&path).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        assert_eq!(
            Keyring::load(&path, &pass("a long passphrase"))
                .unwrap()
                .public(),
            k.public()
        );
    }

    #[test]
    fn damaged_plaintext_is_refused_clearly() {
        for (text, needle) in [
            ("age-identity: AGE-SECRET-KEY-1XYZ\n", "damaged"),
            ("panah-keyring: 2\n", "newer"),
            ("just words\n", "no ':'"),
            ("panah-keyring: 1\n", "missing"),
        ] {
            let err = Keyring::from_plaintext(text).unwrap_err().to_string();
            assert!(err.contains(needle), "{text:?} -> {err}");
        }
    }
}
