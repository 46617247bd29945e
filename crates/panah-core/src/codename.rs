//! Senders' codenames: the only thing a sender keeps, and the only way back to replies.
//!
//! A codename is 28 random decimal digits (about 93 bits), shown in seven groups of four in
//! the reader's digits. It is accepted back in Persian, Arabic-Indic or Latin digits with any
//! spaces, dashes or other separators. The hub stores neither the codename nor anything that
//! could be reversed to it: from the codename and a per-hub secret, HKDF-SHA256 derives a
//! lookup key (stored) and the sender's reply key pair (only the public half is stored).
//! With 93 random bits a fast keyed derivation is enough; a slow hash would only make a
//! flood of senders expensive for the hub.

use std::fmt;
use std::str::FromStr;

use hkdf::Hkdf;
use sha2::Sha256;

use crate::digits::{CodeError, DigitCode};
use crate::Slug;

pub const DIGITS: usize = 28;
pub const GROUP: usize = 4;

#[derive(Clone, PartialEq, Eq)]
pub struct Codename(DigitCode<DIGITS>);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodenameError {
    #[error("a codename has {DIGITS} digits; this one has {0}")]
    Length(usize),
    #[error("a codename has only digits, spaces and dashes")]
    Character,
}

impl Codename {
    pub fn generate() -> Self {
        Codename(DigitCode::generate())
    }

    /// Reads a codename as a person typed it, in any digits with any separators.
    pub fn parse(input: &str) -> Result<Self, CodenameError> {
        DigitCode::parse(input).map(Codename).map_err(|e| match e {
            CodeError::Letter => CodenameError::Character,
            CodeError::Length(n) => CodenameError::Length(n),
        })
    }

    /// Latin digits in groups: `1234 5678 …`. Pages localize the digits.
    pub fn grouped(&self) -> String {
        self.0.grouped(GROUP)
    }

    fn ascii(&self) -> [u8; DIGITS] {
        self.0.ascii()
    }

    /// The keys a hub derives from a codename for one collective.
    pub fn derive(&self, hub_secret: &[u8], collective: &Slug) -> DerivedKeys {
        let hk = Hkdf::<Sha256>::new(Some(hub_secret), &self.ascii());
        let mut lookup = [0u8; 32];
        let mut reply = [0u8; 32];
        let info = |what: &str| format!("panah codename v1 {what} {collective}");
        // Output lengths of 32 bytes are always valid for HKDF-SHA256.
        let _ = hk.expand(info("lookup").as_bytes(), &mut lookup);
        let _ = hk.expand(info("reply").as_bytes(), &mut reply);
        DerivedKeys {
            lookup,
            reply: reply_identity(&reply),
        }
    }
}

/// Keys derived from a codename. The reply identity lives only for one request.
#[allow(missing_debug_implementations)]
pub struct DerivedKeys {
    /// Stored: finds the conversation.
    pub lookup: [u8; 32],
    /// Never stored: decrypts replies. Its public half is stored.
    pub reply: age::x25519::Identity,
}

fn reply_identity(secret: &[u8; 32]) -> age::x25519::Identity {
    // age identities are Bech32 with the HRP "age-secret-key-", upper case.
    let hrp = bech32::Hrp::parse_unchecked("age-secret-key-");
    let text = bech32::encode_upper::<bech32::Bech32>(hrp, secret).unwrap_or_default();
    age::x25519::Identity::from_str(&text)
        .unwrap_or_else(|_| unreachable!("a 32-byte key encodes to a valid identity"))
}

impl fmt::Debug for Codename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Codename(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn any_digits_any_separators() {
        let c = Codename::generate();
        let g = c.grouped();
        assert_eq!(g.len(), DIGITS + 6);
        assert_eq!(Codename::parse(&g), Ok(c.clone()));
        let persian = crate::digits::to_persian(&g).replace(' ', "-");
        assert_eq!(Codename::parse(&persian), Ok(c.clone()));
        let arabic: String = g
            .chars()
            .map(|ch| {
                ch.to_digit(10)
                    .map(|d| char::from_u32(0x0660 + d).unwrap())
                    .unwrap_or('\u{060C}')
            })
            .collect();
        assert_eq!(Codename::parse(&arabic), Ok(c.clone()));
        assert_eq!(Codename::parse("1234"), Err(CodenameError::Length(4)));
        assert_eq!(
            Codename::parse(&format!("{g}a")),
            Err(CodenameError::Character)
        );
        assert_eq!(format!("{c:?}"), "Codename(…)", "never printed by accident");
    }

    #[test]
    fn derivation_depends_on_everything() {
        let c = Codename::generate();
        let a = Slug::parse("alpha").unwrap();
        let b = Slug::parse("bravo").unwrap();
        let k1 = c.derive(b"secret-1", &a);
        let k2 = c.derive(b"secret-1", &a);
        assert_eq!(k1.lookup, k2.lookup);
        assert_eq!(
            k1.reply.to_public().to_string(),
            k2.reply.to_public().to_string()
        );
        assert_ne!(c.derive(b"secret-2", &a).lookup, k1.lookup);
        assert_ne!(c.derive(b"secret-1", &b).lookup, k1.lookup);
        assert_ne!(
            Codename::generate().derive(b"secret-1", &a).lookup,
            k1.lookup
        );
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,400}") {
            let _ = Codename::parse(&s);
        }
    }
}
