//! Codenames and receipt codes as a stranger types them (any digits, any separators):
//! a code that reads is printed back in groups and reads again as itself.
#![no_main]

use libfuzzer_sys::fuzz_target;
use panah_core::codename::{CheckKey, Codename};
use panah_core::digits::{to_latin, to_persian, typed_back};
use panah_core::ledger::receipt::ReceiptCode;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let key = CheckKey::derive(b"a fixed hub secret for the fuzzer");
    if let Ok(code) = Codename::parse(text, &key) {
        let again = Codename::parse(&code.grouped(), &key).expect("a printed codename reads");
        assert_eq!(again.grouped(), code.grouped());
        let persian = Codename::parse(&to_persian(&code.grouped()), &key)
            .expect("a codename in Persian digits reads");
        assert_eq!(persian.grouped(), code.grouped());
    }
    if let Ok(code) = ReceiptCode::parse(text) {
        let again = ReceiptCode::parse(&code.grouped()).expect("a printed receipt code reads");
        assert_eq!(again.commitment(), code.commitment());
    }
    let _ = typed_back(text);
    let latin = to_latin(text);
    assert_eq!(to_latin(&latin), latin, "Latin digits stay Latin");
});
