//! Money: ISO 4217 currencies and integer minor units, never floating point.

use std::fmt;

/// The currencies a collective in and around Afghanistan is likely to touch, with their
/// ISO 4217 minor-unit digits, in the order of their codes. Adding one is a one-line
/// change.
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("AFN", 2),
    ("AUD", 2),
    ("BHD", 3),
    ("CAD", 2),
    ("CHF", 2),
    ("CNY", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("INR", 2),
    ("IRR", 2),
    ("JPY", 0),
    ("KWD", 3),
    ("NOK", 2),
    ("PKR", 2),
    ("QAR", 2),
    ("RUB", 2),
    ("SAR", 2),
    ("SEK", 2),
    ("TJS", 2),
    ("TMT", 2),
    ("TRY", 2),
    ("USD", 2),
    ("UZS", 2),
];

/// One of [`CURRENCIES`], by its place in the list (so an amount is two words, and a
/// million ledger entries are that much less to move about). The list is in code order,
/// so currencies compare as their codes do.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Currency(u8);

impl fmt::Debug for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Currency({})", self.code())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    #[error("{0:?} is not a currency this ledger knows (ISO 4217 codes such as AFN, USD, EUR)")]
    UnknownCurrency(String),
    #[error("an amount must be more than zero; to correct an entry, add a reversal")]
    NotPositive,
    #[error("{0:?} is not an amount: write digits with at most {1} decimal places, like 1250.50")]
    BadAmount(String, u8),
    #[error("the amount is too large")]
    TooLarge,
}

/// Each currency's place in [`CURRENCIES`] by its three letters (`u8::MAX` for none): a
/// code is looked up in one step (a verifier reads two or three in every entry). Built
/// when compiling; a code that is not three capital letters does not compile.
static BY_LETTERS: [u8; 26 * 26 * 26] = by_letters();

const fn by_letters() -> [u8; 26 * 26 * 26] {
    let mut table = [u8::MAX; 26 * 26 * 26];
    let mut i = 0;
    while i < CURRENCIES.len() {
        let code = CURRENCIES[i].0.as_bytes();
        assert!(code.len() == 3 && i < u8::MAX as usize);
        table[letters_index(code[0], code[1], code[2])] = i as u8;
        i += 1;
    }
    table
}

/// The place of a code of three capital letters in [`BY_LETTERS`].
const fn letters_index(a: u8, b: u8, c: u8) -> usize {
    (((a - b'A') as usize) * 26 + (b - b'A') as usize) * 26 + (c - b'A') as usize
}

impl Currency {
    /// The currency of exactly this ISO 4217 code (upper case, nothing around it), as
    /// written in ledger entries; [`Currency::parse`] is for what people type.
    pub fn from_code(code: &str) -> Option<Self> {
        let &[a, b, c] = code.as_bytes() else {
            return None;
        };
        if !(a.is_ascii_uppercase() && b.is_ascii_uppercase() && c.is_ascii_uppercase()) {
            return None;
        }
        let at = BY_LETTERS[letters_index(a, b, c)];
        (usize::from(at) < CURRENCIES.len()).then_some(Currency(at))
    }

    pub fn parse(code: &str) -> Result<Self, MoneyError> {
        let code = code.trim();
        CURRENCIES
            .iter()
            .position(|(c, _)| c.eq_ignore_ascii_case(code))
            .map(Currency::at)
            .ok_or_else(|| MoneyError::UnknownCurrency(code.chars().take(12).collect()))
    }

    /// The currency at `index` in [`CURRENCIES`], which has fewer than 256.
    fn at(index: usize) -> Self {
        Currency(u8::try_from(index).unwrap_or(u8::MAX))
    }

    fn known(self) -> (&'static str, u8) {
        CURRENCIES
            .get(usize::from(self.0))
            .copied()
            .unwrap_or(("XXX", 0))
    }

    pub fn code(self) -> &'static str {
        self.known().0
    }

    pub fn minor_digits(self) -> u8 {
        self.known().1
    }
}

impl fmt::Display for Currency {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// A positive amount of money in minor units (afghani 1250.50 is 125050 AFN-minor).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Amount {
    minor: i64,
    currency: Currency,
}

impl Amount {
    pub fn new(minor: i64, currency: Currency) -> Result<Self, MoneyError> {
        if minor <= 0 {
            return Err(MoneyError::NotPositive);
        }
        Ok(Amount { minor, currency })
    }

    /// Reads a decimal amount as a treasurer types it: `1250`, `1250.5`, `1,250.50`.
    pub fn parse(text: &str, currency: Currency) -> Result<Self, MoneyError> {
        let digits = currency.minor_digits();
        let bad = || MoneyError::BadAmount(text.chars().take(40).collect(), digits);
        let latin = crate::digits::to_latin(text.trim()).replace('\u{066B}', ".");
        // Thousands separators only between groups of three digits: `4,50` is not 450.
        let (whole_part, _) = latin.split_once('.').unwrap_or((&latin, ""));
        let groups: Vec<&str> = whole_part.split([',', '\u{066C}', '_']).collect();
        if groups.len() > 1
            && (groups[0].is_empty()
                || groups[0].len() > 3
                || groups[1..].iter().any(|g| g.len() != 3))
        {
            return Err(bad());
        }
        let cleaned: String = latin
            .chars()
            .filter(|c| *c != ',' && *c != '\u{066C}' && *c != '_')
            .collect();
        let (whole, frac) = cleaned.split_once('.').unwrap_or((&cleaned, ""));
        if whole.is_empty()
            || !whole.bytes().all(|b| b.is_ascii_digit())
            || !frac.bytes().all(|b| b.is_ascii_digit())
        {
            return Err(bad());
        }
        if frac.len() > usize::from(digits) {
            return Err(bad());
        }
        let scale = 10i64.pow(u32::from(digits));
        let whole: i64 = whole.parse().map_err(|_| MoneyError::TooLarge)?;
        let frac_value: i64 = if frac.is_empty() {
            0
        } else {
            frac.parse().map_err(|_| bad())?
        };
        let frac_scaled = frac_value * 10i64.pow(u32::from(digits) - frac.len() as u32);
        let minor = whole
            .checked_mul(scale)
            .and_then(|w| w.checked_add(frac_scaled))
            .ok_or(MoneyError::TooLarge)?;
        Amount::new(minor, currency)
    }

    pub fn minor(self) -> i64 {
        self.minor
    }

    pub fn currency(self) -> Currency {
        self.currency
    }

    /// `1250.50`, with Latin digits and no grouping (pages localize).
    pub fn decimal(self) -> String {
        decimal(self.minor, self.currency)
    }
}

/// A signed number of minor units as a plain decimal in Latin digits: `-1250.50`. Totals
/// and balances use it; pages then group and localize the digits.
pub fn decimal(minor: i64, currency: Currency) -> String {
    let d = u32::from(currency.minor_digits());
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    if d == 0 {
        return format!("{sign}{abs}");
    }
    let scale = 10u64.pow(d);
    format!(
        "{sign}{}.{:0width$}",
        abs / scale,
        abs % scale,
        width = d as usize
    )
}

impl fmt::Display for Amount {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.decimal(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A currency is its place in the list: the list must stay in code order (so currencies
    /// sort as their codes) and short enough for a byte.
    #[test]
    fn the_list_is_in_code_order() {
        assert!(CURRENCIES.windows(2).all(|w| w[0].0 < w[1].0));
        assert!(CURRENCIES.iter().all(|(c, _)| c.len() == 3));
        assert!(CURRENCIES.len() < 256);
        for &(code, digits) in CURRENCIES {
            let c = Currency::from_code(code).unwrap();
            assert_eq!((c.code(), c.minor_digits()), (code, digits));
            assert_eq!(Currency::parse(&code.to_lowercase()), Ok(c));
        }
        assert_eq!(Currency::from_code("afn"), None);
        // Every three capital letters: exactly the listed codes are found, in their place.
        for a in b'A'..=b'Z' {
            for b in b'A'..=b'Z' {
                for c in b'A'..=b'Z' {
                    let code = String::from_utf8(vec![a, b, c]).unwrap();
                    let listed = CURRENCIES.iter().position(|(l, _)| *l == code);
                    assert_eq!(
                        Currency::from_code(&code),
                        listed.map(Currency::at),
                        "{code}"
                    );
                }
            }
        }
        for odd in ["", "AF", "AFNN", "AF1", "@FN", "ÄFN"] {
            assert_eq!(Currency::from_code(odd), None, "{odd}");
        }
        assert!(Currency::parse("AFN").unwrap() < Currency::parse("USD").unwrap());
    }

    #[test]
    fn separators_only_between_groups_of_three() {
        let afn = Currency::parse("AFN").unwrap();
        assert_eq!(Amount::parse("1,250.50", afn).unwrap().minor(), 125_050);
        assert_eq!(Amount::parse("۱٬۲۵۰٫۵", afn).unwrap().minor(), 125_050);
        assert_eq!(
            Amount::parse("12,500,000", afn).unwrap().minor(),
            1_250_000_000
        );
        for bad in ["4,50", "1,25,000", ",500", "1234,567", "4,5000"] {
            assert!(Amount::parse(bad, afn).is_err(), "{bad}");
        }
    }
    use proptest::prelude::*;

    #[test]
    fn parsing_amounts() {
        let afn = Currency::parse("afn").unwrap();
        assert_eq!(Amount::parse("1,250.5", afn).unwrap().minor(), 125_050);
        assert_eq!(Amount::parse("۱۲۵۰٫۵۰", afn).unwrap().minor(), 125_050);
        assert_eq!(
            Amount::parse("7", Currency::parse("JPY").unwrap())
                .unwrap()
                .minor(),
            7
        );
        assert_eq!(
            Amount::parse("1.005", Currency::parse("KWD").unwrap())
                .unwrap()
                .decimal(),
            "1.005"
        );
        assert!(matches!(
            Amount::parse("1.234", afn),
            Err(MoneyError::BadAmount(..))
        ));
        assert!(matches!(
            Amount::parse("-5", afn),
            Err(MoneyError::BadAmount(..))
        ));
        assert_eq!(Amount::parse("0", afn), Err(MoneyError::NotPositive));
        assert_eq!(
            Amount::parse("99999999999999999999", afn),
            Err(MoneyError::TooLarge)
        );
        assert!(matches!(
            Currency::parse("BTC"),
            Err(MoneyError::UnknownCurrency(_))
        ));
        assert_eq!(
            Amount::new(125_050, afn).unwrap().to_string(),
            "1250.50 AFN"
        );
    }

    proptest! {
        #[test]
        fn decimal_round_trips(minor in 1i64..1_000_000_000_000, code in proptest::sample::select(vec!["AFN", "JPY", "KWD"])) {
            let c = Currency::parse(code).unwrap();
            let a = Amount::new(minor, c).unwrap();
            prop_assert_eq!(Amount::parse(&a.decimal(), c), Ok(a));
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = Amount::parse(&s, Currency::parse("AFN").unwrap());
        }
    }
}
