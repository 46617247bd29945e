//! The fund ledger on the hub, without HTTP: the append protocol (`append`), receipt
//! lookups with their proofs (`receipt`), and the read model the pages show (`summary`:
//! totals and the latest entries, kept up to date by reading only new entries). The hub
//! holds no signing key: it checks, stores and proves.

pub mod append;
pub mod receipt;
pub mod summary;

pub use append::{
    check_signed_by, commit, prepare, signed_on, with_nodes, AppendRefusal, Prepared, MAX_BATCH,
    MAX_LEAF,
};
pub use receipt::{find_receipt, Receipt};
