//! The one check runner: the engine set up once over the backends a command chose (the live
//! cluster and registry, a recorded world, a submission, or none), the working folder (the
//! learner's, or a submission's files), a settle time and a spinner, and run on a subset of
//! the lab's checks with Ctrl-C honoured. `lab check`, `lab next`, the walkthrough, the
//! rehearsal, `lab status --done-when` and the grader all run checks through it.

use std::path::PathBuf;
use std::time::Duration;

use super::submission::SubmissionRegistry;
use super::workdir::FileWorkdir;
use crate::engine::offline::Offline;
use crate::engine::world::{Recorder, World};
use crate::engine::{CheckResult, Engine, Observe, PreparedCheck, ReportsWait, Waiting, Workdir};
use crate::record::Progress;
use crate::runtime::{Interrupted, RuntimeUnavailable, until_interrupted};

/// Where the checks look.
pub enum Backends {
    /// The lab's cluster and registry.
    #[cfg(feature = "live")]
    Live {
        /// The cluster.
        cluster: Box<super::KubeCluster>,
        /// The registry.
        registry: Box<super::LabRegistry>,
    },
    /// A recorded world (`--world`).
    World(World),
    /// A submission: the cluster as `lab submit` recorded it, and the promoted image's
    /// layout standing in for the registry (see [`super::submission`]).
    Submission {
        /// What the learner's cluster showed the checks.
        cluster: World,
        /// The archive's layout of the promoted image.
        registry: Box<SubmissionRegistry>,
    },
    /// Neither: only the working folder.
    Offline,
}

/// A working folder the runner reads: the engine's [`Workdir`], with the chapter's steps
/// (to tell from the progress record which steps were passed).
pub trait StepsWorkdir: Workdir {
    /// The chapter's step ids, in order.
    fn steps(&self) -> &[String];
}

impl StepsWorkdir for FileWorkdir {
    fn steps(&self) -> &[String] {
        &self.steps
    }
}

/// The runner, over the learner's working folder (or `W`, a submission's files).
pub struct CheckRunner<W = FileWorkdir> {
    runtime: std::rc::Rc<tokio::runtime::Runtime>,
    /// Every check of the lab, prepared.
    pub prepared: Vec<PreparedCheck>,
    /// Where the checks look.
    pub backends: Backends,
    /// The working folder: the learner's, or a submission's files.
    pub workdir: W,
    /// How long a failing check is tried again while the cluster shows it settling.
    pub settle: Duration,
    /// Whether to show a spinner while checks run (it draws only at a terminal).
    pub spinner: bool,
    /// Whether to keep what the cluster answered (`lab submit`'s record of what the cluster
    /// showed); the last run's is taken with [`CheckRunner::take_recorded`].
    pub record_cluster: bool,
    recorded: std::cell::RefCell<Option<Vec<u8>>>,
}

impl<W: StepsWorkdir> CheckRunner<W> {
    /// A runner over no cluster or registry yet (set [`CheckRunner::backends`]).
    pub fn new(
        prepared: Vec<PreparedCheck>,
        workdir: W,
        settle: Duration,
    ) -> Result<Self, RuntimeUnavailable> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(RuntimeUnavailable)?;
        Ok(Self::on(
            std::rc::Rc::new(runtime),
            prepared,
            workdir,
            settle,
        ))
    }

    /// [`CheckRunner::new`] on `runtime`.
    pub(super) fn on(
        runtime: std::rc::Rc<tokio::runtime::Runtime>,
        prepared: Vec<PreparedCheck>,
        workdir: W,
        settle: Duration,
    ) -> Self {
        CheckRunner {
            runtime,
            prepared,
            backends: Backends::Offline,
            workdir,
            settle,
            spinner: true,
            record_cluster: false,
            recorded: std::cell::RefCell::new(None),
        }
    }

    /// Runs `future` on the runner's runtime (connecting to the cluster, say).
    pub fn block_on<F: std::future::Future>(&self, future: F) -> F::Output {
        self.runtime.block_on(future)
    }

    /// Runs the checks `select` picks, in order, until done or Ctrl-C.
    pub fn run(
        &self,
        select: impl Fn(&PreparedCheck) -> bool,
        what: &str,
    ) -> Result<Vec<CheckResult>, Interrupted> {
        // The checks are run where they are, not cloned (grading runs them once per file).
        let checks: Vec<&PreparedCheck> = self.prepared.iter().filter(|c| select(c)).collect();
        let spinner = self.spinner.then(|| {
            crate::terminal::Spinner::start(format!("checking {} check(s) {what}", checks.len()))
        });
        // What a settling check waits for is said on stderr, a terminal or not: the spinner's
        // line where it is drawn, a line of its own otherwise, so a pipe shows why it waits.
        let on_wait = |waiting: &Waiting| match spinner.as_ref().filter(|s| s.is_drawn()) {
            Some(spinner) => spinner.set(format!("{}: {waiting}", waiting.check)),
            None => eprintln!("{}: {waiting}", waiting.check),
        };
        match &self.backends {
            #[cfg(feature = "live")]
            Backends::Live { cluster, registry } => {
                self.go_recorded(cluster.as_ref(), registry.as_ref(), &checks, &on_wait)
            }
            Backends::World(world) => self.go_recorded(world, world, &checks, &on_wait),
            Backends::Submission { cluster, registry } => {
                self.go(cluster, registry.as_ref(), &checks, &on_wait)
            }
            Backends::Offline => self.go(&Offline, &Offline, &checks, &on_wait),
        }
    }

    /// What the cluster answered during the last run, as a world file's JSON, when
    /// [`CheckRunner::record_cluster`] is set and the checks looked at a cluster.
    pub fn take_recorded(&self) -> Option<Vec<u8>> {
        self.recorded.borrow_mut().take()
    }

    fn go_recorded<C: crate::engine::Cluster, R: crate::engine::Registry>(
        &self,
        cluster: &C,
        registry: &R,
        checks: &[&PreparedCheck],
        on_wait: &dyn Fn(&Waiting),
    ) -> Result<Vec<CheckResult>, Interrupted> {
        if !self.record_cluster {
            return self.go(cluster, registry, checks, on_wait);
        }
        let recorder = Recorder::new(cluster);
        let results = self.go(&recorder, registry, checks, on_wait);
        *self.recorded.borrow_mut() = Some(recorder.to_json());
        results
    }

    /// As [`CheckRunner::run`], with the learner's `progress`: a check that holds only during
    /// its step (`during_step_only`) whose step is recorded as passed is not judged again (the
    /// lab has moved on: the policies are in Enforce now); its recorded result stands in.
    pub fn run_after(
        &self,
        select: impl Fn(&PreparedCheck) -> bool,
        what: &str,
        progress: &Progress,
    ) -> Result<Vec<CheckResult>, Interrupted> {
        let steps: Vec<&str> = self.workdir.steps().iter().map(String::as_str).collect();
        let passed = progress.passed_here(&steps);
        let recorded = |c: &PreparedCheck| {
            c.during_step_only
                .then(|| passed.get(c.step.as_str()))
                .flatten()
                .and_then(|results| results.iter().find(|r| r.check == c.id))
        };
        let mut judged = self
            .run(|c| select(c) && recorded(c).is_none(), what)?
            .into_iter();
        let mut results = Vec::new();
        for check in self.prepared.iter().filter(|c| select(c)) {
            match recorded(check) {
                Some(r) => results.push(CheckResult {
                    step: check.step.clone(),
                    check: check.id.clone(),
                    title: check.title.clone(),
                    kind: check.kind.name(),
                    status: r.status,
                    message: format!(
                        "held when step `{}` was passed ({}); the lab has moved on since, so it is not judged again",
                        check.step, r.message
                    ),
                    hint: None,
                    evidence: r.evidence.clone(),
                    cause: None,
                    elapsed_ms: 0,
                }),
                None => results.extend(judged.next()),
            }
        }
        Ok(results)
    }

    /// Waits, at most `bound`, until Kyverno has reported every running Pod of `namespaces`
    /// (see [`Engine::await_reports`]), or Ctrl-C.
    pub fn await_reports(
        &self,
        namespaces: &[String],
        bound: Duration,
    ) -> Result<ReportsWait, Interrupted> {
        match &self.backends {
            #[cfg(feature = "live")]
            Backends::Live { cluster, registry } => {
                self.wait_on(cluster.as_ref(), registry.as_ref(), namespaces, bound)
            }
            Backends::World(world) => self.wait_on(world, world, namespaces, bound),
            Backends::Submission { cluster, registry } => {
                self.wait_on(cluster, registry.as_ref(), namespaces, bound)
            }
            Backends::Offline => self.wait_on(&Offline, &Offline, namespaces, bound),
        }
    }

    fn wait_on<C: crate::engine::Cluster, R: crate::engine::Registry>(
        &self,
        cluster: &C,
        registry: &R,
        namespaces: &[String],
        bound: Duration,
    ) -> Result<ReportsWait, Interrupted> {
        let engine = self.engine(cluster, registry, &|_| {});
        self.runtime
            .block_on(until_interrupted(engine.await_reports(namespaces, bound)))
    }

    fn engine<'a, C, R>(
        &'a self,
        cluster: &'a C,
        registry: &'a R,
        on_wait: &'a dyn Fn(&Waiting),
    ) -> Engine<'a, C, R, W> {
        Engine {
            world: Observe {
                cluster,
                registry,
                workdir: &self.workdir,
            },
            settle: self.settle,
            on_wait,
        }
    }

    /// Runs the checks of `step`.
    pub fn run_step(&self, step: &str) -> Result<Vec<CheckResult>, Interrupted> {
        self.run(|c| c.step == step, &format!("of {step}"))
    }

    fn go<C: crate::engine::Cluster, R: crate::engine::Registry>(
        &self,
        cluster: &C,
        registry: &R,
        checks: &[&PreparedCheck],
        on_wait: &dyn Fn(&Waiting),
    ) -> Result<Vec<CheckResult>, Interrupted> {
        let engine = self.engine(cluster, registry, on_wait);
        self.runtime
            .block_on(until_interrupted(engine.run_all(checks)))
    }

    /// The namespaces the checks read, each once, for a cluster watch.
    pub fn namespaces(&self) -> Vec<String> {
        let mut namespaces: Vec<String> = Vec::new();
        for ns in self.prepared.iter().filter_map(|c| c.kind.namespace()) {
            if !namespaces.iter().any(|n| n == ns) {
                namespaces.push(ns.to_owned());
            }
        }
        namespaces
    }

    /// The images the checks read in the registry, per step, for a registry watch.
    #[cfg(feature = "live")]
    pub fn registry_targets(&self) -> Vec<super::watch::RegistryTarget> {
        self.prepared
            .iter()
            .filter_map(|c| {
                let (image, signatures) = match &c.kind {
                    crate::engine::kinds::Kind::Signature { image } => (image, true),
                    crate::engine::kinds::Kind::SbomAttestation { image, .. } => (image, false),
                    _ => return None,
                };
                Some(super::watch::RegistryTarget {
                    step: c.step.clone(),
                    image: image.clone(),
                    signatures,
                    attestations: !signatures,
                })
            })
            .collect()
    }

    /// The image the chapter's signature checks read (its promoted image), as the cluster
    /// names it, if it has one.
    pub fn signed_image(&self) -> Option<String> {
        self.prepared.iter().find_map(|c| match &c.kind {
            crate::engine::kinds::Kind::Signature { image } => Some(image.clone()),
            _ => None,
        })
    }

    /// Exports `image` with its cosign artifacts from the lab registry as an OCI layout under
    /// `prefix` (see [`super::LabRegistry::export`]); `None` without a live registry or when
    /// the registry does not hold the image.
    pub fn export_image(
        &self,
        image: &str,
        prefix: &str,
    ) -> Result<
        Option<(crate::supply::Digest, crate::supply::export::ExportedLayout)>,
        crate::engine::ObserveError,
    > {
        match &self.backends {
            #[cfg(feature = "live")]
            Backends::Live { registry, .. } => {
                self.runtime.block_on(registry.export(image, prefix))
            }
            _ => {
                let _ = (image, prefix);
                Ok(None)
            }
        }
    }

    /// The evidence files the checks read, relative to the working folder, each once, in the
    /// checks' order.
    pub fn evidence_files(&self) -> Vec<String> {
        let mut files: Vec<String> = Vec::new();
        for check in &self.prepared {
            if let crate::engine::kinds::Kind::EvidenceFile { path, .. } = &check.kind
                && !files.contains(path)
            {
                files.push(path.clone());
            }
        }
        files
    }
}

impl CheckRunner<FileWorkdir> {
    /// The evidence files the checks read, for a file watch.
    pub fn evidence_paths(&self) -> Vec<PathBuf> {
        self.evidence_files()
            .into_iter()
            .map(|path| self.workdir.root.join(path))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::content::model::FailureMode;
    use crate::engine::Status;
    use crate::engine::kinds::Kind;
    use crate::record::{CourseStamp, Event, RecordedCheck};

    // The final `lab check` of a finished lab failed `policies-in-audit` in Enforce and advised
    // `lab audit`, switching the guardrail off.
    #[test]
    fn a_check_of_a_passed_step_that_held_only_during_it_is_not_judged_again() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("world.json"), "{}").unwrap();
        let check = |id: &str, step: &str, during_step_only: bool| PreparedCheck {
            step: step.into(),
            id: id.into(),
            title: format!("{id} holds"),
            kind: Kind::PolicyMode {
                policies: vec!["verify-signed-images".into()],
                mode: FailureMode::Audit,
            },
            invariant: false,
            during_step_only,
        };
        let workdir = FileWorkdir {
            root: dir.path().to_owned(),
            chapter: "ch14".into(),
            steps: vec!["audit".into(), "enforce".into()],
            quiz: None,
        };
        let prepared = vec![
            check("in-audit", "audit", true),
            check("judged", "audit", false),
        ];
        let mut runner = CheckRunner::new(prepared, workdir, Duration::ZERO).unwrap();
        runner.spinner = false;
        runner.backends = Backends::World(World::file(dir.path().join("world.json")));
        let mut progress = Progress::new("ch14");
        let none = runner.run_after(|_| true, "all", &progress).unwrap();
        assert!(none.iter().all(|r| r.status == Status::Fail), "{none:?}");
        let stamp = CourseStamp {
            lab: "ch14".into(),
            version: None,
            digest: "sha256:00".into(),
        };
        let passed = |id: &str| RecordedCheck {
            check: id.into(),
            status: Status::Pass,
            message: "both policies are in Audit".into(),
            evidence: Vec::new(),
        };
        let event = Event::StepPassed {
            step: "audit".into(),
            results: vec![passed("in-audit"), passed("judged")],
        };
        progress.append_at(event, "2026-12-06T10:00:00Z".into(), &stamp);
        let after = runner.run_after(|_| true, "all", &progress).unwrap();
        assert_eq!(after[0].check, "in-audit");
        assert_eq!(after[0].status, Status::Pass);
        assert!(
            after[0]
                .message
                .starts_with("held when step `audit` was passed")
        );
        assert_eq!(
            (after[1].check.as_str(), after[1].status),
            ("judged", Status::Fail)
        );
    }
}
