//! Totals of a ledger: what was raised and spent (in the base currency), what was lost or
//! gained in currency exchanges, and what is held in each currency. Anyone can recompute
//! them from the entries; the page, the exports and `panah verify` all use this one
//! function.
//!
//! The books always reconcile: **raised − spent − exchange costs = money held**, exactly, in
//! integer minor units of the base currency. To make that hold with money in several
//! currencies, each currency's holding has a *book value* in the base currency: what that
//! money counted for when it came in (the base amount of an income, or what an exchange
//! gave for it). Money held in the base currency is its own book value. When money leaves
//! a currency, it takes out its share of that currency's book value (average cost; all of
//! it when the holding is spent to zero, so no value is left behind on an empty currency).
//! The difference between that share and what the money was worth where it went is the
//! exchange cost: the hawala agent's commission and spread when 900 EUR became 90,900 AFN
//! instead of 91,800, or a rate that moved between a gift arriving and being spent (a gain
//! is a negative cost).

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
    /// Lost in exchanges and rate changes, in base-currency minor units (negative: gained).
    pub exchange_costs: i64,
    /// Money held, per currency, in that currency's minor units.
    pub balances: BTreeMap<Currency, i64>,
    /// The book value of each currency's holding, in base-currency minor units.
    pub book: BTreeMap<Currency, i64>,
    /// Indexes of entries cancelled by a reversal.
    pub reversed: BTreeSet<u64>,
    pub entries: u64,
    /// The book value each expense or exchange out of a currency other than the base took
    /// with it, by entry index, so that a reversal puts back exactly that.
    taken: BTreeMap<u64, i64>,
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
        let index = self.entries;
        self.entries += 1;
        match (e.kind, e.reverses, target_kind) {
            (Kind::Reversal, Some(i), Some(kind)) if kind != Kind::Reversal => {
                self.undo(kind, e, i);
                self.reversed.insert(i);
            }
            (Kind::Reversal, ..) => {}
            (kind, ..) => {
                if let Some(basis) = self.apply(kind, e) {
                    if e.amount.currency() != e.base.currency() {
                        self.taken.insert(index, basis);
                    }
                }
            }
        }
    }

    /// What an entry's own amount counts for in the base currency: the amount itself when
    /// it is in the base currency, else the base amount the treasurer entered.
    fn value(e: &Entry) -> i64 {
        if e.amount.currency() == e.base.currency() {
            e.amount.minor()
        } else {
            e.base.minor()
        }
    }

    /// Applies an income, expense or exchange; for the last two, returns the book value
    /// that left the currency paid out.
    fn apply(&mut self, kind: Kind, e: &Entry) -> Option<i64> {
        let (currency, amount, value) = (e.amount.currency(), e.amount.minor(), Self::value(e));
        match kind {
            Kind::Income => {
                self.raised = self.raised.saturating_add(value);
                self.inflow(currency, amount, value);
                None
            }
            Kind::Expense => {
                self.spent = self.spent.saturating_add(value);
                self.by_category(e.category, value);
                let basis = self.outflow(currency, amount, value, Share::Average);
                self.cost(basis.saturating_sub(value));
                Some(basis)
            }
            Kind::Exchange => {
                let c = e.counter?;
                let basis = self.outflow(currency, amount, value, Share::Average);
                // Received in the base currency, money is worth itself; in another, it is
                // booked at what it cost, and any gain or loss shows when it leaves again.
                let received = if c.currency() == e.base.currency() {
                    c.minor()
                } else {
                    basis
                };
                self.inflow(c.currency(), c.minor(), received);
                self.cost(basis.saturating_sub(received));
                Some(basis)
            }
            Kind::Reversal => None,
        }
    }

    /// Cancels entry `target`, of `kind`, which `e` (its reversal) repeats: the books go
    /// back to what they would be without it, as far as later entries allow.
    fn undo(&mut self, kind: Kind, e: &Entry, target: u64) {
        let (currency, amount, value) = (e.amount.currency(), e.amount.minor(), Self::value(e));
        let taken = self.taken.remove(&target).unwrap_or(value);
        match kind {
            Kind::Income => {
                self.raised = self.raised.saturating_sub(value);
                let basis = self.outflow(currency, amount, value, Share::Exact);
                self.cost(basis.saturating_sub(value));
            }
            Kind::Expense => {
                self.spent = self.spent.saturating_sub(value);
                self.by_category(e.category, value.saturating_neg());
                self.inflow(currency, amount, taken);
                self.cost(value.saturating_sub(taken));
            }
            Kind::Exchange => {
                // The exchange run backwards: what was received goes back for what was given.
                let Some(c) = e.counter else { return };
                let received = if c.currency() == e.base.currency() {
                    c.minor()
                } else {
                    taken
                };
                let basis = self.outflow(c.currency(), c.minor(), received, Share::Exact);
                self.inflow(currency, amount, taken);
                self.cost(basis.saturating_sub(taken));
            }
            Kind::Reversal => {}
        }
    }

    fn by_category(&mut self, category: Category, v: i64) {
        let slot = self.spent_by_category.entry(category).or_insert(0);
        *slot = slot.saturating_add(v);
    }

    fn cost(&mut self, v: i64) {
        self.exchange_costs = self.exchange_costs.saturating_add(v);
    }

    /// Puts `amount` worth `value` into currency `c`. Money that arrives while the currency
    /// is overdrawn (spent before the gift came in) first settles the deficit: that part
    /// takes the deficit's share of book value with it, so a holding that comes back to
    /// zero has no book value left, and the difference is an exchange cost or gain.
    fn inflow(&mut self, c: Currency, amount: i64, value: i64) {
        let held = self.balances.get(&c).copied().unwrap_or(0);
        let book = self.book.get(&c).copied().unwrap_or(0);
        let mut booked = value;
        if held < 0 && amount > 0 {
            let settle = amount.min(held.saturating_neg());
            let brought = clamp(i128::from(value) * i128::from(settle) / i128::from(amount));
            let owed = if settle == held.saturating_neg() {
                book.saturating_neg()
            } else {
                clamp(i128::from(book) * i128::from(settle) / i128::from(held).abs())
                    .saturating_neg()
            };
            booked = value.saturating_sub(brought).saturating_add(owed);
            self.cost(brought.saturating_sub(owed));
        }
        self.balances.insert(c, held.saturating_add(amount));
        self.book.insert(c, book.saturating_add(booked));
    }

    /// Takes `amount` out of currency `c` and returns the book value it takes with it:
    /// all of the holding's book value when the holding is emptied (so none is left on an
    /// empty currency), plus `value`'s share for whatever goes beyond what is held;
    /// otherwise its share of the book value (`Share::Average`) or `value` itself
    /// (`Share::Exact`, when a reversal takes back what an entry put in).
    fn outflow(&mut self, c: Currency, amount: i64, value: i64, share: Share) -> i64 {
        let held = self.balances.get(&c).copied().unwrap_or(0);
        let book = self.book.get(&c).copied().unwrap_or(0);
        let basis = if held <= 0 || amount <= 0 {
            value
        } else if amount >= held {
            let excess = i128::from(value) * i128::from(amount - held) / i128::from(amount);
            book.saturating_add(clamp(excess))
        } else {
            match share {
                Share::Average => clamp(i128::from(book) * i128::from(amount) / i128::from(held)),
                Share::Exact => value,
            }
        };
        self.balances.insert(c, held.saturating_sub(amount));
        self.book.insert(c, book.saturating_sub(basis));
        basis
    }

    /// Raised minus spent minus exchange costs, in the base currency: the book value of all
    /// the money held, whatever its currency.
    pub fn balance(&self) -> i64 {
        self.raised
            .saturating_sub(self.spent)
            .saturating_sub(self.exchange_costs)
    }
}

#[derive(Debug, Clone, Copy)]
enum Share {
    Average,
    Exact,
}

fn clamp(v: i128) -> i64 {
    i64::try_from(v).unwrap_or(if v < 0 { i64::MIN } else { i64::MAX })
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
            translations: Default::default(),
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
        // Half the dollars, booked at 4,000,000, became 3,950,000 afghanis.
        assert_eq!(t.exchange_costs, 50_000);
        assert_eq!(t.balance(), 5_050_000);
        assert_eq!(t.book[&Currency::parse("USD").unwrap()], 4_000_000);
        assert_eq!(t.book.values().sum::<i64>(), t.balance());
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

    /// The figures the issue found on a real page: three exchanges into afghanis that lost
    /// 1,550 AFN between them. Raised − spent − exchange costs is the money held.
    #[test]
    fn exchange_losses_are_their_own_line() {
        let afn = |m| money(m, "AFN");
        let mut log = Vec::new();
        for (foreign, base, received) in [
            (money(50_000, "USD"), 4_000_000, 3_950_000),
            (money(90_000, "EUR"), 9_180_000, 9_090_000),
            (money(20_000, "GBP"), 2_450_000, 2_435_000),
        ] {
            log.push(entry(Kind::Income, Category::Food, foreign, base));
            let mut x = entry(Kind::Exchange, Category::Other, foreign, base);
            x.counter = Some(afn(received));
            log.push(x);
        }
        log.push(entry(
            Kind::Expense,
            Category::Food,
            afn(8_000_000),
            8_000_000,
        ));
        let t = Totals::of(&log);
        assert_eq!(t.raised, 15_630_000);
        assert_eq!(t.exchange_costs, 155_000);
        assert_eq!(t.spent, 8_000_000, "an afghani expense is worth its amount");
        assert_eq!(t.balance(), 7_475_000);
        let held: BTreeMap<_, _> = t.balances.iter().filter(|(_, v)| **v != 0).collect();
        assert_eq!(held.len(), 1, "only afghanis are left: {held:?}");
        assert_eq!(t.balances[&Currency::parse("AFN").unwrap()], t.balance());
    }

    /// Spent before the gift arrived: the dollars are overdrawn, then made good at another
    /// rate. Nothing is held afterwards, and no value is left on the empty currency.
    #[test]
    fn an_overdraft_made_good_leaves_no_value_behind() {
        let usd = |m| money(m, "USD");
        let log = vec![
            entry(Kind::Expense, Category::Food, usd(15_000), 1_200_000),
            entry(Kind::Income, Category::Food, usd(5_000), 410_000),
            entry(Kind::Income, Category::Food, usd(10_000), 820_000),
        ];
        let t = Totals::of(&log);
        let dollars = Currency::parse("USD").unwrap();
        assert_eq!(t.balances[&dollars], 0);
        assert_eq!(t.book[&dollars], 0);
        assert_eq!(t.raised, 1_230_000);
        assert_eq!(t.spent, 1_200_000);
        assert_eq!(
            t.exchange_costs, 30_000,
            "the rate moved between spending and the gift"
        );
        assert_eq!(t.balance(), 0);
    }

    mod random_ledgers {
        use super::*;
        use proptest::prelude::*;

        const CODES: [&str; 3] = ["AFN", "USD", "EUR"];

        #[derive(Debug, Clone)]
        enum Op {
            Income(usize, i64, i64),
            Expense(usize, u8, i64),
            Exchange(usize, usize, u8, i64, i64),
            Reverse(u16),
        }

        fn op() -> impl Strategy<Value = Op> {
            prop_oneof![
                (0..3usize, 1..1_000_000i64, 50..120i64).prop_map(|(c, a, r)| Op::Income(c, a, r)),
                (0..3usize, 1..=150u8, 50..120i64).prop_map(|(c, p, r)| Op::Expense(c, p, r)),
                (0..3usize, 0..3usize, 1..=150u8, 50..120i64, 90..=110i64)
                    .prop_map(|(a, b, p, r, f)| Op::Exchange(a, b, p, r, f)),
                any::<u16>().prop_map(Op::Reverse),
            ]
        }

        /// A valid ledger from the ops: reversals point at a live, earlier entry. With
        /// `overdraw`, expenses and exchanges may take more than is held (a treasurer who
        /// enters an expense before the gift that pays for it), and so may reversals;
        /// without, nothing ever goes below zero.
        fn ledger(ops: &[Op], overdraw: bool) -> Vec<Entry> {
            let cur = |i: usize| Currency::parse(CODES[i]).unwrap();
            let mut log: Vec<Entry> = Vec::new();
            for op in ops {
                let held = |log: &Vec<Entry>, c: usize| {
                    Totals::of(log).balances.get(&cur(c)).copied().unwrap_or(0)
                };
                // An amount and its base value at `rate` afghanis per 100 units (at least
                // one minor unit: a ledger entry's base value is positive, and a tiny
                // foreign amount at a low rate would round to nothing).
                let at = |c: usize, minor: i64, rate: i64| {
                    let base = if c == 0 {
                        minor
                    } else {
                        (minor * rate / 100).max(1)
                    };
                    (money(minor, CODES[c]), base)
                };
                match *op {
                    Op::Income(c, a, r) => {
                        let (amount, base) = at(c, a, r);
                        log.push(entry(Kind::Income, Category::Food, amount, base));
                    }
                    Op::Expense(c, p, r) => {
                        let p = if overdraw {
                            i64::from(p)
                        } else {
                            i64::from(p.min(100))
                        };
                        let a = held(&log, c).max(if overdraw { 1_000 } else { 0 }) * p / 100;
                        if a > 0 {
                            let (amount, base) = at(c, a, r);
                            log.push(entry(Kind::Expense, Category::Power, amount, base));
                        }
                    }
                    Op::Exchange(from, to, p, r, f) => {
                        let p = if overdraw {
                            i64::from(p)
                        } else {
                            i64::from(p.min(100))
                        };
                        let a = held(&log, from).max(if overdraw { 1_000 } else { 0 }) * p / 100;
                        if a > 0 && from != to {
                            let (amount, base) = at(from, a, r);
                            // What comes out: the base value at a rate `f` percent off.
                            let out = if to == 0 { base * f / 100 } else { a * f / 100 };
                            if out > 0 {
                                let mut x = entry(Kind::Exchange, Category::Other, amount, base);
                                x.counter = Some(money(out, CODES[to]));
                                log.push(x);
                            }
                        }
                    }
                    Op::Reverse(pick) => {
                        let t = Totals::of(&log);
                        let live: Vec<usize> = (0..log.len())
                            .filter(|i| log[*i].kind != Kind::Reversal)
                            .filter(|i| !t.reversed.contains(&(*i as u64)))
                            .collect();
                        if live.is_empty() {
                            continue;
                        }
                        let target = live[usize::from(pick) % live.len()];
                        let mut r = log[target].clone();
                        r.kind = Kind::Reversal;
                        r.reverses = Some(target as u64);
                        // Undoing must not spend what is no longer held.
                        let mut with = log.clone();
                        with.push(r.clone());
                        let after = Totals::of(&with);
                        if overdraw || after.balances.values().all(|v| *v >= 0) {
                            log.push(r);
                        }
                    }
                }
            }
            log
        }

        fn reconciles(t: &Totals) -> Result<(), TestCaseError> {
            let afn = Currency::parse("AFN").unwrap();
            // raised − spent − exchange costs = money held, in the base currency…
            prop_assert_eq!(t.balance(), t.book.values().sum::<i64>());
            // …where afghanis count for themselves…
            prop_assert_eq!(
                t.book.get(&afn).copied().unwrap_or(0),
                t.balances.get(&afn).copied().unwrap_or(0)
            );
            // …and a currency spent to nothing leaves no value behind.
            for (c, held) in &t.balances {
                if *held == 0 {
                    prop_assert_eq!(t.book.get(c).copied().unwrap_or(0), 0, "{}", c);
                }
            }
            prop_assert_eq!(t.spent, t.spent_by_category.values().sum::<i64>());
            Ok(())
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(300))]

            #[test]
            fn the_books_always_reconcile(ops in proptest::collection::vec(op(), 0..40)) {
                let log = ledger(&ops, true);
                let t = Totals::of(&log);
                reconciles(&t)?;
                // Entry by entry, as a hub keeps them: the same totals.
                let mut step = Totals::default();
                for e in &log {
                    step.add(e, e.reverses.map(|i| log[i as usize].kind));
                }
                prop_assert_eq!(&step, &t);
            }

            /// Reversing every entry of a ledger, newest first, leaves nothing: no money, no
            /// spending, no exchange cost, no book value. (With reversals already in the
            /// middle, average cost cannot promise exactly nothing, only the identity.)
            #[test]
            fn reversing_everything_leaves_nothing(ops in proptest::collection::vec(op(), 0..30)) {
                let ops: Vec<Op> = ops.into_iter().filter(|o| !matches!(o, Op::Reverse(_))).collect();
                let mut log = ledger(&ops, false);
                let t = Totals::of(&log);
                let live: Vec<usize> = (0..log.len())
                    .filter(|i| log[*i].kind != Kind::Reversal)
                    .filter(|i| !t.reversed.contains(&(*i as u64)))
                    .collect();
                for &i in live.iter().rev() {
                    let mut r = log[i].clone();
                    r.kind = Kind::Reversal;
                    r.reverses = Some(i as u64);
                    log.push(r);
                    reconciles(&Totals::of(&log))?;
                }
                let end = Totals::of(&log);
                prop_assert_eq!(end.raised, 0);
                prop_assert_eq!(end.spent, 0);
                prop_assert_eq!(end.exchange_costs, 0);
                prop_assert!(end.balances.values().all(|v| *v == 0), "{:?}", end.balances);
                prop_assert!(end.book.values().all(|v| *v == 0), "{:?}", end.book);
            }
        }
    }
}
