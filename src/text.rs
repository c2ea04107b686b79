//! Text that `lab` did not write itself (a learner's files and progress record, a registry's
//! answers, a cluster's objects) is shown to people only after its control characters are made
//! visible: an escape sequence in a record could otherwise move the cursor and clear the very
//! line that says the record is not intact, and a bidi override could reorder what is read.
//! Every human renderer passes such text through here; JSON output is escaped by serde.

use std::borrow::Cow;
use std::fmt::Write as _;

/// `text` on one line: every control character (C0, DEL, C1, line and paragraph separators)
/// and every bidi embedding, override or isolate is written as its `\u{..}` escape.
pub fn printable(text: &str) -> Cow<'_, str> {
    escape(text, |_| false)
}

/// `text` as a block of lines: as [`printable`], but newlines and tabs are kept.
pub fn printable_block(text: &str) -> Cow<'_, str> {
    escape(text, |c| c == '\n' || c == '\t')
}

/// Whether `c` could change what a terminal shows beyond itself.
fn is_hazard(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{2028}' | '\u{2029}')
        || matches!(c, '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{061c}')
}

fn escape(text: &str, keep: impl Fn(char) -> bool) -> Cow<'_, str> {
    let unsafe_char = |c: char| is_hazard(c) && !keep(c);
    if !text.chars().any(unsafe_char) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if unsafe_char(c) {
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_is_borrowed_unchanged() {
        let text = "Deployment develop/app: ✓ pinned by digest — über";
        assert!(matches!(printable(text), Cow::Borrowed(t) if t == text));
        assert!(matches!(printable_block("a\n\tb"), Cow::Borrowed("a\n\tb")));
    }

    #[test]
    fn escape_sequences_are_shown_not_obeyed() {
        assert_eq!(
            printable("ok\x1b[12A\x1b[Jfine"),
            "ok\\u{1b}[12A\\u{1b}[Jfine"
        );
        // OSC 8 hyperlink and a title change, ended by BEL and by ST (C1).
        assert_eq!(
            printable("\x1b]0;pwned\x07x\u{9d}y\u{9c}"),
            "\\u{1b}]0;pwned\\u{7}x\\u{9d}y\\u{9c}"
        );
        assert_eq!(printable("a\rb\u{7f}"), "a\\u{d}b\\u{7f}");
    }

    #[test]
    fn bidi_controls_are_shown_not_obeyed() {
        assert_eq!(
            printable("user\u{202e}gnp.exe\u{2066}x\u{2069}"),
            "user\\u{202e}gnp.exe\\u{2066}x\\u{2069}"
        );
        assert_eq!(printable("a\u{2028}b"), "a\\u{2028}b");
    }

    #[test]
    fn a_block_keeps_its_lines_and_tabs_but_nothing_else() {
        assert_eq!(printable("a\nb\tc"), "a\\u{a}b\\u{9}c");
        assert_eq!(printable_block("a\nb\tc\r\n"), "a\nb\tc\\u{d}\n");
    }
}
