//! Team-log entries as a hostile hub serves them: one that reads is canonical, and a
//! replay of a bundle of them never panics.
#![no_main]

use libfuzzer_sys::fuzz_target;
use panah_core::team::{replay, TeamEntry};
use panah_core::tlog::tiles::decode_bundle;

fuzz_target!(|data: &[u8]| {
    if let Ok(entry) = TeamEntry::parse(0, data) {
        assert_eq!(entry.to_leaf(), data, "only canonical leaves read");
    }
    if let Ok(leaves) = decode_bundle(data) {
        let _ = replay("hub.example/c/roshanai/team", &leaves);
    }
});
