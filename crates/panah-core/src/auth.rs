//! The bytes a coordinator signs to log in to a hub's API.
//!
//! The hub hands out a random, single-use challenge; the coordinator signs a message that
//! names the collective, the key and the challenge. Naming the collective means a signature
//! made for one collective is useless for another, even on the same hub.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signature, VerifyingKey};

use crate::Slug;

/// Length of a login challenge in bytes.
pub const CHALLENGE_LEN: usize = 32;

/// The exact message signed for a login. Domain-separated so that the signature can never
/// be mistaken for a signed note or a log entry.
pub fn login_message(collective: &Slug, key: &VerifyingKey, challenge: &[u8]) -> Vec<u8> {
    format!(
        "panah api login v1\ncollective: {}\nkey: {}\nchallenge: {}\n",
        collective,
        STANDARD.encode(key.as_bytes()),
        STANDARD.encode(challenge),
    )
    .into_bytes()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SignatureError {
    #[error("the signature is not valid base64")]
    Encoding,
    #[error("the signature must be 64 bytes, not {0}")]
    Length(usize),
    #[error("the signature does not match this key, collective and challenge")]
    Mismatch,
}

/// Decodes a base64 Ed25519 signature.
pub fn parse_signature(b64: &str) -> Result<Signature, SignatureError> {
    let bytes = STANDARD
        .decode(b64.trim())
        .map_err(|_| SignatureError::Encoding)?;
    let bytes: [u8; 64] = bytes
        .try_into()
        .map_err(|v: Vec<u8>| SignatureError::Length(v.len()))?;
    Ok(Signature::from_bytes(&bytes))
}

/// Checks a login signature strictly (no malleable or small-order forms).
pub fn verify_login(
    collective: &Slug,
    key: &VerifyingKey,
    challenge: &[u8],
    signature: &Signature,
) -> Result<(), SignatureError> {
    key.verify_strict(&login_message(collective, key, challenge), signature)
        .map_err(|_| SignatureError::Mismatch)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    #[test]
    fn signature_binds_collective_and_challenge() {
        let sk = SigningKey::generate(&mut rand::rngs::OsRng);
        let vk = sk.verifying_key();
        let a = Slug::parse("alpha").unwrap();
        let b = Slug::parse("bravo").unwrap();
        let challenge = [7u8; CHALLENGE_LEN];
        let sig = sk.sign(&login_message(&a, &vk, &challenge));
        assert_eq!(verify_login(&a, &vk, &challenge, &sig), Ok(()));
        assert_eq!(
            verify_login(&b, &vk, &challenge, &sig),
            Err(SignatureError::Mismatch)
        );
        assert_eq!(
            verify_login(&a, &vk, &[8u8; 32], &sig),
            Err(SignatureError::Mismatch)
        );
        let encoded = STANDARD.encode(sig.to_bytes());
        assert_eq!(parse_signature(&encoded), Ok(sig));
        assert_eq!(
            parse_signature(&encoded[..40]),
            Err(SignatureError::Length(30))
        );
        assert_eq!(parse_signature("!!"), Err(SignatureError::Encoding));
    }
}
