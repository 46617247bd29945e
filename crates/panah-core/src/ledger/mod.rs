//! The transparent fund ledger's formats: money in ISO 4217 minor
//! units, entries and their canonical leaf bytes, and the RFC 6962 Merkle tree and C2SP
//! checkpoints they are logged under (through the `tlog_tiles` and `signed_note` crates).
//!
//! Nothing here names a person: there is no field for a name, and the public date of an
//! entry is already coarsened to its precision before it becomes a leaf.

pub mod audit;
pub mod entry;
pub mod money;
pub mod receipt;
pub mod tiles;
pub mod totals;
pub mod tree;

pub use entry::{Category, DatePrecision, Entry, EntryError, Kind, Rail};
pub use money::{Amount, Currency, MoneyError};
