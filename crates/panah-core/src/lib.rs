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
pub mod records;
pub mod scrub;
pub mod slug;
pub mod team;
pub mod timestamp;
pub mod tlog;

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
