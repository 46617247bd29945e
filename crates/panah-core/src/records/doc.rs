//! What a record says, in clear: needs, cases and the audit trail, as JSON documents with
//! their rules. These bytes only ever exist on a coordinator's device; the hub stores them
//! encrypted (see `version`).
//!
//! There is no field for a legal name, an ID or passport number, a phone number or a
//! biometric, and free text that looks like one is flagged ([`warnings`]). The tracker
//! follows lawful and humanitarian routes only: nothing in it plans irregular crossings.

use serde::{Deserialize, Serialize};
use time::Date;

use super::RecordId;
use crate::ledger::entry::Identifying;
use crate::ledger::money::Currency;
use crate::ledger::Category;

/// Longest pseudonym, in characters.
pub const MAX_PSEUDONYM: usize = 60;
/// Longest free text (notes, a next action, one history note), in characters.
pub const MAX_TEXT: usize = 4000;
/// Longest pathway, in characters.
pub const MAX_PATHWAY: usize = 120;
/// Most history notes on a case; most ledger links or linked needs on a record.
pub const MAX_HISTORY: usize = 500;
pub const MAX_LINKS: usize = 100;
/// Most events in one audit record (a push of more writes several).
pub const MAX_AUDIT_EVENTS: usize = 1000;

macro_rules! words {
    ($(#[$meta:meta])* $name:ident { $($variant:ident => $word:literal),+ $(,)? }) => {
        $(#[$meta])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        pub enum $name { $(#[serde(rename = $word)] $variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn word(self) -> &'static str {
                match self { $($name::$variant => $word),+ }
            }

            pub fn parse(word: &str) -> Option<Self> {
                match word.trim() { $($word => Some($name::$variant),)+ _ => None }
            }
        }
    };
}

words!(
    /// How soon a need must be met.
    Urgency { Urgent => "urgent", Soon => "soon", Routine => "routine" }
);
words!(
    /// Where a need stands: open → funded → delivered → closed, or declined.
    NeedStatus {
        Open => "open", Funded => "funded", Delivered => "delivered", Closed => "closed",
        Declined => "declined",
    }
);
words!(
    /// Where a case stands on a member's lawful path to safety.
    Stage {
        Registered => "registered", Assessed => "assessed", Documents => "documents",
        Lodged => "lodged", Interview => "interview", Decision => "decision",
        Travel => "travel", Arrived => "arrived", Closed => "closed", Paused => "paused",
        Withdrawn => "withdrawn",
    }
);
words!(
    /// What happened to a record, in the audit trail.
    Action {
        Created => "created", Changed => "changed", Closed => "closed", Deleted => "deleted",
        Expired => "expired", Rewrapped => "rewrapped",
    }
);
words!(
    /// The two kinds of tracked records.
    Kind { Need => "need", Case => "case" }
);

/// Pathways people usually mean; free text is allowed.
pub const PATHWAYS: &[&str] = &[
    "humanitarian visa",
    "resettlement referral",
    "family reunion",
    "study",
    "work",
    "private sponsorship",
];

impl NeedStatus {
    /// Whether the need is finished (the expiry clock runs from then).
    pub fn is_closed(self) -> bool {
        matches!(self, NeedStatus::Closed | NeedStatus::Declined)
    }
}

impl Stage {
    pub fn is_closed(self) -> bool {
        matches!(self, Stage::Closed | Stage::Withdrawn)
    }
}

/// A day, written `YYYY-MM-DD`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Day(pub Date);

const DAY_FORMAT: &[time::format_description::BorrowedFormatItem<'static>] =
    time::macros::format_description!("[year]-[month]-[day]");

impl Day {
    /// Reads `YYYY-MM-DD` in any digits.
    pub fn parse(text: &str) -> Result<Day, String> {
        let latin = crate::digits::to_latin(text.trim());
        let bad = || {
            format!(
                "{:?} is not a date: write it as YYYY-MM-DD",
                text.chars().take(20).collect::<String>()
            )
        };
        let day = Date::parse(&latin, DAY_FORMAT)
            .map(Day)
            .map_err(|_| bad())?;
        // Years of four digits only: a year before 1 or after 9999 reads but is written
        // in a form nothing reads back, which would make the record unreadable after its
        // next edit (found by fuzzing).
        if !(1..=9999).contains(&day.0.year()) {
            return Err(bad());
        }
        Ok(day)
    }

    pub fn today() -> Day {
        Day(time::OffsetDateTime::now_utc().date())
    }
}

impl std::fmt::Display for Day {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (y, m, d) = (self.0.year(), u8::from(self.0.month()), self.0.day());
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl Serialize for Day {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Day {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        // Stored documents use Latin digits only.
        if !text.bytes().all(|b| b.is_ascii_digit() || b == b'-') {
            return Err(serde::de::Error::custom("a date in a record is YYYY-MM-DD"));
        }
        Day::parse(&text).map_err(serde::de::Error::custom)
    }
}

/// Money in integer minor units of an ISO 4217 currency.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Money {
    pub currency: String,
    pub asked: i64,
    pub funded: i64,
}

impl Money {
    pub fn currency(&self) -> Result<Currency, String> {
        Currency::parse(&self.currency).map_err(|e| e.to_string())
    }
}

/// Something a member needs: food, a generator, medicine, a document's fee.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Need {
    /// Who it is for, by the pseudonym the collective chose.
    pub pseudonym: String,
    #[serde(with = "category")]
    pub category: Category,
    pub urgency: Urgency,
    pub status: NeedStatus,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub money: Option<Money>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub notes: String,
    /// Public ledger entries (by number) that paid for it; only ever inside the record.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ledger: Vec<u64>,
    pub opened: Day,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<Day>,
}

/// A dated note in a case's history.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Note {
    pub date: Day,
    /// The fingerprint of the coordinator who wrote it.
    pub by: String,
    pub text: String,
}

/// A member's path to safety through lawful and humanitarian routes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Case {
    pub pseudonym: String,
    pub stage: Stage,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub pathway: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub next_action: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub due: Option<Day>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<Note>,
    /// Needs (record ids) that belong to this case.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub needs: Vec<RecordId>,
    pub opened: Day,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed: Option<Day>,
}

/// One line of the audit trail.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    pub at: crate::Timestamp,
    /// The coordinator's fingerprint.
    pub by: String,
    pub action: Action,
    pub record: RecordId,
    pub kind: Kind,
    /// The version of the record the action made (0 for a deletion).
    pub version: u64,
}

/// A batch of audit events, written with the changes they describe.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audit {
    pub events: Vec<Event>,
}

/// What is left of a deleted record: nothing but its signed deletion.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Deleted {}

/// A record's content.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Doc {
    Need(Need),
    Case(Case),
    Audit(Audit),
    /// A deletion, signed like any version: the hub replaces the record's content with
    /// it, and every device drops its copy (and refuses older versions from then on).
    Deleted(Deleted),
}

mod category {
    use crate::ledger::Category;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(c: &Category, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(c.word())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Category, D::Error> {
        let w = String::deserialize(d)?;
        super::need_category(&w).map_err(serde::de::Error::custom)
    }
}

/// A need's category: the ledger's, except fees (which are the ledger's own costs).
pub fn need_category(word: &str) -> Result<Category, String> {
    match Category::parse(word.trim()) {
        Some(Category::Fees) | None => Err(format!(
            "{:?} is not a category of needs: use one of food, power, shelter, medical, documents, relocation, communications, other",
            word.chars().take(30).collect::<String>()
        )),
        Some(c) => Ok(c),
    }
}

fn check_text(what: &str, text: &str, max: usize, one_line: bool) -> Result<(), String> {
    if text.chars().count() > max {
        return Err(format!("the {what} is longer than {max} characters"));
    }
    if let Some(c) = text.chars().find(|c| {
        (c.is_control() && !(!one_line && (*c == '\n' || *c == '\t'))) || is_bidi_control(*c)
    }) {
        return Err(format!(
            "the {what} contains an invisible control character (U+{:04X})",
            u32::from(c)
        ));
    }
    Ok(())
}

/// Direction overrides and isolates: they can make text read differently from what it
/// says, so records refuse them (the tools add isolates themselves when showing text).
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

fn check_pseudonym(p: &str) -> Result<(), String> {
    if p.trim().is_empty() {
        return Err("a record needs a pseudonym for whom it is (never a real name)".into());
    }
    if p.trim() != p {
        return Err("the pseudonym has spaces at its start or end".into());
    }
    check_text("pseudonym", p, MAX_PSEUDONYM, true)
}

impl Need {
    pub fn check(&self) -> Result<(), String> {
        check_pseudonym(&self.pseudonym)?;
        check_text("notes", &self.notes, MAX_TEXT, false)?;
        if self.category == Category::Fees {
            return Err("fees are the ledger's own costs, not a category of needs".into());
        }
        if let Some(m) = &self.money {
            m.currency()?;
            if m.asked < 0 || m.funded < 0 {
                return Err("amounts asked and funded cannot be negative".into());
            }
            if m.asked > 1_000_000_000_000_000 || m.funded > 1_000_000_000_000_000 {
                return Err("the amount is too large".into());
            }
        }
        if self.ledger.len() > MAX_LINKS {
            return Err(format!("a need links at most {MAX_LINKS} ledger entries"));
        }
        if self.status.is_closed() != self.closed.is_some() {
            return Err("a closed or declined need has a closing date, and only then".into());
        }
        Ok(())
    }

    /// Free text to look through for what identifies a person.
    pub fn texts(&self) -> Vec<(&'static str, &str)> {
        vec![("pseudonym", &self.pseudonym), ("notes", &self.notes)]
    }
}

impl Case {
    pub fn check(&self) -> Result<(), String> {
        check_pseudonym(&self.pseudonym)?;
        check_text("pathway", &self.pathway, MAX_PATHWAY, true)?;
        check_text("next action", &self.next_action, MAX_TEXT, false)?;
        if self.history.len() > MAX_HISTORY {
            return Err(format!("a case keeps at most {MAX_HISTORY} notes"));
        }
        for n in &self.history {
            check_text("note", &n.text, MAX_TEXT, false)?;
            check_text("note's author", &n.by, 40, true)?;
        }
        if self.needs.len() > MAX_LINKS {
            return Err(format!("a case links at most {MAX_LINKS} needs"));
        }
        if self.stage.is_closed() != self.closed.is_some() {
            return Err("a closed or withdrawn case has a closing date, and only then".into());
        }
        Ok(())
    }

    pub fn texts(&self) -> Vec<(&'static str, &str)> {
        let mut out = vec![
            ("pseudonym", self.pseudonym.as_str()),
            ("pathway", self.pathway.as_str()),
            ("next action", self.next_action.as_str()),
        ];
        out.extend(self.history.iter().map(|n| ("note", n.text.as_str())));
        out
    }
}

impl Doc {
    /// Checks every rule of the document's kind.
    pub fn check(&self) -> Result<(), String> {
        match self {
            Doc::Need(n) => n.check(),
            Doc::Case(c) => c.check(),
            Doc::Deleted(_) => Ok(()),
            Doc::Audit(a) => {
                if a.events.len() > MAX_AUDIT_EVENTS {
                    return Err(format!(
                        "an audit record holds at most {MAX_AUDIT_EVENTS} events"
                    ));
                }
                for e in &a.events {
                    check_text("audit author", &e.by, 40, true)?;
                }
                Ok(())
            }
        }
    }

    /// Whether the document may be signed by the coordinator with fingerprint `signer`: an
    /// audit record tells only its author's own actions.
    pub fn signed_rightly_by(&self, signer: &str) -> bool {
        match self {
            Doc::Audit(a) => a.events.iter().all(|e| e.by == signer),
            _ => true,
        }
    }

    /// The tracked kind, or `None` for the audit trail.
    pub fn kind(&self) -> Option<Kind> {
        match self {
            Doc::Need(_) => Some(Kind::Need),
            Doc::Case(_) => Some(Kind::Case),
            Doc::Audit(_) | Doc::Deleted(_) => None,
        }
    }

    /// When the record was closed, if it is.
    pub fn closed(&self) -> Option<Day> {
        match self {
            Doc::Need(n) => n.closed,
            Doc::Case(c) => c.closed,
            Doc::Audit(_) | Doc::Deleted(_) => None,
        }
    }

    pub fn pseudonym(&self) -> Option<&str> {
        match self {
            Doc::Need(n) => Some(&n.pseudonym),
            Doc::Case(c) => Some(&c.pseudonym),
            Doc::Audit(_) | Doc::Deleted(_) => None,
        }
    }

    /// The JSON bytes that are signed and encrypted.
    pub fn to_bytes(&self) -> Vec<u8> {
        serde_json::to_vec(self).unwrap_or_default()
    }

    /// Reads a document and checks its rules. Unknown fields are refused: a client that
    /// dropped a field it did not know would lose it on the next save.
    pub fn from_bytes(bytes: &[u8]) -> Result<Doc, String> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| format!("not a record: {e}"))?;
        let doc: Doc = serde_json::from_value(value).map_err(|e| format!("not a record: {e}"))?;
        doc.check()?;
        Ok(doc)
    }
}

/// Warnings about free text that looks like it identifies a person: a long number (a
/// phone, a tazkira or passport number), a passport-like code, two capitalised words (a
/// name), an email address. The person decides; nothing is refused for it.
pub fn warnings(text: &str) -> Vec<Identifying> {
    // Dates (YYYY-MM-DD) are not numbers that identify anyone.
    let latin = without_dates(&crate::digits::to_latin(text));
    let mut out = crate::ledger::entry::identifying(&latin);
    let passport_like = latin.split(|c: char| !c.is_ascii_alphanumeric()).any(|w| {
        let letters = w.chars().take_while(char::is_ascii_alphabetic).count();
        let digits = w.len() - letters;
        (1..=2).contains(&letters)
            && (6..=9).contains(&digits)
            && w[letters..].bytes().all(|b| b.is_ascii_digit())
    });
    if passport_like && !out.contains(&Identifying::LongNumber) {
        out.push(Identifying::PassportLike);
    }
    let lower = text.to_lowercase();
    if ["smuggl", "قاچاق", "قاچاغ"]
        .iter()
        .any(|w| lower.contains(w))
    {
        out.push(Identifying::Smuggling);
    }
    out
}

/// `text` with every `YYYY-MM-DD` replaced by spaces.
fn without_dates(text: &str) -> String {
    let chars: Vec<char> = text.chars().collect();
    let mut out = String::with_capacity(text.len());
    let mut i = 0;
    let digit = |j: usize| chars.get(j).is_some_and(char::is_ascii_digit);
    while i < chars.len() {
        let is_date = (0..10).all(|k| {
            if k == 4 || k == 7 {
                chars.get(i + k) == Some(&'-')
            } else {
                digit(i + k)
            }
        }) && !digit(i + 10)
            && (i == 0 || !digit(i - 1));
        if is_date {
            out.push_str("          ");
            i += 10;
        } else {
            out.push(chars[i]);
            i += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_read_only_as_written() {
        for bad in ["-0119-08-21", "-119-08-21", "+12021-08-21", "0000-01-01"] {
            assert!(Day::parse(bad).is_err(), "{bad}");
        }
        let day = Day::parse("۲۰۲۱-۰۸-۲۰").unwrap();
        assert_eq!(Day::parse(&day.to_string()), Ok(day));
        assert_eq!(day.to_string(), "2021-08-20");
    }

    fn need() -> Need {
        Need {
            pseudonym: "Lale-7".into(),
            category: Category::Power,
            urgency: Urgency::Urgent,
            status: NeedStatus::Open,
            money: Some(Money {
                currency: "AFN".into(),
                asked: 4_500_000,
                funded: 0,
            }),
            notes: "generator for the clinic's fridge".into(),
            ledger: vec![3],
            opened: Day::parse("2021-08-20").unwrap(),
            closed: None,
        }
    }

    #[test]
    fn documents_round_trip_and_refuse_what_they_do_not_know() {
        let doc = Doc::Need(need());
        let bytes = doc.to_bytes();
        assert_eq!(Doc::from_bytes(&bytes).unwrap(), doc);
        let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        v["passport"] = "P01234567".into();
        let err = Doc::from_bytes(&serde_json::to_vec(&v).unwrap()).unwrap_err();
        assert!(err.contains("passport"), "{err}");
        let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        v["category"] = "fees".into();
        assert!(Doc::from_bytes(&serde_json::to_vec(&v).unwrap()).is_err());
        let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        v["kind"] = "weapon".into();
        assert!(Doc::from_bytes(&serde_json::to_vec(&v).unwrap()).is_err());
    }

    #[test]
    fn rules() {
        let mut n = need();
        n.status = NeedStatus::Closed;
        assert!(n.check().is_err(), "closed without a date");
        n.closed = Some(Day::parse("2021-09-01").unwrap());
        n.check().unwrap();
        n.pseudonym = "Lale\u{202E}7".into();
        assert!(n.check().unwrap_err().contains("U+202E"));
        n.pseudonym = " ".into();
        assert!(n.check().is_err());
        n.pseudonym = "x".repeat(61);
        assert!(n.check().is_err());
    }

    #[test]
    fn text_that_identifies_someone_is_flagged() {
        assert!(warnings("passport P01234567 at the embassy")
            .iter()
            .any(|w| w.message().contains("passport")));
        assert!(!warnings("tazkira ۱۲۳۴۵۶۷۸۹").is_empty());
        assert!(!warnings("phone +93 70 123 4567").is_empty());
        assert!(!warnings("Ahmad Karimi asked").is_empty());
        assert!(warnings("needs flour and oil for a family of six").is_empty());
        assert!(warnings("a smuggler via Nimroz")
            .iter()
            .any(|w| w.message().contains("lawful routes")));
        assert!(!warnings("قاچاقبر").is_empty());
        assert!(warnings("visa interview on 2021-10-03").is_empty());
    }

    #[test]
    fn days_in_any_digits() {
        assert_eq!(Day::parse("۲۰۲۱-۰۸-۲۰").unwrap().to_string(), "2021-08-20");
        assert!(Day::parse("2021-02-30").is_err());
        // A stored document has Latin digits only.
        assert!(serde_json::from_str::<Day>("\"۲۰۲۱-۰۸-۲۰\"").is_err());
    }
}
