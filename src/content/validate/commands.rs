//! The commands a learner is shown (a step's instructions, its hints and solution, the
//! runbook) must work as pasted, in any terminal: every image they name by tag is one the lab
//! seeds into its registry, a digest comes from a lab value (`digest_of`) of that image, and a
//! shell variable that holds a digest is set in the same command block, not in an earlier
//! step's shell.

use std::collections::BTreeSet;

use super::Sink;
use crate::content::diagnostic::{Diagnostic, did_you_mean};
use crate::content::files::CourseFiles;
use crate::content::load::at;
use crate::content::model::Lab;
use crate::content::paths::resolve;

/// One image reference found in a text: `${variable}/path:tag` or `${variable}/path@digest`.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Reference {
    /// The reference as written, e.g. `${push_registry}/demo@${DIGEST}`.
    written: String,
    /// The repository path after the registry variable, e.g. `demo`.
    path: String,
    /// What follows it.
    names: Names,
    /// 1-based line in the text.
    line: usize,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Names {
    /// `:tag`.
    Tag(String),
    /// `@${name}`: a lab variable.
    Value(String),
    /// `@$NAME` or `@${NAME}`: a shell variable.
    Shell(String),
    /// Anything else after `@` (a literal digest, a command substitution): not judged.
    Other,
}

/// How a text is cut into the blocks a learner pastes at once.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// Markdown: each fenced code block, and each paragraph outside them.
    Markdown,
    /// One script (a solution) or one short text (a hint).
    Whole,
}

pub(super) fn check(files: &CourseFiles, rel: &str, lab: &Lab, out: &mut Sink) {
    check_digest_variables(rel, lab, out);
    let variables: BTreeSet<&str> = lab.variables.iter().map(|v| v.name.as_str()).collect();
    let lab_text = files.text(rel).unwrap_or_default();
    for step in &lab.steps {
        let mut texts: Vec<(&str, Shape)> = vec![(&step.instructions, Shape::Markdown)];
        texts.extend(step.hints.iter().map(|h| (h.as_str(), Shape::Whole)));
        texts.extend(step.solve.iter().map(|s| (s.as_str(), Shape::Whole)));
        if let Some(kind) = &step.on_kind {
            texts.extend(
                kind.instructions
                    .iter()
                    .map(|i| (i.as_str(), Shape::Markdown)),
            );
            texts.extend(kind.hints.iter().map(|h| (h.as_str(), Shape::Whole)));
        }
        for (text, shape) in texts {
            for (reference, set) in references(text, shape, &variables) {
                let place = place_in_lab(lab_text, step.id.line, text, &reference)
                    .unwrap_or_else(|| at(&step.id));
                judge(rel, place, lab, &reference, &set, out);
            }
        }
    }
    let mut runbooks: BTreeSet<String> = BTreeSet::new();
    let links = std::iter::once(&lab.runbook).chain(lab.steps.iter().flat_map(|s| &s.runbook));
    for link in links {
        if let Ok(file) = resolve(rel, link.path()) {
            runbooks.insert(file);
        }
    }
    for file in runbooks {
        let Some(text) = files.text(&file) else {
            continue;
        };
        for (reference, set) in references(text, Shape::Markdown, &variables) {
            let line = text.lines().nth(reference.line - 1).unwrap_or_default();
            let column = column_of(line, &reference.written);
            judge(
                &file,
                (reference.line as u64, column),
                lab,
                &reference,
                &set,
                out,
            );
        }
    }
}

/// A `digest_of` must name an image the lab seeds: only those have a digest `lab start` knows.
fn check_digest_variables(rel: &str, lab: &Lab, out: &mut Sink) {
    let seeded: Vec<&str> = lab.cluster.seed.iter().map(|s| s.image.as_str()).collect();
    for variable in &lab.variables {
        let Some(image) = &variable.digest_of else {
            continue;
        };
        if !seeded.contains(&image.as_str()) {
            out.push(
                Diagnostic::error(
                    "ref/unseeded-image",
                    rel,
                    at(image),
                    format!(
                        "`digest_of: {}` of `{}` names an image the lab does not seed",
                        image.value, variable.name.value
                    ),
                )
                .help(seed_help(&image.value, &seeded)),
            );
        }
    }
}

fn seed_help(image: &str, seeded: &[&str]) -> String {
    match did_you_mean(image, seeded.iter().copied()) {
        Some(best) => format!(
            "did you mean `{best}`? the lab seeds: {}",
            seeded.join(", ")
        ),
        None if seeded.is_empty() => {
            "list the image under `cluster.seed`, so that `lab start` puts it into the registry"
                .to_owned()
        }
        None => format!(
            "name one of the images `lab start` seeds: {}; or add it under `cluster.seed`",
            seeded.join(", ")
        ),
    }
}

/// Reports `reference`, found at `place` in `file`, if a learner's paste of it would fail.
fn judge(
    file: &str,
    place: (u64, u64),
    lab: &Lab,
    reference: &Reference,
    set: &BTreeSet<String>,
    out: &mut Sink,
) {
    let seeded: Vec<&str> = lab.cluster.seed.iter().map(|s| s.image.as_str()).collect();
    let written = &reference.written;
    match &reference.names {
        // A lab without seed images gets its images elsewhere: nothing to compare with.
        Names::Tag(tag) if !seeded.is_empty() => {
            let image = format!("{}:{tag}", reference.path);
            if !seeded.contains(&image.as_str()) {
                out.push(
                    Diagnostic::error(
                        "ref/unseeded-image",
                        file,
                        place,
                        format!("`{written}` names `{image}`, which this lab never puts into its registry: the command fails as pasted"),
                    )
                    .help(seed_help(&image, &seeded)),
                );
            }
        }
        Names::Value(name) => {
            let image = lab
                .variables
                .iter()
                .find(|v| v.name.value == *name)
                .and_then(|v| v.digest_of.as_ref());
            if let Some(image) = image {
                let repository = image.value.split(':').next().unwrap_or_default();
                if repository != reference.path {
                    out.push(
                        Diagnostic::error(
                            "ref/unseeded-image",
                            file,
                            place,
                            format!("`{written}` names the digest of `{}` under the repository `{}`, which does not hold it", image.value, reference.path),
                        )
                        .help(format!("write `.../{repository}@${{{name}}}`, or give `{}` a `digest_of` variable of its own", reference.path)),
                    );
                }
            }
        }
        Names::Shell(name) if !set.contains(name) => {
            let digests: Vec<String> = lab
                .variables
                .iter()
                .filter(|v| v.digest_of.is_some())
                .map(|v| format!("`${{{}}}`", v.name.value))
                .collect();
            let instead = if digests.is_empty() {
                "a lab variable with `digest_of:` (the digest `lab start` seeded)".to_owned()
            } else {
                format!("the lab's value {}", digests.join(" or "))
            };
            out.push(
                Diagnostic::error(
                    "var/unset-shell-variable",
                    file,
                    place,
                    format!("`{written}` reads the shell variable `{name}`, which this command block does not set: in a second terminal, or after a resume, the reference ends in `@` and the command fails"),
                )
                .help(format!("use {instead}, or set `{name}=` in the same block")),
            );
        }
        _ => {}
    }
}

/// Every image reference after a lab variable in `text`, with the shell variables its block
/// sets.
fn references(
    text: &str,
    shape: Shape,
    variables: &BTreeSet<&str>,
) -> Vec<(Reference, BTreeSet<String>)> {
    let mut found = Vec::new();
    for block in blocks(text, shape) {
        let set = assigned(&block);
        for (line, content) in &block {
            for reference in in_line(content, *line, variables) {
                found.push((reference, set.clone()));
            }
        }
    }
    found
}

/// The lines of `text` (1-based numbers) cut into blocks.
fn blocks(text: &str, shape: Shape) -> Vec<Vec<(usize, &str)>> {
    let lines = text.lines().enumerate().map(|(i, l)| (i + 1, l));
    if shape == Shape::Whole {
        return vec![lines.collect()];
    }
    let mut blocks = Vec::new();
    let mut current: Vec<(usize, &str)> = Vec::new();
    let mut fence: Option<&str> = None;
    for (n, line) in lines {
        let trimmed = line.trim_start();
        let marker = ["```", "~~~"].into_iter().find(|m| trimmed.starts_with(m));
        match (fence, marker) {
            (None, Some(m)) => {
                blocks.push(std::mem::take(&mut current));
                fence = Some(m);
            }
            (Some(open), Some(m)) if open == m && trimmed.trim_end() == m => {
                blocks.push(std::mem::take(&mut current));
                fence = None;
            }
            (None, None) if trimmed.is_empty() => blocks.push(std::mem::take(&mut current)),
            _ => current.push((n, line)),
        }
    }
    blocks.push(current);
    blocks.retain(|b| !b.is_empty());
    blocks
}

/// The shell variables a block sets (`NAME=...`, also after `export` or `;`).
fn assigned(block: &[(usize, &str)]) -> BTreeSet<String> {
    let mut set = BTreeSet::new();
    for (_, line) in block {
        for (i, _) in line.match_indices('=') {
            let before = &line[..i];
            let name_start = before
                .char_indices()
                .rfind(|(_, c)| !(c.is_ascii_alphanumeric() || *c == '_'))
                .map_or(0, |(p, c)| p + c.len_utf8());
            let name = &before[name_start..];
            let boundary = before[..name_start]
                .chars()
                .next_back()
                .is_none_or(|c| c.is_whitespace() || matches!(c, ';' | '&' | '|' | '('));
            if boundary && name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
                set.insert(name.to_owned());
            }
        }
    }
    set
}

/// The references `${variable}/path(:tag|@digest)` in one line.
fn in_line(line: &str, number: usize, variables: &BTreeSet<&str>) -> Vec<Reference> {
    let mut found = Vec::new();
    let mut from = 0;
    while let Some(offset) = line[from..].find("${") {
        let start = from + offset;
        from = start + 2;
        let Some(close) = line[start..].find('}') else {
            break;
        };
        let name = &line[start + 2..start + close];
        let rest = &line[start + close + 1..];
        if !variables.contains(name) || !rest.starts_with('/') {
            continue;
        }
        let path_len = rest[1..]
            .find(|c: char| !(c.is_ascii_lowercase() || c.is_ascii_digit() || "._/-".contains(c)))
            .map_or(rest.len() - 1, |p| p);
        let path = rest[1..1 + path_len].trim_end_matches(['.', '/', '-']);
        let after = &rest[1 + path.len()..];
        let (names, len) = if let Some(tag) = after.strip_prefix(':') {
            let tag_len = tag
                .find(|c: char| !(c.is_ascii_alphanumeric() || "_.-".contains(c)))
                .unwrap_or(tag.len());
            let tag = tag[..tag_len].trim_end_matches('.');
            if tag.is_empty() {
                continue;
            }
            (Names::Tag(tag.to_owned()), 1 + tag.len())
        } else if let Some(digest) = after.strip_prefix('@') {
            let (names, len) = digest_part(digest);
            (names, 1 + len)
        } else {
            continue;
        };
        let end = start + close + 2 + path.len() + len;
        found.push(Reference {
            written: line[start..end].to_owned(),
            path: path.to_owned(),
            names,
            line: number,
        });
        from = end;
    }
    found
}

/// What names the digest after `@`, and how many bytes it takes.
fn digest_part(text: &str) -> (Names, usize) {
    let word = |s: &str| {
        s.find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(s.len())
    };
    if let Some(braced) = text.strip_prefix("${")
        && let Some(close) = braced.find('}')
    {
        let name = &braced[..close];
        let lab_value = name.starts_with(|c: char| c.is_ascii_lowercase());
        let names = if lab_value {
            Names::Value(name.to_owned())
        } else {
            Names::Shell(name.to_owned())
        };
        return (names, close + 3);
    }
    if let Some(bare) = text.strip_prefix('$') {
        let len = word(bare);
        if len > 0 && bare.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
            return (Names::Shell(bare[..len].to_owned()), len + 1);
        }
    }
    (Names::Other, 0)
}

/// Where `reference`, found in `text` (a YAML scalar of the step at line `step`), is in the
/// lab file: a block scalar keeps its lines, so the reference's line is as far below the
/// text's first line as in the text; otherwise the first line after the step holding it.
fn place_in_lab(
    lab_text: &str,
    step: u64,
    text: &str,
    reference: &Reference,
) -> Option<(u64, u64)> {
    let (first_no, first) = text
        .lines()
        .enumerate()
        .find(|(_, l)| !l.trim().is_empty())?;
    let in_block = locate(lab_text, step, first.trim()).and_then(|(base, _)| {
        let line_no = base + (reference.line - 1 - first_no) as u64;
        let line = lab_text.lines().nth(usize::try_from(line_no).ok()? - 1)?;
        line.contains(&reference.written)
            .then(|| (line_no, column_of(line, &reference.written)))
    });
    in_block.or_else(|| locate(lab_text, step, &reference.written))
}

/// The line (1-based) and column of the first line at or after `from` holding `needle`.
fn locate(text: &str, from: u64, needle: &str) -> Option<(u64, u64)> {
    let skip = usize::try_from(from.saturating_sub(1)).unwrap_or(0);
    text.lines()
        .enumerate()
        .skip(skip)
        .find(|(_, line)| line.contains(needle))
        .map(|(i, line)| (i as u64 + 1, column_of(line, needle)))
}

/// The 1-based column (in characters) of `needle` in `line`, 1 when it is not there.
fn column_of(line: &str, needle: &str) -> u64 {
    line.find(needle)
        .map_or(1, |b| line[..b].chars().count() as u64 + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs(text: &str, shape: Shape) -> Vec<(String, Names, bool)> {
        let variables = BTreeSet::from(["push_registry", "image_registry", "promoted_digest"]);
        references(text, shape, &variables)
            .into_iter()
            .map(|(r, set)| {
                let is_set = matches!(&r.names, Names::Shell(n) if set.contains(n));
                (r.written, r.names, is_set)
            })
            .collect()
    }

    #[test]
    fn references_are_found_after_a_registry_variable() {
        let text = "Pushed as `${push_registry}/demo:1.4.2`, the tag. See docker://${push_registry}/demo:1.4.2-ci.\n\
                    Not ${push_registry}/demo or ${image_registry}/demo:* or ${other}/x:1 or ${IMAGE}/x:1.";
        assert_eq!(
            refs(text, Shape::Markdown),
            [
                (
                    "${push_registry}/demo:1.4.2".to_owned(),
                    Names::Tag("1.4.2".into()),
                    false
                ),
                (
                    "${push_registry}/demo:1.4.2-ci".to_owned(),
                    Names::Tag("1.4.2-ci".into()),
                    false
                ),
            ]
        );
    }

    #[test]
    fn a_shell_variable_counts_as_set_only_in_its_own_block() {
        let text = "```sh\nDIGEST=$(crane digest ${push_registry}/demo:1.4.2-ci)\ncosign sign ${push_registry}/demo@${DIGEST}\n```\n\n\
                    Then `cosign triangulate ${push_registry}/demo@$DIGEST`.\n\n\
                    ```sh\nsyft registry:${push_registry}/demo@${promoted_digest} -o spdx-json\nkubectl set image app=${image_registry}/demo@sha256:0000\n```\n";
        let found = refs(text, Shape::Markdown);
        assert_eq!(found[1].1, Names::Shell("DIGEST".into()));
        assert!(found[1].2, "set in the same fenced block");
        assert_eq!(found[2].1, Names::Shell("DIGEST".into()));
        assert!(!found[2].2, "a paragraph after the block does not have it");
        assert_eq!(found[3].1, Names::Value("promoted_digest".into()));
        assert_eq!(found[4].1, Names::Other);
        let script = "export DIGEST=x; echo ${push_registry}/demo@${DIGEST}";
        assert!(refs(script, Shape::Whole)[0].2);
        // `A=B` inside a word is no assignment: `--type=${DIGEST}` sets nothing.
        let flag = "cosign --type=spdx ${push_registry}/demo@${TYPE}";
        assert!(!refs(flag, Shape::Whole)[0].2);
    }

    #[test]
    fn a_reference_is_located_on_its_line_in_the_lab_file() {
        let lab = "steps:\n  - id: a\n    instructions: |\n      run ${push_registry}/demo:9\n  - id: b\n    hints:\n      - \"`x ${push_registry}/demo:9`\"\n";
        assert_eq!(locate(lab, 2, "${push_registry}/demo:9"), Some((4, 11)));
        assert_eq!(locate(lab, 5, "${push_registry}/demo:9"), Some((7, 13)));
        assert_eq!(locate(lab, 5, "absent"), None);
        // The same reference on two lines of one block scalar: each is placed on its own line.
        let lab = "  - id: a\n    solve: |\n      x ${push_registry}/demo@${D}\n      y ${push_registry}/demo@${D}\n";
        let text = "x ${push_registry}/demo@${D}\ny ${push_registry}/demo@${D}\n";
        let variables = BTreeSet::from(["push_registry"]);
        let places: Vec<_> = references(text, Shape::Whole, &variables)
            .iter()
            .map(|(r, _)| place_in_lab(lab, 1, text, r))
            .collect();
        assert_eq!(places, [Some((3, 9)), Some((4, 9))]);
    }
}
