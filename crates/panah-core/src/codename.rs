//! Senders' codenames: the only thing a sender keeps, and the only way back to replies.
//!
//! A codename is seven groups of five decimal digits. In each group four digits are random
//! and the fifth is a check digit: the Damm check digit of the group's *start digit*
//! followed by its four random digits. Each hub derives seven distinct start digits, one
//! per position, from its secret ([`CheckKey`]). So a codename carries 28 random digits
//! (about 93 bits), and the hub can tell a mistyped codename from an unknown one before it
//! looks anything up:
//!
//! - every single wrong digit is caught (Damm's quasigroup catches all single substitutions),
//!   and the group it is in is named;
//! - every swap of two neighbouring digits is caught: inside a group Damm catches all
//!   adjacent transpositions; across two groups the swap changes one digit of each;
//! - any reordering of the groups is caught, because a group's check digit depends on its
//!   position's start digit, and the seven are distinct: the same four digits at another
//!   position need another check digit (a quasigroup's rows and columns are
//!   permutations), and a reordering moves at least two groups.
//!
//! The start digits are secret so that a 35-digit number found on someone's paper or phone
//! cannot be recognised as a codename by checking it: each group fits exactly one start
//! digit, and random digits fit *some* set of seven distinct ones about 6% of the time
//! (10·9·…·4 / 10⁷), so passing proves little without the hub's secret.
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
    /// Typed as seven groups, but this one (numbered from 1) has a digit too many or too
    /// few.
    #[error("group {0} of the codename does not have {GROUP} digits")]
    GroupLength(usize),
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

/// Runs the Damm quasigroup over a start digit and then the group's digits: the check
/// digit that makes this zero, or zero for a group that carries a right check digit.
fn damm(start: u8, digits: &[u8]) -> u8 {
    let first = DAMM[0][usize::from(start % 10)];
    digits
        .iter()
        .fold(first, |acc, &d| DAMM[usize::from(acc)][usize::from(d % 10)])
}

/// A hub's codename secret: what lookup keys, reply keys and check digits are derived
/// under. Its `Debug` shows nothing, so it never reaches a log.
#[derive(Clone, PartialEq, Eq)]
pub struct HubSecret(Vec<u8>);

impl HubSecret {
    pub fn new(bytes: Vec<u8>) -> Self {
        HubSecret(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for HubSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("HubSecret(…)")
    }
}

/// A hub's seven start digits for the check digits, one per group position, all distinct.
/// Derived from the hub's secret; never shown.
#[derive(Clone, PartialEq, Eq)]
pub struct CheckKey([u8; GROUPS]);

impl fmt::Debug for CheckKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("CheckKey(…)")
    }
}

impl CheckKey {
    /// The key of a hub: HKDF-SHA256 over the hub's secret shuffles the ten digits, and the
    /// first seven are the start digits.
    pub fn derive(hub_secret: &[u8]) -> Self {
        let hk = Hkdf::<Sha256>::new(Some(hub_secret), b"panah codename check digits v1");
        let mut bytes = [0u8; 32];
        // 32 bytes is always a valid HKDF-SHA256 output length.
        let _ = hk.expand(b"start digits", &mut bytes);
        let mut digits: [u8; 10] = std::array::from_fn(|i| i as u8);
        // Fisher–Yates with one byte per step (the slight bias does not matter: any
        // permutation the secret picks is as good as another).
        for (i, b) in (1..10).rev().zip(bytes) {
            digits.swap(i, usize::from(b) % (i + 1));
        }
        let mut starts = [0u8; GROUPS];
        starts.copy_from_slice(&digits[..GROUPS]);
        CheckKey(starts)
    }
}

impl Codename {
    /// A new codename, with check digits under the hub's key.
    pub fn generate(key: &CheckKey) -> Self {
        Self::from_random(DigitCode::<RANDOM_DIGITS>::generate().digits(), key)
    }

    /// The codename for these random digits, with its check digits added.
    fn from_random(random: [u8; RANDOM_DIGITS], key: &CheckKey) -> Self {
        let mut all = [0u8; DIGITS];
        for (g, chunk) in random.chunks(GROUP - 1).enumerate() {
            let group = &mut all[g * GROUP..(g + 1) * GROUP];
            group[..GROUP - 1].copy_from_slice(chunk);
            group[GROUP - 1] = damm(key.0[g], chunk);
        }
        Codename(Digits::Checked(DigitCode::from_digits(all)))
    }

    /// Reads a codename as a person typed it, in any digits with any separators, and
    /// checks every group's check digit under the hub's key.
    pub fn parse(input: &str, key: &CheckKey) -> Result<Self, CodenameError> {
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
        if count != DIGITS {
            // Typed in seven groups with one too short or too long: name that group.
            let mut runs = Vec::with_capacity(GROUPS);
            let (mut run, mut letters) = (0usize, false);
            for c in input.chars().take(MAX_TYPED_CHARS) {
                if digit_value(c).is_some() {
                    run += 1;
                    continue;
                }
                letters |= c.is_alphabetic();
                if run > 0 {
                    runs.push(run);
                    run = 0;
                }
            }
            if run > 0 {
                runs.push(run);
            }
            if runs.len() == GROUPS && !letters {
                if let Some(g) = runs.iter().position(|n| *n != GROUP) {
                    return Err(CodenameError::GroupLength(g + 1));
                }
            }
        }
        let code = DigitCode::<DIGITS>::parse(input).map_err(read)?;
        let wrong: Vec<usize> = code
            .digits()
            .chunks(GROUP)
            .enumerate()
            .filter(|(g, group)| damm(key.0[*g], group) != 0)
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

    fn key() -> CheckKey {
        CheckKey::derive(b"a hub's secret")
    }

    fn typed(digits: &[u8]) -> String {
        digits.iter().map(|d| char::from(b'0' + d)).collect()
    }

    fn all_digits(c: &Codename) -> Vec<u8> {
        c.ascii().iter().map(|b| b - b'0').collect()
    }

    #[test]
    fn any_digits_any_separators() {
        let k = key();
        let c = Codename::generate(&k);
        let g = c.grouped();
        assert_eq!(g.len(), DIGITS + GROUPS - 1);
        assert_eq!(c.groups().len(), GROUPS);
        assert_eq!(Codename::parse(&g, &k), Ok(c.clone()));
        let persian = crate::digits::to_persian(&g).replace(' ', "-");
        assert_eq!(Codename::parse(&persian, &k), Ok(c.clone()));
        let arabic: String = g
            .chars()
            .map(|ch| {
                ch.to_digit(10)
                    .map(|d| char::from_u32(0x0660 + d).unwrap())
                    .unwrap_or('\u{060C}')
            })
            .collect();
        assert_eq!(Codename::parse(&arabic, &k), Ok(c.clone()));
        assert_eq!(Codename::parse("1234", &k), Err(CodenameError::Length(4)));
        // A digit left out of group 4, the groups typed apart: that group is named.
        let mut short: Vec<String> = c.groups();
        short[3].pop();
        assert_eq!(
            Codename::parse(&short.join(" "), &k),
            Err(CodenameError::GroupLength(4))
        );
        assert_eq!(
            Codename::parse(&short.concat(), &k),
            Err(CodenameError::Length(DIGITS - 1)),
            "typed in one run, only the count is known"
        );
        assert_eq!(
            Codename::parse(&format!("{g}a"), &k),
            Err(CodenameError::Character)
        );
        assert_eq!(format!("{c:?}"), "Codename(…)", "never printed by accident");
        assert_eq!(format!("{k:?}"), "CheckKey(…)");
    }

    /// The table is the Damm quasigroup: every row and column a permutation, a zero
    /// diagonal, and weakly totally anti-symmetric, which is what makes every single
    /// substitution and every neighbouring swap detectable. Checked exhaustively.
    #[test]
    fn the_table_is_a_totally_anti_symmetric_quasigroup() {
        for (i, table_row) in DAMM.iter().enumerate() {
            let mut row: Vec<u8> = table_row.to_vec();
            let mut col: Vec<u8> = DAMM.iter().map(|r| r[i]).collect();
            row.sort_unstable();
            col.sort_unstable();
            assert_eq!(row, (0..10).collect::<Vec<u8>>(), "row {i}");
            assert_eq!(col, (0..10).collect::<Vec<u8>>(), "column {i}");
            assert_eq!(table_row[i], 0);
        }
        for c in 0..10 {
            for x in 0..10 {
                for y in 0..10 {
                    if x != y {
                        let xy = DAMM[usize::from(DAMM[c][x])][y];
                        let yx = DAMM[usize::from(DAMM[c][y])][x];
                        assert_ne!(xy, yx, "c={c} x={x} y={y}");
                    }
                }
            }
        }
        // The textbook example: 572 has check digit 4, and 5724 checks to zero.
        assert_eq!(damm(5, &[7, 2]), 4);
        assert_eq!(damm(5, &[7, 2, 4]), 0);
    }

    /// Every group of four digits, under every start digit: every single wrong digit and
    /// every neighbouring swap in the five digits is caught, and the same five digits fail
    /// under every other start digit (a group moved to another position).
    #[test]
    fn every_group_under_every_start_catches_every_typo() {
        for start in 0..10u8 {
            for n in 0..10_000u32 {
                let mut g = [0u8; GROUP];
                for (i, d) in g[..GROUP - 1].iter_mut().enumerate() {
                    *d = ((n / 10u32.pow(3 - i as u32)) % 10) as u8;
                }
                g[GROUP - 1] = damm(start, &g[..GROUP - 1]);
                assert_eq!(damm(start, &g), 0);
                for i in 0..GROUP {
                    for wrong in (0..10).filter(|w| *w != g[i]) {
                        let mut t = g;
                        t[i] = wrong;
                        assert_ne!(damm(start, &t), 0, "{g:?} digit {i} → {wrong}");
                    }
                    if i + 1 < GROUP && g[i] != g[i + 1] {
                        let mut t = g;
                        t.swap(i, i + 1);
                        assert_ne!(damm(start, &t), 0, "{g:?} swap {i}");
                    }
                }
                for other in (0..10).filter(|o| *o != start) {
                    assert_ne!(damm(other, &g), 0, "{g:?} at start {other}");
                }
            }
        }
    }

    #[test]
    fn a_hub_key_is_seven_distinct_digits_from_its_secret() {
        for secret in [&b"one"[..], b"two", b"", &[0xff; 64]] {
            let k = CheckKey::derive(secret);
            let mut seen = k.0.to_vec();
            seen.sort_unstable();
            seen.dedup();
            assert_eq!(seen.len(), GROUPS, "distinct: {:?}", k.0);
            assert!(k.0.iter().all(|d| *d < 10));
            assert_eq!(CheckKey::derive(secret), k, "deterministic");
        }
        assert_ne!(CheckKey::derive(b"one"), CheckKey::derive(b"two"));
        // A codename of one hub is no codename of another: each group fits exactly one
        // start digit, so it parses only under its own hub's key.
        let a = CheckKey::derive(b"one");
        let b = CheckKey::derive(b"two");
        for _ in 0..50 {
            let c = Codename::generate(&a);
            assert!(Codename::parse(&c.grouped(), &b).is_err());
        }
    }

    #[test]
    fn codenames_given_out_before_check_digits_still_work() {
        let old = "1234 5678 9012 3456 7890 1234 5678";
        let c = Codename::parse(old, &key()).expect("a 28-digit codename is still read");
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
        let c = Codename::generate(&key());
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
            Codename::generate(&key()).derive(b"secret-1", &a).lookup,
            k1.lookup
        );
    }

    fn random_digits() -> impl Strategy<Value = [u8; RANDOM_DIGITS]> {
        proptest::collection::vec(0u8..10, RANDOM_DIGITS)
            .prop_map(|v| v.try_into().unwrap_or([0; RANDOM_DIGITS]))
    }

    fn any_key() -> impl Strategy<Value = CheckKey> {
        proptest::collection::vec(any::<u8>(), 0..40).prop_map(|s| CheckKey::derive(&s))
    }

    proptest! {
        #[test]
        fn parse_never_panics(s in "\\PC{0,400}") {
            let _ = Codename::parse(&s, &key());
        }

        /// Every single wrong digit, at every position, is caught, and its group named.
        #[test]
        fn every_single_wrong_digit_is_caught(random in random_digits(), k in any_key()) {
            let c = Codename::from_random(random, &k);
            let digits = all_digits(&c);
            prop_assert_eq!(Codename::parse(&typed(&digits), &k), Ok(c.clone()));
            for i in 0..DIGITS {
                for wrong in 0..10 {
                    if wrong == digits[i] {
                        continue;
                    }
                    let mut typo = digits.clone();
                    typo[i] = wrong;
                    prop_assert_eq!(
                        Codename::parse(&typed(&typo), &k),
                        Err(CodenameError::Typo(vec![i / GROUP + 1]))
                    );
                }
            }
        }

        /// Every swap of two neighbouring (different) digits is caught, within a group
        /// and across two groups, and the groups it touched are named.
        #[test]
        fn every_neighbour_swap_is_caught(random in random_digits(), k in any_key()) {
            let digits = all_digits(&Codename::from_random(random, &k));
            for i in 0..DIGITS - 1 {
                if digits[i] == digits[i + 1] {
                    continue;
                }
                let mut swapped = digits.clone();
                swapped.swap(i, i + 1);
                let Err(CodenameError::Typo(groups)) = Codename::parse(&typed(&swapped), &k) else {
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

        /// Any reordering of the groups is caught, and every moved group is named (a
        /// group's digits can never be right at another position).
        #[test]
        fn any_reordering_of_groups_is_caught(
            random in random_digits(),
            k in any_key(),
            order in Just((0..GROUPS).collect::<Vec<_>>()).prop_shuffle(),
        ) {
            let c = Codename::from_random(random, &k);
            let digits = all_digits(&c);
            let reordered: Vec<u8> = order
                .iter()
                .flat_map(|&g| digits[g * GROUP..(g + 1) * GROUP].to_vec())
                .collect();
            let moved: Vec<usize> = (0..GROUPS).filter(|&i| order[i] != i).map(|i| i + 1).collect();
            if moved.is_empty() {
                prop_assert_eq!(Codename::parse(&typed(&reordered), &k), Ok(c));
            } else {
                prop_assert_eq!(
                    Codename::parse(&typed(&reordered), &k),
                    Err(CodenameError::Typo(moved))
                );
            }
        }
    }

    /// The groups copied in right-to-left order, as a Dari reader easily does.
    #[test]
    fn groups_read_right_to_left_are_caught() {
        let k = key();
        for _ in 0..100 {
            let c = Codename::generate(&k);
            let mut groups = c.groups();
            groups.reverse();
            assert_eq!(
                Codename::parse(&groups.join(" "), &k),
                Err(CodenameError::Typo(vec![1, 2, 3, 5, 6, 7]))
            );
        }
    }
}
