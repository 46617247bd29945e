//! Text from a hub, a mirror or a sender shown in a terminal: control characters (escape
//! sequences that could rewrite the screen, move the cursor or set the window title) are
//! shown as visible `\u{…}` instead of being obeyed. Newlines and tabs stay.

/// `text` with every control character but `\n` and `\t` made visible, and the Unicode
/// direction overrides and isolates and the line separators too (they make text read
/// differently from what it says, or start a line that seems to be the program's).
/// Direction marks (RLM, LRM, ALM) stay: they are ordinary in Dari and Pashto text.
pub fn sanitize(text: &str) -> String {
    escape(text, true)
}

/// [`sanitize`] for a field that is one line (a label, a name): newlines and tabs are made
/// visible too, so the field cannot add lines that seem to be the program's.
pub fn sanitize_line(text: &str) -> String {
    escape(text, false)
}

fn escape(text: &str, lines: bool) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let unsafe_char = (c.is_control() && !(lines && (c == '\n' || c == '\t')))
            || matches!(
                c,
                '\u{202a}'..='\u{202e}'
                    | '\u{2066}'..='\u{2069}'
                    | '\u{2028}'
                    | '\u{2029}'
            );
        if unsafe_char {
            out.push_str(&c.escape_unicode().to_string());
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_are_shown_not_obeyed() {
        assert_eq!(sanitize("ok\tfine\n"), "ok\tfine\n");
        assert_eq!(
            sanitize_line("label\nfake line\t"),
            "label\\u{a}fake line\\u{9}"
        );
        assert_eq!(sanitize("a\u{1b}[2Jb"), "a\\u{1b}[2Jb");
        assert_eq!(sanitize("\u{7}\u{9b}"), "\\u{7}\\u{9b}");
        assert_eq!(sanitize("x\u{202e}y"), "x\\u{202e}y");
        assert_eq!(sanitize("a\u{2028}b\u{2029}"), "a\\u{2028}b\\u{2029}");
        // Direction marks (not overrides) are ordinary in Dari and Pashto text.
        assert_eq!(sanitize("۱۲\u{200f} افغانی"), "۱۲\u{200f} افغانی");
        assert_eq!(sanitize("نیاز به دارو"), "نیاز به دارو");
    }
}
