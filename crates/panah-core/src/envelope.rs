//! The plaintext of a stored message, before encryption.
//!
//! A readable text header, the body, then zero padding up to a size bucket:
//!
//! ```text
//! panah-message: 1
//! from: sender                       (or: coordinator 1a2b-3c4d-5e6f-7a8b)
//! sent: 2021-08-15T06:30:00Z
//! file: 48213 9f86d0…(sha256) scrubbed image/jpeg photo.jpg
//! length: 112
//!
//! <112 bytes of UTF-8 body>\0\0\0…
//! ```
//!
//! Everything confidential about a message — its text, when exactly it was sent, the names,
//! types and sizes of its files — is inside this envelope, so inside the ciphertext. Decrypted
//! with the stock `rage`, it reads as text followed by zero bytes.

use std::fmt::Write;

use crate::Timestamp;

/// Longest file name kept; longer ones are cut.
const MAX_NAME: usize = 200;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Author {
    Sender,
    Coordinator(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    pub size: u64,
    pub sha256: String,
    /// Whether metadata was removed (JPEG, PNG) or the file kept as sent.
    pub scrubbed: bool,
    pub content_type: String,
    pub name: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Envelope {
    pub from: Author,
    pub sent: Timestamp,
    pub files: Vec<FileEntry>,
    pub body: String,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EnvelopeError {
    #[error("not a Panah message (no `panah-message: 1` header)")]
    NotAMessage,
    #[error("the message header is damaged: {0}")]
    Header(String),
    #[error("the message body is cut short or not UTF-8")]
    Body,
}

/// A file name as a person sent it, made safe to print and to save: no path separators, no
/// control characters, no leading dots, at most 200 characters.
pub fn clean_file_name(name: &str) -> String {
    let base = name.rsplit(['/', '\\']).next().unwrap_or_default();
    let cleaned: String = base
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}'))
        .take(MAX_NAME)
        .collect();
    // Dots and spaces in any order: ". .bashrc" must not come out as ".bashrc" (and
    // cleaning a cleaned name changes nothing; found by fuzzing).
    let cleaned = cleaned
        .trim_start_matches(|c: char| c == '.' || c.is_whitespace())
        .trim_end()
        .to_owned();
    if cleaned.is_empty() {
        "file".to_owned()
    } else {
        cleaned
    }
}

fn clean_token(s: &str) -> String {
    let t: String = s
        .chars()
        .filter(|c| c.is_ascii_graphic())
        .take(100)
        .collect();
    if t.is_empty() {
        "application/octet-stream".to_owned()
    } else {
        t
    }
}

impl Envelope {
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut head = String::from("panah-message: 1\n");
        match &self.from {
            Author::Sender => head.push_str("from: sender\n"),
            Author::Coordinator(fp) => {
                let _ = writeln!(head, "from: coordinator {}", clean_token(fp));
            }
        }
        let _ = writeln!(head, "sent: {}", self.sent);
        for f in &self.files {
            let _ = writeln!(
                head,
                "file: {} {} {} {} {}",
                f.size,
                clean_token(&f.sha256),
                if f.scrubbed { "scrubbed" } else { "as-sent" },
                clean_token(&f.content_type),
                clean_file_name(&f.name)
            );
        }
        let _ = writeln!(head, "length: {}\n", self.body.len());
        let mut out = head.into_bytes();
        out.extend_from_slice(self.body.as_bytes());
        out
    }

    /// The envelope followed by zero padding up to its size bucket, ready to encrypt.
    pub fn to_padded_bytes(&self) -> Vec<u8> {
        let mut bytes = self.to_bytes();
        let padded = crate::padding::bucket(bytes.len() as u64);
        bytes.resize(usize::try_from(padded).unwrap_or(bytes.len()), 0);
        bytes
    }

    /// Parses a decrypted envelope, ignoring the padding after the body.
    pub fn parse(bytes: &[u8]) -> Result<Self, EnvelopeError> {
        let bad = |m: &str| EnvelopeError::Header(m.to_owned());
        let split = bytes
            .windows(2)
            .take(64 * 1024)
            .position(|w| w == b"\n\n")
            .ok_or(EnvelopeError::NotAMessage)?;
        let head = std::str::from_utf8(&bytes[..split]).map_err(|_| bad("not UTF-8"))?;
        let mut lines = head.lines();
        if lines.next() != Some("panah-message: 1") {
            return Err(EnvelopeError::NotAMessage);
        }
        let (mut from, mut sent, mut length) = (None, None, None);
        let mut files = Vec::new();
        for line in lines {
            let (name, value) = line
                .split_once(": ")
                .ok_or_else(|| bad("a line has no ': '"))?;
            match name {
                "from" => {
                    from = Some(match value.strip_prefix("coordinator ") {
                        Some(fp) => Author::Coordinator(fp.to_owned()),
                        None if value == "sender" => Author::Sender,
                        None => return Err(bad("unknown author")),
                    })
                }
                "sent" => sent = Some(Timestamp::parse(value).map_err(|_| bad("bad date"))?),
                "length" => length = Some(value.parse::<usize>().map_err(|_| bad("bad length"))?),
                "file" => {
                    let mut parts = value.splitn(5, ' ');
                    let mut next = || parts.next().ok_or_else(|| bad("a file line is short"));
                    let size = next()?.parse().map_err(|_| bad("bad file size"))?;
                    let sha256 = next()?.to_owned();
                    let scrubbed = next()? == "scrubbed";
                    let content_type = next()?.to_owned();
                    let name = next()?.to_owned();
                    files.push(FileEntry {
                        size,
                        sha256,
                        scrubbed,
                        content_type,
                        name,
                    });
                }
                _ => {}
            }
        }
        let length = length.ok_or_else(|| bad("no length"))?;
        let end = (split + 2).checked_add(length).ok_or(EnvelopeError::Body)?;
        let body = bytes.get(split + 2..end).ok_or(EnvelopeError::Body)?;
        Ok(Envelope {
            from: from.ok_or_else(|| bad("no author"))?,
            sent: sent.ok_or_else(|| bad("no date"))?,
            files,
            body: String::from_utf8(body.to_vec()).map_err(|_| EnvelopeError::Body)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cleaned_names_have_no_leading_dot_and_stay_clean() {
        for (name, clean) in [
            (". .bashrc", "bashrc"),
            (" . . .ssh ", "ssh"),
            ("../../etc/passwd", "passwd"),
            ("........ ... senIIII", "senIIII"),
            ("photo.jpg", "photo.jpg"),
            (". .", "file"),
        ] {
            assert_eq!(clean_file_name(name), clean, "{name:?}");
            assert_eq!(clean_file_name(clean), clean, "{name:?}");
        }
    }
    use proptest::prelude::*;

    #[test]
    fn round_trip_with_padding() {
        let e = Envelope {
            from: Author::Sender,
            sent: Timestamp::parse("2021-08-15T06:30:00Z").unwrap(),
            files: vec![FileEntry {
                size: 10,
                sha256: "ab".into(),
                scrubbed: true,
                content_type: "image/jpeg".into(),
                name: "عکس من.jpg".into(),
            }],
            body: "سلام\n\nhello".into(),
        };
        let mut bytes = e.to_bytes();
        bytes.resize(1024, 0);
        assert_eq!(Envelope::parse(&bytes), Ok(e));
        assert_eq!(
            Envelope::parse(b"hello\n\nworld"),
            Err(EnvelopeError::NotAMessage)
        );
    }

    #[test]
    fn file_names_are_made_safe() {
        assert_eq!(clean_file_name("../../etc/passwd"), "passwd");
        assert_eq!(clean_file_name("C:\\Users\\x\\photo.jpg"), "photo.jpg");
        assert_eq!(clean_file_name(".hidden"), "hidden");
        assert_eq!(clean_file_name("a\nb\u{202E}gpj.exe"), "abgpj.exe");
        assert_eq!(clean_file_name(""), "file");
        assert_eq!(clean_file_name(&"x".repeat(500)).len(), 200);
    }

    proptest! {
        #[test]
        fn parse_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..600)) {
            let _ = Envelope::parse(&bytes);
        }

        #[test]
        fn any_body_and_name_round_trip(body in "\\PC{0,200}", name in "\\PC{1,50}") {
            let e = Envelope {
                from: Author::Coordinator("1a2b".into()),
                sent: Timestamp::from_unix(1_629_000_000),
                files: vec![FileEntry { size: 1, sha256: "00".into(), scrubbed: false, content_type: "text/plain".into(), name: clean_file_name(&name) }],
                body,
            };
            prop_assert_eq!(Envelope::parse(&e.to_bytes()), Ok(e));
        }
    }
}
