//! Digits as people type them.
//!
//! Afghans type numbers in Persian digits (۰۱۲…), Arabic-Indic digits (٠١٢…) or Latin
//! digits, often mixed on one phone. Anything Panah asks a person to type back — a codename,
//! a receipt code — is accepted in any of them.

/// The value of a decimal digit in any of the three scripts, or `None`.
pub fn digit_value(c: char) -> Option<u8> {
    let v = match c {
        '0'..='9' => c as u32 - '0' as u32,
        '\u{06F0}'..='\u{06F9}' => c as u32 - 0x06F0,
        '\u{0660}'..='\u{0669}' => c as u32 - 0x0660,
        _ => return None,
    };
    u8::try_from(v).ok()
}

/// Why a typed code was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CodeError {
    /// A letter among the digits.
    Letter,
    /// This many digits instead of the code's length.
    Length(usize),
}

/// The most characters read from a typed code.
pub const MAX_TYPED_CHARS: usize = 256;

/// A code of `N` random decimal digits that a person copies down and types back later:
/// codenames and receipt codes. Never printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct DigitCode<const N: usize>([u8; N]);

impl<const N: usize> std::fmt::Debug for DigitCode<N> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DigitCode<{N}>(…)")
    }
}

impl<const N: usize> DigitCode<N> {
    pub fn generate() -> Self {
        use rand::Rng;
        let mut rng = rand::rngs::OsRng;
        DigitCode(std::array::from_fn(|_| rng.gen_range(0..10)))
    }

    /// Reads a code as a person typed it. Separators (spaces, dashes, dots, commas, Arabic
    /// and Persian punctuation, invisible marks) are ignored; a letter is an error.
    pub fn parse(input: &str) -> Result<Self, CodeError> {
        let mut digits = Vec::with_capacity(N);
        for c in input.chars().take(MAX_TYPED_CHARS) {
            if let Some(v) = digit_value(c) {
                digits.push(v);
            } else if c.is_alphabetic() {
                return Err(CodeError::Letter);
            }
        }
        if input.chars().nth(MAX_TYPED_CHARS).is_some() {
            return Err(CodeError::Length(
                input.chars().filter(|c| digit_value(*c).is_some()).count(),
            ));
        }
        let array: [u8; N] = digits
            .as_slice()
            .try_into()
            .map_err(|_| CodeError::Length(digits.len()))?;
        Ok(DigitCode(array))
    }

    /// A code made of these digit values (each 0–9).
    pub fn from_digits(digits: [u8; N]) -> Self {
        DigitCode(digits.map(|d| d % 10))
    }

    /// The digit values, each 0–9.
    pub fn digits(&self) -> [u8; N] {
        self.0
    }

    /// Latin digits in groups of `group`: `1234 5678 …`. Pages localize the digits.
    pub fn grouped(&self, group: usize) -> String {
        let mut out = String::with_capacity(N + N / group.max(1));
        for (i, d) in self.0.iter().enumerate() {
            if i > 0 && i % group.max(1) == 0 {
                out.push(' ');
            }
            out.push(char::from(b'0' + d));
        }
        out
    }

    /// The digits as ASCII, for hashing and key derivation.
    pub fn ascii(&self) -> [u8; N] {
        self.0.map(|d| b'0' + d)
    }
}

/// What a person typed into a code's field, cut to what the code reader reads
/// ([`MAX_TYPED_CHARS`]), to give back in the field after a refusal so it can be mended.
pub fn typed_back(input: &str) -> String {
    input.chars().take(MAX_TYPED_CHARS).collect()
}

/// Rewrites every digit to Latin, leaving other characters alone.
pub fn to_latin(s: &str) -> String {
    s.chars()
        .map(|c| match digit_value(c) {
            Some(v) => char::from(b'0' + v),
            None => c,
        })
        .collect()
}

/// Rewrites Latin digits to Persian (Extended Arabic-Indic) digits, as Dari and Pashto
/// text uses them.
pub fn to_persian(s: &str) -> String {
    s.chars()
        .map(|c| match c {
            '0'..='9' => char::from_u32(0x06F0 + (c as u32 - '0' as u32)).unwrap_or(c),
            _ => c,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn mixed_digits() {
        assert_eq!(to_latin("۱۲٣4-٥"), "1234-5");
        assert_eq!(to_persian("2021-08-15"), "۲۰۲۱-۰۸-۱۵");
    }

    proptest! {
        #[test]
        fn persian_round_trips(n in any::<u64>()) {
            let s = n.to_string();
            prop_assert_eq!(to_latin(&to_persian(&s)), s);
        }
    }
}
