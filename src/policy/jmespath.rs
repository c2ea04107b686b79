//! Kyverno's JMESPath, offline, for the expressions of attestation `conditions`: the `jmespath`
//! crate parses and runs the standard language and functions; this module adds what Kyverno's
//! differs in or adds, as Kyverno v1.19 runs it (`pkg/engine/jmespath/functions.go` over the
//! `github.com/kyverno/go-jmespath` fork):
//! - a field read from an object that lacks it fails the whole query (`Unknown key "x" in
//!   path`, the fork's `NotFoundError`) when nothing on the way turns it into `null`: only on
//!   the path from the data's root through sub-expressions, index expressions and the right side
//!   of `&&` (`interpreter.go`); in a projection, a filter, a function's argument, a comparison,
//!   a pipe or `||` it is `null`, as in standard JMESPath;
//! - Kyverno's string functions that an SBOM or provenance check reaches for: `to_upper`,
//!   `to_lower`, `trim`, `trim_prefix`, `split`, `replace`, `replace_all`, `equal_fold`,
//!   `regex_match`, `pattern_match`, `base64_encode` and `base64_decode`.
//!
//! What it does not run is never guessed: an expression the crate cannot parse (the fork reads a
//! little more), any other of Kyverno's functions (clocks, randomness, lookups, arithmetic on
//! quantities), and a query that fails at run time are answered as unsupported, which makes the
//! verdict undecided.

use std::sync::LazyLock;

use base64::Engine as _;
use jmespath::ast::Ast;
use jmespath::functions::{ArgumentType, CustomFunction, Signature};
use jmespath::{Context, Expression, Rcvar, Runtime, Variable};
use serde_json::Value;

/// Why a query has no value here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum QueryError {
    /// Kyverno fails too, with these words (after `JMESPath query failed: `).
    Kyverno(String),
    /// Kyverno would run it; this evaluator does not. Says what and why.
    Unsupported(String),
}

/// The standard JMESPath functions (the crate's), which Kyverno's fork has as well.
const STANDARD: &[&str] = &[
    "abs",
    "avg",
    "ceil",
    "contains",
    "ends_with",
    "floor",
    "join",
    "keys",
    "length",
    "map",
    "max",
    "max_by",
    "merge",
    "min",
    "min_by",
    "not_null",
    "reverse",
    "sort",
    "sort_by",
    "starts_with",
    "sum",
    "to_array",
    "to_number",
    "to_string",
    "type",
    "values",
];

/// Kyverno's functions that run here.
const KYVERNO: &[&str] = &[
    "to_upper",
    "to_lower",
    "trim",
    "trim_prefix",
    "split",
    "replace",
    "replace_all",
    "equal_fold",
    "regex_match",
    "pattern_match",
    "base64_encode",
    "base64_decode",
];

/// Kyverno's other functions (`functions.go`, `time.go`, `arithmetic.go`): real, but not run
/// offline, so a query naming one is undecided.
const KYVERNO_NOT_HERE: &[&str] = &[
    "compare",
    "regex_replace_all",
    "regex_replace_all_literal",
    "label_match",
    "to_boolean",
    "add",
    "subtract",
    "multiply",
    "divide",
    "modulo",
    "round",
    "time_since",
    "time_now",
    "time_now_utc",
    "path_canonicalize",
    "truncate",
    "semver_compare",
    "parse_json",
    "parse_yaml",
    "lookup",
    "items",
    "object_from_lists",
    "random",
    "x509_decode",
    "time_to_cron",
    "time_add",
    "time_parse",
    "time_utc",
    "time_diff",
    "time_before",
    "time_after",
    "time_between",
    "time_truncate",
    "image_normalize",
    "is_external_url",
    "sha256",
    "sha1",
    "md5",
];

fn string(value: String) -> Rcvar {
    Rcvar::new(Variable::String(value))
}

fn text(args: &[Rcvar], i: usize) -> &str {
    args[i].as_string().map_or("", String::as_str)
}

/// A Kyverno function of `inputs` typed arguments.
fn function(
    inputs: Vec<ArgumentType>,
    f: impl Fn(&[Rcvar]) -> Result<Rcvar, String> + Send + Sync + 'static,
) -> Box<CustomFunction> {
    Box::new(CustomFunction::new(
        Signature::new(inputs, None),
        Box::new(move |args: &[Rcvar], ctx: &mut Context<'_>| {
            f(args).map_err(|reason| {
                jmespath::JmespathError::from_ctx(
                    ctx,
                    jmespath::ErrorReason::Parse(format!("in a Kyverno function: {reason}")),
                )
            })
        }),
    ))
}

/// A string, or a number as Go's `fmt.Sprint` writes it (`ifaceToString`).
fn string_or_number(value: &Rcvar) -> Option<String> {
    match &**value {
        Variable::String(s) => Some(s.clone()),
        Variable::Number(n) => Some(
            n.as_f64()
                .map_or_else(|| n.to_string(), super::go_values::go_float),
        ),
        _ => None,
    }
}

static RUNTIME: LazyLock<Runtime> = LazyLock::new(|| {
    use ArgumentType::{Number, String as Str};
    let mut runtime = Runtime::new();
    runtime.register_builtin_functions();
    let one = |f: fn(&str) -> String| function(vec![Str], move |args| Ok(string(f(text(args, 0)))));
    runtime.register_function("to_upper", one(str::to_uppercase));
    runtime.register_function("to_lower", one(str::to_lowercase));
    runtime.register_function(
        "trim",
        function(vec![Str, Str], |args| {
            let cutset: Vec<char> = text(args, 1).chars().collect();
            Ok(string(
                text(args, 0)
                    .trim_matches(|c| cutset.contains(&c))
                    .to_owned(),
            ))
        }),
    );
    runtime.register_function(
        "trim_prefix",
        function(vec![Str, Str], |args| {
            let (s, prefix) = (text(args, 0), text(args, 1));
            Ok(string(s.strip_prefix(prefix).unwrap_or(s).to_owned()))
        }),
    );
    runtime.register_function(
        "split",
        function(vec![Str, Str], |args| {
            let (s, sep) = (text(args, 0), text(args, 1));
            // Go's strings.Split: an empty separator splits after each character.
            let parts: Vec<Rcvar> = if sep.is_empty() {
                s.chars().map(|c| string(c.to_string())).collect()
            } else {
                s.split(sep).map(|p| string(p.to_owned())).collect()
            };
            Ok(Rcvar::new(Variable::Array(parts)))
        }),
    );
    runtime.register_function(
        "replace",
        function(vec![Str, Str, Str, Number], |args| {
            let (s, old, new) = (text(args, 0), text(args, 1), text(args, 2));
            let n = args[3].as_number().unwrap_or(0.0) as i64;
            // Go's strings.Replace: n < 0 replaces all, 0 none.
            Ok(string(if n < 0 {
                s.replace(old, new)
            } else {
                s.replacen(old, new, n as usize)
            }))
        }),
    );
    runtime.register_function(
        "replace_all",
        function(vec![Str, Str, Str], |args| {
            Ok(string(text(args, 0).replace(text(args, 1), text(args, 2))))
        }),
    );
    runtime.register_function(
        "equal_fold",
        function(vec![Str, Str], |args| {
            let fold = |s: &str| s.chars().flat_map(char::to_lowercase).collect::<String>();
            Ok(Rcvar::new(Variable::Bool(
                fold(text(args, 0)) == fold(text(args, 1)),
            )))
        }),
    );
    runtime.register_function(
        "regex_match",
        function(vec![Str, ArgumentType::Any], |args| {
            let source = string_or_number(&args[1])
                .ok_or("regex_match's second argument must be a string or a number")?;
            let re = regex::Regex::new(text(args, 0)).map_err(|e| e.to_string())?;
            Ok(Rcvar::new(Variable::Bool(re.is_match(&source))))
        }),
    );
    runtime.register_function(
        "pattern_match",
        function(vec![Str, ArgumentType::Any], |args| {
            let source = string_or_number(&args[1])
                .ok_or("pattern_match's second argument must be a string or a number")?;
            Ok(Rcvar::new(Variable::Bool(crate::wildcard::matches(
                text(args, 0),
                &source,
            ))))
        }),
    );
    runtime.register_function(
        "base64_encode",
        function(vec![Str], |args| {
            Ok(string(
                base64::engine::general_purpose::STANDARD.encode(text(args, 0)),
            ))
        }),
    );
    runtime.register_function(
        "base64_decode",
        function(vec![Str], |args| {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(text(args, 0))
                .map_err(|e| e.to_string())?;
            Ok(string(String::from_utf8_lossy(&bytes).into_owned()))
        }),
    );
    runtime
});

/// The data a query runs over.
pub fn data(value: &Value) -> Rcvar {
    Rcvar::new(Variable::try_from(value).unwrap_or(Variable::Null))
}

/// Runs `expression` over `data` as Kyverno's context query would. `data` holds what this
/// evaluator knows of Kyverno's context: the parts `modeled` names (paths from its root, such
/// as `["request", "object"]`) and whatever a block adds at its root (an attestation's
/// predicate). A query that reads another part of Kyverno's context is unsupported.
pub fn query(expression: &str, data: &Rcvar, modeled: &[&[&str]]) -> Result<Value, QueryError> {
    let expression = expression.trim();
    let ast = jmespath::parse(expression).map_err(|e| {
        QueryError::Unsupported(format!(
            "`{expression}` is JMESPath this evaluator cannot read ({})",
            e.reason
        ))
    })?;
    let mut names = Vec::new();
    functions_in(&ast, &mut names);
    if let Some(name) = names
        .iter()
        .find(|n| !STANDARD.contains(&n.as_str()) && !KYVERNO.contains(&n.as_str()))
    {
        let why = if KYVERNO_NOT_HERE.contains(&name.as_str()) {
            format!("Kyverno's function `{name}` does not run offline")
        } else {
            format!("`{name}` is not a JMESPath or Kyverno function this evaluator knows")
        };
        return Err(QueryError::Unsupported(format!("`{expression}`: {why}")));
    }
    let mut paths = Vec::new();
    root_paths(&ast, expression, &mut paths);
    let known = |path: &[String]| {
        let root = path[0].as_str();
        if !CONTEXT_ROOTS.contains(&root) {
            return true;
        }
        let added_by_the_block = modeled.iter().all(|m| m[0] != root)
            && data.as_object().is_some_and(|o| o.contains_key(root));
        added_by_the_block
            || modeled
                .iter()
                .any(|m| m.len() <= path.len() && m.iter().zip(path).all(|(a, b)| *a == b))
    };
    if let Some(path) = paths.iter().find(|p| !known(p)) {
        let path = path.join(".");
        let what = if path == expression {
            format!("`{path}` is")
        } else {
            format!("`{expression}` reads `{path}`, which is")
        };
        return Err(QueryError::Unsupported(format!(
            "{what} part of Kyverno's context that is not known offline"
        )));
    }
    let compiled = Expression::new(expression, ast, &RUNTIME);
    let failed = |e: jmespath::JmespathError| {
        // The expression parsed above: a `Parse` reason here is a Kyverno function's own
        // failure ([`function`]), which the crate has no other reason to carry.
        let reason = match e.reason {
            jmespath::ErrorReason::Parse(why) => why,
            other => other.to_string(),
        };
        QueryError::Unsupported(format!(
            "`{expression}` fails when run here ({reason}), and Kyverno's words for that are not known"
        ))
    };
    if let Some(key) = unknown_key(compiled.as_ast(), data, expression).map_err(failed)? {
        return Err(QueryError::Kyverno(format!(
            "Unknown key \"{key}\" in path"
        )));
    }
    let result = compiled.search(data).map_err(failed)?;
    serde_json::to_value(&*result).map_err(|e| {
        QueryError::Unsupported(format!(
            "`{expression}` gave a value that is not JSON ({e})"
        ))
    })
}

/// What Kyverno's JSON context holds besides the data a block adds to it (`pkg/engine/context`):
/// the admission request, the images, the service account, and what `foreach` and mutations
/// set.
const CONTEXT_ROOTS: &[&str] = &[
    "request",
    "images",
    "serviceAccountName",
    "serviceAccountNamespace",
    "element",
    "elementIndex",
    "target",
];

/// The paths of fields `ast` reads from the data's root (`request.object.metadata`), not from
/// what a projection, a filter, a pipe or an expression reference hands on.
fn root_paths(ast: &Ast, expression: &str, out: &mut Vec<Vec<String>>) {
    match ast {
        Ast::Field { name, .. } => out.push(vec![name.clone()]),
        Ast::Subexpr { offset, lhs, .. } if is_pipe(expression, *offset) => {
            root_paths(lhs, expression, out);
        }
        Ast::Subexpr { lhs, .. } => match chain(ast, expression) {
            Some(path) => out.push(path),
            None => root_paths(lhs, expression, out),
        },
        Ast::Projection { lhs, .. } => root_paths(lhs, expression, out),
        Ast::Comparison { lhs, rhs, .. } | Ast::And { lhs, rhs, .. } | Ast::Or { lhs, rhs, .. } => {
            root_paths(lhs, expression, out);
            root_paths(rhs, expression, out);
        }
        Ast::Function { args, .. } => args.iter().for_each(|a| root_paths(a, expression, out)),
        Ast::Flatten { node, .. } | Ast::Not { node, .. } | Ast::ObjectValues { node, .. } => {
            root_paths(node, expression, out);
        }
        Ast::MultiList { elements, .. } => {
            elements.iter().for_each(|e| root_paths(e, expression, out));
        }
        Ast::MultiHash { elements, .. } => {
            elements
                .iter()
                .for_each(|kv| root_paths(&kv.value, expression, out));
        }
        Ast::Condition { .. }
        | Ast::Expref { .. }
        | Ast::Identity { .. }
        | Ast::Index { .. }
        | Ast::Literal { .. }
        | Ast::Slice { .. } => {}
    }
}

/// The fields named along a chain of sub-expressions from the root (`a.b[0].c` gives `a.b.c`:
/// only its start says which part of the context it reads), or `None` when it does not start
/// with a field.
fn chain(ast: &Ast, expression: &str) -> Option<Vec<String>> {
    match ast {
        Ast::Field { name, .. } => Some(vec![name.clone()]),
        Ast::Subexpr {
            offset, lhs, rhs, ..
        } if !is_pipe(expression, *offset) => {
            let mut path = chain(lhs, expression)?;
            if let Ast::Field { name, .. } = &**rhs {
                path.push(name.clone());
            }
            Some(path)
        }
        _ => None,
    }
}

/// Whether the sub-expression at `offset` is a pipe (`a | b`), which the parser makes a
/// sub-expression too.
fn is_pipe(expression: &str, offset: usize) -> bool {
    expression
        .get(offset..)
        .is_some_and(|rest| rest.starts_with('|'))
}

/// The names of the functions `ast` calls.
fn functions_in(ast: &Ast, out: &mut Vec<String>) {
    match ast {
        Ast::Function { name, args, .. } => {
            out.push(name.clone());
            for arg in args {
                functions_in(arg, out);
            }
        }
        Ast::Comparison { lhs, rhs, .. }
        | Ast::And { lhs, rhs, .. }
        | Ast::Or { lhs, rhs, .. }
        | Ast::Projection { lhs, rhs, .. }
        | Ast::Subexpr { lhs, rhs, .. } => {
            functions_in(lhs, out);
            functions_in(rhs, out);
        }
        Ast::Condition {
            predicate, then, ..
        } => {
            functions_in(predicate, out);
            functions_in(then, out);
        }
        Ast::Expref { ast, .. } => functions_in(ast, out),
        Ast::Flatten { node, .. } | Ast::Not { node, .. } | Ast::ObjectValues { node, .. } => {
            functions_in(node, out);
        }
        Ast::MultiList { elements, .. } => elements.iter().for_each(|e| functions_in(e, out)),
        Ast::MultiHash { elements, .. } => {
            elements.iter().for_each(|kv| functions_in(&kv.value, out))
        }
        Ast::Field { .. }
        | Ast::Identity { .. }
        | Ast::Index { .. }
        | Ast::Literal { .. }
        | Ast::Slice { .. } => {}
    }
}

/// The key whose absence fails the whole query in Kyverno's fork, if one does (see the module's
/// documentation for where that happens).
fn unknown_key(
    ast: &Ast,
    data: &Rcvar,
    expression: &str,
) -> Result<Option<String>, jmespath::JmespathError> {
    Ok(match ast {
        Ast::Field { name, .. } => data
            .as_object()
            .filter(|object| !object.contains_key(name))
            .map(|_| name.clone()),
        // A pipe (`a | b`, a sub-expression here) is the fork's ASTPipe, which turns a missing
        // key on either side into null.
        Ast::Subexpr { offset, .. } if is_pipe(expression, *offset) => None,
        Ast::Subexpr { lhs, rhs, .. } => match unknown_key(lhs, data, expression)? {
            Some(key) => Some(key),
            None => {
                let left = run(lhs, data, expression)?;
                unknown_key(rhs, &left, expression)?
            }
        },
        Ast::And { lhs, rhs, .. } => {
            if run(lhs, data, expression)?.is_truthy() {
                unknown_key(rhs, data, expression)?
            } else {
                None
            }
        }
        _ => None,
    })
}

fn run(ast: &Ast, data: &Rcvar, expression: &str) -> Result<Rcvar, jmespath::JmespathError> {
    let mut ctx = Context::new(expression, &RUNTIME);
    jmespath::interpret(data, ast, &mut ctx)
}

#[cfg(test)]
#[path = "jmespath_tests.rs"]
mod tests;
