//! The appeal file an operator loads (`panah admin set-appeal`): the very parser of the
//! `panah` binary, compiled in here.
#![no_main]

use libfuzzer_sys::fuzz_target;

#[path = "../../crates/panah/src/appeal_file.rs"]
#[allow(dead_code)]
mod appeal_file;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = appeal_file::parse(text);
    }
});
