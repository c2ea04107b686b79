//! A chapter's fixture images: built from `tests.fixtures` in the lab file into OCI layouts
//! (`lab test --write-fixtures`), signed and attested with the test keys committed beside them,
//! and pushed to a live registry (`lab test --push --registry HOST`) so that the same test
//! files also run against a registry, or under `kyverno test`.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::SuiteError;
use super::run::layout_dir;
use crate::content::Diagnostic;
use crate::content::chapter::Chapter;
use crate::content::model::FixtureImage;
use crate::content::model::{RelPath, Spanned};
use crate::content::paths::resolve;
use crate::input;
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

fn io(path: &Path, source: std::io::Error) -> SuiteError {
    SuiteError::Write {
        path: path.to_owned(),
        source,
    }
}

/// The file that marks a folder as a fixture layout `lab test --write-fixtures` wrote, and so
/// one it may replace. A folder without it is somebody's, and is never deleted.
pub const MARKER: &str = ".courselab-fixture";

const MARKER_TEXT: &str = "This OCI layout was written by `lab test --write-fixtures`, which replaces the\nfolder when it rebuilds the fixtures. Do not keep anything else in it.\n";

/// Where the path `path`, written in the lab file, is on disk, under the course's one rule.
fn on_disk(chapter: &Chapter, path: &Spanned<RelPath>) -> Result<PathBuf, SuiteError> {
    let refused = |problem: crate::content::paths::PathProblem| {
        SuiteError::Invalid(vec![
            Diagnostic::error(
                "ref/outside-course",
                &chapter.lab_file,
                (path.line, path.column),
                problem.to_string(),
            )
            .help(problem.help()),
        ])
    };
    let key = resolve(&chapter.lab_file, &path.value.0).map_err(refused)?;
    chapter.files.disk_path(&key).map_err(refused)
}

/// The lines of the lab's `tests.variables` that name a TEST key (or its `.pub`) that
/// `--write-fixtures` creates when it is missing.
pub fn keys_it_creates(chapter: &Chapter) -> Vec<u64> {
    let Some(tests) = &chapter.lab.tests else {
        return Vec::new();
    };
    let keys: Vec<String> = tests
        .fixtures
        .iter()
        .flat_map(|f| f.signed_by.iter().chain(&f.sbom_signed_by))
        .filter_map(|k| resolve(&chapter.lab_file, &k.value.0).ok())
        .flat_map(|k| {
            let public = Path::new(&k).with_extension("pub");
            [public.to_string_lossy().into_owned(), k]
        })
        .collect();
    tests
        .variables
        .values()
        .filter(|v| resolve(&chapter.lab_file, &v.value).is_ok_and(|k| keys.contains(&k)))
        .map(|v| v.line)
        .collect()
}

/// The folder of the chapter's fixture layouts (`tests.images`, by default `tests/images`).
pub fn layouts_dir(chapter: &Chapter) -> Result<PathBuf, SuiteError> {
    match &chapter.lab.tests {
        Some(tests) => on_disk(chapter, &tests.images),
        None => on_disk(
            chapter,
            &Spanned {
                value: RelPath("tests/images".into()),
                line: 0,
                column: 0,
            },
        ),
    }
}

/// Whether `dir` is a fixture layout this command wrote (a real folder with the marker).
fn is_ours(dir: &Path) -> bool {
    dir.symlink_metadata().is_ok_and(|m| m.is_dir())
        && dir
            .join(MARKER)
            .symlink_metadata()
            .is_ok_and(|m| m.is_file())
}

/// Removes `dir` if it is ours; refuses (and keeps it) otherwise.
fn remove_ours(dir: &Path, role: &str) -> Result<(), SuiteError> {
    if dir.symlink_metadata().is_err() {
        return Ok(());
    }
    if !is_ours(dir) {
        return Err(not_ours(dir, role));
    }
    std::fs::remove_dir_all(dir).map_err(|e| io(dir, e))
}

fn not_ours(dir: &Path, role: &str) -> SuiteError {
    SuiteError::NotOurs {
        path: dir.to_owned(),
        role: role.to_owned(),
    }
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
    let dir = on_disk(chapter, &tests.images)?;
    let mut out = Vec::new();
    for fixture in &tests.fixtures {
        let rendered = substitute(&chapter.shown(&chapter.lab_file), &fixture.image, values)?;
        let at_image = |message: String, help: &str| {
            SuiteError::Invalid(vec![
                Diagnostic::error(
                    "test/fixture-image",
                    &chapter.lab_file,
                    (fixture.image.line, fixture.image.column),
                    message,
                )
                .help(help.to_owned()),
            ])
        };
        let image = ImageRef::parse(&rendered).map_err(|e| {
            at_image(
                format!("fixture image `{rendered}`: {e}"),
                "write it as registry/repository:tag",
            )
        })?;
        if image.tag.is_none() || image.digest.is_some() {
            return Err(at_image(
                format!("fixture image `{rendered}` needs a tag and no digest"),
                "the digest is what --write-fixtures builds; give only the tag",
            ));
        }
        if out.iter().any(|(i, _): &(ImageRef, _)| *i == image) {
            return Err(at_image(
                format!("fixture image `{rendered}` is listed twice"),
                "list each fixture image once",
            ));
        }
        out.push((image, fixture));
    }
    Ok((dir, out))
}

/// Reads a test key, or creates it (and its `.pub`) if the file does not exist.
fn key(path: &Path, created: &mut Vec<PathBuf>) -> Result<SigningKey, SuiteError> {
    if path.symlink_metadata().is_ok() {
        let pem = input::read_bytes(path, input::limit::KEY, "a key file")
            .map_err(|e| SuiteError::Usage(format!("cannot use the test key: {e}")))?;
        return SigningKey::from_pem(&pem)
            .map_err(|e| SuiteError::Usage(format!("{}: {e}", path.display())));
    }
    let public = path.with_extension("pub");
    if public.symlink_metadata().is_ok() {
        return Err(SuiteError::NotOurs {
            path: public,
            role: "replace".to_owned(),
        });
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
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    let mut file = options.open(&public).map_err(|e| io(&public, e))?;
    std::io::Write::write_all(&mut file, key.public_pem()?.as_bytes())
        .map_err(|e| io(&public, e))?;
    created.push(path.to_owned());
    Ok(key)
}

/// Builds every fixture image into its layout. Existing layouts of these repositories are
/// replaced only if this command wrote them (they carry [`MARKER`]); anything else in their
/// place stops the run before a file is written. Keys are created only when missing.
pub fn write(chapter: &Chapter, values: &BTreeMap<String, String>) -> Result<Written, SuiteError> {
    let (dir, images) = fixture_images(chapter, values)?;
    for (image, _) in &images {
        check_replaceable(&dir, &layout_dir(&dir, image))?;
    }
    let mut written = Written::default();
    let mut keys = Keys::default();
    let mut by_layout: BTreeMap<PathBuf, Vec<(ImageRef, &FixtureImage)>> = BTreeMap::new();
    for (image, fixture) in images {
        for path in fixture.signed_by.iter().chain(&fixture.sbom_signed_by) {
            let abs = on_disk(chapter, path)?;
            keys.paths.insert(path.value.0.clone(), abs.clone());
            if let std::collections::btree_map::Entry::Vacant(slot) = keys.keys.entry(abs) {
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
        let name = layout_name(&layout);
        let fresh = dir.join(format!(".{name}.new"));
        remove_ours(&fresh, "remove")?;
        let mut writer = LayoutWriter::create(&fresh)?;
        std::fs::write(fresh.join(MARKER), MARKER_TEXT).map_err(|e| io(&fresh, e))?;
        for (image_ref, fixture) in fixtures {
            let digest = add_fixture(&mut writer, &name, &image_ref, fixture, &keys)?;
            written.images.push((image_ref.to_string(), digest));
        }
        writer.finish()?;
        swap_in(&dir, &layout, &fresh)?;
    }
    Ok(written)
}

/// The TEST keys of a chapter's fixtures: by path on disk, and that path by the lab's words.
#[derive(Default)]
struct Keys {
    keys: BTreeMap<PathBuf, SigningKey>,
    paths: BTreeMap<String, PathBuf>,
}

impl Keys {
    fn get(&self, written: &Spanned<RelPath>) -> &SigningKey {
        &self.keys[&self.paths[&written.value.0]]
    }
}

fn layout_name(layout: &Path) -> String {
    layout
        .file_name()
        .map_or_else(String::new, |n| n.to_string_lossy().into_owned())
}

/// Everything a run would replace or remove for `layout` must be ours; checked before
/// anything is written.
fn check_replaceable(dir: &Path, layout: &Path) -> Result<(), SuiteError> {
    let name = layout_name(layout);
    for (path, role) in [
        (layout.to_owned(), "replace"),
        (dir.join(format!(".{name}.new")), "remove"),
        (dir.join(format!(".{name}.old")), "remove"),
    ] {
        if path.symlink_metadata().is_ok() && !is_ours(&path) {
            return Err(not_ours(&path, role));
        }
    }
    Ok(())
}

/// Builds one fixture image into `writer`, with its signature and SBOM attestation manifests
/// when the lab asks for them; returns the image's digest.
fn add_fixture(
    writer: &mut LayoutWriter,
    name: &str,
    image_ref: &ImageRef,
    fixture: &FixtureImage,
    keys: &Keys,
) -> Result<Digest, SuiteError> {
    let tag = image_ref.tag.clone().unwrap_or_default();
    let repository = image_ref.repository();
    let built = image(&format!("{name}:{tag}"));
    writer.add(&built, OCI_MANIFEST_MEDIA_TYPE, &tag)?;
    let signers: Vec<&SigningKey> = fixture.signed_by.iter().map(|p| keys.get(p)).collect();
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
            envelope(&doc, keys.get(path))?,
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
    Ok(built.digest)
}

/// Replaces `layout` by the finished `fresh` one: the old one (ours) is moved aside first and
/// removed last, so an interrupted run leaves either layout in place.
fn swap_in(dir: &Path, layout: &Path, fresh: &Path) -> Result<(), SuiteError> {
    let old = dir.join(format!(".{}.old", layout_name(layout)));
    // Left by an interrupted run; the layout itself is still in place.
    remove_ours(&old, "remove")?;
    if layout.symlink_metadata().is_ok() {
        if !is_ours(layout) {
            return Err(not_ours(layout, "replace"));
        }
        std::fs::rename(layout, &old).map_err(|e| io(layout, e))?;
    }
    std::fs::rename(fresh, layout).map_err(|e| io(layout, e))?;
    remove_ours(&old, "remove")
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
        let layout = LayoutStore::open(&layout_path).map_err(|_| SuiteError::NoFixtureLayout {
            image: image.to_string(),
            path: layout_path.clone(),
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
                    SupplyError::NotFound { image } => SuiteError::PushRefused { image },
                    other => other.into(),
                })?;
            pushed.push(format!("{}:{t}", target.repository()));
        }
    }
    Ok(pushed)
}
