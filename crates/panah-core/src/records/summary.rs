//! What the coordinators see first, computed on their own device: open needs by category
//! and urgency, money asked against money funded, cases by stage, and what is due this
//! week or overdue.

use std::collections::BTreeMap;

use super::doc::{Day, Doc, Kind, NeedStatus, Stage, Urgency};
use super::RecordId;
use crate::ledger::Category;

/// Something with a due date.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Due {
    pub due: Day,
    pub id: RecordId,
    pub kind: Kind,
    pub pseudonym: String,
    pub what: String,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Needs not yet delivered, closed or declined.
    pub open_needs: BTreeMap<(Category, Urgency), u32>,
    /// Per currency, over those needs: (asked, funded), in minor units.
    pub money: BTreeMap<String, (i64, i64)>,
    pub cases: BTreeMap<Stage, u32>,
    /// Due in the next seven days, today included.
    pub this_week: Vec<Due>,
    /// Due before today and not closed.
    pub overdue: Vec<Due>,
    pub needs_total: u32,
    pub cases_total: u32,
}

impl Summary {
    pub fn of<'a>(
        records: impl IntoIterator<Item = (&'a RecordId, &'a Doc)>,
        today: Day,
    ) -> Summary {
        let mut s = Summary::default();
        let week_end = today.0.saturating_add(time::Duration::days(7));
        let due = |s: &mut Summary, d: Due| {
            if d.due < today {
                s.overdue.push(d);
            } else if d.due.0 < week_end {
                s.this_week.push(d);
            }
        };
        for (id, doc) in records {
            match doc {
                Doc::Need(n) => {
                    s.needs_total += 1;
                    if matches!(n.status, NeedStatus::Open | NeedStatus::Funded) {
                        *s.open_needs.entry((n.category, n.urgency)).or_default() += 1;
                        if let Some(m) = &n.money {
                            let e = s.money.entry(m.currency.clone()).or_default();
                            e.0 = e.0.saturating_add(m.asked);
                            e.1 = e.1.saturating_add(m.funded);
                        }
                    }
                }
                Doc::Case(c) => {
                    s.cases_total += 1;
                    *s.cases.entry(c.stage).or_default() += 1;
                    if let (Some(d), false) = (c.due, c.stage.is_closed()) {
                        due(
                            &mut s,
                            Due {
                                due: d,
                                id: *id,
                                kind: Kind::Case,
                                pseudonym: c.pseudonym.clone(),
                                what: c.next_action.clone(),
                            },
                        );
                    }
                }
                Doc::Audit(_) | Doc::Deleted(_) => {}
            }
        }
        s.this_week.sort();
        s.overdue.sort();
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::doc::{Case, Money, Need};

    #[test]
    fn counts_money_and_dates() {
        let today = Day::parse("2021-09-01").unwrap();
        let day = |s: &str| Day::parse(s).unwrap();
        let need = |status, urgency, asked, funded| {
            Doc::Need(Need {
                pseudonym: "Lale-7".into(),
                category: Category::Food,
                urgency,
                status,
                money: Some(Money {
                    currency: "AFN".into(),
                    asked,
                    funded,
                }),
                notes: String::new(),
                ledger: vec![],
                opened: day("2021-08-20"),
                closed: status.is_closed().then(|| day("2021-08-30")),
            })
        };
        let case = |stage: Stage, due: &str| {
            Doc::Case(Case {
                pseudonym: "Sparrow".into(),
                stage,
                pathway: "humanitarian visa".into(),
                next_action: "book the interview".into(),
                due: Some(day(due)),
                history: vec![],
                needs: vec![],
                opened: day("2021-08-20"),
                closed: stage.is_closed().then(|| day("2021-08-30")),
            })
        };
        let docs = [
            (
                RecordId([1; 16]),
                need(NeedStatus::Open, Urgency::Urgent, 1000, 0),
            ),
            (
                RecordId([2; 16]),
                need(NeedStatus::Funded, Urgency::Urgent, 500, 500),
            ),
            (
                RecordId([3; 16]),
                need(NeedStatus::Closed, Urgency::Soon, 9999, 9999),
            ),
            (RecordId([4; 16]), case(Stage::Interview, "2021-08-31")),
            (RecordId([5; 16]), case(Stage::Documents, "2021-09-01")),
            (RecordId([6; 16]), case(Stage::Documents, "2021-09-08")),
            (RecordId([7; 16]), case(Stage::Closed, "2021-08-01")),
        ];
        let s = Summary::of(docs.iter().map(|(i, d)| (i, d)), today);
        assert_eq!(
            s.open_needs.get(&(Category::Food, Urgency::Urgent)),
            Some(&2)
        );
        assert_eq!(s.open_needs.len(), 1);
        assert_eq!(s.money.get("AFN"), Some(&(1500, 500)));
        assert_eq!(s.cases.get(&Stage::Documents), Some(&2));
        assert_eq!(s.overdue.len(), 1);
        assert_eq!(s.overdue[0].id, RecordId([4; 16]));
        assert_eq!(
            s.this_week.len(),
            1,
            "the 8th is a week away, not this week"
        );
        assert_eq!((s.needs_total, s.cases_total), (3, 4));
    }
}
