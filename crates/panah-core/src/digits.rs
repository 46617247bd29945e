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
