//! Every input the fuzzers ever crashed on (`fuzz/regressions/TARGET/`), replayed through
//! the same checks the fuzz targets make (`fuzz/checks/`), on the stable toolchain, so a
//! fixed crash stays fixed.

#![allow(clippy::unwrap_used)]

use std::path::Path;

#[path = "../../../fuzz/checks/envelope.rs"]
mod envelope;
#[path = "../../../fuzz/checks/records.rs"]
mod records;
#[path = "../../../fuzz/checks/scrub.rs"]
mod scrub;

fn inputs(target: &str) -> Vec<(String, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../fuzz/regressions")
        .join(target);
    let mut out: Vec<(String, Vec<u8>)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let path = e.unwrap().path();
            (path.display().to_string(), std::fs::read(&path).unwrap())
        })
        .collect();
    out.sort();
    out
}

/// Runs `check` on every input that once failed `target`; there is at least one.
fn replay(target: &str, check: fn(&[u8])) {
    let all = inputs(target);
    assert!(!all.is_empty(), "no inputs for {target}");
    for (name, bytes) in &all {
        eprintln!("{name}");
        check(bytes);
    }
}

#[test]
fn the_scrubber_passes_every_input_that_once_failed() {
    replay("scrub", scrub::check);
}

#[test]
fn envelopes_pass_every_input_that_once_failed() {
    replay("envelope", envelope::check);
}

#[test]
fn records_pass_every_input_that_once_failed() {
    replay("records", records::check);
}

/// The first crash: a progressive JPEG whose image data held a byte pair that is no
/// marker (FF 84). The scrubber dropped it as a segment and the picture changed; such a
/// file is now refused as damaged.
#[test]
fn a_stray_marker_inside_image_data_is_damage() {
    let (_, bytes) = inputs("scrub")
        .into_iter()
        .find(|(n, _)| n.ends_with("scrub-marker-in-scan"))
        .unwrap();
    assert!(matches!(
        panah_core::scrub::scrub_all(&bytes[1..]),
        Err(panah_core::scrub::ScrubError::Damaged(_))
    ));
}

/// The pixel check is not vacuous: every seed image (photos as phones and editors write
/// them) decodes under the strict decoders, before and after scrubbing.
#[test]
fn every_seed_image_decodes_strictly_before_and_after_scrubbing() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fuzz/seeds/scrub");
    let mut images = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let bytes = std::fs::read(&path).unwrap();
        // Every property of the fuzz target, metadata gone included (the seeds carry EXIF,
        // a camera name and PNG text).
        scrub::check(&bytes);
        let (format, out) = panah_core::scrub::scrub_all(&bytes[1..]).unwrap();
        if format == panah_core::scrub::Format::Other {
            continue;
        }
        let before = scrub::pixels(format, &bytes[1..]);
        assert!(before.is_some(), "{} does not decode", path.display());
        assert_eq!(before, scrub::pixels(format, &out), "{}", path.display());
        images += 1;
    }
    assert!(images >= 6, "{images}");
}
