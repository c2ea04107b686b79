//! Markdown for the terminal: headings, paragraphs wrapped to the width, emphasis, inline code,
//! lists, code blocks (never wrapped, so commands stay copyable), block quotes, links with
//! their address, and tables as one block per row (a table wider than the terminal is
//! unreadable). Parsed by pulldown-cmark; without colour the text carries no escape codes, and
//! with colour only the renderer's own: the document's control characters are shown escaped
//! (instructions hold the learner's values).

use pulldown_cmark::{Event, HeadingLevel, Options, Parser, Tag, TagEnd};

use crate::text::{printable, printable_block};

/// How to render.
#[derive(Debug, Clone, Copy)]
pub struct Look {
    /// Columns available.
    pub width: usize,
    /// Whether to use ANSI colours and emphasis.
    pub color: bool,
}

const BOLD: &str = "\x1b[1m";
const ITALIC: &str = "\x1b[3m";
const CYAN: &str = "\x1b[36m";
const DIM: &str = "\x1b[2m";
const RESET: &str = "\x1b[0m";

/// The most levels of quote and list nesting drawn; deeper levels are drawn at this depth.
pub const MAX_LEVELS: usize = 8;

/// The most characters of a table's column label shown beside each cell: a label is written
/// once and shown in every row, so an unbounded one would make the rendering grow with the
/// square of the table's size. (pulldown-cmark bounds how often reference links expand.)
const MAX_LABEL: usize = 60;

/// A block being built.
enum Block {
    Heading(u8, String),
    Paragraph(String),
    Code(String),
    Rule,
}

/// Renders `markdown` for a terminal.
pub fn render(markdown: &str, look: Look) -> String {
    let mut r = Renderer {
        look,
        out: String::new(),
        inline: String::new(),
        lists: Vec::new(),
        quote: 0,
        link: None,
        code: None,
        table: None,
        heading: None,
        item_start: false,
    };
    let options = Options::ENABLE_TABLES | Options::ENABLE_STRIKETHROUGH;
    for event in Parser::new_ext(markdown, options) {
        r.event(event);
    }
    r.flush_inline();
    let trimmed = r.out.trim_end_matches('\n');
    format!("{trimmed}\n")
}

struct Table {
    head: Vec<String>,
    rows: Vec<Vec<String>>,
    row: Vec<String>,
    in_head: bool,
}

struct Renderer {
    look: Look,
    out: String,
    inline: String,
    /// Open lists: the next number of an ordered list, or `None` for bullets.
    lists: Vec<Option<u64>>,
    quote: usize,
    link: Option<String>,
    code: Option<String>,
    table: Option<Table>,
    heading: Option<u8>,
    /// The inline text is the first paragraph of a list item (gets the marker).
    item_start: bool,
}

impl Renderer {
    fn style(&self, on: &str, text: &str) -> String {
        if self.look.color {
            format!("{on}{text}{RESET}")
        } else {
            text.to_owned()
        }
    }

    fn open(&mut self, code: &str) {
        if self.look.color {
            self.inline.push_str(code);
        }
    }

    fn close(&mut self) {
        if self.look.color {
            self.inline.push_str(RESET);
        }
    }

    fn prefix(&self) -> String {
        self.indent(self.lists.len())
    }

    /// The quote bars and `list_levels` list indents that start a line, at most
    /// [`MAX_LEVELS`] of them together: every line pays for its indent, so an unbounded one
    /// would make a deeply nested document's rendering grow with the square of its size.
    fn indent(&self, list_levels: usize) -> String {
        let quotes = self.quote.min(MAX_LEVELS);
        let lists = list_levels.min(MAX_LEVELS - quotes);
        format!("{}{}", "│ ".repeat(quotes), "  ".repeat(lists))
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(text) => {
                let text = printable_block(&text);
                if let Some(code) = &mut self.code {
                    code.push_str(&text);
                } else {
                    self.inline.push_str(&text);
                }
            }
            Event::Code(code) => {
                let code = printable(&code);
                let shown = if self.look.color {
                    format!("{CYAN}{code}{RESET}")
                } else {
                    format!("`{code}`")
                };
                self.inline.push_str(&shown);
            }
            Event::SoftBreak => self.inline.push(' '),
            Event::HardBreak => self.inline.push('\n'),
            Event::Rule => self.block(Block::Rule),
            Event::Html(html) | Event::InlineHtml(html) => {
                self.inline.push_str(&printable_block(&html));
            }
            _ => {}
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Heading { level, .. } => {
                self.flush_inline();
                self.heading = Some(match level {
                    HeadingLevel::H1 => 1,
                    HeadingLevel::H2 => 2,
                    _ => 3,
                });
            }
            Tag::Paragraph => {}
            Tag::Emphasis => self.open(ITALIC),
            Tag::Strong => self.open(BOLD),
            Tag::Strikethrough => {}
            Tag::Link { dest_url, .. } => self.link = Some(printable(&dest_url).into_owned()),
            Tag::CodeBlock(_) => {
                self.flush_inline();
                self.code = Some(String::new());
            }
            Tag::List(first) => {
                self.flush_inline();
                self.lists.push(first);
            }
            Tag::Item => {
                self.flush_inline();
                self.item_start = true;
            }
            Tag::BlockQuote(_) => {
                self.flush_inline();
                self.quote += 1;
            }
            Tag::Table(_) => {
                self.flush_inline();
                self.table = Some(Table {
                    head: Vec::new(),
                    rows: Vec::new(),
                    row: Vec::new(),
                    in_head: false,
                });
            }
            Tag::TableHead => {
                if let Some(t) = &mut self.table {
                    t.in_head = true;
                }
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Heading(_) => {
                let level = self.heading.take().unwrap_or(3);
                let text = std::mem::take(&mut self.inline);
                self.block(Block::Heading(level, text));
            }
            TagEnd::Paragraph => self.flush_inline(),
            TagEnd::Emphasis | TagEnd::Strong => self.close(),
            TagEnd::Link => {
                if let Some(url) = self.link.take()
                    && !self.inline.ends_with(&url)
                    && !url.starts_with('#')
                {
                    let shown = self.style(DIM, &format!("<{url}>"));
                    self.inline.push_str(&format!(" {shown}"));
                }
            }
            TagEnd::CodeBlock => {
                let code = self.code.take().unwrap_or_default();
                self.block(Block::Code(code));
            }
            TagEnd::List(_) => {
                self.flush_inline();
                self.lists.pop();
                if self.lists.is_empty() {
                    self.out.push('\n');
                }
            }
            TagEnd::Item => {
                self.flush_inline();
                if let Some(Some(n)) = self.lists.last_mut() {
                    *n += 1;
                }
            }
            TagEnd::BlockQuote(_) => {
                self.flush_inline();
                self.quote = self.quote.saturating_sub(1);
            }
            TagEnd::TableCell => {
                let cell = std::mem::take(&mut self.inline).trim().to_owned();
                if let Some(t) = &mut self.table {
                    if t.in_head {
                        t.head.push(cell);
                    } else {
                        t.row.push(cell);
                    }
                }
            }
            TagEnd::TableHead => {
                if let Some(t) = &mut self.table {
                    t.in_head = false;
                }
            }
            TagEnd::TableRow => {
                if let Some(t) = &mut self.table {
                    let row = std::mem::take(&mut t.row);
                    t.rows.push(row);
                }
            }
            TagEnd::Table => {
                if let Some(t) = self.table.take() {
                    self.table_out(t);
                }
            }
            _ => {}
        }
    }

    /// Writes the pending inline text as a paragraph (or a list item's first paragraph).
    fn flush_inline(&mut self) {
        let text = std::mem::take(&mut self.inline);
        if text.trim().is_empty() {
            return;
        }
        self.block(Block::Paragraph(text));
    }

    fn block(&mut self, block: Block) {
        let prefix = self.prefix();
        let width = self.look.width.max(20);
        match block {
            Block::Heading(level, text) => {
                let text = text.trim();
                let line = match level {
                    1 => self.style(BOLD, &text.to_uppercase()),
                    _ => self.style(BOLD, text),
                };
                self.out.push_str(&format!("{prefix}{line}\n"));
                if level <= 2 {
                    let rule = if level == 1 { "=" } else { "-" };
                    let len = textwrap::core::display_width(text).min(width);
                    self.out
                        .push_str(&format!("{prefix}{}\n", rule.repeat(len)));
                }
                self.out.push('\n');
            }
            Block::Paragraph(text) => {
                let (first, rest) = if self.item_start && !self.lists.is_empty() {
                    self.item_start = false;
                    let outer = self.indent(self.lists.len() - 1);
                    let marker = match self.lists.last() {
                        Some(Some(n)) => format!("{n}. "),
                        _ => "• ".to_owned(),
                    };
                    let hang = " ".repeat(textwrap::core::display_width(&marker));
                    (format!("{outer}{marker}"), format!("{outer}{hang}"))
                } else {
                    (prefix.clone(), prefix.clone())
                };
                let options = no_breaks(textwrap::Options::new(width))
                    .initial_indent(&first)
                    .subsequent_indent(&rest);
                for line in text.split('\n') {
                    for wrapped in textwrap::wrap(line.trim_end(), &options) {
                        self.out.push_str(wrapped.trim_end());
                        self.out.push('\n');
                    }
                }
                if self.lists.is_empty() {
                    self.out.push('\n');
                }
            }
            Block::Code(code) => {
                let bar = self.style(DIM, "│");
                for line in code.trim_end_matches('\n').lines() {
                    let line = if self.look.color {
                        format!("{CYAN}{line}{RESET}")
                    } else {
                        line.to_owned()
                    };
                    self.out
                        .push_str(format!("{prefix}  {bar} {line}").trim_end());
                    self.out.push('\n');
                }
                self.out.push('\n');
            }
            Block::Rule => {
                self.out
                    .push_str(&format!("{prefix}{}\n\n", "─".repeat(width.min(40))));
            }
        }
    }

    fn table_out(&mut self, table: Table) {
        let width = self.look.width.max(20);
        let prefix = self.prefix();
        let lines = |text: &str, first: &str, rest: &str| -> Vec<String> {
            let options = no_breaks(textwrap::Options::new(width))
                .initial_indent(first)
                .subsequent_indent(rest);
            textwrap::wrap(text, &options)
                .into_iter()
                .map(|l| l.trim_end().to_owned())
                .collect()
        };
        for row in &table.rows {
            let Some((first, others)) = row.split_first() else {
                continue;
            };
            let mut out = lines(&format!("• {first}"), &prefix, &format!("{prefix}  "));
            // A row shorter than the head is padded with empty cells: nothing to show.
            for (i, cell) in others.iter().enumerate().filter(|(_, c)| !c.is_empty()) {
                let label = table.head.get(i + 1).map(String::as_str).unwrap_or("");
                let text = if label.is_empty() {
                    cell.clone()
                } else {
                    format!("{}: {cell}", self.style(BOLD, &shortened(label)))
                };
                out.extend(lines(
                    &text,
                    &format!("{prefix}  "),
                    &format!("{prefix}    "),
                ));
            }
            for line in out {
                self.out.push_str(&line);
                self.out.push('\n');
            }
        }
        self.out.push('\n');
    }
}

/// `text` cut to [`MAX_LABEL`] characters, with `…` where it was cut.
fn shortened(text: &str) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(MAX_LABEL) {
        Some((end, _)) => format!("{}…", &text[..end]).into(),
        None => text.into(),
    }
}

pub use crate::content::load::heading_slug as slug;

/// The sections of a Markdown document: (level, heading text, slug, the section's Markdown
/// including its heading and everything up to the next heading of the same or a higher
/// level). Headings are found as `lab validate` finds the anchors it checks runbook links by.
pub fn sections(markdown: &str) -> Vec<(u8, String, String, String)> {
    let heads = crate::content::load::markdown_headings(markdown);
    heads
        .iter()
        .enumerate()
        .map(|(i, h)| {
            let end = heads[i + 1..]
                .iter()
                .find(|next| next.level <= h.level)
                .map_or(markdown.len(), |next| next.offset);
            (
                h.level,
                h.title.clone(),
                slug(&h.title),
                markdown[h.offset..end].to_owned(),
            )
        })
        .collect()
}

/// Wrapping at spaces only: commands, paths and addresses are never split.
pub(crate) fn no_breaks(options: textwrap::Options<'_>) -> textwrap::Options<'_> {
    options
        .word_separator(textwrap::WordSeparator::AsciiSpace)
        .word_splitter(textwrap::WordSplitter::NoHyphenation)
        .break_words(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLAIN: Look = Look {
        width: 60,
        color: false,
    };

    #[test]
    fn a_step_renders_readably_without_colour() {
        let text = "An urgent fix for `demo` was *rebuilt* on a developer's workstation and pushed as **the same tag**. See [the runbook](https://example.com/runbook).\n\n```sh\nmkdir -p evidence\nkubectl get pods -n develop -l app=demo -o jsonpath='{.items[*].status.containerStatuses[*].imageID}' > evidence/pod-image-ids.txt\n```\n\n- first point, long enough to wrap around the sixty columns of this test terminal\n- second\n\n1. one\n2. two\n";
        insta::assert_snapshot!(render(text, PLAIN));
    }

    #[test]
    fn headings_tables_and_quotes() {
        let text = "# Runbook\n\n## Triage\n\n| you see | mode | meaning |\n|---|---|---|\n| a denial | Enforce | nothing new was admitted; the old Pods keep running |\n\n> Quoted advice.\n\n---\n";
        insta::assert_snapshot!(render(text, PLAIN));
    }

    #[test]
    fn deep_nesting_is_drawn_at_most_max_levels_deep() {
        // Ten thousand levels once put twenty thousand columns before every word.
        for doc in [
            format!("{} one two three four", ">".repeat(10_000)),
            format!("{} one two three four", "- ".repeat(10_000)),
            format!("{}- one two three four", "> - ".repeat(10_000)),
        ] {
            let text = render(&doc, PLAIN);
            let widest = text.lines().map(textwrap::core::display_width).max();
            assert!(widest <= Some(2 * MAX_LEVELS + 40), "{widest:?}: {text}");
            assert!(text.contains("one two three four"), "{text}");
        }
    }

    #[test]
    fn a_long_column_label_is_shortened_in_every_row() {
        let label = "l".repeat(1000);
        let text = render(&format!("|a|{label}|\n|-|-|\n|x|y|\n|z|\n"), PLAIN);
        let shown = format!("  {}…:\n    y\n", "l".repeat(MAX_LABEL));
        assert!(text.contains(&shown), "{text}");
        assert!(!text.contains(&"l".repeat(MAX_LABEL + 1)), "{text}");
        assert!(
            text.ends_with("• z\n"),
            "no line for the padded cell: {text}"
        );
    }

    #[test]
    fn colour_only_when_asked() {
        let plain = render("*a* `b` **c**", PLAIN);
        assert!(!plain.contains('\x1b'));
        let coloured = render(
            "*a* `b` **c**",
            Look {
                width: 60,
                color: true,
            },
        );
        assert!(coloured.contains(ITALIC) && coloured.contains(CYAN) && coloured.contains(BOLD));
    }

    #[test]
    fn sections_are_found_by_slug_and_end_at_the_next_peer() {
        let doc = "# Top\nintro\n## Triage\nt\n### Detail\nd\n```\n# not a heading\n```\n## Roll back by digest\nr\n";
        let s = sections(doc);
        let slugs: Vec<&str> = s.iter().map(|x| x.2.as_str()).collect();
        assert_eq!(slugs, ["top", "triage", "detail", "roll-back-by-digest"]);
        assert_eq!(
            s[1].3,
            "## Triage\nt\n### Detail\nd\n```\n# not a heading\n```\n"
        );
        assert_eq!(
            slug("Remediate without disabling guardrails"),
            "remediate-without-disabling-guardrails"
        );
        assert_eq!(slug("Evidence to collect"), "evidence-to-collect");
    }
}
