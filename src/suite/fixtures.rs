//! A chapter's fixture images: built from `tests.fixtures` in the lab file into OCI layouts
//! (`lab test --write-fixtures`), signed and attested with the test keys committed beside them,
//! and pushed to a live registry (`lab test --push --registry HOST`) so that the same test
//! files also run against a registry, or under `kyverno test`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::SuiteError;
use super::prepare::Chapter;
use super::run::layout_dir;
use crate::content::model::FixtureImage;
use crate::policy::render::substitute;
use crate::supply::fixture::{
    OCI_MANIFEST_MEDIA_TYPE, SPDX_PREDICATE_TYPE, SigningKey, attestation_manifest, envelope,
    image, signature_manifest, spdx_document, statement,
};
use crate::supply::layout::{LayoutStore, LayoutWriter};
use crate::supply::registry::{RegistryStore, Retry};
use crate::supply::{Digest, ImageRef, SupplyError};

/// What `--write-fixtures` did.
#[derive(Debug, Default)]
pub struct Written {
    /// Images written, with their digests.
    pub images: Vec<(String, Digest)>,
    /// Key files created (they did not exist).
    pub keys_created: Vec<PathBuf>,
}

fn io(path: &Path, e: std::io::Error) -> SuiteError {
    SuiteError::Usage(format!("cannot write {}: {e}", path.display()))
}

/// The fixture images, each with the entry of the lab file it came from.
type Fixtures<'a> = Vec<(ImageRef, &'a FixtureImage)>;

/// The layouts folder and the fixtures' images, rendered with `values`.
fn fixture_images<'a>(
    chapter: &'a Chapter,
    values: &BTreeMap<String, String>,
) -> Result<(PathBuf, Fixtures<'a>), SuiteError> {
    let Some(tests) = &chapter.lab.tests else {
        return Err(SuiteError::Usage(format!(
            "{} has no `tests:` block, so it names no fixture images",
            chapter.shown(&chapter.lab_file)
        )));
    };
    let dir = chapter.root.join(chapter.dir()).join(&tests.images.value.0);
    let mut out = Vec::new();
    for fixture in &tests.fixtures {
        let rendered = substitute(&chapter.shown(&chapter.lab_file), &fixture.image, values)?;
        let image = ImageRef::parse(&rendered).map_err(|e| {
            SuiteError::Usage(format!(
                "{}:{}: fixture image `{rendered}`: {e}",
                chapter.shown(&chapter.lab_file),
                fixture.image.line
            ))
        })?;
        if image.tag.is_none() || image.digest.is_some() {
            return Err(SuiteError::Usage(format!(
                "{}:{}: fixture image `{rendered}` needs a tag and no digest (the digest is what gets built)",
                chapter.shown(&chapter.lab_file),
                fixture.image.line
            )));
        }
        if out.iter().any(|(i, _): &(ImageRef, _)| *i == image) {
            return Err(SuiteError::Usage(format!(
                "{}:{}: fixture image `{rendered}` is listed twice",
                chapter.shown(&chapter.lab_file),
                fixture.image.line
            )));
        }
        out.push((image, fixture));
    }
    Ok((dir, out))
}

/// Reads a test key, or creates it (and its `.pub`) if the file does not exist.
fn key(path: &Path, created: &mut Vec<PathBuf>) -> Result<SigningKey, SuiteError> {
    if path.exists() {
        let pem = std::fs::read(path).map_err(|e| {
            SuiteError::Usage(format!("cannot read the test key {}: {e}", path.display()))
        })?;
        return SigningKey::from_pem(&pem)
            .map_err(|e| SuiteError::Usage(format!("{}: {e}", path.display())));
    }
    let key = SigningKey::generate()?;
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = options.open(path).map_err(|e| io(path, e))?;
    std::io::Write::write_all(&mut file, key.private_pem()?.as_bytes()).map_err(|e| io(path, e))?;
    let public = path.with_extension("pub");
    std::fs::write(&public, key.public_pem()?).map_err(|e| io(&public, e))?;
    created.push(path.to_owned());
    Ok(key)
}

/// Builds every fixture image into its layout. Existing layouts of these repositories are
/// replaced (they are generated files); keys are created only when missing.
pub fn write(chapter: &Chapter, values: &BTreeMap<String, String>) -> Result<Written, SuiteError> {
    let (dir, images) = fixture_images(chapter, values)?;
    let lab_dir = chapter.root.join(chapter.dir());
    let mut written = Written::default();
    let mut keys: BTreeMap<PathBuf, SigningKey> = BTreeMap::new();
    let mut by_layout: BTreeMap<PathBuf, Vec<(ImageRef, &FixtureImage)>> = BTreeMap::new();
    for (image, fixture) in images {
        for path in fixture.signed_by.iter().chain(&fixture.sbom_signed_by) {
            let abs = lab_dir.join(&path.value.0);
            if let std::collections::btree_map::Entry::Vacant(slot) = keys.entry(abs) {
                let k = key(slot.key(), &mut written.keys_created)?;
                slot.insert(k);
            }
        }
        by_layout
            .entry(layout_dir(&dir, &image))
            .or_default()
            .push((image, fixture));
    }
    for (layout, fixtures) in by_layout {
        let name = layout
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned());
        let fresh = dir.join(format!(".{name}.new"));
        if fresh.exists() {
            std::fs::remove_dir_all(&fresh).map_err(|e| io(&fresh, e))?;
        }
        let mut writer = LayoutWriter::create(&fresh)?;
        for (image_ref, fixture) in fixtures {
            let tag = image_ref.tag.clone().unwrap_or_default();
            let repository = image_ref.repository();
            let built = image(&format!("{name}:{tag}"));
            writer.add(&built, OCI_MANIFEST_MEDIA_TYPE, &tag)?;
            let signers: Vec<&SigningKey> = fixture
                .signed_by
                .iter()
                .map(|p| &keys[&lab_dir.join(&p.value.0)])
                .collect();
            if !signers.is_empty() {
                let sig = signature_manifest(&repository, &built.digest, &signers)?;
                writer.add(
                    &sig,
                    OCI_MANIFEST_MEDIA_TYPE,
                    &built.digest.cosign_tag("sig"),
                )?;
            }
            let mut envelopes = Vec::new();
            for path in &fixture.sbom_signed_by {
                let doc = statement(
                    &repository,
                    &built.digest,
                    SPDX_PREDICATE_TYPE,
                    spdx_document(&format!("{name}-{tag}")),
                );
                envelopes.push((
                    envelope(&doc, &keys[&lab_dir.join(&path.value.0)])?,
                    SPDX_PREDICATE_TYPE.to_owned(),
                ));
            }
            if !envelopes.is_empty() {
                let att = attestation_manifest(envelopes);
                writer.add(
                    &att,
                    OCI_MANIFEST_MEDIA_TYPE,
                    &built.digest.cosign_tag("att"),
                )?;
            }
            written
                .images
                .push((image_ref.to_string(), built.digest.clone()));
        }
        writer.finish()?;
        let old = dir.join(format!(".{name}.old"));
        if old.exists() {
            // Left by an interrupted run; the layout itself is still in place.
            std::fs::remove_dir_all(&old).map_err(|e| io(&old, e))?;
        }
        if layout.exists() {
            std::fs::rename(&layout, &old).map_err(|e| io(&layout, e))?;
        }
        std::fs::rename(&fresh, &layout).map_err(|e| io(&layout, e))?;
        if old.exists() {
            std::fs::remove_dir_all(&old).map_err(|e| io(&old, e))?;
        }
    }
    Ok(written)
}

/// Pushes every fixture image, with its signature and attestation manifests, to `host` under
/// the image's own path; returns the references pushed.
pub async fn push(
    chapter: &Chapter,
    values: &BTreeMap<String, String>,
    host: &str,
    insecure: bool,
) -> Result<Vec<String>, SuiteError> {
    let (dir, images) = fixture_images(chapter, values)?;
    let mut pushed = Vec::new();
    for (image, _) in images {
        let layout_path = layout_dir(&dir, &image);
        let layout = LayoutStore::open(&layout_path).map_err(|_| {
            SuiteError::Usage(format!(
                "no fixture layout {} for {image}; run `lab test --write-fixtures` first",
                layout_path.display()
            ))
        })?;
        let tag = image.tag.clone().unwrap_or_default();
        let mut target = image.clone();
        target.registry = host.to_owned();
        let store = RegistryStore::new(&target, insecure, Retry::default());
        let built = layout.export(&tag)?;
        let mut tags = vec![tag];
        for suffix in ["sig", "att"] {
            let t = built.digest.cosign_tag(suffix);
            if layout.tags().contains(&t) {
                tags.push(t);
            }
        }
        for t in tags {
            let manifest = layout.export(&t)?;
            store
                .push(
                    &target,
                    &t,
                    &manifest.bytes,
                    OCI_MANIFEST_MEDIA_TYPE,
                    &manifest.blobs,
                )
                .await
                .map_err(|e| match e {
                    SupplyError::NotFound { image } => SuiteError::Usage(format!(
                        "the registry refused {image}; is it a registry you may push to?"
                    )),
                    other => other.into(),
                })?;
            pushed.push(format!("{}:{t}", target.repository()));
        }
    }
    Ok(pushed)
}

/// Replaces the scalar `old` written at (`line`, `column`) of `text` with `new`.
fn replace_at(text: &mut [String], line: u64, column: u64, old: &str, new: &str) -> bool {
    let Some(l) = usize::try_from(line).ok().and_then(|l| l.checked_sub(1)) else {
        return false;
    };
    let Some(row) = text.get_mut(l) else {
        return false;
    };
    let start = row
        .char_indices()
        .nth(usize::try_from(column).unwrap_or(1).saturating_sub(1))
        .map_or(row.len(), |(i, _)| i);
    let rest = &row[start..];
    let quote = rest.chars().next().filter(|c| *c == '"' || *c == '\'');
    let body = quote.map_or(rest, |q| &rest[q.len_utf8()..]);
    if !body.starts_with(old) {
        return false;
    }
    let skip = quote.map_or(0, char::len_utf8);
    row.replace_range(start + skip..start + skip + old.len(), new);
    true
}

/// Why the export leaves `patchedResources` out, written at the top of each exported Test.
const PATCHED_NOTE: &str = "# Exported by `lab test --export`. `patchedResources` lines are commented out: kyverno\n# test v1.19 compares them, for a verifyImages rule, with the response's resource, which is\n# the request before Kyverno's digest patches (mutating webhook) or after them with Kyverno's\n# verify-images annotations added (validating webhook), so no expected file can match both\n# (cmd/cli/kubectl-kyverno/commands/test/output.go: only \"Mutation\" rules use the patched\n# resource). `lab test` checks them.\n";

/// Comments out the `patchedResources:` rows at `rows` (1-based) and heads the file with
/// [`PATCHED_NOTE`]. `Err` names a row where the key does not start the line.
fn comment_out_patched_resources(lines: &mut [String], rows: &[u64]) -> Result<(), u64> {
    for &row in rows {
        let line = usize::try_from(row)
            .ok()
            .and_then(|r| r.checked_sub(1))
            .and_then(|r| lines.get_mut(r))
            .ok_or(row)?;
        let indent = line.len() - line.trim_start().len();
        if !line[indent..].starts_with("patchedResources:") {
            return Err(row);
        }
        line.insert_str(indent, "# ");
    }
    if let (false, Some(first)) = (rows.is_empty(), lines.first_mut()) {
        first.insert_str(0, PATCHED_NOTE);
    }
    Ok(())
}

/// Writes every test of the chapter, rendered, into `dir` for the real `kyverno test`: each
/// test folder gets its `kyverno-test.yaml` with the policies (placeholders filled, the Test's
/// mode applied) and resources copied beside it, and its `patchedResources` commented out
/// ([`PATCHED_NOTE`] says why). `dir` must not exist or be empty; nothing in it is
/// overwritten. Returns the test files written.
pub fn export(
    chapter: &Chapter,
    values: &BTreeMap<String, String>,
    dir: &Path,
) -> Result<Vec<PathBuf>, SuiteError> {
    use super::model::{KyvernoTest, MODE_ANNOTATION};
    use crate::content::files::resolve;
    use crate::content::load::{FileKind, parse_one};
    use crate::content::model::FailureMode;
    use crate::policy::render::apply_mode;

    if dir.exists()
        && std::fs::read_dir(dir)
            .map(|mut d| d.next().is_some())
            .unwrap_or(true)
    {
        return Err(SuiteError::Usage(format!(
            "{} exists and is not empty; export into a new folder",
            dir.display()
        )));
    }
    let tests_dir = format!("{}/tests/", chapter.dir());
    let mut written = Vec::new();
    for rel in chapter.test_files() {
        let text = chapter.files.text(&rel).unwrap_or_default();
        let test: KyvernoTest = parse_one(&rel, text, FileKind::KyvernoTest)
            .map_err(|d| SuiteError::Invalid(vec![*d]))?;
        let mode = test
            .metadata
            .annotations
            .get(MODE_ANNOTATION)
            .and_then(|m| match m.value.to_ascii_lowercase().as_str() {
                "audit" => Some(FailureMode::Audit),
                "enforce" => Some(FailureMode::Enforce),
                _ => None,
            });
        let sub = rel
            .strip_prefix(&tests_dir)
            .and_then(|r| r.rsplit_once('/').map(|(d, _)| d))
            .unwrap_or("");
        let out = dir.join(sub);
        let mut lines: Vec<String> = text.split_inclusive('\n').map(str::to_owned).collect();
        // Each exported file keeps its name; two different sources with one name would collide.
        let mut targets: BTreeMap<String, String> = BTreeMap::new();
        let mut copy = |path: &crate::content::model::Sp<String>,
                        folder: &str,
                        policy: bool|
         -> Result<(), SuiteError> {
            let source = resolve(&rel, path).ok_or_else(|| {
                SuiteError::Usage(format!("{}: `{}` leaves the course", rel, path.value))
            })?;
            let shown = chapter.shown(&source);
            let original = chapter
                .files
                .text(&source)
                .ok_or_else(|| SuiteError::Usage(format!("{shown} does not exist")))?;
            let mut rendered = substitute(&shown, original, values).map_err(SuiteError::Render)?;
            if let (true, Some(mode)) = (policy, mode) {
                rendered = apply_mode(&shown, &rendered, mode)?;
            }
            let name = source.rsplit('/').next().unwrap_or(&source);
            let target = format!("{folder}/{name}");
            if let Some(other) = targets.insert(target.clone(), source.clone())
                && other != source
            {
                return Err(SuiteError::Usage(format!(
                    "{rel}:{}: `{}` and `{}` would both be exported as {}; give one of them another name",
                    path.line,
                    chapter.shown(&other),
                    shown,
                    target
                )));
            }
            let abs = out.join(&target);
            if let Some(parent) = abs.parent() {
                std::fs::create_dir_all(parent).map_err(|e| io(parent, e))?;
            }
            std::fs::write(&abs, rendered).map_err(|e| io(&abs, e))?;
            if !replace_at(&mut lines, path.line, path.column, &path.value, &target) {
                return Err(SuiteError::Usage(format!(
                    "{rel}:{}: cannot rewrite the path `{}`; write it as a plain or quoted scalar",
                    path.line, path.value
                )));
            }
            Ok(())
        };
        for path in &test.policies {
            copy(path, "policies", true)?;
        }
        for path in &test.resources {
            copy(path, "resources", false)?;
        }
        if let (None, Some(path)) = (&test.values, &test.variables) {
            copy(path, "values", false)?;
        }
        let patched: Vec<u64> = test
            .results
            .iter()
            .filter_map(|r| r.patched_resources.as_ref().map(|p| p.line))
            .collect();
        comment_out_patched_resources(&mut lines, &patched).map_err(|line| {
            SuiteError::Usage(format!(
                "{rel}:{line}: cannot leave `patchedResources` out of the export; write it on a line of its own"
            ))
        })?;
        let target = out.join("kyverno-test.yaml");
        std::fs::create_dir_all(&out).map_err(|e| io(&out, e))?;
        std::fs::write(&target, lines.concat()).map_err(|e| io(&target, e))?;
        written.push(target);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::{PATCHED_NOTE, comment_out_patched_resources, replace_at};

    #[test]
    fn patched_resources_are_commented_out_with_the_reason() {
        let mut lines = vec![
            "results:\n".to_owned(),
            "  - policy: p\n".to_owned(),
            "    patchedResources: patched.yaml\n".to_owned(),
        ];
        assert_eq!(comment_out_patched_resources(&mut lines, &[3]), Ok(()));
        assert_eq!(lines[2], "    # patchedResources: patched.yaml\n");
        assert!(lines[0].starts_with(PATCHED_NOTE));
        let mut inline = vec!["  - {policy: p, patchedResources: x.yaml}\n".to_owned()];
        assert_eq!(comment_out_patched_resources(&mut inline, &[1]), Err(1));
        let mut none = vec!["results: []\n".to_owned()];
        assert_eq!(comment_out_patched_resources(&mut none, &[]), Ok(()));
        assert_eq!(
            none[0], "results: []\n",
            "no note when nothing was left out"
        );
    }

    #[test]
    fn paths_are_replaced_where_they_are_written() {
        let mut lines = vec![
            "policies:\n".to_owned(),
            "  - ../../a.yaml\n".to_owned(),
            "  - \"../b.yaml\"\n".to_owned(),
        ];
        assert!(replace_at(
            &mut lines,
            2,
            5,
            "../../a.yaml",
            "policies/a.yaml"
        ));
        assert!(replace_at(&mut lines, 3, 5, "../b.yaml", "policies/b.yaml"));
        assert!(!replace_at(&mut lines, 2, 5, "other.yaml", "x"));
        assert!(!replace_at(&mut lines, 9, 1, "a", "b"));
        assert_eq!(
            lines.concat(),
            "policies:\n  - policies/a.yaml\n  - \"policies/b.yaml\"\n"
        );
    }
}
