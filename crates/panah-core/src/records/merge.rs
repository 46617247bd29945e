//! Three-way merge of two coordinators' edits of one record, field by field, against the
//! version both started from: a field only one side changed takes that side's value; a
//! list of links (ledger entries, needs) or a case's history keeps what either side has;
//! a field both changed differently is a real conflict, named for the person to decide.

use serde_json::{Map, Value};

use super::Doc;

/// Fields whose values are sets: what either side added is kept.
const UNIONS: &[&str] = &["history", "needs", "ledger"];

/// Merges `mine` and `theirs`, both edited from `base`. On a real conflict, the names of
/// the fields both changed differently.
pub fn merge(base: &Doc, mine: &Doc, theirs: &Doc) -> Result<Doc, Vec<String>> {
    let as_map = |d: &Doc| match serde_json::to_value(d) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let (b, m, t) = (as_map(base), as_map(mine), as_map(theirs));
    let mut keys: Vec<&String> = b.keys().chain(m.keys()).chain(t.keys()).collect();
    keys.sort();
    keys.dedup();
    let mut out = Map::new();
    let mut clashes = Vec::new();
    for key in keys {
        let (bv, mv, tv) = (b.get(key), m.get(key), t.get(key));
        let merged = if UNIONS.contains(&key.as_str()) {
            // What either side added stays; what either side took out (a note that named
            // someone, a link made by mistake) stays out.
            let items =
                |v: Option<&Value>| v.and_then(Value::as_array).cloned().unwrap_or_default();
            let (bl, ml, tl) = (items(bv), items(mv), items(tv));
            let mut all: Vec<Value> = Vec::new();
            for item in tl.iter().chain(&ml) {
                let kept = !bl.contains(item) || (ml.contains(item) && tl.contains(item));
                if kept && !all.contains(item) {
                    all.push(item.clone());
                }
            }
            if key == "history" {
                all.sort_by_key(|v| v.get("date").and_then(Value::as_str).map(str::to_owned));
            }
            (!all.is_empty()).then_some(Value::Array(all))
        } else if mv == tv || tv == bv {
            mv.cloned()
        } else if mv == bv {
            tv.cloned()
        } else {
            clashes.push(key.clone());
            tv.cloned()
        };
        if let Some(v) = merged {
            out.insert(key.clone(), v);
        }
    }
    if !clashes.is_empty() {
        return Err(clashes);
    }
    let bytes = serde_json::to_vec(&Value::Object(out)).map_err(|e| vec![e.to_string()])?;
    // Each side was valid; a merge of them may not be (a status from one side, a closing
    // date from the other): then the fields involved are the conflict.
    Doc::from_bytes(&bytes).map_err(|why| vec![why])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::doc::{Case, Money, Need, NeedStatus, Note, Stage, Urgency};
    use crate::records::Day;

    fn need() -> Need {
        Need {
            pseudonym: "Lale-7".into(),
            category: crate::ledger::Category::Power,
            urgency: Urgency::Urgent,
            status: NeedStatus::Open,
            money: Some(Money {
                currency: "AFN".into(),
                asked: 45_000,
                funded: 0,
            }),
            notes: "generator".into(),
            ledger: vec![1],
            opened: Day::parse("2021-08-20").unwrap(),
            closed: None,
        }
    }

    #[test]
    fn edits_of_different_fields_both_survive() {
        let base = need();
        let mut mine = base.clone();
        mine.notes = "generator bought; fuel still needed".into();
        mine.ledger.push(7);
        let mut theirs = base.clone();
        theirs.status = NeedStatus::Funded;
        theirs.money = Some(Money {
            currency: "AFN".into(),
            asked: 45_000,
            funded: 20_000,
        });
        theirs.ledger.push(9);
        let merged = merge(&Doc::Need(base), &Doc::Need(mine), &Doc::Need(theirs)).unwrap();
        let Doc::Need(n) = merged else {
            panic!("a need")
        };
        assert_eq!(n.notes, "generator bought; fuel still needed");
        assert_eq!(n.status, NeedStatus::Funded);
        assert_eq!(n.money.unwrap().funded, 20_000);
        assert_eq!(n.ledger, [1, 9, 7]);
    }

    #[test]
    fn the_same_field_changed_twice_is_named() {
        let base = need();
        let mut mine = base.clone();
        mine.notes = "a".into();
        let mut theirs = base.clone();
        theirs.notes = "b".into();
        assert_eq!(
            merge(
                &Doc::Need(base.clone()),
                &Doc::Need(mine),
                &Doc::Need(theirs)
            )
            .unwrap_err(),
            ["notes"]
        );
        // Closing on one side and declining on the other: the status clashes.
        let mut mine = base.clone();
        mine.status = NeedStatus::Closed;
        mine.closed = Some(Day::parse("2021-09-01").unwrap());
        let mut theirs = base.clone();
        theirs.status = NeedStatus::Declined;
        theirs.closed = Some(Day::parse("2021-09-02").unwrap());
        let err = merge(&Doc::Need(base), &Doc::Need(mine), &Doc::Need(theirs)).unwrap_err();
        assert!(
            err.contains(&"status".to_owned()) && err.contains(&"closed".to_owned()),
            "{err:?}"
        );
    }

    #[test]
    fn a_case_keeps_the_notes_of_both() {
        let note = |d: &str, t: &str| Note {
            date: Day::parse(d).unwrap(),
            by: "x".into(),
            text: t.into(),
        };
        let base = Case {
            pseudonym: "Sparrow".into(),
            stage: Stage::Documents,
            pathway: "humanitarian visa".into(),
            next_action: String::new(),
            due: None,
            history: vec![note("2021-08-20", "registered")],
            needs: vec![],
            opened: Day::parse("2021-08-20").unwrap(),
            closed: None,
        };
        let mut mine = base.clone();
        mine.history.push(note("2021-08-25", "passport fee paid"));
        let mut theirs = base.clone();
        theirs
            .history
            .push(note("2021-08-24", "embassy called back"));
        theirs.stage = Stage::Lodged;
        let Doc::Case(c) = merge(&Doc::Case(base), &Doc::Case(mine), &Doc::Case(theirs)).unwrap()
        else {
            panic!("a case")
        };
        assert_eq!(c.stage, Stage::Lodged);
        assert_eq!(
            c.history
                .iter()
                .map(|n| n.text.as_str())
                .collect::<Vec<_>>(),
            ["registered", "embassy called back", "passport fee paid"]
        );
    }
}
