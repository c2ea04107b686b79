//! What `lab start` set up, in `.lab/<chapter>/state.json` of the working folder, so that
//! `lab check`, `lab enforce` and `lab stop` act on the same cluster with the same values,
//! and `lab stop` removes exactly what the lab created. Written atomically (a temporary file,
//! fsync, rename): a start interrupted at any point leaves the previous state or the new one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::error::BackendError;
use crate::policy::model::FailureMode;

/// A state's `mode` as written: [`FailureMode::from_written`], whatever JSON it is.
fn written_mode<'de, D: serde::Deserializer<'de>>(d: D) -> Result<FailureMode, D::Error> {
    let value = serde_json::Value::deserialize(d)?;
    Ok(value
        .as_str()
        .map_or(FailureMode::Audit, FailureMode::from_written))
}

/// The version of the state file format.
pub const SCHEMA_VERSION: u32 = 1;

/// The most a state file may hold; `lab start` writes a few kilobytes.
pub const MAX_BYTES: u64 = 4 * 1024 * 1024;

/// A state's `chapter` field in words: the id when it looks like one, otherwise a
/// description, so that a hostile field cannot put escape sequences on the terminal.
fn describe_chapter(field: &str) -> String {
    let plain = !field.is_empty()
        && field.len() <= 64
        && field
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.');
    if plain {
        format!("lab {field}")
    } else if field.is_empty() {
        "no lab (its `chapter` is empty)".to_owned()
    } else {
        "another lab".to_owned()
    }
}

/// The learner token a lab was started with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StartedToken {
    /// The learner it was issued to.
    pub learner: String,
    /// Its nonce, baked into the seeded images' config as [`crate::backend::NONCE_LABEL`].
    pub nonce: String,
}

/// One object the lab created in the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ObjectRef {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// Namespace, for namespaced objects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

/// The lab's state.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LabState {
    /// Always [`SCHEMA_VERSION`].
    pub schema_version: u32,
    /// The chapter id.
    pub chapter: String,
    /// The kubeconfig context the lab runs on.
    pub context: String,
    /// The variables the learner set (`--set`), re-used by later commands.
    #[serde(default)]
    pub set: Vec<(String, String)>,
    /// The objects the lab created, in creation order.
    #[serde(default)]
    pub objects: Vec<ObjectRef>,
    /// Images the lab pushed into the registry.
    #[serde(default)]
    pub seeded: Vec<String>,
    /// The digest each image of the lab's `cluster.seed` had in the registry when `lab start`
    /// last seeded it (`demo:1.4.2-ci` -> `sha256:...`): the values of the lab's `digest_of`
    /// variables, so that the commands shown name the image by digest.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub digests: BTreeMap<String, String>,
    /// The learner token the lab was started with (`lab start --token`): its learner and the
    /// nonce baked into the seeded images. The token itself is kept beside the state.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<StartedToken>,
    /// The pack's mode, spelled `Audit` or `Enforce` in the file. Read as Kyverno reads a
    /// failure action: any other word (a state from before the mode was typed, or one edited
    /// by hand) is Audit, never an error.
    #[serde(default, deserialize_with = "written_mode")]
    pub mode: FailureMode,
    /// The kind cluster the lab created, if it provisioned one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kind_cluster: Option<String>,
    /// The registry container the lab created, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub registry_container: Option<String>,
    /// The images the lab loaded into Docker from a bundle (its own `courselab.invalid/` tags),
    /// which `lab stop --delete` removes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub loaded_images: Vec<String>,
    /// Phases finished, in order, so that a resumed start says what it skipped.
    #[serde(default)]
    pub done: Vec<String>,
}

impl LabState {
    /// The state file of `chapter` under `workdir`.
    pub fn path(workdir: &Path, chapter: &str) -> PathBuf {
        workdir.join(".lab").join(chapter).join("state.json")
    }

    /// Reads the state of `chapter`, `None` when the lab was never started here. The state
    /// belongs to the chapter whose folder it was read from; one whose `chapter` field names
    /// another is refused (see [`LabState::parse`]).
    pub fn load(workdir: &Path, chapter: &str) -> Result<Option<LabState>, BackendError> {
        let path = Self::path(workdir, chapter);
        let text = match crate::input::read_text(&path, MAX_BYTES, "a lab state file") {
            Ok(t) => t,
            Err(crate::input::InputError::Unreadable { source, .. })
                if source.kind() == std::io::ErrorKind::NotFound =>
            {
                return Ok(None);
            }
            Err(e) => {
                return Err(BackendError::State {
                    what: format!("reading {}", path.display()),
                    source: std::io::Error::other(e.to_string()),
                });
            }
        };
        Self::parse(&path, &text, chapter).map(Some)
    }

    /// Parses the text of `path`, the state file of `chapter`. A state whose `chapter` field
    /// disagrees with the folder it was read from (a file copied or renamed by hand) is
    /// refused: acting on it would write, delete or label another chapter's lab.
    pub fn parse(path: &Path, text: &str, chapter: &str) -> Result<LabState, BackendError> {
        let state: LabState = serde_json::from_str(text).map_err(|e| BackendError::State {
            what: format!(
                "{} is not a lab state file ({e}); move it away and run `lab start` again",
                path.display()
            ),
            source: std::io::Error::other("unreadable state"),
        })?;
        if state.chapter != chapter {
            return Err(BackendError::ForeignState(format!(
                "{} says it is the state of {}, but it is in the folder of lab {chapter}, so `lab` \
                 will neither change nor remove it; if it is that lab's, move it to its own \
                 .lab/<chapter>/state.json, otherwise move it away and run `lab start {chapter}`",
                path.display(),
                describe_chapter(&state.chapter),
            )));
        }
        Ok(state)
    }

    /// Writes the state atomically.
    pub fn save(&self, workdir: &Path) -> Result<(), BackendError> {
        let path = Self::path(workdir, &self.chapter);
        let failed = |source| BackendError::State {
            what: format!("writing {}", path.display()),
            source,
        };
        let text = serde_json::to_string_pretty(self).expect("the state serializes");
        crate::atomic::write(&path, text.as_bytes()).map_err(failed)?;
        Ok(())
    }

    /// Forgets the lab: removes its state file (and nothing else of the working folder).
    pub fn forget(workdir: &Path, chapter: &str) -> Result<(), BackendError> {
        let path = Self::path(workdir, chapter);
        std::fs::remove_file(&path).map_err(|source| BackendError::State {
            what: format!("removing {}", path.display()),
            source,
        })
    }

    /// Records an object as the lab's own (once).
    pub fn own(&mut self, object: ObjectRef) {
        if !self.objects.contains(&object) {
            self.objects.push(object);
        }
    }

    /// Records a finished phase (once).
    pub fn finish(&mut self, phase: &str) {
        if !self.done.iter().any(|p| p == phase) {
            self.done.push(phase.to_owned());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn state_round_trips_and_a_missing_file_is_none() {
        let dir = tempfile::tempdir().unwrap();
        assert!(LabState::load(dir.path(), "ch14").unwrap().is_none());
        let mut state = LabState {
            schema_version: SCHEMA_VERSION,
            chapter: "ch14".into(),
            context: "kind-lab-ch14".into(),
            ..Default::default()
        };
        let ns = ObjectRef {
            api_version: "v1".into(),
            kind: "Namespace".into(),
            namespace: None,
            name: "develop".into(),
        };
        state.own(ns.clone());
        state.own(ns);
        state.finish("policies");
        state.save(dir.path()).unwrap();
        let back = LabState::load(dir.path(), "ch14").unwrap().unwrap();
        assert_eq!(back.objects.len(), 1);
        assert_eq!(back.done, ["policies"]);
        std::fs::write(LabState::path(dir.path(), "ch14"), "{").unwrap();
        let err = LabState::load(dir.path(), "ch14").unwrap_err().to_string();
        assert!(err.contains("is not a lab state file"), "{err}");
    }

    // The mode was a free string that seven places converted by hand; typed, the file must
    // still say `Audit`/`Enforce` as before, and states written before must still read.
    #[test]
    fn the_state_mode_keeps_its_spelling_and_old_states_read() {
        let path = Path::new(".lab/ch14/state.json");
        let read = |mode: &str| {
            let text =
                format!(r#"{{"schema_version": 1, "chapter": "ch14", "context": "c"{mode}}}"#);
            LabState::parse(path, &text, "ch14").unwrap()
        };
        let enforced = read(r#", "mode": "Enforce""#);
        assert_eq!(enforced.mode, FailureMode::Enforce);
        let saved = serde_json::to_value(&enforced).unwrap();
        assert_eq!(saved["mode"], "Enforce");
        assert_eq!(read(r#", "mode": "Audit""#).mode, FailureMode::Audit);
        for old in [
            "",
            r#", "mode": """#,
            r#", "mode": "enforced?""#,
            r#", "mode": 7"#,
        ] {
            assert_eq!(read(old).mode, FailureMode::Audit, "{old}");
        }
    }

    #[test]
    fn a_state_naming_another_chapter_is_refused() {
        // `.lab/ch15/state.json` saying `ch14` once made `lab stop ch15` remove ch14's state.
        let path = Path::new(".lab/ch15/state.json");
        let text = r#"{"schema_version": 1, "chapter": "ch14", "context": "kind-lab"}"#;
        let err = LabState::parse(path, text, "ch15").unwrap_err();
        assert!(matches!(err, BackendError::ForeignState(_)), "{err}");
        assert_eq!(
            err.to_string(),
            ".lab/ch15/state.json says it is the state of lab ch14, but it is in the folder of \
             lab ch15, so `lab` will neither change nor remove it; if it is that lab's, move it \
             to its own .lab/<chapter>/state.json, otherwise move it away and run `lab start ch15`"
        );
        assert_eq!(LabState::parse(path, text, "ch14").unwrap().chapter, "ch14");
    }

    #[test]
    fn a_hostile_chapter_field_is_described_not_printed() {
        let text = "{\"schema_version\": 1, \"chapter\": \"\\u001b[2Jx\", \"context\": \"c\"}";
        let err = LabState::parse(Path::new("s.json"), text, "ch14")
            .unwrap_err()
            .to_string();
        assert!(err.contains("the state of another lab"), "{err}");
        assert!(!err.contains('\u{1b}'), "{err}");
    }
}
