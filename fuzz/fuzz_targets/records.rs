//! The case tracker's records: see `fuzz/checks/records.rs`.
#![no_main]

#[path = "../checks/records.rs"]
mod check;

libfuzzer_sys::fuzz_target!(|data: &[u8]| check::check(data));
