//! JSON from a learner (a submission's seal and its statement), read so that what is wrong is
//! said plainly: nesting is measured before parsing, so that a document nested 10,000 deep is
//! refused for its depth and not for the first field the types happen to reject on the way
//! down, and a parse error is described in lab's words, never serde's, which may quote the
//! input.

use serde::de::DeserializeOwned;

/// How deep arrays and objects may nest: far beyond the five levels a bundle or a statement
/// has, and below serde_json's own limit (which it reports as a syntax error).
pub const DEPTH_LIMIT: usize = 64;

/// Why a document could not be read, and where; nothing of its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The line (from 1).
    pub line: usize,
    /// The column (from 1, in bytes).
    pub column: usize,
    /// What is wrong, as a fragment: "it is not valid JSON".
    pub why: &'static str,
}

/// Parses `json` as a `T`; `shape` is what to say when it is JSON of another shape than `T`'s.
pub fn parse<T: DeserializeOwned>(json: &[u8], shape: &'static str) -> Result<T, Problem> {
    if let Some((line, column)) = too_deep(json) {
        return Err(Problem {
            line,
            column,
            why: "it nests arrays and objects more than 64 deep",
        });
    }
    serde_json::from_slice(json).map_err(|e| Problem {
        line: e.line(),
        column: e.column(),
        why: match e.classify() {
            serde_json::error::Category::Io => "it could not be read",
            serde_json::error::Category::Syntax => "it is not valid JSON",
            serde_json::error::Category::Data => shape,
            serde_json::error::Category::Eof => "it ends early",
        },
    })
}

/// Where `json` first opens an array or object deeper than [`DEPTH_LIMIT`], if it does.
/// Brackets inside strings are not counted; of text that is not JSON, the answer means
/// nothing, and the parser says what is wrong with it instead.
fn too_deep(json: &[u8]) -> Option<(usize, usize)> {
    let (mut depth, mut line, mut column) = (0usize, 1usize, 0usize);
    let (mut in_string, mut escaped) = (false, false);
    for &byte in json {
        column += 1;
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => in_string = false,
                _ => {}
            }
            continue;
        }
        match byte {
            b'"' => in_string = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > DEPTH_LIMIT {
                    return Some((line, column));
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            b'\n' => (line, column) = (line + 1, 0),
            _ => {}
        }
    }
    None
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
