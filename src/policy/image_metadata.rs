//! The image verification metadata Kyverno writes onto an admitted resource and reads back in
//! its validating webhook (`pkg/engine/api/imageverifymetadata.go` in kyverno/kyverno v1.19.0):
//! `kyverno.io/verify-images` maps each image to `pass`, `fail` or `skip`, and, since v1.19,
//! `kyverno.io/verify-images-scoped` records the same per policy and rule. The `required` check
//! reads only the scoped annotation (`pkg/engine/utils/image.go` `IsImageVerifiedForPolicy`), so
//! a result recorded by one policy cannot satisfy another.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::evaluate::Patch;

/// The annotation with each verified image's status.
pub const VERIFY_IMAGES_ANNOTATION: &str = "kyverno.io/verify-images";
/// The annotation with each image's status per policy and rule (Kyverno v1.19).
pub const VERIFY_IMAGES_SCOPED_ANNOTATION: &str = "kyverno.io/verify-images-scoped";

/// What Kyverno recorded for an image.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ImageStatus {
    /// Verified.
    Pass,
    /// Not verified.
    Fail,
    /// Skipped (`skipImageReferences`).
    Skip,
}

/// `policy key ("<ns>/<name>", "/<name>" for a ClusterPolicy) -> rule -> image -> status`.
type Scoped = BTreeMap<String, BTreeMap<String, BTreeMap<String, ImageStatus>>>;

/// The metadata gathered while verifying one request's images.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VerifiedImages {
    data: BTreeMap<String, ImageStatus>,
    scoped: Scoped,
}

#[derive(Serialize, Deserialize)]
struct ScopedAnnotation {
    version: u32,
    policies: Option<Scoped>,
}

impl VerifiedImages {
    /// Records `image` in the unscoped map only (`ImageVerificationMetadata.Add`).
    pub fn add(&mut self, image: &str, status: ImageStatus) {
        self.data.insert(image.to_owned(), status);
    }

    /// Records `image` for a policy's rule, in both maps (`addImageVerificationMetadata`).
    pub fn add_scoped(
        &mut self,
        policy_namespace: &str,
        policy: &str,
        rule: &str,
        image: &str,
        status: ImageStatus,
    ) {
        self.add(image, status);
        self.scoped
            .entry(format!("{policy_namespace}/{policy}"))
            .or_default()
            .entry(rule.to_owned())
            .or_default()
            .insert(image.to_owned(), status);
    }

    /// Nothing recorded.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty() && self.scoped.is_empty()
    }

    /// The annotations' values, keyed by annotation name. Go's `json.Marshal` sorts map keys,
    /// so the text is the same as Kyverno's.
    pub fn annotations(&self) -> BTreeMap<&'static str, String> {
        let mut out = BTreeMap::new();
        if self.is_empty() {
            return out;
        }
        out.insert(
            VERIFY_IMAGES_ANNOTATION,
            serde_json::to_string(&self.data).expect("a map of strings serializes"),
        );
        if !self.scoped.is_empty() {
            let scoped = ScopedAnnotation {
                version: 1,
                policies: Some(self.scoped.clone()),
            };
            out.insert(
                VERIFY_IMAGES_SCOPED_ANNOTATION,
                serde_json::to_string(&scoped).expect("a map of strings serializes"),
            );
        }
        out
    }

    /// The JSON patches that write `annotations` (as [`Self::annotations`] gives them) onto a
    /// resource (`ImageVerificationMetadata.Patches`): an empty annotations map first when the
    /// resource has none, then one `add` per annotation; nothing when nothing was recorded.
    pub fn patches(
        annotations: &BTreeMap<&'static str, String>,
        has_annotations: bool,
    ) -> Vec<Patch> {
        let mut patches = Vec::new();
        if annotations.is_empty() {
            return patches;
        }
        if !has_annotations {
            patches.push(Patch {
                op: "add",
                path: "/metadata/annotations".into(),
                value: Value::Object(serde_json::Map::new()),
            });
        }
        for (name, value) in annotations {
            let path = match *name {
                VERIFY_IMAGES_ANNOTATION => "/metadata/annotations/kyverno.io~1verify-images",
                _ => "/metadata/annotations/kyverno.io~1verify-images-scoped",
            };
            patches.push(Patch {
                op: "add",
                path: path.to_owned(),
                value: Value::String(value.clone()),
            });
        }
        patches
    }
}

/// The scoped annotation of a resource, read once (`ParseImageMetadata`): absent, an unscoped
/// (pre-1.19) map, which records nothing for any policy, or the per-policy records; text that is
/// neither is an error, reported by every `required` check that reads it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScopedRecords(Result<Option<Scoped>, String>);

impl ScopedRecords {
    /// Reads the `kyverno.io/verify-images-scoped` annotation of `object`.
    pub fn of(object: &Value) -> Self {
        let text = object
            .pointer("/metadata/annotations")
            .and_then(|a| a.get(VERIFY_IMAGES_SCOPED_ANNOTATION))
            .and_then(Value::as_str);
        let Some(text) = text else {
            return ScopedRecords(Ok(None));
        };
        ScopedRecords(match serde_json::from_str::<ScopedAnnotation>(text) {
            Ok(ScopedAnnotation {
                version: 1,
                policies: Some(p),
            }) => Ok(Some(p)),
            _ => match serde_json::from_str::<BTreeMap<String, ImageStatus>>(text) {
                Ok(_) => Ok(None),
                Err(e) => Err(format!("failed to parse scoped image metadata: {e}")),
            },
        })
    }

    /// What is recorded for `image` under a policy's rule (`IsImageVerifiedForPolicy`): no
    /// annotation, or no entry, is `fail`.
    pub fn status(
        &self,
        policy_namespace: &str,
        policy: &str,
        rule: &str,
        image: &str,
    ) -> Result<ImageStatus, String> {
        let scoped = match &self.0 {
            Err(why) => return Err(why.clone()),
            Ok(None) => return Ok(ImageStatus::Fail),
            Ok(Some(scoped)) => scoped,
        };
        Ok(scoped
            .get(&format!("{policy_namespace}/{policy}"))
            .and_then(|rules| rules.get(rule))
            .and_then(|images| images.get(image))
            .copied()
            .unwrap_or(ImageStatus::Fail))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotations_are_written_as_kyverno_writes_them() {
        let mut ivm = VerifiedImages::default();
        ivm.add_scoped("", "verify", "rule", "r.io/a:1", ImageStatus::Pass);
        ivm.add("r.io/b:2", ImageStatus::Skip);
        let annotations = ivm.annotations();
        assert_eq!(
            annotations[VERIFY_IMAGES_ANNOTATION],
            r#"{"r.io/a:1":"pass","r.io/b:2":"skip"}"#
        );
        // The ClusterPolicy key is "/<name>" (imageVerificationPolicyKey with an empty namespace).
        assert_eq!(
            annotations[VERIFY_IMAGES_SCOPED_ANNOTATION],
            r#"{"version":1,"policies":{"/verify":{"rule":{"r.io/a:1":"pass"}}}}"#
        );
        let patches = VerifiedImages::patches(&annotations, false);
        assert_eq!(
            patches.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(),
            [
                "/metadata/annotations",
                "/metadata/annotations/kyverno.io~1verify-images",
                "/metadata/annotations/kyverno.io~1verify-images-scoped"
            ]
        );
        assert_eq!(
            VerifiedImages::patches(&annotations, true).len(),
            2,
            "no empty map over existing ones"
        );
        assert!(
            VerifiedImages::patches(&VerifiedImages::default().annotations(), false).is_empty()
        );
    }

    fn with_scoped(text: &str) -> Value {
        serde_json::json!({"metadata": {"annotations": {VERIFY_IMAGES_SCOPED_ANNOTATION: text}}})
    }

    #[test]
    fn the_required_check_reads_only_its_own_policy_and_rule() {
        let mut ivm = VerifiedImages::default();
        ivm.add_scoped("", "verify", "rule", "r.io/a:1", ImageStatus::Pass);
        let records = ScopedRecords::of(&with_scoped(
            &ivm.annotations()[VERIFY_IMAGES_SCOPED_ANNOTATION],
        ));
        let status = |policy, rule, image| records.status("", policy, rule, image);
        assert_eq!(status("verify", "rule", "r.io/a:1"), Ok(ImageStatus::Pass));
        assert_eq!(status("other", "rule", "r.io/a:1"), Ok(ImageStatus::Fail));
        assert_eq!(status("verify", "other", "r.io/a:1"), Ok(ImageStatus::Fail));
        assert_eq!(status("verify", "rule", "r.io/a:2"), Ok(ImageStatus::Fail));
        // A hand-written unscoped map does not count: v1.19 reads the scoped annotation only.
        let forged = ScopedRecords::of(&with_scoped(r#"{"r.io/a:1":"pass"}"#));
        assert_eq!(
            forged.status("", "verify", "rule", "r.io/a:1"),
            Ok(ImageStatus::Fail)
        );
        let broken = ScopedRecords::of(&with_scoped("{"));
        assert!(broken.status("", "verify", "rule", "r.io/a:1").is_err());
        assert_eq!(
            ScopedRecords::of(&serde_json::json!({})).status("", "verify", "rule", "r.io/a:1"),
            Ok(ImageStatus::Fail)
        );
    }
}
