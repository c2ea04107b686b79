//! Packing a submission: every file checked for a name an archive can hold and scanned for
//! secrets, the statement built over them and sealed with the learner's key, and the archive
//! written. Pure: the command gathers the files, this makes them one signed archive.

use super::archive::{Files, check_name, write};
use super::error::SubmissionError;
use super::sealed::{SigningKey, seal};
use super::secrets::scan;
use super::statement::{Part, Role, SEAL_FILE, Statement, Submission};

/// The files to pack, each with what it is.
#[derive(Debug, Default, Clone)]
pub struct Contents {
    files: Files,
    roles: Vec<Part>,
}

impl Contents {
    /// Adds `data` as `name`; a name an archive cannot hold is refused.
    pub fn add(&mut self, name: &str, role: Role, data: Vec<u8>) -> Result<(), SubmissionError> {
        check_name(name).map_err(|reason| SubmissionError::Name {
            name: name.to_owned(),
            reason,
        })?;
        if name == SEAL_FILE || self.files.contains_key(name) {
            return Err(SubmissionError::Name {
                name: name.to_owned(),
                reason: "is there already",
            });
        }
        self.files.insert(name.to_owned(), data);
        self.roles.push(Part {
            name: name.to_owned(),
            role,
        });
        Ok(())
    }

    /// Every file, by name, with its role and size, for `lab submit --dry-run`.
    pub fn list(&self) -> Vec<(&str, Role, usize)> {
        let mut list: Vec<_> = self
            .roles
            .iter()
            .map(|p| (p.name.as_str(), p.role, self.files[&p.name].len()))
            .collect();
        list.sort_by(|a, b| (a.1, a.0).cmp(&(b.1, b.0)));
        list
    }

    /// Every secret the files hold.
    pub fn secrets(&self) -> Vec<super::secrets::Finding> {
        self.files
            .iter()
            .flat_map(|(name, data)| scan(name, data))
            .collect()
    }
}

/// Packs `contents` with `predicate` (whose `files` are filled in here) into a signed archive.
/// Nothing is packed when any file, or the statement itself, holds a secret.
pub fn pack(
    contents: Contents,
    mut predicate: Submission,
    key: &SigningKey,
) -> Result<Vec<u8>, SubmissionError> {
    let mut findings = contents.secrets();
    let mut roles = contents.roles;
    roles.sort_by(|a, b| a.name.cmp(&b.name));
    predicate.files = roles;
    let statement = Statement::new(&contents.files, predicate).to_json();
    findings.extend(scan(SEAL_FILE, &statement));
    if !findings.is_empty() {
        return Err(SubmissionError::Secrets(findings));
    }
    let mut files = contents.files;
    files.insert(SEAL_FILE.to_owned(), seal(&statement, key)?);
    let mut out = Vec::new();
    write(&files, &mut out).expect("writing to memory fails only on a name, checked on add");
    Ok(out)
}

#[cfg(test)]
#[path = "pack_tests.rs"]
mod tests;
