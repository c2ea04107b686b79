//! The class roster an instructor gives `lab grade --roster`: a CSV file, one learner a row,
//! naming who each learner is (name, email, section, Canvas and SIS ids: for the reports) and
//! what only that learner holds (the public key, or its fingerprint, whose private half signs
//! their work; in keyless labs the identity their image signatures must carry). Read strictly:
//! it is the instructor's ground truth, so a misspelled column or a key that cannot be read
//! stops the grading with the file, the line and what to do, instead of silently checking
//! nothing.

use std::collections::BTreeMap;
use std::path::Path;

use base64::Engine as _;

use super::anonymize::Naming;
use super::class::Who;
use base64::engine::general_purpose::STANDARD;

/// The largest roster read (a class of thousands is a few hundred kilobytes).
pub const ROSTER_LIMIT: u64 = 4 << 20;

/// The columns a roster may have, as written in its header row (case and surrounding spaces do
/// not matter; `-` and ` ` read as `_`), with the other spellings each accepts.
const COLUMNS: [(&str, &[&str]); 8] = [
    ("id", &["learner", "learner_id", "student_id"]),
    ("name", &["student", "full_name"]),
    ("email", &["e_mail", "mail"]),
    ("section", &[]),
    ("public_key", &["key", "fingerprint", "key_fingerprint"]),
    ("identity", &["signing_identity", "expected_identity"]),
    ("canvas_id", &["canvas_user_id"]),
    ("sis_user_id", &["sis_id"]),
];

/// One learner of the roster.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Learner {
    /// The id submissions name.
    pub id: String,
    /// Their name, for the reports.
    pub name: Option<String>,
    /// Their email, for the reports.
    pub email: Option<String>,
    /// Their section, for the reports.
    pub section: Option<String>,
    /// The SHA-256 of their public key's DER (what cosign's key hint encodes).
    pub key: Option<[u8; 32]>,
    /// The identity (a certificate subject; `*` and `?` as Kyverno's wildcards) their keyless
    /// image signatures must carry.
    pub identity: Option<String>,
    /// Their Canvas user id (digits), for the Canvas gradebook's `ID` column.
    pub canvas_id: Option<String>,
    /// Their SIS user id, for the Canvas gradebook's `SIS User ID` column.
    pub sis_user_id: Option<String>,
    /// The roster's line, for messages.
    pub line: u64,
}

impl Learner {
    /// Who they are, for the reports.
    pub fn who(&self) -> Who {
        Who {
            name: self.name.clone(),
            section: self.section.clone(),
            email: self.email.clone(),
            canvas_id: self.canvas_id.clone(),
            sis_user_id: self.sis_user_id.clone(),
        }
    }

    /// Whether a public key whose cosign hint is `hint` is this learner's. `None` when the
    /// roster names no key for them.
    pub fn holds_key(&self, hint: &str) -> Option<bool> {
        let expected = self.key?;
        Some(STANDARD.decode(hint).ok().as_deref() == Some(expected.as_slice()))
    }

    /// Whether `identity` (a certificate's subject) is the one the roster expects. `None` when
    /// it expects none.
    pub fn has_identity(&self, identity: &str) -> Option<bool> {
        let expected = self.identity.as_deref()?;
        Some(crate::wildcard::matches(expected, identity))
    }
}

/// What the roster says of one submission.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Verdict {
    /// Who the learner is, when they are on it.
    pub who: Who,
    /// Why the submission cannot be counted as the learner's.
    pub rejected: Option<String>,
    /// What an instructor must look at.
    pub flags: Vec<String>,
}

/// A roster, by learner id.
#[derive(Debug, Clone, Default)]
pub struct Roster {
    /// The file, as given.
    pub file: String,
    /// Its learners.
    pub learners: BTreeMap<String, Learner>,
}

/// Why a roster cannot be used. Every message names the file and, where there is one, the line.
#[derive(Debug, thiserror::Error)]
#[error("{at}: {problem}")]
pub struct RosterError {
    /// `file` or `file:line`.
    pub at: String,
    /// What is wrong and what to do.
    pub problem: String,
}

impl Roster {
    /// Reads the roster at `path`; key files it names are read relative to its folder.
    pub fn read(path: &Path) -> Result<Self, RosterError> {
        let shown = path.display().to_string();
        let text =
            crate::input::read_text(path, ROSTER_LIMIT, "a roster").map_err(|e| RosterError {
                at: shown.clone(),
                problem: e.to_string(),
            })?;
        let base = path.parent().map(Path::to_path_buf).unwrap_or_default();
        Self::parse(&shown, &text, &|name| {
            let key = base.join(name);
            crate::input::read_bytes(&key, crate::input::limit::KEY, "a public key")
                .map_err(|e| e.to_string())
        })
    }

    /// Parses roster text. `read_key` reads a key file the roster names by its path.
    pub fn parse(
        file: &str,
        text: &str,
        read_key: &dyn Fn(&str) -> Result<Vec<u8>, String>,
    ) -> Result<Self, RosterError> {
        let at = |line: u64| format!("{file}:{line}");
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(false)
            .from_reader(text.as_bytes());
        let headers = reader.headers().map_err(|e| csv_error(file, &e))?.clone();
        let mut columns: Vec<&'static str> = Vec::new();
        for header in &headers {
            let wanted = header.trim().to_ascii_lowercase().replace(['-', ' '], "_");
            let Some((column, _)) = COLUMNS
                .iter()
                .find(|(name, others)| *name == wanted || others.contains(&wanted.as_str()))
            else {
                return Err(RosterError {
                    at: at(1),
                    problem: format!(
                        "`{}` is not a roster column; the columns are {} (the first row names them)",
                        crate::text::printable(header.trim()),
                        COLUMNS.map(|(name, _)| name).join(", ")
                    ),
                });
            };
            if columns.contains(column) {
                return Err(RosterError {
                    at: at(1),
                    problem: format!("the column `{column}` is named twice"),
                });
            }
            columns.push(column);
        }
        if !columns.contains(&"id") {
            return Err(RosterError {
                at: at(1),
                problem: "the first row names no `id` column: name the columns, e.g. `id,name,email,section,public_key,identity`".into(),
            });
        }
        let mut learners: BTreeMap<String, Learner> = BTreeMap::new();
        for record in reader.records() {
            let record = record.map_err(|e| csv_error(file, &e))?;
            let line = record.position().map_or(0, |p| p.line());
            if record.iter().all(|cell| cell.trim().is_empty()) {
                continue;
            }
            let mut learner = Learner {
                line,
                ..Learner::default()
            };
            for (column, cell) in columns.iter().zip(record.iter()) {
                let cell = cell.trim();
                let given = (!cell.is_empty()).then(|| cell.to_owned());
                match *column {
                    "id" => learner.id = cell.to_owned(),
                    "name" => learner.name = given,
                    "email" => learner.email = given,
                    "section" => learner.section = given,
                    "public_key" if !cell.is_empty() => {
                        learner.key =
                            Some(key_of(cell, read_key).map_err(|problem| RosterError {
                                at: at(line),
                                problem,
                            })?);
                    }
                    "identity" => learner.identity = given,
                    "canvas_id" => {
                        if !cell.bytes().all(|b| b.is_ascii_digit()) {
                            return Err(RosterError {
                                at: at(line),
                                problem: format!(
                                    "the canvas_id `{}` is not a Canvas user id (digits only, as the `ID` column of a Canvas gradebook export); leave it empty if unknown",
                                    crate::text::printable(cell)
                                ),
                            });
                        }
                        learner.canvas_id = given;
                    }
                    "sis_user_id" => learner.sis_user_id = given,
                    _ => {}
                }
            }
            crate::submission::token::check_learner_id(&learner.id).map_err(|e| RosterError {
                at: at(line),
                problem: format!("{e}; every row needs the learner's id"),
            })?;
            if let Some(first) = learners.get(&learner.id) {
                return Err(RosterError {
                    at: at(line),
                    problem: format!(
                        "learner `{}` is on the roster twice (line {} too); keep one row",
                        learner.id, first.line
                    ),
                });
            }
            learners.insert(learner.id.clone(), learner);
        }
        Ok(Roster {
            file: file.to_owned(),
            learners,
        })
    }

    /// The learner with this id.
    pub fn get(&self, id: &str) -> Option<&Learner> {
        self.learners.get(id)
    }

    /// Judges a submission that names `learner` and is sealed by the key whose cosign hint is
    /// `key_hint`: a learner not on the roster is flagged; a key that is not the learner's
    /// rejects it (the work cannot be counted as theirs); in a keyless lab (`keyless`), image
    /// signatures none of whose `signers` (the identities their certificates name) is the
    /// learner's expected identity are flagged.
    pub fn judge(
        &self,
        learner: &str,
        key_hint: &str,
        keyless: bool,
        signers: &[String],
    ) -> Verdict {
        self.judge_as(learner, key_hint, keyless, signers, Naming::default())
    }

    /// As [`Roster::judge`], with the learner and the roster's lines named by `naming` (by
    /// pseudonym, for `lab grade --anonymize`).
    pub fn judge_as(
        &self,
        learner: &str,
        key_hint: &str,
        keyless: bool,
        signers: &[String],
        naming: Naming<'_>,
    ) -> Verdict {
        let shown = naming.learner(learner);
        let Some(on) = self.get(learner) else {
            return Verdict {
                flags: vec![format!("{shown} is not on the roster ({})", self.file)],
                ..Verdict::default()
            };
        };
        let mut verdict = Verdict {
            who: on.who(),
            ..Verdict::default()
        };
        if on.holds_key(key_hint) == Some(false) {
            verdict.rejected = Some(format!(
                "signed by a key that is not {shown}'s: the roster names another public key ({})",
                naming.roster_line(&self.file, on.line)
            ));
            return verdict;
        }
        if keyless
            && !signers.iter().any(|s| on.has_identity(s) == Some(true))
            && on.identity.is_some()
        {
            verdict.flags.push(format!(
                "the image was signed by {}, not by the identity the roster expects of {shown} ({})",
                naming.identities(signers),
                naming.roster_line(&self.file, on.line)
            ));
        }
        verdict
    }
}

fn csv_error(file: &str, e: &csv::Error) -> RosterError {
    let line = e.position().map(|p| p.line());
    let problem = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!(
            "this row has {len} cells and the first row {expected_len}; quote a cell that holds a comma"
        ),
        csv::ErrorKind::Utf8 { .. } => "not UTF-8 text; save the roster as UTF-8".to_owned(),
        _ => "not a CSV row lab can read; check its quotes".to_owned(),
    };
    RosterError {
        at: match line {
            Some(line) => format!("{file}:{line}"),
            None => file.to_owned(),
        },
        problem,
    }
}

/// A public key cell: a PEM public key written in the cell, its fingerprint (`sha256:` and 64
/// hex digits, or cosign's base64 key hint), or the path of a `.pub` file.
fn key_of(
    cell: &str,
    read_key: &dyn Fn(&str) -> Result<Vec<u8>, String>,
) -> Result<[u8; 32], String> {
    let digest_of_pem = |pem: &[u8]| -> Result<[u8; 32], String> {
        let key = crate::submission::sealed::TrustedKey::from_pem(pem)
            .map_err(|e| format!("the public key is not usable: {e}"))?;
        Ok(STANDARD
            .decode(key.hint())
            .ok()
            .and_then(|d| d.try_into().ok())
            .expect("a key hint is the base64 of a SHA-256"))
    };
    if cell.starts_with("-----BEGIN") {
        return digest_of_pem(cell.as_bytes());
    }
    let hex = cell.strip_prefix("sha256:").unwrap_or(cell);
    if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        let mut digest = [0u8; 32];
        for (i, byte) in digest.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).expect("checked hex");
        }
        return Ok(digest);
    }
    if cell.len() == 44
        && let Ok(bytes) = STANDARD.decode(cell)
        && let Ok(digest) = <[u8; 32]>::try_from(bytes)
    {
        return Ok(digest);
    }
    if cell.starts_with("sha256:") {
        return Err("a fingerprint is `sha256:` and 64 hex digits (`openssl pkey -pubin -in cosign.pub -outform DER | sha256sum`)".into());
    }
    let pem = read_key(cell).map_err(|e| {
        format!("the public_key cell is neither a PEM public key, a fingerprint nor a readable key file: {e}")
    })?;
    digest_of_pem(&pem)
}

#[cfg(test)]
#[path = "roster_tests.rs"]
mod tests;
