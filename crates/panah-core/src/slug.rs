//! Collective slugs: the `{slug}` in `/c/{slug}`.

use std::fmt;
use std::str::FromStr;

/// A collective's short public name, as it appears in URLs.
///
/// Lower-case ASCII letters, digits and inner hyphens, 2 to 40 characters. Kept ASCII so
/// a URL can be read aloud and typed on any phone keyboard without ambiguity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Slug(String);

pub const MIN_LEN: usize = 2;
pub const MAX_LEN: usize = 40;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SlugError {
    #[error("a collective's short name must be {MIN_LEN} to {MAX_LEN} characters long; this one has {0}")]
    Length(usize),
    #[error("a collective's short name may use only a-z, 0-9 and '-'; found {0:?}")]
    Character(char),
    #[error("a collective's short name cannot start or end with '-' or contain '--'")]
    Hyphen,
}

impl Slug {
    pub fn parse(s: &str) -> Result<Self, SlugError> {
        let n = s.chars().count();
        if !(MIN_LEN..=MAX_LEN).contains(&n) {
            return Err(SlugError::Length(n));
        }
        if let Some(c) = s
            .chars()
            .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '-'))
        {
            return Err(SlugError::Character(c));
        }
        if s.starts_with('-') || s.ends_with('-') || s.contains("--") {
            return Err(SlugError::Hyphen);
        }
        Ok(Slug(s.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Slug {
    type Err = SlugError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Slug::parse(s)
    }
}

impl fmt::Display for Slug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn accepts_and_refuses() {
        assert!(Slug::parse("roshanai").is_ok());
        assert!(Slug::parse("kabul-youth-2021").is_ok());
        assert_eq!(Slug::parse("a"), Err(SlugError::Length(1)));
        assert_eq!(Slug::parse("Kabul"), Err(SlugError::Character('K')));
        assert_eq!(Slug::parse("کابل"), Err(SlugError::Character('ک')));
        assert_eq!(Slug::parse("-ab"), Err(SlugError::Hyphen));
        assert_eq!(Slug::parse("a--b"), Err(SlugError::Hyphen));
        assert_eq!(Slug::parse("../x"), Err(SlugError::Character('.')));
    }

    proptest! {
        #[test]
        fn parse_never_panics_and_round_trips(s in "\\PC{0,50}") {
            if let Ok(slug) = Slug::parse(&s) {
                prop_assert_eq!(slug.as_str(), s.as_str());
                prop_assert!(slug.as_str().bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'));
            }
        }
    }
}
