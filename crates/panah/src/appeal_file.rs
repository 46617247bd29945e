//! The appeal file an operator (or the demo) loads with `panah admin set-appeal`:
//! TOML with a table per language (`[fa]`, `[ps]`, `[en]`), each with `name`, `tagline`,
//! `story`, `needs` and `give`. Paragraphs are separated by blank lines.

use std::collections::BTreeMap;

use anyhow::{bail, Context};
use panah_core::Lang;
use panah_store::Appeal;
use serde::Deserialize;

/// Limits that keep an appeal page inside one round trip (14 KB compressed).
const MAX_NAME: usize = 120;
const MAX_TAGLINE: usize = 240;
const MAX_BODY: usize = 4_000;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Section {
    name: String,
    #[serde(default)]
    tagline: String,
    #[serde(default)]
    story: String,
    #[serde(default)]
    needs: String,
    #[serde(default)]
    give: String,
}

/// Parses and checks an appeal file. Every language in it must be one of ours.
pub fn parse(text: &str) -> anyhow::Result<Vec<(Lang, Appeal)>> {
    let sections: BTreeMap<String, Section> =
        toml::from_str(text).context("the appeal file is not valid")?;
    if sections.is_empty() {
        bail!("the appeal file has no [fa], [ps] or [en] section");
    }
    let mut out = Vec::new();
    for (code, s) in sections {
        let lang = Lang::from_code(&code).with_context(|| format!("section [{code}]"))?;
        let check = |field: &str, value: &str, max: usize| -> anyhow::Result<()> {
            let n = value.chars().count();
            if n > max {
                bail!("[{code}] {field} has {n} characters; the most is {max}, to keep the page light on slow connections");
            }
            if value
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
            {
                bail!("[{code}] {field} contains control characters");
            }
            Ok(())
        };
        if s.name.trim().is_empty() {
            bail!("[{code}] name is empty");
        }
        check("name", &s.name, MAX_NAME)?;
        check("tagline", &s.tagline, MAX_TAGLINE)?;
        check("story", &s.story, MAX_BODY)?;
        check("needs", &s.needs, MAX_BODY)?;
        check("give", &s.give, MAX_BODY)?;
        out.push((
            lang,
            Appeal {
                name: s.name.trim().to_owned(),
                tagline: s.tagline.trim().to_owned(),
                story: s.story.trim().to_owned(),
                needs: s.needs.trim().to_owned(),
                give: s.give.trim().to_owned(),
            },
        ));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_appeal_is_valid_in_three_languages() {
        let parsed = parse(crate::demo::DEMO_APPEAL).unwrap();
        let langs: Vec<Lang> = parsed.iter().map(|(l, _)| *l).collect();
        for lang in Lang::ALL {
            assert!(langs.contains(&lang), "{lang}");
        }
    }

    #[test]
    fn refusals_are_precise() {
        for (text, needle) in [
            ("", "no [fa]"),
            ("[de]\nname = \"x\"", "unknown language"),
            ("[en]\nname = \"\"", "name is empty"),
            ("[en]\nname = \"x\"\ncolour = \"red\"", "unknown field"),
            ("[en\nname=", "not valid"),
        ] {
            let err = format!("{:#}", parse(text).unwrap_err());
            assert!(err.contains(needle), "{text:?}: {err}");
        }
        let long = format!(
            "[en]\nname = \"x\"\nstory = \"{}\"",
            "a".repeat(MAX_BODY + 1)
        );
        assert!(format!("{:#}", parse(&long).unwrap_err()).contains("the most is"));
    }
}
