//! What the fuzz targets share: the fixture course and chapter they put a fuzzed file into, the
//! chapter's test keys, and a runtime for the async store API. Each target feeds its input to
//! `lab`'s real entry points, the way `lab validate`, `lab test`, `lab admit` and `lab verify`
//! reach them; a panic, a hang or a crash is a bug.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::LazyLock;

use courselab::commands::admit::namespace_labels;
use courselab::content::files::{CourseFiles, Selection};
use courselab::content::validate::validate;
use courselab::policy::evaluate::{Artifacts, VerifyCache, evaluate, evaluate_cached};
use courselab::policy::matching::{Operation, Request, default_namespace};
use courselab::policy::model::KyvernoPolicy;
use courselab::report::validation;
use courselab::supply::ImageRef;
use courselab::supply::fixture::SigningKey;
use courselab::supply::keyless::{KeylessPolicy, RekorKey};
use courselab::supply::signature::Verifier;
use serde_json::Value;

/// The repository root.
pub fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("fuzz/ is inside the repository")
        .to_owned()
}

/// The small fixture course (`tests/fixtures/course-min`): a lab that names a quiz with its
/// answer key, a policy file and a manifest, so a fuzzed file is checked in a lab's context.
pub static COURSE_MIN: LazyLock<CourseFiles> = LazyLock::new(|| {
    CourseFiles::from_disk(&repo().join("tests/fixtures/course-min")).expect("course-min reads")
});

/// course-min's lab file, which every target keeps as the context of the file it fuzzes.
pub const MINI_LAB: &str = "labs/mini/lab.yaml";

/// Every other file of course-min, which the lab file names.
pub const EVERY_FILE: &[&str] = &[
    "quizzes/mini.yaml",
    "quizzes/mini.key.yaml",
    "labs/mini/policies/verify-images.yaml",
    "labs/mini/manifests/app.yaml",
    "kind-config/mini.yaml",
    "runbooks/mini.md",
];

/// `lab validate <rel>` over course-min with `rel` replaced by `data` and only the files in
/// `context` (and the lab) kept beside it, the diagnostics rendered as a person, a program and
/// GitHub read them. Returns the number of errors, or `None` for input that is not UTF-8 (lab
/// refuses such a file before parsing it).
pub fn validate_in_course(rel: &str, data: &[u8], context: &[&str]) -> Option<usize> {
    let text = std::str::from_utf8(data).ok()?;
    let mut files = CourseFiles::empty("");
    for (path, kept) in COURSE_MIN.texts() {
        if path == MINI_LAB || context.contains(&path) {
            files.insert_text(path, kept.to_owned());
        }
    }
    files.insert_text(rel, text.to_owned());
    let selection = if rel == MINI_LAB {
        Selection::Lab(rel.to_owned())
    } else {
        Selection::File(rel.to_owned())
    };
    let report = validate(&files, &selection);
    let _ = validation::human(&report, |p| files.text(p), false);
    let _ = validation::json(&report);
    let _ = validation::github(&report);
    Some(report.errors)
}

/// The values `lab admit --set` gives the chapter's placeholders.
pub static VALUES: LazyLock<BTreeMap<String, String>> = LazyLock::new(|| {
    let key = String::from_utf8(public_key_pem()).expect("the public key is text");
    BTreeMap::from([
        (
            "image_registry".to_owned(),
            "kind-registry:5000/courselab".to_owned(),
        ),
        ("cosign_public_key".to_owned(), key.trim_end().to_owned()),
    ])
});

/// The chapter's resources as `lab test` loads them: a Pod and a Deployment in `develop`.
pub static RESOURCES: LazyLock<Vec<Value>> = LazyLock::new(|| {
    let image = "kind-registry:5000/courselab/demo:1.4.2";
    let pod = serde_json::json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "demo", "namespace": "develop", "labels": {"app": "demo"}}, "spec": {"containers": [{"name": "app", "image": image}]}});
    let deployment = serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "demo"}, "spec": {"template": {"metadata": {"labels": {"app": "demo"}}, "spec": {"initContainers": [{"name": "init", "image": "busybox"}], "containers": [{"name": "app", "image": image}]}}}});
    [pod, deployment]
        .into_iter()
        .map(|mut o| {
            default_namespace(&mut o);
            o
        })
        .collect()
});

/// Admission of every object against `policies` as `lab admit` runs it (namespace labels from
/// the objects, one verification cache), with no image artifacts at hand (as when the registry
/// is unreachable); then each object again as an UPDATE.
pub fn admit(objects: &[Value], policies: &[KyvernoPolicy]) {
    let artifacts = Artifacts::new();
    let labels = namespace_labels(objects);
    let mut cache = VerifyCache::default();
    for object in objects {
        let _ = evaluate_cached(
            &Request::create(object, &labels),
            policies,
            &artifacts,
            &mut cache,
        );
        let _ = evaluate(object, Operation::Update, policies, &artifacts);
    }
}

/// The chapter's test signer (`labs/ch14/tests/keys/test-only-signer.key`), which signed the
/// fixture images.
pub static SIGNER: LazyLock<SigningKey> = LazyLock::new(|| {
    let pem = std::fs::read(repo().join("labs/ch14/tests/keys/test-only-signer.key"))
        .expect("the test key reads");
    SigningKey::from_pem(&pem).expect("the test key is usable")
});

fn public_key_pem() -> Vec<u8> {
    std::fs::read(repo().join("labs/ch14/tests/keys/test-only-signer.pub"))
        .expect("the test public key reads")
}

/// The chapter's test signer as `lab submit` reads a learner's key.
pub static SUBMISSION_SIGNER: LazyLock<courselab::submission::sealed::SigningKey> =
    LazyLock::new(|| {
        let pem = std::fs::read(repo().join("labs/ch14/tests/keys/test-only-signer.key"))
            .expect("the test key reads");
        courselab::submission::sealed::SigningKey::read(&pem, b"").expect("the test key is usable")
    });

/// The chapter's test public key as `lab grade` trusts a learner's.
pub static TRUSTED: LazyLock<courselab::submission::sealed::TrustedKey> = LazyLock::new(|| {
    courselab::submission::sealed::TrustedKey::from_pem(&public_key_pem())
        .expect("the test public key is usable")
});

/// `lab verify --key test-only-signer.pub`.
pub static KEY_VERIFIER: LazyLock<Verifier> = LazyLock::new(|| {
    Verifier::from_public_key_pem(&public_key_pem()).expect("the public key is usable")
});

/// A keyless verifier with a Rekor key and no roots: certificates, chains and bundles found in
/// annotations are parsed and checked up to the chain, which then fails.
pub static KEYLESS_VERIFIER: LazyLock<Verifier> = LazyLock::new(|| {
    Verifier::Keyless(Box::new(KeylessPolicy {
        roots: Vec::new(),
        subject: Some("*".to_owned()),
        subject_regexp: None,
        issuer: Some("*".to_owned()),
        issuer_regexp: None,
        rekor: Some(RekorKey::from_pem(&public_key_pem()).expect("the Rekor key is usable")),
    }))
});

/// The fixture image every supply target asks about (`labs/ch14/tests/images/demo`).
pub static IMAGE: LazyLock<ImageRef> = LazyLock::new(|| {
    ImageRef::parse("kind-registry:5000/courselab/demo:1.4.2-ci").expect("the image parses")
});

/// The digest of `1.4.2-ci` in the fixture layout, which the seed payloads and statements name.
pub const IMAGE_DIGEST: &str =
    "sha256:3687253bd9a9cd3a727619986d313e52c7709f2e9bfa036e9e6268069d08595b";

/// The folder of the fixture layout.
pub fn demo_layout() -> PathBuf {
    repo().join("labs/ch14/tests/images/demo")
}

/// Runs a store future to completion (the stores here never wait on a network).
pub fn block_on<F: std::future::Future>(future: F) -> F::Output {
    static RUNTIME: LazyLock<tokio::runtime::Runtime> = LazyLock::new(|| {
        tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("a runtime starts")
    });
    RUNTIME.block_on(future)
}

/// A fresh folder for this process under the system's temporary folder.
pub fn scratch_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("courselab-fuzz-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("the scratch folder is created");
    dir
}

/// The fixture layout's blobs, by file name, to copy into scratch layouts.
pub fn demo_blobs() -> BTreeMap<String, Vec<u8>> {
    let dir = demo_layout().join("blobs/sha256");
    std::fs::read_dir(&dir)
        .expect("the fixture blobs read")
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).expect("a blob reads"),
            )
        })
        .collect()
}
