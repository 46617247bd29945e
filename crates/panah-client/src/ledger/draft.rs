//! Entries as a treasurer writes them — on the command line or as rows of a spreadsheet —
//! turned into ledger entries: amounts parsed in any digits, the public date coarsened,
//! receipt codes made, memos checked for anything that looks like a person.

use crate::error::{ClientError, Result};
use panah_core::ledger::entry::memo_warnings;
use panah_core::ledger::receipt::ReceiptCode;
use panah_core::ledger::{Amount, Category, Currency, DatePrecision, Entry, Kind, Rail};
use panah_core::Lang;
use serde::Deserialize;
use time::Date;

/// The most rows one import may have.
pub const MAX_ROWS: usize = 100_000;
/// The largest CSV file an import reads.
pub const MAX_CSV: u64 = 32 * 1024 * 1024;

/// One entry as typed, before it is checked.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct Draft {
    pub date: String,
    pub kind: String,
    pub category: String,
    pub amount: String,
    pub currency: String,
    pub base_amount: String,
    pub precision: String,
    pub counter_amount: String,
    pub counter_currency: String,
    pub reverses: String,
    pub rail: String,
    pub memo: String,
    /// The memo in Dari, Pashto and English, each shown to its readers instead of `memo`.
    pub memo_fa: String,
    pub memo_ps: String,
    pub memo_en: String,
    /// `yes` to make a receipt code for a gift.
    pub receipt: String,
}

/// One of a fixed set of words, or an error that lists them.
pub fn word<T>(what: &str, value: &str, parse: fn(&str) -> Option<T>, all: &[&str]) -> Result<T> {
    parse(value.trim()).ok_or_else(|| {
        ClientError::Invalid(format!(
            "{:?} is not {what}: {}",
            value.chars().take(30).collect::<String>(),
            all.join(", ")
        ))
    })
}

/// "what: why", as an invalid input.
fn invalid(what: impl std::fmt::Display, why: impl std::fmt::Display) -> ClientError {
    ClientError::Invalid(format!("{what}: {why}"))
}

pub fn words<T: Copy>(all: &[T], word: fn(T) -> &'static str) -> Vec<&'static str> {
    all.iter().map(|t| word(*t)).collect()
}

/// Parses `YYYY-MM-DD` (any digits).
pub fn parse_date(text: &str) -> Result<Date> {
    let latin = panah_core::digits::to_latin(text.trim());
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(&latin, &format).map_err(|_| {
        ClientError::Invalid(format!("the date {text:?} is not YYYY-MM-DD (Gregorian)"))
    })
}

impl Draft {
    /// The entry this draft makes for a ledger in `base` currency, entered by `coordinator`,
    /// and the receipt code if one was asked for. `today` is the default date.
    pub fn to_entry(
        &self,
        base: Currency,
        coordinator: &str,
        today: Date,
    ) -> Result<(Entry, Option<ReceiptCode>)> {
        let kind = word(
            "a kind",
            &self.kind,
            Kind::parse,
            &words(Kind::ALL, Kind::word),
        )?;
        let category = word(
            "a category",
            &self.category,
            Category::parse,
            &words(Category::ALL, Category::word),
        )?;
        let rail = word(
            "a rail",
            &self.rail,
            Rail::parse,
            &words(Rail::ALL, Rail::word),
        )?;
        // With no currency column, the amount may carry its own: "500 USD".
        let amount = if self.currency.trim().is_empty() {
            super::money(&self.amount, base).map_err(|e| invalid("the amount", e))?
        } else {
            let currency =
                Currency::parse(&self.currency).map_err(|e| invalid("the currency", e))?;
            Amount::parse(&self.amount, currency).map_err(|e| invalid("the amount", e))?
        };
        let currency = amount.currency();
        let base_amount = if self.base_amount.trim().is_empty() {
            if currency != base {
                return Err(ClientError::Invalid(format!("the amount is in {currency}; give its value in the base currency {base} too (base_amount / --base)")));
            }
            amount
        } else {
            Amount::parse(&self.base_amount, base)
                .map_err(|e| invalid(format!("the amount in the base currency {base}"), e))?
        };
        let counter = if self.counter_amount.trim().is_empty() {
            None
        } else {
            let received = |e| invalid("the amount received in the exchange", e);
            Some(if self.counter_currency.trim().is_empty() {
                super::money(&self.counter_amount, base).map_err(received)?
            } else {
                let c = Currency::parse(&self.counter_currency)
                    .map_err(|e| invalid("the currency received in the exchange", e))?;
                Amount::parse(&self.counter_amount, c)
                    .map_err(|e| received(ClientError::Invalid(e.to_string())))?
            })
        };
        let reverses = if self.reverses.trim().is_empty() {
            None
        } else {
            Some(
                panah_core::digits::to_latin(self.reverses.trim())
                    .parse::<u64>()
                    .map_err(|_| {
                        ClientError::Invalid(format!("{:?} is not an entry number", self.reverses))
                    })?,
            )
        };
        let date = if self.date.trim().is_empty() {
            today
        } else {
            parse_date(&self.date)?
        };
        let precision = if self.precision.trim().is_empty() {
            DatePrecision::default_for(kind, category)
        } else {
            word(
                "a date precision",
                &self.precision,
                DatePrecision::parse,
                &words(DatePrecision::ALL, DatePrecision::word),
            )?
        };
        let wants_receipt = match self.receipt.trim() {
            "" | "no" => false,
            "yes" => true,
            other => {
                return Err(ClientError::Invalid(format!(
                    "receipt must be yes or no, not {other:?}"
                )))
            }
        };
        let code = wants_receipt.then(ReceiptCode::generate);
        let entry = Entry {
            kind,
            date: precision.coarsen(date),
            precision,
            category,
            amount,
            base: base_amount,
            counter,
            reverses,
            rail,
            memo: self.memo.trim().to_owned(),
            translations: [
                (Lang::Dari, &self.memo_fa),
                (Lang::Pashto, &self.memo_ps),
                (Lang::English, &self.memo_en),
            ]
            .into_iter()
            .filter(|(_, text)| !text.trim().is_empty())
            .map(|(lang, text)| (lang, text.trim().to_owned()))
            .collect(),
            receipt: code.as_ref().map(ReceiptCode::commitment),
            coordinator: coordinator.to_owned(),
        };
        entry
            .validate(base)
            .map_err(|e| ClientError::Invalid(e.to_string()))?;
        entry
            .check_date(today)
            .map_err(|e| ClientError::Invalid(e.to_string()))?;
        Ok((entry, code))
    }
}

/// Reads a CSV of drafts (a header row naming the columns of [`Draft`]; others ignored).
pub fn read_csv(text: &str) -> Result<Vec<Draft>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut drafts = Vec::new();
    for (i, row) in reader.deserialize::<Draft>().enumerate() {
        if i >= MAX_ROWS {
            return Err(ClientError::Invalid(format!(
                "more than {MAX_ROWS} rows; split the file"
            )));
        }
        drafts.push(row.map_err(|e| invalid(format!("row {} of the CSV", i + 2), e))?);
    }
    Ok(drafts)
}

/// Memo warnings for a batch, as lines to show; empty if nothing looks like a person.
pub fn warnings(entries: &[(Entry, Option<ReceiptCode>)], first_row: usize) -> Vec<String> {
    entries
        .iter()
        .enumerate()
        .flat_map(|(i, (e, _))| {
            std::iter::once(&e.memo)
                .chain(e.translations.values())
                .flat_map(move |memo| {
                    memo_warnings(memo)
                        .into_iter()
                        .map(move |w| format!("row {}: memo {memo:?}: {w}", i + first_row))
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::date;

    fn afn() -> Currency {
        Currency::parse("AFN").unwrap()
    }

    #[test]
    fn drafts_become_entries() {
        let d = Draft {
            kind: "expense".into(),
            category: "relocation".into(),
            amount: "۱۲٬۵۰۰".into(),
            rail: "cash".into(),
            memo: "bus tickets".into(),
            date: "2021-09-02".into(),
            ..Draft::default()
        };
        let (e, code) = d.to_entry(afn(), "1a2b", date!(2021 - 09 - 30)).unwrap();
        assert_eq!(e.amount.minor(), 1_250_000);
        assert_eq!(
            e.precision,
            DatePrecision::Week,
            "relocation expenses default to a week"
        );
        assert_eq!(e.date, date!(2021 - 08 - 30), "the Monday of that week");
        assert!(code.is_none());

        let gift = Draft {
            kind: "income".into(),
            category: "food".into(),
            amount: "500".into(),
            currency: "usd".into(),
            base_amount: "40000".into(),
            rail: "transfer-agent".into(),
            receipt: "yes".into(),
            ..Draft::default()
        };
        let (e, code) = gift.to_entry(afn(), "1a2b", date!(2021 - 09 - 30)).unwrap();
        assert_eq!(e.receipt, Some(code.unwrap().commitment()));
        assert_eq!(e.date, date!(2021 - 09 - 30));

        let no_base = Draft {
            base_amount: String::new(),
            ..gift.clone()
        };
        let err = no_base
            .to_entry(afn(), "1a2b", date!(2021 - 09 - 30))
            .unwrap_err()
            .to_string();
        assert!(err.contains("base currency AFN"), "{err}");
        let bad_kind = Draft {
            kind: "gift".into(),
            ..gift.clone()
        };
        let err = bad_kind
            .to_entry(afn(), "1a2b", date!(2021 - 09 - 30))
            .unwrap_err()
            .to_string();
        assert!(err.contains("income, expense, exchange, reversal"), "{err}");
        let zero = Draft {
            amount: "0".into(),
            ..gift
        };
        assert!(zero.to_entry(afn(), "1a2b", date!(2021 - 09 - 30)).is_err());
    }

    #[test]
    fn csv_rows() {
        let text = "date,kind,category,amount,currency,base_amount,rail,memo,extra\n\
                    2021-09-01, income ,food,100,USD,8000,bank,\"flour, oil\",ignored\n";
        let drafts = read_csv(text).unwrap();
        assert_eq!(drafts.len(), 1);
        assert_eq!(drafts[0].kind, "income");
        assert_eq!(drafts[0].memo, "flour, oil");
        assert!(read_csv("date,kind\n\"unterminated").is_err());

        // A memo per language, as columns; each is checked for names like the memo.
        let text = "date,kind,category,amount,rail,memo,memo_fa,memo_en\n\
                    2021-09-01,expense,food,100,cash,flour,آرد برای ۲۰ خانواده,flour for 20 families\n\
                    2021-09-02,expense,food,100,cash,flour,,call 0700123456\n";
        let drafts = read_csv(text).unwrap();
        let made: Vec<_> = drafts
            .iter()
            .map(|d| d.to_entry(afn(), "1a2b", date!(2021 - 09 - 30)).unwrap())
            .collect();
        assert_eq!(made[0].0.memo_for(Lang::Dari), "آرد برای ۲۰ خانواده");
        assert_eq!(made[0].0.memo_for(Lang::English), "flour for 20 families");
        assert_eq!(made[0].0.memo_for(Lang::Pashto), "flour");
        assert_eq!(
            made[1].0.translations.len(),
            1,
            "an empty column is no translation"
        );
        let w = warnings(&made, 2);
        assert_eq!(w.len(), 1, "{w:?}");
        assert!(w[0].starts_with("row 3: memo \"call 0700123456\""), "{w:?}");
    }
}
