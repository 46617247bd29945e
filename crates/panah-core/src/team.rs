//! The team of coordinators as a signed, append-only log.
//!
//! Who may read a collective's confidential data and sign its ledger must not be the hub's
//! word: an operator could add a key of their own. So the team is a log of the same kind
//! as the ledger (Merkle tree, tiles, signed checkpoints), whose entries are changes, each
//! signed by a coordinator who was on the team just before it:
//!
//! ```text
//! panah-team 1
//! index 1
//! prev 47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=
//! date 2026-11-26
//! by ed25519:…
//! add age1… ed25519:…
//! label coordinator 2
//! sig …
//! ```
//!
//! - `index` is the entry's position and `prev` the root of the entries before it, so a
//!   signed change cannot be moved, replayed after a removal, or shown in another history.
//! - The first entry adds the founding coordinator and is signed by that same key.
//! - Every later entry is signed (`by`) by a coordinator on the team as it stood before it:
//!   `add KEY-LINE` (an optional `label` line follows, a pseudonym) or `remove SIGNING-KEY`.
//!   The last coordinator cannot be removed.
//! - `sig` is Ed25519 over `panah-team-entry v1`, the log's origin and every line before
//!   `sig`, each ending in a newline: a signature for one team log is worthless in another.
//!
//! [`replay`] checks all of that from the first entry and gives the team that results.

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use ed25519_dalek::{Signature, Verifier, VerifyingKey};
use time::Date;

use crate::coordinator::{parse_verifying_key, CoordinatorKey, Fingerprint};
use crate::tlog::Tree;

/// The longest team entry, in bytes (a key line, a label and the signature fit in 600).
pub const MAX_ENTRY: usize = 1024;

/// The longest label, in characters.
pub const MAX_LABEL: usize = 60;

/// The most entries a team log may have (hub and clients refuse more): decades of changes
/// to a team of at most [`MAX_MEMBERS`].
pub const MAX_LOG: u64 = 10_000;

/// The most coordinators a team may have: a collective's inner circle, and a bound on
/// what every reply and record is encrypted to.
pub const MAX_MEMBERS: usize = 50;

const MAGIC: &str = "panah-team 1";
const DOMAIN: &str = "panah-team-entry v1";

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TeamError {
    #[error("team entry {index} is not a Panah team entry: {why}")]
    Malformed { index: u64, why: String },
    #[error("team entry {index} says it is entry {claims}")]
    WrongIndex { index: u64, claims: u64 },
    #[error(
        "team entry {index} was signed for another history of the team (its `prev` root differs)"
    )]
    WrongPrevious { index: u64 },
    #[error("team entry {index} is dated {date}, before the entry ahead of it ({previous})")]
    DateGoesBack {
        index: u64,
        date: Date,
        previous: Date,
    },
    #[error("the first team entry must add the founding coordinator, signed by that same key")]
    BadFounding,
    #[error("team entry {index} is signed by {by}, who was not on the team at that point")]
    NotAMember { index: u64, by: Fingerprint },
    #[error("team entry {index}'s signature does not verify")]
    BadSignature { index: u64 },
    #[error(
        "team entry {index} adds {key}, whose signing key or age recipient is on the team already"
    )]
    AlreadyMember { index: u64, key: Fingerprint },
    #[error("team entry {index} removes {key}, who is not on the team")]
    NoSuchMember { index: u64, key: Fingerprint },
    #[error("team entry {index} would remove the last coordinator")]
    LastMember { index: u64 },
    #[error("team entry {index} would make the team larger than {MAX_MEMBERS}")]
    TooMany { index: u64 },
    #[error("the team log is empty")]
    Empty,
}

/// What one entry changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    Add { key: CoordinatorKey, label: String },
    Remove { signing: VerifyingKey },
}

/// An entry without its signature: what a coordinator signs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsigned {
    pub index: u64,
    pub prev: [u8; 32],
    pub date: Date,
    pub by: VerifyingKey,
    pub change: Change,
}

/// A signed team entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamEntry {
    pub body: Unsigned,
    pub sig: Signature,
}

/// Checks a label: a pseudonym of at most [`MAX_LABEL`] characters on one line, no
/// control characters, no spaces around it. Empty means none.
pub fn check_label(label: &str) -> Result<(), String> {
    if label.chars().count() > MAX_LABEL {
        return Err(format!("a label is at most {MAX_LABEL} characters"));
    }
    if label.chars().any(char::is_control) {
        return Err("a label cannot hold control characters or line breaks".into());
    }
    if label.trim() != label {
        return Err("a label cannot start or end with a space".into());
    }
    Ok(())
}

fn signing_str(key: &VerifyingKey) -> String {
    format!("ed25519:{}", STANDARD.encode(key.as_bytes()))
}

impl Unsigned {
    /// The lines before `sig`.
    pub fn text(&self) -> String {
        let mut t = format!(
            "{MAGIC}\nindex {}\nprev {}\ndate {}\nby {}\n",
            self.index,
            STANDARD.encode(self.prev),
            self.date,
            signing_str(&self.by)
        );
        match &self.change {
            Change::Add { key, label } => {
                t.push_str(&format!("add {key}\n"));
                if !label.is_empty() {
                    t.push_str(&format!("label {label}\n"));
                }
            }
            Change::Remove { signing } => t.push_str(&format!("remove {}\n", signing_str(signing))),
        }
        t
    }

    /// The bytes the `by` key signs for the log `origin`.
    pub fn message(&self, origin: &str) -> Vec<u8> {
        format!("{DOMAIN}\n{origin}\n{}", self.text()).into_bytes()
    }

    pub fn signed(self, sig: Signature) -> TeamEntry {
        TeamEntry { body: self, sig }
    }
}

impl TeamEntry {
    /// The entry as stored in the log (its leaf).
    pub fn to_leaf(&self) -> Vec<u8> {
        format!(
            "{}sig {}\n",
            self.body.text(),
            STANDARD.encode(self.sig.to_bytes())
        )
        .into_bytes()
    }

    /// Reads a leaf, which must be exactly what [`TeamEntry::to_leaf`] writes. `index` is
    /// where the leaf sits, for the error messages.
    pub fn parse(index: u64, leaf: &[u8]) -> Result<TeamEntry, TeamError> {
        let bad = |why: &str| TeamError::Malformed {
            index,
            why: why.to_owned(),
        };
        if leaf.len() > MAX_ENTRY {
            return Err(bad("it is longer than a team entry can be"));
        }
        let text = std::str::from_utf8(leaf).map_err(|_| bad("it is not UTF-8"))?;
        let body = text
            .strip_suffix('\n')
            .ok_or_else(|| bad("no final newline"))?;
        let mut lines = body.split('\n');
        if lines.next() != Some(MAGIC) {
            return Err(bad("it does not start with `panah-team 1`"));
        }
        let mut take = |name: &str| -> Result<&str, TeamError> {
            lines
                .next()
                .and_then(|line| line.strip_prefix(name))
                .and_then(|rest| rest.strip_prefix(' '))
                .ok_or_else(|| bad(&format!("expected the {name} line")))
        };
        let claims: u64 = take("index")?
            .parse()
            .map_err(|_| bad("the index is not a number"))?;
        let prev: [u8; 32] = STANDARD
            .decode(take("prev")?)
            .ok()
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("prev is not a base64 hash"))?;
        let date = Date::parse(
            take("date")?,
            time::macros::format_description!("[year]-[month]-[day]"),
        )
        .map_err(|_| bad("the date is not YYYY-MM-DD"))?;
        let by = signing_key(take("by")?).map_err(|why| bad(&format!("by: {why}")))?;
        let change_line = lines.next().ok_or_else(|| bad("no change line"))?;
        let mut next = lines.next();
        let change = if let Some(line) = change_line.strip_prefix("add ") {
            let key = CoordinatorKey::parse_line(line).map_err(|e| bad(&e.to_string()))?;
            let mut label = String::new();
            if let Some(l) = next.and_then(|l| l.strip_prefix("label ")) {
                check_label(l).map_err(|why| bad(&why))?;
                if l.is_empty() {
                    return Err(bad("an empty label is written as no label line"));
                }
                label = l.to_owned();
                next = lines.next();
            }
            Change::Add { key, label }
        } else if let Some(key) = change_line.strip_prefix("remove ") {
            let signing = signing_key(key).map_err(|why| bad(&format!("remove: {why}")))?;
            Change::Remove { signing }
        } else {
            return Err(bad("the change must be `add …` or `remove …`"));
        };
        let sig: [u8; 64] = next
            .and_then(|l| l.strip_prefix("sig "))
            .and_then(|s| STANDARD.decode(s).ok())
            .and_then(|b| b.try_into().ok())
            .ok_or_else(|| bad("expected the sig line, with a base64 signature"))?;
        if lines.next().is_some() {
            return Err(bad("lines after the signature"));
        }
        let entry = Unsigned {
            index: claims,
            prev,
            date,
            by,
            change,
        }
        .signed(Signature::from_bytes(&sig));
        // Canonical: written back, the same bytes, so one change has one encoding.
        if entry.to_leaf() != leaf {
            return Err(bad("it is not written the one way a team entry is written"));
        }
        Ok(entry)
    }

    pub fn verify(&self, origin: &str) -> bool {
        self.body
            .by
            .verify(&self.body.message(origin), &self.sig)
            .is_ok()
    }
}

fn signing_key(text: &str) -> Result<VerifyingKey, String> {
    let b64 = text
        .strip_prefix("ed25519:")
        .ok_or_else(|| "a signing key starts with ed25519:".to_owned())?;
    if b64.trim() != b64 {
        return Err("spaces around the key".into());
    }
    parse_verifying_key(b64)
}

/// A coordinator on the team.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub key: CoordinatorKey,
    pub label: String,
    /// The entry that added them.
    pub since: u64,
    pub added_on: Date,
    /// Who signed the addition (the founder signed their own).
    pub added_by: Fingerprint,
}

/// The team after some entries, and the tree of those entries.
#[derive(Debug, Clone)]
pub struct Team {
    pub members: Vec<Member>,
    pub tree: Tree,
    pub last_date: Option<Date>,
    /// Every change so far, in order.
    pub entries: Vec<TeamEntry>,
}

impl Default for Team {
    fn default() -> Self {
        Team::new()
    }
}

impl Team {
    pub fn new() -> Team {
        Team {
            members: Vec::new(),
            tree: Tree::new(),
            last_date: None,
            entries: Vec::new(),
        }
    }

    pub fn member(&self, signing: &VerifyingKey) -> Option<&Member> {
        self.members.iter().find(|m| m.key.signing() == signing)
    }

    /// The next entry to sign: `change` by `by`, dated `date`.
    pub fn next(&self, by: VerifyingKey, date: Date, change: Change) -> Unsigned {
        Unsigned {
            index: self.tree.size(),
            prev: self.tree.root(),
            date,
            by,
            change,
        }
    }

    /// Checks `entry` against the team as it stands and applies it.
    pub fn apply(&mut self, origin: &str, entry: TeamEntry) -> Result<(), TeamError> {
        let index = self.tree.size();
        let b = &entry.body;
        if b.index != index {
            return Err(TeamError::WrongIndex {
                index,
                claims: b.index,
            });
        }
        if b.prev != self.tree.root() {
            return Err(TeamError::WrongPrevious { index });
        }
        if let Some(previous) = self.last_date {
            if b.date < previous {
                return Err(TeamError::DateGoesBack {
                    index,
                    date: b.date,
                    previous,
                });
            }
        }
        let by = Fingerprint::of(&b.by);
        if index == 0 {
            match &b.change {
                Change::Add { key, .. } if *key.signing() == b.by => {}
                _ => return Err(TeamError::BadFounding),
            }
        } else if self.member(&b.by).is_none() {
            return Err(TeamError::NotAMember { index, by });
        }
        if !entry.verify(origin) {
            return Err(TeamError::BadSignature { index });
        }
        match &b.change {
            Change::Add { key, label } => {
                // One key per person: neither half may be on the team already.
                if self.members.iter().any(|m| {
                    m.key.signing() == key.signing() || m.key.recipient_str() == key.recipient_str()
                }) {
                    return Err(TeamError::AlreadyMember {
                        index,
                        key: key.fingerprint(),
                    });
                }
                if self.members.len() >= MAX_MEMBERS {
                    return Err(TeamError::TooMany { index });
                }
                self.members.push(Member {
                    key: key.clone(),
                    label: label.clone(),
                    since: index,
                    added_on: b.date,
                    added_by: by,
                });
            }
            Change::Remove { signing } => {
                let at = self
                    .members
                    .iter()
                    .position(|m| m.key.signing() == signing)
                    .ok_or(TeamError::NoSuchMember {
                        index,
                        key: Fingerprint::of(signing),
                    })?;
                if self.members.len() == 1 {
                    return Err(TeamError::LastMember { index });
                }
                self.members.remove(at);
            }
        }
        self.tree.push(&entry.to_leaf());
        self.last_date = Some(b.date);
        self.entries.push(entry);
        Ok(())
    }
}

/// Replays a whole team log from its leaves: every entry parsed, in place, signed by a
/// coordinator of the team before it. Gives the team that results.
pub fn replay(
    origin: &str,
    leaves: impl IntoIterator<Item = impl AsRef<[u8]>>,
) -> Result<Team, TeamError> {
    let mut team = Team::new();
    let mut empty = true;
    for (i, leaf) in leaves.into_iter().enumerate() {
        empty = false;
        let entry = TeamEntry::parse(i as u64, leaf.as_ref())?;
        team.apply(origin, entry)?;
    }
    if empty {
        return Err(TeamError::Empty);
    }
    Ok(team)
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};

    const ORIGIN: &str = "hub.example/c/roshanai/team";

    struct Person {
        signing: SigningKey,
        key: CoordinatorKey,
    }

    fn person() -> Person {
        let signing = SigningKey::generate(&mut rand::rngs::OsRng);
        let id = age::x25519::Identity::generate();
        let key = CoordinatorKey::new(&id.to_public(), signing.verifying_key());
        Person { signing, key }
    }

    fn day() -> Date {
        Date::from_calendar_date(2026, time::Month::November, 26).unwrap()
    }

    fn sign(team: &Team, who: &Person, change: Change) -> TeamEntry {
        let body = team.next(who.signing.verifying_key(), day(), change);
        let sig = who.signing.sign(&body.message(ORIGIN));
        body.signed(sig)
    }

    fn add(p: &Person, label: &str) -> Change {
        Change::Add {
            key: p.key.clone(),
            label: label.into(),
        }
    }

    fn remove(p: &Person) -> Change {
        Change::Remove {
            signing: p.signing.verifying_key(),
        }
    }

    /// A founder, two additions and a removal, replayed from the leaves alone.
    #[test]
    fn a_team_replays_from_its_leaves() {
        let (a, b, c) = (person(), person(), person());
        let mut team = Team::new();
        for (who, change) in [
            (&a, add(&a, "founder")),
            (&a, add(&b, "")),
            (&b, add(&c, "coordinator 3")),
            (&c, remove(&a)),
        ] {
            let e = sign(&team, who, change);
            let leaf = e.to_leaf();
            assert_eq!(TeamEntry::parse(team.tree.size(), &leaf).unwrap(), e);
            team.apply(ORIGIN, e).unwrap();
        }
        let leaves: Vec<Vec<u8>> = team.entries.iter().map(TeamEntry::to_leaf).collect();
        let again = replay(ORIGIN, &leaves).unwrap();
        let keys: Vec<_> = again.members.iter().map(|m| m.key.clone()).collect();
        assert_eq!(keys, vec![b.key.clone(), c.key.clone()]);
        assert_eq!(again.tree.root(), team.tree.root());
        assert_eq!(again.members[1].label, "coordinator 3");
        assert_eq!(again.members[1].added_by, b.key.fingerprint());
    }

    #[test]
    fn what_a_hostile_hub_might_try_is_refused() {
        let (a, b, x) = (person(), person(), person());
        let mut team = Team::new();
        // Founding by another key than the one added.
        let forged = sign(&team, &x, add(&a, ""));
        assert_eq!(
            team.clone().apply(ORIGIN, forged),
            Err(TeamError::BadFounding)
        );
        team.apply(ORIGIN, sign(&team, &a, add(&a, ""))).unwrap();
        // An outsider adds themselves.
        let intruder = sign(&team, &x, add(&x, ""));
        assert!(matches!(
            team.clone().apply(ORIGIN, intruder),
            Err(TeamError::NotAMember { index: 1, .. })
        ));
        // A genuine addition for another log.
        let body = team.next(a.signing.verifying_key(), day(), add(&b, ""));
        let elsewhere = body
            .clone()
            .signed(a.signing.sign(&body.message("hub.example/c/other/team")));
        assert_eq!(
            team.clone().apply(ORIGIN, elsewhere),
            Err(TeamError::BadSignature { index: 1 })
        );
        let added_b = sign(&team, &a, add(&b, ""));
        team.apply(ORIGIN, added_b.clone()).unwrap();
        // Replaying the addition later, or at its own place in another history.
        assert!(matches!(
            team.clone().apply(ORIGIN, added_b.clone()),
            Err(TeamError::WrongIndex {
                index: 2,
                claims: 1
            })
        ));
        team.apply(ORIGIN, sign(&team, &a, remove(&b))).unwrap();
        let mut replayed = added_b.clone();
        replayed.body.index = team.tree.size();
        replayed.body.prev = team.tree.root();
        assert_eq!(
            team.clone().apply(ORIGIN, replayed),
            Err(TeamError::BadSignature { index: 3 })
        );
        // A removed coordinator signs nothing more, and the last one cannot go.
        let by_removed = sign(&team, &b, add(&x, ""));
        assert!(matches!(
            team.clone().apply(ORIGIN, by_removed),
            Err(TeamError::NotAMember { index: 3, .. })
        ));
        assert_eq!(
            team.clone().apply(ORIGIN, sign(&team, &a, remove(&a))),
            Err(TeamError::LastMember { index: 3 })
        );
        // Someone on the team already.
        assert!(matches!(
            team.clone().apply(ORIGIN, sign(&team, &a, add(&a, ""))),
            Err(TeamError::AlreadyMember { .. })
        ));
    }

    #[test]
    fn only_the_one_way_of_writing_an_entry_is_read() {
        let a = person();
        let team = Team::new();
        let leaf = sign(&team, &a, add(&a, "x")).to_leaf();
        let text = String::from_utf8(leaf.clone()).unwrap();
        for bad in [
            text.replace("panah-team 1", "panah-team 2"),
            text.replace("index 0", "index 00"),
            text.replace("label x\n", "label x\nlabel y\n"),
            text.replace("label x", "label  x"),
            text.replace("label x", "label \u{1b}[2J"),
            text.trim_end().to_owned(),
            format!("{text}extra\n"),
            text.replace("date 2026-11-26", "date 2026-11-6"),
            text.replace("add age1", "add  age1"),
        ] {
            assert!(
                TeamEntry::parse(0, bad.as_bytes()).is_err(),
                "accepted: {bad:?}"
            );
        }
        assert!(TeamEntry::parse(0, &vec![b'a'; MAX_ENTRY + 1]).is_err());
        assert!(TeamEntry::parse(0, &leaf).is_ok());
    }
}
