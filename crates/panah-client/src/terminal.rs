//! Text from a hub, a mirror or a sender shown in a terminal: control characters (escape
//! sequences that could rewrite the screen, move the cursor or set the window title) are
//! shown as visible `\u{…}` instead of being obeyed. Newlines and tabs stay.

/// `text` with every control character but `\n` and `\t` made visible, and the Unicode
/// direction overrides and isolates and the line separators too (they make text read
/// differently from what it says, or start a line that seems to be the program's).
/// Invisible characters that hide text are made visible as well. Direction marks (RLM,
/// LRM, ALM) and the zero-width non-joiner stay: they are ordinary in Dari and Pashto text.
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
                    // Invisible ones that hide or disguise text: zero-width space, word
                    // joiner and invisible operators, deprecated format characters, the
                    // byte-order mark, the soft hyphen, the Mongolian vowel separator and
                    // tag characters. (The zero-width non-joiner and joiner stay: Dari and
                    // Pashto words are written with them.)
                    | '\u{200b}'
                    | '\u{2060}'..='\u{2064}'
                    | '\u{206a}'..='\u{206f}'
                    | '\u{feff}'
                    | '\u{00ad}'
                    | '\u{180e}'
                    | '\u{e0000}'..='\u{e007f}'
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
        // The half-space of Dari words stays; hidden characters do not.
        assert_eq!(sanitize("می\u{200c}خواهم"), "می\u{200c}خواهم");
        assert_eq!(
            sanitize("pay\u{200b}\u{feff}\u{e0041}"),
            "pay\\u{200b}\\u{feff}\\u{e0041}"
        );
    }
}
