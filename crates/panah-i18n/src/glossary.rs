//! The words the Dari and Pashto catalogues must use, and the ones they must not.
//!
//! From the language review: words that could endanger a reader at a checkpoint (جمعیت
//! suggests Jamiat-e Islami; "exit" on a public ledger row announces that the group pays
//! for people to leave), words that mislead (مرکز reads as an office or an authority; a
//! "checkpoint" copied literally sounds like a road checkpoint), Iranian words where
//! Afghans use others, and one term per concept. The test below fails when a catalogue or
//! the demo appeal breaks any of it.

use panah_core::Lang;

/// Words that must appear in no message of that language (substring match).
pub const RISKY: &[(Lang, &str, &str)] = &[
    (
        Lang::Dari,
        "جمعیت",
        "suggests Jamiat-e Islami; «collective» is گروه",
    ),
    (
        Lang::Dari,
        "خروج",
        "«exit» announces people leaving; «relocation» is انتقال",
    ),
    (
        Lang::Dari,
        "بازرسی",
        "Iranian «inspection»; a phone search is تلاشی",
    ),
    (
        Lang::Dari,
        "نقطهٔ بررسی",
        "close to road-checkpoint words; خلاصهٔ امضاشده",
    ),
    (Lang::Dari, "ایست بازرسی", "a road checkpoint"),
    (Lang::Dari, "پوسته", "road checkpoint"),
    (
        Lang::Dari,
        "پاک‌سازی",
        "the news word for military «clearing operations»",
    ),
    (
        Lang::Dari,
        "مرکز",
        "an office or authority; the site is سایت",
    ),
    (Lang::Dari, "درج", "the act of inserting; an entry is ثبت"),
    (Lang::Dari, "فقط‌افزودنی", "a made-up word"),
    (Lang::Dari, "مرورگر", "Iranian; Tor Browser (براوزر تور)"),
    (Lang::Dari, "بار نمی", "Iranian; چیزی نمی‌گیرد"),
    (Lang::Dari, "کامپیوتر", "Iranian; کمپیوتر"),
    (Lang::Dari, "وب‌سایت", "Iranian; ویب‌سایت"),
    (Lang::Dari, "به‌روز", "Iranian; آخرین تغییر"),
    (Lang::Dari, "روی‌هم", "Iranian; مجموعاً"),
    (Lang::Dari, "جواب", "one term for «reply»: پاسخ"),
    (Lang::Dari, "عدد", "«items»; a digit is رقم"),
    (Lang::Dari, "خانه", "«house» to a listener"),
    (
        Lang::Pashto,
        "وتل",
        "«leaving» announces people leaving; «relocation» is لېږد",
    ),
    (
        Lang::Pashto,
        "د کتنې ټک",
        "a literal copy close to road-checkpoint words",
    ),
    (Lang::Pashto, "پوسته", "road checkpoint"),
    (
        Lang::Pashto,
        "مرکز",
        "an office or authority; the site is سایټ",
    ),
    (Lang::Pashto, "جمعې", "also «Fridays»; ټول حسابونه"),
    (Lang::Pashto, "وښیه", "familiar singular among polite forms"),
    (Lang::Pashto, "موخې", "literary; هدفونه"),
    (Lang::Pashto, "عددونه", "a digit is رقم"),
    (Lang::Pashto, "خانه", "a field is برخه"),
    (
        Lang::Pashto,
        "{ $index } لیکن",
        "a number before the noun reads as a count",
    ),
    (
        Lang::English,
        "inside a ZIP file.",
        "a ZIP keeps a photo's location: never advise it",
    ),
    (Lang::English, "this hub", "readers know a site, not a hub"),
];

/// One term per concept: the message `id` must contain `term`.
pub const TERMS: &[(Lang, &str, &str)] = &[
    (Lang::Dari, "replies-codename", "رمز"),
    (Lang::Dari, "receipt-code", "کد رسید"),
    (Lang::Dari, "ledger-title", "دفتر حساب"),
    (Lang::Dari, "ledger-checkpoint", "خلاصهٔ امضاشده"),
    (Lang::Dari, "ledger-signed", "خلاصهٔ امضاشده"),
    (Lang::Dari, "receipt-found", "خلاصهٔ امضاشده"),
    (Lang::Dari, "ledger-reverses", "ثبت شمارهٔ"),
    (Lang::Dari, "receipt-found", "ثبت شمارهٔ"),
    (Lang::Dari, "category-relocation", "انتقال امن و قانونی"),
    (Lang::Dari, "home-title", "گروه"),
    (Lang::Dari, "error-no-coordinators", "گروه"),
    (Lang::Dari, "error-internal", "سایت"),
    (Lang::Dari, "contact-safety-1", "Tor Browser (براوزر تور)"),
    (Lang::Dari, "contact-safety-3", "جزئیات پنهان"),
    (Lang::Dari, "contact-safety-3", "HEIC"),
    (Lang::Dari, "sent-file-kept", "جزئیات پنهان"),
    (Lang::Dari, "sent-codename-warn", "تلاشی"),
    (Lang::Dari, "contact-safety-4", "نه در تلفون"),
    (Lang::Dari, "rail-transfer-agent", "حواله‌دار یا صراف"),
    (Lang::Dari, "goal-title", "هدف"),
    (Lang::Pashto, "replies-codename", "رمز"),
    (Lang::Pashto, "receipt-code", "د رسید کوډ"),
    (Lang::Pashto, "ledger-title", "د حساب دفتر"),
    (Lang::Pashto, "ledger-checkpoint", "لاسلیک شوی لنډیز"),
    (Lang::Pashto, "ledger-signed", "لاسلیک شوی لنډیز"),
    (Lang::Pashto, "receipt-found", "لاسلیک شوی لنډیز"),
    (Lang::Pashto, "ledger-reverses", "لیکنه شمېره"),
    (Lang::Pashto, "receipt-found", "لیکنه شمېره"),
    (Lang::Pashto, "category-relocation", "خوندي او قانوني لېږد"),
    (Lang::Pashto, "home-title", "ټولنې"),
    (Lang::Pashto, "error-internal", "سایټ"),
    (Lang::Pashto, "contact-safety-1", "Tor Browser (تور براوزر)"),
    (Lang::Pashto, "contact-safety-3", "پټ جزئیات"),
    (Lang::Pashto, "contact-safety-3", "HEIC"),
    (Lang::Pashto, "sent-file-kept", "پټو جزئیاتو"),
    (Lang::Pashto, "sent-codename-warn", "پلټل"),
    (Lang::Pashto, "contact-safety-4", "نه په خپل ټیلیفون"),
    (Lang::Pashto, "rail-transfer-agent", "حواله دار یا صراف"),
    (Lang::Pashto, "goal-title", "هدفونه"),
    (Lang::Pashto, "ledger-verify-text", "ټول حسابونه"),
    (Lang::English, "contact-safety-3", "HEIC"),
    (Lang::English, "contact-safety-4", "not on your phone"),
    (
        Lang::English,
        "sent-file-kept",
        "any hidden details it may carry",
    ),
    (Lang::English, "category-relocation", "relocation"),
];

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Catalog;

    /// The demo collective's appeal is read in the same languages by the same people.
    const DEMO_APPEAL: &str = include_str!("../../../examples/appeal.toml");

    fn demo_table(lang: Lang) -> String {
        let header = format!("[{}]", lang.code());
        let start = DEMO_APPEAL.find(&header).map_or(DEMO_APPEAL.len(), |i| i);
        let rest = &DEMO_APPEAL[start + header.len().min(DEMO_APPEAL.len() - start)..];
        let end = rest.find("\n[").unwrap_or(rest.len());
        rest[..end].to_owned()
    }

    #[test]
    fn no_catalogue_uses_a_risky_word() {
        let c = Catalog::load().expect("catalogues parse");
        let mut found = Vec::new();
        for (lang, word, why) in RISKY {
            for id in c.message_ids(*lang) {
                let text = c.raw(*lang, &id);
                if text.contains(word) {
                    found.push(format!("{lang} {id}: «{word}» ({why})"));
                }
            }
            if demo_table(*lang).contains(word) {
                found.push(format!("{lang} demo appeal: «{word}» ({why})"));
            }
        }
        assert!(found.is_empty(), "risky words:\n{}", found.join("\n"));
    }

    #[test]
    fn one_term_per_concept() {
        let c = Catalog::load().expect("catalogues parse");
        for (lang, id, term) in TERMS {
            let text = c.raw(*lang, id);
            assert!(
                text.contains(term),
                "{lang} {id} should say «{term}»: {text}"
            );
        }
    }

    #[test]
    fn the_lists_catch_what_they_name() {
        // The demo table reader finds the text, so the demo check is not vacuous.
        assert!(demo_table(Lang::Dari).contains("گروه جوانان روشنایی"));
        assert!(demo_table(Lang::Pashto).contains("لېږد"));
        assert!(demo_table(Lang::English).contains("relocation"));
    }
}
