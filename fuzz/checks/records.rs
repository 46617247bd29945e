//! The case tracker's records as a device decrypts them (a teammate's device may be
//! hostile): a signed version that reads is canonical, and a document reads back as
//! itself once written. For the fuzz target and the replay of every input that once failed
//! (`fuzz/regressions/records`).

use panah_core::records::doc::Doc;
use panah_core::records::version::Signed;

/// Panics when a property fails.
pub fn check(data: &[u8]) {
    if let Ok(signed) = Signed::parse(data) {
        assert_eq!(signed.to_plaintext(), data, "only canonical versions read");
        let _ = signed.verify_signature();
    }
    if let Ok(doc) = Doc::from_bytes(data) {
        let bytes = doc.to_bytes();
        let again = Doc::from_bytes(&bytes).expect("a written document reads");
        assert_eq!(again.to_bytes(), bytes);
        let _ = doc.check();
    }
}
