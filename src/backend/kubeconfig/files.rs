//! The kubeconfig files `KUBECONFIG` names (`:`-separated, as kubectl reads it; a listed file
//! that does not exist is skipped, as kubectl skips it), or `~/.kube/config`: each read through
//! [`crate::input`] (a regular file, at most [`LIMIT`] bytes), parsed into the few fields `lab`
//! checks, and merged as kubectl and kube-rs merge them (the first file to name a context, user
//! or cluster wins). Its messages say the file, the line and what is wrong, and never quote a
//! line: a kubeconfig holds tokens and keys. No kube-rs here, so the fuzz targets reach it.

use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::backend::error::BackendError;
use crate::input::{self, InputError};
use crate::spanned::Spanned;

/// The most `lab` reads of one kubeconfig file; a cloud console's kubeconfig with hundreds of
/// contexts and their certificates is a few megabytes.
pub const LIMIT: u64 = 16 * 1024 * 1024;

/// The most a file the kubeconfig names (a CA, a client certificate or key, a token) may hold.
pub const NAMED_FILE_LIMIT: u64 = 1024 * 1024;

/// One kubeconfig file as read.
#[derive(Debug, Clone)]
pub struct KubeconfigFile {
    /// Where it was read from.
    pub path: PathBuf,
    /// Its text (a UTF-8 byte-order mark removed).
    pub text: String,
}

/// The kubeconfig: its files and, merged, what `lab` checks before kube-rs connects.
#[derive(Debug, Clone, Default)]
pub struct Kubeconfig {
    /// The files, in the order they were merged.
    pub files: Vec<KubeconfigFile>,
    /// The current context, from the first file that sets it.
    pub current_context: Option<String>,
    clusters: Vec<Entry<ClusterFields>>,
    users: Vec<Entry<UserFields>>,
    contexts: Vec<Entry<ContextFields>>,
}

/// A named entry, with the file (an index into `files`) it came from.
#[derive(Debug, Clone)]
struct Entry<T> {
    file: usize,
    name: String,
    fields: T,
}

/// One YAML document of a kubeconfig file, as far as `lab` reads it.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct Document {
    clusters: Option<Vec<NamedCluster>>,
    users: Option<Vec<NamedUser>>,
    contexts: Option<Vec<NamedContext>>,
    #[serde(rename = "current-context")]
    current_context: Option<String>,
}

#[derive(Debug, Deserialize)]
struct NamedCluster {
    name: String,
    #[serde(default)]
    cluster: Option<ClusterFields>,
}

#[derive(Debug, Deserialize)]
struct NamedUser {
    name: String,
    #[serde(default)]
    user: Option<UserFields>,
}

#[derive(Debug, Deserialize)]
struct NamedContext {
    name: String,
    #[serde(default)]
    context: Option<ContextFields>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct ClusterFields {
    certificate_authority: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default, rename_all = "kebab-case")]
struct UserFields {
    token: Option<Spanned<String>>,
    #[serde(rename = "tokenFile")]
    token_file: Option<Spanned<String>>,
    client_certificate: Option<Spanned<String>>,
    client_key: Option<Spanned<String>>,
    exec: Option<Spanned<ExecFields>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct ExecFields {
    command: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
struct ContextFields {
    cluster: Option<String>,
    user: Option<String>,
}

/// A user's credential plugin, for a message about it that quotes nothing it printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExecPlugin {
    /// The program's file name (not its folder, not its arguments).
    pub program: String,
    /// `file:line` where its `exec` entry begins.
    pub at: String,
}

/// The kubeconfig paths: `KUBECONFIG`'s (empty entries dropped), else `~/.kube/config`. The
/// second value says whether they came from `KUBECONFIG`.
pub fn sources() -> (Vec<PathBuf>, bool) {
    if let Some(value) = std::env::var_os("KUBECONFIG") {
        let paths: Vec<PathBuf> = std::env::split_paths(&value)
            .filter(|p| !p.as_os_str().is_empty())
            .collect();
        if !paths.is_empty() {
            return (paths, true);
        }
    }
    let home = std::env::var_os("HOME").map(PathBuf::from);
    (
        home.map(|h| h.join(".kube").join("config"))
            .into_iter()
            .collect(),
        false,
    )
}

impl Kubeconfig {
    /// Reads and merges the kubeconfig `KUBECONFIG` names, or `~/.kube/config`.
    pub fn read() -> Result<Self, BackendError> {
        let (paths, from_env) = sources();
        let mut files = Vec::new();
        for path in &paths {
            match input::read_text(path, LIMIT, "a kubeconfig") {
                Ok(text) => files.push(KubeconfigFile {
                    path: path.clone(),
                    text: text.strip_prefix('\u{feff}').unwrap_or(&text).to_owned(),
                }),
                Err(InputError::Unreadable { source, .. })
                    if source.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(BackendError::BadKubeconfig(e.to_string())),
            }
        }
        if files.is_empty() {
            let listed: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
            return Err(BackendError::Kubeconfig(if from_env {
                format!(
                    "no kubeconfig: none of KUBECONFIG's files exists ({})",
                    listed.join(", ")
                )
            } else {
                format!("no kubeconfig: {} does not exist", listed.join(", "))
            }));
        }
        Self::parse(files)
    }

    /// Parses and merges kubeconfig texts already read.
    pub fn parse(files: Vec<KubeconfigFile>) -> Result<Self, BackendError> {
        let mut config = Kubeconfig::default();
        for (index, file) in files.iter().enumerate() {
            let documents = serde_saphyr::from_multiple::<Document>(&file.text)
                .map_err(|e| BackendError::BadKubeconfig(yaml_error(&file.path, &e, SYNTAX_FIX)))?;
            for document in documents {
                config.merge(index, document);
            }
        }
        config.files = files;
        Ok(config)
    }

    fn merge(&mut self, file: usize, document: Document) {
        if self.current_context.is_none() {
            self.current_context = document.current_context.filter(|c| !c.is_empty());
        }
        for c in document.clusters.unwrap_or_default() {
            add(&mut self.clusters, file, c.name, c.cluster);
        }
        for u in document.users.unwrap_or_default() {
            add(&mut self.users, file, u.name, u.user);
        }
        for c in document.contexts.unwrap_or_default() {
            add(&mut self.contexts, file, c.name, c.context);
        }
    }

    /// The context names, in the order they were merged.
    pub fn context_names(&self) -> Vec<&str> {
        self.contexts.iter().map(|c| c.name.as_str()).collect()
    }

    /// The context `wanted` (the current context when `None`) after checking what kube-rs will
    /// use of it: its user's token and the files its user and cluster name.
    pub fn context(&self, wanted: Option<&str>) -> Result<String, BackendError> {
        let name = match wanted {
            Some(c) => c.to_owned(),
            None => self.current_context.clone().ok_or_else(|| {
                BackendError::Kubeconfig("the kubeconfig has no current context".into())
            })?,
        };
        let Some(context) = find(&self.contexts, &name) else {
            return Err(BackendError::Kubeconfig(format!(
                "the kubeconfig has no context `{name}` (it has: {})",
                self.context_names().join(", ")
            )));
        };
        let fields = &context.fields;
        if let Some(user) = fields.user.as_deref().and_then(|u| find(&self.users, u)) {
            self.check_user(user)?;
        }
        if let Some(cluster) = fields
            .cluster
            .as_deref()
            .and_then(|c| find(&self.clusters, c))
        {
            let file = &self.files[cluster.file];
            if let Some(ca) = &cluster.fields.certificate_authority {
                check_named_file(file, ca, "the cluster's `certificate-authority`")?;
            }
        }
        Ok(name)
    }

    fn check_user(&self, user: &Entry<UserFields>) -> Result<(), BackendError> {
        let file = &self.files[user.file];
        let fields = &user.fields;
        if let Some(token) = &fields.token {
            check_token(file, token)?;
        }
        let named = [
            (&fields.token_file, "the user's `tokenFile`"),
            (
                &fields.client_certificate,
                "the user's `client-certificate`",
            ),
            (&fields.client_key, "the user's `client-key`"),
        ];
        for (value, what) in named {
            if let Some(value) = value {
                check_named_file(file, value, what)?;
            }
        }
        Ok(())
    }

    /// The credential plugin of the user of context `name`, if it has one.
    pub fn exec_plugin(&self, name: &str) -> Option<ExecPlugin> {
        let context = find(&self.contexts, name)?;
        let user = find(&self.users, context.fields.user.as_deref()?)?;
        let exec = user.fields.exec.as_ref()?;
        let command = exec.command.as_deref().unwrap_or("");
        let program = Path::new(command)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Some(ExecPlugin {
            program: printable(&program),
            at: format!("{}:{}", self.files[user.file].path.display(), exec.line),
        })
    }
}

/// What to do about a kubeconfig that is not YAML, or not shaped like a kubeconfig.
pub const SYNTAX_FIX: &str = "fix the file there (kubectl cannot read it either), or set \
                              KUBECONFIG to another kubeconfig";

fn add<T: Default>(entries: &mut Vec<Entry<T>>, file: usize, name: String, fields: Option<T>) {
    if !entries.iter().any(|e| e.name == name) {
        entries.push(Entry {
            file,
            name,
            fields: fields.unwrap_or_default(),
        });
    }
}

fn find<'a, T>(entries: &'a [Entry<T>], name: &str) -> Option<&'a Entry<T>> {
    entries.iter().find(|e| e.name == name)
}

/// A program name fit for a message: control characters dropped, at most 64 characters.
fn printable(text: &str) -> String {
    text.chars().filter(|c| !c.is_control()).take(64).collect()
}

/// `file:line:col: what is wrong; fix` for a YAML error, naming its place and its kind but
/// never quoting the value or the line (serde-saphyr's own message shows the lines around
/// the error, and serde's "invalid type" messages quote the value).
pub fn yaml_error(path: &Path, error: &serde_saphyr::Error, fix: &str) -> String {
    let error = error.without_snippet();
    let place = match error.location() {
        Some(l) if l.line() > 0 => format!("{}:{}:{}", path.display(), l.line(), l.column()),
        _ => path.display().to_string(),
    };
    format!("{place}: {}; {fix}", yaml_problem(error))
}

fn yaml_problem(error: &serde_saphyr::Error) -> String {
    use serde_saphyr::Error as E;
    match error {
        E::SerdeInvalidType { expected, .. } | E::SerdeInvalidValue { expected, .. } => {
            format!("a value is not {}", expected_noun(expected))
        }
        E::Unexpected { expected, .. } => format!(
            "a value is not {}",
            match *expected {
                "sequence start" => "a list",
                "mapping start" => "a mapping",
                _ => "of the right kind",
            }
        ),
        E::SerdeInvalidLength { expected, .. } => {
            format!("a list does not have {}", expected_noun(expected))
        }
        E::SerdeMissingField { field, .. } => format!("an entry has no `{field}`"),
        E::DuplicateMappingKey { .. } => "a key appears twice in one mapping".into(),
        E::NullIntoString { .. } => "a value that must be text is empty".into(),
        E::InvalidUtf8Input => "the file is not UTF-8 text".into(),
        E::Eof { .. } => "the file ends in the middle of a value".into(),
        E::Budget { .. }
        | E::AliasReplayLimitExceeded { .. }
        | E::AliasExpansionLimitExceeded { .. }
        | E::AliasReplayStackDepthExceeded { .. }
        | E::AliasReplayCounterOverflow { .. } => {
            "the file nests or repeats (through aliases) more than a kubeconfig does".into()
        }
        E::IndentationError { .. } => "the indentation is wrong".into(),
        _ => "this is not valid YAML".into(),
    }
}

/// serde's "expected" text, which comes from `lab`'s own types, in plain words.
fn expected_noun(expected: &str) -> String {
    if expected.starts_with("struct ") || expected == "a map" {
        "a mapping".into()
    } else if expected.starts_with("a ") || expected.starts_with("an ") {
        printable(expected)
    } else {
        "of the right type".into()
    }
}

/// A token must be a valid HTTP header value: kube-rs panics on one that is not, and
/// kubectl (Go's net/http) refuses it. A `|` block scalar keeps a final line break.
fn check_token(file: &KubeconfigFile, token: &Spanned<String>) -> Result<(), BackendError> {
    let bad = |b: &u8| (*b < 0x20 && *b != b'\t') || *b == 0x7f;
    let Some(position) = token.bytes().position(|b| bad(&b)) else {
        return Ok(());
    };
    let place = format!("{}:{}", file.path.display(), token.line);
    let trailing = token[position..].bytes().all(|b| b == b'\n' || b == b'\r');
    Err(BackendError::BadKubeconfig(if trailing {
        format!(
            "{place}: the user's `token` ends in a line break, which an HTTP header cannot carry \
             (a `|` block scalar keeps it; kubectl refuses it too); write the token on the \
             `token:` line itself, or use `|-` to drop the line break"
        )
    } else {
        format!(
            "{place}: the user's `token` holds a line break or another control character, which \
             an HTTP header cannot carry; paste the token again, on the `token:` line itself"
        )
    }))
}

/// A file the kubeconfig names (relative to the kubeconfig's folder) must be a regular file
/// of a sane size: kube-rs reads it whole, so a FIFO would hang `lab` and a device exhaust it.
fn check_named_file(
    file: &KubeconfigFile,
    named: &Spanned<String>,
    what: &str,
) -> Result<(), BackendError> {
    let place = format!("{}:{}", file.path.display(), named.line);
    let path = match file.path.parent() {
        Some(dir) if Path::new(named.as_str()).is_relative() => dir.join(named.as_str()),
        _ => PathBuf::from(named.as_str()),
    };
    let problem = match std::fs::metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            "names a file that does not exist".to_owned()
        }
        Err(e) => format!("names a file `lab` cannot read ({})", e.kind()),
        Ok(meta) if !meta.is_file() => format!(
            "names {}, not a regular file",
            input::file_type_noun(meta.file_type())
        ),
        Ok(meta) if meta.len() > NAMED_FILE_LIMIT => format!(
            "names a file of {} bytes, more than the {NAMED_FILE_LIMIT} a key, certificate or \
             token holds",
            meta.len()
        ),
        Ok(_) => return Ok(()),
    };
    Err(BackendError::BadKubeconfig(format!(
        "{place}: {what} {problem}; point it at the right file (a relative path is read from \
         the kubeconfig's folder)"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    const JWT: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6IjEyMyJ9.eyJzdWIiOiJsZWFybmVyIn0.c2lnbmF0dXJl";

    fn parse(text: &str) -> Result<Kubeconfig, BackendError> {
        Kubeconfig::parse(vec![KubeconfigFile {
            path: PathBuf::from("/home/u/.kube/config"),
            text: text.to_owned(),
        }])
    }

    fn config(user: &str) -> String {
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: https://127.0.0.1:1\nusers:\n- name: u\n  user:\n{user}contexts:\n- name: lab\n  context: {{cluster: c, user: u}}\ncurrent-context: lab\n"
        )
    }

    #[test]
    fn a_parse_error_names_the_line_and_quotes_nothing() {
        // serde-saphyr's message once echoed the token line and the key around the error.
        let text = format!(
            "users:\n- name: u\n  user:\n    token: {JWT}\n    client-key-data: LS0tLS1CRUdJTiBQUklWQVRF\n   broken: [\n"
        );
        let err = parse(&text).unwrap_err().to_string();
        assert!(err.starts_with("/home/u/.kube/config:"), "{err}");
        assert!(err.ends_with(SYNTAX_FIX), "{err}");
        for secret in ["eyJ", "LS0t", "c2lnbmF0dXJl", "broken"] {
            assert!(!err.contains(secret), "{secret} quoted: {err}");
        }
    }

    #[test]
    fn a_wrong_type_says_what_was_expected_not_what_was_found() {
        let err = parse("users: eyJhbGciOiJSUzI1NiJ9\n")
            .unwrap_err()
            .to_string();
        assert_eq!(
            err,
            format!("/home/u/.kube/config:1:8: a value is not a list; {SYNTAX_FIX}")
        );
    }

    #[test]
    fn a_block_scalar_token_is_refused_at_its_line() {
        // `token: |` keeps a final line break; kube-rs then panicked building the header.
        let kubeconfig = parse(&config(&format!("    token: |\n      {JWT}\n"))).unwrap();
        let err = kubeconfig.context(None).unwrap_err();
        assert!(matches!(err, BackendError::BadKubeconfig(_)));
        let text = err.to_string();
        assert!(
            text.starts_with("/home/u/.kube/config:11: the user's `token` ends in a line break"),
            "{text}"
        );
        assert!(
            text.ends_with("or use `|-` to drop the line break"),
            "{text}"
        );
        assert!(!text.contains("eyJ"), "{text}");
        let fine = parse(&config(&format!("    token: |-\n      {JWT}\n"))).unwrap();
        assert_eq!(fine.context(None).unwrap(), "lab");
    }

    #[test]
    fn a_token_with_a_line_break_inside_is_refused() {
        let kubeconfig = parse(&config("    token: \"abc\\ndef\"\n")).unwrap();
        let err = kubeconfig.context(Some("lab")).unwrap_err().to_string();
        assert!(
            err.contains("holds a line break or another control character"),
            "{err}"
        );
        assert!(!err.contains("abc"), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_named_fifo_is_refused_without_opening_it() {
        let dir = tempfile::tempdir().unwrap();
        let status = std::process::Command::new("mkfifo")
            .arg(dir.path().join("key.pem"))
            .status()
            .unwrap();
        assert!(status.success());
        let kubeconfig = Kubeconfig::parse(vec![KubeconfigFile {
            path: dir.path().join("config"),
            text: config("    client-key: key.pem\n"),
        }])
        .unwrap();
        let err = kubeconfig.context(None).unwrap_err().to_string();
        assert!(
            err.ends_with(
                "config:10: the user's `client-key` names a FIFO, not a regular file; point it at \
                 the right file (a relative path is read from the kubeconfig's folder)"
            ),
            "{err}"
        );
    }

    #[test]
    fn the_first_file_to_name_a_context_wins_and_unknown_contexts_are_listed() {
        let first = KubeconfigFile {
            path: PathBuf::from("a"),
            text: "contexts:\n- name: lab\n  context: {cluster: one}\n".into(),
        };
        let second = KubeconfigFile {
            path: PathBuf::from("b"),
            text: "current-context: lab\ncontexts:\n- name: lab\n  context: {cluster: two}\n- name: other\n".into(),
        };
        let config = Kubeconfig::parse(vec![first, second]).unwrap();
        assert_eq!(config.current_context.as_deref(), Some("lab"));
        assert_eq!(config.context_names(), ["lab", "other"]);
        assert_eq!(
            find(&config.contexts, "lab")
                .unwrap()
                .fields
                .cluster
                .as_deref(),
            Some("one")
        );
        let err = config.context(Some("gone")).unwrap_err().to_string();
        assert!(err.starts_with("the kubeconfig has no context `gone` (it has: lab, other)"));
    }

    #[test]
    fn the_exec_plugin_is_named_by_program_and_place() {
        let kubeconfig = parse(&config(
            "    exec:\n      command: /opt/bin/get-token\n      args: [--secret, s3cr3t]\n",
        ))
        .unwrap();
        assert_eq!(
            kubeconfig.exec_plugin("lab"),
            Some(ExecPlugin {
                program: "get-token".into(),
                at: "/home/u/.kube/config:11".into(),
            })
        );
    }
}
