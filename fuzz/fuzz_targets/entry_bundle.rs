//! Entry bundles and the ledger entries in them, as a hostile hub or mirror serves them:
//! a bundle that reads encodes back to the same bytes, and an entry that reads is
//! canonical (its leaf is exactly the bytes it was read from).
#![no_main]

use libfuzzer_sys::fuzz_target;
use panah_core::ledger::entry::Entry;
use panah_core::tlog::tiles::{decode_bundle, encode_bundle};

fuzz_target!(|data: &[u8]| {
    if let Ok(entries) = decode_bundle(data) {
        let again = encode_bundle(entries.iter().map(Vec::as_slice)).expect("entries fit");
        assert_eq!(again, data);
        for leaf in &entries {
            if let Ok(entry) = Entry::from_leaf(leaf) {
                assert_eq!(&entry.to_leaf(), leaf, "only canonical leaves read");
            }
        }
    }
    if let Ok(entry) = Entry::from_leaf(data) {
        assert_eq!(entry.to_leaf(), data, "only canonical leaves read");
    }
});
