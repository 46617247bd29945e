//! The JPEG/PNG scrubber's properties, for the fuzz target and for the regression test
//! that replays every input the fuzzer ever crashed on (`fuzz/regressions/scrub`):
//! scrubbing twice is scrubbing once, feeding it in pieces gives the same bytes as all at
//! once, what is left carries no metadata (no EXIF, XMP, ICC, comment or text: only the
//! segments and chunks that draw the picture, and minimal JFIF and Adobe headers), and an
//! image that decodes still decodes, after scrubbing, to the same pixels.

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

    match format {
        Format::Jpeg => jpeg_header_is_clean(&out),
        Format::Png => png_is_clean(&out),
        Format::Other => {}
    }

    if format != Format::Other {
        if let Some(before) = pixels(format, data) {
            let after = pixels(format, &out).expect("a scrubbed image still decodes");
            assert!(before == after, "scrubbing changed the pixels");
        }
    }
}

/// Every segment before the first scan of a scrubbed JPEG draws the picture (SOFn, DHT,
/// DAC, DQT, DRI, DNL) or is the minimal JFIF or Adobe header.
fn jpeg_header_is_clean(out: &[u8]) {
    assert!(out.starts_with(&[0xFF, 0xD8]));
    let mut i = 2;
    while i + 4 <= out.len() {
        assert_eq!(out[i], 0xFF, "a segment at {i}");
        let code = out[i + 1];
        if code == 0xDA || code == 0xD9 {
            return;
        }
        // Restart markers and TEM stand alone: two bytes, no data.
        if matches!(code, 0xD0..=0xD7 | 0x01) {
            i += 2;
            continue;
        }
        let len = usize::from(out[i + 2]) << 8 | usize::from(out[i + 3]);
        let payload = &out[i + 4..(i + 2 + len).min(out.len())];
        match code {
            0xC0..=0xC3
            | 0xC5..=0xC7
            | 0xC9..=0xCB
            | 0xCD..=0xCF
            | 0xC4
            | 0xCC
            | 0xDB
            | 0xDC
            | 0xDD => {}
            0xE0 => assert!(
                payload.starts_with(b"JFIF\0") && len == 16,
                "an APP0 other than minimal JFIF"
            ),
            0xEE => assert!(
                payload.starts_with(b"Adobe") && len == 14,
                "an APP14 other than minimal Adobe"
            ),
            other => panic!("segment {other:#04x} survived the scrubber"),
        }
        i += 2 + len;
    }
}

/// Every chunk of a scrubbed PNG draws the picture or its colours.
fn png_is_clean(out: &[u8]) {
    let mut i = 8;
    while i + 8 <= out.len() {
        let len = u32::from_be_bytes([out[i], out[i + 1], out[i + 2], out[i + 3]]) as usize;
        let kind = &out[i + 4..i + 8];
        assert!(
            matches!(
                kind,
                b"IHDR"
                    | b"PLTE"
                    | b"IDAT"
                    | b"IEND"
                    | b"tRNS"
                    | b"gAMA"
                    | b"cHRM"
                    | b"sRGB"
                    | b"acTL"
                    | b"fcTL"
                    | b"fdAT"
            ),
            "chunk {:?} survived the scrubber",
            String::from_utf8_lossy(kind)
        );
        i += 12 + len;
    }
}
