//! The encrypted needs and case tracker's formats: what a record says ([`doc`]), the signed
//! version a coordinator encrypts and the rules a reader checks it by ([`version`]), and the
//! summary a coordinator's device computes ([`summary`]).
//!
//! The hub stores a record as an opaque id, a version number, a coarse date and two age
//! files: the record's data key (a fresh age X25519 identity per version) encrypted to every
//! coordinator on the verified team, and the signed version, padded to a size bucket,
//! encrypted to that data key. Nothing there tells a need from a case, or one member from
//! another. Sealing and opening live in `panah-client`: this crate holds no key.

pub mod doc;
pub mod merge;
pub mod summary;
pub mod version;

pub use doc::{Day, Doc};
pub use summary::Summary;
pub use version::{Membership, RecordError, Signed, Unsigned};

use std::fmt;

/// A record's opaque id: 16 random bytes, written as 32 lower-case hex digits.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RecordId(pub [u8; 16]);

impl RecordId {
    pub fn random() -> RecordId {
        use rand::RngCore;
        let mut b = [0u8; 16];
        rand::rngs::OsRng.fill_bytes(&mut b);
        RecordId(b)
    }

    pub fn parse(text: &str) -> Result<RecordId, String> {
        crate::unhex(text).map(RecordId).ok_or_else(|| {
            format!(
                "{:?} is not a record id (32 hex digits)",
                text.chars().take(40).collect::<String>()
            )
        })
    }

    /// The first eight hex digits: what people type and read.
    pub fn short(&self) -> String {
        crate::hex(&self.0[..4])
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::hex(&self.0))
    }
}

impl serde::Serialize for RecordId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for RecordId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        RecordId::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        let id = RecordId::random();
        assert_eq!(RecordId::parse(&id.to_string()).unwrap(), id);
        assert_eq!(id.short().len(), 8);
        assert!(RecordId::parse("ABCDEF0123456789abcdef0123456789").is_err());
        assert!(RecordId::parse("abc").is_err());
        assert!(RecordId::parse("../../etc/passwd0000000000000000").is_err());
    }
}
