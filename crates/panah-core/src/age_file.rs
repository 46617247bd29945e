//! Whole age files in memory: for things that are small by construction (message envelopes,
//! replies, exports). Streams of unknown size go through age's stream writer instead (the
//! hub's `seal` module).
//!
//! Decryption takes the identity as an argument; this crate stores no key.

use std::io::{Read, Write};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AgeError {
    #[error("there is no one to encrypt to")]
    NoRecipients,
    #[error("this is not an age file")]
    NotAge,
    #[error(
        "it was not encrypted to this key (was the key's owner a coordinator when it arrived?)"
    )]
    NotForThisKey,
    #[error("the age file is damaged or cut short")]
    Damaged,
    #[error("the decrypted content is larger than {0} bytes")]
    TooLarge(u64),
}

/// Encrypts `plain` to every recipient, as one binary age file.
pub fn encrypt(recipients: &[age::x25519::Recipient], plain: &[u8]) -> Result<Vec<u8>, AgeError> {
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .map_err(|_| AgeError::NoRecipients)?;
    let mut out = Vec::with_capacity(plain.len() + 256);
    let mut w = encryptor
        .wrap_output(&mut out)
        .map_err(|_| AgeError::Damaged)?;
    w.write_all(plain)
        .and_then(|()| w.finish().map(|_| ()))
        .map_err(|_| AgeError::Damaged)?;
    Ok(out)
}

/// Decrypts an age file with one identity, refusing plaintext longer than `limit`.
pub fn decrypt(
    ciphertext: &[u8],
    identity: &age::x25519::Identity,
    limit: u64,
) -> Result<Vec<u8>, AgeError> {
    let decryptor = age::Decryptor::new_buffered(ciphertext).map_err(|_| AgeError::NotAge)?;
    let reader = decryptor
        .decrypt(std::iter::once(identity as &dyn age::Identity))
        .map_err(|_| AgeError::NotForThisKey)?;
    let mut plain = Vec::new();
    reader
        .take(limit.saturating_add(1))
        .read_to_end(&mut plain)
        .map_err(|_| AgeError::Damaged)?;
    if plain.len() as u64 > limit {
        return Err(AgeError::TooLarge(limit));
    }
    Ok(plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_refusals() {
        let (a, b) = (
            age::x25519::Identity::generate(),
            age::x25519::Identity::generate(),
        );
        let c = encrypt(&[a.to_public()], b"salaam").unwrap();
        assert_eq!(decrypt(&c, &a, 100).unwrap(), b"salaam");
        assert_eq!(decrypt(&c, &b, 100), Err(AgeError::NotForThisKey));
        assert_eq!(decrypt(&c, &a, 3), Err(AgeError::TooLarge(3)));
        assert_eq!(decrypt(b"hello", &a, 100), Err(AgeError::NotAge));
        assert_eq!(decrypt(&c[..c.len() - 5], &a, 100), Err(AgeError::Damaged));
        assert_eq!(encrypt(&[], b"x"), Err(AgeError::NoRecipients));
    }
}
