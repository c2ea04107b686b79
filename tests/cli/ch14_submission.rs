//! A ch14 submission that `lab grade` grades in full, packed as `lab submit` packs it from a
//! learner who finished the lab: the CI build of the chapter's fixtures (signed and attested with
//! the committed TEST key) exported as the layout, a record of what the finished cluster showed,
//! the evidence files, and a progress record with the answer key's quiz answers. Tests put it
//! in a class beside hostile files to show that the rest of the class is still graded.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use courselab::content::chapter::Chapter;
use courselab::content::files::CourseFiles;
use courselab::engine::Status;
use courselab::policy::model::FailureMode;
use courselab::record::{CourseStamp, Event, Progress, RecordedCheck};
use courselab::submission::names::{
    LAYOUT_PREFIX, PROGRESS_FILE, PUBLIC_KEY_FILE, WORK_PREFIX, WORLD_FILE,
};
use courselab::submission::pack::{Contents, pack};
use courselab::submission::sealed::SigningKey;
use courselab::submission::statement::{
    Course, Image, Role, SUBMISSION_FORMAT, Signing, SigningMode, Submission, Tool,
};
use courselab::supply::export::export_layout;
use courselab::supply::layout::LayoutStore;
use courselab::supply::layout_source::LayoutFiles;
use courselab::supply::store::Store as _;
use courselab::supply::{Digest, ImageRef};

use super::repo;

const REPOSITORY: &str = "kind-registry:5000/courselab/demo";
const PROMOTED: &str = "kind-registry:5000/courselab/demo:1.4.2-ci";
const DENIAL: &str = "admission webhook \"validate.kyverno.svc-fail\" denied the request: \n\nresource Pod/develop/workstation-hotfix was blocked due to the following policies \n\nverify-signed-images:\n  verify-signature: 'failed to verify image kind-registry:5000/courselab/demo:1.4.2-hotfix: .attestors[0].entries[0].keys: no signatures found'";

/// The committed TEST signer's private key (PEM), which signed ch14's fixture images.
pub fn test_signer() -> SigningKey {
    let pem = std::fs::read(repo().join("labs/ch14/tests/keys/test-only-signer.key")).unwrap();
    SigningKey::read(&pem, b"").unwrap()
}

/// `learner`'s finished ch14, packed and sealed with the TEST signer's key, with `extra` files
/// (each signed as evidence) added to what `lab submit` would pack.
pub fn finished(learner: &str, extra: &[(&str, &[u8])]) -> Vec<u8> {
    let chapter = Chapter::find(CourseFiles::from_disk(&repo()).unwrap(), "ch14").unwrap();
    let key = test_signer();
    // The grader renders the policies with the public key the file carries, as text.
    let mut values = chapter.values(false, &[]).unwrap();
    values.insert("cosign_public_key".into(), key.public_pem().to_owned());
    let (digest, layout) = exported();
    let mut contents = Contents::default();
    for (path, data) in evidence(&digest) {
        let name = format!("{WORK_PREFIX}{path}");
        contents.add(&name, Role::Evidence, data).unwrap();
    }
    for (name, data) in extra {
        contents.add(name, Role::Evidence, data.to_vec()).unwrap();
    }
    let world = world(&chapter, &values, &digest);
    contents
        .add(
            WORLD_FILE,
            Role::Cluster,
            serde_json::to_vec(&world).unwrap(),
        )
        .unwrap();
    for (name, data) in layout {
        contents.add(&name, Role::Layout, data).unwrap();
    }
    let public = key.public_pem().as_bytes().to_vec();
    contents
        .add(PUBLIC_KEY_FILE, Role::PublicKey, public)
        .unwrap();
    contents
        .add(PROGRESS_FILE, Role::Progress, progress(&chapter))
        .unwrap();
    let stamp = CourseStamp::of(&chapter);
    let predicate = Submission {
        format: SUBMISSION_FORMAT,
        learner: learner.into(),
        chapter: "ch14".into(),
        course: Course {
            lab: stamp.lab,
            version: stamp.version,
            digest: stamp.digest,
        },
        tool: Tool {
            name: "lab".into(),
            version: env!("CARGO_PKG_VERSION").into(),
        },
        claimed_time: "2026-12-06T10:10:00Z".into(),
        signing: Signing {
            mode: SigningMode::Key,
            public_key: PUBLIC_KEY_FILE.into(),
            identity: None,
        },
        values: BTreeMap::new(),
        image: Some(Image {
            repository: REPOSITORY.into(),
            digest: digest.as_str().into(),
            layout: LAYOUT_PREFIX.into(),
            layers_included: false,
        }),
        checks: Vec::new(),
        files: Vec::new(),
    };
    pack(contents, predicate, &key).unwrap()
}

/// The CI build exported from ch14's fixture layout as `lab submit` exports it, and its digest.
fn exported() -> (Digest, LayoutFiles) {
    let fixtures = LayoutStore::open(&repo().join("labs/ch14/tests/images/demo")).unwrap();
    let reference = ImageRef::parse(PROMOTED).unwrap();
    use courselab::runtime::block_on;
    let digest = block_on(fixtures.resolve(&reference)).unwrap().unwrap();
    let layout = block_on(export_layout(&fixtures, &reference, &digest, LAYOUT_PREFIX))
        .unwrap()
        .unwrap();
    (digest, layout.files)
}

/// What the finished cluster showed: the promoted digest pinned and running, the pack in
/// Enforce as rendered, Kyverno's webhooks, a passing report for the Pod, the unsigned Pod
/// denied.
fn world(chapter: &Chapter, values: &BTreeMap<String, String>, digest: &Digest) -> Value {
    let pinned = format!("{REPOSITORY}@{digest}");
    let policies: serde_json::Map<String, Value> = chapter
        .policy_objects(values, FailureMode::Enforce)
        .unwrap()
        .into_iter()
        .map(|mut policy| {
            policy["status"] = json!({"conditions": [{"type": "Ready", "status": "True"}]});
            let name = policy["metadata"]["name"].as_str().unwrap().to_owned();
            (name, policy)
        })
        .collect();
    json!({
        "workloads": {"Deployment/develop/demo": [["app", pinned]]},
        "pods": {"develop": [{"name": "demo-1", "labels": {"app": "demo"},
                              "containers": [["app", pinned, pinned]]}]},
        "cluster_policies": policies,
        "policy_reports": {"develop": [{"scope": {"kind": "Pod", "name": "demo-1"},
            "results": [{"policy": "verify-signed-images", "rule": "verify-signature", "result": "pass", "message": "verified"}]}]},
        "webhooks": ["kyverno-resource-mutating-webhook-cfg", "kyverno-resource-validating-webhook-cfg"],
        "dry_run": {"code": 400, "reason": "BadRequest", "message": DENIAL},
    })
}

/// The evidence files of a learner who did every step.
fn evidence(digest: &Digest) -> Vec<(&'static str, Vec<u8>)> {
    let claim = json!([{"critical": {"identity": {"docker-reference": "localhost:5001/courselab/demo"},
        "image": {"docker-manifest-digest": digest.as_str()}, "type": "cosign container image signature"},
        "optional": null}]);
    vec![
        (
            "evidence/pod-image-ids.txt",
            format!("{REPOSITORY}@{digest}").into_bytes(),
        ),
        ("evidence/cosign-verify.json", claim.to_string().into_bytes()),
        (
            "evidence/enforce-denial.txt",
            format!("Error from server: {DENIAL}").into_bytes(),
        ),
        (
            "evidence/remediation.md",
            b"# Remediation\n\nThe workstation build never runs: develop stays on the promoted CI digest, and the fix goes through CI.\n".to_vec(),
        ),
    ]
}

/// A progress record where every step before Enforce was passed (those whose checks hold only
/// during the step with them passed), and whose first quiz attempt is the answer key's.
fn progress(chapter: &Chapter) -> Vec<u8> {
    let stamp = CourseStamp::of(chapter);
    let mut progress = Progress::new("ch14");
    let passed = |check: &str| RecordedCheck {
        check: check.into(),
        status: Status::Pass,
        message: "held during the step".into(),
        evidence: Vec::new(),
    };
    let steps = [
        ("incident-hook", vec![]),
        ("pin-digest", vec![]),
        ("sbom-sign-attest", vec![]),
        ("verify-locally", vec![]),
        (
            "audit-rollout",
            vec![passed("policies-in-audit"), passed("audit-report-fail")],
        ),
    ];
    for (step, results) in steps {
        let event = Event::StepPassed {
            step: step.into(),
            results,
        };
        progress.append_at(event, "2026-12-06T10:00:00Z".into(), &stamp);
    }
    let (quiz, _) = courselab::grade::quiz::find(chapter).unwrap();
    let (_, key) = courselab::grade::quiz::answer_key(chapter, &quiz)
        .unwrap()
        .expect("the checkout holds ch14's answer key");
    let answers = courselab::grade::quiz::key_answers(&key);
    progress.append_at(
        courselab::grade::quiz::attempt_event(&answers, true),
        "2026-12-06T10:05:00Z".into(),
        &stamp,
    );
    serde_json::to_vec_pretty(&progress).unwrap()
}
