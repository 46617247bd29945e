//! The ledger's CSV import, as a coordinator pastes a file from anywhere.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = panah_client::ledger::draft::read_csv(text);
        let _ = panah_client::ledger::draft::parse_date(text);
    }
});
