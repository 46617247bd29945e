//! Removing metadata from images as they stream in.
//!
//! A phone photo carries the phone's model, the time, and often GPS coordinates: the place a
//! person stood. JPEG and PNG files are rewritten chunk by chunk, keeping what draws the
//! pixels and dropping what describes them; nothing is decoded or re-encoded, so the pixels
//! are exactly those sent. Everything after the end of the image is dropped too. Other
//! files pass through unchanged (the sender is told so).
//!
//! Only what decoding needs is kept (a list of what to keep, never of what to drop):
//! - JPEG: SOI, DQT, DHT, DAC, SOFn, DRI, DNL, SOS and the entropy-coded data up to EOI.
//!   APP0 and APP14 are written anew in their minimal canonical forms (JFIF: version, units
//!   and density, no thumbnail; Adobe: the colour transform only), so a JFIF or JFXX
//!   thumbnail (a whole second JPEG, with its own EXIF) or bytes hidden after the fields go.
//!   Everything else goes: APP1–APP13 and APP15 (EXIF, XMP, ICC, IPTC, maker notes), COM,
//!   JPGn, and reserved markers.
//! - PNG: IHDR, PLTE, IDAT, IEND, the chunks that change how pixels look (tRNS, gAMA, cHRM,
//!   sRGB) and APNG's acTL/fcTL/fdAT. Everything else goes: text, time, eXIf, iCCP, pHYs
//!   and bKGD (which can tell the device), private and unknown chunks (`Gpsx`, …), even
//!   critical-looking ones.
//!
//! The scrubber works on arbitrary chunk boundaries with O(1) state, so a 50 MB upload never
//! sits in memory.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Jpeg,
    Png,
    /// Not an image we rewrite: passed through as sent.
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScrubError {
    #[error("the image is damaged ({0}); it was not accepted, so nothing hidden in it could slip through")]
    Damaged(&'static str),
    #[error("the image ends before its end marker")]
    Truncated,
}

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', b'\r', b'\n', 0x1a, b'\n'];

#[derive(Debug)]
enum Jpeg {
    /// Waiting for FF at a segment boundary.
    Marker,
    /// Got FF; the next byte names the segment.
    MarkerCode,
    /// Reading a segment's two length bytes.
    Length {
        code: u8,
        first: Option<u8>,
    },
    /// Inside a segment's payload.
    Payload {
        remaining: usize,
        keep: bool,
        then_scan: bool,
    },
    /// Inside an APP0 or APP14 payload: its first bytes are kept to write it anew.
    Rewrite {
        code: u8,
        remaining: usize,
        head: [u8; 14],
        have: usize,
    },
    /// Entropy-coded data.
    Scan,
    /// FF inside entropy-coded data.
    ScanFF,
    Done,
}

#[derive(Debug)]
enum Png {
    Header {
        buf: [u8; 8],
        have: usize,
    },
    Body {
        remaining: u64,
        keep: bool,
        last: bool,
    },
    Done,
}

#[derive(Debug)]
enum State {
    /// Collecting the first bytes to decide what the file is.
    Sniff(Vec<u8>),
    Jpeg(Jpeg),
    Png(Png),
    Other,
}

/// A streaming metadata remover. Feed it the file in pieces; write what it returns.
#[derive(Debug)]
pub struct Scrubber {
    state: State,
    kind: Option<Format>,
    /// A JPEG's image data has begun (a scan).
    scanned: bool,
}

impl Default for Scrubber {
    fn default() -> Self {
        Self::new()
    }
}

fn keep_png_chunk(kind: &[u8; 4]) -> bool {
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
    )
}

/// Segments decoding needs, kept as they are.
fn keep_jpeg_segment(code: u8) -> bool {
    matches!(
        code,
        0xC0..=0xC3 | 0xC5..=0xC7 | 0xC9..=0xCB | 0xCD..=0xCF // SOFn
            | 0xC4 // DHT
            | 0xCC // DAC
            | 0xDA // SOS
            | 0xDB // DQT
            | 0xDC // DNL
            | 0xDD // DRI
    )
}

/// APP0 (JFIF) and APP14 (Adobe), written anew in their minimal forms; anything else in
/// those segments (a JFXX extension, another vendor's APP0 or APP14) is dropped.
fn canonical_app(code: u8, head: &[u8]) -> Option<Vec<u8>> {
    match code {
        // "JFIF\0", version (2), units (1), X and Y density (2 + 2); no thumbnail.
        0xE0 if head.len() >= 12 && head.starts_with(b"JFIF\0") => {
            let mut v = vec![0xFF, 0xE0, 0x00, 0x10];
            v.extend_from_slice(&head[..12]);
            v.extend_from_slice(&[0, 0]);
            Some(v)
        }
        // "Adobe", version 100, no flags, and the colour transform the pixels need.
        0xEE if head.len() >= 12 && head.starts_with(b"Adobe") => {
            let mut v = vec![0xFF, 0xEE, 0x00, 0x0E];
            v.extend_from_slice(b"Adobe");
            v.extend_from_slice(&[0x00, 0x64, 0, 0, 0, 0, head[11]]);
            Some(v)
        }
        _ => None,
    }
}

impl Scrubber {
    pub fn new() -> Self {
        Scrubber {
            state: State::Sniff(Vec::with_capacity(8)),
            kind: None,
            scanned: false,
        }
    }

    /// What the file turned out to be, once at least 8 bytes were seen.
    pub fn kind(&self) -> Option<Format> {
        self.kind
    }

    /// Processes the next piece of the file, appending what to keep to `out`.
    pub fn feed(&mut self, mut input: &[u8], out: &mut Vec<u8>) -> Result<(), ScrubError> {
        if let State::Sniff(buf) = &mut self.state {
            let need = 8 - buf.len();
            let take = need.min(input.len());
            buf.extend_from_slice(&input[..take]);
            input = &input[take..];
            if buf.len() < 8 {
                return Ok(());
            }
            let head = std::mem::take(buf);
            if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
                self.kind = Some(Format::Jpeg);
                out.extend_from_slice(&[0xFF, 0xD8]);
                self.state = State::Jpeg(Jpeg::Marker);
                self.feed_jpeg(&head[2..], out)?;
            } else if head == PNG_SIGNATURE {
                self.kind = Some(Format::Png);
                out.extend_from_slice(&head);
                self.state = State::Png(Png::Header {
                    buf: [0; 8],
                    have: 0,
                });
            } else {
                self.kind = Some(Format::Other);
                out.extend_from_slice(&head);
                self.state = State::Other;
            }
        }
        match self.state {
            State::Jpeg(_) => self.feed_jpeg(input, out),
            State::Png(_) => self.feed_png(input, out),
            State::Other => {
                out.extend_from_slice(input);
                Ok(())
            }
            State::Sniff(_) => Ok(()),
        }
    }

    /// Checks the file ended where an image should end, and returns what it was.
    pub fn finish(self, out: &mut Vec<u8>) -> Result<Format, ScrubError> {
        match self.state {
            State::Sniff(buf) => {
                // Shorter than 8 bytes: cannot be an image.
                out.extend_from_slice(&buf);
                Ok(Format::Other)
            }
            State::Other => Ok(Format::Other),
            State::Jpeg(Jpeg::Done) => Ok(Format::Jpeg),
            State::Png(Png::Done) => Ok(Format::Png),
            State::Jpeg(_) | State::Png(_) => Err(ScrubError::Truncated),
        }
    }

    fn feed_jpeg(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), ScrubError> {
        let State::Jpeg(state) = &mut self.state else {
            return Ok(());
        };
        let mut i = 0;
        while i < input.len() {
            match state {
                Jpeg::Done => return Ok(()), // trailing data is dropped
                Jpeg::Marker => {
                    if input[i] != 0xFF {
                        return Err(ScrubError::Damaged("expected a segment marker"));
                    }
                    i += 1;
                    *state = Jpeg::MarkerCode;
                }
                Jpeg::MarkerCode => {
                    let code = input[i];
                    i += 1;
                    match code {
                        0xFF => {} // fill byte
                        0xD9 => {
                            // An end before any image data: nothing to show, and what is
                            // left would not read as a JPEG again (found by fuzzing).
                            if !self.scanned {
                                return Err(ScrubError::Damaged("no image data"));
                            }
                            out.extend_from_slice(&[0xFF, 0xD9]);
                            *state = Jpeg::Done;
                        }
                        0xD0..=0xD7 | 0x01 => {
                            out.extend_from_slice(&[0xFF, code]);
                            *state = Jpeg::Marker;
                        }
                        0xD8 | 0x00 => return Err(ScrubError::Damaged("unexpected marker")),
                        _ => *state = Jpeg::Length { code, first: None },
                    }
                }
                Jpeg::Length { code, first } => {
                    let byte = input[i];
                    i += 1;
                    match first {
                        None => *first = Some(byte),
                        Some(hi) => {
                            let len = usize::from(*hi) << 8 | usize::from(byte);
                            if len < 2 {
                                return Err(ScrubError::Damaged("segment length below 2"));
                            }
                            if matches!(*code, 0xE0 | 0xEE) {
                                // JFIF and Adobe headers belong before the image data; one
                                // after it can change the colours a decoder draws (found
                                // by fuzzing), so it is damage, not metadata to drop.
                                if self.scanned {
                                    return Err(ScrubError::Damaged(
                                        "a header segment inside the image data",
                                    ));
                                }
                                *state = Jpeg::Rewrite {
                                    code: *code,
                                    remaining: len - 2,
                                    head: [0; 14],
                                    have: 0,
                                };
                                continue;
                            }
                            let keep = keep_jpeg_segment(*code);
                            if keep {
                                out.extend_from_slice(&[0xFF, *code, *hi, byte]);
                            }
                            *state = Jpeg::Payload {
                                remaining: len - 2,
                                keep,
                                then_scan: *code == 0xDA,
                            };
                        }
                    }
                }
                Jpeg::Payload {
                    remaining,
                    keep,
                    then_scan,
                } => {
                    let take = (*remaining).min(input.len() - i);
                    if *keep {
                        out.extend_from_slice(&input[i..i + take]);
                    }
                    i += take;
                    *remaining -= take;
                    if *remaining == 0 {
                        *state = if *then_scan {
                            self.scanned = true;
                            Jpeg::Scan
                        } else {
                            Jpeg::Marker
                        };
                    }
                }
                Jpeg::Rewrite {
                    code,
                    remaining,
                    head,
                    have,
                } => {
                    let take = (*remaining).min(input.len() - i);
                    let keep = take.min(head.len() - *have);
                    head[*have..*have + keep].copy_from_slice(&input[i..i + keep]);
                    *have += keep;
                    i += take;
                    *remaining -= take;
                    if *remaining == 0 {
                        if let Some(segment) = canonical_app(*code, &head[..*have]) {
                            out.extend_from_slice(&segment);
                        }
                        *state = Jpeg::Marker;
                    }
                }
                Jpeg::Scan => {
                    // Copy up to the next FF in one go.
                    let rest = &input[i..];
                    match rest.iter().position(|&b| b == 0xFF) {
                        Some(p) => {
                            out.extend_from_slice(&rest[..p]);
                            i += p + 1;
                            *state = Jpeg::ScanFF;
                        }
                        None => {
                            out.extend_from_slice(rest);
                            i = input.len();
                        }
                    }
                }
                Jpeg::ScanFF => {
                    let code = input[i];
                    i += 1;
                    match code {
                        0x00 | 0xD0..=0xD7 => {
                            out.extend_from_slice(&[0xFF, code]);
                            *state = Jpeg::Scan;
                        }
                        // Fill bytes inside image data are kept: a decoder reading a cut-short scan
                        // may read them as data, and dropping them changed the picture
                        // (found by fuzzing). They carry nothing but ones.
                        0xFF => out.push(0xFF),
                        0xD9 => {
                            out.extend_from_slice(&[0xFF, 0xD9]);
                            *state = Jpeg::Done;
                        }
                        // A new segment between scans (progressive JPEG): DHT, DQT, SOS,
                        // DRI, DNL, a comment or an application segment.
                        0xC4 | 0xDA..=0xDD | 0xE0..=0xEF | 0xFE => {
                            *state = Jpeg::Length { code, first: None }
                        }
                        // Anything else inside image data is damage: a decoder may read the
                        // bytes after it as pixels, so dropping it as a segment would
                        // change the picture (found by fuzzing).
                        _ => {
                            return Err(ScrubError::Damaged(
                                "unexpected marker inside the image data",
                            ))
                        }
                    }
                }
            }
        }
        Ok(())
    }

    fn feed_png(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), ScrubError> {
        let State::Png(state) = &mut self.state else {
            return Ok(());
        };
        let mut i = 0;
        while i < input.len() {
            match state {
                Png::Done => return Ok(()),
                Png::Header { buf, have } => {
                    let take = (8 - *have).min(input.len() - i);
                    buf[*have..*have + take].copy_from_slice(&input[i..i + take]);
                    *have += take;
                    i += take;
                    if *have == 8 {
                        let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]);
                        if len > 0x7FFF_FFFF {
                            return Err(ScrubError::Damaged("chunk length out of range"));
                        }
                        let kind = [buf[4], buf[5], buf[6], buf[7]];
                        if !kind.iter().all(u8::is_ascii_alphabetic) {
                            return Err(ScrubError::Damaged("chunk type is not letters"));
                        }
                        if &kind == b"IEND" && len != 0 {
                            return Err(ScrubError::Damaged("IEND with data"));
                        }
                        let keep = keep_png_chunk(&kind);
                        if keep {
                            out.extend_from_slice(buf);
                        }
                        *state = Png::Body {
                            remaining: u64::from(len) + 4,
                            keep,
                            last: &kind == b"IEND",
                        };
                    }
                }
                Png::Body {
                    remaining,
                    keep,
                    last,
                } => {
                    let avail = (input.len() - i) as u64;
                    let take = (*remaining).min(avail) as usize;
                    if *keep {
                        out.extend_from_slice(&input[i..i + take]);
                    }
                    i += take;
                    *remaining -= take as u64;
                    if *remaining == 0 {
                        *state = if *last {
                            Png::Done
                        } else {
                            Png::Header {
                                buf: [0; 8],
                                have: 0,
                            }
                        };
                    }
                }
            }
        }
        Ok(())
    }
}

/// Scrubs a whole file in memory (for tests and small inputs).
pub fn scrub_all(input: &[u8]) -> Result<(Format, Vec<u8>), ScrubError> {
    let mut s = Scrubber::new();
    let mut out = Vec::with_capacity(input.len());
    s.feed(input, &mut out)?;
    let kind = s.finish(&mut out)?;
    Ok((kind, out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn segment(code: u8, payload: &[u8]) -> Vec<u8> {
        let len = u16::try_from(payload.len() + 2).unwrap();
        let mut v = vec![0xFF, code];
        v.extend_from_slice(&len.to_be_bytes());
        v.extend_from_slice(payload);
        v
    }

    /// A structurally valid JPEG with EXIF (GPS), XMP and a comment around real segments.
    fn jpeg_with_metadata() -> (Vec<u8>, Vec<u8>) {
        let jfif = segment(0xE0, b"JFIF\0\x01\x01\0\0\x01\0\x01\0\0");
        let exif = segment(0xE1, b"Exif\0\0GPS 34.5553N 69.2075E KABUL-CANARY");
        let xmp = segment(
            0xE1,
            b"http://ns.adobe.com/xap/1.0/\0<x:xmpmeta>CANARY</x:xmpmeta>",
        );
        let comment = segment(0xFE, b"shot on CANARY phone");
        let dqt = segment(0xDB, &[0u8; 65]);
        let sof = segment(0xC0, &[8, 0, 1, 0, 1, 1, 1, 0x11, 0]);
        let sos = segment(0xDA, &[1, 1, 0, 0, 63, 0]);
        let scan = [0x12, 0xFF, 0x00, 0x34, 0xFF, 0xD0, 0x56];
        let mut full = vec![0xFF, 0xD8];
        let mut clean = vec![0xFF, 0xD8];
        for part in [&jfif, &exif, &xmp, &comment, &dqt, &sof, &sos] {
            full.extend_from_slice(part);
        }
        for part in [&jfif, &dqt, &sof, &sos] {
            clean.extend_from_slice(part);
        }
        for v in [&mut full, &mut clean] {
            v.extend_from_slice(&scan);
            v.extend_from_slice(&[0xFF, 0xD9]);
        }
        full.extend_from_slice(b"trailing CANARY after EOI");
        (full, clean)
    }

    fn png_chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut v = u32::try_from(data.len()).unwrap().to_be_bytes().to_vec();
        v.extend_from_slice(kind);
        v.extend_from_slice(data);
        v.extend_from_slice(&[1, 2, 3, 4]); // CRC is copied, not checked
        v
    }

    #[test]
    fn jpeg_metadata_is_removed_in_any_chunking() {
        let (full, clean) = jpeg_with_metadata();
        assert_eq!(scrub_all(&full), Ok((Format::Jpeg, clean.clone())));
        for size in [1, 2, 3, 7, 64] {
            let mut s = Scrubber::new();
            let mut out = Vec::new();
            for piece in full.chunks(size) {
                s.feed(piece, &mut out).unwrap();
            }
            assert_eq!(s.finish(&mut out), Ok(Format::Jpeg));
            assert_eq!(out, clean, "chunk size {size}");
        }
    }

    /// An adversarial corpus of our own: every place a JPEG or PNG can carry bytes that
    /// decoding does not need, each with a canary, in any chunking.
    #[test]
    fn only_what_decoding_needs_survives() {
        let dqt = segment(0xDB, &[0u8; 65]);
        let sof = segment(0xC0, &[8, 0, 1, 0, 1, 1, 1, 0x11, 0]);
        let sos = segment(0xDA, &[1, 1, 0, 0, 63, 0]);
        // A JFIF header whose thumbnail (2x1 pixels) carries the canary, and a JFXX
        // extension holding a whole JPEG thumbnail with EXIF.
        let jfif_thumb = segment(0xE0, b"JFIF\0\x01\x02\x01\0\x48\0\x48\x02\x01CANARYCANARY");
        let jfxx = segment(0xE0, b"JFXX\0\x10\xFF\xD8\xFF\xE1Exif CANARY GPS");
        let adobe = segment(0xEE, b"Adobe\0\x65\x80\0\0\0\x01CANARY trailing");
        let jpg_n = segment(0xF0, b"JPG0 CANARY");
        let reserved = segment(0x02, b"reserved CANARY");
        let app15 = segment(0xEF, b"CANARY");
        let mut full = vec![0xFF, 0xD8];
        for part in [
            &jfif_thumb,
            &jfxx,
            &adobe,
            &jpg_n,
            &reserved,
            &app15,
            &dqt,
            &sof,
            &sos,
        ] {
            full.extend_from_slice(part);
        }
        full.extend_from_slice(&[0x12, 0x34, 0xFF, 0xD9]);
        let mut clean = vec![0xFF, 0xD8];
        clean.extend_from_slice(&segment(0xE0, b"JFIF\0\x01\x02\x01\0\x48\0\x48\0\0"));
        clean.extend_from_slice(&segment(0xEE, b"Adobe\0\x64\0\0\0\0\x01"));
        for part in [&dqt, &sof, &sos] {
            clean.extend_from_slice(part);
        }
        clean.extend_from_slice(&[0x12, 0x34, 0xFF, 0xD9]);
        for size in [1, 3, 5, 13, 4096] {
            let mut s = Scrubber::new();
            let mut out = Vec::new();
            for piece in full.chunks(size) {
                s.feed(piece, &mut out).unwrap();
            }
            assert_eq!(s.finish(&mut out), Ok(Format::Jpeg));
            assert_eq!(out, clean, "chunks of {size}");
            // Scrubbing twice changes nothing more.
            assert_eq!(scrub_all(&out), Ok((Format::Jpeg, out.clone())));
        }

        let ihdr = png_chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
        let idat = png_chunk(b"IDAT", &[9; 20]);
        let iend = png_chunk(b"IEND", &[]);
        let gama = png_chunk(b"gAMA", &[0, 0, 0xB1, 0x8F]);
        let mut full = PNG_SIGNATURE.to_vec();
        let mut clean = PNG_SIGNATURE.to_vec();
        for part in [
            &ihdr,
            &png_chunk(b"Gpsx", b"34.5553N CANARY"),
            &png_chunk(b"bKGD", b"CANARY"),
            &png_chunk(b"pHYs", b"CANARY"),
            &png_chunk(b"sBIT", b"CANARY"),
            &png_chunk(b"ABCD", b"critical-looking CANARY"),
            &gama,
            &idat,
            &iend,
        ] {
            full.extend_from_slice(part);
        }
        for part in [&ihdr, &gama, &idat, &iend] {
            clean.extend_from_slice(part);
        }
        assert_eq!(scrub_all(&full), Ok((Format::Png, clean.clone())));
        assert_eq!(scrub_all(&clean), Ok((Format::Png, clean)));
    }

    #[test]
    fn png_text_and_time_are_removed() {
        let ihdr = png_chunk(b"IHDR", &[0, 0, 0, 1, 0, 0, 0, 1, 8, 2, 0, 0, 0]);
        let text = png_chunk(b"tEXt", b"Author\0CANARY");
        let exif = png_chunk(b"eXIf", b"GPS CANARY");
        let idat = png_chunk(b"IDAT", &[9; 20]);
        let iend = png_chunk(b"IEND", &[]);
        let mut full = PNG_SIGNATURE.to_vec();
        let mut clean = PNG_SIGNATURE.to_vec();
        for c in [&ihdr, &text, &exif, &idat, &iend] {
            full.extend_from_slice(c);
        }
        for c in [&ihdr, &idat, &iend] {
            clean.extend_from_slice(c);
        }
        full.extend_from_slice(b"CANARY");
        assert_eq!(scrub_all(&full), Ok((Format::Png, clean)));
    }

    #[test]
    fn other_files_pass_through_and_damage_is_reported() {
        assert_eq!(
            scrub_all(b"%PDF-1.7 hello"),
            Ok((Format::Other, b"%PDF-1.7 hello".to_vec()))
        );
        assert_eq!(scrub_all(b"tiny"), Ok((Format::Other, b"tiny".to_vec())));
        let (full, _) = jpeg_with_metadata();
        assert_eq!(scrub_all(&full[..40]), Err(ScrubError::Truncated));
        assert!(matches!(
            scrub_all(&[0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x01, 0, 0]),
            Err(ScrubError::Damaged(_))
        ));
    }

    proptest! {
        #[test]
        fn never_panics_and_never_grows(bytes in proptest::collection::vec(any::<u8>(), 0..2000), split in 0usize..2000) {
            let mut input = bytes.clone();
            if input.len() > 3 && split % 2 == 0 { input[..3].copy_from_slice(&[0xFF, 0xD8, 0xFF]); }
            let split = split.min(input.len());
            let mut s = Scrubber::new();
            let mut out = Vec::new();
            let r = s.feed(&input[..split], &mut out).and_then(|()| s.feed(&input[split..], &mut out));
            if r.is_ok() { let _ = s.finish(&mut out); }
            prop_assert!(out.len() <= input.len());
        }
    }
}
