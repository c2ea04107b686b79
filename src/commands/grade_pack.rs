//! The chapter's policy pack for each learner of a class, rendered once. `lab grade` needs the
//! pack in Enforce with each learner's public key in it: as JSON objects (what the cluster's
//! policies are compared with) and as Kyverno's model (the attestors a signature is verified
//! with). Rendering and parsing its YAML for every file was a third of the grader's time, so
//! the pack is rendered once per class with a stand-in for the key, and each learner's pack is
//! that one with their key written where the stand-in is.
//!
//! That is only done where it gives exactly what rendering would: the first learner of each
//! class (per set of the other values the pack uses) is rendered both ways and compared, and
//! on any difference (a course that writes the key somewhere else, in another form) every
//! learner is rendered directly. A key that is not a plain PEM public key is always rendered
//! directly.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use serde_json::Value;

use crate::content::chapter::Chapter;
use crate::error::LabError;
use crate::policy::model::{FailureMode, KyvernoPolicy};

/// The variable that holds the learner's public key.
const KEY: &str = "cosign_public_key";

/// What stands for the key in the pack rendered once. Not a key, and no policy writes it.
const STAND_IN: &str = "courselab-learner-public-key-stand-in";

/// The pack in Enforce, both ways.
#[derive(Debug, Clone)]
pub(super) struct Pack {
    /// The policies as JSON objects (`Chapter::policy_objects`).
    pub objects: Vec<Value>,
    /// The policies as Kyverno's model (`Chapter::render_policies`).
    pub policies: Vec<KyvernoPolicy>,
}

impl Pack {
    /// The pack rendered with `values`.
    fn render(chapter: &Chapter, values: &BTreeMap<String, String>) -> Result<Pack, LabError> {
        let objects = chapter.policy_objects(values, FailureMode::Enforce)?;
        let mut policies = Vec::new();
        for rel in chapter.pack_files(values)? {
            policies.extend(chapter.render_policies(&rel, values, Some(FailureMode::Enforce))?);
        }
        Ok(Pack { objects, policies })
    }

    /// This pack (rendered with the stand-in) with `key` where the stand-in is, as the YAML
    /// of a block scalar gives a multi-line value back: without its final line break.
    fn with_key(&self, key: &str) -> Pack {
        // YAML reads a CRLF line break as one line break.
        let key = key.replace("\r\n", "\n");
        let key = key.trim_end_matches('\n');
        let mut pack = self.clone();
        for object in &mut pack.objects {
            replace_in(object, key);
        }
        for policy in &mut pack.policies {
            policy.for_each_public_key(|text| {
                if text.contains(STAND_IN) {
                    *text = text.replace(STAND_IN, key);
                }
            });
        }
        pack
    }

    /// Whether two packs say the same (the positions of values in the rendered text aside: a
    /// key of several lines moves what follows it).
    fn same_as(&self, other: &Pack) -> bool {
        let without_positions = |policies: &[KyvernoPolicy]| {
            let positions = regex::Regex::new(r"line: \d+, column: \d+").expect("a valid regex");
            positions
                .replace_all(&format!("{policies:?}"), "")
                .into_owned()
        };
        self.objects == other.objects
            && without_positions(&self.policies) == without_positions(&other.policies)
    }
}

/// Writes `key` where the stand-in is, in every string of `value`.
fn replace_in(value: &mut Value, key: &str) {
    match value {
        Value::String(text) if text.contains(STAND_IN) => *text = text.replace(STAND_IN, key),
        Value::Array(items) => items.iter_mut().for_each(|v| replace_in(v, key)),
        Value::Object(fields) => fields.values_mut().for_each(|v| replace_in(v, key)),
        _ => {}
    }
}

/// Whether `key` is a PEM public key as cosign writes one: the header, lines of base64, the
/// footer, nothing else (no indentation, no second block; CRLF or LF line breaks).
fn is_plain_pem(key: &str) -> bool {
    let key = key.replace("\r\n", "\n");
    let mut lines = key.trim_end_matches('\n').split('\n');
    lines.next() == Some("-----BEGIN PUBLIC KEY-----")
        && lines.next_back() == Some("-----END PUBLIC KEY-----")
        && lines.clone().count() > 0
        && lines.all(|line| {
            !line.is_empty()
                && line.len() <= 76
                && line
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'/' | b'='))
        })
}

/// The values the pack uses (the key's stand-in among them) and the key's line breaks: what
/// one stand-in pack serves.
type ClassValues = Vec<(String, String)>;

/// The packs of one chapter for a class: rendered once per set of the other values the pack
/// uses, then given each learner's key.
pub(super) struct Packs {
    /// The variables the chapter's policy files name, and `signing_mode` (which chooses them).
    used: BTreeSet<String>,
    /// The stand-in pack for each set of those values; `None` where it did not equal a direct
    /// rendering (every learner is then rendered directly).
    rendered: Mutex<HashMap<ClassValues, Option<Arc<Pack>>>>,
}

impl Packs {
    /// No pack rendered yet for `chapter`.
    pub fn of(chapter: &Chapter) -> Packs {
        let placeholder = regex::Regex::new(r"\$\{([a-z][a-z0-9_]*)\}").expect("a valid regex");
        let mut used: BTreeSet<String> = BTreeSet::from(["signing_mode".to_owned()]);
        for policy in &chapter.lab.policies {
            if let Ok(rel) = chapter.resolve(&policy.file.value.0)
                && let Ok(text) = chapter.text(&rel)
            {
                used.extend(placeholder.captures_iter(text).map(|c| c[1].to_owned()));
            }
        }
        Packs {
            used,
            rendered: Mutex::new(HashMap::new()),
        }
    }

    /// The pack of a learner whose values are `values` (their public key among them).
    pub fn pack(
        &self,
        chapter: &Chapter,
        values: &BTreeMap<String, String>,
    ) -> Result<Pack, LabError> {
        let Some(key) = values.get(KEY).filter(|key| is_plain_pem(key)) else {
            return Pack::render(chapter, values);
        };
        let mut stand_in = values.clone();
        stand_in.insert(KEY.to_owned(), STAND_IN.to_owned());
        // Keys with CRLF and with LF line breaks are each proven on their own.
        let breaks = if key.contains('\r') { "crlf" } else { "lf" };
        let class: ClassValues = stand_in
            .iter()
            .filter(|(name, _)| self.used.contains(*name))
            .map(|(name, value)| (name.clone(), value.clone()))
            .chain([(String::new(), breaks.to_owned())])
            .collect();
        let known = self
            .rendered
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&class)
            .cloned();
        match known {
            Some(Some(template)) => Ok(template.with_key(key)),
            Some(None) => Pack::render(chapter, values),
            None => {
                let direct = Pack::render(chapter, values)?;
                let template = Pack::render(chapter, &stand_in).ok();
                let usable = template
                    .filter(|t| t.with_key(key).same_as(&direct))
                    .map(Arc::new);
                self.rendered
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(class, usable);
                Ok(direct)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::files::CourseFiles;

    fn root() -> std::path::PathBuf {
        std::path::PathBuf::from(env!("CARGO_MANIFEST_DIR"))
    }

    fn ch14() -> Chapter {
        Chapter::find(CourseFiles::from_disk(&root()).unwrap(), "ch14").unwrap()
    }

    fn values(chapter: &Chapter, key: &str) -> BTreeMap<String, String> {
        let mut values = chapter.values(false, &[]).unwrap_or_default();
        values.insert(KEY.into(), key.into());
        values
    }

    fn key(name: &str) -> String {
        std::fs::read_to_string(root().join("labs/ch14/tests/keys").join(name)).unwrap()
    }

    #[test]
    fn each_learner_gets_what_rendering_with_their_key_gives() {
        let chapter = ch14();
        let packs = Packs::of(&chapter);
        assert!(packs.used.contains(KEY), "{:?}", packs.used);
        let first = values(&chapter, &key("test-only-signer.pub"));
        let second = values(&chapter, &key("test-only-other-signer.pub"));
        // The first renders directly and proves the stand-in; the second is put together.
        let one = packs.pack(&chapter, &first).unwrap();
        assert!(one.same_as(&Pack::render(&chapter, &first).unwrap()));
        assert_eq!(packs.rendered.lock().unwrap().len(), 1);
        assert!(
            packs.rendered.lock().unwrap().values().all(Option::is_some),
            "the stand-in gives what rendering gives for ch14"
        );
        let two = packs.pack(&chapter, &second).unwrap();
        assert!(two.same_as(&Pack::render(&chapter, &second).unwrap()));
        assert!(
            !two.same_as(&one),
            "each learner's own key is in their pack"
        );
        let mut keys = Vec::new();
        let mut policies = two.policies.clone();
        for policy in &mut policies {
            policy.for_each_public_key(|k| keys.push(k.clone()));
        }
        assert!(!keys.is_empty());
        let written = key("test-only-other-signer.pub").replace("\r\n", "\n");
        assert!(keys.iter().all(|k| *k == written.trim_end()), "{keys:?}");
        // The same key with LF line breaks is proven on its own, then put together too.
        let lf = values(&chapter, &written);
        for _ in 0..2 {
            let three = packs.pack(&chapter, &lf).unwrap();
            assert!(three.same_as(&Pack::render(&chapter, &lf).unwrap()));
        }
        assert_eq!(packs.rendered.lock().unwrap().len(), 2);
    }

    #[test]
    fn a_key_that_is_not_plain_pem_is_rendered_directly() {
        let chapter = ch14();
        let packs = Packs::of(&chapter);
        let odd = key("test-only-signer.pub").replace("\r\n", "\n  ");
        assert!(!is_plain_pem(&odd));
        let pack = packs.pack(&chapter, &values(&chapter, &odd)).unwrap();
        assert!(pack.same_as(&Pack::render(&chapter, &values(&chapter, &odd)).unwrap()));
        assert!(
            packs.rendered.lock().unwrap().is_empty(),
            "nothing was cached"
        );
        assert!(is_plain_pem(&key("test-only-signer.pub")));
        assert!(!is_plain_pem(
            "-----BEGIN PUBLIC KEY-----\n-----END PUBLIC KEY-----\n"
        ));
        assert!(!is_plain_pem(&format!(
            "{}{}",
            key("test-only-signer.pub"),
            key("test-only-other-signer.pub")
        )));
    }

    #[test]
    fn a_stand_in_pack_that_differs_from_rendering_is_found_out() {
        // A stand-in pack that differs from direct rendering (here: the stand-in written into
        // a name, where no key is put back) is told apart, so it would not be used.
        let chapter = ch14();
        let first = values(&chapter, &key("test-only-signer.pub"));
        let mut template = Pack::render(&chapter, &first).unwrap();
        template.objects[0]["metadata"]["name"] = Value::String(STAND_IN.into());
        assert!(
            !template
                .with_key(&key("test-only-signer.pub"))
                .same_as(&Pack::render(&chapter, &first).unwrap())
        );
    }
}
