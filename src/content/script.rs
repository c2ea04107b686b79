//! A step's solution made runnable without letting a value become code. The screen shows the
//! solution with the values filled in ([`super::chapter::Chapter::fill`]); what bash runs has
//! each `${name}` turned into a reference to an environment variable that holds the value,
//! quoted for the place bash reads it in. A value then only ever comes out of a parameter
//! expansion, which bash does not parse again: `$(...)`, backticks, quotes, globs, spaces and
//! newlines in it stay what they are.
//!
//! Where the placeholder sits decides the reference: `"${V}"` in plain code (no word
//! splitting, no globbing), `${V}` inside double quotes or an unquoted here-document, and the
//! quotes closed around it (`'"${V}"'`) inside single or `$'...'` quotes. Two places cannot
//! hold a value safely and are refused: bash arithmetic, which evaluates what it expands
//! (`a[$(cmd)]` runs), and a quoted here-document, which expands nothing.

use std::collections::BTreeMap;

/// A solution ready for bash: its text and the environment its values come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BashScript {
    /// The script, with references where the placeholders were.
    pub text: String,
    /// `LAB_VALUE_<name>` (and, for a multi-line value indented differently elsewhere,
    /// `LAB_VALUE_<n>_<name>`) with the values.
    pub env: Vec<(String, String)>,
}

/// Why a solution cannot be run with its values.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScriptError {
    /// A placeholder where a value would be code, or would not be expanded.
    #[error("line {line} of the step's solution: `${{{name}}}` is {place}; {fix} in the lab file")]
    Unsafe {
        /// 1-based line in the solution.
        line: usize,
        /// The variable.
        name: String,
        /// Where it sits.
        place: &'static str,
        /// What the author can do.
        fix: &'static str,
    },
    /// A placeholder with no value.
    #[error("`${{{name}}}` has no value; pass it with --set {name}=VALUE")]
    Missing {
        /// The variable.
        name: String,
    },
    /// A value bash cannot be given (an environment variable ends at a NUL byte).
    #[error(
        "the value of `{name}` holds a NUL byte, which bash cannot be given; set it again with --set {name}=VALUE"
    )]
    Nul {
        /// The variable.
        name: String,
    },
}

/// Where the scanner is, innermost last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Frame {
    /// Code: the script itself, a `$(...)` (with its open parentheses), or a backtick command.
    Code(Code),
    /// `"..."`.
    Double,
    /// `'...'`.
    Single,
    /// `$'...'`.
    AnsiC,
    /// `$((...))` or `((...))`, with its open parentheses.
    Arith(usize),
    /// `${...}` that is not a placeholder, with its open braces.
    Brace(usize),
    /// `# ...` to the end of the line.
    Comment,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Code {
    Top,
    Subst(usize),
    Backtick,
}

/// A here-document whose body starts at the next newline.
#[derive(Debug, Clone)]
struct Heredoc {
    delimiter: String,
    quoted: bool,
    strip_tabs: bool,
}

/// Turns `solution` into a script that reads `values` from its environment.
pub fn for_bash(
    solution: &str,
    values: &BTreeMap<String, String>,
) -> Result<BashScript, ScriptError> {
    let mut scanner = Scanner {
        src: solution.as_bytes(),
        at: 0,
        line: 1,
        line_start: 0,
        out: Vec::with_capacity(solution.len()),
        stack: vec![Frame::Code(Code::Top)],
        pending: Vec::new(),
        values,
        env: Vec::new(),
        names: Vec::new(),
        tabs_stripped: false,
    };
    scanner.run()?;
    Ok(BashScript {
        // Only ASCII was inserted between whole UTF-8 sequences of the input.
        text: String::from_utf8(scanner.out).expect("the input was UTF-8"),
        env: scanner.env,
    })
}

struct Scanner<'a> {
    src: &'a [u8],
    at: usize,
    line: usize,
    line_start: usize,
    out: Vec<u8>,
    stack: Vec<Frame>,
    pending: Vec<Heredoc>,
    values: &'a BTreeMap<String, String>,
    env: Vec<(String, String)>,
    /// Which placeholder each variable of `env` is for.
    names: Vec<(String, String)>,
    /// Inside the body of a `<<-` here-document.
    tabs_stripped: bool,
}

impl Scanner<'_> {
    fn peek(&self, offset: usize) -> Option<u8> {
        self.src.get(self.at + offset).copied()
    }

    fn copy(&mut self, n: usize) {
        let end = (self.at + n).min(self.src.len());
        for &b in &self.src[self.at..end] {
            if b == b'\n' {
                self.line += 1;
                self.line_start = self.out.len() + 1;
            }
            self.out.push(b);
        }
        self.at = end;
    }

    fn top(&self) -> Frame {
        *self.stack.last().expect("the script frame is never popped")
    }

    /// The frame that decides quoting: a `${...}` reads as the frame around it.
    fn quoting(&self) -> Frame {
        self.stack
            .iter()
            .rev()
            .find(|f| !matches!(f, Frame::Brace(_)))
            .copied()
            .unwrap_or(Frame::Code(Code::Top))
    }

    /// The placeholder name at the cursor (`${name}`), if one starts there.
    fn placeholder(&self) -> Option<&str> {
        let rest = self.src.get(self.at..)?.strip_prefix(b"${")?;
        let end = rest.iter().position(|&b| b == b'}')?;
        let name = std::str::from_utf8(&rest[..end]).ok()?;
        let is_name = name.starts_with(|c: char| c.is_ascii_lowercase())
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
        is_name.then_some(name)
    }

    fn refuse(&self, name: &str, place: &'static str, fix: &'static str) -> ScriptError {
        ScriptError::Unsafe {
            line: self.line,
            name: name.to_owned(),
            place,
            fix,
        }
    }

    /// The environment variable that holds `name`'s value as it is inserted on this line.
    fn variable(&mut self, name: &str) -> Result<String, ScriptError> {
        let value = self.values.get(name).ok_or_else(|| ScriptError::Missing {
            name: name.to_owned(),
        })?;
        if value.contains('\0') {
            return Err(ScriptError::Nul {
                name: name.to_owned(),
            });
        }
        // As `fill` inserts it: trailing newlines dropped, later lines at this line's indent.
        let mut value = value.trim_end_matches('\n').to_owned();
        if value.contains('\n') {
            let line = &self.out[self.line_start..];
            let mut indent: String = line
                .iter()
                .take_while(|b| **b == b' ' || **b == b'\t')
                .map(|&b| b as char)
                .collect();
            if self.tabs_stripped {
                // `<<-` strips the tabs of the lines it reads, not of what they expand to.
                indent = indent.trim_start_matches('\t').to_owned();
            }
            value = value.replace('\n', &format!("\n{indent}"));
        }
        let mut same_name = 0;
        for (of, var) in &self.names {
            if of == name {
                if self.env.iter().any(|(v, held)| v == var && *held == value) {
                    return Ok(var.clone());
                }
                same_name += 1;
            }
        }
        let var = match same_name {
            0 => format!("LAB_VALUE_{name}"),
            n => format!("LAB_VALUE_{}_{name}", n + 1),
        };
        self.names.push((name.to_owned(), var.clone()));
        self.env.push((var.clone(), value));
        Ok(var)
    }

    /// Replaces the placeholder `name` at the cursor with a reference fit for `frame`.
    fn reference(&mut self, name: &str, frame: Frame) -> Result<(), ScriptError> {
        let (open, close) = match frame {
            Frame::Code(_) => ("\"", "\""),
            Frame::Double => ("", ""),
            Frame::Single => ("'\"", "\"'"),
            Frame::AnsiC => ("'\"", "\"$'"),
            Frame::Comment => {
                self.copy(name.len() + 3);
                return Ok(());
            }
            Frame::Arith(_) => {
                return Err(self.refuse(
                    name,
                    "inside bash arithmetic, which would evaluate the value as code",
                    "compare or compute outside `((...))`",
                ));
            }
            Frame::Brace(_) => unreachable!("quoting() looks through braces"),
        };
        let var = self.variable(name)?;
        self.out
            .extend_from_slice(format!("{open}${{{var}}}{close}").as_bytes());
        self.at += name.len() + 3;
        Ok(())
    }

    fn run(&mut self) -> Result<(), ScriptError> {
        while self.at < self.src.len() {
            let b = self.src[self.at];
            if let Some(name) = self.placeholder().map(str::to_owned) {
                let frame = self.quoting();
                self.reference(&name, frame)?;
                continue;
            }
            match self.top() {
                Frame::Comment => {
                    if b == b'\n' {
                        self.stack.pop();
                    } else {
                        self.copy(1);
                    }
                }
                Frame::Single => {
                    if b == b'\'' {
                        self.stack.pop();
                    }
                    self.copy(1);
                }
                Frame::AnsiC => match b {
                    b'\\' => self.copy(2),
                    b'\'' => {
                        self.stack.pop();
                        self.copy(1);
                    }
                    _ => self.copy(1),
                },
                Frame::Double => match b {
                    b'\\' => self.copy(2),
                    b'"' => {
                        self.stack.pop();
                        self.copy(1);
                    }
                    b'`' => {
                        self.stack.push(Frame::Code(Code::Backtick));
                        self.copy(1);
                    }
                    b'$' => self.dollar(false),
                    _ => self.copy(1),
                },
                Frame::Arith(depth) => self.arith(b, depth),
                Frame::Brace(depth) => self.brace(b, depth),
                Frame::Code(code) => self.code(b, code)?,
            }
        }
        Ok(())
    }

    /// A `$` that starts no placeholder: `$((`, `$(`, `${`, `$'` (in code only) or nothing.
    fn dollar(&mut self, in_code: bool) {
        match (self.peek(1), self.peek(2)) {
            (Some(b'('), Some(b'(')) => {
                self.stack.push(Frame::Arith(0));
                self.copy(3);
            }
            (Some(b'('), _) => {
                self.stack.push(Frame::Code(Code::Subst(0)));
                self.copy(2);
            }
            (Some(b'{'), _) => {
                self.stack.push(Frame::Brace(0));
                self.copy(2);
            }
            (Some(b'\''), _) if in_code => {
                self.stack.push(Frame::AnsiC);
                self.copy(2);
            }
            _ => self.copy(1),
        }
    }

    fn arith(&mut self, b: u8, depth: usize) {
        let top = self.stack.len() - 1;
        match b {
            b'(' => {
                self.stack[top] = Frame::Arith(depth + 1);
                self.copy(1);
            }
            b')' if depth == 0 => {
                self.stack.pop();
                self.copy(2);
            }
            b')' => {
                self.stack[top] = Frame::Arith(depth - 1);
                self.copy(1);
            }
            _ => self.copy(1),
        }
    }

    fn brace(&mut self, b: u8, depth: usize) {
        let top = self.stack.len() - 1;
        match b {
            b'\\' => self.copy(2),
            b'{' => {
                self.stack[top] = Frame::Brace(depth + 1);
                self.copy(1);
            }
            b'}' if depth == 0 => {
                self.stack.pop();
                self.copy(1);
            }
            b'}' => {
                self.stack[top] = Frame::Brace(depth - 1);
                self.copy(1);
            }
            b'"' => {
                self.stack.push(Frame::Double);
                self.copy(1);
            }
            b'\'' if matches!(self.quoting(), Frame::Code(_)) => {
                self.stack.push(Frame::Single);
                self.copy(1);
            }
            b'$' => self.dollar(matches!(self.quoting(), Frame::Code(_))),
            _ => self.copy(1),
        }
    }

    fn code(&mut self, b: u8, code: Code) -> Result<(), ScriptError> {
        let top = self.stack.len() - 1;
        let word_start = self.at == 0
            || matches!(
                self.src[self.at - 1],
                b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'(' | b')'
            );
        match b {
            b'\\' => self.copy(2),
            b'\'' => {
                self.stack.push(Frame::Single);
                self.copy(1);
            }
            b'"' => {
                self.stack.push(Frame::Double);
                self.copy(1);
            }
            b'$' => self.dollar(true),
            b'`' if code == Code::Backtick => {
                self.stack.pop();
                self.copy(1);
            }
            b'`' => {
                self.stack.push(Frame::Code(Code::Backtick));
                self.copy(1);
            }
            b'(' if self.peek(1) == Some(b'(') => {
                self.stack.push(Frame::Arith(0));
                self.copy(2);
            }
            b'(' => {
                if let Code::Subst(depth) = code {
                    self.stack[top] = Frame::Code(Code::Subst(depth + 1));
                }
                self.copy(1);
            }
            b')' => {
                match code {
                    Code::Subst(0) => drop(self.stack.pop()),
                    Code::Subst(depth) => self.stack[top] = Frame::Code(Code::Subst(depth - 1)),
                    _ => {}
                }
                self.copy(1);
            }
            b'#' if word_start => self.stack.push(Frame::Comment),
            b'<' if self.peek(1) == Some(b'<') && self.peek(2) != Some(b'<') => self.heredoc(),
            b'<' if self.peek(1) == Some(b'<') => self.copy(3),
            b'\n' => {
                self.copy(1);
                let pending = std::mem::take(&mut self.pending);
                for doc in &pending {
                    self.body(doc)?;
                }
            }
            _ => self.copy(1),
        }
        Ok(())
    }

    /// `<<[-] WORD`: notes the here-document whose body starts at the next newline.
    fn heredoc(&mut self) {
        self.copy(2);
        let strip_tabs = self.peek(0) == Some(b'-');
        if strip_tabs {
            self.copy(1);
        }
        while matches!(self.peek(0), Some(b' ' | b'\t')) {
            self.copy(1);
        }
        let mut delimiter = Vec::new();
        let mut quoted = false;
        while let Some(b) = self.peek(0) {
            match b {
                b' ' | b'\t' | b'\n' | b';' | b'&' | b'|' | b'<' | b'>' | b'(' | b')' => break,
                b'\'' | b'"' => {
                    quoted = true;
                    self.copy(1);
                    while let Some(c) = self.peek(0) {
                        self.copy(1);
                        if c == b {
                            break;
                        }
                        delimiter.push(c);
                    }
                }
                b'\\' => {
                    quoted = true;
                    if let Some(c) = self.peek(1) {
                        delimiter.push(c);
                    }
                    self.copy(2);
                }
                _ => {
                    delimiter.push(b);
                    self.copy(1);
                }
            }
        }
        self.pending.push(Heredoc {
            delimiter: String::from_utf8_lossy(&delimiter).into_owned(),
            quoted,
            strip_tabs,
        });
    }

    /// The body of `doc`, up to and with its delimiter line.
    fn body(&mut self, doc: &Heredoc) -> Result<(), ScriptError> {
        self.tabs_stripped = doc.strip_tabs;
        let result = self.lines_of(doc);
        self.tabs_stripped = false;
        result
    }

    fn lines_of(&mut self, doc: &Heredoc) -> Result<(), ScriptError> {
        while self.at < self.src.len() {
            let end = self.src[self.at..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(self.src.len(), |n| self.at + n);
            let text = String::from_utf8_lossy(&self.src[self.at..end]).into_owned();
            let bare = if doc.strip_tabs {
                text.trim_start_matches('\t')
            } else {
                &text
            };
            if bare == doc.delimiter {
                self.copy(end - self.at + 1);
                return Ok(());
            }
            while self.at < end {
                match (self.placeholder().map(str::to_owned), self.src[self.at]) {
                    (Some(name), _) if doc.quoted => {
                        return Err(self.refuse(
                            &name,
                            "inside a quoted here-document, where bash expands nothing",
                            "leave the delimiter unquoted (`<<EOF`)",
                        ));
                    }
                    (Some(name), _) => self.reference(&name, Frame::Double)?,
                    (None, b'\\') if !doc.quoted => self.copy(2),
                    _ => self.copy(1),
                }
            }
            self.copy(1);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    /// What bash prints for `solution` run with `values`.
    fn bash(solution: &str, values: &BTreeMap<String, String>) -> String {
        let script = for_bash(solution, values).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let out = std::process::Command::new("bash")
            .arg("-c")
            .arg(format!("set -euo pipefail\n{}", script.text))
            .current_dir(dir.path())
            .envs(script.env.iter().map(|(k, v)| (k, v)))
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}\n{}",
            script.text,
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            std::fs::read_dir(dir.path()).unwrap().next().is_none(),
            "the value ran as code and made a file: {}",
            script.text
        );
        String::from_utf8(out.stdout).unwrap()
    }

    const HOSTILE: &[&str] = &[
        "$(touch pwned)",
        "`touch pwned`",
        "a'b\"c",
        "'; touch pwned; '",
        "\"; touch pwned; \"",
        "two words  and\ttab",
        "*",
        "line one\nline two",
        "\\$(touch pwned)\\",
        "EOF\ntouch pwned",
        "$'\\x41'",
        "${HOME}",
    ];

    #[test]
    fn a_value_is_data_in_every_place_a_placeholder_can_sit() {
        let places = [
            // Plain code: one word, whatever it holds.
            ("printf '[%s]' ${v}", "[{}]"),
            ("printf '[%s]' x${v}y", "[x{}y]"),
            // Double quotes.
            ("printf '[%s]' \"<${v}>\"", "[<{}>]"),
            // Single quotes and $'...'.
            ("printf '[%s]' '<${v}>'", "[<{}>]"),
            ("printf '[%s]' $'<${v}>\\t'", "[<{}>\t]"),
            // Command substitution, backticks, and a default of a parameter expansion.
            ("printf '[%s]' \"$(printf '%s' ${v})\"", "[{}]"),
            ("printf '[%s]' \"`printf '%s' ${v}`\"", "[{}]"),
            ("printf '[%s]' \"${UNSET:-${v}}\"", "[{}]"),
            // An unquoted here-document.
            ("cat <<EOF\n<${v}>\nEOF", "<{}>\n"),
            ("cat <<-EOF\n\t<${v}>\n\tEOF", "<{}>\n"),
        ];
        for value in HOSTILE {
            for (solution, expected) in places {
                let got = bash(solution, &values(&[("v", value)]));
                assert_eq!(
                    got,
                    expected.replace("{}", value),
                    "{solution} with {value:?}"
                );
            }
        }
    }

    #[test]
    fn comments_keep_the_placeholder_and_run_nothing() {
        let got = bash(
            "# uses ${v}\necho done # ${v}",
            &values(&[("v", "x\n$(touch pwned)")]),
        );
        assert_eq!(got, "done\n");
    }

    #[test]
    fn a_multi_line_value_keeps_the_indentation_fill_gives_it() {
        let script = for_bash(
            "cat <<EOF\nkey: |\n  ${k}\nEOF\necho ${k}",
            &values(&[("k", "a\nb\n")]),
        )
        .unwrap();
        assert_eq!(
            script.env,
            vec![
                ("LAB_VALUE_k".to_owned(), "a\n  b".to_owned()),
                ("LAB_VALUE_2_k".to_owned(), "a\nb".to_owned()),
            ]
        );
        assert_eq!(
            bash(
                "cat <<EOF\nkey: |\n  ${k}\nEOF",
                &values(&[("k", "a\nb\n")])
            ),
            "key: |\n  a\n  b\n"
        );
    }

    #[test]
    fn upper_case_and_unknown_shapes_are_bash_not_placeholders() {
        let script = for_bash("D=$(echo x)\necho ${D} ${1:-a} ${#D}", &BTreeMap::new()).unwrap();
        assert_eq!(script.text, "D=$(echo x)\necho ${D} ${1:-a} ${#D}");
        assert!(script.env.is_empty());
    }

    #[test]
    fn arithmetic_and_quoted_here_documents_are_refused_with_their_line() {
        let v = values(&[("n", "1")]);
        let e = for_bash("echo a\necho $(( ${n} + 1 ))", &v).unwrap_err();
        assert_eq!(
            e.to_string(),
            "line 2 of the step's solution: `${n}` is inside bash arithmetic, which would evaluate the value as code; compare or compute outside `((...))` in the lab file"
        );
        let e = for_bash("cat <<'EOF'\n${n}\nEOF", &v).unwrap_err();
        assert!(
            e.to_string().starts_with(
                "line 2 of the step's solution: `${n}` is inside a quoted here-document"
            ),
            "{e}"
        );
        // After the quoted body, code is code again.
        let ok = for_bash("cat <<'EOF'\n$x\nEOF\necho ${n}", &v).unwrap();
        assert_eq!(ok.text, "cat <<'EOF'\n$x\nEOF\necho \"${LAB_VALUE_n}\"");
    }

    #[test]
    fn every_solution_of_the_built_in_course_converts_and_parses() {
        use crate::content::CourseFiles;
        use crate::content::load::{FileKind, parse_one};
        use crate::content::model::Lab;
        let files = CourseFiles::embedded();
        let mut seen = 0;
        for (rel, text) in files
            .texts()
            .filter(|(p, _)| p.starts_with("labs/") && p.ends_with("/lab.yaml"))
        {
            let lab: Lab = parse_one(rel, text, FileKind::Lab).unwrap();
            let values: BTreeMap<String, String> = lab
                .variables
                .iter()
                .map(|v| (v.name.value.clone(), "a b\nc".to_owned()))
                .collect();
            for step in &lab.steps {
                let Some(solution) = &step.solve else {
                    continue;
                };
                let script = for_bash(solution, &values)
                    .unwrap_or_else(|e| panic!("{rel} {}: {e}", step.id.value.0));
                let parsed = std::process::Command::new("bash")
                    .args(["-n", "-c", &script.text])
                    .output()
                    .unwrap();
                assert!(parsed.status.success(), "{rel}: {}", script.text);
                seen += 1;
            }
        }
        assert!(seen > 5, "only {seen} solutions");
    }

    #[test]
    fn a_nul_byte_or_a_missing_value_is_named() {
        assert_eq!(
            for_bash("echo ${v}", &values(&[("v", "a\0b")])).unwrap_err(),
            ScriptError::Nul { name: "v".into() }
        );
        assert_eq!(
            for_bash("echo ${v}", &BTreeMap::new()).unwrap_err(),
            ScriptError::Missing { name: "v".into() }
        );
    }
}
