//! The one check runner: the engine set up once over the backends a command chose (the live
//! cluster and registry, a recorded world, or none), the working folder, a settle time and
//! a spinner, and run on a subset of the lab's checks with Ctrl-C honoured. `lab check`,
//! `lab next`, the walkthrough, the rehearsal and `lab status --done-when` all run checks
//! through it.

use std::path::PathBuf;
use std::time::Duration;

use super::workdir::FileWorkdir;
use crate::engine::offline::Offline;
use crate::engine::world::World;
use crate::engine::{CheckResult, Engine, Observe, PreparedCheck};
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
    /// Neither: only the working folder.
    Offline,
}

/// The runner.
pub struct CheckRunner {
    runtime: tokio::runtime::Runtime,
    /// Every check of the lab, prepared.
    pub prepared: Vec<PreparedCheck>,
    /// Where the checks look.
    pub backends: Backends,
    /// The learner's working folder.
    pub workdir: FileWorkdir,
    /// How long a failing check of a settling kind is tried again.
    pub settle: Duration,
    /// Whether to show a spinner while checks run (it draws only at a terminal).
    pub spinner: bool,
}

impl CheckRunner {
    /// A runner over no cluster or registry yet (set [`CheckRunner::backends`]).
    pub fn new(
        prepared: Vec<PreparedCheck>,
        workdir: FileWorkdir,
        settle: Duration,
    ) -> Result<Self, RuntimeUnavailable> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(RuntimeUnavailable)?;
        Ok(CheckRunner {
            runtime,
            prepared,
            backends: Backends::Offline,
            workdir,
            settle,
            spinner: true,
        })
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
        let checks: Vec<PreparedCheck> = self
            .prepared
            .iter()
            .filter(|c| select(c))
            .cloned()
            .collect();
        let _spinner = self.spinner.then(|| {
            crate::terminal::Spinner::start(format!("checking {} check(s) {what}", checks.len()))
        });
        match &self.backends {
            #[cfg(feature = "live")]
            Backends::Live { cluster, registry } => {
                self.go(cluster.as_ref(), registry.as_ref(), &checks)
            }
            Backends::World(world) => self.go(world, world, &checks),
            Backends::Offline => self.go(&Offline, &Offline, &checks),
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
        checks: &[PreparedCheck],
    ) -> Result<Vec<CheckResult>, Interrupted> {
        let engine = Engine {
            world: Observe {
                cluster,
                registry,
                workdir: &self.workdir,
            },
            settle: self.settle,
        };
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

    /// The evidence files the checks read, for a file watch.
    pub fn evidence_paths(&self) -> Vec<PathBuf> {
        self.prepared
            .iter()
            .filter_map(|c| match &c.kind {
                crate::engine::kinds::Kind::EvidenceFile { path, .. } => {
                    Some(self.workdir.root.join(path))
                }
                _ => None,
            })
            .collect()
    }
}
