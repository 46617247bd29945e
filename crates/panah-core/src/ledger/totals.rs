//! Totals of a ledger: what was raised and spent (in the base currency) and what is held in
//! each currency. Anyone can recompute them from the entries; the page, the exports and
//! `panah verify` all use this one function.

use std::collections::{BTreeMap, BTreeSet};

use super::entry::{Category, Entry, Kind};
use super::money::Currency;

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Totals {
    /// Income, in base-currency minor units, net of reversals.
    pub raised: i64,
    /// Expenses, in base-currency minor units, net of reversals.
    pub spent: i64,
    pub spent_by_category: BTreeMap<Category, i64>,
    /// Money held, per currency, in that currency's minor units.
    pub balances: BTreeMap<Currency, i64>,
    /// Indexes of entries cancelled by a reversal.
    pub reversed: BTreeSet<u64>,
    pub entries: u64,
}

impl Totals {
    /// Adds up entries in log order. A reversal cancels its target's effect; reversals that
    /// point nowhere (which a checked log never has) are ignored.
    pub fn of(entries: &[Entry]) -> Totals {
        let mut t = Totals::default();
        for e in entries {
            let target = e
                .reverses
                .and_then(|i| usize::try_from(i).ok())
                .and_then(|i| entries.get(i));
            t.add(e, target.map(|t| t.kind));
        }
        t
    }

    /// Adds the next entry. For a reversal, `target_kind` is the kind of the entry it
    /// cancels: a checked reversal repeats its target's category, amounts and rail, so that
    /// is all that is needed to undo it. A hub keeps totals up to date this way without
    /// reading the whole ledger again.
    pub fn add(&mut self, e: &Entry, target_kind: Option<Kind>) {
        self.entries += 1;
        match (e.kind, e.reverses, target_kind) {
            (Kind::Reversal, Some(i), Some(kind)) if kind != Kind::Reversal => {
                self.apply(kind, e, -1);
                self.reversed.insert(i);
            }
            (Kind::Reversal, ..) => {}
            (kind, ..) => self.apply(kind, e, 1),
        }
    }

    fn apply(&mut self, kind: Kind, e: &Entry, sign: i64) {
        let base = sign.saturating_mul(e.base.minor());
        let amount = sign.saturating_mul(e.amount.minor());
        let add = |map: &mut BTreeMap<Currency, i64>, c: Currency, v: i64| {
            let slot = map.entry(c).or_insert(0);
            *slot = slot.saturating_add(v);
        };
        match kind {
            Kind::Income => {
                self.raised = self.raised.saturating_add(base);
                add(&mut self.balances, e.amount.currency(), amount);
            }
            Kind::Expense => {
                self.spent = self.spent.saturating_add(base);
                let slot = self.spent_by_category.entry(e.category).or_insert(0);
                *slot = slot.saturating_add(base);
                add(&mut self.balances, e.amount.currency(), -amount);
            }
            Kind::Exchange => {
                add(&mut self.balances, e.amount.currency(), -amount);
                if let Some(c) = e.counter {
                    add(
                        &mut self.balances,
                        c.currency(),
                        sign.saturating_mul(c.minor()),
                    );
                }
            }
            Kind::Reversal => {}
        }
    }

    /// Raised minus spent, in the base currency.
    pub fn balance(&self) -> i64 {
        self.raised.saturating_sub(self.spent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::entry::{DatePrecision, Rail};
    use crate::ledger::money::Amount;
    use time::macros::date;

    fn money(minor: i64, code: &str) -> Amount {
        Amount::new(minor, Currency::parse(code).unwrap()).unwrap()
    }

    fn entry(kind: Kind, category: Category, amount: Amount, base: i64) -> Entry {
        Entry {
            kind,
            date: date!(2021 - 09 - 01),
            precision: DatePrecision::Day,
            category,
            amount,
            base: money(base, "AFN"),
            counter: None,
            reverses: None,
            rail: Rail::Cash,
            memo: String::new(),
            receipt: None,
            coordinator: "x".into(),
        }
    }

    #[test]
    fn income_expense_exchange_and_a_reversal() {
        let usd = |m| money(m, "USD");
        let afn = |m| money(m, "AFN");
        let mut exchange = entry(Kind::Exchange, Category::Other, usd(50_000), 4_000_000);
        exchange.counter = Some(afn(3_950_000));
        let wrong = entry(Kind::Expense, Category::Power, afn(1_000_000), 1_000_000);
        let mut reversal = wrong.clone();
        reversal.kind = Kind::Reversal;
        reversal.reverses = Some(3);
        let log = vec![
            entry(Kind::Income, Category::Food, usd(100_000), 8_000_000),
            exchange,
            entry(Kind::Expense, Category::Food, afn(2_000_000), 2_000_000),
            wrong,
            reversal,
            entry(Kind::Expense, Category::Power, afn(900_000), 900_000),
        ];
        let t = Totals::of(&log);
        assert_eq!(t.raised, 8_000_000);
        assert_eq!(t.spent, 2_900_000);
        assert_eq!(t.balance(), 5_100_000);
        assert_eq!(t.spent_by_category[&Category::Power], 900_000);
        assert_eq!(t.spent_by_category[&Category::Food], 2_000_000);
        assert_eq!(t.balances[&Currency::parse("USD").unwrap()], 50_000);
        assert_eq!(
            t.balances[&Currency::parse("AFN").unwrap()],
            3_950_000 - 2_000_000 - 900_000
        );
        assert_eq!(t.reversed, BTreeSet::from([3]));
        assert_eq!(t.entries, 6);
        // Entry by entry, knowing only each reversal's target kind: the same totals.
        let mut step = Totals::default();
        for e in &log {
            let kind = e.reverses.map(|i| log[i as usize].kind);
            step.add(e, kind);
        }
        assert_eq!(step, t);

        // Totals saturate rather than wrap (or panic) on absurd amounts.
        let huge = entry(Kind::Expense, Category::Food, afn(i64::MAX), i64::MAX);
        let t = Totals::of(&[huge.clone(), huge]);
        assert_eq!(t.spent, i64::MAX);
        assert_eq!(t.spent_by_category[&Category::Food], i64::MAX);
    }
}
