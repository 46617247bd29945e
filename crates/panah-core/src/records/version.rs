//! One version of a record as its author signed it: the bytes inside the record's
//! ciphertext.
//!
//! ```text
//! panah-record 1
//! origin hub.example/c/roshanai/team
//! id 3f9c…(32 hex)
//! version 4
//! parent 9a0c…(64 hex: SHA-256 of the version it was made from; `-` for the first)
//! team 3
//! by BASE64(Ed25519 public key)
//! date 2021-08-24T09:12:00Z
//! length 211
//! {"kind":"need",…}            (exactly `length` bytes of the document)
//! sig BASE64(Ed25519 signature)
//! 000000…                      (zero bytes, to a Padmé size bucket)
//! ```
//!
//! The signature is over `panah-record-signature 1\n` and every byte from `panah-record 1`
//! to the end of the document: the team log's origin (so a record of one collective is no
//! record of another), the record's id and version (so the hub cannot swap records or
//! versions), the size of the team log the author wrote against and the author's key (so a
//! reader checks the author was a coordinator then, and is not removed since).
//! Only this one form is read: parsing re-serialises and must give the same bytes.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use sha2::{Digest, Sha256};

use super::RecordId;
use crate::team::{Change, TeamEntry};
use crate::Timestamp;

const HEADER: &str = "panah-record 1";
const DOMAIN: &[u8] = b"panah-record-signature 1\n";
/// Largest document, in bytes.
pub const MAX_DOC: usize = 512 * 1024;
/// Largest plaintext of a version (the document, its header and padding).
pub const MAX_PLAINTEXT: u64 = 600 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    #[error("not a record version: {0}")]
    Malformed(String),
    #[error("the record's signature does not verify")]
    BadSignature,
    #[error("the record is signed by {by}, who was not a coordinator when the team log had {team} entries")]
    NotAMember { by: String, team: u64 },
    #[error(
        "the record names a team log of {team} entries, but the verified log has only {known}"
    )]
    FutureTeam { team: u64, known: u64 },
    #[error("the record is signed by {by}, who has since been removed from the team; a current coordinator must confirm it")]
    Removed { by: String },
    #[error("the record belongs to another log ({0})")]
    OtherOrigin(String),
    #[error("the hub sent record {expected} but its content says {found}")]
    Swapped { expected: String, found: String },
}

/// A version before it is signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsigned {
    /// The team log's origin: which collective on which hub.
    pub origin: String,
    pub id: RecordId,
    pub version: u64,
    /// The hash ([`Signed::hash`]) of the version this one was made from: a hub that rolls
    /// a record back and lets someone edit the old version makes a fork a reader can see.
    pub parent: Option<[u8; 32]>,
    /// The size of the verified team log the author wrote against.
    pub team_size: u64,
    pub by: VerifyingKey,
    pub date: Timestamp,
    /// The document's JSON bytes (`doc::Doc::to_bytes`).
    pub doc: Vec<u8>,
}

/// A signed version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Signed {
    pub body: Unsigned,
    pub sig: Signature,
}

impl Unsigned {
    fn text(&self) -> Vec<u8> {
        let mut out = format!(
            "{HEADER}\norigin {}\nid {}\nversion {}\nparent {}\nteam {}\nby {}\ndate {}\nlength {}\n",
            self.origin,
            self.id,
            self.version,
            self.parent.map_or_else(|| "-".to_owned(), |p| crate::hex(&p)),
            self.team_size,
            STANDARD.encode(self.by.as_bytes()),
            self.date,
            self.doc.len()
        )
        .into_bytes();
        out.extend_from_slice(&self.doc);
        out
    }

    /// The exact bytes the author signs.
    pub fn message(&self) -> Vec<u8> {
        let mut m = DOMAIN.to_vec();
        m.extend_from_slice(&self.text());
        m
    }

    pub fn signed(self, sig: Signature) -> Signed {
        Signed { body: self, sig }
    }
}

fn bad(why: impl Into<String>) -> RecordError {
    RecordError::Malformed(why.into())
}

impl Signed {
    /// The plaintext to encrypt: the signed text, the signature, zero padding.
    pub fn to_plaintext(&self) -> Vec<u8> {
        let mut out = self.body.text();
        out.extend_from_slice(
            format!("\nsig {}\n", STANDARD.encode(self.sig.to_bytes())).as_bytes(),
        );
        let padded = crate::padding::bucket(out.len() as u64) as usize;
        out.resize(padded, 0);
        out
    }

    /// SHA-256 of the signed text and signature: names this exact version.
    pub fn hash(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(self.body.text());
        h.update(self.sig.to_bytes());
        h.finalize().into()
    }

    /// Reads a plaintext in its one canonical form (the signature is not checked here).
    pub fn parse(plain: &[u8]) -> Result<Signed, RecordError> {
        if plain.len() as u64 > MAX_PLAINTEXT {
            return Err(bad("too long"));
        }
        let mut rest = plain;
        let mut line = |name: &str| -> Result<String, RecordError> {
            let end = rest
                .iter()
                .position(|&b| b == b'\n')
                .ok_or_else(|| bad(format!("no {name} line")))?;
            let text = std::str::from_utf8(&rest[..end]).map_err(|_| bad("not UTF-8"))?;
            rest = &rest[end + 1..];
            if name == HEADER {
                return if text == HEADER {
                    Ok(String::new())
                } else {
                    Err(bad("not a Panah record (or a newer format)"))
                };
            }
            text.strip_prefix(name)
                .and_then(|v| v.strip_prefix(' '))
                .map(str::to_owned)
                .ok_or_else(|| bad(format!("expected the {name} line")))
        };
        line(HEADER)?;
        let origin = line("origin")?;
        let id = RecordId::parse(&line("id")?).map_err(bad)?;
        let number = |v: String, what: &str| -> Result<u64, RecordError> {
            if v.len() > 1 && v.starts_with('0') {
                return Err(bad(format!("{what} has a leading zero")));
            }
            v.parse()
                .map_err(|_| bad(format!("{what} is not a number")))
        };
        let version = number(line("version")?, "version")?;
        let parent = match line("parent")?.as_str() {
            "-" => None,
            hex => Some(crate::unhex(hex).ok_or_else(|| bad("the parent is not a hash"))?),
        };
        let team_size = number(line("team")?, "team")?;
        let by = crate::coordinator::parse_verifying_key(&line("by")?).map_err(bad)?;
        let date = Timestamp::parse(&line("date")?).map_err(|_| bad("bad date"))?;
        let length = number(line("length")?, "length")? as usize;
        if length > MAX_DOC {
            return Err(bad("the document is too long"));
        }
        let _ = line;
        if rest.len() < length {
            return Err(bad("cut short"));
        }
        let doc = rest[..length].to_vec();
        let after = &rest[length..];
        let after = after
            .strip_prefix(b"\nsig ")
            .ok_or_else(|| bad("no signature"))?;
        let end = after
            .iter()
            .position(|&b| b == b'\n')
            .ok_or_else(|| bad("no signature end"))?;
        let sig = std::str::from_utf8(&after[..end]).map_err(|_| bad("bad signature"))?;
        let sig = STANDARD.decode(sig).map_err(|_| bad("bad signature"))?;
        let sig = Signature::from_slice(&sig).map_err(|_| bad("bad signature"))?;
        if after[end + 1..].iter().any(|&b| b != 0) {
            return Err(bad("bytes after the signature"));
        }
        let signed = Signed {
            body: Unsigned {
                origin,
                id,
                version,
                parent,
                team_size,
                by,
                date,
                doc,
            },
            sig,
        };
        // One canonical form: what we would write must be what we read.
        let canonical = signed.to_plaintext();
        if canonical.len() > plain.len() || canonical[..] != plain[..canonical.len()] {
            return Err(bad("not in canonical form"));
        }
        if plain.len() != canonical.len() {
            return Err(bad("padded to the wrong size"));
        }
        Ok(signed)
    }

    pub fn verify_signature(&self) -> Result<(), RecordError> {
        self.body
            .by
            .verify(&self.body.message(), &self.sig)
            .map_err(|_| RecordError::BadSignature)
    }
}

/// Who was a coordinator when: for each key, the spans of team-log entries in which it was
/// on the team, from the verified team log's entries.
#[derive(Debug, Clone, Default)]
pub struct Membership {
    spans: std::collections::HashMap<[u8; 32], Vec<(u64, Option<u64>)>>,
    size: u64,
}

impl Membership {
    pub fn from_entries(entries: &[TeamEntry]) -> Membership {
        let mut spans: std::collections::HashMap<[u8; 32], Vec<(u64, Option<u64>)>> =
            Default::default();
        for e in entries {
            let i = e.body.index;
            match &e.body.change {
                Change::Add { key, .. } => spans
                    .entry(*key.signing().as_bytes())
                    .or_default()
                    .push((i, None)),
                Change::Remove { signing } => {
                    if let Some(last) = spans
                        .get_mut(signing.as_bytes())
                        .and_then(|v| v.last_mut())
                        .filter(|s| s.1.is_none())
                    {
                        last.1 = Some(i);
                    }
                }
            }
        }
        Membership {
            spans,
            size: entries.len() as u64,
        }
    }

    /// Whether `key` was on the team after the first `size` entries.
    pub fn member_at(&self, key: &VerifyingKey, size: u64) -> bool {
        self.member_at_bytes(key.as_bytes(), size)
    }

    /// Whether `key` is on the team now.
    pub fn current(&self, key: &VerifyingKey) -> bool {
        self.member_at(key, self.size)
    }

    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether the team after the first `size` entries is the team now: if not, what was
    /// wrapped to it then is readable by someone removed since, or not by someone added.
    pub fn same_team(&self, size: u64) -> bool {
        self.spans
            .keys()
            .all(|k| self.member_at_bytes(k, size) == self.member_at_bytes(k, self.size))
    }

    fn member_at_bytes(&self, key: &[u8; 32], size: u64) -> bool {
        self.spans.get(key).is_some_and(|spans| {
            spans
                .iter()
                .any(|&(added, removed)| added < size && removed.is_none_or(|r| r >= size))
        })
    }

    /// Checks a version against the team: its origin, its signature, its author on the
    /// team at the size it names (not after what was verified), and still on it now.
    /// A version by someone removed since is refused unless `seen_before` (this device
    /// accepted that exact version while they were a coordinator).
    pub fn check(
        &self,
        origin: &str,
        expected: &RecordId,
        v: &Signed,
        seen_before: bool,
    ) -> Result<(), RecordError> {
        if v.body.origin != origin {
            return Err(RecordError::OtherOrigin(
                v.body.origin.chars().take(100).collect(),
            ));
        }
        if &v.body.id != expected {
            return Err(RecordError::Swapped {
                expected: expected.to_string(),
                found: v.body.id.to_string(),
            });
        }
        v.verify_signature()?;
        let by = crate::Fingerprint::of(&v.body.by).to_string();
        if v.body.team_size > self.size {
            return Err(RecordError::FutureTeam {
                team: v.body.team_size,
                known: self.size,
            });
        }
        if !self.member_at(&v.body.by, v.body.team_size) {
            return Err(RecordError::NotAMember {
                by,
                team: v.body.team_size,
            });
        }
        if !self.current(&v.body.by) && !seen_before {
            return Err(RecordError::Removed { by });
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    fn version(key: &SigningKey, team: u64) -> Signed {
        let body = Unsigned {
            origin: "hub.example/c/roshanai/team".into(),
            id: RecordId([7; 16]),
            version: 3,
            parent: Some([9; 32]),
            team_size: team,
            by: key.verifying_key(),
            date: Timestamp::parse("2021-08-24T09:12:00Z").unwrap(),
            doc: br#"{"kind":"audit","events":[]}"#.to_vec(),
        };
        let sig = key.sign(&body.message());
        body.signed(sig)
    }

    #[test]
    fn a_version_reads_back_only_in_its_one_form() {
        let key = SigningKey::from_bytes(&[1; 32]);
        let v = version(&key, 1);
        let plain = v.to_plaintext();
        assert_eq!(plain.len(), 1024);
        let back = Signed::parse(&plain).unwrap();
        assert_eq!(back, v);
        back.verify_signature().unwrap();
        assert_eq!(back.hash(), v.hash());
        // Any change to a signed byte breaks the signature or the form.
        let text = String::from_utf8_lossy(&plain).into_owned();
        for (from, to) in [
            ("version 3", "version 4"),
            ("version 3", "version 03"),
            ("team 1", "team 2"),
            ("parent 0909", "parent 0908"),
            ("roshanai", "roshanaj"),
            ("\"events\"", "\"eventz\""),
        ] {
            let changed = text.replacen(from, to, 1).into_bytes();
            let ok = Signed::parse(&changed).and_then(|s| s.verify_signature());
            assert!(ok.is_err(), "{from} -> {to}");
        }
        let mut trailing = plain.clone();
        if let Some(b) = trailing.last_mut() {
            *b = 1;
        }
        assert!(Signed::parse(&trailing).is_err());
        assert!(Signed::parse(&plain[..plain.len() - 1]).is_err());
        assert!(Signed::parse(b"").is_err());
    }

    #[test]
    fn membership_spans() {
        use crate::team::{Team, Unsigned as TeamUnsigned};
        let a = SigningKey::from_bytes(&[1; 32]);
        let b = SigningKey::from_bytes(&[2; 32]);
        let origin = "hub.example/c/roshanai/team";
        let line = |k: &SigningKey| {
            crate::CoordinatorKey::new(
                &age::x25519::Identity::generate().to_public(),
                k.verifying_key(),
            )
        };
        let mut team = Team::new();
        let date = time::macros::date!(2021 - 08 - 20);
        let sign = |team: &Team, by: &SigningKey, change: Change| {
            let u: TeamUnsigned = team.next(by.verifying_key(), date, change);
            let sig = by.sign(&u.message(origin));
            u.signed(sig)
        };
        let e = sign(
            &team,
            &a,
            Change::Add {
                key: line(&a),
                label: String::new(),
            },
        );
        team.apply(origin, e).unwrap();
        let e = sign(
            &team,
            &a,
            Change::Add {
                key: line(&b),
                label: String::new(),
            },
        );
        team.apply(origin, e).unwrap();
        let e = sign(
            &team,
            &a,
            Change::Remove {
                signing: b.verifying_key(),
            },
        );
        team.apply(origin, e).unwrap();
        let m = Membership::from_entries(&team.entries);
        assert!(m.member_at(&a.verifying_key(), 1));
        assert!(!m.member_at(&b.verifying_key(), 1));
        assert!(m.member_at(&b.verifying_key(), 2));
        assert!(!m.member_at(&b.verifying_key(), 3));
        assert!(!m.current(&b.verifying_key()));
        assert!(!m.same_team(2), "b was removed since");
        assert!(m.same_team(3));
        assert!(m.same_team(1), "the team at 1 (a) is the team now (a)");
        assert!(!m.same_team(0), "a was added since");

        let id = RecordId([7; 16]);
        // Signed by a while on the team: fine.
        m.check(origin, &id, &version(&a, 2), false).unwrap();
        // By b while a member, b removed since: only if this device had it before.
        let by_b = version(&b, 2);
        assert!(matches!(
            m.check(origin, &id, &by_b, false),
            Err(RecordError::Removed { .. })
        ));
        m.check(origin, &id, &by_b, true).unwrap();
        // By b claiming the team after removal, or before being added.
        assert!(matches!(
            m.check(origin, &id, &version(&b, 3), true),
            Err(RecordError::NotAMember { .. })
        ));
        assert!(matches!(
            m.check(origin, &id, &version(&b, 1), true),
            Err(RecordError::NotAMember { .. })
        ));
        // A team this device has not verified yet.
        assert!(matches!(
            m.check(origin, &id, &version(&a, 4), false),
            Err(RecordError::FutureTeam { .. })
        ));
        // Another collective's record, or another record's content.
        assert!(m
            .check("hub.example/c/other/team", &id, &version(&a, 2), false)
            .is_err());
        assert!(matches!(
            m.check(origin, &RecordId([8; 16]), &version(&a, 2), false),
            Err(RecordError::Swapped { .. })
        ));
    }
}
