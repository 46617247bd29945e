//! Whole age files in memory: for things that are small by construction (message envelopes,
//! replies, exports). Streams of unknown size go through age's stream writer instead (the
//! hub's `seal` module).
//!
//! Decryption takes the identity as an argument; this crate stores no key.
//!
//! [`Recipient`] is a coordinator's X25519 recipient prepared for the hub, which encrypts
//! every message to the same few keys: it writes the standard age `X25519` stanza at about
//! half the cost of age's own recipient type.

use std::collections::HashSet;
use std::io::{Read, Write};
use std::sync::{Arc, OnceLock};

use age::secrecy::ExposeSecret;
use age_core::format::{FileKey, Stanza};
use base64::engine::general_purpose::STANDARD_NO_PAD;
use base64::Engine;
use curve25519_dalek::edwards::EdwardsBasepointTable;
use curve25519_dalek::montgomery::MontgomeryPoint;
use curve25519_dalek::scalar::{clamp_integer, Scalar};
use curve25519_dalek::traits::BasepointTable;
use rand::RngCore;
use zeroize::Zeroize;

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
    #[error("a recipient's key cannot be encrypted to: {0}")]
    Recipient(String),
}

/// Encrypts `plain` to every recipient, as one binary age file.
pub fn encrypt<R: age::Recipient>(recipients: &[R], plain: &[u8]) -> Result<Vec<u8>, AgeError> {
    let encryptor =
        age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
            .map_err(|e| match e {
                age::EncryptError::MissingRecipients => AgeError::NoRecipients,
                e => AgeError::Recipient(e.to_string()),
            })?;
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

/// A coordinator's age X25519 recipient, prepared for being encrypted to many times.
///
/// age's own recipient type computes each stanza's shared secret with a Montgomery ladder
/// over the coordinator's key, a variable-base multiplication. The hub encrypts every
/// message to the same few keys, so this type keeps a table of multiples of each key (built
/// on first use: 30 KB and about a millisecond and a half) and computes the shared secret
/// as a fixed-base multiplication, as fast as making the stanza's ephemeral key. The bytes
/// written are age's `X25519` stanza exactly (the age specification, and
/// `tests::stanzas_open_with_age_and_match_the_ladder`); the constant-time code is
/// curve25519-dalek's. Cloning shares the table.
///
/// Why the table gives X25519's answer: the secret scalar k is clamped, so it is 8·m with
/// m < 2²⁵² < ℓ. For the key's point P (either of the two Edwards points with its
/// Montgomery u-coordinate: their multiples have the same u), \[k\]P = \[m\](\[8\]P), and 8P
/// lies in the subgroup of prime order ℓ. So the table is built for 8P and multiplied by m.
/// A key that is not on the curve (it lies on the twist, which no age key generator makes)
/// gets no table and age's ladder instead.
#[derive(Clone)]
pub struct Recipient(Arc<Prepared>);

struct Prepared {
    /// The key's Montgomery u-coordinate, as written.
    key: [u8; 32],
    /// Multiples of 8P, or `None` for a key off the curve.
    table: OnceLock<Option<Box<EdwardsBasepointTable>>>,
}

/// The age specification's label for deriving an X25519 stanza's wrapping key.
const X25519_LABEL: &[u8] = b"age-encryption.org/v1/X25519";

impl Recipient {
    pub fn new(recipient: &age::x25519::Recipient) -> Self {
        // age's type does not show its bytes; its bech32 text does.
        let text = recipient.to_string();
        let key = bech32::decode(&text)
            .ok()
            .and_then(|(_, bytes)| <[u8; 32]>::try_from(bytes).ok())
            .unwrap_or_else(|| unreachable!("an age recipient is 32 bytes in bech32"));
        Self::from_key(key)
    }

    fn from_key(key: [u8; 32]) -> Self {
        Recipient(Arc::new(Prepared {
            key,
            table: OnceLock::new(),
        }))
    }

    /// The key's 32 bytes (its Montgomery u-coordinate).
    pub fn key_bytes(&self) -> &[u8; 32] {
        &self.0.key
    }

    fn table(&self) -> Option<&EdwardsBasepointTable> {
        self.0
            .table
            .get_or_init(|| {
                let point = MontgomeryPoint(self.0.key).to_edwards(0)?;
                Some(Box::new(EdwardsBasepointTable::create(
                    &point.mul_by_cofactor(),
                )))
            })
            .as_deref()
    }

    /// X25519(`secret`, this key), as RFC 7748 defines it.
    fn shared_secret(&self, secret: &[u8; 32]) -> [u8; 32] {
        let Some(table) = self.table() else {
            return MontgomeryPoint(self.0.key).mul_clamped(*secret).to_bytes();
        };
        let mut k = clamp_integer(*secret);
        // m = k / 8: the low three bits of a clamped scalar are zero.
        let mut m = [0u8; 32];
        for i in 0..32 {
            let next = k.get(i + 1).copied().unwrap_or(0);
            m[i] = (k[i] >> 3) | (next << 5);
        }
        let mut scalar = Scalar::from_bytes_mod_order(m);
        let mut point = table * &scalar;
        let shared = point.to_montgomery().to_bytes();
        point.zeroize();
        k.zeroize();
        m.zeroize();
        scalar.zeroize();
        shared
    }
}

impl std::fmt::Debug for Recipient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Recipient(")?;
        f.write_str(&crate::hex(&self.0.key))?;
        f.write_str(")")
    }
}

impl age::Recipient for Recipient {
    fn wrap_file_key(
        &self,
        file_key: &FileKey,
    ) -> Result<(Vec<Stanza>, HashSet<String>), age::EncryptError> {
        let mut secret = [0u8; 32];
        rand::rngs::OsRng.fill_bytes(&mut secret);
        let share = MontgomeryPoint::mul_base_clamped(secret).to_bytes();
        let mut shared = self.shared_secret(&secret);
        secret.zeroize();
        // A key of small order makes every shared secret zero: nothing encrypted to it
        // would be secret. (age's own type panics here.)
        if shared.iter().fold(0u8, |acc, b| acc | b) == 0 {
            return Err(age::EncryptError::Io(std::io::Error::other(
                "a coordinator's age key is a point of small order and cannot be encrypted to",
            )));
        }
        let mut salt = [0u8; 64];
        salt[..32].copy_from_slice(&share);
        salt[32..].copy_from_slice(&self.0.key);
        let mut wrapping = age_core::primitives::hkdf(&salt, X25519_LABEL, &shared);
        shared.zeroize();
        let body = age_core::primitives::aead_encrypt(&wrapping, file_key.expose_secret());
        wrapping.zeroize();
        let stanza = Stanza {
            tag: "X25519".to_owned(),
            args: vec![STANDARD_NO_PAD.encode(share)],
            body,
        };
        Ok((vec![stanza], HashSet::new()))
    }
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
        assert_eq!(
            encrypt::<age::x25519::Recipient>(&[], b"x"),
            Err(AgeError::NoRecipients)
        );
        assert_eq!(encrypt::<Recipient>(&[], b"x"), Err(AgeError::NoRecipients));
    }

    /// A file encrypted to prepared recipients is an ordinary age file: each coordinator
    /// opens it with age's own identity type, and its stanzas are age's X25519 stanzas.
    /// (`panah/tests/contact.rs` opens the hub's files with the stock `rage` too.)
    #[test]
    fn stanzas_open_with_age_and_match_the_ladder() {
        for _ in 0..8 {
            let team: Vec<_> = (0..3).map(|_| age::x25519::Identity::generate()).collect();
            let recipients: Vec<_> = team
                .iter()
                .map(|i| Recipient::new(&i.to_public()))
                .collect();
            for round in 0..3 {
                let plain = format!("salaam {round}").into_bytes();
                let file = encrypt(&recipients, &plain).unwrap();
                for identity in &team {
                    assert_eq!(decrypt(&file, identity, 100).unwrap(), plain);
                }
                let header = String::from_utf8_lossy(&file[..file.len().min(400)]).into_owned();
                assert_eq!(header.matches("\n-> X25519 ").count(), 3, "{header}");
            }
            assert!(
                recipients.iter().all(|r| r.table().is_some()),
                "an age key is on the curve: it gets a table"
            );
        }
        // Two stanzas for the same key never share an ephemeral key.
        let one = Recipient::new(&age::x25519::Identity::generate().to_public());
        let a = encrypt(&[one.clone(), one], b"x").unwrap();
        let lines: Vec<&[u8]> = a
            .split(|b| *b == b'\n')
            .filter(|l| l.starts_with(b"-> X25519 "))
            .collect();
        assert_eq!(lines.len(), 2);
        assert_ne!(lines[0], lines[1]);
    }

    proptest::proptest! {
        /// The shared secret is RFC 7748's X25519 (curve25519-dalek's Montgomery ladder)
        /// for any secret and any 32 bytes as the key: on the curve (the table), on the
        /// twist (the ladder), with the top bit set, or not reduced.
        #[test]
        fn the_shared_secret_is_x25519(secret: [u8; 32], key: [u8; 32]) {
            let r = Recipient::from_key(key);
            proptest::prop_assert_eq!(
                r.shared_secret(&secret),
                MontgomeryPoint(key).mul_clamped(secret).to_bytes()
            );
        }

        #[test]
        fn the_shared_secret_with_an_age_key_is_x25519(secret: [u8; 32], seed: [u8; 32]) {
            let key = MontgomeryPoint::mul_base_clamped(seed).to_bytes();
            let r = Recipient::from_key(key);
            proptest::prop_assert!(r.table().is_some());
            proptest::prop_assert_eq!(
                r.shared_secret(&secret),
                MontgomeryPoint(key).mul_clamped(secret).to_bytes()
            );
        }
    }

    /// Keys of small order (the points of order 1 to 8, and the same numbers written
    /// unreduced) would make every shared secret zero: refused with a reason, not a panic
    /// (age's own type panics).
    #[test]
    fn keys_of_small_order_are_refused() {
        let p_plus = |n: u8| {
            // 2^255 - 19 + n, little-endian
            let mut b = [0xffu8; 32];
            b[0] = 0xed + n;
            b[31] = 0x7f;
            b
        };
        let mut small: Vec<[u8; 32]> = curve25519_dalek::constants::EIGHT_TORSION
            .iter()
            .map(|p| p.to_montgomery().to_bytes())
            .collect();
        small.extend([p_plus(0), p_plus(1)]);
        let mut top_bit = small.clone();
        for k in &mut top_bit {
            k[31] |= 0x80;
        }
        small.extend(top_bit);
        for key in small {
            let r = Recipient::from_key(key);
            assert_eq!(
                MontgomeryPoint(key).mul_clamped([7; 32]).to_bytes(),
                [0; 32]
            );
            match encrypt(&[r], b"x") {
                Err(AgeError::Recipient(why)) => assert!(why.contains("small order"), "{why}"),
                other => panic!("{}: {other:?}", crate::hex(&key)),
            }
        }
    }
}
