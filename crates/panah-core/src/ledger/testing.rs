//! Entries for tests: the one way the ledger's tests make a plausible entry.

use time::macros::date;

use super::entry::{Category, DatePrecision, Entry, Kind, Rail};
use super::money::{Amount, Currency};

/// Entry `i`: food, paid in cash, `100 + i` AFN, of the given kind.
pub(crate) fn entry(i: u64, kind: Kind) -> Entry {
    let afn = Currency::parse("AFN").unwrap_or_else(|e| panic!("{e}"));
    let amount = Amount::new(100 + i as i64, afn).unwrap_or_else(|e| panic!("{e}"));
    Entry {
        kind,
        date: date!(2021 - 09 - 01),
        precision: DatePrecision::Day,
        category: Category::Food,
        amount,
        base: amount,
        counter: None,
        reverses: None,
        rail: Rail::Cash,
        memo: format!("gift {i}"),
        translations: Default::default(),
        receipt: None,
        coordinator: "1a2b".into(),
    }
}
