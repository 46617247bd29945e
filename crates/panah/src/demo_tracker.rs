//! The demo's needs and cases: a few dozen records, made up and by pseudonym only, as a
//! collective of this size might keep them, written through the real client against the
//! demo hub once it listens (founding its team log first), so a newcomer sees the tracker
//! with data.

use std::path::Path;

use panah_client::records::{self, Cache, SyncOptions};
use panah_client::Session;
use panah_core::ledger::Category;
use panah_core::records::doc::{Case, Money, Need, NeedStatus, Note, Stage, Urgency};
use panah_core::records::{Day, Doc};
use panah_core::Slug;
use panah_keyring::Keyring;

/// (pseudonym, category, urgency, status, asked and funded in afghani, notes)
const NEEDS: &[(&str, &str, &str, &str, i64, i64, &str)] = &[
    (
        "Lale-7",
        "power",
        "urgent",
        "open",
        45_000,
        0,
        "Generator for the girls' study room; evening classes stop when the power goes.",
    ),
    (
        "Lale-7",
        "food",
        "soon",
        "funded",
        9_000,
        9_000,
        "Flour, oil and rice for a family of six, two weeks.",
    ),
    (
        "Omid-2",
        "medical",
        "urgent",
        "open",
        6_500,
        2_000,
        "Insulin for three months; the pharmacy asks for cash.",
    ),
    (
        "Nargis-4",
        "shelter",
        "urgent",
        "open",
        12_000,
        0,
        "Two months' rent after the landlord raised it.",
    ),
    (
        "Nargis-4",
        "food",
        "routine",
        "delivered",
        4_500,
        4_500,
        "Winter food parcel.",
    ),
    (
        "Baran-1",
        "documents",
        "soon",
        "open",
        15_000,
        5_000,
        "Passport fee and the photographs for it.",
    ),
    (
        "Baran-1",
        "communications",
        "routine",
        "funded",
        1_500,
        1_500,
        "Phone credit for three months, for calls with the family abroad.",
    ),
    (
        "Sparrow",
        "documents",
        "urgent",
        "open",
        8_000,
        0,
        "Translation and notarisation of school certificates.",
    ),
    (
        "Sparrow",
        "relocation",
        "soon",
        "open",
        60_000,
        20_000,
        "Travel to the interview city and two nights' stay.",
    ),
    (
        "Kabk-3",
        "food",
        "urgent",
        "open",
        7_500,
        0,
        "Food for a family of five; the father lost his job.",
    ),
    (
        "Kabk-3",
        "medical",
        "soon",
        "open",
        3_000,
        0,
        "Glasses for the eldest daughter.",
    ),
    (
        "Yas-9",
        "power",
        "routine",
        "open",
        18_000,
        0,
        "Solar panel and battery instead of the generator's fuel.",
    ),
    (
        "Yas-9",
        "shelter",
        "soon",
        "declined",
        30_000,
        0,
        "Repairs to the roof; the owner refused to allow them.",
    ),
    (
        "Ghazal-5",
        "communications",
        "soon",
        "open",
        4_000,
        0,
        "A second-hand phone that can run Tor Browser.",
    ),
    (
        "Ghazal-5",
        "food",
        "routine",
        "closed",
        4_500,
        4_500,
        "Food parcel, received.",
    ),
    (
        "Parastu-6",
        "medical",
        "urgent",
        "funded",
        22_000,
        22_000,
        "Surgery fee at the private clinic.",
    ),
    (
        "Parastu-6",
        "documents",
        "routine",
        "open",
        2_500,
        0,
        "Copies of the tazkira for the family's files.",
    ),
    (
        "Shahin-8",
        "food",
        "soon",
        "open",
        9_000,
        3_000,
        "Flour and oil for a family of seven.",
    ),
    (
        "Shahin-8",
        "other",
        "routine",
        "open",
        5_000,
        0,
        "School books and bags for two children.",
    ),
    (
        "Nasim-2",
        "relocation",
        "urgent",
        "open",
        40_000,
        10_000,
        "Visa fee and the medical examination the embassy asks for.",
    ),
    (
        "Nasim-2",
        "shelter",
        "routine",
        "funded",
        8_000,
        8_000,
        "One month's rent while the papers are prepared.",
    ),
];

/// (pseudonym, stage, pathway, next action, due in days from today, history)
type SampleCase = (
    &'static str,
    &'static str,
    &'static str,
    &'static str,
    i64,
    &'static [&'static str],
);
const CASES: &[SampleCase] = &[
    (
        "Sparrow",
        "interview",
        "humanitarian visa",
        "Prepare for the interview: documents in order, a coordinator to go along.",
        4,
        &[
            "Registered with the collective.",
            "Documents collected and translated.",
            "Application lodged at the embassy.",
            "Interview date received.",
        ],
    ),
    (
        "Baran-1",
        "documents",
        "resettlement referral",
        "Get the passport; then ask the partner organisation for the referral letter.",
        12,
        &[
            "Registered; the partner organisation agreed to assess.",
            "Assessment done: eligible for referral.",
        ],
    ),
    (
        "Nasim-2",
        "lodged",
        "humanitarian visa",
        "Ask the embassy for news of the application.",
        -3,
        &["Registered.", "Application lodged with the visa fee paid."],
    ),
    (
        "Nargis-4",
        "assessed",
        "family reunion",
        "Collect the marriage certificate from the court archive.",
        20,
        &[
            "Husband already abroad with protection status.",
            "Lawyer abroad confirmed the family reunion route.",
        ],
    ),
    (
        "Omid-2",
        "registered",
        "study",
        "Send the transcript to the scholarship programme.",
        6,
        &["Offered a place for a master's programme; scholarship pending."],
    ),
    (
        "Parastu-6",
        "paused",
        "humanitarian visa",
        "Wait until the surgery and recovery are over.",
        45,
        &["Paused for medical reasons, at her request."],
    ),
    (
        "Kabk-3",
        "decision",
        "resettlement referral",
        "Tell the family the decision and explain the next steps.",
        1,
        &[
            "Referral accepted by the partner organisation.",
            "Interview with the resettlement officer done.",
        ],
    ),
    (
        "Yas-9",
        "travel",
        "work",
        "Confirm the flight booking and the reception at arrival.",
        9,
        &["Work visa granted.", "Employer abroad paid the ticket."],
    ),
    (
        "Shahin-8",
        "arrived",
        "family reunion",
        "Check in a week after arrival.",
        7,
        &[
            "Visa granted.",
            "Arrived safely; the family met her at the airport.",
        ],
    ),
    (
        "Ghazal-5",
        "withdrawn",
        "study",
        "",
        0,
        &["Decided to stay with her parents for now."],
    ),
];

fn demo_docs(today: Day, me: &str) -> anyhow::Result<Vec<Doc>> {
    let day = |offset: i64| Day(today.0.saturating_add(time::Duration::days(offset)));
    let mut docs = Vec::new();
    for (i, (who, category, urgency, status, asked, funded, notes)) in NEEDS.iter().enumerate() {
        let status = NeedStatus::parse(status).ok_or_else(|| anyhow::anyhow!("status {status}"))?;
        docs.push(Doc::Need(Need {
            pseudonym: (*who).to_owned(),
            category: Category::parse(category).ok_or_else(|| anyhow::anyhow!("{category}"))?,
            urgency: Urgency::parse(urgency).ok_or_else(|| anyhow::anyhow!("{urgency}"))?,
            status,
            money: Some(Money {
                currency: "AFN".into(),
                asked: asked * 100,
                funded: funded * 100,
            }),
            notes: (*notes).to_owned(),
            ledger: if *funded > 0 {
                vec![(i as u64 * 3) % 30 + 1]
            } else {
                vec![]
            },
            opened: day(-40 + i as i64),
            closed: status.is_closed().then(|| day(-2)),
        }));
    }
    for (who, stage, pathway, next, due, history) in CASES {
        let stage = Stage::parse(stage).ok_or_else(|| anyhow::anyhow!("stage {stage}"))?;
        let n = history.len() as i64;
        docs.push(Doc::Case(Case {
            pseudonym: (*who).to_owned(),
            stage,
            pathway: (*pathway).to_owned(),
            next_action: (*next).to_owned(),
            due: (!stage.is_closed()).then(|| day(*due)),
            history: history
                .iter()
                .enumerate()
                .map(|(k, text)| Note {
                    date: day(-60 + 15 * (k as i64 - n + 4)),
                    by: me.to_owned(),
                    text: (*text).to_owned(),
                })
                .collect(),
            needs: vec![],
            opened: day(-90),
            closed: stage.is_closed().then(|| day(-5)),
        }));
    }
    Ok(docs)
}

/// Founds the demo collective's team log and writes the sample needs and cases to the hub
/// at `url`, keeping the coordinator's cache in `cache_dir`.
pub async fn seed(url: &str, keyring: &Keyring, cache_dir: &Path) -> anyhow::Result<usize> {
    let slug = Slug::parse("roshanai")?;
    let session = Session::login(url, slug.clone(), keyring).await?;
    let (info, founding) = panah_client::team::founding_list(&session, keyring).await?;
    let team = panah_client::team::found(&session, keyring, &info, &founding).await?;
    let me = keyring.public().fingerprint().to_string();
    let path = records::cache_path(cache_dir, url, slug.as_str(), &me);
    let mut cache = Cache::load(&path, keyring)?;
    let today = Day::today();
    for doc in demo_docs(today, &me)? {
        cache.add(doc)?;
    }
    let synced = records::sync(
        &session,
        keyring,
        &team,
        &mut cache,
        SyncOptions {
            keep_closed_days: records::DEFAULT_KEEP_CLOSED_DAYS,
            today,
        },
        |c| c.save(&path, keyring),
        |_| {},
    )
    .await?;
    session.logout().await;
    Ok(synced.sent)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sample_records_follow_the_rules() {
        let docs = demo_docs(Day::parse("2026-11-26").unwrap(), "f81f-d1a1-6aed-50b1").unwrap();
        assert!(docs.len() >= 30, "a few dozen: {}", docs.len());
        for d in &docs {
            d.check().unwrap();
            for (_, text) in match d {
                Doc::Need(n) => n.texts(),
                Doc::Case(c) => c.texts(),
                Doc::Audit(_) | Doc::Deleted(_) => vec![],
            } {
                assert!(
                    panah_core::records::doc::warnings(text).is_empty(),
                    "the demo must not look like it names anyone: {text}"
                );
            }
        }
    }
}
