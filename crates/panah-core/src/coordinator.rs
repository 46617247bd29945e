//! A coordinator's public identity: the line `panah id show` prints and an operator pastes.
//!
//! ```text
//! age1…  ed25519:BASE64
//! ```
//!
//! The age X25519 recipient is what confidential data is encrypted to; the Ed25519 key is
//! what the coordinator signs with (API logins, log entries, checkpoints).

use std::fmt;
use std::str::FromStr;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::VerifyingKey;
use sha2::{Digest, Sha256};

const SIGNING_PREFIX: &str = "ed25519:";

#[derive(Clone, PartialEq, Eq)]
pub struct CoordinatorKey {
    recipient: String,
    signing: VerifyingKey,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyLineError {
    #[error("a coordinator's public line has two parts, `age1…` and `ed25519:…`, separated by a space; this one has {0}")]
    Parts(usize),
    #[error(
        "the first part must be an age public key starting with age1 (from `panah id show`): {0}"
    )]
    Recipient(String),
    #[error("the second part must start with `ed25519:` followed by the signing key from `panah id show`")]
    SigningPrefix,
    #[error("the signing key is not valid: {0}")]
    Signing(String),
}

impl CoordinatorKey {
    pub fn new(recipient: &age::x25519::Recipient, signing: VerifyingKey) -> Self {
        CoordinatorKey {
            recipient: recipient.to_string(),
            signing,
        }
    }

    /// Parses the one-line form. Whitespace around and between the parts is forgiven,
    /// since the line is usually pasted from a chat or a terminal.
    pub fn parse_line(line: &str) -> Result<Self, KeyLineError> {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if parts.len() != 2 {
            return Err(KeyLineError::Parts(parts.len()));
        }
        Self::from_parts(parts[0], parts[1])
    }

    /// Builds a key from its two stored parts, checking both.
    pub fn from_parts(recipient: &str, signing: &str) -> Result<Self, KeyLineError> {
        let parsed = age::x25519::Recipient::from_str(recipient)
            .map_err(|e| KeyLineError::Recipient(e.to_string()))?;
        let signing = signing
            .strip_prefix(SIGNING_PREFIX)
            .ok_or(KeyLineError::SigningPrefix)?;
        let signing = parse_verifying_key(signing).map_err(KeyLineError::Signing)?;
        Ok(CoordinatorKey {
            recipient: parsed.to_string(),
            signing,
        })
    }

    pub fn recipient_str(&self) -> &str {
        &self.recipient
    }

    pub fn recipient(&self) -> age::x25519::Recipient {
        // Checked when the value was built, so this cannot fail.
        age::x25519::Recipient::from_str(&self.recipient).unwrap_or_else(|_| unreachable!())
    }

    pub fn signing(&self) -> &VerifyingKey {
        &self.signing
    }

    /// `ed25519:BASE64`, the stored and printed form of the signing key.
    pub fn signing_str(&self) -> String {
        format!(
            "{SIGNING_PREFIX}{}",
            STANDARD.encode(self.signing.as_bytes())
        )
    }

    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of(&self.signing)
    }
}

/// Parses a base64 Ed25519 public key, refusing weak (small-order) points.
pub fn parse_verifying_key(b64: &str) -> Result<VerifyingKey, String> {
    let bytes = STANDARD
        .decode(b64.trim())
        .map_err(|_| "it is not base64".to_owned())?;
    let bytes: [u8; 32] = bytes
        .try_into()
        .map_err(|v: Vec<u8>| format!("it must be 32 bytes, not {}", v.len()))?;
    let key = VerifyingKey::from_bytes(&bytes)
        .map_err(|_| "it is not a point on the curve".to_owned())?;
    if key.is_weak() {
        return Err("it is a weak key".to_owned());
    }
    Ok(key)
}

impl fmt::Display for CoordinatorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.recipient, self.signing_str())
    }
}

impl fmt::Debug for CoordinatorKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CoordinatorKey({})", self.fingerprint())
    }
}

impl FromStr for CoordinatorKey {
    type Err = KeyLineError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse_line(s)
    }
}

/// A short, stable name for a coordinator's key: the first 8 bytes of SHA-256 of the
/// Ed25519 public key, in hex. What operators and coordinators compare aloud.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 8]);

impl Fingerprint {
    pub fn of(key: &VerifyingKey) -> Self {
        let digest = Sha256::digest(key.as_bytes());
        let mut out = [0u8; 8];
        out.copy_from_slice(&digest[..8]);
        Fingerprint(out)
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, b) in self.0.iter().enumerate() {
            if i > 0 && i % 2 == 0 {
                f.write_str("-")?;
            }
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::SigningKey;

    fn sample() -> CoordinatorKey {
        let id = age::x25519::Identity::generate();
        let sk = SigningKey::generate(&mut rand::rngs::OsRng);
        CoordinatorKey::new(&id.to_public(), sk.verifying_key())
    }

    #[test]
    fn line_round_trips_with_sloppy_whitespace() {
        let key = sample();
        let line = format!("  {}\t  {}\n", key.recipient_str(), key.signing_str());
        assert_eq!(CoordinatorKey::parse_line(&line), Ok(key.clone()));
        assert_eq!(key.to_string().parse::<CoordinatorKey>(), Ok(key));
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        let key = sample();
        assert_eq!(CoordinatorKey::parse_line(""), Err(KeyLineError::Parts(0)));
        assert!(matches!(
            CoordinatorKey::parse_line(&format!("age1xyz {}", key.signing_str())),
            Err(KeyLineError::Recipient(_))
        ));
        assert_eq!(
            CoordinatorKey::parse_line(&format!("{} AAAA", key.recipient_str())),
            Err(KeyLineError::SigningPrefix)
        );
        let truncated = &key.signing_str()[..20];
        assert!(matches!(
            CoordinatorKey::parse_line(&format!("{} {truncated}", key.recipient_str())),
            Err(KeyLineError::Signing(_))
        ));
        // The identity point is a weak key.
        let mut identity = [0u8; 32];
        identity[0] = 1;
        let weak = format!(
            "{} ed25519:{}",
            key.recipient_str(),
            STANDARD.encode(identity)
        );
        assert!(matches!(
            CoordinatorKey::parse_line(&weak),
            Err(KeyLineError::Signing(_))
        ));
    }

    #[test]
    fn fingerprint_format() {
        let fp = sample().fingerprint().to_string();
        assert_eq!(fp.len(), 19);
        assert_eq!(fp.matches('-').count(), 3);
    }
}
