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
        Self::from_random_bytes(|pool| rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, pool))
    }

    /// Digits from random bytes, read 64 at a time (one call to the system's generator for
    /// a whole code, where a call per digit cost a codename 28 system calls): a byte below
    /// 250 gives a digit (250 is 25 × 10, so every digit is equally likely), a byte above
    /// is skipped.
    fn from_random_bytes(mut fill: impl FnMut(&mut [u8; 64])) -> Self {
        use zeroize::Zeroize;
        let mut out = [0u8; N];
        let mut pool = [0u8; 64];
        let mut filled = 0;
        while filled < N {
            fill(&mut pool);
            for &b in pool.iter().filter(|&&b| b < 250) {
                if filled == N {
                    break;
                }
                out[filled] = b % 10;
                filled += 1;
            }
        }
        pool.zeroize();
        DigitCode(out)
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

    /// Bytes of 250 and above are skipped, the rest give their last digit, and the pool is
    /// read again when it runs out.
    #[test]
    fn digits_come_from_bytes_below_250() {
        let mut calls = 0;
        let code = DigitCode::<28>::from_random_bytes(|pool| {
            calls += 1;
            // 60 bytes that are skipped, then 249, 13, 250, 251: two digits a pool.
            pool.fill(if calls < 3 { 255 } else { 250 });
            pool[60..].copy_from_slice(&[249, 13, 250, 251]);
        });
        assert_eq!(calls, 14);
        assert!(
            code.digits().chunks(2).all(|d| d == [9, 3]),
            "{:?}",
            code.digits()
        );
        let code = DigitCode::<28>::from_random_bytes(|pool| {
            for (i, b) in pool.iter_mut().enumerate() {
                *b = i as u8 * 3;
            }
        });
        let want: Vec<u8> = (0..28).map(|i| (i * 3 % 10) as u8).collect();
        assert_eq!(code.digits().to_vec(), want);
    }

    /// Codes from the system's generator use every digit about equally often.
    #[test]
    fn generated_digits_are_spread_evenly() {
        let mut seen = [0u32; 10];
        for _ in 0..1000 {
            for d in DigitCode::<28>::generate().digits() {
                seen[usize::from(d)] += 1;
            }
        }
        // 28,000 digits: 2,800 each expected; 2,500 and 3,100 are more than five standard
        // deviations away.
        assert!(
            seen.iter().all(|&n| (2_500..3_100).contains(&n)),
            "{seen:?}"
        );
    }

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
