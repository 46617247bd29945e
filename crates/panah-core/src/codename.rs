//! Senders' codenames: the only thing a sender keeps, and the only way back to replies.
//!
//! A codename is seven groups of five decimal digits. In each group four digits are random
//! and the fifth is a check digit: the Damm check digit of the group's position (1–7)
//! followed by its four random digits. So a codename carries 28 random digits (about 93
//! bits), and the hub can tell a mistyped codename from an unknown one before it looks
//! anything up:
//!
//! - every single wrong digit is caught (Damm's quasigroup catches all single substitutions),
//!   and the group it is in is named;
//! - every swap of two neighbouring digits is caught: inside a group Damm catches all
//!   adjacent transpositions; across two groups the swap changes one digit of each;
//! - any reordering of the groups is caught, because a group's check digit depends on its
//!   position: the same four digits at another position need another check digit
//!   (a quasigroup's rows and columns are permutations), and a reordering moves at least
//!   two groups.
//!
//! Codenames given out before check digits existed (28 digits, seven groups of four) keep
//! working: they are read as they always were. They expire with their conversations.
//!
//! Codenames are accepted back in Persian, Arabic-Indic or Latin digits with any spaces,
//! dashes or other separators. The hub stores neither the codename nor anything that could
//! be reversed to it: from the codename and a per-hub secret, HKDF-SHA256 derives a lookup
//! key (stored) and the sender's reply key pair (only the public half is stored). With 93
//! random bits a fast keyed derivation is enough; a slow hash would only make a flood of
//! senders expensive for the hub.

use std::fmt;
use std::str::FromStr;

use hkdf::Hkdf;
use sha2::Sha256;

use crate::digits::{digit_value, CodeError, DigitCode, MAX_TYPED_CHARS};
use crate::Slug;

/// Groups in a codename.
pub const GROUPS: usize = 7;
/// Digits in a group: four random, one check digit.
pub const GROUP: usize = 5;
/// Digits in a codename.
pub const DIGITS: usize = GROUPS * GROUP;
/// Random digits in a codename (about 93 bits).
pub const RANDOM_DIGITS: usize = GROUPS * (GROUP - 1);
/// Digits in a codename given out before check digits (seven groups of four).
pub const LEGACY_DIGITS: usize = 28;
const LEGACY_GROUP: usize = 4;

#[derive(Clone, PartialEq, Eq)]
enum Digits {
    Checked(DigitCode<DIGITS>),
    Legacy(DigitCode<LEGACY_DIGITS>),
}

#[derive(Clone, PartialEq, Eq)]
pub struct Codename(Digits);

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CodenameError {
    #[error("a codename has {DIGITS} digits; this one has {0}")]
    Length(usize),
    #[error("a codename has only digits, spaces and dashes")]
    Character,
    /// These groups (numbered from 1, in order) fail their check digit: a digit is wrong,
    /// two digits are swapped, or the groups are out of order.
    #[error("group {} of the codename has a typo", .0.iter().map(|g| g.to_string()).collect::<Vec<_>>().join(", "))]
    Typo(Vec<usize>),
}

/// The Damm quasigroup of order 10 (totally anti-symmetric, zero diagonal).
const DAMM: [[u8; 10]; 10] = [
    [0, 3, 1, 7, 5, 9, 8, 6, 4, 2],
    [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
    [4, 2, 0, 6, 8, 7, 1, 3, 5, 9],
    [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
    [6, 1, 2, 3, 0, 4, 5, 9, 7, 8],
    [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
    [5, 8, 6, 9, 7, 2, 0, 1, 3, 4],
    [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
    [9, 4, 3, 8, 6, 1, 7, 2, 0, 5],
    [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];

/// Runs the Damm quasigroup over the group's position (1-based) and its digits: the check
/// digit that makes this zero, or zero for a group that carries a right check digit.
fn damm(position: usize, digits: &[u8]) -> u8 {
    let start = DAMM[0][position % 10];
    digits
        .iter()
        .fold(start, |acc, &d| DAMM[usize::from(acc)][usize::from(d % 10)])
}

impl Codename {
    pub fn generate() -> Self {
        Self::from_random(DigitCode::<RANDOM_DIGITS>::generate().digits())
    }

    /// The codename for these random digits, with its check digits added.
    fn from_random(random: [u8; RANDOM_DIGITS]) -> Self {
        let mut all = [0u8; DIGITS];
        for (g, chunk) in random.chunks(GROUP - 1).enumerate() {
            let group = &mut all[g * GROUP..(g + 1) * GROUP];
            group[..GROUP - 1].copy_from_slice(chunk);
            group[GROUP - 1] = damm(g + 1, chunk);
        }
        Codename(Digits::Checked(DigitCode::from_digits(all)))
    }

    /// Reads a codename as a person typed it, in any digits with any separators, and
    /// checks every group's check digit.
    pub fn parse(input: &str) -> Result<Self, CodenameError> {
        let count = input
            .chars()
            .take(MAX_TYPED_CHARS)
            .filter(|c| digit_value(*c).is_some())
            .count();
        let read = |e: CodeError| match e {
            CodeError::Letter => CodenameError::Character,
            CodeError::Length(n) => CodenameError::Length(n),
        };
        if count == LEGACY_DIGITS {
            return DigitCode::parse(input)
                .map(|d| Codename(Digits::Legacy(d)))
                .map_err(read);
        }
        let code = DigitCode::<DIGITS>::parse(input).map_err(read)?;
        let wrong: Vec<usize> = code
            .digits()
            .chunks(GROUP)
            .enumerate()
            .filter(|(g, group)| damm(g + 1, group) != 0)
            .map(|(g, _)| g + 1)
            .collect();
        if wrong.is_empty() {
            Ok(Codename(Digits::Checked(code)))
        } else {
            Err(CodenameError::Typo(wrong))
        }
    }

    /// The groups in order, in Latin digits. Pages localize the digits.
    pub fn groups(&self) -> Vec<String> {
        self.grouped().split(' ').map(str::to_owned).collect()
    }

    /// Latin digits in groups: `12345 67890 …`. Pages localize the digits.
    pub fn grouped(&self) -> String {
        match &self.0 {
            Digits::Checked(d) => d.grouped(GROUP),
            Digits::Legacy(d) => d.grouped(LEGACY_GROUP),
        }
    }

    fn ascii(&self) -> Vec<u8> {
        match &self.0 {
            Digits::Checked(d) => d.ascii().to_vec(),
            Digits::Legacy(d) => d.ascii().to_vec(),
        }
    }

    /// The keys a hub derives from a codename for one collective.
    pub fn derive(&self, hub_secret: &[u8], collective: &Slug) -> DerivedKeys {
        let hk = Hkdf::<Sha256>::new(Some(hub_secret), &self.ascii());
        let mut lookup = [0u8; 32];
        let mut reply = [0u8; 32];
        let info = |what: &str| format!("panah codename v1 {what} {collective}");
        // Output lengths of 32 bytes are always valid for HKDF-SHA256.
        let _ = hk.expand(info("lookup").as_bytes(), &mut lookup);
        let _ = hk.expand(info("reply").as_bytes(), &mut reply);
        DerivedKeys {
            lookup,
            reply: reply_identity(&reply),
        }
    }
}

/// Keys derived from a codename. The reply identity lives only for one request.
#[allow(missing_debug_implementations)]
pub struct DerivedKeys {
    /// Stored: finds the conversation.
    pub lookup: [u8; 32],
    /// Never stored: decrypts replies. Its public half is stored.
    pub reply: age::x25519::Identity,
}

fn reply_identity(secret: &[u8; 32]) -> age::x25519::Identity {
    // age identities are Bech32 with the HRP "age-secret-key-", upper case.
    let hrp = bech32::Hrp::parse_unchecked("age-secret-key-");
    let text = bech32::encode_upper::<bech32::Bech32>(hrp, secret).unwrap_or_default();
    age::x25519::Identity::from_str(&text)
        .unwrap_or_else(|_| unreachable!("a 32-byte key encodes to a valid identity"))
}

impl fmt::Debug for Codename {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Codename(…)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn typed(digits: &[u8]) -> String {
        digits.iter().map(|d| char::from(b'0' + d)).collect()
    }

    fn all_digits(c: &Codename) -> Vec<u8> {
        c.ascii().iter().map(|b| b - b'0').collect()
    }

    #[test]
    fn any_digits_any_separators() {
        let c = Codename::generate();
        let g = c.grouped();
        assert_eq!(g.len(), DIGITS + GROUPS - 1);
        assert_eq!(c.groups().len(), GROUPS);
        assert_eq!(Codename::parse(&g), Ok(c.clone()));
        let persian = crate::digits::to_persian(&g).replace(' ', "-");
        assert_eq!(Codename::parse(&persian), Ok(c.clone()));
        let arabic: String = g
            .chars()
            .map(|ch| {
                ch.to_digit(10)
                    .map(|d| char::from_u32(0x0660 + d).unwrap())
                    .unwrap_or('\u{060C}')
            })
            .collect();
        assert_eq!(Codename::parse(&arabic), Ok(c.clone()));
        assert_eq!(Codename::parse("1234"), Err(CodenameError::Length(4)));
        assert_eq!(
            Codename::parse(&format!("{g}a")),
            Err(CodenameError::Character)
        );
        assert_eq!(format!("{c:?}"), "Codename(…)", "never printed by accident");
    }

    #[test]
    fn damm_known_answer() {
        // The textbook example: 572 has Damm check digit 4, and 5724 checks to zero.
        assert_eq!(damm(5, &[7, 2]), 4);
        assert_eq!(damm(5, &[7, 2, 4]), 0);
        // 1234 at position 1: the group 12345 would need check digit damm(1, 1234).
        let c = Codename::from_random([1, 2, 3, 4].repeat(GROUPS).try_into().unwrap());
        let first = &all_digits(&c)[..GROUP];
        assert_eq!(&first[..4], &[1, 2, 3, 4]);
        assert_eq!(first[4], damm(1, &[1, 2, 3, 4]));
        assert_eq!(damm(1, first), 0);
    }

    #[test]
    fn codenames_given_out_before_check_digits_still_work() {
        let old = "1234 5678 9012 3456 7890 1234 5678";
        let c = Codename::parse(old).expect("a 28-digit codename is still read");
        assert_eq!(c.grouped(), old);
        // Its keys are derived exactly as they were: HKDF over the 28 ASCII digits.
        let slug = Slug::parse("alpha").unwrap();
        let hk = Hkdf::<Sha256>::new(Some(b"secret"), old.replace(' ', "").as_bytes());
        let mut lookup = [0u8; 32];
        hk.expand(b"panah codename v1 lookup alpha", &mut lookup)
            .unwrap();
        assert_eq!(c.derive(b"secret", &slug).lookup, lookup);
    }

    #[test]
    fn derivation_depends_on_everything() {
        let c = Codename::generate();
        let a = Slug::parse("alpha").unwrap();
        let b = Slug::parse("bravo").unwrap();
        let k1 = c.derive(b"secret-1", &a);
        let k2 = c.derive(b"secret-1", &a);
        assert_eq!(k1.lookup, k2.lookup);
        assert_eq!(
            k1.reply.to_public().to_string(),
            k2.reply.to_public().to_string()
        );
        assert_ne!(c.derive(b"secret-2", &a).lookup, k1.lookup);
        assert_ne!(c.derive(b"secret-1", &b).lookup, k1.lookup);
        assert_ne!(
            Codename::generate().derive(b"secret-1", &a).lookup,
            k1.lookup
        );
    }

    fn random_digits() -> impl Strategy<Value = [u8; RANDOM_DIGITS]> {
        proptest::collection::vec(0u8..10, RANDOM_DIGITS)
            .prop_map(|v| v.try_into().unwrap_or([0; RANDOM_DIGITS]))
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,400}") {
            let _ = Codename::parse(&s);
        }

        /// Every single wrong digit, at every position, is caught, and its group named.
        #[test]
        fn every_single_wrong_digit_is_caught(random in random_digits()) {
            let c = Codename::from_random(random);
            let digits = all_digits(&c);
            prop_assert_eq!(Codename::parse(&typed(&digits)), Ok(c.clone()));
            for i in 0..DIGITS {
                for wrong in 0..10 {
                    if wrong == digits[i] {
                        continue;
                    }
                    let mut typo = digits.clone();
                    typo[i] = wrong;
                    prop_assert_eq!(
                        Codename::parse(&typed(&typo)),
                        Err(CodenameError::Typo(vec![i / GROUP + 1]))
                    );
                }
            }
        }

        /// Every swap of two neighbouring (different) digits is caught, within a group
        /// and across two groups, and the groups it touched are named.
        #[test]
        fn every_neighbour_swap_is_caught(random in random_digits()) {
            let digits = all_digits(&Codename::from_random(random));
            for i in 0..DIGITS - 1 {
                if digits[i] == digits[i + 1] {
                    continue;
                }
                let mut swapped = digits.clone();
                swapped.swap(i, i + 1);
                let Err(CodenameError::Typo(groups)) = Codename::parse(&typed(&swapped)) else {
                    return Err(TestCaseError::fail(format!("swap at {i} not caught")));
                };
                let touched: Vec<usize> = if i / GROUP == (i + 1) / GROUP {
                    vec![i / GROUP + 1]
                } else {
                    vec![i / GROUP + 1, i / GROUP + 2]
                };
                prop_assert_eq!(groups, touched);
            }
        }

        /// Any reordering of the groups is caught.
        #[test]
        fn any_reordering_of_groups_is_caught(
            random in random_digits(),
            order in Just((0..GROUPS).collect::<Vec<_>>()).prop_shuffle(),
        ) {
            let c = Codename::from_random(random);
            let digits = all_digits(&c);
            let reordered: Vec<u8> = order
                .iter()
                .flat_map(|&g| digits[g * GROUP..(g + 1) * GROUP].to_vec())
                .collect();
            let identity = order.iter().enumerate().all(|(i, &g)| i == g);
            if identity || reordered == digits {
                prop_assert_eq!(Codename::parse(&typed(&reordered)), Ok(c));
            } else {
                let moved: Vec<usize> = (0..GROUPS)
                    .filter(|&i| reordered[i * GROUP..(i + 1) * GROUP] != digits[i * GROUP..(i + 1) * GROUP])
                    .map(|i| i + 1)
                    .collect();
                prop_assert_eq!(
                    Codename::parse(&typed(&reordered)),
                    Err(CodenameError::Typo(moved))
                );
            }
        }
    }

    /// The groups copied in right-to-left order, as a Dari reader easily does.
    #[test]
    fn groups_read_right_to_left_are_caught() {
        for _ in 0..100 {
            let c = Codename::generate();
            let mut groups = c.groups();
            groups.reverse();
            match Codename::parse(&groups.join(" ")) {
                Err(CodenameError::Typo(g)) => assert!(!g.is_empty()),
                other => panic!("reversed groups were accepted: {other:?}"),
            }
        }
    }
}
