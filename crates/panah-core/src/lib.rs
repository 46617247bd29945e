//! Panah's core: the concepts of DESIGN.md as plain Rust values, and the public halves of
//! the cryptographic formats.
//!
//! This crate owns validation of everything a stranger or an operator can name (collective
//! slugs, language codes, coordinators' public lines) and the exact bytes a coordinator
//! signs to log in. It must never know about HTTP, SQL or files, and it must never hold a
//! secret key: private keys live in `panah-keyring`, which the server does not depend on.

#![forbid(unsafe_code)]

pub mod age_file;
pub mod auth;
pub mod codename;
pub mod coordinator;
pub mod digits;
pub mod envelope;
pub mod lang;
pub mod ledger;
pub mod padding;
pub(crate) mod par;
pub mod records;
pub mod scrub;
pub mod slug;
pub mod team;
pub mod timestamp;
pub mod tlog;

/// `N` bytes from exactly `2N` lower-case hex digits (what [`hex`] writes), or `None`.
pub fn unhex<const N: usize>(text: &str) -> Option<[u8; N]> {
    let digit = |b: u8| match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        _ => None,
    };
    let bytes = text.as_bytes();
    if bytes.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    for (o, pair) in out.iter_mut().zip(bytes.chunks_exact(2)) {
        *o = digit(pair[0])? << 4 | digit(pair[1])?;
    }
    Some(out)
}

/// Lower-case hexadecimal, as Panah writes hashes and keys in text.
pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

pub use codename::{CheckKey, Codename};
pub use coordinator::{CoordinatorKey, Fingerprint};
pub use lang::Lang;
pub use slug::Slug;
pub use timestamp::Timestamp;

#[cfg(test)]
mod tests {
    #[test]
    fn hex_round_trips_and_refuses_anything_else() {
        let bytes = [0u8, 1, 0xab, 0xff];
        assert_eq!(super::unhex::<4>(&super::hex(&bytes)), Some(bytes));
        for bad in [
            "00ab",
            "0001ABff",
            "0001abfg",
            "0001abff0",
            "+001abff",
            "٠٠01abff",
        ] {
            assert_eq!(super::unhex::<4>(bad), None, "{bad}");
        }
    }
}
