//! The check engine: runs a step's checks against backends (the cluster, the registry, the
//! learner's files) and returns typed results. It prints nothing; reporters render.

pub mod compare;
pub mod kinds;
#[cfg(test)]
mod kinds_tests;
pub mod observe;
pub mod result;
pub mod run;
pub mod world;

pub use observe::{
    Cluster, DryRun, Observe, ObserveError, PodView, Registry, Verification, Workdir,
};
pub use result::{CheckResult, Evidence, Status};
pub use run::{Engine, PreparedCheck, prepare};
