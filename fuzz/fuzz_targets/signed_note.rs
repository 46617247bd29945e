//! Signed notes and checkpoints as a hostile hub or mirror sends them, against a trusted
//! key: never a panic, and a checkpoint that verifies says what was signed.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use panah_core::tlog::tree::{unverified_checkpoint, verifier_key, verify_checkpoint};

const ORIGIN: &str = "hub.example/c/roshanai/ledger";

fn trusted() -> &'static Vec<String> {
    static KEYS: OnceLock<Vec<String>> = OnceLock::new();
    KEYS.get_or_init(|| {
        let key = ed25519_dalek::SigningKey::from_bytes(&[7; 32]);
        vec![verifier_key(ORIGIN, &key.verifying_key())]
    })
}

fuzz_target!(|data: &[u8]| {
    let unverified = unverified_checkpoint(data);
    if let Ok(v) = verify_checkpoint(data, trusted(), ORIGIN) {
        assert_eq!(v.origin, ORIGIN);
        let (origin, size, root) = unverified.expect("a verified note reads unverified too");
        assert_eq!((origin.as_str(), size, root), (ORIGIN, v.size, v.root));
    }
});
