//! What tests (this crate's and the `panah` binary's) read back from the hub's pages.

/// The codename a "message received" page shows, its numbered groups read back in order
/// and joined by spaces, in the digits the page used. `None` if the page shows none.
pub fn shown_codename(html: &str) -> Option<String> {
    let start = html.find("<ol class=\"codename\" dir=\"ltr\"")?;
    let end = start + html[start..].find("</ol>")?;
    let groups: Vec<&str> = html[start..end]
        .split("<span class=\"g\">")
        .skip(1)
        .filter_map(|g| g.split('<').next())
        .collect();
    (!groups.is_empty()).then(|| groups.join(" "))
}
