//! Donor receipt codes.
//!
//! A receipt code is 20 random digits (about 66 bits) in five groups of four, made on the
//! coordinator's machine and given to the donor. Only its hash goes into the public entry,
//! so the donor can find their gift without their name being anywhere. The code is accepted
//! back in Persian, Arabic-Indic or Latin digits with any separators, like a codename.

use sha2::{Digest, Sha256};

use crate::digits::{CodeError, DigitCode};

pub const DIGITS: usize = 20;
pub const GROUP: usize = 4;

#[derive(Clone, PartialEq, Eq)]
pub struct ReceiptCode(DigitCode<DIGITS>);

impl std::fmt::Debug for ReceiptCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ReceiptCode(…)")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiptError {
    #[error("a receipt code has {DIGITS} digits; this one has {0}")]
    Length(usize),
    #[error("a receipt code has only digits, spaces and dashes")]
    Character,
}

impl ReceiptCode {
    pub fn generate() -> Self {
        ReceiptCode(DigitCode::generate())
    }

    /// Reads a receipt code as the donor typed it, in any digits with any separators.
    pub fn parse(input: &str) -> Result<Self, ReceiptError> {
        DigitCode::parse(input)
            .map(ReceiptCode)
            .map_err(|e| match e {
                CodeError::Letter => ReceiptError::Character,
                CodeError::Length(n) => ReceiptError::Length(n),
            })
    }

    /// Latin digits in groups: `1234 5678 …`. Pages localize the digits.
    pub fn grouped(&self) -> String {
        self.0.grouped(GROUP)
    }

    /// What goes into the entry: SHA-256 over a domain label and the code's Latin digits.
    pub fn commitment(&self) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(b"panah-receipt 1\n");
        h.update(self.0.ascii());
        h.finalize().into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn codes_read_back_in_any_digits() {
        let code = ReceiptCode::generate();
        let grouped = code.grouped();
        assert_eq!(grouped.len(), DIGITS + DIGITS / GROUP - 1);
        let persian = crate::digits::to_persian(&grouped).replace(' ', "-");
        assert_eq!(ReceiptCode::parse(&persian), Ok(code.clone()));
        assert_eq!(
            ReceiptCode::parse(&persian).unwrap().commitment(),
            code.commitment()
        );
        assert_eq!(ReceiptCode::parse("1234"), Err(ReceiptError::Length(4)));
        assert_eq!(
            ReceiptCode::parse("1234 abcd 1234 1234 1234"),
            Err(ReceiptError::Character)
        );
        assert!(!format!("{code:?}").contains(&grouped[..4]));
    }

    #[test]
    fn the_commitment_is_fixed() {
        // SHA-256("panah-receipt 1\n01234567890123456789"), computed independently with
        // `printf 'panah-receipt 1\n01234567890123456789' | sha256sum`.
        let code = ReceiptCode::parse("0123 4567 8901 2345 6789").unwrap();
        assert_eq!(crate::hex(&code.commitment()), EXPECTED);
    }

    const EXPECTED: &str = "2073cf3457c25cfcd68ec51b6f1a7c3d569ff345d3d2ec68cbd5911764705e71";

    proptest! {
        #[test]
        fn a_read_code_round_trips_and_a_refusal_is_right(s in "[0-9۰-۹ a-]{0,40}") {
            let digits = s.chars().filter(|c| crate::digits::digit_value(*c).is_some()).count();
            match ReceiptCode::parse(&s) {
                Ok(code) => {
                    prop_assert_eq!(digits, DIGITS);
                    prop_assert_eq!(ReceiptCode::parse(&code.grouped()), Ok(code));
                }
                Err(ReceiptError::Character) => prop_assert!(s.contains('a')),
                Err(ReceiptError::Length(n)) => {
                    prop_assert_eq!(n, digits);
                    prop_assert_ne!(n, DIGITS);
                }
            }
        }
    }
}
