//! The three languages Panah speaks, and how a request chooses one.

use std::fmt;
use std::str::FromStr;

/// A language of the hub's pages and messages.
///
/// Dari comes first: the founding collective writes in Dari, and pages default to it
/// unless a collective says otherwise.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize,
)]
pub enum Lang {
    /// Dari, as written in Afghanistan (BCP 47 `fa-AF`).
    #[serde(rename = "fa")]
    Dari,
    /// Pashto (`ps`).
    #[serde(rename = "ps")]
    Pashto,
    /// English (`en`).
    #[serde(rename = "en")]
    English,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown language {0:?}: use fa (Dari), ps (Pashto) or en (English)")]
pub struct UnknownLang(pub String);

impl Lang {
    pub const ALL: [Lang; 3] = [Lang::Dari, Lang::Pashto, Lang::English];

    /// The short code used in `?lang=` and in configuration.
    pub fn code(self) -> &'static str {
        match self {
            Lang::Dari => "fa",
            Lang::Pashto => "ps",
            Lang::English => "en",
        }
    }

    /// The BCP 47 tag for `<html lang>` and for locale data.
    pub fn tag(self) -> &'static str {
        match self {
            Lang::Dari => "fa-AF",
            Lang::Pashto => "ps",
            Lang::English => "en",
        }
    }

    /// The language's name in itself, for the language switcher.
    pub fn autonym(self) -> &'static str {
        match self {
            Lang::Dari => "دری",
            Lang::Pashto => "پښتو",
            Lang::English => "English",
        }
    }

    pub fn is_rtl(self) -> bool {
        matches!(self, Lang::Dari | Lang::Pashto)
    }

    pub fn dir(self) -> &'static str {
        if self.is_rtl() {
            "rtl"
        } else {
            "ltr"
        }
    }

    /// Reads a language code as people and browsers write it: `fa`, `fa-AF`, `prs`
    /// (ISO 639-3 for Dari), `ps`, `ps-AF`, `pus`, `en`, `en-GB`…, case-insensitively.
    pub fn from_code(code: &str) -> Result<Lang, UnknownLang> {
        let primary = code
            .split(['-', '_'])
            .next()
            .unwrap_or_default()
            .to_ascii_lowercase();
        match primary.as_str() {
            "fa" | "prs" | "per" | "fas" => Ok(Lang::Dari),
            "ps" | "pus" | "pbt" => Ok(Lang::Pashto),
            "en" | "eng" => Ok(Lang::English),
            _ => Err(UnknownLang(code.chars().take(32).collect())),
        }
    }

    /// Picks the best language from an `Accept-Language` header, or `None` if the
    /// header names none of ours. Malformed parts are skipped, never an error: a
    /// browser's header is not the visitor's fault.
    pub fn negotiate(accept_language: &str) -> Option<Lang> {
        // Bound the work a stranger can ask for.
        let header: String = accept_language.chars().take(1024).collect();
        let mut best: Option<(u16, usize, Lang)> = None;
        for (position, part) in header.split(',').take(32).enumerate() {
            let mut pieces = part.split(';');
            let range = pieces.next().unwrap_or_default().trim();
            let mut quality: u16 = 1000;
            for param in pieces {
                let param = param.trim();
                if let Some(q) = param
                    .strip_prefix("q=")
                    .or_else(|| param.strip_prefix("Q="))
                {
                    quality = parse_quality(q).unwrap_or(0);
                }
            }
            if quality == 0 {
                continue;
            }
            let Ok(lang) = Lang::from_code(range) else {
                continue;
            };
            let better = match best {
                None => true,
                Some((q, p, _)) => quality > q || (quality == q && position < p),
            };
            if better {
                best = Some((quality, position, lang));
            }
        }
        best.map(|(_, _, lang)| lang)
    }
}

/// An HTTP quality value in thousandths (`0.8` → 800).
fn parse_quality(q: &str) -> Option<u16> {
    let q = q.trim();
    let (whole, frac) = q.split_once('.').unwrap_or((q, ""));
    if frac.len() > 3 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let whole: u16 = match whole {
        "0" => 0,
        "1" => 1,
        _ => return None,
    };
    let mut thousandths = 0u16;
    for (i, b) in frac.bytes().enumerate() {
        thousandths += u16::from(b - b'0') * [100, 10, 1][i];
    }
    Some((whole * 1000 + thousandths).min(1000))
}

impl FromStr for Lang {
    type Err = UnknownLang;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Lang::from_code(s)
    }
}

impl fmt::Display for Lang {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn codes() {
        assert_eq!(Lang::from_code("fa-AF"), Ok(Lang::Dari));
        assert_eq!(Lang::from_code("prs"), Ok(Lang::Dari));
        assert_eq!(Lang::from_code("PS"), Ok(Lang::Pashto));
        assert_eq!(Lang::from_code("en_GB"), Ok(Lang::English));
        assert!(Lang::from_code("de").is_err());
        assert!(Lang::from_code("").is_err());
        for lang in Lang::ALL {
            assert_eq!(Lang::from_code(lang.code()), Ok(lang));
            assert_eq!(Lang::from_code(lang.tag()), Ok(lang));
        }
    }

    #[test]
    fn negotiation_follows_quality_then_order() {
        assert_eq!(
            Lang::negotiate("de-DE,ps;q=0.5,en;q=0.4"),
            Some(Lang::Pashto)
        );
        assert_eq!(
            Lang::negotiate("en-US,en;q=0.9,fa;q=0.8"),
            Some(Lang::English)
        );
        assert_eq!(Lang::negotiate("fa-IR, en;q=1"), Some(Lang::Dari));
        assert_eq!(Lang::negotiate("en;q=0, ps"), Some(Lang::Pashto));
        assert_eq!(Lang::negotiate("de, fr"), None);
        assert_eq!(Lang::negotiate(";;;,q=,=,"), None);
        assert_eq!(Lang::negotiate("en;q=2.5"), None);
    }

    proptest! {
        #[test]
        fn negotiate_never_panics(s in "\\PC{0,300}") {
            let _ = Lang::negotiate(&s);
        }
    }
}
