//! The transparent fund ledger's formats: money in ISO 4217 minor
//! units, entries and their canonical leaf bytes, logged as one kind of [`crate::tlog`] log
//! (an RFC 6962 Merkle tree under C2SP checkpoints), and the ledger's rules and totals.
//!
//! Nothing here names a person: there is no field for a name, and the public date of an
//! entry is already coarsened to its precision before it becomes a leaf.

pub mod audit;
pub mod entry;
pub mod money;
pub mod receipt;
pub mod stream;
#[cfg(test)]
pub(crate) mod testing;
pub mod totals;

pub use entry::{Category, DatePrecision, Entry, EntryError, Kind, Rail};
pub use money::{Amount, Currency, MoneyError};
