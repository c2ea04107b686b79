//! The check engine: runs a step's checks against backends (the cluster, the registry, the
//! learner's files) and returns typed results. It prints nothing; reporters render.

pub mod compare;
pub mod kinds;
#[cfg(test)]
mod kinds_tests;
pub mod observe;
pub mod offline;
pub mod reports;
pub mod result;
pub mod run;
pub mod settle;
pub mod world;

pub use observe::{
    Cluster, DryRun, Observe, ObserveError, PodView, QuizSeen, Registry, RolloutView, Verification,
    Workdir,
};
pub use result::{Cause, CheckResult, Evidence, Status, exit_code};
pub use run::{Engine, PreparedCheck, ReportsWait, Waiting, prepare, prepare_with_pack};
