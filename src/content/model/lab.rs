//! A chapter's lab (`labs/<chapter>/lab.yaml`): what a learner needs, the steps they walk
//! through, the checks that prove each step, and how the "Done When" criteria are scored.

use schemars::JsonSchema;
use serde::Deserialize;

use super::{FailureMode, LabId, RelPath, Spanned};

/// One lab: the root of `labs/<chapter>/lab.yaml`.
///
/// Paths inside a lab file are relative to the folder of the lab file, as links in Markdown are.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Lab {
    /// Version of this file format; only `1` exists.
    pub schema_version: Spanned<u32>,
    /// The chapter id learners type, e.g. `ch14` in `lab start ch14`. Lowercase letters, digits and `-`.
    pub id: Spanned<LabId>,
    /// Other names that also select this lab, e.g. `supply-chain`.
    #[serde(default)]
    pub aliases: Vec<Spanned<LabId>>,
    /// The lab's version, e.g. `2026.12.1`: every progress record and submission names it
    /// (with a digest of the lab's files), so a grader can tell work done against another
    /// version of the chapter.
    #[serde(default)]
    pub version: Option<String>,
    /// The chapter's title as learners see it.
    pub title: String,
    /// One paragraph on why the chapter exists: the rule it teaches.
    pub summary: String,
    /// The learning objectives; quiz questions name the objective they test.
    pub objectives: Vec<Objective>,
    /// The Kyverno release the lab installs and whose behaviour the policies are written for.
    pub kyverno: KyvernoPin,
    /// The local cluster and registry the lab provisions.
    pub cluster: ClusterSpec,
    /// Command-line tools the learner needs, with minimum versions.
    pub tools: Vec<Tool>,
    /// Values that fill `${name}` placeholders in policies, manifests and instructions.
    pub variables: Vec<Variable>,
    /// Kyverno policy files the lab applies (each may hold several YAML documents).
    pub policies: Vec<PolicyRef>,
    /// Kubernetes manifests applied when the lab starts: the state the incident hook begins from.
    pub manifests: Vec<Spanned<RelPath>>,
    /// The chapter's quiz file (graded or practice, as the quiz says).
    pub quiz: Spanned<RelPath>,
    /// A practice quiz beside a graded one: immediate feedback, never recorded or graded
    /// (`lab quiz --practice`). Its file must say `mode: practice`.
    #[serde(default)]
    pub practice_quiz: Option<Spanned<RelPath>>,
    /// The runbook learners follow for a denial.
    pub runbook: Spanned<RelPath>,
    /// The steps of the Safe Workflow, in the order the walkthrough presents them.
    pub steps: Vec<Step>,
    /// The chapter's "Done When" criteria, each earned by passing checks.
    pub done_when: Vec<DoneWhen>,
    /// How `lab test` runs the chapter's policy cases (`tests/**/kyverno-test.yaml`).
    #[serde(default)]
    pub tests: Option<LabTests>,
}

impl Lab {
    /// The step ids, in order.
    pub fn step_ids(&self) -> Vec<&str> {
        self.steps.iter().map(|s| s.id.value.0.as_str()).collect()
    }
}

/// The settings of `lab test` for a chapter.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LabTests {
    /// Values that replace the lab's variables while testing, e.g. the committed test public key
    /// for `cosign_public_key`. For a `from_file` variable the value is a path relative to this
    /// lab file.
    #[serde(default)]
    pub variables: std::collections::BTreeMap<String, Spanned<String>>,
    /// The folder of fixture OCI layouts, one per repository name: an image
    /// `<registry>/<path>/demo:1.4.2` is read from `<images>/demo`, tag `1.4.2`.
    pub images: Spanned<RelPath>,
    /// The fixture images `lab test --write-fixtures` builds into `images`.
    #[serde(default)]
    pub fixtures: Vec<FixtureImage>,
}

/// A fixture image: a tiny image, signed and attested as the story needs, with test keys.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FixtureImage {
    /// `name:tag`, the name being the repository's last path segment, e.g. `demo:1.4.2-ci`.
    pub image: Spanned<String>,
    /// What the image stands for in the chapter's story.
    pub description: String,
    /// Test private keys (PKCS#8 PEM, relative to the lab file) that sign the image. A missing
    /// key file is generated, with its `.pub` beside it; an existing one is never overwritten.
    #[serde(default)]
    pub signed_by: Vec<Spanned<RelPath>>,
    /// Test private keys that each attest an SPDX SBOM of the image.
    #[serde(default)]
    pub sbom_signed_by: Vec<Spanned<RelPath>>,
}

/// A learning objective of the chapter.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Objective {
    /// Short id that quiz questions refer to, e.g. `build-once`.
    pub id: Spanned<LabId>,
    /// What the learner can do after the chapter.
    pub text: String,
}

/// The pinned Kyverno release.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KyvernoPin {
    /// Kyverno application version, e.g. `v1.19.0`.
    pub version: Spanned<String>,
    /// The Helm chart version that ships it, e.g. `3.9.0`.
    pub chart: String,
    /// Helm values the lab sets on install, as `key=value` pairs for `--set`.
    #[serde(default)]
    pub helm_set: Vec<String>,
}

/// The kind cluster and the registry beside it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    /// The kind `Cluster` configuration file.
    pub kind_config: Spanned<RelPath>,
    /// The registry container the lab runs next to the cluster.
    pub registry: RegistrySpec,
    /// The scenario's images `lab start` puts into the registry, each derived from one base
    /// image so that each has a digest of its own; none is signed.
    #[serde(default)]
    pub seed: Vec<SeedImage>,
    /// The public image the seed images are derived from, pinned by digest
    /// (`registry/path:tag@sha256:...`); `lab start --base-image-layout DIR` replaces it for
    /// rooms without internet.
    #[serde(default)]
    pub base_image: Option<Spanned<String>>,
}

/// One image of the scenario, derived from the base image by a config label.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SeedImage {
    /// `name:tag` under the `push_registry` variable, e.g. `demo:1.4.2-ci`.
    pub image: Spanned<String>,
    /// What the build stands for, written into the label `dev.courselab.build`, e.g. `ci`.
    pub build: String,
}

/// A local OCI registry, reachable from the learner's machine and from inside the cluster.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RegistrySpec {
    /// Container name of the registry on the `kind` network, e.g. `kind-registry`.
    pub name: String,
    /// Port the registry listens on inside its container, e.g. `5000`.
    pub port: u16,
    /// Port published on the learner's loopback interface, e.g. `5001` (push to `localhost:5001`).
    pub host_port: u16,
    /// Registry hosts that every node gets a containerd `hosts.toml` for, e.g. `kind-registry:5000`.
    /// Images in the cluster must use one of these hosts, because inside kind `localhost` is the
    /// pod or node itself.
    pub mirrors: Vec<Spanned<String>>,
}

/// A command-line tool the lab needs.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tool {
    /// The executable name, e.g. `cosign`.
    pub name: String,
    /// The lowest version that works, as semver without a leading `v`, e.g. `2.4.0`.
    pub min_version: Spanned<String>,
    /// Why the lab needs it, shown when it is missing.
    pub purpose: String,
    /// Where to get it.
    pub install: String,
}

/// A `${name}` placeholder value.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Variable {
    /// The placeholder name, used as `${name}`. Lowercase letters, digits and `_`.
    pub name: Spanned<String>,
    /// What the value means, shown when the learner is asked for it.
    pub description: String,
    /// The value used when the learner gives none. Without a default the learner must give one.
    #[serde(default)]
    pub default: Option<String>,
    /// The only values allowed, if the variable is a choice.
    #[serde(default)]
    pub choices: Vec<String>,
    /// When true, the value is the path of a PEM public key file (`cosign.pub`) whose content is
    /// substituted; a private key or any other file is refused, as the value goes onto the cluster.
    #[serde(default)]
    pub from_file: bool,
    /// The value is the digest (`sha256:...`) of this image of `cluster.seed` (e.g.
    /// `demo:1.4.2-ci`), as `lab start` pushed or found it in the lab registry, so that step
    /// commands can name the image by digest and work as pasted in any terminal. It has a value
    /// once the lab is started (or given with `--set`); offline it has none.
    #[serde(default)]
    pub digest_of: Option<Spanned<String>>,
}

/// A policy file the lab applies, optionally only for one signing mode.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyRef {
    /// The policy file.
    pub file: Spanned<RelPath>,
    /// Apply only when the variable `signing_mode` has this value (`key` or `keyless`).
    #[serde(default)]
    pub signing_mode: Option<Spanned<String>>,
}

/// One step of the walkthrough.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    /// Step id, unique in the lab, e.g. `pin-digest`.
    pub id: Spanned<LabId>,
    /// A short imperative title.
    pub title: String,
    /// What to do and why, in Markdown. May use `${placeholders}`.
    pub instructions: String,
    /// Hints revealed one at a time when the learner asks.
    #[serde(default)]
    pub hints: Vec<String>,
    /// Files of the lab this step works with; they must exist.
    #[serde(default)]
    pub files: Vec<Spanned<RelPath>>,
    /// A link into the runbook (`path#anchor`) that this step practises.
    #[serde(default)]
    pub runbook: Option<Spanned<RelPath>>,
    /// The checks that prove this step is done.
    #[serde(default)]
    pub checks: Vec<Check>,
    /// The step's solution: the commands a learner would run (bash, in the working folder,
    /// `${placeholders}` filled). `lab solve` shows and runs it; `lab rehearse` runs every
    /// step's solution and requires its checks to fail before and pass after.
    #[serde(default)]
    pub solve: Option<String>,
    /// Text that holds only on the kind cluster `lab start` creates (the registry's two names,
    /// the kind network): shown when the lab runs there, left out on a `--context` lab and
    /// wherever no lab is started.
    #[serde(default)]
    pub on_kind: Option<KindOnly>,
}

/// The part of a step that is true only on the lab's own kind cluster.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct KindOnly {
    /// Markdown appended to the step's instructions. May use `${placeholders}`.
    #[serde(default)]
    pub instructions: Option<String>,
    /// Hints given after the step's other hints.
    #[serde(default)]
    pub hints: Vec<String>,
}

/// A check: one observable fact about the learner's work.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Check {
    /// Check id, unique in the lab; "Done When" criteria refer to it.
    pub id: Spanned<LabId>,
    /// What passing means, in one line.
    pub title: String,
    /// What is checked and how.
    pub check: Spanned<CheckKind>,
    /// The check guards something that already holds when its step begins (the guardrail, a
    /// mode `lab start` set): `lab rehearse` does not require it to fail before the solution.
    #[serde(default)]
    pub invariant: bool,
    /// The check holds only while its step is the current one (the policies in Audit before
    /// the switch to Enforce): once the step is recorded as passed, the lab has moved on, and
    /// `lab check` shows the recorded result instead of judging it again.
    #[serde(default)]
    pub during_step_only: bool,
}

impl Step {
    /// The instructions as a learner on kind (`on_kind`) or elsewhere reads them, before
    /// their values are filled in.
    pub fn instructions_for(&self, on_kind: bool) -> String {
        match self
            .on_kind
            .as_ref()
            .and_then(|k| k.instructions.as_deref())
        {
            Some(extra) if on_kind => {
                format!("{}\n\n{}", self.instructions.trim_end(), extra)
            }
            _ => self.instructions.clone(),
        }
    }

    /// The hints as a learner on kind (`on_kind`) or elsewhere gets them, in order: the
    /// kind-only ones come last, so a hint's number is the same wherever the lab runs.
    pub fn hints_for(&self, on_kind: bool) -> Vec<&str> {
        let kind = self.on_kind.iter().filter(|_| on_kind);
        self.hints
            .iter()
            .chain(kind.flat_map(|k| &k.hints))
            .map(String::as_str)
            .collect()
    }

    /// Whether the step asks for the chapter quiz: the walkthrough offers the quiz there, and
    /// the rehearsal answers it. The one reading of "this step has a quiz".
    pub fn has_quiz(&self) -> bool {
        self.checks.iter().any(Check::is_quiz)
    }
}

impl Check {
    /// Whether this is the quiz check (`quiz-passed`).
    pub fn is_quiz(&self) -> bool {
        matches!(self.check.value, CheckKind::QuizPassed(_))
    }
}

/// The kinds of check. Exactly one key, naming the kind.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub enum CheckKind {
    /// Every container of a workload references its image by digest (`@sha256:...`), not by tag.
    DigestPinned(WorkloadRef),
    /// The digest the pods actually run (their `imageID`) equals the digest that was signed.
    RunningDigest(RunningDigest),
    /// A cosign signature on the image verifies with the lab's signer.
    Signature(ImageCheck),
    /// An SBOM attestation on the image verifies and its predicate is a valid document.
    SbomAttestation(SbomAttestation),
    /// The named policy's rules have the expected failure action.
    PolicyMode(PolicyMode),
    /// A PolicyReport holds the expected result for a policy rule.
    PolicyReport(PolicyReportCheck),
    /// Admitting a manifest is denied by the named policy.
    AdmissionDenied(AdmissionDenied),
    /// The guardrail is still on: policies present, enforcing, and not bypassed.
    GuardrailIntact(GuardrailIntact),
    /// The learner saved an evidence file of the expected form.
    EvidenceFile(EvidenceFile),
    /// The chapter quiz was passed.
    QuizPassed(QuizPassed),
}

/// A workload in the cluster.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WorkloadRef {
    /// Resource kind, e.g. `Deployment`.
    pub kind: String,
    /// Namespace of the workload.
    pub namespace: String,
    /// Name of the workload.
    pub name: String,
}

/// Which pods to read and which image they should run.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RunningDigest {
    /// Namespace of the pods.
    pub namespace: String,
    /// Label selector of the pods, e.g. `app=demo`.
    pub selector: String,
    /// The repository the pods must run from, without tag or digest.
    pub repository: String,
    /// The promoted image, e.g. `${image_registry}/demo:1.4.2-ci`: every container running from
    /// `repository` must run its digest (a tag is resolved in the lab registry).
    pub image: String,
}

/// An image to verify.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImageCheck {
    /// The image reference; a tag is resolved to its digest first.
    pub image: String,
}

/// An SBOM attestation to verify.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SbomAttestation {
    /// The image reference.
    pub image: String,
    /// The in-toto predicate type; cosign's `spdxjson` means `https://spdx.dev/Document`.
    #[serde(default = "default_predicate_type")]
    pub predicate_type: String,
}

fn default_predicate_type() -> String {
    "https://spdx.dev/Document".to_owned()
}

/// The failure action policies must have.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyMode {
    /// The policies' `metadata.name`s; every `verifyImages` entry of each must have `mode`.
    pub policies: Vec<Spanned<String>>,
    /// `Audit` or `Enforce`.
    pub mode: FailureMode,
}

/// PolicyReport results to find: those of one policy rule about the resources the check names
/// (`resource`, `image`, or both). It passes when there is at least one such result and every
/// one of them is `result`. Reports about a Pod that is gone or being deleted are not read.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PolicyReportCheck {
    /// Namespace whose reports are read.
    pub namespace: String,
    /// The policy's `metadata.name`.
    pub policy: Spanned<String>,
    /// The rule name; auto-generated rules are named `autogen-<rule>`.
    pub rule: String,
    /// The expected result: `pass`, `fail`, `warn`, `error` or `skip`.
    pub result: ReportResult,
    /// The resource the result must be about, e.g. `{kind: Pod, name: workstation-hotfix}`:
    /// the report's `scope` (or a result's `resources`). Without `resource` or `image`, the
    /// results about every resource in the namespace count, those an earlier step created too.
    #[serde(default)]
    pub resource: Option<ReportResource>,
    /// An image, e.g. `${image_registry}/demo:1.4.2-ci`: the result must be about a resource
    /// that runs it (a Pod, or a workload's pod template), named as written or by the digest
    /// the reference resolves to in the lab registry.
    #[serde(default)]
    pub image: Option<String>,
}

/// A resource a PolicyReport is about.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportResource {
    /// Its kind, e.g. `Pod` or `Deployment`.
    pub kind: String,
    /// Its `metadata.name`.
    pub name: String,
}

/// PolicyReport result values (wgpolicyk8s.io/v1alpha2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum ReportResult {
    /// The rule passed.
    Pass,
    /// The rule failed.
    Fail,
    /// The rule failed but is not scored.
    Warn,
    /// The rule could not be evaluated.
    Error,
    /// The rule did not apply.
    Skip,
}

impl ReportResult {
    /// The value as a PolicyReport writes it.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportResult::Pass => "pass",
            ReportResult::Fail => "fail",
            ReportResult::Warn => "warn",
            ReportResult::Error => "error",
            ReportResult::Skip => "skip",
        }
    }
}

/// A manifest whose admission must be denied.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AdmissionDenied {
    /// The manifest submitted with a server-side dry run.
    pub manifest: Spanned<RelPath>,
    /// The policy that must deny it.
    pub policy: Spanned<String>,
    /// Text the denial message must contain, e.g. `no signatures found`.
    pub message_contains: String,
}

/// Policies that must stay in force.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct GuardrailIntact {
    /// The policies' `metadata.name`s.
    pub policies: Vec<Spanned<String>>,
    /// The namespace that must stay covered (no exclusion, no PolicyException).
    pub namespace: String,
}

/// An evidence file the learner saves.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EvidenceFile {
    /// Path of the file in the learner's work folder, e.g. `evidence/cosign-verify.json`.
    pub path: String,
    /// What the file holds, which decides how it is read.
    pub format: EvidenceFormat,
}

/// Evidence formats `lab` can read.
#[derive(Debug, Clone, Copy, Deserialize, JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum EvidenceFormat {
    /// The JSON that `cosign verify` prints.
    CosignVerifyJson,
    /// The output of `kubectl get pods -o jsonpath='{..imageID}'`.
    PodImageIds,
    /// A `kubectl` error that carries an admission denial.
    AdmissionDenial,
    /// Free Markdown text, e.g. the remediation note.
    Markdown,
}

/// The quiz must be passed.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QuizPassed {
    /// Minimum score in percent; the quiz's own pass mark when absent.
    #[serde(default)]
    pub min_percent: Option<u8>,
}

/// A "Done When" criterion of the chapter.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct DoneWhen {
    /// Criterion id, unique in the lab.
    pub id: Spanned<LabId>,
    /// The criterion as the chapter states it.
    pub text: String,
    /// The checks that earn it, with their points.
    pub checks: Vec<Scored>,
}

/// A check and the points it is worth.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Scored {
    /// The id of a check declared in a step.
    pub check: Spanned<LabId>,
    /// Points earned when the check passes.
    pub points: Spanned<u32>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn step(on_kind: &str) -> Step {
        serde_saphyr::from_str(&format!(
            "id: pin\ntitle: Pin\ninstructions: |\n  Deploy the digest.\nhints:\n  - First.\n{on_kind}"
        ))
        .unwrap()
    }

    #[test]
    fn kind_only_text_comes_after_the_rest_and_only_on_kind() {
        let step =
            step("on_kind:\n  instructions: Two names, one registry.\n  hints:\n    - Kind.\n");
        assert_eq!(
            step.instructions_for(true),
            "Deploy the digest.\n\nTwo names, one registry."
        );
        assert_eq!(step.instructions_for(false), "Deploy the digest.\n");
        assert_eq!(step.hints_for(true), ["First.", "Kind."]);
        assert_eq!(step.hints_for(false), ["First."]);
        let plain = self::step("");
        assert_eq!(plain.instructions_for(true), "Deploy the digest.\n");
        assert_eq!(plain.hints_for(true), ["First."]);
    }
}
