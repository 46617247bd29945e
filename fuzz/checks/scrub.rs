//! The JPEG/PNG scrubber's properties, for the fuzz target and for the regression test
//! that replays every input the fuzzer ever crashed on (`fuzz/regressions/scrub`):
//! scrubbing twice is scrubbing once, feeding it in pieces gives the same bytes as all at
//! once, and an image that decodes still decodes, after scrubbing, to the same pixels.

use std::io::Cursor;

use image::{ImageReader, Limits};
use panah_core::scrub::{scrub_all, Format, Scrubber};

/// Decodes small images only (the fuzzer is not here to test decoders' memory), and
/// JPEGs strictly: a lenient decoder draws something even from a broken stream, and which
/// something depends on bytes a scrubber must drop (a metadata segment between scans).
pub fn pixels(format: Format, bytes: &[u8]) -> Option<Vec<u8>> {
    match format {
        Format::Jpeg => {
            let options = zune_core::options::DecoderOptions::default()
                .set_strict_mode(true)
                .set_max_width(512)
                .set_max_height(512);
            let cursor = zune_core::bytestream::ZCursor::new(bytes);
            zune_jpeg::JpegDecoder::new_with_options(cursor, options)
                .decode()
                .ok()
        }
        Format::Png => {
            let mut limits = Limits::default();
            limits.max_image_width = Some(512);
            limits.max_image_height = Some(512);
            limits.max_alloc = Some(16 << 20);
            let mut reader = ImageReader::with_format(Cursor::new(bytes), image::ImageFormat::Png);
            reader.limits(limits);
            reader.decode().ok().map(|img| img.into_bytes())
        }
        Format::Other => None,
    }
}

/// The scrubber's properties for one input (its first byte: the size of the pieces it is
/// fed in). Panics when one fails.
pub fn check(data: &[u8]) {
    let Some((&split, data)) = data.split_first() else {
        return;
    };
    let Ok((format, out)) = scrub_all(data) else {
        return;
    };
    let (again_format, again) = scrub_all(&out).expect("scrubbed output scrubs");
    assert_eq!(again_format, format);
    assert_eq!(again, out, "scrubbing twice is scrubbing once");

    let mut scrubber = Scrubber::new();
    let mut streamed = Vec::new();
    for piece in data.chunks(usize::from(split).max(1)) {
        scrubber
            .feed(piece, &mut streamed)
            .expect("same bytes, same answer");
    }
    assert_eq!(scrubber.finish(&mut streamed).expect("finishes"), format);
    assert_eq!(streamed, out, "pieces or whole, the same bytes");

    if format != Format::Other {
        if let Some(before) = pixels(format, data) {
            let after = pixels(format, &out).expect("a scrubbed image still decodes");
            assert!(before == after, "scrubbing changed the pixels");
        }
    }
}
