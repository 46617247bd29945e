//! The small words strangers and hostile servers send: amounts, currencies, dates, days,
//! slugs, record ids, coordinator lines, signatures, hub addresses.
#![no_main]

use libfuzzer_sys::fuzz_target;
use panah_core::ledger::money::{Amount, Currency};
use panah_core::records::doc::Day;
use panah_core::records::RecordId;
use panah_core::{CoordinatorKey, Slug, Timestamp};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(t) = Timestamp::parse(text) {
        assert_eq!(Timestamp::parse(&t.to_string()).ok(), Some(t));
    }
    if let Ok(c) = Currency::parse(text) {
        let _ = Amount::parse(text, c);
        let _ = Amount::parse("1,234.5", c);
    }
    let _ = Amount::parse(text, Currency::parse("AFN").expect("AFN"));
    if let Ok(day) = Day::parse(text) {
        let _ = day;
    }
    if let Ok(id) = RecordId::parse(text) {
        assert_eq!(RecordId::parse(&id.to_string()).ok(), Some(id));
    }
    if let Ok(slug) = Slug::parse(text) {
        assert_eq!(slug.as_str(), text);
    }
    if let Ok(key) = CoordinatorKey::parse_line(text) {
        let line = key.to_string();
        assert_eq!(CoordinatorKey::parse_line(&line).ok().map(|k| k.to_string()), Some(line));
    }
    let _ = panah_core::auth::parse_signature(text);
    let _ = panah_client::hub::parse_hub(text);
});
