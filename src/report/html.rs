//! `lab grade --format html`: the graded class as one HTML page an instructor opens with no
//! network: the class table, a histogram of scores, how often each criterion, check and quiz
//! question held, the flagged and rejected files with their reasons, and a section per
//! learner. It is a projection of the class model and its summary (nothing is scored here).
//! The page loads nothing and runs nothing: the charts are SVG drawn inline, there is no
//! script, and its Content-Security-Policy forbids any. Every string that came from a
//! learner's file (ids, file names, messages, flags) is escaped for where it is written.

use std::fmt::Write as _;

use super::class_report::ClassReport;
use crate::engine::Status;
use crate::grade::class::{Basis, Outcome, Submission};
use crate::grade::summary::{ClassSummary, Rate};
use crate::text::printable_block;

/// What the page may load: nothing but its own inline style (and `data:` images, of which it
/// has none); no script at all.
const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:";

const STYLE: &str = r#"
:root { color-scheme: light; --pass: #1b7f3b; --fail: #b3261e; --warn: #8a5a00; --muted: #5f6368; }
* { box-sizing: border-box; }
body { font: 15px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 0 auto; max-width: 72rem; padding: 1rem; color: #1f1f1f; background: #fff; }
h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
h2 { font-size: 1.2rem; margin: 2rem 0 .5rem; border-bottom: 1px solid #ddd; padding-bottom: .2rem; }
h3 { font-size: 1.05rem; margin: 1.5rem 0 .25rem; overflow-wrap: anywhere; }
nav ul { list-style: none; padding: 0; display: flex; flex-wrap: wrap; gap: .25rem 1rem; }
dl.numbers { display: grid; grid-template-columns: repeat(auto-fit, minmax(9rem, 1fr)); gap: .5rem; margin: 0; }
dl.numbers div { border: 1px solid #ddd; border-radius: 4px; padding: .4rem .6rem; }
dl.numbers dt { color: var(--muted); font-size: .85rem; }
dl.numbers dd { margin: 0; font-size: 1.2rem; font-weight: 600; }
.scroll { overflow-x: auto; max-width: 100%; }
table { border-collapse: collapse; width: 100%; margin: .25rem 0 1rem; }
th, td { text-align: left; vertical-align: top; padding: .3rem .5rem; border-bottom: 1px solid #e5e5e5; }
th { background: #f4f4f4; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
td.text { white-space: pre-wrap; overflow-wrap: anywhere; min-width: 14rem; }
.id { font-family: ui-monospace, "SFMono-Regular", Menlo, monospace; overflow-wrap: anywhere; }
.pass, .graded { color: var(--pass); font-weight: 600; }
.fail, .rejected { color: var(--fail); font-weight: 600; }
.error, .flagged { color: var(--warn); font-weight: 600; }
.missing { color: var(--muted); font-weight: 600; }
ul.reasons { margin: .25rem 0 .75rem; padding-left: 1.25rem; }
ul.reasons li { white-space: pre-wrap; overflow-wrap: anywhere; }
figure { margin: .5rem 0 1.25rem; }
figcaption { color: var(--muted); font-size: .9rem; }
svg.chart { width: 100%; max-width: 44rem; height: auto; display: block; }
article { border-top: 1px solid #ddd; }
.note { color: var(--muted); font-size: .9rem; }
@media (max-width: 40rem) {
  body { padding: .5rem; font-size: 14px; }
  th, td { padding: .25rem .35rem; }
  td.text { min-width: 10rem; }
}
@media print {
  body { max-width: none; padding: 0; font-size: 10pt; }
  nav { display: none; }
  .scroll { overflow: visible; }
  a { color: inherit; text-decoration: none; }
  h2 { break-after: avoid; }
  figure, tr { break-inside: avoid; }
  article { break-before: auto; break-inside: auto; }
  th { background: none; }
}
"#;

/// Escapes `text` for HTML text and for a quoted attribute value alike, after making its
/// control and bidi characters visible (they could reorder what is read).
pub fn escape(text: &str) -> String {
    let shown = printable_block(text);
    let mut out = String::with_capacity(shown.len() + 8);
    for c in shown.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// The page.
pub fn html(report: &ClassReport<'_>) -> String {
    let summary = report.summary;
    let rows = report.sorted();
    let mut page = String::new();
    let _ = write!(
        page,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">\n\
         <meta name=\"referrer\" content=\"no-referrer\">\n\
         <title>lab grade: class report</title>\n<style>{STYLE}</style>\n</head>\n<body>\n"
    );
    header(&mut page, report);
    page.push_str(
        "<nav aria-label=\"Sections\"><ul><li><a href=\"#class\">Class</a></li><li><a href=\"#charts\">Charts</a></li><li><a href=\"#flagged\">Flagged and rejected</a></li><li><a href=\"#learners\">Each learner</a></li></ul></nav>\n<main>\n",
    );
    class_table(&mut page, &rows);
    charts(&mut page, summary);
    flagged(&mut page, &rows);
    learners(&mut page, &rows);
    page.push_str(
        "</main>\n<footer><p class=\"note\">Scores are the done-when points. Evidence, the image&#39;s signature and attestation and the quiz are re-verified from each file; the cluster&#39;s checks are judged from what the learner&#39;s cluster showed when they submitted (each check says which). Times are the learner machine&#39;s claim.</p></footer>\n</body>\n</html>\n",
    );
    page
}

/// Where row `i` of the sorted class links to: the index, never a learner's string.
fn anchor(i: usize) -> String {
    format!("s{}", i + 1)
}

fn who(s: &Submission) -> &str {
    s.learner.as_deref().unwrap_or(&s.file)
}

fn header(page: &mut String, report: &ClassReport<'_>) {
    let summary = report.summary;
    let handed_in = report.class.len() - summary.missing;
    let _ = write!(
        page,
        "<header>\n<h1>Class report</h1>\n<p>{handed_in} submission(s): {} graded, {} flagged, {} rejected; {} learner(s) of the roster handed nothing in.</p>\n",
        summary.graded - summary.flagged,
        summary.flagged,
        summary.rejected,
        summary.missing
    );
    let numbers = [
        ("Mean", format!("{:.1}%", summary.mean_percent)),
        ("Median", format!("{:.1}%", summary.median_percent)),
        ("Pass mark", format!("{}%", summary.pass_mark)),
        (
            "Passed",
            format!(
                "{} of {} ({:.1}%)",
                summary.passed,
                summary.graded,
                summary.pass_rate()
            ),
        ),
    ];
    page.push_str("<dl class=\"numbers\">");
    for (name, value) in numbers {
        let _ = write!(page, "<div><dt>{name}</dt><dd>{value}</dd></div>");
    }
    page.push_str("</dl>\n</header>\n");
}

fn outcome(s: &Submission) -> &'static str {
    match s.outcome {
        Outcome::Graded => "graded",
        Outcome::Flagged => "flagged",
        Outcome::Rejected => "rejected",
        Outcome::Missing => "missing",
    }
}

fn score(s: &Submission) -> (String, String) {
    if s.is_graded() {
        (
            format!("{}/{}", s.earned, s.points),
            format!("{:.1}%", s.percent()),
        )
    } else {
        ("&#8212;".into(), "&#8212;".into())
    }
}

fn class_table(page: &mut String, rows: &[&Submission]) {
    page.push_str(
        "<section id=\"class\">\n<h2>Class</h2>\n<div class=\"scroll\"><table>\n<thead><tr><th scope=\"col\">Learner</th><th scope=\"col\">Name</th><th scope=\"col\">Section</th><th scope=\"col\" class=\"num\">Score</th><th scope=\"col\" class=\"num\">Percent</th><th scope=\"col\">Outcome</th><th scope=\"col\">Late</th><th scope=\"col\" class=\"num\">Flags</th></tr></thead>\n<tbody>\n",
    );
    for (i, s) in rows.iter().enumerate() {
        let (points, percent) = score(s);
        let opt = |v: &Option<String>| v.as_deref().map(escape).unwrap_or_default();
        let _ = writeln!(
            page,
            "<tr><th scope=\"row\"><a class=\"id\" href=\"#{}\">{}</a></th><td>{}</td><td>{}</td><td class=\"num\">{points}</td><td class=\"num\">{percent}</td><td class=\"{o}\">{o}</td><td>{}</td><td class=\"num\">{}</td></tr>",
            anchor(i),
            escape(who(s)),
            opt(&s.who.name),
            opt(&s.who.section),
            if s.late { "late" } else { "" },
            s.flags.len(),
            o = outcome(s),
        );
    }
    page.push_str("</tbody>\n</table></div>\n</section>\n");
}

fn charts(page: &mut String, summary: &ClassSummary) {
    page.push_str("<section id=\"charts\">\n<h2>Charts</h2>\n");
    histogram(page, summary);
    let rates: [(&str, &str, &[Rate], &str); 3] = [
        (
            "criteria",
            "Criteria met in full",
            &summary.criteria,
            "No criterion was scored.",
        ),
        (
            "checks",
            "Checks passed",
            &summary.checks,
            "No check was run.",
        ),
        (
            "questions",
            "Quiz questions answered right",
            &summary.questions,
            "No quiz question was judged (no answer key, or no attempt).",
        ),
    ];
    for (id, title, list, none) in rates {
        rate_chart(page, id, title, list, none);
    }
    page.push_str("</section>\n");
}

/// The ten-bin histogram as bars: bins under the pass mark in one colour, the rest in another,
/// the pass mark as a dashed line.
fn histogram(page: &mut String, summary: &ClassSummary) {
    let (width, height, left, bottom, top) = (600.0, 260.0, 40.0, 40.0, 20.0);
    let plot_w = width - left - 10.0;
    let plot_h = height - bottom - top;
    let most = summary.histogram.iter().copied().max().unwrap_or(0).max(1);
    let bar_w = plot_w / 10.0;
    let described = summary
        .histogram
        .iter()
        .enumerate()
        .map(|(i, n)| format!("{}: {n}", bin_label(i)))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = write!(
        page,
        "<figure>\n<svg class=\"chart\" id=\"histogram\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-labelledby=\"histogram-title histogram-desc\" xmlns=\"http://www.w3.org/2000/svg\">\n<title id=\"histogram-title\">Scores of the {} graded submission(s)</title>\n<desc id=\"histogram-desc\">Submissions per ten-percent band of score: {described}. Pass mark {}%.</desc>\n<rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"#ffffff\"/>\n",
        summary.graded, summary.pass_mark
    );
    for i in 0..=4 {
        let y = top + plot_h * f64::from(i) / 4.0;
        let _ = writeln!(
            page,
            "<line x1=\"{left}\" y1=\"{y:.1}\" x2=\"{:.1}\" y2=\"{y:.1}\" stroke=\"#e0e0e0\" stroke-width=\"1\"/>",
            left + plot_w
        );
    }
    for (i, &n) in summary.histogram.iter().enumerate() {
        let x = left + bar_w * i as f64;
        let h = plot_h * n as f64 / most as f64;
        let y = top + plot_h - h;
        let fill = if (i as u32 + 1) * 10 <= summary.pass_mark {
            "#c62828"
        } else {
            "#2e7d32"
        };
        let _ = writeln!(
            page,
            "<rect x=\"{:.1}\" y=\"{y:.1}\" width=\"{:.1}\" height=\"{h:.1}\" fill=\"{fill}\"><title>{}: {n} submission(s)</title></rect>\n<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\" fill=\"#1f1f1f\">{n}</text>\n<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"11\" text-anchor=\"middle\" fill=\"#5f6368\">{}</text>",
            x + 3.0,
            bar_w - 6.0,
            bin_label(i),
            x + bar_w / 2.0,
            (y - 4.0).max(12.0),
            x + bar_w / 2.0,
            top + plot_h + 16.0,
            i * 10,
        );
    }
    let mark_x = left + plot_w * f64::from(summary.pass_mark.min(100)) / 100.0;
    let _ = write!(
        page,
        "<line x1=\"{left}\" y1=\"{:.1}\" x2=\"{:.1}\" y2=\"{:.1}\" stroke=\"#1f1f1f\" stroke-width=\"1.5\"/>\n<line x1=\"{mark_x:.1}\" y1=\"{top}\" x2=\"{mark_x:.1}\" y2=\"{:.1}\" stroke=\"#1565c0\" stroke-width=\"2\" stroke-dasharray=\"6 4\"/>\n<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"#1565c0\">pass mark {}%</text>\n<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"middle\" fill=\"#5f6368\">score (%)</text>\n</svg>\n<figcaption>Scores of the graded submissions, in bands of ten percent (the last band, 90, holds 90 to 100). Red bands are under the pass mark.</figcaption>\n</figure>\n",
        top + plot_h,
        left + plot_w,
        top + plot_h,
        top + plot_h,
        (mark_x + 4.0).min(width - 90.0),
        top + 12.0,
        summary.pass_mark,
        left + plot_w / 2.0,
        height - 6.0,
    );
}

fn bin_label(i: usize) -> String {
    if i == 9 {
        "90–100%".to_owned()
    } else {
        format!("{}–{}%", i * 10, i * 10 + 9)
    }
}

/// `text`, cut to `max` characters with an ellipsis (a chart's label; the full id is in the
/// bar's tooltip and the tables).
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(max - 1).collect();
        cut.push('…');
        cut
    }
}

/// A horizontal bar per id: how often it held, in percent of the graded that had it.
fn rate_chart(page: &mut String, id: &str, title: &str, rates: &[Rate], none: &str) {
    let _ = writeln!(page, "<h3>{title}</h3>");
    if rates.is_empty() {
        let _ = writeln!(page, "<p class=\"note\">{none}</p>");
        return;
    }
    let (width, row, label_w, top) = (600.0, 24.0, 230.0, 6.0);
    let bar_max = width - label_w - 110.0;
    let height = top * 2.0 + row * rates.len() as f64;
    let _ = write!(
        page,
        "<figure>\n<svg class=\"chart\" id=\"{id}\" viewBox=\"0 0 {width} {height}\" role=\"img\" aria-labelledby=\"{id}-title\" xmlns=\"http://www.w3.org/2000/svg\">\n<title id=\"{id}-title\">{title}: {}</title>\n<rect x=\"0\" y=\"0\" width=\"{width}\" height=\"{height}\" fill=\"#ffffff\"/>\n",
        rates
            .iter()
            .map(|r| format!(
                "{} {}/{} ({:.1}%)",
                escape(&r.id),
                r.held,
                r.of,
                r.percent()
            ))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for (i, r) in rates.iter().enumerate() {
        let y = top + row * i as f64;
        let w = bar_max * r.percent() / 100.0;
        let fill = if r.held == r.of { "#2e7d32" } else { "#ef6c00" };
        let _ = writeln!(
            page,
            "<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" text-anchor=\"end\" fill=\"#1f1f1f\">{}</text>\n<rect x=\"{label_w}\" y=\"{:.1}\" width=\"{bar_max:.1}\" height=\"{:.1}\" fill=\"#eeeeee\"/>\n<rect x=\"{label_w}\" y=\"{:.1}\" width=\"{w:.1}\" height=\"{:.1}\" fill=\"{fill}\"><title>{}: {}/{} ({:.1}%)</title></rect>\n<text x=\"{:.1}\" y=\"{:.1}\" font-size=\"12\" fill=\"#1f1f1f\">{}/{} ({:.0}%)</text>",
            label_w - 8.0,
            y + 16.0,
            escape(&clip(&r.id, 32)),
            y + 4.0,
            row - 8.0,
            y + 4.0,
            row - 8.0,
            escape(&r.id),
            r.held,
            r.of,
            r.percent(),
            label_w + bar_max + 8.0,
            y + 16.0,
            r.held,
            r.of,
            r.percent(),
        );
    }
    page.push_str("</svg>\n</figure>\n");
}

fn flagged(page: &mut String, rows: &[&Submission]) {
    page.push_str("<section id=\"flagged\">\n<h2>Flagged and rejected</h2>\n");
    let mut any = false;
    for (i, s) in rows.iter().enumerate() {
        if !matches!(s.outcome, Outcome::Flagged | Outcome::Rejected) {
            continue;
        }
        any = true;
        let _ = writeln!(
            page,
            "<h3><a class=\"id\" href=\"#{}\">{}</a> <span class=\"{o}\">{o}</span></h3>",
            anchor(i),
            escape(who(s)),
            o = outcome(s),
        );
        reasons(page, s);
    }
    if !any {
        page.push_str("<p class=\"note\">No submission was flagged or rejected.</p>\n");
    }
    page.push_str("</section>\n");
}

/// Why a file was rejected, and each flag.
fn reasons(page: &mut String, s: &Submission) {
    if s.rejected.is_none() && s.flags.is_empty() {
        return;
    }
    page.push_str("<ul class=\"reasons\">");
    if let Some(why) = &s.rejected {
        let _ = write!(page, "<li>rejected: {}</li>", escape(why));
    }
    for flag in &s.flags {
        let _ = write!(page, "<li>{}</li>", escape(flag));
    }
    page.push_str("</ul>\n");
}

fn status(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Fail => "fail",
        Status::Error => "error",
    }
}

fn learners(page: &mut String, rows: &[&Submission]) {
    page.push_str("<section id=\"learners\">\n<h2>Each learner</h2>\n");
    for (i, s) in rows.iter().enumerate() {
        learner(page, &anchor(i), s);
    }
    page.push_str("</section>\n");
}

fn learner(page: &mut String, anchor: &str, s: &Submission) {
    let (points, percent) = score(s);
    let _ = write!(
        page,
        "<article id=\"{anchor}\" aria-labelledby=\"{anchor}-h\">\n<h3 id=\"{anchor}-h\"><span class=\"id\">{}</span> <span class=\"{o}\">{o}</span> {points} ({percent}){}</h3>\n",
        escape(who(s)),
        if s.late { " late" } else { "" },
        o = outcome(s),
    );
    let mut facts = Vec::new();
    if let Some(name) = &s.who.name {
        facts.push(format!("name {}", escape(name)));
    }
    if let Some(email) = &s.who.email {
        facts.push(format!("email {}", escape(email)));
    }
    if let Some(section) = &s.who.section {
        facts.push(format!("section {}", escape(section)));
    }
    if !s.file.is_empty() {
        facts.push(format!(
            "file <span class=\"id\">{}</span>",
            escape(&s.file)
        ));
    }
    if let Some(chapter) = &s.chapter {
        facts.push(format!("chapter {}", escape(chapter)));
    }
    if let Some(time) = &s.claimed_time {
        facts.push(format!("packed at {} (its claim)", escape(time)));
    }
    if !facts.is_empty() {
        let _ = writeln!(page, "<p>{}</p>", facts.join("; "));
    }
    reasons(page, s);
    if !s.criteria.is_empty() {
        page.push_str("<div class=\"scroll\"><table>\n<caption class=\"note\">Criteria</caption>\n<thead><tr><th scope=\"col\">Criterion</th><th scope=\"col\" class=\"num\">Points</th></tr></thead>\n<tbody>\n");
        for c in &s.criteria {
            let _ = writeln!(
                page,
                "<tr><td class=\"id\">{}</td><td class=\"num\">{}/{}</td></tr>",
                escape(&c.id),
                c.earned,
                c.points
            );
        }
        page.push_str("</tbody>\n</table></div>\n");
    }
    if !s.checks.is_empty() {
        page.push_str("<div class=\"scroll\"><table>\n<caption class=\"note\">Checks</caption>\n<thead><tr><th scope=\"col\">Step</th><th scope=\"col\">Check</th><th scope=\"col\">Status</th><th scope=\"col\">Rests on</th><th scope=\"col\">When submitted</th><th scope=\"col\">Message</th></tr></thead>\n<tbody>\n");
        for c in &s.checks {
            let basis = match c.basis {
                Basis::Reverified => "re-verified from the file",
                Basis::Recorded => "the cluster as recorded",
            };
            let submitted = c.submitted.map(status).unwrap_or("");
            let _ = writeln!(
                page,
                "<tr><td class=\"id\">{}</td><td class=\"id\">{}</td><td class=\"{s}\">{s}</td><td>{basis}</td><td>{submitted}</td><td class=\"text\">{}</td></tr>",
                escape(&c.step),
                escape(&c.check),
                escape(&c.message),
                s = status(c.status),
            );
        }
        page.push_str("</tbody>\n</table></div>\n");
    }
    if !s.answers.is_empty() {
        page.push_str("<div class=\"scroll\"><table>\n<caption class=\"note\">Quiz</caption>\n<thead><tr><th scope=\"col\">Question</th><th scope=\"col\">Picked</th><th scope=\"col\">Judged</th></tr></thead>\n<tbody>\n");
        for a in &s.answers {
            let (class, word) = if a.correct {
                ("pass", "right")
            } else {
                ("fail", "wrong")
            };
            let _ = writeln!(
                page,
                "<tr><td class=\"id\">{}</td><td class=\"id\">{}</td><td class=\"{class}\">{word}</td></tr>",
                escape(&a.question),
                escape(&a.picked.join(", ")),
            );
        }
        page.push_str("</tbody>\n</table></div>\n");
    }
    page.push_str("</article>\n");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::grade::class::{Answer, Criterion, GradedCheck, Who};

    /// A small class: a full-marks learner, a flagged one whose id and flag are hostile HTML,
    /// a rejected file and a learner who handed nothing in.
    fn class() -> Vec<Submission> {
        let mut ada = Submission::rejected("class/ada.tar.gz", String::new());
        ada.outcome = Outcome::Graded;
        ada.rejected = None;
        ada.learner = Some("ada".into());
        ada.who = Who {
            name: Some("Ada \"Countess\" Lovelace".into()),
            section: Some("A1".into()),
            email: Some("ada@example.edu".into()),
            ..Who::default()
        };
        ada.chapter = Some("ch14".into());
        ada.claimed_time = Some("2026-12-06T08:00:00Z".into());
        ada.earned = 120;
        ada.points = 120;
        ada.criteria = vec![
            Criterion {
                id: "signed-and-attested".into(),
                text: String::new(),
                earned: 60,
                points: 60,
                checks: Vec::new(),
            },
            Criterion {
                id: "enforced".into(),
                text: String::new(),
                earned: 60,
                points: 60,
                checks: Vec::new(),
            },
        ];
        ada.checks = vec![
            GradedCheck {
                step: "sign".into(),
                check: "image-signed".into(),
                status: Status::Pass,
                message: "1 signature verifies with cosign.pub".into(),
                basis: Basis::Reverified,
                submitted: Some(Status::Pass),
            },
            GradedCheck {
                step: "enforce".into(),
                check: "policy-enforced".into(),
                status: Status::Pass,
                message: "verify-signed-images is in Enforce".into(),
                basis: Basis::Recorded,
                submitted: Some(Status::Pass),
            },
        ];
        ada.answers = vec![Answer {
            question: "q-digest".into(),
            picked: vec!["b".into()],
            correct: true,
        }];
        let mut mallory = ada.clone();
        mallory.file = "class/mallory.tar.gz".into();
        mallory.learner = Some("<script>alert(1)</script>".into());
        mallory.who = Who::default();
        mallory.earned = 40;
        mallory.criteria[1].earned = 0;
        mallory.checks[1].status = Status::Fail;
        mallory.checks[1].message = "\"><img src=x onerror=alert(2)> is in Audit".into();
        mallory.answers[0].correct = false;
        mallory.answers[0].picked = vec!["a' onmouseover='alert(3)".into()];
        mallory.flag("copy: the same public key as ada (class/ada.tar.gz)".into());
        let broken = Submission::rejected(
            "class/broken.tar.gz",
            "not a submission lab can read: it is not a gzip file".into(),
        );
        let carol = Submission::missing("carol", Who::default());
        vec![mallory, ada, broken, carol]
    }

    fn page() -> String {
        let class = class();
        let summary = ClassSummary::of(&class, 60);
        html(&ClassReport {
            class: &class,
            summary: &summary,
            color: false,
            assignment: Default::default(),
        })
    }

    #[test]
    fn the_page_of_a_small_class() {
        insta::assert_snapshot!(page());
    }

    #[test]
    fn a_hostile_id_message_or_answer_is_text_and_the_page_loads_and_runs_nothing() {
        let page = page();
        for raw in ["<script", "<img", "onerror=alert(2)>", "' onmouseover"] {
            assert!(!page.contains(raw), "{raw} unescaped");
        }
        assert!(page.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
        assert!(page.contains("&quot;&gt;&lt;img src=x onerror=alert(2)&gt;"));
        assert!(page.contains("a&#39; onmouseover=&#39;alert(3)"));
        assert!(page.contains(&format!("content=\"{CSP}\"")));
        for remote in ["http:", "https:", "src=\"", "url(", "@import"] {
            let outside_svg_namespace = page.replace("xmlns=\"http://www.w3.org/2000/svg\"", "");
            assert!(
                !outside_svg_namespace.contains(remote),
                "{remote} could load something"
            );
        }
    }

    #[test]
    fn escaping_covers_text_and_attributes_and_makes_controls_visible() {
        assert_eq!(
            escape("<a href='x' title=\"y\">&</a>"),
            "&lt;a href=&#39;x&#39; title=&quot;y&quot;&gt;&amp;&lt;/a&gt;"
        );
        assert_eq!(escape("a\u{202e}b\nc"), "a\\u{202e}b\nc");
    }

    #[test]
    fn the_histogram_has_a_bar_per_band_coloured_by_the_pass_mark() {
        let page = page();
        let bars = page.matches("submission(s)</title></rect>").count();
        assert_eq!(bars, 10, "{page}");
        // ada at 100% (a pass), mallory at 33.3% (under 60).
        assert!(page.contains("fill=\"#2e7d32\"><title>90–100%: 1 submission(s)"));
        assert!(page.contains("fill=\"#c62828\"><title>30–39%: 1 submission(s)"));
    }
}
