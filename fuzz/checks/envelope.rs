//! A contact message's envelope as a coordinator's device decrypts it (the sender is a
//! stranger): one that reads writes back as itself. For the fuzz target and the replay of
//! every input that once failed (`fuzz/regressions/envelope`).

use panah_core::envelope::Envelope;

/// Panics when a property fails.
pub fn check(data: &[u8]) {
    if let Ok(envelope) = Envelope::parse(data) {
        let bytes = envelope.to_bytes();
        let again = Envelope::parse(&bytes).expect("a written envelope reads");
        assert_eq!(again.to_bytes(), bytes);
        let padded = Envelope::parse(&envelope.to_padded_bytes()).expect("padded reads");
        assert_eq!(padded.to_bytes(), bytes);
    }
}
