//! The coordinator's side of Panah as a library, and the public verifier.
//!
//! - [`hub`]: a logged-in [`hub::Session`] with one collective on one hub.
//! - [`inbox`]: conversations opened, decrypted and checked here; replies encrypted here.
//! - [`ledger`]: the ledger verified here, then entries added, reversed or imported and
//!   signed with the keyring.
//! - [`records`]: the needs and case tracker, encrypted here, synced through a blind hub.
//! - [`verify`]: any public log checked from a hub, a mirror or a folder, with the trust
//!   state a verifier remembers, and mirroring.
//!
//! It prints nothing and asks nothing: warnings ("first use: trusting these keys", memo
//! warnings, receipt codes to hand out) come back as values, errors as typed enums. The
//! `panah` binary is one front end (as `rage` sits on `age`); the coordinators' desk will
//! be another. The hub depends on none of this.

#![forbid(unsafe_code)]

pub mod error;
pub mod files;
mod http;
pub mod hub;
pub mod inbox;
pub mod ledger;
pub mod records;
pub mod team;
pub mod terminal;
pub mod verify;

pub use error::ClientError;
pub use hub::Session;
