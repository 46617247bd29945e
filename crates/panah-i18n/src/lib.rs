//! Panah's words in Dari, Pashto and English, and the local forms of numbers and dates.
//!
//! Every string a person reads on a page comes from the Fluent files in `locales/`, which
//! are compiled into the binary. Dari and Pashto pages get Persian digits and Solar Hijri
//! dates with the month names used in Afghanistan (حمل، ثور… in Dari; وری، غویی… in
//! Pashto), computed with ICU4X's Persian calendar; English pages get Gregorian dates.
//!
//! This crate knows no HTTP and no storage.

#![forbid(unsafe_code)]

pub mod glossary;

use fluent_bundle::concurrent::FluentBundle;
use fluent_bundle::{FluentArgs, FluentResource, FluentValue};
use icu_calendar::cal::Persian;
use icu_calendar::Date;
use panah_core::ledger::Currency;
use panah_core::{digits, Lang, Timestamp};

const SOURCES: [(Lang, &str); 3] = [
    (Lang::Dari, include_str!("../locales/fa.ftl")),
    (Lang::Pashto, include_str!("../locales/ps.ftl")),
    (Lang::English, include_str!("../locales/en.ftl")),
];

#[derive(Debug, thiserror::Error)]
pub enum CatalogError {
    #[error("locales/{lang}.ftl has a syntax error: {detail}")]
    Syntax { lang: &'static str, detail: String },
    #[error("locales/{lang}.ftl: {detail}")]
    Resource { lang: &'static str, detail: String },
}

/// All translations, loaded once at start and shared by every request.
pub struct Catalog {
    bundles: Vec<(Lang, FluentBundle<FluentResource>)>,
}

impl std::fmt::Debug for Catalog {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Catalog").finish_non_exhaustive()
    }
}

impl Catalog {
    /// Parses the embedded Fluent files. An error here is a bug in a translation file,
    /// caught by the test suite before it can reach a hub.
    pub fn load() -> Result<Self, CatalogError> {
        let mut bundles = Vec::with_capacity(SOURCES.len());
        for (lang, source) in SOURCES {
            let resource = FluentResource::try_new(source.to_owned()).map_err(|(_, errors)| {
                CatalogError::Syntax {
                    lang: lang.code(),
                    detail: format!("{errors:?}"),
                }
            })?;
            let langid = lang.tag().parse().map_err(|e| CatalogError::Resource {
                lang: lang.code(),
                detail: format!("{e}"),
            })?;
            let mut bundle = FluentBundle::new_concurrent(vec![langid]);
            // Pages mark direction changes themselves (<bdi>); invisible isolation marks in
            // copied text confuse people pasting a codename or an amount.
            bundle.set_use_isolating(false);
            bundle
                .add_resource(resource)
                .map_err(|errors| CatalogError::Resource {
                    lang: lang.code(),
                    detail: format!("{errors:?}"),
                })?;
            bundles.push((lang, bundle));
        }
        Ok(Catalog { bundles })
    }

    fn bundle(&self, lang: Lang) -> &FluentBundle<FluentResource> {
        // `load` builds one bundle per language in Lang::ALL.
        &self
            .bundles
            .iter()
            .find(|(l, _)| *l == lang)
            .unwrap_or_else(|| unreachable!("every language has a bundle"))
            .1
    }

    /// The message ids each language defines, for completeness checks.
    pub fn message_ids(&self, lang: Lang) -> Vec<String> {
        source(lang)
            .lines()
            .filter(|l| l.chars().next().is_some_and(|c| c.is_ascii_lowercase()))
            .filter_map(|l| l.split_once(" = ").map(|(id, _)| id.trim().to_owned()))
            .collect()
    }

    /// Message `id` as written in the catalogue, placeables unformatted: for checks of
    /// wording. Empty for a missing id.
    pub fn raw(&self, lang: Lang, id: &str) -> String {
        let prefix = format!("{id} = ");
        source(lang)
            .lines()
            .find_map(|l| l.strip_prefix(prefix.as_str()))
            .unwrap_or_default()
            .to_owned()
    }

    /// Formats message `id` with string arguments. A missing id is a bug (the test
    /// suite checks every id in every language); it shows as the id itself rather
    /// than failing the page.
    pub fn format(&self, lang: Lang, id: &str, args: &[(&str, &str)]) -> String {
        let bundle = self.bundle(lang);
        let Some(pattern) = bundle.get_message(id).and_then(|m| m.value()) else {
            return id.to_owned();
        };
        let fluent_args = (!args.is_empty()).then(|| {
            let mut a = FluentArgs::new();
            for (k, v) in args {
                a.set(*k, FluentValue::from(*v));
            }
            a
        });
        let mut errors = Vec::new();
        bundle
            .format_pattern(pattern, fluent_args.as_ref(), &mut errors)
            .into_owned()
    }

    pub fn localizer(&self, lang: Lang) -> Localizer<'_> {
        Localizer {
            catalog: self,
            lang,
        }
    }
}

/// The catalog seen through one language: what templates call.
#[derive(Debug, Clone, Copy)]
pub struct Localizer<'a> {
    catalog: &'a Catalog,
    lang: Lang,
}

impl Localizer<'_> {
    pub fn lang(&self) -> Lang {
        self.lang
    }

    pub fn t(&self, id: &str) -> String {
        self.catalog.format(self.lang, id, &[])
    }

    pub fn t1(&self, id: &str, name: &str, value: &str) -> String {
        self.catalog.format(self.lang, id, &[(name, value)])
    }

    pub fn t2(&self, id: &str, a: (&str, &str), b: (&str, &str)) -> String {
        self.catalog.format(self.lang, id, &[a, b])
    }

    /// Digits in the reader's script (Persian digits for Dari and Pashto).
    pub fn digits(&self, s: &str) -> String {
        localize_digits(self.lang, s)
    }

    /// Text that may run in another direction than the sentence around it (a Latin file
    /// name or fingerprint in a Dari sentence), isolated with FSI … PDI so that it cannot
    /// reorder its neighbours. Numbers and amounts are not isolated: the marks would be
    /// copied with them.
    pub fn isolate(&self, text: &str) -> String {
        isolate(text)
    }

    /// What separates short items on one line: ` · ` in English; `، ` in Dari and Pashto,
    /// where a middle dot beside Persian digits reads as a zero (۱۴۰۰ · ۳ looks like ۱۴۰۰۰۳).
    pub fn sep(&self) -> &'static str {
        if self.lang.is_rtl() {
            "، "
        } else {
            " · "
        }
    }

    /// A list as a sentence says it: `1, 2 and 6`, `۱، ۲ و ۶`.
    pub fn list(&self, items: &[String]) -> String {
        match items {
            [] => String::new(),
            [one] => one.clone(),
            [init @ .., before_last, last] => {
                let tail = self.t2("list-pair", ("a", before_last), ("b", last));
                init.iter().rev().fold(tail, |acc, item| {
                    self.t2("list-more", ("a", item), ("b", &acc))
                })
            }
        }
    }

    /// An integer with thousands grouped and digits in the reader's script.
    pub fn integer(&self, n: i64) -> String {
        format_integer(self.lang, n)
    }

    /// An amount of money in minor units: digits grouped and in the reader's script, minor
    /// digits only when they are not zero, and the currency's name where the catalogue has
    /// one (`currency-AFN`), else its code, joined by a no-break space so that a number is
    /// never broken from its currency.
    pub fn money(&self, minor: i64, currency: Currency) -> String {
        let scale = 10u64.pow(u32::from(currency.minor_digits()));
        let abs = minor.unsigned_abs();
        let whole = i64::try_from(abs / scale).unwrap_or(i64::MAX);
        let mut amount = format_integer(self.lang, whole);
        // Whole amounts are shown whole (12,500 AFN); minor digits only when there are some.
        if scale > 1 && abs % scale != 0 {
            amount.push(if self.lang.is_rtl() { '\u{066B}' } else { '.' });
            let frac = format!(
                "{:0width$}",
                abs % scale,
                width = usize::from(currency.minor_digits())
            );
            amount.push_str(&self.digits(&frac));
        }
        if minor < 0 {
            amount.insert(0, if self.lang.is_rtl() { '\u{2212}' } else { '-' });
        }
        let id = format!("currency-{}", currency.code());
        let name = if self.catalog.bundle(self.lang).has_message(&id) {
            self.t(&id)
        } else {
            currency.code().to_owned()
        };
        self.catalog.format(
            self.lang,
            "money",
            &[("amount", &amount), ("currency", &name)],
        )
    }

    /// A date: Solar Hijri with Afghan month names for Dari and Pashto, Gregorian for
    /// English.
    pub fn date(&self, t: Timestamp) -> String {
        let (day, month, year) = calendar_date(self.lang, t);
        let month_id = if self.lang.is_rtl() {
            format!("solar-month-{month}")
        } else {
            format!("gregorian-month-{month}")
        };
        let month_name = self.t(&month_id);
        let day = self.digits(&day.to_string());
        let year = self.digits(&year.to_string());
        self.catalog.format(
            self.lang,
            "date-format",
            &[("day", &day), ("month", &month_name), ("year", &year)],
        )
    }
}

/// The Fluent source of one language's catalogue.
fn source(lang: Lang) -> &'static str {
    SOURCES
        .iter()
        .find(|(l, _)| *l == lang)
        .map(|(_, s)| *s)
        .unwrap_or_default()
}

/// `text` between FIRST STRONG ISOLATE and POP DIRECTIONAL ISOLATE.
pub fn isolate(text: &str) -> String {
    format!("\u{2068}{text}\u{2069}")
}

pub fn localize_digits(lang: Lang, s: &str) -> String {
    if lang.is_rtl() {
        digits::to_persian(s)
    } else {
        s.to_owned()
    }
}

/// Groups thousands: `12,500` in English, `۱۲٬۵۰۰` in Dari and Pashto (CLDR's Arabic
/// thousands separator U+066C).
pub fn format_integer(lang: Lang, n: i64) -> String {
    let separator = if lang.is_rtl() { '\u{066C}' } else { ',' };
    let digits = n.unsigned_abs().to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3 + 1);
    if n < 0 {
        out.push(if lang.is_rtl() { '\u{2212}' } else { '-' });
    }
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(separator);
        }
        out.push(c);
    }
    localize_digits(lang, &out)
}

/// The Gregorian (year, month, day) of a Solar Hijri date, if it is one (a month of 1 to 12,
/// a day the month has).
pub fn from_solar_hijri(year: i32, month: u8, day: u8) -> Option<(i32, u8, u8)> {
    let solar = Date::try_new_persian(year, month, day).ok()?;
    let iso = solar.to_calendar(icu_calendar::Iso);
    Some((
        iso.era_year().year,
        iso.month().ordinal,
        iso.day_of_month().0,
    ))
}

/// (day, month, year) in the calendar a reader of `lang` uses.
pub fn calendar_date(lang: Lang, t: Timestamp) -> (u8, u8, i32) {
    let (y, m, d) = t.date();
    if !lang.is_rtl() {
        return (d, m, y);
    }
    match Date::try_new_iso(y, m, d) {
        Ok(iso) => {
            let solar = iso.to_calendar(Persian::new());
            (
                solar.day_of_month().0,
                solar.month().ordinal,
                solar.year().era_year_or_related_iso(),
            )
        }
        // Only reachable for years outside ICU's range; show the Gregorian date.
        Err(_) => (d, m, y),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn catalog() -> Catalog {
        Catalog::load().expect("translations parse")
    }

    #[test]
    fn solar_hijri_dates_turn_into_gregorian_ones() {
        // 1 Hamal 1400 is Nowruz, 21 March 2021; 29 Asad 1400 is 20 August 2021.
        assert_eq!(from_solar_hijri(1400, 1, 1), Some((2021, 3, 21)));
        assert_eq!(from_solar_hijri(1400, 5, 29), Some((2021, 8, 20)));
        assert_eq!(from_solar_hijri(1405, 9, 10), Some((2026, 12, 1)));
        assert_eq!(from_solar_hijri(1400, 13, 1), None);
        assert_eq!(from_solar_hijri(1400, 12, 31), None);
        // And back, as pages show it.
        let t = Timestamp::parse("2021-08-20T00:00:00Z").unwrap();
        assert_eq!(calendar_date(Lang::Dari, t), (29, 5, 1400));
    }

    #[test]
    fn every_language_has_every_message() {
        let c = catalog();
        let en = c.message_ids(Lang::English);
        assert!(en.len() > 30, "ids were found: {}", en.len());
        for lang in Lang::ALL {
            let ids = c.message_ids(lang);
            for id in &en {
                assert!(ids.contains(id), "{lang} lacks {id}");
                assert!(c.bundle(lang).has_message(id), "{lang} bundle lacks {id}");
            }
            assert_eq!(ids.len(), en.len(), "{lang} has extra ids");
        }
    }

    #[test]
    fn fall_of_kabul_in_three_calendars() {
        // 15 August 2021 is 24 Asad 1400 in the Solar Hijri calendar.
        let c = catalog();
        let t = Timestamp::parse("2021-08-15T12:00:00Z").unwrap();
        assert_eq!(c.localizer(Lang::English).date(t), "15 August 2021");
        assert_eq!(c.localizer(Lang::Dari).date(t), "۲۴ اسد ۱۴۰۰");
        assert_eq!(c.localizer(Lang::Pashto).date(t), "۲۴ زمری ۱۴۰۰");
        // Nowruz: 1 Hamal 1401 is 21 March 2022.
        let nowruz = Timestamp::parse("2022-03-21T00:00:00Z").unwrap();
        assert_eq!(c.localizer(Lang::Dari).date(nowruz), "۱ حمل ۱۴۰۱");
    }

    #[test]
    fn numbers() {
        assert_eq!(format_integer(Lang::English, 1_234_567), "1,234,567");
        assert_eq!(format_integer(Lang::Dari, 12_500), "۱۲٬۵۰۰");
        assert_eq!(format_integer(Lang::Pashto, -5), "\u{2212}۵");
        assert_eq!(format_integer(Lang::English, 999), "999");
        assert_eq!(
            format_integer(Lang::English, i64::MIN),
            "-9,223,372,036,854,775,808"
        );
    }

    #[test]
    fn money_in_three_languages() {
        let c = catalog();
        let afn = Currency::parse("AFN").unwrap();
        let usd = Currency::parse("USD").unwrap();
        let jpy = Currency::parse("JPY").unwrap();
        let en = c.localizer(Lang::English);
        assert_eq!(en.money(125_050, afn), "1,250.50\u{a0}AFN");
        assert_eq!(
            en.money(1_250_000, afn),
            "12,500\u{a0}AFN",
            "whole amounts are whole"
        );
        assert_eq!(en.money(-5, usd), "-0.05\u{a0}USD");
        assert_eq!(en.money(7, jpy), "7\u{a0}JPY");
        assert_eq!(
            c.localizer(Lang::Dari).money(125_050, afn),
            "۱٬۲۵۰٫۵۰\u{a0}افغانی"
        );
        assert_eq!(
            c.localizer(Lang::Dari).money(1_250_000, afn),
            "۱۲٬۵۰۰\u{a0}افغانی"
        );
        assert_eq!(
            c.localizer(Lang::Pashto).money(10_000, usd),
            "۱۰۰\u{a0}ډالر"
        );
        assert_eq!(
            c.localizer(Lang::Dari).money(-1, usd),
            "\u{2212}۰٫۰۱\u{a0}دالر"
        );
    }

    #[test]
    fn arguments_are_substituted() {
        let c = catalog();
        let l = c.localizer(Lang::Dari);
        assert_eq!(
            l.t1("contact-title", "name", &l.isolate("Roshanai")),
            "نوشتن به \u{2068}Roshanai\u{2069}"
        );
        assert_eq!(l.list(&["۱".into(), "۲".into(), "۶".into()]), "۱، ۲ و ۶");
        let en = c.localizer(Lang::English);
        assert_eq!(en.list(&["1".into(), "2".into()]), "1 and 2");
        assert_eq!(en.list(&["1".into()]), "1");
        assert_eq!(c.format(Lang::English, "no-such-id", &[]), "no-such-id");
    }
}
