//! Times as Panah stores them: RFC 3339, UTC, whole seconds.

use std::fmt;
use time::{format_description::well_known::Rfc3339, OffsetDateTime, UtcOffset};

/// A moment in UTC with whole-second precision.
///
/// Its text form is fixed-width (`2021-08-15T06:30:00Z`), so stored timestamps compare
/// correctly as strings in any database.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(OffsetDateTime);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an RFC 3339 UTC timestamp: {0:?}")]
pub struct BadTimestamp(String);

impl Timestamp {
    pub fn now() -> Self {
        Self::from_unix(OffsetDateTime::now_utc().unix_timestamp())
    }

    pub fn from_unix(seconds: i64) -> Self {
        Timestamp(
            OffsetDateTime::from_unix_timestamp(seconds).unwrap_or(OffsetDateTime::UNIX_EPOCH),
        )
    }

    /// Midnight UTC at the start of a calendar day.
    pub fn from_date(date: time::Date) -> Self {
        Timestamp(date.midnight().assume_utc())
    }

    pub fn unix(self) -> i64 {
        self.0.unix_timestamp()
    }

    pub fn plus_seconds(self, seconds: i64) -> Self {
        Self::from_unix(self.unix().saturating_add(seconds))
    }

    pub fn parse(s: &str) -> Result<Self, BadTimestamp> {
        OffsetDateTime::parse(s, &Rfc3339)
            .map(|t| Self::from_unix(t.to_offset(UtcOffset::UTC).unix_timestamp()))
            .map_err(|_| BadTimestamp(s.chars().take(64).collect()))
    }

    /// The Gregorian calendar date (year, month 1–12, day 1–31) in UTC.
    pub fn date(self) -> (i32, u8, u8) {
        let d = self.0.date();
        (d.year(), u8::from(d.month()), d.day())
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let t = self.0;
        write!(
            f,
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            t.year(),
            u8::from(t.month()),
            t.day(),
            t.hour(),
            t.minute(),
            t.second()
        )
    }
}

impl serde::Serialize for Timestamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Timestamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Timestamp::parse(&text).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_width_round_trip() {
        let t = Timestamp::parse("2021-08-15T11:00:00+04:30").unwrap();
        assert_eq!(t.to_string(), "2021-08-15T06:30:00Z");
        assert_eq!(Timestamp::parse(&t.to_string()), Ok(t));
        assert_eq!(t.date(), (2021, 8, 15));
        assert!(Timestamp::parse("yesterday").is_err());
    }
}
